//! The definitions files as written: serde shapes with source positions.
//! Enum-like fields stay strings here so validation can answer a typo with
//! the closest valid value instead of a bare parse error.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S<T> = Spanned<T>;

/// One YAML file. Any file may hold any section.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    #[serde(default)]
    pub models: Vec<S<RawModel>>,
    #[serde(default)]
    pub metrics: Vec<S<RawMetric>>,
    #[serde(default)]
    pub roles: Vec<S<RawRole>>,
    #[serde(default)]
    pub consent: Option<S<RawConsent>>,
    #[serde(default)]
    pub funnels: Vec<S<super::validate_analysis::RawFunnel>>,
    #[serde(default)]
    pub retention: Vec<S<super::validate_analysis::RawRetention>>,
    /// Data quality checks (src/checks, docs/checks.md).
    #[serde(default)]
    pub checks: Vec<S<super::validate_checks::RawCheck>>,
    /// Identity resolution (stitching); see `identity::raw`.
    #[serde(default)]
    pub identity: Option<S<crate::identity::raw::RawIdentity>>,
    /// Attribution instances (docs/attribution.md).
    #[serde(default)]
    pub attribution: Vec<S<super::validate_attribution::RawAttribution>>,
}

/// An access role: which members it sees, which rows, masked how.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    pub name: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Allow-list of members (`metric`, `model.dimension`, `model.*`);
    /// absent means everything not excluded.
    #[serde(default)]
    pub include: Option<Vec<S<String>>>,
    #[serde(default)]
    pub exclude: Vec<S<String>>,
    /// `model.dimension: hash | redact | last:N`
    #[serde(default)]
    pub mask: Vec<S<RawMask>>,
    #[serde(default)]
    pub row_filters: Vec<S<RawRowFilter>>,
    #[serde(default)]
    pub min_group_size: Option<S<u32>>,
    /// The finest time cell of a role with `min_group_size` (default month).
    #[serde(default)]
    pub time_grain: Option<S<String>>,
    /// Purposes this role may query under; absent means any.
    #[serde(default)]
    pub purposes: Option<Vec<S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMask {
    pub dimension: S<String>,
    pub method: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRowFilter {
    pub model: S<String>,
    /// A boolean expression over the model's dimensions; `{{ claims.x }}`
    /// stands for the caller's claim `x`.
    pub filter: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsent {
    pub purposes: Vec<S<RawPurpose>>,
    pub default_purpose: S<String>,
    pub ledger: S<RawLedger>,
    /// `as_of_fact` (consent at the fact's time, the default) or `as_of_now`.
    #[serde(default)]
    pub mode: Option<S<String>>,
    /// Subjects to leave out whatever the purpose (erasure / suppression).
    #[serde(default)]
    pub suppression: Option<S<RawSuppression>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPurpose {
    pub name: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Facts count only for subjects who granted this purpose (default
    /// true); false for purposes with another legal basis.
    #[serde(default = "yes")]
    pub requires_consent: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLedger {
    pub model: S<String>,
    /// Dimensions of the ledger model.
    pub purpose: S<String>,
    pub status: S<String>,
    pub time: S<String>,
    #[serde(default)]
    pub granted_value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSuppression {
    pub model: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub name: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    pub source: S<RawSource>,
    #[serde(default)]
    pub entities: Vec<S<RawEntity>>,
    #[serde(default)]
    pub dimensions: Vec<S<RawDimension>>,
    #[serde(default)]
    pub measures: Vec<S<RawMeasure>>,
    #[serde(default)]
    pub defaults: Option<S<RawModelDefaults>>,
    /// The entity naming the person each row is about (consent, k-anonymity).
    #[serde(default)]
    pub subject: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    #[serde(default)]
    pub table: Option<S<String>>,
    #[serde(default)]
    pub sql: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelDefaults {
    #[serde(default)]
    pub agg_time_dimension: Option<S<String>>,
}

/// A key expression: one column, or several for a composite key.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEntity {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    #[serde(default)]
    pub expr: Option<S<OneOrMany>>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDimension {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    #[serde(default)]
    pub expr: Option<S<String>>,
    #[serde(default)]
    pub granularity: Option<S<String>>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub pii: bool,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMeasure {
    pub name: S<String>,
    pub agg: S<String>,
    #[serde(default)]
    pub expr: Option<S<String>>,
    /// For `agg: percentile`, the fraction in (0, 1).
    #[serde(default)]
    pub percentile: Option<S<f64>>,
    #[serde(default)]
    pub agg_time_dimension: Option<S<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Computed per canonical (stitched) identity; see docs/identity.md.
    #[serde(default)]
    pub stitched: Option<S<bool>>,
}

/// A metric's reference to another: `revenue`, `revenue@2`, or a mapping
/// with a filter and an alias.
#[derive(Debug, Clone)]
pub enum RawMetricInput {
    Name(String),
    Full(RawMetricInputFull),
}

// Written by hand rather than `#[serde(untagged)]`, whose only error is "did
// not match any variant": a typo in the mapping must name the bad key.
impl<'de> Deserialize<'de> for RawMetricInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawMetricInput;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a metric name (`revenue`, `revenue@2`) or a mapping {metric, filter, alias}",
                )
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawMetricInput::Name(v.to_string()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                RawMetricInputFull::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawMetricInput::Full)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawMetricInputFull {
    pub metric: String,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub alias: Option<String>,
    /// Period over period: read the input `N units` earlier (`1 month`).
    #[serde(default)]
    pub offset_window: Option<String>,
    /// Read the input at the first period of the enclosing grain.
    #[serde(default)]
    pub offset_to_grain: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    #[serde(default)]
    pub version: Option<S<u32>>,
    #[serde(default)]
    pub status: Option<S<String>>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub filter: Option<S<String>>,
    /// simple
    #[serde(default)]
    pub measure: Option<S<String>>,
    /// ratio
    #[serde(default)]
    pub numerator: Option<S<RawMetricInput>>,
    #[serde(default)]
    pub denominator: Option<S<RawMetricInput>>,
    /// derived
    #[serde(default)]
    pub expr: Option<S<String>>,
    #[serde(default)]
    pub inputs: Vec<S<RawMetricInput>>,
    /// Lifecycle of a deprecated version: dates as `YYYY-MM-DD`, and the
    /// metric to use instead (`revenue` or `revenue@3`).
    #[serde(default)]
    pub deprecated_on: Option<S<String>>,
    #[serde(default)]
    pub sunset_on: Option<S<String>>,
    #[serde(default)]
    pub replaced_by: Option<S<String>>,
    /// Time intelligence (see `validate_time`): cumulative `metric`,
    /// `window`, `grain_to_date`; a number for periods without facts.
    #[serde(default)]
    pub metric: Option<S<RawMetricInput>>,
    #[serde(default)]
    pub window: Option<S<String>>,
    #[serde(default)]
    pub grain_to_date: Option<S<String>>,
    #[serde(default)]
    pub fill_nulls_with: Option<S<f64>>,
    /// conversion
    #[serde(default)]
    pub base_measure: Option<S<String>>,
    #[serde(default)]
    pub conversion_measure: Option<S<String>>,
    #[serde(default)]
    pub entity: Option<S<String>>,
    #[serde(default)]
    pub calculation: Option<S<String>>,
    #[serde(default)]
    pub constant_properties: Vec<S<RawConstantProperty>>,
}

/// A property that must be equal on the base and the conversion event.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConstantProperty {
    pub base_property: String,
    pub conversion_property: String,
}

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
}

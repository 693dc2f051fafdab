//! The one semantic query type every interface speaks: REST and GraphQL
//! deserialize it, the Postgres endpoint translates SQL into it, the CLI
//! builds it from flags.

use serde::{Deserialize, Serialize};

mod tree;

pub use tree::{
    Condition, FilterTree, FilterValue, MAX_FILTER_DEPTH, MAX_FILTER_NODES, TOO_COMPLEX_MARK,
    TooComplex, is_decimal,
};

use crate::error::{ErrorCode, PlanError};
use crate::vocab::Grain;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticQuery {
    /// `revenue` (the default version) or `revenue@2`.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Runs the named funnel instead of metrics (see docs/analysis.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funnel: Option<String>,
    /// Runs the named retention analysis instead of metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    /// `model.dimension`, `dimension`, `entity.model.dimension` (explicit
    /// join path), with `:grain` for time: `metric_time:month`.
    #[serde(default, alias = "group_by")]
    pub dimensions: Vec<String>,
    /// Conditions ANDed; a condition on a requested metric filters groups.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// A typed filter tree (`and` / `or` / `not` over conditions on
    /// dimensions), ANDed with `filters` and `where`. Interfaces that
    /// translate a filter language (GraphQL, the Postgres endpoint) build
    /// this; see [`FilterTree`] for the JSON shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterTree>,
    /// A SQL boolean expression over dimensions, parsed and re-rendered.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_sql: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_range: Option<TimeRange>,
    #[serde(default)]
    pub order_by: Vec<OrderBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The purpose the data is used for (consent); defaults to the token's
    /// `purpose` claim, then the configured default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// IANA time zone (`Europe/Berlin`) periods and `time_range` are read
    /// in; facts are stored in UTC. Default: the server's `time_zone`, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// First day of a `week` period (`monday` .. `sunday`); default: the
    /// server's `week_start`, Monday (ISO).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub week_start: Option<String>,
    /// Attribution instances (`linear_30d`): the metrics are then credited
    /// to touches, one column per metric and instance (see
    /// docs/attribution.md). A single name may be given as a string.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub attribution: Vec<String>,
}

/// `"linear_30d"` or `["linear_30d", "first_touch_30d"]`.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match Option::<OneOrMany>::deserialize(d)? {
        None => Ok(Vec::new()),
        Some(OneOrMany::One(s)) => Ok(vec![s]),
        Some(OneOrMany::Many(v)) => Ok(v),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Eq,
    Neq,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    Contains,
    StartsWith,
    IsNull,
    IsNotNull,
    /// SQL LIKE: `%` any run, `_` any one character, `\` escapes the next.
    Like,
    NotLike,
    /// LIKE ignoring case.
    Ilike,
    NotIlike,
}

impl FilterOp {
    pub const NAMES: [&'static str; 17] = [
        "eq",
        "neq",
        "in",
        "not_in",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "contains",
        "starts_with",
        "is_null",
        "is_not_null",
        "like",
        "not_like",
        "ilike",
        "not_ilike",
    ];

    pub fn parse(s: &str) -> Option<FilterOp> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" | "=" | "==" => FilterOp::Eq,
            "neq" | "!=" | "<>" => FilterOp::Neq,
            "in" => FilterOp::In,
            "not_in" => FilterOp::NotIn,
            "gt" | ">" => FilterOp::Gt,
            "gte" | ">=" => FilterOp::Gte,
            "lt" | "<" => FilterOp::Lt,
            "lte" | "<=" => FilterOp::Lte,
            "between" => FilterOp::Between,
            "contains" => FilterOp::Contains,
            "starts_with" => FilterOp::StartsWith,
            "is_null" => FilterOp::IsNull,
            "is_not_null" => FilterOp::IsNotNull,
            "like" => FilterOp::Like,
            "not_like" => FilterOp::NotLike,
            "ilike" => FilterOp::Ilike,
            "not_ilike" => FilterOp::NotIlike,
            _ => return None,
        })
    }

    /// How many values the operator takes: exactly (min == max) or a range.
    pub fn arity(self) -> (usize, usize) {
        match self {
            FilterOp::IsNull | FilterOp::IsNotNull => (0, 0),
            FilterOp::In | FilterOp::NotIn => (1, usize::MAX),
            FilterOp::Between => (2, 2),
            _ => (1, 1),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// A dimension reference, or the name of a metric in the query (then the
    /// filter applies to the aggregated value, like HAVING).
    pub dimension: String,
    pub op: FilterOp,
    #[serde(default)]
    pub values: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// Inclusive, `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`.
    #[serde(default)]
    pub start: Option<String>,
    /// Exclusive.
    #[serde(default)]
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OrderBy {
    /// `revenue`, `-revenue` or `revenue desc`.
    Text(String),
    Field(OrderField),
}

/// `{"field": "revenue", "desc": true}`; unknown keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderField {
    pub field: String,
    #[serde(default)]
    pub desc: bool,
}

impl OrderBy {
    pub fn field_and_desc(&self) -> (String, bool) {
        match self {
            OrderBy::Field(f) => (f.field.clone(), f.desc),
            OrderBy::Text(t) => {
                let t = t.trim();
                if let Some(rest) = t.strip_prefix('-') {
                    return (rest.trim().to_string(), true);
                }
                let lower = t.to_ascii_lowercase();
                if let Some(rest) = lower.strip_suffix(" desc") {
                    return (t[..rest.len()].trim().to_string(), true);
                }
                if let Some(rest) = lower.strip_suffix(" asc") {
                    return (t[..rest.len()].trim().to_string(), false);
                }
                (t.to_string(), false)
            }
        }
    }
}

/// A parsed dimension reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionRef {
    /// Entities to join through, in order, when the path is spelled out.
    pub path: Vec<String>,
    pub model: Option<String>,
    pub name: String,
    pub grain: Option<Grain>,
    /// As written, for messages.
    pub raw: String,
}

impl DimensionRef {
    pub fn parse(raw: &str) -> Result<DimensionRef, PlanError> {
        let text = raw.trim();
        let (body, grain) = match text.split_once(':') {
            Some((b, g)) => {
                let grain = Grain::parse(g.trim()).ok_or_else(|| {
                    PlanError::new(
                        ErrorCode::InvalidQuery,
                        format!(
                            "unknown time grain `{g}` in `{raw}`; the grains are {}",
                            Grain::names().join(", ")
                        ),
                    )
                    .with_suggestions(crate::diagnostics::closest(g, Grain::names()))
                })?;
                (b.trim(), Some(grain))
            }
            None => (text, None),
        };
        let parts: Vec<&str> = body.split('.').map(str::trim).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || !crate::diagnostics::is_identifier(p))
        {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "`{raw}` is not a dimension reference (expected `model.dimension`, `dimension` or `metric_time:grain`)"
                ),
            ));
        }
        let (path, model, name) = match parts.as_slice() {
            [name] => (vec![], None, name.to_string()),
            [model, name] => (vec![], Some(model.to_string()), name.to_string()),
            [path @ .., model, name] => (
                path.iter().map(|s| s.to_string()).collect(),
                Some(model.to_string()),
                name.to_string(),
            ),
            [] => unreachable!("split always yields one part"),
        };
        Ok(DimensionRef {
            path,
            model,
            name,
            grain,
            raw: text.to_string(),
        })
    }

    pub fn is_metric_time(&self) -> bool {
        self.model.is_none() && self.name == "metric_time"
    }

    /// The output column name: the reference with `.` and `:` as `__`.
    pub fn alias(&self) -> String {
        self.raw.replace([' '], "").replace(['.', ':'], "__")
    }
}

/// `revenue` or `revenue@2`.
pub fn parse_metric_ref(s: &str) -> Result<(String, Option<u32>), PlanError> {
    match s.trim().split_once('@') {
        None => Ok((s.trim().to_string(), None)),
        Some((n, v)) => {
            let v: u32 = v.trim().parse().map_err(|_| {
                PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!("`{s}`: the version after `@` must be a number"),
                )
            })?;
            Ok((n.trim().to_string(), Some(v)))
        }
    }
}

/// A deployment's defaults for queries that name no `time_zone` or
/// `week_start`. Every path to an answer (the query service, scheduled
/// checks, `accord check`) applies the same ones, so a metric is bucketed
/// alike wherever it is computed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeDefaults {
    pub time_zone: Option<String>,
    pub week_start: Option<String>,
}

impl TimeDefaults {
    /// `q` with these defaults where it names none.
    pub fn apply(&self, q: &SemanticQuery) -> SemanticQuery {
        let mut q = q.clone();
        if q.time_zone.is_none() {
            q.time_zone = self.time_zone.clone();
        }
        if q.week_start.is_none() {
            q.week_start = self.week_start.clone();
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_refs() {
        let r = DimensionRef::parse("metric_time:month").unwrap();
        assert!(r.is_metric_time());
        assert_eq!(r.grain, Some(Grain::Month));
        assert_eq!(r.alias(), "metric_time__month");
        let r = DimensionRef::parse("billing.accounts.plan").unwrap();
        assert_eq!(r.path, vec!["billing"]);
        assert_eq!(r.model.as_deref(), Some("accounts"));
        assert!(DimensionRef::parse("a.b; drop").is_err());
        assert!(DimensionRef::parse("metric_time:fortnight").is_err());
    }

    #[test]
    fn order_by_forms() {
        assert_eq!(
            OrderBy::Text("-revenue".into()).field_and_desc(),
            ("revenue".into(), true)
        );
        assert_eq!(
            OrderBy::Text("revenue DESC".into()).field_and_desc(),
            ("revenue".into(), true)
        );
        assert_eq!(
            OrderBy::Text("revenue".into()).field_and_desc(),
            ("revenue".into(), false)
        );
    }
}

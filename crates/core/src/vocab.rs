//! Words every layer shares: time grains, aggregations, dimension kinds
//! and masks. They sit below the catalog because the SQL AST and the
//! dialects speak them too.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Grain {
    pub const ALL: [Grain; 6] = [
        Grain::Hour,
        Grain::Day,
        Grain::Week,
        Grain::Month,
        Grain::Quarter,
        Grain::Year,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Grain::Hour => "hour",
            Grain::Day => "day",
            Grain::Week => "week",
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Grain> {
        Grain::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s))
    }

    pub fn names() -> Vec<&'static str> {
        Grain::ALL.iter().map(|g| g.name()).collect()
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "agg")]
pub enum Aggregation {
    Sum,
    Count,
    CountDistinct,
    Avg,
    Min,
    Max,
    Median,
    Percentile { p: f64 },
    SumBoolean,
}

impl Aggregation {
    pub const NAMES: [&'static str; 9] = [
        "sum",
        "count",
        "count_distinct",
        "avg",
        "min",
        "max",
        "median",
        "percentile",
        "sum_boolean",
    ];

    pub fn name(self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::CountDistinct => "count_distinct",
            Aggregation::Avg => "avg",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Median => "median",
            Aggregation::Percentile { .. } => "percentile",
            Aggregation::SumBoolean => "sum_boolean",
        }
    }

    /// Aggregations that add up: a value per group can be summed again to a
    /// coarser group. Others (distinct counts, medians) cannot.
    pub fn is_additive(self) -> bool {
        matches!(
            self,
            Aggregation::Sum | Aggregation::Count | Aggregation::SumBoolean
        )
    }

    /// Aggregations whose input must be numeric.
    pub fn needs_numeric(self) -> bool {
        matches!(
            self,
            Aggregation::Sum
                | Aggregation::Avg
                | Aggregation::Median
                | Aggregation::Percentile { .. }
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum DimensionKind {
    Categorical,
    Time { granularity: Grain },
    Number,
    Boolean,
}

impl DimensionKind {
    pub fn name(self) -> &'static str {
        match self {
            DimensionKind::Categorical => "categorical",
            DimensionKind::Time { .. } => "time",
            DimensionKind::Number => "number",
            DimensionKind::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum Mask {
    /// A keyed one-way hash (HMAC-SHA256 hex, src/masking.rs): groups stay
    /// distinct, values unreadable and untestable without the key.
    Hash,
    /// One constant for every value.
    Redact,
    /// `***` followed by the last N characters.
    KeepLast { n: u32 },
}

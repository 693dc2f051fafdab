//! Data quality checks as validated definitions (`checks:` in the
//! definition files, validated by `definitions::validate_checks`), and the
//! duration and time parsing they share. Compiling and running them is
//! accord-engine's `checks`; the schedule is accord-service's `monitor`.

use chrono::NaiveDateTime;
use serde::Serialize;

use crate::catalog::{MetricId, ModelId};
use crate::diagnostics::SourcePos;
use crate::sql::ast::{Expr, Literal};

/// How bad a failure is: `error` fails `accord check`, `warn` only reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warn,
    Error,
}

impl Severity {
    pub const NAMES: [&'static str; 2] = ["warn", "error"];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// What a check is about. Model checks share one query per model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckTarget {
    Model(ModelId),
    Metric(MetricId),
}

/// A column a check reads: a dimension or an entity (a composite entity
/// has several key expressions; it is null when any of them is).
#[derive(Debug, Clone)]
pub struct CheckColumn {
    pub name: String,
    pub exprs: Vec<Expr>,
}

/// The period of an anomaly check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Day,
    Week,
}

impl Period {
    pub const NAMES: [&'static str; 2] = ["day", "week"];

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
        }
    }

    pub fn days(self) -> i64 {
        match self {
            Period::Day => 1,
            Period::Week => 7,
        }
    }
}

#[derive(Debug, Clone)]
pub enum CheckKind {
    /// The newest row dated before `now` is at most `max_lag_seconds` old.
    Freshness { max_lag_seconds: i64 },
    /// Share of rows (matching `filter`) where `column` is NULL.
    Completeness {
        column: CheckColumn,
        filter: Option<Expr>,
        max_null_rate: f64,
    },
    /// Rows of the last complete day inside median ± k·1.4826·MAD of the
    /// `trailing` days before it.
    Volume {
        trailing: u32,
        k: f64,
        min_history: u32,
    },
    /// Rows whose foreign entity has no row in the model it references.
    ReferentialIntegrity {
        entity: String,
        keys: Vec<Expr>,
        references: ModelId,
        reference_keys: Vec<Expr>,
        max_orphans: u64,
    },
    /// Rows whose (non-null) `column` is outside `values`.
    AcceptedValues {
        column: CheckColumn,
        values: Vec<Literal>,
        max_invalid: u64,
    },
    /// The metric's last complete period against its trailing periods
    /// (or the same weekday of the trailing weeks), robust z = (x − median)
    /// / (1.4826·MAD), failing when |z| > k.
    Anomaly {
        period: Period,
        trailing: u32,
        k: f64,
        weekday_seasonality: bool,
        min_history: u32,
    },
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Freshness { .. } => "freshness",
            CheckKind::Completeness { .. } => "completeness",
            CheckKind::Volume { .. } => "volume",
            CheckKind::ReferentialIntegrity { .. } => "referential_integrity",
            CheckKind::AcceptedValues { .. } => "accepted_values",
            CheckKind::Anomaly { .. } => "anomaly",
        }
    }
}

pub const KIND_NAMES: [&str; 6] = [
    "freshness",
    "completeness",
    "volume",
    "referential_integrity",
    "accepted_values",
    "anomaly",
];

/// One validated check.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub target: CheckTarget,
    pub severity: Severity,
    pub owner: Option<String>,
    pub description: Option<String>,
    /// Index of the model's time dimension that dates its rows: model checks
    /// see only rows dated before `now` (and rows without a date).
    /// Required by freshness and volume; unused by metric checks.
    pub time: Option<usize>,
    pub kind: CheckKind,
    pub pos: SourcePos,
}

/// The instant checks are evaluated at: `--now`, `checks.now` in the
/// server config, or the current UTC time.
pub fn parse_now(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t.trim_end_matches('Z'), f) {
            return Ok(v);
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN));
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.naive_utc());
    }
    Err(format!(
        "`{text}` is not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS (UTC) or RFC 3339"
    ))
}

pub use crate::clock::utc_now;

/// Parses a duration such as `90s`, `30m`, `6h`, `2d` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "`{text}` is not a duration: write a number with a unit s, m, h or d (e.g. 6h, 1h30m, 2d)"
        )
    };
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    let mut total: i64 = 0;
    let mut num = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: i64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
    }
    if !num.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

/// `6h`, `1d 2h`, `45m 10s`: a lag for people.
pub fn format_duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let mut s = seconds.unsigned_abs();
    let d = s / 86_400;
    s %= 86_400;
    let h = s / 3600;
    s %= 3600;
    let m = s / 60;
    s %= 60;
    let mut parts = Vec::new();
    if d > 0 {
        parts.push(format!("{d}d"));
    }
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    format!("{sign}{}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Ok(21_600));
        assert_eq!(parse_duration("1h30m"), Ok(5_400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert!(parse_duration("6").is_err());
        assert!(parse_duration("6x").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(format_duration(93_784), "1d 2h 3m 4s");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn now_forms() {
        let t = parse_now("2026-01-01").unwrap();
        assert_eq!(t.to_string(), "2026-01-01 00:00:00");
        assert_eq!(
            parse_now("2026-01-01T06:30:00Z").unwrap().to_string(),
            "2026-01-01 06:30:00"
        );
        assert!(parse_now("tomorrow").is_err());
    }
}

//! Running checks as of a stated `now` and judging each one: the verdict
//! functions are pure (history in, verdict out) so the volume and anomaly
//! rules are tested on hand fixtures and swept over the whole demo year
//! without a warehouse.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::compile::{self, Slots};
use super::stats::Band;
use super::{Check, CheckKind, CheckTarget, format_duration};
use crate::access::Caller;
use crate::catalog::{Catalog, MetricKind};
use crate::execute::Executed;
use crate::planner::ColumnRole;
use crate::query::{SemanticQuery, TimeDefaults};
use crate::sql::render::Renderer;
use crate::warehouse::{Value, Warehouse};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Too little history to learn a band (the first days of the data).
    Skipped,
    /// The check's query failed; the message says why.
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }
}

/// A check's verdict before it is dressed with names and SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub status: Status,
    pub observed: Option<f64>,
    pub threshold: String,
    pub message: String,
    pub details: serde_json::Value,
}

/// One check's result, with the evidence: observed value, threshold, SQL.
#[derive(Debug, Clone, Serialize)]
pub struct CheckOutcome {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    pub severity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub status: Status,
    pub observed: Option<f64>,
    pub threshold: String,
    pub message: String,
    pub details: serde_json::Value,
    pub sql: String,
    /// Definition position (`file:line:col`).
    pub defined_at: String,
}

impl CheckOutcome {
    /// Fails `accord check`: an error-severity check that failed or could
    /// not run.
    pub fn is_blocking(&self) -> bool {
        self.severity == "error" && matches!(self.status, Status::Fail | Status::Error)
    }

    pub fn is_failing(&self) -> bool {
        matches!(self.status, Status::Fail | Status::Error)
    }

    /// The outcome without what was measured over every row: the status,
    /// threshold and SQL stay (they follow from the definition).
    pub fn without_evidence(&self) -> CheckOutcome {
        CheckOutcome {
            observed: None,
            message: EVIDENCE_WITHHELD.to_string(),
            details: serde_json::json!({}),
            ..self.clone()
        }
    }
}

/// The message of a check whose evidence a caller may not see.
pub const EVIDENCE_WITHHELD: &str =
    "evidence withheld: this check ran over rows your access policies or purpose do not show";

/// One run of every check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRun {
    /// The instant checked against (UTC, `YYYY-MM-DDTHH:MM:SS`).
    pub now: String,
    pub started_at: String,
    pub duration_ms: f64,
    pub definitions_version: String,
    /// Warehouse queries issued (one per model with checks, one per
    /// anomaly check).
    pub queries: usize,
    pub checks: Vec<CheckOutcome>,
}

impl CheckRun {
    pub fn failed_blocking(&self) -> bool {
        self.checks.iter().any(CheckOutcome::is_blocking)
    }

    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Text(s) => s.trim().parse().ok(),
        other => other.as_f64(),
    }
}

fn pass_fail(ok: bool) -> Status {
    if ok { Status::Pass } else { Status::Fail }
}

/// Freshness: `newest` (epoch seconds of the newest row before `now`).
pub fn freshness_verdict(now: NaiveDateTime, newest: Option<i64>, max_lag: i64) -> Verdict {
    let threshold = format!("lag ≤ {}", format_duration(max_lag));
    match newest {
        None => Verdict {
            status: Status::Fail,
            observed: None,
            threshold,
            message: "no rows dated before now".into(),
            details: serde_json::json!({"newest": null, "max_lag_seconds": max_lag}),
        },
        Some(n) => {
            let lag = now.and_utc().timestamp() - n;
            let newest = chrono::DateTime::from_timestamp(n, 0)
                .map(|d| d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default();
            Verdict {
                status: pass_fail(lag <= max_lag),
                observed: Some(lag as f64),
                threshold,
                message: format!("newest row {newest}, {} before now", format_duration(lag)),
                details: serde_json::json!({"newest": newest, "lag_seconds": lag, "max_lag_seconds": max_lag}),
            }
        }
    }
}

pub fn completeness_verdict(rows: f64, nulls: f64, max_rate: f64) -> Verdict {
    let rate = if rows > 0.0 { nulls / rows } else { 0.0 };
    Verdict {
        status: pass_fail(rate <= max_rate),
        observed: Some(rate),
        threshold: format!("null rate ≤ {max_rate}"),
        message: format!("{nulls} of {rows} rows are null ({:.4}%)", rate * 100.0),
        details: serde_json::json!({"rows": rows, "nulls": nulls, "max_null_rate": max_rate}),
    }
}

pub fn count_verdict(what: &str, count: f64, max: u64) -> Verdict {
    Verdict {
        status: pass_fail(count <= max as f64),
        observed: Some(count),
        threshold: format!("{what} ≤ {max}"),
        message: format!("{count} {what}"),
        details: serde_json::json!({ what: count, "max": max }),
    }
}

/// A value against the band learned from its history (volume and
/// anomaly): skipped with fewer than `min_history` values.
pub fn band_verdict(
    label: &str,
    history: &[f64],
    latest: Option<f64>,
    k: f64,
    min_history: u32,
) -> Verdict {
    let Some(x) = latest else {
        if history.len() < (min_history as usize).max(1) {
            // No value and no history: the data has not started yet.
            return Verdict {
                status: Status::Skipped,
                observed: None,
                threshold: String::new(),
                message: format!("no value for the {label} and too little history"),
                details: serde_json::json!({"history": history}),
            };
        }
        return Verdict {
            status: Status::Fail,
            observed: None,
            threshold: String::new(),
            message: format!("no value for the {label}"),
            details: serde_json::json!({"history": history}),
        };
    };
    let band = Band::learn(history, k);
    let Some(band) = band.filter(|_| history.len() >= (min_history as usize).max(1)) else {
        return Verdict {
            status: Status::Skipped,
            observed: Some(x),
            threshold: String::new(),
            message: format!(
                "{} of the {min_history} history values needed to learn a band",
                history.len()
            ),
            details: serde_json::json!({"history": history}),
        };
    };
    let z = band.z(x);
    let z_json = if z.is_finite() {
        serde_json::json!(z)
    } else {
        serde_json::Value::Null
    };
    Verdict {
        status: pass_fail(band.contains(x)),
        observed: Some(x),
        threshold: format!(
            "[{}, {}] (median {} ± {k}·1.4826·MAD {})",
            round(band.lower),
            round(band.upper),
            round(band.median),
            round(band.mad)
        ),
        message: format!(
            "{label}: {} (robust z {})",
            round(x),
            if z.is_finite() {
                format!("{z:.2}")
            } else {
                "∞".into()
            }
        ),
        details: serde_json::json!({
            "median": band.median, "mad": band.mad, "k": k,
            "lower": band.lower, "upper": band.upper, "z": z_json,
            "history": history,
        }),
    }
}

fn round(x: f64) -> String {
    let r = (x * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

/// The history of a volume check: counts of the days before the checked
/// one that start on or after the day of the first dated row.
pub fn volume_history(days: &[(NaiveDate, f64)], first: Option<NaiveDate>) -> (Vec<f64>, f64) {
    let Some((last, before)) = days.split_last() else {
        return (Vec::new(), 0.0);
    };
    let history = before
        .iter()
        .filter(|(d, _)| first.is_some_and(|f| *d >= f))
        .map(|(_, c)| *c)
        .collect();
    (history, last.1)
}

/// Whether a metric's missing period means zero: true when every measure
/// it reads is a count or sum (no rows = nothing counted).
pub fn missing_is_zero(catalog: &Catalog, id: crate::catalog::MetricId) -> bool {
    fn additive(c: &Catalog, id: crate::catalog::MetricId, depth: usize) -> bool {
        if depth > 64 {
            return false;
        }
        match &c.metric(id).kind {
            MetricKind::Simple { model, measure } => {
                c.model(*model).measures[*measure].agg.is_additive()
            }
            // Running windows and conversion counts/rates are not "nothing
            // happened = 0" values: a missing period stays missing.
            MetricKind::Ratio { .. }
            | MetricKind::Cumulative { .. }
            | MetricKind::Conversion(_) => false,
            MetricKind::Derived { inputs, .. } => {
                inputs.iter().all(|i| additive(c, i.metric, depth + 1))
            }
        }
    }
    additive(catalog, id, 0)
}

/// An anomaly check's history from the values by period (`periods` from
/// [`compile::anomaly_periods`], checked period first). Periods before the
/// first period with a value are not history (the data had not started).
pub fn anomaly_series(
    periods: &[NaiveDate],
    values: &BTreeMap<NaiveDate, f64>,
    zero_when_missing: bool,
) -> (Vec<f64>, Option<f64>) {
    let first = values.keys().next().copied();
    let value = |d: &NaiveDate| match values.get(d) {
        Some(v) => Some(*v),
        None if zero_when_missing && first.is_some_and(|f| *d >= f) => Some(0.0),
        None => None,
    };
    let latest = periods.first().and_then(value);
    let history = periods[1..].iter().filter_map(value).collect();
    (history, latest)
}

fn as_date(v: &Value) -> Option<NaiveDate> {
    match v {
        Value::Date(d) => Some(*d),
        Value::Timestamp(t) => Some(t.date()),
        Value::Text(s) => s
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        _ => None,
    }
}

fn outcome(catalog: &Catalog, check: &Check, v: Verdict, sql: &str) -> CheckOutcome {
    let (model, metric) = match check.target {
        CheckTarget::Model(id) => (Some(catalog.model(id).name.clone()), None),
        CheckTarget::Metric(id) => (None, Some(catalog.metric(id).qualified_name())),
    };
    CheckOutcome {
        name: check.name.clone(),
        kind: check.kind.name(),
        model,
        metric,
        severity: check.severity.name(),
        owner: check.owner.clone(),
        status: v.status,
        observed: v.observed,
        threshold: v.threshold,
        message: v.message,
        details: v.details,
        sql: sql.to_string(),
        defined_at: check.pos.to_string(),
    }
}

fn error_verdict(message: String) -> Verdict {
    Verdict {
        status: Status::Error,
        observed: None,
        threshold: String::new(),
        message,
        details: serde_json::Value::Null,
    }
}

/// Judges one model query's result row.
fn judge_model(
    catalog: &Catalog,
    mq: &compile::ModelQuery,
    row: Option<&[Value]>,
    now: NaiveDateTime,
    sql: &str,
) -> Vec<CheckOutcome> {
    let get = |i: usize| row.and_then(|r| r.get(i)).and_then(num);
    mq.checks
        .iter()
        .map(|(ci, slots)| {
            let check = &catalog.checks[*ci];
            let v = match (&check.kind, slots) {
                (CheckKind::Freshness { max_lag_seconds }, Slots::Freshness { newest }) => {
                    freshness_verdict(now, get(*newest).map(|x| x as i64), *max_lag_seconds)
                }
                (
                    CheckKind::Completeness { max_null_rate, .. },
                    Slots::Completeness { rows, nulls },
                ) => completeness_verdict(
                    get(*rows).unwrap_or(0.0),
                    get(*nulls).unwrap_or(0.0),
                    *max_null_rate,
                ),
                (CheckKind::Volume { k, min_history, .. }, Slots::Volume { first, days }) => {
                    let first = get(*first).and_then(|s| {
                        chrono::DateTime::from_timestamp(s as i64, 0).map(|d| d.date_naive())
                    });
                    let counts: Vec<(NaiveDate, f64)> = days
                        .iter()
                        .map(|(d, i)| (*d, get(*i).unwrap_or(0.0)))
                        .collect();
                    let (history, latest) = volume_history(&counts, first);
                    let label = format!(
                        "rows on {}",
                        counts.last().map(|d| d.0.to_string()).unwrap_or_default()
                    );
                    band_verdict(&label, &history, Some(latest), *k, *min_history)
                }
                (
                    CheckKind::ReferentialIntegrity { max_orphans, .. },
                    Slots::ReferentialIntegrity { orphans },
                ) => count_verdict("orphans", get(*orphans).unwrap_or(0.0), *max_orphans),
                (
                    CheckKind::AcceptedValues { max_invalid, .. },
                    Slots::AcceptedValues { invalid },
                ) => count_verdict("invalid", get(*invalid).unwrap_or(0.0), *max_invalid),
                _ => error_verdict("internal: check and query layout disagree".into()),
            };
            outcome(catalog, check, v, sql)
        })
        .collect()
}

/// Runs every check of `catalog` on `warehouse` as of `now`: one query per
/// model with checks, one per anomaly check. Outcomes are in definition
/// order.
pub async fn run_checks(catalog: &Catalog, warehouse: &Warehouse, now: NaiveDateTime) -> CheckRun {
    let direct = Direct {
        catalog,
        warehouse,
        defaults: TimeDefaults::default(),
    };
    run_checks_with(catalog, warehouse, now, &direct).await
}

/// Where an anomaly check's metric series comes from: the server passes
/// its query service (the same time defaults, caches and telemetry as a
/// served query of the metric); `accord check` plans and runs directly.
pub trait SeriesSource: Sync {
    /// The time zone and week start the metric is computed with.
    fn defaults(&self) -> TimeDefaults;
    /// Answers the anomaly's semantic query as the operator.
    fn series<'a>(
        &'a self,
        q: &'a SemanticQuery,
    ) -> futures::future::BoxFuture<'a, Result<Arc<Executed>, String>>;
}

/// Plans and runs on the warehouse, with given time defaults.
pub struct Direct<'a> {
    pub catalog: &'a Catalog,
    pub warehouse: &'a Warehouse,
    pub defaults: TimeDefaults,
}

impl SeriesSource for Direct<'_> {
    fn defaults(&self) -> TimeDefaults {
        self.defaults.clone()
    }

    fn series<'a>(
        &'a self,
        q: &'a SemanticQuery,
    ) -> futures::future::BoxFuture<'a, Result<Arc<Executed>, String>> {
        Box::pin(async move {
            let q = self.defaults.apply(q);
            crate::execute::run(
                self.catalog,
                self.warehouse,
                &q,
                &Caller::operator(),
                100_000,
            )
            .await
            .map(Arc::new)
            .map_err(|e| e.to_string())
        })
    }
}

/// [`run_checks`] with the series of anomaly checks from `source`: the
/// metric is computed with the source's time zone and week start, as a
/// served query of it is, and the period judged is the one current in that
/// zone (model checks compare stored UTC timestamps with `now` in UTC).
pub async fn run_checks_with(
    catalog: &Catalog,
    warehouse: &Warehouse,
    now: NaiveDateTime,
    source: &dyn SeriesSource,
) -> CheckRun {
    let defaults = source.defaults();
    let started = Instant::now();
    let started_at = crate::clock::now_rfc3339();
    let dialect = warehouse.dialect();
    let renderer = Renderer::new(dialect.dialect());
    let mut by_index: BTreeMap<usize, CheckOutcome> = BTreeMap::new();
    let mut queries = 0;
    for mq in compile::model_queries(catalog, now) {
        queries += 1;
        let outcomes = match renderer.query(&mq.query) {
            Ok(sql) => match warehouse.query(&sql, 1).await {
                Ok(rs) => judge_model(catalog, &mq, rs.rows.first().map(Vec::as_slice), now, &sql),
                Err(e) => mq
                    .checks
                    .iter()
                    .map(|(ci, _)| {
                        outcome(
                            catalog,
                            &catalog.checks[*ci],
                            error_verdict(e.to_string()),
                            &sql,
                        )
                    })
                    .collect(),
            },
            Err(e) => mq
                .checks
                .iter()
                .map(|(ci, _)| {
                    outcome(
                        catalog,
                        &catalog.checks[*ci],
                        error_verdict(e.to_string()),
                        "",
                    )
                })
                .collect(),
        };
        for (o, (ci, _)) in outcomes.into_iter().zip(&mq.checks) {
            by_index.insert(*ci, o);
        }
    }
    for (ci, check) in catalog.checks.iter().enumerate() {
        let local_now = local_time(&defaults, now);
        let Some(q) = compile::anomaly_query(catalog, check, local_now) else {
            continue;
        };
        let q = defaults.apply(&q);
        queries += 1;
        by_index.insert(ci, run_anomaly(catalog, source, check, &q, local_now).await);
    }
    CheckRun {
        now: now.format("%Y-%m-%dT%H:%M:%S").to_string(),
        started_at,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        definitions_version: catalog.version.clone(),
        queries,
        checks: by_index.into_values().collect(),
    }
}

/// `now` (UTC) as a wall-clock time in the defaults' zone; UTC without one
/// (an invalid zone was refused when the configuration was read).
fn local_time(defaults: &TimeDefaults, now: NaiveDateTime) -> NaiveDateTime {
    let probe = SemanticQuery {
        time_zone: defaults.time_zone.clone(),
        ..Default::default()
    };
    match crate::planner::timezone::zone(&probe) {
        Ok(Some(tz)) => now.and_utc().with_timezone(&tz).naive_local(),
        _ => now,
    }
}

async fn run_anomaly(
    catalog: &Catalog,
    source: &dyn SeriesSource,
    check: &Check,
    q: &crate::query::SemanticQuery,
    now: NaiveDateTime,
) -> CheckOutcome {
    let (
        CheckTarget::Metric(id),
        CheckKind::Anomaly {
            period,
            trailing,
            k,
            weekday_seasonality,
            min_history,
        },
    ) = (check.target, &check.kind)
    else {
        return outcome(
            catalog,
            check,
            error_verdict("internal: not an anomaly check".into()),
            "",
        );
    };
    let executed = match source.series(q).await {
        Ok(x) => x,
        Err(e) => return outcome(catalog, check, error_verdict(e), ""),
    };
    let time_col = executed
        .columns
        .iter()
        .position(|c| matches!(c.role, ColumnRole::Dimension { .. }));
    let value_col = executed
        .columns
        .iter()
        .position(|c| matches!(c.role, ColumnRole::Metric { .. }));
    let (Some(tc), Some(vc)) = (time_col, value_col) else {
        return outcome(
            catalog,
            check,
            error_verdict("internal: the metric query has no time or value column".into()),
            &executed.sql,
        );
    };
    let mut values = BTreeMap::new();
    for row in &executed.result.rows {
        if let (Some(d), Some(v)) = (as_date(&row[tc]), num(&row[vc])) {
            values.insert(d, v);
        }
    }
    let periods = compile::anomaly_periods(now, *period, *trailing, *weekday_seasonality);
    let (history, latest) = anomaly_series(&periods, &values, missing_is_zero(catalog, id));
    let label = format!("{} of {}", period.name(), periods[0]);
    let v = band_verdict(&label, &history, latest, *k, *min_history);
    outcome(catalog, check, v, &executed.sql)
}

//! Checks inside `accord serve`: a scheduled run every `checks.interval`,
//! a bounded history of runs, `GET /v1/checks`, Prometheus gauges, and the
//! warnings that query responses carry for metrics whose inputs fail a
//! check (lineage-aware: a failing model check flags every metric that
//! reads the model or one of its warehouse tables; a failing anomaly check
//! flags the metric and every metric built on it).

use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::NaiveDateTime;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;
use crate::checks::run::{CheckOutcome, CheckRun, SeriesSource, Status, run_checks_with};
use crate::governance::lineage::{InputNode, find_metric, lineage};
use crate::state::QueryService;

/// `checks:` in accord.yaml.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileChecks {
    /// How often `accord serve` runs every check (`15m`, `1h`); absent
    /// means never on a schedule.
    pub interval: Option<String>,
    /// Runs kept for `GET /v1/checks` [default: 20].
    pub history: Option<usize>,
    /// Evaluate as of this fixed instant instead of the current time (for
    /// demos and reproducible tests).
    pub now: Option<String>,
}

/// Resolved check settings of the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ChecksConfig {
    pub interval: Option<Duration>,
    pub history: usize,
    pub now: Option<NaiveDateTime>,
}

impl Default for ChecksConfig {
    fn default() -> Self {
        ChecksConfig {
            interval: None,
            history: 20,
            now: None,
        }
    }
}

impl FileChecks {
    pub fn resolve(&self) -> Result<ChecksConfig, String> {
        let interval = match &self.interval {
            None => None,
            Some(t) => {
                let s = crate::checks::parse_duration(t)
                    .map_err(|e| format!("checks.interval: {e}"))?;
                if s <= 0 {
                    return Err("checks.interval must be positive".into());
                }
                Some(Duration::from_secs(s as u64))
            }
        };
        let history = self.history.unwrap_or(20);
        if history == 0 {
            return Err("checks.history must be at least 1".into());
        }
        let now = match &self.now {
            None => None,
            Some(t) => Some(crate::checks::parse_now(t).map_err(|e| format!("checks.now: {e}"))?),
        };
        Ok(ChecksConfig {
            interval,
            history,
            now,
        })
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    pub check: String,
    pub kind: String,
    pub target: String,
    pub severity: String,
}

/// The Prometheus side of checks, registered with the server's telemetry.
pub struct CheckGauges {
    /// 1 while the check fails (or cannot run), else 0.
    pub failing: Family<CheckLabels, Gauge>,
    /// The latest observed value (lag seconds, null rate, rows, orphans,
    /// invalid rows, metric value).
    pub observed: Family<CheckLabels, Gauge<f64, AtomicU64>>,
    pub runs: Counter,
    pub last_run: Gauge,
}

impl CheckGauges {
    pub fn register(registry: &mut Registry) -> CheckGauges {
        let g = CheckGauges {
            failing: Family::default(),
            observed: Family::default(),
            runs: Counter::default(),
            last_run: Gauge::default(),
        };
        registry.register(
            "check_failing",
            "1 while a data quality check fails or cannot run",
            g.failing.clone(),
        );
        registry.register(
            "check_observed",
            "Latest observed value of a data quality check",
            g.observed.clone(),
        );
        registry.register(
            "check_runs",
            "Runs of all data quality checks",
            g.runs.clone(),
        );
        registry.register(
            "check_last_run_timestamp_seconds",
            "When the checks last ran (Unix time)",
            g.last_run.clone(),
        );
        g
    }

    fn record(&self, run: &CheckRun) {
        self.failing.clear();
        self.observed.clear();
        for c in &run.checks {
            let labels = CheckLabels {
                check: c.name.clone(),
                kind: c.kind.to_string(),
                target: target_label(c),
                severity: c.severity.to_string(),
            };
            self.failing
                .get_or_create(&labels)
                .set(i64::from(c.is_failing()));
            if let Some(v) = c.observed {
                self.observed.get_or_create(&labels).set(v);
            }
        }
        self.runs.inc();
        self.last_run.set(chrono::Utc::now().timestamp());
    }
}

fn target_label(c: &CheckOutcome) -> String {
    match (&c.model, &c.metric) {
        (Some(m), _) => format!("model:{m}"),
        (_, Some(m)) => format!("metric:{m}"),
        _ => String::new(),
    }
}

/// The server's check runs, newest last.
pub struct Monitor {
    runs: Mutex<VecDeque<Arc<CheckRun>>>,
    capacity: usize,
}

impl Monitor {
    pub fn new(capacity: usize) -> Monitor {
        Monitor {
            runs: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<CheckRun>>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, run: CheckRun) -> Arc<CheckRun> {
        let run = Arc::new(run);
        let mut runs = self.lock();
        runs.push_back(run.clone());
        while runs.len() > self.capacity {
            runs.pop_front();
        }
        run
    }

    pub fn latest(&self) -> Option<Arc<CheckRun>> {
        self.lock().back().cloned()
    }

    pub fn history(&self) -> Vec<Arc<CheckRun>> {
        self.lock().iter().cloned().collect()
    }
}

/// Scheduled anomaly checks read their metric through the service, like
/// any served query of it.
impl SeriesSource for QueryService {
    fn defaults(&self) -> crate::query::TimeDefaults {
        self.config.time_defaults()
    }

    fn series<'a>(
        &'a self,
        q: &'a crate::query::SemanticQuery,
    ) -> futures::future::BoxFuture<'a, Result<Arc<crate::execute::Executed>, String>> {
        Box::pin(async move {
            self.answer(q, &crate::access::Caller::operator())
                .await
                .map(|a| a.executed)
                .map_err(|e| e.message)
        })
    }
}

/// Runs every check once now and records the run (history and gauges).
pub async fn run_once(state: &QueryService) -> Arc<CheckRun> {
    let catalog = state.catalog();
    let now = state
        .config
        .checks
        .now
        .unwrap_or_else(crate::clock::utc_now);
    let run = run_checks_with(&catalog, &state.warehouse, now, state).await;
    state.telemetry.checks.record(&run);
    let failing: Vec<&str> = run
        .checks
        .iter()
        .filter(|c| c.is_failing())
        .map(|c| c.name.as_str())
        .collect();
    if failing.is_empty() {
        tracing::info!(checks = run.checks.len(), "data quality checks passed");
    } else {
        tracing::warn!(checks = run.checks.len(), failing = ?failing, "data quality checks failing");
    }
    state.checks.record(run)
}

/// Starts the schedule when `checks.interval` is set: a first run at once,
/// then one per interval. The task ends when the server state is dropped.
pub fn spawn(state: &Arc<QueryService>) {
    let Some(interval) = state.config.checks.interval else {
        return;
    };
    if state.catalog().checks.is_empty() && !state.config.reload {
        return;
    }
    let weak: Weak<QueryService> = Arc::downgrade(state);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(state) = weak.upgrade() else { break };
            run_once(&state).await;
        }
    });
}

#[derive(Debug, Serialize)]
struct RunSummary {
    now: String,
    started_at: String,
    duration_ms: f64,
    definitions_version: String,
    passed: usize,
    failed: usize,
    skipped: usize,
    errors: usize,
}

/// The body of `GET /v1/checks`: the latest run with every check's evidence, and a
/// summary of the runs kept.
///
/// A caller sees the checks of what their roles show: a metric check when
/// they may use its metric, a model check when they may see some dimension
/// of its model. Counts in the history are of those checks only.
pub fn report_for(
    state: &QueryService,
    caller: &crate::access::Caller,
) -> Result<serde_json::Value, crate::error::PlanError> {
    let catalog = state.catalog();
    let access = crate::access::Access::resolve(&catalog, caller)?;
    let shown = |c: &CheckOutcome| {
        check_visible(&catalog, &access, c.metric.as_deref(), c.model.as_deref())
    };
    let visible = |r: &CheckRun| CheckRun {
        checks: r.checks.iter().filter(|c| shown(c)).cloned().collect(),
        ..r.clone()
    };
    let evidence = evidence_shown_to(&access);
    let latest = state.checks.latest().map(|r| {
        let mut r = visible(&r);
        if !evidence {
            r.checks = r
                .checks
                .iter()
                .map(CheckOutcome::without_evidence)
                .collect();
        }
        r
    });
    let history: Vec<RunSummary> = state
        .checks
        .history()
        .iter()
        .map(|r| {
            let r = visible(r);
            RunSummary {
                now: r.now.clone(),
                started_at: r.started_at.clone(),
                duration_ms: r.duration_ms,
                definitions_version: r.definitions_version.clone(),
                passed: r.count(Status::Pass),
                failed: r.count(Status::Fail),
                skipped: r.count(Status::Skipped),
                errors: r.count(Status::Error),
            }
        })
        .collect();
    let defined = catalog
        .checks
        .iter()
        .filter(|c| match c.target {
            crate::checks::CheckTarget::Metric(id) => access.metric_visible(id),
            crate::checks::CheckTarget::Model(m) => {
                let name = &catalog.model(m).name;
                check_visible(&catalog, &access, None, Some(name))
            }
        })
        .count();
    Ok(serde_json::json!({
        "interval_seconds": state.config.checks.interval.map(|d| d.as_secs()),
        "defined": defined,
        "latest": latest,
        "history": history,
    }))
}

/// Whether the caller may see check evidence (observed values, messages,
/// details). Checks run over every row of the warehouse, so a caller whose
/// answers are restricted (row filters, a purpose that needs consent,
/// `min_group_size`) would learn from them what their queries withhold;
/// such a caller sees each check's status, threshold and SQL only.
fn evidence_shown_to(access: &crate::access::Access) -> bool {
    access.row_filters().is_ok_and(|f| f.is_empty())
        && access.min_group_size().is_none()
        && !access.purpose.is_some_and(|p| p.requires_consent)
}

/// Whether the caller may see a check on `metric` (a name, maybe
/// `name@version`) or on `model`.
fn check_visible(
    catalog: &Catalog,
    access: &crate::access::Access,
    metric: Option<&str>,
    model: Option<&str>,
) -> bool {
    if let Some(m) = metric {
        let name = m.split('@').next().unwrap_or(m);
        return !access.visible_versions(name).is_empty();
    }
    match model.and_then(|n| catalog.model_by_name(n)) {
        Some(m) => m
            .dimensions
            .iter()
            .any(|d| access.dimension_visible(m.id, &d.name)),
        None => !access.is_restricted(),
    }
}

/// Warehouse tables a model reads (as lineage names them).
fn model_tables(m: &crate::catalog::Model) -> Vec<String> {
    match &m.source {
        crate::catalog::Source::Table(t) => vec![t.join(".")],
        crate::catalog::Source::Sql(q) => crate::governance::lineage::sql_tables(q),
    }
}

fn input_names(nodes: &[InputNode], out: &mut Vec<String>) {
    for n in nodes {
        out.push(n.metric.clone());
        input_names(&n.inputs, out);
    }
}

/// Warnings for a query over `metrics` (as written in the request) by
/// `caller` (with the query's purpose): one per failing check of the latest
/// run that a metric depends on, without evidence for a caller who may not
/// see it.
pub fn warnings_for(
    state: &QueryService,
    catalog: &Catalog,
    metrics: &[String],
    caller: &crate::access::Caller,
) -> Vec<String> {
    let Some(run) = state.checks.latest() else {
        return Vec::new();
    };
    let shown = crate::access::Access::resolve(catalog, caller)
        .is_ok_and(|access| evidence_shown_to(&access));
    if shown {
        return affected_warnings(catalog, &run, metrics);
    }
    let run = CheckRun {
        checks: run
            .checks
            .iter()
            .map(CheckOutcome::without_evidence)
            .collect(),
        ..(*run).clone()
    };
    affected_warnings(catalog, &run, metrics)
}

/// The lineage rule, separate from the server for tests.
pub fn affected_warnings(catalog: &Catalog, run: &CheckRun, metrics: &[String]) -> Vec<String> {
    let failing: Vec<&CheckOutcome> = run.checks.iter().filter(|c| c.is_failing()).collect();
    if failing.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for reference in metrics {
        let Some(metric) = find_metric(catalog, reference) else {
            continue;
        };
        let lin = lineage(catalog, metric.id, None);
        let mut inputs = vec![metric.qualified_name()];
        input_names(&lin.inputs, &mut inputs);
        for c in &failing {
            let why = if let Some(model) = &c.model {
                let tables = catalog
                    .model_by_name(model)
                    .map(model_tables)
                    .unwrap_or_default();
                if lin.models.iter().any(|m| &m.name == model) {
                    Some(format!("it reads model {model}"))
                } else {
                    tables
                        .iter()
                        .find(|t| lin.tables.contains(t))
                        .map(|t| format!("it reads table {t}, the source of model {model}"))
                }
            } else if let Some(m) = &c.metric {
                let name = m.split('@').next().unwrap_or(m);
                inputs
                    .iter()
                    .find(|i| *i == m || i.split('@').next() == Some(name))
                    .map(|i| {
                        if i == &inputs[0] {
                            "it is the checked metric".to_string()
                        } else {
                            format!("it is built on {i}")
                        }
                    })
            } else {
                None
            };
            if let Some(why) = why {
                out.push(format!(
                    "check `{}` ({} on {}, {}) is {} as of {}: {} — `{}` is affected because {why}",
                    c.name,
                    c.kind,
                    target_label(c).replace(':', " "),
                    c.severity,
                    if c.status == Status::Error {
                        "erroring"
                    } else {
                        "failing"
                    },
                    run.now,
                    c.message,
                    reference
                ));
            }
        }
    }
    out
}

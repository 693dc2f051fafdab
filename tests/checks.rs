//! Data quality checks (src/checks): the volume/anomaly rule on hand
//! fixtures with hand-computed medians and MADs; the SQL of every demo
//! check in all 10 dialects (insta snapshots, each statement re-parsed by
//! sqlparser); definition errors with positions and suggestions; the demo
//! checks quiet on clean data on every day of the year (judged from the
//! generator's rows) and, through the warehouse, on sampled days with the
//! observed values equal to the ones computed from the rows; each injected
//! fault caught on DuckDB and PostgreSQL; `accord check` formats and exit
//! codes; `GET /v1/checks`, the Prometheus gauges and the query warnings.

#[path = "common/auth.rs"]
mod auth;
mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use accord::catalog::Catalog;
use accord::checks::compile::{anomaly_periods, checked_day, model_queries};
use accord::checks::run::{
    CheckRun, Status, Verdict, band_verdict, completeness_verdict, count_verdict,
    freshness_verdict, volume_history,
};
use accord::checks::{CheckKind, parse_now, run_checks};
use accord::demo::faults::{DEMO_NOW, Fault, inject};
use accord::demo::{DemoConfig, DemoData, generate};
use accord::dialect::DialectKind;
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use common::{demo_catalog, repo_path};
use serde_json::{Value as Json, json};

/// The demo scale the demo checks are tuned for (`accord demo init`'s default).
const SCALE: u32 = 10;

fn now(text: &str) -> NaiveDateTime {
    parse_now(text).expect("a valid time")
}

// ---------------------------------------------------------------------------
// The rule, by hand.

#[test]
fn volume_band_on_a_hand_fixture() {
    // Seven trailing days; one outlier (250) that a mean/stddev band would
    // swallow. Sorted: 97 98 99 100 101 103 250 → median 100.
    // |x − 100|: 0 2 3 3 1 1 150 → sorted 0 1 1 2 3 3 150 → MAD 2.
    // k = 3: half-width 3 · 1.4826 · 2 = 8.8956 → band [91.1044, 108.8956].
    let history = [100.0, 98.0, 103.0, 97.0, 101.0, 99.0, 250.0];
    let v = band_verdict("rows", &history, Some(108.0), 3.0, 5);
    assert_eq!(v.status, Status::Pass, "{v:?}");
    assert_eq!(v.details["median"], json!(100.0));
    assert_eq!(v.details["mad"], json!(2.0));
    let lower = v.details["lower"].as_f64().unwrap();
    let upper = v.details["upper"].as_f64().unwrap();
    assert!((lower - 91.1044).abs() < 1e-9, "{lower}");
    assert!((upper - 108.8956).abs() < 1e-9, "{upper}");
    assert_eq!(
        band_verdict("rows", &history, Some(109.0), 3.0, 5).status,
        Status::Fail
    );
    assert_eq!(
        band_verdict("rows", &history, Some(91.0), 3.0, 5).status,
        Status::Fail
    );
    // Robust z of 110: (110 − 100) / (1.4826 · 2).
    let z = band_verdict("rows", &history, Some(110.0), 3.0, 5).details["z"]
        .as_f64()
        .unwrap();
    assert!((z - 10.0 / 2.9652).abs() < 1e-9);
    // Too little history: skipped, not failed.
    assert_eq!(
        band_verdict("rows", &history[..4], Some(1e9), 3.0, 5).status,
        Status::Skipped
    );
    // No value for the checked period at all: a failure.
    assert_eq!(
        band_verdict("rows", &history, None, 3.0, 5).status,
        Status::Fail
    );
}

#[test]
fn volume_history_starts_at_the_first_row() {
    let d = |day: u32| NaiveDate::from_ymd_opt(2025, 1, day).unwrap();
    let days: Vec<(NaiveDate, f64)> = (1..=8)
        .map(|i| (d(i), if i < 4 { 0.0 } else { 10.0 + i as f64 }))
        .collect();
    // Data begins on the 4th: the zero days before it are not history.
    let (history, latest) = volume_history(&days, Some(d(4)));
    assert_eq!(history, vec![14.0, 15.0, 16.0, 17.0]);
    assert_eq!(latest, 18.0);
    let (history, _) = volume_history(&days, None);
    assert!(history.is_empty());
}

#[test]
fn anomaly_periods_and_weekday_seasonality() {
    // 2026-01-01 is a Thursday: the checked day is Wednesday 2025-12-31.
    let t = now("2026-01-01T09:30:00");
    assert_eq!(
        checked_day(t),
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap()
    );
    let daily = anomaly_periods(t, accord::checks::Period::Day, 3, false);
    let names: Vec<String> = daily.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        names,
        ["2025-12-31", "2025-12-30", "2025-12-29", "2025-12-28"]
    );
    let weekly = anomaly_periods(t, accord::checks::Period::Day, 3, true);
    let names: Vec<String> = weekly.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        names,
        ["2025-12-31", "2025-12-24", "2025-12-17", "2025-12-10"]
    );
    let weeks = anomaly_periods(t, accord::checks::Period::Week, 2, false);
    let names: Vec<String> = weeks.iter().map(|d| d.to_string()).collect();
    // The week of 2026-01-01 starts Monday 2025-12-29; the last complete
    // week started on the 22nd.
    assert_eq!(names, ["2025-12-22", "2025-12-15", "2025-12-08"]);
}

#[test]
fn anomaly_series_on_a_hand_fixture() {
    use accord::checks::run::anomaly_series;
    let d = |m: u32, day: u32| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
    let periods = anomaly_periods(now("2026-01-01"), accord::checks::Period::Day, 4, true);
    // Values for 12-31, 12-24 and 12-10; 12-17 has no row; 12-03 precedes
    // the first value.
    let values: BTreeMap<NaiveDate, f64> =
        [(d(12, 31), 500.0), (d(12, 24), 100.0), (d(12, 10), 120.0)]
            .into_iter()
            .collect();
    let (history, latest) = anomaly_series(&periods, &values, true);
    assert_eq!(latest, Some(500.0));
    assert_eq!(history, vec![100.0, 0.0, 120.0]);
    let (history, _) = anomaly_series(&periods, &values, false);
    assert_eq!(history, vec![100.0, 120.0]);
    // History 100, 0, 120 → median 100; deviations 0, 100, 20 → MAD 20;
    // k = 4: 100 ± 4 · 1.4826 · 20 = [−18.608, 218.608]; 500 fails.
    let v = band_verdict("day", &[100.0, 0.0, 120.0], Some(500.0), 4.0, 3);
    assert_eq!(v.status, Status::Fail);
    assert!((v.details["upper"].as_f64().unwrap() - 218.608).abs() < 1e-9);
}

#[test]
fn freshness_completeness_and_counts_by_hand() {
    let t = now("2026-01-01");
    // Newest row 2025-12-31 18:00: lag 6h exactly passes a 6h bound.
    let newest = now("2025-12-31T18:00:00").and_utc().timestamp();
    assert_eq!(
        freshness_verdict(t, Some(newest), 6 * 3600).status,
        Status::Pass
    );
    assert_eq!(
        freshness_verdict(t, Some(newest - 1), 6 * 3600).status,
        Status::Fail
    );
    assert_eq!(freshness_verdict(t, None, 3600).status, Status::Fail);
    let c = completeness_verdict(200.0, 3.0, 0.01);
    assert_eq!((c.status, c.observed), (Status::Fail, Some(0.015)));
    assert_eq!(completeness_verdict(0.0, 0.0, 0.0).status, Status::Pass);
    assert_eq!(count_verdict("orphans", 0.0, 0).status, Status::Pass);
    assert_eq!(count_verdict("orphans", 1.0, 0).status, Status::Fail);
}

// ---------------------------------------------------------------------------
// Definitions.

/// The demo definitions plus one more file, `checks.yml`.
fn with_checks_file(text: &str) -> Vec<accord::definitions::SourceFile> {
    let mut files = accord::definitions::read_dir(&repo_path("metric_defs")).unwrap();
    files.push(accord::definitions::SourceFile {
        path: "checks.yml".into(),
        text: text.into(),
    });
    files
}

fn load_err(text: &str) -> String {
    let files = with_checks_file(text);
    match accord::definitions::load_files(&files) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn definition_errors_name_position_field_and_suggestion() {
    let e =
        load_err("checks:\n  - name: a\n    model: order\n    type: freshness\n    max_lag: 6h\n");
    assert!(
        e.contains(
            "checks.yml:3:12: checks.a.model: unknown model `order`; did you mean `orders`?"
        ),
        "{e}"
    );
    let e =
        load_err("checks:\n  - name: a\n    model: orders\n    type: freshnes\n    max_lag: 6h\n");
    assert!(e.contains("checks.yml:4:11: checks.a.type: unknown check type `freshnes`; did you mean `freshness`?"), "{e}");
    let e = load_err(
        "checks:\n  - name: a\n    model: orders\n    type: freshness\n    max_lag: 6 hours\n",
    );
    assert!(
        e.contains("checks.yml:5:14: checks.a.max_lag: `6 hours` is not a duration"),
        "{e}"
    );
    let e =
        load_err("checks:\n  - name: a\n    model: orders\n    type: volume\n    max_lag: 6h\n");
    assert!(
        e.contains("checks.a.max_lag: `max_lag` does not apply to a volume check"),
        "{e}"
    );
    let e = load_err(
        "checks:\n  - name: a\n    model: orders\n    type: completeness\n    column: sesion\n",
    );
    assert!(e.contains("checks.yml:5:13: checks.a.column: `sesion` is not a dimension or entity of model `orders`; did you mean `session`?"), "{e}");
    let e = load_err(
        "checks:\n  - name: a\n    model: orders\n    type: referential_integrity\n    entity: order\n",
    );
    assert!(
        e.contains("`order` is not a foreign entity of model `orders`"),
        "{e}"
    );
    let e = load_err("checks:\n  - name: a\n    metric: revenu\n    type: anomaly\n");
    assert!(
        e.contains("checks.a.metric: unknown metric `revenu`; did you mean `revenue`?"),
        "{e}"
    );
    let e = load_err("checks:\n  - name: a\n    model: orders\n    type: anomaly\n");
    assert!(e.contains("an anomaly check is about a metric"), "{e}");
    let e = load_err(
        "checks:\n  - name: a\n    model: orders\n    type: freshness\n    max_lag: 1h\n    severty: warn\n",
    );
    assert!(
        e.contains("unknown field `severty`") && e.contains("did you mean `severity`?"),
        "{e}"
    );
    let e = load_err(
        "checks:\n  - name: a\n    model: orders\n    type: freshness\n    max_lag: 1h\n    severity: fatal\n",
    );
    assert!(
        e.contains("checks.a.severity: unknown severity `fatal`"),
        "{e}"
    );
    let e = load_err(
        "checks:\n  - name: a\n    model: orders\n    type: freshness\n    max_lag: 1h\n  - name: a\n    model: orders\n    type: freshness\n    max_lag: 2h\n",
    );
    assert!(
        e.contains("duplicate check `a` (first defined at checks.yml:2:11)"),
        "{e}"
    );
    let e = load_err(
        "checks:\n  - name: a\n    metric: revenue\n    type: anomaly\n    period: week\n    seasonality: weekday\n",
    );
    assert!(e.contains("weekday seasonality compares days"), "{e}");
    let e = load_err("checks:\n  - name: a\n    model: orders\n    type: volume\n    k: -1\n");
    assert!(e.contains("k must be a positive number"), "{e}");
}

#[test]
fn checks_version_with_the_definitions() {
    let c = demo_catalog();
    assert!(c.checks.len() >= 10);
    let kinds: BTreeSet<&str> = c.checks.iter().map(|c| c.kind.name()).collect();
    assert_eq!(
        kinds.len(),
        6,
        "every kind of check is demonstrated: {kinds:?}"
    );
    // Changing a threshold changes the definitions version.
    let dir = tempfile::tempdir().unwrap();
    http::copy_dir(&repo_path("metric_defs"), dir.path());
    let path = dir.path().join("checks/quality.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("max_lag: 6h", "max_lag: 7h")).unwrap();
    let changed = accord::definitions::load_dir(dir.path()).unwrap();
    let same = accord::definitions::load_dir(&repo_path("metric_defs")).unwrap();
    assert_ne!(changed.version, same.version);
}

// ---------------------------------------------------------------------------
// SQL: one query per model, snapshot per dialect, parsed back.

fn check_sql_all(catalog: &Catalog, t: NaiveDateTime) -> Vec<(String, DialectKind, String)> {
    let mut out = Vec::new();
    for mq in model_queries(catalog, t) {
        for d in DialectKind::ALL {
            let sql = accord::sql::render::Renderer::new(d.dialect())
                .query(&mq.query)
                .unwrap_or_else(|e| format!("-- error: {e}"));
            out.push((catalog.model(mq.model).name.clone(), d, sql));
        }
    }
    for check in &catalog.checks {
        if let Some(q) = accord::checks::compile::anomaly_query(catalog, check, t) {
            for d in DialectKind::ALL {
                let sql =
                    accord::planner::compile(catalog, &q, &accord::access::Caller::operator(), d)
                        .map(|(_, s)| s)
                        .unwrap_or_else(|e| format!("-- error: {}", e.display_full()));
                out.push((format!("anomaly_{}", check.name), d, sql));
            }
        }
    }
    out
}

#[test]
fn one_query_per_model_with_checks() {
    let c = demo_catalog();
    let queries = model_queries(&c, now(DEMO_NOW));
    let models: BTreeSet<String> = c
        .checks
        .iter()
        .filter_map(|k| match k.target {
            accord::checks::CheckTarget::Model(m) => Some(c.model(m).name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(queries.len(), models.len());
    let in_queries: usize = queries.iter().map(|q| q.checks.len()).sum();
    assert_eq!(
        in_queries,
        c.checks
            .iter()
            .filter(|k| !matches!(k.kind, CheckKind::Anomaly { .. }))
            .count()
    );
}

#[test]
fn check_sql_snapshots_per_dialect() {
    let c = demo_catalog();
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    for (name, d, sql) in check_sql_all(&c, now(DEMO_NOW)) {
        let text = by_name
            .entry(name.clone())
            .or_insert_with(|| format!("-- checks of {name} as of {DEMO_NOW}\n"));
        text.push_str(&format!("\n-- dialect: {d}\n{sql}\n"));
    }
    assert!(by_name.len() >= 4);
    for (name, text) in by_name {
        let snapshot = format!("checks_{name}");
        insta::assert_snapshot!(snapshot.as_str(), text);
    }
}

#[test]
fn every_check_statement_parses_with_its_sqlparser_dialect() {
    let c = demo_catalog();
    let mut parsed = 0;
    for (name, d, sql) in check_sql_all(&c, now(DEMO_NOW)) {
        assert!(!sql.starts_with("-- error"), "{name} on {d}: {sql}");
        let dialect = sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser).unwrap();
        let stmts = sqlparser::parser::Parser::parse_sql(dialect.as_ref(), &sql)
            .unwrap_or_else(|e| panic!("{name} on {d} does not parse: {e}\n{sql}"));
        assert_eq!(stmts.len(), 1);
        parsed += 1;
    }
    assert!(parsed >= 40, "{parsed}");
}

#[test]
fn user_values_reach_sql_as_escaped_literals() {
    let files = with_checks_file(
        "checks:\n  - name: odd_values\n    model: orders\n    type: accepted_values\n    column: status\n    values: [\"it's\", \"x'); DROP TABLE orders; --\", 3, true]\n",
    );
    let c = accord::definitions::load_files(&files).unwrap();
    let orders = c.model_by_name("orders").unwrap().id;
    let queries = model_queries(&c, now(DEMO_NOW));
    let mq = queries.iter().find(|q| q.model == orders).unwrap();
    for d in DialectKind::ALL {
        let sql = accord::sql::render::Renderer::new(d.dialect())
            .query(&mq.query)
            .unwrap();
        assert!(!sql.contains("'x'); DROP"), "{d}: {sql}");
        let dialect = sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser).unwrap();
        assert_eq!(
            sqlparser::parser::Parser::parse_sql(dialect.as_ref(), &sql)
                .unwrap()
                .len(),
            1
        );
    }
}

// ---------------------------------------------------------------------------
// Expectations computed straight from the generator's rows.

/// Row-level facts, each as the sorted times of the rows it concerns, so a
/// count "as of t" is a binary search.
struct Rows {
    event_times: Vec<NaiveDateTime>,
    session_times: Vec<NaiveDateTime>,
    order_times: Vec<NaiveDateTime>,
    web_orders: Vec<NaiveDateTime>,
    web_orders_without_session: Vec<NaiveDateTime>,
    orphan_orders: Vec<NaiveDateTime>,
    orphan_events: Vec<NaiveDateTime>,
    bad_status: Vec<NaiveDateTime>,
    bad_channel: Vec<NaiveDateTime>,
    /// The `orders` metric by day: non-cancelled orders of customers not
    /// on the suppression list.
    orders_metric: BTreeMap<NaiveDate, f64>,
}

fn sorted(mut v: Vec<NaiveDateTime>) -> Vec<NaiveDateTime> {
    v.sort_unstable();
    v
}

fn before(v: &[NaiveDateTime], t: NaiveDateTime) -> usize {
    v.partition_point(|x| *x < t)
}

impl Rows {
    fn new(d: &DemoData) -> Self {
        let suppressed: BTreeSet<i64> = d.erasure_requests.iter().map(|e| e.customer_id).collect();
        let customers: BTreeSet<i64> = d.customers.iter().map(|c| c.customer_id).collect();
        let sessions: BTreeSet<_> = d.sessions.iter().map(|s| s.session_id).collect();
        let mut orders_metric: BTreeMap<NaiveDate, f64> = BTreeMap::new();
        for o in &d.orders {
            if o.status != "cancelled" && !suppressed.contains(&o.customer_id) {
                *orders_metric.entry(o.ordered_at.date()).or_default() += 1.0;
            }
        }
        let orders = |f: &dyn Fn(&accord::demo::Order) -> bool| {
            sorted(
                d.orders
                    .iter()
                    .filter(|o| f(o))
                    .map(|o| o.ordered_at)
                    .collect(),
            )
        };
        Rows {
            event_times: sorted(d.events.iter().map(|e| e.occurred_at).collect()),
            session_times: sorted(d.sessions.iter().map(|s| s.started_at).collect()),
            order_times: orders(&|_| true),
            web_orders: orders(&|o| o.channel != "phone"),
            web_orders_without_session: orders(&|o| o.channel != "phone" && o.session_id.is_none()),
            orphan_orders: orders(&|o| !customers.contains(&o.customer_id)),
            orphan_events: sorted(
                d.events
                    .iter()
                    .filter(|e| !sessions.contains(&e.session_id))
                    .map(|e| e.occurred_at)
                    .collect(),
            ),
            bad_status: orders(&|o| !["completed", "refunded", "cancelled"].contains(&o.status)),
            bad_channel: orders(&|o| !["web", "mobile_app", "phone"].contains(&o.channel)),
            orders_metric,
        }
    }

    fn lag(times: &[NaiveDateTime], t: NaiveDateTime, max: i64) -> Verdict {
        let n = before(times, t);
        let newest = (n > 0).then(|| times[n - 1].and_utc().timestamp());
        freshness_verdict(t, newest, max)
    }

    fn volume(
        times: &[NaiveDateTime],
        t: NaiveDateTime,
        trailing: u32,
        k: f64,
        min: u32,
    ) -> Verdict {
        let first = times.first().filter(|x| **x < t).map(|x| x.date());
        let checked = checked_day(t);
        let days: Vec<(NaiveDate, f64)> = (0..=i64::from(trailing))
            .rev()
            .map(|b| {
                let d = checked - Duration::days(b);
                let start = d.and_hms_opt(0, 0, 0).unwrap();
                let n = before(times, start + Duration::days(1)) - before(times, start);
                (d, n as f64)
            })
            .collect();
        let (history, latest) = volume_history(&days, first);
        band_verdict("", &history, Some(latest), k, min)
    }

    /// The verdict of every demo check as of `t`, from rows alone.
    fn expected(&self, catalog: &Catalog, t: NaiveDateTime) -> BTreeMap<String, Verdict> {
        let mut out = BTreeMap::new();
        for check in &catalog.checks {
            let v = match (check.name.as_str(), &check.kind) {
                ("events_fresh", CheckKind::Freshness { max_lag_seconds }) => {
                    Self::lag(&self.event_times, t, *max_lag_seconds)
                }
                ("sessions_fresh", CheckKind::Freshness { max_lag_seconds }) => {
                    Self::lag(&self.session_times, t, *max_lag_seconds)
                }
                ("orders_fresh", CheckKind::Freshness { max_lag_seconds }) => {
                    Self::lag(&self.order_times, t, *max_lag_seconds)
                }
                (
                    "sessions_volume",
                    CheckKind::Volume {
                        trailing,
                        k,
                        min_history,
                    },
                ) => Self::volume(&self.session_times, t, *trailing, *k, *min_history),
                (
                    "orders_volume",
                    CheckKind::Volume {
                        trailing,
                        k,
                        min_history,
                    },
                ) => Self::volume(&self.order_times, t, *trailing, *k, *min_history),
                ("orders_session_key", CheckKind::Completeness { max_null_rate, .. }) => {
                    completeness_verdict(
                        before(&self.web_orders, t) as f64,
                        before(&self.web_orders_without_session, t) as f64,
                        *max_null_rate,
                    )
                }
                ("orders_customer_exists", CheckKind::ReferentialIntegrity { max_orphans, .. }) => {
                    count_verdict(
                        "orphans",
                        before(&self.orphan_orders, t) as f64,
                        *max_orphans,
                    )
                }
                ("events_session_exists", CheckKind::ReferentialIntegrity { max_orphans, .. }) => {
                    count_verdict(
                        "orphans",
                        before(&self.orphan_events, t) as f64,
                        *max_orphans,
                    )
                }
                ("order_status_values", CheckKind::AcceptedValues { max_invalid, .. }) => {
                    count_verdict("invalid", before(&self.bad_status, t) as f64, *max_invalid)
                }
                ("order_channel_values", CheckKind::AcceptedValues { max_invalid, .. }) => {
                    count_verdict("invalid", before(&self.bad_channel, t) as f64, *max_invalid)
                }
                (
                    "orders_anomaly",
                    CheckKind::Anomaly {
                        period,
                        trailing,
                        k,
                        weekday_seasonality,
                        min_history,
                    },
                ) => {
                    let periods = anomaly_periods(t, *period, *trailing, *weekday_seasonality);
                    let start = *periods.last().unwrap();
                    let end = accord::checks::compile::period_end(t, *period);
                    let values: BTreeMap<NaiveDate, f64> = self
                        .orders_metric
                        .range(start..end)
                        .map(|(d, v)| (*d, *v))
                        .collect();
                    let (history, latest) =
                        accord::checks::run::anomaly_series(&periods, &values, true);
                    band_verdict("", &history, latest, *k, *min_history)
                }
                (other, _) => panic!("no row-level expectation for demo check `{other}`; add one"),
            };
            out.insert(check.name.clone(), v);
        }
        out
    }
}

fn assert_matches(run: &CheckRun, expected: &BTreeMap<String, Verdict>, context: &str) {
    assert_eq!(run.checks.len(), expected.len(), "{context}");
    for c in &run.checks {
        let e = &expected[&c.name];
        assert_eq!(
            c.status, e.status,
            "{context}: {} ({}): observed {:?}, expected {:?}",
            c.name, c.message, c.observed, e
        );
        match (c.observed, e.observed) {
            (Some(a), Some(b)) => assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                "{context}: {} observed {a}, rows say {b}",
                c.name
            ),
            (a, b) => assert_eq!(a, b, "{context}: {}", c.name),
        }
    }
}

fn demo_days() -> impl Iterator<Item = NaiveDateTime> {
    let start = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap();
    (0..365).map(move |i| (start + Duration::days(i)).and_hms_opt(0, 0, 0).unwrap())
}

#[test]
fn clean_demo_data_never_alarms_on_any_day_of_the_year() {
    let catalog = demo_catalog();
    for scale in [SCALE] {
        let data = generate(&DemoConfig { scale, seed: 42 });
        let rows = Rows::new(&data);
        let mut evaluated = 0;
        // From the first midnight after every checked table has a row (an
        // empty table is rightly not fresh): orders, the sparsest, start last.
        let start = rows.order_times[0].date() + Duration::days(1);
        assert!(
            start <= NaiveDate::from_ymd_opt(2025, 1, 8).unwrap(),
            "{start}"
        );
        for t in demo_days().filter(|t| t.date() >= start) {
            for (name, v) in rows.expected(&catalog, t) {
                assert!(
                    matches!(v.status, Status::Pass | Status::Skipped),
                    "scale {scale}: false alarm of {name} as of {t}: {} (expected {})",
                    v.message,
                    v.threshold
                );
                evaluated += usize::from(v.status == Status::Pass);
            }
        }
        // Most days have enough history to be judged, not skipped.
        assert!(evaluated > 300 * catalog.checks.len() / 2, "{evaluated}");
    }
}

/// Which demo checks each fault must fail (at DEMO_NOW).
fn must_fail(fault: Fault) -> &'static [&'static str] {
    match fault {
        Fault::LateDay => &["events_fresh", "sessions_fresh"],
        Fault::Spike => &["orders_volume", "orders_anomaly"],
        Fault::NullKeys => &["orders_session_key"],
        Fault::Orphans => &["orders_customer_exists"],
    }
}

fn faulty(fault: Fault) -> DemoData {
    let mut data = generate(&DemoConfig {
        scale: SCALE,
        seed: 42,
    });
    inject(&mut data, fault);
    data
}

#[test]
fn each_fault_fails_its_checks_and_only_those() {
    let catalog = demo_catalog();
    let t = now(DEMO_NOW);
    for fault in Fault::ALL {
        let data = faulty(fault);
        let exp = Rows::new(&data).expected(&catalog, t);
        let failing: BTreeSet<&str> = exp
            .iter()
            .filter(|(_, v)| v.status == Status::Fail)
            .map(|(k, _)| k.as_str())
            .collect();
        let want: BTreeSet<&str> = must_fail(fault).iter().copied().collect();
        assert_eq!(failing, want, "{}", fault.name());
    }
    // Deterministic: the same fault gives the same rows.
    assert_eq!(faulty(Fault::Spike), faulty(Fault::Spike));
}

// ---------------------------------------------------------------------------
// Through real warehouses.

async fn duck_with(dir: &Path, name: &str, data: &DemoData) -> (WarehouseUrl, Warehouse) {
    let url: WarehouseUrl = format!("duckdb://{}", dir.join(format!("{name}.duckdb")).display())
        .parse()
        .unwrap();
    let wh = Warehouse::connect(&url, WarehouseOptions::default())
        .await
        .unwrap();
    wh.load_demo(data).await.unwrap();
    (url, wh)
}

async fn pg_with(name: &str, data: &DemoData) -> Warehouse {
    let url = common::warehouses::postgres_db(name).await;
    let wh = common::warehouses::open(&url).await;
    wh.load_demo(data).await.unwrap();
    wh
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_demo_is_quiet_through_duckdb_with_the_rows_numbers() {
    let catalog = demo_catalog();
    let data = generate(&DemoConfig {
        scale: SCALE,
        seed: 42,
    });
    let rows = Rows::new(&data);
    let dir = tempfile::tempdir().unwrap();
    let (_, wh) = duck_with(dir.path(), "clean", &data).await;
    // Every 9th day, plus the days that stress the bands: Black Friday,
    // Cyber Monday, Christmas and New Year's Eve.
    let mut days: Vec<NaiveDateTime> = demo_days().step_by(9).collect();
    for s in [
        "2025-11-29",
        "2025-11-30",
        "2025-12-02",
        "2025-12-25",
        "2025-12-26",
        "2025-12-27",
        "2026-01-01",
    ] {
        days.push(now(s));
    }
    days.push(now("2025-07-15T13:45:00"));
    for t in days {
        let run = run_checks(&catalog, &wh, t).await;
        assert_eq!(
            run.queries, 4,
            "one query per model with checks (3) plus one anomaly"
        );
        assert_matches(
            &run,
            &rows.expected(&catalog, t),
            &format!("duckdb as of {t}"),
        );
        assert!(!run.failed_blocking());
    }
}

async fn faults_on(engine: &str) {
    let catalog = demo_catalog();
    let t = now(DEMO_NOW);
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(&DemoConfig {
        scale: SCALE,
        seed: 42,
    });
    let mut cases: Vec<(&str, DemoData)> = vec![("clean", clean)];
    cases.extend(Fault::ALL.iter().map(|f| (f.name(), faulty(*f))));
    for (name, data) in cases {
        let wh = match engine {
            "duckdb" => duck_with(dir.path(), name, &data).await.1,
            _ => pg_with(&format!("checks_{name}"), &data).await,
        };
        let run = run_checks(&catalog, &wh, t).await;
        let exp = Rows::new(&data).expected(&catalog, t);
        assert_matches(&run, &exp, &format!("{engine}, {name}"));
        let failing: BTreeSet<&str> = run
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.name.as_str())
            .collect();
        let want: BTreeSet<&str> = Fault::ALL
            .iter()
            .find(|f| f.name() == name)
            .map(|f| must_fail(*f).iter().copied().collect())
            .unwrap_or_default();
        assert_eq!(failing, want, "{engine}, {name}");
        assert_eq!(run.failed_blocking(), name != "clean", "{engine}, {name}");
        for c in &run.checks {
            assert!(
                (!c.sql.is_empty() && !c.threshold.is_empty()) || c.status == Status::Skipped,
                "{c:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_is_caught_on_duckdb() {
    faults_on("duckdb").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_fault_is_caught_on_postgres() {
    faults_on("postgres").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn volume_sql_buckets_days_exactly_on_a_hand_fixture() {
    // Rows per day for 2025-03-01..07 (history) and 03-08 (checked):
    // 10 12 11 9 10 13 10 | 30, with rows on day boundaries and one at
    // `now` itself (excluded: only rows before now count).
    // Sorted history 9 10 10 10 11 12 13 → median 10; |x − 10| 0 2 1 1 0 3 0
    // → sorted 0 0 0 1 1 2 3 → MAD 1; k = 4: [10 − 5.9304, 10 + 5.9304].
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixture.duckdb");
    {
        let conn = duckdb::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE hits (id BIGINT, seen_at TIMESTAMP, kind VARCHAR)")
            .unwrap();
        let counts = [10, 12, 11, 9, 10, 13, 10, 30];
        let mut id = 0;
        for (i, n) in counts.iter().enumerate() {
            for j in 0..*n {
                id += 1;
                // The first row of each day at exactly midnight.
                let at = NaiveDate::from_ymd_opt(2025, 3, 1 + i as u32)
                    .unwrap()
                    .and_hms_opt(0, j as u32, 0)
                    .unwrap();
                let kind = if id % 7 == 0 { "NULL" } else { "'a'" };
                conn.execute_batch(&format!(
                    "INSERT INTO hits VALUES ({id}, TIMESTAMP '{at}', {kind})"
                ))
                .unwrap();
            }
        }
        conn.execute_batch("INSERT INTO hits VALUES (999, TIMESTAMP '2025-03-09 00:00:00', 'b')")
            .unwrap();
    }
    let defs = "models:\n  - name: hits\n    source:\n      table: hits\n    entities:\n      - name: hit\n        type: primary\n        expr: id\n    dimensions:\n      - name: seen_at\n        type: time\n      - name: kind\n        type: categorical\n    measures:\n      - name: hit_count\n        agg: count\nchecks:\n  - name: hits_volume\n    model: hits\n    type: volume\n    trailing: 7\n    k: 4\n  - name: hits_fresh\n    model: hits\n    type: freshness\n    max_lag: 2h\n  - name: hits_kind\n    model: hits\n    type: completeness\n    column: kind\n    max_null_rate: 0.1\n  - name: hits_kind_values\n    model: hits\n    type: accepted_values\n    column: kind\n    values: [a]\n";
    let catalog = accord::definitions::load_str("hits.yml", defs).unwrap();
    let wh = Warehouse::connect(
        &format!("duckdb://{}", path.display()).parse().unwrap(),
        WarehouseOptions::default(),
    )
    .await
    .unwrap();
    let run = run_checks(&catalog, &wh, now("2025-03-09")).await;
    assert_eq!(run.queries, 1);
    let by: BTreeMap<&str, _> = run.checks.iter().map(|c| (c.name.as_str(), c)).collect();
    let vol = by["hits_volume"];
    assert_eq!(vol.status, Status::Fail);
    assert_eq!(vol.observed, Some(30.0));
    assert_eq!(vol.details["median"], json!(10.0));
    assert_eq!(vol.details["mad"], json!(1.0));
    assert_eq!(
        vol.details["history"],
        json!([10.0, 12.0, 11.0, 9.0, 10.0, 13.0, 10.0])
    );
    assert!((vol.details["upper"].as_f64().unwrap() - 15.9304).abs() < 1e-9);
    // Newest row before now: 03-08 00:29 → lag 23h 31m > 2h.
    let fresh = by["hits_fresh"];
    assert_eq!(
        (fresh.status, fresh.observed),
        (Status::Fail, Some(84_660.0))
    );
    // 105 rows before now, ids 7, 14, … 105 have a NULL kind: 15 → 1/7.
    let kind = by["hits_kind"];
    assert_eq!(kind.status, Status::Fail);
    assert!((kind.observed.unwrap() - 15.0 / 105.0).abs() < 1e-12);
    // `b` is dated at now, so it is not counted.
    assert_eq!(by["hits_kind_values"].status, Status::Pass);
    assert_eq!(by["hits_kind_values"].observed, Some(0.0));
    let later = run_checks(&catalog, &wh, now("2025-03-09T00:00:01")).await;
    let values = later
        .checks
        .iter()
        .find(|c| c.name == "hits_kind_values")
        .unwrap();
    assert_eq!((values.status, values.observed), (Status::Fail, Some(1.0)));
}

// ---------------------------------------------------------------------------
// `accord check`: formats and exit codes.

fn accord(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run accord");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn check_command_formats_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(&DemoConfig {
        scale: SCALE,
        seed: 42,
    });
    let (clean_url, wh) = duck_with(dir.path(), "clean", &clean).await;
    drop(wh);
    let (bad_url, wh) = duck_with(dir.path(), "late", &faulty(Fault::LateDay)).await;
    drop(wh);
    let defs = repo_path("metric_defs").display().to_string();
    let (clean_url, bad_url) = (clean_url.to_string(), bad_url.to_string());

    let (code, out, err) = accord(&[
        "check",
        "--defs",
        &defs,
        "--warehouse",
        &clean_url,
        "--now",
        DEMO_NOW,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let j: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(j["now"], json!("2026-01-01T00:00:00"));
    assert_eq!(j["queries"], json!(4));
    let first = &j["checks"][0];
    for key in [
        "name",
        "type",
        "severity",
        "status",
        "observed",
        "threshold",
        "message",
        "sql",
        "defined_at",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert!(
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == json!("pass"))
    );

    let (code, out, _) = accord(&[
        "check",
        "--defs",
        &defs,
        "--warehouse",
        &bad_url,
        "--now",
        DEMO_NOW,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL    events_fresh (freshness, model events, error)"),
        "{out}"
    );
    assert!(out.contains("expected lag ≤ 12h"), "{out}");

    let (code, out, _) = accord(&[
        "check",
        "--defs",
        &defs,
        "--warehouse",
        &bad_url,
        "--now",
        DEMO_NOW,
        "--format",
        "junit",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"accord checks\""
        ),
        "{out}"
    );
    assert!(out.contains("<testcase classname=\"model.events\" name=\"events_fresh\">\n      <failure type=\"freshness\""), "{out}");
    assert!(
        out.contains("<testcase classname=\"metric.orders@1\" name=\"orders_anomaly\">"),
        "{out}"
    );
    assert_eq!(
        out.matches("<testcase ").count(),
        demo_catalog().checks.len()
    );
    assert!(
        out.contains("&lt;") || out.contains("&apos;"),
        "SQL is escaped in system-out"
    );

    // Warn-severity failures alone do not fail the command: late data as of
    // an hour later still fails the error-severity freshness checks, but a
    // definitions directory with warn-only checks exits 0.
    let warn_dir = tempfile::tempdir().unwrap();
    http::copy_dir(&repo_path("metric_defs"), warn_dir.path());
    let qpath = warn_dir.path().join("checks/quality.yml");
    let text = std::fs::read_to_string(&qpath).unwrap();
    let text = text
        .replace("    owner: ", "    severity: warn\n    owner: ")
        .replace(
            "    severity: warn\n    severity: warn\n",
            "    severity: warn\n",
        );
    std::fs::write(&qpath, text).unwrap();
    let (code, out, err) = accord(&[
        "check",
        "--defs",
        &warn_dir.path().display().to_string(),
        "--warehouse",
        &bad_url,
        "--now",
        DEMO_NOW,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("FAIL    events_fresh (freshness, model events, warn)"),
        "{out}"
    );

    let (code, _, err) = accord(&[
        "check",
        "--defs",
        &defs,
        "--warehouse",
        &clean_url,
        "--now",
        "yesterday",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--now: `yesterday` is not a time"), "{err}");
}

// ---------------------------------------------------------------------------
// Server: /v1/checks, gauges, warnings on queries.

#[tokio::test(flavor = "multi_thread")]
async fn server_reports_checks_and_warns_dependent_queries() {
    let dir = tempfile::tempdir().unwrap();
    let (url, wh) = duck_with(dir.path(), "spike", &faulty(Fault::Spike)).await;
    drop(wh);
    let mut config = accord::server::ServeConfig::for_tests(&repo_path("metric_defs"), url);
    config.reload = false;
    config.checks.now = Some(now(DEMO_NOW));
    config.checks.history = 2;
    let server = http::Server::start(config, dir).await;
    let c = &server.client;

    // Before any run: nothing to report, no warnings.
    let j = c.get("/v1/checks").await.ok_json();
    assert_eq!(j["latest"], Json::Null);
    assert_eq!(j["defined"], json!(demo_catalog().checks.len()));
    let q = c.query(&json!({"metrics": ["revenue"]})).await.ok_json();
    assert!(!q["meta"]["warnings"].to_string().contains("check `"));

    for _ in 0..3 {
        accord::checks::monitor::run_once(&server.running().state).await;
    }
    let j = c.get("/v1/checks").await.ok_json();
    assert_eq!(j["history"].as_array().unwrap().len(), 2, "bounded history");
    let latest = &j["latest"];
    let fresh = latest["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == json!("orders_volume"))
        .unwrap();
    assert_eq!(fresh["status"], json!("fail"));
    assert!(fresh["observed"].as_f64().unwrap() > fresh["details"]["upper"].as_f64().unwrap());
    assert!(fresh["sql"].as_str().unwrap().contains("SUM("));

    // revenue reads model orders; units_sold reads table orders through
    // order_items' SQL; tickets reads neither.
    let q = c.query(&json!({"metrics": ["revenue"]})).await.ok_json();
    let w = q["meta"]["warnings"].to_string();
    assert!(
        w.contains("check `orders_volume`")
            && w.contains("`revenue` is affected because it reads model orders"),
        "{w}"
    );
    assert!(
        !w.contains("orders_anomaly"),
        "revenue is not built on the orders metric: {w}"
    );
    let q = c.query(&json!({"metrics": ["units_sold"]})).await.ok_json();
    let w = q["meta"]["warnings"].to_string();
    assert!(
        w.contains("orders_volume") && w.contains("it reads table orders"),
        "{w}"
    );
    let q = c.query(&json!({"metrics": ["tickets"]})).await.ok_json();
    assert!(
        !q["meta"]["warnings"].to_string().contains("check `"),
        "{}",
        q["meta"]
    );
    // A ratio over the orders metric is flagged through its inputs.
    let q = c
        .query(&json!({"metrics": ["average_order_value"]}))
        .await
        .ok_json();
    let w = q["meta"]["warnings"].to_string();
    assert!(
        w.contains("check `orders_anomaly`") && w.contains("it is built on orders@1"),
        "{w}"
    );

    // GraphQL answers carry the same warnings as extensions.
    let g = c
        .post_json("/graphql", &json!({"query": "{ orders { revenue } }"}))
        .await
        .ok_json();
    let w = g["extensions"]["warnings"].to_string();
    assert!(w.contains("check `orders_volume`"), "{g}");

    // A caller held to one region is warned which checks fail, without
    // what they measured over every region.
    let req = c
        .http
        .post(c.url("/v1/query"))
        .header(
            "authorization",
            auth::bearer(&auth::token(
                &["regional_manager"],
                &[("region", json!("EU"))],
            )),
        )
        .json(&json!({"metrics": ["revenue"]}));
    let resp = c.send(req).await;
    let r = resp.ok_json();
    let w = r["meta"]["warnings"].to_string();
    assert!(
        w.contains("check `orders_volume`") && w.contains("evidence withheld"),
        "{w}"
    );
    // The same warnings in the header every format carries, non-ASCII
    // (the dash) escaped.
    let header = resp.header("x-accord-warnings").expect("x-accord-warnings");
    assert!(header.is_ascii() && header.contains("\\u2014"), "{header}");
    let parsed: Json = serde_json::from_str(header).expect("a JSON array");
    assert_eq!(parsed, r["meta"]["warnings"]);
    let full = c.query(&json!({"metrics": ["revenue"]})).await.ok_json();
    assert!(
        !full["meta"]["warnings"]
            .to_string()
            .contains("evidence withheld"),
        "{full}"
    );

    let metrics = c.get("/metrics").await.text();
    assert!(metrics.contains("accord_check_failing{check=\"orders_volume\",kind=\"volume\",target=\"model:orders\",severity=\"error\"} 1"), "{metrics}");
    assert!(
        metrics.contains("accord_check_failing{check=\"order_status_values\""),
        "{metrics}"
    );
    assert!(metrics.contains("accord_check_runs_total 3"), "{metrics}");

    // The partner role sees the `orders` metric and no dimension of the
    // checked models: only the metric's anomaly check is listed to it.
    let req = c.http.get(c.url("/v1/checks")).header(
        "authorization",
        auth::bearer(&auth::token(&["partner"], &[])),
    );
    let p = c.send(req).await.ok_json();
    let names: Vec<&str> = p["latest"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orders_anomaly"], "{p}");
    assert_eq!(p["defined"], json!(1));
    // Its answers are held to groups of 10 people, and the check ran over
    // every row: the status and definition show, the evidence does not.
    let anomaly = &p["latest"]["checks"][0];
    assert!(anomaly["status"].is_string(), "{anomaly}");
    assert!(anomaly["threshold"].is_string(), "{anomaly}");
    assert_eq!(anomaly["observed"], Json::Null, "{anomaly}");
    assert_eq!(anomaly["details"], json!({}), "{anomaly}");
    assert_eq!(
        anomaly["message"],
        json!(accord::checks::run::EVIDENCE_WITHHELD)
    );
    let runs = p["history"].as_array().unwrap();
    assert!(
        runs.iter().all(|r| {
            let n = ["passed", "failed", "skipped", "errors"]
                .iter()
                .map(|k| r[*k].as_u64().unwrap())
                .sum::<u64>();
            n == 1
        }),
        "{p}"
    );
}

#[test]
fn demo_config_schedules_checks_as_of_the_end_of_the_demo_year() {
    let args = accord::server::ServeArgs {
        config: Some(repo_path("accord.yaml")),
        ..Default::default()
    };
    let c = args.resolve().unwrap();
    assert_eq!(c.checks.interval, Some(std::time::Duration::from_secs(900)));
    assert_eq!(c.checks.now, Some(now(DEMO_NOW)));
    assert_eq!(c.checks.history, 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_runs_checks_without_being_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = generate(&DemoConfig { scale: 1, seed: 42 });
    let (url, wh) = duck_with(dir.path(), "scheduled", &data).await;
    drop(wh);
    let mut config = accord::server::ServeConfig::for_tests(&repo_path("metric_defs"), url);
    config.reload = false;
    config.checks.now = Some(now(DEMO_NOW));
    config.checks.interval = Some(std::time::Duration::from_millis(300));
    let server = http::Server::start(config, dir).await;
    let started = std::time::Instant::now();
    loop {
        let j = server.client.get("/v1/checks").await.ok_json();
        if j["history"].as_array().is_some_and(|h| h.len() >= 2) {
            assert_eq!(j["interval_seconds"], json!(0));
            assert_eq!(j["latest"]["now"], json!("2026-01-01T00:00:00"));
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no scheduled runs: {j}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

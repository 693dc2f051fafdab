//! Retention: hand-computed cohort × period matrices on a small fixture for
//! every option (period day/week/month, first-time/recurring, on/on or
//! after, cohort dimension, returns before the cohort event, empty and
//! not-yet-started periods), identical on DuckDB, PostgreSQL, MariaDB and
//! SQLite; the demo retention against a computation in Rust from the
//! generator's rows; SQL snapshots in all ten dialects; REST.

mod common;
#[path = "analysis_fixture/mod.rs"]
mod fixture;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet};

use accord::access::Caller;
use accord::dialect::DialectKind;
use accord::planner::{self, ErrorCode};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use common::{demo_catalog, q};
use http::Server;
use serde_json::{Value as Json, json};

fn w(d: &str) -> String {
    format!("{d}T00:00:00")
}

/// Rows `(cohort, [retained per period], size)` → the expected matrix.
fn matrix(cohorts: &[(&str, u32, &[u32])]) -> Json {
    let mut rows = Vec::new();
    for (cohort, size, retained) in cohorts {
        for (k, r) in retained.iter().enumerate() {
            rows.push(json!([w(cohort), k, size, r, *r as f64 / *size as f64]));
        }
    }
    Json::Array(rows)
}

fn cases() -> Vec<(&'static str, Json, Json)> {
    vec![
        (
            "first-time, on period N: empty periods are 0, the Sunday 23:59:59 order is in its week",
            json!({"retention": "weekly"}),
            matrix(&[
                ("2025-03-03", 3, &[3, 2, 1, 1]),
                ("2025-03-10", 2, &[2, 0, 0, 1]),
            ]),
        ),
        (
            "on or after N",
            json!({"retention": "weekly_on_or_after"}),
            matrix(&[
                ("2025-03-03", 3, &[3, 3, 2, 1]),
                ("2025-03-10", 2, &[2, 1, 1, 1]),
            ]),
        ),
        (
            "recurring cohorts; periods not started by the last event are left out",
            json!({"retention": "weekly_recurring"}),
            matrix(&[
                ("2025-03-03", 3, &[3, 2, 1, 1]),
                ("2025-03-10", 4, &[4, 0, 1, 1]),
                ("2025-03-17", 1, &[1, 0, 0]),
                ("2025-03-24", 1, &[1, 0]),
                ("2025-03-31", 1, &[1]),
            ]),
        ),
        (
            "months",
            json!({"retention": "monthly"}),
            matrix(&[("2025-03-01", 5, &[5, 1])]),
        ),
        (
            "days",
            json!({"retention": "daily"}),
            matrix(&[
                ("2025-03-04", 1, &[1, 1, 0]),
                ("2025-03-05", 1, &[1, 0, 0]),
                ("2025-03-06", 1, &[1, 0, 0]),
                ("2025-03-11", 1, &[1, 0, 0]),
                ("2025-03-16", 1, &[1, 0, 0]),
            ]),
        ),
        (
            "cohort from another model; returns before the cohort event do not count",
            json!({"retention": "signup_weekly"}),
            matrix(&[("2025-03-03", 2, &[1, 1, 1])]),
        ),
        (
            "the time range selects cohorts by their cohort event",
            json!({"retention": "weekly", "time_range": {"start": "2025-03-10"}}),
            matrix(&[("2025-03-10", 2, &[2, 0, 0, 1])]),
        ),
        (
            "request filters apply to cohort and return events",
            json!({"retention": "weekly", "filters": [{"dimension": "od.region", "op": "eq", "values": ["EU"]}]}),
            matrix(&[
                ("2025-03-03", 1, &[1, 0, 1, 0]),
                ("2025-03-10", 2, &[2, 0, 0, 1]),
            ]),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn fixture_retention_matches_hand_computed_matrices_on_every_engine() {
    let catalog = fixture::catalog();
    let dir = tempfile::tempdir().unwrap();
    let engines = fixture::engines("retention_fixture", dir.path()).await;
    let op = Caller::operator();
    let by_region = json!([
        [w("2025-03-03"), "EU", 0, 1, 1, 1.0],
        [w("2025-03-03"), "EU", 1, 1, 0, 0.0],
        [w("2025-03-03"), "EU", 2, 1, 1, 1.0],
        [w("2025-03-03"), "EU", 3, 1, 0, 0.0],
        [w("2025-03-03"), "NA", 0, 2, 2, 1.0],
        [w("2025-03-03"), "NA", 1, 2, 2, 1.0],
        [w("2025-03-03"), "NA", 2, 2, 0, 0.0],
        [w("2025-03-03"), "NA", 3, 2, 1, 0.5],
        [w("2025-03-10"), "EU", 0, 2, 2, 1.0],
        [w("2025-03-10"), "EU", 1, 2, 0, 0.0],
        [w("2025-03-10"), "EU", 2, 2, 0, 0.0],
        [w("2025-03-10"), "EU", 3, 2, 1, 0.5]
    ]);
    for (engine, wh) in &engines {
        for (what, query, expected) in cases() {
            let got = fixture::rows(&catalog, wh, query.clone(), &op).await;
            assert!(
                fixture::same(&got, &expected),
                "{engine}: {what}\nquery {query}\n got {got:?}\nwant {expected}"
            );
        }
        let got = fixture::rows(&catalog, wh, json!({"retention": "weekly_by_region"}), &op).await;
        assert!(
            fixture::same(&got, &by_region),
            "{engine}: by region\n got {got:?}\nwant {by_region}"
        );
    }
}

#[test]
fn policies_and_errors() {
    let catalog = fixture::catalog();
    let err = planner::plan(
        &catalog,
        &q(json!({"retention": "weekly"})),
        &Caller::with_roles(&["no_orders"]),
    )
    .unwrap_err();
    // An analysis the caller may not run is unknown.
    assert_eq!(err.code, ErrorCode::UnknownMetric);
    let err = planner::plan(
        &catalog,
        &q(json!({"retention": "weekley"})),
        &Caller::operator(),
    )
    .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("retention"));
    assert!(err.suggestions.contains(&"weekly".to_string()));
    let base = fixture::DEFS.split("\nfunnels:").next().unwrap();
    let text = format!(
        "{base}\nretention:\n  - name: r\n    subject: user\n    cohort: {{model: od}}\n    return: {{model: od}}\n    period: wek\n    periods: 500\n    mode: onn\n"
    );
    let shown = accord::definitions::load_str("bad.yml", &text)
        .expect_err("invalid")
        .to_string();
    for want in [
        "retention.r.period",
        "did you mean `week`",
        "retention.r.periods",
        "between 1 and 120",
        "retention.r.mode",
        "did you mean `on`",
        "bad.yml:",
    ] {
        assert!(shown.contains(want), "`{want}` missing from:\n{shown}");
    }
}

/// One cohort's size and, per period number, the customers who returned.
type Cell = (u32, BTreeMap<i64, BTreeSet<i64>>);

fn week_start(t: NaiveDateTime) -> NaiveDate {
    let d = t.date();
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_retention_matches_the_generator_rows() {
    let catalog = demo_catalog();
    let data = common::warehouses::demo(1);
    let dir = tempfile::tempdir().unwrap();
    let wh = common::warehouses::open(&format!(
        "duckdb://{}",
        dir.path().join("demo.duckdb").display()
    ))
    .await;
    wh.load_demo(&data).await.unwrap();
    let erased: BTreeSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let region: BTreeMap<i64, String> = data
        .customers
        .iter()
        .map(|c| (c.customer_id, c.region.to_string()))
        .collect();
    let orders: Vec<_> = data
        .orders
        .iter()
        .filter(|o| o.status != "cancelled" && !erased.contains(&o.customer_id))
        .collect();
    // First order per customer (time, then id).
    let mut first: BTreeMap<i64, (NaiveDateTime, i64)> = BTreeMap::new();
    for o in &orders {
        let k = (o.ordered_at, o.order_id);
        first
            .entry(o.customer_id)
            .and_modify(|x| *x = (*x).min(k))
            .or_insert(k);
    }
    let last_week = week_start(orders.iter().map(|o| o.ordered_at).max().unwrap());
    // (cohort week, region) → (size, per period the retained customers).
    let mut cells: BTreeMap<(NaiveDate, Option<String>), Cell> = BTreeMap::new();
    for (c, (t0, _)) in &first {
        let cohort = week_start(*t0);
        let entry = cells.entry((cohort, region.get(c).cloned())).or_default();
        entry.0 += 1;
        for o in orders
            .iter()
            .filter(|o| o.customer_id == *c && o.ordered_at >= *t0)
        {
            let k = (week_start(o.ordered_at) - cohort).num_days() / 7;
            if k <= 8 {
                entry.1.entry(k).or_default().insert(*c);
            }
        }
    }
    let mut want = Vec::new();
    for ((cohort, reg), (size, per)) in &cells {
        for k in 0..=8i64 {
            if cohort.checked_add_signed(Duration::days(7 * k)).unwrap() > last_week {
                break;
            }
            let r = per.get(&k).map_or(0, |s| s.len());
            want.push(json!([
                format!("{cohort}T00:00:00"),
                reg,
                k,
                size,
                r,
                r as f64 / *size as f64
            ]));
        }
    }
    let got = fixture::rows(
        &catalog,
        &wh,
        json!({"retention": "weekly_purchase_retention"}),
        &Caller::operator(),
    )
    .await;
    assert!(want.len() > 50, "the demo has many cohorts");
    assert!(
        fixture::same(&got, &Json::Array(want.clone())),
        "got {} rows, want {}\nfirst got {:?}\nfirst want {:?}",
        got.len(),
        want.len(),
        got.iter().take(12).collect::<Vec<_>>(),
        want.iter().take(12).collect::<Vec<_>>()
    );
    // First-time cohorts: period 0 is the whole cohort.
    for r in &got {
        if r[2] == json!(0.0) {
            assert_eq!(r[3], r[4], "{r:?}");
        }
    }
}

#[test]
fn retention_sql_in_every_dialect() {
    let demo = demo_catalog();
    let fix = fixture::catalog();
    let all = [
        (
            "retention_weekly_by_region",
            json!({"retention": "weekly_purchase_retention"}),
            demo.clone(),
        ),
        (
            "retention_consent_and_range",
            json!({"retention": "weekly_purchase_retention", "purpose": "marketing", "time_range": {"start": "2025-02-01"}}),
            demo,
        ),
        (
            "retention_recurring",
            json!({"retention": "weekly_recurring"}),
            fix.clone(),
        ),
        (
            "retention_on_or_after_monthly",
            json!({"retention": "weekly_on_or_after"}),
            fix.clone(),
        ),
        ("retention_month", json!({"retention": "monthly"}), fix),
    ];
    for (name, body, catalog) in all {
        let query = q(body.clone());
        let mut text = format!("-- query: {body}\n");
        for d in DialectKind::ALL {
            let (_, sql) = planner::compile(&catalog, &query, &Caller::operator(), d)
                .unwrap_or_else(|e| panic!("{name} on {d}: {e}"));
            let parser = sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser)
                .expect("sqlparser dialect");
            let parsed = sqlparser::parser::Parser::parse_sql(parser.as_ref(), &sql);
            assert!(
                parsed.as_ref().is_ok_and(|s| s.len() == 1),
                "{name} on {d} does not parse: {:?}\n{sql}",
                parsed.err()
            );
            text.push_str(&format!("\n-- dialect: {d}\n{sql}\n"));
        }
        insta::assert_snapshot!(name, text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_retention() {
    let server = Server::demo(|_| {}).await;
    let body = server
        .client
        .post_json(
            "/v1/query",
            &json!({"retention": "weekly_purchase_retention", "filters": [{"dimension": "customers.region", "op": "eq", "values": ["EU"]}]}),
        )
        .await
        .ok_json();
    let names: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cohort_period",
            "customers__region",
            "period_number",
            "cohort_size",
            "retained",
            "rate"
        ]
    );
    let rows = body["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r[1] == "EU"));
    let catalog = server.client.get("/v1/catalog").await.ok_json();
    assert!(
        catalog["retention"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == "weekly_purchase_retention" && r["period"] == "week")
    );
}

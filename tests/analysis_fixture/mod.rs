//! A hand-made event fixture for funnels and retention, loaded into each of
//! DuckDB, PostgreSQL, MariaDB and SQLite, and a comparison of results with
//! hand-computed expectations. The timestamps sit on the 2025 European DST
//! change days: engines store naive UTC times, so no hour appears or
//! vanishes.
#![allow(dead_code)]

use std::sync::Arc;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::execute;
use accord::warehouse::{Value, Warehouse, WarehouseOptions, WarehouseUrl};

pub const DEFS: &str = r#"
models:
  - name: users
    source: {table: us}
    entities:
      - {name: user, type: primary, expr: id}
    dimensions:
      - {name: tier, type: categorical}
  - name: ev
    source: {table: ev}
    entities:
      - {name: event, type: primary, expr: id}
      - {name: user, type: foreign, expr: uid}
    dimensions:
      - {name: kind, type: categorical}
      - {name: happened, type: time, granularity: hour}
      - {name: grp, type: categorical}
  - name: ex
    source: {table: ex}
    entities:
      - {name: block, type: primary, expr: id}
      - {name: user, type: foreign, expr: uid}
    dimensions:
      - {name: happened, type: time, granularity: hour}
  - name: od
    source: {table: od}
    entities:
      - {name: order, type: primary, expr: id}
      - {name: user, type: foreign, expr: uid}
    dimensions:
      - {name: happened, type: time, granularity: hour}
      - {name: region, type: categorical}
  - name: su
    source: {table: su}
    entities:
      - {name: signup, type: primary, expr: id}
      - {name: user, type: foreign, expr: uid}
    dimensions:
      - {name: happened, type: time, granularity: hour}

roles:
  - name: only_x
    row_filters:
      - {model: ev, filter: "grp = 'x'"}
  - name: grp_redacted
    mask:
      - {dimension: ev.grp, method: redact}
  - name: no_events
    exclude: [ev.*]
  - name: no_blocks
    exclude: [ex.*]
  - name: no_grp
    exclude: [ev.grp]
  - name: no_orders
    exclude: [od.*]

funnels:
  - name: abc
    subject: user
    window: 1 hour
    steps:
      - {name: a, model: ev, filter: "kind = 'A'"}
      - {name: b, model: ev, filter: "kind = 'B'"}
      - {name: c, model: ev, filter: "kind = 'C'"}
  - name: abc_by_grp
    subject: user
    window: 60 minutes
    breakdown: ev.grp
    steps:
      - {name: a, model: ev, filter: "kind = 'A'"}
      - {name: b, model: ev, filter: "kind = 'B'"}
      - {name: c, model: ev, filter: "kind = 'C'"}
  - name: abc_strict
    subject: user
    window: 1 hour
    order: strict
    steps:
      - {name: a, model: ev, filter: "kind = 'A'"}
      - {name: b, model: ev, filter: "kind = 'B'"}
      - {name: c, model: ev, filter: "kind = 'C'"}
  - name: abc_unordered
    subject: user
    window: 1 hour
    order: unordered
    steps:
      - {name: a, model: ev, filter: "kind = 'A'"}
      - {name: b, model: ev, filter: "kind = 'B'"}
      - {name: c, model: ev, filter: "kind = 'C'"}
  - name: abc_excluding
    subject: user
    window: 1 hour
    steps:
      - {name: a, model: ev, filter: "kind = 'A'"}
      - {name: b, model: ev, filter: "kind = 'B'"}
      - {name: c, model: ev, filter: "kind = 'C'"}
    exclusions:
      - {name: blocked, model: ex}
  - name: signup_to_order
    subject: user
    window: 2 days
    steps:
      - {name: signup, model: su}
      - {name: order, model: od}

retention:
  - name: weekly
    subject: user
    cohort: {model: od}
    return: {model: od}
    period: week
    periods: 3
  - name: weekly_on_or_after
    subject: user
    cohort: {model: od}
    return: {model: od}
    period: week
    periods: 3
    mode: on_or_after
  - name: weekly_recurring
    subject: user
    cohort: {model: od}
    return: {model: od}
    period: week
    periods: 3
    cohort_type: recurring
  - name: weekly_by_region
    subject: user
    cohort: {model: od}
    return: {model: od}
    period: week
    periods: 3
    group_by: od.region
  - name: monthly
    subject: user
    cohort: {model: od}
    return: {model: od}
    period: month
    periods: 2
  - name: daily
    subject: user
    cohort: {model: od}
    return: {model: od}
    period: day
    periods: 2
  - name: signup_weekly
    subject: user
    cohort: {model: su}
    return: {model: od}
    period: week
    periods: 2
"#;

/// (id, uid, kind, time, grp). uid NULL rows belong to nobody.
const EV: &[(i64, Option<i64>, &str, &str, &str)] = &[
    // u1: A, B, C in order within the hour.
    (1, Some(1), "A", "2025-03-30 10:00:00", "x"),
    (2, Some(1), "B", "2025-03-30 10:10:00", "x"),
    (3, Some(1), "C", "2025-03-30 10:30:00", "x"),
    // u2: B exactly at the window's end (counts), C one second later
    // (does not); across the night of the DST change.
    (4, Some(2), "A", "2025-03-30 00:30:00", "x"),
    (5, Some(2), "B", "2025-03-30 01:30:00", "x"),
    (6, Some(2), "C", "2025-03-30 01:30:01", "x"),
    // u3: B before A does not count.
    (7, Some(3), "B", "2025-03-30 09:00:00", "y"),
    (8, Some(3), "A", "2025-03-30 10:00:00", "y"),
    (9, Some(3), "C", "2025-03-30 10:20:00", "y"),
    // u4: everything at the same second: taken in step order.
    (12, Some(4), "C", "2025-03-30 10:00:00", "y"),
    (11, Some(4), "B", "2025-03-30 10:00:00", "y"),
    (10, Some(4), "A", "2025-03-30 10:00:00", "y"),
    // u5: two As; the earliest anchors (and gives the breakdown).
    (13, Some(5), "A", "2025-03-30 10:00:00", "x"),
    (14, Some(5), "A", "2025-03-30 10:30:00", "y"),
    (15, Some(5), "B", "2025-03-30 10:40:00", "y"),
    // u6: no A.
    (16, Some(6), "C", "2025-03-30 10:00:00", "x"),
    (17, Some(6), "C", "2025-03-30 11:00:00", "x"),
    // u7: the earliest A converts too late; a later A would, but only the
    // earliest anchors.
    (18, Some(7), "A", "2025-10-26 10:00:00", "y"),
    (19, Some(7), "A", "2025-10-26 11:30:00", "y"),
    (20, Some(7), "B", "2025-10-26 12:00:00", "y"),
    // Nobody's.
    (21, None, "A", "2025-03-30 10:00:00", "x"),
    (22, None, "B", "2025-03-30 10:01:00", "x"),
];

/// Exclusion events (id, uid, time).
const EX: &[(i64, i64, &str)] = &[
    // Between u1's A and C: u1 leaves the funnel.
    (1, 1, "2025-03-30 10:20:00"),
    // At the same second as u4's steps: not strictly between.
    (2, 4, "2025-03-30 10:00:00"),
    // After u2's A, but u2 never reaches C: not between A and C.
    (3, 2, "2025-03-30 01:00:00"),
];

/// Orders (id, uid, time, region). Weeks start on Monday: 2025-03-03,
/// 03-10, 03-17, 03-24, 03-31.
const OD: &[(i64, i64, &str, &str)] = &[
    (1, 1, "2025-03-04 12:00:00", "EU"),
    (2, 1, "2025-03-05 12:00:00", "EU"),
    (3, 1, "2025-03-18 12:00:00", "EU"),
    (4, 2, "2025-03-06 12:00:00", "NA"),
    (5, 2, "2025-03-12 12:00:00", "NA"),
    (6, 2, "2025-03-13 12:00:00", "NA"),
    (7, 2, "2025-03-27 12:00:00", "NA"),
    (8, 3, "2025-03-11 12:00:00", "EU"),
    (9, 3, "2025-03-31 12:00:00", "EU"),
    (10, 3, "2025-04-02 12:00:00", "EU"),
    // A Sunday one second before midnight: still week 03-10.
    (11, 4, "2025-03-16 23:59:59", "EU"),
    (12, 5, "2025-03-05 09:00:00", "NA"),
    (13, 5, "2025-03-12 12:00:00", "NA"),
];

/// Signups (id, uid, time).
const SU: &[(i64, i64, &str)] = &[
    (1, 1, "2025-03-03 08:00:00"),
    // After u5's first order, in the same week: that order is no return.
    (2, 5, "2025-03-05 10:00:00"),
];

fn lit(s: &str) -> String {
    format!("'{s}'")
}

fn ts_type(engine: &str) -> &'static str {
    match engine {
        "mysql" => "DATETIME",
        "sqlite" => "TEXT",
        _ => "TIMESTAMP",
    }
}

/// The fixture's DDL and rows for one engine.
pub fn statements(engine: &str) -> Vec<String> {
    let ts = ts_type(engine);
    let mut out = vec![
        format!(
            "CREATE TABLE ev (id INTEGER, uid INTEGER, kind VARCHAR(10), happened {ts}, grp VARCHAR(10))"
        ),
        format!("CREATE TABLE ex (id INTEGER, uid INTEGER, happened {ts})"),
        format!("CREATE TABLE od (id INTEGER, uid INTEGER, happened {ts}, region VARCHAR(10))"),
        format!("CREATE TABLE su (id INTEGER, uid INTEGER, happened {ts})"),
        "CREATE TABLE us (id INTEGER, tier VARCHAR(10))".to_string(),
        "INSERT INTO us VALUES (1, 'gold'), (2, 'gold'), (3, 'free'), (4, 'free'), (5, 'free'), (6, 'free'), (7, 'free')".to_string(),
    ];
    let rows: Vec<String> = EV
        .iter()
        .map(|(id, uid, kind, t, grp)| {
            format!(
                "({id}, {}, {}, {}, {})",
                uid.map_or("NULL".to_string(), |u| u.to_string()),
                lit(kind),
                lit(t),
                lit(grp)
            )
        })
        .collect();
    out.push(format!("INSERT INTO ev VALUES {}", rows.join(", ")));
    let rows: Vec<String> = EX
        .iter()
        .map(|(id, uid, t)| format!("({id}, {uid}, {})", lit(t)))
        .collect();
    out.push(format!("INSERT INTO ex VALUES {}", rows.join(", ")));
    let rows: Vec<String> = OD
        .iter()
        .map(|(id, uid, t, r)| format!("({id}, {uid}, {}, {})", lit(t), lit(r)))
        .collect();
    out.push(format!("INSERT INTO od VALUES {}", rows.join(", ")));
    let rows: Vec<String> = SU
        .iter()
        .map(|(id, uid, t)| format!("({id}, {uid}, {})", lit(t)))
        .collect();
    out.push(format!("INSERT INTO su VALUES {}", rows.join(", ")));
    out
}

pub fn catalog() -> Arc<Catalog> {
    match accord::definitions::load_str("fixture.yml", DEFS) {
        Ok(c) => c,
        Err(d) => panic!("fixture definitions do not validate:\n{d}"),
    }
}

async fn open(url: &str) -> Warehouse {
    let url: WarehouseUrl = url.parse().expect("warehouse url");
    Warehouse::connect(&url, WarehouseOptions::default())
        .await
        .expect("connect")
}

/// The fixture in each of the four engines (`name` keeps the server
/// databases private to one test).
pub async fn engines(name: &str, dir: &std::path::Path) -> Vec<(&'static str, Warehouse)> {
    let duck = open(&format!("duckdb://{}", dir.join("f.duckdb").display())).await;
    let pg = open(&super::common::warehouses::postgres_db(name).await).await;
    let my = open(&super::common::warehouses::mysql_db(name).await).await;
    let lite = open(&format!("sqlite://{}", dir.join("f.sqlite").display())).await;
    let mut out = Vec::new();
    for (n, w) in [
        ("duckdb", duck),
        ("postgres", pg),
        ("mysql", my),
        ("sqlite", lite),
    ] {
        for stmt in statements(n) {
            w.query(&stmt, 0)
                .await
                .unwrap_or_else(|e| panic!("{n}: {stmt}: {e}"));
        }
        out.push((n, w));
    }
    out
}

/// Runs a request and returns its rows as JSON values (numbers as f64,
/// times as ISO text).
pub async fn rows(
    catalog: &Catalog,
    wh: &Warehouse,
    query: serde_json::Value,
    caller: &Caller,
) -> Vec<Vec<serde_json::Value>> {
    let q: accord::query::SemanticQuery =
        serde_json::from_value(query.clone()).expect("a valid query");
    let done = execute::run(catalog, wh, &q, caller, 10_000)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    done.result
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Null => serde_json::Value::Null,
                    Value::Text(s) => serde_json::Value::String(s.clone()),
                    Value::Date(_) | Value::Timestamp(_) => serde_json::Value::String(v.to_text()),
                    other => other
                        .as_f64()
                        .map(|f| serde_json::json!(f))
                        .unwrap_or_else(|| serde_json::Value::String(other.to_text())),
                })
                .collect()
        })
        .collect()
}

/// Equal within 1e-9 for numbers, exactly otherwise.
pub fn same(actual: &[Vec<serde_json::Value>], expected: &serde_json::Value) -> bool {
    let Some(exp) = expected.as_array() else {
        return false;
    };
    actual.len() == exp.len()
        && actual.iter().zip(exp).all(|(a, e)| {
            let Some(e) = e.as_array() else { return false };
            a.len() == e.len()
                && a.iter()
                    .zip(e)
                    .all(|(x, y)| match (x.as_f64(), y.as_f64()) {
                        (Some(p), Some(q)) => (p - q).abs() <= 1e-9 * p.abs().max(1.0),
                        _ => x == y,
                    })
        })
}

//! Stitched funnels, attribution, measures, conversions, consent and
//! suppression on a hand-made identity graph, on DuckDB, PostgreSQL,
//! MariaDB and SQLite.
//!
//! Four customers browse anonymously (cookies `a1`..`a4`) before signing
//! up; signing up links the cookie to the customer. `a5` never signs up.
//! Customer 1 granted `marketing` before anything happened; customer 2
//! granted it and withdrew it on day 3; customer 3 never granted it;
//! customer 4 asks for erasure after the identity map was built (the map
//! still holds their cookie). Every expectation below is worked out by hand
//! from these rows.

mod common;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::execute;
use accord::identity::{self, BuildOptions};
use accord::warehouse::{Value, Warehouse};
use common::warehouses::fixture_engines;
use serde_json::{Value as Json, json};

const DEFS: &str = r#"
models:
  - name: customers
    source: {table: st_customers}
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: region, type: categorical}
      - {name: signed_up_at, type: time, granularity: hour}
  - name: events
    subject: customer
    source: {table: st_events}
    entities:
      - {name: event, type: primary, expr: event_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: event_type, type: categorical}
      - {name: anonymous_id, type: categorical}
      - {name: occurred_at, type: time, granularity: hour}
    defaults: {agg_time_dimension: occurred_at}
    measures:
      - {name: people, agg: count_distinct, stitched: true}
      - {name: event_count, agg: count}
  - name: orders
    subject: customer
    source: {table: st_orders}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: ordered_at, type: time, granularity: hour}
    defaults: {agg_time_dimension: ordered_at}
    measures:
      - {name: amount, agg: sum}
      - {name: order_count, agg: count}
  - name: touches
    subject: customer
    source: {table: st_touches}
    entities:
      - {name: touch, type: primary, expr: touch_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: anonymous_id, type: categorical}
      - {name: touched_at, type: time, granularity: hour}
      - {name: channel, type: categorical}
  - name: consent_events
    subject: customer
    source: {table: st_consent}
    entities:
      - {name: consent_event, type: primary, expr: consent_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: purpose, type: categorical}
      - {name: status, type: categorical}
      - {name: occurred_at, type: time, granularity: hour}
  - name: erasure_requests
    source: {table: st_erasure}
    entities:
      - {name: erasure, type: primary, expr: erasure_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: requested_at, type: time, granularity: hour}
metrics:
  - {name: revenue, type: simple, measure: orders.amount}
  - {name: people, type: simple, measure: events.people}
  - {name: event_count, type: simple, measure: events.event_count}
  - name: view_to_order_7d
    type: conversion
    base_measure: events.people
    conversion_measure: orders.order_count
    entity: customer
    window: 7 days
    filter: "events.event_type = 'view'"
  - name: viewers_ordering_7d
    type: conversion
    base_measure: events.people
    conversion_measure: orders.order_count
    entity: customer
    window: 7 days
    calculation: count
    filter: "events.event_type = 'view'"
consent:
  purposes:
    - {name: analytics, requires_consent: false}
    - {name: marketing}
  default_purpose: analytics
  ledger: {model: consent_events, purpose: purpose, status: status, time: occurred_at}
  mode: as_of_fact
  suppression: {model: erasure_requests}
identity:
  entity: customer
  canonical: customer_id
  rule_version: 1
  identifiers:
    - {name: customer_id, priority: 1, normalize: [trim]}
    - {name: anonymous_id, priority: 2, normalize: [trim, lower], blocked_values: ['']}
  sources:
    - model: customers
      time: signed_up_at
      identifiers: [{identifier: customer_id}]
    - model: events
      time: occurred_at
      identifiers: [{identifier: anonymous_id}, {identifier: customer_id}]
      pairs: [[anonymous_id, customer_id]]
    - model: touches
      time: touched_at
      identifiers: [{identifier: anonymous_id}, {identifier: customer_id}]
      pairs: [[anonymous_id, customer_id]]
  erasure: erasure_requests
funnels:
  - name: visit
    subject: customer
    stitched: true
    window: 30 days
    steps:
      - {name: view, model: events, filter: "event_type = 'view'"}
      - {name: signup, model: events, filter: "event_type = 'signup'"}
      - {name: order, model: orders}
  - name: visit_plain
    subject: customer
    window: 30 days
    steps:
      - {name: view, model: events, filter: "event_type = 'view'"}
      - {name: signup, model: events, filter: "event_type = 'signup'"}
      - {name: order, model: orders}
retention:
  - name: daily_return
    subject: customer
    stitched: true
    cohort: {model: events, filter: "event_type = 'view'"}
    return: {model: orders}
    period: day
    periods: 5
    mode: on_or_after
attribution:
  - name: first
    model: first_touch
    conversion: revenue
    touches: {model: touches, time: touched_at, channel: channel}
    lookback: {days: 30}
    stitched: true
  - name: first_plain
    model: first_touch
    conversion: revenue
    touches: {model: touches, time: touched_at, channel: channel}
    lookback: {days: 30}
roles:
  - name: eu
    description: European customers only.
    row_filters:
      - {model: customers, filter: "region = 'EU'"}
"#;

/// `2025-03-<1+day> <hour>:00:00`.
fn at(day: u32, hour: u32) -> String {
    format!("'2025-03-{:02} {hour:02}:00:00'", day + 1)
}

fn fixture_sql(ts: &str) -> Vec<String> {
    let mut out = vec![
        "CREATE TABLE st_customers (customer_id INTEGER, region VARCHAR(8), signed_up_at TS)",
        "CREATE TABLE st_events (event_id INTEGER, anonymous_id VARCHAR(20), customer_id INTEGER, event_type VARCHAR(20), occurred_at TS)",
        "CREATE TABLE st_orders (order_id INTEGER, customer_id INTEGER, ordered_at TS, amount DECIMAL(12, 2))",
        "CREATE TABLE st_touches (touch_id INTEGER, anonymous_id VARCHAR(20), customer_id INTEGER, touched_at TS, channel VARCHAR(20))",
        "CREATE TABLE st_consent (consent_id INTEGER, customer_id INTEGER, purpose VARCHAR(20), status VARCHAR(20), occurred_at TS)",
        "CREATE TABLE st_erasure (erasure_id INTEGER, customer_id INTEGER, requested_at TS)",
    ]
    .into_iter()
    .map(|s| s.replace(" TS", &format!(" {ts}")))
    .collect::<Vec<_>>();
    let regions = ["EU", "US", "EU", "US"];
    for (i, r) in regions.iter().enumerate() {
        let c = i + 1;
        out.push(format!(
            "INSERT INTO st_customers VALUES ({c}, '{r}', {})",
            at(2, 0)
        ));
    }
    // (id, cookie, customer, type, day, hour)
    type EventRow<'a> = (i32, &'a str, Option<i32>, &'a str, u32, u32);
    let events: [EventRow; 10] = [
        (1, "a1", None, "view", 1, 9),
        (2, "a1", Some(1), "signup", 2, 9),
        // The same cookie written differently: normalised, still customer 1.
        (3, " A1 ", None, "view", 5, 9),
        (4, "a2", None, "view", 1, 9),
        (5, "a2", Some(2), "signup", 3, 10),
        (6, "a3", None, "view", 1, 9),
        (7, "a3", Some(3), "signup", 2, 9),
        (8, "a4", None, "view", 1, 9),
        (9, "a4", Some(4), "signup", 2, 9),
        (10, "a5", None, "view", 1, 9),
    ];
    for (id, anon, c, kind, d, h) in events {
        let c = c.map_or("NULL".into(), |c| c.to_string());
        out.push(format!(
            "INSERT INTO st_events VALUES ({id}, '{anon}', {c}, '{kind}', {})",
            at(d, h)
        ));
    }
    for (id, c, d, amount) in [
        (1, 1, 4, "100.00"),
        (2, 2, 5, "50.00"),
        (3, 3, 6, "30.00"),
        (4, 4, 5, "70.00"),
    ] {
        out.push(format!(
            "INSERT INTO st_orders VALUES ({id}, {c}, {}, {amount})",
            at(d, 12)
        ));
    }
    let touches: [(i32, &str, Option<i32>, u32, &str); 6] = [
        (1, "a1", None, 0, "search"),
        (2, "a2", None, 0, "social"),
        (3, "a2", Some(2), 4, "email"),
        (4, "a3", None, 1, "search"),
        (5, "a4", None, 0, "display"),
        (6, "a5", None, 0, "social"),
    ];
    for (id, anon, c, d, channel) in touches {
        let c = c.map_or("NULL".into(), |c| c.to_string());
        out.push(format!(
            "INSERT INTO st_touches VALUES ({id}, '{anon}', {c}, {}, '{channel}')",
            at(d, 12)
        ));
    }
    for (id, c, status, d) in [
        (1, 1, "granted", 0),
        (2, 2, "granted", 0),
        (3, 2, "withdrawn", 3),
        (4, 4, "granted", 0),
    ] {
        out.push(format!(
            "INSERT INTO st_consent VALUES ({id}, {c}, 'marketing', '{status}', {})",
            at(d, 0)
        ));
    }
    out
}

/// Customer 4's erasure request, recorded after the map was built.
fn erasure_sql() -> String {
    format!("INSERT INTO st_erasure VALUES (1, 4, {})", at(9, 0))
}

fn catalog() -> std::sync::Arc<Catalog> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("defs.yml"), DEFS).unwrap();
    accord::definitions::load_dir(dir.path()).unwrap_or_else(|d| panic!("{d}"))
}

fn cell(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Text(s) => json!(s),
        other => match other.as_f64() {
            Some(f) => json!(f),
            None => json!(other.to_text()),
        },
    }
}

async fn rows(catalog: &Catalog, wh: &Warehouse, query: Json) -> Vec<Vec<Json>> {
    rows_as(catalog, wh, query, &Caller::operator()).await
}

async fn rows_as(
    catalog: &Catalog,
    wh: &Warehouse,
    query: Json,
    caller: &Caller,
) -> Vec<Vec<Json>> {
    let q = common::q(query.clone());
    let done = execute::run(catalog, wh, &q, caller, 10_000)
        .await
        .unwrap_or_else(|e| panic!("{query} on {}: {e}", wh.url().redacted()));
    let mut out: Vec<Vec<Json>> = done
        .result
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    if q.order_by.is_empty() && q.funnel.is_none() && q.retention.is_none() {
        out.sort_by_key(|r| format!("{r:?}"));
    }
    out
}

fn same(got: &[Vec<Json>], want: &Json) -> bool {
    let want = want.as_array().expect("rows");
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            let w = w.as_array().expect("row");
            g.len() == w.len()
                && g.iter()
                    .zip(w)
                    .all(|(a, b)| match (a.as_f64(), b.as_f64()) {
                        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
                        _ => a == b,
                    })
        })
}

const DAY: f64 = 86_400.0;
const COHORT: &str = "2025-03-02T00:00:00";

/// (query, expected rows) after customer 4's erasure request.
fn cases() -> Vec<(Json, Json)> {
    vec![
        // People 1, 2, 3 and the never-identified a5 viewed; 4 is
        // suppressed through their cookie, which the map still holds. View
        // to signup: 1 day (1), 2 days 1 hour (2), 1 day (3): median 1 day;
        // signup to order: 2 days 3 hours (1), 2 days 2 hours (2), 4 days
        // 3 hours (3): median 2 days 3 hours.
        (
            json!({"funnel": "visit"}),
            json!([
                [1, "view", 4, 1.0, 1.0, null],
                [2, "signup", 3, 0.75, 0.75, DAY],
                [3, "order", 3, 1.0, 0.75, 2.0 * DAY + 3.0 * 3600.0]
            ]),
        ),
        // By the event rows' own customer column every view is anonymous.
        (
            json!({"funnel": "visit_plain"}),
            json!([
                [1, "view", 0, null, null, null],
                [2, "signup", 0, null, null, null],
                [3, "order", 0, null, null, null]
            ]),
        ),
        // Marketing: person 1 (granted throughout) and person 2's view
        // (before the withdrawal on day 3; the signup at 10:00 that day is
        // after it). 3 and a5 never granted; 4 is suppressed.
        (
            json!({"funnel": "visit", "purpose": "marketing"}),
            json!([
                [1, "view", 2, 1.0, 1.0, null],
                [2, "signup", 1, 0.5, 0.5, DAY],
                [3, "order", 1, 1.0, 0.5, 2.0 * DAY + 3.0 * 3600.0]
            ]),
        ),
        // Retention by day after the first view (day 1 for all four):
        // person 1 ordered 3 days later, 2 after 4, 3 after 5; a5 never.
        // on_or_after: retained in N when an order came in N or later.
        (
            json!({"retention": "daily_return"}),
            json!([
                [COHORT, 0, 4, 3, 0.75],
                [COHORT, 1, 4, 3, 0.75],
                [COHORT, 2, 4, 3, 0.75],
                [COHORT, 3, 4, 3, 0.75],
                [COHORT, 4, 4, 2, 0.5],
                [COHORT, 5, 4, 1, 0.25]
            ]),
        ),
        // First touch per person: 1's anonymous search click (100), 2's
        // anonymous social click before the known email one (50), 3's
        // search (30). Customer 4's order is suppressed.
        (
            json!({"metrics": ["revenue"], "attribution": "first", "dimensions": ["channel"]}),
            json!([["search", 130.0], ["social", 50.0]]),
        ),
        // Unstitched, only the email touch names a customer.
        (
            json!({"metrics": ["revenue"], "attribution": "first_plain", "dimensions": ["channel"]}),
            json!([["(unattributed)", 130.0], ["email", 50.0]]),
        ),
        // Marketing: only customer 1's order and touch are consented (2's
        // order on day 5 is after the withdrawal, 3 never granted).
        (
            json!({"metrics": ["revenue"], "attribution": "first", "dimensions": ["channel"], "purpose": "marketing"}),
            json!([["search", 100.0]]),
        ),
        // Distinct people: 1, 2, 3 and a5 (4 suppressed). The plain count
        // beside it is the same whether or not `people` is asked: 10
        // events less customer 4's signup (the only row naming them).
        (
            json!({"metrics": ["people", "event_count"]}),
            json!([[4, 9]]),
        ),
        (json!({"metrics": ["event_count"]}), json!([[9]])),
        // Marketing: people 1 and 2 (2's day-1 view); by the rows' own
        // column only customer 1's signup is a consented event.
        (
            json!({"metrics": ["people", "event_count"], "purpose": "marketing"}),
            json!([[2, 1]]),
        ),
        // A conversion on a stitched base measure matches per person: the
        // views are anonymous, the orders a customer's. Viewers 1, 2, 3 and
        // a5 (4 suppressed); 1, 2 and 3 ordered 3 days 3 hours, 4 days 3
        // hours and 5 days 3 hours after their first view, inside 7 days.
        (
            json!({"metrics": ["viewers_ordering_7d", "view_to_order_7d"]}),
            json!([[3, 0.75]]),
        ),
        // Marketing: viewers 1 and 2 (2's view was before the withdrawal),
        // but 2's order on day 5 came after it, so only 1 converted.
        (
            json!({"metrics": ["viewers_ordering_7d", "view_to_order_7d"], "purpose": "marketing"}),
            json!([[1, 0.5]]),
        ),
        // A stitched scan reaches customers through the row's person: the
        // anonymous views of customers 1 and 3 are EU's, 2's US's; only a5
        // (never a customer) has no region. Each person is in one group.
        (
            json!({"metrics": ["people"], "dimensions": ["customers.region"]}),
            json!([[null, 1], ["EU", 2], ["US", 1]]),
        ),
    ]
}

/// (query, expected rows) for the `eu` role (a row filter on customers),
/// after customer 4's erasure request: on stitched scans the filter holds
/// per person, so customers 1 and 3 keep their anonymous rows.
fn eu_cases() -> Vec<(Json, Json)> {
    vec![
        // People 1 and 3; by the rows' own column, 1's and 3's signups.
        (
            json!({"metrics": ["people", "event_count"]}),
            json!([[2, 2]]),
        ),
        // Both viewed, signed up a day later and ordered: 2 days 3 hours
        // and 4 days 3 hours after signing up (median: their mean).
        (
            json!({"funnel": "visit"}),
            json!([
                [1, "view", 2, 1.0, 1.0, null],
                [2, "signup", 2, 1.0, 1.0, DAY],
                [3, "order", 2, 1.0, 1.0, 3.0 * DAY + 3.0 * 3600.0]
            ]),
        ),
        // Their first touches were anonymous search clicks.
        (
            json!({"metrics": ["revenue"], "attribution": "first", "dimensions": ["channel"]}),
            json!([["search", 130.0]]),
        ),
        // Both viewers ordered within 7 days.
        (
            json!({"metrics": ["viewers_ordering_7d", "view_to_order_7d"]}),
            json!([[2, 1.0]]),
        ),
    ]
}

#[tokio::test]
async fn stitched_analyses_credit_people_on_every_engine() {
    let catalog = catalog();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, wh) in fixture_engines("stitched_fixture", dir.path(), fixture_sql).await {
        identity::build(&catalog, &wh, &BuildOptions::default())
            .await
            .unwrap_or_else(|e| panic!("build on {name}: {e}"));
        wh.query(&erasure_sql(), 1)
            .await
            .unwrap_or_else(|e| panic!("erasure on {name}: {e}"));
        for (query, want) in cases() {
            let got = rows(&catalog, &wh, query.clone()).await;
            if !same(&got, &want) {
                failures.push(format!("{name}: {query}\n  got  {got:?}\n  want {want}"));
            }
        }
        let eu = Caller::with_roles(&["eu"]);
        for (query, want) in eu_cases() {
            let got = rows_as(&catalog, &wh, query.clone(), &eu).await;
            if !same(&got, &want) {
                failures.push(format!(
                    "{name} as eu: {query}\n  got  {got:?}\n  want {want}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The errors of definitions that must not load.
fn load_err(defs: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("defs.yml"), defs).unwrap();
    accord::definitions::load_dir(dir.path())
        .expect_err("invalid definitions")
        .to_string()
}

#[test]
fn stitched_definitions_need_an_identity_and_stitchable_models() {
    let cases = [
        (
            DEFS.replace("  entity: customer\n", "  entity: account\n"),
            "identity",
        ),
        (
            DEFS.replace(
                "    subject: customer\n    stitched: true\n    window: 30 days",
                "    subject: order\n    stitched: true\n    window: 30 days",
            ),
            "funnels.visit",
        ),
    ];
    for (defs, field) in cases {
        let err = load_err(&defs);
        assert!(err.contains(field), "{field}: {err}");
    }
    // A funnel naming a subject other than the stitched entity.
    let err = load_err(&DEFS.replace(
        "    subject: customer\n    stitched: true\n    window: 30 days",
        "    subject: event\n    stitched: true\n    window: 30 days",
    ));
    assert!(
        err.contains("funnels.visit.stitched") && err.contains("stitches `customer`"),
        "{err}"
    );
    // A conversion on a stitched base measure, matched by another entity
    // than the stitched one: its conversions could not be found per person.
    let defs = DEFS
        .replace(
            "  - name: erasure_requests\n",
            "  - name: clicks
    source: {table: st_clicks}
    entities:
      - {name: click, type: primary, expr: click_id}
      - {name: event, type: foreign, expr: event_id}
    dimensions:
      - {name: clicked_at, type: time, granularity: hour}
    defaults: {agg_time_dimension: clicked_at}
    measures:
      - {name: click_count, agg: count}
  - name: erasure_requests\n",
        )
        .replace(
            "consent:\n",
            "  - name: viewers_clicking
    type: conversion
    base_measure: events.people
    conversion_measure: clicks.click_count
    entity: event
    window: 1 day
consent:\n",
        );
    let err = load_err(&defs);
    assert!(
        err.contains("metrics.viewers_clicking.base_measure")
            && err.contains("matched per person")
            && err.contains("stitches `customer`"),
        "{err}"
    );
}

//! Metric results on DuckDB checked against numbers computed directly from
//! the generator's in-memory rows in Rust, never through SQL.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use accord::demo::DemoData;
use accord::execute;
use accord::warehouse::{Value, Warehouse};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use common::warehouses::{demo, open};
use common::{demo_catalog, q};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::json;

type Expected = BTreeMap<Vec<String>, Vec<Option<f64>>>;

async fn run(wh: &Warehouse, query: serde_json::Value) -> (Vec<String>, Expected) {
    let catalog = demo_catalog();
    let query = q(query);
    let done = execute::run(
        &catalog,
        wh,
        &query,
        &accord::access::Caller::operator(),
        1_000_000,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let ndims = query.dimensions.len();
    let names = done.result.columns.iter().map(|c| c.name.clone()).collect();
    let mut out = Expected::new();
    for row in &done.result.rows {
        let key: Vec<String> = row[..ndims].iter().map(Value::to_text).collect();
        let vals: Vec<Option<f64>> = row[ndims..].iter().map(Value::as_f64).collect();
        assert!(
            out.insert(key.clone(), vals).is_none(),
            "duplicate group {key:?}"
        );
    }
    (names, out)
}

fn assert_close(actual: &Expected, expected: &Expected, what: &str) {
    let a: BTreeSet<_> = actual.keys().collect();
    let e: BTreeSet<_> = expected.keys().collect();
    assert_eq!(a, e, "{what}: groups differ");
    for (k, ev) in expected {
        let av = &actual[k];
        for (x, y) in av.iter().zip(ev) {
            match (x, y) {
                (Some(x), Some(y)) => {
                    let tol = 1e-9 * y.abs().max(1.0);
                    assert!((x - y).abs() <= tol, "{what} {k:?}: got {x}, expected {y}");
                }
                (None, None) => {}
                _ => panic!("{what} {k:?}: got {x:?}, expected {y:?}"),
            }
        }
    }
}

fn d(x: Decimal) -> f64 {
    x.to_f64().expect("decimal fits f64")
}

fn ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn month(t: NaiveDateTime) -> String {
    ts(NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap())
}

fn quarter(t: NaiveDateTime) -> String {
    let m = (t.month() - 1) / 3 * 3 + 1;
    ts(NaiveDate::from_ymd_opt(t.year(), m, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap())
}

fn week(t: NaiveDateTime) -> String {
    let day = t.date() - chrono::Duration::days(t.weekday().num_days_from_monday().into());
    ts(day.and_hms_opt(0, 0, 0).unwrap())
}

fn key(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Non-cancelled orders' rank per customer (1 = first), as order_sequence
/// defines it: by ordered_at, then order_id.
fn order_rank(data: &DemoData) -> HashMap<i64, usize> {
    let mut by_customer: BTreeMap<i64, Vec<(NaiveDateTime, i64)>> = BTreeMap::new();
    for o in data.orders.iter().filter(|o| o.status != "cancelled") {
        by_customer
            .entry(o.customer_id)
            .or_default()
            .push((o.ordered_at, o.order_id));
    }
    let mut rank = HashMap::new();
    for (_, mut v) in by_customer {
        v.sort();
        for (i, (_, id)) in v.into_iter().enumerate() {
            rank.insert(id, i + 1);
        }
    }
    rank
}

/// What the metrics may count: the demo definitions' consent suppression
/// list (`erasure_requests`) removes every fact about those customers.
fn without_erased(mut d: DemoData) -> DemoData {
    let erased: BTreeSet<i64> = d.erasure_requests.iter().map(|e| e.customer_id).collect();
    let gone = |c: &i64| erased.contains(c);
    let erased_orders: BTreeSet<i64> = d
        .orders
        .iter()
        .filter(|o| gone(&o.customer_id))
        .map(|o| o.order_id)
        .collect();
    d.customers.retain(|c| !gone(&c.customer_id));
    d.orders.retain(|o| !gone(&o.customer_id));
    d.order_items
        .retain(|i| !erased_orders.contains(&i.order_id));
    d.sessions
        .retain(|s| !s.customer_id.is_some_and(|c| gone(&c)));
    d.events
        .retain(|e| !e.customer_id.is_some_and(|c| gone(&c)));
    d.support_tickets.retain(|t| !gone(&t.customer_id));
    d.consent_events.retain(|c| !gone(&c.customer_id));
    d.marketing_touches
        .retain(|t| !t.customer_id.is_some_and(|c| gone(&c)));
    d
}

#[tokio::test]
async fn demo_metrics_match_independent_expectations() {
    let loaded = demo(1);
    assert!(!loaded.erasure_requests.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let wh = open(&format!(
        "duckdb://{}",
        dir.path().join("exp.duckdb").display()
    ))
    .await;
    wh.load_demo(&loaded).await.unwrap();
    let data = without_erased(loaded);
    let live: Vec<_> = data
        .orders
        .iter()
        .filter(|o| o.status != "cancelled")
        .collect();
    let customer: HashMap<i64, &accord::demo::Customer> =
        data.customers.iter().map(|c| (c.customer_id, c)).collect();
    let account: HashMap<i64, &accord::demo::Account> =
        data.accounts.iter().map(|a| (a.account_id, a)).collect();
    let order: HashMap<i64, &accord::demo::Order> =
        data.orders.iter().map(|o| (o.order_id, o)).collect();
    let product: HashMap<i64, &accord::demo::Product> =
        data.products.iter().map(|p| (p.product_id, p)).collect();
    let mut checked = 0;

    // 1. Total revenue, exact to the cent.
    let catalog = demo_catalog();
    let done = execute::run(
        &catalog,
        &wh,
        &q(json!({"metrics": ["revenue"]})),
        &accord::access::Caller::operator(),
        10,
    )
    .await
    .unwrap();
    let expected: Decimal = live.iter().map(|o| o.amount).sum();
    assert_eq!(
        done.result.rows[0][0],
        Value::Decimal(expected),
        "revenue is exact"
    );
    checked += 1;

    // 2. Orders by status: a metric sees only the rows its filter selects,
    // so no cancelled group appears.
    let mut e = Expected::new();
    for o in &live {
        let v = e.entry(key(&[o.status])).or_insert(vec![Some(0.0)]);
        v[0] = Some(v[0].unwrap() + 1.0);
    }
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["orders"], "dimensions": ["orders.status"]}),
        )
        .await
        .1,
        &e,
        "orders by status",
    );
    checked += 1;

    // 3. Fan-out: revenue (orders) and signups (customers) by region. Each
    // customer has many orders; signups must not be multiplied.
    let mut e = Expected::new();
    for o in &live {
        let v = e
            .entry(vec![customer[&o.customer_id].region.to_string()])
            .or_insert(vec![None, None]);
        v[0] = Some(v[0].unwrap_or(0.0) + d(o.amount));
    }
    for c in data.customers.iter().filter(|c| !c.is_test) {
        let v = e
            .entry(vec![c.region.to_string()])
            .or_insert(vec![None, None]);
        v[1] = Some(v[1].unwrap_or(0.0) + 1.0);
    }
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["revenue", "signups"], "dimensions": ["customers.region"]}),
        )
        .await
        .1,
        &e,
        "fan-out safe revenue + signups by region",
    );
    checked += 1;

    // 4. AOV by segment (ratio).
    let mut sums: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for o in &live {
        let s = sums
            .entry(customer[&o.customer_id].segment.to_string())
            .or_default();
        s.0 += d(o.amount);
        s.1 += 1.0;
    }
    let e: Expected = sums
        .iter()
        .map(|(k, (a, n))| (vec![k.clone()], vec![Some(a / n)]))
        .collect();
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["average_order_value"], "dimensions": ["customers.segment"]}),
        )
        .await
        .1,
        &e,
        "aov by segment",
    );
    checked += 1;

    // 5. Net revenue by month (derived: revenue - refunds, refunds on all orders).
    let mut e: BTreeMap<Vec<String>, (f64, f64)> = BTreeMap::new();
    for o in &data.orders {
        let v = e.entry(vec![month(o.ordered_at)]).or_default();
        if o.status != "cancelled" {
            v.0 += d(o.amount);
        }
        v.1 += d(o.refunded_amount);
    }
    let e: Expected = e
        .into_iter()
        .map(|(k, (r, f))| (k, vec![Some(r - f)]))
        .collect();
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["net_revenue"], "dimensions": ["metric_time:month"]}),
        )
        .await
        .1,
        &e,
        "net revenue by month",
    );
    checked += 1;

    // 6. Refund rate.
    let refunded = data
        .orders
        .iter()
        .filter(|o| o.status == "refunded")
        .count() as f64;
    let e: Expected = [(vec![], vec![Some(refunded / live.len() as f64)])].into();
    assert_close(
        &run(&wh, json!({"metrics": ["refund_rate"]})).await.1,
        &e,
        "refund rate",
    );
    checked += 1;

    // 7. Units by product category, with the metric's filter reaching orders
    // through a join.
    let mut e = Expected::new();
    for i in &data.order_items {
        if order[&i.order_id].status == "cancelled" {
            continue;
        }
        let v = e
            .entry(vec![product[&i.product_id].category.to_string()])
            .or_insert(vec![Some(0.0)]);
        v[0] = Some(v[0].unwrap() + f64::from(i.quantity));
    }
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["units_sold"], "dimensions": ["products.category"]}),
        )
        .await
        .1,
        &e,
        "units by category",
    );
    checked += 1;

    // 8. Three hops: order_items -> orders -> customers -> accounts.
    let mut e = Expected::new();
    for i in &data.order_items {
        let o = order[&i.order_id];
        let plan = customer[&o.customer_id]
            .account_id
            .map(|a| account[&a].plan.to_string())
            .unwrap_or_default();
        if o.status != "cancelled" {
            let v = e.entry(vec![plan]).or_insert(vec![None]);
            v[0] = Some(v[0].unwrap_or(0.0) + f64::from(i.quantity));
        }
    }
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["units_sold"], "dimensions": ["accounts.plan"]}),
        )
        .await
        .1,
        &e,
        "units by account plan (3 hops)",
    );
    checked += 1;

    // 9. Active customers by quarter (distinct count).
    let mut sets: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for o in &live {
        sets.entry(quarter(o.ordered_at))
            .or_default()
            .insert(o.customer_id);
    }
    let e: Expected = sets
        .iter()
        .map(|(k, s)| (vec![k.clone()], vec![Some(s.len() as f64)]))
        .collect();
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["active_customers"], "dimensions": ["metric_time:quarter"]}),
        )
        .await
        .1,
        &e,
        "active customers by quarter",
    );
    checked += 1;

    // 10 + 11. New and returning customers by month.
    let rank = order_rank(&data);
    let mut new: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let mut ret: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for o in &data.orders {
        match rank.get(&o.order_id) {
            Some(1) => {
                new.entry(month(o.ordered_at))
                    .or_default()
                    .insert(o.customer_id);
            }
            Some(_) => {
                ret.entry(month(o.ordered_at))
                    .or_default()
                    .insert(o.customer_id);
            }
            None => {}
        }
    }
    // A month where only one of the two has rows reads NULL for the other.
    let months: BTreeSet<&String> = new.keys().chain(ret.keys()).collect();
    let count = |m: &BTreeMap<String, BTreeSet<i64>>, k: &String| m.get(k).map(|s| s.len() as f64);
    let e: Expected = months
        .into_iter()
        .map(|k| (vec![k.clone()], vec![count(&new, k), count(&ret, k)]))
        .collect();
    assert_close(&run(&wh, json!({"metrics": ["new_customers", "returning_customers"], "dimensions": ["metric_time:month"]})).await.1, &e, "new/returning by month");
    checked += 1;

    // 12. Conversion rate by month: orders (orders model) / sessions.
    let mut m: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for o in &data.orders {
        let v = m.entry(month(o.ordered_at)).or_default();
        if o.status != "cancelled" {
            v.0 += 1.0;
        }
    }
    for s in &data.sessions {
        m.entry(month(s.started_at)).or_default().1 += 1.0;
    }
    let e: Expected = m
        .iter()
        .map(|(k, (o, s))| {
            (
                vec![k.clone()],
                vec![if *s == 0.0 { None } else { Some(o / s) }],
            )
        })
        .collect();
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["conversion_rate"], "dimensions": ["metric_time:month"]}),
        )
        .await
        .1,
        &e,
        "conversion by month",
    );
    checked += 1;

    // 13. Sessions by a boolean dimension.
    let mut e = Expected::new();
    for s in &data.sessions {
        let v = e
            .entry(vec![s.customer_id.is_some().to_string()])
            .or_insert(vec![Some(0.0)]);
        v[0] = Some(v[0].unwrap() + 1.0);
    }
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["sessions"], "dimensions": ["sessions.is_logged_in"]}),
        )
        .await
        .1,
        &e,
        "sessions by login",
    );
    checked += 1;

    // 14. Filtered and time-ranged: EU revenue in H1 by country.
    let start = NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let end = NaiveDate::from_ymd_opt(2025, 7, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let mut e = Expected::new();
    for o in data
        .orders
        .iter()
        .filter(|o| o.ordered_at >= start && o.ordered_at < end)
    {
        let c = customer[&o.customer_id];
        if c.region != "EU" {
            continue;
        }
        if o.status != "cancelled" {
            let v = e.entry(vec![c.country.to_string()]).or_insert(vec![None]);
            v[0] = Some(v[0].unwrap_or(0.0) + d(o.amount));
        }
    }
    assert_close(
        &run(&wh, json!({"metrics": ["revenue"], "dimensions": ["customers.country"], "filters": [{"dimension": "customers.region", "op": "eq", "values": ["EU"]}], "time_range": {"start": "2025-01-01", "end": "2025-07-01"}})).await.1,
        &e,
        "EU H1 revenue by country",
    );
    checked += 1;

    // 15. CSAT (ratio of sum to count over answered tickets) by priority,
    // for scores 2..4 only.
    let mut m: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for t in &data.support_tickets {
        if let Some(s) = t.csat_score.filter(|s| (2..=4).contains(s)) {
            let v = m.entry(t.priority.to_string()).or_default();
            v.0 += f64::from(s);
            v.1 += 1.0;
        }
    }
    let e: Expected = m
        .iter()
        .map(|(k, (s, n))| (vec![k.clone()], vec![Some(s / n)]))
        .collect();
    assert_close(
        &run(&wh, json!({"metrics": ["csat"], "dimensions": ["support_tickets.priority"], "filters": [{"dimension": "support_tickets.csat_score", "op": "between", "values": [2, 4]}]})).await.1,
        &e,
        "csat by priority",
    );
    checked += 1;

    // 16. Median order value (percentile_cont: interpolate the middle pair).
    let mut amounts: Vec<f64> = live.iter().map(|o| d(o.amount)).collect();
    amounts.sort_by(f64::total_cmp);
    let n = amounts.len();
    let median = if n % 2 == 1 {
        amounts[n / 2]
    } else {
        (amounts[n / 2 - 1] + amounts[n / 2]) / 2.0
    };
    let e: Expected = [(vec![], vec![Some(median)])].into();
    assert_close(
        &run(&wh, json!({"metrics": ["median_order_value"]})).await.1,
        &e,
        "median order value",
    );
    checked += 1;

    // 17. Signups by ISO week (Monday start).
    let mut e = Expected::new();
    for c in data.customers.iter().filter(|c| !c.is_test) {
        let v = e
            .entry(vec![week(c.signed_up_at)])
            .or_insert(vec![Some(0.0)]);
        v[0] = Some(v[0].unwrap() + 1.0);
    }
    assert_close(
        &run(
            &wh,
            json!({"metrics": ["signups"], "dimensions": ["metric_time:week"]}),
        )
        .await
        .1,
        &e,
        "signups by week",
    );
    checked += 1;

    // 18. Post-aggregation filter: countries with at least 5 orders.
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    for o in &live {
        *m.entry(customer[&o.customer_id].country.to_string())
            .or_default() += 1.0;
    }
    let e: Expected = m
        .into_iter()
        .filter(|(_, n)| *n >= 5.0)
        .map(|(k, n)| (vec![k], vec![Some(n)]))
        .collect();
    assert_close(
        &run(&wh, json!({"metrics": ["orders"], "dimensions": ["customers.country"], "filters": [{"dimension": "orders", "op": "gte", "values": [5]}]})).await.1,
        &e,
        "countries with >= 5 orders",
    );
    checked += 1;

    assert!(checked >= 12);
}

/// A hand-made fixture where a join fans out: two customers, one with three
/// orders. Every number below is computed by hand.
#[tokio::test]
async fn one_to_many_join_never_double_counts() {
    let defs = r#"
models:
  - name: customers
    source: {table: c}
    entities: [{name: customer, type: primary, expr: id}]
    dimensions: [{name: region, type: categorical}]
    measures: [{name: n, agg: count}, {name: credit, agg: sum, expr: credit}]
  - name: orders
    source: {table: o}
    entities: [{name: order, type: primary, expr: id}, {name: customer, type: foreign, expr: customer_id}]
    measures: [{name: amount, agg: sum, expr: amount}]
metrics:
  - {name: customers, type: simple, measure: customers.n}
  - {name: credit, type: simple, measure: customers.credit}
  - {name: revenue, type: simple, measure: orders.amount}
  - {name: revenue_per_credit, type: ratio, numerator: revenue, denominator: credit}
"#;
    let catalog = accord::definitions::load_str("fixture.yml", defs).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wh = open(&format!(
        "duckdb://{}",
        dir.path().join("f.duckdb").display()
    ))
    .await;
    for stmt in [
        "CREATE TABLE c (id INT, region VARCHAR, credit INT)",
        "INSERT INTO c VALUES (1, 'EU', 100), (2, 'NA', 50)",
        "CREATE TABLE o (id INT, customer_id INT, amount INT)",
        "INSERT INTO o VALUES (10, 1, 5), (11, 1, 7), (12, 1, 8), (13, 2, 20)",
    ] {
        wh.query(stmt, 0).await.unwrap();
    }
    let query = q(
        json!({"metrics": ["customers", "credit", "revenue", "revenue_per_credit"], "dimensions": ["customers.region"]}),
    );
    let done = execute::run(
        &catalog,
        &wh,
        &query,
        &accord::access::Caller::operator(),
        100,
    )
    .await
    .unwrap();
    let rows: Vec<Vec<String>> = done
        .result
        .rows
        .iter()
        .map(|r| r.iter().map(Value::to_text).collect())
        .collect();
    // A naive join would report EU credit 300 and 3 customers.
    assert_eq!(
        rows,
        vec![
            vec!["EU", "1", "100", "20", "0.2"],
            vec!["NA", "1", "50", "20", "0.4"]
        ]
    );
    let total = execute::run(
        &catalog,
        &wh,
        &q(json!({"metrics": ["customers", "credit", "revenue"]})),
        &accord::access::Caller::operator(),
        100,
    )
    .await
    .unwrap();
    let t: Vec<String> = total.result.rows[0].iter().map(Value::to_text).collect();
    assert_eq!(t, vec!["2", "150", "40"]);
}

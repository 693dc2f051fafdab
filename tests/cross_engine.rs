//! The same semantic queries on DuckDB, PostgreSQL, MariaDB and SQLite,
//! loaded from the same seed, must return the same results. A difference
//! fails with the query, each engine's SQL and both results.

mod common;

use accord::execute;
use accord::warehouse::Value;
use common::warehouses::{all_engines, demo};
use common::{demo_catalog, q};
use serde_json::json;

/// One comparable cell: numbers compare with a relative tolerance (engines
/// differ in decimal scale for averages), everything else exactly.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Num(f64),
    Text(String),
}

impl PartialEq for Cell {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Num(a), Cell::Num(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
            (Cell::Text(a), Cell::Text(b)) => a == b,
            _ => false,
        }
    }
}

fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Text(b.to_string()),
        Value::Text(s) => Cell::Text(s.clone()),
        Value::Date(_) | Value::Timestamp(_) => Cell::Text(v.to_text()),
        other => other
            .as_f64()
            .map(Cell::Num)
            .unwrap_or(Cell::Text(other.to_text())),
    }
}

fn queries() -> Vec<serde_json::Value> {
    vec![
        json!({"metrics": ["revenue"]}),
        json!({"metrics": ["orders"], "dimensions": ["orders.status"]}),
        json!({"metrics": ["revenue", "orders", "average_order_value"], "dimensions": ["customers.region"]}),
        json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["sessions"], "dimensions": ["metric_time:hour"], "time_range": {"start": "2025-03-01", "end": "2025-03-03"}}),
        json!({"metrics": ["sessions"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-06-01", "end": "2025-07-01"}}),
        json!({"metrics": ["orders"], "dimensions": ["metric_time:week"]}),
        json!({"metrics": ["revenue"], "dimensions": ["metric_time:quarter"]}),
        json!({"metrics": ["revenue"], "dimensions": ["orders.ordered_at:year"]}),
        json!({"metrics": ["average_order_value"], "dimensions": ["customers.segment"]}),
        json!({"metrics": ["conversion_rate"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["net_revenue", "refunds"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["return_on_ad_spend"]}),
        json!({"metrics": ["revenue", "orders", "average_order_value", "refund_rate", "discounts", "cancelled_orders"], "dimensions": ["orders.currency"]}),
        json!({"metrics": ["revenue", "sessions", "tickets"], "dimensions": ["metric_time:week"]}),
        json!({"metrics": ["units_sold"], "dimensions": ["accounts.plan"]}),
        json!({"metrics": ["new_customers", "returning_customers", "repeat_purchase_rate"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"], "filters": [
            {"dimension": "customers.region", "op": "in", "values": ["EU", "NA"]},
            {"dimension": "customers.segment", "op": "neq", "values": ["enterprise"]},
            {"dimension": "customers.email", "op": "contains", "values": ["a"]},
            {"dimension": "customers.country", "op": "starts_with", "values": ["D"]},
            {"dimension": "customers.acquisition_channel", "op": "is_not_null"}
        ]}),
        json!({"metrics": ["tickets"], "dimensions": ["support_tickets.priority"], "filters": [{"dimension": "support_tickets.csat_score", "op": "between", "values": [1, 3]}]}),
        json!({"metrics": ["orders"], "filters": [{"dimension": "orders.ordered_at", "op": "gte", "values": ["2025-06-01"]}, {"dimension": "orders.ordered_at", "op": "lt", "values": ["2025-07-01 00:00:00"]}]}),
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "where": "customers.segment = 'smb' OR (customers.country IN ('DE', 'FR') AND NOT customers.is_test)"}),
        json!({"metrics": ["revenue", "orders"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-11-01", "end": "2025-12-01"}}),
        json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"], "order_by": ["-revenue"], "limit": 5, "offset": 2}),
        json!({"metrics": ["orders"], "dimensions": ["orders.status"], "offset": 1}),
        json!({"metrics": ["logged_in_sessions", "logged_in_share"], "dimensions": ["sessions.channel"]}),
        json!({"metrics": ["active_customers", "signups"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"], "filters": [{"dimension": "orders", "op": "gte", "values": [10]}]}),
        json!({"metrics": ["revenue", "sessions"], "dimensions": ["metric_time:month"], "filters": [{"dimension": "sessions", "op": "gt", "values": [100]}]}),
        json!({"metrics": ["orders", "revenue"], "dimensions": ["orders.customer"], "order_by": [{"field": "revenue", "desc": true}, "orders.customer"], "limit": 10}),
        json!({"metrics": ["units_sold"], "dimensions": ["products.category", "products.brand"]}),
        json!({"metrics": ["units_sold", "items_per_order"], "dimensions": ["metric_time:month", "customers.segment"]}),
        json!({"metrics": ["marketing_consent_grants", "consent_withdrawals", "linked_visitors"], "dimensions": ["metric_time:quarter"]}),
        json!({"metrics": ["tickets", "urgent_tickets", "csat"], "dimensions": ["priority"]}),
        json!({"metrics": ["page_views", "add_to_carts", "checkouts", "purchase_events", "cart_to_purchase_rate"], "dimensions": ["products.category"]}),
        json!({"metrics": ["orders"], "dimensions": ["orders.channel"], "filters": [{"dimension": "orders.channel", "op": "in", "values": ["phone", null]}]}),
        json!({"metrics": ["sessions", "visitors", "signup_events", "signup_rate"], "dimensions": ["sessions.is_logged_in", "metric_time:quarter"]}),
        json!({"metrics": ["marketing_spend", "touches", "cost_per_acquisition"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["tickets_per_customer"], "dimensions": ["customers.segment"]}),
        json!({"metrics": ["revenue_per_customer", "orders_per_customer"], "dimensions": ["accounts.industry"]}),
        json!({"metrics": ["sessions"], "dimensions": ["devices.device_type", "sessions.landing_page"]}),
        json!({"metrics": ["revenue"], "dimensions": ["order_sequence.is_first_order"]}),
        json!({"metrics": ["orders"], "dimensions": ["metric_time:month"], "where": "orders.ordered_at >= '2025-10-01' AND customers.region <> 'APAC'"}),
        json!({"metrics": ["revenue"], "dimensions": ["customers.segment"], "filters": [{"dimension": "customers.country", "op": "not_in", "values": ["US", "DE"]}, {"dimension": "metric_time", "op": "lt", "values": ["2025-04-01"]}]}),
        json!({"metrics": ["discounts", "refunds"], "dimensions": ["orders.status", "orders.currency"]}),
        json!({"metrics": ["sessions"], "dimensions": ["customer.customers.region"]}),
        json!({"metrics": ["page_views"], "dimensions": ["events.page"], "where": "lower(events.page) = events.page AND events.page IS NOT NULL"}),
    ]
}

#[tokio::test]
async fn same_results_on_duckdb_postgres_mariadb_sqlite() {
    let data = demo(1);
    let dir = tempfile::tempdir().unwrap();
    let engines = all_engines("cross", &data, dir.path()).await;
    let catalog = demo_catalog();
    let queries = queries();
    assert!(queries.len() >= 40, "{} queries", queries.len());
    let mut failures = Vec::new();
    for raw in &queries {
        let query = q(raw.clone());
        let ordered = !query.order_by.is_empty() || query.limit.is_some() || query.offset.is_some();
        let mut results = Vec::new();
        for (name, wh) in &engines {
            match execute::run(
                &catalog,
                wh,
                &query,
                &accord::access::Caller::operator(),
                100_000,
            )
            .await
            {
                Ok(done) => {
                    let mut rows: Vec<Vec<Cell>> = done
                        .result
                        .rows
                        .iter()
                        .map(|r| r.iter().map(cell).collect())
                        .collect();
                    if !ordered {
                        // Engines may order ties and collations differently;
                        // an unordered comparison compares the sets.
                        rows.sort_by_key(|r| format!("{r:?}"));
                    }
                    let cols: Vec<String> = done
                        .result
                        .columns
                        .iter()
                        .map(|c| format!("{}:{:?}", c.name, c.ty))
                        .collect();
                    results.push((*name, cols, rows, done.sql));
                }
                Err(e) => failures.push(format!("{name} failed {raw}: {e}")),
            }
        }
        if results.len() < 2 {
            continue;
        }
        assert!(
            !results[0].2.is_empty() || raw.to_string().contains("offset"),
            "query returned nothing on duckdb: {raw}"
        );
        let (base_name, base_cols, base_rows, base_sql) = &results[0];
        for (name, cols, rows, sql) in &results[1..] {
            let names = |c: &Vec<String>| {
                c.iter()
                    .map(|x| x.split(':').next().unwrap_or("").to_string())
                    .collect::<Vec<_>>()
            };
            if names(cols) != names(base_cols) || rows != base_rows {
                let first_diff = base_rows.iter().zip(rows).position(|(a, b)| a != b);
                failures.push(format!(
                    "{raw}\n{base_name} vs {name}: columns {base_cols:?} vs {cols:?}; {} vs {} rows; first differing row {first_diff:?}: {:?} vs {:?}\n--- {base_name} SQL:\n{base_sql}\n--- {name} SQL:\n{sql}",
                    base_rows.len(),
                    rows.len(),
                    first_diff.map(|i| &base_rows[i]),
                    first_diff.map(|i| &rows[i]),
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

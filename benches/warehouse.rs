//! accord's compiled SQL against hand-written SQL for the same question, on
//! the embedded DuckDB demo warehouse at ~5M events, plus the demo loader's
//! rate.
//!
//! Run: `cargo bench --bench warehouse --profile dev` (uses the DuckDB build
//! the tests already compiled; both sides of each ratio run on the same
//! engine build, in the same run). `ACCORD_BENCH_SCALE` (default 500 ≈ 5M
//! events) sizes the data.

use std::path::PathBuf;
use std::time::Instant;

use accord::demo::{DemoConfig, generate};
use accord::query::SemanticQuery;
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn q(v: serde_json::Value) -> SemanticQuery {
    serde_json::from_value(v).expect("valid query")
}

/// (name, semantic query, the SQL an analyst would write by hand)
fn cases() -> Vec<(&'static str, SemanticQuery, &'static str)> {
    vec![
        (
            "revenue_by_month",
            q(serde_json::json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"]})),
            "SELECT date_trunc('month', ordered_at) AS m, SUM(amount) AS revenue FROM orders WHERE status <> 'cancelled' GROUP BY 1 ORDER BY 1",
        ),
        (
            "revenue_orders_aov_by_region",
            q(
                serde_json::json!({"metrics": ["revenue", "orders", "average_order_value"], "dimensions": ["customers.region"]}),
            ),
            "SELECT c.region, SUM(o.amount), COUNT(*), SUM(o.amount) / COUNT(*) FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id WHERE o.status <> 'cancelled' GROUP BY 1 ORDER BY 1",
        ),
        (
            "conversion_rate_by_month",
            q(
                serde_json::json!({"metrics": ["conversion_rate"], "dimensions": ["metric_time:month"]}),
            ),
            "SELECT s.m, o.n / s.n FROM (SELECT date_trunc('month', started_at) AS m, COUNT(*) AS n FROM sessions GROUP BY 1) s LEFT JOIN (SELECT date_trunc('month', ordered_at) AS m, COUNT(*) AS n FROM orders WHERE status <> 'cancelled' GROUP BY 1) o ON o.m = s.m ORDER BY 1",
        ),
        (
            "units_by_product_category",
            q(serde_json::json!({"metrics": ["units_sold"], "dimensions": ["products.category"]})),
            "SELECT p.category, SUM(i.quantity) FROM order_items i JOIN orders o ON o.order_id = i.order_id LEFT JOIN products p ON p.product_id = i.product_id WHERE o.status <> 'cancelled' GROUP BY 1 ORDER BY 1",
        ),
        (
            "active_customers_by_quarter",
            q(
                serde_json::json!({"metrics": ["active_customers"], "dimensions": ["metric_time:quarter"]}),
            ),
            "SELECT date_trunc('quarter', ordered_at), COUNT(DISTINCT customer_id) FROM orders WHERE status <> 'cancelled' GROUP BY 1 ORDER BY 1",
        ),
        (
            "new_customers_by_month",
            q(
                serde_json::json!({"metrics": ["new_customers"], "dimensions": ["metric_time:month"]}),
            ),
            "SELECT date_trunc('month', ordered_at), COUNT(DISTINCT customer_id) FROM (SELECT customer_id, ordered_at, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS n FROM orders WHERE status <> 'cancelled') WHERE n = 1 GROUP BY 1 ORDER BY 1",
        ),
        (
            "sessions_by_device_and_page",
            q(
                serde_json::json!({"metrics": ["sessions"], "dimensions": ["devices.device_type", "sessions.landing_page"]}),
            ),
            "SELECT d.device_type, s.landing_page, COUNT(*) FROM sessions s LEFT JOIN devices d ON d.device_id = s.device_id GROUP BY 1, 2 ORDER BY 1, 2",
        ),
        (
            "page_views_by_page_eu_h2",
            q(
                serde_json::json!({"metrics": ["page_views"], "dimensions": ["events.page"], "filters": [{"dimension": "customers.region", "op": "eq", "values": ["EU"]}], "time_range": {"start": "2025-07-01", "end": "2026-01-01"}}),
            ),
            // A filtered metric lists every group of its model with a count (0 where
            // nothing matched), so the hand-written twin filters in the aggregate.
            "SELECT e.page, COUNT(*) FILTER (WHERE e.event_type = 'page_view') FROM events e JOIN customers c ON c.customer_id = e.customer_id WHERE c.region = 'EU' AND e.occurred_at >= TIMESTAMP '2025-07-01' AND e.occurred_at < TIMESTAMP '2026-01-01' GROUP BY 1 ORDER BY 1",
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let common::Bench {
        rt,
        wh,
        scale,
        _dir,
    } = common::duckdb();

    let started = Instant::now();
    let data = generate(&DemoConfig { scale, seed: 42 });
    let generated = started.elapsed();
    let stats = rt.block_on(wh.load_demo(&data)).expect("load");
    eprintln!(
        "demo scale {scale}: {} events, {} rows in {} tables; generated in {:.2?}; loaded in {:.2?} = {:.0} rows/s",
        data.events.len(),
        stats.rows,
        stats.tables,
        generated,
        stats.elapsed,
        stats.rows as f64 / stats.elapsed.as_secs_f64()
    );
    drop(data);

    let catalog = accord::definitions::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
    )
    .expect("defs");
    let mut g = c.benchmark_group("duckdb_5m");
    g.sample_size(10);
    for (name, query, hand) in cases() {
        let sql = common::duckdb_sql(&catalog, &query);
        // Both must answer: a failing hand-written query is a bench bug.
        let a = rt
            .block_on(wh.query(&sql, usize::MAX))
            .expect("accord SQL runs");
        let b = rt
            .block_on(wh.query(hand, usize::MAX))
            .expect("hand SQL runs");
        assert_eq!(a.rows.len(), b.rows.len(), "{name}: same number of groups");
        g.bench_function(format!("{name}/accord"), |bch| {
            bch.iter(|| rt.block_on(wh.query(&sql, usize::MAX)).expect("runs"))
        });
        g.bench_function(format!("{name}/hand_written"), |bch| {
            bch.iter(|| rt.block_on(wh.query(hand, usize::MAX)).expect("runs"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

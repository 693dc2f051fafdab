//! Time intelligence: accord's compiled SQL (spine + window functions,
//! conversion EXISTS) against hand-written DuckDB SQL for the same question,
//! on the embedded DuckDB demo warehouse (`ACCORD_BENCH_SCALE`, default 500
//! ≈ 5M events).
//!
//! Run: `cargo bench --bench time_intelligence --profile dev`.

use std::path::PathBuf;

use accord::demo::{DemoConfig, generate};
use accord::query::SemanticQuery;
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn q(v: serde_json::Value) -> SemanticQuery {
    serde_json::from_value(v).expect("valid query")
}

/// (name, semantic query, the SQL an analyst would write by hand). The
/// hand-written SQL applies the demo's suppression list too, so both sides
/// answer the same question.
fn cases() -> Vec<(&'static str, SemanticQuery, &'static str)> {
    vec![
        (
            "revenue_7d_trailing_by_day",
            q(
                serde_json::json!({"metrics": ["revenue_7d_trailing"], "dimensions": ["metric_time:day"]}),
            ),
            "WITH d AS (SELECT date_trunc('day', ordered_at) AS day, SUM(amount) AS r FROM orders o WHERE status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.customer_id = o.customer_id) GROUP BY 1), \
             s AS (SELECT range AS day FROM range((SELECT MIN(day) FROM d), (SELECT MAX(day) FROM d) + INTERVAL 1 DAY, INTERVAL 1 DAY)) \
             SELECT s.day, COALESCE(SUM(d.r) OVER (ORDER BY s.day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW), 0) FROM s LEFT JOIN d ON d.day = s.day ORDER BY 1",
        ),
        (
            "revenue_mtd_by_day_and_region",
            q(
                serde_json::json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:day", "customers.region"], "time_range": {"start": "2025-01-01", "end": "2026-01-01"}}),
            ),
            "WITH d AS (SELECT date_trunc('day', o.ordered_at) AS day, c.region, SUM(o.amount) AS r FROM orders o LEFT JOIN customers c ON c.customer_id = o.customer_id \
               WHERE o.status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.customer_id = o.customer_id) AND o.ordered_at >= TIMESTAMP '2025-01-01' AND o.ordered_at < TIMESTAMP '2026-01-01' GROUP BY 1, 2), \
             s AS (SELECT range AS day FROM range(TIMESTAMP '2025-01-01', TIMESTAMP '2026-01-01', INTERVAL 1 DAY)), g AS (SELECT DISTINCT region FROM d) \
             SELECT s.day, g.region, SUM(d.r) OVER (PARTITION BY g.region, date_trunc('month', s.day) ORDER BY s.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) \
             FROM s CROSS JOIN g LEFT JOIN d ON d.day = s.day AND d.region IS NOT DISTINCT FROM g.region ORDER BY 1, 2",
        ),
        (
            "revenue_mom_growth_by_month",
            q(
                serde_json::json!({"metrics": ["revenue_mom_growth"], "dimensions": ["metric_time:month"]}),
            ),
            "WITH m AS (SELECT date_trunc('month', ordered_at) AS m, SUM(amount) AS r FROM orders o WHERE status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.customer_id = o.customer_id) GROUP BY 1) \
             SELECT m, (r - LAG(r) OVER (ORDER BY m)) / LAG(r) OVER (ORDER BY m) FROM m ORDER BY 1",
        ),
        (
            "signup_to_purchase_7d_by_segment",
            q(
                serde_json::json!({"metrics": ["signup_to_purchase_7d"], "dimensions": ["customers.segment"]}),
            ),
            "SELECT c.segment, CAST(COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.ordered_at >= c.signed_up_at AND o.ordered_at <= c.signed_up_at + INTERVAL 7 DAY)) AS DOUBLE) / COUNT(*) \
             FROM customers c WHERE c.is_test = false AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.customer_id = c.customer_id) GROUP BY 1 ORDER BY 1",
        ),
        // Under a consent purpose both sides need consent at their own time:
        // the signup's and the order's.
        (
            "signup_to_purchase_7d_by_segment_marketing",
            q(
                serde_json::json!({"metrics": ["signup_to_purchase_7d"], "dimensions": ["customers.segment"], "purpose": "marketing"}),
            ),
            "WITH k AS (SELECT customer_id AS subject, occurred_at AS valid_from, LEAD(occurred_at) OVER (PARTITION BY customer_id ORDER BY occurred_at) AS valid_to, status \
               FROM consent_events WHERE purpose = 'marketing') \
             SELECT c.segment, CAST(COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.customer_id AND o.ordered_at >= c.signed_up_at AND o.ordered_at <= c.signed_up_at + INTERVAL 7 DAY \
                 AND EXISTS (SELECT 1 FROM k WHERE k.subject = o.customer_id AND k.status = 'granted' AND k.valid_from <= o.ordered_at AND (k.valid_to IS NULL OR k.valid_to > o.ordered_at)))) AS DOUBLE) / COUNT(*) \
             FROM customers c WHERE c.is_test = false AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE e.customer_id = c.customer_id) \
               AND EXISTS (SELECT 1 FROM k WHERE k.subject = c.customer_id AND k.status = 'granted' AND k.valid_from <= c.signed_up_at AND (k.valid_to IS NULL OR k.valid_to > c.signed_up_at)) GROUP BY 1 ORDER BY 1",
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
    let data = generate(&DemoConfig { scale, seed: 42 });
    eprintln!("demo scale {scale}: {} events", data.events.len());
    rt.block_on(wh.load_demo(&data)).expect("load");
    drop(data);
    let catalog = accord::definitions::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
    )
    .expect("defs");
    let mut g = c.benchmark_group("time_intelligence");
    g.sample_size(10);
    for (name, query, hand) in cases() {
        let sql = common::duckdb_sql(&catalog, &query);
        let a = rt
            .block_on(wh.query(&sql, usize::MAX))
            .expect("accord SQL runs");
        let b = rt
            .block_on(wh.query(hand, usize::MAX))
            .expect("hand SQL runs");
        assert_eq!(a.rows.len(), b.rows.len(), "{name}: same number of rows");
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

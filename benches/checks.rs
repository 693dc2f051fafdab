//! The demo checks as accord runs them (one aggregate query per model with
//! checks, one per anomaly check: 4 queries for 11 checks) against the
//! baseline a hand-written check suite would issue: one query per check.
//!
//! Run: `cargo bench --bench checks --profile dev`; `ACCORD_BENCH_SCALE`
//! (default 500 ≈ 5M events) sizes the data. Both sides run on the same
//! DuckDB file in the same run.

use std::path::PathBuf;

use accord::demo::faults::DEMO_NOW;
use accord::demo::{DemoConfig, generate};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

/// One hand-written query per demo check (metric_defs/checks/quality.yml),
/// as of 2026-01-01.
const PER_CHECK: &[&str] = &[
    "SELECT MAX(occurred_at) FROM events WHERE occurred_at < TIMESTAMP '2026-01-01'",
    "SELECT MAX(started_at) FROM sessions WHERE started_at < TIMESTAMP '2026-01-01'",
    "SELECT MAX(ordered_at) FROM orders WHERE ordered_at < TIMESTAMP '2026-01-01'",
    "SELECT CAST(started_at AS DATE) AS d, COUNT(*) FROM sessions WHERE started_at >= TIMESTAMP '2025-12-03' AND started_at < TIMESTAMP '2026-01-01' GROUP BY 1",
    "SELECT CAST(ordered_at AS DATE) AS d, COUNT(*) FROM orders WHERE ordered_at >= TIMESTAMP '2025-12-03' AND ordered_at < TIMESTAMP '2026-01-01' GROUP BY 1",
    "SELECT COUNT(*), COUNT(*) FILTER (WHERE session_id IS NULL) FROM orders WHERE channel <> 'phone' AND ordered_at < TIMESTAMP '2026-01-01'",
    "SELECT COUNT(*) FROM orders o WHERE o.ordered_at < TIMESTAMP '2026-01-01' AND NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = o.customer_id)",
    "SELECT COUNT(*) FROM events e WHERE e.occurred_at < TIMESTAMP '2026-01-01' AND e.session_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = e.session_id)",
    "SELECT COUNT(*) FROM orders WHERE ordered_at < TIMESTAMP '2026-01-01' AND status NOT IN ('completed', 'refunded', 'cancelled')",
    "SELECT COUNT(*) FROM orders WHERE ordered_at < TIMESTAMP '2026-01-01' AND channel NOT IN ('web', 'mobile_app', 'phone')",
    "SELECT CAST(ordered_at AS DATE), COUNT(*) FROM orders o WHERE status <> 'cancelled' AND NOT EXISTS (SELECT 1 FROM erasure_requests r WHERE r.customer_id = o.customer_id) AND ordered_at >= TIMESTAMP '2025-12-03' AND ordered_at < TIMESTAMP '2026-01-01' GROUP BY 1",
];

fn bench(c: &mut Criterion) {
    let common::Bench {
        rt,
        wh,
        scale,
        _dir,
    } = common::duckdb();
    let data = generate(&DemoConfig { scale, seed: 42 });
    rt.block_on(wh.load_demo(&data)).expect("load");
    eprintln!("demo scale {scale}: {} events", data.events.len());
    drop(data);

    let catalog = accord::definitions::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
    )
    .expect("defs");
    let now = accord::checks::parse_now(DEMO_NOW).expect("now");
    let run = rt.block_on(accord::checks::run_checks(&catalog, &wh, now));
    assert_eq!(
        run.checks.len(),
        PER_CHECK.len(),
        "one baseline query per check"
    );
    assert!(!run.failed_blocking(), "the clean demo passes");
    for sql in PER_CHECK {
        rt.block_on(wh.query(sql, usize::MAX))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut g = c.benchmark_group("checks_duckdb");
    g.sample_size(10);
    g.bench_function("all_checks/accord_one_query_per_model", |b| {
        b.iter(|| rt.block_on(accord::checks::run_checks(&catalog, &wh, now)))
    });
    g.bench_function("all_checks/hand_written_one_query_per_check", |b| {
        b.iter(|| {
            for sql in PER_CHECK {
                rt.block_on(wh.query(sql, usize::MAX)).expect("runs");
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Stitched measures by a customer dimension: accord's SQL (the customer
//! joined through each row's person) against a hand-written query that
//! joins the same way, and against the plain join through the row's own
//! customer column (what a stitched scan did before it followed the
//! person, and what a plain measure does), on the embedded DuckDB demo.
//!
//! Run: `ACCORD_BENCH_SCALE=100 cargo bench --bench stitched --profile dev`.

use std::path::PathBuf;

use accord::demo::{DemoConfig, generate};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

/// The person behind a row through the map `m`, as an analyst writes it.
fn person(m: &str, own: &str) -> String {
    format!(
        "CASE WHEN {m}.canonical_id IS NULL THEN TRIM(CAST({own} AS VARCHAR)) \
         WHEN {m}.canonical_type = 'customer_id' THEN {m}.canonical_id \
         ELSE {m}.canonical_type || ':' || {m}.canonical_id END"
    )
}

/// Credited sessions by region; `follow`: customers joined on the person's
/// customer, else on the session's own customer column.
fn hand(follow: bool) -> String {
    let join = if follow {
        "LEFT JOIN customers c ON CAST(c.customer_id AS VARCHAR) = CASE \
           WHEN m.canonical_id IS NULL THEN CAST(s.customer_id AS VARCHAR) \
           WHEN m.canonical_type = 'customer_id' THEN m.canonical_id END"
    } else {
        "LEFT JOIN customers c ON c.customer_id = s.customer_id"
    };
    format!(
        "SELECT c.region, COUNT(*) FILTER (WHERE m.canonical_type = 'customer_id') \
         FROM sessions s \
         LEFT JOIN accord_identity_map m ON m.identifier_type = 'anonymous_id' \
           AND m.identifier = LOWER(TRIM(s.anonymous_id)) \
         {join} \
         WHERE NOT EXISTS (SELECT 1 FROM erasure_requests e \
           LEFT JOIN accord_identity_map me ON me.identifier_type = 'customer_id' \
             AND me.identifier = TRIM(CAST(e.customer_id AS VARCHAR)) \
           WHERE {} = {}) \
         GROUP BY 1 ORDER BY 1 NULLS LAST",
        person("me", "e.customer_id"),
        person("m", "s.customer_id"),
    )
}

fn bench(c: &mut Criterion) {
    let bench = common::duckdb();
    let (rt, wh, scale) = (&bench.rt, &bench.wh, bench.scale);
    let data = generate(&DemoConfig { scale, seed: 42 });
    eprintln!(
        "demo scale {scale}: {} sessions, {} customers",
        data.sessions.len(),
        data.customers.len()
    );
    rt.block_on(wh.load_demo(&data)).expect("load");
    drop(data);
    let catalog = accord::definitions::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
    )
    .expect("defs");
    bench.build_identity(&catalog);
    let query = serde_json::from_value(serde_json::json!({
        "metrics": ["credited_sessions"],
        "dimensions": ["customers.region"],
    }))
    .expect("query");
    let sql = common::duckdb_sql(&catalog, &query);
    let (followed, plain) = (hand(true), hand(false));
    // The same answer as the hand-written twin: a mismatch is a bench bug.
    let a = rt.block_on(wh.query(&sql, usize::MAX)).expect("accord SQL");
    let b = rt
        .block_on(wh.query(&followed, usize::MAX))
        .expect("hand SQL");
    let cells = |r: &accord::warehouse::ResultSet| -> Vec<Vec<String>> {
        r.rows
            .iter()
            .map(|row| row.iter().map(|v| v.to_text()).collect())
            .collect()
    };
    assert_eq!(
        cells(&a),
        cells(&b),
        "accord and the hand-written twin agree"
    );
    let mut g = c.benchmark_group("stitched_by_customer_dimension");
    g.sample_size(10);
    g.bench_function("credited_sessions_by_region/accord", |bch| {
        bch.iter(|| rt.block_on(wh.query(&sql, usize::MAX)).expect("runs"))
    });
    g.bench_function("credited_sessions_by_region/hand_written", |bch| {
        bch.iter(|| rt.block_on(wh.query(&followed, usize::MAX)).expect("runs"))
    });
    g.bench_function(
        "credited_sessions_by_region/hand_written_own_key_join",
        |bch| bch.iter(|| rt.block_on(wh.query(&plain, usize::MAX)).expect("runs")),
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

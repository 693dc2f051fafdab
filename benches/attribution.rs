//! Attribution: each demo instance's compiled SQL against a hand-written
//! query for the same credit by channel, on the embedded DuckDB demo
//! warehouse at ~5M events.
//!
//! Run: `cargo bench --bench attribution --profile dev` (the DuckDB build the
//! tests compiled; both sides of each ratio run on the same build, in the
//! same run). `ACCORD_BENCH_SCALE` (default 500 ≈ 5M events) sizes the data.
//!
//! The hand-written twins are what an analyst would write: the same paths
//! (people through the identity map, suppression list, 30-day window,
//! direct handling, the same numbering),
//! but shares multiplied straight into the amount, without accord's exact
//! cumulative rounding; the ratio is the price of exactness and generality.

use std::path::PathBuf;
use std::time::Instant;

use accord::demo::{DemoConfig, generate};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

/// The person behind a row, through the identity map, as a hand-written
/// query would read it: `{m}` is the map's alias, `{own}` the row's own
/// customer column.
fn person(m: &str, own: &str) -> String {
    format!(
        "CASE WHEN {m}.canonical_id IS NULL THEN CAST({own} AS VARCHAR) \
         WHEN {m}.canonical_type = 'customer_id' THEN {m}.canonical_id \
         ELSE {m}.canonical_type || ':' || {m}.canonical_id END"
    )
}

/// The numbered paths every hand-written query starts from: conversions
/// and touches of people (the demo instances are stitched), erased people
/// left out.
fn paths(stitched: bool) -> String {
    let (conv_person, conv_join, touch_person, touch_join) = if stitched {
        (
            person("mc", "o.customer_id"),
            "LEFT JOIN accord_identity_map mc ON mc.identifier_type = 'customer_id' \
             AND mc.identifier = CAST(o.customer_id AS VARCHAR)",
            person("mt", "m.customer_id"),
            "LEFT JOIN accord_identity_map mt ON mt.identifier_type = 'anonymous_id' \
             AND mt.identifier = LOWER(TRIM(m.anonymous_id))",
        )
    } else {
        (
            "CAST(o.customer_id AS VARCHAR)".to_string(),
            "",
            "CAST(m.customer_id AS VARCHAR)".to_string(),
            "",
        )
    };
    format!(
        "WITH conv AS (
  SELECT order_id, {conv_person} AS person, ordered_at, amount FROM orders o {conv_join}
  WHERE status <> 'cancelled'
), c AS (
  SELECT * FROM conv WHERE NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE CAST(e.customer_id AS VARCHAR) = conv.person)
), touch AS (
  SELECT touch_id, {touch_person} AS person, touched_at, channel FROM marketing_touches m {touch_join}
), t AS (
  SELECT * FROM touch WHERE person IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM erasure_requests e WHERE CAST(e.customer_id AS VARCHAR) = touch.person)
), p AS (
  SELECT c.order_id, c.amount, t.touch_id, t.touched_at, t.channel,
    SUM(CASE WHEN t.touch_id IS NOT NULL AND (t.channel IS NULL OR t.channel <> 'direct') THEN 1 ELSE 0 END)
      OVER (PARTITION BY c.order_id) AS non_direct
  FROM c LEFT JOIN t ON t.person = c.person
    AND t.touched_at <= c.ordered_at AND t.touched_at >= c.ordered_at - INTERVAL 30 DAY
), k AS (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY touched_at, touch_id) AS pos,
    COUNT(touch_id) OVER (PARTITION BY order_id) AS n
  FROM p WHERE channel IS DISTINCT FROM 'direct' OR non_direct = 0
)"
    )
}

fn hand(instance: &str, stitched: bool) -> String {
    let paths = paths(stitched);
    let paths = paths.as_str();
    let label = "CASE WHEN n = 0 THEN '(unattributed)' ELSE channel END";
    match instance {
        "first_touch_30d" => {
            format!("{paths} SELECT {label}, SUM(amount) FROM k WHERE pos = 1 GROUP BY 1 ORDER BY 1")
        }
        "last_touch_30d" | "last_non_direct_30d" => format!(
            "{paths} SELECT {label}, SUM(amount) FROM k WHERE n = 0 OR pos = n GROUP BY 1 ORDER BY 1"
        ),
        "linear_30d" => format!(
            "{paths} SELECT {label}, SUM(CASE WHEN n = 0 THEN amount ELSE amount / n END) FROM k GROUP BY 1 ORDER BY 1"
        ),
        "position_based_30d" => format!(
            "{paths} SELECT {label}, SUM(amount * CASE WHEN n <= 1 THEN 1 WHEN n = 2 THEN 0.5 \
             WHEN pos = 1 OR pos = n THEN 0.4 ELSE 0.2 / (n - 2) END) FROM k GROUP BY 1 ORDER BY 1"
        ),
        "time_decay_30d" => format!(
            "{paths}, r AS (
  SELECT *, pos - GREATEST(n - 10, 0) AS pos10 FROM k WHERE pos > n - 10
), w AS (
  SELECT *, POWER(2, -(MAX(epoch(touched_at)) OVER (PARTITION BY order_id) - epoch(touched_at)) / (7 * 86400.0)) AS weight FROM r
), s AS (
  SELECT *, weight / SUM(weight) OVER (PARTITION BY order_id) AS share FROM w
)
SELECT {label}, SUM(CASE WHEN n = 0 THEN amount ELSE amount * share END) FROM s GROUP BY 1 ORDER BY 1"
        ),
        other => panic!("no hand-written query for {other}"),
    }
}

const INSTANCES: [&str; 6] = [
    "first_touch_30d",
    "last_touch_30d",
    "last_non_direct_30d",
    "linear_30d",
    "position_based_30d",
    "time_decay_30d",
];

fn bench(c: &mut Criterion) {
    let bench = common::duckdb();
    let (rt, wh, scale) = (&bench.rt, &bench.wh, bench.scale);
    let started = Instant::now();
    let data = generate(&DemoConfig { scale, seed: 42 });
    let stats = rt.block_on(wh.load_demo(&data)).expect("load");
    eprintln!(
        "demo scale {scale}: {} events, {} orders, {} touches; generated and loaded in {:.2?}",
        data.events.len(),
        data.orders.len(),
        data.marketing_touches.len(),
        started.elapsed()
    );
    drop(data);
    let _ = stats;

    let catalog = accord::definitions::load_dir(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
    )
    .expect("defs");
    // The demo instances are stitched: they read the identity map.
    let report = bench.build_identity(&catalog);
    eprintln!(
        "identity map: {} identifiers in {} ms",
        report.identifiers, report.duration_ms
    );
    let mut g = c.benchmark_group("attribution_duckdb");
    g.sample_size(10);
    for instance in INSTANCES {
        let query = serde_json::from_value(serde_json::json!({
            "metrics": ["revenue"],
            "attribution": instance,
            "dimensions": ["channel"],
        }))
        .expect("query");
        let sql = common::duckdb_sql(&catalog, &query);
        let hand = hand(instance, true);
        // Both must answer the same groups: a mismatch is a bench bug.
        let a = rt
            .block_on(wh.query(&sql, usize::MAX))
            .expect("accord SQL runs");
        let b = rt
            .block_on(wh.query(&hand, usize::MAX))
            .unwrap_or_else(|e| panic!("hand SQL for {instance} runs: {e}"));
        assert_eq!(a.rows.len(), b.rows.len(), "{instance}: same groups");
        g.bench_function(format!("{instance}/accord"), |bch| {
            bch.iter(|| rt.block_on(wh.query(&sql, usize::MAX)).expect("runs"))
        });
        g.bench_function(format!("{instance}/hand_written"), |bch| {
            bch.iter(|| rt.block_on(wh.query(&hand, usize::MAX)).expect("runs"))
        });
    }
    // What stitching costs: the same hand-written first touch by the
    // touch rows' own customer column.
    let plain = hand("first_touch_30d", false);
    g.bench_function("first_touch_30d/hand_written_unstitched", |bch| {
        bch.iter(|| rt.block_on(wh.query(&plain, usize::MAX)).expect("runs"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

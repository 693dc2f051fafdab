//! Identity build time on the embedded DuckDB demo warehouse at two sizes
//! (default scale 100 ≈ 1M events and 1000 ≈ 10M events), its growth, and a
//! baseline measured in the same run: a hand-written scan that reads every
//! edge source once and groups the identifier pairs (the least any build
//! must do). Also, in the same run, a re-run with nothing new (a no-op:
//! the input fingerprints are unchanged) and a re-run after one new
//! customer (incremental), which is what a re-run cost before no-op
//! detection.
//!
//! Run: `cargo bench --bench identity --profile dev`
//! (`ACCORD_BENCH_SCALES=100,1000`, `ACCORD_BENCH_RUNS=3`).

use std::time::{Duration, Instant};

use accord::demo::{DemoConfig, generate};
use accord::identity::{self, BuildOptions};
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};

const BASELINE: &str = "
SELECT a_type, a_value, b_type, b_value, MIN(t), MAX(t), COUNT(*) FROM (
  SELECT 'customer_id' a_type, CAST(customer_id AS VARCHAR) a_value, NULL b_type, NULL b_value, signed_up_at t FROM customers
  UNION ALL SELECT 'anonymous_id', anonymous_id, 'customer_id', CAST(customer_id AS VARCHAR), linked_at FROM identity_links
  UNION ALL SELECT 'device_id', device_id, 'customer_id', CAST(customer_id AS VARCHAR), first_seen_at FROM devices
  UNION ALL SELECT 'anonymous_id', anonymous_id, 'device_id', device_id, started_at FROM sessions
  UNION ALL SELECT 'anonymous_id', anonymous_id, 'customer_id', CAST(customer_id AS VARCHAR), started_at FROM sessions
  UNION ALL SELECT 'anonymous_id', anonymous_id, 'customer_id', CAST(customer_id AS VARCHAR), occurred_at FROM events
  UNION ALL SELECT 'anonymous_id', anonymous_id, 'customer_id', CAST(customer_id AS VARCHAR), touched_at FROM marketing_touches
) u GROUP BY 1, 2, 3, 4";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let scales: Vec<u32> = std::env::var("ACCORD_BENCH_SCALES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("ACCORD_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let catalog = accord::definitions::load_dir(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/metric_defs"
    )))
    .expect("demo definitions");
    let mut results = Vec::new();
    for scale in scales {
        let dir = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let data = generate(&DemoConfig { scale, seed: 42 });
        let events = data.events.len();
        let generated = started.elapsed();
        let url: WarehouseUrl = format!("duckdb://{}", dir.path().join("bench.duckdb").display())
            .parse()
            .expect("url");
        let options = WarehouseOptions {
            query_timeout: Duration::from_secs(3600),
            ..Default::default()
        };
        let (baseline, full, noop, incremental, report) = rt.block_on(async {
            let wh = Warehouse::connect(&url, options).await.expect("open");
            wh.load_demo(&data).await.expect("load");
            drop(data);
            let mut baseline = Vec::new();
            let mut full = Vec::new();
            let mut noop = Vec::new();
            let mut incremental = Vec::new();
            let mut report = None;
            for _ in 0..runs {
                let t = Instant::now();
                wh.query(BASELINE, 1).await.expect("baseline");
                baseline.push(t.elapsed());
                let t = Instant::now();
                let r = identity::build(
                    &catalog,
                    &wh,
                    &BuildOptions {
                        full: true,
                        now: None,
                    },
                )
                .await
                .expect("full build");
                full.push(t.elapsed());
                let t = Instant::now();
                let n = identity::build(&catalog, &wh, &BuildOptions::default())
                    .await
                    .expect("no-op build");
                noop.push(t.elapsed());
                assert_eq!(n.mode, identity::BuildMode::Noop);
                // One new customer: an incremental run with one new
                // identifier.
                wh.query(
                    &format!(
                        "INSERT INTO customers SELECT customer_id + {}, account_id, email, country, region, segment, acquisition_channel, signed_up_at, is_test FROM customers WHERE customer_id = 1",
                        1_000_000_000 + incremental.len()
                    ),
                    1,
                )
                .await
                .expect("new customer");
                let t = Instant::now();
                let i = identity::build(&catalog, &wh, &BuildOptions::default())
                    .await
                    .expect("incremental build");
                incremental.push(t.elapsed());
                // It recomputes the new customer and, as every incremental
                // run does, the erased subjects' links.
                assert_eq!(i.mode, identity::BuildMode::Incremental);
                report = Some(r);
            }
            (
                median(baseline),
                median(full),
                median(noop),
                median(incremental),
                report.expect("ran"),
            )
        });
        println!(
            "scale {scale}: {events} events (generated in {generated:.1?}); baseline scan {baseline:.2?}; full build {full:.2?} ({:.1}x baseline, {} rounds, {} identifiers, {} clusters, {} edges); no-op re-run {noop:.3?} ({:.4} of the full build); incremental re-run after one new customer {incremental:.2?} ({:.2} of the full build)",
            full.as_secs_f64() / baseline.as_secs_f64(),
            report.iterations,
            report.identifiers,
            report.clusters,
            report.edges,
            noop.as_secs_f64() / full.as_secs_f64(),
            incremental.as_secs_f64() / full.as_secs_f64(),
        );
        results.push((scale, events, baseline, full));
    }
    if let [(s1, e1, b1, f1), (s2, e2, b2, f2)] = results.as_slice() {
        println!(
            "growth scale {s1} -> {s2} ({:.1}x events): full build {:.1}x, baseline {:.1}x",
            *e2 as f64 / *e1 as f64,
            f2.as_secs_f64() / f1.as_secs_f64(),
            b2.as_secs_f64() / b1.as_secs_f64()
        );
    }
}

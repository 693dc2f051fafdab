//! A cached GraphQL query against the same cached REST query, both through
//! a real `accord serve` over loopback, in the same run: what the GraphQL
//! layer (parsing, validation, schema lookup, selection → semantic query,
//! row objects) costs on top of REST when the answer comes from the cache.
//!
//! Run: `cargo bench --bench graphql --profile dev`. Both requests compile
//! to the same SQL and so share one result-cache entry; the run prints each
//! side's mean latency and the ratio.

use std::time::{Duration, Instant};

use accord::demo::{DemoConfig, generate};
use accord::server::ServeConfig;
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

/// (name, REST body, the same question in GraphQL): a dashboard table of
/// 44 rows × 4 fields, and a single number.
const CASES: [(&str, &str, &str); 2] = [
    (
        "region_by_month",
        r#"{"metrics": ["revenue", "orders"], "dimensions": ["customers.region", "metric_time:month"]}"#,
        "{ orders { customers__region metricTime(granularity: MONTH) revenue orders } }",
    ),
    (
        "total",
        r#"{"metrics": ["revenue"]}"#,
        "{ orders { revenue } }",
    ),
];

struct Setup {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    _running: accord::server::Running,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let url: WarehouseUrl = format!("duckdb://{}", dir.path().join("demo.duckdb").display())
        .parse()
        .expect("url");
    let running = rt.block_on(async {
        // One DuckDB instance per file per process: load, close, then serve.
        let wh = Warehouse::connect(&url, WarehouseOptions::default())
            .await
            .expect("open DuckDB");
        wh.load_demo(&generate(&DemoConfig { scale: 1, seed: 42 }))
            .await
            .expect("load the demo data");
        drop(wh);
        let defs = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs");
        let mut config = ServeConfig::for_tests(&defs, url);
        config.reload = false;
        accord::server::start(config)
            .await
            .expect("start the server")
    });
    let base = format!("http://{}", running.addr);
    Setup {
        rt,
        client: reqwest::Client::new(),
        base,
        _running: running,
        _dir: dir,
    }
}

async fn rest(s: &Setup, body: &'static str) -> Value {
    let r = s
        .client
        .post(format!("{}/v1/query", s.base))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("REST request");
    assert_eq!(r.status(), 200);
    r.json().await.expect("REST JSON")
}

async fn graphql(s: &Setup, query: &str) -> Value {
    let r = s
        .client
        .post(format!("{}/graphql", s.base))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("GraphQL request");
    assert_eq!(r.status(), 200);
    r.json().await.expect("GraphQL JSON")
}

fn mean_micros(s: &Setup, n: usize, case: (&str, &'static str, &str), graphql_side: bool) -> f64 {
    let started = Instant::now();
    s.rt.block_on(async {
        for _ in 0..n {
            if graphql_side {
                graphql(s, case.2).await;
            } else {
                rest(s, case.1).await;
            }
        }
    });
    started.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut report = Vec::new();
    for case in CASES {
        let (name, body, query) = case;
        // Warm the cache (and the GraphQL schema), and check both agree.
        let (r, g) =
            s.rt.block_on(async { (rest(&s, body).await, graphql(&s, query).await) });
        assert!(g.get("errors").is_none(), "{g:#}");
        let rows = r["rows"].as_array().expect("rows").len();
        assert_eq!(g["data"]["orders"].as_array().expect("rows").len(), rows);
        let g2 = s.rt.block_on(graphql(&s, query));
        assert_eq!(g2["extensions"]["cache"]["orders"], "hit", "{g2:#}");
        assert_eq!(
            s.rt.block_on(rest(&s, body))["meta"]["cache"],
            "hit",
            "REST answers from the cache"
        );

        let mut group = c.benchmark_group(format!("cached_{name}"));
        group
            .sample_size(30)
            .measurement_time(Duration::from_secs(4));
        group.bench_function("rest", |b| b.iter(|| s.rt.block_on(rest(&s, body))));
        group.bench_function("graphql", |b| b.iter(|| s.rt.block_on(graphql(&s, query))));
        group.finish();

        // The same comparison, interleaved, with the numbers side by side.
        let n = 300;
        let (mut rest_us, mut gql_us) = (0.0, 0.0);
        for _ in 0..3 {
            rest_us += mean_micros(&s, n, case, false);
            gql_us += mean_micros(&s, n, case, true);
        }
        report.push((name, rows, rest_us / 3.0, gql_us / 3.0));
    }
    println!();
    for (name, rows, rest_us, gql_us) in report {
        println!(
            "cached {name} ({rows} rows) over loopback: REST {rest_us:.0} µs/request, \
             GraphQL {gql_us:.0} µs/request, GraphQL/REST = {:.2}x",
            gql_us / rest_us
        );
    }
    println!();
}

criterion_group!(benches, bench);
criterion_main!(benches);

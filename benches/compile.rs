//! Compile latency and catalog load time.
//!
//! Run: `cargo bench --bench compile --no-default-features` (the compiler
//! needs no warehouse, so DuckDB is left out of the release build).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use accord::definitions::{SourceFile, load_dir, load_files};
use accord::dialect::DialectKind;
use accord::planner;
use accord::query::SemanticQuery;
use criterion::{Criterion, criterion_group, criterion_main};

fn q(v: serde_json::Value) -> SemanticQuery {
    serde_json::from_value(v).expect("valid query")
}

/// A synthetic catalog: `models` models in a chain of many-to-one links
/// (each model points at the two before it), five dimensions and five
/// measures each, and `metrics` metrics (simple, ratio and derived mixed).
pub fn generated_catalog(models: usize, metrics: usize) -> Vec<SourceFile> {
    let mut files = Vec::new();
    for chunk in 0..models.div_ceil(20) {
        let mut y = String::from("models:\n");
        for i in chunk * 20..((chunk + 1) * 20).min(models) {
            y.push_str(&format!("  - name: m{i}\n    owner: team{}\n    description: Model {i}\n    source: {{table: t{i}}}\n    entities:\n      - {{name: e{i}, type: primary, expr: id}}\n", i % 7));
            for back in [1, 2] {
                if i >= back {
                    y.push_str(&format!(
                        "      - {{name: e{}, type: foreign, expr: e{}_id}}\n",
                        i - back,
                        i - back
                    ));
                }
            }
            y.push_str(
                "    dimensions:\n      - {name: created_at, type: time, granularity: day}\n",
            );
            for d in 0..4 {
                y.push_str(&format!("      - {{name: d{d}, type: categorical}}\n"));
            }
            y.push_str("    measures:\n");
            for m in 0..5 {
                let agg = ["sum", "count", "count_distinct", "avg", "max"][m];
                y.push_str(&format!("      - {{name: x{m}, agg: {agg}, expr: v{m}}}\n"));
            }
        }
        files.push(SourceFile {
            path: format!("models_{chunk}.yml"),
            text: y,
        });
    }
    let mut y = String::from("metrics:\n");
    for k in 0..metrics {
        let model = k % models;
        let measure = (k / models) % 5;
        match k % 10 {
            8 if k >= 2 => y.push_str(&format!("  - {{name: k{k}, type: ratio, numerator: k{}, denominator: k{}, owner: a, description: r}}\n", k - 1, k - 2)),
            9 if k >= 2 => y.push_str(&format!("  - {{name: k{k}, type: derived, expr: \"k{} - k{}\", owner: a, description: d}}\n", k - 3, k - 2)),
            _ => y.push_str(&format!("  - {{name: k{k}, type: simple, measure: m{model}.x{measure}, filter: \"m{model}.d0 <> 'x'\", owner: a, description: s}}\n")),
        }
    }
    files.push(SourceFile {
        path: "metrics.yml".into(),
        text: y,
    });
    files
}

fn bench(c: &mut Criterion) {
    let demo = load_dir(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"))
        .expect("demo defs");
    let simple =
        q(serde_json::json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"]}));
    let three_model = q(
        serde_json::json!({"metrics": ["units_sold", "revenue", "sessions"], "dimensions": ["accounts.plan", "metric_time:month"], "filters": [{"dimension": "customers.region", "op": "eq", "values": ["EU"]}]}),
    );

    let files = generated_catalog(200, 1000);
    let started = Instant::now();
    let big = load_files(&files).expect("generated catalog validates");
    eprintln!(
        "one-off load+validate of 1,000 metrics / 200 models: {:?}",
        started.elapsed()
    );
    assert_eq!(big.metrics.len(), 1000);
    // Three metrics on m197..m199 grouped by a dimension two joins away.
    let big_query = q(
        serde_json::json!({"metrics": ["k997", "k998", "k999"], "dimensions": ["m195.d1", "metric_time:week"]}),
    );

    let mut g = c.benchmark_group("compile");
    g.bench_function("simple_query_demo_catalog", |b| {
        b.iter(|| {
            planner::compile(
                black_box(&demo),
                black_box(&simple),
                &accord::access::Caller::operator(),
                DialectKind::Duckdb,
            )
            .expect("compiles")
        })
    });
    g.bench_function("three_model_join_demo_catalog", |b| {
        b.iter(|| {
            planner::compile(
                black_box(&demo),
                black_box(&three_model),
                &accord::access::Caller::operator(),
                DialectKind::Postgres,
            )
            .expect("compiles")
        })
    });
    let small_twin = q(serde_json::json!({"metrics": ["k7"], "dimensions": ["m7.d1"]}));
    let small_catalog = load_files(&generated_catalog(10, 50)).expect("small generated catalog");
    g.bench_function("simple_query_generated_10_models", |b| {
        b.iter(|| {
            planner::compile(
                black_box(&small_catalog),
                black_box(&small_twin),
                &accord::access::Caller::operator(),
                DialectKind::Duckdb,
            )
            .expect("compiles")
        })
    });
    g.bench_function("simple_query_generated_200_models_1000_metrics", |b| {
        b.iter(|| {
            planner::compile(
                black_box(&big),
                black_box(&small_twin),
                &accord::access::Caller::operator(),
                DialectKind::Duckdb,
            )
            .expect("compiles")
        })
    });
    g.bench_function("multi_model_query_generated_200_models", |b| {
        b.iter(|| {
            planner::compile(
                black_box(&big),
                black_box(&big_query),
                &accord::access::Caller::operator(),
                DialectKind::Snowflake,
            )
            .expect("compiles")
        })
    });
    g.finish();

    // The same query with and without access policies and consent.
    let mut g = c.benchmark_group("policies");
    let policy_query = q(
        serde_json::json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.region", "metric_time:year"]}),
    );
    let operator = accord::access::Caller::operator();
    let mut eu = accord::access::Caller::with_roles(&["marketing_eu"]);
    eu.purpose = Some("marketing".into());
    let partner = accord::access::Caller::with_roles(&["partner"]);
    let mut regional = accord::access::Caller::with_roles(&["regional_manager"]);
    regional
        .claims
        .insert("region".into(), serde_json::json!("EU"));
    for (name, caller) in [
        ("without_policies", &operator),
        ("row_filter_and_consent", &eu),
        ("min_group_size", &partner),
        ("claim_row_filter", &regional),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                planner::compile(
                    black_box(&demo),
                    black_box(&policy_query),
                    caller,
                    DialectKind::Postgres,
                )
                .expect("compiles")
            })
        });
    }
    g.finish();
    protections(c, &demo, &operator, &partner);

    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("load_validate_1000_metrics_200_models", |b| {
        b.iter(|| load_files(black_box(&files)).expect("validates"))
    });
    g.bench_function("load_validate_demo", |b| {
        let demo_files = accord::definitions::read_dir(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs"),
        )
        .expect("read");
        b.iter(|| load_files(black_box(&demo_files)).expect("validates"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

/// Compile (plan + render the executed SQL) with the security issue's
/// protections against the same question without them, in one run: the
/// k-anonymity cells of a `min_group_size` role, and a keyed HMAC mask.
fn protections(
    c: &mut Criterion,
    demo: &accord::catalog::Catalog,
    operator: &accord::access::Caller,
    partner: &accord::access::Caller,
) {
    let key = accord::masking::MaskKey::dev();
    let compile = |query: &SemanticQuery, caller: &accord::access::Caller| {
        planner::plan(demo, query, caller)
            .expect("plans")
            .render_for_execution(DialectKind::Postgres, Some(&key))
            .expect("renders")
    };
    let mut g = c.benchmark_group("protections");
    let by_region = q(
        serde_json::json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.region", "metric_time:year"]}),
    );
    let analyst = accord::access::Caller::with_roles(&["analyst"]);
    let by_email = q(serde_json::json!({"metrics": ["orders"], "dimensions": ["customers.email"]}));
    for (name, query, caller) in [
        ("region_year_without", &by_region, operator),
        ("region_year_k_anonymity_cells", &by_region, partner),
        ("email_without_mask", &by_email, operator),
        ("email_hmac_mask", &by_email, &analyst),
    ] {
        g.bench_function(name, |b| b.iter(|| compile(black_box(query), caller)));
    }
    g.finish();
}

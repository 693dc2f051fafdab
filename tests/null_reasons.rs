//! Why a metric is NULL (issue "Papercuts", item 6): every answer counts,
//! per metric and rule, the NULL values a zero denominator, rows missing
//! from a group (a metric's filter, another model's groups), a gap-filled
//! period or the inputs explain — counts, never rows — on every executed
//! engine, and REST (`meta.nulls`, `meta.warnings`) and GraphQL
//! (`extensions.nulls`, `extensions.warnings`) carry them.
//!
//! Hand fixture, expectations worked out from the rows below:
//!
//! | regions.name | revenue | web_orders | orders | pageviews | orders_per_pageview |
//! |--------|---------|------------|--------|-----------|---------------------|
//! | APAC   | 30      | NULL (no web order) | 1 | 0   | NULL (0 pageviews)  |
//! | EU     | 170     | 2          | 3      | 8         | 0.375               |
//! | LATAM  | NULL (no order) | NULL | NULL | 2         | NULL (no order)     |
//! | NA     | 70      | NULL (no web order) | 1 | NULL (no session) | NULL |

mod common;

#[path = "common/http.rs"]
mod http;

use std::sync::Arc;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::execute;
use accord::nulls::NullCount;
use accord::planner::NullRule;
use accord::warehouse::Warehouse;
use common::q;
use serde_json::{Value as Json, json};

const DEFS: &str = "models:
  - name: regions
    source:
      table: regions
    entities:
      - name: region
        type: primary
        expr: region
    dimensions:
      - name: name
        type: categorical
        expr: region
  - name: orders
    source:
      table: orders
    entities:
      - name: order
        type: primary
        expr: order_id
      - name: region
        type: foreign
        expr: region
    dimensions:
      - name: channel
        type: categorical
      - name: ordered_at
        type: time
        granularity: day
    defaults:
      agg_time_dimension: ordered_at
    measures:
      - name: amount
        agg: sum
      - name: order_count
        agg: count
  - name: sessions
    source:
      table: sessions
    entities:
      - name: session
        type: primary
        expr: session_id
      - name: region
        type: foreign
        expr: region
    dimensions:
      - name: started_at
        type: time
        granularity: day
    defaults:
      agg_time_dimension: started_at
    measures:
      - name: pageviews
        agg: sum
metrics:
  - name: revenue
    type: simple
    measure: orders.amount
  - name: orders
    type: simple
    measure: orders.order_count
  - name: web_orders
    type: simple
    measure: orders.order_count
    filter: \"orders.channel = 'web'\"
  - name: pageviews
    type: simple
    measure: sessions.pageviews
  - name: orders_per_pageview
    type: ratio
    numerator: orders
    denominator: pageviews
  - name: revenue_prev_month
    type: derived
    expr: revenue_before
    inputs:
      - metric: revenue
        alias: revenue_before
        offset_window: 1 month
roles:
  - name: admin
  - name: web_only
    row_filters:
      - model: orders
        filter: \"channel = 'web'\"
";

fn fixture_sql(ts: &str) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE orders (order_id INTEGER, region VARCHAR(10), channel VARCHAR(10), ordered_at {ts}, amount INTEGER)"
        ),
        "INSERT INTO orders VALUES \
         (1, 'EU', 'web', '2025-01-10 10:00:00', 100), \
         (2, 'EU', 'app', '2025-01-20 10:00:00', 50), \
         (3, 'NA', 'app', '2025-01-15 10:00:00', 70), \
         (4, 'APAC', 'app', '2025-01-05 10:00:00', 30), \
         (5, 'EU', 'web', '2025-03-02 10:00:00', 20)"
            .to_string(),
        "CREATE TABLE regions (region VARCHAR(10))".to_string(),
        "INSERT INTO regions VALUES ('APAC'), ('EU'), ('LATAM'), ('NA')".to_string(),
        format!(
            "CREATE TABLE sessions (session_id INTEGER, region VARCHAR(10), started_at {ts}, pageviews INTEGER)"
        ),
        "INSERT INTO sessions VALUES \
         (1, 'EU', '2025-01-03 10:00:00', 5), \
         (2, 'EU', '2025-01-04 10:00:00', 3), \
         (3, 'APAC', '2025-01-05 10:00:00', 0), \
         (4, 'LATAM', '2025-01-07 10:00:00', 2)"
            .to_string(),
    ]
}

fn catalog() -> Arc<Catalog> {
    accord::definitions::load_str("nulls.yml", DEFS).unwrap_or_else(|d| panic!("{d}"))
}

fn no_rows(model: &str, measure: &str, filtered: bool) -> NullRule {
    NullRule::NoRows {
        model: model.into(),
        measure: measure.into(),
        filtered,
    }
}

fn count(metric: &str, count: usize, rows: usize, rule: NullRule) -> NullCount {
    NullCount {
        metric: metric.into(),
        count,
        rows,
        rule,
    }
}

struct Case {
    name: &'static str,
    caller: Caller,
    query: Json,
    /// The result's columns: no probe column may show.
    columns: Vec<&'static str>,
    nulls: Vec<NullCount>,
    /// Fragments the warnings must hold.
    warnings: Vec<&'static str>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "stitched: zero denominator, missing rows on either side, filtered count",
            caller: Caller::operator(),
            query: json!({"metrics": ["revenue", "web_orders", "orders_per_pageview"],
                          "dimensions": ["regions.name"]}),
            columns: vec![
                "regions__name",
                "revenue",
                "web_orders",
                "orders_per_pageview",
            ],
            nulls: vec![
                count("revenue", 1, 4, no_rows("orders", "amount", false)),
                count("web_orders", 3, 4, no_rows("orders", "order_count", true)),
                count(
                    "orders_per_pageview",
                    1,
                    4,
                    NullRule::ZeroDenominator {
                        denominator: "pageviews".into(),
                    },
                ),
                count(
                    "orders_per_pageview",
                    1,
                    4,
                    no_rows("orders", "order_count", false),
                ),
                count(
                    "orders_per_pageview",
                    1,
                    4,
                    no_rows("sessions", "pageviews", false),
                ),
            ],
            warnings: vec![
                "`orders_per_pageview`: 1 of 4 values are NULL because the denominator `pageviews` is 0",
                "`web_orders`: 3 of 4 values are NULL because no rows of `orders` match the filter of `order_count`",
            ],
        },
        Case {
            name: "one scan: a filtered count over no matching rows",
            caller: Caller::operator(),
            query: json!({"metrics": ["orders", "web_orders"], "dimensions": ["regions.name"]}),
            columns: vec!["regions__name", "orders", "web_orders"],
            nulls: vec![count(
                "web_orders",
                2,
                3,
                no_rows("orders", "order_count", true),
            )],
            warnings: vec!["`web_orders`: 2 of 3 values are NULL"],
        },
        Case {
            name: "nothing NULL, nothing said",
            caller: Caller::operator(),
            query: json!({"metrics": ["revenue"], "dimensions": ["regions.name"]}),
            columns: vec!["regions__name", "revenue"],
            nulls: vec![],
            warnings: vec![],
        },
        Case {
            // January, February (no order: a gap), March; the month before
            // January has no data either.
            name: "gap-filled series: periods without data",
            caller: Caller::operator(),
            query: json!({"metrics": ["revenue", "revenue_prev_month"],
                          "dimensions": ["metric_time:month"],
                          "time_range": {"start": "2025-01-01", "end": "2025-04-01"}}),
            columns: vec!["metric_time__month", "revenue", "revenue_prev_month"],
            nulls: vec![
                count(
                    "revenue",
                    1,
                    3,
                    NullRule::EmptyPeriod {
                        series: "revenue".into(),
                    },
                ),
                count(
                    "revenue_prev_month",
                    2,
                    3,
                    NullRule::EmptyPeriod {
                        series: "revenue".into(),
                    },
                ),
            ],
            warnings: vec![
                "`revenue`: 1 of 3 values are NULL because those periods have no data for `revenue` (set `fill_nulls_with`",
            ],
        },
        Case {
            // The row filter leaves only web orders (both EU): the other
            // regions' sessions groups have no orders the caller may use,
            // and the warning names the rule without saying whether rows
            // existed.
            name: "a row filter is named, never told apart from absent rows",
            caller: Caller::with_roles(&["web_only"]),
            query: json!({"metrics": ["orders", "pageviews"], "dimensions": ["regions.name"]}),
            columns: vec!["regions__name", "orders", "pageviews"],
            nulls: vec![count(
                "orders",
                2,
                3,
                no_rows("orders", "order_count", false),
            )],
            warnings: vec![
                "`orders`: 2 of 3 values are NULL because no rows of `orders` fall in those groups; rules in force that remove rows (not told apart from rows that do not exist): row filter on orders",
            ],
        },
    ]
}

async fn check(engine: &str, wh: &Warehouse, catalog: &Catalog, case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let executed = match execute::run(catalog, wh, &q(case.query.clone()), &case.caller, 1000).await
    {
        Ok(e) => e,
        Err(e) => return vec![format!("{engine}: {}: {e}", case.name)],
    };
    let columns: Vec<&str> = executed
        .result
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if columns != case.columns {
        failures.push(format!("{engine}: {}: columns {columns:?}", case.name));
    }
    if executed
        .result
        .rows
        .iter()
        .any(|r| r.len() != case.columns.len())
    {
        failures.push(format!("{engine}: {}: a row kept a probe value", case.name));
    }
    if executed.nulls != case.nulls {
        failures.push(format!(
            "{engine}: {}: nulls\n  got      {:?}\n  expected {:?}",
            case.name, executed.nulls, case.nulls
        ));
    }
    for w in &case.warnings {
        if !executed.warnings.iter().any(|x| x.contains(w)) {
            failures.push(format!(
                "{engine}: {}: no warning holds {w:?}; warnings: {:?}",
                case.name, executed.warnings
            ));
        }
    }
    if case.nulls.is_empty() && executed.warnings.iter().any(|w| w.contains("NULL")) {
        failures.push(format!("{engine}: {}: {:?}", case.name, executed.warnings));
    }
    failures
}

#[tokio::test]
async fn null_values_are_counted_per_rule_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let engines =
        common::warehouses::fixture_engines("null_reasons", dir.path(), fixture_sql).await;
    let catalog = catalog();
    let mut failures = Vec::new();
    for (engine, wh) in &engines {
        for case in cases() {
            failures.extend(check(engine, wh, &catalog, &case).await);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The shown SQL (`/v1/compile`, `accord compile`) is the metric's SQL:
/// the probes run with it but are not part of it.
#[test]
fn probes_are_not_in_the_shown_sql() {
    let catalog = catalog();
    let query = q(json!({"metrics": ["orders_per_pageview"], "dimensions": ["regions.name"]}));
    let (plan, shown) = accord::planner::compile(
        &catalog,
        &query,
        &Caller::operator(),
        accord::dialect::DialectKind::Duckdb,
    )
    .unwrap();
    assert!(!shown.contains("__accord_null"), "{shown}");
    let run = plan
        .render_for_execution(accord::dialect::DialectKind::Duckdb, None)
        .unwrap();
    assert!(run.contains("\"__accord_null_0\""), "{run}");
}

#[tokio::test]
async fn rest_and_graphql_say_why_a_metric_is_null() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("defs.yml"), DEFS).unwrap();
    let path = dir.path().join("nulls.duckdb");
    {
        let conn = duckdb::Connection::open(&path).unwrap();
        for s in fixture_sql("TIMESTAMP") {
            conn.execute_batch(&s).unwrap();
        }
    }
    let url = format!("duckdb://{}", path.display()).parse().unwrap();
    let mut config = accord::server::ServeConfig::for_tests(dir.path(), url);
    config.reload = false;
    config.pg_addr = None;
    let server = http::Server::start(config, dir).await;

    let rest = server
        .client
        .query(&json!({"metrics": ["orders_per_pageview"], "dimensions": ["regions.name"]}))
        .await
        .ok_json();
    assert_eq!(
        rest["meta"]["nulls"],
        json!([
            {"metric": "orders_per_pageview", "count": 1, "rows": 4,
             "rule": "zero_denominator", "denominator": "pageviews"},
            {"metric": "orders_per_pageview", "count": 1, "rows": 4,
             "rule": "no_rows", "model": "orders", "measure": "order_count", "filtered": false},
            {"metric": "orders_per_pageview", "count": 1, "rows": 4,
             "rule": "no_rows", "model": "sessions", "measure": "pageviews", "filtered": false},
        ]),
        "{rest}"
    );
    let warnings = rest["meta"]["warnings"].to_string();
    assert!(
        warnings.contains("the denominator `pageviews` is 0"),
        "{warnings}"
    );
    assert!(
        rest["columns"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["name"].as_str().unwrap().starts_with("__")),
        "{rest}"
    );

    let gql = server
        .client
        .post_json(
            "/graphql",
            &json!({"query": "{ orders { regions__name orders web_orders } }"}),
        )
        .await
        .ok_json();
    assert_eq!(
        gql["extensions"]["nulls"]["orders"],
        json!([{"metric": "web_orders", "count": 2, "rows": 3,
                "rule": "no_rows", "model": "orders", "measure": "order_count", "filtered": true}]),
        "{gql}"
    );
    assert!(
        gql["extensions"]["warnings"]
            .to_string()
            .contains("`web_orders`: 2 of 3 values are NULL"),
        "{gql}"
    );
}

/// What the probes cost the warehouse: the same plans run with and without
/// their probe columns on the demo data in DuckDB, alternating, and the
/// median time of each. Numbers, not assertions (BENCHMARKS.md, "Why a
/// value is NULL"): `cargo test --test null_reasons probe_cost -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement; run by hand"]
async fn probe_cost() {
    let scale: u32 = std::env::var("ACCORD_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("duckdb://{}", dir.path().join("demo.duckdb").display());
    let wh = common::warehouses::open(&url).await;
    wh.load_demo(&common::warehouses::demo(scale))
        .await
        .unwrap();
    let catalog = common::demo_catalog();
    let queries = [
        json!({"metrics": ["revenue", "orders", "average_order_value"], "dimensions": ["customers.region"]}),
        json!({"metrics": ["conversion_rate"], "dimensions": ["metric_time:day"]}),
        json!({"metrics": ["revenue", "sessions", "conversion_rate"], "dimensions": ["metric_time:month", "customers.country"]}),
    ];
    let dialect = accord::dialect::DialectKind::Duckdb;
    let key = wh.mask_key();
    for query in queries {
        let (plan, _) =
            accord::planner::compile(&catalog, &q(query.clone()), &Caller::operator(), dialect)
                .unwrap();
        let with = plan.render_for_execution(dialect, key.as_deref()).unwrap();
        let mut bare = plan.clone();
        bare.probes.clear();
        let without = bare.render_for_execution(dialect, key.as_deref()).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..31 {
            for (sql, out) in [(&with, &mut a), (&without, &mut b)] {
                let t = std::time::Instant::now();
                wh.query(sql, 100_000).await.unwrap();
                out.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (ma, mb) = (median(&mut a), median(&mut b));
        println!(
            "scale {scale} {query}: with probes {ma:.2} ms, without {mb:.2} ms, ratio {:.3}",
            ma / mb
        );
    }
}

//! Time intelligence on the demo: the compiled SQL in all 10 dialects
//! (insta snapshots, each statement parsed back by sqlparser), definition
//! errors, invariants and conversion counts against the generator's rows,
//! equality across DuckDB, PostgreSQL, MariaDB and SQLite, and the REST and
//! CLI interfaces.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet};

use accord::access::Caller;
use accord::dialect::DialectKind;
use accord::execute;
use accord::planner;
use accord::query::SemanticQuery;
use accord::warehouse::{Value, Warehouse};
use chrono::{Duration, NaiveDate};
use common::warehouses::{all_engines, demo, open};
use common::{demo_catalog, q};
use serde_json::{Value as Json, json};

fn matrix() -> Vec<(&'static str, SemanticQuery)> {
    vec![
        (
            "ti_01_trailing_window_day",
            q(
                json!({"metrics": ["revenue_7d_trailing"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-03-01", "end": "2025-04-01"}}),
            ),
        ),
        (
            "ti_02_month_to_date_by_region",
            q(
                json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:day", "customers.region"], "time_range": {"start": "2025-03-01", "end": "2025-03-15"}}),
            ),
        ),
        (
            "ti_03_running_total_data_bounds",
            q(json!({"metrics": ["cumulative_customers"], "dimensions": ["metric_time:month"]})),
        ),
        (
            "ti_04_period_over_period",
            q(
                json!({"metrics": ["revenue", "revenue_prev_month", "revenue_mom_growth", "revenue_yoy"], "dimensions": ["metric_time:month"], "time_range": {"start": "2025-01-01", "end": "2026-01-01"}}),
            ),
        ),
        (
            "ti_05_conversion_by_segment",
            q(
                json!({"metrics": ["signup_to_purchase_7d", "signup_to_purchase_7d_count"], "dimensions": ["customers.segment"]}),
            ),
        ),
        (
            "ti_06_time_zone_and_week_start",
            q(
                json!({"metrics": ["registrations"], "dimensions": ["metric_time:week"], "time_range": {"start": "2025-03-02", "end": "2025-04-06"}, "time_zone": "Europe/Berlin", "week_start": "sunday"}),
            ),
        ),
    ]
}

fn compile_all(query: &SemanticQuery) -> Vec<(DialectKind, Result<String, String>)> {
    let catalog = demo_catalog();
    DialectKind::ALL
        .iter()
        .map(|d| {
            (
                *d,
                planner::compile(&catalog, query, &Caller::operator(), *d)
                    .map(|(_, sql)| sql)
                    .map_err(|e| e.display_full()),
            )
        })
        .collect()
}

#[test]
fn sql_snapshots_in_every_dialect() {
    for (name, query) in matrix() {
        let mut text = String::new();
        for (d, sql) in compile_all(&query) {
            text.push_str(&format!("-- {d}\n"));
            match sql {
                Ok(s) => text.push_str(&s),
                Err(e) => text.push_str(&format!("-- error: {e}")),
            }
            text.push('\n');
        }
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn every_statement_parses_with_its_sqlparser_dialect() {
    let mut compiled = 0;
    for (name, query) in matrix() {
        for (d, sql) in compile_all(&query) {
            let sql = sql.unwrap_or_else(|e| panic!("{name} on {d}: {e}"));
            let parser = sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser)
                .unwrap_or_else(|| panic!("no sqlparser dialect for {d}"));
            let parsed = sqlparser::parser::Parser::parse_sql(parser.as_ref(), &sql);
            assert!(
                parsed.is_ok(),
                "{name} on {d} does not parse: {:?}\n{sql}",
                parsed.err()
            );
            assert_eq!(parsed.map(|s| s.len()).unwrap_or(0), 1, "{name} on {d}");
            compiled += 1;
        }
    }
    assert_eq!(compiled, 60);
}

const BASE: &str = r#"
models:
  - name: orders
    source: {table: orders}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: status, type: categorical}
      - {name: ordered_at, type: time, granularity: day}
    measures:
      - {name: amount, agg: sum, agg_time_dimension: ordered_at}
      - {name: order_count, agg: count, agg_time_dimension: ordered_at}
      - {name: buyers, agg: count_distinct, expr: customer_id, agg_time_dimension: ordered_at}
  - name: customers
    source: {table: customers}
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: region, type: categorical}
      - {name: signed_up_at, type: time, granularity: day}
    measures:
      - {name: signups, agg: count, agg_time_dimension: signed_up_at}
metrics:
  - {name: revenue, type: simple, measure: orders.amount}
  - {name: buyers, type: simple, measure: orders.buyers}
"#;

fn errors(extra: &str) -> String {
    match accord::definitions::load_str("defs.yml", &format!("{BASE}{extra}")) {
        Ok(_) => panic!("expected errors for:\n{extra}"),
        Err(d) => d.to_string(),
    }
}

fn assert_has(out: &str, needles: &[&str]) {
    for n in needles {
        assert!(out.contains(n), "missing `{n}` in:\n{out}");
    }
}

#[test]
fn base_definitions_validate() {
    let extra = "  - {name: r7, type: cumulative, metric: revenue, window: 7 days}\n  - {name: mom, type: derived, expr: revenue - prev, inputs: [revenue, {metric: revenue, alias: prev, offset_window: 1 month}]}\n  - {name: conv, type: conversion, base_measure: customers.signups, conversion_measure: orders.order_count, entity: customer, window: 7 days}\n";
    accord::definitions::load_str("defs.yml", &format!("{BASE}{extra}")).unwrap();
}

#[test]
fn bad_time_intelligence_definitions_name_place_field_and_fix() {
    let cases: Vec<(&str, Vec<&str>)> = vec![
        (
            "  - {name: r7, type: cumulative, metric: revenue, window: 7 dayz}\n",
            vec![
                "defs.yml:27:59",
                "metrics.r7.window",
                "unknown time unit `dayz`",
                "`days`",
            ],
        ),
        (
            "  - {name: r7, type: cumulative, metric: revenue, grain_to_date: mnth}\n",
            vec![
                "metrics.r7.grain_to_date",
                "unknown grain `mnth`",
                "`month`",
            ],
        ),
        (
            "  - {name: r7, type: cumulative, metric: revenu}\n",
            vec!["metrics.r7.metric", "unknown metric `revenu`", "`revenue`"],
        ),
        (
            "  - {name: b7, type: cumulative, metric: buyers, window: 7 days}\n",
            vec!["metrics.b7.metric", "count_distinct", "does not add up"],
        ),
        (
            "  - {name: r7, type: cumulative, metric: revenue, window: 7 days, grain_to_date: month}\n",
            vec!["metrics.r7.window", "not both"],
        ),
        (
            "  - {name: r7, type: simple, measure: orders.amount, window: 7 days}\n",
            vec!["metrics.r7.window", "does not apply to a simple metric"],
        ),
        (
            "  - {name: p, type: derived, expr: prev, inputs: [{metric: revenue, alias: prev, offset_window: 1 fortnight}]}\n",
            vec![
                "metrics.p.inputs[0].offset_window",
                "unknown time unit `fortnight`",
            ],
        ),
        (
            "  - {name: c, type: conversion, base_measure: customers.signups, conversion_measure: orders.order_count, entity: custmer, window: 7 days}\n",
            vec!["metrics.c.entity", "no entity `custmer`", "`customer`"],
        ),
        (
            "  - {name: c, type: conversion, base_measure: customers.signups, conversion_measure: orders.order_count, entity: customer, window: 1 month}\n",
            vec!["metrics.c.window", "no fixed length", "30 days"],
        ),
        (
            "  - {name: c, type: conversion, base_measure: customers.signups, conversion_measure: orders.order_count, entity: customer, window: 7 days, calculation: ratio}\n",
            vec![
                "metrics.c.calculation",
                "unknown calculation `ratio`",
                "`rate`",
            ],
        ),
        (
            "  - {name: c, type: conversion, base_measure: orders.amount, conversion_measure: orders.order_count, entity: customer, window: 7 days}\n",
            vec!["metrics.c.base_measure", "counts events"],
        ),
        (
            "  - {name: c, type: conversion, base_measure: customers.signup, conversion_measure: orders.order_count, entity: customer, window: 7 days}\n",
            vec![
                "metrics.c.base_measure",
                "unknown measure",
                "`customers.signups`",
            ],
        ),
        (
            "  - {name: c, type: conversion, base_measure: customers.signups, conversion_measure: orders.order_count, entity: customer, window: 7 days, constant_properties: [{base_property: regoin, conversion_property: status}]}\n",
            vec![
                "constant_properties[0].base_property",
                "no dimension `regoin`",
                "`region`",
            ],
        ),
        (
            "  - {name: c, type: cumulativ, metric: revenue}\n",
            vec!["unknown metric type `cumulativ`", "`cumulative`"],
        ),
    ];
    for (extra, needles) in cases {
        assert_has(&errors(extra), &needles);
    }
}

/// A catalog of the demo definitions plus `extra` metrics.
fn demo_plus(extra: &str) -> std::sync::Arc<accord::catalog::Catalog> {
    let dir = tempfile::tempdir().unwrap();
    let src = common::repo_path("metric_defs");
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &to).unwrap();
    }
    std::fs::write(dir.path().join("metrics/extra.yml"), extra).unwrap();
    accord::definitions::load_dir(dir.path()).unwrap_or_else(|d| panic!("{d}"))
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Null => None,
        other => other.as_f64(),
    }
}

async fn rows(catalog: &accord::catalog::Catalog, wh: &Warehouse, raw: Json) -> Vec<Vec<Value>> {
    execute::run(catalog, wh, &q(raw.clone()), &Caller::operator(), 100_000)
        .await
        .unwrap_or_else(|e| panic!("{raw}: {e}"))
        .result
        .rows
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

#[tokio::test]
async fn demo_invariants_and_conversions_from_the_generator_rows() {
    let data = demo(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.duckdb");
    let wh = open(&format!("duckdb://{}", path.display())).await;
    wh.load_demo(&data).await.unwrap();
    let catalog = demo_plus(
        "metrics:\n  - {name: revenue_1d_trailing, type: cumulative, metric: revenue, window: 1 day}\n  - {name: registrations_1w, type: cumulative, metric: registrations, window: 1 week}\n",
    );

    // A trailing window of one day is the daily value.
    let r = rows(
        &catalog,
        &wh,
        json!({"metrics": ["revenue_1d_trailing", "revenue"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-01-01", "end": "2025-07-01"}}),
    )
    .await;
    assert_eq!(r.len(), 181);
    for row in &r {
        assert!(close(num(&row[1]), num(&row[2])), "{row:?}");
    }
    // One week at week grain is the week's value.
    let r = rows(
        &catalog,
        &wh,
        json!({"metrics": ["registrations_1w", "registrations"], "dimensions": ["metric_time:week"], "time_range": {"start": "2025-01-06", "end": "2025-06-30"}}),
    )
    .await;
    for row in &r {
        assert!(close(num(&row[1]), num(&row[2])), "{row:?}");
    }
    // The running total at the last period is the total, and every step
    // adds that period's registrations.
    let r = rows(
        &catalog,
        &wh,
        json!({"metrics": ["cumulative_customers", "registrations"], "dimensions": ["metric_time:month"]}),
    )
    .await;
    // Customers on the suppression list (erasure requests) are left out of
    // every number by the demo's consent policy.
    let erased: BTreeSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let counted = |c: &&accord::demo::Customer| !c.is_test && !erased.contains(&c.customer_id);
    let total = data.customers.iter().filter(counted).count() as f64;
    assert_eq!(num(&r.last().unwrap()[1]), Some(total));
    for w in r.windows(2) {
        let step = num(&w[1][1]).unwrap() - num(&w[0][1]).unwrap();
        assert!(close(Some(step), num(&w[1][2]).or(Some(0.0))), "{w:?}");
    }
    // Month to date at month grain is the month; the previous month is the
    // month before.
    let r = rows(
        &catalog,
        &wh,
        json!({"metrics": ["revenue", "revenue_mtd", "revenue_prev_month"], "dimensions": ["metric_time:month"], "time_range": {"start": "2024-07-01", "end": "2026-01-01"}}),
    )
    .await;
    assert_eq!(r.len(), 18);
    for (i, row) in r.iter().enumerate() {
        assert!(close(num(&row[1]), num(&row[2])), "{row:?}");
        if i > 0 {
            assert!(close(num(&row[3]), num(&r[i - 1][1])), "{row:?}");
        }
    }
    // A trailing 7 days sum at day grain equals the sum computed in Rust
    // from the orders.
    let mut daily: BTreeMap<NaiveDate, f64> = BTreeMap::new();
    for o in data.orders.iter().filter(|o| o.status != "cancelled") {
        *daily.entry(o.ordered_at.date()).or_default() +=
            o.amount.to_string().parse::<f64>().unwrap();
    }
    let r = rows(
        &catalog,
        &wh,
        json!({"metrics": ["revenue_7d_trailing"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-05-01", "end": "2025-06-01"}}),
    )
    .await;
    assert_eq!(r.len(), 31);
    for row in &r {
        let Value::Timestamp(t) = row[0] else {
            panic!("{row:?}")
        };
        let d = t.date();
        let want: f64 = (0..7)
            .map(|k| daily.get(&(d - Duration::days(k))).copied().unwrap_or(0.0))
            .sum();
        assert!(close(num(&row[1]), Some(want)), "{d}: {row:?} vs {want}");
    }

    // Conversions, straight from the rows: a non-test customer converts
    // when any order of theirs falls in [signup, signup + 7 days].
    let mut orders_of: BTreeMap<i64, Vec<chrono::NaiveDateTime>> = BTreeMap::new();
    for o in &data.orders {
        orders_of
            .entry(o.customer_id)
            .or_default()
            .push(o.ordered_at);
    }
    let mut by_segment: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for c in data.customers.iter().filter(counted) {
        let converted = orders_of.get(&c.customer_id).is_some_and(|ts| {
            ts.iter()
                .any(|t| *t >= c.signed_up_at && *t <= c.signed_up_at + Duration::days(7))
        });
        let e = by_segment.entry(c.segment).or_default();
        e.0 += 1;
        e.1 += u64::from(converted);
    }
    let r = rows(
        &catalog,
        &wh,
        json!({"metrics": ["signup_to_purchase_7d_count", "signup_to_purchase_7d"], "dimensions": ["customers.segment"]}),
    )
    .await;
    assert_eq!(r.len(), by_segment.len());
    for row in &r {
        let Value::Text(seg) = &row[0] else {
            panic!("{row:?}")
        };
        let (base, conv) = by_segment[seg.as_str()];
        assert!(conv > 0, "the demo has conversions in {seg}");
        assert_eq!(num(&row[1]), Some(conv as f64), "{seg}");
        assert!(
            close(num(&row[2]), Some(conv as f64 / base as f64)),
            "{seg}"
        );
    }
}

/// One comparable cell, as tests/cross_engine.rs compares them.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Timestamp(_) | Value::Date(_) | Value::Text(_) | Value::Bool(_) => v.to_text(),
        other => match other.as_f64() {
            Some(f) => format!("{:.6e}", f),
            None => other.to_text(),
        },
    }
}

#[tokio::test]
async fn same_results_on_duckdb_postgres_mariadb_sqlite() {
    let data = demo(1);
    let dir = tempfile::tempdir().unwrap();
    let engines = all_engines("timeintel_cross", &data, dir.path()).await;
    let catalog = demo_catalog();
    let queries = [
        json!({"metrics": ["revenue_7d_trailing", "revenue_mtd"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-02-20", "end": "2025-04-10"}}),
        json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:day", "customers.region"], "time_range": {"start": "2025-03-01", "end": "2025-03-20"}}),
        json!({"metrics": ["cumulative_customers", "registrations"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["cumulative_customers"], "dimensions": ["metric_time:week", "customers.segment"], "time_range": {"start": "2025-06-02", "end": "2025-09-01"}}),
        json!({"metrics": ["cumulative_customers"]}),
        json!({"metrics": ["revenue", "revenue_prev_month", "revenue_mom_growth", "revenue_yoy"], "dimensions": ["metric_time:month"]}),
        json!({"metrics": ["revenue_yoy"], "dimensions": ["metric_time:quarter", "customers.region"], "time_range": {"start": "2025-01-01", "end": "2026-01-01"}}),
        json!({"metrics": ["signup_to_purchase_7d", "signup_to_purchase_7d_count"], "dimensions": ["metric_time:month", "customers.segment"]}),
        json!({"metrics": ["signup_to_purchase_7d"], "dimensions": ["customers.acquisition_channel"]}),
        json!({"metrics": ["registrations"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-03-25", "end": "2025-04-05"}, "time_zone": "America/New_York"}),
        json!({"metrics": ["sessions"], "dimensions": ["metric_time:hour"], "time_range": {"start": "2025-10-20 00:00:00", "end": "2025-10-30 00:00:00"}, "time_zone": "Europe/Berlin"}),
        json!({"metrics": ["revenue_7d_trailing"], "dimensions": ["metric_time:week"], "time_range": {"start": "2025-01-01", "end": "2025-04-01"}, "week_start": "sunday", "time_zone": "Asia/Kolkata"}),
        json!({"metrics": ["revenue", "orders"], "dimensions": ["metric_time:month"], "time_zone": "Europe/Berlin"}),
    ];
    let mut failures = Vec::new();
    for raw in &queries {
        let query = q(raw.clone());
        let mut results: Vec<(&str, Vec<Vec<String>>, String)> = Vec::new();
        for (name, wh) in &engines {
            match execute::run(&catalog, wh, &query, &Caller::operator(), 100_000).await {
                Ok(done) => {
                    let mut rows: Vec<Vec<String>> = done
                        .result
                        .rows
                        .iter()
                        .map(|r| r.iter().map(cell).collect())
                        .collect();
                    rows.sort();
                    results.push((name, rows, done.sql));
                }
                Err(e) => failures.push(format!("{name} failed {raw}: {e}")),
            }
        }
        let Some((base, base_rows, base_sql)) = results.first() else {
            continue;
        };
        assert!(!base_rows.is_empty(), "nothing on duckdb: {raw}");
        for (name, rows, sql) in &results[1..] {
            if rows != base_rows {
                let first = base_rows.iter().zip(rows).position(|(a, b)| a != b);
                failures.push(format!(
                    "{raw}\n{base} vs {name}: {} vs {} rows, first difference {:?} vs {:?}\n--- {base}:\n{base_sql}\n--- {name}:\n{sql}",
                    base_rows.len(),
                    rows.len(),
                    first.map(|i| &base_rows[i]),
                    first.map(|i| &rows[i]),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn rest_answers_time_intelligence_and_applies_the_configured_time_zone() {
    let server = http::Server::demo(|c| c.time_zone = Some("Europe/Berlin".into())).await;
    let body = json!({"metrics": ["revenue_7d_trailing", "revenue_mom_growth"], "dimensions": ["metric_time:month"], "time_range": {"start": "2025-01-01", "end": "2025-04-01"}});
    let r = server.client.query(&body).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text().contains("not a whole number of months"),
        "{}",
        r.text()
    );

    let body = json!({"metrics": ["revenue_mtd", "revenue_7d_trailing"], "dimensions": ["metric_time:hour"], "time_range": {"start": "2025-03-01", "end": "2025-03-08"}});
    let configured = server.client.query(&body).await;
    assert_eq!(configured.status, 200, "{}", configured.text());
    let mut explicit = body.clone();
    explicit["time_zone"] = json!("Europe/Berlin");
    let explicit = server.client.query(&explicit).await;
    let mut utc = body.clone();
    utc["time_zone"] = json!("UTC");
    let utc = server.client.query(&utc).await;
    let rows = |b: &Json| b["rows"].clone();
    assert_eq!(rows(&configured.json()), rows(&explicit.json()));
    assert_ne!(rows(&configured.json()), rows(&utc.json()));
    assert_eq!(configured.json()["rows"].as_array().unwrap().len(), 7 * 24);

    let conv = server
        .client
        .query(&json!({"metrics": ["signup_to_purchase_7d"], "dimensions": ["customers.segment"]}))
        .await;
    assert_eq!(conv.status, 200, "{}", conv.text());
    assert_eq!(conv.json()["rows"].as_array().unwrap().len(), 3);
}

#[test]
fn cli_compiles_and_runs_time_intelligence() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.duckdb");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(args)
            .current_dir(common::repo_path(""))
            .output()
            .expect("run accord");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let warehouse = format!("duckdb://{}", db.display());
    let (code, _, err) = run(&["demo", "init", "--warehouse", &warehouse, "--scale", "1"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(&[
        "query",
        "--warehouse",
        &warehouse,
        "--metrics",
        "revenue_7d_trailing,revenue_mtd",
        "--by",
        "metric_time:day",
        "--start",
        "2025-03-01",
        "--end",
        "2025-03-08",
        "--time-zone",
        "Europe/Berlin",
        "--week-start",
        "sunday",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines[0].contains("revenue_7d_trailing"), "{out}");
    let (code, out, err) = run(&[
        "compile",
        "--metrics",
        "cumulative_customers",
        "--by",
        "metric_time:month",
        "--dialect",
        "mysql",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("UNBOUNDED PRECEDING"), "{out}");
}

/// A `time_range` is written in the query's time zone for every kind of
/// question: Berlin midnight of 1 June 2025 (summer time) is 22:00 UTC the
/// day before, so each compiles to the same SQL as the UTC range.
#[test]
fn a_zoned_time_range_means_the_same_instants_for_metrics_and_analyses() {
    let catalog = demo_catalog();
    for body in [
        json!({"metrics": ["revenue"]}),
        json!({"funnel": "checkout_funnel"}),
        json!({"retention": "weekly_purchase_retention"}),
        json!({"metrics": ["revenue"], "attribution": "linear_30d", "dimensions": ["channel"]}),
    ] {
        let with = |extra: Json| {
            let mut b = body.clone();
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            let (_, sql) =
                planner::compile(&catalog, &q(b), &Caller::operator(), DialectKind::Duckdb)
                    .unwrap_or_else(|e| panic!("{body}: {e}"));
            sql
        };
        let zoned = with(json!({
            "time_zone": "Europe/Berlin",
            "time_range": {"start": "2025-06-01", "end": "2025-07-01"}
        }));
        let utc = with(json!({
            "time_zone": "UTC",
            "time_range": {"start": "2025-05-31 22:00:00", "end": "2025-06-30 22:00:00"}
        }));
        assert_eq!(zoned, utc, "{body}");
        assert!(zoned.contains("2025-05-31 22:00:00"), "{body}: {zoned}");
    }
}

/// The conversion side reads the suppression list unless the base scan's
/// already covers the same subject: with a base model that has no subject
/// (so its scan is not held to the list), the EXISTS must read it.
#[test]
fn conversion_side_suppression_is_skipped_only_when_the_base_covers_it() {
    let catalog = demo_plus(
        r#"
models:
  - name: raw_visits
    source: {table: sessions}
    entities:
      - {name: visit, type: primary, expr: session_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: started_at, type: time, granularity: hour}
    defaults: {agg_time_dimension: started_at}
    measures:
      - {name: visit_count, agg: count}
metrics:
  - name: raw_visit_to_order_7d
    type: conversion
    base_measure: raw_visits.visit_count
    conversion_measure: orders.order_count
    entity: customer
    window: 7 days
"#,
    );
    let suppression_reads = |metric: &str| {
        let q = common::q(json!({"metrics": [metric]}));
        let (_, sql) =
            accord::planner::compile(&catalog, &q, &Caller::operator(), DialectKind::Duckdb)
                .unwrap_or_else(|e| panic!("{metric}: {e}"));
        sql.matches("FROM erasure_requests").count()
    };
    // customers and orders both have subject `customer`: the base scan's
    // list covers the conversions.
    assert_eq!(suppression_reads("signup_to_purchase_7d"), 1);
    // raw_visits has no subject: only the conversion side reads the list.
    assert_eq!(suppression_reads("raw_visit_to_order_7d"), 1);
}

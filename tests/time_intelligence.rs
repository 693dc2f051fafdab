//! Time intelligence and conversion metrics on a hand-made fixture
//! (tests/fixtures/time_intelligence/defs.yml and the rows below), with
//! every expected value computed by hand, on DuckDB, PostgreSQL, MariaDB and
//! SQLite: window boundaries, same timestamps, empty periods (gap fill), DST
//! changes in Europe/Berlin, week starts, conversion windows closed on both
//! ends. Then invariants and cross-engine equality on the demo data.

mod common;

use std::path::Path;
use std::sync::Arc;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::execute;
use accord::warehouse::{Value, Warehouse};
use common::warehouses::{mysql_db, open, postgres_db};
use common::{q, repo_path};
use serde_json::{Value as Json, json};
use sqlx::Connection as _;

/// (sale_id, customer_id, sold_at UTC, amount, region)
const SALES: &[(i64, i64, &str, i64, &str)] = &[
    (1, 1, "2024-01-01 10:00:00", 10, "EU"),
    // Same timestamp as sale 1.
    (2, 1, "2024-01-01 10:00:00", 5, "NA"),
    (3, 2, "2024-01-02 09:00:00", 20, "EU"),
    // 2024-01-03: no sales (a gap).
    (4, 2, "2024-01-04 23:30:00", 7, "EU"),
    (5, 3, "2024-01-08 00:00:00", 100, "NA"),
    (6, 3, "2024-02-10 12:00:00", 50, "EU"),
    // Berlin: 01:30 CET on 31 March (before the switch to CEST).
    (7, 1, "2024-03-31 00:30:00", 1000, "EU"),
    // Berlin: 00:30 CEST on 1 April; UTC: still 31 March.
    (8, 1, "2024-03-31 22:30:00", 2000, "EU"),
    // Berlin: 00:30 CEST on 27 October (the night of the switch back).
    (9, 2, "2024-10-26 22:30:00", 300, "EU"),
    // Berlin: 00:30 CET on 28 October; UTC: 27 October.
    (10, 2, "2024-10-27 23:30:00", 400, "EU"),
];

/// (customer_id, signed_up_at, plan)
const SIGNUPS: &[(i64, &str, &str)] = &[
    (1, "2024-01-01 00:00:00", "A"),
    (2, "2024-01-01 12:00:00", "B"),
    (3, "2024-01-02 00:00:00", "A"),
    (4, "2024-01-03 00:00:00", "B"),
    (5, "2024-01-03 00:00:00", "A"),
];

/// (purchase_id, customer_id, bought_at, plan)
const PURCHASES: &[(i64, i64, &str, &str)] = &[
    // Exactly 7 days after signup: inside (the window is closed).
    (1, 1, "2024-01-08 00:00:00", "A"),
    // Same timestamp again: customer 1 still converts once.
    (2, 1, "2024-01-08 00:00:00", "A"),
    // One second past 7 days: outside.
    (3, 2, "2024-01-08 12:00:01", "B"),
    // Before signup: not a conversion.
    (4, 3, "2024-01-01 23:00:00", "A"),
    // Inside, but another plan than the signup's.
    (5, 4, "2024-01-05 00:00:00", "A"),
    // At the signup instant itself: inside.
    (6, 5, "2024-01-03 00:00:00", "A"),
];

fn fixture_sql(engine: &str) -> Vec<String> {
    let ts = if engine == "mysql" {
        "DATETIME"
    } else if engine == "sqlite" {
        "TEXT"
    } else {
        "TIMESTAMP"
    };
    let mut out = Vec::new();
    for t in ["ti_sales", "ti_signups", "ti_purchases"] {
        out.push(format!("DROP TABLE IF EXISTS {t}"));
    }
    out.push(format!(
        "CREATE TABLE ti_sales (sale_id INTEGER, customer_id INTEGER, sold_at {ts}, amount INTEGER, region VARCHAR(8))"
    ));
    out.push(format!(
        "CREATE TABLE ti_signups (customer_id INTEGER, signed_up_at {ts}, plan VARCHAR(8))"
    ));
    out.push(format!(
        "CREATE TABLE ti_purchases (purchase_id INTEGER, customer_id INTEGER, bought_at {ts}, plan VARCHAR(8))"
    ));
    for (id, c, t, a, r) in SALES {
        out.push(format!(
            "INSERT INTO ti_sales VALUES ({id}, {c}, '{t}', {a}, '{r}')"
        ));
    }
    for (c, t, p) in SIGNUPS {
        out.push(format!("INSERT INTO ti_signups VALUES ({c}, '{t}', '{p}')"));
    }
    for (id, c, t, p) in PURCHASES {
        out.push(format!(
            "INSERT INTO ti_purchases VALUES ({id}, {c}, '{t}', '{p}')"
        ));
    }
    out
}

fn catalog() -> Arc<Catalog> {
    match accord::definitions::load_dir(&repo_path("tests/fixtures/time_intelligence")) {
        Ok(c) => c,
        Err(d) => panic!("fixture definitions do not validate:\n{d}"),
    }
}

/// The fixture on every engine; `db` names the PostgreSQL and MariaDB
/// databases (one per test, as tests run in parallel).
async fn fixture_engines(dir: &Path, db: &str) -> Vec<(&'static str, Warehouse)> {
    let duck_path = dir.join("ti.duckdb");
    {
        let conn = duckdb::Connection::open(&duck_path).expect("open duckdb");
        for s in fixture_sql("duckdb") {
            conn.execute_batch(&s)
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }
    let pg = postgres_db(db).await;
    {
        let mut c = sqlx::PgConnection::connect(&pg).await.expect("pg");
        for s in fixture_sql("postgres") {
            sqlx::raw_sql(&s).execute(&mut c).await.expect(&s);
        }
    }
    let my = mysql_db(db).await;
    {
        let mut c = sqlx::MySqlConnection::connect(&my).await.expect("mysql");
        for s in fixture_sql("mysql") {
            sqlx::raw_sql(&s).execute(&mut c).await.expect(&s);
        }
    }
    let lite_path = dir.join("ti.sqlite");
    {
        let url = format!("sqlite://{}?mode=rwc", lite_path.display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
        for s in fixture_sql("sqlite") {
            sqlx::raw_sql(&s).execute(&mut c).await.expect(&s);
        }
        c.close().await.ok();
    }
    vec![
        (
            "duckdb",
            open(&format!("duckdb://{}", duck_path.display())).await,
        ),
        ("postgres", open(&pg).await),
        ("mysql", open(&my).await),
        (
            "sqlite",
            open(&format!("sqlite://{}", lite_path.display())).await,
        ),
    ]
}

/// A cell as text: numbers rounded to 6 decimals, times as `YYYY-MM-DD`
/// (or with the hour when not midnight), NULL as `NULL`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Timestamp(t) => {
            let s = t.format("%Y-%m-%d %H:%M").to_string();
            s.strip_suffix(" 00:00").map(str::to_string).unwrap_or(s)
        }
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Text(s) => s.clone(),
        other => match other.as_f64() {
            Some(f) => {
                let r = (f * 1e6).round() / 1e6;
                if r == r.trunc() {
                    format!("{}", r as i64)
                } else {
                    format!("{r}")
                }
            }
            None => other.to_text(),
        },
    }
}

/// Each case: a query and its expected rows, computed by hand.
fn cases() -> Vec<(&'static str, Json, Vec<Vec<&'static str>>)> {
    vec![
        (
            "trailing 7 days: reaches back before the range, gap days carry the window",
            json!({"metrics": ["revenue_7d"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-01-02", "end": "2024-01-10"}}),
            vec![
                vec!["2024-01-02", "35"],
                vec!["2024-01-03", "35"],
                vec!["2024-01-04", "42"],
                vec!["2024-01-05", "42"],
                vec!["2024-01-06", "42"],
                vec!["2024-01-07", "42"],
                // Window 2 Jan .. 8 Jan: 1 Jan's 15 has left it.
                vec!["2024-01-08", "127"],
                vec!["2024-01-09", "107"],
            ],
        ),
        (
            "trailing 1 day equals the daily value; gap days are NULL without fill",
            json!({"metrics": ["revenue_1d", "revenue"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-01-01", "end": "2024-01-05"}}),
            vec![
                vec!["2024-01-01", "15", "15"],
                vec!["2024-01-02", "20", "20"],
                vec!["2024-01-03", "NULL", "NULL"],
                vec!["2024-01-04", "7", "7"],
            ],
        ),
        (
            "gap fill with fill_nulls_with: 0",
            json!({"metrics": ["sales_filled"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-01-01", "end": "2024-01-06"}}),
            vec![
                vec!["2024-01-01", "2"],
                vec!["2024-01-02", "1"],
                vec!["2024-01-03", "0"],
                vec!["2024-01-04", "1"],
                vec!["2024-01-05", "0"],
            ],
        ),
        (
            "month to date restarts on the 1st; a month without facts yet is NULL",
            json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-01-07", "end": "2024-01-09"}}),
            vec![vec!["2024-01-07", "42"], vec!["2024-01-08", "142"]],
        ),
        (
            "month to date across a month boundary",
            json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-02-09", "end": "2024-02-12"}}),
            vec![
                vec!["2024-02-09", "NULL"],
                vec!["2024-02-10", "50"],
                vec!["2024-02-11", "50"],
            ],
        ),
        (
            "month to date at month grain is the month's total",
            json!({"metrics": ["revenue_mtd", "revenue"], "dimensions": ["metric_time:month"], "time_range": {"start": "2024-01-01", "end": "2024-04-01"}}),
            vec![
                vec!["2024-01-01", "142", "142"],
                vec!["2024-02-01", "50", "50"],
                vec!["2024-03-01", "3000", "3000"],
            ],
        ),
        (
            "running total counts everything before the range",
            json!({"metrics": ["sales_to_date"], "dimensions": ["metric_time:month"], "time_range": {"start": "2024-02-01", "end": "2024-04-01"}}),
            vec![vec!["2024-02-01", "6"], vec!["2024-03-01", "8"]],
        ),
        (
            "running total without metric_time: everything up to the range's end",
            json!({"metrics": ["sales_to_date"], "time_range": {"end": "2024-03-01"}}),
            vec![vec!["6"]],
        ),
        (
            "running total per region (a group is dense over all periods)",
            json!({"metrics": ["sales_to_date"], "dimensions": ["metric_time:month", "ti_sales.region"], "time_range": {"start": "2024-01-01", "end": "2024-03-01"}}),
            vec![
                vec!["2024-01-01", "EU", "3"],
                vec!["2024-01-01", "NA", "2"],
                vec!["2024-02-01", "EU", "4"],
                vec!["2024-02-01", "NA", "2"],
            ],
        ),
        (
            "previous month and month-over-month growth",
            json!({"metrics": ["revenue", "revenue_prev_month", "revenue_mom"], "dimensions": ["metric_time:month"], "time_range": {"start": "2024-02-01", "end": "2024-05-01"}}),
            vec![
                vec!["2024-02-01", "50", "142", "-0.647887"],
                vec!["2024-03-01", "3000", "50", "59"],
                vec!["2024-04-01", "NULL", "3000", "NULL"],
            ],
        ),
        (
            "offset to the start of the month",
            json!({"metrics": ["revenue_month_start"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-01-01", "end": "2024-01-03"}}),
            vec![vec!["2024-01-01", "15"], vec!["2024-01-02", "15"]],
        ),
        (
            "UTC days around the March DST switch",
            json!({"metrics": ["revenue_filled"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-03-30", "end": "2024-04-02"}}),
            vec![
                vec!["2024-03-30", "0"],
                vec!["2024-03-31", "3000"],
                vec!["2024-04-01", "0"],
            ],
        ),
        (
            "Berlin days around the March DST switch",
            json!({"metrics": ["revenue_filled"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-03-30", "end": "2024-04-02"}, "time_zone": "Europe/Berlin"}),
            vec![
                vec!["2024-03-30", "0"],
                vec!["2024-03-31", "1000"],
                vec!["2024-04-01", "2000"],
            ],
        ),
        (
            "Berlin months: the 31 March 22:30 UTC sale is April there",
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"], "time_range": {"start": "2024-03-01", "end": "2024-05-01"}, "time_zone": "Europe/Berlin"}),
            vec![vec!["2024-03-01", "1000"], vec!["2024-04-01", "2000"]],
        ),
        (
            "Berlin days around the October DST switch",
            json!({"metrics": ["revenue_filled"], "dimensions": ["metric_time:day"], "time_range": {"start": "2024-10-26", "end": "2024-10-29"}, "time_zone": "Europe/Berlin"}),
            vec![
                vec!["2024-10-26", "0"],
                vec!["2024-10-27", "300"],
                vec!["2024-10-28", "400"],
            ],
        ),
        (
            "Berlin without a time range (transitions over the whole span)",
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"], "time_zone": "Europe/Berlin", "filters": [{"dimension": "ti_sales.region", "op": "eq", "values": ["EU"]}]}),
            vec![
                vec!["2024-01-01", "37"],
                vec!["2024-02-01", "50"],
                vec!["2024-03-01", "1000"],
                vec!["2024-04-01", "2000"],
                vec!["2024-10-01", "700"],
            ],
        ),
        (
            "weeks starting on Sunday",
            json!({"metrics": ["sales_filled"], "dimensions": ["metric_time:week"], "time_range": {"start": "2023-12-31", "end": "2024-01-14"}, "week_start": "sunday"}),
            vec![vec!["2023-12-31", "4"], vec!["2024-01-07", "1"]],
        ),
        (
            "weeks starting on Monday (ISO)",
            json!({"metrics": ["sales_filled"], "dimensions": ["metric_time:week"], "time_range": {"start": "2024-01-01", "end": "2024-01-15"}}),
            vec![vec!["2024-01-01", "4"], vec!["2024-01-08", "1"]],
        ),
        (
            "conversions: boundary inclusive, each base event once",
            json!({"metrics": ["converted_7d", "conversion_7d", "conversion_7d_same_plan"]}),
            vec![vec!["3", "0.6", "0.4"]],
        ),
        (
            "conversions by a base dimension",
            json!({"metrics": ["converted_7d", "conversion_7d"], "dimensions": ["ti_signups.plan"]}),
            vec![vec!["A", "2", "0.666667"], vec!["B", "1", "0.5"]],
        ),
        (
            "conversions by signup day: a day without conversions reads 0",
            json!({"metrics": ["converted_7d", "conversion_7d"], "dimensions": ["metric_time:day"]}),
            vec![
                vec!["2024-01-01", "1", "0.5"],
                vec!["2024-01-02", "0", "0"],
                vec!["2024-01-03", "2", "1"],
            ],
        ),
    ]
}

/// Runs each case as `caller` on every engine; returns what differed.
async fn mismatches(
    engines: &[(&'static str, Warehouse)],
    catalog: &Catalog,
    caller: &Caller,
    cases: Vec<(&str, Json, Vec<Vec<&str>>)>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (what, raw, expected) in cases {
        let query = q(raw);
        for (name, wh) in engines {
            match execute::run(catalog, wh, &query, caller, 10_000).await {
                Ok(done) => {
                    let got: Vec<Vec<String>> = done
                        .result
                        .rows
                        .iter()
                        .map(|r| r.iter().map(text).collect())
                        .collect();
                    if got != expected {
                        failures.push(format!(
                            "{what} on {name}:\n  want {expected:?}\n  got  {got:?}\n{}",
                            done.sql
                        ));
                    }
                }
                Err(e) => failures.push(format!("{what} on {name}: {e}")),
            }
        }
    }
    failures
}

#[tokio::test]
async fn hand_computed_results_on_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let engines = fixture_engines(dir.path(), "timeintel_fixture").await;
    let failures = mismatches(&engines, &catalog(), &Caller::operator(), cases()).await;
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// A conversion metric's conversions obey the caller's row policies like
/// its base events do, on every engine.
#[tokio::test]
async fn conversions_obey_row_policies_on_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let engines = fixture_engines(dir.path(), "timeintel_policies").await;
    let catalog = catalog();
    // Visible purchases: 4 (before its signup) and 6 (customer 5, at
    // signup). Purchases 1 and 2 (customer 1) and 5 (customer 4) are
    // hidden, so of the five signups only customer 5 converted.
    let early = vec![
        (
            "hidden purchases convert nobody",
            json!({"metrics": ["converted_7d", "conversion_7d"]}),
            vec![vec!["1", "0.2"]],
        ),
        (
            "hidden purchases, by plan",
            json!({"metrics": ["converted_7d", "conversion_7d"], "dimensions": ["ti_signups.plan"]}),
            vec![vec!["A", "1", "0.333333"], vec!["B", "0", "0"]],
        ),
    ];
    // Signups 1, 3 and 5; the conversion side joins ti_signups for the
    // policy inside the EXISTS, which must not capture the outer
    // ti_signups: customers 1 and 5 converted.
    let plan_a = vec![(
        "a policy on the base model, joined again for the conversions",
        json!({"metrics": ["converted_7d", "conversion_7d", "conversion_7d_same_plan"]}),
        vec![vec!["2", "0.666667", "0.666667"]],
    )];
    let mut failures = mismatches(
        &engines,
        &catalog,
        &Caller::with_roles(&["early_purchases"]),
        early,
    )
    .await;
    failures.extend(mismatches(&engines, &catalog, &Caller::with_roles(&["plan_a"]), plan_a).await);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn ambiguous_requests_are_refused_with_a_reason() {
    let catalog = catalog();
    let cases = [
        (
            json!({"metrics": ["revenue_7d"], "dimensions": ["metric_time:month"]}),
            "not a whole number of months",
        ),
        (json!({"metrics": ["revenue_7d"]}), "add metric_time"),
        (
            json!({"metrics": ["revenue_prev_month"], "dimensions": ["metric_time:day"]}),
            "not a whole number of days",
        ),
        (
            json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:week"]}),
            "month-to-date",
        ),
        (
            json!({"metrics": ["revenue_mtd"], "dimensions": ["metric_time:quarter"]}),
            "month-to-date",
        ),
        (
            json!({"metrics": ["revenue_7d"], "dimensions": ["metric_time:hour"]}),
            "needs a time_range with both start and end",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:day"], "time_zone": "Europe/Berlln"}),
            "unknown time zone",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:week"], "week_start": "sundy"}),
            "unknown week_start",
        ),
    ];
    for (raw, needle) in cases {
        let err = accord::planner::plan(&catalog, &q(raw.clone()), &Caller::operator())
            .expect_err(&raw.to_string());
        assert!(
            err.display_full().contains(needle),
            "{raw}: {}",
            err.display_full()
        );
    }
    let err = accord::planner::plan(
        &catalog,
        &q(json!({"metrics": ["revenue"], "dimensions": ["metric_time:day"], "time_zone": "Europe/Berlln"})),
        &Caller::operator(),
    )
    .unwrap_err();
    assert!(err.suggestions.contains(&"Europe/Berlin".to_string()));
}

//! Governance for metric stewards (docs/governance.md): metric lifecycle
//! (deprecation warnings naming the replacement, sunset errors), `accord
//! validate` lints and warehouse checks (DuckDB and PostgreSQL, with exact
//! messages and positions), `accord diff` (every kind of change classified,
//! from directories and from git revisions, with the parallel run checked
//! against the demo rows) and lineage (library, CLI and REST).
//!
//! Fixture definition repos live in tests/fixtures/governance/.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::definitions::{load_dir, load_str};
use accord::dialect::DialectKind;
use accord::governance::commands::{DiffArgs, DiffFormat, ValidateOptions, validate_report};
use accord::governance::diff::{ChangeKind, DiffReport, ItemKind, diff};
use accord::governance::lifecycle;
use accord::governance::lineage::{find_metric, lineage};
use accord::governance::source::Definitions;
use accord::planner::{ErrorCode, compile};
use accord::query::SemanticQuery;
use accord::warehouse::{Value, Warehouse, WarehouseOptions, WarehouseUrl};
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value as Json, json};

const FIXTURES: &str = "tests/fixtures/governance";

/// A fixture path relative to the crate root (cargo runs tests there), as
/// diagnostics show it.
fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(FIXTURES).join(rel)
}

fn catalog(rel: &str) -> std::sync::Arc<Catalog> {
    load_dir(&fixture(rel)).unwrap_or_else(|d| panic!("{rel} does not validate:\n{d}"))
}

fn query(metric: &str) -> SemanticQuery {
    SemanticQuery {
        metrics: vec![metric.to_string()],
        ..Default::default()
    }
}

fn accord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().expect("run accord");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_lines(actual: &str, expected: &[&str]) {
    let lines: Vec<&str> = actual.lines().collect();
    assert_eq!(
        lines, expected,
        "\nactual output:\n{actual}\n(expected lines above)"
    );
}

// ---------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------

const LIFECYCLE_BASE: &str = r#"
models:
  - name: orders
    source: {table: orders}
    entities:
      - {name: order, type: primary, expr: order_id}
    dimensions:
      - {name: status, type: categorical}
    measures:
      - {name: amount, agg: sum}
metrics:
  - name: revenue
    type: simple
    measure: orders.amount
    version: 2
"#;

fn lifecycle_errors(extra: &str) -> String {
    match load_str("defs.yml", &format!("{LIFECYCLE_BASE}{extra}")) {
        Ok(_) => panic!("expected errors for:\n{extra}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn lifecycle_fields_are_validated_with_positions() {
    // The base is valid, and the fields load on a deprecated version.
    let c = load_str(
        "defs.yml",
        &format!(
            "{LIFECYCLE_BASE}  - name: revenue\n    type: simple\n    measure: orders.amount\n    status: deprecated\n    deprecated_on: 2026-01-01\n    sunset_on: '2026-06-30'\n    replaced_by: revenue@2\n"
        ),
    )
    .unwrap();
    let v1 = c.metric_version("revenue", 1).unwrap();
    assert_eq!(v1.deprecated_on, NaiveDate::from_ymd_opt(2026, 1, 1));
    assert_eq!(v1.sunset_on, NaiveDate::from_ymd_opt(2026, 6, 30));
    let r = v1.replaced_by.as_ref().unwrap();
    assert_eq!(r.reference, "revenue@2");
    assert_eq!(c.metric(r.id).qualified_name(), "revenue@2");

    let out = lifecycle_errors(
        "  - name: revenue\n    type: simple\n    measure: orders.amount\n    status: deprecated\n    replaced_by: revenu\n",
    );
    assert_lines(
        &out,
        &[
            "error: defs.yml:20:18: metrics.revenue.replaced_by: unknown metric `revenu`; did you mean `revenue`?",
        ],
    );

    let out = lifecycle_errors(
        "  - name: revenue\n    type: simple\n    measure: orders.amount\n    status: deprecated\n    deprecated_on: 2026-03-01\n    sunset_on: 2026-02-01\n",
    );
    assert_lines(
        &out,
        &[
            "error: defs.yml:21:16: metrics.revenue.sunset_on: sunset_on 2026-02-01 is before deprecated_on 2026-03-01; a version is deprecated first, then sunset",
        ],
    );

    let out = lifecycle_errors(
        "  - name: revenue\n    type: simple\n    measure: orders.amount\n    deprecated_on: 2026-01-01\n    replaced_by: revenue@2\n",
    );
    assert_lines(
        &out,
        &[
            "error: defs.yml:19:20: metrics.revenue.deprecated_on: `deprecated_on` applies only to a deprecated metric, and this version is active; set `status: deprecated` or remove it",
            "error: defs.yml:20:18: metrics.revenue.replaced_by: `replaced_by` applies only to a deprecated metric, and this version is active; set `status: deprecated` or remove it",
        ],
    );

    let out = lifecycle_errors(
        "  - name: revenue\n    type: simple\n    measure: orders.amount\n    status: deprecated\n    sunset_on: 30/06/2026\n    replaced_by: revenue@1\n",
    );
    assert_lines(
        &out,
        &[
            "error: defs.yml:20:16: metrics.revenue.sunset_on: `30/06/2026` is not a date; write YYYY-MM-DD",
            "error: defs.yml:21:18: metrics.revenue.replaced_by: `revenue@1` is this metric itself; name the version to use instead",
        ],
    );

    let out = lifecycle_errors(
        "  - name: revenue\n    type: simple\n    measure: orders.amount\n    status: deprecated\n    replaced_by: revenue@7\n",
    );
    assert_lines(
        &out,
        &[
            "error: defs.yml:20:18: metrics.revenue.replaced_by: metric `revenue@7` has no such version, or no active version",
        ],
    );
}

#[test]
fn deprecated_versions_warn_naming_their_replacement() {
    let c = catalog("lifecycle");
    let op = Caller::operator();
    let (plan, _) = compile(&c, &query("orders"), &op, DialectKind::Duckdb).unwrap();
    assert_eq!(
        plan.warnings,
        vec![
            "metric `orders@1` is deprecated since 2025-01-01 and stops answering after 2999-12-31; use `order_count` instead"
        ]
    );
    let (plan, _) = compile(&c, &query("legacy_revenue"), &op, DialectKind::Duckdb).unwrap();
    assert_eq!(
        plan.warnings,
        vec!["metric `legacy_revenue@1` is deprecated"]
    );
    // The replacement answers without a warning.
    let (plan, _) = compile(&c, &query("order_count"), &op, DialectKind::Duckdb).unwrap();
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    // A metric reading deprecated or sunset versions answers, with warnings.
    let (plan, _) = compile(&c, &query("aov"), &op, DialectKind::Duckdb).unwrap();
    assert_eq!(
        plan.warnings,
        vec![
            "metric `aov@1` uses `orders@1`, which is deprecated; use `order_count` instead",
            "metric `aov@1` uses `revenue@1`, which was sunset on 2020-06-30; use `revenue@2` instead",
        ]
    );
}

#[test]
fn versions_past_their_sunset_are_errors_naming_the_replacement() {
    let c = catalog("lifecycle");
    let op = Caller::operator();
    let e = compile(&c, &query("revenue@1"), &op, DialectKind::Duckdb).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidQuery);
    assert_eq!(
        e.message,
        "metric `revenue@1` was sunset on 2020-06-30 and no longer answers; use `revenue@2` instead"
    );
    assert_eq!(e.field.as_deref(), Some("metrics[0]"));
    assert_eq!(e.suggestions, vec!["revenue@2"]);
    // The bare name means the newest active version, which answers.
    let (plan, _) = compile(&c, &query("revenue"), &op, DialectKind::Duckdb).unwrap();
    assert!(plan.warnings.is_empty());
    assert_eq!(c.metric(plan.metrics[0]).qualified_name(), "revenue@2");
}

#[test]
fn sunset_follows_the_calendar() {
    let c = catalog("lifecycle");
    let m = c.metric_version("revenue", 1).unwrap();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    // The sunset day itself still answers (with the warning); the next day
    // does not.
    let w = lifecycle::check_use(&c, m, day("2020-06-30")).unwrap();
    assert_eq!(
        w,
        vec![
            "metric `revenue@1` is deprecated since 2020-01-01 and stops answering after 2020-06-30; use `revenue@2` instead"
        ]
    );
    let e = lifecycle::check_use(&c, m, day("2020-07-01")).unwrap_err();
    assert!(e.message.contains("use `revenue@2` instead"), "{e}");
    assert!(lifecycle::is_sunset(m, lifecycle::today()));
}

/// The planner reads the day from its context, never the clock, and says
/// until when a plan holds: the last day every metric it uses (inputs
/// included) answers as it does.
#[test]
fn a_plan_is_valid_until_the_earliest_sunset_it_depends_on() {
    use accord::planner::{PlanContext, plan_in};
    let c = catalog("lifecycle");
    let op = Caller::operator();
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let on = |q: &str, d: &str| plan_in(&c, &query(q), &op, &PlanContext::on(day(d)));

    // Past its sunset on one day, still answering the day before.
    let p = on("revenue@1", "2020-06-30").unwrap();
    assert_eq!(p.valid_until, Some(day("2020-06-30")));
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    let e = on("revenue@1", "2020-07-01").unwrap_err();
    assert!(e.message.contains("was sunset on 2020-06-30"), "{e}");

    // A ratio over a deprecated input: the input's sunset bounds it.
    assert_eq!(
        on("aov", "2020-01-01").unwrap().valid_until,
        Some(day("2020-06-30"))
    );
    // After that day the same plan warns differently (sunset input).
    let later = on("aov", "2021-01-01").unwrap();
    assert!(
        later.warnings.iter().any(|w| w.contains("was sunset on")),
        "{:?}",
        later.warnings
    );
    // Deprecated with a far sunset; and a metric with none.
    assert_eq!(
        on("orders", "2026-01-01").unwrap().valid_until,
        Some(day("2999-12-31"))
    );
    assert_eq!(on("order_count", "2026-01-01").unwrap().valid_until, None);
    // Several metrics: the earliest.
    let mut q = query("orders");
    q.metrics.push("revenue@1".into());
    let p = plan_in(&c, &q, &op, &PlanContext::on(day("2020-01-01"))).unwrap();
    assert_eq!(p.valid_until, Some(day("2020-06-30")));
    // `plan` is `plan_in` today (UTC).
    let today = accord::planner::plan(&c, &query("orders"), &op).unwrap();
    let ctx = plan_in(&c, &query("orders"), &op, &PlanContext::today_utc()).unwrap();
    assert_eq!(today.valid_until, ctx.valid_until);
    assert_eq!(today.warnings, ctx.warnings);
}

#[test]
fn drafts_are_only_used_when_asked_for_by_version() {
    let c = catalog("lifecycle");
    let op = Caller::operator();
    let e = compile(&c, &query("experimental_revenue"), &op, DialectKind::Duckdb).unwrap_err();
    assert_eq!(
        e.message,
        "metric `experimental_revenue` has no active version; ask for one explicitly: experimental_revenue@1 (draft)"
    );
    compile(
        &c,
        &query("experimental_revenue@1"),
        &op,
        DialectKind::Duckdb,
    )
    .unwrap();
}

#[tokio::test]
async fn lifecycle_reaches_rest_clients() {
    let dir = tempfile::tempdir().unwrap();
    let url = http::demo_duckdb_copy(dir.path());
    let mut config = accord::server::ServeConfig::for_tests(&fixture("lifecycle"), url);
    config.reload = false;
    config.pg_addr = None;
    let mut server = http::Server::start(config, dir).await;
    let r = server.client.query(&json!({"metrics": ["orders"]})).await;
    let body = r.ok_json();
    assert_eq!(
        body["meta"]["warnings"],
        json!([
            "metric `orders@1` is deprecated since 2025-01-01 and stops answering after 2999-12-31; use `order_count` instead"
        ])
    );
    let r = server
        .client
        .query(&json!({"metrics": ["revenue@1"]}))
        .await;
    let p = r.problem(422, "invalid_query");
    assert_eq!(
        p["detail"],
        "metric `revenue@1` was sunset on 2020-06-30 and no longer answers; use `revenue@2` instead"
    );
    assert_eq!(p["suggestions"], json!(["revenue@2"]));
    server.shutdown().await;
}

// ---------------------------------------------------------------------------
// validate: lints
// ---------------------------------------------------------------------------

const LINT_WARNINGS: &[&str] = &[
    "warning: tests/fixtures/governance/lint/defs.yml:3:11: models.Orders.name: model name `Orders` is not snake_case; did you mean `orders`? [snake-case]",
    "warning: tests/fixtures/governance/lint/defs.yml:11:9: models.Orders.dimensions.email.tags: PII dimension `Orders.email` has no tags; tag it (e.g. `tags: [contact]`) so policies and reviewers can find it [pii-tagged]",
    "warning: tests/fixtures/governance/lint/defs.yml:19:9: models.Orders.measures.orderCount: measure name `orderCount` is not snake_case; did you mean `order_count`? [snake-case]",
    "warning: tests/fixtures/governance/lint/defs.yml:23:11: metrics.revenue.description: active metric `revenue@1` has no `description`; say what it counts and what it leaves out [description-required]",
    "warning: tests/fixtures/governance/lint/defs.yml:23:11: metrics.revenue.owner: active metric `revenue@1` has no `owner`; name the team or person who answers for it [owner-required]",
    "warning: tests/fixtures/governance/lint/defs.yml:23:11: metrics.revenue.unit: metric `revenue@1` has `format: currency` but no `unit`; give the currency (e.g. `unit: USD`) [currency-unit]",
    "warning: tests/fixtures/governance/lint/defs.yml:46:11: metrics.aov.format: ratio metric `aov@1` has no `format`; say how to show it (e.g. `format: percent`) [ratio-format]",
    "warning: tests/fixtures/governance/lint/defs.yml:47:16: metrics.aov.inputs: active metric `aov@1` reads `old_orders@1`, which is deprecated; use `orders` instead [deprecated-input]",
];

#[tokio::test]
async fn lints_are_warnings_by_default() {
    let r = validate_report(&fixture("lint"), &ValidateOptions::default())
        .await
        .unwrap();
    assert!(r.ok);
    assert_eq!(r.exit_code(), 0);
    let text = r.text();
    let mut expected = LINT_WARNINGS.to_vec();
    let summary = format!(
        "ok: 1 models, 4 metrics (definitions version {}), 8 warning(s)",
        r.version.clone().unwrap()
    );
    expected.push(&summary);
    assert_lines(&text, &expected);
    // The demo definitions follow every rule.
    let demo = validate_report(
        &common::repo_path("metric_defs"),
        &ValidateOptions::default(),
    )
    .await
    .unwrap();
    assert!(
        demo.errors.is_empty() && demo.warnings.is_empty(),
        "{}",
        demo.text()
    );
}

#[test]
fn strict_and_lint_options_set_levels() {
    let (code, stdout, stderr) = run(accord().args([
        "validate",
        "--defs",
        "tests/fixtures/governance/lint",
        "--strict",
        "--lint",
        "snake-case=off,description-required=off",
        "--lint",
        "deprecated-input=warn",
    ]));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_lines(
        &stderr,
        &[
            "error: tests/fixtures/governance/lint/defs.yml:11:9: models.Orders.dimensions.email.tags: PII dimension `Orders.email` has no tags; tag it (e.g. `tags: [contact]`) so policies and reviewers can find it [pii-tagged]",
            "error: tests/fixtures/governance/lint/defs.yml:23:11: metrics.revenue.owner: active metric `revenue@1` has no `owner`; name the team or person who answers for it [owner-required]",
            "error: tests/fixtures/governance/lint/defs.yml:23:11: metrics.revenue.unit: metric `revenue@1` has `format: currency` but no `unit`; give the currency (e.g. `unit: USD`) [currency-unit]",
            "error: tests/fixtures/governance/lint/defs.yml:46:11: metrics.aov.format: ratio metric `aov@1` has no `format`; say how to show it (e.g. `format: percent`) [ratio-format]",
            "warning: tests/fixtures/governance/lint/defs.yml:47:16: metrics.aov.inputs: active metric `aov@1` reads `old_orders@1`, which is deprecated; use `orders` instead [deprecated-input]",
            "4 error(s), 1 warning(s)",
        ],
    );
    let (code, stdout, _) = run(accord().args([
        "validate",
        "--defs",
        "tests/fixtures/governance/lint",
        "--lint",
        "all=off",
        "--format",
        "json",
    ]));
    assert_eq!(code, 0);
    let v: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["warnings"], json!([]));
    assert_eq!(v["models"], 1);
    // Usage mistakes exit 2.
    let (code, _, stderr) = run(accord().args([
        "validate",
        "--defs",
        "tests/fixtures/governance/lint",
        "--lint",
        "owner-requird=error",
    ]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown rule `owner-requird`")
            && stderr.contains("did you mean `owner-required`?"),
        "{stderr}"
    );
    let (code, _, _) = run(accord().args(["validate", "--format", "yaml"]));
    assert_eq!(code, 2);
}

#[test]
fn definitions_errors_keep_their_shape() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("defs.yml"),
        "metrics:\n  - name: revenue\n    type: simple\n    measure: orders.amount\n",
    )
    .unwrap();
    let (code, stdout, _) = run(accord()
        .args(["validate", "--json", "--defs"])
        .arg(dir.path()));
    assert_eq!(code, 1);
    let v: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], false);
    let e = &v["errors"][0];
    assert_eq!(e["severity"], "error");
    assert_eq!(e["check"], "definitions");
    assert_eq!(e["field"], "metrics.revenue.measure");
    assert_eq!(e["message"], "unknown measure `orders.amount`");
    assert_eq!(e["pos"]["line"], 4);
}

// ---------------------------------------------------------------------------
// validate --warehouse
// ---------------------------------------------------------------------------

/// What validating tests/fixtures/governance/warehouse/broken against the
/// demo warehouse reports; `{text}`, `{timestamp}`... are the engine's type
/// names and `{missing_table}` its message for `returns_log`.
fn broken_expected(types: &BTreeMap<&str, &str>, missing_table: &str) -> Vec<String> {
    let f = "tests/fixtures/governance/warehouse/broken/models.yml";
    vec![
        format!(
            "error: {f}:18:15: models.orders.dimensions.ordered_at.expr: column `orderd_at` does not exist in table `orders`; did you mean `ordered_at`?"
        ),
        format!(
            "error: {f}:23:15: models.orders.dimensions.placed_via.expr: time dimension `placed_via` reads column `channel`, which the warehouse types {}, not a date or timestamp",
            types["text"]
        ),
        format!(
            "error: {f}:31:15: models.orders.measures.currency_total.expr: `sum` over column `currency` is a type misuse: the warehouse types it {}, not a number",
            types["text"]
        ),
        format!(
            "error: {f}:35:14: models.customers.source.table: table `customer` does not exist in the warehouse; did you mean `customers`?"
        ),
        format!(
            "error: {f}:54:15: models.order_lines.dimensions.shipped_at.expr: time dimension `shipped_at` reads column `quantity`, which the warehouse types {}, not a date or timestamp",
            types["integer"]
        ),
        format!(
            "error: {f}:58:15: models.order_lines.measures.units.expr: column `qty` does not exist in the model's source query"
        ),
        format!(
            "error: {f}:62:12: models.returns.source.sql: the source query fails on the warehouse: {missing_table}"
        ),
        "7 error(s)".to_string(),
    ]
}

async fn demo_duckdb(dir: &Path) -> WarehouseUrl {
    let url: WarehouseUrl = format!("duckdb://{}", dir.join("demo.duckdb").display())
        .parse()
        .unwrap();
    let wh = Warehouse::connect(&url, WarehouseOptions::default())
        .await
        .unwrap();
    wh.load_demo(&common::warehouses::demo(1)).await.unwrap();
    drop(wh);
    url
}

#[tokio::test]
async fn validate_against_duckdb_reports_broken_references() {
    let dir = tempfile::tempdir().unwrap();
    let url = demo_duckdb(dir.path()).await;
    // The demo definitions fit the demo warehouse.
    let ok = validate_report(
        &common::repo_path("metric_defs"),
        &ValidateOptions {
            warehouse: Some(url.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(ok.ok && ok.warnings.is_empty(), "{}", ok.text());
    let r = validate_report(
        &fixture("warehouse/broken"),
        &ValidateOptions {
            warehouse: Some(url.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!r.ok);
    let types = BTreeMap::from([("text", "VARCHAR"), ("integer", "INTEGER")]);
    let expected = broken_expected(
        &types,
        "Catalog Error: Table with name returns_log does not exist!",
    );
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_lines(&r.text(), &expected);

    // The same through the CLI, as GitHub annotations, exit code 1.
    let (code, stdout, _) = run(accord().args([
        "validate",
        "--defs",
        "tests/fixtures/governance/warehouse/broken",
        "--format",
        "github",
        "--warehouse",
        &url.to_string(),
    ]));
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 8, "{stdout}");
    assert_eq!(
        lines[0],
        "::error file=tests/fixtures/governance/warehouse/broken/models.yml,line=18,col=15,title=accord warehouse::models.orders.dimensions.ordered_at.expr: column `orderd_at` does not exist in table `orders`; did you mean `ordered_at`?"
    );
    assert_eq!(lines[7], "::error title=accord validate::7 error(s)");

    // JSON names the check and the position of each.
    let (code, stdout, _) = run(accord().args([
        "validate",
        "--defs",
        "tests/fixtures/governance/warehouse/broken",
        "--json",
        "--warehouse",
        &url.to_string(),
    ]));
    assert_eq!(code, 1);
    let v: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["errors"].as_array().unwrap().len(), 7);
    assert_eq!(v["errors"][3]["check"], "warehouse");
    assert_eq!(v["errors"][3]["field"], "models.customers.source.table");
    assert_eq!(v["errors"][3]["suggestions"], json!(["customers"]));
    assert_eq!(v["errors"][3]["pos"]["line"], 35);

    // A warehouse file that does not exist is not created empty.
    let (code, _, stderr) = run(accord().args([
        "validate",
        "--warehouse",
        &format!("duckdb://{}", dir.path().join("nope.duckdb").display()),
    ]));
    assert_eq!(code, 1);
    assert!(stderr.contains("nope.duckdb does not exist"), "{stderr}");
    assert!(!dir.path().join("nope.duckdb").exists());
}

#[tokio::test]
async fn validate_against_postgres_reports_broken_references() {
    let url = common::warehouses::postgres_db("governance_validate").await;
    let wh = common::warehouses::open(&url).await;
    wh.load_demo(&common::warehouses::demo(1)).await.unwrap();
    // A model in another schema, named schema.table.
    wh.query("CREATE SCHEMA IF NOT EXISTS finance", 1)
        .await
        .unwrap();
    wh.query(
        "CREATE TABLE finance.invoices (invoice_id BIGINT PRIMARY KEY, total NUMERIC(12,2), issued_on DATE, note TEXT)",
        1,
    )
    .await
    .unwrap();
    drop(wh);
    let url: WarehouseUrl = url.parse().unwrap();
    let ok = validate_report(
        &common::repo_path("metric_defs"),
        &ValidateOptions {
            warehouse: Some(url.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(ok.ok && ok.warnings.is_empty(), "{}", ok.text());
    let r = validate_report(
        &fixture("warehouse/broken"),
        &ValidateOptions {
            warehouse: Some(url.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let types = BTreeMap::from([("text", "text"), ("integer", "integer")]);
    let expected = broken_expected(&types, "relation \"returns_log\" does not exist");
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_lines(&r.text(), &expected);

    // Schema-qualified tables and their types.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("defs.yml"),
        r#"models:
  - name: invoices
    source: {table: finance.invoices}
    entities:
      - {name: invoice, type: primary, expr: invoice_id}
    dimensions:
      - {name: issued_on, type: time}
      - {name: note, type: number}
    measures:
      - {name: total, agg: sum}
      - {name: notes, agg: avg, expr: note}
  - name: ledger
    source: {table: finance.ledger}
    measures:
      - {name: entries, agg: count}
"#,
    )
    .unwrap();
    let r = validate_report(
        dir.path(),
        &ValidateOptions {
            warehouse: Some(url),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let f = dir.path().join("defs.yml").display().to_string();
    let expected = [
        format!(
            "error: {f}:8:9: models.invoices.dimensions.note: number dimension `note` reads column `note`, which the warehouse types text, not a number"
        ),
        format!(
            "error: {f}:11:39: models.invoices.measures.notes.expr: `avg` over column `note` is a type misuse: the warehouse types it text, not a number"
        ),
        format!(
            "error: {f}:13:21: models.ledger.source.table: table `finance.ledger` does not exist in the warehouse; did you mean `finance.invoices`?"
        ),
        "3 error(s)".to_string(),
    ];
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_lines(&r.text(), &expected);
}

#[test]
fn type_names_are_classified() {
    use accord::governance::warehouse_check::{TypeClass, classify};
    for (t, c) in [
        ("BIGINT", TypeClass::Numeric),
        ("DECIMAL(12,2)", TypeClass::Numeric),
        ("double precision", TypeClass::Numeric),
        ("timestamp without time zone", TypeClass::Temporal),
        ("TIMESTAMP WITH TIME ZONE", TypeClass::Temporal),
        ("datetime", TypeClass::Temporal),
        ("DATE", TypeClass::Temporal),
        ("boolean", TypeClass::Boolean),
        ("character varying", TypeClass::Text),
        ("varchar(255)", TypeClass::Text),
        ("VARCHAR", TypeClass::Text),
        ("interval", TypeClass::Other),
        ("time without time zone", TypeClass::Other),
        ("INTEGER[]", TypeClass::Other),
        ("", TypeClass::Other),
    ] {
        assert_eq!(classify(t), c, "{t}");
    }
}

// ---------------------------------------------------------------------------
// diff
// ---------------------------------------------------------------------------

type Expected = (ChangeKind, ItemKind, &'static str, bool);

fn classification(head: &str) -> Vec<(ChangeKind, ItemKind, String, bool)> {
    let base = catalog("diff/base");
    let head = catalog(&format!("diff/{head}"));
    diff(&base, &head)
        .into_iter()
        .map(|c| (c.kind, c.item, c.name, c.breaking))
        .collect()
}

#[test]
fn diff_classifies_every_kind_of_change() {
    use ChangeKind::*;
    use ItemKind::*;
    let cases: &[(&str, &[Expected])] = &[
        ("base", &[]),
        ("added_metric", &[(Added, Metric, "refund_rate@1", false)]),
        (
            "removed_metric",
            &[(Removed, Metric, "gross_orders@1", true)],
        ),
        ("renamed_metric", &[(Renamed, Metric, "all_orders@1", true)]),
        (
            "version_bumped",
            &[(VersionBumped, Metric, "gross_orders@2", false)],
        ),
        (
            "deprecated",
            &[(Deprecated, Metric, "gross_orders@1", false)],
        ),
        ("meaning_changed", &[(Modified, Metric, "revenue@1", true)]),
        ("metric_type_changed", &[(Modified, Metric, "aov@1", true)]),
        (
            "default_moved",
            &[
                (Modified, Metric, "aov@1", true),
                (Modified, Metric, "net_revenue@1", true),
                (VersionBumped, Metric, "revenue@2", false),
            ],
        ),
        ("metadata_only", &[(Modified, Metric, "revenue@1", false)]),
        ("added_model", &[(Added, Model, "products", false)]),
        (
            "renamed_model",
            &[(Renamed, Model, "billing_accounts", true)],
        ),
        (
            "added_dimension",
            &[(Added, Dimension, "orders.discounted", false)],
        ),
        (
            "removed_dimension",
            &[(Removed, Dimension, "orders.currency", true)],
        ),
        (
            "renamed_dimension",
            &[(Renamed, Dimension, "orders.sales_channel", true)],
        ),
        (
            "dimension_expr",
            &[(Modified, Dimension, "orders.status", true)],
        ),
        (
            "dimension_type",
            &[(Modified, Dimension, "orders.ordered_at", true)],
        ),
        (
            "measure_expr",
            &[(Modified, Measure, "orders.amount", true)],
        ),
        ("grain_changed", &[(Modified, Entity, "orders.order", true)]),
        (
            "join_path_changed",
            &[
                (Added, Entity, "orders.account", false),
                (Modified, JoinPath, "orders → accounts", true),
            ],
        ),
    ];
    let mut listed: Vec<&str> = cases.iter().map(|c| c.0).collect();
    for (case, expected) in cases {
        let got = classification(case);
        let want: Vec<(ChangeKind, ItemKind, String, bool)> = expected
            .iter()
            .map(|(k, i, n, b)| (*k, *i, n.to_string(), *b))
            .collect();
        assert_eq!(got, want, "diff/base → diff/{case}");
    }
    // Every fixture directory is covered.
    let mut dirs: Vec<String> = std::fs::read_dir(fixture("diff"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    listed.sort();
    assert_eq!(dirs, listed);
}

#[test]
fn diff_details_and_impact() {
    let base = catalog("diff/base");
    let changes = diff(&base, &catalog("diff/meaning_changed"));
    let c = &changes[0];
    assert_eq!(c.details.len(), 1);
    assert_eq!(c.details[0].field, "filter");
    assert_eq!(
        c.details[0].text(),
        "filter: orders.status <> 'cancelled' → orders.status NOT IN ('cancelled', 'refunded')"
    );
    assert!(c.details[0].breaking);
    assert_eq!(c.impact.metrics, vec!["aov@1", "net_revenue@1"]);

    // A version bump moves metrics that name the bare metric.
    let changes = diff(&base, &catalog("diff/default_moved"));
    let net = changes.iter().find(|c| c.name == "net_revenue@1").unwrap();
    assert_eq!(
        net.details[0].text(),
        "inputs: revenue@1, refunds@1 → revenue@2, refunds@1"
    );
    let bump = changes.iter().find(|c| c.name == "revenue@2").unwrap();
    assert_eq!(bump.from.as_deref(), Some("revenue@1"));
    assert_eq!(
        bump.details[0].text(),
        "default version: revenue@1 → revenue@2"
    );
    assert_eq!(bump.impact.metrics, vec!["aov@1", "net_revenue@1"]);

    // Measure changes list every metric built on them, transitively.
    let changes = diff(&base, &catalog("diff/measure_expr"));
    assert_eq!(
        changes[0].details[0].text(),
        "expr: amount → amount - discount"
    );
    assert_eq!(
        changes[0].impact.metrics,
        vec!["aov@1", "net_revenue@1", "revenue@1"]
    );

    let changes = diff(&base, &catalog("diff/join_path_changed"));
    assert_eq!(
        changes[1].details[0].text(),
        "path: orders -[customer]-> customers -[account]-> accounts → orders -[account]-> accounts"
    );
    let changes = diff(&base, &catalog("diff/grain_changed"));
    assert_eq!(
        changes[0].details[0].text(),
        "grain (key): order_id → order_id, currency"
    );
    let changes = diff(&base, &catalog("diff/renamed_metric"));
    assert_eq!(changes[0].from.as_deref(), Some("gross_orders@1"));
    let changes = diff(&base, &catalog("diff/deprecated"));
    let fields: Vec<String> = changes[0].details.iter().map(|d| d.text()).collect();
    assert_eq!(
        fields,
        vec![
            "status: active → deprecated",
            "deprecated_on: (none) → 2026-01-01",
            "sunset_on: (none) → 2026-12-31",
            "replaced_by: (none) → orders",
        ]
    );

    // Roles and consent that name a changed item are part of its impact.
    let demo = common::demo_catalog();
    let mut files = accord::definitions::read_dir(&common::repo_path("metric_defs")).unwrap();
    for f in files.iter_mut() {
        f.text = f.text.replace(
            "      - name: email\n        type: categorical\n",
            "      - name: email\n        type: categorical\n        expr: lower(email)\n",
        );
    }
    let head = accord::definitions::load_files(&files).unwrap();
    let changes = diff(&demo, &head);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].name, "customers.email");
    assert_eq!(
        changes[0].impact.definitions,
        vec!["role analyst", "role marketing_eu", "role regional_manager"]
    );
}

fn diff_args(base: &str, head: &str) -> DiffArgs {
    DiffArgs {
        base: base.into(),
        head: head.into(),
        defs: "metric_defs".into(),
        repo: ".".into(),
        format: DiffFormat::Text,
        allow_breaking: false,
        warehouse: None,
        breakdowns: 3,
        top: 10,
    }
}

#[tokio::test]
async fn diff_reports_as_text_json_and_markdown() {
    let a = diff_args(
        "tests/fixtures/governance/diff/base",
        "tests/fixtures/governance/diff/default_moved",
    );
    let report = accord::governance::commands::diff_report(&a).await.unwrap();
    assert_eq!(report.breaking, 2);
    assert_eq!(report.non_breaking, 1);
    let text = report.text(10);
    assert!(
        text.contains("2 breaking change(s), 1 non-breaking")
            && text.contains("  modified        metric `net_revenue@1`\n                  ! inputs: revenue@1, refunds@1 → revenue@2, refunds@1\n"),
        "{text}"
    );
    let md = report.markdown(10);
    assert!(md.starts_with("## accord diff: `tests/fixtures/governance/diff/base` → `tests/fixtures/governance/diff/default_moved`\n"), "{md}");
    assert!(
        md.contains("**:warning: 2 breaking change(s)**, 1 non-breaking"),
        "{md}"
    );
    assert!(md.contains("### Breaking changes\n\n| Change | Item | Details | Impact |\n|---|---|---|---|\n| modified | metric `aov@1` | numerator/denominator: `revenue@1, orders@1` → `revenue@2, orders@1` **(breaking)** |  |\n"), "{md}");
    assert!(md.contains("| version bumped | metric `revenue@2` (after `revenue@1`) | default version: `revenue@1` → `revenue@2`<br>filter: "), "{md}");
    let v: Json = serde_json::from_str(&report.json()).unwrap();
    assert_eq!(v["breaking"], 2);
    assert_eq!(v["changes"][0]["kind"], "modified");
    assert_eq!(v["changes"][0]["item"], "metric");
    assert_eq!(v["changes"][2]["kind"], "version_bumped");
    assert_eq!(v["changes"][2]["from"], "revenue@1");

    // Exit codes: 1 on breaking changes, 0 when allowed or non-breaking,
    // 2 for something that is neither a directory nor a revision.
    let d = "tests/fixtures/governance/diff";
    let (code, _, stderr) =
        run(accord().args(["diff", &format!("{d}/base"), &format!("{d}/removed_metric")]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("1 breaking change(s); pass --allow-breaking"),
        "{stderr}"
    );
    let (code, stdout, _) = run(accord().args([
        "diff",
        &format!("{d}/base"),
        &format!("{d}/removed_metric"),
        "--allow-breaking",
        "--format",
        "markdown",
    ]));
    assert_eq!(code, 0);
    assert!(
        stdout.contains("| removed | metric `gross_orders@1` |"),
        "{stdout}"
    );
    let (code, _, _) =
        run(accord().args(["diff", &format!("{d}/base"), &format!("{d}/added_metric")]));
    assert_eq!(code, 0);
    let (code, _, stderr) =
        run(accord().args(["diff", &format!("{d}/base"), "no-such-rev-or-dir"]));
    assert_eq!(code, 2);
    assert!(
        stderr
            .contains("`no-such-rev-or-dir` is neither a definitions directory nor a git revision"),
        "{stderr}"
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Accord Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Accord Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn diff_between_git_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    let defs = repo.join("metric_defs");
    std::fs::create_dir_all(&defs).unwrap();
    let copy = |case: &str| {
        std::fs::copy(
            fixture(&format!("diff/{case}/defs.yml")),
            defs.join("defs.yml"),
        )
        .unwrap();
    };
    copy("base");
    std::fs::write(repo.join("README.md"), "not definitions\n").unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "base"]);
    git(repo, &["tag", "v1"]);
    copy("meaning_changed");
    git(repo, &["commit", "-q", "-am", "revenue leaves out refunds"]);
    let head = git(repo, &["rev-parse", "HEAD"]);

    // The library reads each revision's files as they were committed.
    let d = Definitions::from_git(repo, "HEAD~1", Path::new("metric_defs")).unwrap();
    assert_eq!(d.files.len(), 1);
    assert_eq!(d.files[0].path, "metric_defs/defs.yml");
    assert_eq!(
        d.files[0].text,
        std::fs::read_to_string(fixture("diff/base/defs.yml")).unwrap()
    );

    // The CLI, run inside the repository: tag → branch.
    let (code, stdout, stderr) = run(accord().args(["diff", "v1", "main"]).current_dir(repo));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let short = &head[..12];
    assert!(
        stdout.starts_with("accord diff v1 (") && stdout.contains(&format!("→ main ({short})")),
        "{stdout}"
    );
    assert!(stdout.contains("  modified        metric `revenue@1`\n                  ! filter: orders.status <> 'cancelled' → orders.status NOT IN ('cancelled', 'refunded')"), "{stdout}");

    // From elsewhere with --repo, JSON, a commit against the working tree.
    copy("added_metric");
    let (code, stdout, stderr) = run(accord()
        .args(["diff", "HEAD", "--format", "json", "--repo"])
        .arg(repo)
        .arg(&defs)
        .args(["--allow-breaking"])
        .current_dir(repo));
    assert_eq!(code, 0, "{stderr}");
    let v: Json = serde_json::from_str(&stdout).unwrap();
    let kinds: Vec<(String, String)> = v["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().into(),
                c["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("added".to_string(), "refund_rate@1".to_string()),
            ("modified".to_string(), "revenue@1".to_string()),
        ]
    );
    let (code, _, _) = run(accord()
        .args(["diff", "HEAD~1", "HEAD", "--repo"])
        .arg(repo)
        .arg("--allow-breaking"));
    assert_eq!(code, 0);

    // Definitions elsewhere in the repository: --defs.
    git(repo, &["mv", "metric_defs", "semantic"]);
    git(repo, &["commit", "-q", "-am", "move"]);
    let (code, stdout, stderr) = run(accord()
        .args(["diff", "v1", "HEAD", "--defs", "semantic", "--repo"])
        .arg(repo));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("no .yml or .yaml files under `semantic` at v1"),
        "{stderr}"
    );
    let (code, stdout, _) = run(accord()
        .args(["diff", "HEAD~1", "HEAD", "--defs", "semantic", "--repo"])
        .arg(repo));
    assert_eq!(code, 2, "{stdout}");
    let (code, stdout, _) = run(accord()
        .args(["diff", "HEAD~2", "HEAD", "--defs", "semantic", "--repo"])
        .arg(repo));
    assert_eq!(code, 2, "{stdout}");
    let d = Definitions::from_git(repo, "HEAD", Path::new("semantic")).unwrap();
    assert_eq!(d.files[0].path, "semantic/defs.yml");
}

/// Revenue per group (None = all orders), computed from the generated rows.
fn revenue_from_rows(
    data: &accord::demo::DemoData,
    excluded: &[&str],
    key: impl Fn(&accord::demo::Order) -> String,
) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for o in &data.orders {
        if excluded.contains(&o.status) {
            continue;
        }
        *out.entry(key(o)).or_default() += o.amount;
    }
    out.into_iter()
        .map(|(k, v)| (k, v.to_f64().unwrap()))
        .collect()
}

fn group_key(g: &[Value]) -> String {
    match g {
        [] => "total".into(),
        [Value::Timestamp(t)] => format!("{:04}-{:02}", t.year(), t.month()),
        [Value::Date(d)] => format!("{:04}-{:02}", d.year(), d.month()),
        [v] => v.to_text(),
        _ => panic!("one dimension per breakdown"),
    }
}

#[tokio::test]
async fn parallel_run_reports_variance_per_group() {
    let data = common::warehouses::demo(1);
    let wh = Warehouse::connect(&WarehouseUrl::Duckdb(None), WarehouseOptions::default())
        .await
        .unwrap();
    wh.load_demo(&data).await.unwrap();
    let base = catalog("variance/base");
    let head = catalog("variance/head");
    let report = DiffReport::new("base".into(), &base, "head".into(), &head);
    let runs = accord::governance::variance::run(&base, &head, &report.changes, &wh, 2).await;
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert_eq!((r.old.as_str(), r.new.as_str()), ("revenue@1", "revenue@2"));
    let names: Vec<&str> = r.breakdowns.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "total",
            "metric_time:month",
            "orders.status",
            "orders.channel"
        ]
    );

    type Key = fn(&accord::demo::Order) -> String;
    let keys: [Key; 4] = [
        |_| "total".into(),
        |o| format!("{:04}-{:02}", o.ordered_at.year(), o.ordered_at.month()),
        |o| o.status.to_string(),
        |o| o.channel.to_string(),
    ];
    let refunded: f64 = data
        .orders
        .iter()
        .filter(|o| o.status == "refunded")
        .map(|o| o.amount)
        .sum::<Decimal>()
        .to_f64()
        .unwrap();
    assert!(refunded > 0.0);
    for (b, key) in r.breakdowns.iter().zip(keys) {
        assert!(b.error.is_none(), "{b:?}");
        let old = revenue_from_rows(&data, &["cancelled"], key);
        let new = revenue_from_rows(&data, &["cancelled", "refunded"], key);
        let mut expected: Vec<(String, f64)> = old
            .iter()
            .map(|(k, o)| (k.clone(), new.get(k).copied().unwrap_or(0.0) - o))
            .collect();
        // Largest absolute variance first.
        expected.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
        let got: Vec<(String, f64)> = b
            .groups
            .iter()
            .map(|g| (group_key(&g.group), g.abs))
            .collect();
        assert_eq!(got.len(), expected.len(), "{}: {got:?}", b.name);
        for ((gk, gv), (ek, ev)) in got.iter().zip(&expected) {
            assert_eq!(gk, ek, "{}: order of groups", b.name);
            assert!((gv - ev).abs() < 0.005, "{} {gk}: {gv} vs {ev}", b.name);
        }
        for g in &b.groups {
            let k = group_key(&g.group);
            let o = old[&k];
            assert!((g.old.unwrap() - o).abs() < 0.005, "{} {k}", b.name);
            match new.get(&k) {
                Some(n) => assert!((g.new.unwrap() - n).abs() < 0.005),
                None => assert_eq!(g.new, None, "{} {k}: no refunded order survives", b.name),
            }
            let rel = g.rel.unwrap();
            assert!((rel - g.abs / o).abs() < 1e-9);
        }
    }
    let total = &r.breakdowns[0].groups[0];
    assert!((total.abs + refunded).abs() < 0.005);
    let by_status = &r.breakdowns[2].groups[0];
    assert_eq!(by_status.group, vec![Value::Text("refunded".into())]);
    assert_eq!(by_status.rel, Some(-1.0));

    // Through the CLI: text and Markdown sections, JSON with every group.
    let dir = tempfile::tempdir().unwrap();
    let url = demo_duckdb(dir.path()).await;
    let (code, stdout, stderr) = run(accord().args([
        "diff",
        "tests/fixtures/governance/variance/base",
        "tests/fixtures/governance/variance/head",
        "--warehouse",
        &url.to_string(),
        "--breakdowns",
        "1",
        "--format",
        "markdown",
        "--top",
        "3",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("### Parallel run\n\n#### `revenue@1` → `revenue@2`\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "<details><summary>by <code>orders.status</code>: 1 of 2 groups differ</summary>"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "| refunded | {refunded:.2} | – | -{refunded:.2} | -100.00% |"
        )),
        "{stdout}"
    );
    let (code, stdout, _) = run(accord().args([
        "diff",
        "tests/fixtures/governance/variance/base",
        "tests/fixtures/governance/variance/head",
        "--warehouse",
        &url.to_string(),
        "--format",
        "json",
    ]));
    assert_eq!(code, 0);
    let v: Json = serde_json::from_str(&stdout).unwrap();
    let b = &v["variance"][0]["breakdowns"];
    assert_eq!(b[1]["name"], "metric_time:month");
    assert_eq!(b[1]["groups"].as_array().unwrap().len(), 12);
}

// ---------------------------------------------------------------------------
// lineage
// ---------------------------------------------------------------------------

#[test]
fn lineage_walks_inputs_measures_columns_and_tables() {
    let c = common::demo_catalog();
    let m = find_metric(&c, "net_revenue").unwrap();
    let l = lineage(&c, m.id, None);
    assert_eq!(l.metric, "net_revenue@1");
    assert_eq!(l.owner.as_deref(), Some("finance-analytics@example.com"));
    let inputs: Vec<&str> = l.inputs.iter().map(|i| i.metric.as_str()).collect();
    assert_eq!(inputs, ["revenue@1", "refunds@1"]);
    let measures: Vec<(&str, &str, Vec<String>)> = l
        .measures
        .iter()
        .map(|x| (x.measure.as_str(), x.agg.as_str(), x.columns.clone()))
        .collect();
    assert_eq!(
        measures,
        vec![
            ("orders.amount", "sum", vec!["amount".to_string()]),
            (
                "orders.refunded_amount",
                "sum",
                vec!["refunded_amount".to_string()]
            ),
        ]
    );
    assert_eq!(l.filter_dimensions[0].dimension, "orders.status");
    assert_eq!(l.models.len(), 1);
    assert_eq!(
        l.models[0].columns,
        vec!["amount", "refunded_amount", "status"]
    );
    assert_eq!(l.tables, vec!["orders"]);
    assert!(
        l.edges
            .iter()
            .any(|e| e.from == "metric:net_revenue@1" && e.to == "metric:revenue@1")
    );
    assert!(
        l.edges
            .iter()
            .any(|e| e.from == "column:orders.amount" && e.to == "model:orders")
    );
    assert!(
        l.edges
            .iter()
            .any(|e| e.from == "model:orders" && e.to == "table:orders")
    );

    // A SQL source reads the tables its query names.
    let units = lineage(&c, find_metric(&c, "units_sold").unwrap().id, None);
    assert_eq!(units.models[0].source, "sql");
    assert_eq!(units.tables, vec!["order_items", "orders"]);

    // Dependents: direct and through other metrics.
    let revenue = lineage(&c, find_metric(&c, "revenue").unwrap().id, None);
    let deps: Vec<(&str, bool)> = revenue
        .dependents
        .iter()
        .map(|d| (d.metric.as_str(), d.direct))
        .collect();
    assert!(deps.contains(&("net_revenue@1", true)), "{deps:?}");
    assert!(deps.contains(&("average_order_value@1", true)), "{deps:?}");

    // Versions and their differences.
    let lc = catalog("lifecycle");
    let l = lineage(&lc, find_metric(&lc, "revenue").unwrap().id, None);
    assert_eq!(l.metric, "revenue@2");
    assert_eq!(l.versions.len(), 2);
    assert_eq!(l.versions[0].status, "deprecated");
    assert_eq!(l.versions[0].replaced_by.as_deref(), Some("revenue@2"));
    assert_eq!(l.versions[0].sunset_on.as_deref(), Some("2020-06-30"));
    assert!(l.versions[1].default);
    let changes: Vec<String> = l.versions[1].changes.iter().map(|d| d.text()).collect();
    assert_eq!(
        changes,
        vec![
            "filter: orders.status <> 'cancelled' → orders.status NOT IN ('cancelled', 'refunded')",
            "description: Order amounts, cancelled orders excluded. → Order amounts, cancelled and refunded orders excluded.",
        ]
    );
    let old = lineage(&lc, find_metric(&lc, "revenue@1").unwrap().id, None);
    assert_eq!(
        old.dependents
            .iter()
            .map(|d| d.metric.as_str())
            .collect::<Vec<_>>(),
        ["aov@1"]
    );
}

#[test]
fn lineage_cli_formats() {
    let (code, stdout, _) = run(accord().args(["lineage", "net_revenue"]));
    assert_eq!(code, 0);
    assert!(stdout.starts_with("net_revenue@1 (derived, active) — Net revenue\n  input revenue@1 (simple, active) ← measure orders.amount\n"), "{stdout}");
    assert!(stdout.contains("\nmodels:\n  orders (table source) → tables orders ; columns used: amount, refunded_amount, status\n"), "{stdout}");
    let (code, stdout, _) = run(accord().args(["lineage", "net_revenue", "--format", "dot"]));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("digraph \"lineage net_revenue@1\" {\n  rankdir=LR;\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  \"metric:net_revenue@1\" -> \"metric:revenue@1\";\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  \"model:orders\" -> \"table:orders\";\n"),
        "{stdout}"
    );
    let (code, stdout, _) = run(accord().args(["lineage", "revenue@1", "--format", "mermaid"]));
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("flowchart LR\n  n0([\"revenue@1 (simple, active)\"])\n"),
        "{stdout}"
    );
    assert!(stdout.contains("  n0 --> n1\n"), "{stdout}");
    let (code, stdout, _) = run(accord().args(["lineage", "refunds", "--format", "json"]));
    assert_eq!(code, 0);
    let v: Json = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["measures"][0]["measure"], "orders.refunded_amount");
    let (code, _, stderr) = run(accord().args(["lineage", "revenu"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("unknown metric `revenu`; did you mean `revenue`?"),
        "{stderr}"
    );
}

#[tokio::test]
async fn lineage_endpoint_respects_visibility() {
    let mut server = http::Server::demo(|c| c.pg_addr = None).await;
    let admin = server
        .client
        .get("/v1/catalog/lineage/revenue")
        .await
        .ok_json();
    assert_eq!(admin["metric"], "revenue@1");
    assert_eq!(admin["tables"], json!(["orders"]));
    let deps: Vec<&str> = admin["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["metric"].as_str().unwrap())
        .collect();
    assert!(deps.contains(&"net_revenue@1") && deps.contains(&"average_order_value@1"));

    let partner = accord::auth::mint_hs256(
        accord::auth::DEV_SECRET,
        "tester",
        &["partner".to_string()],
        &BTreeMap::new(),
        600,
    )
    .unwrap();
    let get = |path: &str| {
        server
            .client
            .http
            .get(server.client.url(path))
            .bearer_auth(&partner)
    };
    let r = server.client.send(get("/v1/catalog/lineage/revenue")).await;
    let body = r.ok_json();
    let deps: Vec<&str> = body["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["metric"].as_str().unwrap())
        .collect();
    // The partner sees average_order_value but not net_revenue.
    assert_eq!(deps, ["average_order_value@1"]);
    let r = server.client.send(get("/v1/catalog/lineage/refunds")).await;
    let p = r.problem(404, "unknown_metric");
    assert_eq!(p["detail"], "unknown metric `refunds`");
    let r = server.client.get("/v1/catalog/lineage/revenu").await;
    let p = r.problem(404, "unknown_metric");
    assert_eq!(p["suggestions"], json!(["revenue"]));
    server.shutdown().await;
}

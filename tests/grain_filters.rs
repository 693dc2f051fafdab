//! A filter on a time grain (`metric_time:day`) means the same on every
//! interface: `accord query --filter` and `--where`, REST `filters`, the
//! `filter` tree and `where`, GraphQL `where` (a field's `granularity`, at
//! the top and under `or`) and the Postgres endpoint's WHERE
//! (`DATE_TRUNC('day', metric_time)`). Each compares the time truncated to
//! the grain, in the query's time zone, weeks from its week start.
//!
//! The cases are data, `tests/grain_filters/cases.yaml` (its header says
//! how to write one). Expected revenue per country is computed here from
//! the generator's orders (scale 1, seed 42) in hand-written UTC ranges,
//! not by accord; refusals are checked for a message saying how to write
//! the filter.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/demo_rows.rs"]
mod demo_rows;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::str::FromStr;

use chrono::NaiveDateTime;
use http::{Client, Server};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_postgres::{NoTls, SimpleQueryMessage};

type ByCountry = BTreeMap<String, Decimal>;

// ---------------------------------------------------------------------------
// The cases

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    cases: Vec<Case>,
    errors: Vec<ErrorCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    week_start: Option<String>,
    filter: String,
    #[serde(rename = "where")]
    where_: Vec<String>,
    graphql: String,
    pg: Vec<String>,
    utc: Vec<(Option<String>, Option<String>)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    id: String,
    #[serde(default)]
    filter: Option<String>,
    #[serde(default, rename = "where")]
    where_: Vec<String>,
    #[serde(default)]
    pg: Vec<String>,
    message: Vec<String>,
    #[serde(default)]
    pg_message: Option<Vec<String>>,
}

fn cases() -> Cases {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/grain_filters/cases.yaml");
    let text = std::fs::read_to_string(&path).expect("tests/grain_filters/cases.yaml");
    let cases: Cases = serde_saphyr::from_str(&text)
        .unwrap_or_else(|e| panic!("tests/grain_filters/cases.yaml: {e}"));
    let mut ids: Vec<&str> = cases.cases.iter().map(|c| c.id.as_str()).collect();
    ids.extend(cases.errors.iter().map(|c| c.id.as_str()));
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "case ids are unique");
    cases
}

/// The revenue per country of orders whose UTC time is in a range.
fn expected(case: &Case) -> ByCountry {
    let at = |t: &Option<String>| {
        t.as_deref().map(|t| {
            NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
                .unwrap_or_else(|e| panic!("{}: `{t}`: {e}", case.id))
        })
    };
    let ranges: Vec<_> = case.utc.iter().map(|(a, b)| (at(a), at(b))).collect();
    let rows = demo_rows::revenue_where(|o, _| {
        ranges.iter().any(|(from, to)| {
            from.is_none_or(|f| o.ordered_at >= f) && to.is_none_or(|t| o.ordered_at < t)
        })
    });
    assert!(!rows.is_empty(), "{}: the ranges hold no order", case.id);
    rows
}

/// `DIMENSION OP VALUES` as a REST `filters` entry: the CLI's own reading.
fn rest_filter(text: &str) -> Value {
    serde_json::to_value(accord::cli::args::parse_filter(text).expect("a --filter text"))
        .expect("a filter as JSON")
}

// ---------------------------------------------------------------------------
// The interfaces

fn decimal(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).expect("a decimal"),
        Value::String(s) => Decimal::from_str(s).expect("a decimal"),
        other => panic!("not a number: {other}"),
    }
}

/// `country → revenue` of a result set (`columns` with names, `rows`).
fn by_country(r: &Value) -> ByCountry {
    let cols: Vec<&str> = r["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("a column name"))
        .collect();
    let ci = cols
        .iter()
        .position(|c| *c == "customers__country")
        .unwrap();
    let ri = cols.iter().position(|c| *c == "revenue").unwrap();
    r["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| (row[ci].as_str().unwrap().to_string(), decimal(&row[ri])))
        .collect()
}

/// `accord query` against its own copy of the demo file.
struct Cli {
    dir: tempfile::TempDir,
    url: String,
}

impl Cli {
    fn new() -> Cli {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = http::demo_duckdb_copy(dir.path()).to_string();
        Cli { dir, url }
    }

    /// Runs a query; its JSON answer, or the error it printed.
    fn query(&self, extra: &[&str]) -> Result<Value, String> {
        let defs = http::demo_defs();
        let mut args = vec![
            "query",
            "--defs",
            defs.to_str().unwrap(),
            "--warehouse",
            &self.url,
            "--metrics",
            "revenue",
            "--by",
            "customers.country",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(&args)
            .current_dir(self.dir.path())
            .env_remove("ACCORD_CONFIG")
            .env_remove("ACCORD_WAREHOUSE")
            .env_remove("ACCORD_DEFS")
            .env_remove("ACCORD_TOKEN")
            .output()
            .expect("run accord");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).expect("--format json prints JSON"))
    }
}

fn time_flags(case: &Case) -> Vec<&str> {
    let mut flags = Vec::new();
    if let Some(z) = &case.time_zone {
        flags.extend(["--time-zone", z.as_str()]);
    }
    if let Some(w) = &case.week_start {
        flags.extend(["--week-start", w.as_str()]);
    }
    flags
}

/// A REST body for the case: revenue by country, its zone and week start.
fn rest_body(case: Option<&Case>, extra: Value) -> Value {
    let mut body = json!({"metrics": ["revenue"], "dimensions": ["customers.country"]});
    if let Some(c) = case {
        body["time_zone"] = json!(c.time_zone);
        body["week_start"] = json!(c.week_start);
    }
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn graphql(c: &Client, document: &str) -> Value {
    let r = c
        .send(
            c.http
                .post(c.url("/graphql"))
                .json(&json!({"query": document})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn graphql_document(case: &Case, condition: &str) -> String {
    let mut args = vec![format!("where: {condition}")];
    if let Some(z) = &case.time_zone {
        args.push(format!("timeZone: \"{z}\""));
    }
    if let Some(w) = &case.week_start {
        args.push(format!("weekStart: \"{w}\""));
    }
    format!(
        "{{ orders({}) {{ customers__country revenue }} }}",
        args.join(", ")
    )
}

fn graphql_rows(id: &str, body: &Value) -> ByCountry {
    assert!(body.get("errors").is_none(), "{id}: {body:#}");
    body["data"]["orders"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["customers__country"].as_str().unwrap().to_string(),
                decimal(&r["revenue"]),
            )
        })
        .collect()
}

async fn pg(port: u16, case: Option<&Case>) -> tokio_postgres::Client {
    let token = auth::token(&["admin"], &[]);
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=u password='{token}' dbname=accord"),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    let settings = case
        .map(|c| [("time_zone", &c.time_zone), ("week_start", &c.week_start)])
        .into_iter()
        .flatten();
    for (name, value) in settings {
        if let Some(v) = value {
            client
                .simple_query(&format!("SET accord.{name} = '{v}'"))
                .await
                .expect("SET accord.*");
        }
    }
    client
}

fn pg_statement(condition: &str) -> String {
    format!("SELECT customers__country, revenue FROM orders WHERE {condition} GROUP BY 1")
}

async fn pg_rows(client: &tokio_postgres::Client, sql: &str) -> Result<ByCountry, String> {
    let messages = client
        .simple_query(sql)
        .await
        .map_err(|e| match e.as_db_error() {
            Some(db) => format!(
                "{} {} {}",
                db.code().code(),
                db.message(),
                db.hint().unwrap_or("")
            ),
            None => e.to_string(),
        })?;
    Ok(messages
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((
                r.get(0).unwrap_or_default().to_string(),
                Decimal::from_str(r.get(1).expect("a number")).unwrap(),
            )),
            _ => None,
        })
        .collect())
}

/// A REST refusal as a terminal shows one: the problem's detail, then its
/// suggestions (`; did you mean `day`?`).
fn rest_refusal(r: &http::Resp) -> Result<(), String> {
    if r.status == 200 {
        return Ok(());
    }
    let p = r.json();
    let mut text = p["detail"].as_str().unwrap_or_default().to_string();
    let close: Vec<&str> = p["suggestions"]
        .as_array()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !close.is_empty() {
        text.push_str(&format!("; did you mean `{}`?", close.join("`, `")));
    }
    Err(format!("{} {text}", r.status))
}

// ---------------------------------------------------------------------------
// The tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_grain_filter_gives_the_same_rows() {
    let server = Server::demo(|_| {}).await;
    let port = server.running().pg_addr.expect("pg endpoint").port();
    let c = Client::new(&server.base);
    let cli = Cli::new();
    let mut failures = Vec::new();
    let mut check =
        |case: &Case, how: String, got: Result<ByCountry, String>, want: &ByCountry| match got {
            Ok(g) if g == *want => {}
            Ok(g) => failures.push(format!(
                "{}: {how}:\n  got  {g:?}\n  want {want:?}",
                case.id
            )),
            Err(e) => failures.push(format!("{}: {how}: refused: {e}", case.id)),
        };
    for case in &cases().cases {
        let want = expected(case);
        let time = time_flags(case);
        // The command line.
        let run = |flag: &str, text: &str| {
            let mut args = vec![flag, text];
            args.extend(&time);
            cli.query(&args).map(|r| by_country(&r))
        };
        check(
            case,
            format!("--filter {}", case.filter),
            run("--filter", &case.filter),
            &want,
        );
        for w in &case.where_ {
            check(case, format!("--where {w}"), run("--where", w), &want);
        }
        // REST: a `filters` entry, the `filter` tree (alone and under `or`),
        // each `where`.
        let flat = rest_filter(&case.filter);
        let nothing = json!({"dimension": "customers.country", "op": "eq", "values": ["ZZ"]});
        let mut bodies = vec![
            (
                "REST filters".to_string(),
                json!({"filters": [flat.clone()]}),
            ),
            (
                "REST filter tree".to_string(),
                json!({"filter": flat.clone()}),
            ),
            (
                "REST filter tree under or".to_string(),
                json!({"filter": {"or": [flat, nothing]}}),
            ),
        ];
        bodies.extend(
            case.where_
                .iter()
                .map(|w| (format!("REST where {w}"), json!({"where": w}))),
        );
        for (how, extra) in bodies {
            let r = c.query(&rest_body(Some(case), extra)).await;
            let got = match r.status {
                200 => Ok(by_country(&r.json())),
                _ => Err(r.text()),
            };
            check(case, how, got, &want);
        }
        // GraphQL: the top level (structured filters) and under `or` (the tree).
        let nothing = r#"{customers__country: {equals: "ZZ"}}"#;
        for condition in [
            case.graphql.clone(),
            format!("{{or: [{}, {nothing}]}}", case.graphql),
        ] {
            let document = graphql_document(case, &condition);
            let body = graphql(&c, &document).await;
            let got = match body.get("errors") {
                None => Ok(graphql_rows(&case.id, &body)),
                Some(e) => Err(e.to_string()),
            };
            check(case, format!("GraphQL {document}"), got, &want);
        }
        // The Postgres endpoint, with the session's zone and week start.
        let client = pg(port, Some(case)).await;
        for condition in &case.pg {
            let sql = pg_statement(condition);
            check(case, sql.clone(), pg_rows(&client, &sql).await, &want);
            let or = pg_statement(&format!("({condition}) OR customers__country = 'ZZ'"));
            check(case, or.clone(), pg_rows(&client, &or).await, &want);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grain_written_wrong_is_refused_saying_how_to_write_it() {
    let server = Server::demo(|_| {}).await;
    let port = server.running().pg_addr.expect("pg endpoint").port();
    let c = Client::new(&server.base);
    let cli = Cli::new();
    let client = pg(port, None).await;
    let mut failures = Vec::new();
    for case in &cases().errors {
        let mut refusals: Vec<(String, Result<(), String>, &Vec<String>)> = Vec::new();
        if let Some(f) = &case.filter {
            refusals.push((
                format!("--filter {f}"),
                cli.query(&["--filter", f]).map(|_| ()),
                &case.message,
            ));
            let r = c
                .query(&rest_body(None, json!({"filters": [rest_filter(f)]})))
                .await;
            let got = rest_refusal(&r);
            refusals.push((format!("REST filters {f}"), got, &case.message));
        }
        for w in &case.where_ {
            refusals.push((
                format!("--where {w}"),
                cli.query(&["--where", w]).map(|_| ()),
                &case.message,
            ));
            let r = c.query(&rest_body(None, json!({"where": w}))).await;
            let got = rest_refusal(&r);
            refusals.push((format!("REST where {w}"), got, &case.message));
        }
        let pg_message = case.pg_message.as_ref().unwrap_or(&case.message);
        for condition in &case.pg {
            let sql = pg_statement(condition);
            let got = pg_rows(&client, &sql).await.map(|_| ());
            refusals.push((sql, got, pg_message));
        }
        for (how, got, wanted) in refusals {
            match got {
                Ok(()) => failures.push(format!("{}: {how}: answered, not refused", case.id)),
                Err(e) if wanted.iter().all(|w| e.contains(w.as_str())) => {}
                Err(e) => failures.push(format!(
                    "{}: {how}: the refusal does not contain {wanted:?}:\n  {e}",
                    case.id
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_expectations_are_not_empty_and_differ() {
    // A case whose ranges match every order would pass whatever the grain
    // did; each must pick a proper, distinct subset of the year.
    let all = demo_rows::revenue_where(|_, _| true);
    let mut seen = Vec::new();
    for case in &cases().cases {
        let e = expected(case);
        assert_ne!(e, all, "{}: the ranges hold every order", case.id);
        assert!(!seen.contains(&e), "{}: same rows as another case", case.id);
        seen.push(e);
    }
}

//! How each interface reports the planner's errors, against ONE real
//! server (REST, GraphQL and the Postgres endpoint through tokio-postgres)
//! over an empty DuckDB file: every request here is refused before it
//! reaches the warehouse. For each `ErrorCode`, a request that yields it,
//! checked on every interface (HTTP status and problem `code`, GraphQL
//! `extensions.code`, SQLSTATE) and on the planner itself.
//!
//! Two bugs of issue #18 have their tests here:
//! - a metric hidden from the caller reads exactly like one that does not
//!   exist, in every query kind (metric, time intelligence, attributed,
//!   funnel/retention) and on every interface;
//! - an attributed query over the instance limit is `query_too_complex`
//!   (422, `extensions.code`, SQLSTATE 54001), like every other limit.
//!
//! The policy cases themselves are data, run against the planner in
//! process: tests/access_cases.rs.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/http.rs"]
mod http;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::dialect::DialectKind;
use accord::planner::ErrorCode;
use accord::server::ServeConfig;
use auth::{bearer, token};
use http::Client;
use serde_json::{Value, json};
use tokio_postgres::NoTls;

// ---------------------------------------------------------------------------
// The one server, and the catalog it serves
// ---------------------------------------------------------------------------

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test roles added to a copy of the demo definitions.
const EXTRA_ROLES: [&str; 2] = ["extra_roles.yml", "case_roles.yml"];

/// The demo definitions plus the test roles, as the server loads them.
fn catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| {
        let mut files = accord::definitions::read_dir(&repo().join("metric_defs"))
            .unwrap_or_else(|d| panic!("demo definitions:\n{d}"));
        for f in EXTRA_ROLES {
            files.push(accord::definitions::SourceFile {
                path: format!("metric_defs/{f}"),
                text: std::fs::read_to_string(repo().join("tests/fixtures/access").join(f))
                    .expect("a fixture roles file"),
            });
        }
        accord::definitions::load_files(&files)
            .unwrap_or_else(|d| panic!("definitions with the test roles:\n{d}"))
    })
    .clone()
}

struct Endpoints {
    http: String,
    pg_port: u16,
}

/// One server for the whole binary, on a runtime of its own (each
/// `#[tokio::test]` has its own runtime): tokens required, no anonymous
/// roles, an empty DuckDB warehouse.
fn server() -> &'static Endpoints {
    static S: OnceLock<Endpoints> = OnceLock::new();
    S.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let dir = tempfile::tempdir().expect("tempdir");
                let defs = dir.path().join("defs");
                http::copy_dir(&repo().join("metric_defs"), &defs);
                for f in EXTRA_ROLES {
                    std::fs::copy(repo().join("tests/fixtures/access").join(f), defs.join(f))
                        .expect("copy a fixture roles file");
                }
                let url = format!("duckdb://{}", dir.path().join("empty.duckdb").display())
                    .parse()
                    .expect("a duckdb url");
                let mut config = ServeConfig::for_tests(&defs, url);
                config.reload = false;
                config.auth.as_mut().expect("auth").anonymous_roles = None;
                let running = accord::server::start(config)
                    .await
                    .unwrap_or_else(|e| panic!("server failed to start: {e}"));
                let pg_port = running.pg_addr.expect("the Postgres endpoint").port();
                tx.send(Endpoints {
                    http: format!("http://{}", running.addr),
                    pg_port,
                })
                .expect("report the addresses");
                let _keep = (dir, running);
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("the server started")
    })
}

// ---------------------------------------------------------------------------
// One refusal, as each interface reports it
// ---------------------------------------------------------------------------

/// Who asks: roles and claims go into a development HS256 token.
#[derive(Clone)]
struct Who {
    roles: Vec<&'static str>,
    claims: Vec<(&'static str, Value)>,
}

fn who(roles: &[&'static str]) -> Who {
    Who {
        roles: roles.to_vec(),
        claims: Vec::new(),
    }
}

impl Who {
    fn token(&self) -> String {
        token(&self.roles, &self.claims)
    }

    fn caller(&self) -> Caller {
        let mut c = Caller::with_roles(&self.roles);
        for (k, v) in &self.claims {
            if *k == "purpose" {
                c.purpose = v.as_str().map(str::to_string);
            } else {
                c.claims.insert(k.to_string(), v.clone());
            }
        }
        c
    }
}

/// A refusal, whichever interface reported it.
#[derive(Debug, Clone, PartialEq)]
struct Refusal {
    /// HTTP status (REST, GraphQL's `extensions.status`), or 0.
    status: u16,
    /// The problem code / `extensions.code` / `ErrorCode` name, or the
    /// SQLSTATE over the wire.
    code: String,
    field: Option<String>,
    message: String,
}

impl Refusal {
    /// The refusal with `name` written `<name>`, to compare a hidden
    /// name's refusal with an absent one's.
    fn masked(&self, name: &str) -> Refusal {
        Refusal {
            message: self.message.replace(name, "<name>"),
            ..self.clone()
        }
    }
}

fn planner(w: &Who, q: &Value) -> Result<Refusal, String> {
    let query: accord::query::SemanticQuery =
        serde_json::from_value(q.clone()).map_err(|e| format!("not a semantic query: {e}"))?;
    let caller = w.caller().for_query(&query);
    match accord::planner::compile(&catalog(), &query, &caller, DialectKind::Duckdb) {
        Ok(_) => Err("the planner compiled it".into()),
        Err(e) => Ok(Refusal {
            status: 0,
            code: e.code.name().into(),
            field: e.field,
            message: e.message,
        }),
    }
}

async fn rest(w: &Who, q: &Value) -> Result<Refusal, String> {
    let c = Client::new(&server().http);
    let r = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("Authorization", bearer(&w.token()))
                .json(q),
        )
        .await;
    if r.status < 400 {
        return Err(format!("answered {}: {}", r.status, r.text()));
    }
    let p = r.json();
    Ok(Refusal {
        status: r.status,
        code: p["code"].as_str().unwrap_or_default().into(),
        field: p["field"].as_str().map(str::to_string),
        message: p["detail"].as_str().unwrap_or_default().into(),
    })
}

/// A GraphQL document (with `$q` bound to `variables`); the first error.
async fn graphql(w: &Who, document: &str, variables: Value) -> Result<Refusal, String> {
    let c = Client::new(&server().http);
    let r = c
        .send(
            c.http
                .post(c.url("/graphql"))
                .header("Authorization", bearer(&w.token()))
                .json(&json!({"query": document, "variables": variables})),
        )
        .await;
    let body = r.json();
    let Some(e) = body["errors"].get(0) else {
        return Err(format!("answered {}: {body}", r.status));
    };
    let ext = &e["extensions"];
    Ok(Refusal {
        status: ext["status"].as_u64().unwrap_or_default() as u16,
        code: ext["code"].as_str().unwrap_or_default().into(),
        field: ext["field"].as_str().map(str::to_string),
        message: e["message"].as_str().unwrap_or_default().into(),
    })
}

/// The semantic query as `SemanticQueryInput` (camelCase keys, lists).
fn graphql_input(q: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (k, v) in q.as_object().expect("a query object") {
        let key = match k.as_str() {
            "time_range" => "timeRange",
            "order_by" => "orderBy",
            "time_zone" => "timeZone",
            "week_start" => "weekStart",
            other => other,
        };
        let v = match (key, v) {
            ("attribution", Value::String(s)) => json!([s]),
            _ => v.clone(),
        };
        out.insert(key.into(), v);
    }
    // `metrics` is required there; funnels and retention take none.
    out.entry("metrics").or_insert_with(|| json!([]));
    Value::Object(out)
}

/// `compile(query:)`: the planner's answer for any semantic query.
async fn graphql_compile(w: &Who, q: &Value) -> Result<Refusal, String> {
    graphql(
        w,
        "query($q: SemanticQueryInput!) { compile(query: $q) { sql } }",
        json!({"q": graphql_input(q)}),
    )
    .await
}

/// `attributed(query:)`: runs an attributed query.
async fn graphql_attributed(w: &Who, q: &Value) -> Result<Refusal, String> {
    graphql(
        w,
        "query($q: SemanticQueryInput!) { attributed(query: $q) }",
        json!({"q": graphql_input(q)}),
    )
    .await
}

/// Statements in one fresh session as `w` (the token is the password);
/// the first error's SQLSTATE and message.
async fn pg(w: &Who, statements: &[&str]) -> Result<Refusal, String> {
    let conn = format!(
        "host=127.0.0.1 port={} user=tester password={} dbname=accord sslmode=disable",
        server().pg_port,
        w.token()
    );
    let (client, connection) = tokio_postgres::connect(&conn, NoTls)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    for s in statements {
        if let Err(e) = client.simple_query(s).await {
            let Some(db) = e.as_db_error() else {
                return Err(format!("`{s}`: {e}"));
            };
            return Ok(Refusal {
                status: 0,
                code: db.code().code().into(),
                field: None,
                message: db.message().into(),
            });
        }
    }
    Err(format!("answered: {statements:?}"))
}

// ---------------------------------------------------------------------------
// The mapping
// ---------------------------------------------------------------------------

/// The HTTP status REST answers (and GraphQL reports in
/// `extensions.status`) for a planner error.
fn http_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::Forbidden => 403,
        _ => 422,
    }
}

/// The SQLSTATE the Postgres endpoint reports.
fn sqlstate(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::UnknownMetric | ErrorCode::UnknownDimension => "42703",
        ErrorCode::AmbiguousReference => "42702",
        ErrorCode::UnreachableDimension | ErrorCode::Unsupported => "0A000",
        ErrorCode::InvalidFilter | ErrorCode::InvalidQuery => "42P10",
        ErrorCode::Forbidden => "42501",
        ErrorCode::QueryTooComplex => "54001",
    }
}

/// One request per `ErrorCode`: the semantic query (planner, REST,
/// GraphQL `compile`) and SQL that yields the same class over the wire
/// (`None` where SQL cannot ask it: a table's columns are its model's
/// reachable, unambiguous members).
struct CodeCase {
    code: ErrorCode,
    who: Who,
    query: Value,
    sql: Option<Vec<&'static str>>,
}

fn code_cases() -> Vec<CodeCase> {
    let admin = who(&["admin"]);
    let partner = who(&["partner"]);
    vec![
        CodeCase {
            code: ErrorCode::UnknownMetric,
            who: partner.clone(),
            query: json!({"metrics": ["revenue", "zzq_absent_metric"]}),
            sql: Some(vec!["SELECT revenue, zzq_absent_metric FROM orders"]),
        },
        CodeCase {
            code: ErrorCode::UnknownDimension,
            who: partner.clone(),
            query: json!({"metrics": ["revenue"], "where": "customers.zzq_absent = 'x'"}),
            sql: Some(vec![
                "SELECT revenue FROM orders WHERE customers__zzq_absent = 'x'",
            ]),
        },
        CodeCase {
            code: ErrorCode::AmbiguousReference,
            who: admin.clone(),
            query: json!({"metrics": ["revenue"], "dimensions": ["customer"]}),
            sql: None,
        },
        CodeCase {
            code: ErrorCode::UnreachableDimension,
            who: admin.clone(),
            query: json!({"metrics": ["sessions"], "dimensions": ["orders.status"]}),
            sql: None,
        },
        CodeCase {
            code: ErrorCode::InvalidFilter,
            who: admin.clone(),
            query: json!({"metrics": ["revenue"], "where": "read_text('accord.yaml') = customers.country"}),
            // The endpoint refuses expressions it cannot translate itself
            // (0A000) before the planner sees them.
            sql: None,
        },
        CodeCase {
            code: ErrorCode::InvalidQuery,
            who: admin.clone(),
            query: json!({"metrics": ["revenue"], "purpose": "astrology"}),
            // An unknown purpose over the wire: see
            // `an_unknown_purpose_is_invalid_query_on_the_wire_too`.
            sql: Some(vec!["SELECT revenue FROM orders ORDER BY 5"]),
        },
        CodeCase {
            code: ErrorCode::Unsupported,
            who: admin.clone(),
            query: json!({"metrics": ["revenue"], "attribution": "linear_30d",
                          "where": "channel = 'email'"}),
            // The endpoint's own refusal of what SQL over the semantic
            // layer cannot do.
            sql: Some(vec!["SELECT revenue FROM orders JOIN sessions ON true"]),
        },
        CodeCase {
            code: ErrorCode::Forbidden,
            who: who(&["marketing_eu"]),
            query: json!({"metrics": ["revenue"]}),
            sql: Some(vec!["SELECT revenue FROM orders"]),
        },
        CodeCase {
            code: ErrorCode::QueryTooComplex,
            who: admin,
            query: json!({"metrics": ["revenue"], "where": format!("{} < 0", vec!["1"; 200].join(" - "))}),
            sql: Some(vec![Box::leak(
                format!(
                    "SELECT revenue FROM orders WHERE {} < 0",
                    vec!["1"; 200].join(" - ")
                )
                .into_boxed_str(),
            )]),
        },
    ]
}

#[tokio::test]
async fn every_error_code_is_mapped_alike_on_every_interface() {
    let mut failures = Vec::new();
    let cases = code_cases();
    // Every variant has its request.
    for c in [
        ErrorCode::UnknownMetric,
        ErrorCode::UnknownDimension,
        ErrorCode::AmbiguousReference,
        ErrorCode::UnreachableDimension,
        ErrorCode::InvalidFilter,
        ErrorCode::InvalidQuery,
        ErrorCode::Unsupported,
        ErrorCode::Forbidden,
        ErrorCode::QueryTooComplex,
    ] {
        assert!(cases.iter().any(|x| x.code == c), "no request yields {c:?}");
    }
    for c in &cases {
        let name = c.code.name();
        let mut fail = |what: &str, got: Result<Refusal, String>, status: u16, code: &str| match got
        {
            Ok(r) if r.status == status && r.code == code => {}
            Ok(r) => failures.push(format!(
                "{name} on {what}: expected {status} `{code}`, got {r:?}"
            )),
            Err(e) => failures.push(format!("{name} on {what}: not refused: {e}")),
        };
        fail("the planner", planner(&c.who, &c.query), 0, name);
        let status = http_status(c.code);
        fail("REST", rest(&c.who, &c.query).await, status, name);
        fail(
            "GraphQL compile",
            graphql_compile(&c.who, &c.query).await,
            status,
            name,
        );
        if let Some(sql) = &c.sql {
            fail("Postgres", pg(&c.who, sql).await, 0, sqlstate(c.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same unknown purpose is `invalid_query` on REST and GraphQL (422):
/// over the wire it must be 42P10 too, not a permission error (42501, which
/// the endpoint answers for every refusal of the caller's access rules).
#[tokio::test]
async fn an_unknown_purpose_is_invalid_query_on_the_wire_too() {
    let admin = who(&["admin"]);
    let q = json!({"metrics": ["revenue"], "purpose": "astrology"});
    let r = rest(&admin, &q).await.expect("refused");
    assert_eq!((r.status, r.code.as_str()), (422, "invalid_query"), "{r:?}");
    let r = pg(
        &admin,
        &[
            "SET accord.purpose = 'astrology'",
            "SELECT revenue FROM orders",
        ],
    )
    .await
    .expect("refused");
    assert_eq!(r.code, sqlstate(ErrorCode::InvalidQuery), "{r:?}");
}

// ---------------------------------------------------------------------------
// Bug: a hidden metric reads like an absent one in every kind and interface
// ---------------------------------------------------------------------------

const ABSENT: &str = "zzq_absent_metric";

/// A query kind asked with a hidden name and with an absent one.
struct Pair {
    kind: &'static str,
    who: Who,
    hidden: &'static str,
    absent: &'static str,
    /// `{}` in each string stands for the name.
    query: Value,
    /// The name's position in `metrics` (its field), when it is a metric.
    index: Option<usize>,
    /// Whether the caller may ask this kind at all (else: both refused
    /// alike, whatever the code).
    kind_allowed: bool,
}

fn fill(v: &Value, name: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{}", name)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill(x, name)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), fill(x, name))).collect())
        }
        other => other.clone(),
    }
}

fn pairs() -> Vec<Pair> {
    let limited = who(&["limited_analyst"]);
    let partner = who(&["partner"]);
    let metric = |kind, w: &Who, hidden, query: Value, index, allowed| Pair {
        kind,
        who: w.clone(),
        hidden,
        absent: ABSENT,
        query,
        index: Some(index),
        kind_allowed: allowed,
    };
    vec![
        metric(
            "metric query (partner)",
            &partner,
            "refunds",
            json!({"metrics": ["revenue", "{}"]}),
            1,
            true,
        ),
        metric(
            "metric query (limited_analyst)",
            &limited,
            "refunds",
            json!({"metrics": ["revenue", "{}"], "dimensions": ["customers.region"]}),
            1,
            true,
        ),
        metric(
            "time intelligence: a hidden cumulative metric (partner)",
            &partner,
            "revenue_mtd",
            json!({"metrics": ["{}"], "dimensions": ["metric_time:year"]}),
            0,
            true,
        ),
        metric(
            "time intelligence: a hidden cumulative metric, second (limited_analyst)",
            &limited,
            "revenue_7d_trailing",
            json!({"metrics": ["revenue", "{}"], "dimensions": ["metric_time:day"]}),
            1,
            true,
        ),
        metric(
            "time intelligence: a hidden plain metric beside a cumulative one (limited_analyst)",
            &limited,
            "refunds",
            json!({"metrics": ["revenue_mtd", "{}"], "dimensions": ["metric_time:day"]}),
            1,
            true,
        ),
        metric(
            "attributed query (limited_analyst)",
            &limited,
            "refunds",
            json!({"metrics": ["revenue", "{}"], "attribution": "linear_30d", "dimensions": ["channel"]}),
            1,
            true,
        ),
        metric(
            "attributed query (partner: the kind is refused)",
            &partner,
            "refunds",
            json!({"metrics": ["revenue", "{}"], "attribution": "linear_30d"}),
            1,
            false,
        ),
        Pair {
            kind: "funnel (no_time)",
            who: who(&["no_time"]),
            hidden: "checkout_funnel",
            absent: "zzq_absent_funnel",
            query: json!({"funnel": "{}"}),
            index: None,
            kind_allowed: true,
        },
        Pair {
            kind: "retention (derived_viewer)",
            who: who(&["derived_viewer"]),
            hidden: "weekly_purchase_retention",
            absent: "zzq_absent_retention",
            query: json!({"retention": "{}"}),
            index: None,
            kind_allowed: true,
        },
    ]
}

/// Compares the hidden and the absent refusal of one pair on one
/// interface; with `expected`, both must also have that code and field,
/// and (when given) that message, the name written `<name>`.
fn compare(
    failures: &mut Vec<String>,
    label: &str,
    p: &Pair,
    hidden: Result<Refusal, String>,
    absent: Result<Refusal, String>,
    expected: Option<(&str, Option<String>, Option<&str>)>,
) {
    let (h, a) = match (hidden, absent) {
        (Ok(h), Ok(a)) => (h, a),
        (h, a) => {
            failures.push(format!(
                "{} on {label}: both must be refused; hidden: {h:?}; absent: {a:?}",
                p.kind
            ));
            return;
        }
    };
    let (hm, am) = (h.masked(p.hidden), a.masked(p.absent));
    if hm != am {
        failures.push(format!(
            "{} on {label}: a hidden name reads differently from an absent one:\n  hidden ({}): {h:?}\n  absent ({}): {a:?}",
            p.kind, p.hidden, p.absent
        ));
    }
    if let Some((code, field, message)) = expected {
        for (which, r) in [("hidden", &hm), ("absent", &am)] {
            if r.code != code || r.field != field || message.is_some_and(|m| r.message != m) {
                failures.push(format!(
                    "{} on {label}: the {which} name: expected `{code}` at {field:?}: {message:?}; got {r:?}",
                    p.kind
                ));
            }
        }
    }
}

#[tokio::test]
async fn a_hidden_metric_reads_as_an_absent_one_in_every_query_kind_and_interface() {
    let mut failures = Vec::new();
    for p in pairs() {
        let hq = fill(&p.query, p.hidden);
        let aq = fill(&p.query, p.absent);
        let field = p.index.map(|i| format!("metrics[{i}]"));
        let (code, message) = match p.index {
            Some(_) => ("unknown_metric", "unknown metric `<name>`"),
            None if p.query.get("funnel").is_some() => {
                ("unknown_metric", "unknown funnel `<name>`")
            }
            None => ("unknown_metric", "unknown retention analysis `<name>`"),
        };
        let field = field.or_else(|| {
            Some(if p.query.get("funnel").is_some() {
                "funnel".into()
            } else {
                "retention".into()
            })
        });
        let expected = p.kind_allowed.then_some((code, field, Some(message)));
        compare(
            &mut failures,
            "the planner",
            &p,
            planner(&p.who, &hq),
            planner(&p.who, &aq),
            expected.clone(),
        );
        compare(
            &mut failures,
            "REST",
            &p,
            rest(&p.who, &hq).await,
            rest(&p.who, &aq).await,
            expected.clone(),
        );
        compare(
            &mut failures,
            "GraphQL compile",
            &p,
            graphql_compile(&p.who, &hq).await,
            graphql_compile(&p.who, &aq).await,
            expected.clone(),
        );
        if hq.get("attribution").is_some() {
            compare(
                &mut failures,
                "GraphQL attributed",
                &p,
                graphql_attributed(&p.who, &hq).await,
                graphql_attributed(&p.who, &aq).await,
                expected.clone(),
            );
        }
    }
    // GraphQL's typed fields and the Postgres endpoint name metrics as
    // fields and columns: a hidden one must read like an absent one there too.
    let partner = who(&["partner"]);
    let limited = who(&["limited_analyst"]);
    let typed = |name: &str| format!("{{ orders {{ revenue {name} }} }}");
    let all = pairs();
    let p = &all[0];
    compare(
        &mut failures,
        "GraphQL typed field",
        p,
        graphql(&partner, &typed("refunds"), json!({})).await,
        graphql(&partner, &typed(ABSENT), json!({})).await,
        None,
    );
    let wire: [(&str, &Who, &str, &str); 4] = [
        (
            "metric query",
            &partner,
            "refunds",
            "SELECT revenue, {} FROM orders",
        ),
        (
            "time intelligence (cumulative)",
            &partner,
            "revenue_mtd",
            "SELECT date_trunc('year', metric_time), {} FROM orders GROUP BY 1",
        ),
        (
            "time intelligence (beside a cumulative metric)",
            &limited,
            "refunds",
            "SELECT date_trunc('day', metric_time), revenue_mtd, {} FROM orders GROUP BY 1",
        ),
        (
            "attributed query",
            &limited,
            "refunds",
            "SELECT channel, revenue, {} FROM linear_30d GROUP BY channel",
        ),
    ];
    for (kind, w, hidden, sql) in wire {
        let pair = Pair {
            kind,
            who: w.clone(),
            hidden,
            absent: ABSENT,
            query: Value::Null,
            index: None,
            kind_allowed: true,
        };
        let h = sql.replace("{}", hidden);
        let a = sql.replace("{}", ABSENT);
        compare(
            &mut failures,
            "Postgres",
            &pair,
            pg(w, &[h.as_str()]).await,
            pg(w, &[a.as_str()]).await,
            Some(("42703", None, None)),
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Bug: an over-limit attributed query is query_too_complex everywhere
// ---------------------------------------------------------------------------

/// More attribution instances than an attributed query may have (the
/// planner's MAX_INSTANCES is 10): the demo's instances, repeated.
fn over_limit_attributed() -> Value {
    let c = catalog();
    let names: Vec<&str> = c
        .attributions
        .iter()
        .map(|a| a.name.as_str())
        .cycle()
        .take(11)
        .collect();
    json!({"metrics": ["revenue"], "attribution": names, "dimensions": ["channel"]})
}

#[tokio::test]
async fn an_over_limit_attributed_query_is_query_too_complex_on_every_interface() {
    let admin = who(&["admin"]);
    let q = over_limit_attributed();
    let mut failures = Vec::new();
    let mut expect = |what: &str, got: Result<Refusal, String>, status: u16, code: &str| match got {
        Ok(r) if r.status == status && r.code == code => {}
        Ok(r) => failures.push(format!("{what}: expected {status} `{code}`, got {r:?}")),
        Err(e) => failures.push(format!("{what}: not refused: {e}")),
    };
    expect("the planner", planner(&admin, &q), 0, "query_too_complex");
    expect(
        "REST /v1/query",
        rest(&admin, &q).await,
        422,
        "query_too_complex",
    );
    expect(
        "GraphQL attributed",
        graphql_attributed(&admin, &q).await,
        422,
        "query_too_complex",
    );
    expect(
        "GraphQL compile",
        graphql_compile(&admin, &q).await,
        422,
        "query_too_complex",
    );
    // Over the wire an attribution instance is a table, and one statement
    // reads one table: the refusal the endpoint would send for this
    // planner error is the adapter's mapping of it.
    let over_the_wire = match accord::planner::compile(
        &catalog(),
        &serde_json::from_value(q.clone()).expect("a semantic query"),
        &admin.caller(),
        DialectKind::Duckdb,
    ) {
        Ok(_) => Err("the planner compiled it".to_string()),
        Err(e) => {
            let service = accord::ServiceError::from(e);
            let sql = accord::pgwire::error::SqlError::from(service);
            Ok(Refusal {
                status: 0,
                code: sql.code.into(),
                field: None,
                message: sql.message,
            })
        }
    };
    expect("Postgres (SQLSTATE)", over_the_wire, 0, "54001");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

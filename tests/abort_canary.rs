//! The process never aborts on input. A stack overflow aborts the whole
//! test binary, so this file fails loudly if any request below still
//! crashes the server. Every input of issue #17's "1 KB request kills the
//! process" is sent over REST (`/v1/compile`, `/v1/query`), GraphQL and the
//! Postgres wire (governed and catalog statements, simple and extended
//! protocol) to one server running on the runtime `accord serve` uses (its
//! worker stack size included). Each must be refused as too complex, or, for
//! the legitimate long AND/OR chains and IN lists, answered with the number
//! computed here from the generator's rows; the server must answer after.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeSet;

use accord::demo::DemoConfig;
use accord::limits::{MAX_DEPTH, MAX_TOKENS};
use http::{Client, Server};
use serde_json::{Value as Json, json};
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// The demo's customer ids 1..=1000 (what the 1,000-value filters name).
const CUSTOMERS: i64 = 1000;

/// Orders counted by the `orders` metric of customers 1..=1000: not
/// cancelled, customer not on the suppression list (from the generator).
fn expected_orders() -> i64 {
    let demo = accord::demo::generate(&DemoConfig { scale: 1, seed: 42 });
    let catalog = accord::definitions::load_dir(&http::demo_defs()).expect("demo definitions");
    let suppression = catalog
        .consent
        .as_ref()
        .is_some_and(|c| c.suppression.is_some());
    let suppressed: BTreeSet<i64> = if suppression {
        demo.erasure_requests
            .iter()
            .map(|e| e.customer_id)
            .collect()
    } else {
        BTreeSet::new()
    };
    demo.orders
        .iter()
        .filter(|o| o.status != "cancelled" && !suppressed.contains(&o.customer_id))
        .filter(|o| (1..=CUSTOMERS).contains(&o.customer_id))
        .count() as i64
}

fn chain(term: impl Fn(i64) -> String, n: i64, op: &str) -> String {
    (1..=n).map(term).collect::<Vec<_>>().join(op)
}

/// Inputs every interface must refuse as too complex.
fn too_deep() -> Vec<(&'static str, String)> {
    let n = MAX_DEPTH + 20;
    vec![
        ("minus chain", vec!["1"; 200].join(" - ")),
        (
            "parentheses",
            format!("{}1{} = 1", "(".repeat(n), ")".repeat(n)),
        ),
        ("NOT prefixes", format!("{}1 = 1", "NOT ".repeat(200))),
        ("casts", format!("1{} = 1", "::int".repeat(200))),
        // More tokens than allowed, under the 64 KiB body limit.
        ("token flood", vec!["1"; MAX_TOKENS / 2 + 10].join("-")),
    ]
}

#[test]
fn no_input_aborts_the_server() {
    // The runtime `accord serve` runs on, with its thread stack size.
    let rt = accord::limits::runtime().expect("runtime");
    rt.block_on(async {
        let server = Server::demo(|c| c.reload = false).await;
        let pg_port = server.running().pg_addr.expect("pg endpoint").port();
        rest(&server.client).await;
        graphql(&server.client).await;
        postgres(pg_port).await;
        // Still answering on every interface.
        server.client.get("/healthz").await;
        let q = server
            .client
            .query(&json!({"metrics": ["orders"]}))
            .await
            .ok_json();
        assert!(q["rows"][0][0].as_i64().is_some_and(|n| n > 0));
        let pg = connect(pg_port).await;
        assert_eq!(
            simple_rows(&pg, "SELECT 1").await,
            vec![vec!["1".to_string()]]
        );
    });
}

/// The deepest and largest inputs the limits accept (and the largest one
/// the parser builds before failing) compile and parse on a quarter of the
/// stack the runtime gives its threads: the stack size has 4x headroom in a
/// debug build.
#[test]
fn the_deepest_accepted_inputs_need_under_a_quarter_of_the_stack() {
    let quarter = accord::limits::THREAD_STACK_BYTES / 4;
    let worker = std::thread::Builder::new().stack_size(quarter);
    let done = worker
        .spawn(|| {
            let catalog =
                accord::definitions::load_dir(&http::demo_defs()).expect("demo definitions");
            let compile = |filter: &str| {
                let q = accord::query::SemanticQuery {
                    metrics: vec!["orders".into()],
                    where_sql: Some(filter.to_string()),
                    ..Default::default()
                };
                let caller = accord::access::Caller::operator().for_query(&q);
                accord::planner::compile(
                    &catalog,
                    &q,
                    &caller,
                    accord::dialect::DialectKind::Duckdb,
                )
                .map(|(_, sql)| sql)
            };
            for (what, filter) in deepest_accepted() {
                let sql = compile(&filter).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert!(sql.contains("customer_id"), "{what}");
                let stmt = format!(
                    "SELECT orders FROM orders WHERE {}",
                    filter.replace("orders.", "")
                );
                assert!(
                    accord::pgwire::handler::classify(&stmt).is_ok(),
                    "{what} over pgwire"
                );
            }
            // The parser builds a chain of almost MAX_TOKENS tokens, then fails
            // on the last one and drops it recursively.
            let failing = format!("{} +", vec!["1"; MAX_TOKENS / 2 - 1].join("-"));
            assert!(compile(&failing).is_err());
            // Not SQL sqlparser reads: left to the catalog engine's parser.
            let _ = accord::pgwire::handler::classify(&format!("SELECT {failing}"));
        })
        .expect("thread")
        .join();
    assert!(
        done.is_ok(),
        "a deep input failed on a quarter of the stack"
    );
}

/// Filters just inside the limits.
fn deepest_accepted() -> Vec<(&'static str, String)> {
    let eq = "orders.customer = 1";
    // Each wrapper adds one level of nesting to the comparison's three, and
    // the Postgres statement around it (query, WHERE) a few more.
    let wrap = |open: &str, close: &str| {
        let n = MAX_DEPTH - 6;
        format!("{}{eq}{}", open.repeat(n), close.repeat(n))
    };
    let terms_max = MAX_TOKENS / 6 - 1;
    vec![
        ("parentheses", wrap("(", ")")),
        ("NOTs", wrap("NOT ", "")),
        ("functions", {
            let n = (MAX_DEPTH - 6) / 2;
            format!("{}orders.customer{} = 1", "abs(".repeat(n), ")".repeat(n))
        }),
        (
            "longest OR chain",
            chain(
                |i| format!("orders.customer = {i}"),
                terms_max as i64,
                " OR ",
            ),
        ),
        (
            "ORs of ANDs of ORs",
            chain(
                |i| {
                    format!(
                        "(orders.customer = {i} AND (orders.customer > 0 OR orders.customer < {i}))"
                    )
                },
                300,
                " OR ",
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------
// REST

async fn orders_where(c: &Client, filter: &str) -> i64 {
    let r = c
        .query(&json!({"metrics": ["orders"], "where": filter}))
        .await
        .ok_json();
    r["rows"][0][0]
        .as_i64()
        .unwrap_or_else(|| panic!("a count in {r}"))
}

async fn rest(c: &Client) {
    for (what, filter) in too_deep() {
        for path in ["/v1/compile", "/v1/query"] {
            let body = json!({"metrics": ["orders"], "where": filter});
            let p = c
                .post_json(path, &body)
                .await
                .problem(422, "query_too_complex");
            assert_eq!(p["field"], "where", "{what} on {path}: {p}");
        }
    }
    // The issue's 933-byte request: a constant OR chain is legitimate.
    let ones = vec!["1 = 1"; 100].join(" OR ");
    let compiled = c
        .post_json(
            "/v1/compile",
            &json!({"metrics": ["orders"], "where": ones}),
        )
        .await;
    assert_eq!(compiled.status, 200, "{}", compiled.text());
    // A BI tool's 1,000-value filter, as OR and as IN, and an AND chain.
    let expected = expected_orders();
    let or = chain(|i| format!("orders.customer = {i}"), CUSTOMERS, " OR ");
    assert_eq!(orders_where(c, &or).await, expected);
    let list = chain(|i| i.to_string(), CUSTOMERS, ", ");
    let r#in = format!("orders.customer IN ({list})");
    assert_eq!(orders_where(c, &r#in).await, expected);
    let and = chain(|i| format!("orders.customer <> {}", -i), CUSTOMERS, " AND ");
    let and = format!("({and}) AND orders.customer <= {CUSTOMERS}");
    assert_eq!(orders_where(c, &and).await, expected);
}

// ---------------------------------------------------------------------------
// GraphQL

async fn gql(c: &Client, query: &str) -> Json {
    c.post_json("/graphql", &json!({ "query": query }))
        .await
        .ok_json()
}

fn gql_code(r: &Json) -> &str {
    r["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("an error code in {r}"))
}

async fn graphql(c: &Client) {
    // 200 `or` branches: legitimate, the same count as one condition.
    let one = r#"{orders__status: {equals: "completed"}}"#;
    let branches = vec![one; 200].join(", ");
    let many = gql(
        c,
        &format!("{{ orders(where: {{or: [{branches}]}}) {{ orders }} }}"),
    )
    .await;
    let single = gql(c, &format!("{{ orders(where: {one}) {{ orders }} }}")).await;
    assert!(many["errors"].is_null(), "{many}");
    assert_eq!(many["data"], single["data"]);
    // Nested brackets, nested `or`s, nested selections: refused.
    let n = 2 * MAX_DEPTH;
    let deep_list = format!(
        "{{ orders(where: {{x: {}1{}}}) {{ orders }} }}",
        "[".repeat(n),
        "]".repeat(n)
    );
    assert_eq!(gql_code(&gql(c, &deep_list).await), "query_too_complex");
    let nested_or = format!(
        "{{ orders(where: {}{one}{}) {{ orders }} }}",
        "{or: [".repeat(n),
        "]}".repeat(n)
    );
    assert_eq!(gql_code(&gql(c, &nested_or).await), "query_too_complex");
    let selection = format!("{}__typename{}", "{ a ".repeat(n), " }".repeat(n));
    assert_eq!(gql_code(&gql(c, &selection).await), "query_too_complex");
}

// ---------------------------------------------------------------------------
// Postgres wire

async fn connect(port: u16) -> tokio_postgres::Client {
    let token = auth::token(&["admin"], &[]);
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=u password='{token}' dbname=accord"),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

async fn simple_rows(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{}: {e} {:?}", &sql[..sql.len().min(200)], e.as_db_error()))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn sqlstate(e: tokio_postgres::Error, sql: &str) -> String {
    let db = e
        .as_db_error()
        .unwrap_or_else(|| panic!("{}: {e}", &sql[..sql.len().min(200)]));
    db.code().code().to_string()
}

fn failed<T>(r: Result<T, tokio_postgres::Error>, sql: &str) -> tokio_postgres::Error {
    match r {
        Ok(_) => panic!("`{}` should be refused", &sql[..sql.len().min(200)]),
        Err(e) => e,
    }
}

/// Refused with SQLSTATE 54001 over the simple and the extended protocol.
async fn refused(c: &tokio_postgres::Client, sql: &str) {
    let e = failed(c.simple_query(sql).await, sql);
    assert_eq!(sqlstate(e, sql), "54001", "{}", &sql[..sql.len().min(200)]);
    let e = failed(c.prepare(sql).await, sql);
    assert_eq!(sqlstate(e, sql), "54001", "{}", &sql[..sql.len().min(200)]);
}

async fn postgres(port: u16) {
    let c = connect(port).await;
    for (_, expr) in too_deep() {
        // Governed (a model), catalog (no model), and inside a cursor.
        refused(&c, &format!("SELECT orders FROM orders WHERE {expr}")).await;
        refused(&c, &format!("SELECT {expr}")).await;
        let declare = format!("BEGIN; DECLARE k CURSOR FOR SELECT {expr}; COMMIT");
        let e = failed(c.simple_query(&declare).await, &declare);
        assert_eq!(sqlstate(e, "DECLARE"), "54001");
        c.simple_query("ROLLBACK").await.expect("rollback");
    }
    refused(&c, &vec!["SELECT 1"; 200].join(" UNION ALL ")).await;
    // Long OR chains on a model: the same number as REST.
    let expected = expected_orders();
    // The entity column is text over the wire: its values are quoted.
    let or = chain(|i| format!("customer = '{i}'"), CUSTOMERS, " OR ");
    let sql = format!("SELECT orders FROM orders WHERE {or}");
    assert_eq!(
        simple_rows(&c, &sql).await,
        vec![vec![expected.to_string()]]
    );
    let stmt = c.prepare(&sql).await.expect("prepare");
    let n: i64 = c.query_one(&stmt, &[]).await.expect("run").get(0);
    assert_eq!(n, expected);
    let list = chain(|i| format!("'{i}'"), CUSTOMERS, ", ");
    let sql = format!("SELECT orders FROM orders WHERE customer IN ({list})");
    assert_eq!(
        simple_rows(&c, &sql).await,
        vec![vec![expected.to_string()]]
    );
    // The issue's constant chains: answered or refused cleanly.
    for terms in [45, 500] {
        let ones = vec!["1 = 1"; terms].join(" OR ");
        let sql = format!("SELECT orders FROM orders WHERE {ones}");
        if let Err(e) = c.simple_query(&sql).await {
            sqlstate(e, &sql);
        }
    }
    // The catalog path: 1,000 constant alternatives are true (DuckDB
    // answers `true`) or refused as too complex, never a crash.
    let ones = vec!["1=1"; 1000].join(" OR ");
    match c.simple_query(&format!("SELECT {ones}")).await {
        Ok(msgs) => {
            let row = msgs.iter().find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            });
            assert_eq!(row.as_deref(), Some("t"));
        }
        Err(e) => assert_eq!(sqlstate(e, "SELECT 1=1 OR …"), "54001"),
    }
}

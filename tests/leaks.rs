//! What a caller can learn beyond what its policies show, on a real
//! listening server (REST, GraphQL over HTTP, the Postgres endpoint):
//! identity health narrowed to the caller's people, hidden names that read
//! exactly like absent ones, catalogs listing only what a caller may use,
//! and warehouse errors that carry a request id but no SQL or engine text.
//!
//! Expected sets are computed here from the generator's rows (scale 1,
//! seed 42) and from `metric_defs/policies.yml` by hand.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use accord::demo::{DemoConfig, DemoData};
use auth::{bearer, token};
use http::{Client, Resp, Server};
use serde_json::{Value, json};
use tokio_postgres::NoTls;

// ---------------------------------------------------------------------------
// The server log, captured

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged so far by any server of this test binary.
fn log() -> String {
    static BUF: OnceLock<LogBuf> = OnceLock::new();
    let buf = BUF.get_or_init(|| {
        let buf = LogBuf(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("accord=info"))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    });
    String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

async fn server() -> Server {
    log();
    Server::demo(|_| {}).await
}

/// A server over a copy of the demo whose `sessions` table was renamed to
/// `sessions_gone` before it started (it holds the file read-only).
async fn server_without_sessions() -> Server {
    log();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = http::demo_duckdb_copy(dir.path());
    let wh = accord::warehouse::Warehouse::connect(&url, Default::default())
        .await
        .expect("open the copy");
    wh.execute_batch_atomic(&["ALTER TABLE sessions RENAME TO sessions_gone".into()])
        .await
        .expect("rename");
    wh.close().await;
    let mut config = accord::server::ServeConfig::for_tests(&http::demo_defs(), url);
    config.reload = false;
    Server::start(config, dir).await
}

fn demo() -> &'static DemoData {
    static D: OnceLock<DemoData> = OnceLock::new();
    D.get_or_init(|| accord::demo::generate(&DemoConfig { scale: 1, seed: 42 }))
}

async fn as_role(c: &Client, path: &str, body: Option<&Value>, tok: &str) -> Resp {
    let req = match body {
        Some(b) => c.http.post(c.url(path)).json(b),
        None => c.http.get(c.url(path)),
    };
    c.send(req.header("authorization", bearer(tok))).await
}

fn partner() -> String {
    token(&["partner"], &[])
}

// ---------------------------------------------------------------------------
// 7. Identity health

#[tokio::test]
async fn identity_health_shows_a_regional_manager_only_its_regions_people() {
    let s = server().await;
    // The generator's EU customers, less the erased (suppressed) ones:
    // each is its own cluster, named by its customer id.
    let erased: BTreeSet<i64> = demo()
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let eu: BTreeSet<String> = demo()
        .customers
        .iter()
        .filter(|c| c.region == "EU" && !erased.contains(&c.customer_id))
        .map(|c| c.customer_id.to_string())
        .collect();
    assert!(eu.len() > 10, "the demo has EU customers");

    let tok = token(&["regional_manager"], &[("region", json!("EU"))]);
    let h = as_role(&s.client, "/v1/identity/health?top=100", None, &tok)
        .await
        .ok_json();
    assert_eq!(h["scope"], "policies", "{h}");
    let largest = h["largest_clusters"].as_array().expect("list");
    assert!(!largest.is_empty(), "{h}");
    for c in largest {
        assert_eq!(c["canonical_type"], "customer_id", "{c}");
        let id = c["canonical_id"].as_str().expect("ids shown to this role");
        assert!(eu.contains(id), "canonical id {id} is not an EU customer");
    }
    assert_eq!(h["clusters"], eu.len() as u64, "{h}");
    assert!(h["last_run"].is_null(), "global run counts withheld: {h}");
    let bucketed: i64 = h["size_distribution"]
        .as_array()
        .expect("list")
        .iter()
        .map(|b| b["clusters"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(bucketed, eu.len() as i64);

    // A partner (min_group_size 10, no row filter): no single cluster.
    let h = as_role(&s.client, "/v1/identity/health", None, &partner())
        .await
        .ok_json();
    assert_eq!(h["largest_clusters"], json!([]), "{h}");
    assert!(
        h["withheld"]
            .as_array()
            .is_some_and(|w| w.contains(&json!("largest_clusters"))),
        "{h}"
    );
}

// ---------------------------------------------------------------------------
// 10. Hidden names read like absent ones

/// A problem body with `name` replaced by `NAME`, without its request id
/// and suggestions (those depend on the spelling; they are checked to name
/// visible members only).
fn normalised(p: &Value, name: &str, visible: &[&str]) -> String {
    let mut p = p.clone();
    if let Some(o) = p.as_object_mut() {
        o.remove("request_id");
        if let Some(Value::Array(s)) = o.remove("suggestions") {
            for x in s {
                let x = x.as_str().unwrap_or_default();
                assert!(visible.contains(&x), "suggestion `{x}` is not visible");
            }
        }
    }
    p.to_string().replace(name, "NAME")
}

const PARTNER_VISIBLE: &[&str] = &[
    "revenue",
    "orders",
    "average_order_value",
    "sessions",
    "customers.region",
    "metric_time",
];

#[tokio::test]
async fn hidden_and_absent_names_get_the_same_rest_error() {
    let s = server().await;
    let tok = partner();
    // (body with the hidden name, the name, the absent name)
    let cases = [
        (json!({"metrics": ["NAME"]}), "refunds", "zzqqxxw"),
        (
            json!({"metrics": ["revenue"], "dimensions": ["NAME"]}),
            "customers.email",
            "customers.zzqqxxw",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["NAME"]}),
            "orders.status",
            "orders.zzqqxxwqq",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["NAME"]}),
            "support_tickets.priority",
            "zzqqxxw_tickets.priority",
        ),
        (
            json!({"metrics": ["revenue"], "filters": [{"dimension": "NAME", "op": "eq", "values": ["x"]}]}),
            "customers.email",
            "customers.zzqqxxw",
        ),
        (
            json!({"funnel": "NAME"}),
            "checkout_funnel",
            "zzqqxxwqq_funnel",
        ),
        (
            json!({"metrics": ["revenue"], "attribution": ["NAME"]}),
            "linear_30d",
            "zzqqxx_30d",
        ),
    ];
    for (body, hidden, absent) in cases {
        let with = |n: &str| {
            serde_json::from_str::<Value>(&body.to_string().replace("NAME", n)).expect("json")
        };
        let h = as_role(&s.client, "/v1/query", Some(&with(hidden)), &tok).await;
        let a = as_role(&s.client, "/v1/query", Some(&with(absent)), &tok).await;
        // The partner (min_group_size) may run no funnel or attributed
        // query at all: one refusal, whatever the name.
        let kind_refused = body.get("funnel").is_some() || body.get("attribution").is_some();
        assert_eq!(
            h.status,
            if kind_refused { 403 } else { 422 },
            "{hidden}: {}",
            h.text()
        );
        assert_eq!(a.status, h.status, "{absent}: {}", a.text());
        assert_eq!(
            normalised(&h.json(), hidden, PARTNER_VISIBLE),
            normalised(&a.json(), absent, PARTNER_VISIBLE),
            "{hidden} vs {absent}"
        );
        assert!(!h.text().contains("not available"), "{}", h.text());
    }
}

async fn graphql(c: &Client, tok: &str, query: &str) -> Value {
    as_role(c, "/graphql", Some(&json!({"query": query})), tok)
        .await
        .ok_json()
}

/// The first error's code and its message with `name` replaced and any
/// "Did you mean" tail (suggestions from the caller's schema) cut.
fn gql_error(resp: &Value, name: &str) -> (Value, String) {
    let e = &resp["errors"][0];
    let m = e["message"].as_str().unwrap_or_default();
    let m = m.split(" Did you mean").next().unwrap_or_default();
    (e["extensions"]["code"].clone(), m.replace(name, "NAME"))
}

#[tokio::test]
async fn hidden_and_absent_names_get_the_same_graphql_error() {
    let s = server().await;
    let tok = partner();
    for (query, hidden, absent) in [
        ("{ orders { NAME } }", "refunds", "zzqqxxw"),
        ("{ orders { NAME } }", "orders__status", "orders__zzqqxx"),
        ("{ NAME { revenue } }", "supportTickets", "zzqqxxwTickets"),
    ] {
        let h = graphql(&s.client, &tok, &query.replace("NAME", hidden)).await;
        let a = graphql(&s.client, &tok, &query.replace("NAME", absent)).await;
        assert!(h["errors"][0]["extensions"]["code"].is_string(), "{h}");
        assert_eq!(gql_error(&h, hidden), gql_error(&a, absent), "{h}\n{a}");
        assert_ne!(h["errors"][0]["extensions"]["code"], "forbidden", "{h}");
    }
    // The metadata lists only what the partner may use.
    let meta = graphql(&s.client, &tok, "{ models { name } }").await;
    let names: BTreeSet<&str> = meta["data"]["models"]
        .as_array()
        .expect("models")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, BTreeSet::from(["customers", "orders", "sessions"]));
}

async fn pg(s: &Server, tok: &str) -> tokio_postgres::Client {
    let port = s.running().pg_addr.expect("pg endpoint").port();
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=u password='{tok}' dbname=accord"),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

/// SQLSTATE and the first line of the message of a failing statement, with
/// `name` replaced (an engine's "did you mean" lines follow the first).
async fn pg_error(c: &tokio_postgres::Client, sql: &str, name: &str) -> (String, String) {
    let e = c.simple_query(sql).await.expect_err(sql);
    let db = e.as_db_error().expect("a server error");
    (
        db.code().code().to_string(),
        db.message()
            .lines()
            .next()
            .unwrap_or_default()
            .replace(name, "NAME"),
    )
}

#[tokio::test]
async fn hidden_and_absent_names_get_the_same_postgres_error() {
    let s = server().await;
    let c = pg(&s, &partner()).await;
    for (sql, hidden, absent) in [
        ("SELECT NAME FROM orders", "refunds", "zzqqxxw"),
        (
            "SELECT NAME, revenue FROM orders GROUP BY 1",
            "status",
            "zzqqxx",
        ),
        (
            "SELECT revenue FROM orders WHERE NAME = 'x'",
            "customers__email",
            "customers__zzqqx",
        ),
        ("SELECT * FROM NAME", "support_tickets", "zzqqxxw_tickets"),
    ] {
        let h = pg_error(&c, &sql.replace("NAME", hidden), hidden).await;
        let a = pg_error(&c, &sql.replace("NAME", absent), absent).await;
        assert_eq!(h, a, "{sql}");
        assert_ne!(h.0, "42501", "{sql}: {h:?}");
    }
    // pg_class lists the partner's tables only.
    let rows = c
        .simple_query("SELECT relname FROM pg_class WHERE relkind IN ('r', 'v') ORDER BY 1")
        .await
        .expect("pg_class");
    let tables: BTreeSet<String> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    let want: BTreeSet<String> = ["customers", "orders", "sessions"].map(String::from).into();
    assert_eq!(tables, want);
}

// ---------------------------------------------------------------------------
// Catalog listings

#[tokio::test]
async fn the_catalog_lists_exactly_what_the_partner_may_use() {
    let s = server().await;
    let cat = as_role(&s.client, "/v1/catalog", None, &partner())
        .await
        .ok_json();
    // By hand from policies.yml: the partner's include list, the models
    // its metrics read (orders: revenue, orders, average_order_value;
    // sessions: sessions) and its dimension (customers.region);
    // no entity, and only the measures its metrics read.
    let models: Vec<(String, Value, Value, Value)> = cat["models"]
        .as_array()
        .expect("models")
        .iter()
        .map(|m| {
            let names = |k: &str| {
                json!(
                    m[k].as_array()
                        .expect("list")
                        .iter()
                        .map(|x| x["name"].clone())
                        .collect::<Vec<_>>()
                )
            };
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                names("dimensions"),
                names("entities"),
                names("measures"),
            )
        })
        .collect();
    assert_eq!(
        models,
        vec![
            (
                "orders".into(),
                json!([]),
                json!([]),
                json!(["order_count", "amount"])
            ),
            ("customers".into(), json!(["region"]), json!([]), json!([])),
            (
                "sessions".into(),
                json!([]),
                json!([]),
                json!(["session_count"])
            ),
        ]
    );
    let metrics: BTreeSet<&str> = cat["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(
        metrics,
        BTreeSet::from(["revenue", "orders", "average_order_value", "sessions"])
    );
    for m in cat["metrics"].as_array().expect("metrics") {
        assert!(m["filter"].is_null(), "filter text shown: {m}");
    }
    assert_eq!(cat["funnels"], json!([]));
    assert_eq!(cat["retention"], json!([]));
    assert_eq!(cat["attributions"], json!([]));
}

// ---------------------------------------------------------------------------
// 9. Errors: a code, a safe message and the request id; detail in the log

fn assert_safe(text: &str) {
    for bad in [
        "SELECT",
        "select ",
        "Error:",
        "Binder",
        "Catalog Error",
        "duckdb",
        "demo.duckdb",
        "LOWER(",
        "/tmp",
    ] {
        assert!(!text.contains(bad), "`{bad}` leaked in:\n{text}");
    }
}

#[tokio::test]
async fn warehouse_errors_carry_a_request_id_and_no_sql() {
    let s = server().await;
    let c = &s.client;
    // An engine refusal: a function the allow-list accepts with an arity
    // the engine rejects.
    let r = c
        .query(&json!({"metrics": ["revenue"], "where": "lower(customers.region, 'x') = 'eu'"}))
        .await;
    let p = r.problem(502, "warehouse_error");
    assert_safe(&r.text());
    let id = r
        .header("x-request-id")
        .expect("request id header")
        .to_string();
    assert_eq!(p["request_id"], id.as_str());
    assert!(p["detail"].as_str().is_some_and(|d| d.contains(&id)), "{p}");
    let logged = log();
    let line = logged
        .lines()
        .find(|l| l.contains(&id) && l.contains("warehouse_error"))
        .unwrap_or_else(|| panic!("no log line for {id} in:\n{logged}"));
    assert!(
        line.contains("Binder Error"),
        "the log keeps the detail: {line}"
    );

    // A model's table is gone: named (the caller may see the model), with
    // the fix in words, but no engine text, warehouse or file name.
    let s = server_without_sessions().await;
    let c = &s.client;
    let r = c.query(&json!({"metrics": ["sessions"]})).await;
    let p = r.problem(503, "model_unavailable");
    assert_safe(&r.text());
    assert!(!r.text().contains("sessions_gone"));
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("table `sessions` does not exist")),
        "{p}"
    );

    let g = graphql(c, &token(&["admin"], &[]), "{ sessions { sessions } }").await;
    let e = &g["errors"][0];
    assert_eq!(e["extensions"]["code"], "model_unavailable", "{g}");
    assert!(e["extensions"]["requestId"].is_string(), "{g}");
    assert_safe(&g.to_string());

    let pc = pg(&s, &token(&["admin"], &[])).await;
    let err = pc
        .simple_query("SELECT sessions FROM sessions")
        .await
        .expect_err("the table is gone");
    let db = err.as_db_error().expect("server error");
    assert_eq!(db.code().code(), "55000");
    assert_safe(db.message());
    assert!(
        db.hint().is_some_and(|h| h.contains("request id")),
        "{db:?}"
    );
    // The same `lower(x, 'x')` over the wire: refused or failed, never echoed.
    if let Err(e) = pc
        .simple_query("SELECT revenue FROM orders WHERE lower(customers__region, 'x') = 'eu'")
        .await
    {
        let db = e.as_db_error().expect("server error");
        assert_safe(db.message());
    }
}

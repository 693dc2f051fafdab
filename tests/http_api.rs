//! The HTTP API through a real listening server: every endpoint's success
//! path with numbers checked against the generated demo rows, every error
//! class as problem+json with its exact status and code, pagination and row
//! limits, the result cache (including single-flight), hot reload under
//! load, graceful shutdown and request ids. No response may be a 500 (the
//! client helper fails any test that receives one).

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use accord::server::ServeConfig;
use accord::warehouse::WarehouseUrl;
use http::{Client, Resp, Server, copy_dir, eventually, metric_value, write_atomic};
use rust_decimal::Decimal;
use serde_json::{Value as Json, json};

const ARROW_MIME: &str = "application/vnd.apache.arrow.stream";

/// The demo data as the metrics may count it: the demo definitions' consent
/// suppression list (`erasure_requests`) removes every order of those
/// customers (the only table these tests aggregate).
fn demo_data() -> accord::demo::DemoData {
    let mut d = common::warehouses::demo(1);
    assert!(!d.erasure_requests.is_empty());
    let erased: std::collections::BTreeSet<i64> =
        d.erasure_requests.iter().map(|e| e.customer_id).collect();
    let before = d.orders.len();
    d.orders.retain(|o| !erased.contains(&o.customer_id));
    assert!(d.orders.len() < before, "some erased customers have orders");
    d
}

/// A decimal result cell (decimals travel as strings; integers as numbers).
fn dec(v: &Json) -> Decimal {
    match v {
        Json::String(s) => Decimal::from_str(s).unwrap_or_else(|e| panic!("`{s}`: {e}")),
        Json::Number(n) => Decimal::from_str(&n.to_string()).expect("number"),
        other => panic!("not a number: {other}"),
    }
}

fn col_names(body: &Json) -> Vec<String> {
    body["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("column name").to_string())
        .collect()
}

fn rows(body: &Json) -> Vec<Json> {
    body["rows"].as_array().expect("rows").clone()
}

/// Expected `orders` (non-cancelled order count) per status, from the rows.
fn orders_by_status(data: &accord::demo::DemoData) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for o in data.orders.iter().filter(|o| o.status != "cancelled") {
        *out.entry(o.status.to_string()).or_insert(0) += 1;
    }
    out
}

/// Definitions with one model whose source sleeps `seconds` on PostgreSQL,
/// and a count metric `slow_rows` over it.
fn slow_defs(dir: &Path, seconds: f64) -> PathBuf {
    let defs = dir.join("defs");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(
        defs.join("slow.yml"),
        format!(
            r#"models:
  - name: slow
    description: A source that takes {seconds} s to answer.
    source:
      sql: "SELECT pg_sleep({seconds}) AS x, 1 AS id"
    entities:
      - {{name: slow_row, type: primary, expr: id}}
    measures:
      - {{name: row_count, agg: count}}
metrics:
  - name: slow_rows
    description: Rows of the slow source.
    owner: test@example.com
    type: simple
    measure: slow.row_count
"#
        ),
    )
    .unwrap();
    defs
}

/// A database name unique to this test and process: the same test binary
/// may run in several processes at once (`postgres_db` drops and recreates
/// its database by name).
fn pg_name(test: &str) -> String {
    format!("{test}_{}", std::process::id())
}

/// Drops a database made by `postgres_db` (end of a passing test).
async fn drop_pg_db(name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&common::warehouses::postgres_url())
        .await
        .expect("PostgreSQL is reachable");
    let url = common::warehouses::postgres_url();
    let db = common::warehouses::test_db_name(&url, name);
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop the test database");
}

/// A server on a fresh PostgreSQL database `accord_t_{name}` over
/// [`slow_defs`].
async fn slow_pg_server(name: &str, seconds: f64, tweak: impl FnOnce(&mut ServeConfig)) -> Server {
    let db = common::warehouses::postgres_db(name).await;
    let dir = tempfile::tempdir().unwrap();
    let defs = slow_defs(dir.path(), seconds);
    let url: WarehouseUrl = db.parse().unwrap();
    let mut config = ServeConfig::for_tests(&defs, url);
    config.reload = false;
    tweak(&mut config);
    Server::start(config, dir).await
}

// ---------------------------------------------------------------------------
// 1. Success paths

#[tokio::test]
async fn query_json_revenue_equals_generated_rows() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let data = demo_data();
    let expected: Decimal = data
        .orders
        .iter()
        .filter(|o| o.status != "cancelled")
        .map(|o| o.amount)
        .sum();
    assert!(expected > Decimal::ZERO);

    let r = c.query(&json!({"metrics": ["revenue"]})).await;
    let body = r.ok_json();
    assert_eq!(col_names(&body), ["revenue"]);
    assert_eq!(body["columns"][0]["type"], "decimal", "{body:#}");
    let total = rows(&body);
    assert_eq!(total.len(), 1, "{body:#}");
    assert_eq!(dec(&total[0][0]), expected, "revenue over HTTP vs rows");

    let meta = &body["meta"];
    assert_eq!(meta["cache"], "miss");
    assert_eq!(meta["row_count"], 1);
    assert_eq!(meta["truncated"], false);
    assert!(meta["duration_ms"].as_f64().unwrap() >= 0.0);
    assert!(meta["warehouse_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(meta["warnings"], json!([]));
    let version = common::demo_catalog().version.clone();
    assert_eq!(meta["definitions_version"], version.as_str());
    assert_eq!(r.header("x-accord-cache"), Some("miss"));
    assert_eq!(
        r.header("x-accord-definitions-version"),
        Some(version.as_str())
    );
    assert_eq!(r.header("x-accord-sql-hash"), meta["sql_hash"].as_str());
    assert_eq!(meta["sql_hash"].as_str().unwrap().len(), 16);
    assert_eq!(r.header("x-accord-truncated"), None);

    // Grouped: `orders` per status, checked row by row.
    let body = c
        .query(&json!({"metrics": ["orders"], "dimensions": ["orders.status"], "order_by": ["orders.status"]}))
        .await
        .ok_json();
    assert_eq!(col_names(&body), ["orders__status", "orders"]);
    let got: BTreeMap<String, i64> = rows(&body)
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_i64().unwrap()))
        .collect();
    assert_eq!(got, orders_by_status(&data));
}

#[tokio::test]
async fn query_csv() {
    let server = Server::demo(|_| {}).await;
    let data = demo_data();
    let r = server
        .client
        .send(
            server
                .client
                .http
                .post(server.client.url("/v1/query"))
                .header("accept", "text/csv")
                .json(&json!({"metrics": ["orders"], "dimensions": ["orders.status"], "order_by": ["orders.status"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.content_type().starts_with("text/csv"),
        "content-type {}",
        r.content_type()
    );
    assert_eq!(r.header("x-accord-cache"), Some("miss"));
    let text = r.text();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("orders__status,orders"));
    let got: BTreeMap<String, i64> = lines
        .map(|l| {
            let (s, n) = l.split_once(',').expect("two fields");
            (s.to_string(), n.parse().expect("count"))
        })
        .collect();
    assert_eq!(got, orders_by_status(&data));
    assert!(text.ends_with("\r\n"), "CSV rows end with CRLF");
}

#[tokio::test]
async fn query_arrow_stream() {
    use arrow_array::Array;
    let server = Server::demo(|_| {}).await;
    let data = demo_data();
    let r = server
        .client
        .send(
            server
                .client
                .http
                .post(server.client.url("/v1/query"))
                .header("accept", ARROW_MIME)
                .json(&json!({"metrics": ["orders"], "dimensions": ["orders.status"], "order_by": ["orders.status"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.content_type(), ARROW_MIME);
    assert!(r.body.len() > 8);
    assert_eq!(
        &r.body[..4],
        &[0xFF, 0xFF, 0xFF, 0xFF],
        "an Arrow IPC stream starts with the continuation marker"
    );
    // And it decodes to the same numbers.
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(r.body.clone()), None)
            .expect("a valid Arrow IPC stream");
    let schema = reader.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["orders__status", "orders"]);
    let mut got = BTreeMap::new();
    for batch in reader {
        let batch = batch.expect("record batch");
        let status = batch
            .column(0)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .expect("status is utf8");
        let count = batch
            .column(1)
            .as_any()
            .downcast_ref::<arrow_array::Int64Array>()
            .expect("count is int64");
        for i in 0..batch.num_rows() {
            assert!(!status.is_null(i));
            got.insert(status.value(i).to_string(), count.value(i));
        }
    }
    assert_eq!(got, orders_by_status(&data));
}

#[tokio::test]
async fn compile_for_snowflake() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let q = json!({"metrics": ["revenue", "orders"], "dimensions": ["metric_time:month", "customers.region"]});
    let body = c
        .post_json("/v1/compile?dialect=snowflake", &q)
        .await
        .ok_json();
    assert_eq!(body["dialect"], "snowflake");
    let sql = body["sql"].as_str().expect("sql");
    assert!(sql.contains("SELECT"), "{sql}");
    assert!(sql.contains("DATE_TRUNC"), "{sql}");
    assert_eq!(body["sql_hash"].as_str().unwrap().len(), 16);
    assert_eq!(
        body["definitions_version"],
        common::demo_catalog().version.as_str()
    );
    let columns: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        [
            "metric_time__month",
            "customers__region",
            "revenue",
            "orders"
        ]
    );
    assert!(body["models"].as_array().is_some_and(|m| !m.is_empty()));
    assert!(body["warnings"].is_array());

    // Without a dialect: the warehouse's own (DuckDB), a different SQL text.
    let duck = c.post_json("/v1/compile", &q).await.ok_json();
    assert_eq!(duck["dialect"], "duckdb");
    assert_ne!(duck["sql_hash"], body["sql_hash"]);
    // The compiled DuckDB SQL is what /v1/query runs.
    let r = c.query(&q).await;
    r.ok_json();
    assert_eq!(r.header("x-accord-sql-hash"), duck["sql_hash"].as_str());
}

#[tokio::test]
async fn catalog_lists_every_metric_with_its_dimensions() {
    let server = Server::demo(|_| {}).await;
    let expected = common::demo_catalog();
    let body = server.client.get("/v1/catalog").await.ok_json();
    assert_eq!(body["version"], expected.version.as_str());

    let metrics = body["metrics"].as_array().expect("metrics");
    assert_eq!(metrics.len(), expected.metrics.len());
    let by_name: BTreeMap<&str, &Json> = metrics
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m))
        .collect();
    for m in &expected.metrics {
        let got = by_name
            .get(m.name.as_str())
            .unwrap_or_else(|| panic!("metric `{}` missing from /v1/catalog", m.name));
        assert_eq!(got["type"], m.kind.name(), "{}", m.name);
        assert_eq!(got["version"], m.version, "{}", m.name);
        assert_eq!(got["status"], m.status.name(), "{}", m.name);
        assert_eq!(got["default"], true, "{}", m.name);
        for (field, value) in [
            ("owner", &m.owner),
            ("description", &m.description),
            ("format", &m.format),
            ("label", &m.label),
        ] {
            let v = value
                .as_deref()
                .unwrap_or_else(|| panic!("demo metric {} has a {field}", m.name));
            assert_eq!(got[field], v, "{}.{field}", m.name);
        }
        let dims: Vec<String> = got["dimensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        assert_eq!(dims, expected.groupable_dimensions(m.id), "{}", m.name);
        assert!(!dims.is_empty(), "{} has groupable dimensions", m.name);
    }

    // Spot checks independent of the loader.
    let revenue = by_name["revenue"];
    assert_eq!(revenue["type"], "simple");
    assert_eq!(revenue["owner"], "finance-analytics@example.com");
    assert_eq!(revenue["format"], "currency");
    assert_eq!(revenue["unit"], "USD");
    let dims = revenue["dimensions"].as_array().unwrap();
    for d in [
        "metric_time",
        "orders.status",
        "orders.ordered_at",
        "customers.region",
        "accounts.plan",
    ] {
        assert!(dims.contains(&json!(d)), "revenue is groupable by {d}");
    }
    assert!(
        !dims.contains(&json!("support_tickets.priority")),
        "orders cannot reach support tickets"
    );
    assert_eq!(by_name["average_order_value"]["type"], "ratio");
    assert_eq!(by_name["net_revenue"]["type"], "derived");

    // Models are listed with their dimensions and measures.
    let models = body["models"].as_array().expect("models");
    assert_eq!(models.len(), expected.models.len());
    let orders = models.iter().find(|m| m["name"] == "orders").unwrap();
    assert_eq!(orders["source"], json!({"table": "orders"}));
    assert!(
        orders["measures"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "amount" && m["agg"] == "sum")
    );
    let customers = models.iter().find(|m| m["name"] == "customers").unwrap();
    let email = customers["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "email")
        .unwrap();
    assert_eq!(email["pii"], true);
}

#[tokio::test]
async fn catalog_metric_revenue() {
    let server = Server::demo(|_| {}).await;
    let body = server
        .client
        .get("/v1/catalog/metrics/revenue")
        .await
        .ok_json();
    assert_eq!(body["name"], "revenue");
    assert_eq!(body["default_version"], 1);
    let versions = body["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    let v = &versions[0];
    assert_eq!(v["name"], "revenue");
    assert_eq!(v["version"], 1);
    assert_eq!(v["default"], true);
    assert_eq!(v["type"], "simple");
    assert_eq!(v["status"], "active");
    assert_eq!(v["label"], "Gross revenue");
    assert_eq!(v["owner"], "finance-analytics@example.com");
    assert_eq!(v["inputs"], json!(["orders.amount"]));
    assert_eq!(v["filter"], "orders.status <> 'cancelled'");
    assert!(
        v["dimensions"]
            .as_array()
            .unwrap()
            .contains(&json!("customers.region"))
    );

    // A ratio lists its inputs as qualified metric names.
    let aov = server
        .client
        .get("/v1/catalog/metrics/average_order_value")
        .await
        .ok_json();
    assert_eq!(
        aov["versions"][0]["inputs"],
        json!(["revenue@1", "orders@1"])
    );
}

#[tokio::test]
async fn catalog_status_health_ready() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let version = common::demo_catalog().version.clone();

    let status = c.get("/v1/catalog/status").await.ok_json();
    assert_eq!(status["version"], version.as_str());
    assert_eq!(status["last_attempt_ok"], true);
    assert_eq!(status["errors"], json!([]));
    assert_eq!(status["reloads"], 0);
    for f in ["loaded_at", "last_attempt_at"] {
        let t = status[f].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(t).unwrap_or_else(|e| panic!("{f} `{t}`: {e}"));
    }

    let health = c.get("/healthz").await.ok_json();
    assert_eq!(health, json!({"status": "ok"}));

    let ready = c.get("/readyz").await.ok_json();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["definitions_version"], version.as_str());
    assert!(
        ready["warehouse"]
            .as_str()
            .unwrap()
            .starts_with("duckdb://"),
        "{ready}"
    );
}

#[tokio::test]
async fn prometheus_metrics_count_requests_and_cache_hits() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    c.get("/healthz").await.ok_json();
    let q = json!({"metrics": ["orders"], "dimensions": ["orders.channel"]});
    let first = c.query(&q).await;
    assert_eq!(first.header("x-accord-cache"), Some("miss"));
    let second = c.query(&q).await;
    assert_eq!(second.header("x-accord-cache"), Some("hit"));
    c.query(&json!({"metrics": ["revnue"]}))
        .await
        .problem(422, "unknown_metric");
    c.get("/no/such/path").await.problem(404, "not_found");

    let r = c.get("/metrics").await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type().starts_with("application/openmetrics-text")
            || r.content_type().starts_with("text/plain"),
        "content-type {}",
        r.content_type()
    );
    let text = r.text();
    let value = |name: &str| {
        metric_value(&text, name).unwrap_or_else(|| panic!("`{name}` missing from:\n{text}"))
    };
    assert!(
        text.contains("# TYPE accord_http_requests counter"),
        "{text}"
    );
    assert_eq!(
        value(r#"accord_http_requests_total{route="/v1/query",status="200"}"#),
        2.0
    );
    assert_eq!(
        value(r#"accord_http_requests_total{route="/v1/query",status="422"}"#),
        1.0
    );
    assert_eq!(
        value(r#"accord_http_requests_total{route="/healthz",status="200"}"#),
        1.0
    );
    assert_eq!(
        value(r#"accord_http_requests_total{route="unmatched",status="404"}"#),
        1.0
    );
    assert_eq!(value("accord_cache_hits_total"), 1.0);
    assert_eq!(value("accord_cache_misses_total"), 1.0);
    assert_eq!(value(r#"accord_errors_total{code="unknown_metric"}"#), 1.0);
    assert_eq!(
        value(r#"accord_http_request_duration_seconds_count{route="/v1/query",status="200"}"#),
        2.0
    );
    assert_eq!(value("accord_warehouse_query_duration_seconds_count"), 1.0);
    assert_eq!(
        value("accord_catalog_metrics"),
        common::demo_catalog().metrics.len() as f64
    );
}

#[tokio::test]
async fn request_ids_are_set_and_echoed() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let a = c.get("/healthz").await;
    let b = c.get("/healthz").await;
    let id_a = a
        .header("x-request-id")
        .expect("x-request-id on a response");
    let id_b = b
        .header("x-request-id")
        .expect("x-request-id on a response");
    assert_eq!(id_a.len(), 36, "a UUID: {id_a}");
    assert_ne!(id_a, id_b, "each request gets its own id");

    // Errors carry one too.
    let e = c.get("/nope").await;
    assert!(e.header("x-request-id").is_some_and(|v| !v.is_empty()));
    let e = c.query(&json!({"metrics": ["revnue"]})).await;
    assert!(e.header("x-request-id").is_some_and(|v| !v.is_empty()));

    // A caller's own id is echoed, on success and on error.
    let mine = c
        .send(
            c.http
                .get(c.url("/healthz"))
                .header("x-request-id", "trace-me-1234"),
        )
        .await;
    assert_eq!(mine.header("x-request-id"), Some("trace-me-1234"));
    let mine = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("x-request-id", "trace-me-5678")
                .json(&json!({"metrics": ["revenue"]})),
        )
        .await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.header("x-request-id"), Some("trace-me-5678"));
    let mine = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("x-request-id", "trace-me-error")
                .json(&json!({"metrics": ["revnue"]})),
        )
        .await;
    assert_eq!(mine.status, 422);
    assert_eq!(mine.header("x-request-id"), Some("trace-me-error"));
}

// ---------------------------------------------------------------------------
// 2. Errors: exact status, problem+json, code, field, suggestions

#[tokio::test]
async fn malformed_json_is_400() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    for body in [
        &b"{\"metrics\": [\"revenue\"],}"[..],
        b"{\"metrics\": [\"revenue\"]",
        b"not json",
    ] {
        let p = c
            .post_raw("/v1/query", "application/json", body.to_vec())
            .await
            .problem(400, "invalid_json");
        assert!(p.get("field").is_none(), "{p}");
    }
    c.post_raw("/v1/compile", "application/json", b"{".to_vec())
        .await
        .problem(400, "invalid_json");
}

#[tokio::test]
async fn unknown_path_is_404() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    for path in ["/", "/v2/query", "/v1/catalog/models", "/v1/query/extra"] {
        c.get(path).await.problem(404, "not_found");
    }
    c.post_json("/v1/nothing", &json!({}))
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn wrong_method_is_405() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let r = c.send(c.http.get(c.url("/v1/query"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = c.send(c.http.delete(c.url("/v1/catalog"))).await;
    assert_eq!(r.status, 405);
    // A bad query string or path is a client error, never a 500.
    let r = c
        .post_json(
            "/v1/compile?dialect=snowflake&dialect=duckdb",
            &json!({"metrics": ["revenue"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = c.get("/v1/catalog/metrics/%FF").await;
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Rejections produced by the framework (wrong method, unparsable query
/// string or path) are problem+json like every other API error.
#[tokio::test]
async fn framework_rejections_are_problems() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let check = |r: Resp, status: u16| {
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(
            r.content_type(),
            "application/problem+json",
            "{status}: body `{}`",
            r.text()
        );
        let p = r.json();
        assert_eq!(p["status"], status, "{p:#}");
        assert!(p["code"].as_str().is_some_and(|c| !c.is_empty()), "{p:#}");
        p
    };
    check(c.send(c.http.get(c.url("/v1/query"))).await, 405);
    check(c.post_json("/healthz", &json!({})).await, 405);
    let p = check(
        c.post_json(
            "/v1/compile?dialect=snowflake&dialect=duckdb",
            &json!({"metrics": ["revenue"]}),
        )
        .await,
        400,
    );
    assert_eq!(p["field"], "dialect", "{p:#}");
    check(c.get("/v1/catalog/metrics/%FF").await, 400);
}

#[tokio::test]
async fn unknown_metric_in_catalog_is_404_with_suggestion() {
    let server = Server::demo(|_| {}).await;
    let p = server
        .client
        .get("/v1/catalog/metrics/revnue")
        .await
        .problem(404, "unknown_metric");
    assert_eq!(p["suggestions"][0], "revenue", "{p:#}");
    assert!(p["detail"].as_str().unwrap().contains("revnue"));
}

#[tokio::test]
async fn unacceptable_accept_is_406() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let p = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("accept", "image/png")
                .json(&json!({"metrics": ["revenue"]})),
        )
        .await
        .problem(406, "not_acceptable");
    assert!(p["detail"].as_str().unwrap().contains("text/csv"), "{p:#}");
    // A list with one acceptable type is served.
    let r = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("accept", "image/png, text/csv;q=0.5")
                .json(&json!({"metrics": ["revenue"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.content_type().starts_with("text/csv"));
}

#[tokio::test]
async fn oversized_body_is_413() {
    let server = Server::demo(|c| c.max_body_bytes = 4096).await;
    let c = &server.client;
    // Just under the limit is accepted...
    let small = format!("{{\"metrics\": [\"revenue\"]{}}}", " ".repeat(3000));
    let r = c
        .post_raw("/v1/query", "application/json", small.into_bytes())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // ...over it is refused before parsing.
    let big = format!("{{\"metrics\": [\"revenue\"]{}}}", " ".repeat(20_000));
    let p = c
        .post_raw("/v1/query", "application/json", big.into_bytes())
        .await
        .problem(413, "payload_too_large");
    assert!(p.get("field").is_none());
    let big = format!("{{\"metrics\": [\"revenue\"]{}}}", " ".repeat(20_000));
    c.post_raw("/v1/compile", "application/json", big.into_bytes())
        .await
        .problem(413, "payload_too_large");
}

#[tokio::test]
async fn non_json_content_type_is_415() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let body = br#"{"metrics": ["revenue"]}"#.to_vec();
    c.post_raw("/v1/query", "text/plain", body.clone())
        .await
        .problem(415, "unsupported_media_type");
    c.post_raw(
        "/v1/compile",
        "application/x-www-form-urlencoded",
        body.clone(),
    )
    .await
    .problem(415, "unsupported_media_type");
    // No content type at all.
    c.send(c.http.post(c.url("/v1/query")).body(body))
        .await
        .problem(415, "unsupported_media_type");
}

#[tokio::test]
async fn unknown_metric_is_422_with_suggestion() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    for path in ["/v1/query", "/v1/compile"] {
        let p = c
            .post_json(path, &json!({"metrics": ["orders", "revnue"]}))
            .await
            .problem(422, "unknown_metric");
        assert_eq!(p["field"], "metrics[1]", "{p:#}");
        assert_eq!(p["suggestions"][0], "revenue", "{p:#}");
        assert!(p["detail"].as_str().unwrap().contains("revnue"), "{p:#}");
    }
}

#[tokio::test]
async fn unknown_dimension_is_422_with_suggestion() {
    let server = Server::demo(|_| {}).await;
    let p = server
        .client
        .query(
            &json!({"metrics": ["revenue"], "dimensions": ["orders.status", "customers.regoin"]}),
        )
        .await
        .problem(422, "unknown_dimension");
    assert_eq!(p["suggestions"][0], "customers.region", "{p:#}");
    assert!(
        p["detail"].as_str().unwrap().contains("customers.regoin"),
        "{p:#}"
    );
    // In a filter too.
    let p = server
        .client
        .query(&json!({"metrics": ["revenue"], "filters": [{"dimension": "customers.regoin", "op": "eq", "values": ["EU"]}]}))
        .await
        .problem(422, "unknown_dimension");
    assert_eq!(p["suggestions"][0], "customers.region", "{p:#}");
}

/// Every planner problem names the request field at fault (`PlanError::field`
/// is documented as `metrics[0]`, `dimensions[1]`, ...), including unknown
/// and ambiguous dimension names in dimensions, filters and `where`.
#[tokio::test]
async fn dimension_name_errors_name_the_field() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let cases = [
        (
            json!({"metrics": ["revenue"], "dimensions": ["orders.status", "customers.regoin"]}),
            "unknown_dimension",
            "dimensions[1]",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["channel"]}),
            "ambiguous_reference",
            "dimensions[0]",
        ),
        (
            json!({"metrics": ["revenue"], "filters": [{"dimension": "customers.regoin", "op": "eq", "values": ["EU"]}]}),
            "unknown_dimension",
            "filters[0].dimension",
        ),
        (
            json!({"metrics": ["revenue"], "where": "customers.regoin = 'EU'"}),
            "unknown_dimension",
            "where",
        ),
    ];
    let mut wrong = Vec::new();
    for (q, code, field) in cases {
        let p = c.query(&q).await.problem(422, code);
        if p["field"] != field {
            wrong.push(format!("{q}: field {} (want {field})", p["field"]));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn unknown_body_field_is_422() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let p = c
        .query(&json!({"metrics": ["revenue"], "dimensoins": ["orders.status"]}))
        .await
        .problem(422, "invalid_request");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("unknown field `dimensoins`"), "{p:#}");
    // Nested objects are strict too.
    let p = c
        .query(&json!({"metrics": ["revenue"], "filters": [{"dimension": "orders.status", "op": "eq", "value": ["x"]}]}))
        .await
        .problem(422, "invalid_request");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `value`"),
        "{p:#}"
    );
    // Wrong types are the same class.
    c.query(&json!({"metrics": "revenue"}))
        .await
        .problem(422, "invalid_request");
    c.query(&json!({"metrics": ["revenue"], "filters": [{"dimension": "orders.status", "op": "matches", "values": ["x"]}]}))
        .await
        .problem(422, "invalid_request");
}

/// The problem for an unknown body field names the field and suggests the
/// closest valid one, like every other 422.
#[tokio::test]
async fn unknown_body_field_names_the_field_and_suggests() {
    let server = Server::demo(|_| {}).await;
    let p = server
        .client
        .query(&json!({"metrics": ["revenue"], "dimensoins": ["orders.status"]}))
        .await
        .problem(422, "invalid_request");
    assert_eq!(p["field"], "dimensoins", "{p:#}");
    assert_eq!(p["suggestions"][0], "dimensions", "{p:#}");
}

#[tokio::test]
async fn ambiguous_dimension_is_422() {
    let server = Server::demo(|_| {}).await;
    // `channel` exists on orders, sessions and marketing touches; orders
    // reach both themselves and sessions.
    let p = server
        .client
        .query(&json!({"metrics": ["revenue"], "dimensions": ["channel"]}))
        .await
        .problem(422, "ambiguous_reference");
    let suggestions = p["suggestions"].as_array().unwrap();
    assert!(suggestions.contains(&json!("orders.channel")), "{p:#}");
    assert!(suggestions.contains(&json!("sessions.channel")), "{p:#}");
}

#[tokio::test]
async fn unreachable_dimension_is_422() {
    let server = Server::demo(|_| {}).await;
    // Orders cannot be split by a support-ticket attribute (one-to-many).
    let p = server
        .client
        .query(&json!({"metrics": ["revenue"], "dimensions": ["support_tickets.priority"]}))
        .await
        .problem(422, "unreachable_dimension");
    assert_eq!(p["field"], "dimensions[0]", "{p:#}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("support_tickets.priority"), "{p:#}");
}

#[tokio::test]
async fn invalid_filter_value_is_422() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let ok = json!({"dimension": "orders.channel", "op": "eq", "values": ["web"]});
    let cases = [
        (
            "orders",
            json!({"dimension": "orders.ordered_at", "op": "gte", "values": ["yesterday"]}),
            "yesterday",
        ),
        (
            "orders",
            json!({"dimension": "customers.is_test", "op": "eq", "values": ["maybe"]}),
            "maybe",
        ),
        (
            "orders",
            json!({"dimension": "orders.status", "op": "eq", "values": [{"nested": true}]}),
            "not a filter value",
        ),
        (
            "orders",
            json!({"dimension": "orders.status", "op": "between", "values": ["a"]}),
            "2 value",
        ),
        (
            "tickets",
            json!({"dimension": "support_tickets.csat_score", "op": "gt", "values": ["high"]}),
            "not a number",
        ),
    ];
    for (metric, bad, needle) in cases {
        // The bad filter second, after a valid one, so the field index shows.
        let filters = if metric == "orders" {
            json!([ok, bad])
        } else {
            json!([bad])
        };
        let p = c
            .query(&json!({"metrics": [metric], "filters": filters}))
            .await
            .problem(422, "invalid_filter");
        let want = if metric == "orders" {
            "filters[1]"
        } else {
            "filters[0]"
        };
        assert_eq!(p["field"], want, "{bad}: {p:#}");
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{bad}: `{needle}` in {p:#}"
        );
    }
}

#[tokio::test]
async fn too_many_metrics_is_422_query_too_complex() {
    let server = Server::demo(|_| {}).await;
    let metrics: Vec<String> = (0..51).map(|_| "revenue".to_string()).collect();
    let p = server
        .client
        .query(&json!({"metrics": metrics}))
        .await
        .problem(422, "query_too_complex");
    assert!(p["detail"].as_str().unwrap().contains("at most"), "{p:#}");
    let dims: Vec<String> = (0..21).map(|_| "orders.status".to_string()).collect();
    server
        .client
        .post_json(
            "/v1/compile",
            &json!({"metrics": ["revenue"], "dimensions": dims}),
        )
        .await
        .problem(422, "query_too_complex");
}

#[tokio::test]
async fn unknown_dialect_is_422() {
    let server = Server::demo(|_| {}).await;
    let p = server
        .client
        .post_json(
            "/v1/compile?dialect=snowflak",
            &json!({"metrics": ["revenue"]}),
        )
        .await
        .problem(422, "unknown_dialect");
    assert_eq!(p["field"], "dialect", "{p:#}");
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("did you mean `snowflake`"), "{p:#}");
}

/// Like every other "unknown name" problem, the suggestion is also in the
/// structured `suggestions` array, not only in the prose.
#[tokio::test]
async fn unknown_dialect_suggestion_is_structured() {
    let server = Server::demo(|_| {}).await;
    let p = server
        .client
        .post_json(
            "/v1/compile?dialect=snowflak",
            &json!({"metrics": ["revenue"]}),
        )
        .await
        .problem(422, "unknown_dialect");
    assert_eq!(p["suggestions"], json!(["snowflake"]), "{p:#}");
}

#[tokio::test]
async fn unreachable_warehouse_is_503_but_healthz_is_200() {
    let dir = tempfile::tempdir().unwrap();
    let url: WarehouseUrl = "postgres://postgres@127.0.0.1:1/none".parse().unwrap();
    let mut config = ServeConfig::for_tests(&http::demo_defs(), url);
    config.reload = false;
    let server = Server::start(config, dir).await;
    let c = &server.client;

    let health = c.get("/healthz").await.ok_json();
    assert_eq!(health["status"], "ok");
    let p = c.get("/readyz").await.problem(503, "warehouse_unavailable");
    // The warehouse's address is for the log, not the caller.
    assert!(
        !p["detail"].as_str().unwrap().contains("127.0.0.1:1"),
        "{p:#}"
    );
    assert!(p["request_id"].is_string(), "{p:#}");
    c.query(&json!({"metrics": ["revenue"]}))
        .await
        .problem(503, "warehouse_unavailable");
    // Compiling needs no warehouse.
    let compiled = c
        .post_json("/v1/compile", &json!({"metrics": ["revenue"]}))
        .await
        .ok_json();
    assert_eq!(compiled["dialect"], "postgres");
    // An error is not cached: it is still reported (not a stale success).
    c.query(&json!({"metrics": ["revenue"]}))
        .await
        .problem(503, "warehouse_unavailable");
}

#[tokio::test]
async fn slow_warehouse_is_504() {
    let db = pg_name("http_timeout");
    let mut server = slow_pg_server(&db, 3.0, |c| c.query_timeout = Duration::from_secs(1)).await;
    let started = Instant::now();
    let p = server
        .client
        .query(&json!({"metrics": ["slow_rows"]}))
        .await
        .problem(504, "warehouse_timeout");
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "the timeout cut the 3 s query short: {:?}",
        started.elapsed()
    );
    assert!(
        p["detail"].as_str().unwrap().contains("did not answer"),
        "{p:#}"
    );
    // The warehouse itself is fine.
    server.client.get("/readyz").await.ok_json();
    server.shutdown().await;
    drop_pg_db(&db).await;
}

#[tokio::test]
async fn missing_table_is_named_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let url = http::demo_duckdb_copy(dir.path());
    let defs = dir.path().join("defs");
    std::fs::create_dir_all(&defs).unwrap();
    std::fs::write(
        defs.join("ghosts.yml"),
        r#"models:
  - name: ghosts
    source: {table: no_such_table}
    entities:
      - {name: ghost, type: primary, expr: ghost_id}
    dimensions:
      - {name: kind, type: categorical}
    measures:
      - {name: ghost_count, agg: count}
metrics:
  - {name: ghosts, type: simple, measure: ghosts.ghost_count}
"#,
    )
    .unwrap();
    let mut config = ServeConfig::for_tests(&defs, url);
    config.reload = false;
    let server = Server::start(config, dir).await;
    let p = server
        .client
        .query(&json!({"metrics": ["ghosts"], "dimensions": ["ghosts.kind"]}))
        .await
        .problem(503, "model_unavailable");
    // The model and its table, and the fix; never the engine's words.
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("model `ghosts`: table `no_such_table` does not exist in the warehouse")
            && detail.contains("create the table or correct the model's `table:`"),
        "{p:#}"
    );
    assert!(!detail.contains("Catalog Error"), "{p:#}");
    assert!(p["request_id"].is_string(), "{p:#}");
    // The server is still ready (the warehouse answers), degraded.
    let ready = server.client.get("/readyz").await.ok_json();
    assert_eq!(ready["status"], "degraded", "{ready:#}");
    assert_eq!(
        ready["schema"]["missing"][0]["model"], "ghosts",
        "{ready:#}"
    );
}

// ---------------------------------------------------------------------------
// 3. Pagination and the row limit

#[tokio::test]
async fn limit_and_offset_page_through_a_result() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let base = json!({"metrics": ["orders"], "dimensions": ["customers.country"], "order_by": ["customers.country"]});
    let all = rows(&c.query(&base).await.ok_json());
    assert!(all.len() > 7, "enough countries to page: {}", all.len());

    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let mut q = base.clone();
        q["limit"] = json!(3);
        q["offset"] = json!(offset);
        let body = c.query(&q).await.ok_json();
        let page = rows(&body);
        assert!(page.len() <= 3);
        assert_eq!(body["meta"]["row_count"], page.len());
        assert_eq!(body["meta"]["truncated"], false);
        if page.is_empty() {
            break;
        }
        paged.extend(page);
        offset += 3;
    }
    assert_eq!(paged, all, "pages concatenate to the whole result");

    // An offset past the end is an empty page, not an error.
    let mut q = base.clone();
    q["offset"] = json!(10_000);
    assert!(rows(&c.query(&q).await.ok_json()).is_empty());
}

#[tokio::test]
async fn max_rows_truncates_and_flags() {
    let server = Server::demo(|c| c.max_rows = 3).await;
    let c = &server.client;
    let q = json!({"metrics": ["orders"], "dimensions": ["customers.country"], "order_by": ["customers.country"]});
    let r = c.query(&q).await;
    let body = r.ok_json();
    assert_eq!(rows(&body).len(), 3);
    assert_eq!(body["meta"]["row_count"], 3);
    assert_eq!(body["meta"]["truncated"], true);
    assert_eq!(r.header("x-accord-truncated"), Some("true"));

    // CSV responses carry the flag too (its only signal).
    let csv = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("accept", "text/csv")
                .json(&q),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text().lines().count(), 4, "header + 3 rows");
    assert_eq!(csv.header("x-accord-truncated"), Some("true"));

    // Exactly max_rows rows is not truncated; neither is a small result.
    let mut exact = q.clone();
    exact["limit"] = json!(3);
    let r = c.query(&exact).await;
    let body = r.ok_json();
    assert_eq!(rows(&body).len(), 3);
    assert_eq!(body["meta"]["truncated"], false);
    assert_eq!(r.header("x-accord-truncated"), None);
    let r = c
        .query(&json!({"metrics": ["orders"], "dimensions": ["orders.status"]}))
        .await;
    assert_eq!(r.ok_json()["meta"]["truncated"], false);
    assert_eq!(r.header("x-accord-truncated"), None);
}

// ---------------------------------------------------------------------------
// 4. The result cache

#[tokio::test]
async fn second_identical_query_is_a_cache_hit() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let q = json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.region"], "order_by": ["customers.region"]});
    let first = c.query(&q).await;
    let a = first.ok_json();
    assert_eq!(first.header("x-accord-cache"), Some("miss"));
    assert_eq!(a["meta"]["cache"], "miss");
    let second = c.query(&q).await;
    let b = second.ok_json();
    assert_eq!(second.header("x-accord-cache"), Some("hit"));
    assert_eq!(b["meta"]["cache"], "hit");
    assert_eq!(b["meta"]["warehouse_ms"], 0.0);
    assert_eq!(a["rows"], b["rows"]);
    assert_eq!(a["columns"], b["columns"]);
    assert_eq!(a["meta"]["sql_hash"], b["meta"]["sql_hash"]);
    assert_eq!(
        a["meta"]["definitions_version"],
        b["meta"]["definitions_version"]
    );
    // The cache is shared across formats: the CSV of the same query is a hit.
    let csv = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("accept", "text/csv")
                .json(&q),
        )
        .await;
    assert_eq!(csv.header("x-accord-cache"), Some("hit"));
    // A different query is a miss.
    let other = c
        .query(&json!({"metrics": ["revenue"], "dimensions": ["customers.segment"]}))
        .await;
    assert_eq!(other.header("x-accord-cache"), Some("miss"));
}

async fn concurrent_single_flight(c: &Client, q: Json, n: usize) -> Vec<Resp> {
    let misses_before = c.counter("accord_cache_misses_total").await;
    let hits_before = c.counter("accord_cache_hits_total").await;
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let c = c.clone();
            let q = q.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                c.query(&q).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("query task"));
    }
    for r in &out {
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let misses: Vec<_> = out
        .iter()
        .filter(|r| r.header("x-accord-cache") == Some("miss"))
        .collect();
    assert_eq!(
        misses.len(),
        1,
        "exactly one of {n} concurrent identical queries runs on the warehouse"
    );
    let first = out[0].json();
    for r in &out[1..] {
        assert_eq!(r.json()["rows"], first["rows"]);
    }
    assert_eq!(
        c.counter("accord_cache_misses_total").await,
        misses_before + 1.0
    );
    assert_eq!(
        c.counter("accord_cache_hits_total").await,
        hits_before + (n - 1) as f64
    );
    out
}

#[tokio::test]
async fn concurrent_identical_queries_run_once() {
    let server = Server::demo(|_| {}).await;
    // Warm something else so the counters are non-trivial.
    server
        .client
        .query(&json!({"metrics": ["orders"]}))
        .await
        .ok_json();
    let out = concurrent_single_flight(
        &server.client,
        json!({"metrics": ["revenue", "sessions"], "dimensions": ["metric_time:week"]}),
        20,
    )
    .await;
    assert_eq!(out.len(), 20);
}

/// With a query that takes a second on the warehouse all 20 requests
/// overlap for sure; they still share one execution.
#[tokio::test]
async fn concurrent_identical_slow_queries_run_once() {
    let db = pg_name("http_single_flight");
    let mut server = slow_pg_server(&db, 1.0, |_| {}).await;
    let started = Instant::now();
    let out = concurrent_single_flight(&server.client, json!({"metrics": ["slow_rows"]}), 20).await;
    assert_eq!(out[0].json()["rows"], json!([[1]]));
    assert!(
        started.elapsed() < Duration::from_secs(2) + Duration::from_millis(900),
        "one warehouse round, not 20 (/ 8 connections): {:?}",
        started.elapsed()
    );
    server.shutdown().await;
    drop_pg_db(&db).await;
}

// ---------------------------------------------------------------------------
// 5. Hot reload under load

struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<String>>,
}

/// Fires queries back to back (each a new SQL text, so each reaches the
/// warehouse) until stopped; returns the failures.
fn start_load(c: &Client) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let (c, s, n) = (c.clone(), stop.clone(), sent.clone());
    let task = tokio::spawn(async move {
        let mut failures = Vec::new();
        let mut i = 0u64;
        while !s.load(Ordering::Relaxed) {
            i += 1;
            let q = if i.is_multiple_of(2) {
                json!({"metrics": ["orders", "revenue"], "dimensions": ["orders.channel"], "limit": i})
            } else {
                json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "limit": i})
            };
            let resp = c.http.post(c.url("/v1/query")).json(&q).send().await;
            match resp {
                Ok(r) if r.status() == 200 => {
                    if let Err(e) = r.bytes().await {
                        failures.push(format!("query {i}: reading the body: {e}"));
                    }
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    failures.push(format!("query {i}: {status}: {text}"));
                }
                Err(e) => failures.push(format!("query {i}: {e}")),
            }
            n.fetch_add(1, Ordering::Relaxed);
        }
        failures
    });
    Load { stop, sent, task }
}

async fn catalog_metric_names(c: &Client) -> (String, Vec<String>) {
    let body = c.get("/v1/catalog").await.ok_json();
    let names = body["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    (body["version"].as_str().unwrap().to_string(), names)
}

#[tokio::test]
async fn hot_reload_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let url = http::demo_duckdb_copy(dir.path());
    let defs = dir.path().join("metric_defs");
    copy_dir(&http::demo_defs(), &defs);
    let mut config = ServeConfig::for_tests(&defs, url);
    config.reload = true;
    let server = Server::start(config, dir).await;
    let c = &server.client;
    let data = demo_data();
    let timeout = Duration::from_secs(10);

    let (v1, names) = catalog_metric_names(c).await;
    assert!(names.contains(&"revenue".to_string()));
    assert!(!names.contains(&"web_orders".to_string()));
    // A cached result under v1.
    let cached_q = json!({"metrics": ["revenue"], "dimensions": ["orders.status"]});
    let r = c.query(&cached_q).await;
    assert_eq!(r.ok_json()["meta"]["definitions_version"], v1.as_str());
    let r = c.query(&cached_q).await;
    assert_eq!(r.header("x-accord-cache"), Some("hit"));

    let load = start_load(c);
    // Let the load get going.
    eventually(timeout, "the load to start", || {
        let n = load.sent.load(Ordering::Relaxed);
        async move { (n >= 5).then_some(()) }
    })
    .await;

    // (a) A valid change: a new metric appears, with a new version.
    write_atomic(
        &defs.join("metrics").join("http_added.yml"),
        r#"metrics:
  - name: web_orders
    label: Web orders
    description: Orders placed on the web, any status.
    owner: test@example.com
    type: simple
    measure: orders.order_count
    filter: "orders.channel = 'web'"
    format: number
"#,
    );
    let v2 = eventually(timeout, "web_orders in /v1/catalog", || async {
        let (v, names) = catalog_metric_names(c).await;
        names.contains(&"web_orders".to_string()).then_some(v)
    })
    .await;
    assert_ne!(v2, v1, "a definitions change changes the version");
    let status = c.get("/v1/catalog/status").await.ok_json();
    assert_eq!(status["version"], v2.as_str());
    assert_eq!(status["last_attempt_ok"], true);
    assert!(status["reloads"].as_u64().unwrap() >= 1);

    let expected_web = data.orders.iter().filter(|o| o.channel == "web").count() as i64;
    assert!(expected_web > 0);
    let body = c.query(&json!({"metrics": ["web_orders"]})).await.ok_json();
    assert_eq!(body["rows"], json!([[expected_web]]));
    assert_eq!(body["meta"]["definitions_version"], v2.as_str());

    // The v1 cached result is not served under v2.
    let r = c.query(&cached_q).await;
    assert_eq!(
        r.header("x-accord-cache"),
        Some("miss"),
        "cache across versions"
    );
    assert_eq!(r.ok_json()["meta"]["definitions_version"], v2.as_str());

    // (b) An invalid change: refused and reported; v2 keeps serving.
    let broken = defs.join("metrics").join("http_broken.yml");
    write_atomic(
        &broken,
        r#"metrics:
  - name: web_revenue
    description: Revenue of web orders.
    owner: test@example.com
    type: simple
    measure: orders.amout
    filter: "orders.channel = 'web'"
"#,
    );
    let status = eventually(
        timeout,
        "the refused reload in /v1/catalog/status",
        || async {
            let s = c.get("/v1/catalog/status").await.ok_json();
            (s["last_attempt_ok"] == false).then_some(s)
        },
    )
    .await;
    assert_eq!(
        status["version"],
        v2.as_str(),
        "still serving v2: {status:#}"
    );
    let errors = status["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{status:#}");
    let e = errors
        .iter()
        .find(|e| {
            e["pos"]["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("http_broken.yml"))
        })
        .unwrap_or_else(|| panic!("an error names http_broken.yml: {status:#}"));
    assert!(
        e["message"].as_str().unwrap().contains("orders.amout"),
        "{e:#}"
    );
    assert_eq!(e["field"], "metrics.web_revenue.measure", "{e:#}");
    assert_eq!(e["suggestions"][0], "orders.amount", "{e:#}");
    assert!(e["pos"]["line"].as_u64().unwrap() > 0, "{e:#}");
    let (v, names) = catalog_metric_names(c).await;
    assert_eq!(v, v2);
    assert!(!names.contains(&"web_revenue".to_string()));
    let body = c.query(&json!({"metrics": ["web_orders"]})).await.ok_json();
    assert_eq!(body["rows"], json!([[expected_web]]));
    assert_eq!(body["meta"]["definitions_version"], v2.as_str());
    c.query(&json!({"metrics": ["web_revenue"]}))
        .await
        .problem(422, "unknown_metric");

    // (c) Fixed: the server recovers.
    write_atomic(
        &broken,
        r#"metrics:
  - name: web_revenue
    description: Revenue of web orders.
    owner: test@example.com
    type: simple
    measure: orders.amount
    filter: "orders.channel = 'web'"
"#,
    );
    let v3 = eventually(timeout, "web_revenue in /v1/catalog", || async {
        let (v, names) = catalog_metric_names(c).await;
        names.contains(&"web_revenue".to_string()).then_some(v)
    })
    .await;
    assert_ne!(v3, v2);
    let status = c.get("/v1/catalog/status").await.ok_json();
    assert_eq!(status["last_attempt_ok"], true, "{status:#}");
    assert_eq!(status["errors"], json!([]), "{status:#}");
    assert_eq!(status["version"], v3.as_str());
    let expected_web_revenue: Decimal = data
        .orders
        .iter()
        .filter(|o| o.channel == "web")
        .map(|o| o.amount)
        .sum();
    let body = c
        .query(&json!({"metrics": ["web_revenue"]}))
        .await
        .ok_json();
    assert_eq!(dec(&body["rows"][0][0]), expected_web_revenue);
    assert_eq!(body["meta"]["definitions_version"], v3.as_str());

    // Stop the load: not one query failed during all of this.
    load.stop.store(true, Ordering::Relaxed);
    let failures = load.task.await.unwrap();
    let sent = load.sent.load(Ordering::Relaxed);
    assert!(sent >= 10, "the load ran: {sent} queries");
    assert!(
        failures.is_empty(),
        "{} of {sent} queries failed during reloads:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let metrics = c.get("/metrics").await.text();
    assert!(metric_value(&metrics, "accord_definition_reloads_total").unwrap() >= 2.0);
    assert!(metric_value(&metrics, "accord_definition_reload_failures_total").unwrap() >= 1.0);
}

// ---------------------------------------------------------------------------
// 6. Graceful shutdown

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_query() {
    let db_name = pg_name("http_shutdown");
    let datname = common::warehouses::test_db_name(&common::warehouses::postgres_url(), &db_name);
    let mut server =
        slow_pg_server(&db_name, 1.0, |c| c.query_timeout = Duration::from_secs(30)).await;
    let c = server.client.clone();
    let in_flight = tokio::spawn({
        let c = c.clone();
        async move { c.query(&json!({"metrics": ["slow_rows"]})).await }
    });

    // Wait until PostgreSQL is running the sleep, so the request is surely
    // in flight.
    let admin_url = common::warehouses::postgres_url();
    eventually(Duration::from_secs(10), "pg_sleep to be running", || {
        let admin_url = admin_url.clone();
        let datname = datname.clone();
        async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("PostgreSQL is reachable");
            let n: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE '%pg_sleep%'",
            )
            .bind(datname)
            .fetch_one(&mut conn)
            .await
            .expect("pg_stat_activity");
            (n > 0).then_some(())
        }
    })
    .await;
    assert!(!in_flight.is_finished());

    let started = Instant::now();
    server.shutdown().await;
    let resp = in_flight.await.expect("request task");
    assert_eq!(
        resp.status,
        200,
        "the in-flight query completed: {}",
        resp.text()
    );
    assert_eq!(resp.json()["rows"], json!([[1]]));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown finished promptly: {:?}",
        started.elapsed()
    );

    // Nothing listens any more.
    let after = c
        .http
        .get(c.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(after.is_err(), "the server stopped accepting: {after:?}");
    drop_pg_db(&db_name).await;
}

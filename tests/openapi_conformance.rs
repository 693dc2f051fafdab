//! `openapi.yaml` is the contract of the HTTP API. These tests start real
//! servers, send real HTTP requests and check every answer against what the
//! document declares for its path, method, status and media type: JSON and
//! problem+json bodies against the declared schema (JSON Schema 2020-12,
//! closed objects), documented headers present and valid, content types
//! documented. They also check that the router's routes and the document's
//! paths are the same set, that the document is self-consistent (every
//! `$ref` resolves, every schema compiles, every example validates), and that
//! every documented response was produced at least once, except the few no
//! request can trigger.
//!
//! Servers: the demo definitions over a DuckDB file with the demo data
//! (scale 1); an empty DuckDB file (the warehouse rejects the SQL: 502); a
//! PostgreSQL URL nobody listens on (503); a PostgreSQL URL whose "server"
//! accepts connections and never answers, with a short query timeout (504).
//! Identity cases use development tokens signed with the demo secret the
//! test configuration accepts (anonymous callers are the demo's admin).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use accord::server::{Running, ServeConfig};
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};
use serde_json::{Value, json};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";
const ARROW: &str = "application/vnd.apache.arrow.stream";
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn load_spec() -> Value {
    let text = std::fs::read_to_string(repo("openapi.yaml")).expect("openapi.yaml is readable");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("openapi.yaml is not valid YAML: {e}"))
}

/// The value a local reference (`#/components/...`) points at.
fn pointer<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let p = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("only local references are used: {reference}"));
    doc.pointer(p)
        .unwrap_or_else(|| panic!("dangling $ref {reference}"))
}

/// Follows `$ref`s of response, header and parameter objects.
fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..16 {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => v = pointer(doc, r),
            None => return v,
        }
    }
    panic!("$ref chain too long")
}

/// A validator for `schema`, a schema object of the document: the document's
/// components travel along so `#/components/schemas/...` resolves.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = match schema {
        Value::Object(m) => m.clone(),
        other => panic!("schema is not an object: {other}"),
    };
    root.insert("$schema".into(), json!(DRAFT_2020_12));
    root.insert("components".into(), doc["components"].clone());
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
}

fn check_schema(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let v = validator(doc, schema);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("  at `{}`: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: does not match openapi.yaml:\n{}\nvalue: {}",
        errors.join("\n"),
        serde_json::to_string_pretty(instance).unwrap_or_default()
    );
}

/// `text/csv; charset=utf-8` → `text/csv`.
fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }

    /// The `code` of a problem+json reply.
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

/// The document plus the (method, path, status) triples exercised so far.
struct Contract {
    doc: Value,
    covered: Mutex<BTreeSet<(String, String, String)>>,
    http: reqwest::Client,
}

impl Contract {
    fn new() -> Contract {
        Contract {
            doc: load_spec(),
            covered: Mutex::new(BTreeSet::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("the body arrives").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Sends a request for the operation `method template` and checks the
    /// reply against what the document declares for its status.
    async fn call(&self, method: &str, template: &str, req: reqwest::RequestBuilder) -> Reply {
        let reply = self.send(req).await;
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "openapi.yaml has no {method} {template}");
        let status = reply.status.to_string();
        let what = format!("{} {template} -> {status}", method.to_uppercase());
        let response = op["responses"].get(&status).unwrap_or_else(|| {
            panic!(
                "{what}: status not documented in openapi.yaml; body: {}",
                String::from_utf8_lossy(&reply.body)
            )
        });
        self.conform(&what, response, &reply);
        self.covered.lock().expect("coverage lock").insert((
            method.to_string(),
            template.to_string(),
            status,
        ));
        reply
    }

    /// Checks a reply against a named response of `components/responses`.
    async fn call_component(&self, component: &str, req: reqwest::RequestBuilder) -> Reply {
        let reply = self.send(req).await;
        let response = &self.doc["components"]["responses"][component];
        assert!(response.is_object(), "no response component {component}");
        self.conform(&format!("response {component}"), response, &reply);
        reply
    }

    fn conform(&self, what: &str, response: &Value, reply: &Reply) {
        let doc = &self.doc;
        let response = deref(doc, response);
        // Headers: the required ones are there, every one sent is valid,
        // and every X-* header the server sends is documented.
        let empty = serde_json::Map::new();
        let documented = response
            .get("headers")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, h) in documented {
            let h = deref(doc, h);
            match reply.header(name) {
                None => assert!(
                    !h["required"].as_bool().unwrap_or(false),
                    "{what}: required header {name} is missing"
                ),
                Some(v) => check_schema(
                    doc,
                    &h["schema"],
                    &json!(v),
                    &format!("{what}: header {name}"),
                ),
            }
        }
        for name in reply.headers.keys() {
            if name.as_str().starts_with("x-") {
                assert!(
                    documented
                        .keys()
                        .any(|k| k.eq_ignore_ascii_case(name.as_str())),
                    "{what}: header {name} is sent but not documented"
                );
            }
        }
        // Content.
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            assert!(
                reply.body.is_empty(),
                "{what}: openapi.yaml documents no body, the server sent {} bytes",
                reply.body.len()
            );
            return;
        };
        let ct = essence(reply.content_type());
        let Some((_, media)) = content.iter().find(|(k, _)| essence(k) == ct) else {
            panic!(
                "{what}: Content-Type `{}` is not documented (documented: {:?})",
                reply.content_type(),
                content.keys().collect::<Vec<_>>()
            );
        };
        let Some(schema) = media.get("schema") else {
            return;
        };
        if is_json(&ct) {
            check_schema(doc, schema, &reply.json(), what);
        } else if schema.get("contentMediaType").is_none() {
            // A text representation: the body is a string.
            let text = String::from_utf8(reply.body.clone())
                .unwrap_or_else(|_| panic!("{what}: a text body that is not UTF-8"));
            check_schema(doc, schema, &json!(text), what);
        }
    }

    fn covered(&self) -> BTreeSet<(String, String, String)> {
        self.covered.lock().expect("coverage lock").clone()
    }
}

/// Every (method, path, status) the document declares.
fn documented_responses(doc: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                for status in op["responses"].as_object().expect("responses").keys() {
                    out.insert((method.to_string(), path.clone(), status.clone()));
                }
            }
        }
    }
    out
}

/// Checks that each value of a JSON result is encoded as its column's type
/// says.
fn check_cells(result: &Value) {
    let columns = result["columns"].as_array().expect("columns");
    for row in result["rows"].as_array().expect("rows") {
        let row = row.as_array().expect("row is an array");
        assert_eq!(row.len(), columns.len(), "row width: {row:?}");
        for (v, c) in row.iter().zip(columns) {
            if v.is_null() {
                continue;
            }
            let ty = c["type"].as_str().unwrap_or_default();
            let ok = match ty {
                "integer" => v.is_i64() || v.is_u64(),
                "float" => v.is_number(),
                "decimal" => v
                    .as_str()
                    .is_some_and(|s| s.parse::<rust_decimal::Decimal>().is_ok()),
                "text" => v.is_string(),
                "boolean" => v.is_boolean(),
                "date" => v
                    .as_str()
                    .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()),
                "timestamp" => v.as_str().is_some_and(|s| {
                    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
                }),
                _ => false,
            };
            assert!(ok, "column {} of type {ty} holds {v}", c["name"]);
        }
    }
}

fn duckdb_url(path: &std::path::Path) -> WarehouseUrl {
    format!("duckdb://{}", path.display())
        .parse()
        .expect("a DuckDB URL")
}

async fn start(warehouse: WarehouseUrl, tune: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut config = ServeConfig::for_tests(&repo("metric_defs"), warehouse);
    config.reload = false;
    tune(&mut config);
    accord::server::start(config)
        .await
        .unwrap_or_else(|e| panic!("the server starts: {e}"))
}

/// The demo data in a DuckDB file; the warehouse is closed again before a
/// server opens the file.
async fn demo_warehouse(dir: &std::path::Path) -> WarehouseUrl {
    let url = duckdb_url(&dir.join("demo.duckdb"));
    let wh = Warehouse::connect(&url, WarehouseOptions::default())
        .await
        .expect("DuckDB opens");
    wh.load_demo(&accord::demo::generate(&accord::demo::DemoConfig {
        scale: 1,
        seed: 42,
    }))
    .await
    .expect("the demo data loads");
    // The identity map, for GET /v1/identity/health.
    let catalog = accord::definitions::load_dir(&repo("metric_defs")).expect("demo definitions");
    accord::identity::build(&catalog, &wh, &Default::default())
        .await
        .expect("the identity map builds");
    drop(wh);
    url
}

/// A development token (the test servers accept the demo secret).
fn token(roles: &[&str], claims: &[(&str, Value)]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    let claims: BTreeMap<String, Value> = claims
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    accord::auth::mint_hs256(
        accord::auth::DEV_SECRET,
        "conformance",
        &roles,
        &claims,
        600,
    )
    .expect("a token")
}

fn big_body() -> String {
    let padding = "m".repeat(70 * 1024);
    json!({ "metrics": [padding] }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_response_conforms_to_openapi() {
    let contract = Contract::new();
    let tmp = tempfile::tempdir().expect("tempdir");

    let main = start(demo_warehouse(tmp.path()).await, |c| c.max_rows = 100).await;
    let empty = start(duckdb_url(&tmp.path().join("empty.duckdb")), |_| {}).await;
    let down = start(
        "postgres://postgres@127.0.0.1:1/none".parse().expect("URL"),
        |_| {},
    )
    .await;
    // A "database" that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let silent_addr = silent.local_addr().expect("addr");
    let silent_task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let hung = start(
        format!("postgres://postgres@{silent_addr}/none")
            .parse()
            .expect("URL"),
        |c| c.query_timeout = Duration::from_millis(300),
    )
    .await;

    // The unreachable warehouse takes its connect timeout to fail: run it
    // alongside the rest.
    let bases = [&main, &down, &empty, &hung].map(|s| format!("http://{}", s.addr));
    tokio::join!(
        check_main(&contract, &bases[0]),
        check_down(&contract, &bases[1]),
        check_empty(&contract, &bases[2]),
        check_hung(&contract, &bases[3]),
    );

    for s in [main, empty, down, hung] {
        s.shutdown().await.expect("clean shutdown");
    }
    silent_task.abort();

    // Every documented response was produced, except those no request can
    // trigger: 500 (a server defect) and a 502 from `SELECT 1`.
    let missing: Vec<_> = documented_responses(&contract.doc)
        .difference(&contract.covered())
        .filter(|(m, p, s)| {
            !(s == "500"
                || (m == "get" && p == "/readyz" && s == "502")
                // The demo definitions always have an identity section.
                || (m == "get" && p == "/v1/identity/health" && s == "404"))
        })
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "documented responses never exercised: {missing:?}"
    );
}

async fn check_main(c: &Contract, base: &str) {
    let http = &c.http;
    let url = |p: &str| format!("{base}{p}");

    // Operations.
    let r = c
        .call(
            "get",
            "/healthz",
            http.get(url("/healthz"))
                .header("X-Request-Id", "conformance-1"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-request-id"),
        Some("conformance-1"),
        "a client's request id is echoed"
    );
    let r = c.call("get", "/healthz", http.get(url("/healthz"))).await;
    assert!(
        r.header("x-request-id").is_some_and(|v| v.len() == 36),
        "a request id is generated"
    );
    let r = c.call("get", "/readyz", http.get(url("/readyz"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ready", "{}", r.text());

    // An engine refusal (a function the allow-list accepts, with an arity
    // the engine rejects) on a warehouse that has every table: 502.
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query")).json(&json!({
                "metrics": ["revenue"],
                "where": "lower(customers.region, 'x') = 'eu'"
            })),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (502, "warehouse_error"));
    let r = c
        .call(
            "get",
            "/v1/identity/health",
            http.get(url("/v1/identity/health?top=3")),
        )
        .await;
    assert_eq!(r.status, 200);

    // GraphQL and lineage.
    let r = c.call("get", "/graphql", http.get(url("/graphql"))).await;
    assert_eq!(r.status, 200);
    let r = c
        .call(
            "get",
            "/graphql",
            http.get(url("/graphql?query=%7Bmodels%7Bname%7D%7D")),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .call(
            "post",
            "/graphql",
            http.post(url("/graphql"))
                .json(&json!({"query": "{ metrics { name } }"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .call(
            "get",
            "/v1/catalog/lineage/{metric}",
            http.get(url("/v1/catalog/lineage/revenue")),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .call(
            "get",
            "/v1/catalog/lineage/{metric}",
            http.get(url("/v1/catalog/lineage/revnue")),
        )
        .await;
    assert_eq!(r.status, 404);

    // Catalog.
    let catalog = c
        .call("get", "/v1/catalog", http.get(url("/v1/catalog")))
        .await;
    assert_eq!(catalog.status, 200);
    let catalog = catalog.json();
    let version = catalog["version"].as_str().expect("version").to_string();
    let names: BTreeSet<String> = catalog["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| m["name"].as_str().expect("name").to_string())
        .collect();
    assert!(names.contains("revenue"), "the demo catalog has revenue");
    for name in &names {
        let r = c
            .call(
                "get",
                "/v1/catalog/metrics/{name}",
                http.get(url(&format!("/v1/catalog/metrics/{name}"))),
            )
            .await;
        assert_eq!(r.status, 200, "metric {name}");
        assert_eq!(r.json()["name"], json!(name));
    }
    let r = c
        .call(
            "get",
            "/v1/catalog/metrics/{name}",
            http.get(url("/v1/catalog/metrics/revenu")),
        )
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.code(), "unknown_metric");
    assert_eq!(r.json()["suggestions"][0], "revenue");
    let r = c
        .call(
            "get",
            "/v1/catalog/status",
            http.get(url("/v1/catalog/status")),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["version"], json!(version));
    let r = c
        .call("get", "/v1/checks", http.get(url("/v1/checks")))
        .await;
    assert_eq!(r.status, 200);

    // Queries: JSON, the cache, headers against the body.
    let by_month = json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"], "order_by": ["metric_time:month"]});
    let first = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query")).json(&by_month),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let second = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query")).json(&by_month),
        )
        .await;
    assert_eq!(first.header("x-accord-cache"), Some("miss"));
    assert_eq!(second.header("x-accord-cache"), Some("hit"));
    for r in [&first, &second] {
        let body = r.json();
        check_cells(&body);
        assert_eq!(body["meta"]["cache"], json!(r.header("x-accord-cache")));
        assert_eq!(
            body["meta"]["sql_hash"],
            json!(r.header("x-accord-sql-hash"))
        );
        assert_eq!(
            r.header("x-accord-definitions-version"),
            Some(version.as_str())
        );
        assert_eq!(body["meta"]["definitions_version"], json!(version));
        assert_eq!(
            body["meta"]["row_count"],
            json!(body["rows"].as_array().map(Vec::len))
        );
        assert_eq!(body["meta"]["truncated"], json!(false));
        assert!(r.header("x-accord-truncated").is_none());
    }
    let rows = first.json()["rows"].as_array().map(Vec::len).unwrap_or(0);
    assert!(rows > 1, "revenue by month has several months");
    // /v1/compile describes the same SQL the query ran.
    let compiled = c
        .call(
            "post",
            "/v1/compile",
            http.post(url("/v1/compile?dialect=duckdb")).json(&by_month),
        )
        .await;
    assert_eq!(compiled.status, 200);
    let compiled = compiled.json();
    assert_eq!(compiled["sql_hash"], first.json()["meta"]["sql_hash"]);
    assert_eq!(
        compiled["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].clone())
            .collect::<Vec<_>>(),
        first.json()["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| c["name"].clone())
            .collect::<Vec<_>>()
    );

    let by_region = json!({
        "metrics": ["revenue", "orders", "average_order_value", "active_customers"],
        "dimensions": ["customers.region", "orders.channel"],
        "filters": [
            {"dimension": "customers.region", "op": "in", "values": ["EU", "NA"]},
            {"dimension": "orders.channel", "op": "neq", "values": ["phone"]}
        ],
        "where": "customers.segment <> 'enterprise'",
        "time_range": {"start": "2025-01-01", "end": "2026-01-01"},
        "order_by": [{"field": "revenue", "desc": true}, "customers.region"],
        "limit": 10,
        "offset": 0
    });
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query")).json(&by_region),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    check_cells(&r.json());
    assert!(
        r.json()["rows"].as_array().is_some_and(|a| !a.is_empty()),
        "the filtered query has rows: {}",
        r.text()
    );
    let json_columns: Vec<String> = r.json()["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();

    // CSV: documented type, the same columns as the JSON form.
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query"))
                .header("Accept", "text/csv")
                .json(&by_region),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(essence(r.content_type()), "text/csv");
    let csv = r.text();
    assert_eq!(
        csv.split("\r\n").next().unwrap_or_default(),
        json_columns.join(",")
    );
    assert_eq!(r.header("x-accord-cache"), Some("hit"));

    // Arrow: documented type, an IPC stream (continuation marker first).
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query"))
                .header("Accept", ARROW)
                .json(&by_region),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type(), ARROW);
    assert!(
        r.body.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]),
        "an Arrow IPC stream starts with the continuation marker"
    );

    // Truncation: the server's row limit is 100 here.
    let by_day = json!({"metrics": ["sessions"], "dimensions": ["metric_time:day"]});
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query")).json(&by_day),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-accord-truncated"), Some("true"));
    assert_eq!(r.json()["meta"]["truncated"], json!(true));
    assert_eq!(r.json()["meta"]["row_count"], json!(100));

    // Transport errors, on both POST operations.
    for path in ["/v1/query", "/v1/compile"] {
        let r = c
            .call(
                "post",
                path,
                http.post(url(path))
                    .header("Content-Type", "application/json")
                    .body("{\"metrics\": [\"revenue\""),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "invalid_json"));
        let r = c
            .call(
                "post",
                path,
                http.post(url(path)).body(r#"{"metrics": ["revenue"]}"#),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (415, "unsupported_media_type")
        );
        let r = c
            .call(
                "post",
                path,
                http.post(url(path))
                    .header("Content-Type", "application/json")
                    .body(big_body()),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (413, "payload_too_large"));
        let r = c
            .call(
                "post",
                path,
                http.post(url(path))
                    .json(&json!({"metrics": ["revenue"], "metric": ["orders"]})),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (422, "invalid_request"));
    }
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query"))
                .header("Accept", "application/xml")
                .json(&by_month),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (406, "not_acceptable"));

    // The planner's refusals.
    let too_many: Vec<String> = (0..51).map(|_| "revenue".to_string()).collect();
    let cases = [
        (
            json!({"metrics": ["revenu"]}),
            "unknown_metric",
            Some("metrics[0]"),
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["customers.regio"]}),
            "unknown_dimension",
            None,
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["channel"]}),
            "ambiguous_reference",
            None,
        ),
        (
            json!({"metrics": ["signups"], "dimensions": ["orders.status"]}),
            "unreachable_dimension",
            None,
        ),
        (
            json!({"metrics": ["revenue"], "filters": [{"dimension": "orders.ordered_at", "op": "between", "values": ["2025-01-01"]}]}),
            "invalid_filter",
            None,
        ),
        (json!({"metrics": []}), "invalid_query", Some("metrics")),
        (json!({ "metrics": too_many }), "query_too_complex", None),
    ];
    for (body, code, field) in cases {
        for path in ["/v1/query", "/v1/compile"] {
            let r = c.call("post", path, http.post(url(path)).json(&body)).await;
            assert_eq!((r.status, r.code().as_str()), (422, code), "{body}");
            if let Some(f) = field {
                assert_eq!(r.json()["field"], json!(f), "{body}");
            }
        }
    }
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query"))
                .json(&json!({"metrics": ["revenu"]})),
        )
        .await;
    assert_eq!(r.json()["suggestions"][0], "revenue");

    // Compile: every dialect, an alias, an unknown dialect, a refusal.
    for d in accord::dialect::DialectKind::ALL {
        let r = c
            .call(
                "post",
                "/v1/compile",
                http.post(url(&format!("/v1/compile?dialect={}", d.name())))
                    .json(&by_region),
            )
            .await;
        assert_eq!(r.status, 200, "{}: {}", d.name(), r.text());
        assert_eq!(r.json()["dialect"], json!(d.name()));
    }
    let r = c
        .call(
            "post",
            "/v1/compile",
            http.post(url("/v1/compile?dialect=PostgreSQL"))
                .json(&by_month),
        )
        .await;
    assert_eq!(r.json()["dialect"], json!("postgres"));
    let r = c
        .call(
            "post",
            "/v1/compile",
            http.post(url("/v1/compile")).json(&by_month),
        )
        .await;
    assert_eq!(
        r.json()["dialect"],
        json!("duckdb"),
        "default: the warehouse's"
    );
    let r = c
        .call(
            "post",
            "/v1/compile",
            http.post(url("/v1/compile?dialect=oracle")).json(&by_month),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_dialect"));
    assert_eq!(r.json()["field"], json!("dialect"));
    let r = c
        .call(
            "post",
            "/v1/compile",
            http.post(url("/v1/compile?dialect=mysql"))
                .json(&json!({"metrics": ["median_order_value"]})),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (422, "unsupported"));

    check_identity(c, base).await;

    // An unknown path: the NotFound response.
    let r = c
        .call_component("NotFound", http.get(url("/v1/nope")))
        .await;
    assert_eq!((r.status, r.code().as_str()), (404, "not_found"));

    // Prometheus metrics, after some traffic.
    let r = c.call("get", "/metrics", http.get(url("/metrics"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(essence(r.content_type()), "application/openmetrics-text");
    let text = r.text();
    assert!(text.contains("accord_http_requests"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"));
}

/// Tokens: invalid (401), a role the policies do not know (403), an unknown
/// purpose (422), and a restricted role's view of the catalog.
async fn check_identity(c: &Contract, base: &str) {
    let http = &c.http;
    let url = |p: &str| format!("{base}{p}");
    let query = json!({"metrics": ["revenue"], "dimensions": ["customers.region"]});
    let stranger = token(&["stranger"], &[]);
    let astrologer = token(&["analyst"], &[("purpose", json!("astrology"))]);
    for (bearer, status, code) in [
        ("not-a-jwt", 401, "unauthorized"),
        (stranger.as_str(), 403, "forbidden"),
    ] {
        let auth = format!("Bearer {bearer}");
        for path in ["/v1/query", "/v1/compile"] {
            let r = c
                .call(
                    "post",
                    path,
                    http.post(url(path))
                        .header("Authorization", &auth)
                        .json(&query),
                )
                .await;
            assert_eq!((r.status, r.code().as_str()), (status, code), "{path}");
        }
        for (template, path) in [
            ("/v1/catalog", "/v1/catalog"),
            ("/v1/catalog/metrics/{name}", "/v1/catalog/metrics/revenue"),
            ("/v1/identity/health", "/v1/identity/health"),
        ] {
            let r = c
                .call(
                    "get",
                    template,
                    http.get(url(path)).header("Authorization", &auth),
                )
                .await;
            assert_eq!((r.status, r.code().as_str()), (status, code), "{path}");
        }
    }
    for (template, path) in [
        ("/v1/catalog", "/v1/catalog"),
        ("/v1/catalog/metrics/{name}", "/v1/catalog/metrics/revenue"),
    ] {
        let r = c
            .call(
                "get",
                template,
                http.get(url(path))
                    .header("Authorization", format!("Bearer {astrologer}")),
            )
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_query"),
            "{path}"
        );
    }
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query"))
                .json(&json!({"metrics": ["revenue"], "purpose": "astrology"})),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_query"));

    // A restricted role: masked dimensions are flagged, hidden ones absent,
    // the compiled SQL lists the rules applied.
    let analyst = format!("Bearer {}", token(&["analyst"], &[]));
    let r = c
        .call(
            "get",
            "/v1/catalog",
            http.get(url("/v1/catalog"))
                .header("Authorization", &analyst),
        )
        .await;
    assert_eq!(r.status, 200);
    let masked: Vec<String> = r.json()["models"]
        .as_array()
        .expect("models")
        .iter()
        .flat_map(|m| {
            let model = m["name"].as_str().unwrap_or_default().to_string();
            m["dimensions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|d| d["masked"] == json!(true))
                .map(move |d| format!("{model}.{}", d["name"].as_str().unwrap_or_default()))
        })
        .collect();
    assert_eq!(
        masked,
        ["customers.email"],
        "the analyst sees emails masked"
    );
    let r = c
        .call(
            "post",
            "/v1/compile",
            http.post(url("/v1/compile"))
                .header("Authorization", &analyst)
                .json(&json!({"metrics": ["orders"], "dimensions": ["customers.email"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["policies"]
            .as_array()
            .is_some_and(|p| !p.is_empty()),
        "the analyst's mask is listed: {}",
        r.text()
    );
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(url("/v1/query"))
                .header("Authorization", &analyst)
                .json(&json!({"metrics": ["revenue"], "purpose": "analytics"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A warehouse that refuses connections: not ready, queries 503, compiling
/// still works.
async fn check_down(c: &Contract, base: &str) {
    let http = &c.http;
    let query = json!({"metrics": ["revenue"]});
    let (ready, queried) = tokio::join!(
        c.call("get", "/readyz", http.get(format!("{base}/readyz"))),
        c.call(
            "post",
            "/v1/query",
            http.post(format!("{base}/v1/query")).json(&query)
        ),
    );
    assert_eq!(
        (ready.status, ready.code().as_str()),
        (503, "warehouse_unavailable")
    );
    assert_eq!(
        (queried.status, queried.code().as_str()),
        (503, "warehouse_unavailable")
    );
    let r = c
        .call(
            "post",
            "/v1/compile",
            http.post(format!("{base}/v1/compile")).json(&query),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["dialect"], json!("postgres"));
    let r = c
        .call("get", "/healthz", http.get(format!("{base}/healthz")))
        .await;
    assert_eq!(r.status, 200, "alive while the warehouse is down");
}

/// A warehouse without the demo tables: ready but degraded, and a query
/// names the missing table.
async fn check_empty(c: &Contract, base: &str) {
    let http = &c.http;
    let r = c
        .call("get", "/readyz", http.get(format!("{base}/readyz")))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "degraded", "{}", r.text());
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(format!("{base}/v1/query"))
                .json(&json!({"metrics": ["revenue"]})),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (503, "model_unavailable"));
    let r = c
        .call(
            "get",
            "/v1/identity/health",
            http.get(format!("{base}/v1/identity/health")),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (503, "identity_unavailable"));
}

/// A warehouse that never answers: 504 once the query timeout passes.
async fn check_hung(c: &Contract, base: &str) {
    let http = &c.http;
    let r = c
        .call("get", "/readyz", http.get(format!("{base}/readyz")))
        .await;
    assert_eq!((r.status, r.code().as_str()), (504, "warehouse_timeout"));
    let r = c
        .call(
            "post",
            "/v1/query",
            http.post(format!("{base}/v1/query"))
                .json(&json!({"metrics": ["revenue"]})),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (504, "warehouse_timeout"));
    let r = c
        .call(
            "get",
            "/v1/identity/health",
            http.get(format!("{base}/v1/identity/health")),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (504, "warehouse_timeout"));
}

/// The files whose `.route(...)` lines make up the HTTP router: REST's
/// router and the GraphQL endpoint's routes, mounted together by the binary.
const ROUTER_SOURCES: [&str; 2] = ["crates/rest/src/router.rs", "crates/graphql/src/lib.rs"];

/// `(method, path)` of every `.route(...)` in the router.
fn router_routes() -> BTreeSet<(String, String)> {
    let src: String = ROUTER_SOURCES
        .iter()
        .map(|f| std::fs::read_to_string(repo(f)).expect("router source"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    for line in src.lines() {
        let Some(rest) = line
            .find(".route(\"")
            .map(|i| &line[i + ".route(\"".len()..])
        else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').expect("a quoted path");
        for method in METHODS {
            // `get(handler)`, `post(handler)`, or chained `.post(handler)`.
            let found = handlers.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric()
                        && handlers.as_bytes()[i - 1] != b'_'
            });
            if found {
                out.insert((method.to_string(), path.to_string()));
            }
        }
    }
    assert!(!out.is_empty(), "no routes found in {ROUTER_SOURCES:?}");
    out
}

#[test]
fn router_and_openapi_have_the_same_operations() {
    let doc = load_spec();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    let routed = router_routes();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}; documented but not routed: {unrouted:?}"
    );
}

/// Every `$ref` anywhere in the document.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[test]
fn openapi_document_is_consistent() {
    let doc = load_spec();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "an OpenAPI 3.1 document"
    );
    assert_eq!(doc["info"]["version"], json!(env!("CARGO_PKG_VERSION")));

    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        pointer(&doc, r);
    }
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .expect("component schemas")
    {
        validator(&doc, schema);
        let _ = name;
    }

    let mut operation_ids = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let what = format!("{} {path}", method.to_uppercase());
            let id = op["operationId"].as_str().expect("operationId");
            assert!(
                operation_ids.insert(id.to_string(), what.clone()).is_none(),
                "operationId {id} is used twice"
            );
            // Path parameters are declared.
            let params: Vec<&Value> = op["parameters"]
                .as_array()
                .map(|a| a.iter().map(|p| deref(&doc, p)).collect())
                .unwrap_or_default();
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert!(
                        params.iter().any(|p| p["in"] == "path"
                            && p["name"] == name
                            && p["required"] == true),
                        "{what}: path parameter {name} is not declared"
                    );
                }
            }
            // Request body examples validate.
            if let Some(body) = op.get("requestBody") {
                let body = deref(&doc, body);
                for (media, m) in body["content"].as_object().expect("content") {
                    if let Some(example) = m.get("example") {
                        check_schema(
                            &doc,
                            &m["schema"],
                            example,
                            &format!("{what} {media} request example"),
                        );
                    }
                }
            }
            for (status, response) in op["responses"].as_object().expect("responses") {
                let response = deref(&doc, response);
                let what = format!("{what} -> {status}");
                assert!(
                    response["headers"].get("X-Request-Id").is_some(),
                    "{what}: X-Request-Id is not declared"
                );
                let content = response["content"].as_object().expect("content");
                let code: u16 = status.parse().expect("numeric status");
                if code >= 400 {
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{what}: errors are problem+json"
                    );
                    // The status the problem carries is the HTTP status.
                    let sample = json!({
                        "type": "/problems/x", "title": "t", "status": code,
                        "detail": "d", "code": "invalid_request"
                    });
                    let v = validator(&doc, &content["application/problem+json"]["schema"]);
                    let mut wrong = sample.clone();
                    wrong["status"] = json!(if code == 400 { 422 } else { 400 });
                    assert!(!v.is_valid(&wrong), "{what}: status is not pinned");
                }
                for (media, m) in content {
                    if let Some(example) = m.get("example")
                        && is_json(&essence(media))
                    {
                        check_schema(
                            &doc,
                            &m["schema"],
                            example,
                            &format!("{what} {media} example"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn schemas_are_closed() {
    // Closed objects: an extra member is refused wherever the server's
    // output is closed.
    let doc = load_spec();
    let problem = json!({
        "type": "/problems/not_found", "title": "Not Found", "status": 404,
        "detail": "no such endpoint", "code": "not_found"
    });
    let schema = json!({"$ref": "#/components/schemas/Problem"});
    let v = validator(&doc, &schema);
    assert!(v.is_valid(&problem));
    let mut extra = problem.clone();
    extra["instance"] = json!("/x");
    assert!(!v.is_valid(&extra), "Problem is closed");
    let mut empty_suggestions = problem.clone();
    empty_suggestions["suggestions"] = json!([]);
    assert!(
        !v.is_valid(&empty_suggestions),
        "suggestions are omitted when there are none"
    );

    let dim = json!({"name": "ordered_at", "type": "time", "granularity": "hour", "description": null, "pii": false, "tags": [], "masked": false});
    let v = validator(
        &doc,
        &json!({"$ref": "#/components/schemas/CatalogDimension"}),
    );
    assert!(v.is_valid(&dim));
    let mut no_grain = dim.clone();
    no_grain
        .as_object_mut()
        .expect("object")
        .remove("granularity");
    assert!(!v.is_valid(&no_grain), "a time dimension has a granularity");
    let mut categorical = dim.clone();
    categorical["type"] = json!("categorical");
    assert!(
        !v.is_valid(&categorical),
        "only a time dimension has a granularity"
    );

    let v = validator(&doc, &json!({"$ref": "#/components/schemas/SemanticQuery"}));
    assert!(v.is_valid(&json!({"metrics": ["revenue"], "group_by": ["customers.region"]})));
    assert!(!v.is_valid(&json!({"metrics": ["revenue"], "dimensions": [], "group_by": []})));
    assert!(!v.is_valid(&json!({"metrics": ["revenue"], "metric": "x"})));
    assert!(!v.is_valid(&json!({"dimensions": ["customers.region"]})));
}

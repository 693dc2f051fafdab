//! A warehouse without the tables the definitions read (issue #19, a new
//! user's first hour): `accord serve --warehouse duckdb://new.duckdb` used
//! to start, report ready and answer with engine errors. Now the start
//! output and `GET /readyz` say which model lacks which table or column and
//! the command that fixes it, the models that are fine are served, and a
//! query reading a broken model gets `model_unavailable` naming the table
//! and the fix. `/readyz` lists only models the caller may see.

#[path = "common/auth.rs"]
mod auth;
mod common;
#[path = "common/http.rs"]
mod http;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use accord::server::ServeConfig;
use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};
use auth::{bearer, token};
use http::{Client, Resp, Server, demo_defs, eventually, metric_value};
use serde_json::{Value, json};

fn duckdb_url(path: &Path) -> WarehouseUrl {
    format!("duckdb://{}", path.display())
        .parse()
        .expect("a duckdb url")
}

async fn start(defs: &Path, url: WarehouseUrl, dir: tempfile::TempDir) -> Server {
    let mut config = ServeConfig::for_tests(defs, url);
    config.reload = false;
    Server::start(config, dir).await
}

async fn get_as(c: &Client, path: &str, tok: &str) -> Resp {
    c.send(c.http.get(c.url(path)).header("authorization", bearer(tok)))
        .await
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|m| m[key].as_str().expect("a name").to_string())
        .collect()
}

#[tokio::test]
async fn an_empty_duckdb_file_is_served_degraded_with_the_demo_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.duckdb");
    let url = duckdb_url(&path);
    let s = start(&demo_defs(), url, dir).await;
    let c = &s.client;
    let models = common::demo_catalog().models.len();

    // Tests run as the demo's admin: every model, and the command.
    let ready = c.get("/readyz").await.ok_json();
    assert_eq!(ready["status"], "degraded", "{ready:#}");
    let schema = &ready["schema"];
    assert_eq!(schema["models"], models, "{ready:#}");
    assert_eq!(schema["unavailable"], models, "{ready:#}");
    let missing = schema["missing"].as_array().expect("missing");
    assert_eq!(missing.len(), models, "{ready:#}");
    let orders = missing
        .iter()
        .find(|m| m["model"] == "orders")
        .expect("orders listed");
    assert_eq!(orders["answers_nothing"], true);
    assert_eq!(
        orders["missing"],
        json!([{"field": "models.orders.source.table", "message": "table `orders` does not exist in the warehouse"}])
    );
    let fix = schema["fix"].as_str().expect("a fix");
    assert!(
        fix.contains(&format!(
            "accord demo init --warehouse duckdb://{}",
            path.display()
        )),
        "{fix}"
    );
    // Probes read the cached check, not the warehouse's catalog each time.
    let again = c.get("/readyz").await.ok_json();
    assert_eq!(again["schema"]["checked_at"], schema["checked_at"]);

    // A query over a model without its table: the table and the fix.
    let p = c
        .query(&json!({"metrics": ["revenue"]}))
        .await
        .problem(503, "model_unavailable");
    let detail = p["detail"].as_str().expect("detail");
    assert!(
        detail.contains("model `orders`: table `orders` does not exist in the warehouse")
            && detail.contains("`accord demo init --warehouse URL`")
            && detail.contains("GET /readyz"),
        "{detail}"
    );
    assert!(!detail.contains("new.duckdb"), "no file name: {detail}");

    let metrics = c.get("/metrics").await.text();
    assert_eq!(
        metric_value(&metrics, "accord_models_unavailable"),
        Some(models as f64),
        "{metrics}"
    );
}

#[tokio::test]
async fn readyz_lists_only_the_models_a_caller_may_see() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = duckdb_url(&dir.path().join("new.duckdb"));
    let s = start(&demo_defs(), url, dir).await;
    let c = &s.client;
    let models = common::demo_catalog().models.len();

    // The partner sees a few models: those, and counts of the rest.
    let partner = token(&["partner"], &[]);
    let visible = names(
        &get_as(c, "/v1/catalog", &partner).await.ok_json()["models"],
        "name",
    );
    assert!(!visible.is_empty() && visible.len() < models, "{visible:?}");
    let ready = get_as(c, "/readyz", &partner).await.ok_json();
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["schema"]["unavailable"], models);
    let mut listed = names(&ready["schema"]["missing"], "model");
    let mut visible = visible;
    listed.sort();
    visible.sort();
    assert_eq!(listed, visible, "{ready:#}");
    let fix = ready["schema"]["fix"].as_str().expect("a fix");
    assert!(
        !fix.contains("duckdb://"),
        "the command only for callers shown every model: {fix}"
    );

    // An invalid token (or no role) gets the counts only.
    let r = c
        .send(
            c.http
                .get(c.url("/readyz"))
                .header("authorization", "Bearer not-a-token"),
        )
        .await
        .ok_json();
    assert_eq!(r["status"], "degraded");
    assert_eq!(r["schema"]["unavailable"], models);
    assert_eq!(r["schema"]["missing"], json!([]), "{r:#}");
}

/// Definitions of two models where the role `sales` sees only `revenue`
/// but is row-filtered through `shop_customers`, a model it cannot see.
const SHOP: &str = r#"models:
  - name: shop_orders
    source: {table: shop_orders}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    measures:
      - {name: amount_total, agg: sum, expr: amount}
  - name: shop_customers
    source: {table: shop_customers}
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: region, type: categorical}
metrics:
  - {name: revenue, type: simple, measure: shop_orders.amount_total}
roles:
  - name: admin
  - name: sales
    include: [revenue]
    row_filters:
      - {model: shop_customers, filter: "region = 'EU'"}
"#;

#[tokio::test]
async fn a_hidden_models_missing_table_is_not_named_to_the_caller() {
    let dir = tempfile::tempdir().expect("tempdir");
    let defs = dir.path().join("defs");
    std::fs::create_dir_all(&defs).expect("defs dir");
    std::fs::write(defs.join("shop.yml"), SHOP).expect("write definitions");
    let path = dir.path().join("shop.duckdb");
    let url = duckdb_url(&path);
    let wh = Warehouse::connect(&url, WarehouseOptions::default())
        .await
        .expect("open");
    wh.execute_batch_atomic(&[
        "CREATE TABLE shop_orders (order_id INTEGER, customer_id INTEGER, amount DECIMAL(12,2))"
            .into(),
        "INSERT INTO shop_orders VALUES (1, 1, 10.5)".into(),
    ])
    .await
    .expect("create shop_orders");
    wh.close().await;
    let s = start(&defs, url, dir).await;
    let c = &s.client;

    let sales = token(&["sales"], &[]);
    let r = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("authorization", bearer(&sales))
                .json(&json!({"metrics": ["revenue"]})),
        )
        .await;
    let p = r.problem(503, "model_unavailable");
    assert!(!r.text().contains("shop_customers"), "{p:#}");
    assert!(
        p["detail"].as_str().is_some_and(|d| d
            .contains("a table or column a model of this query reads")
            && d.contains("create the table or correct the model's `table:`")),
        "{p:#}"
    );
    let ready = get_as(c, "/readyz", &sales).await.ok_json();
    assert_eq!(ready["schema"]["unavailable"], 1, "{ready:#}");
    assert_eq!(ready["schema"]["missing"], json!([]), "{ready:#}");
    assert!(!ready.to_string().contains("shop_customers"), "{ready:#}");

    // The admin is told which, and how to check again.
    let admin = token(&["admin"], &[]);
    let ready = get_as(c, "/readyz", &admin).await.ok_json();
    assert_eq!(
        names(&ready["schema"]["missing"], "model"),
        ["shop_customers"]
    );
    assert!(
        ready["schema"]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("accord validate --warehouse duckdb://")),
        "{ready:#}"
    );
}

#[tokio::test]
async fn postgres_without_one_demo_table_serves_the_other_models() {
    let url = common::warehouses::postgres_db("missing_tables").await;
    let wh = common::warehouses::open(&url).await;
    wh.load_demo(&common::warehouses::demo(1))
        .await
        .expect("load the demo");
    wh.execute_batch_atomic(&[
        "DROP TABLE support_tickets".into(),
        "ALTER TABLE sessions DROP COLUMN landing_page".into(),
    ])
    .await
    .expect("drop a table and a column");
    let dir = tempfile::tempdir().expect("tempdir");
    let s = start(&demo_defs(), url.parse().expect("url"), dir).await;
    let c = &s.client;

    let ready = c.get("/readyz").await.ok_json();
    assert_eq!(ready["status"], "degraded", "{ready:#}");
    assert_eq!(
        ready["schema"]["missing"],
        json!([
            {"model": "sessions", "answers_nothing": false, "missing": [{
                "field": "models.sessions.dimensions.landing_page",
                "message": "column `landing_page` does not exist in table `sessions`"}]},
            {"model": "support_tickets", "answers_nothing": true, "missing": [{
                "field": "models.support_tickets.source.table",
                "message": "table `support_tickets` does not exist in the warehouse"}]},
        ]),
        "{ready:#}"
    );

    // The models that are fine answer; so does the incomplete one, for
    // what it has.
    c.query(&json!({"metrics": ["revenue"], "dimensions": ["customers.region"]}))
        .await
        .ok_json();
    c.query(&json!({"metrics": ["sessions"], "dimensions": ["sessions.channel"]}))
        .await
        .ok_json();
    // What is missing is named.
    let p = c
        .query(&json!({"metrics": ["tickets"]}))
        .await
        .problem(503, "model_unavailable");
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains(
            "model `support_tickets`: table `support_tickets` does not exist in the warehouse"
        )),
        "{p:#}"
    );
    let p = c
        .query(&json!({"metrics": ["sessions"], "dimensions": ["sessions.landing_page"]}))
        .await
        .problem(503, "model_unavailable");
    assert!(
        p["detail"].as_str().is_some_and(|d| d.contains(
            "model `sessions`: column `landing_page` does not exist in table `sessions`"
        )),
        "{p:#}"
    );

    // Loading the demo again fixes it, without a restart.
    wh.load_demo(&common::warehouses::demo(1))
        .await
        .expect("load the demo again");
    eventually(
        Duration::from_secs(20),
        "readyz to see the tables",
        || async {
            let r = c.get("/readyz").await.ok_json();
            (r["status"] == "ready").then_some(())
        },
    )
    .await;
    c.query(&json!({"metrics": ["tickets"]})).await.ok_json();
}

#[tokio::test]
async fn a_definitions_reload_is_checked_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = http::demo_duckdb_copy(dir.path());
    let defs = dir.path().join("defs");
    http::copy_dir(&demo_defs(), &defs);
    let mut config = ServeConfig::for_tests(&defs, url);
    config.reload = true;
    let s = Server::start(config, tempfile::tempdir().expect("tempdir")).await;
    let c = &s.client;
    assert_eq!(c.get("/readyz").await.ok_json()["status"], "ready");

    // A new model over a table the warehouse lacks: the reload checks it
    // (the gauge moves without anyone asking /readyz).
    http::write_atomic(
        &defs.join("ghosts.yml"),
        "models:\n  - name: ghosts\n    source: {table: no_such_table}\n    entities:\n      - {name: ghost, type: primary, expr: ghost_id}\n",
    );
    eventually(Duration::from_secs(20), "the reload's check", || async {
        let text = c.get("/metrics").await.text();
        (metric_value(&text, "accord_models_unavailable") == Some(1.0)).then_some(())
    })
    .await;
    let ready = c.get("/readyz").await.ok_json();
    assert_eq!(
        names(&ready["schema"]["missing"], "model"),
        ["ghosts"],
        "{ready:#}"
    );
    drop(dir);
}

/// The repository, where `accord serve` finds the demo's accord.yaml.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn accord() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_accord"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ACCORD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

#[test]
fn serve_says_at_start_what_is_missing_and_how_to_fix_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.duckdb");
    let url = format!("duckdb://{}", path.display());
    let mut child = accord()
        .current_dir(repo())
        .args(["serve", "--warehouse", &url, "--http-addr", "127.0.0.1:0"])
        .args(["--pg-addr", "off", "--no-reload", "--log", "error"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn accord serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let last = line.starts_with("The other ");
            let _ = tx.send(line);
            if last {
                break;
            }
        }
    });
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(120)) {
        let last = line.starts_with("The other ");
        out.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let out = out.join("\n");
    let models = common::demo_catalog().models.len();
    for want in [
        format!(
            "warning: {models} of {models} models cannot be fully served: the warehouse {url} lacks what they read"
        ),
        "  model `orders` (answers nothing):".to_string(),
        "models.orders.source.table: table `orders` does not exist in the warehouse".to_string(),
        format!("  accord demo init --warehouse {url}\n"),
        "stop it first, then start it again".to_string(),
        "The other 0 models are served; GET /readyz lists what is missing until it is fixed."
            .to_string(),
    ] {
        assert!(out.contains(&want), "missing `{want}` in:\n{out}");
    }
    // The serving banner came first: it serves.
    assert!(out.contains("serving"), "{out}");
}

#[test]
fn query_names_the_missing_table_and_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.duckdb");
    let url = format!("duckdb://{}", path.display());
    let out = accord()
        .current_dir(repo())
        .args(["query", "--warehouse", &url, "--metrics", "revenue"])
        .output()
        .expect("run accord query");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for want in [
        format!("error: the warehouse {url} lacks what this query reads:"),
        "model `orders`: ".to_string(),
        "models.orders.source.table: table `orders` does not exist in the warehouse".to_string(),
        format!("  accord demo init --warehouse {url}"),
    ] {
        assert!(err.contains(&want), "missing `{want}` in:\n{err}");
    }
    assert!(!err.contains("Catalog Error"), "{err}");
}

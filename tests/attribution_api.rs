//! Attributed queries over every interface: REST (`attribution` in the
//! body), GraphQL (`attributed`), the Postgres endpoint (a table per
//! instance) and the CLI (`--attribution`); each answer adds up to the
//! metric's own total and agrees with the others.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::process::Command;
use std::str::FromStr;

use http::Server;
use rust_decimal::Decimal;
use serde_json::{Value as Json, json};
use tokio_postgres::{NoTls, SimpleQueryMessage};

fn admin() -> String {
    accord::auth::mint_hs256(
        accord::auth::DEV_SECRET,
        "u",
        &["admin".to_string()],
        &BTreeMap::new(),
        3600,
    )
    .expect("mint a token")
}

fn dec(v: &Json) -> Decimal {
    match v {
        Json::String(s) => Decimal::from_str(s).unwrap_or_else(|e| panic!("`{s}`: {e}")),
        Json::Number(n) => Decimal::from_str(&n.to_string()).expect("number"),
        other => panic!("not a number: {other}"),
    }
}

/// First column → second column, from `{columns, rows}`.
fn by_first(body: &Json) -> BTreeMap<String, Decimal> {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            let key = match &r[0] {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            (key, dec(&r[1]).normalize())
        })
        .collect()
}

async fn rest(server: &Server, body: Json) -> Json {
    let req = server
        .client
        .http
        .post(server.client.url("/v1/query"))
        .bearer_auth(admin())
        .json(&body);
    server.client.send(req).await.ok_json()
}

#[tokio::test]
async fn rest_graphql_and_postgres_agree_and_add_up() {
    let server = Server::demo(|_| {}).await;
    let total = rest(&server, json!({"metrics": ["revenue"]})).await;
    let total = dec(&total["rows"][0][0]).normalize();

    // REST: a string or a list.
    let body = rest(
        &server,
        json!({"metrics": ["revenue"], "attribution": "linear_30d", "dimensions": ["channel"]}),
    )
    .await;
    let names: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["channel", "revenue__linear_30d"]);
    let linear = by_first(&body);
    assert_eq!(linear.values().sum::<Decimal>(), total);
    assert!(linear.contains_key("(unattributed)"), "{linear:?}");

    let body = rest(
        &server,
        json!({"metrics": ["revenue"], "attribution": ["linear_30d", "time_decay_30d"], "dimensions": ["channel"]}),
    )
    .await;
    assert_eq!(body["columns"].as_array().unwrap().len(), 3);
    let decay_total: Decimal = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| dec(&r[2]))
        .sum();
    assert_eq!(decay_total.normalize(), total);

    // Errors are problem+json with the field and a suggestion.
    let resp = server
        .client
        .send(
            server
                .client
                .http
                .post(server.client.url("/v1/query"))
                .bearer_auth(admin())
                .json(&json!({"metrics": ["revenue"], "attribution": "linear_3d"})),
        )
        .await;
    let problem = resp.problem(422, "unknown_metric");
    assert_eq!(problem["field"], "attribution[0]");

    // The catalog lists the instances.
    let cat = server
        .client
        .send(
            server
                .client
                .http
                .get(server.client.url("/v1/catalog"))
                .bearer_auth(admin()),
        )
        .await
        .ok_json();
    let names: Vec<&str> = cat["attributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"linear_30d"));

    // GraphQL.
    let gql = server
        .client
        .send(
            server
                .client
                .http
                .post(server.client.url("/graphql"))
                .bearer_auth(admin())
                .json(&json!({"query": "{ attributed(query: {metrics: [\"revenue\"], attribution: [\"linear_30d\"], dimensions: [\"channel\"]}) }"})),
        )
        .await
        .ok_json();
    assert!(gql.get("errors").is_none(), "{gql}");
    assert_eq!(by_first(&gql["data"]["attributed"]), linear);

    // Postgres: the instance is a table.
    let port = server.running().pg_addr.expect("pg endpoint").port();
    let conn = format!(
        "host=127.0.0.1 port={port} user=admin password={} dbname=accord sslmode=disable",
        admin()
    );
    let (client, connection) = tokio_postgres::connect(&conn, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let msgs = client
        .simple_query("SELECT channel, revenue FROM linear_30d GROUP BY channel")
        .await
        .unwrap();
    let mut pg = BTreeMap::new();
    for m in msgs {
        if let SimpleQueryMessage::Row(r) = m {
            pg.insert(
                r.get(0).unwrap_or("NULL").to_string(),
                Decimal::from_str(r.get(1).unwrap()).unwrap().normalize(),
            );
        }
    }
    assert_eq!(pg, linear);
    let msgs = client
        .simple_query(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'linear_30d' ORDER BY ordinal_position",
        )
        .await
        .unwrap();
    let cols: Vec<String> = msgs
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    assert!(
        cols.iter().any(|c| c == "channel") && cols.iter().any(|c| c == "revenue"),
        "{cols:?}"
    );
}

#[test]
fn cli_query_and_compile() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("duckdb://{}", dir.path().join("demo.duckdb").display());
    let defs = common::repo_path("metric_defs");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_accord"))
            .args(args)
            .env_remove("ACCORD_WAREHOUSE")
            .env_remove("ACCORD_DEFS")
            .output()
            .expect("run accord");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["demo", "init", "--scale", "1", "--warehouse", &url]);
    let defs = defs.display().to_string();
    let out = run(&[
        "query",
        "--defs",
        &defs,
        "--warehouse",
        &url,
        "--metrics",
        "revenue",
        "--attribution",
        "linear_30d",
        "--by",
        "channel",
        "--format",
        "json",
    ]);
    let body: Json = serde_json::from_str(&out).unwrap();
    let credited: Decimal = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| dec(&r[1]))
        .sum();
    let out = run(&[
        "query",
        "--defs",
        &defs,
        "--warehouse",
        &url,
        "--metrics",
        "revenue",
        "--format",
        "json",
    ]);
    let total: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(credited.normalize(), dec(&total["rows"][0][0]).normalize());

    let sql = run(&[
        "compile",
        "--defs",
        &defs,
        "--metrics",
        "revenue,orders",
        "--attribution",
        "position_based_30d,first_touch_30d",
        "--by",
        "channel",
        "--dialect",
        "postgres",
    ]);
    assert!(sql.contains("revenue__position_based_30d"), "{sql}");
    assert!(sql.contains("orders__first_touch_30d"), "{sql}");
}

//! Replays the statements BI tools send when they connect to a PostgreSQL
//! data source and list tables and columns (Metabase, Superset, Tableau,
//! Power BI, DBeaver, Grafana) against a real server on the demo data, over
//! the simple query protocol. The statements live in
//! `tests/fixtures/bi_tools/<tool>.sql` (format in the README there).
//! Every statement runs as `admin` and as `partner`, who may not see
//! `orders.net_revenue`: listings must show the demo models and never a
//! hidden member.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::Server;
use serde_json::Value as Json;
use tokio_postgres::{NoTls, SimpleQueryMessage};

fn token(roles: &[&str]) -> String {
    let claims: BTreeMap<String, Json> = BTreeMap::new();
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    accord::auth::mint_hs256(accord::auth::DEV_SECRET, "u", &roles, &claims, 3600)
        .expect("mint a token")
}

async fn server() -> (Server, u16) {
    let s = Server::demo(|_| {}).await;
    let port = s
        .running()
        .pg_addr
        .expect("the Postgres endpoint is on")
        .port();
    (s, port)
}

async fn connect(port: u16, user: &str, password: &str) -> tokio_postgres::Client {
    let conn_str = format!(
        "host=127.0.0.1 port={port} user={user} password={password} dbname=accord sslmode=disable"
    );
    let (client, conn) = tokio_postgres::connect(&conn_str, NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

#[derive(Debug, Clone, PartialEq)]
enum Expect {
    Ok,
    Rows,
    Tables,
    Columns,
    Error(String),
}

#[derive(Debug)]
struct Stmt {
    name: String,
    expect: Expect,
    sql: String,
}

fn fixture(tool: &str) -> Vec<Stmt> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bi_tools")
        .join(format!("{tool}.sql"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut out: Vec<Stmt> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("-- @stmt ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().expect("statement name").to_string();
            let expect = match parts.next().expect("expectation") {
                "ok" => Expect::Ok,
                "rows" => Expect::Rows,
                "tables" => Expect::Tables,
                "columns" => Expect::Columns,
                // `gap:` is a statement accord cannot serve yet; it is held to
                // its current refusal so closing the gap shows up here.
                e => Expect::Error(
                    e.strip_prefix("error:")
                        .or_else(|| e.strip_prefix("gap:"))
                        .unwrap_or_else(|| panic!("bad expectation `{e}` in {tool}"))
                        .to_string(),
                ),
            };
            out.push(Stmt {
                name,
                expect,
                sql: String::new(),
            });
        } else if let Some(s) = out.last_mut() {
            s.sql.push_str(line);
            s.sql.push('\n');
        }
    }
    assert!(!out.is_empty(), "no statements in {path:?}");
    out
}

/// Every cell of every row of a simple-query answer.
fn cells(msgs: &[SimpleQueryMessage]) -> Vec<String> {
    msgs.iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .filter_map(|i| r.get(i).map(|v| v.trim_matches('"').to_string()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Runs one statement; `Err` describes how it missed its expectation.
async fn check(client: &tokio_postgres::Client, s: &Stmt, restricted: bool) -> Result<(), String> {
    let res = client.simple_query(&s.sql).await;
    match (&s.expect, res) {
        (Expect::Error(code), Err(e)) => match e.as_db_error() {
            Some(db) if db.code().code() == code && !db.message().is_empty() => Ok(()),
            Some(db) => Err(format!(
                "expected {code}, got {}: {}",
                db.code().code(),
                db.message()
            )),
            None => Err(format!("expected {code}, got a non-server error: {e}")),
        },
        (Expect::Error(code), Ok(_)) => Err(format!("expected {code}, but it succeeded")),
        (_, Err(e)) => Err(match e.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => e.to_string(),
        }),
        (Expect::Ok, Ok(_)) => Ok(()),
        (Expect::Rows, Ok(msgs)) => {
            if msgs.iter().any(|m| matches!(m, SimpleQueryMessage::Row(_))) {
                Ok(())
            } else {
                Err("no rows".into())
            }
        }
        (Expect::Tables, Ok(msgs)) => {
            let c = cells(&msgs);
            match ["orders", "customers"]
                .iter()
                .find(|t| !c.iter().any(|v| v == *t))
            {
                Some(t) => Err(format!("listing lacks table `{t}`")),
                None => Ok(()),
            }
        }
        (Expect::Columns, Ok(msgs)) => {
            let c = cells(&msgs);
            let has = |col: &str| c.iter().any(|v| v == col);
            if !has("revenue") {
                return Err("listing lacks column `revenue`".into());
            }
            // partner's policy shows revenue but neither the status
            // dimension nor net_revenue; admin sees all three.
            for hidden in ["status", "net_revenue"] {
                match (restricted, has(hidden)) {
                    (true, true) => return Err(format!("listing shows hidden member `{hidden}`")),
                    (false, false) => return Err(format!("listing lacks `{hidden}` for admin")),
                    _ => {}
                }
            }
            Ok(())
        }
    }
}

/// Replays a tool's statements as admin and as partner; panics listing every
/// statement that missed, after printing "replayed: N/M statements pass".
async fn replay(tool: &str) {
    let stmts = fixture(tool);
    let (_server, port) = server().await;
    let mut failures = Vec::new();
    let mut ok = vec![true; stmts.len()];
    for (user, role, restricted) in [("admin", "admin", false), ("partner", "partner", true)] {
        // One session per role, statements in the tool's order (cursors and
        // transactions span statements, as they do for the tool).
        let client = connect(port, user, &token(&[role])).await;
        for (i, s) in stmts.iter().enumerate() {
            if let Err(why) = check(&client, s, restricted).await {
                ok[i] = false;
                failures.push(format!("{tool}/{} as {user}: {why}", s.name));
            }
        }
    }
    let passed = ok.iter().filter(|o| **o).count();
    println!("{tool}: replayed: {passed}/{} statements pass", stmts.len());
    assert!(
        failures.is_empty(),
        "{tool}: replayed: {passed}/{} statements pass\n{}",
        stmts.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn metabase() {
    replay("metabase").await;
}

#[tokio::test]
async fn superset() {
    replay("superset").await;
}

#[tokio::test]
async fn tableau() {
    replay("tableau").await;
}

#[tokio::test]
async fn powerbi() {
    replay("powerbi").await;
}

#[tokio::test]
async fn dbeaver() {
    replay("dbeaver").await;
}

#[tokio::test]
async fn grafana() {
    replay("grafana").await;
}

//! Statements the Postgres endpoint answers from its catalog engine give
//! PostgreSQL's answers (issue "Postgres endpoint: real SQL…", its silent
//! wrong answers): each statement runs on accord's endpoint and on the
//! local PostgreSQL, and the cells (or the SQLSTATE) must be equal.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;

use http::Server;
use serde_json::Value as Json;
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// Scalar statements whose text answers PostgreSQL and DuckDB spell alike.
const CASES: &[&str] = &[
    // `~` finds a match anywhere; DuckDB's own `~` matches whole strings.
    "SELECT 'abc' ~ 'b'",
    "SELECT 'abc' ~ '^b'",
    "SELECT 'abc' !~ 'b'",
    "SELECT 'abc' !~ 'x'",
    "SELECT 'ABC' ~* 'b'",
    "SELECT 'ABC' !~* 'b'",
    "SELECT 'pg_catalog' ~ '^pg_'",
    "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema' ORDER BY 1",
    // Integers divide truncating, toward zero.
    "SELECT 7 / 2, -7 / 2, 7 % 3, 1 / 3",
    "SELECT 10 / 5 * 3",
];

/// Statements PostgreSQL refuses, with the SQLSTATE it gives.
const ERRORS: &[&str] = &["SELECT 1 / 0", "SELECT 7 / (2 - 2)"];

fn token() -> String {
    let claims: BTreeMap<String, Json> = BTreeMap::new();
    accord::auth::mint_hs256(
        accord::auth::DEV_SECRET,
        "u",
        &["admin".to_string()],
        &claims,
        3600,
    )
    .expect("mint a token")
}

async fn connect(conn: &str) -> tokio_postgres::Client {
    let (client, c) = tokio_postgres::connect(conn, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {conn}: {e}"));
    tokio::spawn(async move {
        let _ = c.await;
    });
    client
}

/// Cells, or the SQLSTATE of the refusal.
async fn answer(client: &tokio_postgres::Client, sql: &str) -> Result<Vec<Vec<String>>, String> {
    match client.simple_query(sql).await {
        Ok(msgs) => Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("NULL").to_string())
                        .collect(),
                ),
                _ => None,
            })
            .collect()),
        Err(e) => Err(e
            .as_db_error()
            .map(|d| d.code().code().to_string())
            .unwrap_or_else(|| e.to_string())),
    }
}

#[tokio::test]
async fn catalog_answers_equal_postgresql() {
    let server = Server::demo(|_| {}).await;
    let port = server.running().pg_addr.expect("the endpoint is on").port();
    let accord = connect(&format!(
        "host=127.0.0.1 port={port} user=admin password={} dbname=accord sslmode=disable",
        token()
    ))
    .await;
    let pg =
        connect(&common::warehouses::postgres_url().replace("postgres://", "postgresql://")).await;
    let mut failures = Vec::new();
    for sql in CASES.iter().chain(ERRORS) {
        let (ours, theirs) = (answer(&accord, sql).await, answer(&pg, sql).await);
        if ours != theirs {
            failures.push(format!(
                "{sql}\n  accord     {ours:?}\n  PostgreSQL {theirs:?}"
            ));
        }
    }
    for sql in ERRORS {
        assert_eq!(
            answer(&pg, sql).await,
            Err("22012".into()),
            "{sql} on PostgreSQL"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

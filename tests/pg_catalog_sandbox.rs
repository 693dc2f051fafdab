//! The Postgres endpoint's catalog engine (an in-memory DuckDB answering
//! pg_catalog / information_schema questions) is a sandbox: through a real
//! server, as the most restricted demo role (`partner`) and as `analyst`,
//! no statement reads the server's files, reaches DuckDB's own functions or
//! settings, changes the catalog for anyone, runs without a time limit, or
//! returns unbounded rows — and no error echoes a secret, a file, or the
//! rewritten SQL. Afterwards the server still answers catalog and governed
//! queries.

#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use http::Server;
use serde_json::Value as Json;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// The catalog's statement timeout in this server (the query timeout,
/// which the catalog caps at 10 s).
const TIMEOUT: Duration = Duration::from_secs(3);

/// The secret in the repository's accord.yaml (the server's working
/// directory in tests), which `read_text('accord.yaml')` returned.
fn file_secret() -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/accord.yaml"))
        .expect("read accord.yaml");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("hs256_secret:"))
        .map(|s| s.trim().to_string())
        .expect("accord.yaml has an hs256_secret")
}

fn token(role: &str) -> String {
    let claims: BTreeMap<String, Json> = BTreeMap::new();
    accord::auth::mint_hs256(
        accord::auth::DEV_SECRET,
        "u",
        &[role.to_string()],
        &claims,
        3600,
    )
    .expect("mint a token")
}

async fn server() -> Server {
    Server::demo(|c| c.query_timeout = TIMEOUT).await
}

async fn connect(s: &Server, role: &str) -> Client {
    let port = s
        .running()
        .pg_addr
        .expect("the Postgres endpoint is on")
        .port();
    let conn_str = format!(
        "host=127.0.0.1 port={port} user=u password={} dbname=accord sslmode=disable",
        token(role)
    );
    let (client, conn) = tokio_postgres::connect(&conn_str, NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Everything a response says: rows, or the error's code, message, hint,
/// detail.
fn said(r: &Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>) -> String {
    match r {
        Ok(msgs) => msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or("NULL").to_string())
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => match e.as_db_error() {
            Some(db) => format!(
                "{} {} {:?} {:?}",
                db.code().code(),
                db.message(),
                db.hint(),
                db.detail()
            ),
            None => e.to_string(),
        },
    }
}

fn code(r: &Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>) -> Option<String> {
    r.as_ref()
        .err()
        .and_then(|e| e.as_db_error())
        .map(|db| db.code().code().to_string())
}

/// Nothing a caller may not know: the secret, a password file, the
/// rewritten SQL (`pgc.`, `isc.`) or DuckDB's own error text.
fn assert_clean(sql: &str, text: &str) {
    for marker in [
        file_secret().as_str(),
        accord::auth::DEV_SECRET,
        "root:x:",
        "pgc.",
        "isc.",
        "Error:",
        "LINE 1",
    ] {
        assert!(
            !text.contains(marker),
            "{sql}: the response contains {marker:?}: {text}"
        );
    }
}

/// Runs `sql` (simple protocol, then extended) and expects a refusal with
/// one of `codes`.
async fn refused(c: &Client, sql: &str, codes: &[&str]) {
    let r = c.simple_query(sql).await;
    let text = said(&r);
    assert_clean(sql, &text);
    let got = code(&r).unwrap_or_else(|| panic!("{sql} was answered: {text}"));
    assert!(codes.contains(&got.as_str()), "{sql}: {text}");
    // Parse/Describe/Execute reach the catalog through another path.
    if let Err(e) = c.query(sql, &[]).await {
        let text = e
            .as_db_error()
            .map(|db| format!("{} {} {:?}", db.code().code(), db.message(), db.hint()))
            .unwrap_or_else(|| e.to_string());
        assert_clean(sql, &text);
    } else {
        panic!("{sql} was answered over the extended protocol");
    }
}

async fn attacks(s: &Server, role: &str) {
    let c = connect(s, role).await;
    let warehouse = s.dir.path().join("demo.duckdb");
    let warehouse = warehouse.display();
    const DENIED: &[&str] = &["42501"];
    // Reading the server's files and DuckDB's own state.
    for sql in [
        "SELECT content FROM read_text('accord.yaml')".to_string(),
        "SELECT * FROM read_csv('/etc/passwd', sep = ':', header = false)".to_string(),
        "SELECT * FROM glob('./*')".to_string(),
        format!("SELECT * FROM read_blob('{warehouse}')"),
        "SELECT * FROM duckdb_settings()".to_string(),
        "SELECT getenv('HOME')".to_string(),
        "SELECT * FROM query('SELECT 1')".to_string(),
        "SELECT relname FROM pg_catalog.pg_class WHERE relname IN (SELECT content FROM read_text('accord.yaml'))".to_string(),
    ] {
        refused(&c, &sql, DENIED).await;
    }
    // DuckDB reads a path in FROM as a file (a replacement scan).
    for sql in [
        "SELECT * FROM 'accord.yaml'",
        "SELECT * FROM \"accord.yaml\"",
        "SELECT * FROM '/etc/passwd'",
    ] {
        refused(&c, sql, &["42P01", "0A000", "42601"]).await;
    }
    // Statements that are not queries.
    for sql in [
        "COPY (SELECT 1) TO 'sandbox-copy.csv'",
        "ATTACH 'sandbox-attach.duckdb' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CALL duckdb_settings()",
        "PRAGMA version",
        "EXPORT DATABASE 'sandbox-export'",
        "CREATE TABLE planted (a INT)",
    ] {
        refused(&c, sql, &["25006", "0A000", "42601"]).await;
    }
    assert!(!std::path::Path::new("sandbox-copy.csv").exists());
    // A session setting of that name changes nothing in the catalog engine.
    let _ = c.simple_query("SET enable_external_access = true").await;
    refused(&c, "SELECT content FROM read_text('accord.yaml')", DENIED).await;
    // Writes to the shared catalog.
    for sql in [
        "WITH x AS (SELECT 1) DELETE FROM pg_catalog.pg_class WHERE relname = 'orders'",
        "WITH x AS (SELECT 1) INSERT INTO pg_catalog.pg_description VALUES (1, 1259, 0, 'planted')",
        "WITH x AS (SELECT 1) UPDATE pg_catalog.pg_class SET relname = 'planted' WHERE relname = 'orders'",
    ] {
        refused(&c, sql, &["25006"]).await;
    }
}

async fn relnames(c: &Client, sql: &str) -> Vec<String> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_catalog_engine_is_a_sandbox() {
    let s = server().await;
    for role in ["partner", "analyst"] {
        attacks(&s, role).await;
        // Another session with the same visibility still sees the catalog
        // as it was built.
        let other = connect(&s, role).await;
        assert_eq!(
            relnames(
                &other,
                "SELECT relname FROM pg_catalog.pg_class WHERE relname IN ('orders', 'planted')"
            )
            .await,
            vec!["orders".to_string()]
        );
        assert!(
            relnames(
                &other,
                "SELECT description FROM pg_catalog.pg_description WHERE description = 'planted'"
            )
            .await
            .is_empty()
        );
    }
}

#[tokio::test]
async fn the_catalog_engine_has_a_timeout_and_a_row_cap() {
    let s = server().await;
    for role in ["partner", "analyst"] {
        let c = connect(&s, role).await;
        // (DuckDB counts a bare range without reading it; a filter makes
        // it read all 11e9 rows.)
        for sql in [
            "SELECT count(*) FROM range(11e9::BIGINT) t(x) WHERE x % 7 = 3",
            "SELECT count(*) FROM generate_series(1, 200000) a, generate_series(1, 200000) b",
        ] {
            let started = Instant::now();
            let r = c.simple_query(sql).await;
            let took = started.elapsed();
            assert_clean(sql, &said(&r));
            assert_eq!(code(&r).as_deref(), Some("57014"), "{sql}: {}", said(&r));
            assert!(
                took < TIMEOUT + Duration::from_secs(3),
                "{sql} took {took:?}"
            );
        }
        let r = c
            .simple_query("SELECT * FROM generate_series(1, 3000000)")
            .await;
        assert_clean("generate_series", &said(&r));
        assert_eq!(code(&r).as_deref(), Some("54000"), "{}", said(&r));
        // A catalog answer under the cap still comes whole.
        let n = relnames(&c, "SELECT * FROM generate_series(1, 10000)").await;
        assert_eq!(n.len(), 10_000);
        // The server still answers a catalog query and a governed one.
        let tables = relnames(
            &c,
            "SELECT table_name FROM information_schema.tables WHERE table_name = 'orders'",
        )
        .await;
        assert_eq!(tables, vec!["orders".to_string()]);
        let orders = relnames(&c, "SELECT orders FROM orders").await;
        assert_eq!(orders.len(), 1);
        assert!(orders[0].parse::<i64>().expect("a count") > 0, "{orders:?}");
    }
}

//! TLS and SCRAM-SHA-256 on the Postgres wire endpoint, through real
//! clients: psql (`sslmode=require`, `verify-full`, `channel_binding`),
//! tokio-postgres over rustls, psycopg 3 and pgjdbc. Certificates are
//! generated here (rcgen); one user's SCRAM verifier is computed here with
//! Python's hashlib (independently of the server), the other user's
//! password is hashed by the server at start. Numbers over the wire are
//! compared with `POST /v1/query` for a token carrying the same roles and
//! claims as the user's mapping. Clients: scripts/install-test-clients.sh.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::Arc;

use accord::pgwire::config::{FilePg, FileUser};
use http::Server;
use pgwire::tokio::tokio_rustls::rustls;
use rust_decimal::Decimal;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value as Json, json};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

const READER_PASSWORD: &str = "reader pass 1";
const EMEA_PASSWORD: &str = "emea-Passw0rd";

struct TlsFiles {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    cert_pem: String,
}

/// A self-signed certificate for localhost and 127.0.0.1.
fn tls_files() -> TlsFiles {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("generate a certificate");
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("server.crt");
    let key = dir.path().join("server.key");
    let cert_pem = ck.cert.pem();
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    TlsFiles {
        _dir: dir,
        cert,
        key,
        cert_pem,
    }
}

/// A PostgreSQL-format SCRAM-SHA-256 verifier computed by Python's hashlib
/// (RFC 5802/7677 by the letter), not by accord or pgwire.
fn python_verifier(password: &str) -> String {
    let script = r#"
import base64, hashlib, hmac, os, sys
pw = sys.argv[1].encode()
salt = os.urandom(16)
salted = hashlib.pbkdf2_hmac('sha256', pw, salt, 4096)
client_key = hmac.new(salted, b'Client Key', hashlib.sha256).digest()
stored = hashlib.sha256(client_key).digest()
server = hmac.new(salted, b'Server Key', hashlib.sha256).digest()
b = lambda x: base64.b64encode(x).decode()
print('SCRAM-SHA-256$4096:%s$%s:%s' % (b(salt), b(stored), b(server)))
"#;
    let out = Command::new("python3")
        .args(["-c", script, password])
        .output()
        .expect("python3 (scripts/install-test-clients.sh)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `reader` (a password, role analyst) and `emea` (a verifier, role
/// regional_manager with region EU).
fn users() -> FilePg {
    FilePg {
        tls: None,
        users: vec![
            FileUser {
                name: "reader".into(),
                password: Some(READER_PASSWORD.into()),
                roles: vec!["analyst".into()],
                ..Default::default()
            },
            FileUser {
                name: "emea".into(),
                scram: Some(python_verifier(EMEA_PASSWORD)),
                roles: vec!["regional_manager".into()],
                claims: [("region".to_string(), json!("EU"))].into_iter().collect(),
                ..Default::default()
            },
        ],
    }
}

async fn server(tls: Option<&TlsFiles>) -> (Server, u16) {
    let pg = accord::pgwire::config::resolve(
        Some(users()),
        tls.map(|t| t.cert.clone()),
        tls.map(|t| t.key.clone()),
    )
    .expect("pg settings");
    let s = Server::demo(move |c| c.pg = pg).await;
    let port = s.running().pg_addr.expect("Postgres endpoint").port();
    (s, port)
}

fn token(roles: &[&str], claims: Json) -> String {
    let claims: BTreeMap<String, Json> = claims
        .as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    accord::auth::mint_hs256(accord::auth::DEV_SECRET, "u", &roles, &claims, 3600)
        .expect("mint a token")
}

fn dec(v: &Json) -> Decimal {
    match v {
        Json::String(s) => Decimal::from_str(s).unwrap(),
        Json::Number(n) => Decimal::from_str(&n.to_string()).unwrap(),
        other => panic!("not a number: {other}"),
    }
}

/// REST's answer as `key → value` (first column text, second a number).
async fn rest(server: &Server, tok: &str, q: Json) -> BTreeMap<String, Decimal> {
    let body = server
        .client
        .send(
            server
                .client
                .http
                .post(server.client.url("/v1/query"))
                .bearer_auth(tok)
                .json(&q),
        )
        .await
        .ok_json();
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r[0].as_str().unwrap_or("").to_string(), dec(&r[1])))
        .collect()
}

/// psql's `-A -t` output of two columns as `key → number`.
fn two_columns(out: &str) -> BTreeMap<String, Decimal> {
    out.lines()
        .filter(|l| l.contains('|'))
        .map(|l| {
            let (k, v) = l.split_once('|').unwrap();
            (k.to_string(), Decimal::from_str(v.trim()).unwrap())
        })
        .collect()
}

async fn psql(conninfo: String, password: &str, args: &[&str]) -> Output {
    let mut a = vec![conninfo, "-X".into(), "-v".into(), "ON_ERROR_STOP=1".into()];
    a.extend(args.iter().map(|s| s.to_string()));
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .args(&a)
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("psql (scripts/install-test-clients.sh)")
    })
    .await
    .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const BY_STATUS: &str = "SELECT status, revenue FROM orders GROUP BY status ORDER BY status";
const BY_REGION: &str =
    "SELECT customers__region, revenue FROM orders GROUP BY customers__region ORDER BY 1";

// ---------------------------------------------------------------------------
// TLS

#[tokio::test]
async fn without_tls_the_ssl_request_is_refused_and_psql_goes_on_in_the_clear() {
    let (_server, port) = server(None).await;
    let analyst = token(&["analyst"], json!({}));
    let out = psql(
        format!("host=127.0.0.1 port={port} user=a dbname=accord sslmode=require"),
        &analyst,
        &["-c", "SELECT 1"],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server does not support SSL"), "{err}");
    let out = ok(&psql(
        format!("host=127.0.0.1 port={port} user=a dbname=accord sslmode=prefer"),
        &analyst,
        &["-c", "\\conninfo"],
    )
    .await);
    assert!(!out.contains("SSL connection"), "{out}");
}

#[tokio::test]
async fn psql_requires_and_verifies_tls() {
    let tls = tls_files();
    let (server, port) = server(Some(&tls)).await;
    let analyst = token(&["analyst"], json!({}));
    for mode in [
        "sslmode=require".to_string(),
        format!("sslmode=verify-full sslrootcert={}", tls.cert.display()),
    ] {
        let out = ok(&psql(
            format!("host=127.0.0.1 port={port} user=a dbname=accord {mode}"),
            &analyst,
            &["-c", "\\conninfo", "-A", "-t", "-c", BY_STATUS],
        )
        .await);
        assert!(
            out.contains("SSL connection (protocol: TLSv1.3"),
            "{mode}: {out}"
        );
        let expected = rest(
            &server,
            &analyst,
            json!({"metrics": ["revenue"], "dimensions": ["orders.status"]}),
        )
        .await;
        assert_eq!(two_columns(&out), expected, "{mode}");
    }
}

#[tokio::test]
async fn tokio_postgres_over_rustls() {
    let tls = tls_files();
    let (server, port) = server(Some(&tls)).await;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(tls.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_postgres_rustls::MakeRustlsConnect::new(config);
    // A JWT login and a SCRAM login, both over TLS.
    let manager = token(&["regional_manager"], json!({"region": "EU"}));
    for (user, password) in [("analyst", manager.as_str()), ("emea", EMEA_PASSWORD)] {
        let (client, conn) = tokio_postgres::connect(
            &format!(
                "host=localhost hostaddr=127.0.0.1 port={port} user={user} password='{password}' dbname=accord sslmode=require"
            ),
            connector.clone(),
        )
        .await
        .unwrap_or_else(|e| panic!("{user}: {e}"));
        tokio::spawn(conn);
        let rows = client.query(BY_REGION, &[]).await.expect("query");
        let wire: BTreeMap<String, Decimal> = rows
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, Decimal>(1)))
            .collect();
        let expected = rest(
            &server,
            &manager,
            json!({"metrics": ["revenue"], "dimensions": ["customers.region"]}),
        )
        .await;
        assert_eq!(wire, expected, "{user}");
        assert_eq!(wire.keys().collect::<Vec<_>>(), ["EU"], "{user}");
    }
}

// ---------------------------------------------------------------------------
// SCRAM-SHA-256

#[tokio::test]
async fn psql_logs_in_with_scram_in_the_clear_and_over_tls_with_channel_binding() {
    let tls = tls_files();
    let (server, port) = server(Some(&tls)).await;
    let analyst = token(&["analyst"], json!({}));
    let expected = rest(
        &server,
        &analyst,
        json!({"metrics": ["revenue"], "dimensions": ["orders.status"]}),
    )
    .await;
    for mode in [
        "sslmode=disable channel_binding=disable",
        "sslmode=require channel_binding=require",
    ] {
        let out = ok(&psql(
            format!("host=127.0.0.1 port={port} user=reader dbname=accord {mode}"),
            READER_PASSWORD,
            &["-A", "-t", "-c", "SELECT current_user", "-c", BY_STATUS],
        )
        .await);
        assert!(out.starts_with("reader\n"), "{mode}: {out}");
        assert_eq!(two_columns(&out), expected, "{mode}");
    }
}

#[tokio::test]
async fn wrong_scram_passwords_are_28p01_for_every_client() {
    let (_server, port) = server(None).await;
    // tokio-postgres: the SQLSTATE.
    for (user, password) in [
        ("reader", "wrong"),
        ("emea", READER_PASSWORD),
        // A configured user logs in with its password, not a token.
        ("reader", &*token(&["analyst"], json!({}))),
    ] {
        let err = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user={user} password='{password}' dbname=accord"),
            NoTls,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("{user} logged in with a wrong password"));
        let db = err.as_db_error().unwrap_or_else(|| panic!("{err}"));
        assert_eq!(db.code(), &SqlState::INVALID_PASSWORD, "{err}");
        assert_eq!(
            db.message(),
            format!("password authentication failed for user \"{user}\"")
        );
    }
    // psql: the message.
    let out = psql(
        format!("host=127.0.0.1 port={port} user=reader dbname=accord"),
        "wrong",
        &["-c", "SELECT 1"],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password authentication failed for user \"reader\""),
        "{err}"
    );
}

#[tokio::test]
async fn psycopg_logs_in_with_scram_over_tls() {
    let tls = tls_files();
    let (server, port) = server(Some(&tls)).await;
    let script = r#"
import json, sys, psycopg
host, port, user, good, bad = sys.argv[1:6]
out = {}
with psycopg.connect(host=host, port=port, user=user, password=good, dbname='accord', sslmode='require') as c:
    out['ssl'] = c.pgconn.ssl_in_use
    rows = c.execute("SELECT customers__region, revenue FROM orders GROUP BY customers__region ORDER BY 1").fetchall()
    out['rows'] = [[r[0], str(r[1])] for r in rows]
try:
    psycopg.connect(host=host, port=port, user=user, password=bad, dbname='accord', sslmode='require')
    out['wrong'] = 'connected'
except psycopg.OperationalError as e:
    out['wrong'] = str(e)
print(json.dumps(out))
"#;
    let args: Vec<String> = vec![
        "-c".into(),
        script.into(),
        "127.0.0.1".into(),
        port.to_string(),
        "emea".into(),
        EMEA_PASSWORD.into(),
        "not-it".into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .args(&args)
            .output()
            .expect("python3")
    })
    .await
    .unwrap();
    let v: Json = serde_json::from_str(&ok(&out)).expect("JSON");
    assert_eq!(v["ssl"], true);
    let wire: BTreeMap<String, Decimal> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), dec(&r[1])))
        .collect();
    let manager = token(&["regional_manager"], json!({"region": "EU"}));
    let expected = rest(
        &server,
        &manager,
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"]}),
    )
    .await;
    assert_eq!(wire, expected);
    let wrong = v["wrong"].as_str().unwrap();
    assert!(
        wrong.contains("password authentication failed for user \"emea\""),
        "{wrong}"
    );
}

#[tokio::test]
async fn pgjdbc_logs_in_with_scram() {
    let tls = tls_files();
    let (server, port) = server(Some(&tls)).await;
    let dir = tempfile::tempdir().unwrap();
    let java = dir.path().join("ScramClient.java");
    std::fs::write(
        &java,
        r#"
import java.sql.*;

public class ScramClient {
    public static void main(String[] a) throws Exception {
        String base = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/accord?";
        StringBuilder out = new StringBuilder("{\"rows\":[");
        try (Connection c = DriverManager.getConnection(base + a[5], a[2], a[3]);
             PreparedStatement ps = c.prepareStatement(
                 "SELECT status, revenue FROM orders WHERE status <> ? GROUP BY status ORDER BY status")) {
            ps.setString(1, "none");
            try (ResultSet rs = ps.executeQuery()) {
                boolean first = true;
                while (rs.next()) {
                    out.append(first ? "" : ",").append("[\"").append(rs.getString(1)).append("\",\"")
                        .append(rs.getBigDecimal(2).toPlainString()).append("\"]");
                    first = false;
                }
            }
        }
        out.append("],\"wrong\":\"");
        try (Connection c = DriverManager.getConnection(base + a[5], a[2], a[4])) {
            out.append("connected");
        } catch (SQLException e) {
            out.append(e.getSQLState());
        }
        System.out.println(out.append("\"}"));
    }
}
"#,
    )
    .unwrap();
    let jar = "/usr/share/java/postgresql.jar";
    let classes = dir.path().to_path_buf();
    let analyst = token(&["analyst"], json!({}));
    let expected = rest(
        &server,
        &analyst,
        json!({"metrics": ["revenue"], "dimensions": ["orders.status"]}),
    )
    .await;
    let javac = {
        let (java, classes) = (java.clone(), classes.clone());
        tokio::task::spawn_blocking(move || {
            Command::new("javac")
                .arg("-d")
                .arg(&classes)
                .arg(&java)
                .output()
                .expect("javac")
        })
        .await
        .unwrap()
    };
    ok(&javac);
    for params in [
        "sslmode=disable".to_string(),
        format!("sslmode=verify-full&sslrootcert={}", tls.cert.display()),
    ] {
        let args: Vec<String> = vec![
            "-cp".into(),
            format!("{jar}:{}", classes.display()),
            "ScramClient".into(),
            "127.0.0.1".into(),
            port.to_string(),
            "reader".into(),
            READER_PASSWORD.into(),
            "wrong".into(),
            params.clone(),
        ];
        let out = tokio::task::spawn_blocking(move || {
            Command::new("java").args(&args).output().expect("java")
        })
        .await
        .unwrap();
        let v: Json = serde_json::from_str(ok(&out).trim()).expect("JSON from java");
        let wire: BTreeMap<String, Decimal> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r[0].as_str().unwrap().to_string(), dec(&r[1])))
            .collect();
        assert_eq!(wire, expected, "{params}");
        assert_eq!(v["wrong"], "28P01", "{params}");
    }
}

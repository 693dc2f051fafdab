//! Sends one case's request on its interface and reduces the answer to an
//! [`Outcome`]: refused (with status/code/SQLSTATE/message) or rows, plus
//! all the text a client could read.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rust_decimal::Decimal;
use serde_json::{Value as Json, json};
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::cases::{BadToken, CallerSpec, Case, Interface};

#[derive(Debug, Clone)]
pub struct Refused {
    pub status: Option<u16>,
    pub code: Option<String>,
    pub sqlstate: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub refused: Option<Refused>,
    /// Result rows, each cell normalised ([`cell`]).
    pub rows: Option<Vec<Vec<String>>>,
    /// The response body as JSON (REST, GraphQL).
    pub json: Option<Json>,
    /// Everything the client received, for `not_contains`.
    pub text: String,
    pub elapsed: Duration,
}

/// Key material for bad tokens.
pub struct Keys {
    pub rsa_public_pem: Vec<u8>,
    pub stranger_rsa_private: Vec<u8>,
}

/// Rows collected at most; more means "not capped".
pub const ROW_CAP: usize = 20_000;

/// A cell as text: numbers (and numeric strings) as normalised decimals,
/// NULL as `NULL`.
pub fn cell(v: &Json) -> String {
    match v {
        Json::Null => "NULL".into(),
        Json::String(s) => text_cell(s),
        Json::Number(n) => text_cell(&n.to_string()),
        other => other.to_string(),
    }
}

pub fn text_cell(s: &str) -> String {
    match s.parse::<Decimal>() {
        Ok(d) => d.normalize().to_string(),
        Err(_) => s.to_string(),
    }
}

/// The bearer token of a caller (None: anonymous).
pub fn token(c: &CallerSpec, keys: &Keys) -> Option<String> {
    use super::auth;
    let roles: Vec<&str> = c.roles.iter().map(String::as_str).collect();
    let mut claims = auth::body(&roles);
    for (k, v) in &c.claims {
        claims[k] = v.clone();
    }
    let Some(bad) = c.token else {
        if roles.is_empty() {
            return None;
        }
        let extra: Vec<(&str, Json)> = c
            .claims
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        return Some(auth::token(&roles, &extra));
    };
    Some(match bad {
        BadToken::AlgNone => auth::raw_token(&json!({"alg": "none", "typ": "JWT"}), &claims, ""),
        BadToken::Expired => {
            claims["iat"] = json!(auth::now() - 7200);
            claims["exp"] = json!(auth::now() - 3600);
            auth::sign_hs256(auth::SECRET.as_bytes(), &claims)
        }
        BadToken::WrongKey => {
            auth::sign_hs256(b"not-the-server-secret-but-long-enough-0123", &claims)
        }
        BadToken::HsRsConfusion => auth::sign_hs256(&keys.rsa_public_pem, &claims),
        BadToken::Rs256Stranger => auth::sign_rs256(&keys.stranger_rsa_private, &claims, None),
        BadToken::ForgedPayload => {
            let weak = auth::token(&["partner"], &[]);
            auth::with_payload(&weak, &claims)
        }
        BadToken::Garbage => "not-a-jwt".into(),
    })
}

/// The resolved request of a case (templates expanded).
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Option<Vec<u8>>,
    pub graphql: Option<String>,
    pub sql: Vec<String>,
}

pub async fn send(
    case: &Case,
    req: &Request,
    bearer: Option<&str>,
    base: &str,
    pg_port: u16,
) -> Outcome {
    let started = Instant::now();
    let mut out = match case.interface {
        Interface::Rest => rest(req, bearer, base).await,
        Interface::Graphql => graphql(req, bearer, base).await,
        Interface::Pgwire => pgwire(req, bearer, pg_port).await,
    };
    out.elapsed = started.elapsed();
    out
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("reqwest client")
}

async fn rest(req: &Request, bearer: Option<&str>, base: &str) -> Outcome {
    let c = http_client();
    let url = format!("{base}{}", req.path);
    let mut r = if req.method.eq_ignore_ascii_case("GET") {
        c.get(url)
    } else {
        c.post(url)
            .header("content-type", "application/json")
            .body(req.body.clone().unwrap_or_default())
    };
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let (status, text) = match r.send().await {
        Ok(resp) => {
            let s = resp.status().as_u16();
            (s, resp.text().await.unwrap_or_default())
        }
        Err(e) => return transport_error(e.to_string()),
    };
    let json: Option<Json> = serde_json::from_str(&text).ok();
    let mut out = Outcome {
        text: text.clone(),
        json: json.clone(),
        ..Default::default()
    };
    if status >= 400 {
        let j = json.unwrap_or(Json::Null);
        out.refused = Some(Refused {
            status: Some(status),
            code: j["code"].as_str().map(str::to_string),
            sqlstate: None,
            message: j["detail"].as_str().unwrap_or(&text).to_string(),
        });
    } else if let Some(rows) = json.as_ref().and_then(|j| j["rows"].as_array()) {
        out.rows = Some(
            rows.iter()
                .map(|r| {
                    r.as_array()
                        .map(|c| c.iter().map(cell).collect())
                        .unwrap_or_default()
                })
                .collect(),
        );
    }
    out
}

fn transport_error(e: String) -> Outcome {
    Outcome {
        refused: Some(Refused {
            status: None,
            code: Some("transport".into()),
            sqlstate: None,
            message: e.clone(),
        }),
        text: e,
        ..Default::default()
    }
}

async fn graphql(req: &Request, bearer: Option<&str>, base: &str) -> Outcome {
    let c = http_client();
    let query = req.graphql.clone().unwrap_or_default();
    let mut r = c
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query }));
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    let (status, text) = match r.send().await {
        Ok(resp) => {
            let s = resp.status().as_u16();
            (s, resp.text().await.unwrap_or_default())
        }
        Err(e) => return transport_error(e.to_string()),
    };
    let j: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
    let mut out = Outcome {
        text: text.clone(),
        json: Some(j.clone()),
        ..Default::default()
    };
    let first_error = j["errors"].as_array().and_then(|e| e.first()).cloned();
    if status >= 400 {
        out.refused = Some(Refused {
            status: Some(status),
            code: j["code"].as_str().map(str::to_string),
            sqlstate: None,
            message: j["detail"].as_str().unwrap_or(&text).to_string(),
        });
    } else if let Some(e) = first_error {
        out.refused = Some(Refused {
            status: e["extensions"]["status"].as_u64().map(|s| s as u16),
            code: e["extensions"]["code"].as_str().map(str::to_string),
            sqlstate: None,
            message: e["message"].as_str().unwrap_or_default().to_string(),
        });
    } else {
        out.rows = Some(graphql_rows(&j["data"]));
    }
    out
}

/// The rows of the first root field: a list of objects (a model field) or
/// one object; cells in field order.
fn graphql_rows(data: &Json) -> Vec<Vec<String>> {
    let Some((_, v)) = data.as_object().and_then(|o| o.iter().next()) else {
        return vec![];
    };
    let row = |r: &Json| -> Vec<String> {
        r.as_object()
            .map(|o| o.values().map(cell).collect())
            .unwrap_or_else(|| vec![cell(r)])
    };
    match v {
        Json::Array(a) => a.iter().map(row).collect(),
        other => vec![row(other)],
    }
}

async fn pgwire(req: &Request, bearer: Option<&str>, port: u16) -> Outcome {
    let password = bearer.unwrap_or("");
    let conn = format!(
        "host=127.0.0.1 port={port} user=attacker dbname=accord password='{}' connect_timeout=10",
        password.replace('\\', "\\\\").replace('\'', "\\'")
    );
    let client = match tokio_postgres::connect(&conn, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(e) => return pg_error(&e),
    };
    let mut last = Outcome::default();
    for sql in &req.sql {
        last = pg_statement(&client, sql).await;
        if last.refused.is_some() {
            break;
        }
    }
    last
}

fn pg_error(e: &tokio_postgres::Error) -> Outcome {
    let (sqlstate, message) = match e.as_db_error() {
        Some(db) => (
            Some(db.code().code().to_string()),
            format!(
                "{} {} {}",
                db.message(),
                db.detail().unwrap_or(""),
                db.hint().unwrap_or("")
            ),
        ),
        None => (None, e.to_string()),
    };
    Outcome {
        refused: Some(Refused {
            status: None,
            code: None,
            sqlstate,
            message: message.clone(),
        }),
        text: message,
        ..Default::default()
    }
}

/// One statement's rows (stopping after [`ROW_CAP`] + 1) or its error.
async fn pg_statement(client: &tokio_postgres::Client, sql: &str) -> Outcome {
    let stream = match client.simple_query_raw(sql).await {
        Ok(s) => s,
        Err(e) => return pg_error(&e),
    };
    futures::pin_mut!(stream);
    let mut rows = Vec::new();
    let mut text = String::new();
    while let Some(m) = stream.next().await {
        match m {
            Ok(SimpleQueryMessage::Row(r)) => {
                let cells: Vec<String> = (0..r.len())
                    .map(|i| r.get(i).map(text_cell).unwrap_or_else(|| "NULL".into()))
                    .collect();
                text.push_str(&cells.join("\t"));
                text.push('\n');
                rows.push(cells);
                if rows.len() > ROW_CAP {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => return pg_error(&e),
        }
    }
    Outcome {
        rows: Some(rows),
        text,
        ..Default::default()
    }
}

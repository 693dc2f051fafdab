//! The query protocols: simple (`Query`) and extended (Parse / Bind /
//! Describe / Execute / Sync, named and unnamed statements and portals,
//! text and binary parameters, `max_rows` with PortalSuspended — the
//! `pgwire` crate drives the messages, this module answers them).
//!
//! Every statement is one of: a session command (BEGIN, COMMIT, ROLLBACK,
//! SET, SHOW, RESET, DISCARD, …) answered here; a SELECT over exposed model
//! tables, translated into a semantic query and run through
//! [`crate::server::handlers::run_query`] (the cache, policies and consent of
//! REST); or anything else read-only, which is a catalog question for the
//! in-memory DuckDB catalog.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::sink::Sink;
use futures::stream;
use pgwire::api::auth::StartupHandler;
use pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldInfo, QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionManager, PgWireServerHandlers, Type};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use rust_decimal::Decimal;
use sqlparser::ast as sp;
use sqlparser::dialect::PostgreSqlDialect;

use super::auth::{JwtStartup, Session};
use super::catalog_db::SessionInfo;
use super::catalog_engine::{CatalogDbs, CatalogLimits};
use super::catalog_guard::Checked;
use super::cursor;
use super::encode::{Field, encode_rows, field_infos, pg_type};
use super::error::{
    INTERNAL, INVALID_AUTHORIZATION, STATEMENT_TOO_COMPLEX, SYNTAX_ERROR, SqlError, SqlResult,
};
use super::schema::{ColKind, Exposed, SchemaCache};
use super::translate;
use crate::sql::guard::Failure;
use crate::state::QueryService;
use crate::warehouse::Value;

/// A session command answered without a warehouse.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Begin,
    Commit,
    Rollback,
    Set(Vec<(String, String)>),
    /// `RESET name`, or `RESET ALL` (`None`): back to the defaults.
    Reset(Option<String>),
    Show(String),
    /// Accepted and ignored, with this command tag.
    Tag(String),
    /// Writes: accord is read-only.
    ReadOnly(String),
}

#[derive(Debug, Clone)]
pub enum Kind {
    Command(Command),
    /// A parsed statement (a query).
    Parsed(Box<sp::Statement>),
    /// Text the SQL parser could not read: tried on the catalog as is.
    Raw(String),
    /// `DECLARE … CURSOR FOR query`.
    Declare(Box<cursor::Declare>),
    /// `FETCH` / `MOVE`.
    Fetch(cursor::Fetch),
    /// `CLOSE name` (`None`: `CLOSE ALL`).
    Close(Option<String>),
}

/// A prepared statement.
#[derive(Debug)]
pub struct Prepared {
    pub sql: String,
    pub kind: Kind,
    /// Inferred parameter types (clients may give their own).
    pub param_types: Vec<Type>,
    /// Result columns as last described, so execution sends what the
    /// client was told.
    pub described: Mutex<Option<Vec<Field>>>,
}

pub type Statement = Arc<Prepared>;

/// A bound parameter as a SQL literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Number(String),
    Text(String),
    Bool(bool),
}

/// What one statement produced.
#[derive(Debug)]
pub enum Output {
    Rows {
        fields: Vec<Field>,
        rows: Vec<Vec<Value>>,
        tag: &'static str,
    },
    Tag(String),
    Begin,
    End(String),
}

pub struct Engine {
    pub state: Arc<QueryService>,
    pub schemas: Arc<SchemaCache>,
    pub catalogs: Arc<CatalogDbs>,
    parser: Arc<StmtParser>,
}

pub struct Handlers {
    engine: Arc<Engine>,
    startup: Arc<JwtStartup>,
    manager: Arc<ConnectionManager>,
}

impl Handlers {
    pub fn new(state: Arc<QueryService>, cert_pem: Option<&[u8]>) -> Result<Handlers, String> {
        let manager = Arc::new(ConnectionManager::new());
        let schemas = Arc::new(SchemaCache::default());
        let engine = Arc::new(Engine {
            parser: Arc::new(StmtParser {
                state: state.clone(),
                schemas: schemas.clone(),
            }),
            state: state.clone(),
            schemas,
            catalogs: Arc::new(CatalogDbs::new(CatalogLimits::from_config(&state.config))),
        });
        Ok(Handlers {
            engine,
            startup: Arc::new(JwtStartup::new(state, manager.clone(), cert_pem)?),
            manager,
        })
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.engine.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.engine.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::new(DefaultCancelHandler::new(self.manager.clone()))
    }
}

// ---------------------------------------------------------------------------
// Splitting and classifying

/// Splits a query string into statements at top-level semicolons
/// (respecting quotes, dollar quotes and comments).
pub fn split_statements(sql: &str) -> Vec<String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'$' => {
                // $tag$ … $tag$
                let rest = &sql[i..];
                let tag_end = rest[1..].find('$').map(|p| p + 2);
                match tag_end {
                    Some(end)
                        if rest[1..end - 1]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && !rest[1..end - 1].starts_with(|c: char| c.is_ascii_digit()) =>
                    {
                        let tag = &rest[..end];
                        match rest[end..].find(tag) {
                            Some(close) => i += end + close + tag.len(),
                            None => i = b.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            b';' => {
                out.push(sql[start..i].to_string());
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        out.push(sql[start..].to_string());
    }
    out.into_iter()
        .filter(|s| !strip_comments(s).trim().is_empty())
        .collect()
}

/// The statement without leading comments and whitespace.
fn strip_comments(s: &str) -> &str {
    let mut t = s.trim_start();
    loop {
        if let Some(rest) = t.strip_prefix("--") {
            t = rest
                .split_once('\n')
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(rest) = t.strip_prefix("/*") {
            t = rest
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else {
            return t;
        }
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('\'') && v.ends_with('\'')) || (v.starts_with('"') && v.ends_with('"')))
    {
        v[1..v.len() - 1].replace("''", "'")
    } else {
        v.to_string()
    }
}

fn parse_set(rest: &str) -> Vec<(String, String)> {
    let rest = rest.trim().trim_end_matches(';').trim();
    let lower = rest.to_ascii_lowercase();
    let rest = if lower.starts_with("session ") && !lower.starts_with("session characteristics") {
        &rest[8..]
    } else if lower.starts_with("local ") {
        &rest[6..]
    } else {
        rest
    };
    let lower = rest.to_ascii_lowercase();
    if let Some(v) = lower.strip_prefix("time zone") {
        return vec![("timezone".into(), unquote(&rest[rest.len() - v.len()..]))];
    }
    if lower.starts_with("transaction") || lower.starts_with("session characteristics") {
        return vec![];
    }
    if lower.starts_with("names ") {
        return vec![("client_encoding".into(), unquote(&rest[6..]))];
    }
    let (name, value) = match rest.find('=') {
        Some(p) => (&rest[..p], &rest[p + 1..]),
        None => match lower.find(" to ") {
            Some(p) => (&rest[..p], &rest[p + 4..]),
            None => (rest, ""),
        },
    };
    let value = value.split(',').map(unquote).collect::<Vec<_>>().join(", ");
    vec![(name.trim().trim_matches('"').to_ascii_lowercase(), value)]
}

/// Classifies one statement's text.
pub fn classify(sql: &str) -> SqlResult<Kind> {
    let text = strip_comments(sql).trim().trim_end_matches(';').trim();
    let lower = text.to_ascii_lowercase();
    let first = lower
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .next()
        .unwrap_or("");
    let command = match first {
        "begin" | "start" => Some(Command::Begin),
        "commit" | "end" => Some(Command::Commit),
        "rollback" | "abort" if !lower.contains(" to ") => Some(Command::Rollback),
        "rollback" => Some(Command::Tag("ROLLBACK".into())),
        "set" => Some(Command::Set(parse_set(&text[3..]))),
        "reset" => Some(Command::Reset(
            match text[5..].trim().trim_end_matches(';').trim() {
                all if all.eq_ignore_ascii_case("all") => None,
                name => Some(name.to_ascii_lowercase()),
            },
        )),
        "discard" => Some(Command::Tag(format!(
            "DISCARD {}",
            text[7..].trim().to_ascii_uppercase()
        ))),
        "deallocate" => Some(Command::Tag("DEALLOCATE".into())),
        "savepoint" => Some(Command::Tag("SAVEPOINT".into())),
        "release" => Some(Command::Tag("RELEASE".into())),
        "listen" => Some(Command::Tag("LISTEN".into())),
        "unlisten" => Some(Command::Tag("UNLISTEN".into())),
        "show" => Some(Command::Show(
            text[4..].trim().trim_matches('"').to_ascii_lowercase(),
        )),
        "insert" | "update" | "delete" | "merge" | "create" | "drop" | "alter" | "truncate"
        | "grant" | "revoke" | "copy" | "vacuum" | "analyze" | "cluster" | "reindex"
        | "comment" | "lock" | "call" | "do" | "refresh" | "import" => {
            Some(Command::ReadOnly(first.to_ascii_uppercase()))
        }
        _ => None,
    };
    if let Some(c) = command {
        return Ok(Kind::Command(c));
    }
    match first {
        "declare" => return Ok(Kind::Declare(Box::new(cursor::parse_declare(text)?))),
        "fetch" | "move" => return Ok(Kind::Fetch(cursor::parse_fetch(text)?)),
        "close" => return Ok(Kind::Close(cursor::parse_close(text)?)),
        _ => {}
    }
    // The one entry of every statement: bounded size and depth before any
    // translation, catalog rewrite or clone walks the tree.
    match crate::sql::guard::parse_statements(&PostgreSqlDialect {}, text, "the statement") {
        Err(Failure::TooComplex(m)) => Err(SqlError::new(STATEMENT_TOO_COMPLEX, m)),
        Ok(mut stmts) if stmts.len() == 1 => {
            let stmt = stmts.remove(0);
            match &stmt {
                sp::Statement::Query(_) => Ok(Kind::Parsed(Box::new(stmt))),
                sp::Statement::Explain { .. } | sp::Statement::ExplainTable { .. } => {
                    Err(SqlError::unsupported(
                        "EXPLAIN is not supported",
                        "POST /v1/compile shows the SQL accord runs",
                    ))
                }
                _ => Err(SqlError::unsupported(
                    format!(
                        "statement `{}` is not supported",
                        first.to_ascii_uppercase()
                    ),
                    "accord answers SELECT over its models and catalog queries",
                )),
            }
        }
        Ok(_) => Err(SqlError::new(SYNTAX_ERROR, "expected one statement")),
        Err(Failure::Syntax(e)) => {
            if first == "select" || first == "with" || first == "values" || first == "table" {
                // The catalog engine may still read it (psql's and JDBC's
                // own dialect corners).
                Ok(Kind::Raw(text.to_string()))
            } else {
                Err(SqlError::new(SYNTAX_ERROR, format!("syntax error: {e}")))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Parameters

fn max_placeholder(stmt: &sp::Statement) -> usize {
    let mut n = 0;
    let _ = sp::visit_expressions(stmt, |e| {
        if let sp::Expr::Value(v) = e
            && let sp::Value::Placeholder(p) = &v.value
            && let Some(i) = p.strip_prefix('$').and_then(|x| x.parse::<usize>().ok())
        {
            n = n.max(i);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    n
}

fn placeholder_index(e: &sp::Expr) -> Option<usize> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        },
        sp::Expr::Cast { expr, .. } | sp::Expr::Nested(expr) => placeholder_index(expr),
        _ => None,
    }
}

/// Parameter types a statement implies: LIMIT/OFFSET are integers, a
/// parameter compared with a column takes its type; anything else is text.
fn infer_param_types(stmt: &sp::Statement, exposed: Option<&Exposed>) -> Vec<Type> {
    let n = max_placeholder(stmt);
    let mut types = vec![Type::TEXT; n];
    let sp::Statement::Query(q) = stmt else {
        return types;
    };
    let mut set = |idx: Option<usize>, t: Type| {
        if let Some(i) = idx
            && i >= 1
            && i <= n
        {
            types[i - 1] = t;
        }
    };
    if let Some(sp::LimitClause::LimitOffset { limit, offset, .. }) = &q.limit_clause {
        if let Some(l) = limit {
            set(placeholder_index(l), Type::INT8);
        }
        if let Some(o) = offset {
            set(placeholder_index(&o.value), Type::INT8);
        }
    }
    let table = exposed.and_then(|ex| {
        let mut found = None;
        let _ = sp::visit_relations(q.as_ref(), |name| {
            if let Some(last) = name.0.last().and_then(|p| p.as_ident())
                && let Some(t) = ex.table(&last.value)
            {
                found = Some(t);
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        found
    });
    if let Some(table) = table {
        let col_type = |e: &sp::Expr| -> Option<Type> {
            let name = match e {
                sp::Expr::Identifier(i) => i.value.clone(),
                sp::Expr::CompoundIdentifier(v) => v.last()?.value.clone(),
                _ => return None,
            };
            let c = table.column(&name)?;
            Some(match c.kind {
                ColKind::Metric { .. } | ColKind::Dimension { .. } => pg_type(c.ty),
            })
        };
        let _ = sp::visit_expressions(q.as_ref(), |e| {
            match e {
                sp::Expr::BinaryOp { left, right, .. } => {
                    if let Some(t) = col_type(left) {
                        set(placeholder_index(right), t);
                    } else if let Some(t) = col_type(right) {
                        set(placeholder_index(left), t);
                    }
                }
                sp::Expr::In {
                    expr,
                    target: sp::InTarget::List(list),
                    ..
                } => {
                    if let Some(t) = col_type(expr) {
                        for x in list {
                            set(placeholder_index(x), t.clone());
                        }
                    }
                }
                sp::Expr::Between {
                    expr, low, high, ..
                } => {
                    if let Some(t) = col_type(expr) {
                        set(placeholder_index(low), t.clone());
                        set(placeholder_index(high), t);
                    }
                }
                _ => {}
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
    types
}

fn decode_params(portal: &Portal<Statement>) -> SqlResult<Vec<Param>> {
    let prepared = &portal.statement.statement;
    let mut out = Vec::with_capacity(portal.parameter_len());
    for i in 0..portal.parameter_len() {
        let ty = portal
            .statement
            .parameter_types
            .get(i)
            .cloned()
            .flatten()
            .filter(|t| *t != Type::UNKNOWN)
            .or_else(|| prepared.param_types.get(i).cloned())
            .unwrap_or(Type::TEXT);
        let Some(raw) = portal.parameters.get(i).cloned().flatten() else {
            out.push(Param::Null);
            continue;
        };
        let bad = |e: String| SqlError::new("22P02", format!("parameter ${}: {e}", i + 1));
        let p = if portal.parameter_format.is_binary(i) {
            let get = |r: PgWireResult<Option<Param>>| r.map_err(|e| bad(e.to_string()));
            let v: Option<Param> = match ty {
                Type::INT2 => get(portal
                    .parameter::<i16>(i, &ty)
                    .map(|v| v.map(|x| Param::Number(x.to_string()))))?,
                Type::INT4 => get(portal
                    .parameter::<i32>(i, &ty)
                    .map(|v| v.map(|x| Param::Number(x.to_string()))))?,
                Type::INT8 => get(portal
                    .parameter::<i64>(i, &ty)
                    .map(|v| v.map(|x| Param::Number(x.to_string()))))?,
                Type::FLOAT4 => get(portal
                    .parameter::<f32>(i, &ty)
                    .map(|v| v.map(|x| Param::Number(x.to_string()))))?,
                Type::FLOAT8 => get(portal
                    .parameter::<f64>(i, &ty)
                    .map(|v| v.map(|x| Param::Number(x.to_string()))))?,
                Type::NUMERIC => get(portal
                    .parameter::<Decimal>(i, &ty)
                    .map(|v| v.map(|x| Param::Number(x.to_string()))))?,
                Type::BOOL => get(portal.parameter::<bool>(i, &ty).map(|v| v.map(Param::Bool)))?,
                Type::DATE => get(portal
                    .parameter::<chrono::NaiveDate>(i, &ty)
                    .map(|v| v.map(|x| Param::Text(x.to_string()))))?,
                Type::TIMESTAMP => {
                    get(portal.parameter::<chrono::NaiveDateTime>(i, &ty).map(|v| {
                        v.map(|x| Param::Text(x.format("%Y-%m-%d %H:%M:%S%.f").to_string()))
                    }))?
                }
                Type::TIMESTAMPTZ => get(portal
                    .parameter::<chrono::DateTime<chrono::FixedOffset>>(i, &ty)
                    .map(|v| {
                        v.map(|x| {
                            Param::Text(x.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
                        })
                    }))?,
                _ => Some(Param::Text(
                    String::from_utf8(raw.to_vec()).map_err(|_| bad("not UTF-8".into()))?,
                )),
            };
            v.unwrap_or(Param::Null)
        } else {
            let text = String::from_utf8(raw.to_vec()).map_err(|_| bad("not UTF-8".into()))?;
            match ty {
                Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::OID
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::NUMERIC => {
                    let t = text.trim();
                    if t.parse::<f64>().is_err() {
                        return Err(bad(format!("`{t}` is not a number")));
                    }
                    Param::Number(t.to_string())
                }
                Type::BOOL => Param::Bool(matches!(
                    text.trim().to_ascii_lowercase().as_str(),
                    "t" | "true" | "1" | "yes" | "on"
                )),
                _ => Param::Text(text),
            }
        };
        out.push(p);
    }
    Ok(out)
}

/// Replaces `$n` with the bound literal (numbers were checked to be
/// numbers; text becomes a quoted string).
fn bind(stmt: &sp::Statement, params: Option<&[Param]>) -> sp::Statement {
    let mut s = stmt.clone();
    let _ = sp::visit_expressions_mut(&mut s, |e| {
        if let Some(i) = placeholder_index_direct(e) {
            let p = params
                .and_then(|ps| ps.get(i.wrapping_sub(1)).cloned())
                .unwrap_or(Param::Null);
            *e = match p {
                Param::Null => sp::Expr::value(sp::Value::Null),
                Param::Number(n) => sp::Expr::value(sp::Value::Number(n, false)),
                Param::Text(t) => sp::Expr::value(sp::Value::SingleQuotedString(t)),
                Param::Bool(b) => sp::Expr::value(sp::Value::Boolean(b)),
            };
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    s
}

fn placeholder_index_direct(e: &sp::Expr) -> Option<usize> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        },
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Execution

fn session_of<C: ClientInfo>(client: &C) -> SqlResult<(Arc<Session>, SessionInfo)> {
    let session = client
        .session_extensions()
        .get::<Arc<Session>>()
        .map(|s| (*s).clone())
        .ok_or_else(|| SqlError::new(INVALID_AUTHORIZATION, "not authenticated"))?;
    let md = client.metadata();
    let info = SessionInfo {
        user: session.user.clone(),
        database: md
            .get(pgwire::api::METADATA_DATABASE)
            .cloned()
            .unwrap_or_else(|| session.user.clone()),
        application_name: md
            .get(pgwire::api::METADATA_APPLICATION_NAME)
            .cloned()
            .unwrap_or_default(),
        pid: client.pid_and_secret_key().0,
    };
    Ok((session, info))
}

impl Engine {
    fn exposed(&self, session: &Session) -> Arc<Exposed> {
        self.schemas.get(&self.state.catalog(), &session.caller())
    }

    fn show(&self, session: &Session, info: &SessionInfo, name: &str) -> SqlResult<Output> {
        let name = match name.trim().to_ascii_lowercase().as_str() {
            "transaction isolation level" => "transaction_isolation".to_string(),
            "time zone" => "timezone".to_string(),
            other => other.to_string(),
        };
        let value = match name.as_str() {
            "application_name" => Some(
                session
                    .setting(&name)
                    .unwrap_or_else(|| info.application_name.clone()),
            ),
            "session_authorization" => Some(info.user.clone()),
            "ssl" => Some(
                if self.state.config.pg.tls.is_some() {
                    "on"
                } else {
                    "off"
                }
                .to_string(),
            ),
            _ => session.setting(&name).or_else(|| {
                super::catalog_db::SETTINGS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }),
        };
        let value = value.ok_or_else(|| {
            SqlError::new(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })?;
        Ok(Output::Rows {
            fields: vec![Field {
                name: name.clone(),
                ty: Type::TEXT,
            }],
            rows: vec![vec![Value::Text(value)]],
            tag: "SHOW",
        })
    }

    async fn run_command(
        &self,
        session: &Session,
        info: &SessionInfo,
        c: &Command,
    ) -> SqlResult<Output> {
        Ok(match c {
            Command::Begin => {
                session.cursors.begin();
                Output::Begin
            }
            Command::Commit => {
                session.cursors.commit();
                Output::End("COMMIT".into())
            }
            Command::Rollback => {
                session.cursors.rollback();
                Output::End("ROLLBACK".into())
            }
            Command::Set(pairs) => {
                for (k, v) in pairs {
                    session.set(k, v);
                }
                Output::Tag("SET".into())
            }
            Command::Reset(name) => {
                session.reset(name.as_deref());
                Output::Tag("RESET".into())
            }
            Command::Show(name) => return self.show(session, info, name),
            Command::Tag(t) => {
                if t == "DISCARD ALL" {
                    session.cursors.discard();
                    session.reset(None);
                }
                Output::Tag(t.clone())
            }
            Command::ReadOnly(what) => {
                return Err(SqlError::new(
                    "25006",
                    format!("cannot execute {what}: accord is a read-only semantic layer"),
                )
                .hint(
                    "change metrics and models in the definitions (metric_defs/), not over SQL",
                ));
            }
        })
    }

    /// Output columns of a statement, without running a semantic query.
    async fn describe(
        &self,
        session: &Session,
        info: &SessionInfo,
        prepared: &Prepared,
        params: Option<&[Param]>,
    ) -> SqlResult<Vec<Field>> {
        let fields = match &prepared.kind {
            Kind::Command(Command::Show(name)) => vec![Field {
                name: name.clone(),
                ty: Type::TEXT,
            }],
            Kind::Command(_) | Kind::Declare(_) | Kind::Close(_) => vec![],
            Kind::Fetch(f) if f.move_only => vec![],
            Kind::Fetch(f) => session.cursors.fields(&f.name)?,
            Kind::Parsed(stmt) => {
                let bound = bind(stmt, params);
                let exposed = self.exposed(session);
                match &bound {
                    sp::Statement::Query(q) if translate::references_model(q, &exposed) => {
                        let t = translate::translate(q, &exposed)?;
                        semantic_fields(&t)
                    }
                    _ => {
                        let checked = self.catalog_statement(&exposed, info, &bound)?;
                        self.run_catalog(&exposed, info, &checked).await?.0
                    }
                }
            }
            Kind::Raw(sql) => {
                let exposed = self.exposed(session);
                let checked = self.catalog_text(&exposed, info, sql)?;
                self.run_catalog(&exposed, info, &checked).await?.0
            }
        };
        if let Ok(mut d) = prepared.described.lock() {
            *d = Some(fields.clone());
        }
        Ok(fields)
    }

    /// A parsed statement for the catalog engine: rewritten to the
    /// catalog's spelling, then through its allow-list.
    fn catalog_statement(
        &self,
        exposed: &Exposed,
        info: &SessionInfo,
        stmt: &sp::Statement,
    ) -> SqlResult<Checked> {
        let mut s = stmt.clone();
        super::catalog_db::rewrite(&mut s, info);
        self.catalogs
            .check(s, exposed)
            .inspect_err(|e| refused(info, e))
    }

    /// Text the PostgreSQL parser could not read, for the catalog engine.
    fn catalog_text(&self, exposed: &Exposed, info: &SessionInfo, sql: &str) -> SqlResult<Checked> {
        self.catalogs
            .check_text(&super::catalog_db::rewrite_text(sql), exposed)
            .inspect_err(|e| refused(info, e))
    }

    async fn run_catalog(
        &self,
        exposed: &Arc<Exposed>,
        info: &SessionInfo,
        sql: &Checked,
    ) -> SqlResult<(Vec<Field>, Vec<Vec<Value>>)> {
        let catalogs = self.catalogs.clone();
        let exposed = exposed.clone();
        let info = info.clone();
        let sql = sql.clone();
        tokio::task::spawn_blocking(move || catalogs.run(&exposed, &info, &sql))
            .await
            .map_err(|e| SqlError::new(INTERNAL, format!("catalog query panicked: {e}")))?
    }

    /// Runs one statement.
    pub async fn run(
        &self,
        session: &Session,
        info: &SessionInfo,
        prepared: &Prepared,
        params: Option<&[Param]>,
    ) -> SqlResult<Output> {
        match &prepared.kind {
            Kind::Command(c) => self.run_command(session, info, c).await,
            Kind::Raw(sql) => {
                let exposed = self.exposed(session);
                let checked = self.catalog_text(&exposed, info, sql)?;
                let (fields, rows) = self.run_catalog(&exposed, info, &checked).await?;
                Ok(Output::Rows {
                    fields: described_or(prepared, fields),
                    rows,
                    tag: "SELECT",
                })
            }
            Kind::Parsed(stmt) => {
                let (fields, rows) = self.run_select(session, info, stmt, params).await?;
                Ok(Output::Rows {
                    fields: described_or(prepared, fields),
                    rows,
                    tag: "SELECT",
                })
            }
            Kind::Declare(d) => {
                session.cursors.check_declare(d)?;
                let (fields, rows) = self.run_select(session, info, &d.query, params).await?;
                session.cursors.declare(d, fields, rows)?;
                Ok(Output::Tag("DECLARE CURSOR".into()))
            }
            Kind::Fetch(f) => {
                let (fields, rows, count) = session.cursors.fetch(f)?;
                if f.move_only {
                    Ok(Output::Tag(format!("MOVE {count}")))
                } else {
                    Ok(Output::Rows {
                        fields: described_or(prepared, fields),
                        rows,
                        tag: "FETCH",
                    })
                }
            }
            Kind::Close(name) => {
                session.cursors.close(name.as_deref())?;
                Ok(Output::Tag(
                    if name.is_some() {
                        "CLOSE CURSOR"
                    } else {
                        "CLOSE CURSOR ALL"
                    }
                    .into(),
                ))
            }
        }
    }

    /// Runs a query: a semantic query over model tables (the cache,
    /// policies and consent of REST) or a catalog question.
    async fn run_select(
        &self,
        session: &Session,
        info: &SessionInfo,
        stmt: &sp::Statement,
        params: Option<&[Param]>,
    ) -> SqlResult<(Vec<Field>, Vec<Vec<Value>>)> {
        let bound = bind(stmt, params);
        let caller = session.caller();
        let catalog = self.state.catalog();
        let exposed = self.schemas.get(&catalog, &caller);
        if let (Some(why), sp::Statement::Query(q)) = (&exposed.denied, &bound)
            && translate::references_user_relation(q)
        {
            // A refusal keeps its class: no usable role is a privilege
            // error, an unknown purpose the caller's mistake (as on REST).
            return Err(match why.code {
                crate::planner::ErrorCode::Forbidden => SqlError::new(
                    super::error::INSUFFICIENT_PRIVILEGE,
                    format!("permission denied: {}", why.message),
                ),
                _ => SqlError::from(why.clone()),
            });
        }
        match &bound {
            sp::Statement::Query(q) if translate::references_model(q, &exposed) => {
                let mut t = translate::translate(q, &exposed)?;
                // `SET accord.time_zone` / `accord.week_start`: the session's
                // periods, as a REST query's `time_zone` / `week_start`
                // (an invalid value is refused by the planner, naming it).
                let setting = |name: &str| session.setting(name).filter(|v| !v.is_empty());
                t.query.time_zone = setting("accord.time_zone");
                t.query.week_start = setting("accord.week_start");
                let fields = semantic_fields(&t);
                if t.empty {
                    return Ok((fields, vec![]));
                }
                let executed = self
                    .state
                    .answer(&t.query, &caller)
                    .await
                    .map_err(SqlError::from)?
                    .executed;
                if executed.result.truncated {
                    return Err(SqlError::new(
                        "54000",
                        format!(
                            "the answer has more than {} rows, the server's row limit",
                            self.state.config.max_rows
                        ),
                    )
                    .hint("page with LIMIT and OFFSET, or group by fewer dimensions"));
                }
                let rows = executed
                    .result
                    .rows
                    .iter()
                    .map(|r| {
                        t.outputs
                            .iter()
                            .map(|(_, i)| r.get(*i).cloned().unwrap_or(Value::Null))
                            .collect()
                    })
                    .collect();
                Ok((fields, rows))
            }
            _ => {
                let checked = self.catalog_statement(&exposed, info, &bound)?;
                self.run_catalog(&exposed, info, &checked).await
            }
        }
    }
}

/// Logs a statement the catalog's allow-list refused.
fn refused(info: &SessionInfo, e: &SqlError) {
    tracing::warn!(pid = info.pid, user = %info.user, code = e.code, error = %e.message, "catalog statement refused");
}

fn described_or(prepared: &Prepared, fields: Vec<Field>) -> Vec<Field> {
    match prepared.described.lock().ok().and_then(|d| d.clone()) {
        Some(d) if d.len() == fields.len() => d
            .into_iter()
            .zip(fields)
            .map(|(d, f)| Field {
                name: f.name,
                ty: d.ty,
            })
            .collect(),
        _ => fields,
    }
}

fn semantic_fields(t: &translate::Translated) -> Vec<Field> {
    t.outputs
        .iter()
        .zip(&t.types)
        .map(|((name, _), ty)| Field {
            name: name.clone(),
            ty: pg_type(*ty),
        })
        .collect()
}

fn to_response(out: Output, format: &Format) -> PgWireResult<Response> {
    Ok(match out {
        Output::Rows { fields, rows, tag } => {
            let infos = Arc::new(field_infos(&fields, format));
            let encoded = encode_rows(&fields, infos.clone(), &rows)?;
            let mut resp = QueryResponse::new(infos, stream::iter(encoded.into_iter().map(Ok)));
            resp.set_command_tag(tag);
            Response::Query(resp)
        }
        Output::Tag(t) => Response::Execution(Tag::new(&t)),
        Output::Begin => Response::TransactionStart(Tag::new("BEGIN")),
        Output::End(t) => Response::TransactionEnd(Tag::new(&t)),
    })
}

fn prepare(sql: &str, exposed: Option<&Exposed>) -> SqlResult<Prepared> {
    let kind = classify(sql)?;
    let param_types = match &kind {
        Kind::Parsed(stmt) => infer_param_types(stmt, exposed),
        Kind::Declare(d) => infer_param_types(&d.query, exposed),
        _ => vec![],
    };
    Ok(Prepared {
        sql: sql.to_string(),
        kind,
        param_types,
        described: Mutex::new(None),
    })
}

#[async_trait]
impl SimpleQueryHandler for Engine {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (session, info) = session_of(client)?;
        let mut out = Vec::new();
        let statements = split_statements(query);
        // Several statements in one Query share an implicit transaction
        // block, as in PostgreSQL (a cursor without HOLD lives through it).
        let implicit = statements.len() > 1;
        if implicit {
            session.cursors.begin_implicit();
        }
        for text in statements {
            let result = async {
                let prepared = prepare(&text, None)?;
                self.run(&session, &info, &prepared, None).await
            }
            .await;
            match result {
                Ok(o) => out.push(to_response(o, &Format::UnifiedText)?),
                Err(e) => {
                    tracing::debug!(sql = %text, code = e.code, error = %e.message, "pgwire statement failed");
                    out.push(Response::Error(Box::new(e.info())));
                    break;
                }
            }
        }
        if implicit {
            session.cursors.end_implicit();
        }
        if out.is_empty() {
            out.push(Response::EmptyQuery);
        }
        Ok(out)
    }
}

pub struct StmtParser {
    state: Arc<QueryService>,
    schemas: Arc<SchemaCache>,
}

#[async_trait]
impl QueryParser for StmtParser {
    type Statement = Statement;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let statements = split_statements(sql);
        let text = match statements.as_slice() {
            [] => return Ok(None),
            [one] => one.clone(),
            _ => {
                return Err(SqlError::new(
                    SYNTAX_ERROR,
                    "cannot insert multiple commands into a prepared statement",
                )
                .into());
            }
        };
        let exposed = client
            .session_extensions()
            .get::<Arc<Session>>()
            .map(|s| self.schemas.get(&self.state.catalog(), &s.caller()));
        let prepared = prepare(&text, exposed.as_deref())?;
        // Validate a semantic query at Parse, as PostgreSQL does.
        if let (Kind::Parsed(stmt), Some(ex)) = (&prepared.kind, exposed.as_deref())
            && let sp::Statement::Query(q) = bind(stmt, None)
            && translate::references_model(&q, ex)
        {
            translate::translate(&q, ex)?;
        }
        Ok(Some(Arc::new(prepared)))
    }

    fn get_parameter_types(&self, stmt: &Self::Statement) -> PgWireResult<Vec<Type>> {
        Ok(stmt.param_types.clone())
    }

    fn get_result_schema(
        &self,
        stmt: &Self::Statement,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let fields = stmt
            .described
            .lock()
            .ok()
            .and_then(|d| d.clone())
            .unwrap_or_default();
        Ok(field_infos(
            &fields,
            column_format.unwrap_or(&Format::UnifiedText),
        ))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Engine {
    type Statement = Statement;
    type QueryParser = StmtParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_describe_statement<C>(
        &self,
        client: &mut C,
        target: &StoredStatement<Self::Statement>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (session, info) = session_of(client)?;
        let prepared = &target.statement;
        let n = prepared.param_types.len().max(target.parameter_types.len());
        let param_types: Vec<Type> = (0..n)
            .map(|i| {
                target
                    .parameter_types
                    .get(i)
                    .cloned()
                    .flatten()
                    .filter(|t| *t != Type::UNKNOWN)
                    .or_else(|| prepared.param_types.get(i).cloned())
                    .unwrap_or(Type::TEXT)
            })
            .collect();
        let fields = self.describe(&session, &info, prepared, None).await?;
        Ok(DescribeStatementResponse::new(
            param_types,
            field_infos(&fields, &Format::UnifiedText),
        ))
    }

    async fn do_describe_portal<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (session, info) = session_of(client)?;
        let params = decode_params(portal)?;
        let fields = self
            .describe(&session, &info, &portal.statement.statement, Some(&params))
            .await?;
        Ok(DescribePortalResponse::new(field_infos(
            &fields,
            &portal.result_column_format,
        )))
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (session, info) = session_of(client)?;
        let params = decode_params(portal)?;
        let out = self
            .run(&session, &info, &portal.statement.statement, Some(&params))
            .await
            .inspect_err(|e| {
                tracing::debug!(sql = %portal.statement.statement.sql, code = e.code, error = %e.message, "pgwire statement failed");
            })?;
        to_response(out, &portal.result_column_format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements() {
        assert_eq!(
            split_statements("BEGIN; SELECT ';' AS x; -- c\n SELECT $$a;b$$;"),
            vec!["BEGIN", " SELECT ';' AS x", " -- c\n SELECT $$a;b$$"]
        );
        assert!(split_statements(" ; -- nothing\n").is_empty());
    }

    #[test]
    fn classifies_commands() {
        assert!(matches!(
            classify("begin").unwrap(),
            Kind::Command(Command::Begin)
        ));
        assert!(matches!(
            classify("SET extra_float_digits = 3").unwrap(),
            Kind::Command(Command::Set(v)) if v == vec![("extra_float_digits".to_string(), "3".to_string())]
        ));
        assert!(matches!(
            classify("SET application_name TO 'x'").unwrap(),
            Kind::Command(Command::Set(v)) if v == vec![("application_name".to_string(), "x".to_string())]
        ));
        assert!(
            matches!(classify("show search_path").unwrap(), Kind::Command(Command::Show(n)) if n == "search_path")
        );
        assert!(matches!(
            classify("DELETE FROM orders").unwrap(),
            Kind::Command(Command::ReadOnly(_))
        ));
        assert!(matches!(classify("SELECT 1").unwrap(), Kind::Parsed(_)));
    }

    #[test]
    fn binds_parameters_as_literals() {
        let Kind::Parsed(stmt) = classify("SELECT a FROM t WHERE a = $1 LIMIT $2").unwrap() else {
            panic!()
        };
        let bound = bind(
            &stmt,
            Some(&[Param::Text("it's".into()), Param::Number("5".into())]),
        );
        assert_eq!(
            bound.to_string(),
            "SELECT a FROM t WHERE a = 'it''s' LIMIT 5"
        );
    }
}

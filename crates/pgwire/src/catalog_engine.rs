//! The DuckDB that answers catalog questions: one in-memory database per
//! visibility (built by [`super::catalog_db::build_sql`]), locked down
//! after it is built, and run under limits.
//!
//! - Hardened: no external access (files, network, replacement scans),
//!   no extension installs or loads, one thread, a memory limit, no temp
//!   directory to spill to, and the configuration locked so no statement
//!   can undo any of it.
//! - Nothing persists: every query runs on a fresh connection inside a
//!   transaction that is always rolled back, so even a write that got past
//!   the allow-list ([`super::catalog_guard`]) is seen by no one.
//! - Limits: only [`Checked`] SQL runs (statement size and row cap applied
//!   there); a watchdog interrupts a statement past its time (57014); more
//!   rows than the cap is 54000, as on the governed path.
//! - Errors: the caller gets a SQLSTATE and a short safe message; DuckDB's
//!   own text (which can quote the rewritten SQL) goes to the server log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlparser::ast as sp;

use super::catalog_db::SessionInfo;
use super::catalog_guard::{self, Checked};
use super::encode::Field;
use super::error::{SqlError, SqlResult};
use super::schema::Exposed;
use crate::warehouse::Value;

/// The longest a catalog statement may run, whatever the warehouse's
/// timeout: catalog questions read a few small tables.
pub const MAX_CATALOG_TIMEOUT: Duration = Duration::from_secs(10);

/// DuckDB memory for one catalog database.
pub const CATALOG_MEMORY_LIMIT: &str = "256MB";

/// Limits of the catalog engine.
#[derive(Debug, Clone, Copy)]
pub struct CatalogLimits {
    /// Longest statement, in bytes (the server's request body limit).
    pub max_sql_bytes: usize,
    /// Most rows an answer has (the server's row limit).
    pub max_rows: usize,
    /// Statement timeout.
    pub timeout: Duration,
}

impl Default for CatalogLimits {
    fn default() -> Self {
        CatalogLimits {
            max_sql_bytes: 64 << 10,
            max_rows: 10_000,
            timeout: MAX_CATALOG_TIMEOUT,
        }
    }
}

impl CatalogLimits {
    /// The server's `limits:`: body size, row limit, and its query timeout
    /// capped at [`MAX_CATALOG_TIMEOUT`].
    pub fn from_config(c: &crate::ServeConfig) -> CatalogLimits {
        CatalogLimits {
            max_sql_bytes: c.max_body_bytes,
            max_rows: c.max_rows,
            timeout: c.query_timeout.min(MAX_CATALOG_TIMEOUT),
        }
    }
}

/// Built catalogs by visibility fingerprint.
#[derive(Default)]
pub struct CatalogDbs {
    limits: CatalogLimits,
    #[cfg(feature = "duckdb")]
    dbs: Mutex<HashMap<String, Arc<Mutex<duckdb::Connection>>>>,
    #[cfg(not(feature = "duckdb"))]
    _none: Mutex<HashMap<String, Arc<()>>>,
}

impl CatalogDbs {
    pub fn new(limits: CatalogLimits) -> CatalogDbs {
        CatalogDbs {
            limits,
            ..Default::default()
        }
    }

    pub fn limits(&self) -> CatalogLimits {
        self.limits
    }

    /// A rewritten statement through the allow-list.
    pub fn check(&self, stmt: sp::Statement, exposed: &Exposed) -> SqlResult<Checked> {
        catalog_guard::check(
            stmt,
            exposed,
            self.limits.max_sql_bytes,
            self.limits.max_rows,
        )
    }

    /// Text-rewritten SQL the PostgreSQL parser could not read, through
    /// the allow-list.
    pub fn check_text(&self, sql: &str, exposed: &Exposed) -> SqlResult<Checked> {
        catalog_guard::check_text(
            sql,
            exposed,
            self.limits.max_sql_bytes,
            self.limits.max_rows,
        )
    }

    /// Runs a checked catalog query for one session.
    pub fn run(
        &self,
        exposed: &Exposed,
        session: &SessionInfo,
        sql: &Checked,
    ) -> SqlResult<(Vec<Field>, Vec<Vec<Value>>)> {
        self.run_sql(exposed, session, sql.sql())
    }
}

#[cfg(feature = "duckdb")]
fn lock_poisoned() -> SqlError {
    SqlError::new(super::error::INTERNAL, "catalog lock poisoned")
}

#[cfg(feature = "duckdb")]
/// The caller's error for DuckDB's `text`, which is logged, never sent.
fn safe_error(session: &SessionInfo, text: &str) -> SqlError {
    tracing::warn!(pid = session.pid, user = %session.user, error = %text, "catalog query failed");
    use super::error as code;
    let (c, message): (&'static str, String) = if text.contains("Parser Error") {
        (
            code::SYNTAX_ERROR,
            "syntax error in the catalog query".into(),
        )
    } else if text.contains("Table with name")
        || text.contains("Schema with name")
        || text.contains("Catalog with name")
    {
        (
            code::UNDEFINED_TABLE,
            "the catalog query names a relation that does not exist".into(),
        )
    } else if text.contains("Referenced column")
        || text.contains("column") && text.contains("not found")
    {
        (
            code::UNDEFINED_COLUMN,
            "the catalog query names a column that does not exist".into(),
        )
    } else if text.contains("Function with name") || text.contains("No function matches") {
        (
            "42883",
            "the catalog query calls a function that does not exist for these argument types"
                .into(),
        )
    } else if text.contains("INTERRUPT") || text.contains("Interrupted") {
        (
            code::QUERY_CANCELED,
            "canceling the catalog query: it was interrupted".into(),
        )
    } else if text.contains("Out of Memory") {
        (
            "53200",
            "the catalog query needs more memory than the catalog may use".into(),
        )
    } else if text.contains("division by zero") {
        ("22012", "division by zero".into())
    } else if let Some(m) = format_message(text) {
        (code::FEATURE_NOT_SUPPORTED, m)
    } else {
        (
            code::FEATURE_NOT_SUPPORTED,
            "the catalog could not answer this query".into(),
        )
    };
    SqlError::new(c, message).hint(
        "accord answers pg_catalog and information_schema from an in-memory catalog of the models you may see; see docs/bi-tools.md",
    )
}

#[cfg(feature = "duckdb")]
/// The errors the `format()` rewrite raises on purpose (a value the caller
/// could select anyway, never SQL): passed on, one short line.
fn format_message(text: &str) -> Option<String> {
    let start = text
        .find("format(): ")
        .or_else(|| text.find("null values cannot be formatted"))?;
    let m: String = text[start..]
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    Some(m)
}

#[cfg(feature = "duckdb")]
fn timed_out(limits: &CatalogLimits) -> SqlError {
    SqlError::new(
        super::error::QUERY_CANCELED,
        format!(
            "canceling the catalog query: it ran longer than {} s, the catalog's statement timeout",
            limits.timeout.as_secs_f64()
        ),
    )
}

#[cfg(feature = "duckdb")]
fn too_many_rows(limits: &CatalogLimits) -> SqlError {
    SqlError::new(
        catalog_guard::PROGRAM_LIMIT_EXCEEDED,
        format!(
            "the catalog answer has more than {} rows, the server's row limit",
            limits.max_rows
        ),
    )
    .hint("narrow the catalog query with WHERE or LIMIT")
}

#[cfg(feature = "duckdb")]
mod duck;

#[cfg(not(feature = "duckdb"))]
impl CatalogDbs {
    fn run_sql(
        &self,
        _exposed: &Exposed,
        _session: &SessionInfo,
        _sql: &str,
    ) -> SqlResult<(Vec<Field>, Vec<Vec<Value>>)> {
        Err(SqlError::new(
            super::error::FEATURE_NOT_SUPPORTED,
            "catalog queries need accord built with the `duckdb` feature",
        ))
    }
}

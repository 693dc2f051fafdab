//! Bulk loaders. Each one drops and re-creates every demo table, so loading
//! twice leaves the same database. All of them walk [`DemoData::tables`] and
//! [`Row::push_values`](super::model::Row::push_values), so a column is
//! described once for the DDL and all four engines.

use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDateTime, Timelike};
use sqlx::{Connection as _, Executor as _};

use super::ddl::{Engine, create_table_sql, drop_table_sql, index_sqls};
use super::model::{DemoData, TableSpec, Value};

/// Table name used in errors of steps that concern the whole load.
const ALL_TABLES: &str = "*";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadStats {
    pub rows: u64,
    pub tables: usize,
    pub elapsed: Duration,
}

/// What a loader was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStep {
    Connect,
    Begin,
    Create,
    Insert,
    Index,
    Commit,
}

impl fmt::Display for LoadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoadStep::Connect => "connecting",
            LoadStep::Begin => "starting the transaction",
            LoadStep::Create => "creating the table",
            LoadStep::Insert => "inserting rows",
            LoadStep::Index => "creating indexes",
            LoadStep::Commit => "committing",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[cfg(feature = "duckdb")]
    #[error("DuckDB: {step} failed for demo table `{table}`: {source}")]
    DuckDb {
        table: &'static str,
        step: LoadStep,
        #[source]
        source: duckdb::Error,
    },
    #[error("PostgreSQL: {step} failed for demo table `{table}`: {source}")]
    Postgres {
        table: &'static str,
        step: LoadStep,
        #[source]
        source: sqlx::Error,
    },
    #[error("MariaDB/MySQL: {step} failed for demo table `{table}`: {source}")]
    MySql {
        table: &'static str,
        step: LoadStep,
        #[source]
        source: sqlx::Error,
    },
    #[error("SQLite: {step} failed for demo table `{table}`: {source}")]
    Sqlite {
        table: &'static str,
        step: LoadStep,
        #[source]
        source: sqlx::Error,
    },
}

impl DemoError {
    pub fn engine(&self) -> Engine {
        match self {
            #[cfg(feature = "duckdb")]
            DemoError::DuckDb { .. } => Engine::DuckDb,
            DemoError::Postgres { .. } => Engine::Postgres,
            DemoError::MySql { .. } => Engine::MySql,
            DemoError::Sqlite { .. } => Engine::Sqlite,
        }
    }

    /// The table being loaded, or `*` for steps that span all tables.
    pub fn table(&self) -> &'static str {
        match self {
            #[cfg(feature = "duckdb")]
            DemoError::DuckDb { table, .. } => table,
            DemoError::Postgres { table, .. }
            | DemoError::MySql { table, .. }
            | DemoError::Sqlite { table, .. } => table,
        }
    }

    pub fn step(&self) -> LoadStep {
        match self {
            #[cfg(feature = "duckdb")]
            DemoError::DuckDb { step, .. } => *step,
            DemoError::Postgres { step, .. }
            | DemoError::MySql { step, .. }
            | DemoError::Sqlite { step, .. } => *step,
        }
    }
}

fn stats(data: &DemoData, started: Instant) -> LoadStats {
    LoadStats {
        rows: data.total_rows(),
        tables: data.tables().len(),
        elapsed: started.elapsed(),
    }
}

fn column_list(engine: Engine, spec: &TableSpec) -> String {
    spec.column_names()
        .map(|c| engine.quote(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `YYYY-MM-DD HH:MM:SS`, written by hand because chrono's `format`
/// re-parses its pattern for every one of millions of values.
fn write_timestamp(out: &mut String, t: &NaiveDateTime) {
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
}

fn timestamp_text(t: &NaiveDateTime) -> String {
    let mut s = String::with_capacity(19);
    write_timestamp(&mut s, t);
    s
}

// ---------------------------------------------------------------- DuckDB

#[cfg(feature = "duckdb")]
impl duckdb::ToSql for Value<'_> {
    fn to_sql(&self) -> duckdb::Result<duckdb::types::ToSqlOutput<'_>> {
        use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
        let value = match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::BigInt(*i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Dec(d) => {
                let mut d = *d;
                d.rescale(2);
                let dec = duckdb::types::Decimal::new(12, 2, d.mantissa())
                    .map_err(|e| duckdb::Error::ToSqlConversionFailure(Box::new(e)))?;
                ValueRef::Decimal(dec)
            }
            Value::Ts(t) => ValueRef::Timestamp(TimeUnit::Second, t.and_utc().timestamp()),
            Value::Bool(b) => ValueRef::Boolean(*b),
        };
        Ok(ToSqlOutput::Borrowed(value))
    }
}

/// Loads all tables through DuckDB's appender inside one transaction.
#[cfg(feature = "duckdb")]
pub fn load_duckdb(conn: &duckdb::Connection, data: &DemoData) -> Result<LoadStats, DemoError> {
    let started = Instant::now();
    let fail = |table: &'static str, step: LoadStep| {
        move |source: duckdb::Error| DemoError::DuckDb {
            table,
            step,
            source,
        }
    };
    conn.execute_batch("BEGIN TRANSACTION")
        .map_err(fail(ALL_TABLES, LoadStep::Begin))?;
    let loaded = data
        .tables()
        .into_iter()
        .try_for_each(|table| duckdb_table(conn, table));
    if let Err(e) = loaded {
        // The load error is what matters; a failed rollback adds nothing.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e);
    }
    conn.execute_batch("COMMIT")
        .map_err(fail(ALL_TABLES, LoadStep::Commit))?;
    Ok(stats(data, started))
}

#[cfg(feature = "duckdb")]
fn duckdb_table(
    conn: &duckdb::Connection,
    table: &dyn super::model::RowSource,
) -> Result<(), DemoError> {
    let spec = table.spec();
    let fail = |step: LoadStep| {
        move |source: duckdb::Error| DemoError::DuckDb {
            table: spec.name,
            step,
            source,
        }
    };
    let ddl = format!(
        "{};\n{};",
        drop_table_sql(Engine::DuckDb, spec),
        create_table_sql(Engine::DuckDb, spec)
    );
    conn.execute_batch(&ddl).map_err(fail(LoadStep::Create))?;
    let mut appender = conn.appender(spec.name).map_err(fail(LoadStep::Insert))?;
    let mut values = Vec::with_capacity(spec.columns.len());
    for i in 0..table.row_count() {
        values.clear();
        table.push_row_values(i, &mut values);
        let params: Vec<&dyn duckdb::ToSql> =
            values.iter().map(|v| v as &dyn duckdb::ToSql).collect();
        appender
            .append_row(params.as_slice())
            .map_err(fail(LoadStep::Insert))?;
    }
    // Constraint errors surface on flush; dropping would swallow them.
    appender.flush().map_err(fail(LoadStep::Insert))?;
    Ok(())
}

// ------------------------------------------------------------ PostgreSQL

/// COPY data is sent in chunks of about this many bytes.
const COPY_CHUNK: usize = 1 << 20;

/// Appends one value in COPY text format.
fn copy_text_value(out: &mut String, v: &Value<'_>) {
    match v {
        Value::Null => out.push_str("\\N"),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Text(s) => {
            for ch in s.chars() {
                match ch {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
        Value::Dec(d) => {
            let _ = write!(out, "{d}");
        }
        Value::Ts(t) => write_timestamp(out, t),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
    }
}

/// Loads all tables with `COPY ... FROM STDIN` inside one transaction.
///
/// Tables are created unqualified, i.e. in the first schema of the pool's
/// `search_path`; point that at a dedicated schema to keep demo data apart.
pub async fn load_postgres(pool: &sqlx::PgPool, data: &DemoData) -> Result<LoadStats, DemoError> {
    let started = Instant::now();
    let fail = |table: &'static str, step: LoadStep| {
        move |source: sqlx::Error| DemoError::Postgres {
            table,
            step,
            source,
        }
    };
    let mut tx = pool
        .begin()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Begin))?;
    for table in data.tables() {
        let spec = table.spec();
        let ddl = format!(
            "{};\n{};",
            drop_table_sql(Engine::Postgres, spec),
            create_table_sql(Engine::Postgres, spec)
        );
        tx.execute(sqlx::raw_sql(&ddl))
            .await
            .map_err(fail(spec.name, LoadStep::Create))?;

        let statement = format!(
            "COPY {} ({}) FROM STDIN",
            Engine::Postgres.quote(spec.name),
            column_list(Engine::Postgres, spec)
        );
        let mut copy = tx
            .copy_in_raw(&statement)
            .await
            .map_err(fail(spec.name, LoadStep::Insert))?;
        let mut buf = String::with_capacity(COPY_CHUNK + 4096);
        let mut values = Vec::with_capacity(spec.columns.len());
        for i in 0..table.row_count() {
            values.clear();
            table.push_row_values(i, &mut values);
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    buf.push('\t');
                }
                copy_text_value(&mut buf, v);
            }
            buf.push('\n');
            if buf.len() >= COPY_CHUNK {
                copy.send(std::mem::take(&mut buf).into_bytes())
                    .await
                    .map_err(fail(spec.name, LoadStep::Insert))?;
                buf.reserve(COPY_CHUNK + 4096);
            }
        }
        if !buf.is_empty() {
            copy.send(buf.into_bytes())
                .await
                .map_err(fail(spec.name, LoadStep::Insert))?;
        }
        copy.finish()
            .await
            .map_err(fail(spec.name, LoadStep::Insert))?;
    }
    // Indexes are built after the data is in: one sort instead of millions
    // of incremental B-tree inserts.
    for table in data.tables() {
        let spec = table.spec();
        for sql in index_sqls(Engine::Postgres, spec) {
            tx.execute(sqlx::raw_sql(&sql))
                .await
                .map_err(fail(spec.name, LoadStep::Index))?;
        }
    }
    tx.commit()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Commit))?;
    Ok(stats(data, started))
}

// ------------------------------------------------- MariaDB/MySQL, SQLite

/// Statements bind at most this many parameters: below MySQL's 65,535 and
/// SQLite's 32,766, and large enough that round trips do not dominate.
const MAX_PARAMS: usize = 30_000;
/// A row cap keeps each MariaDB packet well under `max_allowed_packet`.
const MAX_BATCH_ROWS: usize = 2_000;

fn batch_rows(spec: &TableSpec) -> usize {
    (MAX_PARAMS / spec.columns.len().max(1)).clamp(1, MAX_BATCH_ROWS)
}

fn insert_sql(engine: Engine, spec: &TableSpec, rows: usize) -> String {
    let tuple = format!("({})", vec!["?"; spec.columns.len()].join(", "));
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        engine.quote(spec.name),
        column_list(engine, spec)
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&tuple);
    }
    sql
}

type MySqlQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;
type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

fn bind_mysql<'q>(q: MySqlQuery<'q>, v: &'q Value<'q>) -> MySqlQuery<'q> {
    match v {
        Value::Null => q.bind(None::<i64>),
        Value::Int(i) => q.bind(*i),
        Value::Text(s) => q.bind(s.as_ref()),
        Value::Dec(d) => q.bind(*d),
        Value::Ts(t) => q.bind(*t),
        Value::Bool(b) => q.bind(*b),
    }
}

fn bind_sqlite<'q>(q: SqliteQuery<'q>, v: &'q Value<'q>) -> SqliteQuery<'q> {
    match v {
        Value::Null => q.bind(None::<i64>),
        Value::Int(i) => q.bind(*i),
        Value::Text(s) => q.bind(s.as_ref()),
        // SQLite has no decimal type: NUMERIC affinity turns the exact text
        // into an INTEGER or REAL.
        Value::Dec(d) => q.bind(d.to_string()),
        Value::Ts(t) => q.bind(timestamp_text(t)),
        Value::Bool(b) => q.bind(i64::from(*b)),
    }
}

/// Loads all tables with multi-row prepared INSERTs in one transaction.
///
/// MariaDB commits implicitly around DDL, so tables are re-created before
/// the transaction starts and indexed after it commits. Tables are created
/// in the pool's current database.
pub async fn load_mysql(pool: &sqlx::MySqlPool, data: &DemoData) -> Result<LoadStats, DemoError> {
    let started = Instant::now();
    let fail = |table: &'static str, step: LoadStep| {
        move |source: sqlx::Error| DemoError::MySql {
            table,
            step,
            source,
        }
    };
    let mut conn = pool
        .acquire()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Connect))?;
    for table in data.tables() {
        let spec = table.spec();
        conn.execute(sqlx::raw_sql(&drop_table_sql(Engine::MySql, spec)))
            .await
            .map_err(fail(spec.name, LoadStep::Create))?;
        conn.execute(sqlx::raw_sql(&create_table_sql(Engine::MySql, spec)))
            .await
            .map_err(fail(spec.name, LoadStep::Create))?;
    }
    let mut tx = conn
        .begin()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Begin))?;
    for table in data.tables() {
        let spec = table.spec();
        let per_batch = batch_rows(spec);
        let full_sql = insert_sql(Engine::MySql, spec, per_batch);
        let mut values = Vec::with_capacity(per_batch * spec.columns.len());
        let mut start = 0;
        while start < table.row_count() {
            let end = (start + per_batch).min(table.row_count());
            values.clear();
            for i in start..end {
                table.push_row_values(i, &mut values);
            }
            let tail_sql;
            let sql = if end - start == per_batch {
                &full_sql
            } else {
                tail_sql = insert_sql(Engine::MySql, spec, end - start);
                &tail_sql
            };
            let query = values
                .iter()
                .fold(sqlx::query(sql), |q, v| bind_mysql(q, v));
            tx.execute(query)
                .await
                .map_err(fail(spec.name, LoadStep::Insert))?;
            start = end;
        }
    }
    tx.commit()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Commit))?;
    for table in data.tables() {
        let spec = table.spec();
        for sql in index_sqls(Engine::MySql, spec) {
            conn.execute(sqlx::raw_sql(&sql))
                .await
                .map_err(fail(spec.name, LoadStep::Index))?;
        }
    }
    Ok(stats(data, started))
}

/// Loads all tables with multi-row prepared INSERTs in one transaction.
/// Timestamps are stored as `YYYY-MM-DD HH:MM:SS` text, booleans as 0/1.
pub async fn load_sqlite(pool: &sqlx::SqlitePool, data: &DemoData) -> Result<LoadStats, DemoError> {
    let started = Instant::now();
    let fail = |table: &'static str, step: LoadStep| {
        move |source: sqlx::Error| DemoError::Sqlite {
            table,
            step,
            source,
        }
    };
    let mut tx = pool
        .begin()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Begin))?;
    for table in data.tables() {
        let spec = table.spec();
        let ddl = format!(
            "{};\n{};",
            drop_table_sql(Engine::Sqlite, spec),
            create_table_sql(Engine::Sqlite, spec)
        );
        tx.execute(sqlx::raw_sql(&ddl))
            .await
            .map_err(fail(spec.name, LoadStep::Create))?;
        let per_batch = batch_rows(spec);
        let full_sql = insert_sql(Engine::Sqlite, spec, per_batch);
        let mut values = Vec::with_capacity(per_batch * spec.columns.len());
        let mut start = 0;
        while start < table.row_count() {
            let end = (start + per_batch).min(table.row_count());
            values.clear();
            for i in start..end {
                table.push_row_values(i, &mut values);
            }
            let tail_sql;
            let sql = if end - start == per_batch {
                &full_sql
            } else {
                tail_sql = insert_sql(Engine::Sqlite, spec, end - start);
                &tail_sql
            };
            let query = values
                .iter()
                .fold(sqlx::query(sql), |q, v| bind_sqlite(q, v));
            tx.execute(query)
                .await
                .map_err(fail(spec.name, LoadStep::Insert))?;
            start = end;
        }
        for sql in index_sqls(Engine::Sqlite, spec) {
            tx.execute(sqlx::raw_sql(&sql))
                .await
                .map_err(fail(spec.name, LoadStep::Index))?;
        }
    }
    tx.commit()
        .await
        .map_err(fail(ALL_TABLES, LoadStep::Commit))?;
    Ok(stats(data, started))
}

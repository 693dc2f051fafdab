//! Embedded DuckDB. DuckDB's API is blocking, so each query runs on a
//! blocking thread with its own connection to the shared database, and
//! sends batches over a channel; when the receiver goes away (the caller
//! gave up or timed out) the query is interrupted.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate};
use duckdb::arrow::datatypes::DataType;
use duckdb::types::{TimeUnit, ValueRef};
use tokio::sync::{Semaphore, mpsc};

use super::{
    BATCH_ROWS, Column, ColumnType, FileAccess, RowStream, Value, WarehouseError, WarehouseOptions,
};

pub struct DuckEngine {
    /// A connection kept open so the database stays alive; queries clone it.
    base: Arc<Mutex<duckdb::Connection>>,
    permits: Arc<Semaphore>,
    /// How many permits there are: holding them all means no query runs.
    size: u32,
}

fn column_type(dt: &DataType) -> ColumnType {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => ColumnType::Integer,
        DataType::UInt64 | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            ColumnType::Decimal
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => ColumnType::Float,
        DataType::Boolean => ColumnType::Boolean,
        DataType::Date32 | DataType::Date64 => ColumnType::Date,
        DataType::Timestamp(..) => ColumnType::Timestamp,
        DataType::Null => ColumnType::Null,
        _ => ColumnType::Text,
    }
}

/// A DuckDB value as accord's `Value`. Lists (the catalog's arrays) become
/// PostgreSQL array text, `{a,b}`, which is how BI tools read them.
pub fn value(v: ValueRef<'_>) -> Value {
    let epoch = DateTime::UNIX_EPOCH.naive_utc();
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Boolean(b) => Value::Bool(b),
        ValueRef::TinyInt(i) => Value::Int(i.into()),
        ValueRef::SmallInt(i) => Value::Int(i.into()),
        ValueRef::Int(i) => Value::Int(i.into()),
        ValueRef::BigInt(i) => Value::Int(i),
        ValueRef::UTinyInt(i) => Value::Int(i.into()),
        ValueRef::USmallInt(i) => Value::Int(i.into()),
        ValueRef::UInt(i) => Value::Int(i.into()),
        ValueRef::UBigInt(i) => i64::try_from(i)
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Decimal(i.into())),
        ValueRef::HugeInt(i) => i64::try_from(i).map(Value::Int).unwrap_or_else(|_| {
            rust_decimal::Decimal::try_from_i128_with_scale(i, 0)
                .map(Value::Decimal)
                .unwrap_or_else(|_| Value::Text(i.to_string()))
        }),
        ValueRef::UHugeInt(i) => Value::Text(i.to_string()),
        ValueRef::Float(f) => Value::Float(f.into()),
        ValueRef::Double(f) => Value::Float(f),
        ValueRef::Decimal(d) => {
            // DuckDB decimals reach 38 digits; rust_decimal holds 28. Beyond
            // that the value is kept as a float rather than failing.
            let text = d.to_string();
            text.parse::<rust_decimal::Decimal>()
                .map(Value::Decimal)
                .unwrap_or_else(|_| {
                    text.parse::<f64>()
                        .map(Value::Float)
                        .unwrap_or(Value::Text(text))
                })
        }
        ValueRef::Timestamp(unit, t) => {
            let micros = match unit {
                TimeUnit::Second => t.saturating_mul(1_000_000),
                TimeUnit::Millisecond => t.saturating_mul(1_000),
                TimeUnit::Microsecond => t,
                TimeUnit::Nanosecond => t / 1_000,
            };
            Value::Timestamp(epoch + chrono::Duration::microseconds(micros))
        }
        ValueRef::Date32(days) => Value::Date(
            NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
                + chrono::Duration::days(days.into()),
        ),
        ValueRef::Text(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
        other => Value::Text(pg_array_text(&other.to_owned())),
    }
}

/// PostgreSQL's text form of a value inside an array literal.
fn pg_array_text(v: &duckdb::types::Value) -> String {
    use duckdb::types::Value as V;
    match v {
        V::Null => "NULL".into(),
        V::Text(s) => {
            if s.is_empty() || s.contains([',', '{', '}', ' ', '"', '\\']) {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                s.clone()
            }
        }
        V::List(items) | V::Array(items) => {
            format!(
                "{{{}}}",
                items
                    .iter()
                    .map(pg_array_text)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        }
        V::Boolean(b) => if *b { "t" } else { "f" }.into(),
        V::TinyInt(i) => i.to_string(),
        V::SmallInt(i) => i.to_string(),
        V::Int(i) => i.to_string(),
        V::BigInt(i) => i.to_string(),
        V::UTinyInt(i) => i.to_string(),
        V::USmallInt(i) => i.to_string(),
        V::UInt(i) => i.to_string(),
        V::UBigInt(i) => i.to_string(),
        V::Float(f) => f.to_string(),
        V::Double(f) => f.to_string(),
        other => format!("{other:?}"),
    }
}

/// Opens a database file for `access` (an in-memory database is private
/// to this process, so it is always writable).
fn open_file(path: &Path, access: FileAccess) -> Result<duckdb::Connection, duckdb::Error> {
    let config = match access {
        FileAccess::ReadWrite => duckdb::Config::default(),
        FileAccess::ReadOnly => {
            duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?
        }
    };
    duckdb::Connection::open_with_flags(path, config)
}

/// Why a file would not open; a lock another process holds is named.
fn open_error(path: &Path, access: FileAccess, e: duckdb::Error) -> WarehouseError {
    let text = e.to_string();
    match super::lock::holder(&text, access) {
        Some(h) => WarehouseError::Locked(super::lock::message(path, access, &h)),
        None => WarehouseError::Unavailable {
            warehouse: format!("duckdb://{}", path.display()),
            message: text,
        },
    }
}

impl DuckEngine {
    pub fn open(
        path: Option<&Path>,
        options: &WarehouseOptions,
    ) -> Result<DuckEngine, WarehouseError> {
        let conn = match path {
            Some(p) => {
                open_file(p, options.access).map_err(|e| open_error(p, options.access, e))?
            }
            None => {
                duckdb::Connection::open_in_memory().map_err(|e| WarehouseError::Unavailable {
                    warehouse: "duckdb::memory:".into(),
                    message: e.to_string(),
                })?
            }
        };
        let size = options.max_connections.max(1);
        Ok(DuckEngine {
            base: Arc::new(Mutex::new(conn)),
            permits: Arc::new(Semaphore::new(size as usize)),
            size,
        })
    }

    /// Waits for running queries to end, then closes the database (its
    /// file lock goes with it). Query threads drop their connection before
    /// their permit, so holding every permit means none is left.
    pub async fn close(self) {
        let _all = self.permits.acquire_many(self.size).await;
        drop(self.base);
    }

    /// A new connection to the same database (for loaders and tests).
    pub fn connection(&self) -> Result<duckdb::Connection, WarehouseError> {
        let base = self
            .base
            .lock()
            .map_err(|_| WarehouseError::Config("duckdb connection lock poisoned".into()))?;
        base.try_clone().map_err(|e| WarehouseError::Unavailable {
            warehouse: "duckdb".into(),
            message: e.to_string(),
        })
    }

    /// A connection and the permit that bounds how many run at once; the
    /// permit travels with the blocking task that uses the connection.
    async fn checkout(
        &self,
    ) -> Result<(tokio::sync::OwnedSemaphorePermit, duckdb::Connection), WarehouseError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| WarehouseError::Config("warehouse closed".into()))?;
        Ok((permit, self.connection()?))
    }

    /// Runs `statements` in one transaction on one connection (DuckDB's DDL
    /// is transactional, so a DROP and a RENAME commit together). Each
    /// statement gets `timeout`; one that takes longer is interrupted and
    /// the whole transaction rolled back. Dropping the future also rolls
    /// back, at the next statement boundary.
    pub async fn execute_batch_atomic(
        &self,
        statements: &[String],
        timeout: std::time::Duration,
        name: String,
    ) -> Result<(), WarehouseError> {
        let (permit, conn) = self.checkout().await?;
        let interrupt = conn.interrupt_handle();
        let statements = statements.to_vec();
        let count = statements.len();
        // One message per statement, then one for the commit.
        let (tx, mut rx) = mpsc::channel::<Result<(), WarehouseError>>(1);
        let err_name = name.clone();
        tokio::task::spawn_blocking(move || {
            // Locals drop in reverse: the connection before the permit.
            let _permit = permit;
            let conn = conn;
            let err = |e: duckdb::Error| WarehouseError::Query {
                warehouse: err_name.clone(),
                message: e.to_string(),
            };
            if let Err(e) = conn.execute_batch("BEGIN TRANSACTION") {
                let _ = tx.blocking_send(Err(err(e)));
                return;
            }
            for sql in &statements {
                // A failure is rolled back before it is reported, so the
                // caller's next statement never meets this transaction's
                // uncommitted catalog changes (DuckDB refuses those as a
                // write-write conflict).
                if let Err(e) = conn.execute_batch(sql) {
                    let _ = conn.execute_batch("ROLLBACK");
                    let _ = tx.blocking_send(Err(err(e)));
                    return;
                }
                // Nobody listening any more (cancelled): undo it all.
                if tx.blocking_send(Ok(())).is_err() {
                    let _ = conn.execute_batch("ROLLBACK");
                    return;
                }
            }
            let committed = conn.execute_batch("COMMIT").map_err(&err);
            if committed.is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let _ = tx.blocking_send(committed);
        });
        for _ in 0..=count {
            match tokio::time::timeout(timeout, rx.recv()).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(e))) => return Err(e),
                Ok(None) => {
                    return Err(WarehouseError::Config(
                        "duckdb batch ended without a result".into(),
                    ));
                }
                Err(_) => {
                    // The running statement fails, and the thread rolls
                    // back; wait for that so the timeout leaves nothing
                    // half-done behind it.
                    interrupt.interrupt();
                    rx.close();
                    while rx.recv().await.is_some() {}
                    return Err(WarehouseError::Timeout {
                        warehouse: name,
                        after: timeout,
                    });
                }
            }
        }
        Ok(())
    }

    pub async fn stream(&self, sql: &str, name: String) -> Result<RowStream, WarehouseError> {
        let (permit, conn) = self.checkout().await?;
        let (tx, rx) = mpsc::channel(2);
        let (cols_tx, cols_rx) = tokio::sync::oneshot::channel();
        let sql = sql.to_string();
        let err = move |e: duckdb::Error| WarehouseError::Query {
            warehouse: name.clone(),
            message: e.to_string(),
        };
        tokio::task::spawn_blocking(move || {
            // Locals drop in reverse: the connection before the permit.
            let _permit = permit;
            let conn = conn;
            let interrupt = conn.interrupt_handle();
            let run = || -> Result<(), WarehouseError> {
                let mut stmt = conn.prepare(&sql).map_err(&err)?;
                let mut rows = stmt.query([]).map_err(&err)?;
                let (names, types) = match rows.as_ref() {
                    Some(st) => {
                        let n = st.column_count();
                        (
                            st.column_names(),
                            (0..n)
                                .map(|i| column_type(&st.column_type(i)))
                                .collect::<Vec<_>>(),
                        )
                    }
                    None => (Vec::new(), Vec::new()),
                };
                let columns: Vec<Column> = names
                    .into_iter()
                    .zip(types)
                    .map(|(name, ty)| Column { name, ty })
                    .collect();
                let width = columns.len();
                let _ = cols_tx.send(Ok(columns));
                let mut batch = Vec::with_capacity(BATCH_ROWS);
                while let Some(row) = rows.next().map_err(&err)? {
                    let mut out = Vec::with_capacity(width);
                    for i in 0..width {
                        out.push(value(row.get_ref(i).map_err(&err)?));
                    }
                    batch.push(out);
                    if batch.len() >= BATCH_ROWS
                        && tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err()
                    {
                        // Nobody is listening any more: stop the engine.
                        interrupt.interrupt();
                        return Ok(());
                    }
                }
                if !batch.is_empty() {
                    let _ = tx.blocking_send(Ok(batch));
                }
                Ok(())
            };
            if let Err(e) = run() {
                // Before the columns were sent, the error goes there;
                // afterwards, down the row channel.
                let _ = tx.blocking_send(Err(e));
            }
        });
        match cols_rx.await {
            Ok(Ok(columns)) => Ok(RowStream {
                columns,
                batches: rx,
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let mut rx = rx;
                match rx.recv().await {
                    Some(Err(e)) => Err(e),
                    _ => Err(WarehouseError::Config(
                        "duckdb query ended without a result".into(),
                    )),
                }
            }
        }
    }
}

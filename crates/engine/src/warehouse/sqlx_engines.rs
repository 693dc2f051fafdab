//! PostgreSQL, MySQL/MariaDB and SQLite through sqlx. Pools connect lazily;
//! every connection gets session settings that make results comparable
//! across engines (UTC, server-side statement timeouts, case-sensitive LIKE
//! on SQLite).

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use futures::StreamExt;
use rust_decimal::Decimal;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{Column as _, Executor, Row, TypeInfo, ValueRef as _};
use tokio::sync::{mpsc, oneshot};

use super::{BATCH_ROWS, Column, ColumnType, RowStream, Value, WarehouseError, WarehouseOptions};

fn config_err(e: impl std::fmt::Display) -> WarehouseError {
    WarehouseError::Config(format!("invalid warehouse URL: {e}"))
}

/// Connection failures are "unavailable" (503); anything else is the
/// query's fault.
fn classify(name: &str, e: sqlx::Error) -> WarehouseError {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_) => WarehouseError::Unavailable {
            warehouse: name.to_string(),
            message: e.to_string(),
        },
        sqlx::Error::Database(db) => {
            let msg = db.message().to_string();
            // 57014: query_canceled (statement_timeout); 1969/3024: MariaDB
            // and MySQL execution time exceeded.
            if db.code().as_deref() == Some("57014")
                || matches!(db.code().as_deref(), Some("70100") | Some("HY000"))
                    && msg.contains("max_statement_time")
            {
                WarehouseError::Timeout {
                    warehouse: name.to_string(),
                    after: std::time::Duration::ZERO,
                }
            } else {
                WarehouseError::Query {
                    warehouse: name.to_string(),
                    message: msg,
                }
            }
        }
        other => WarehouseError::Query {
            warehouse: name.to_string(),
            message: other.to_string(),
        },
    }
}

pub fn postgres_pool(url: &str, o: &WarehouseOptions) -> Result<sqlx::PgPool, WarehouseError> {
    let opts = PgConnectOptions::from_str(url).map_err(config_err)?;
    let timeout_ms = o.query_timeout.as_millis();
    Ok(PgPoolOptions::new()
        .max_connections(o.max_connections)
        .acquire_timeout(o.connect_timeout)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(
                    format!("SET TIME ZONE 'UTC'; SET statement_timeout = {timeout_ms}").as_str(),
                )
                .await?;
                Ok(())
            })
        })
        .connect_lazy_with(opts))
}

pub fn mysql_pool(url: &str, o: &WarehouseOptions) -> Result<sqlx::MySqlPool, WarehouseError> {
    let opts = MySqlConnectOptions::from_str(url)
        .map_err(config_err)?
        .timezone(Some("+00:00".to_string()));
    let secs = o.query_timeout.as_secs_f64();
    Ok(MySqlPoolOptions::new()
        .max_connections(o.max_connections)
        .acquire_timeout(o.connect_timeout)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // MariaDB names the server-side limit max_statement_time
                // (seconds); MySQL has max_execution_time (ms) instead.
                if conn
                    .execute(format!("SET SESSION max_statement_time = {secs}").as_str())
                    .await
                    .is_err()
                {
                    conn.execute(
                        format!(
                            "SET SESSION max_execution_time = {}",
                            (secs * 1000.0) as u64
                        )
                        .as_str(),
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(opts))
}

pub fn sqlite_pool(url: &str, o: &WarehouseOptions) -> Result<sqlx::SqlitePool, WarehouseError> {
    let opts = SqliteConnectOptions::from_str(url)
        .map_err(config_err)?
        .pragma("case_sensitive_like", "ON")
        .create_if_missing(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(o.max_connections)
        .acquire_timeout(o.connect_timeout)
        .connect_lazy_with(opts))
}

/// Runs `sql` on a pooled connection in a task that owns both, sending the
/// column list first and then batches of converted rows. The task stops
/// (and the connection goes back to the pool) as soon as the receiver is
/// dropped. Queries go unprepared, as plain text: accord's SQL carries its
/// values as escaped literals.
macro_rules! stream_fn {
    ($name:ident, $pool:ty, $columns:ident, $values:ident) => {
        pub async fn $name(
            pool: $pool,
            sql: String,
            name: String,
        ) -> Result<RowStream, WarehouseError> {
            let (tx, rx) = mpsc::channel(2);
            let (cols_tx, cols_rx) = oneshot::channel::<Result<Vec<Column>, WarehouseError>>();
            tokio::spawn(async move {
                let mut cols_tx = Some(cols_tx);
                let fail = |e: WarehouseError,
                            cols_tx: &mut Option<oneshot::Sender<_>>,
                            tx: &mpsc::Sender<_>| {
                    match cols_tx.take() {
                        Some(c) => {
                            let _ = c.send(Err(e));
                        }
                        None => {
                            let _ = tx.try_send(Err(e));
                        }
                    }
                };
                let mut conn = match pool.acquire().await {
                    Ok(c) => c,
                    Err(e) => return fail(classify(&name, e), &mut cols_tx, &tx),
                };
                let mut rows = sqlx::raw_sql(&sql).fetch(&mut *conn);
                let mut batch = Vec::with_capacity(BATCH_ROWS);
                while let Some(row) = rows.next().await {
                    let row = match row {
                        Ok(r) => r,
                        Err(e) => return fail(classify(&name, e), &mut cols_tx, &tx),
                    };
                    if let Some(c) = cols_tx.take() {
                        let _ = c.send(Ok($columns(&row)));
                    }
                    match $values(&row) {
                        Ok(v) => batch.push(v),
                        Err(e) => return fail(classify(&name, e), &mut cols_tx, &tx),
                    }
                    if batch.len() >= BATCH_ROWS
                        && tx.send(Ok(std::mem::take(&mut batch))).await.is_err()
                    {
                        return;
                    }
                }
                if let Some(c) = cols_tx.take() {
                    // No rows: no columns to read either; the caller names
                    // them from the plan.
                    let _ = c.send(Ok(Vec::new()));
                }
                if !batch.is_empty() {
                    let _ = tx.send(Ok(batch)).await;
                }
            });
            match cols_rx.await {
                Ok(Ok(columns)) => Ok(RowStream {
                    columns,
                    batches: rx,
                }),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(WarehouseError::Config(
                    "query task ended unexpectedly".into(),
                )),
            }
        }
    };
}

/// Runs statements in order inside one transaction on one pooled
/// connection, each under `timeout`; the first failure rolls the
/// transaction back, and a timeout drops it, which sqlx rolls back before
/// the connection is reused.
macro_rules! batch_fn {
    ($name:ident, $pool:ty) => {
        pub async fn $name(
            pool: &$pool,
            statements: &[String],
            timeout: std::time::Duration,
            name: &str,
        ) -> Result<(), WarehouseError> {
            let timed_out = || WarehouseError::Timeout {
                warehouse: name.to_string(),
                after: timeout,
            };
            let mut tx = pool.begin().await.map_err(|e| classify(name, e))?;
            for sql in statements {
                match tokio::time::timeout(timeout, sqlx::raw_sql(sql).execute(&mut *tx)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        // Rolled back before the error is reported, so the
                        // caller's next statement never waits on this
                        // transaction's locks.
                        let _ = tx.rollback().await;
                        return Err(classify(name, e));
                    }
                    Err(_) => return Err(timed_out()),
                }
            }
            match tokio::time::timeout(timeout, tx.commit()).await {
                Ok(r) => r.map_err(|e| classify(name, e)),
                Err(_) => Err(timed_out()),
            }
        }
    };
}

batch_fn!(batch_postgres, sqlx::PgPool);
batch_fn!(batch_mysql, sqlx::MySqlPool);
batch_fn!(batch_sqlite, sqlx::SqlitePool);

stream_fn!(stream_postgres, sqlx::PgPool, pg_columns, pg_values);
stream_fn!(stream_mysql, sqlx::MySqlPool, my_columns, my_values);
stream_fn!(stream_sqlite, sqlx::SqlitePool, lite_columns, lite_values);

fn pg_columns(r: &PgRow) -> Vec<Column> {
    r.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            ty: match c.type_info().name() {
                "INT2" | "INT4" | "INT8" => ColumnType::Integer,
                "NUMERIC" => ColumnType::Decimal,
                "FLOAT4" | "FLOAT8" => ColumnType::Float,
                "BOOL" => ColumnType::Boolean,
                "DATE" => ColumnType::Date,
                "TIMESTAMP" | "TIMESTAMPTZ" => ColumnType::Timestamp,
                _ => ColumnType::Text,
            },
        })
        .collect()
}

fn pg_values(r: &PgRow) -> Result<Vec<Value>, sqlx::Error> {
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let v = match c.type_info().name() {
            "INT2" => r
                .try_get::<Option<i16>, _>(i)?
                .map(|x| Value::Int(x.into())),
            "INT4" => r
                .try_get::<Option<i32>, _>(i)?
                .map(|x| Value::Int(x.into())),
            "INT8" => r.try_get::<Option<i64>, _>(i)?.map(Value::Int),
            "NUMERIC" => r.try_get::<Option<Decimal>, _>(i)?.map(Value::Decimal),
            "FLOAT4" => r
                .try_get::<Option<f32>, _>(i)?
                .map(|x| Value::Float(x.into())),
            "FLOAT8" => r.try_get::<Option<f64>, _>(i)?.map(Value::Float),
            "BOOL" => r.try_get::<Option<bool>, _>(i)?.map(Value::Bool),
            "DATE" => r.try_get::<Option<NaiveDate>, _>(i)?.map(Value::Date),
            "TIMESTAMP" => r
                .try_get::<Option<NaiveDateTime>, _>(i)?
                .map(Value::Timestamp),
            "TIMESTAMPTZ" => r
                .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)?
                .map(|t| Value::Timestamp(t.naive_utc())),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => {
                r.try_get::<Option<String>, _>(i)?.map(Value::Text)
            }
            _ => r
                .try_get_unchecked::<Option<String>, _>(i)
                .ok()
                .flatten()
                .map(Value::Text),
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(out)
}

fn my_type(name: &str) -> ColumnType {
    match name {
        "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "TINYINT UNSIGNED"
        | "SMALLINT UNSIGNED" | "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => ColumnType::Integer,
        "BIGINT UNSIGNED" | "DECIMAL" => ColumnType::Decimal,
        "FLOAT" | "DOUBLE" => ColumnType::Float,
        "BOOLEAN" => ColumnType::Boolean,
        "DATE" => ColumnType::Date,
        "DATETIME" | "TIMESTAMP" => ColumnType::Timestamp,
        "NULL" => ColumnType::Null,
        _ => ColumnType::Text,
    }
}

fn my_columns(r: &MySqlRow) -> Vec<Column> {
    r.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            ty: my_type(c.type_info().name()),
        })
        .collect()
}

fn my_values(r: &MySqlRow) -> Result<Vec<Value>, sqlx::Error> {
    let mut out = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        if r.try_get_raw(i)?.is_null() {
            out.push(Value::Null);
            continue;
        }
        let name = c.type_info().name();
        let v = match name {
            "BIGINT UNSIGNED" => Value::Decimal(Decimal::from(r.try_get::<u64, _>(i)?)),
            n if n.ends_with("UNSIGNED") => Value::Int(r.try_get::<u32, _>(i)?.into()),
            "TINYINT" => Value::Int(r.try_get::<i8, _>(i)?.into()),
            "SMALLINT" => Value::Int(r.try_get::<i16, _>(i)?.into()),
            "INT" | "MEDIUMINT" => Value::Int(r.try_get::<i32, _>(i)?.into()),
            "BIGINT" => Value::Int(r.try_get::<i64, _>(i)?),
            "DECIMAL" => Value::Decimal(r.try_get::<Decimal, _>(i)?),
            "FLOAT" => Value::Float(r.try_get::<f32, _>(i)?.into()),
            "DOUBLE" => Value::Float(r.try_get::<f64, _>(i)?),
            "BOOLEAN" => Value::Bool(r.try_get::<bool, _>(i)?),
            "DATE" => Value::Date(r.try_get::<NaiveDate, _>(i)?),
            "DATETIME" | "TIMESTAMP" => Value::Timestamp(r.try_get::<NaiveDateTime, _>(i)?),
            _ => Value::Text(r.try_get_unchecked::<String, _>(i)?),
        };
        out.push(v);
    }
    Ok(out)
}

/// SQLite types values, not columns: report Null and let the caller type
/// each column from its values.
fn lite_columns(r: &SqliteRow) -> Vec<Column> {
    r.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            ty: ColumnType::Null,
        })
        .collect()
}

fn lite_values(r: &SqliteRow) -> Result<Vec<Value>, sqlx::Error> {
    let mut out = Vec::with_capacity(r.len());
    for i in 0..r.len() {
        let raw = r.try_get_raw(i)?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let storage = raw.type_info().name().to_string();
        let v = match storage.as_str() {
            "INTEGER" | "BOOLEAN" => Value::Int(r.try_get_unchecked::<i64, _>(i)?),
            "REAL" | "NUMERIC" => Value::Float(r.try_get_unchecked::<f64, _>(i)?),
            _ => Value::Text(r.try_get_unchecked::<String, _>(i)?),
        };
        out.push(v);
    }
    Ok(out)
}

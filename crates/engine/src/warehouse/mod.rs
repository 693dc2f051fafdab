//! Warehouses accord executes on: embedded DuckDB (the default), and
//! PostgreSQL, MySQL/MariaDB and SQLite through sqlx. Each is selected by
//! URL and returns the same [`ResultSet`]; connection pools, timeouts and
//! cancellation behave the same everywhere.

#[cfg(feature = "duckdb")]
pub mod duck;
pub mod lock;
pub mod open;
pub mod result;
mod sqlx_engines;
mod url;

use std::time::Duration;

use thiserror::Error;

pub use result::{Column, ColumnType, ResultSet, Value};
pub use url::WarehouseUrl;

use crate::dialect::DialectKind;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum WarehouseError {
    #[error("warehouse {warehouse} is unreachable: {message}")]
    Unavailable { warehouse: String, message: String },
    #[error("warehouse {warehouse} did not answer within {}s; the query was cancelled", .after.as_secs_f64())]
    Timeout { warehouse: String, after: Duration },
    #[error("warehouse {warehouse} rejected the query: {message}")]
    Query { warehouse: String, message: String },
    #[error("{0}")]
    Config(String),
    /// Another process holds the (DuckDB) file: the message says who, and
    /// what to do.
    #[error("{0}")]
    Locked(String),
}

/// How a warehouse file is opened (DuckDB; server engines ignore it). A
/// DuckDB file open for writing is locked against every other process,
/// while any number of read-only processes share it: accord opens it
/// read-only wherever it does not write, so a notebook or BI tool reading
/// the same file does not lock it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileAccess {
    /// Loading demo data, identity builds and exclusions.
    #[default]
    ReadWrite,
    /// Queries, checks, `validate --warehouse`, `accord serve`.
    ReadOnly,
}

/// Limits applied to every warehouse.
#[derive(Debug, Clone)]
pub struct WarehouseOptions {
    pub max_connections: u32,
    pub query_timeout: Duration,
    /// How long to wait for a connection before calling the warehouse down.
    pub connect_timeout: Duration,
    pub access: FileAccess,
}

impl Default for WarehouseOptions {
    fn default() -> Self {
        WarehouseOptions {
            max_connections: 8,
            query_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            access: FileAccess::ReadWrite,
        }
    }
}

impl WarehouseOptions {
    /// The defaults, opening a DuckDB file read-only.
    pub fn read_only() -> WarehouseOptions {
        WarehouseOptions {
            access: FileAccess::ReadOnly,
            ..WarehouseOptions::default()
        }
    }
}

/// A stream of result rows in batches; dropping it cancels the query.
pub struct RowStream {
    pub columns: Vec<Column>,
    pub batches: tokio::sync::mpsc::Receiver<Result<Vec<Vec<Value>>, WarehouseError>>,
}

const BATCH_ROWS: usize = 1024;

enum Engine {
    #[cfg(feature = "duckdb")]
    Duckdb(duck::DuckEngine),
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
}

pub struct Warehouse {
    url: WarehouseUrl,
    engine: Engine,
    options: WarehouseOptions,
    /// The deployment's key for `hash` masks, held like the credentials:
    /// only SQL rendered for this warehouse to run carries it.
    mask_key: arc_swap::ArcSwapOption<crate::masking::MaskKey>,
}

impl Warehouse {
    /// Opens a warehouse. Server engines connect lazily, so accord starts
    /// (and reports not-ready) while a warehouse is down, and recovers
    /// without a restart when it comes back.
    pub async fn connect(
        url: &WarehouseUrl,
        options: WarehouseOptions,
    ) -> Result<Warehouse, WarehouseError> {
        let engine = match url {
            #[cfg(feature = "duckdb")]
            WarehouseUrl::Duckdb(path) => {
                Engine::Duckdb(duck::DuckEngine::open(path.as_deref(), &options)?)
            }
            #[cfg(not(feature = "duckdb"))]
            WarehouseUrl::Duckdb(_) => {
                return Err(WarehouseError::Config(
                    "this build of accord has no DuckDB support (feature `duckdb`)".into(),
                ));
            }
            WarehouseUrl::Postgres(u) => {
                Engine::Postgres(sqlx_engines::postgres_pool(u, &options)?)
            }
            WarehouseUrl::Mysql(u) => Engine::Mysql(sqlx_engines::mysql_pool(u, &options)?),
            WarehouseUrl::Sqlite(u) => Engine::Sqlite(sqlx_engines::sqlite_pool(u, &options)?),
        };
        Ok(Warehouse {
            url: url.clone(),
            engine,
            options,
            mask_key: Default::default(),
        })
    }

    /// Sets the key `hash` masks are computed with (see crate::masking).
    pub fn with_mask_key(self, key: Option<crate::masking::MaskKey>) -> Warehouse {
        self.set_mask_key(key);
        self
    }

    /// Replaces the mask key (rotation): every pseudonym changes, and result
    /// caches keyed on the fingerprint stop matching the old ones.
    pub fn set_mask_key(&self, key: Option<crate::masking::MaskKey>) {
        self.mask_key.store(key.map(std::sync::Arc::new));
    }

    /// The current mask key; read it once per query.
    pub fn mask_key(&self) -> Option<std::sync::Arc<crate::masking::MaskKey>> {
        self.mask_key.load_full()
    }

    pub fn url(&self) -> &WarehouseUrl {
        &self.url
    }

    pub fn dialect(&self) -> DialectKind {
        self.url.dialect()
    }

    pub fn options(&self) -> &WarehouseOptions {
        &self.options
    }

    /// Closes the warehouse and waits until it is closed: a DuckDB file is
    /// unlocked when this returns (its queries have ended), so it can be
    /// opened again in another mode.
    pub async fn close(self) {
        match self.engine {
            #[cfg(feature = "duckdb")]
            Engine::Duckdb(e) => e.close().await,
            Engine::Postgres(p) => p.close().await,
            Engine::Mysql(p) => p.close().await,
            Engine::Sqlite(p) => p.close().await,
        }
    }

    /// Checks the warehouse answers `SELECT 1`.
    pub async fn ping(&self) -> Result<(), WarehouseError> {
        self.query("SELECT 1", 1).await.map(|_| ())
    }

    /// Streams the rows of `sql`.
    pub async fn stream(&self, sql: &str) -> Result<RowStream, WarehouseError> {
        let name = self.url.redacted();
        match &self.engine {
            #[cfg(feature = "duckdb")]
            Engine::Duckdb(e) => e.stream(sql, name).await,
            Engine::Postgres(p) => {
                sqlx_engines::stream_postgres(p.clone(), sql.to_string(), name).await
            }
            Engine::Mysql(p) => sqlx_engines::stream_mysql(p.clone(), sql.to_string(), name).await,
            Engine::Sqlite(p) => {
                sqlx_engines::stream_sqlite(p.clone(), sql.to_string(), name).await
            }
        }
    }

    /// Runs `sql` and collects at most `max_rows` rows (more are flagged as
    /// truncated), under the configured timeout.
    pub async fn query(&self, sql: &str, max_rows: usize) -> Result<ResultSet, WarehouseError> {
        let run = async {
            let mut stream = self.stream(sql).await?;
            let mut rows = Vec::new();
            let mut truncated = false;
            while let Some(batch) = stream.batches.recv().await {
                for row in batch? {
                    if rows.len() >= max_rows {
                        truncated = true;
                        break;
                    }
                    rows.push(row);
                }
                if truncated {
                    break;
                }
            }
            let mut columns = stream.columns;
            // Engines that type columns by value (SQLite, or a streamed
            // first batch) report Null for unknown types; fill from data.
            for (i, c) in columns.iter_mut().enumerate() {
                if c.ty == ColumnType::Null
                    && let Some(v) = rows
                        .iter()
                        .map(|r| &r[i])
                        .find(|v| !matches!(v, Value::Null))
                {
                    c.ty = v.column_type();
                }
            }
            Ok(ResultSet {
                columns,
                rows,
                truncated,
            })
        };
        match tokio::time::timeout(self.options.query_timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(WarehouseError::Timeout {
                warehouse: self.url.redacted(),
                after: self.options.query_timeout,
            }),
        }
    }
}

impl Warehouse {
    /// Runs `statements` (no result rows) in order, in one transaction on
    /// one connection: either all take effect or, on the first failure or
    /// timeout, none does. Each statement gets the configured query timeout.
    ///
    /// PostgreSQL, DuckDB and SQLite roll back DDL too, so a `DROP TABLE`
    /// and an `ALTER TABLE … RENAME` in one batch swap a table atomically
    /// for concurrent readers. MySQL/MariaDB commit implicitly around every
    /// DDL statement: there only the DML between DDL statements is atomic
    /// (swap tables with one multi-table `RENAME TABLE` instead).
    pub async fn execute_batch_atomic(&self, statements: &[String]) -> Result<(), WarehouseError> {
        let name = self.url.redacted();
        let timeout = self.options.query_timeout;
        match &self.engine {
            #[cfg(feature = "duckdb")]
            Engine::Duckdb(e) => e.execute_batch_atomic(statements, timeout, name).await,
            Engine::Postgres(p) => {
                sqlx_engines::batch_postgres(p, statements, timeout, &name).await
            }
            Engine::Mysql(p) => sqlx_engines::batch_mysql(p, statements, timeout, &name).await,
            Engine::Sqlite(p) => sqlx_engines::batch_sqlite(p, statements, timeout, &name).await,
        }
    }
}

impl Warehouse {
    /// Writes the demo tables (dropping existing ones) into this warehouse.
    pub async fn load_demo(
        &self,
        data: &crate::demo::DemoData,
    ) -> Result<crate::demo::LoadStats, WarehouseError> {
        let name = self.url.redacted();
        let err = |e: crate::demo::DemoError| WarehouseError::Query {
            warehouse: name.clone(),
            message: e.to_string(),
        };
        match &self.engine {
            // DuckDB's loader is synchronous; setup code may block here.
            #[cfg(feature = "duckdb")]
            Engine::Duckdb(e) => crate::demo::load_duckdb(&e.connection()?, data).map_err(err),
            Engine::Postgres(p) => crate::demo::load_postgres(p, data).await.map_err(err),
            Engine::Mysql(p) => crate::demo::load_mysql(p, data).await.map_err(err),
            Engine::Sqlite(p) => crate::demo::load_sqlite(p, data).await.map_err(err),
        }
    }
}

//! DDL for the demo tables, derived from the shared [`TableSpec`]s.

use std::fmt;

use super::model::{ColumnType, TableSpec};

/// A database engine the demo warehouse can be loaded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Engine {
    DuckDb,
    Postgres,
    MySql,
    Sqlite,
}

impl Engine {
    pub const ALL: [Engine; 4] = [
        Engine::DuckDb,
        Engine::Postgres,
        Engine::MySql,
        Engine::Sqlite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Engine::DuckDb => "DuckDB",
            Engine::Postgres => "PostgreSQL",
            Engine::MySql => "MariaDB/MySQL",
            Engine::Sqlite => "SQLite",
        }
    }

    /// Quotes an identifier (all demo identifiers are plain lowercase ASCII).
    pub fn quote(self, ident: &str) -> String {
        match self {
            Engine::MySql => format!("`{ident}`"),
            _ => format!("\"{ident}\""),
        }
    }

    /// Whether foreign key columns get secondary indexes. DuckDB's ART
    /// indexes only slow down bulk loads and do not speed up its scans.
    pub fn indexes_foreign_keys(self) -> bool {
        !matches!(self, Engine::DuckDb)
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The SQL type of a column on an engine.
pub fn column_type(engine: Engine, ty: ColumnType) -> &'static str {
    match (engine, ty) {
        (Engine::Sqlite, ColumnType::BigInt | ColumnType::Int | ColumnType::Bool) => "INTEGER",
        (_, ColumnType::BigInt) => "BIGINT",
        (Engine::MySql, ColumnType::Int) => "INT",
        (_, ColumnType::Int) => "INTEGER",
        // MariaDB cannot index TEXT without a prefix length; every demo
        // string is short.
        (Engine::MySql, ColumnType::Text) => "VARCHAR(255)",
        (Engine::DuckDb, ColumnType::Text) => "VARCHAR",
        (_, ColumnType::Text) => "TEXT",
        (_, ColumnType::Money) => "DECIMAL(12,2)",
        (Engine::MySql, ColumnType::Timestamp) => "DATETIME",
        // SQLite has no date type; ISO text sorts and compares correctly.
        (Engine::Sqlite, ColumnType::Timestamp) => "TEXT",
        (_, ColumnType::Timestamp) => "TIMESTAMP",
        (_, ColumnType::Bool) => "BOOLEAN",
    }
}

pub fn drop_table_sql(engine: Engine, spec: &TableSpec) -> String {
    format!("DROP TABLE IF EXISTS {}", engine.quote(spec.name))
}

pub fn create_table_sql(engine: Engine, spec: &TableSpec) -> String {
    let mut parts: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                engine.quote(c.name),
                column_type(engine, c.ty),
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    let pk: Vec<String> = spec.primary_key.iter().map(|c| engine.quote(c)).collect();
    parts.push(format!("PRIMARY KEY ({})", pk.join(", ")));
    let suffix = match engine {
        Engine::MySql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        _ => "",
    };
    format!(
        "CREATE TABLE {} (\n  {}\n){suffix}",
        engine.quote(spec.name),
        parts.join(",\n  ")
    )
}

/// `CREATE INDEX` statements for the foreign key columns of a table.
pub fn index_sqls(engine: Engine, spec: &TableSpec) -> Vec<String> {
    if !engine.indexes_foreign_keys() {
        return Vec::new();
    }
    spec.columns
        .iter()
        .filter(|c| c.references.is_some())
        .map(|c| {
            format!(
                "CREATE INDEX {} ON {} ({})",
                engine.quote(&format!("idx_{}_{}", spec.name, c.name)),
                engine.quote(spec.name),
                engine.quote(c.name)
            )
        })
        .collect()
}

/// The complete DDL of the demo warehouse for one engine: drops, creates and
/// indexes, one statement per entry.
pub fn schema_sql(engine: Engine) -> Vec<String> {
    let specs = super::model::table_specs();
    let mut out: Vec<String> = specs.iter().map(|s| drop_table_sql(engine, s)).collect();
    out.extend(specs.iter().map(|s| create_table_sql(engine, s)));
    out.extend(specs.iter().flat_map(|s| index_sqls(engine, s)));
    out
}

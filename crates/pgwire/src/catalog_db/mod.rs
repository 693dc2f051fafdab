//! `pg_catalog` and `information_schema` questions, answered by running
//! them on an in-memory DuckDB that holds empty tables shaped like the
//! models one caller may see, plus PostgreSQL-shaped catalog tables
//! (`pgc.pg_class`, `pgc.pg_attribute`, …, `isc.tables`, `isc.columns`)
//! filled from the same exposed schema, and the catalog functions BI tools
//! call (`version()`, `format_type`, `pg_get_expr`, …) as DuckDB macros.
//! Queries are rewritten from PostgreSQL's spelling to these (schema names,
//! `::regclass` and friends, `OPERATOR(pg_catalog.~)`, `COLLATE`), never
//! matched by their text. Hidden members appear nowhere: a database is
//! built per distinct visibility.
//!
//! Layout: [`script`] assembles the DuckDB script from one module per
//! emulated relation (or per family of always-empty ones), each declaring
//! its [`Relation`]s ([`relations`] lists them all) and writing its rows; `macros.sql` holds the catalog
//! functions; [`rewrite`] (with [`rewrite_expr`], [`from_functions`],
//! [`pg_format`] and the sqlparser constructors in [`sp_build`]) turns
//! PostgreSQL's spelling into this database's.

mod from_functions;
mod isc_columns;
mod isc_empty;
mod isc_tables;
mod models;
mod pg_attribute;
mod pg_class;
mod pg_constraints;
mod pg_database;
mod pg_description;
mod pg_foreign;
mod pg_format;
mod pg_namespace;
mod pg_routines;
mod pg_settings;
mod pg_stat;
mod pg_system_views;
mod pg_tables;
mod pg_type;
mod relations;
mod rewrite;
mod rewrite_expr;
mod roles;
mod script;
mod server_objects;
mod sp_build;
mod types;

pub use pg_settings::SETTINGS;
use relations::{Relation, is_catalog_table, isc_table, isc_view, pgc_table, pgc_view};
pub use relations::{has_catalog_relation, is_macro};
pub use rewrite::{rewrite, rewrite_text};
pub use script::build_sql;
#[cfg(feature = "duckdb")]
pub(crate) use script::q;
pub use types::{TYPES, type_oid};

pub const PUBLIC_OID: u32 = 2200;
pub const PG_CATALOG_OID: u32 = 11;
pub const INFORMATION_SCHEMA_OID: u32 = 13_000;
pub const FIRST_TABLE_OID: u32 = 16_400;
pub const DATABASE_OID: u32 = 16_384;

/// What a query's rewrite needs from the session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: String,
    pub database: String,
    pub application_name: String,
    pub pid: i32,
}

/// The OID accord gives the `i`-th exposed table.
pub fn table_oid(i: usize) -> u32 {
    FIRST_TABLE_OID + 2 * i as u32
}

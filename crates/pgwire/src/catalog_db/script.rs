//! The DuckDB script that builds one caller's catalog database: schemas,
//! every [`Relation`](super::Relation) of every module, the macros, the
//! rows, the caller's (empty) model tables, then the views.

use super::pg_settings;
use super::relations::{Shape, relations};
use crate::dialect::DialectKind;
use crate::schema::Exposed;

/// The catalog functions BI tools call, as DuckDB macros in schema `pgc`.
/// Every macro's name is also what `pg_catalog.<name>` is rewritten to.
const MACROS: &str = include_str!("macros.sql");

/// A script being written, and what its modules read.
pub(super) struct Script<'a> {
    pub exposed: &'a Exposed,
    /// Whether models' and columns' descriptions go into `pg_description`.
    pub descriptions: bool,
    sql: String,
}

impl Script<'_> {
    /// Appends one statement.
    pub fn push(&mut self, statement: &str) {
        self.sql.push_str(statement);
        self.sql.push_str(";\n");
    }
}

/// The modules that write rows, in order.
const ROWS: &[fn(&mut Script<'_>)] = &[
    super::types::rows,
    super::pg_namespace::rows,
    super::server_objects::rows,
    super::pg_type::rows,
    super::isc_tables::rows,
    super::pg_class::rows,
    super::pg_description::rows,
    super::pg_attribute::rows,
    super::isc_columns::rows,
    super::pg_settings::rows,
    super::models::tables,
];

/// The DuckDB script that builds one caller's catalog.
pub fn build_sql(exposed: &Exposed, descriptions: bool) -> String {
    let mut s = Script {
        exposed,
        descriptions,
        sql: String::new(),
    };
    // Never fetch extensions: the catalog is self-contained.
    s.push("SET autoinstall_known_extensions = false");
    s.push("SET autoload_known_extensions = false");
    s.push("CREATE SCHEMA public; CREATE SCHEMA pgc; CREATE SCHEMA isc");
    super::types::create(&mut s);
    for r in relations() {
        if let Shape::Table(columns) = r.shape {
            s.push(&format!(
                "CREATE TABLE {}.{} ({columns})",
                r.schema.name(),
                r.name
            ));
        }
    }
    s.sql.push_str(MACROS);
    s.push(&pg_settings::current_setting_macro());
    for rows in ROWS {
        rows(&mut s);
    }
    for r in relations() {
        if let Shape::View(select) = r.shape {
            s.push(&format!(
                "CREATE VIEW {}.{} AS {select}",
                r.schema.name(),
                r.name
            ));
        }
    }
    s.sql
}

/// Names of the macros in `macros.sql` and of `current_setting`.
pub(super) fn macro_names() -> impl Iterator<Item = &'static str> {
    MACROS
        .split("CREATE MACRO pgc.")
        .skip(1)
        .filter_map(|rest| rest.split('(').next())
        .chain(["current_setting"])
}

/// A DuckDB string literal.
pub(crate) fn q(s: &str) -> String {
    let duck = DialectKind::Duckdb.dialect();
    // NUL is the one character a literal cannot hold; DuckDB would refuse
    // the whole script for it, so it is left out of names and texts.
    duck.string_literal(s)
        .unwrap_or_else(|_| q(&s.replace('\0', "")))
}

/// A DuckDB identifier, always quoted.
pub(super) fn qi(s: &str) -> String {
    DialectKind::Duckdb.dialect().quote_ident(s)
}

/// A DuckDB string literal, or `NULL`.
pub(super) fn opt(s: &Option<String>) -> String {
    s.as_deref().map(q).unwrap_or_else(|| "NULL".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_identifiers_are_duckdb_quoted() {
        assert_eq!(q("it's"), "'it''s'");
        assert_eq!(q("a\\b"), "'a\\b'");
        assert_eq!(q("nul\0here"), "'nulhere'");
        assert_eq!(qi("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(opt(&None), "NULL");
    }

    #[test]
    fn macro_names_are_read_from_the_file() {
        let names: Vec<&str> = macro_names().collect();
        assert!(names.len() > 60, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }
}

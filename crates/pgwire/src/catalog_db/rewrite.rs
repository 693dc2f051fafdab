//! Statement rewriting: PostgreSQL's catalog spelling into the DuckDB
//! catalog database's (schemas `pgc` and `isc`), by relation
//! ([`rewrite_relation`]), by expression ([`super::rewrite_expr`]) and for
//! functions in FROM ([`super::from_functions`]); and [`rewrite_text`] for
//! text the parser could not read.

use std::ops::ControlFlow;

use sqlparser::ast as sp;

use super::SessionInfo;
use super::from_functions::FunctionAliases;
use super::is_catalog_table;
use super::rewrite_expr::rewrite_expr;
use super::sp_build::ident;

/// Rewrites PostgreSQL's catalog spelling into the DuckDB catalog's.
pub fn rewrite(stmt: &mut sp::Statement, session: &SessionInfo) {
    let _ = sp::VisitMut::visit(stmt, &mut FunctionAliases);
    let _ = sp::visit_relations_mut(stmt, |name| {
        rewrite_relation(name);
        ControlFlow::<()>::Continue(())
    });
    let _ = sp::visit_expressions_mut(stmt, |e| {
        rewrite_expr(e, session);
        ControlFlow::<()>::Continue(())
    });
}

fn rewrite_relation(name: &mut sp::ObjectName) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect();
    let replaced: Option<Vec<&str>> = match parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_, "pg_catalog", t] | ["pg_catalog", t] if is_catalog_table(t) => Some(vec!["pgc", t]),
        [_, "pg_catalog", t] | ["pg_catalog", t] => Some(vec![t]),
        [_, "information_schema", t] | ["information_schema", t] => Some(vec![
            "isc",
            if *t == "enabled_roles" {
                "enabled_roles_view"
            } else {
                t
            },
        ]),
        [t] if is_catalog_table(t) => Some(vec!["pgc", t]),
        [_, "public", t] => Some(vec!["public", t]),
        _ => None,
    };
    if let Some(r) = replaced {
        *name = sp::ObjectName::from(r.into_iter().map(ident).collect::<Vec<_>>());
    }
}

/// Rewrites that apply to text the SQL parser could not read.
pub fn rewrite_text(sql: &str) -> String {
    let mut out = sql.to_string();
    for (from, to) in [
        ("pg_catalog.", "pgc."),
        ("PG_CATALOG.", "pgc."),
        ("information_schema.", "isc."),
        ("INFORMATION_SCHEMA.", "isc."),
        ("OPERATOR(pgc.~)", "~"),
        (" COLLATE pgc.default", ""),
        ("::regclass", "::VARCHAR"),
        ("::regtype", "::VARCHAR"),
        ("::regproc", "::VARCHAR"),
        ("::oid", "::UINTEGER"),
        ("::name", "::VARCHAR"),
    ] {
        out = out.replace(from, to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_catalog_spelling() {
        let info = SessionInfo {
            user: "u".into(),
            database: "d".into(),
            application_name: String::new(),
            pid: 1,
        };
        let mut stmts = sqlparser::parser::Parser::parse_sql(
            &sqlparser::dialect::PostgreSqlDialect {},
            "SELECT typname, oid::regtype::text AS r FROM pg_catalog.pg_type WHERE oid = 'orders'::regclass AND typname OPERATOR(pg_catalog.~) '^x$' COLLATE pg_catalog.default",
        )
        .unwrap();
        rewrite(&mut stmts[0], &info);
        let sql = stmts[0].to_string();
        assert!(!sql.contains("regtype"), "{sql}");
        assert!(!sql.contains("pg_catalog"), "{sql}");
        assert!(sql.contains("pgc.regclass_oid('orders')"), "{sql}");
    }
}

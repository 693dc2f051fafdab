//! What the catalog engine may run. The in-memory DuckDB behind
//! `pg_catalog` / `information_schema` is a full SQL engine that can read
//! files, attach databases and change its own tables; a statement reaches
//! it only after this allow-list accepted its parsed form (after the
//! PostgreSQL→DuckDB rewrite, so what is checked is what runs):
//!
//! - one plain query (`Statement::Query`), no data-modifying body anywhere
//!   (`WITH … DELETE`, `INSERT … RETURNING` in a CTE), no `SELECT … INTO`;
//! - relations: the emulated catalog (`pgc.*`, `isc.*`), the caller's
//!   empty `public` tables, and the query's own CTE names — never a file
//!   path (DuckDB's replacement scans) nor DuckDB's own catalogs;
//! - functions: [`SCALAR_FUNCTIONS`], the catalog macros (`pgc.<name>`),
//!   and in FROM only [`TABLE_FUNCTIONS`];
//! - expressions: an allow-list of expression kinds.
//!
//! Refusals: a function outside the list is 42501 (insufficient privilege,
//! naming the function); a relation outside the catalog is 42P01 (it does
//! not exist for the caller); any other statement or syntax is 0A000. No
//! message carries the statement's text.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast as sp;

use super::catalog_db::has_catalog_relation;
use super::error::{
    FEATURE_NOT_SUPPORTED, INSUFFICIENT_PRIVILEGE, SqlError, SqlResult, UNDEFINED_TABLE,
};
use super::schema::Exposed;

/// SQLSTATE program_limit_exceeded (statement too large, too many rows).
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";

const HINT: &str = "accord's catalog answers pg_catalog and information_schema questions only; see docs/bi-tools.md";

/// Scalar, aggregate and window functions a catalog query may call by
/// their DuckDB names: text, numbers, dates, lists, conditionals. Nothing
/// that reads files or settings, nothing about DuckDB itself.
#[rustfmt::skip]
pub const SCALAR_FUNCTIONS: &[&str] = &[
    // text
    "ascii", "btrim", "char_length", "character_length", "chr", "concat", "concat_ws",
    "contains", "ends_with", "initcap", "instr", "lcase", "left", "length", "lower", "lpad",
    "ltrim", "md5", "octet_length", "position", "regexp_extract", "regexp_extract_all",
    "regexp_full_match", "regexp_matches", "regexp_replace", "regexp_split_to_array", "replace",
    "reverse", "right", "rpad", "rtrim", "split_part", "starts_with", "string_split",
    "string_to_array", "strpos", "substr", "substring", "translate", "trim", "ucase", "upper",
    // conditionals and errors (the format() rewrite raises through error())
    "coalesce", "error", "greatest", "ifnull", "least", "nullif",
    // numbers
    "abs", "ceil", "ceiling", "floor", "mod", "power", "pow", "round", "sign", "sqrt", "trunc",
    // dates and times
    "current_date", "current_time", "current_timestamp", "date_part", "date_trunc", "now",
    "to_timestamp",
    // lists and arrays
    "array_agg", "array_append", "array_cat", "array_concat", "array_contains", "array_has",
    "array_length", "array_position", "array_prepend", "array_slice", "array_to_string",
    "cardinality", "len", "list", "list_concat", "list_contains", "list_extract",
    "list_filter", "list_has", "list_position", "list_sort", "list_transform", "list_value",
    "array", "generate_subscripts", "row", "unnest",
    // DuckDB's own PostgreSQL-compatibility answers (constant or type names)
    "pg_collation_is_visible", "pg_conversion_is_visible", "pg_opclass_is_visible",
    "pg_operator_is_visible", "pg_opfamily_is_visible", "pg_ts_config_is_visible",
    "pg_ts_dict_is_visible", "pg_ts_parser_is_visible", "pg_ts_template_is_visible",
    "pg_typeof",
    // aggregates and windows
    "any_value", "avg", "bool_and", "bool_or", "count", "cume_dist", "dense_rank", "every",
    "first", "first_value", "lag", "last", "last_value", "lead", "max", "min", "ntile",
    "percent_rank", "rank", "row_number", "string_agg", "sum",
];

/// Functions allowed in FROM: row generators, bounded by the engine's row
/// cap and statement timeout.
pub const TABLE_FUNCTIONS: &[&str] = &["generate_series", "generate_subscripts", "range", "unnest"];

/// A statement the allow-list accepted, as the SQL text the engine runs.
/// Only this module makes one, so the engine cannot be handed unchecked SQL.
#[derive(Debug, Clone)]
pub struct Checked(String);

impl Checked {
    pub fn sql(&self) -> &str {
        &self.0
    }
}

/// Checks a rewritten catalog statement and caps its rows at `max_rows + 1`
/// (one more than the engine returns, so going over is detectable).
pub fn check(
    mut stmt: sp::Statement,
    exposed: &Exposed,
    max_sql_bytes: usize,
    max_rows: usize,
) -> SqlResult<Checked> {
    let ctes = cte_names(&stmt)?;
    let mut guard = Guard { exposed, ctes };
    if let ControlFlow::Break(e) = sp::Visit::visit(&stmt, &mut guard) {
        return Err(e);
    }
    if let sp::Statement::Query(q) = &mut stmt {
        cap_rows(q, max_rows);
    }
    let sql = stmt.to_string();
    if sql.len() > max_sql_bytes {
        return Err(too_large(max_sql_bytes));
    }
    Ok(Checked(sql))
}

/// Text the PostgreSQL parser could not read (psql's and JDBC's dialect
/// corners), already text-rewritten: parsed as DuckDB SQL, then checked
/// like any statement; what runs is the checked statement, printed back.
pub fn check_text(
    sql: &str,
    exposed: &Exposed,
    max_sql_bytes: usize,
    max_rows: usize,
) -> SqlResult<Checked> {
    if sql.len() > max_sql_bytes {
        return Err(too_large(max_sql_bytes));
    }
    let dialects: [&dyn sqlparser::dialect::Dialect; 2] = [
        &sqlparser::dialect::DuckDbDialect {},
        &sqlparser::dialect::GenericDialect {},
    ];
    for d in dialects {
        if let Ok(mut stmts) = sqlparser::parser::Parser::parse_sql(d, sql)
            && stmts.len() == 1
        {
            return check(stmts.remove(0), exposed, max_sql_bytes, max_rows);
        }
    }
    Err(SqlError::new(
        FEATURE_NOT_SUPPORTED,
        "the catalog cannot read this statement",
    )
    .hint(HINT))
}

fn too_large(max: usize) -> SqlError {
    SqlError::new(
        PROGRAM_LIMIT_EXCEEDED,
        format!("the catalog statement is longer than {max} bytes, the server's limit"),
    )
}

/// `LIMIT n` becomes `LIMIT least(n, cap)`; no LIMIT becomes `LIMIT cap`
/// (a `FETCH FIRST` query keeps its own; the engine's row count still
/// holds).
fn cap_rows(q: &mut sp::Query, max_rows: usize) {
    if q.fetch.is_some() {
        return;
    }
    let cap = sp::Expr::value(sp::Value::Number((max_rows + 1).to_string(), false));
    match &mut q.limit_clause {
        None => {
            q.limit_clause = Some(sp::LimitClause::LimitOffset {
                limit: Some(cap),
                offset: None,
                limit_by: vec![],
            });
        }
        Some(sp::LimitClause::LimitOffset { limit, .. }) => {
            *limit = Some(match limit.take() {
                None => cap,
                Some(l) => least(l, cap),
            });
        }
        Some(sp::LimitClause::OffsetCommaLimit { limit, .. }) => {
            let l = std::mem::replace(limit, sp::Expr::value(sp::Value::Null));
            *limit = least(l, cap);
        }
    }
}

fn least(a: sp::Expr, b: sp::Expr) -> sp::Expr {
    let arg = |e| sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e));
    sp::Expr::Function(sp::Function {
        name: sp::ObjectName::from(vec![sp::Ident::new("least")]),
        uses_odbc_syntax: false,
        parameters: sp::FunctionArguments::None,
        args: sp::FunctionArguments::List(sp::FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![arg(a), arg(b)],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// Every CTE name in the statement (lower case). A CTE name must be a
/// plain identifier: a name with a dot or slash that failed to bind in
/// some scope would be a file path to DuckDB.
fn cte_names(stmt: &sp::Statement) -> SqlResult<HashSet<String>> {
    let mut names = HashSet::new();
    let mut bad = None;
    let mut collect = CteNames {
        names: &mut names,
        bad: &mut bad,
    };
    let _ = sp::Visit::visit(stmt, &mut collect);
    match bad {
        Some(e) => Err(e),
        None => Ok(names),
    }
}

struct CteNames<'a> {
    names: &'a mut HashSet<String>,
    bad: &'a mut Option<SqlError>,
}

impl sp::Visitor for CteNames<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &sp::Query) -> ControlFlow<()> {
        for cte in q.with.iter().flat_map(|w| &w.cte_tables) {
            let name = cte.alias.name.value.to_ascii_lowercase();
            if !plain_identifier(&name) {
                *self.bad = Some(unsupported("a WITH name that is not a plain identifier"));
                return ControlFlow::Break(());
            }
            self.names.insert(name);
        }
        ControlFlow::Continue(())
    }
}

fn plain_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

fn unsupported(what: &str) -> SqlError {
    SqlError::new(
        FEATURE_NOT_SUPPORTED,
        format!("{what} is not supported in catalog queries"),
    )
    .hint(HINT)
}

/// A name as the caller wrote it, short and printable, for a message.
fn shown(name: &str) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    clean.replace('"', "\"\"")
}

fn forbidden_function(name: &str) -> SqlError {
    SqlError::new(
        INSUFFICIENT_PRIVILEGE,
        format!(
            "permission denied for function \"{}\": catalog queries may call catalog functions only",
            shown(name)
        ),
    )
    .hint(HINT)
}

fn missing_relation(name: &str) -> SqlError {
    SqlError::new(
        UNDEFINED_TABLE,
        format!("relation \"{}\" does not exist", shown(name)),
    )
    .hint(HINT)
}

/// The lower-case parts of a name; `None` when a part is not an identifier.
fn parts(name: &sp::ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
        .collect()
}

fn dotted(name: &sp::ObjectName) -> String {
    name.0
        .iter()
        .map(|p| p.as_ident().map(|i| i.value.clone()).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(".")
}

struct Guard<'a> {
    exposed: &'a Exposed,
    ctes: HashSet<String>,
}

impl Guard<'_> {
    fn relation_allowed(&self, parts: &[String]) -> bool {
        match parts {
            [t] => {
                self.ctes.contains(t)
                    || self.public_table(t)
                    || has_catalog_relation("pgc", t)
                    || TABLE_FUNCTIONS.contains(&t.as_str())
            }
            [s, t] if s == "public" => self.public_table(t),
            [s, t] => has_catalog_relation(s, t),
            _ => false,
        }
    }

    fn public_table(&self, t: &str) -> bool {
        self.exposed
            .tables
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(t))
    }

    fn check_function(&self, name: &sp::ObjectName) -> ControlFlow<SqlError> {
        let allowed = match parts(name).as_deref() {
            Some([f]) => SCALAR_FUNCTIONS.contains(&f.as_str()),
            Some([s, f]) => s == "pgc" && super::catalog_db::is_macro(f),
            _ => false,
        };
        if allowed {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(forbidden_function(&dotted(name)))
        }
    }

    fn check_table_function(&self, name: &sp::ObjectName) -> ControlFlow<SqlError> {
        match parts(name).as_deref() {
            Some([f]) if TABLE_FUNCTIONS.contains(&f.as_str()) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(forbidden_function(&dotted(name))),
        }
    }
}

/// Only SELECT, set operations, VALUES and nested queries make a body.
fn check_body(body: &sp::SetExpr) -> ControlFlow<SqlError> {
    match body {
        sp::SetExpr::Select(_) | sp::SetExpr::Query(_) | sp::SetExpr::Values(_) => {
            ControlFlow::Continue(())
        }
        sp::SetExpr::SetOperation { left, right, .. } => {
            check_body(left)?;
            check_body(right)
        }
        sp::SetExpr::Table(t) => {
            let name = [t.schema_name.as_ref(), t.table_name.as_ref()]
                .into_iter()
                .flatten()
                .map(|i| i.value.clone())
                .collect::<Vec<_>>()
                .join(".");
            ControlFlow::Break(unsupported(&format!("TABLE {}", shown(&name))))
        }
        sp::SetExpr::Insert(_)
        | sp::SetExpr::Update(_)
        | sp::SetExpr::Delete(_)
        | sp::SetExpr::Merge(_) => ControlFlow::Break(read_only()),
    }
}

fn read_only() -> SqlError {
    SqlError::new(
        "25006",
        "cannot change the catalog: accord is a read-only semantic layer",
    )
    .hint(HINT)
}

impl sp::Visitor for Guard<'_> {
    type Break = SqlError;

    fn pre_visit_statement(&mut self, s: &sp::Statement) -> ControlFlow<SqlError> {
        match s {
            sp::Statement::Query(_) => ControlFlow::Continue(()),
            sp::Statement::Insert(_)
            | sp::Statement::Update(_)
            | sp::Statement::Delete(_)
            | sp::Statement::Merge(_) => ControlFlow::Break(read_only()),
            _ => ControlFlow::Break(unsupported("this statement")),
        }
    }

    fn pre_visit_query(&mut self, q: &sp::Query) -> ControlFlow<SqlError> {
        if q.for_clause.is_some()
            || q.settings.is_some()
            || q.format_clause.is_some()
            || !q.pipe_operators.is_empty()
        {
            return ControlFlow::Break(unsupported("this query clause"));
        }
        check_body(&q.body)
    }

    fn pre_visit_select(&mut self, s: &sp::Select) -> ControlFlow<SqlError> {
        if s.into.is_some() {
            return ControlFlow::Break(read_only());
        }
        if !s.lateral_views.is_empty() || !s.connect_by.is_empty() {
            return ControlFlow::Break(unsupported("this SELECT clause"));
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &sp::ObjectName) -> ControlFlow<SqlError> {
        match parts(name) {
            Some(p) if self.relation_allowed(&p) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(missing_relation(&dotted(name))),
        }
    }

    fn pre_visit_table_factor(&mut self, t: &sp::TableFactor) -> ControlFlow<SqlError> {
        match t {
            sp::TableFactor::Table {
                name,
                args,
                with_hints,
                version,
                partitions,
                json_path,
                index_directives,
                ..
            } => {
                if !with_hints.is_empty()
                    || version.is_some()
                    || !partitions.is_empty()
                    || json_path.is_some()
                    || !index_directives.is_empty()
                {
                    return ControlFlow::Break(unsupported("this table option"));
                }
                match args {
                    Some(_) => self.check_table_function(name),
                    None => ControlFlow::Continue(()),
                }
            }
            sp::TableFactor::Function { name, .. } => self.check_table_function(name),
            sp::TableFactor::Derived { .. }
            | sp::TableFactor::NestedJoin { .. }
            | sp::TableFactor::UNNEST { .. } => ControlFlow::Continue(()),
            _ => ControlFlow::Break(unsupported("this kind of FROM item")),
        }
    }

    fn pre_visit_expr(&mut self, e: &sp::Expr) -> ControlFlow<SqlError> {
        use sp::Expr as E;
        match e {
            E::Function(f) => {
                if !matches!(f.parameters, sp::FunctionArguments::None) {
                    return ControlFlow::Break(unsupported("a parametric function"));
                }
                self.check_function(&f.name)
            }
            E::Identifier(_)
            | E::CompoundIdentifier(_)
            | E::CompoundFieldAccess { .. }
            | E::JsonAccess { .. }
            | E::IsFalse(_)
            | E::IsNotFalse(_)
            | E::IsTrue(_)
            | E::IsNotTrue(_)
            | E::IsNull(_)
            | E::IsNotNull(_)
            | E::IsUnknown(_)
            | E::IsNotUnknown(_)
            | E::IsDistinctFrom(..)
            | E::IsNotDistinctFrom(..)
            | E::In { .. }
            | E::Between { .. }
            | E::BinaryOp { .. }
            | E::Like { .. }
            | E::ILike { .. }
            | E::SimilarTo { .. }
            | E::RLike { .. }
            | E::AnyOp { .. }
            | E::AllOp { .. }
            | E::UnaryOp { .. }
            | E::Cast { .. }
            | E::AtTimeZone { .. }
            | E::Extract { .. }
            | E::Ceil { .. }
            | E::Floor { .. }
            | E::Position { .. }
            | E::Substring { .. }
            | E::Trim { .. }
            | E::Overlay { .. }
            | E::Collate { .. }
            | E::Nested(_)
            | E::Value(_)
            | E::TypedString(_)
            | E::Case { .. }
            | E::Exists { .. }
            | E::Subquery(_)
            | E::GroupingSets(_)
            | E::Cube(_)
            | E::Rollup(_)
            | E::Tuple(_)
            | E::Struct { .. }
            | E::Named { .. }
            | E::Dictionary(_)
            | E::Map(_)
            | E::Array(_)
            | E::Interval(_)
            | E::Wildcard(_)
            | E::QualifiedWildcard(..)
            | E::Lambda(_) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(unsupported("this expression")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog_db::{SessionInfo, rewrite, rewrite_text};

    fn exposed() -> Exposed {
        Exposed {
            tables: vec![],
            fingerprint: "guard-tests".into(),
            denied: None,
        }
    }

    /// The handler's path: PostgreSQL parse (else DuckDB text), rewrite, check.
    fn guard(sql: &str) -> SqlResult<Checked> {
        let info = SessionInfo {
            user: "u".into(),
            database: "d".into(),
            application_name: String::new(),
            pid: 1,
        };
        match sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql) {
            Ok(mut stmts) if stmts.len() == 1 => {
                let mut s = stmts.remove(0);
                rewrite(&mut s, &info);
                check(s, &exposed(), 1 << 16, 100)
            }
            _ => check_text(&rewrite_text(sql), &exposed(), 1 << 16, 100),
        }
    }

    fn code(sql: &str) -> &'static str {
        match guard(sql) {
            Ok(c) => panic!("{sql} was allowed as {}", c.sql()),
            Err(e) => {
                assert!(!e.message.contains(sql), "{}", e.message);
                e.code
            }
        }
    }

    #[test]
    fn catalog_questions_pass_with_a_row_cap() {
        for sql in [
            "SELECT c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','f','') AND n.nspname <> 'pg_catalog' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1",
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
            "WITH t AS (SELECT oid FROM pg_type) SELECT count(*) FROM t",
            "SELECT s FROM generate_series(1, 3) s",
            "SELECT version(), current_database(), current_user",
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a",
            "SELECT 1 UNION ALL SELECT 2",
        ] {
            let checked = guard(sql).unwrap_or_else(|e| panic!("{sql}: {}", e.message));
            assert!(checked.sql().contains("101"), "{}", checked.sql());
        }
        assert!(
            guard("SELECT 1 LIMIT 5")
                .unwrap()
                .sql()
                .contains("least(5, 101)")
        );
    }

    #[test]
    fn file_readers_and_engine_functions_are_refused() {
        for sql in [
            "SELECT content FROM read_text('accord.yaml')",
            "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
            "SELECT * FROM glob('./*')",
            "SELECT * FROM read_blob('accord-demo.duckdb')",
            "SELECT * FROM duckdb_settings()",
            "SELECT getenv('HOME')",
            "SELECT * FROM query('SELECT 1')",
            "SELECT * FROM query_table('pgc.pg_class')",
            "SELECT * FROM sql_auto_complete('SEL')",
            "SELECT current_setting('home_directory') FROM duckdb_tables()",
            "SELECT main.read_text('x')",
            "SELECT x FROM pg_class, LATERAL read_text(relname) x",
            "SELECT (SELECT content FROM read_text('accord.yaml'))",
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM read_text('a'))",
        ] {
            assert_eq!(code(sql), INSUFFICIENT_PRIVILEGE, "{sql}");
        }
    }

    #[test]
    fn files_and_foreign_relations_do_not_exist() {
        for sql in [
            "SELECT * FROM \"accord.yaml\"",
            "SELECT * FROM memory.pgc.pg_class",
            "SELECT * FROM duckdb_settings",
            "SELECT * FROM information_schema.nope",
            "SELECT * FROM main.x",
            "SELECT * FROM nope",
        ] {
            assert_eq!(code(sql), UNDEFINED_TABLE, "{sql}");
        }
        // A path in FROM is refused whichever way it parses.
        assert_ne!(
            guard("SELECT * FROM 'accord.yaml'").map(|_| ()).ok(),
            Some(())
        );
    }

    #[test]
    fn writes_and_other_statements_are_refused() {
        for sql in [
            "WITH x AS (SELECT 1) DELETE FROM pg_catalog.pg_class WHERE relname = 'orders'",
            "WITH x AS (SELECT 1) INSERT INTO pg_catalog.pg_description VALUES (1, 2, 0, 'x')",
            "WITH x AS (SELECT 1) UPDATE pg_catalog.pg_class SET relname = 'x'",
            "WITH d AS (DELETE FROM pg_catalog.pg_class RETURNING *) SELECT * FROM d",
            "SELECT 1 INTO planted",
        ] {
            assert_eq!(code(sql), "25006", "{sql}");
        }
        for sql in [
            "COPY (SELECT 1) TO 'x.csv'",
            "ATTACH 'x.duckdb' AS x",
            "INSTALL httpfs",
            "LOAD httpfs",
            "PRAGMA version",
            "CALL duckdb_settings()",
            "EXPORT DATABASE 'x'",
            "CREATE TABLE x (a INT)",
            "SET enable_external_access = true",
            "WITH \"a.csv\" AS (SELECT 1) SELECT * FROM \"a.csv\"",
        ] {
            assert!(guard(sql).is_err(), "{sql}");
        }
    }

    #[test]
    fn oversized_statements_are_refused() {
        let sql = format!("SELECT '{}'", "x".repeat(1 << 16));
        assert_eq!(code(&sql), PROGRAM_LIMIT_EXCEEDED);
    }
}

//! Functions in FROM, as PostgreSQL reads them.

use std::ops::ControlFlow;

use sqlparser::ast as sp;

use super::sp_build::{ident, last_name};

/// Functions in FROM. A set-returning function with an alias and no column
/// list names its one column after the alias in PostgreSQL
/// (`generate_series(1, 3) s` has column `s`). A scalar function in FROM
/// (Grafana's `string_to_array(current_setting('search_path'), ',') s`)
/// is one row holding its value in PostgreSQL; DuckDB only takes table
/// functions there, so it becomes `(SELECT f(…) AS s) AS s`.
pub(super) struct FunctionAliases;

/// Scalar (array-valued) functions tools put in FROM.
const SCALAR_IN_FROM: &[&str] = &[
    "string_to_array",
    "regexp_split_to_array",
    "current_schemas",
    "parse_ident",
];

impl sp::VisitorMut for FunctionAliases {
    type Break = ();

    fn pre_visit_table_factor(&mut self, t: &mut sp::TableFactor) -> ControlFlow<()> {
        if let sp::TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = t
        {
            let fname = last_name(name).unwrap_or_default();
            if SCALAR_IN_FROM.contains(&fname.as_str()) {
                let column = alias
                    .as_ref()
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| ident(&fname));
                let call = sp::Expr::Function(sp::Function {
                    name: name.clone(),
                    uses_odbc_syntax: false,
                    parameters: sp::FunctionArguments::None,
                    args: sp::FunctionArguments::List(sp::FunctionArgumentList {
                        duplicate_treatment: None,
                        args: args.args.clone(),
                        clauses: vec![],
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                });
                let sql = format!("SELECT {call} AS {column}");
                if let Ok(mut parsed) = sqlparser::parser::Parser::parse_sql(
                    &sqlparser::dialect::PostgreSqlDialect {},
                    &sql,
                ) && let Some(sp::Statement::Query(subquery)) = parsed.pop()
                {
                    *t = sp::TableFactor::Derived {
                        lateral: false,
                        subquery,
                        alias: Some(sp::TableAlias {
                            explicit: true,
                            name: column,
                            columns: vec![],
                            at: None,
                        }),
                        sample: None,
                    };
                }
                return ControlFlow::Continue(());
            }
            if let Some(alias) = alias
                && alias.columns.is_empty()
            {
                alias.columns = vec![sp::TableAliasColumnDef::from_name(alias.name.value.clone())];
            }
        }
        ControlFlow::Continue(())
    }
}

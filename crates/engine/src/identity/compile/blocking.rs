//! Work table `removed`: blocked values and patterns, and identifiers on
//! the exclusion list.

use super::super::sql::{ColType, Statement, TableDef, fresh, insert};
use super::{Compiler, ID, probe, same_id};
use crate::catalog::Aggregation;
use crate::sql::ast::{BinOp, Expr, Query};
use crate::sql::build::{
    aggregate, any_of, column, eq, exists, is_null, named, select_from, subquery, table, union_all,
};

use ColType::Key;

impl Compiler<'_> {
    /// Identifiers that take no part: blocked values and patterns (reason
    /// `blocked`) and identifiers on the exclusion list (`excluded`).
    pub(super) fn removed(&self) -> Vec<Statement> {
        let def = TableDef {
            indexes: vec![&["identifier_type", "identifier"]],
            name: self.names.work("removed"),
            columns: vec![
                ("identifier_type", Key),
                ("identifier", Key),
                ("reason", Key),
            ],
        };
        let o = "o";
        let mut blocked = Vec::new();
        for t in &self.identity.types {
            let mut tests: Vec<Expr> = Vec::new();
            if !t.blocked_values.is_empty() {
                tests.push(Expr::InList {
                    expr: Box::new(column(o, "a_value")),
                    list: t.blocked_values.iter().map(Expr::string).collect(),
                    negated: false,
                });
            }
            for p in &t.blocked_patterns {
                tests.push(Expr::Like {
                    expr: Box::new(column(o, "a_value")),
                    pattern: Box::new(Expr::string(p)),
                    negated: false,
                    case_insensitive: false,
                });
            }
            if !tests.is_empty() {
                blocked.push(Expr::Nested(Box::new(Expr::binary(
                    BinOp::And,
                    eq(column(o, "a_type"), Expr::string(&t.name)),
                    Expr::Nested(Box::new(any_of(tests))),
                ))));
            }
        }
        let mut branches = Vec::new();
        if !blocked.is_empty() {
            let mut b = select_from(
                vec![
                    named(column(o, "a_type"), "identifier_type"),
                    named(column(o, "a_value"), "identifier"),
                    named(Expr::string("blocked"), "reason"),
                ],
                table(&self.names.work("obs"), o),
            );
            b.selection = Some(any_of(blocked));
            branches.push(b);
        }
        let x = "x";
        let mut e = select_from(
            vec![
                named(column(x, "identifier_type"), "identifier_type"),
                named(column(x, "identifier"), "identifier"),
                named(Expr::string("excluded"), "reason"),
            ],
            table(&self.names.exclusions, x),
        );
        e.selection = Some(is_null(column(x, "linked_identifier"), false));
        branches.push(e);
        let u = "u";
        let mut g = select_from(
            vec![
                named(column(u, "identifier_type"), "identifier_type"),
                named(column(u, "identifier"), "identifier"),
                named(aggregate(Aggregation::Min, column(u, "reason")), "reason"),
            ],
            subquery(union_all(branches), u),
        );
        g.group_by = vec![1, 2];
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(g)));
        out
    }

    pub(super) fn not_removed(&self, alias: &str, side: (&str, &str)) -> Expr {
        exists(
            probe(
                &self.names.work("removed"),
                "r",
                same_id("r", ID, alias, side),
            ),
            true,
        )
    }
}

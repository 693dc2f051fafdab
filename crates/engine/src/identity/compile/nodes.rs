//! Node numbering: work table `nodes`, kept identifiers in canonical order.

use super::super::sql::{ColType, Statement, TableDef, fresh, insert};
use super::{A, Compiler, ID, same_id};
use crate::catalog::Aggregation;
use crate::sql::ast::{Expr, Literal, Query};
use crate::sql::build::{
    aggregate, all_of, column, int, is_null, named, row_number, select_from, subquery, table,
};

use ColType::{BigInt, Key, Timestamp};

impl Compiler<'_> {
    /// Kept identifiers numbered by (type priority, identifier): the
    /// smallest id of a component is its canonical identifier.
    pub(super) fn nodes(&self) -> Vec<Statement> {
        let def = TableDef {
            indexes: vec![&["identifier_type", "identifier"], &["node_id"]],
            name: self.names.work("nodes"),
            columns: vec![
                ("node_id", BigInt),
                ("identifier_type", Key),
                ("identifier", Key),
                ("first_seen", Timestamp),
                ("last_seen", Timestamp),
            ],
        };
        let o = "o";
        let mut g = select_from(
            vec![
                named(column(o, "a_type"), "identifier_type"),
                named(column(o, "a_value"), "identifier"),
                named(
                    aggregate(Aggregation::Min, column(o, "first_seen")),
                    "first_seen",
                ),
                named(
                    aggregate(Aggregation::Max, column(o, "last_seen")),
                    "last_seen",
                ),
            ],
            table(&self.names.work("obs"), o),
        );
        g.selection = Some(
            all_of(vec![
                is_null(column(o, "b_value"), false),
                self.not_removed(o, A),
            ])
            .unwrap_or(Expr::Lit(Literal::Bool(true))),
        );
        g.group_by = vec![1, 2];
        let x = "x";
        let rank = Expr::Case {
            operand: Some(Box::new(column(x, "identifier_type"))),
            whens: self
                .identity
                .types
                .iter()
                .enumerate()
                .map(|(i, t)| (Expr::string(&t.name), int(i as i64 + 1)))
                .collect(),
            otherwise: None,
        };
        let numbered = select_from(
            vec![
                named(
                    row_number(Vec::new(), vec![rank, column(x, "identifier")]),
                    "node_id",
                ),
                named(column(x, "identifier_type"), "identifier_type"),
                named(column(x, "identifier"), "identifier"),
                named(column(x, "first_seen"), "first_seen"),
                named(column(x, "last_seen"), "last_seen"),
            ],
            subquery(Query::select(g), x),
        );
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(numbered)));
        out
    }

    /// A node's join onto `map`-shaped table `m` by identifier.
    pub(super) fn node_in(&self, m_alias: &str, node_alias: &str) -> Vec<Expr> {
        same_id(m_alias, ID, node_alias, ID)
    }
}

//! Merge limits: work table `over` (identifiers linked to too many others
//! of a type) and `graph_next`, the candidate edges without them.

use super::super::sql::{ColType, Statement, TableDef, fresh, insert};
use super::tables::edge_table;
use super::{A, B, Compiler, ID, probe, same_id};
use crate::catalog::Aggregation;
use crate::sql::ast::{BinOp, Expr, Query};
use crate::sql::build::{
    aggregate, all_of, column, eq, exists, int, named, select_from, subquery, table, union_all,
};

use ColType::{BigInt, Key};

impl Compiler<'_> {
    /// Identifiers linked to more distinct identifiers of a type than a
    /// limit allows.
    pub(super) fn over_limit(&self) -> Vec<Statement> {
        let def = TableDef {
            indexes: vec![&["identifier_type", "identifier"]],
            name: self.names.work("over"),
            columns: vec![
                ("identifier_type", Key),
                ("identifier", Key),
                ("linked_type", Key),
                ("linked_count", BigInt),
            ],
        };
        let mut out = fresh(def.clone());
        let mut per_limit = Vec::new();
        for l in &self.identity.limits {
            let (t, u) = (self.type_name(l.identifier), self.type_name(l.linked));
            let c = "c";
            let side = |me: (&str, &str), other: (&str, &str)| {
                let mut b = select_from(
                    vec![named(column(c, me.1), "x"), named(column(c, other.1), "y")],
                    table(&self.names.work("cand"), c),
                );
                b.selection = all_of(vec![
                    eq(column(c, me.0), Expr::string(t)),
                    eq(column(c, other.0), Expr::string(u)),
                ]);
                b
            };
            let p = "p";
            let mut g = select_from(
                vec![
                    named(Expr::string(t), "identifier_type"),
                    named(column(p, "x"), "identifier"),
                    named(Expr::string(u), "linked_type"),
                    named(
                        aggregate(Aggregation::CountDistinct, column(p, "y")),
                        "linked_count",
                    ),
                ],
                subquery(union_all(vec![side(A, B), side(B, A)]), p),
            );
            g.group_by = vec![2];
            g.having = Some(Expr::binary(
                BinOp::Gt,
                aggregate(Aggregation::CountDistinct, column(p, "y")),
                int(l.max as i64),
            ));
            per_limit.push(g);
        }
        if !per_limit.is_empty() {
            out.push(insert(&def, union_all(per_limit)));
        }
        out
    }

    /// The effective edges: candidates without identifiers over a limit.
    pub(super) fn graph_next(&self) -> Vec<Statement> {
        let def = edge_table(self.names.work("graph_next"));
        let c = "c";
        let not_over = |side: (&str, &str)| {
            exists(
                probe(&self.names.work("over"), "v", same_id("v", ID, c, side)),
                true,
            )
        };
        let mut sel = select_from(
            def.columns
                .iter()
                .map(|(n, _)| named(column(c, n), n))
                .collect(),
            table(&self.names.work("cand"), c),
        );
        sel.selection = all_of(vec![not_over(A), not_over(B)]);
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(sel)));
        out
    }
}

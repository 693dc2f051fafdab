//! Label propagation: one round, and the count of labels it changed.

use super::super::sql::{Statement, fresh, insert};
use super::Compiler;
use super::tables::label_table;
use crate::catalog::Aggregation;
use crate::sql::ast::{BinOp, Expr, Query};
use crate::sql::build::{
    aggregate, column, count_star, eq, inner_join, named, select_from, subquery, table, union_all,
};

impl Compiler<'_> {
    /// One propagation round from label table `cur` into `next`: each node
    /// takes the smallest of its own label, its neighbours' labels and — when
    /// it is the label of some node — that node's neighbours' labels
    /// (hooking: a whole tree moves under a smaller neighbouring tree at
    /// once); then the label of that label (pointer jumping). Labels only
    /// ever decrease and always name a node of the same component, so the
    /// fixed point is the component's smallest node; hooking plus jumping
    /// settles long chains in a logarithmic number of rounds where plain
    /// propagation needs their length.
    pub fn round(&self, cur: &str, next: &str) -> Vec<Statement> {
        let n = &self.names;
        let step = label_table(n.work("step"));
        let mut out = fresh(step.clone());
        let c = "c";
        let own = select_from(
            vec![
                named(column(c, "node_id"), "node_id"),
                named(column(c, "label"), "label"),
            ],
            table(cur, c),
        );
        let e = "e";
        let mut nb = select_from(
            vec![
                named(column(e, "src"), "node_id"),
                named(column(c, "label"), "label"),
            ],
            table(&n.work("edges"), e),
        );
        nb.joins = vec![inner_join(
            table(cur, c),
            vec![eq(column(c, "node_id"), column(e, "dst"))],
        )];
        let mut hook = select_from(
            vec![
                named(column("x", "label"), "node_id"),
                named(column("y", "label"), "label"),
            ],
            table(&n.work("edges"), e),
        );
        hook.joins = vec![
            inner_join(
                table(cur, "x"),
                vec![eq(column("x", "node_id"), column(e, "src"))],
            ),
            inner_join(
                table(cur, "y"),
                vec![eq(column("y", "node_id"), column(e, "dst"))],
            ),
        ];
        hook.selection = Some(Expr::binary(
            BinOp::Lt,
            column("y", "label"),
            column("x", "label"),
        ));
        let u = "u";
        let mut m = select_from(
            vec![
                named(column(u, "node_id"), "node_id"),
                named(aggregate(Aggregation::Min, column(u, "label")), "label"),
            ],
            subquery(union_all(vec![own, nb, hook]), u),
        );
        m.group_by = vec![1];
        out.push(insert(&step, Query::select(m)));
        let nx = label_table(next.to_string());
        out.extend(fresh(nx.clone()));
        let mut jump = select_from(
            vec![
                named(column("s", "node_id"), "node_id"),
                named(column("j", "label"), "label"),
            ],
            table(&step.name, "s"),
        );
        jump.joins = vec![inner_join(
            table(&step.name, "j"),
            vec![eq(column("j", "node_id"), column("s", "label"))],
        )];
        out.push(insert(&nx, Query::select(jump)));
        out
    }

    /// `SELECT COUNT(*)` of nodes whose label differs between two rounds.
    pub fn changed(&self, before: &str, after: &str) -> Statement {
        let mut q = select_from(vec![named(count_star(), "changed")], table(after, "x"));
        q.joins = vec![inner_join(
            table(before, "y"),
            vec![eq(column("y", "node_id"), column("x", "node_id"))],
        )];
        q.selection = Some(Expr::binary(
            BinOp::NotEq,
            column("x", "label"),
            column("y", "label"),
        ));
        Statement::Select(Query::select(q))
    }
}

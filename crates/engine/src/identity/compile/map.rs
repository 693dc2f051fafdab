//! After convergence: every node's final label, the next map, the clusters
//! that merged or split, and the next graph snapshot, all in work tables.

use super::super::sql::{ColType, Statement, TableDef, fresh, insert};
use super::tables::{edge_table, label_table, map_table};
use super::{A, B, CANON, Compiler, ID, probe, same_id};
use crate::catalog::Aggregation;
use crate::sql::ast::{BinOp, Expr, Query};
use crate::sql::build::{
    aggregate, all_of, any_of, column, eq, exists, inner_join, int, named, select_from, table,
    union_all,
};

use ColType::Key;

impl Compiler<'_> {
    /// Everything after convergence that goes into work tables: `labels`
    /// holds the active nodes' final labels. Nothing a reader sees changes
    /// until [`Compiler::publish`].
    pub fn write(&self, labels: &str) -> Vec<Statement> {
        let mut out = self.final_labels(labels);
        out.extend(self.erasure());
        out.extend(self.next_map());
        // Clusters that merged or split, for the ledger.
        out.extend(self.changed_clusters());
        out.extend(self.graph_keep());
        out
    }

    /// Final labels of every node (`final`): computed for active nodes, the
    /// node of the previous canonical id for the rest.
    fn final_labels(&self, labels: &str) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let nd = "n";
        let fin = label_table(n.work("final"));
        let mut out = fresh(fin.clone());
        let computed = select_from(
            vec![
                named(column("l", "node_id"), "node_id"),
                named(column("l", "label"), "label"),
            ],
            table(labels, "l"),
        );
        let mut kept = select_from(
            vec![
                named(column(nd, "node_id"), "node_id"),
                named(column("c", "node_id"), "label"),
            ],
            table(&nodes, nd),
        );
        kept.joins = vec![
            inner_join(table(&n.map, "p"), self.node_in("p", nd)),
            inner_join(table(&nodes, "c"), same_id("c", ID, "p", CANON)),
        ];
        kept.selection = Some(exists(
            probe(
                &n.work("active"),
                "a",
                vec![eq(column("a", "node_id"), column(nd, "node_id"))],
            ),
            true,
        ));
        out.push(insert(&fin, union_all(vec![computed, kept])));
        out
    }

    /// The next map (`map_next`): every node under its label's identifier,
    /// erased clusters left out.
    fn next_map(&self) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let nd = "n";
        let next = map_table(n.work("map_next"));
        let mut out = fresh(next.clone());
        let mut m = select_from(
            vec![
                named(column(nd, "identifier"), "identifier"),
                named(column(nd, "identifier_type"), "identifier_type"),
                named(column("c", "identifier"), "canonical_id"),
                named(column("c", "identifier_type"), "canonical_type"),
                named(column(nd, "first_seen"), "first_seen"),
                named(column(nd, "last_seen"), "last_seen"),
                named(int(self.identity.rule_version as i64), "rule_version"),
            ],
            table(&nodes, nd),
        );
        m.joins = vec![
            inner_join(
                table(&n.work("final"), "f"),
                vec![eq(column("f", "node_id"), column(nd, "node_id"))],
            ),
            inner_join(
                table(&nodes, "c"),
                vec![eq(column("c", "node_id"), column("f", "label"))],
            ),
        ];
        m.selection = Some(exists(
            probe(
                &n.work("erased"),
                "x",
                vec![eq(column("x", "label"), column("f", "label"))],
            ),
            true,
        ));
        out.push(insert(&next, Query::select(m)));
        out
    }

    /// The next graph snapshot (`graph_keep`), without erased subjects.
    fn graph_keep(&self) -> Vec<Statement> {
        let n = &self.names;
        let graph = edge_table(n.work("graph_keep"));
        let mut out = fresh(graph.clone());
        let g = "g";
        let mut keep = select_from(
            graph
                .columns
                .iter()
                .map(|(c, _)| named(column(g, c), c))
                .collect(),
            table(&n.work("graph_next"), g),
        );
        let erased_ids = n.work("erased_ids");
        let not_erased =
            |side: (&str, &str)| exists(probe(&erased_ids, "x", same_id("x", ID, g, side)), true);
        keep.selection = all_of(vec![not_erased(A), not_erased(B)]);
        out.push(insert(&graph, Query::select(keep)));
        out
    }

    /// Work tables `merged` and `split`: next clusters holding identifiers
    /// of several current ones, and current clusters spread over several
    /// next ones (either way, a change of canonical type counts too).
    fn changed_clusters(&self) -> Vec<Statement> {
        let n = &self.names;
        let next = n.work("map_next");
        let changed = |name: &str, from: &str, to: &str| {
            let def = TableDef {
                indexes: vec![&["canonical_type", "canonical_id"]],
                name: n.work(name),
                columns: vec![("canonical_type", Key), ("canonical_id", Key)],
            };
            let mut q = select_from(
                vec![
                    named(column("t", "canonical_type"), "canonical_type"),
                    named(column("t", "canonical_id"), "canonical_id"),
                ],
                table(to, "t"),
            );
            q.joins = vec![inner_join(table(from, "f"), same_id("f", ID, "t", ID))];
            q.group_by = vec![1, 2];
            q.having = Some(any_of(vec![
                Expr::binary(
                    BinOp::Gt,
                    aggregate(Aggregation::CountDistinct, column("f", "canonical_id")),
                    int(1),
                ),
                Expr::binary(
                    BinOp::NotEq,
                    aggregate(Aggregation::Min, column("f", "canonical_type")),
                    aggregate(Aggregation::Max, column("f", "canonical_type")),
                ),
            ]));
            let mut v = fresh(def.clone());
            v.push(insert(&def, Query::select(q)));
            v
        };
        let mut out = changed("merged", &n.map, &next);
        out.extend(changed("split", &next, &n.map));
        out
    }
}

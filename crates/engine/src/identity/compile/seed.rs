//! The nodes a build recomputes (`active`), their starting labels
//! (`lbl_a`) and the numbered edges among them (`edges`).

use super::super::sql::{ColType, Statement, TableDef, fresh, insert};
use super::tables::label_table;
use super::{A, B, CANON, Compiler, ID, Mode, probe, same_id};
use crate::sql::ast::{Query, Select};
use crate::sql::build::{
    coalesce, column, eq, exists, inner_join, left_join, named, select_from, subquery, table,
    union_all,
};

use ColType::BigInt;

impl Compiler<'_> {
    /// Which nodes take part and their starting labels (`lbl_a`), and the
    /// numbered edges among them (`edges`, both directions).
    ///
    /// Full: every node, labelled by itself. Incremental: only nodes of
    /// components touched by new edges (edges absent from the previous
    /// graph snapshot) and nodes seen for the first time, each labelled by
    /// the node of its previous canonical id (smaller than or equal to its
    /// own, in its component), so unchanged components are not recomputed.
    pub fn seed(&self, mode: Mode) -> Vec<Statement> {
        let active = TableDef {
            indexes: vec![&["node_id"]],
            name: self.names.work("active"),
            columns: vec![("node_id", BigInt)],
        };
        let mut out = fresh(active.clone());
        let who = match mode {
            Mode::Full => self.all_nodes(),
            Mode::Incremental => self.touched_nodes(),
        };
        out.push(insert(&active, Query::select(who)));
        out.extend(self.start_labels(mode, &active.name));
        out.extend(self.numbered_edges(&active.name));
        out
    }

    /// Every node.
    fn all_nodes(&self) -> Select {
        let nd = "n";
        select_from(
            vec![named(column(nd, "node_id"), "node_id")],
            table(&self.names.work("nodes"), nd),
        )
    }

    /// Nodes of old clusters an endpoint of a new edge belonged to, and
    /// nodes new to the map.
    fn touched_nodes(&self) -> Select {
        let n = &self.names;
        let nodes = n.work("nodes");
        let nd = "n";
        // Old clusters an endpoint of a new edge belonged to.
        let g = "g";
        let p = "p";
        let touched_side = |side: (&str, &str)| {
            let mut t = select_from(
                vec![
                    named(column(p, "canonical_type"), "canonical_type"),
                    named(column(p, "canonical_id"), "canonical_id"),
                ],
                table(&n.work("graph_next"), g),
            );
            t.joins = vec![inner_join(table(&n.map, p), same_id(p, ID, g, side))];
            let mut same = same_id("o", A, g, A);
            same.extend(same_id("o", B, g, B));
            t.selection = Some(exists(probe(&n.graph, "o", same), true));
            t
        };
        let touched = subquery(union_all(vec![touched_side(A), touched_side(B)]), "t");
        let mut in_touched = select_from(
            vec![named(column(nd, "node_id"), "node_id")],
            table(&nodes, nd),
        );
        in_touched.joins = vec![
            inner_join(table(&n.map, p), self.node_in(p, nd)),
            inner_join(touched, same_id("t", CANON, p, CANON)),
        ];
        let mut new_nodes = select_from(
            vec![named(column(nd, "node_id"), "node_id")],
            table(&nodes, nd),
        );
        new_nodes.selection = Some(exists(probe(&n.map, "m", self.node_in("m", nd)), true));
        let u = "u";
        let mut g2 = select_from(
            vec![named(column(u, "node_id"), "node_id")],
            subquery(union_all(vec![in_touched, new_nodes]), u),
        );
        g2.group_by = vec![1];
        g2
    }

    /// Starting labels of the active nodes: their own, or (incremental)
    /// the node of their previous canonical id.
    fn start_labels(&self, mode: Mode, active: &str) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let nd = "n";
        let lbl = label_table(n.work("lbl_a"));
        let mut out = fresh(lbl.clone());
        let a = "a";
        let start = match mode {
            Mode::Full => select_from(
                vec![
                    named(column(a, "node_id"), "node_id"),
                    named(column(a, "node_id"), "label"),
                ],
                table(active, a),
            ),
            Mode::Incremental => {
                let mut q = select_from(
                    vec![
                        named(column(a, "node_id"), "node_id"),
                        named(
                            coalesce(vec![column("c", "node_id"), column(a, "node_id")]),
                            "label",
                        ),
                    ],
                    table(active, a),
                );
                q.joins = vec![
                    inner_join(
                        table(&nodes, nd),
                        vec![eq(column(nd, "node_id"), column(a, "node_id"))],
                    ),
                    left_join(table(&n.map, "p"), self.node_in("p", nd)),
                    left_join(table(&nodes, "c"), same_id("c", ID, "p", CANON)),
                ];
                q
            }
        };
        out.push(insert(&lbl, Query::select(start)));
        out
    }

    /// Numbered edges, both directions, among active nodes.
    fn numbered_edges(&self, active: &str) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let edges = TableDef {
            indexes: vec![&["dst"]],
            name: n.work("edges"),
            columns: vec![("src", BigInt), ("dst", BigInt)],
        };
        let mut out = fresh(edges.clone());
        let g = "g";
        let dir = |from: (&str, &str), to: (&str, &str)| {
            let mut d = select_from(
                vec![
                    named(column("na", "node_id"), "src"),
                    named(column("nb", "node_id"), "dst"),
                ],
                table(&n.work("graph_next"), g),
            );
            d.joins = vec![
                inner_join(table(&nodes, "na"), same_id("na", ID, g, from)),
                inner_join(table(&nodes, "nb"), same_id("nb", ID, g, to)),
                inner_join(
                    table(active, "act"),
                    vec![eq(column("act", "node_id"), column("na", "node_id"))],
                ),
            ];
            d
        };
        let u = "u";
        let mut e = select_from(
            vec![
                named(column(u, "src"), "src"),
                named(column(u, "dst"), "dst"),
            ],
            subquery(union_all(vec![dir(A, B), dir(B, A)]), u),
        );
        e.group_by = vec![1, 2];
        out.push(insert(&edges, Query::select(e)));
        out
    }
}

//! The ledger entries of a run, comparing the current map with the next.

use chrono::NaiveDateTime;

use super::super::sql::{ColType, Statement, TableDef, insert};
use super::tables::ledger_table;
use super::{A, B, CANON, Compiler, ID, probe, same_id};
use crate::sql::ast::{BinOp, Expr, Literal, Query, SelectItem, SqlType};
use crate::sql::build::{
    all_of, any_of, coalesce, column, count_star, eq, exists, inner_join, int, left_join, named,
    select_from, subquery, table, unqualified,
};

/// What every entry of one run starts with.
struct Entry<'a> {
    ledger: TableDef,
    run_id: i64,
    run_at: NaiveDateTime,
    rule_version: i64,
    next: &'a str,
}

impl Entry<'_> {
    /// The items of an entry of kind `event`: run, time, rule version and
    /// event, then every other ledger column from `given` or, when not
    /// given, a NULL of its type.
    fn row(&self, event: &str, mut given: Vec<(&str, Expr)>) -> Vec<SelectItem> {
        let mut items = vec![
            named(int(self.run_id), "run_id"),
            named(Expr::Lit(Literal::Timestamp(self.run_at)), "run_at"),
            named(int(self.rule_version), "rule_version"),
            named(Expr::string(event), "event"),
        ];
        for (name, ty) in &self.ledger.columns[items.len()..] {
            let value = match given.iter().position(|(n, _)| n == name) {
                Some(i) => given.remove(i).1,
                None => Expr::TypedNull(match ty {
                    ColType::Key => SqlType::Text,
                    ColType::BigInt => SqlType::BigInt,
                    ColType::Timestamp => SqlType::Timestamp,
                }),
            };
            items.push(named(value, name));
        }
        debug_assert!(given.is_empty(), "not ledger columns: {given:?}");
        items
    }
}

impl Compiler<'_> {
    /// Ledger entries of this run, comparing the previous map with the next:
    /// `merge` (a new cluster holding identifiers of two or more previous
    /// clusters; one row per new evidence edge inside it), `split` (a
    /// previous cluster now spread over several; one row per resulting
    /// cluster with the number of identifiers), `remove` (an identifier no
    /// longer in the map because it is blocked, excluded or no longer seen),
    /// `erase` (a count only: ledger rows naming erased identifiers are
    /// deleted, the one exception to append-only).
    pub(super) fn ledger(&self, run_id: i64, run_at: NaiveDateTime) -> Vec<Statement> {
        let next = self.names.work("map_next");
        let e = Entry {
            ledger: ledger_table(self.names.ledger.clone()),
            run_id,
            run_at,
            rule_version: self.identity.rule_version as i64,
            next: &next,
        };
        let mut out = vec![self.merges(&e), self.splits(&e), self.removals(&e)];
        out.extend(self.erasures(&e));
        out
    }

    /// Merges with their new evidence.
    fn merges(&self, e: &Entry<'_>) -> Statement {
        let n = &self.names;
        let g = "g";
        let mut merge = select_from(
            e.row(
                "merge",
                vec![
                    ("canonical_id", column("na", "canonical_id")),
                    ("canonical_type", column("na", "canonical_type")),
                    ("from_canonical_id", column("pa", "canonical_id")),
                    ("other_canonical_id", column("pb", "canonical_id")),
                    ("evidence_a_type", column(g, "a_type")),
                    ("evidence_a", column(g, "a_value")),
                    ("evidence_b_type", column(g, "b_type")),
                    ("evidence_b", column(g, "b_value")),
                    ("evidence_source", column(g, "source")),
                    ("evidence_at", column(g, "first_seen")),
                ],
            ),
            table(&n.work("graph_next"), g),
        );
        merge.joins = vec![
            inner_join(table(e.next, "na"), same_id("na", ID, g, A)),
            inner_join(
                table(&n.work("merged"), "mg"),
                same_id("mg", CANON, "na", CANON),
            ),
            left_join(table(&n.map, "pa"), same_id("pa", ID, g, A)),
            left_join(table(&n.map, "pb"), same_id("pb", ID, g, B)),
        ];
        let mut old_edge = same_id("o", A, g, A);
        old_edge.extend(same_id("o", B, g, B));
        merge.selection = Some(exists(probe(&n.graph, "o", old_edge), true));
        insert(&e.ledger, Query::select(merge))
    }

    /// Splits: one row per resulting cluster.
    fn splits(&self, e: &Entry<'_>) -> Statement {
        let n = &self.names;
        let mut split = select_from(
            e.row(
                "split",
                vec![
                    ("canonical_id", column("t", "canonical_id")),
                    ("canonical_type", column("t", "canonical_type")),
                    ("from_canonical_id", column("p", "canonical_id")),
                    ("identifiers", count_star()),
                ],
            ),
            table(&n.map, "p"),
        );
        split.joins = vec![
            inner_join(
                table(&n.work("split"), "sp"),
                same_id("sp", CANON, "p", CANON),
            ),
            inner_join(table(e.next, "t"), same_id("t", ID, "p", ID)),
        ];
        split.group_by = vec![5, 6, 7];
        insert(&e.ledger, Query::select(split))
    }

    /// Removed identifiers that are not erased.
    fn removals(&self, e: &Entry<'_>) -> Statement {
        let n = &self.names;
        let mut removed = select_from(
            e.row(
                "remove",
                vec![
                    ("from_canonical_id", column("p", "canonical_id")),
                    ("evidence_a_type", column("p", "identifier_type")),
                    ("evidence_a", column("p", "identifier")),
                    (
                        "evidence_source",
                        coalesce(vec![column("r", "reason"), Expr::string("unseen")]),
                    ),
                ],
            ),
            table(&n.map, "p"),
        );
        removed.joins = vec![left_join(
            table(&n.work("removed"), "r"),
            same_id("r", ID, "p", ID),
        )];
        removed.selection = all_of(vec![
            exists(probe(e.next, "t", same_id("t", ID, "p", ID)), true),
            exists(
                probe(&n.work("erased_ids"), "x", same_id("x", ID, "p", ID)),
                true,
            ),
        ]);
        insert(&e.ledger, Query::select(removed))
    }

    /// Erasure: forget the identifiers everywhere in the ledger, then
    /// record how many left the map.
    fn erasures(&self, e: &Entry<'_>) -> Vec<Statement> {
        let n = &self.names;
        let ids = n.work("erased_ids");
        let cols = [
            "canonical_id",
            "from_canonical_id",
            "other_canonical_id",
            "evidence_a",
            "evidence_b",
        ];
        let names_an_erased_id = |c: &&str| {
            // Unqualified: the ledger row of the DELETE.
            let cond = vec![eq(column("x", "identifier"), unqualified(c))];
            exists(probe(&ids, "x", cond), false)
        };
        let delete = Statement::Delete {
            table: n.ledger.clone(),
            selection: any_of(cols.iter().map(names_an_erased_id).collect()),
        };
        // Only identifiers that were in the previous map are news.
        let mut newly = select_from(vec![named(count_star(), "n")], table(&ids, "x"));
        newly.selection = Some(exists(probe(&n.map, "p", same_id("p", ID, "x", ID)), false));
        let mut erase = select_from(
            e.row("erase", vec![("identifiers", column("k", "n"))]),
            subquery(Query::select(newly), "k"),
        );
        erase.selection = Some(Expr::binary(BinOp::Gt, column("k", "n"), int(0)));
        vec![delete, insert(&e.ledger, Query::select(erase))]
    }
}

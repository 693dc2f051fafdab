//! Work table `cand`: pairs between kept identifiers, minus the edges on
//! the exclusion list.

use super::super::sql::{Statement, fresh, insert};
use super::tables::edge_table;
use super::{A, B, Compiler, ID, probe, same_id};
use crate::sql::ast::Query;
use crate::sql::build::{all_of, column, exists, is_null, named, select_from, table};

impl Compiler<'_> {
    /// Pairs between kept identifiers, minus excluded edges (either way).
    pub(super) fn candidates(&self) -> Vec<Statement> {
        let def = edge_table(self.names.work("cand"));
        let o = "o";
        let excluded = |a: (&str, &str), b: (&str, &str)| {
            let mut c = same_id("x", ID, o, a);
            c.extend(same_id("x", ("linked_type", "linked_identifier"), o, b));
            exists(probe(&self.names.exclusions, "x", c), true)
        };
        let mut sel = select_from(
            def.columns
                .iter()
                .map(|(c, _)| named(column(o, c), c))
                .collect(),
            table(&self.names.work("obs"), o),
        );
        sel.selection = all_of(vec![
            is_null(column(o, "b_value"), true),
            self.not_removed(o, A),
            self.not_removed(o, B),
            excluded(A, B),
            excluded(B, A),
        ]);
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(sel)));
        out
    }
}

//! A run's fingerprint: whether anything a build reads changed since the
//! last run.

use super::super::sql::{Statement, fresh, insert};
use super::tables::fingerprint_table;
use super::{Compiler, Mode, probe};
use crate::catalog::Aggregation;
use crate::planner::stitch::{model_source, qualified};
use crate::sql::ast::{Expr, Query, SqlType, TableRef};
use crate::sql::build::{
    aggregate, column, count_star, eq, equal_or_both_null, exists, int, named, select_from,
    select_rows, table, union_all,
};

impl Compiler<'_> {
    /// This run's fingerprint (work table `fp`): per source model its row
    /// count and evidence time range; the exclusion list's size and time
    /// range; the erasure list's size; the rule version; and a hash of the
    /// statements the build would run (so any change of the rules —
    /// identifiers, normalisation, blocking, limits, sources, pairs — counts
    /// even without a rule version bump). Cheap: one aggregate per input,
    /// no grouping. Taken before the build reads anything, so rows arriving
    /// during a build show up as a change on the next run.
    pub fn fingerprint(&self) -> Vec<Statement> {
        let n = &self.names;
        let def = fingerprint_table(n.work("fp"), false);
        let row = |input: String, count: Expr, first: Expr, last: Expr, from: Option<TableRef>| {
            select_rows(
                vec![
                    named(Expr::string(&input), "input"),
                    named(count, "row_count"),
                    named(first, "first_at"),
                    named(last, "last_at"),
                ],
                from,
            )
        };
        let null_ts = || Expr::TypedNull(SqlType::Timestamp);
        let mut branches = Vec::new();
        for src in &self.identity.sources {
            let time = qualified(&src.time, "src");
            branches.push(row(
                format!("source:{}", self.catalog.model(src.model).name),
                count_star(),
                aggregate(Aggregation::Min, time.clone()),
                aggregate(Aggregation::Max, time),
                Some(model_source(self.catalog, src.model, "src")),
            ));
        }
        branches.push(row(
            "exclusions".into(),
            count_star(),
            aggregate(Aggregation::Min, column("x", "excluded_at")),
            aggregate(Aggregation::Max, column("x", "excluded_at")),
            Some(table(&n.exclusions, "x")),
        ));
        if let Some((model, key)) = &self.identity.erasure {
            branches.push(row(
                format!("erasure:{}", self.catalog.model(*model).name),
                aggregate(Aggregation::Count, qualified(key, "e")),
                null_ts(),
                null_ts(),
                Some(model_source(self.catalog, *model, "e")),
            ));
        }
        branches.push(row(
            "rule_version".into(),
            int(self.identity.rule_version as i64),
            null_ts(),
            null_ts(),
            None,
        ));
        branches.push(row(
            "definition".into(),
            int(self.definition_hash()),
            null_ts(),
            null_ts(),
            None,
        ));
        let mut out = fresh(def.clone());
        out.push(insert(&def, union_all(branches)));
        out
    }

    /// A hash of every statement a full build computes its result with
    /// (independent of run ids, times and dialect).
    fn definition_hash(&self) -> i64 {
        let mut all = self.prepare();
        all.extend(self.seed(Mode::Full));
        let (a, b) = (self.names.work("lbl_a"), self.names.work("lbl_b"));
        all.extend(self.round(&a, &b));
        all.extend(self.write(&b));
        fnv1a(&format!("{all:?}"))
    }

    /// `SELECT COUNT(*)` of inputs whose fingerprint differs from (or is
    /// missing in) run `previous`'s.
    pub fn fingerprint_changes(&self, previous: i64) -> Statement {
        let (c, p) = ("c", "p");
        let same_or_both_null = |name: &str| equal_or_both_null(column(p, name), column(c, name));
        let mut q = select_from(
            vec![named(count_star(), "changed")],
            table(&self.names.work("fp"), c),
        );
        q.selection = Some(exists(
            probe(
                &self.names.fingerprints,
                p,
                vec![
                    eq(column(p, "run_id"), int(previous)),
                    eq(column(p, "input"), column(c, "input")),
                    eq(column(p, "row_count"), column(c, "row_count")),
                    same_or_both_null("first_at"),
                    same_or_both_null("last_at"),
                ],
            ),
            true,
        ));
        Statement::Select(Query::select(q))
    }

    /// Stores this run's fingerprint under `run_id`.
    pub fn record_fingerprint(&self, run_id: i64) -> Statement {
        let def = fingerprint_table(self.names.fingerprints.clone(), true);
        let c = "c";
        let mut items = vec![named(int(run_id), "run_id")];
        items.extend(
            ["input", "row_count", "first_at", "last_at"]
                .iter()
                .map(|x| named(column(c, x), x)),
        );
        insert(
            &def,
            Query::select(select_from(items, table(&self.names.work("fp"), c))),
        )
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases and
/// platforms, for fingerprints stored in the warehouse.
fn fnv1a(text: &str) -> i64 {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    h as i64
}

//! The statements of an identity build, as `sql::ast` queries wrapped in
//! [`Statement`]s. Pure: no I/O. [`build`](super::build) runs them in this
//! order:
//!
//! 0. [`Compiler::persistent`]: the persistent tables (map, ledger, runs,
//!    fingerprints, exclusions, graph snapshot) if missing;
//!    [`Compiler::fingerprint`]: a cheap fingerprint of every input (row
//!    count and evidence time range per source, the exclusion list, the
//!    erasure list, the rules). A run whose fingerprint equals the last
//!    run's stops here (`noop`).
//! 1. [`Compiler::prepare`]: work tables:
//!    `obs` (every identifier and identifier pair seen in a source, normalised,
//!    with first/last evidence time), `removed` (blocked values and patterns,
//!    excluded identifiers), `cand` (edges between kept identifiers minus
//!    excluded edges), `over` (identifiers over a merge limit), `graph_next`
//!    (the effective edges), `nodes` (numbered in canonical order).
//! 2. [`Compiler::seed`] (full or incremental): which nodes take part and
//!    their starting labels, and the numbered `edges` among them.
//! 3. [`Compiler::round`] as often as labels change: min over neighbours,
//!    then pointer jumping; [`Compiler::changed`] counts the changes.
//! 4. [`Compiler::write`]: final labels, erasure, the next map and graph
//!    snapshot, the clusters that merged or split — all in work tables.
//! 5. [`Compiler::publish`], in one transaction: the ledger (merges,
//!    splits, removals, erasures), the next map and graph snapshot swapped
//!    in for the current ones, the run's fingerprint. Then work tables are
//!    dropped.
//!
//! One module a step: [`tables`] (shapes and names), [`fingerprint`],
//! [`observations`], [`blocking`], [`exclusions`], [`limits`], [`nodes`],
//! [`seed`], [`propagation`], [`map`], [`ledger`], [`publish`], and
//! [`script`] (every statement of a build, rendered). Statements are built
//! with the shared constructors of `crate::sql::build` and rendered by
//! `crate::sql::render`; nothing here quotes a name.

mod blocking;
mod erasure;
mod exclusions;
mod fingerprint;
mod ledger;
mod limits;
mod map;
mod nodes;
mod observations;
mod propagation;
mod publish;
mod script;
mod seed;
mod tables;

pub use script::{incremental_seed, script};
pub use tables::{
    Names, RUN_COLUMNS, exclusions_table, fingerprint_table, ledger_table, map_table, runs_table,
};

use super::model::Identity;
use super::sql::Statement;
use crate::catalog::Catalog;
use crate::sql::ast::{Expr, Select};
use crate::sql::build::{all_of, column, eq, int, named, select_from, table};

/// `SELECT 1 FROM table alias WHERE cond`.
fn probe(t: &str, alias: &str, cond: Vec<Expr>) -> Select {
    let mut p = select_from(vec![named(int(1), "one")], table(t, alias));
    p.selection = all_of(cond);
    p
}

/// Both columns of an (identifier type, identifier) pair match.
fn same_id(t1: &str, c1: (&str, &str), t2: &str, c2: (&str, &str)) -> Vec<Expr> {
    vec![
        eq(column(t1, c1.0), column(t2, c2.0)),
        eq(column(t1, c1.1), column(t2, c2.1)),
    ]
}

const ID: (&str, &str) = ("identifier_type", "identifier");
const A: (&str, &str) = ("a_type", "a_value");
const B: (&str, &str) = ("b_type", "b_value");
const CANON: (&str, &str) = ("canonical_type", "canonical_id");

/// Whether a build recomputes every component or only those its new edges
/// touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Full,
    Incremental,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental => "incremental",
        }
    }
}

pub struct Compiler<'a> {
    catalog: &'a Catalog,
    identity: &'a Identity,
    pub names: Names,
}

impl<'a> Compiler<'a> {
    pub fn new(catalog: &'a Catalog, identity: &'a Identity) -> Compiler<'a> {
        Compiler {
            catalog,
            identity,
            names: Names::new(identity),
        }
    }

    fn type_name(&self, i: usize) -> &str {
        &self.identity.types[i].name
    }

    /// The work tables up to numbered nodes.
    pub fn prepare(&self) -> Vec<Statement> {
        let mut out = Vec::new();
        out.extend(self.observations());
        out.extend(self.removed());
        out.extend(self.candidates());
        out.extend(self.over_limit());
        out.extend(self.graph_next());
        out.extend(self.nodes());
        out
    }
}

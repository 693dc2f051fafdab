//! The tables of a build: persistent ones (map, ledger, runs,
//! fingerprints, exclusions, graph snapshot), created when missing, and the
//! names and shapes of the work tables.

use super::super::model::Identity;
use super::super::sql::{ColType, Statement, TableDef};
use super::Compiler;

use ColType::{BigInt, Key, Timestamp};

pub(super) fn edge_table(name: String) -> TableDef {
    TableDef {
        indexes: vec![&["a_type", "a_value"], &["b_type", "b_value"]],
        name,
        columns: vec![
            ("a_type", Key),
            ("a_value", Key),
            ("b_type", Key),
            ("b_value", Key),
            ("source", Key),
            ("first_seen", Timestamp),
            ("last_seen", Timestamp),
        ],
    }
}

pub(super) fn label_table(name: String) -> TableDef {
    TableDef {
        indexes: vec![&["node_id"]],
        name,
        columns: vec![("node_id", BigInt), ("label", BigInt)],
    }
}

/// Names of every table of a build.
pub struct Names {
    pub map: String,
    pub ledger: String,
    pub runs: String,
    pub fingerprints: String,
    pub exclusions: String,
    pub graph: String,
    prefix: String,
}

impl Names {
    pub(super) fn new(identity: &Identity) -> Names {
        let t = &identity.tables;
        Names {
            map: t.map(),
            ledger: t.ledger(),
            runs: t.runs(),
            fingerprints: t.fingerprints(),
            exclusions: t.exclusions(),
            graph: t.name("graph"),
            prefix: t.prefix.clone(),
        }
    }

    /// A work table, dropped at the end of every build.
    pub fn work(&self, suffix: &str) -> String {
        format!("{}_w_{suffix}", self.prefix)
    }

    /// Every work table name.
    pub fn all_work(&self) -> Vec<String> {
        WORK_TABLES.iter().map(|w| self.work(w)).collect()
    }
}

const WORK_TABLES: [&str; 22] = [
    "fp",
    "obs",
    "removed",
    "cand",
    "over",
    "graph_next",
    "nodes",
    "active",
    "edges",
    "lbl_a",
    "lbl_b",
    "step",
    "final",
    "erased_keys",
    "erased",
    "erased_ids",
    "merged",
    "split",
    "map_next",
    "graph_keep",
    // MySQL/MariaDB's swap renames the replaced tables here first.
    "map_old",
    "graph_old",
];

pub fn map_table(name: String) -> TableDef {
    TableDef {
        indexes: vec![
            &["identifier_type", "identifier"],
            &["canonical_type", "canonical_id"],
        ],
        name,
        columns: vec![
            ("identifier", Key),
            ("identifier_type", Key),
            ("canonical_id", Key),
            ("canonical_type", Key),
            ("first_seen", Timestamp),
            ("last_seen", Timestamp),
            ("rule_version", BigInt),
        ],
    }
}

pub fn ledger_table(name: String) -> TableDef {
    TableDef {
        indexes: Vec::new(),
        name,
        columns: vec![
            ("run_id", BigInt),
            ("run_at", Timestamp),
            ("rule_version", BigInt),
            ("event", Key),
            ("canonical_id", Key),
            ("canonical_type", Key),
            ("from_canonical_id", Key),
            ("other_canonical_id", Key),
            ("evidence_a_type", Key),
            ("evidence_a", Key),
            ("evidence_b_type", Key),
            ("evidence_b", Key),
            ("evidence_source", Key),
            ("evidence_at", Timestamp),
            ("identifiers", BigInt),
        ],
    }
}

/// Columns of the runs table, in order; every one but `run_at` and `mode`
/// is an integer.
pub const RUN_COLUMNS: [&str; 17] = [
    "run_id",
    "run_at",
    "rule_version",
    "mode",
    "iterations",
    "converged",
    "identifiers",
    "edges",
    "clusters",
    "blocked",
    "excluded",
    "over_limit",
    "erased",
    "active",
    "merges",
    "splits",
    "duration_ms",
];

pub fn runs_table(name: String) -> TableDef {
    TableDef {
        indexes: Vec::new(),
        name,
        columns: RUN_COLUMNS
            .iter()
            .map(|c| {
                let ty = match *c {
                    "run_at" => Timestamp,
                    "mode" => Key,
                    _ => BigInt,
                };
                (*c, ty)
            })
            .collect(),
    }
}

/// One input of a build per row — a source model, the exclusion list, the
/// erasure list, the rules — as a row count and a time range; with
/// `run_id` in the persistent table, without in the run's work table.
pub fn fingerprint_table(name: String, with_run: bool) -> TableDef {
    let mut columns = vec![
        ("input", Key),
        ("row_count", BigInt),
        ("first_at", Timestamp),
        ("last_at", Timestamp),
    ];
    if with_run {
        columns.insert(0, ("run_id", BigInt));
    }
    TableDef {
        indexes: Vec::new(),
        name,
        columns,
    }
}

pub fn exclusions_table(name: String) -> TableDef {
    TableDef {
        indexes: Vec::new(),
        name,
        columns: vec![
            ("identifier_type", Key),
            ("identifier", Key),
            ("linked_type", Key),
            ("linked_identifier", Key),
            ("reason", Key),
            ("excluded_at", Timestamp),
        ],
    }
}

impl Compiler<'_> {
    /// Persistent tables, created when missing.
    pub fn persistent(&self) -> Vec<Statement> {
        let n = &self.names;
        [
            map_table(n.map.clone()),
            ledger_table(n.ledger.clone()),
            runs_table(n.runs.clone()),
            fingerprint_table(n.fingerprints.clone(), true),
            exclusions_table(n.exclusions.clone()),
            edge_table(n.graph.clone()),
        ]
        .into_iter()
        .map(|def| Statement::Create {
            table: def,
            if_not_exists: true,
        })
        .collect()
    }
}

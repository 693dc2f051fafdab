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

use chrono::NaiveDateTime;

use super::model::Identity;
use super::normalized;
use super::sql::{ColType, Statement, TableDef};
use crate::catalog::{Aggregation, Catalog};
use crate::sql::ast::*;

use ColType::{BigInt, Key, Timestamp};

fn col(t: &str, n: &str) -> Expr {
    Expr::Column {
        table: Some(Ident::generated(t)),
        name: Ident::new(n),
    }
}

fn s(v: &str) -> Expr {
    Expr::Lit(Literal::String(v.to_string()))
}

fn num(v: i64) -> Expr {
    Expr::Lit(Literal::Number(v.to_string()))
}

fn eq(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinOp::Eq, a, b)
}

fn and(parts: Vec<Expr>) -> Option<Expr> {
    Expr::and_all(parts.into_iter().map(|p| match p {
        Expr::Binary { op: BinOp::Or, .. } => Expr::Nested(Box::new(p)),
        other => other,
    }))
}

fn or(parts: Vec<Expr>) -> Expr {
    parts
        .into_iter()
        .reduce(|a, b| Expr::binary(BinOp::Or, a, b))
        .unwrap_or(Expr::Lit(Literal::Bool(false)))
}

fn agg(a: Aggregation, e: Expr) -> Expr {
    Expr::Aggregate {
        agg: a,
        arg: Some(Box::new(e)),
    }
}

fn count_star() -> Expr {
    Expr::Aggregate {
        agg: Aggregation::Count,
        arg: None,
    }
}

fn table(name: &str, alias: &str) -> TableRef {
    TableRef::Table {
        name: vec![Ident::new(name)],
        alias: Ident::generated(alias),
    }
}

fn item(e: Expr, alias: &str) -> SelectItem {
    SelectItem {
        expr: e,
        alias: Some(Ident::new(alias)),
    }
}

fn select(items: Vec<SelectItem>, from: TableRef) -> Select {
    Select {
        projection: items,
        from: Some(from),
        joins: Vec::new(),
        selection: None,
        group_by: Vec::new(),
        having: None,
    }
}

fn inner(t: TableRef, on: Vec<Expr>) -> Join {
    Join {
        kind: JoinKind::Inner,
        table: t,
        on: and(on),
    }
}

fn left(t: TableRef, on: Vec<Expr>) -> Join {
    Join {
        kind: JoinKind::Left,
        table: t,
        on: and(on),
    }
}

fn union(selects: Vec<Select>) -> Query {
    if selects.len() == 1 {
        let mut v = selects;
        return Query::select(v.remove(0));
    }
    Query {
        ctes: Vec::new(),
        body: SetExpr::UnionAll(selects),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    }
}

fn subquery(q: Query, alias: &str) -> TableRef {
    TableRef::Subquery {
        query: Box::new(q),
        alias: Ident::generated(alias),
    }
}

fn exists(sel: Select, negated: bool) -> Expr {
    Expr::Exists {
        query: Box::new(Query::select(sel)),
        negated,
    }
}

/// `SELECT 1 FROM table alias WHERE cond`.
fn probe(t: &str, alias: &str, cond: Vec<Expr>) -> Select {
    let mut p = select(vec![item(num(1), "one")], table(t, alias));
    p.selection = and(cond);
    p
}

/// Both columns of an (identifier type, identifier) pair match.
fn same_id(t1: &str, c1: (&str, &str), t2: &str, c2: (&str, &str)) -> Vec<Expr> {
    vec![
        eq(col(t1, c1.0), col(t2, c2.0)),
        eq(col(t1, c1.1), col(t2, c2.1)),
    ]
}

const ID: (&str, &str) = ("identifier_type", "identifier");
const A: (&str, &str) = ("a_type", "a_value");
const B: (&str, &str) = ("b_type", "b_value");
const CANON: (&str, &str) = ("canonical_type", "canonical_id");

fn edge_table(name: String) -> TableDef {
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

fn label_table(name: String) -> TableDef {
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
    fn new(identity: &Identity) -> Names {
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

/// FNV-1a, 64 bits: a hash that stays the same across Rust releases and
/// platforms, for fingerprints stored in the warehouse.
fn fnv1a(text: &str) -> i64 {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    h as i64
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

/// Drop-and-create of a work table (with its indexes).
fn fresh(def: TableDef) -> Vec<Statement> {
    let mut out = vec![Statement::DropTable(def.name.clone())];
    out.extend(super::sql::create(def, false));
    out
}

fn insert(def: &TableDef, query: Query) -> Statement {
    Statement::Insert {
        table: def.name.clone(),
        columns: def.column_names(),
        query,
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
        let row =
            |input: String, count: Expr, first: Expr, last: Expr, from: Option<TableRef>| Select {
                projection: vec![
                    item(s(&input), "input"),
                    item(count, "row_count"),
                    item(first, "first_at"),
                    item(last, "last_at"),
                ],
                from,
                joins: Vec::new(),
                selection: None,
                group_by: Vec::new(),
                having: None,
            };
        let null_ts = || Expr::TypedNull(SqlType::Timestamp);
        let mut branches = Vec::new();
        for src in &self.identity.sources {
            let time = crate::planner::stitch::qualified(&src.time, "src");
            branches.push(row(
                format!("source:{}", self.catalog.model(src.model).name),
                count_star(),
                agg(Aggregation::Min, time.clone()),
                agg(Aggregation::Max, time),
                Some(crate::planner::stitch::model_source(
                    self.catalog,
                    src.model,
                    "src",
                )),
            ));
        }
        branches.push(row(
            "exclusions".into(),
            count_star(),
            agg(Aggregation::Min, col("x", "excluded_at")),
            agg(Aggregation::Max, col("x", "excluded_at")),
            Some(table(&n.exclusions, "x")),
        ));
        if let Some((model, key)) = &self.identity.erasure {
            branches.push(row(
                format!("erasure:{}", self.catalog.model(*model).name),
                agg(
                    Aggregation::Count,
                    crate::planner::stitch::qualified(key, "e"),
                ),
                null_ts(),
                null_ts(),
                Some(crate::planner::stitch::model_source(
                    self.catalog,
                    *model,
                    "e",
                )),
            ));
        }
        branches.push(row(
            "rule_version".into(),
            num(self.identity.rule_version as i64),
            null_ts(),
            null_ts(),
            None,
        ));
        branches.push(row(
            "definition".into(),
            num(self.definition_hash()),
            null_ts(),
            null_ts(),
            None,
        ));
        let mut out = fresh(def.clone());
        out.push(insert(&def, union(branches)));
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
        let same_or_both_null = |name: &str| {
            Expr::Nested(Box::new(Expr::binary(
                BinOp::Or,
                eq(col(p, name), col(c, name)),
                Expr::Nested(Box::new(Expr::binary(
                    BinOp::And,
                    Expr::IsNull {
                        expr: Box::new(col(p, name)),
                        negated: false,
                    },
                    Expr::IsNull {
                        expr: Box::new(col(c, name)),
                        negated: false,
                    },
                ))),
            )))
        };
        let mut q = select(
            vec![item(count_star(), "changed")],
            table(&self.names.work("fp"), c),
        );
        q.selection = Some(exists(
            probe(
                &self.names.fingerprints,
                p,
                vec![
                    eq(col(p, "run_id"), num(previous)),
                    eq(col(p, "input"), col(c, "input")),
                    eq(col(p, "row_count"), col(c, "row_count")),
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
        let mut items = vec![item(num(run_id), "run_id")];
        items.extend(
            ["input", "row_count", "first_at", "last_at"]
                .iter()
                .map(|x| item(col(c, x), x)),
        );
        insert(
            &def,
            Query::select(select(items, table(&self.names.work("fp"), c))),
        )
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

    /// Every identifier (a-side only) and identifier pair of every source,
    /// normalised, grouped with first/last evidence time.
    fn observations(&self) -> Vec<Statement> {
        let def = edge_table(self.names.work("obs"));
        let mut branches = Vec::new();
        let typed_null = || Expr::TypedNull(SqlType::Text);
        for src in &self.identity.sources {
            let model = self.catalog.model(src.model);
            let alias = "src";
            let value = |i: usize| {
                let (t, e) = &src.columns[i];
                normalized(
                    &self.identity.types[*t],
                    Expr::Cast {
                        expr: Box::new(crate::planner::stitch::qualified(e, alias)),
                        ty: SqlType::Text,
                    },
                )
            };
            let not_null = |i: usize| Expr::IsNull {
                expr: Box::new(crate::planner::stitch::qualified(&src.columns[i].1, alias)),
                negated: true,
            };
            let time = crate::planner::stitch::qualified(&src.time, alias);
            let from = || crate::planner::stitch::model_source(self.catalog, src.model, alias);
            for (i, (t, _)) in src.columns.iter().enumerate() {
                let mut b = select(
                    vec![
                        item(s(self.type_name(*t)), "a_type"),
                        item(value(i), "a_value"),
                        item(typed_null(), "b_type"),
                        item(typed_null(), "b_value"),
                        item(s(&model.name), "source"),
                        item(time.clone(), "seen_at"),
                    ],
                    from(),
                );
                b.selection = Some(not_null(i));
                branches.push(b);
            }
            for (x, y) in &src.pairs {
                let mut b = select(
                    vec![
                        item(s(self.type_name(src.columns[*x].0)), "a_type"),
                        item(value(*x), "a_value"),
                        item(s(self.type_name(src.columns[*y].0)), "b_type"),
                        item(value(*y), "b_value"),
                        item(s(&model.name), "source"),
                        item(time.clone(), "seen_at"),
                    ],
                    from(),
                );
                b.selection = and(vec![not_null(*x), not_null(*y)]);
                branches.push(b);
            }
        }
        let u = "u";
        let mut g = select(
            vec![
                item(col(u, "a_type"), "a_type"),
                item(col(u, "a_value"), "a_value"),
                item(col(u, "b_type"), "b_type"),
                item(col(u, "b_value"), "b_value"),
                item(agg(Aggregation::Min, col(u, "source")), "source"),
                item(agg(Aggregation::Min, col(u, "seen_at")), "first_seen"),
                item(agg(Aggregation::Max, col(u, "seen_at")), "last_seen"),
            ],
            subquery(union(branches), u),
        );
        g.group_by = vec![1, 2, 3, 4];
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(g)));
        out
    }

    /// Identifiers that take no part: blocked values and patterns (reason
    /// `blocked`) and identifiers on the exclusion list (`excluded`).
    fn removed(&self) -> Vec<Statement> {
        let def = TableDef {
            indexes: vec![&["identifier_type", "identifier"]],
            name: self.names.work("removed"),
            columns: vec![
                ("identifier_type", Key),
                ("identifier", Key),
                ("reason", Key),
            ],
        };
        let o = "o";
        let mut blocked = Vec::new();
        for t in &self.identity.types {
            let mut tests: Vec<Expr> = Vec::new();
            if !t.blocked_values.is_empty() {
                tests.push(Expr::InList {
                    expr: Box::new(col(o, "a_value")),
                    list: t.blocked_values.iter().map(|v| s(v)).collect(),
                    negated: false,
                });
            }
            for p in &t.blocked_patterns {
                tests.push(Expr::Like {
                    expr: Box::new(col(o, "a_value")),
                    pattern: Box::new(s(p)),
                    negated: false,
                    case_insensitive: false,
                });
            }
            if !tests.is_empty() {
                blocked.push(Expr::Nested(Box::new(Expr::binary(
                    BinOp::And,
                    eq(col(o, "a_type"), s(&t.name)),
                    Expr::Nested(Box::new(or(tests))),
                ))));
            }
        }
        let mut branches = Vec::new();
        if !blocked.is_empty() {
            let mut b = select(
                vec![
                    item(col(o, "a_type"), "identifier_type"),
                    item(col(o, "a_value"), "identifier"),
                    item(s("blocked"), "reason"),
                ],
                table(&self.names.work("obs"), o),
            );
            b.selection = Some(or(blocked));
            branches.push(b);
        }
        let x = "x";
        let mut e = select(
            vec![
                item(col(x, "identifier_type"), "identifier_type"),
                item(col(x, "identifier"), "identifier"),
                item(s("excluded"), "reason"),
            ],
            table(&self.names.exclusions, x),
        );
        e.selection = Some(Expr::IsNull {
            expr: Box::new(col(x, "linked_identifier")),
            negated: false,
        });
        branches.push(e);
        let u = "u";
        let mut g = select(
            vec![
                item(col(u, "identifier_type"), "identifier_type"),
                item(col(u, "identifier"), "identifier"),
                item(agg(Aggregation::Min, col(u, "reason")), "reason"),
            ],
            subquery(union(branches), u),
        );
        g.group_by = vec![1, 2];
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(g)));
        out
    }

    fn not_removed(&self, alias: &str, side: (&str, &str)) -> Expr {
        exists(
            probe(
                &self.names.work("removed"),
                "r",
                same_id("r", ID, alias, side),
            ),
            true,
        )
    }

    /// Pairs between kept identifiers, minus excluded edges (either way).
    fn candidates(&self) -> Vec<Statement> {
        let def = edge_table(self.names.work("cand"));
        let o = "o";
        let excluded = |a: (&str, &str), b: (&str, &str)| {
            let mut c = same_id("x", ID, o, a);
            c.extend(same_id("x", ("linked_type", "linked_identifier"), o, b));
            exists(probe(&self.names.exclusions, "x", c), true)
        };
        let mut sel = select(
            def.columns
                .iter()
                .map(|(c, _)| item(col(o, c), c))
                .collect(),
            table(&self.names.work("obs"), o),
        );
        sel.selection = and(vec![
            Expr::IsNull {
                expr: Box::new(col(o, "b_value")),
                negated: true,
            },
            self.not_removed(o, A),
            self.not_removed(o, B),
            excluded(A, B),
            excluded(B, A),
        ]);
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(sel)));
        out
    }

    /// Identifiers linked to more distinct identifiers of a type than a
    /// limit allows.
    fn over_limit(&self) -> Vec<Statement> {
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
                let mut b = select(
                    vec![item(col(c, me.1), "x"), item(col(c, other.1), "y")],
                    table(&self.names.work("cand"), c),
                );
                b.selection = and(vec![eq(col(c, me.0), s(t)), eq(col(c, other.0), s(u))]);
                b
            };
            let p = "p";
            let mut g = select(
                vec![
                    item(s(t), "identifier_type"),
                    item(col(p, "x"), "identifier"),
                    item(s(u), "linked_type"),
                    item(
                        Expr::Aggregate {
                            agg: Aggregation::CountDistinct,
                            arg: Some(Box::new(col(p, "y"))),
                        },
                        "linked_count",
                    ),
                ],
                subquery(union(vec![side(A, B), side(B, A)]), p),
            );
            g.group_by = vec![2];
            g.having = Some(Expr::binary(
                BinOp::Gt,
                Expr::Aggregate {
                    agg: Aggregation::CountDistinct,
                    arg: Some(Box::new(col(p, "y"))),
                },
                num(l.max as i64),
            ));
            per_limit.push(g);
        }
        if !per_limit.is_empty() {
            out.push(insert(&def, union(per_limit)));
        }
        out
    }

    /// The effective edges: candidates without identifiers over a limit.
    fn graph_next(&self) -> Vec<Statement> {
        let def = edge_table(self.names.work("graph_next"));
        let c = "c";
        let not_over = |side: (&str, &str)| {
            exists(
                probe(&self.names.work("over"), "v", same_id("v", ID, c, side)),
                true,
            )
        };
        let mut sel = select(
            def.columns
                .iter()
                .map(|(n, _)| item(col(c, n), n))
                .collect(),
            table(&self.names.work("cand"), c),
        );
        sel.selection = and(vec![not_over(A), not_over(B)]);
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(sel)));
        out
    }

    /// Kept identifiers numbered by (type priority, identifier): the
    /// smallest id of a component is its canonical identifier.
    fn nodes(&self) -> Vec<Statement> {
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
        let mut g = select(
            vec![
                item(col(o, "a_type"), "identifier_type"),
                item(col(o, "a_value"), "identifier"),
                item(agg(Aggregation::Min, col(o, "first_seen")), "first_seen"),
                item(agg(Aggregation::Max, col(o, "last_seen")), "last_seen"),
            ],
            table(&self.names.work("obs"), o),
        );
        g.selection = Some(
            and(vec![
                Expr::IsNull {
                    expr: Box::new(col(o, "b_value")),
                    negated: false,
                },
                self.not_removed(o, A),
            ])
            .unwrap_or(Expr::Lit(Literal::Bool(true))),
        );
        g.group_by = vec![1, 2];
        let x = "x";
        let rank = Expr::Case {
            operand: Some(Box::new(col(x, "identifier_type"))),
            whens: self
                .identity
                .types
                .iter()
                .enumerate()
                .map(|(i, t)| (s(&t.name), num(i as i64 + 1)))
                .collect(),
            otherwise: None,
        };
        let numbered = select(
            vec![
                item(
                    Expr::Window {
                        name: "ROW_NUMBER".into(),
                        args: Vec::new(),
                        partition_by: Vec::new(),
                        order_by: vec![rank, col(x, "identifier")],
                        frame: None,
                    },
                    "node_id",
                ),
                item(col(x, "identifier_type"), "identifier_type"),
                item(col(x, "identifier"), "identifier"),
                item(col(x, "first_seen"), "first_seen"),
                item(col(x, "last_seen"), "last_seen"),
            ],
            subquery(Query::select(g), x),
        );
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(numbered)));
        out
    }

    /// A node's join onto `map`-shaped table `m` by identifier.
    fn node_in(&self, m_alias: &str, node_alias: &str) -> Vec<Expr> {
        same_id(m_alias, ID, node_alias, ID)
    }

    /// Which nodes take part and their starting labels (`lbl_a`), and the
    /// numbered edges among them (`edges`, both directions).
    ///
    /// Full: every node, labelled by itself. Incremental: only nodes of
    /// components touched by new edges (edges absent from the previous
    /// graph snapshot) and nodes seen for the first time, each labelled by
    /// the node of its previous canonical id (smaller than or equal to its
    /// own, in its component), so unchanged components are not recomputed.
    pub fn seed(&self, mode: Mode) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let active = TableDef {
            indexes: vec![&["node_id"]],
            name: n.work("active"),
            columns: vec![("node_id", BigInt)],
        };
        let mut out = fresh(active.clone());
        let nd = "n";
        match mode {
            Mode::Full => {
                out.push(insert(
                    &active,
                    Query::select(select(
                        vec![item(col(nd, "node_id"), "node_id")],
                        table(&nodes, nd),
                    )),
                ));
            }
            Mode::Incremental => {
                // Old clusters an endpoint of a new edge belonged to.
                let g = "g";
                let p = "p";
                let touched_side = |side: (&str, &str)| {
                    let mut t = select(
                        vec![
                            item(col(p, "canonical_type"), "canonical_type"),
                            item(col(p, "canonical_id"), "canonical_id"),
                        ],
                        table(&n.work("graph_next"), g),
                    );
                    t.joins = vec![inner(table(&n.map, p), same_id(p, ID, g, side))];
                    let mut same = same_id("o", A, g, A);
                    same.extend(same_id("o", B, g, B));
                    t.selection = Some(exists(probe(&n.graph, "o", same), true));
                    t
                };
                let touched = subquery(union(vec![touched_side(A), touched_side(B)]), "t");
                let mut in_touched =
                    select(vec![item(col(nd, "node_id"), "node_id")], table(&nodes, nd));
                in_touched.joins = vec![
                    inner(table(&n.map, p), self.node_in(p, nd)),
                    inner(touched, same_id("t", CANON, p, CANON)),
                ];
                let mut new_nodes =
                    select(vec![item(col(nd, "node_id"), "node_id")], table(&nodes, nd));
                new_nodes.selection = Some(exists(probe(&n.map, "m", self.node_in("m", nd)), true));
                let u = "u";
                let mut g2 = select(
                    vec![item(col(u, "node_id"), "node_id")],
                    subquery(union(vec![in_touched, new_nodes]), u),
                );
                g2.group_by = vec![1];
                out.push(insert(&active, Query::select(g2)));
            }
        }
        // Starting labels of the active nodes.
        let lbl = label_table(n.work("lbl_a"));
        out.extend(fresh(lbl.clone()));
        let a = "a";
        let start = match mode {
            Mode::Full => select(
                vec![
                    item(col(a, "node_id"), "node_id"),
                    item(col(a, "node_id"), "label"),
                ],
                table(&active.name, a),
            ),
            Mode::Incremental => {
                let mut q = select(
                    vec![
                        item(col(a, "node_id"), "node_id"),
                        item(
                            Expr::Func {
                                name: "COALESCE".into(),
                                args: vec![col("c", "node_id"), col(a, "node_id")],
                                distinct: false,
                            },
                            "label",
                        ),
                    ],
                    table(&active.name, a),
                );
                q.joins = vec![
                    inner(
                        table(&nodes, nd),
                        vec![eq(col(nd, "node_id"), col(a, "node_id"))],
                    ),
                    left(table(&n.map, "p"), self.node_in("p", nd)),
                    left(table(&nodes, "c"), same_id("c", ID, "p", CANON)),
                ];
                q
            }
        };
        out.push(insert(&lbl, Query::select(start)));
        // Numbered edges, both directions, among active nodes.
        let edges = TableDef {
            indexes: vec![&["dst"]],
            name: n.work("edges"),
            columns: vec![("src", BigInt), ("dst", BigInt)],
        };
        out.extend(fresh(edges.clone()));
        let g = "g";
        let dir = |from: (&str, &str), to: (&str, &str)| {
            let mut d = select(
                vec![
                    item(col("na", "node_id"), "src"),
                    item(col("nb", "node_id"), "dst"),
                ],
                table(&n.work("graph_next"), g),
            );
            d.joins = vec![
                inner(table(&nodes, "na"), same_id("na", ID, g, from)),
                inner(table(&nodes, "nb"), same_id("nb", ID, g, to)),
                inner(
                    table(&active.name, "act"),
                    vec![eq(col("act", "node_id"), col("na", "node_id"))],
                ),
            ];
            d
        };
        let u = "u";
        let mut e = select(
            vec![item(col(u, "src"), "src"), item(col(u, "dst"), "dst")],
            subquery(union(vec![dir(A, B), dir(B, A)]), u),
        );
        e.group_by = vec![1, 2];
        out.push(insert(&edges, Query::select(e)));
        out
    }

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
        let own = select(
            vec![
                item(col(c, "node_id"), "node_id"),
                item(col(c, "label"), "label"),
            ],
            table(cur, c),
        );
        let e = "e";
        let mut nb = select(
            vec![
                item(col(e, "src"), "node_id"),
                item(col(c, "label"), "label"),
            ],
            table(&n.work("edges"), e),
        );
        nb.joins = vec![inner(
            table(cur, c),
            vec![eq(col(c, "node_id"), col(e, "dst"))],
        )];
        let mut hook = select(
            vec![
                item(col("x", "label"), "node_id"),
                item(col("y", "label"), "label"),
            ],
            table(&n.work("edges"), e),
        );
        hook.joins = vec![
            inner(
                table(cur, "x"),
                vec![eq(col("x", "node_id"), col(e, "src"))],
            ),
            inner(
                table(cur, "y"),
                vec![eq(col("y", "node_id"), col(e, "dst"))],
            ),
        ];
        hook.selection = Some(Expr::binary(
            BinOp::Lt,
            col("y", "label"),
            col("x", "label"),
        ));
        let u = "u";
        let mut m = select(
            vec![
                item(col(u, "node_id"), "node_id"),
                item(agg(Aggregation::Min, col(u, "label")), "label"),
            ],
            subquery(union(vec![own, nb, hook]), u),
        );
        m.group_by = vec![1];
        out.push(insert(&step, Query::select(m)));
        let nx = label_table(next.to_string());
        out.extend(fresh(nx.clone()));
        let mut jump = select(
            vec![
                item(col("s", "node_id"), "node_id"),
                item(col("j", "label"), "label"),
            ],
            table(&step.name, "s"),
        );
        jump.joins = vec![inner(
            table(&step.name, "j"),
            vec![eq(col("j", "node_id"), col("s", "label"))],
        )];
        out.push(insert(&nx, Query::select(jump)));
        out
    }

    /// `SELECT COUNT(*)` of nodes whose label differs between two rounds.
    pub fn changed(&self, before: &str, after: &str) -> Statement {
        let mut q = select(vec![item(count_star(), "changed")], table(after, "x"));
        q.joins = vec![inner(
            table(before, "y"),
            vec![eq(col("y", "node_id"), col("x", "node_id"))],
        )];
        q.selection = Some(Expr::binary(
            BinOp::NotEq,
            col("x", "label"),
            col("y", "label"),
        ));
        Statement::Select(Query::select(q))
    }

    /// Everything after convergence that goes into work tables: `labels`
    /// holds the active nodes' final labels. Nothing a reader sees changes
    /// until [`Compiler::publish`].
    pub fn write(&self, labels: &str) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let mut out = Vec::new();
        let nd = "n";
        // Final labels of every node: computed for active nodes, the node of
        // the previous canonical id for the rest.
        let fin = label_table(n.work("final"));
        out.extend(fresh(fin.clone()));
        let computed = select(
            vec![
                item(col("l", "node_id"), "node_id"),
                item(col("l", "label"), "label"),
            ],
            table(labels, "l"),
        );
        let mut kept = select(
            vec![
                item(col(nd, "node_id"), "node_id"),
                item(col("c", "node_id"), "label"),
            ],
            table(&nodes, nd),
        );
        kept.joins = vec![
            inner(table(&n.map, "p"), self.node_in("p", nd)),
            inner(table(&nodes, "c"), same_id("c", ID, "p", CANON)),
        ];
        kept.selection = Some(exists(
            probe(
                &n.work("active"),
                "a",
                vec![eq(col("a", "node_id"), col(nd, "node_id"))],
            ),
            true,
        ));
        out.push(insert(&fin, union(vec![computed, kept])));

        // Erasure: every cluster holding an erased subject's canonical id.
        let keys = TableDef {
            indexes: vec![&["identifier"]],
            name: n.work("erased_keys"),
            columns: vec![("identifier", Key)],
        };
        out.extend(fresh(keys.clone()));
        if let Some((model, key)) = &self.identity.erasure {
            let mut q = select(
                vec![item(
                    normalized(
                        self.identity.canonical_type(),
                        Expr::Cast {
                            expr: Box::new(crate::planner::stitch::qualified(key, "e")),
                            ty: SqlType::Text,
                        },
                    ),
                    "identifier",
                )],
                crate::planner::stitch::model_source(self.catalog, *model, "e"),
            );
            q.selection = Some(Expr::IsNull {
                expr: Box::new(crate::planner::stitch::qualified(key, "e")),
                negated: true,
            });
            out.push(insert(&keys, Query::select(q)));
        }
        let erased = TableDef {
            indexes: vec![&["label"]],
            name: n.work("erased"),
            columns: vec![("label", BigInt)],
        };
        out.extend(fresh(erased.clone()));
        let mut el = select(
            vec![item(col("f", "label"), "label")],
            table(&fin.name, "f"),
        );
        el.joins = vec![
            inner(
                table(&nodes, nd),
                vec![eq(col(nd, "node_id"), col("f", "node_id"))],
            ),
            inner(
                table(&keys.name, "k"),
                vec![eq(col("k", "identifier"), col(nd, "identifier"))],
            ),
        ];
        el.selection = Some(eq(
            col(nd, "identifier_type"),
            s(&self.identity.canonical_type().name),
        ));
        el.group_by = vec![1];
        out.push(insert(&erased, Query::select(el)));
        let erased_ids = TableDef {
            indexes: vec![&["identifier_type", "identifier"]],
            name: n.work("erased_ids"),
            columns: vec![("identifier_type", Key), ("identifier", Key)],
        };
        out.extend(fresh(erased_ids.clone()));
        let mut ei = select(
            vec![
                item(col(nd, "identifier_type"), "identifier_type"),
                item(col(nd, "identifier"), "identifier"),
            ],
            table(&fin.name, "f"),
        );
        ei.joins = vec![
            inner(
                table(&nodes, nd),
                vec![eq(col(nd, "node_id"), col("f", "node_id"))],
            ),
            inner(
                table(&erased.name, "x"),
                vec![eq(col("x", "label"), col("f", "label"))],
            ),
        ];
        out.push(insert(&erased_ids, Query::select(ei)));

        // The next map.
        let next = map_table(n.work("map_next"));
        out.extend(fresh(next.clone()));
        let mut m = select(
            vec![
                item(col(nd, "identifier"), "identifier"),
                item(col(nd, "identifier_type"), "identifier_type"),
                item(col("c", "identifier"), "canonical_id"),
                item(col("c", "identifier_type"), "canonical_type"),
                item(col(nd, "first_seen"), "first_seen"),
                item(col(nd, "last_seen"), "last_seen"),
                item(num(self.identity.rule_version as i64), "rule_version"),
            ],
            table(&nodes, nd),
        );
        m.joins = vec![
            inner(
                table(&fin.name, "f"),
                vec![eq(col("f", "node_id"), col(nd, "node_id"))],
            ),
            inner(
                table(&nodes, "c"),
                vec![eq(col("c", "node_id"), col("f", "label"))],
            ),
        ];
        m.selection = Some(exists(
            probe(
                &erased.name,
                "x",
                vec![eq(col("x", "label"), col("f", "label"))],
            ),
            true,
        ));
        out.push(insert(&next, Query::select(m)));

        // Clusters that merged or split, for the ledger.
        out.extend(self.changed_clusters());

        // The next graph snapshot (without erased subjects).
        let graph = edge_table(n.work("graph_keep"));
        out.extend(fresh(graph.clone()));
        let g = "g";
        let mut keep = select(
            graph
                .columns
                .iter()
                .map(|(c, _)| item(col(g, c), c))
                .collect(),
            table(&n.work("graph_next"), g),
        );
        let not_erased = |side: (&str, &str)| {
            exists(
                probe(&erased_ids.name, "x", same_id("x", ID, g, side)),
                true,
            )
        };
        keep.selection = and(vec![not_erased(A), not_erased(B)]);
        out.push(insert(&graph, Query::select(keep)));
        out
    }

    /// What makes this run visible, meant to run in one transaction
    /// ([`Warehouse::execute_batch_atomic`](crate::warehouse::Warehouse::execute_batch_atomic)):
    /// the ledger entries (they compare the current map with the next), the
    /// next map and graph snapshot swapped in, the run's fingerprint. The
    /// next map already has its indexes.
    ///
    /// The swap: where DDL is transactional (PostgreSQL, DuckDB, SQLite, and
    /// the other dialects as far as they allow) `DROP TABLE map` + `ALTER
    /// TABLE next RENAME TO map`, which readers see at commit; MySQL/MariaDB
    /// and ClickHouse commit around DDL, so there one `RENAME TABLE map TO
    /// old, next TO map` swaps atomically and `old` is dropped afterwards.
    pub fn publish(
        &self,
        dialect: crate::dialect::DialectKind,
        run_id: i64,
        run_at: NaiveDateTime,
    ) -> Vec<Statement> {
        use crate::dialect::DialectKind::{Clickhouse, Mysql};
        let n = &self.names;
        let swaps = [
            (n.work("map_next"), n.map.clone(), n.work("map_old")),
            (n.work("graph_keep"), n.graph.clone(), n.work("graph_old")),
        ];
        let mut out = Vec::new();
        let rename_all = matches!(dialect, Mysql | Clickhouse);
        if rename_all {
            // Left over by a run that failed between rename and drop.
            out.extend(
                swaps
                    .iter()
                    .map(|(_, _, old)| Statement::DropTable(old.clone())),
            );
        }
        out.extend(self.ledger(run_id, run_at));
        if rename_all {
            let mut pairs = Vec::new();
            for (next, current, old) in &swaps {
                pairs.push((current.clone(), old.clone()));
                pairs.push((next.clone(), current.clone()));
            }
            out.push(Statement::RenameTables(pairs));
            out.extend(
                swaps
                    .iter()
                    .map(|(_, _, old)| Statement::DropTable(old.clone())),
            );
        } else {
            for (next, current, _) in &swaps {
                out.push(Statement::DropTable(current.clone()));
                out.push(Statement::Rename {
                    from: next.clone(),
                    to: current.clone(),
                });
            }
        }
        out.push(self.record_fingerprint(run_id));
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
            let mut q = select(
                vec![
                    item(col("t", "canonical_type"), "canonical_type"),
                    item(col("t", "canonical_id"), "canonical_id"),
                ],
                table(to, "t"),
            );
            q.joins = vec![inner(table(from, "f"), same_id("f", ID, "t", ID))];
            q.group_by = vec![1, 2];
            q.having = Some(or(vec![
                Expr::binary(
                    BinOp::Gt,
                    Expr::Aggregate {
                        agg: Aggregation::CountDistinct,
                        arg: Some(Box::new(col("f", "canonical_id"))),
                    },
                    num(1),
                ),
                Expr::binary(
                    BinOp::NotEq,
                    agg(Aggregation::Min, col("f", "canonical_type")),
                    agg(Aggregation::Max, col("f", "canonical_type")),
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

    /// Ledger entries of this run, comparing the previous map with the next:
    /// `merge` (a new cluster holding identifiers of two or more previous
    /// clusters; one row per new evidence edge inside it), `split` (a
    /// previous cluster now spread over several; one row per resulting
    /// cluster with the number of identifiers), `remove` (an identifier no
    /// longer in the map because it is blocked, excluded or no longer seen),
    /// `erase` (a count only: ledger rows naming erased identifiers are
    /// deleted, the one exception to append-only).
    fn ledger(&self, run_id: i64, run_at: NaiveDateTime) -> Vec<Statement> {
        let n = &self.names;
        let next = n.work("map_next");
        let ledger = ledger_table(n.ledger.clone());
        let mut out = Vec::new();
        let head = |event: &str| {
            vec![
                item(num(run_id), "run_id"),
                item(Expr::Lit(Literal::Timestamp(run_at)), "run_at"),
                item(num(self.identity.rule_version as i64), "rule_version"),
                item(s(event), "event"),
            ]
        };
        let null_text = || Expr::TypedNull(SqlType::Text);
        let null_ts = || Expr::TypedNull(SqlType::Timestamp);
        let null_int = || Expr::TypedNull(SqlType::BigInt);

        // Merges with their new evidence.
        let g = "g";
        let mut merge = select(head("merge"), table(&n.work("graph_next"), g));
        merge.projection.extend([
            item(col("na", "canonical_id"), "canonical_id"),
            item(col("na", "canonical_type"), "canonical_type"),
            item(col("pa", "canonical_id"), "from_canonical_id"),
            item(col("pb", "canonical_id"), "other_canonical_id"),
            item(col(g, "a_type"), "evidence_a_type"),
            item(col(g, "a_value"), "evidence_a"),
            item(col(g, "b_type"), "evidence_b_type"),
            item(col(g, "b_value"), "evidence_b"),
            item(col(g, "source"), "evidence_source"),
            item(col(g, "first_seen"), "evidence_at"),
            item(null_int(), "identifiers"),
        ]);
        merge.joins = vec![
            inner(table(&next, "na"), same_id("na", ID, g, A)),
            inner(
                table(&n.work("merged"), "mg"),
                same_id("mg", CANON, "na", CANON),
            ),
            left(table(&n.map, "pa"), same_id("pa", ID, g, A)),
            left(table(&n.map, "pb"), same_id("pb", ID, g, B)),
        ];
        let mut old_edge = same_id("o", A, g, A);
        old_edge.extend(same_id("o", B, g, B));
        merge.selection = Some(exists(probe(&n.graph, "o", old_edge), true));
        out.push(insert(&ledger, Query::select(merge)));

        // Splits: one row per resulting cluster.
        let mut split = select(head("split"), table(&n.map, "p"));
        split.projection.extend([
            item(col("t", "canonical_id"), "canonical_id"),
            item(col("t", "canonical_type"), "canonical_type"),
            item(col("p", "canonical_id"), "from_canonical_id"),
            item(null_text(), "other_canonical_id"),
            item(null_text(), "evidence_a_type"),
            item(null_text(), "evidence_a"),
            item(null_text(), "evidence_b_type"),
            item(null_text(), "evidence_b"),
            item(null_text(), "evidence_source"),
            item(null_ts(), "evidence_at"),
            item(count_star(), "identifiers"),
        ]);
        split.joins = vec![
            inner(
                table(&n.work("split"), "sp"),
                same_id("sp", CANON, "p", CANON),
            ),
            inner(table(&next, "t"), same_id("t", ID, "p", ID)),
        ];
        split.group_by = vec![5, 6, 7];
        out.push(insert(&ledger, Query::select(split)));

        // Removed identifiers that are not erased.
        let mut removed = select(head("remove"), table(&n.map, "p"));
        removed.projection.extend([
            item(null_text(), "canonical_id"),
            item(null_text(), "canonical_type"),
            item(col("p", "canonical_id"), "from_canonical_id"),
            item(null_text(), "other_canonical_id"),
            item(col("p", "identifier_type"), "evidence_a_type"),
            item(col("p", "identifier"), "evidence_a"),
            item(null_text(), "evidence_b_type"),
            item(null_text(), "evidence_b"),
            item(
                Expr::Func {
                    name: "COALESCE".into(),
                    args: vec![col("r", "reason"), s("unseen")],
                    distinct: false,
                },
                "evidence_source",
            ),
            item(null_ts(), "evidence_at"),
            item(null_int(), "identifiers"),
        ]);
        removed.joins = vec![left(
            table(&n.work("removed"), "r"),
            same_id("r", ID, "p", ID),
        )];
        removed.selection = and(vec![
            exists(probe(&next, "t", same_id("t", ID, "p", ID)), true),
            exists(
                probe(&n.work("erased_ids"), "x", same_id("x", ID, "p", ID)),
                true,
            ),
        ]);
        out.push(insert(&ledger, Query::select(removed)));

        // Erasure: forget the identifiers everywhere in the ledger, then
        // record how many left the map.
        let ids = n.work("erased_ids");
        let cols = [
            "canonical_id",
            "from_canonical_id",
            "other_canonical_id",
            "evidence_a",
            "evidence_b",
        ];
        let cond = or(cols
            .iter()
            .map(|c| {
                exists(
                    probe(
                        &ids,
                        "x",
                        // Unqualified: the ledger row of the DELETE.
                        vec![eq(
                            col("x", "identifier"),
                            Expr::Column {
                                table: None,
                                name: Ident::new(*c),
                            },
                        )],
                    ),
                    false,
                )
            })
            .collect());
        out.push(Statement::Delete {
            table: n.ledger.clone(),
            selection: cond,
        });
        // Only identifiers that were in the previous map are news.
        let mut newly = select(vec![item(count_star(), "n")], table(&ids, "x"));
        newly.selection = Some(exists(probe(&n.map, "p", same_id("p", ID, "x", ID)), false));
        let mut erase = select(head("erase"), subquery(Query::select(newly), "k"));
        erase.projection.extend([
            item(null_text(), "canonical_id"),
            item(null_text(), "canonical_type"),
            item(null_text(), "from_canonical_id"),
            item(null_text(), "other_canonical_id"),
            item(null_text(), "evidence_a_type"),
            item(null_text(), "evidence_a"),
            item(null_text(), "evidence_b_type"),
            item(null_text(), "evidence_b"),
            item(null_text(), "evidence_source"),
            item(null_ts(), "evidence_at"),
            item(col("k", "n"), "identifiers"),
        ]);
        erase.selection = Some(Expr::binary(BinOp::Gt, col("k", "n"), num(0)));
        out.push(insert(&ledger, Query::select(erase)));
        out
    }

    /// Work tables to drop at the end.
    pub fn cleanup(&self) -> Vec<Statement> {
        self.names
            .all_work()
            .into_iter()
            .map(Statement::DropTable)
            .collect()
    }
}

/// Every statement of a full build for one dialect, as a script: one
/// propagation round stands for all (the build repeats it, alternating the
/// two label tables, until the change count is 0); the statements from
/// the ledger inserts to the fingerprint run in one transaction (see
/// [`Compiler::publish`]); the run-log row is left out. Shown by
/// `accord identity compile`; the warehouses accord runs on execute exactly
/// these statements.
pub fn script(
    catalog: &Catalog,
    dialect: crate::dialect::DialectKind,
    run_at: NaiveDateTime,
) -> Result<Vec<String>, String> {
    let identity = catalog
        .identity
        .as_ref()
        .ok_or("the definitions have no `identity:` section")?;
    let comp = Compiler::new(catalog, identity);
    let (a, b) = (comp.names.work("lbl_a"), comp.names.work("lbl_b"));
    let mut all = comp.persistent();
    all.extend(comp.fingerprint());
    all.extend(comp.prepare());
    all.extend(comp.seed(Mode::Full));
    all.extend(comp.round(&a, &b));
    all.push(comp.changed(&a, &b));
    all.extend(comp.write(&b));
    all.extend(comp.publish(dialect, 1, run_at));
    all.extend(comp.cleanup());
    render_all(&all, dialect)
}

fn render_all(
    all: &[Statement],
    dialect: crate::dialect::DialectKind,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for s in all {
        let sql = s.render(dialect.dialect()).map_err(|e| e.to_string())?;
        // Index statements render empty where the dialect needs none.
        if !sql.is_empty() {
            out.push(sql);
        }
    }
    Ok(out)
}

/// The incremental seed statements (for review and snapshot tests).
pub fn incremental_seed(
    catalog: &Catalog,
    dialect: crate::dialect::DialectKind,
) -> Result<Vec<String>, String> {
    let identity = catalog
        .identity
        .as_ref()
        .ok_or("the definitions have no `identity:` section")?;
    let comp = Compiler::new(catalog, identity);
    render_all(&comp.seed(Mode::Incremental), dialect)
}

//! Runs an identity build on a warehouse: fingerprint the inputs (and stop
//! there, as a `noop` run, when nothing changed since the last run),
//! prepare, seed, propagate until no label changes (or the iteration limit,
//! which fails the build and leaves the previous map in place), write the
//! next map into work tables, then in one transaction append the ledger,
//! swap the next map and graph snapshot in and record the run.
//!
//! Incremental: when the previous map was built under the same rule version
//! and every edge of the previous graph snapshot is still present (nothing
//! was excluded, blocked, limited or deleted since), only the components
//! touched by new edges, and identifiers seen for the first time, are
//! recomputed; every other identifier keeps its canonical id. Otherwise, or
//! with `full`, every component is recomputed. Both give the same map.

use std::time::Instant;

use chrono::NaiveDateTime;
use serde::Serialize;
use thiserror::Error;

use super::compile::{Compiler, Mode, RUN_COLUMNS, exclusions_table};
use super::model::Identity;
use super::normalized;
use super::sql::{Statement, insert};
use crate::catalog::Catalog;
use crate::dialect::DialectKind;
use crate::sql::ast::*;
use crate::sql::build::{
    aggregate, aliased, column, count_star, eq, exists, named, select_from, select_rows, table,
};
use crate::warehouse::{Value, Warehouse, WarehouseError};

/// What a build did: recomputed every component, only those new evidence
/// touched, or nothing at all because no input changed since the last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildMode {
    Full,
    Incremental,
    Noop,
}

impl BuildMode {
    pub fn name(self) -> &'static str {
        match self {
            BuildMode::Full => "full",
            BuildMode::Incremental => "incremental",
            BuildMode::Noop => "noop",
        }
    }
}

impl From<Mode> for BuildMode {
    fn from(m: Mode) -> BuildMode {
        match m {
            Mode::Full => BuildMode::Full,
            Mode::Incremental => BuildMode::Incremental,
        }
    }
}

#[derive(Debug, Error)]
pub enum IdentityError {
    #[error("the definitions have no `identity:` section")]
    NoDefinition,
    #[error("{0}")]
    Warehouse(#[from] WarehouseError),
    #[error("cannot render identity SQL for {dialect}: {message}")]
    Render {
        dialect: DialectKind,
        message: String,
    },
    #[error(
        "labels were still changing after {iterations} rounds (identity.max_iterations); the previous map is unchanged"
    )]
    NotConverged { iterations: u32 },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Recompute every component even when an incremental run (or none) is
    /// possible.
    pub full: bool,
    /// The run's timestamp (default: now, UTC, whole seconds).
    pub now: Option<NaiveDateTime>,
}

/// What a build did; also stored as one row of `<prefix>_runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BuildReport {
    pub run_id: i64,
    pub run_at: NaiveDateTime,
    pub rule_version: u32,
    pub mode: BuildMode,
    /// Propagation rounds until no label changed.
    pub iterations: u32,
    /// Identifiers in the map.
    pub identifiers: i64,
    /// Effective edges (after blocking, exclusions and limits).
    pub edges: i64,
    pub clusters: i64,
    /// Distinct identifiers dropped as blocked values or patterns.
    pub blocked: i64,
    /// Identifiers on the exclusion list.
    pub excluded: i64,
    /// Identifiers whose edges were dropped for exceeding a merge limit.
    pub over_limit: i64,
    /// Identifiers removed for erasure requests.
    pub erased: i64,
    /// Identifiers whose components were recomputed.
    pub active: i64,
    /// Clusters formed from several previous ones / previous clusters split.
    pub merges: i64,
    pub splits: i64,
    pub duration_ms: i64,
    /// For a `noop` run: the run whose map stands unchanged (identifiers,
    /// edges, clusters and the blocked, excluded, over-limit and erased
    /// counts are that run's, since they still describe the map).
    pub unchanged_since: Option<i64>,
}

pub(crate) fn identity_of(catalog: &Catalog) -> Result<&Identity, IdentityError> {
    catalog.identity.as_ref().ok_or(IdentityError::NoDefinition)
}

pub(crate) struct Runner<'a> {
    wh: &'a Warehouse,
    dialect: DialectKind,
}

impl Runner<'_> {
    pub(crate) fn new(wh: &Warehouse) -> Runner<'_> {
        Runner {
            wh,
            dialect: wh.dialect(),
        }
    }

    fn render(&self, s: &Statement) -> Result<String, IdentityError> {
        s.render(self.dialect.dialect())
            .map_err(|e| IdentityError::Render {
                dialect: self.dialect,
                message: e.to_string(),
            })
    }

    /// Runs `statements` in one transaction
    /// ([`Warehouse::execute_batch_atomic`]).
    pub(crate) async fn run_atomic(&self, statements: &[Statement]) -> Result<(), IdentityError> {
        let mut sql = Vec::with_capacity(statements.len());
        for s in statements {
            let text = self.render(s)?;
            if !text.is_empty() {
                sql.push(text);
            }
        }
        Ok(self.wh.execute_batch_atomic(&sql).await?)
    }

    pub(crate) async fn run(&self, statements: &[Statement]) -> Result<(), IdentityError> {
        for s in statements {
            let sql = self.render(s)?;
            if !sql.is_empty() {
                self.wh.query(&sql, 1).await?;
            }
        }
        Ok(())
    }

    /// The first row of a query's result.
    pub(crate) async fn row(&self, q: Query) -> Result<Vec<Value>, IdentityError> {
        let sql = self.render(&Statement::Select(q))?;
        let rs = self.wh.query(&sql, 1).await?;
        Ok(rs.rows.into_iter().next().unwrap_or_default())
    }

    pub(crate) async fn rows(
        &self,
        q: Query,
        max: usize,
    ) -> Result<Vec<Vec<Value>>, IdentityError> {
        let sql = self.render(&Statement::Select(q))?;
        Ok(self.wh.query(&sql, max).await?.rows)
    }

    pub(crate) async fn count(&self, q: Query) -> Result<i64, IdentityError> {
        Ok(self.row(q).await?.first().map(int).unwrap_or(0))
    }
}

/// An integer from whatever numeric type an engine returns.
pub(crate) fn int(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Decimal(d) => d.trunc().try_into().unwrap_or(0),
        Value::Float(f) => *f as i64,
        Value::Text(t) => t.trim().parse().unwrap_or(0),
        Value::Bool(b) => *b as i64,
        _ => 0,
    }
}

pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(t) => Some(t.clone()),
        Value::Int(i) => Some(i.to_string()),
        other => Some(format!("{other:?}")),
    }
}

/// `SELECT <items> FROM <table> [WHERE cond]`.
pub(crate) fn query(items: Vec<Expr>, from: &str, selection: Option<Expr>) -> Query {
    let items = items
        .into_iter()
        .enumerate()
        .map(|(i, e)| aliased(e, &format!("c{i}")))
        .collect();
    let mut select = select_from(items, table(from, "t"));
    select.selection = selection;
    Query::select(select)
}

/// A column of the table [`query`] reads.
pub(crate) fn c(name: &str) -> Expr {
    column("t", name)
}

pub fn now_utc() -> NaiveDateTime {
    let n = chrono::Utc::now().naive_utc();
    n - chrono::Duration::nanoseconds(n.and_utc().timestamp_subsec_nanos() as i64)
}

pub async fn build(
    catalog: &Catalog,
    wh: &Warehouse,
    opts: &BuildOptions,
) -> Result<BuildReport, IdentityError> {
    use crate::catalog::Aggregation::Max;
    let started = Instant::now();
    let identity = identity_of(catalog)?;
    let comp = Compiler::new(catalog, identity);
    let r = Runner::new(wh);
    let run_at = opts.now.unwrap_or_else(now_utc);

    let result = async {
        r.run(&comp.persistent()).await?;
        r.run(&comp.fingerprint()).await?;
        let run_id = r
            .count(query(
                vec![aggregate(Max, c("run_id"))],
                &comp.names.runs,
                None,
            ))
            .await?
            + 1;
        if !opts.full
            && let Some(previous) = previous_if_unchanged(&r, &comp).await?
        {
            let report = BuildReport {
                run_id,
                run_at,
                rule_version: identity.rule_version,
                mode: BuildMode::Noop,
                iterations: 0,
                active: 0,
                merges: 0,
                splits: 0,
                duration_ms: started.elapsed().as_millis() as i64,
                ..previous
            };
            r.run_atomic(&[comp.record_fingerprint(run_id), record(identity, &report)])
                .await?;
            return Ok(report);
        }
        compute(&r, &comp, identity, opts, run_id, run_at, started).await
    }
    .await;
    // Work tables go whatever happened (the map is replaced only by the
    // last, atomic step of a successful build).
    let cleanup = r.run(&comp.cleanup()).await;
    let report = result?;
    cleanup?;
    Ok(report)
}

/// The last run, when nothing a build reads has changed since it: every
/// input's fingerprint equals that run's, and the map still holds the
/// identifiers it wrote. Its report describes the map as it stands, with
/// `unchanged_since` naming the last run that built it.
async fn previous_if_unchanged(
    r: &Runner<'_>,
    comp: &Compiler<'_>,
) -> Result<Option<BuildReport>, IdentityError> {
    let n = &comp.names;
    let cols = [
        "run_id",
        "identifiers",
        "edges",
        "clusters",
        "blocked",
        "excluded",
        "over_limit",
        "erased",
        "rule_version",
    ];
    let mut last = query(cols.iter().map(|x| c(x)).collect(), &n.runs, None);
    last.order_by = vec![OrderItem {
        expr: Expr::bare("c0"),
        desc: true,
    }];
    last.limit = Some(1);
    let Some(row) = r.rows(last, 1).await?.into_iter().next() else {
        return Ok(None);
    };
    let v: Vec<i64> = row.iter().map(int).collect();
    let previous = BuildReport {
        run_id: v[0],
        run_at: NaiveDateTime::default(),
        rule_version: u32::try_from(v[8]).unwrap_or(0),
        mode: BuildMode::Noop,
        iterations: 0,
        identifiers: v[1],
        edges: v[2],
        clusters: v[3],
        blocked: v[4],
        excluded: v[5],
        over_limit: v[6],
        erased: v[7],
        active: 0,
        merges: 0,
        splits: 0,
        duration_ms: 0,
        unchanged_since: None,
    };
    let in_map = r.count(query(vec![count_star()], &n.map, None)).await?;
    if in_map != previous.identifiers {
        return Ok(None);
    }
    let now = r
        .count(query(vec![count_star()], &n.work("fp"), None))
        .await?;
    let then = r
        .count(query(
            vec![count_star()],
            &n.fingerprints,
            Some(Expr::binary(
                BinOp::Eq,
                c("run_id"),
                Expr::Lit(Literal::Number(previous.run_id.to_string())),
            )),
        ))
        .await?;
    if now != then {
        return Ok(None);
    }
    let Statement::Select(q) = comp.fingerprint_changes(previous.run_id) else {
        unreachable!("fingerprint_changes() is a query")
    };
    if r.count(q).await? != 0 {
        return Ok(None);
    }
    // After a series of no-ops, the map is the last real build's.
    let built = r
        .count(query(
            vec![aggregate(crate::catalog::Aggregation::Max, c("run_id"))],
            &n.runs,
            Some(Expr::binary(BinOp::NotEq, c("mode"), Expr::string("noop"))),
        ))
        .await?;
    Ok(Some(BuildReport {
        unchanged_since: Some(if built > 0 { built } else { previous.run_id }),
        ..previous
    }))
}

/// A full or incremental build, from the work tables to the swap.
async fn compute(
    r: &Runner<'_>,
    comp: &Compiler<'_>,
    identity: &Identity,
    opts: &BuildOptions,
    run_id: i64,
    run_at: NaiveDateTime,
    started: Instant,
) -> Result<BuildReport, IdentityError> {
    use crate::catalog::Aggregation::{Max, Min};
    let n = &comp.names;
    r.run(&comp.prepare()).await?;

    // Incremental only under the same rules and when no edge went away.
    let mode = if opts.full {
        Mode::Full
    } else {
        let prev = r
            .row(query(
                vec![
                    count_star(),
                    aggregate(Min, c("rule_version")),
                    aggregate(Max, c("rule_version")),
                ],
                &n.map,
                None,
            ))
            .await?;
        let rv = identity.rule_version as i64;
        let same_rules =
            prev.len() == 3 && int(&prev[0]) > 0 && int(&prev[1]) == rv && int(&prev[2]) == rv;
        let mut gone = select_from(vec![named(count_star(), "gone")], table(&n.graph, "o"));
        let same = ["a_type", "a_value", "b_type", "b_value"]
            .iter()
            .map(|x| eq(column("g", x), column("o", x)));
        let mut edge = select_from(
            vec![SelectItem {
                expr: crate::sql::build::int(1),
                alias: None,
            }],
            table(&n.work("graph_next"), "g"),
        );
        edge.selection = Expr::and_all(same);
        gone.selection = Some(exists(edge, true));
        let removed_edges = r.count(Query::select(gone)).await?;
        if same_rules && removed_edges == 0 {
            Mode::Incremental
        } else {
            Mode::Full
        }
    };
    r.run(&comp.seed(mode)).await?;

    let (a, b) = (n.work("lbl_a"), n.work("lbl_b"));
    let mut cur = a.clone();
    let mut iterations = 0u32;
    loop {
        if iterations >= identity.max_iterations {
            return Err(IdentityError::NotConverged { iterations });
        }
        let next = if cur == a { b.clone() } else { a.clone() };
        r.run(&comp.round(&cur, &next)).await?;
        iterations += 1;
        let Statement::Select(q) = comp.changed(&cur, &next) else {
            unreachable!("changed() is a query")
        };
        let changed = r.count(q).await?;
        cur = next;
        if changed == 0 {
            break;
        }
    }

    // Statistics of this run, read from the work tables.
    let w = |s: &str| n.work(s);
    let count_of = |t: String, reason: Option<&str>| {
        query(
            vec![count_star()],
            &t,
            reason.map(|x| Expr::binary(BinOp::Eq, c("reason"), Expr::string(x))),
        )
    };
    let blocked = r.count(count_of(w("removed"), Some("blocked"))).await?;
    let excluded = r.count(count_of(w("removed"), Some("excluded"))).await?;
    let over_limit = r.count(count_of(w("over"), None)).await?;
    let active = r.count(count_of(w("active"), None)).await?;
    let edges = r.count(count_of(w("graph_next"), None)).await?;

    r.run(&comp.write(&cur)).await?;
    let erased = r.count(count_of(w("erased_ids"), None)).await?;
    let merges = r.count(count_of(w("merged"), None)).await?;
    let splits = r.count(count_of(w("split"), None)).await?;
    let next = w("map_next");
    let identifiers = r.count(count_of(next.clone(), None)).await?;
    // Canonical ids are unique across types in practice; count pairs
    // exactly anyway.
    let clusters = r
        .count(query(
            vec![count_star()],
            &next,
            Some(Expr::binary(
                BinOp::And,
                Expr::binary(BinOp::Eq, c("identifier"), c("canonical_id")),
                Expr::binary(BinOp::Eq, c("identifier_type"), c("canonical_type")),
            )),
        ))
        .await?;
    let report = BuildReport {
        run_id,
        run_at,
        rule_version: identity.rule_version,
        mode: mode.into(),
        iterations,
        identifiers,
        edges,
        clusters,
        blocked,
        excluded,
        over_limit,
        erased,
        active,
        merges,
        splits,
        duration_ms: started.elapsed().as_millis() as i64,
        unchanged_since: None,
    };
    // Ledger, swap, fingerprint and run log: all or nothing.
    let mut publish = comp.publish(r.dialect, run_id, run_at);
    publish.push(record(identity, &report));
    r.run_atomic(&publish).await?;
    refresh_statistics(r, &identity.tables.map()).await;
    Ok(report)
}

/// Refreshes the optimizer's statistics of the freshly swapped-in map.
/// Stitched queries join it on every fact row: MariaDB, seeing a renamed
/// table with stale statistics, otherwise ran the demo's first attributed
/// query after a build for over 60 s instead of 1.5 s. Best effort: a
/// failure only costs speed.
async fn refresh_statistics(r: &Runner<'_>, table: &str) {
    use crate::dialect::DialectKind as D;
    let sql = match r.dialect {
        D::Mysql => format!("ANALYZE TABLE {table}"),
        D::Postgres | D::Sqlite => format!("ANALYZE {table}"),
        // DuckDB keeps statistics as it writes; the compiled-only
        // dialects are never built on here.
        _ => return,
    };
    if let Err(e) = r.wh.query(&sql, 1).await {
        tracing::warn!(table, error = %e, "refreshing the identity map's statistics failed");
    }
}

fn record(identity: &Identity, rep: &BuildReport) -> Statement {
    let num = crate::sql::build::int;
    let values: Vec<Expr> = vec![
        num(rep.run_id),
        Expr::Lit(Literal::Timestamp(rep.run_at)),
        num(rep.rule_version as i64),
        Expr::string(rep.mode.name()),
        num(rep.iterations as i64),
        num(1),
        num(rep.identifiers),
        num(rep.edges),
        num(rep.clusters),
        num(rep.blocked),
        num(rep.excluded),
        num(rep.over_limit),
        num(rep.erased),
        num(rep.active),
        num(rep.merges),
        num(rep.splits),
        num(rep.duration_ms),
    ];
    Statement::Insert {
        table: identity.tables.runs(),
        columns: RUN_COLUMNS.to_vec(),
        query: Query::select(select_rows(
            values
                .into_iter()
                .zip(RUN_COLUMNS)
                .map(|(e, name)| named(e, name))
                .collect(),
            None,
        )),
    }
}

/// One entry of the exclusion list: an identifier (all its edges) or one
/// edge (with `linked`). Values are normalised like the build does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Exclusion {
    pub identifier_type: String,
    pub identifier: String,
    #[serde(default)]
    pub linked_type: Option<String>,
    #[serde(default)]
    pub linked_identifier: Option<String>,
    pub reason: String,
}

/// Adds an exclusion; the next build (always a full one, since edges go)
/// applies it.
pub async fn exclude(
    catalog: &Catalog,
    wh: &Warehouse,
    ex: &Exclusion,
) -> Result<(), IdentityError> {
    let identity = identity_of(catalog)?;
    let ty = |name: &str| {
        identity
            .types
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = identity.types.iter().map(|t| t.name.as_str()).collect();
                let hint = crate::diagnostics::closest(name, names.iter().copied());
                IdentityError::Invalid(format!(
                    "unknown identifier type `{name}`{}",
                    hint.first()
                        .map(|h| format!("; did you mean `{h}`?"))
                        .unwrap_or_default()
                ))
            })
    };
    let a = ty(&ex.identifier_type)?;
    let linked = match (&ex.linked_type, &ex.linked_identifier) {
        (Some(t), Some(v)) => Some((ty(t)?, v)),
        (None, None) => None,
        _ => {
            return Err(IdentityError::Invalid(
                "an edge exclusion needs both linked_type and linked_identifier".into(),
            ));
        }
    };
    let def = exclusions_table(identity.tables.exclusions());
    let null = Expr::TypedNull(SqlType::Text);
    let item = named;
    let projection = vec![
        item(Expr::string(&a.name), "identifier_type"),
        item(normalized(a, Expr::string(&ex.identifier)), "identifier"),
        item(
            linked
                .map(|(t, _)| Expr::string(&t.name))
                .unwrap_or(null.clone()),
            "linked_type",
        ),
        item(
            linked
                .map(|(t, v)| normalized(t, Expr::string(v)))
                .unwrap_or(null),
            "linked_identifier",
        ),
        item(Expr::string(&ex.reason), "reason"),
        item(Expr::Lit(Literal::Timestamp(now_utc())), "excluded_at"),
    ];
    let r = Runner::new(wh);
    r.run(&[
        Statement::Create {
            table: def.clone(),
            if_not_exists: true,
        },
        insert(&def, Query::select(select_rows(projection, None))),
    ])
    .await
}

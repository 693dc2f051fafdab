//! Semantic query → logical plan → SQL AST. A pure function of the catalog
//! and the query: no I/O, so every interface (and a hot reload) can share it.
//!
//! - [`metrics`] expands each requested metric into the measures it needs
//!   (leaves) and an expression over them;
//! - [`resolve`] finds, per scanned model, the join path to every dimension
//!   and turns filters into expressions;
//! - [`request`] is the resolve stage: every name the request writes,
//!   resolved once for the caller under one error policy, whatever the
//!   query kind;
//! - [`build`] lays out the SQL: one scan per (model, time dimension),
//!   stitched on the group-by keys ([`merge`]) when several models are
//!   involved; `timeintel`, `attribution` and `analysis` (funnels,
//!   retention) are the other phases, each consuming the resolved request.
//!
//! The planner reads no clock: the day lifecycle rules are read on comes
//! in a [`PlanContext`], and a plan says until when it holds
//! ([`Plan::valid_until`]).

mod analysis;
mod attribution;
mod build;
mod conversion;
mod fact_policy;
mod filters;
mod funnel;
mod kanon;
mod like;
mod merge;
mod metrics;
pub mod nulls;
mod people;
mod request;
mod resolve;
mod retention;
mod scan;
pub mod spine;
pub mod stitch;
mod timeintel;
pub mod timezone;

pub use timeintel::natural_grain;

pub use analysis::catalog_entries as analysis_catalog;
use chrono::NaiveDate;
pub use nulls::{NullProbe, NullRule};
pub use people::{PEOPLE_CTE, PeopleScope, people_scope};
use serde::Serialize;

use crate::access::Caller;
use crate::catalog::{Catalog, DimensionKind, MetricId};
use crate::dialect::DialectKind;
use crate::query::SemanticQuery;
use crate::sql::ast::{Query, SelectItem, SetExpr};
use crate::sql::render::Renderer;

pub use crate::error::{ErrorCode, PlanError};

/// What a result column is.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum ColumnRole {
    Dimension {
        reference: String,
        kind: DimensionKind,
    },
    /// `integer` when the metric counts (count, count_distinct,
    /// sum_boolean): engines that return such sums as decimals are
    /// normalised to integers.
    Metric {
        metric: String,
        version: u32,
        integer: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputColumn {
    pub name: String,
    #[serde(flatten)]
    pub role: ColumnRole,
}

/// A planned query: its SQL AST plus what the result columns mean.
#[derive(Debug, Clone)]
pub struct Plan {
    pub query: Query,
    pub columns: Vec<OutputColumn>,
    pub metrics: Vec<MetricId>,
    pub warnings: Vec<String>,
    /// Models scanned, for lineage and audit.
    pub models: Vec<String>,
    /// Access and consent rules applied, in words.
    pub policies: Vec<String>,
    /// The last day this plan is valid: the earliest `sunset_on` among the
    /// metrics it uses (and their inputs), the last day they answer; from
    /// the day after, planning the same request refuses or warns
    /// differently. `None`: no end. A service may cache the plan under a
    /// key without a date and plan again when `today > valid_until`.
    pub valid_until: Option<NaiveDate>,
    /// Per metric, how to tell why a value is NULL ([`nulls`]): run with
    /// the statement, never shown in its SQL.
    pub probes: Vec<NullProbe>,
}

impl Plan {
    /// The SQL to show: `hash` masks carry placeholders, not the mask key.
    pub fn render(&self, dialect: DialectKind) -> Result<String, PlanError> {
        Ok(Renderer::new(dialect.dialect()).query(&self.query)?)
    }

    /// The SQL to run: `hash` masks keyed with `key` (refused without one),
    /// and the NULL probes as trailing columns named
    /// [`NullProbe::alias`], which the executor counts and removes.
    /// The text holds the key, so it goes to the warehouse and nowhere else.
    pub fn render_for_execution(
        &self,
        dialect: DialectKind,
        key: Option<&crate::masking::MaskKey>,
    ) -> Result<String, PlanError> {
        let renderer = Renderer::for_execution(dialect.dialect(), key);
        if self.probes.is_empty() {
            return Ok(renderer.query(&self.query)?);
        }
        let mut query = self.query.clone();
        if let SetExpr::Select(select) = &mut query.body {
            for (i, p) in self.probes.iter().enumerate() {
                select
                    .projection
                    .push(SelectItem::aliased(p.expr.clone(), &NullProbe::alias(i)));
            }
        }
        Ok(renderer.query(&query)?)
    }
}

/// What planning may depend on besides the catalog, the query and the
/// caller: the day (lifecycle rules are read on it). The planner reads no
/// clock; [`PlanContext::today_utc`] is the one place that does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanContext {
    pub today: NaiveDate,
}

impl PlanContext {
    /// Today's date in UTC, the calendar sunset dates are read in.
    pub fn today_utc() -> PlanContext {
        PlanContext {
            today: crate::clock::today(),
        }
    }

    pub fn on(today: NaiveDate) -> PlanContext {
        PlanContext { today }
    }
}

/// Plans a query against a catalog for a caller, today (UTC).
pub fn plan(catalog: &Catalog, query: &SemanticQuery, caller: &Caller) -> Result<Plan, PlanError> {
    plan_in(catalog, query, caller, &PlanContext::today_utc())
}

/// Plans a query against a catalog for a caller in a context: the caller's
/// policies and purpose are applied here, and only here, for every
/// interface.
pub fn plan_in(
    catalog: &Catalog,
    query: &SemanticQuery,
    caller: &Caller,
    cx: &PlanContext,
) -> Result<Plan, PlanError> {
    // A misspelt zone or week start is an error even where the query has
    // no period it would move: silently ignoring it would let the caller
    // believe it applied.
    timezone::zone(query)?;
    timezone::week_start(query)?;
    kanon::refuse_uncelled_kinds(catalog, query, caller)?;
    let kind = request::Kind::of(query);
    let req = request::Request::resolve(catalog, query, caller, cx, kind)?;
    let valid_until = req.valid_until;
    let mut plan = match kind {
        // Funnels and retention analyses (planner::funnel, planner::retention).
        request::Kind::Analysis => analysis::plan(req),
        request::Kind::Attributed => attribution::plan(req),
        request::Kind::Metrics if timeintel::applies(catalog, query) => timeintel::plan(req),
        request::Kind::Metrics => build::plan(req),
    }?;
    plan.valid_until = request::earliest(plan.valid_until, valid_until);
    Ok(plan)
}

/// Plans and renders in one step, today (UTC).
pub fn compile(
    catalog: &Catalog,
    query: &SemanticQuery,
    caller: &Caller,
    dialect: DialectKind,
) -> Result<(Plan, String), PlanError> {
    compile_in(catalog, query, caller, dialect, &PlanContext::today_utc())
}

/// Plans and renders in one step, in a context.
pub fn compile_in(
    catalog: &Catalog,
    query: &SemanticQuery,
    caller: &Caller,
    dialect: DialectKind,
    cx: &PlanContext,
) -> Result<(Plan, String), PlanError> {
    let p = plan_in(catalog, query, caller, cx)?;
    let sql = p.render(dialect)?;
    Ok((p, sql))
}

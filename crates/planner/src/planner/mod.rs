//! Semantic query → logical plan → SQL AST. A pure function of the catalog
//! and the query: no I/O, so every interface (and a hot reload) can share it.
//!
//! - [`metrics`] expands each requested metric into the measures it needs
//!   (leaves) and an expression over them;
//! - [`resolve`] finds, per scanned model, the join path to every dimension
//!   and turns filters into expressions;
//! - [`build`] lays out the SQL: one scan per (model, time dimension),
//!   stitched on the group-by keys when several models are involved.

mod analysis;
mod attribution;
mod build;
mod conversion;
mod fact_policy;
mod filters;
mod funnel;
mod kanon;
mod like;
mod metrics;
mod people;
mod resolve;
mod retention;
pub mod spine;
pub mod stitch;
mod timeintel;
pub mod timezone;

pub use timeintel::natural_grain;

pub use analysis::catalog_entries as analysis_catalog;
pub use people::{PEOPLE_CTE, PeopleScope, people_scope};
use serde::Serialize;

use crate::access::Caller;
use crate::catalog::{Catalog, DimensionKind, MetricId};
use crate::dialect::DialectKind;
use crate::query::SemanticQuery;
use crate::sql::ast::Query;
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
}

impl Plan {
    /// The SQL to show: `hash` masks carry placeholders, not the mask key.
    pub fn render(&self, dialect: DialectKind) -> Result<String, PlanError> {
        Ok(Renderer::new(dialect.dialect()).query(&self.query)?)
    }

    /// The SQL to run: `hash` masks keyed with `key` (refused without one).
    /// The text holds the key, so it goes to the warehouse and nowhere else.
    pub fn render_for_execution(
        &self,
        dialect: DialectKind,
        key: Option<&crate::masking::MaskKey>,
    ) -> Result<String, PlanError> {
        Ok(Renderer::for_execution(dialect.dialect(), key).query(&self.query)?)
    }
}

/// Plans a query against a catalog for a caller: the caller's policies and
/// purpose are applied here, and only here, for every interface.
pub fn plan(catalog: &Catalog, query: &SemanticQuery, caller: &Caller) -> Result<Plan, PlanError> {
    // A misspelt zone or week start is an error even where the query has
    // no period it would move: silently ignoring it would let the caller
    // believe it applied.
    timezone::zone(query)?;
    timezone::week_start(query)?;
    kanon::refuse_uncelled_kinds(catalog, query, caller)?;
    // Funnels and retention analyses (planner::funnel, planner::retention).
    if query.funnel.is_some() || query.retention.is_some() {
        return analysis::plan(catalog, query, caller);
    }
    if !query.attribution.is_empty() {
        return attribution::plan(catalog, query, caller);
    }
    if timeintel::applies(catalog, query) {
        return timeintel::plan(catalog, query, caller);
    }
    build::plan(catalog, query, caller)
}

/// Plans and renders in one step.
pub fn compile(
    catalog: &Catalog,
    query: &SemanticQuery,
    caller: &Caller,
    dialect: DialectKind,
) -> Result<(Plan, String), PlanError> {
    let p = plan(catalog, query, caller)?;
    let sql = p.render(dialect)?;
    Ok((p, sql))
}

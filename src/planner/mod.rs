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
use thiserror::Error;

use crate::access::Caller;
use crate::catalog::{Catalog, DimensionKind, MetricId};
use crate::dialect::DialectKind;
use crate::query::SemanticQuery;
use crate::sql::ast::Query;
use crate::sql::render::{RenderError, Renderer};

/// Stable error classes; interfaces map them to status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UnknownMetric,
    UnknownDimension,
    AmbiguousReference,
    UnreachableDimension,
    InvalidFilter,
    InvalidQuery,
    Unsupported,
    /// The caller may not use a member, a purpose, or any role.
    Forbidden,
    /// Beyond a size or depth limit (see [`crate::limits`]).
    QueryTooComplex,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::UnknownMetric => "unknown_metric",
            ErrorCode::UnknownDimension => "unknown_dimension",
            ErrorCode::AmbiguousReference => "ambiguous_reference",
            ErrorCode::UnreachableDimension => "unreachable_dimension",
            ErrorCode::InvalidFilter => "invalid_filter",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::QueryTooComplex => "query_too_complex",
        }
    }
}

#[derive(Debug, Clone, Error, PartialEq, Serialize)]
#[error("{message}")]
pub struct PlanError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault (`metrics[0]`, `dimensions[1]`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

impl PlanError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PlanError {
            code,
            message: message.into(),
            field: None,
            suggestions: Vec::new(),
        }
    }

    pub fn with_suggestions(mut self, s: Vec<String>) -> Self {
        self.suggestions = s;
        self
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        if self.field.is_none() {
            self.field = Some(field.into());
        }
        self
    }

    pub fn suggestions(&self) -> &[String] {
        &self.suggestions
    }

    /// The message with its suggestions, for a terminal.
    pub fn display_full(&self) -> String {
        let mut s = self.message.clone();
        match self.suggestions.as_slice() {
            [] => {}
            [one] => s.push_str(&format!("; did you mean `{one}`?")),
            many => {
                let l: Vec<String> = many.iter().map(|x| format!("`{x}`")).collect();
                s.push_str(&format!("; did you mean one of {}?", l.join(", ")));
            }
        }
        s
    }
}

impl From<RenderError> for PlanError {
    fn from(e: RenderError) -> Self {
        let code = match e {
            RenderError::InvalidLiteral(_) => ErrorCode::InvalidFilter,
            _ => ErrorCode::Unsupported,
        };
        PlanError::new(code, e.to_string())
    }
}

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

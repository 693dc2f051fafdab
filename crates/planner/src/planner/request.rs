//! The resolve stage: every name a request writes (metrics and their
//! versions, attribution instances, funnels, retention analyses,
//! dimensions, filters, `where`, the filter tree, the time range), checked
//! once, for every query kind, under one error policy:
//!
//! - a name the caller may not see is refused exactly like a name that does
//!   not exist (same code, same words, suggestions drawn from visible names
//!   only), so names cannot be probed;
//! - a metric's lifecycle is read on the context's day (deprecated: a
//!   warning; past its sunset: an error), never on the clock;
//! - every size limit is `query_too_complex`.
//!
//! The result, [`Request`], is what the phases (`build`, `timeintel`,
//! `attribution`, `analysis`) consume; none of them reads the raw request's
//! names again.

use chrono::NaiveDate;

use crate::access::{Access, Caller};
use crate::attribution::Attribution;
use crate::catalog::analysis::{Funnel, Retention};
use crate::catalog::{Catalog, Metric, MetricStatus};
use crate::diagnostics::closest;
use crate::lifecycle;
use crate::query::{DimensionRef, Filter, SemanticQuery, parse_metric_ref};
use crate::sql::ast::Expr;
use crate::sql::convert::parse_request_filter;

use super::{ErrorCode, PlanContext, PlanError, filters};

/// The query kinds, each a phase of its own after this stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Metrics (plain or time-intelligent).
    Metrics,
    /// Metrics credited to touches by attribution instances.
    Attributed,
    /// A funnel or a retention analysis.
    Analysis,
}

impl Kind {
    pub fn of(q: &SemanticQuery) -> Kind {
        if q.funnel.is_some() || q.retention.is_some() {
            Kind::Analysis
        } else if !q.attribution.is_empty() {
            Kind::Attributed
        } else {
            Kind::Metrics
        }
    }
}

/// How many members one request may name.
struct Limits {
    what: &'static str,
    metrics: usize,
    dimensions: usize,
    filters: usize,
}

const METRIC_LIMITS: Limits = Limits {
    what: "a query",
    metrics: 50,
    dimensions: 20,
    filters: 50,
};

/// Attributed queries multiply scans by (metric × instance).
const ATTRIBUTED_LIMITS: Limits = Limits {
    what: "an attributed query",
    metrics: 10,
    dimensions: 10,
    filters: 50,
};

/// Most attribution instances one query may compare.
pub(super) const MAX_ATTRIBUTION_INSTANCES: usize = 10;

/// A metric the request names, resolved.
pub(super) struct RequestedMetric<'c> {
    /// Its position in `metrics`.
    pub index: usize,
    pub metric: &'c Metric,
    /// The output column: the name, or `name_vN` when a version is pinned.
    pub alias: String,
}

impl RequestedMetric<'_> {
    pub fn field(&self) -> String {
        format!("metrics[{}]", self.index)
    }
}

/// A structured filter on a dimension (applied to rows).
pub(super) struct RowFilter<'q> {
    pub index: usize,
    pub filter: &'q Filter,
    pub dimension: DimensionRef,
}

/// A request with every name resolved for its caller.
pub(super) struct Request<'q, 'c> {
    pub catalog: &'c Catalog,
    pub query: &'q SemanticQuery,
    pub caller: &'q Caller,
    pub access: Access<'c>,
    pub cx: PlanContext,
    pub kind: Kind,
    pub metrics: Vec<RequestedMetric<'c>>,
    pub attributions: Vec<&'c Attribution>,
    pub dimensions: Vec<DimensionRef>,
    /// Filters on dimensions, applied to rows.
    pub row_filters: Vec<RowFilter<'q>>,
    /// Filters on a requested metric's value, applied after aggregation.
    pub post_filters: Vec<(usize, &'q Filter)>,
    pub where_expr: Option<Expr>,
    /// The references `where` names.
    pub where_refs: Vec<DimensionRef>,
    /// The references the filter tree names.
    pub tree_refs: Vec<DimensionRef>,
    pub warnings: Vec<String>,
    /// The last day the resolution holds (see [`super::Plan::valid_until`]).
    pub valid_until: Option<NaiveDate>,
}

impl<'q, 'c> Request<'q, 'c> {
    /// Resolves `q` for `caller` as a query of kind `kind`.
    pub fn resolve(
        catalog: &'c Catalog,
        q: &'q SemanticQuery,
        caller: &'q Caller,
        cx: &PlanContext,
        kind: Kind,
    ) -> Result<Request<'q, 'c>, PlanError> {
        let access = Access::resolve(catalog, caller)?;
        match kind {
            Kind::Metrics => check_sizes(q, &METRIC_LIMITS)?,
            Kind::Attributed => check_sizes(q, &ATTRIBUTED_LIMITS)?,
            Kind::Analysis => check_analysis_shape(q)?,
        }
        check_paging(q)?;
        let mut req = Request {
            catalog,
            query: q,
            caller,
            access,
            cx: *cx,
            kind,
            metrics: Vec::new(),
            attributions: Vec::new(),
            dimensions: Vec::new(),
            row_filters: Vec::new(),
            post_filters: Vec::new(),
            where_expr: None,
            where_refs: Vec::new(),
            tree_refs: Vec::new(),
            warnings: Vec::new(),
            valid_until: None,
        };
        if kind == Kind::Attributed {
            req.resolve_attributions()?;
        }
        req.resolve_metrics()?;
        req.resolve_dimensions()?;
        req.resolve_filters()?;
        if kind != Kind::Analysis {
            req.check_metric_time()?;
        }
        Ok(req)
    }

    fn resolve_metrics(&mut self) -> Result<(), PlanError> {
        let (catalog, q) = (self.catalog, self.query);
        for (index, text) in q.metrics.iter().enumerate() {
            let field = format!("metrics[{index}]");
            let (metric, alias) =
                resolve_metric(catalog, &self.access, text).map_err(|e| e.at(&field))?;
            let warnings =
                lifecycle::check_use(catalog, metric, self.cx.today).map_err(|e| e.at(&field))?;
            self.warnings.extend(warnings);
            self.valid_until = earliest(self.valid_until, last_valid_day(catalog, metric));
            if self.metrics.iter().any(|m| m.alias == alias) {
                return Err(requested_twice("metric", text).at(&field));
            }
            self.metrics.push(RequestedMetric {
                index,
                metric,
                alias,
            });
        }
        Ok(())
    }

    fn resolve_attributions(&mut self) -> Result<(), PlanError> {
        let q = self.query;
        if q.attribution.len() > MAX_ATTRIBUTION_INSTANCES {
            return Err(PlanError::new(
                ErrorCode::QueryTooComplex,
                format!(
                    "an attributed query may have at most {MAX_ATTRIBUTION_INSTANCES} attribution instances"
                ),
            )
            .at("attribution"));
        }
        for (field, present) in [
            ("filter", q.filter.is_some()),
            (
                "where",
                q.where_sql.as_deref().is_some_and(|w| !w.trim().is_empty()),
            ),
        ] {
            if present {
                return Err(PlanError::new(
                    ErrorCode::Unsupported,
                    format!(
                        "a `{field}` {} cannot be combined with attribution; use structured filters (on touch dimensions, metric_time or the conversion model's dimensions)",
                        if field == "filter" { "tree" } else { "expression" }
                    ),
                )
                .at(field));
            }
        }
        for (i, name) in q.attribution.iter().enumerate() {
            let field = format!("attribution[{i}]");
            let a =
                resolve_attribution(self.catalog, &self.access, name).map_err(|e| e.at(&field))?;
            if self.attributions.iter().any(|x| x.name == a.name) {
                return Err(requested_twice("attribution", name).at(&field));
            }
            self.attributions.push(a);
        }
        Ok(())
    }

    /// Dimensions parse, and are not asked twice; in a metric query a
    /// dimension cannot share a metric's column name.
    fn resolve_dimensions(&mut self) -> Result<(), PlanError> {
        for (i, text) in self.query.dimensions.iter().enumerate() {
            let field = format!("dimensions[{i}]");
            let r = DimensionRef::parse(text).map_err(|e| e.at(&field))?;
            if self.dimensions.iter().any(|d| d.alias() == r.alias()) {
                return Err(requested_twice("dimension", text).at(&field));
            }
            if self.kind == Kind::Metrics && self.metrics.iter().any(|m| m.alias == r.alias()) {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!("`{text}` names both a metric and a dimension in this query"),
                )
                .at(&field));
            }
            self.dimensions.push(r);
        }
        Ok(())
    }

    /// Structured filters (on a requested metric: after aggregation), the
    /// `where` expression and the filter tree, with the references they name.
    fn resolve_filters(&mut self) -> Result<(), PlanError> {
        let q = self.query;
        for (i, f) in q.filters.iter().enumerate() {
            if self.kind == Kind::Metrics && self.metrics.iter().any(|m| m.alias == f.dimension) {
                self.post_filters.push((i, f));
                continue;
            }
            let field = format!("filters[{i}].dimension");
            let r = DimensionRef::parse(&f.dimension).map_err(|e| e.at(&field))?;
            if self.kind == Kind::Analysis && r.is_metric_time() {
                return Err(analysis_time_filter().at(field));
            }
            self.row_filters.push(RowFilter {
                index: i,
                filter: f,
                dimension: r,
            });
        }
        if let Some(text) = q.where_sql.as_deref().filter(|t| !t.trim().is_empty()) {
            let w = parse_request_filter(text).map_err(|e| e.at("where"))?;
            self.where_refs = expr_refs(&w).map_err(|e| e.at("where"))?;
            self.where_expr = Some(w);
        }
        let aliases: Vec<&str> = self.metrics.iter().map(|m| m.alias.as_str()).collect();
        self.tree_refs = filters::tree_refs(q, &aliases)?;
        if self.kind == Kind::Analysis && self.tree_refs.iter().any(DimensionRef::is_metric_time) {
            return Err(analysis_time_filter().at("filter"));
        }
        Ok(())
    }

    /// Every dimension reference the request writes (grouping, filters,
    /// `where`, filter tree), with the request field it came from.
    pub fn references(&self) -> impl Iterator<Item = (String, &DimensionRef)> {
        self.dimensions
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("dimensions[{i}]"), r))
            .chain(
                self.row_filters
                    .iter()
                    .map(|f| (format!("filters[{}].dimension", f.index), &f.dimension)),
            )
            .chain(self.where_refs.iter().map(|r| ("where".to_string(), r)))
            .chain(self.tree_refs.iter().map(|r| ("filter".to_string(), r)))
    }

    /// `metric_time` (in any position, or as the time range) is refused
    /// like an unknown dimension to a caller whose roles hide it.
    fn check_metric_time(&self) -> Result<(), PlanError> {
        if self.access.metric_time_visible() {
            return Ok(());
        }
        for (field, r) in self.references() {
            if r.is_metric_time() {
                return Err(hidden_metric_time(&r.raw).at(field));
            }
        }
        if self.query.time_range.is_some() {
            return Err(hidden_metric_time("metric_time").at("time_range"));
        }
        Ok(())
    }
}

/// `<what> `<text>` is requested twice`.
fn requested_twice(what: &str, text: &str) -> PlanError {
    PlanError::new(
        ErrorCode::InvalidQuery,
        format!("{what} `{text}` is requested twice"),
    )
}

/// A funnel or retention query filters by time with `time_range`.
fn analysis_time_filter() -> PlanError {
    PlanError::new(
        ErrorCode::InvalidQuery,
        "filter funnels and retention by time with `time_range`",
    )
}

/// A funnel or retention query names its analysis and nothing its
/// definition already fixes.
fn check_analysis_shape(q: &SemanticQuery) -> Result<(), PlanError> {
    if !q.metrics.is_empty() {
        return Err(PlanError::new(
            ErrorCode::InvalidQuery,
            "a funnel or retention query takes no metrics",
        )
        .at("metrics"));
    }
    for (field, present) in [
        ("dimensions", !q.dimensions.is_empty()),
        ("order_by", !q.order_by.is_empty()),
    ] {
        if present {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "a funnel or retention query takes no {field}: its breakdown and order are part of its definition"
                ),
            )
            .at(field));
        }
    }
    Ok(())
}

/// At least one metric, and bounded sizes.
fn check_sizes(q: &SemanticQuery, limits: &Limits) -> Result<(), PlanError> {
    if q.metrics.is_empty() {
        return Err(
            PlanError::new(ErrorCode::InvalidQuery, "a query needs at least one metric")
                .at("metrics"),
        );
    }
    if q.metrics.len() > limits.metrics
        || q.dimensions.len() > limits.dimensions
        || q.filters.len() > limits.filters
    {
        return Err(PlanError::new(
            ErrorCode::QueryTooComplex,
            format!(
                "{} may have at most {} metrics, {} dimensions and {} filters",
                limits.what, limits.metrics, limits.dimensions, limits.filters
            ),
        ));
    }
    Ok(())
}

/// Engines take LIMIT/OFFSET as signed 64-bit integers: a larger value is
/// not a size the engine refuses but one it cannot read, so invalid.
fn check_paging(q: &SemanticQuery) -> Result<(), PlanError> {
    for (field, v) in [("limit", q.limit), ("offset", q.offset)] {
        if v.is_some_and(|n| n > i64::MAX as u64) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!("{field} must be at most {}", i64::MAX),
            )
            .at(field));
        }
    }
    Ok(())
}

/// The references a `where` expression names.
fn expr_refs(w: &Expr) -> Result<Vec<DimensionRef>, PlanError> {
    let mut refs = Vec::new();
    let mut err = None;
    w.walk(&mut |e| {
        if let Expr::Ref(parts) = e {
            let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
            match DimensionRef::parse(&text.join(".")) {
                Ok(r) => refs.push(r),
                Err(e) => err = Some(e),
            }
        }
    });
    match err {
        Some(e) => Err(e),
        None => Ok(refs),
    }
}

/// The catalog's metric a reference (`name` or `name@version`) names,
/// visible to the caller or not: for deciding which phase plans a query.
pub(super) fn lookup_metric<'c>(catalog: &'c Catalog, text: &str) -> Option<&'c Metric> {
    let (name, version) = parse_metric_ref(text).ok()?;
    match version {
        Some(v) => catalog.metric_version(&name, v),
        None => catalog.default_metric(&name),
    }
}

/// The one resolution of a metric reference, for every query kind: the
/// metric and its output alias, or the error. A hidden metric is an unknown
/// one; versions the caller may not see are never mentioned.
pub(super) fn resolve_metric<'c>(
    catalog: &'c Catalog,
    access: &Access,
    text: &str,
) -> Result<(&'c Metric, String), PlanError> {
    let (name, version) = parse_metric_ref(text)?;
    let found = match version {
        Some(v) => catalog.metric_version(&name, v),
        None => catalog.default_metric(&name),
    };
    if let Some(m) = found.filter(|m| access.metric_visible(m.id)) {
        let alias = match version {
            Some(v) => format!("{}_v{v}", m.name),
            None => m.name.clone(),
        };
        return Ok((m, alias));
    }
    let versions = access.visible_versions(&name);
    if versions.is_empty() {
        return Err(unknown_metric(catalog, access, &name));
    }
    let list: Vec<String> = versions
        .iter()
        .map(|id| {
            let m = catalog.metric(*id);
            format!("{}@{} ({})", m.name, m.version, m.status.name())
        })
        .collect();
    Err(PlanError::new(
        ErrorCode::UnknownMetric,
        match version {
            Some(v) => format!(
                "metric `{name}` has no version {v}; it has {}",
                list.join(", ")
            ),
            None => format!(
                "metric `{name}` has no active version; ask for one explicitly: {}",
                list.join(", ")
            ),
        },
    ))
}

/// `unknown metric `name``, suggesting only metrics the caller may use:
/// a hidden metric reads exactly like an absent one.
pub(super) fn unknown_metric(catalog: &Catalog, access: &Access, name: &str) -> PlanError {
    let visible = catalog.metric_names().filter(|n| {
        catalog
            .default_metric(n)
            .is_some_and(|m| access.metric_visible(m.id))
    });
    PlanError::new(ErrorCode::UnknownMetric, format!("unknown metric `{name}`"))
        .with_suggestions(closest(name, visible))
}

/// The error for `metric_time` when the caller's roles hide it: the one an
/// unknown dimension gets, so hidden and absent read alike.
pub(super) fn hidden_metric_time(raw: &str) -> PlanError {
    PlanError::new(
        ErrorCode::UnknownDimension,
        format!("unknown dimension `{raw}`"),
    )
}

/// A definition the request names (an attribution instance, a funnel, a
/// retention analysis): one the caller may not use is an unknown one, with
/// suggestions among those it may use. `wanted` is the name looked up,
/// `shown` the name as written.
fn named<'c, T>(
    all: &'c [T],
    name_of: fn(&T) -> &str,
    visible: &dyn Fn(&T) -> bool,
    (wanted, shown): (&str, &str),
    what: &str,
) -> Result<&'c T, PlanError> {
    all.iter()
        .find(|x| name_of(x) == wanted && visible(x))
        .ok_or_else(|| {
            let names = all.iter().filter(|x| visible(x)).map(name_of);
            PlanError::new(
                ErrorCode::UnknownMetric,
                format!("unknown {what} `{shown}`"),
            )
            .with_suggestions(closest(shown, names))
        })
}

/// An attribution instance by name.
fn resolve_attribution<'c>(
    catalog: &'c Catalog,
    access: &Access,
    name: &str,
) -> Result<&'c Attribution, PlanError> {
    named(
        &catalog.attributions,
        |a| &a.name,
        &|a| crate::attribution::visible(catalog, access, a),
        (name.trim(), name),
        "attribution",
    )
}

/// A funnel by name.
pub(super) fn resolve_funnel<'c>(
    catalog: &'c Catalog,
    access: &Access,
    name: &str,
) -> Result<&'c Funnel, PlanError> {
    named(
        &catalog.analyses.funnels,
        |f| &f.name,
        &|f| super::analysis::funnel_visible(catalog, access, f),
        (name, name),
        "funnel",
    )
    .map_err(|e| e.at("funnel"))
}

/// A retention analysis by name.
pub(super) fn resolve_retention<'c>(
    catalog: &'c Catalog,
    access: &Access,
    name: &str,
) -> Result<&'c Retention, PlanError> {
    named(
        &catalog.analyses.retention,
        |r| &r.name,
        &|r| super::analysis::retention_visible(catalog, access, r),
        (name, name),
        "retention analysis",
    )
    .map_err(|e| e.at("retention"))
}

/// The last day on which using `metric` answers as it does today: the
/// earliest `sunset_on` of it and of every metric it reads (a sunset input
/// changes the warnings; a sunset metric refuses). `None`: no end.
pub(super) fn last_valid_day(catalog: &Catalog, metric: &Metric) -> Option<NaiveDate> {
    let mut seen = Vec::new();
    let mut stack = vec![metric.id];
    let mut day = None;
    while let Some(id) = stack.pop() {
        // Catalog validation refuses cycles; the bound keeps this total.
        if seen.contains(&id) || seen.len() > 256 {
            continue;
        }
        seen.push(id);
        let m = catalog.metric(id);
        if m.status == MetricStatus::Deprecated {
            day = earliest(day, m.sunset_on);
        }
        stack.extend(lifecycle::inputs(m));
    }
    day
}

/// The earlier of two optional days (`None` is no end).
pub(super) fn earliest(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

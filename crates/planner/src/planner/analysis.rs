//! What funnels and retention analyses share: the request checks, the
//! caller's access to the models read, and one scan of event rows per
//! model, restricted by the step's filter, the request's filters and every
//! policy of the caller (through `fact_policy::scan_policy_conditions`, the
//! same code metric scans use).

use crate::access::Access;
use crate::catalog::analysis::{EventSource, Funnel, Retention};
use crate::catalog::{Catalog, DimensionKind, ModelId};
use crate::query::{DimensionRef, Filter};
use crate::sql::ast::*;

use super::fact_policy::{ScanPolicyInput, describe_row_policies, scan_policy_conditions};
use super::filters::{self, coerce_time_literals, structured};
use super::request::{Request, resolve_funnel, resolve_retention};
use super::resolve::{
    JoinTree, ResolvedDim, filtered, masked, qualify, resolve_dimension, resolve_row_expr,
    target_model, untruncated,
};
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

/// Plans a `{"funnel": ..}` or `{"retention": ..}` request.
pub fn plan(req: Request) -> Result<Plan, PlanError> {
    let (catalog, q) = (req.catalog, req.query);
    let mut cx = AnalysisCx::new(req)?;
    match (&q.funnel, &q.retention) {
        (Some(_), Some(_)) => Err(PlanError::new(
            ErrorCode::InvalidQuery,
            "ask for a funnel or a retention analysis, not both",
        )
        .at("retention")),
        (Some(name), None) => {
            let f = resolve_funnel(catalog, &cx.access, name)?;
            super::funnel::plan(&mut cx, f)
        }
        (None, Some(name)) => {
            let r = resolve_retention(catalog, &cx.access, name)?;
            super::retention::plan(&mut cx, r)
        }
        (None, None) => Err(PlanError::new(
            ErrorCode::InvalidQuery,
            "a query needs at least one metric",
        )
        .at("metrics")),
    }
}

/// The state of planning one analysis: the caller's access, the request's
/// filters, and what the plan will report.
pub struct AnalysisCx<'c> {
    pub catalog: &'c Catalog,
    pub access: Access<'c>,
    row_policies: Vec<(ModelId, Expr)>,
    row_filters: Vec<(usize, Filter, DimensionRef)>,
    where_expr: Option<Expr>,
    /// The request's typed filter tree.
    tree: Option<crate::query::FilterTree>,
    pub time_range: (Option<Expr>, Option<Expr>),
    pub ctes: Vec<Cte>,
    pub policies: Vec<String>,
    pub warnings: Vec<String>,
    pub models: Vec<String>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// Subjects are people through the identity map (a `stitched: true`
    /// analysis): a person's anonymous events join their known ones.
    pub stitched: bool,
}

/// The columns one event scan produces besides subject and time.
pub struct EventColumns {
    pub key: bool,
    pub breakdown: Option<Expr>,
    pub extra: Vec<(String, Expr)>,
}

/// One event scan: `subject`, `ts` (the raw time), `t` (epoch seconds),
/// optionally `key` (the primary key) and `bd` (the breakdown).
pub struct EventScan {
    pub select: Select,
    /// Each event source's own filter as a condition on the scan's rows
    /// (None: every row), in the order the sources were given.
    pub filters: Vec<Option<Expr>>,
}

impl<'c> AnalysisCx<'c> {
    /// The analysis state for a resolved request (its filters resolved
    /// by the resolve stage, `metric_time` refused there).
    fn new(req: Request<'_, 'c>) -> Result<Self, PlanError> {
        let catalog = req.catalog;
        let access = req.access;
        let row_policies = access.row_filters()?;
        let mut policies = describe_row_policies(catalog, &access, &row_policies);
        let mut warnings = req.warnings;
        if let Some(k) = access.min_group_size() {
            policies.push(format!(
                "min_group_size {k}: groups built from fewer distinct subjects are suppressed"
            ));
            warnings.push(format!("groups built from fewer than {k} distinct subjects are suppressed (min_group_size policy)"));
        }
        let row_filters = req
            .row_filters
            .into_iter()
            .map(|f| (f.index, f.filter.clone(), f.dimension))
            .collect();
        let q = req.query;
        Ok(AnalysisCx {
            catalog,
            access,
            row_policies,
            row_filters,
            where_expr: req.where_expr,
            tree: q.filter.clone(),
            time_range: super::timezone::range_bounds(q)?,
            ctes: Vec::new(),
            policies,
            warnings,
            models: Vec::new(),
            limit: q.limit,
            offset: q.offset,
            stitched: false,
        })
    }

    /// The breakdown (or cohort dimension) as the caller sees it from
    /// `model`: visible or refused, masked if the caller's roles mask it.
    pub fn breakdown(
        &self,
        joins: &mut JoinTree,
        text: &str,
        field: &str,
    ) -> Result<ResolvedDim, PlanError> {
        let r = DimensionRef::parse(text).map_err(|e| e.at(field))?;
        if r.is_metric_time() {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                "metric_time is not a breakdown; use a dimension",
            )
            .at(field));
        }
        let context = format!("the breakdown `{}`", r.raw);
        self.resolve_user(joins.base, joins, &r, &context)
            .map_err(|e| e.at(field))
    }

    /// A reference the caller writes, from a scan of `base`: visible or
    /// unknown, and seen through the caller's masks.
    fn resolve_user(
        &self,
        base: ModelId,
        joins: &mut JoinTree,
        r: &DimensionRef,
        context: &str,
    ) -> Result<ResolvedDim, PlanError> {
        let access = &self.access;
        let visible = |m: ModelId, d: &str| access.dimension_visible(m, d);
        let target = target_model(self.catalog, r, &[base], &visible)?;
        let d = resolve_dimension(self.catalog, joins, r, target, context)?;
        Ok(masked(d, access.mask(target, &r.name)))
    }

    /// One scan of `src`'s model: the rows of subjects (non-NULL subject
    /// and time) the request's filters and the caller's policies allow.
    /// The step's own filter is returned separately, so callers decide
    /// whether it selects rows or flags them.
    pub fn event_scan(
        &mut self,
        sources: &[&EventSource],
        subject: &str,
        columns: impl FnOnce(&Self, &mut JoinTree, &Expr) -> Result<EventColumns, PlanError>,
    ) -> Result<EventScan, PlanError> {
        let catalog = self.catalog;
        let src = sources[0];
        let model = catalog.model(src.model);
        if !self.models.contains(&model.name) {
            self.models.push(model.name.clone());
        }
        let mut joins = JoinTree::new(catalog, src.model);
        let alias = joins.base_alias.clone();
        let time = qualify(&model.dimensions[src.time].expr, &alias);
        // Validation guarantees a stitched analysis stitchable models.
        let person = self
            .stitched
            .then(|| super::stitch::scan_person(catalog, &mut joins))
            .flatten();
        let subject_expr = match &person {
            Some(p) => p.key.clone(),
            None => model
                .entity(subject)
                .map(|e| qualify(&e.keys[0], &alias))
                .ok_or_else(|| {
                    PlanError::new(
                        ErrorCode::InvalidQuery,
                        format!("model `{}` has no entity `{subject}`", model.name),
                    )
                })?,
        };
        let cols = columns(&*self, &mut joins, &time)?;
        let base = src.model;
        let is_time = move |parts: &[Ident]| is_time_in(catalog, base, parts);
        let context = format!("read by `{}`", src.name);
        // Definition filters use true values; bare names are the model's.
        let mut filters = Vec::new();
        for s in sources {
            filters.push(match &s.filter {
                Some(f) => {
                    let f = coerce_time_literals(own_names(f.clone(), &model.name), &is_time)?;
                    Some(resolve_row_expr(f, &mut |r| {
                        let target = target_model(catalog, r, &[src.model], &|_, _| true)?;
                        resolve_dimension(catalog, &mut joins, r, target, &context).map(untruncated)
                    })?)
                }
                None => None,
            });
        }
        // Events of nobody, or of no time, are in no funnel or cohort.
        let mut conditions = vec![
            Expr::IsNull {
                expr: Box::new(subject_expr.clone()),
                negated: true,
            },
            Expr::IsNull {
                expr: Box::new(time.clone()),
                negated: true,
            },
        ];
        conditions.extend(self.request_conditions(src.model, &mut joins, &context, &is_time)?);
        let mut ctes = std::mem::take(&mut self.ctes);
        let mut policies = std::mem::take(&mut self.policies);
        let policy = scan_policy_conditions(
            catalog,
            &self.access,
            &self.row_policies,
            ScanPolicyInput {
                model: src.model,
                base_alias: &alias,
                fact_time: Some(time.clone()),
                stitched: person.as_ref().map(|p| p.key.clone()),
                suppression_implied: false,
            },
            &mut |r| {
                let target = target_model(catalog, r, &[src.model], &|_, _| true)?;
                resolve_dimension(catalog, &mut joins, r, target, &context).map(untruncated)
            },
            &is_time,
            (&mut ctes, &mut policies),
        );
        self.ctes = ctes;
        self.policies = policies;
        conditions.extend(policy?);

        let mut projection = vec![
            SelectItem::aliased(subject_expr, "subject"),
            SelectItem::aliased(time.clone(), "ts"),
            SelectItem::aliased(Expr::EpochSeconds(Box::new(time)), "t"),
        ];
        if cols.key {
            let key = model
                .primary_entity()
                .filter(|e| e.keys.len() == 1)
                .map(|e| qualify(&e.keys[0], &alias))
                .ok_or_else(|| {
                    PlanError::new(
                        ErrorCode::InvalidQuery,
                        format!(
                            "model `{}` needs a single-key primary entity so events at the same time have one order",
                            model.name
                        ),
                    )
                })?;
            projection.push(SelectItem::aliased(key, "key"));
        }
        if let Some(bd) = cols.breakdown {
            projection.push(SelectItem::aliased(bd, "bd"));
        }
        for (name, e) in cols.extra {
            projection.push(SelectItem::aliased(e, &name));
        }
        Ok(EventScan {
            select: joins.select(catalog, projection, conditions),
            filters,
        })
    }

    /// The request's filters on one scan of `base`, seen through the
    /// caller's masks.
    fn request_conditions(
        &self,
        base: ModelId,
        joins: &mut JoinTree,
        context: &str,
        is_time: &dyn Fn(&[Ident]) -> bool,
    ) -> Result<Vec<Expr>, PlanError> {
        let mut conditions = Vec::new();
        // The request's filters, seen through the caller's masks.
        let resolve_user =
            |r: &DimensionRef, joins: &mut JoinTree| self.resolve_user(base, joins, r, context);
        for (i, f, r) in &self.row_filters {
            let d = resolve_user(r, &mut *joins)
                .map_err(|e| e.at(format!("filters[{i}].dimension")))?;
            let d = filtered(r, d);
            conditions.push(
                structured(d.expr, Some(d.kind), f).map_err(|e| e.at(format!("filters[{i}]")))?,
            );
        }
        if let Some(w) = &self.where_expr {
            let w = coerce_time_literals(w.clone(), is_time).map_err(|e| e.at("where"))?;
            conditions.push(
                resolve_row_expr(w, &mut |r| {
                    resolve_user(r, &mut *joins).map(|d| filtered(r, d))
                })
                .map_err(|e| e.at("where"))?,
            );
        }
        if let Some(t) = &self.tree {
            conditions.push(
                filters::tree(t, &mut |r| {
                    resolve_user(r, &mut *joins).map(|d| filtered(r, d))
                })
                .map_err(|e| e.at("filter"))?,
            );
        }
        Ok(conditions)
    }

    /// The plan around a finished query.
    pub fn finish(&mut self, query: Query, columns: Vec<OutputColumn>) -> Plan {
        Plan {
            query,
            columns,
            metrics: Vec::new(),
            warnings: std::mem::take(&mut self.warnings),
            models: std::mem::take(&mut self.models),
            policies: std::mem::take(&mut self.policies),
            valid_until: None,
            probes: Vec::new(),
        }
    }
}

/// Whether a reference (from `base`) names a time dimension: strings
/// compared with one are read as times.
pub(super) fn is_time_in(catalog: &Catalog, base: ModelId, parts: &[Ident]) -> bool {
    let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
    let Ok(r) = DimensionRef::parse(&text.join(".")) else {
        return false;
    };
    let Ok(target) = target_model(catalog, &r, &[base], &|_, _| true) else {
        return false;
    };
    catalog
        .model(target)
        .dimension(&r.name)
        .is_some_and(|(_, d)| matches!(d.kind, DimensionKind::Time { .. }))
}

/// Bare names in a step filter mean the step model's own dimensions.
fn own_names(e: Expr, model: &str) -> Expr {
    let done = e.try_transform::<std::convert::Infallible>(&mut |x| match x {
        Expr::Ref(parts) if parts.len() == 1 => {
            let mut v = vec![Ident::new(model)];
            v.extend(parts);
            Ok(Expr::Ref(v))
        }
        other => Ok(other),
    });
    match done {
        Ok(e) => e,
        Err(never) => match never {},
    }
}

/// `SELECT projection FROM (inner) AS a WHERE a.rn = 1`: the first row
/// of each partition `inner` numbers in `rn`.
pub fn first_rows(projection: Vec<SelectItem>, inner: Select) -> Select {
    let mut s = Select::from(
        projection,
        TableRef::Subquery {
            query: Box::new(Query::select(inner)),
            alias: Ident::generated("a"),
        },
    );
    s.selection = Some(eq(Expr::col("a", "rn"), Expr::num(1)));
    s
}

/// `t.bd AS bd` when the analysis has a breakdown, else nothing.
pub fn breakdown_column(has_bd: bool, t: &str) -> Vec<SelectItem> {
    match has_bd {
        true => vec![SelectItem::aliased(Expr::col(t, "bd"), "bd")],
        false => Vec::new(),
    }
}

/// `CASE WHEN cond THEN 1 ELSE 0 END`.
pub fn flag(cond: Expr) -> Expr {
    Expr::Case {
        operand: None,
        whens: vec![(cond, Expr::num(1))],
        otherwise: Some(Box::new(Expr::num(0))),
    }
}

pub fn eq(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinOp::Eq, a, b)
}

pub fn dimension_column(name: &str, reference: &str, kind: DimensionKind) -> OutputColumn {
    OutputColumn {
        name: name.into(),
        role: ColumnRole::Dimension {
            reference: reference.into(),
            kind,
        },
    }
}

pub fn value_column(name: &str, analysis: &str, integer: bool) -> OutputColumn {
    OutputColumn {
        name: name.into(),
        role: ColumnRole::Metric {
            metric: format!("{analysis}.{name}"),
            version: 1,
            integer,
        },
    }
}

/// The SQL type a NULL stands in for a breakdown of this kind in a UNION.
pub fn null_of(kind: DimensionKind) -> Expr {
    Expr::TypedNull(match kind {
        DimensionKind::Categorical => SqlType::Text,
        DimensionKind::Number => SqlType::Double,
        DimensionKind::Boolean => SqlType::Boolean,
        DimensionKind::Time { .. } => SqlType::Timestamp,
    })
}

/// Whether the caller may see an event source: seeing a model's events
/// means seeing the time dimension that orders them.
fn source_visible(catalog: &Catalog, access: &Access, src: &EventSource) -> bool {
    let time = &catalog.model(src.model).dimensions[src.time].name;
    access.dimension_visible(src.model, time)
}

/// Whether a definition's breakdown (or cohort dimension) is one the
/// caller may see from `base`. One that does not resolve at all is left to
/// planning, which words the definition's own error.
fn breakdown_visible(catalog: &Catalog, access: &Access, text: &str, base: ModelId) -> bool {
    let Ok(r) = DimensionRef::parse(text) else {
        return true;
    };
    target_model(catalog, &r, &[base], &|_, _| true).is_err()
        || target_model(catalog, &r, &[base], &|m, d| access.dimension_visible(m, d)).is_ok()
}

/// Whether the caller may run a funnel: every step, exclusion and the
/// breakdown visible. Planning and listings agree through this one test,
/// so a funnel the caller may not run is unknown, never "forbidden".
pub fn funnel_visible(catalog: &Catalog, access: &Access, f: &Funnel) -> bool {
    f.steps.iter().all(|s| source_visible(catalog, access, s))
        && f.exclusions
            .iter()
            .all(|x| source_visible(catalog, access, &x.event))
        && match (&f.breakdown, f.steps.first()) {
            (Some(b), Some(first)) => breakdown_visible(catalog, access, b, first.model),
            _ => true,
        }
}

/// Whether the caller may run a retention analysis (see [`funnel_visible`]).
pub fn retention_visible(catalog: &Catalog, access: &Access, r: &Retention) -> bool {
    source_visible(catalog, access, &r.cohort)
        && source_visible(catalog, access, &r.returns)
        && r.group_by
            .as_deref()
            .is_none_or(|g| breakdown_visible(catalog, access, g, r.cohort.model))
}

/// The funnels and retention analyses a caller may run, for catalog
/// listings (REST `/v1/catalog`, GraphQL): those whose every model the
/// caller can see.
pub fn catalog_entries(catalog: &Catalog, access: &Access) -> serde_json::Value {
    use serde_json::json;
    // Definition filters may name members the caller cannot see: shown to
    // unrestricted callers only.
    let shows_filters = !access.is_restricted();
    let event = |src: &EventSource| {
        json!({
            "name": src.name,
            "model": catalog.model(src.model).name,
            "filter": src.filter_text.as_ref().filter(|_| shows_filters),
            "time": catalog.model(src.model).dimensions[src.time].name,
        })
    };
    let funnels: Vec<serde_json::Value> = catalog
        .analyses
        .funnels
        .iter()
        .filter(|f| funnel_visible(catalog, access, f))
        .map(|f| {
            json!({
                "name": f.name,
                "description": f.description,
                "owner": f.owner,
                "subject": f.subject,
                "order": f.order.name(),
                "window": f.window_text,
                "window_seconds": f.window_seconds,
                "steps": f.steps.iter().map(event).collect::<Vec<_>>(),
                "exclusions": f.exclusions.iter().map(|x| {
                    let mut e = event(&x.event);
                    e["after"] = json!(f.steps[x.after].name);
                    e["before"] = json!(f.steps[x.before].name);
                    e
                }).collect::<Vec<_>>(),
                "breakdown": f.breakdown,
                "stitched": f.stitched_at.is_some(),
            })
        })
        .collect();
    let retention: Vec<serde_json::Value> = catalog
        .analyses
        .retention
        .iter()
        .filter(|r| retention_visible(catalog, access, r))
        .map(|r| {
            json!({
                "name": r.name,
                "description": r.description,
                "owner": r.owner,
                "subject": r.subject,
                "cohort": event(&r.cohort),
                "return": event(&r.returns),
                "period": r.period.name(),
                "periods": r.periods,
                "cohort_type": r.cohort_kind,
                "mode": r.mode,
                "group_by": r.group_by,
                "stitched": r.stitched_at.is_some(),
            })
        })
        .collect();
    json!({"funnels": funnels, "retention": retention})
}

/// The finished statement: `inner` read as a derived table, so ordering by
/// output names is unambiguous on every engine (SQLite resolves `ORDER BY`
/// expressions against the joined inputs, where `step` exists twice).
pub fn ordered_result(
    ctes: Vec<Cte>,
    inner: Select,
    columns: &[OutputColumn],
    order_by: &[&str],
    limit: Option<u64>,
    offset: Option<u64>,
) -> Query {
    let outer = Select::from(
        columns
            .iter()
            .map(|c| SelectItem::aliased(Expr::col("result", &c.name), &c.name))
            .collect(),
        TableRef::Subquery {
            query: Box::new(Query::select(inner)),
            alias: Ident::generated("result"),
        },
    );
    Query {
        ctes,
        body: SetExpr::Select(Box::new(outer)),
        order_by: order_by
            .iter()
            .map(|n| OrderItem {
                expr: Expr::bare(n),
                desc: false,
            })
            .collect(),
        limit,
        offset,
    }
}

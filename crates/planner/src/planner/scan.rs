//! One scan of a metric query ([`super::build`]): a model's rows with the
//! joins its dimensions need, the caller's filters (seen through the
//! caller's masks), the caller's policies, and each leaf's aggregate.

use crate::catalog::{Aggregation, Catalog, DimensionKind, MetricKind, ModelId};
use crate::query::DimensionRef;
use crate::sql::ast::*;

use super::build::{Collected, Layout, Scan};
use super::fact_policy::{ScanPolicyInput, scan_policy_conditions};
use super::filters::{self, coerce_time_literals, structured};
use super::metrics::leaf_aggregate;
use super::resolve::{
    JoinTree, ResolvedDim, filtered, masked, qualify, resolve_dimension, resolve_row_expr,
    source_ref, target_model, untruncated,
};
use super::stitch::StitchedSubject;
use super::{ErrorCode, PlanError};

/// A built scan, before it is the query or a CTE of it.
pub(super) struct BuiltScan {
    /// Dimensions, then one aggregate per leaf of the scan.
    pub select: Select,
    /// With a cell rule: its cells query (see planner::kanon).
    pub cells: Option<Query>,
    /// With a minimum group size: the distinct subjects of a group.
    pub subjects: Option<Expr>,
    /// What each dimension resolved to in this scan.
    pub dim_kinds: Vec<DimensionKind>,
}

/// How references resolve inside one scan.
struct ScanRefs<'l, 'r, 'q, 'c> {
    layout: &'l Layout<'r, 'q, 'c>,
    time_expr: Option<Expr>,
    time_kind: Option<DimensionKind>,
    /// Which leaves need the scan, for errors.
    context: String,
}

impl ScanRefs<'_, '_, '_, '_> {
    /// A reference's true value (metric definitions, row policies).
    fn resolve(&self, r: &DimensionRef, joins: &mut JoinTree) -> Result<ResolvedDim, PlanError> {
        let layout = self.layout;
        let catalog = layout.req.catalog;
        if r.is_metric_time() {
            let (Some(e), Some(k)) = (&self.time_expr, self.time_kind) else {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    "metric_time needs a time dimension",
                ));
            };
            let utc = |b: &Option<Expr>| match b {
                Some(Expr::Lit(Literal::Timestamp(t))) => Some(*t),
                _ => None,
            };
            let range = &layout.time_range;
            return super::timezone::metric_time(
                e.clone(),
                k,
                r,
                layout.req.query,
                (utc(&range.0), utc(&range.1)),
            );
        }
        // Metric filters name dimensions the query did not mention.
        let target = match layout.targets.get(&r.raw) {
            Some(t) => *t,
            None => target_model(catalog, r, &layout.bases, &|_, _| true)?,
        };
        resolve_dimension(catalog, joins, r, target, &self.context)
    }

    /// What the caller writes is seen through the caller's masks; metric
    /// definitions and row policies use the true values.
    fn resolve_user(
        &self,
        r: &DimensionRef,
        joins: &mut JoinTree,
    ) -> Result<ResolvedDim, PlanError> {
        let d = self.resolve(r, joins)?;
        let access = &self.layout.req.access;
        let mask = self
            .layout
            .targets
            .get(&r.raw)
            .and_then(|t| access.mask(*t, &r.name));
        Ok(masked(d, mask))
    }
}

/// Builds one scan, adding its consent CTEs and policies to `out`.
pub(super) fn build(
    layout: &Layout,
    scan: &Scan,
    out: &mut Collected,
) -> Result<BuiltScan, PlanError> {
    let catalog = layout.req.catalog;
    let model = catalog.model(scan.model);
    out.models.push(model.name.clone());
    let names: Vec<&str> = scan
        .leaves
        .iter()
        .map(|l| layout.leaves[*l].alias.as_str())
        .collect();
    let mut joins = JoinTree::new(catalog, scan.model);
    let base_alias = joins.base_alias.clone();
    let refs = ScanRefs {
        layout,
        time_expr: scan
            .time_dim
            .map(|t| qualify(&model.dimensions[t].expr, &base_alias)),
        time_kind: scan.time_dim.map(|t| model.dimensions[t].kind),
        context: format!("needed by {}", names.join(", ")),
    };
    let mut projection = Vec::new();
    let mut dim_kinds = Vec::new();
    for (i, r) in layout.dims.iter().enumerate() {
        let d = refs
            .resolve_user(r, &mut joins)
            .map_err(|e| e.at(format!("dimensions[{i}]")))?;
        dim_kinds.push(d.kind);
        projection.push(SelectItem::aliased(d.expr, &layout.dim_aliases[i]));
    }
    let mut conditions = user_conditions(&refs, &mut joins)?;
    // Validation guarantees stitched measures a stitchable model.
    let person = scan
        .stitched
        .then(|| super::stitch::scan_person(catalog, &mut joins))
        .flatten();
    let fact_time = scan
        .leaves
        .iter()
        .find_map(|li| model.measures[layout.leaves[*li].measure].time_dimension)
        .map(|t| qualify(&model.dimensions[t].expr, &base_alias));
    conditions.extend(scan_policy_conditions(
        catalog,
        &layout.req.access,
        &layout.row_policies,
        ScanPolicyInput {
            model: scan.model,
            base_alias: &base_alias,
            fact_time,
            stitched: person.as_ref().map(|p| p.key.clone()),
            suppression_implied: false,
        },
        &mut |r| refs.resolve(r, &mut joins).map(untruncated),
        &|p| layout.is_time(p),
        (&mut out.consent_ctes, &mut out.policies),
    )?);
    let subject_key = subject_key(catalog, scan.model, &base_alias, &person);
    let cells = match layout.cell_rule {
        Some(rule) => {
            let mut named = |joins: &mut JoinTree| {
                layout
                    .dims
                    .iter()
                    .chain(layout.filter_refs().map(|(_, r)| r))
                    .filter(|r| !r.is_metric_time())
                    .map(|r| refs.resolve(r, joins))
                    .collect::<Result<Vec<_>, _>>()
            };
            let cells = super::kanon::cell_exprs(
                catalog,
                &layout.req.access,
                rule,
                &mut joins,
                &mut named,
                refs.time_expr.as_ref(),
            )?;
            Some((cells, subjects(&subject_key)))
        }
        None => None,
    };
    let leaf_conjuncts = leaf_conjuncts(&refs, scan, &base_alias, &person, &mut joins, out)?;
    let (common, residuals) = split_common(leaf_conjuncts);
    conditions.extend(common);
    conditions.extend(any_residual(&residuals));
    for (pos, &li) in scan.leaves.iter().enumerate() {
        let agg = leaf_aggregate(
            catalog,
            &layout.leaves[li],
            &base_alias,
            residuals[pos].clone(),
        );
        projection.push(SelectItem::aliased(agg, &layout.leaf_alias[li]));
    }
    let cells = cells.map(|(cells, count)| {
        super::kanon::cells_query(
            projection[..layout.dims.len()].to_vec(),
            cells,
            count,
            source_ref(catalog, scan.model, &base_alias),
            joins.joins(catalog),
            conditions.iter().cloned().map(Expr::paren_or).collect(),
        )
    });
    let select = Select {
        group_by: (1..=layout.dims.len()).collect(),
        ..joins.select(catalog, projection, conditions)
    };
    Ok(BuiltScan {
        select,
        cells,
        subjects: layout.min_group_size.map(|_| subjects(&subject_key)),
        dim_kinds,
    })
}

/// The caller's row filters, `where`, filter tree and time range.
fn user_conditions(refs: &ScanRefs, joins: &mut JoinTree) -> Result<Vec<Expr>, PlanError> {
    let layout = refs.layout;
    let mut conditions: Vec<Expr> = Vec::new();
    for f in &layout.req.row_filters {
        let (i, r) = (f.index, &f.dimension);
        // A raw (un-truncated) time is what a filter means unless a grain
        // is written.
        let d = refs
            .resolve_user(r, joins)
            .map(|d| filtered(r, d))
            .map_err(|e| e.at(format!("filters[{i}]")))?;
        conditions.push(
            structured(d.expr, Some(d.kind), f.filter)
                .map_err(|e| e.at(format!("filters[{i}]")))?,
        );
    }
    if let Some(w) = &layout.where_expr {
        conditions.push(
            resolve_row_expr(w.clone(), &mut |r| {
                refs.resolve_user(r, joins).map(|d| filtered(r, d))
            })
            .map_err(|e| e.at("where"))?,
        );
    }
    if let Some(t) = &layout.req.query.filter {
        conditions.push(
            filters::tree(t, &mut |r| {
                refs.resolve_user(r, joins).map(|d| filtered(r, d))
            })
            .map_err(|e| e.at("filter"))?,
        );
    }
    if let Some(t) = &refs.time_expr {
        if let Some(start) = &layout.time_range.0 {
            conditions.push(Expr::binary(BinOp::GtEq, t.clone(), start.clone()));
        }
        if let Some(end) = &layout.time_range.1 {
            conditions.push(Expr::binary(BinOp::Lt, t.clone(), end.clone()));
        }
    }
    Ok(conditions)
}

/// Whose facts a scan's rows are: the stitched person, else the model's
/// subject (or primary) entity.
fn subject_key(
    catalog: &Catalog,
    model: ModelId,
    base_alias: &str,
    person: &Option<StitchedSubject>,
) -> Option<Expr> {
    let model = catalog.model(model);
    match person {
        Some(p) => Some(p.key.clone()),
        None => model
            .subject
            .as_ref()
            .and_then(|s| model.entity(s))
            .or_else(|| model.primary_entity())
            .filter(|e| e.keys.len() == 1)
            .map(|e| qualify(&e.keys[0], base_alias)),
    }
}

/// The distinct subjects of a group (rows, without a subject key).
fn subjects(key: &Option<Expr>) -> Expr {
    match key {
        Some(k) => Expr::agg(Aggregation::CountDistinct, Some(k.clone())),
        None => Expr::agg(Aggregation::Count, None),
    }
}

/// Each leaf's filter as a list of conjuncts (a converted leaf's EXISTS
/// among them).
fn leaf_conjuncts(
    refs: &ScanRefs,
    scan: &Scan,
    base_alias: &str,
    person: &Option<StitchedSubject>,
    joins: &mut JoinTree,
    out: &mut Collected,
) -> Result<Vec<Vec<Expr>>, PlanError> {
    let layout = refs.layout;
    let mut all = Vec::new();
    for &li in &scan.leaves {
        let leaf = &layout.leaves[li];
        let mut parts = Vec::new();
        for f in &leaf.filters {
            let f = coerce_time_literals(f.clone(), &|p| layout.is_time(p))?;
            resolve_row_expr(f, &mut |r| refs.resolve(r, joins).map(untruncated))?
                .conjuncts_into(&mut parts);
        }
        if let Some(id) = leaf.converted {
            parts.push(converted(layout, id, base_alias, person, out)?);
        }
        parts.dedup();
        all.push(parts);
    }
    Ok(all)
}

/// A conversion metric's converted leaf: base rows for which a conversion
/// exists, under the caller's policies on the conversion side.
fn converted(
    layout: &Layout,
    id: crate::catalog::MetricId,
    base_alias: &str,
    person: &Option<StitchedSubject>,
    out: &mut Collected,
) -> Result<Expr, PlanError> {
    let catalog = layout.req.catalog;
    let MetricKind::Conversion(conv) = &catalog.metric(id).kind else {
        return Err(PlanError::new(
            ErrorCode::Unsupported,
            "internal: a converted leaf of a metric that is not a conversion",
        ));
    };
    // The conversion's subject is the base event's (the same person when
    // stitched, else the same entity key, when both models' subject is the
    // conversion entity): the base scan's suppression already covers it.
    // Consent is not implied: it is read at the conversion's own time.
    let subject_is = |m: ModelId| catalog.model(m).subject.as_deref() == Some(conv.entity.as_str());
    let suppression_implied =
        person.is_some() || (subject_is(conv.base_model) && subject_is(conv.conversion_model));
    super::conversion::exists(
        catalog,
        conv,
        base_alias,
        person.as_ref().map(|p| &p.key),
        &mut |conv_joins, conv_time, conv_person| {
            super::fact_policy::fact_conditions(
                catalog,
                &layout.req.access,
                &layout.row_policies,
                conv.conversion_model,
                conv_joins,
                Some(conv_time),
                conv_person,
                suppression_implied,
                &mut out.consent_ctes,
                &mut out.policies,
            )
        },
    )
}

/// Conjuncts every leaf of the scan shares go to WHERE (the engine then
/// reads only those rows); what remains per leaf becomes a CASE inside its
/// aggregate. A metric therefore sees exactly the rows its filter
/// selects, as if it had its own scan.
fn split_common(leaf_conjuncts: Vec<Vec<Expr>>) -> (Vec<Expr>, Vec<Option<Expr>>) {
    let common: Vec<Expr> = leaf_conjuncts
        .first()
        .map(|first| {
            first
                .iter()
                .filter(|c| leaf_conjuncts.iter().all(|l| l.contains(c)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let residuals = leaf_conjuncts
        .iter()
        .map(|l| {
            Expr::and_all(
                l.iter()
                    .filter(|c| !common.contains(c))
                    .cloned()
                    .map(Expr::paren_or),
            )
        })
        .collect();
    (common, residuals)
}

/// WHERE keeps only rows some leaf wants: the OR of the distinct
/// residual filters, when every leaf has one.
fn any_residual(residuals: &[Option<Expr>]) -> Option<Expr> {
    if residuals.len() <= 1 || !residuals.iter().all(Option::is_some) {
        return None;
    }
    let mut distinct: Vec<Expr> = Vec::new();
    for r in residuals.iter().flatten() {
        if !distinct.contains(r) {
            distinct.push(r.clone());
        }
    }
    distinct
        .into_iter()
        .map(|r| match r {
            Expr::Binary { op: BinOp::And, .. } => Expr::Nested(Box::new(r)),
            other => other,
        })
        .reduce(|a, b| Expr::binary(BinOp::Or, a, b))
}

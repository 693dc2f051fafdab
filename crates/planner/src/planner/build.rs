//! Assembles the SQL for a planned query.
//!
//! One scan per (model, time dimension): the model's rows, many-to-one
//! joins for dimensions, the query's row filters, and every leaf aggregate
//! of that model side by side (a metric's own filter becomes a CASE inside
//! its aggregate, so measures of one model share one pass). With one scan,
//! that SELECT is the whole query. With several, each scan is a CTE and the
//! scans are stitched on the group-by keys with UNION ALL + GROUP BY, which
//! needs no FULL OUTER JOIN (absent on MySQL) and matches NULL keys, which an
//! equi-join would drop.

use std::collections::BTreeMap;

use crate::access::{Access, Caller};
use crate::catalog::policy::ConsentMode;
use crate::catalog::{Aggregation, Catalog, DimensionKind, MetricKind, ModelId};
use crate::diagnostics::closest;
use crate::query::{DimensionRef, Filter, SemanticQuery, parse_metric_ref};
use crate::sql::ast::*;
use crate::sql::convert::parse_request_filter;

use super::fact_policy::{consent_cte, consent_exists};
use super::filters::{self, coerce_time_literals, structured};
use super::kanon::CellRule;
use super::metrics::{Expansion, Leaf, MetricTree, leaf_column};
use super::resolve::{JoinTree, ResolvedDim, qualify, resolve_dimension, source_ref, target_model};
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

/// Limits that keep one request from planning something enormous.
const MAX_METRICS: usize = 50;
const MAX_DIMENSIONS: usize = 20;
const MAX_FILTERS: usize = 50;

struct RequestedMetric {
    alias: String,
    id: crate::catalog::MetricId,
    tree: MetricTree,
}

struct Scan {
    model: ModelId,
    time_dim: Option<usize>,
    /// Stitched measures scan apart from plain ones: consent and
    /// suppression hold per person on a stitched scan (anonymous rows of a
    /// consenting person pass), and a plain measure's number must not
    /// depend on what it is asked with.
    stitched: bool,
    leaves: Vec<usize>,
}

/// How many members one request may name.
pub(super) struct RequestLimits {
    pub metrics: usize,
    pub dimensions: usize,
    pub filters: usize,
}

/// The checks every metric planner makes before reading a request: at
/// least one metric, bounded sizes (`what` names the request in the error),
/// and LIMIT/OFFSET within what engines take.
pub(super) fn check_request(
    q: &SemanticQuery,
    limits: RequestLimits,
    what: &str,
) -> Result<(), PlanError> {
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
                "{what} may have at most {} metrics, {} dimensions and {} filters",
                limits.metrics, limits.dimensions, limits.filters
            ),
        ));
    }
    // Engines take LIMIT/OFFSET as signed 64-bit integers.
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

pub fn plan(catalog: &Catalog, q: &SemanticQuery, caller: &Caller) -> Result<Plan, PlanError> {
    let access = Access::resolve(catalog, caller)?;
    check_request(
        q,
        RequestLimits {
            metrics: MAX_METRICS,
            dimensions: MAX_DIMENSIONS,
            filters: MAX_FILTERS,
        },
        "a query",
    )?;
    let mut warnings = Vec::new();
    let cell_rule = CellRule::of(&access);

    // Metrics → leaves.
    let mut expansion = Expansion::default();
    let mut requested: Vec<RequestedMetric> = Vec::new();
    for (i, text) in q.metrics.iter().enumerate() {
        let field = format!("metrics[{i}]");
        let (name, version) = parse_metric_ref(text).map_err(|e| e.at(&field))?;
        let metric = match version {
            Some(v) => catalog.metric_version(&name, v),
            None => catalog.default_metric(&name),
        };
        // A hidden metric is an unknown one: same code, same words.
        let metric = metric
            .filter(|m| access.metric_visible(m.id))
            .ok_or_else(|| {
                // Versions the caller may not see are not mentioned at all.
                let versions = access.visible_versions(&name);
                if versions.is_empty() {
                    unknown_metric(catalog, &access, &name, &name)
                } else {
                    let list: Vec<String> = versions
                        .iter()
                        .map(|id| {
                            let m = catalog.metric(*id);
                            format!("{}@{} ({})", m.name, m.version, m.status.name())
                        })
                        .collect();
                    PlanError::new(
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
                    )
                }
                .at(&field)
            })?;
        // Lifecycle (deprecated: a warning naming the replacement; past its
        // sunset: an error), see crate::governance::lifecycle.
        warnings.extend(
            crate::lifecycle::check_use(catalog, metric, crate::lifecycle::today())
                .map_err(|e| e.at(&field))?,
        );
        let alias = match version {
            Some(v) => format!("{}_v{v}", metric.name),
            None => metric.name.clone(),
        };
        if requested.iter().any(|r| r.alias == alias) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!("metric `{text}` is requested twice"),
            )
            .at(&field));
        }
        let tree = expansion
            .expand(catalog, metric.id, &[])
            .map_err(|e| e.at(&field))?;
        requested.push(RequestedMetric {
            alias,
            id: metric.id,
            tree,
        });
    }
    let leaves = expansion.leaves;

    // Dimensions.
    let mut dims: Vec<DimensionRef> = Vec::new();
    for (i, text) in q.dimensions.iter().enumerate() {
        let r = DimensionRef::parse(text).map_err(|e| e.at(format!("dimensions[{i}]")))?;
        if dims.iter().any(|d| d.alias() == r.alias()) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!("dimension `{text}` is requested twice"),
            )
            .at(format!("dimensions[{i}]")));
        }
        if requested.iter().any(|m| m.alias == r.alias()) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!("`{text}` names both a metric and a dimension in this query"),
            )
            .at(format!("dimensions[{i}]")));
        }
        dims.push(r);
    }

    // Filters: on a requested metric they apply after aggregation.
    let mut row_filters: Vec<(usize, &Filter, DimensionRef)> = Vec::new();
    let mut post_filters: Vec<(usize, &Filter)> = Vec::new();
    for (i, f) in q.filters.iter().enumerate() {
        if requested.iter().any(|m| m.alias == f.dimension) {
            post_filters.push((i, f));
        } else {
            let r = DimensionRef::parse(&f.dimension)
                .map_err(|e| e.at(format!("filters[{i}].dimension")))?;
            row_filters.push((i, f, r));
        }
    }
    let where_expr = match &q.where_sql {
        Some(text) if !text.trim().is_empty() => {
            Some(parse_request_filter(text).map_err(|e| e.at("where"))?)
        }
        _ => None,
    };
    let metric_aliases: Vec<&str> = requested.iter().map(|m| m.alias.as_str()).collect();
    let tree_refs = filters::tree_refs(q, &metric_aliases)?;

    // Does anything need each measure's own time (metric_time)?
    let mut where_refs: Vec<DimensionRef> = Vec::new();
    if let Some(w) = &where_expr {
        let mut err = None;
        w.walk(&mut |e| {
            if let Expr::Ref(parts) = e {
                let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                match DimensionRef::parse(&text.join(".")) {
                    Ok(r) => where_refs.push(r),
                    Err(e) => err = Some(e),
                }
            }
        });
        if let Some(e) = err {
            return Err(e.at("where"));
        }
    }
    let mentions_metric_time = |e: &Expr| {
        let mut found = false;
        e.walk(&mut |x| {
            if let Expr::Ref(parts) = x
                && parts.len() == 1
                && parts[0].value == "metric_time"
            {
                found = true;
            }
        });
        found
    };
    let needs_time = leaves
        .iter()
        .any(|l| l.filters.iter().any(mentions_metric_time))
        || dims.iter().any(DimensionRef::is_metric_time)
        || row_filters.iter().any(|(_, _, r)| r.is_metric_time())
        || where_refs.iter().any(DimensionRef::is_metric_time)
        || tree_refs.iter().any(DimensionRef::is_metric_time)
        || q.time_range.is_some();

    // Scans: leaves grouped by model and, when metric_time is used, by time
    // dimension (two measures of one model may count time differently).
    let mut scans: Vec<Scan> = Vec::new();
    for (li, leaf) in leaves.iter().enumerate() {
        let model = catalog.model(leaf.model);
        let measure = &model.measures[leaf.measure];
        let time_dim = if needs_time {
            match measure.time_dimension {
                Some(t) => Some(t),
                None => {
                    return Err(PlanError::new(
                        ErrorCode::InvalidQuery,
                        format!(
                            "measure `{}.{}` has no time dimension, so it cannot be used with metric_time or a time range; set `agg_time_dimension`",
                            model.name, measure.name
                        ),
                    ));
                }
            }
        } else if cell_rule.is_some() {
            // Time cells: even a question without time is a union of them.
            measure.time_dimension
        } else {
            None
        };
        let stitched = measure.stitched_at.is_some();
        match scans
            .iter_mut()
            .find(|s| s.model == leaf.model && s.time_dim == time_dim && s.stitched == stitched)
        {
            Some(s) => s.leaves.push(li),
            None => scans.push(Scan {
                model: leaf.model,
                time_dim,
                stitched,
                leaves: vec![li],
            }),
        }
    }
    let bases: Vec<ModelId> = scans.iter().map(|s| s.model).collect();

    // `metric_time` without a grain means the coarsest grain every scanned
    // time dimension is recorded at, so the scans' keys line up.
    let default_time_grain = scans
        .iter()
        .filter_map(|s| {
            s.time_dim
                .map(|t| catalog.model(s.model).dimensions[t].kind)
        })
        .filter_map(|k| match k {
            DimensionKind::Time { granularity } => Some(granularity),
            _ => None,
        })
        .max();
    for d in dims.iter_mut() {
        if d.is_metric_time() && d.grain.is_none() {
            d.grain = default_time_grain;
        }
    }

    // Each named dimension points at one model for the whole query.
    let mut targets: BTreeMap<String, ModelId> = BTreeMap::new();
    // Each reference with the request field it came from, for errors.
    let all_refs: Vec<(String, &DimensionRef)> = dims
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("dimensions[{i}]"), r))
        .chain(
            row_filters
                .iter()
                .map(|(i, _, r)| (format!("filters[{i}].dimension"), r)),
        )
        .chain(where_refs.iter().map(|r| ("where".to_string(), r)))
        .chain(tree_refs.iter().map(|r| ("filter".to_string(), r)))
        .collect();
    for (field, r) in all_refs {
        if r.is_metric_time() {
            if !access.metric_time_visible() {
                return Err(hidden_metric_time(&r.raw).at(&field));
            }
            continue;
        }
        // Every name the caller writes must be one it may see: a hidden
        // one is unknown, like an absent one (target_model).
        let target = match targets.get(&r.raw) {
            Some(t) => *t,
            None => target_model(catalog, r, &bases, &|m, d| access.dimension_visible(m, d))
                .map_err(|e| e.at(&field))?,
        };
        targets.insert(r.raw.clone(), target);
    }
    if q.time_range.is_some() && !access.metric_time_visible() {
        return Err(hidden_metric_time("metric_time").at("time_range"));
    }
    let row_policies = access.row_filters()?;
    let min_group_size = access.min_group_size();
    let mut policies: Vec<String> = describe_row_policies(catalog, &access, &row_policies);
    if let Some(k) = min_group_size {
        policies.push(format!(
            "min_group_size {k}: groups built from fewer distinct subjects are suppressed"
        ));
        warnings.push(format!("groups built from fewer than {k} distinct subjects are suppressed (min_group_size policy)"));
    }
    if let Some(rule) = cell_rule {
        policies.push(rule.describe());
    }
    let mut consent_ctes: Vec<Cte> = Vec::new();
    let mut subject_counts: Vec<Option<Expr>> = Vec::new();
    let kind_of = |r: &DimensionRef| -> Option<DimensionKind> {
        if r.is_metric_time() {
            return Some(DimensionKind::Time {
                granularity: crate::catalog::Grain::Hour,
            });
        }
        let target = match targets.get(&r.raw) {
            Some(t) => *t,
            None => target_model(catalog, r, &bases, &|_, _| true).ok()?,
        };
        let m = catalog.model(target);
        m.dimension(&r.name)
            .map(|(_, d)| d.kind)
            .or(Some(DimensionKind::Categorical))
    };
    let is_time = |parts: &[Ident]| {
        let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
        DimensionRef::parse(&text.join("."))
            .ok()
            .and_then(|r| kind_of(&r))
            .is_some_and(|k| matches!(k, DimensionKind::Time { .. }))
    };
    let where_expr = match where_expr {
        Some(w) => Some(coerce_time_literals(w, &|parts| {
            let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
            DimensionRef::parse(&text.join("."))
                .ok()
                .and_then(|r| kind_of(&r))
                .is_some_and(|k| matches!(k, DimensionKind::Time { .. }))
        })?),
        None => None,
    };
    let time_range = super::timezone::range_bounds(q)?;
    if let Some(rule) = cell_rule {
        let kind = |r: &DimensionRef| kind_of(r).unwrap_or(DimensionKind::Categorical);
        let grouped: Vec<_> = dims
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("dimensions[{i}]"), kind(r), r.grain))
            .collect();
        let filtered: Vec<_> = row_filters
            .iter()
            .map(|(i, _, r)| (format!("filters[{i}]"), kind(r)))
            .chain(where_refs.iter().map(|r| ("where".to_string(), kind(r))))
            .chain(tree_refs.iter().map(|r| ("filter".to_string(), kind(r))))
            .collect();
        rule.check_request(q, &time_range, &grouped, &filtered)?;
    }

    // Build each scan.
    let mut scan_selects: Vec<Select> = Vec::new();
    // Per scan, with a cell rule: its cells CTE (see planner::kanon).
    let mut scan_cells: Vec<Option<Query>> = Vec::new();
    let mut dim_kinds: Vec<DimensionKind> = vec![DimensionKind::Categorical; dims.len()];
    let dim_aliases: Vec<String> = dims.iter().map(DimensionRef::alias).collect();
    // Leaf aliases must not collide with dimension columns in the scans.
    let mut leaf_alias: Vec<String> = leaves.iter().map(|l| l.alias.clone()).collect();
    for a in leaf_alias.iter_mut() {
        while dim_aliases.contains(a) {
            a.push_str("_m");
        }
    }
    let mut models_used: Vec<String> = Vec::new();
    for scan in &scans {
        let model = catalog.model(scan.model);
        models_used.push(model.name.clone());
        let context = {
            let names: Vec<&str> = scan
                .leaves
                .iter()
                .map(|l| leaves[*l].alias.as_str())
                .collect();
            format!("needed by {}", names.join(", "))
        };
        let mut joins = JoinTree::new(catalog, scan.model);
        let base_alias = joins.base_alias.clone();
        let time_expr = scan
            .time_dim
            .map(|t| qualify(&model.dimensions[t].expr, &base_alias));
        let time_kind = scan.time_dim.map(|t| model.dimensions[t].kind);

        let resolve = |r: &DimensionRef, joins: &mut JoinTree| -> Result<ResolvedDim, PlanError> {
            if r.is_metric_time() {
                let (Some(e), Some(k)) = (&time_expr, time_kind) else {
                    return Err(PlanError::new(
                        ErrorCode::InvalidQuery,
                        "metric_time needs a time dimension",
                    ));
                };
                let utc = |b: &Option<Expr>| match b {
                    Some(Expr::Lit(Literal::Timestamp(t))) => Some(*t),
                    _ => None,
                };
                return super::timezone::metric_time(
                    e.clone(),
                    k,
                    r,
                    q,
                    (utc(&time_range.0), utc(&time_range.1)),
                );
            }
            // Metric filters name dimensions the query did not mention.
            let target = match targets.get(&r.raw) {
                Some(t) => *t,
                None => target_model(catalog, r, &bases, &|_, _| true)?,
            };
            resolve_dimension(catalog, joins, r, target, &context)
        };

        // What the caller writes is seen through the caller's masks; metric
        // definitions and row policies use the true values.
        let resolve_user =
            |r: &DimensionRef, joins: &mut JoinTree| -> Result<ResolvedDim, PlanError> {
                let d = resolve(r, joins)?;
                let mask = targets.get(&r.raw).and_then(|t| access.mask(*t, &r.name));
                Ok(match mask {
                    Some(mask) => ResolvedDim {
                        expr: Expr::Mask {
                            mask,
                            expr: Box::new(d.expr),
                        },
                        kind: d.kind,
                    },
                    None => d,
                })
            };
        let mut projection = Vec::new();
        for (i, r) in dims.iter().enumerate() {
            let d = resolve_user(r, &mut joins).map_err(|e| e.at(format!("dimensions[{i}]")))?;
            dim_kinds[i] = d.kind;
            projection.push(SelectItem {
                expr: d.expr,
                alias: Some(Ident::generated(dim_aliases[i].clone())),
            });
        }
        let mut conditions: Vec<Expr> = Vec::new();
        for (i, f, r) in &row_filters {
            // A raw (un-truncated) time is what a filter means unless a grain
            // is written.
            let mut raw_ref = r.clone();
            if r.grain.is_none() {
                raw_ref.grain = None;
            }
            let d =
                resolve_user(&raw_ref, &mut joins).map_err(|e| e.at(format!("filters[{i}]")))?;
            let target = match (r.grain, &d.expr) {
                (None, Expr::DateTrunc { expr, .. }) => (**expr).clone(),
                _ => d.expr.clone(),
            };
            conditions.push(
                structured(target, Some(d.kind), f).map_err(|e| e.at(format!("filters[{i}]")))?,
            );
        }
        if let Some(w) = &where_expr {
            conditions.push(
                resolve_row_expr(w.clone(), &mut |r| {
                    resolve_user(r, &mut joins).map(untruncated)
                })
                .map_err(|e| e.at("where"))?,
            );
        }
        if let Some(t) = &q.filter {
            conditions.push(
                filters::tree(t, &mut |r| resolve_user(r, &mut joins).map(untruncated))
                    .map_err(|e| e.at("filter"))?,
            );
        }
        if let Some(t) = &time_expr {
            if let Some(start) = &time_range.0 {
                conditions.push(Expr::binary(BinOp::GtEq, t.clone(), start.clone()));
            }
            if let Some(end) = &time_range.1 {
                conditions.push(Expr::binary(BinOp::Lt, t.clone(), end.clone()));
            }
        }
        // Validation guarantees stitched measures a stitchable model.
        let person = scan
            .stitched
            .then(|| super::stitch::scan_person(catalog, &mut joins))
            .flatten();
        let fact_time = scan
            .leaves
            .iter()
            .find_map(|li| model.measures[leaves[*li].measure].time_dimension)
            .map(|t| qualify(&model.dimensions[t].expr, &base_alias));
        conditions.extend(scan_policy_conditions(
            catalog,
            &access,
            &row_policies,
            ScanPolicyInput {
                model: scan.model,
                base_alias: &base_alias,
                fact_time,
                stitched: person.as_ref().map(|p| p.key.clone()),
                suppression_implied: false,
            },
            &mut |r| resolve(r, &mut joins).map(untruncated),
            &is_time,
            (&mut consent_ctes, &mut policies),
        )?);
        let subject_key = match &person {
            Some(p) => Some(p.key.clone()),
            None => model
                .subject
                .as_ref()
                .and_then(|s| model.entity(s))
                .or_else(|| model.primary_entity())
                .filter(|e| e.keys.len() == 1)
                .map(|e| qualify(&e.keys[0], &base_alias)),
        };
        let subjects = |key: &Option<Expr>| match key {
            Some(k) => Expr::Aggregate {
                agg: Aggregation::CountDistinct,
                arg: Some(Box::new(k.clone())),
            },
            None => Expr::Aggregate {
                agg: Aggregation::Count,
                arg: None,
            },
        };
        subject_counts.push(min_group_size.map(|_| subjects(&subject_key)));
        let cell_parts = match cell_rule {
            Some(rule) => {
                let mut named = |joins: &mut JoinTree| {
                    dims.iter()
                        .chain(row_filters.iter().map(|(_, _, r)| r))
                        .chain(where_refs.iter())
                        .chain(tree_refs.iter())
                        .filter(|r| !r.is_metric_time())
                        .map(|r| resolve(r, joins))
                        .collect::<Result<Vec<_>, _>>()
                };
                let cells = super::kanon::cell_exprs(
                    catalog,
                    &access,
                    rule,
                    &mut joins,
                    &mut named,
                    time_expr.as_ref(),
                )?;
                Some((cells, subjects(&subject_key)))
            }
            None => None,
        };
        // Each leaf's filter as a list of conjuncts. Conjuncts every leaf
        // of the scan shares go to WHERE (the engine then reads only those
        // rows); what remains per leaf becomes a CASE inside its aggregate,
        // and WHERE keeps only rows some leaf wants. A metric therefore sees
        // exactly the rows its filter selects, as if it had its own scan.
        let mut leaf_conjuncts: Vec<Vec<Expr>> = Vec::new();
        for &li in &scan.leaves {
            let mut parts = Vec::new();
            for f in &leaves[li].filters {
                let f = coerce_time_literals(f.clone(), &is_time)?;
                let resolved =
                    resolve_row_expr(f, &mut |r| resolve(r, &mut joins).map(untruncated))?;
                split_conjuncts(resolved, &mut parts);
            }
            if let Some(id) = leaves[li].converted {
                let MetricKind::Conversion(conv) = &catalog.metric(id).kind else {
                    return Err(PlanError::new(
                        ErrorCode::Unsupported,
                        "internal: a converted leaf of a metric that is not a conversion",
                    ));
                };
                // The conversion's subject is the base event's (the same
                // person when stitched, else the same entity key, when both
                // models' subject is the conversion entity): the base scan's
                // suppression already covers it. Consent is not implied: it
                // is read at the conversion's own time.
                let subject_is =
                    |m: ModelId| catalog.model(m).subject.as_deref() == Some(conv.entity.as_str());
                let suppression_implied = person.is_some()
                    || (subject_is(conv.base_model) && subject_is(conv.conversion_model));
                parts.push(super::conversion::exists(
                    catalog,
                    conv,
                    &base_alias,
                    person.as_ref().map(|p| &p.key),
                    &mut |conv_joins, conv_time, conv_person| {
                        super::fact_policy::fact_conditions(
                            catalog,
                            &access,
                            &row_policies,
                            conv.conversion_model,
                            conv_joins,
                            Some(conv_time),
                            conv_person,
                            suppression_implied,
                            &mut consent_ctes,
                            &mut policies,
                        )
                    },
                )?);
            }
            parts.dedup();
            leaf_conjuncts.push(parts);
        }
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
        let residuals: Vec<Option<Expr>> = leaf_conjuncts
            .iter()
            .map(|l| {
                Expr::and_all(
                    l.iter()
                        .filter(|c| !common.contains(c))
                        .cloned()
                        .map(parenthesize_or),
                )
            })
            .collect();
        conditions.extend(common.iter().cloned());
        if residuals.len() > 1 && residuals.iter().all(Option::is_some) {
            let mut distinct: Vec<Expr> = Vec::new();
            for r in residuals.iter().flatten() {
                if !distinct.contains(r) {
                    distinct.push(r.clone());
                }
            }
            let any = distinct
                .into_iter()
                .map(|r| match r {
                    Expr::Binary { op: BinOp::And, .. } => Expr::Nested(Box::new(r)),
                    other => other,
                })
                .reduce(|a, b| Expr::binary(BinOp::Or, a, b));
            conditions.extend(any);
        }
        for (pos, &li) in scan.leaves.iter().enumerate() {
            let leaf = &leaves[li];
            let residual = residuals[pos].clone();
            let agg = leaf_aggregate(catalog, leaf, &base_alias, residual);
            projection.push(SelectItem {
                expr: agg,
                alias: Some(Ident::generated(leaf_alias[li].clone())),
            });
        }
        scan_cells.push(cell_parts.map(|(cells, count)| {
            super::kanon::cells_query(
                projection[..dims.len()].to_vec(),
                cells,
                count,
                source_ref(catalog, scan.model, &base_alias),
                joins.joins(catalog),
                conditions.iter().cloned().map(parenthesize_or).collect(),
            )
        }));
        scan_selects.push(Select {
            projection,
            from: Some(source_ref(catalog, scan.model, &base_alias)),
            joins: joins.joins(catalog),
            selection: Expr::and_all(conditions.into_iter().map(parenthesize_or)),
            group_by: (1..=dims.len()).collect(),
            having: None,
        });
    }

    // Output columns.
    let mut columns: Vec<OutputColumn> = dims
        .iter()
        .enumerate()
        .map(|(i, r)| OutputColumn {
            name: dim_aliases[i].clone(),
            role: ColumnRole::Dimension {
                reference: r.raw.clone(),
                kind: dim_kinds[i],
            },
        })
        .collect();
    for m in &requested {
        let metric = catalog.metric(m.id);
        let integer = match m.tree {
            MetricTree::Leaf(li) => {
                let l = &leaves[li];
                matches!(
                    catalog.model(l.model).measures[l.measure].agg,
                    Aggregation::Count | Aggregation::CountDistinct | Aggregation::SumBoolean
                )
            }
            _ => false,
        };
        columns.push(OutputColumn {
            name: m.alias.clone(),
            role: ColumnRole::Metric {
                metric: metric.name.clone(),
                version: metric.version,
                integer,
            },
        });
    }

    // Ordering: what was asked, then every dimension, so pages of a result
    // are stable.
    let output_names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut order: Vec<OrderItem> = Vec::new();
    let mut ordered: Vec<String> = Vec::new();
    for (i, o) in q.order_by.iter().enumerate() {
        let (field, desc) = o.field_and_desc();
        let name = columns
            .iter()
            .find(|c| c.name == field || matches!(&c.role, ColumnRole::Dimension { reference, .. } if *reference == field))
            .map(|c| c.name.clone())
            .ok_or_else(|| {
                PlanError::new(ErrorCode::InvalidQuery, format!("cannot order by `{field}`: it is not a metric or dimension of this query"))
                    .with_suggestions(closest(&field, output_names.iter().copied()))
                    .at(format!("order_by[{i}]"))
            })?;
        if !ordered.contains(&name) {
            order.push(OrderItem {
                expr: Expr::bare(&name),
                desc,
            });
            ordered.push(name);
        }
    }
    for a in &dim_aliases {
        if !ordered.contains(a) {
            order.push(OrderItem {
                expr: Expr::bare(a),
                desc: false,
            });
        }
    }

    let metric_kind_none: Option<DimensionKind> = None;
    let query = if scan_selects.len() == 1 && cell_rule.is_none() {
        // One scan: the metrics are computed straight from its aggregates.
        let mut select = scan_selects
            .pop()
            .ok_or_else(|| PlanError::new(ErrorCode::InvalidQuery, "no scan"))?;
        let aggregates: Vec<Expr> = select
            .projection
            .drain(dims.len()..)
            .map(|s| s.expr)
            .collect();
        let leaf_pos: BTreeMap<usize, usize> = scans[0]
            .leaves
            .iter()
            .enumerate()
            .map(|(pos, li)| (*li, pos))
            .collect();
        let inline = |li: usize| aggregates[leaf_pos[&li]].clone();
        for m in &requested {
            select.projection.push(SelectItem {
                expr: m.tree.lower(&inline),
                alias: Some(Ident::generated(m.alias.clone())),
            });
        }
        let mut having = Vec::new();
        for (i, f) in &post_filters {
            let m = requested
                .iter()
                .find(|m| m.alias == f.dimension)
                .map(|m| m.tree.lower(&inline));
            if let Some(expr) = m {
                having.push(
                    structured(expr, metric_kind_none, f)
                        .map_err(|e| e.at(format!("filters[{i}]")))?,
                );
            }
        }
        if let (Some(k), Some(Some(count))) = (min_group_size, subject_counts.first()) {
            having.push(Expr::binary(
                BinOp::GtEq,
                count.clone(),
                Expr::Lit(Literal::Number(k.to_string())),
            ));
        }
        select.having = Expr::and_all(having);
        Query {
            ctes: consent_ctes,
            body: SetExpr::Select(Box::new(select)),
            order_by: order,
            limit: q.limit,
            offset: q.offset,
        }
    } else {
        let leaf_integer: Vec<bool> = leaves
            .iter()
            .map(|l| {
                matches!(
                    catalog.model(l.model).measures[l.measure].agg,
                    Aggregation::Count | Aggregation::CountDistinct | Aggregation::SumBoolean
                )
            })
            .collect();
        let mut scan_selects = scan_selects;
        let mut subject_cols: Vec<Option<String>> = Vec::new();
        for (i, (select, count)) in scan_selects.iter_mut().zip(&subject_counts).enumerate() {
            subject_cols.push(count.as_ref().map(|c| {
                let name = format!("__subjects_{}", i + 1);
                select.projection.push(SelectItem {
                    expr: c.clone(),
                    alias: Some(Ident::generated(name.clone())),
                });
                name
            }));
        }
        let mut query = stitch(
            &dims,
            &dim_aliases,
            &scans,
            &leaf_alias,
            &leaf_integer,
            (&subject_cols, min_group_size),
            scan_cells,
            scan_selects,
            &requested,
            &post_filters,
            catalog,
            order,
            q,
        )?;
        let mut ctes = consent_ctes;
        ctes.append(&mut query.ctes);
        query.ctes = ctes;
        query
    };

    Ok(Plan {
        query,
        columns,
        metrics: requested.iter().map(|m| m.id).collect(),
        warnings,
        models: models_used,
        policies,
    })
}

/// A time dimension in a filter compares on its raw value, not its bucket.
pub(super) fn untruncated(d: ResolvedDim) -> ResolvedDim {
    match d.expr {
        Expr::DateTrunc { expr, .. } => ResolvedDim {
            expr: *expr,
            kind: d.kind,
        },
        other => ResolvedDim {
            expr: other,
            kind: d.kind,
        },
    }
}

/// `a OR b` joined into an AND must keep its parentheses.
pub(super) fn parenthesize_or(e: Expr) -> Expr {
    match e {
        Expr::Binary { op: BinOp::Or, .. } => Expr::Nested(Box::new(e)),
        other => other,
    }
}

/// Replaces every dimension reference in a row-level expression.
pub(super) fn resolve_row_expr(
    expr: Expr,
    resolve: &mut dyn FnMut(&DimensionRef) -> Result<ResolvedDim, PlanError>,
) -> Result<Expr, PlanError> {
    expr.try_transform(&mut |e| match e {
        Expr::Ref(parts) => {
            let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
            let r = DimensionRef::parse(&text.join("."))?;
            Ok(resolve(&r)?.expr)
        }
        other => Ok(other),
    })
}

/// Top-level AND terms of `e`.
pub(super) fn split_conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
        } => {
            split_conjuncts(*left, out);
            split_conjuncts(*right, out);
        }
        Expr::Nested(inner) if matches!(*inner, Expr::Binary { op: BinOp::And, .. }) => {
            split_conjuncts(*inner, out)
        }
        other => out.push(other),
    }
}

fn one() -> Expr {
    Expr::Lit(Literal::Number("1".into()))
}

/// A leaf's aggregate. With a filter that could not go to WHERE, the filter
/// becomes a CASE inside the aggregate; counts then need care, because a
/// group without a matching row must read NULL (as if the metric had its own
/// scan and the group were absent), not 0.
fn leaf_aggregate(catalog: &Catalog, leaf: &Leaf, base_alias: &str, filter: Option<Expr>) -> Expr {
    let measure = &catalog.model(leaf.model).measures[leaf.measure];
    let value = super::stitch::measure_value(catalog, leaf.model, measure, base_alias);
    let (agg, value) = match (measure.agg, value) {
        (Aggregation::SumBoolean, Some(v)) => (
            Aggregation::Sum,
            Some(Expr::Case {
                operand: None,
                whens: vec![(v, one())],
                otherwise: Some(Box::new(Expr::Lit(Literal::Number("0".into())))),
            }),
        ),
        (a, v) => (a, v),
    };
    let Some(f) = filter else {
        return Expr::Aggregate {
            agg,
            arg: value.map(Box::new),
        };
    };
    let when = |v: Expr| Expr::Case {
        operand: None,
        whens: vec![(f.clone(), v)],
        otherwise: None,
    };
    let matching_rows = || Expr::Aggregate {
        agg: Aggregation::Count,
        arg: Some(Box::new(when(one()))),
    };
    match (agg, value) {
        // COUNT(*) over the matching rows, NULL when there are none.
        (Aggregation::Count, None) => Expr::Func {
            name: "NULLIF".into(),
            args: vec![matching_rows(), Expr::Lit(Literal::Number("0".into()))],
            distinct: false,
        },
        // A count of values can be 0 while matching rows exist (all NULL).
        (Aggregation::Count | Aggregation::CountDistinct, Some(v)) => Expr::Case {
            operand: None,
            whens: vec![(
                Expr::binary(
                    BinOp::Gt,
                    matching_rows(),
                    Expr::Lit(Literal::Number("0".into())),
                ),
                Expr::Aggregate {
                    agg,
                    arg: Some(Box::new(when(v))),
                },
            )],
            otherwise: None,
        },
        // Every other aggregate of no values is NULL already.
        (agg, value) => Expr::Aggregate {
            agg,
            arg: Some(Box::new(when(value.unwrap_or_else(one)))),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn stitch(
    dims: &[DimensionRef],
    dim_aliases: &[String],
    scans: &[Scan],
    leaf_alias: &[String],
    leaf_integer: &[bool],
    (subject_cols, min_group_size): (&[Option<String>], Option<u32>),
    scan_cells: Vec<Option<Query>>,
    scan_selects: Vec<Select>,
    requested: &[RequestedMetric],
    post_filters: &[(usize, &Filter)],
    catalog: &Catalog,
    order: Vec<OrderItem>,
    q: &SemanticQuery,
) -> Result<Query, PlanError> {
    let mut ctes = Vec::new();
    let mut cte_names: Vec<String> = Vec::new();
    for (scan, select) in scans.iter().zip(scan_selects) {
        let stem = format!("{}_agg", catalog.model(scan.model).name);
        let mut name = stem.clone();
        let mut n = 2;
        while cte_names.contains(&name) {
            name = format!("{stem}_{n}");
            n += 1;
        }
        cte_names.push(name.clone());
        ctes.push(Cte {
            name: Ident::generated(name),
            query: Query::select(select),
        });
    }
    // k-anonymity cells (planner::kanon): one CTE per scan, read by a
    // branch of its own that carries the group's smallest cell.
    let mut guard_cols: Vec<(String, String)> = Vec::new();
    for (i, (scan, cells)) in scans.iter().zip(scan_cells).enumerate() {
        let Some(cells) = cells else { continue };
        let name = format!("{}_cells_{}", catalog.model(scan.model).name, i + 1);
        ctes.push(Cte {
            name: Ident::generated(name.clone()),
            query: cells,
        });
        guard_cols.push((name, format!("__cells_{}", i + 1)));
    }
    let typed_null = |integer: bool| {
        Expr::TypedNull(if integer {
            SqlType::BigInt
        } else {
            SqlType::Decimal
        })
    };
    let null_item = |expr: Expr, name: &str| SelectItem {
        expr,
        alias: Some(Ident::generated(name)),
    };
    let all_leaves: Vec<usize> = scans
        .iter()
        .flat_map(|s| s.leaves.iter().copied())
        .collect();
    let mut branches: Vec<Select> = scans
        .iter()
        .zip(&cte_names)
        .map(|(scan, name)| {
            let mut projection = super::kanon::bare_columns(dim_aliases);
            for li in &all_leaves {
                let expr = if scan.leaves.contains(li) {
                    Expr::bare(&leaf_alias[*li])
                } else {
                    typed_null(leaf_integer[*li])
                };
                projection.push(SelectItem {
                    expr,
                    alias: Some(Ident::generated(leaf_alias[*li].clone())),
                });
            }
            for (j, col) in subject_cols.iter().enumerate() {
                if let Some(col) = col {
                    let own = scans.get(j).is_some_and(|s| std::ptr::eq(s, scan));
                    projection.push(SelectItem {
                        expr: if own {
                            Expr::bare(col)
                        } else {
                            Expr::TypedNull(SqlType::BigInt)
                        },
                        alias: Some(Ident::generated(col.clone())),
                    });
                }
            }
            for (_, col) in &guard_cols {
                projection.push(null_item(typed_null(true), col));
            }
            Select {
                projection,
                from: Some(TableRef::Named {
                    name: Ident::generated(name.clone()),
                    alias: None,
                }),
                joins: Vec::new(),
                selection: None,
                group_by: Vec::new(),
                having: None,
            }
        })
        .collect();
    for (g, (cte, column)) in guard_cols.iter().enumerate() {
        let mut nulls: Vec<SelectItem> = all_leaves
            .iter()
            .map(|li| null_item(typed_null(leaf_integer[*li]), &leaf_alias[*li]))
            .collect();
        nulls.extend(
            subject_cols
                .iter()
                .flatten()
                .map(|c| null_item(typed_null(true), c)),
        );
        let before: Vec<SelectItem> = guard_cols[..g]
            .iter()
            .map(|(_, c)| null_item(typed_null(true), c))
            .collect();
        let after: Vec<SelectItem> = guard_cols[g + 1..]
            .iter()
            .map(|(_, c)| null_item(typed_null(true), c))
            .collect();
        nulls.extend(before);
        branches.push(super::kanon::guard_branch(
            cte,
            dim_aliases,
            nulls,
            column,
            after,
        ));
    }
    let union = Query {
        ctes: Vec::new(),
        body: SetExpr::UnionAll(branches),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    };
    let mut stitched: Vec<SelectItem> = dim_aliases
        .iter()
        .map(|a| SelectItem {
            expr: Expr::bare(a),
            alias: Some(Ident::generated(a.clone())),
        })
        .collect();
    for li in &all_leaves {
        // Each key has at most one non-NULL value per leaf, from the scan
        // that computed it; MAX picks it.
        stitched.push(SelectItem {
            expr: Expr::Aggregate {
                agg: Aggregation::Max,
                arg: Some(Box::new(Expr::bare(&leaf_alias[*li]))),
            },
            alias: Some(Ident::generated(leaf_alias[*li].clone())),
        });
    }
    for col in subject_cols
        .iter()
        .flatten()
        .chain(guard_cols.iter().map(|(_, c)| c))
    {
        stitched.push(SelectItem {
            expr: Expr::Aggregate {
                agg: Aggregation::Max,
                arg: Some(Box::new(Expr::bare(col))),
            },
            alias: Some(Ident::generated(col.clone())),
        });
    }
    ctes.push(Cte {
        name: Ident::generated("stitched"),
        query: Query::select(Select {
            projection: stitched,
            from: Some(TableRef::Subquery {
                query: Box::new(union),
                alias: Ident::generated("scans"),
            }),
            joins: Vec::new(),
            selection: None,
            group_by: (1..=dims.len()).collect(),
            having: None,
        }),
    });
    let column = |li: usize| leaf_column(&leaf_alias[li]);
    let mut projection = super::kanon::bare_columns(dim_aliases);
    for m in requested {
        projection.push(SelectItem {
            expr: m.tree.lower(&column),
            alias: Some(Ident::generated(m.alias.clone())),
        });
    }
    let mut conditions = Vec::new();
    for (i, f) in post_filters {
        if let Some(m) = requested.iter().find(|m| m.alias == f.dimension) {
            conditions.push(
                structured(m.tree.lower(&column), None, f)
                    .map_err(|e| e.at(format!("filters[{i}]")))?,
            );
        }
    }
    // k-anonymity: a group is shown only if every scan that contributed to
    // it saw at least k distinct subjects, and every cell in it holds none
    // or at least k (planner::kanon).
    if let Some(k) = min_group_size {
        if !guard_cols.is_empty() {
            // A group only the cells saw is no answer.
            let seen = subject_cols.iter().flatten().map(|c| Expr::IsNull {
                expr: Box::new(Expr::bare(c)),
                negated: true,
            });
            conditions.extend(
                seen.reduce(|a, b| Expr::binary(BinOp::Or, a, b))
                    .map(|e| Expr::Nested(Box::new(e))),
            );
        }
        for col in subject_cols
            .iter()
            .flatten()
            .chain(guard_cols.iter().map(|(_, c)| c))
        {
            conditions.push(Expr::Nested(Box::new(Expr::binary(
                BinOp::Or,
                Expr::IsNull {
                    expr: Box::new(Expr::bare(col)),
                    negated: false,
                },
                Expr::binary(
                    BinOp::GtEq,
                    Expr::bare(col),
                    Expr::Lit(Literal::Number(k.to_string())),
                ),
            ))));
        }
    }
    let _ = dims;
    Ok(Query {
        ctes,
        body: SetExpr::Select(Box::new(Select {
            projection,
            from: Some(TableRef::Named {
                name: Ident::generated("stitched"),
                alias: None,
            }),
            joins: Vec::new(),
            selection: Expr::and_all(conditions),
            group_by: Vec::new(),
            having: None,
        })),
        order_by: order,
        limit: q.limit,
        offset: q.offset,
    })
}

/// The error for `metric_time` when the caller's roles hide it: the one an
/// unknown dimension gets, so hidden and absent read alike.
pub(super) fn hidden_metric_time(raw: &str) -> PlanError {
    PlanError::new(
        ErrorCode::UnknownDimension,
        format!("unknown dimension `{raw}`"),
    )
}

/// What [`scan_policy_conditions`] needs to know about one scan.
pub(super) struct ScanPolicyInput<'a> {
    pub model: ModelId,
    pub base_alias: &'a str,
    /// The time each fact happened, for consent as of the fact.
    pub fact_time: Option<Expr>,
    /// The person of each row when the scan is stitched
    /// ([`super::stitch::StitchedSubject::key`]): consent and suppression
    /// then hold per person, anonymous rows included.
    pub stitched: Option<Expr>,
    /// Every row is correlated to a row of the same subject that is already
    /// held to the suppression list (a conversion EXISTS matched on the
    /// base event's subject), so the list is not read again.
    pub suppression_implied: bool,
}

/// The WHERE conditions the caller's policies put on one scan of `model`:
/// row filters of every model the scan can reach, consent under the
/// caller's purpose, and the suppression list. Every scan of facts (metric
/// scans here, funnel and retention event scans in `funnel`/`retention`)
/// goes through this one function.
pub(super) fn scan_policy_conditions(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
    scan: ScanPolicyInput,
    resolve: &mut dyn FnMut(&DimensionRef) -> Result<super::resolve::ResolvedDim, PlanError>,
    is_time: &dyn Fn(&[Ident]) -> bool,
    (consent_ctes, policies): (&mut Vec<Cte>, &mut Vec<String>),
) -> Result<Vec<Expr>, PlanError> {
    let model = catalog.model(scan.model);
    let base_alias = scan.base_alias;
    let mut conditions = Vec::new();
    // Row policies: any model this scan can reach through the join
    // graph is restricted for this scan's facts (joining it if needed).
    for (policy_model, filter) in row_policies {
        if *policy_model != scan.model && !catalog.graph.reachable(scan.model, *policy_model) {
            continue;
        }
        let f = coerce_time_literals(filter.clone(), is_time)?;
        // Refused without naming the policy's model or members, which the
        // caller may not see; the reason goes to the log for operators.
        let bound = resolve_row_expr(f, resolve).map_err(|e| {
            tracing::warn!(
                target: "accord::errors",
                policy_model = %catalog.model(*policy_model).name,
                model = %model.name,
                reason = %e.message,
                "a row policy cannot be enforced"
            );
            PlanError::new(
                ErrorCode::Forbidden,
                "an access policy of your roles cannot be enforced for this query",
            )
        })?;
        conditions.push(bound);
    }
    // Consent: facts about a person count only under a purpose that
    // person granted (at the fact's time), and never for suppressed
    // subjects.
    if let Some(consent) = &catalog.consent {
        // A stitched scan's facts are a person's even without the model's
        // own subject column; a plain scan's only through that column.
        let subject_expr = match &scan.stitched {
            Some(person) => Some(person.clone()),
            None => model
                .subject
                .as_ref()
                .and_then(|s| model.entity(s))
                .map(|e| qualify(&e.keys[0], base_alias)),
        };
        let stitched = scan.stitched.is_some();
        if let Some(subject_expr) = subject_expr {
            if let Some(purpose) = access.purpose.filter(|p| p.requires_consent) {
                let cte_name = if stitched {
                    format!("consent_{}_stitched", purpose.name)
                } else {
                    format!("consent_{}", purpose.name)
                };
                if !consent_ctes.iter().any(|c| c.name.value == cte_name) {
                    consent_ctes.push(consent_cte(
                        catalog,
                        consent,
                        &purpose.name,
                        &cte_name,
                        stitched,
                    ));
                }
                conditions.push(consent_exists(
                    &cte_name,
                    subject_expr.clone(),
                    scan.fact_time,
                    consent,
                ));
                if !policies
                    .iter()
                    .any(|p| p.starts_with(&format!("consent purpose {}", purpose.name)))
                {
                    policies.push(format!(
                        "consent purpose {} ({})",
                        purpose.name,
                        match consent.mode {
                            ConsentMode::AsOfFact => "as of each fact's time",
                            ConsentMode::AsOfNow => "as of now",
                        }
                    ));
                }
            }
            if let Some((supp_model, key)) = consent
                .suppression
                .as_ref()
                .filter(|_| !scan.suppression_implied)
            {
                let alias = "suppressed";
                // Stitched: a suppressed person's every identifier the map
                // still holds is left out, not only rows keyed by them.
                let (joins, listed) = match stitched {
                    true => match super::stitch::nested_subject(catalog, *supp_model, alias) {
                        Some(s) => (vec![s.join], s.key),
                        None => (Vec::new(), qualify(key, alias)),
                    },
                    false => (Vec::new(), qualify(key, alias)),
                };
                let sub = Select {
                    projection: vec![SelectItem {
                        expr: Expr::Lit(Literal::Number("1".into())),
                        alias: None,
                    }],
                    from: Some(source_ref(catalog, *supp_model, alias)),
                    joins,
                    selection: Some(Expr::binary(BinOp::Eq, listed, subject_expr.clone())),
                    group_by: Vec::new(),
                    having: None,
                };
                conditions.push(Expr::Exists {
                    query: Box::new(Query::select(sub)),
                    negated: true,
                });
                let desc = format!("suppression list {}", catalog.model(*supp_model).name);
                if !policies.contains(&desc) {
                    policies.push(desc);
                }
            }
        }
    }
    Ok(conditions)
}

/// The caller's row filters, described for `compile` output and the
/// plan's `policies`.
pub(super) fn describe_row_policies(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
) -> Vec<String> {
    let mut policies = Vec::new();
    if access.is_restricted() {
        policies.push(format!("roles: {}", access.role_names().join(", ")));
    }
    for (m, f) in row_policies {
        // Show the filter as SQL; its names are still `model.dimension`.
        let shown = f
            .clone()
            .try_transform::<()>(&mut |e| match e {
                Expr::Ref(parts) if parts.len() == 2 => Ok(Expr::Column {
                    table: Some(Ident::new(parts[0].value.clone())),
                    name: parts[1].clone(),
                }),
                other => Ok(other),
            })
            .ok()
            .and_then(|e| {
                crate::sql::render::Renderer::new(crate::dialect::DialectKind::Postgres.dialect())
                    .expr(&e)
                    .ok()
            })
            .unwrap_or_default();
        policies.push(format!("row filter on {}: {shown}", catalog.model(*m).name));
    }
    policies
}

/// `unknown metric `shown``, suggesting only metrics the caller may use
/// near `name`: a hidden metric reads exactly like an absent one.
pub(super) fn unknown_metric(
    catalog: &Catalog,
    access: &Access,
    shown: &str,
    name: &str,
) -> PlanError {
    let visible = catalog.metric_names().filter(|n| {
        catalog
            .default_metric(n)
            .is_some_and(|m| access.metric_visible(m.id))
    });
    PlanError::new(
        ErrorCode::UnknownMetric,
        format!("unknown metric `{shown}`"),
    )
    .with_suggestions(closest(name, visible))
}

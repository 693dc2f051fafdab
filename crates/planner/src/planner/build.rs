//! Assembles the SQL for a planned query.
//!
//! One scan per (model, time dimension): the model's rows, many-to-one
//! joins for dimensions, the query's row filters, and every leaf aggregate
//! of that model side by side (a metric's own filter becomes a CASE inside
//! its aggregate, so measures of one model share one pass). With one scan,
//! that SELECT is the whole query. With several, each scan is a CTE and the
//! scans are stitched on the group-by keys ([`super::merge`]).
//!
//! Steps: [`Layout::new`] expands the resolved request's metrics into
//! leaves, groups them into scans and decides which model each reference
//! points at; [`super::scan`] builds each scan; [`single`] or [`stitch`]
//! puts the answer together.

use std::collections::BTreeMap;

use crate::catalog::{Aggregation, Catalog, DimensionKind, MetricId, ModelId};
use crate::diagnostics::closest;
use crate::query::{DimensionRef, SemanticQuery};
use crate::sql::ast::*;

use super::fact_policy::describe_row_policies;
use super::filters::{coerce_time_literals, structured};
use super::kanon::CellRule;
use super::merge::{Branch, MergeColumn, fresh_name, merge, unaliased};
use super::metrics::{Expansion, Leaf, MetricTree, leaf_column};
use super::nulls::{self, NullProbe, NullRule};
use super::request::Request;
use super::resolve::target_model;
use super::scan::BuiltScan;
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

/// A requested metric as an expression over leaves.
pub(super) struct Requested {
    pub alias: String,
    pub id: MetricId,
    pub tree: MetricTree,
}

pub(super) struct Scan {
    pub model: ModelId,
    pub time_dim: Option<usize>,
    /// Stitched measures scan apart from plain ones: consent and
    /// suppression hold per person on a stitched scan (anonymous rows of a
    /// consenting person pass), and a plain measure's number must not
    /// depend on what it is asked with.
    pub stitched: bool,
    pub leaves: Vec<usize>,
}

/// What every scan of one metric query shares.
pub(super) struct Layout<'r, 'q, 'c> {
    pub req: &'r Request<'q, 'c>,
    pub requested: Vec<Requested>,
    pub leaves: Vec<Leaf>,
    pub scans: Vec<Scan>,
    pub bases: Vec<ModelId>,
    /// The requested dimensions, `metric_time` with its default grain.
    pub dims: Vec<DimensionRef>,
    pub dim_aliases: Vec<String>,
    /// Leaf column names, clear of the dimension columns.
    pub leaf_alias: Vec<String>,
    /// The model each named dimension points at, for the whole query.
    pub targets: BTreeMap<String, ModelId>,
    /// `where`, its time literals typed.
    pub where_expr: Option<Expr>,
    pub time_range: (Option<Expr>, Option<Expr>),
    pub row_policies: Vec<(ModelId, Expr)>,
    pub min_group_size: Option<u32>,
    pub cell_rule: Option<CellRule>,
}

/// What building the scans adds to the plan.
#[derive(Default)]
pub(super) struct Collected {
    pub consent_ctes: Vec<Cte>,
    pub policies: Vec<String>,
    pub models: Vec<String>,
}

pub fn plan(mut req: Request) -> Result<Plan, PlanError> {
    let mut warnings = std::mem::take(&mut req.warnings);
    let layout = Layout::new(&req)?;
    let mut out = Collected {
        policies: layout.policies(&mut warnings),
        ..Collected::default()
    };
    let mut built = Vec::new();
    for scan in &layout.scans {
        built.push(super::scan::build(&layout, scan, &mut out)?);
    }
    let columns = layout.output_columns(built.last().map(|b| b.dim_kinds.as_slice()));
    let order = ordering(
        req.query,
        &columns,
        &layout.dim_aliases,
        "it is not a metric or dimension of this query",
    )?;
    let consent_ctes = std::mem::take(&mut out.consent_ctes);
    let mut probes = Vec::new();
    let query = if built.len() == 1 && layout.cell_rule.is_none() {
        single(&layout, built, order, consent_ctes, &mut probes)?
    } else {
        let mut query = stitch(&layout, built, order, &mut probes)?;
        let mut ctes = consent_ctes;
        ctes.append(&mut query.ctes);
        query.ctes = ctes;
        query
    };
    Ok(Plan {
        query,
        columns,
        metrics: layout.requested.iter().map(|m| m.id).collect(),
        warnings,
        models: out.models,
        policies: out.policies,
        valid_until: None,
        probes,
    })
}

impl<'r, 'q, 'c> Layout<'r, 'q, 'c> {
    pub fn new(req: &'r Request<'q, 'c>) -> Result<Self, PlanError> {
        let catalog = req.catalog;
        let (requested, leaves) = expand(req)?;
        let scans = group_scans(req, &leaves)?;
        let bases: Vec<ModelId> = scans.iter().map(|s| s.model).collect();
        let dims = with_default_grain(catalog, &req.dimensions, &scans);
        let dim_aliases: Vec<String> = dims.iter().map(DimensionRef::alias).collect();
        let leaf_alias = leaves
            .iter()
            .map(|l| {
                let mut a = l.alias.clone();
                while dim_aliases.contains(&a) {
                    a.push_str("_m");
                }
                a
            })
            .collect();
        let targets = resolve_targets(req, &bases)?;
        let mut layout = Layout {
            req,
            requested,
            leaves,
            scans,
            bases,
            dims,
            dim_aliases,
            leaf_alias,
            targets,
            where_expr: None,
            time_range: (None, None),
            row_policies: req.access.row_filters()?,
            min_group_size: req.access.min_group_size(),
            cell_rule: CellRule::of(&req.access),
        };
        layout.where_expr = match &req.where_expr {
            Some(w) => Some(coerce_time_literals(w.clone(), &|p| layout.is_time(p))?),
            None => None,
        };
        layout.time_range = super::timezone::range_bounds(req.query)?;
        layout.check_cells()?;
        Ok(layout)
    }

    /// The kind of a reference, as the query resolves it.
    pub fn kind_of(&self, r: &DimensionRef) -> Option<DimensionKind> {
        if r.is_metric_time() {
            return Some(DimensionKind::Time {
                granularity: crate::catalog::Grain::Hour,
            });
        }
        let catalog = self.req.catalog;
        let target = match self.targets.get(&r.raw) {
            Some(t) => *t,
            None => target_model(catalog, r, &self.bases, &|_, _| true).ok()?,
        };
        catalog
            .model(target)
            .dimension(&r.name)
            .map(|(_, d)| d.kind)
            .or(Some(DimensionKind::Categorical))
    }

    /// Whether a reference (as written in an expression) names a time.
    pub fn is_time(&self, parts: &[Ident]) -> bool {
        let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
        DimensionRef::parse(&text.join("."))
            .ok()
            .and_then(|r| self.kind_of(&r))
            .is_some_and(|k| matches!(k, DimensionKind::Time { .. }))
    }

    /// Every reference the caller's filters name, with its request field.
    pub fn filter_refs(&self) -> impl Iterator<Item = (String, &DimensionRef)> {
        let req = self.req;
        req.row_filters
            .iter()
            .map(|f| (format!("filters[{}]", f.index), &f.dimension))
            .chain(req.where_refs.iter().map(|r| ("where".to_string(), r)))
            .chain(req.tree_refs.iter().map(|r| ("filter".to_string(), r)))
    }

    /// A cell rule (planner::kanon) refuses groupings and filters finer
    /// than its cells.
    fn check_cells(&self) -> Result<(), PlanError> {
        let Some(rule) = self.cell_rule else {
            return Ok(());
        };
        let kind = |r: &DimensionRef| self.kind_of(r).unwrap_or(DimensionKind::Categorical);
        let grouped: Vec<_> = self
            .dims
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("dimensions[{i}]"), kind(r), r.grain))
            .collect();
        let filtered: Vec<_> = self.filter_refs().map(|(f, r)| (f, kind(r))).collect();
        rule.check_request(self.req.query, &self.time_range, &grouped, &filtered)
    }

    /// The plan's policies in words (and the suppression warning).
    fn policies(&self, warnings: &mut Vec<String>) -> Vec<String> {
        let access = &self.req.access;
        let mut policies = describe_row_policies(self.req.catalog, access, &self.row_policies);
        if let Some(k) = self.min_group_size {
            policies.push(format!(
                "min_group_size {k}: groups built from fewer distinct subjects are suppressed"
            ));
            warnings.push(format!("groups built from fewer than {k} distinct subjects are suppressed (min_group_size policy)"));
        }
        if let Some(rule) = self.cell_rule {
            policies.push(rule.describe());
        }
        policies
    }

    /// Why a leaf reads NULL: no (matching) rows of its model in the group.
    fn leaf_rule(&self, li: usize) -> NullRule {
        let leaf = &self.leaves[li];
        let model = self.req.catalog.model(leaf.model);
        NullRule::NoRows {
            model: model.name.clone(),
            measure: model.measures[leaf.measure].name.clone(),
            filtered: !leaf.filters.is_empty() || leaf.converted.is_some(),
        }
    }

    /// The metrics, each with the probe that tells why it is NULL, with
    /// leaves spelt by `leaf`.
    fn metric_items(
        &self,
        leaf: &dyn Fn(usize) -> Expr,
        probes: &mut Vec<NullProbe>,
    ) -> Vec<SelectItem> {
        let mut items = Vec::new();
        for m in &self.requested {
            let value = m.tree.lower(leaf);
            probes.push(nulls::probe(
                &m.alias,
                value.clone(),
                &m.tree,
                leaf,
                &|li| self.leaf_rule(li),
            ));
            items.push(SelectItem::aliased(value, &m.alias));
        }
        items
    }

    /// Whether a leaf counts (its sums are integers).
    fn leaf_integer(&self, li: usize) -> bool {
        let l = &self.leaves[li];
        matches!(
            self.req.catalog.model(l.model).measures[l.measure].agg,
            Aggregation::Count | Aggregation::CountDistinct | Aggregation::SumBoolean
        )
    }

    fn output_columns(&self, dim_kinds: Option<&[DimensionKind]>) -> Vec<OutputColumn> {
        let catalog = self.req.catalog;
        let mut columns: Vec<OutputColumn> = self
            .dims
            .iter()
            .enumerate()
            .map(|(i, r)| OutputColumn {
                name: self.dim_aliases[i].clone(),
                role: ColumnRole::Dimension {
                    reference: r.raw.clone(),
                    kind: dim_kinds
                        .and_then(|k| k.get(i).copied())
                        .unwrap_or(DimensionKind::Categorical),
                },
            })
            .collect();
        for m in &self.requested {
            let metric = catalog.metric(m.id);
            columns.push(OutputColumn {
                name: m.alias.clone(),
                role: ColumnRole::Metric {
                    metric: metric.name.clone(),
                    version: metric.version,
                    integer: matches!(m.tree, MetricTree::Leaf(li) if self.leaf_integer(li)),
                },
            });
        }
        columns
    }
}

/// Metrics → leaves (shared between metrics that aggregate alike).
fn expand(req: &Request) -> Result<(Vec<Requested>, Vec<Leaf>), PlanError> {
    let mut expansion = Expansion::default();
    let mut requested = Vec::new();
    for m in &req.metrics {
        let tree = expansion
            .expand(req.catalog, m.metric.id, &[])
            .map_err(|e| e.at(m.field()))?;
        requested.push(Requested {
            alias: m.alias.clone(),
            id: m.metric.id,
            tree,
        });
    }
    Ok((requested, expansion.leaves))
}

/// Does anything need each measure's own time (metric_time)?
fn needs_time(req: &Request, leaves: &[Leaf]) -> bool {
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
    leaves
        .iter()
        .any(|l| l.filters.iter().any(mentions_metric_time))
        || req.references().any(|(_, r)| r.is_metric_time())
        || req.query.time_range.is_some()
}

/// Leaves grouped by model and, when metric_time is used, by time
/// dimension (two measures of one model may count time differently).
fn group_scans(req: &Request, leaves: &[Leaf]) -> Result<Vec<Scan>, PlanError> {
    let needs_time = needs_time(req, leaves);
    let celled = CellRule::of(&req.access).is_some();
    let mut scans: Vec<Scan> = Vec::new();
    for (li, leaf) in leaves.iter().enumerate() {
        let model = req.catalog.model(leaf.model);
        let measure = &model.measures[leaf.measure];
        let time_dim = if needs_time {
            Some(measure.time_dimension.ok_or_else(|| {
                PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "measure `{}.{}` has no time dimension, so it cannot be used with metric_time or a time range; set `agg_time_dimension`",
                        model.name, measure.name
                    ),
                )
            })?)
        } else if celled {
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
    Ok(scans)
}

/// `metric_time` without a grain means the coarsest grain every scanned
/// time dimension is recorded at, so the scans' keys line up.
fn with_default_grain(
    catalog: &Catalog,
    dims: &[DimensionRef],
    scans: &[Scan],
) -> Vec<DimensionRef> {
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
    let mut dims = dims.to_vec();
    for d in dims.iter_mut() {
        if d.is_metric_time() && d.grain.is_none() {
            d.grain = default_time_grain;
        }
    }
    dims
}

/// Each named dimension points at one model for the whole query. Every
/// name the caller writes must be one it may see: a hidden one is unknown,
/// like an absent one (`target_model`).
fn resolve_targets(
    req: &Request,
    bases: &[ModelId],
) -> Result<BTreeMap<String, ModelId>, PlanError> {
    let mut targets = BTreeMap::new();
    for (field, r) in req.references() {
        if r.is_metric_time() || targets.contains_key(&r.raw) {
            continue;
        }
        let visible = |m: ModelId, d: &str| req.access.dimension_visible(m, d);
        let target = target_model(req.catalog, r, bases, &visible).map_err(|e| e.at(&field))?;
        targets.insert(r.raw.clone(), target);
    }
    Ok(targets)
}

/// Ordering: what was asked, then every dimension, so pages of a result
/// are stable. `unknown` says why an unknown column cannot order.
pub(super) fn ordering(
    q: &SemanticQuery,
    columns: &[OutputColumn],
    dim_aliases: &[String],
    unknown: &str,
) -> Result<Vec<OrderItem>, PlanError> {
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
                PlanError::new(ErrorCode::InvalidQuery, format!("cannot order by `{field}`: {unknown}"))
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
    for a in dim_aliases {
        if !ordered.contains(a) {
            order.push(OrderItem {
                expr: Expr::bare(a),
                desc: false,
            });
        }
    }
    Ok(order)
}

/// One scan: the metrics are computed straight from its aggregates.
fn single(
    layout: &Layout,
    built: Vec<BuiltScan>,
    order: Vec<OrderItem>,
    consent_ctes: Vec<Cte>,
    probes: &mut Vec<NullProbe>,
) -> Result<Query, PlanError> {
    let q = layout.req.query;
    let BuiltScan {
        mut select,
        subjects,
        ..
    } = built
        .into_iter()
        .next()
        .ok_or_else(|| PlanError::new(ErrorCode::InvalidQuery, "no scan"))?;
    let aggregates: Vec<Expr> = select
        .projection
        .drain(layout.dims.len()..)
        .map(|s| s.expr)
        .collect();
    let leaf_pos: BTreeMap<usize, usize> = layout.scans[0]
        .leaves
        .iter()
        .enumerate()
        .map(|(pos, li)| (*li, pos))
        .collect();
    let inline = |li: usize| aggregates[leaf_pos[&li]].clone();
    let items = layout.metric_items(&inline, probes);
    select.projection.extend(items);
    let mut having = post_filters(layout, &inline)?;
    if let (Some(k), Some(count)) = (layout.min_group_size, subjects) {
        having.push(Expr::binary(BinOp::GtEq, count, Expr::num(k)));
    }
    select.having = Expr::and_all(having);
    Ok(Query {
        ctes: consent_ctes,
        body: SetExpr::Select(Box::new(select)),
        order_by: order,
        limit: q.limit,
        offset: q.offset,
    })
}

/// Filters on a requested metric's value, with each leaf spelt by `leaf`.
fn post_filters(layout: &Layout, leaf: &dyn Fn(usize) -> Expr) -> Result<Vec<Expr>, PlanError> {
    let mut out = Vec::new();
    for (i, f) in &layout.req.post_filters {
        if let Some(m) = layout.requested.iter().find(|m| m.alias == f.dimension) {
            out.push(
                structured(m.tree.lower(leaf), None, f)
                    .map_err(|e| e.at(format!("filters[{i}]")))?,
            );
        }
    }
    Ok(out)
}

/// Several scans (or a cell guard): each scan a CTE, merged on the group
/// keys into `stitched`, the metrics computed from that.
fn stitch(
    layout: &Layout,
    built: Vec<BuiltScan>,
    order: Vec<OrderItem>,
    probes: &mut Vec<NullProbe>,
) -> Result<Query, PlanError> {
    let catalog = layout.req.catalog;
    let q = layout.req.query;
    let all_leaves: Vec<usize> = layout
        .scans
        .iter()
        .flat_map(|s| s.leaves.iter().copied())
        .collect();
    let mut columns: Vec<MergeColumn> = all_leaves
        .iter()
        .map(|li| {
            let ty = match layout.leaf_integer(*li) {
                true => SqlType::BigInt,
                false => SqlType::Decimal,
            };
            MergeColumn::new(layout.leaf_alias[*li].clone(), ty)
        })
        .collect();
    let mut ctes = Vec::new();
    let mut taken = Vec::new();
    // Per scan: its CTE and the merged columns it fills.
    let mut own: Vec<(String, Vec<usize>)> = Vec::new();
    let mut subject_cols: Vec<String> = Vec::new();
    let mut cells: Vec<(usize, Query)> = Vec::new();
    for (i, (scan, b)) in layout.scans.iter().zip(built).enumerate() {
        let mut select = b.select;
        let mut fills: Vec<usize> = all_leaves
            .iter()
            .enumerate()
            .filter(|(_, li)| scan.leaves.contains(li))
            .map(|(pos, _)| pos)
            .collect();
        if let Some(count) = b.subjects {
            let name = format!("__subjects_{}", i + 1);
            select.projection.push(SelectItem::aliased(count, &name));
            columns.push(MergeColumn::new(name.clone(), SqlType::BigInt));
            fills.push(columns.len() - 1);
            subject_cols.push(name);
        }
        let stem = format!("{}_agg", catalog.model(scan.model).name);
        let name = fresh_name(&stem, &mut taken);
        ctes.push(Cte::new(&name, Query::select(select)));
        own.push((name, fills));
        if let Some(c) = b.cells {
            cells.push((i, c));
        }
    }
    // k-anonymity cells (planner::kanon): one CTE per scan, read by a
    // branch of its own that carries the group's smallest cell.
    let mut guard_cols: Vec<String> = Vec::new();
    let mut guards: Vec<Branch> = Vec::new();
    for (i, query) in cells {
        let name = format!(
            "{}_cells_{}",
            catalog.model(layout.scans[i].model).name,
            i + 1
        );
        ctes.push(Cte::new(&name, query));
        let column = format!("__cells_{}", i + 1);
        columns.push(MergeColumn::new(column.clone(), SqlType::BigInt));
        guards.push(Branch {
            cte: name,
            fills: vec![(columns.len() - 1, super::kanon::smallest_cell())],
            grouped: true,
        });
        guard_cols.push(column);
    }
    let mut branches: Vec<Branch> = own
        .iter()
        .map(|(cte, fills)| Branch::passing(cte, &columns, fills))
        .collect();
    branches.extend(guards);
    let merged = merge(&layout.dim_aliases, &columns, branches, "scans");
    ctes.push(Cte::new("stitched", Query::select(merged)));

    let column = |li: usize| leaf_column(&layout.leaf_alias[li]);
    let mut projection = unaliased(&layout.dim_aliases);
    projection.extend(layout.metric_items(&column, probes));
    let mut conditions = post_filters(layout, &column)?;
    if let Some(k) = layout.min_group_size {
        conditions.extend(super::kanon::stitched_guard(k, &subject_cols, &guard_cols));
    }
    let mut select = Select::from(projection, TableRef::named("stitched", None));
    select.selection = Expr::and_all(conditions);
    Ok(Query {
        ctes,
        body: SetExpr::Select(Box::new(select)),
        order_by: order,
        limit: q.limit,
        offset: q.offset,
    })
}

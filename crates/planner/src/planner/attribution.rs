//! Compiling a query that names attribution instances: each requested
//! metric's conversions are credited to the touches before them, one column
//! per (metric, instance), grouped by touch dimensions and time.
//!
//! Per metric, one scan of its conversions (`conversions`: key, subject,
//! time, value) and per touch model one scan of its touches; both are built
//! with the planner's own fact rules ([`super::fact_policy`]: row policies,
//! consent at each fact's time, suppression) and the metric's filter. Then,
//! per (metric, instance), CTEs that
//!
//! 1. join each conversion to its subject's touches inside the lookback
//!    window (an equi-join on the subject plus a time range, LEFT so a
//!    conversion without touches stays, as the unattributed path);
//! 2. drop direct touches from paths that have any other touch;
//! 3. number the path (oldest first) and keep its last `touches` entries;
//! 4. credit each touch with a share of the conversion's value.
//!
//! Exactness: a path's cumulative share after touch k is rounded to
//! `decimals` places (floor(x + 0.5) in units of 10^-decimals, computed in
//! floating point) and each touch gets the difference of consecutive
//! cumulative amounts; the last touch gets the conversion value minus what
//! the others got, in the value's own (decimal) type. So every conversion's
//! credits add up to its value exactly, whatever the shares.

use crate::access::Access;
use crate::attribution::{Attribution, AttributionModel, UNATTRIBUTED};
use crate::catalog::{Aggregation, Catalog, DimensionKind, Grain, Metric, MetricKind, ModelId};
use crate::diagnostics::closest;
use crate::query::{DimensionRef, Filter};
use crate::sql::ast::*;

use super::fact_policy::fact_conditions;
use super::filters::{coerce_time_literals, structured};
use super::merge::{Branch, MergeColumn, merge};
use super::request::Request;
use super::resolve::{
    JoinTree, qualify, resolve_dimension, resolve_row_expr, target_model, untruncated,
};
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

/// The key that says whose conversion or touch a row is, and the join it
/// needs: for a stitched instance the person through the identity map
/// (`stitch::StitchedSubject`), else the model's own subject column. Every
/// scan reads its subject here.
fn subject_key(
    catalog: &Catalog,
    model: ModelId,
    (subject, stitched): (&str, bool),
    joins: &mut JoinTree,
) -> Result<Expr, PlanError> {
    let found = match stitched {
        true => super::stitch::scan_person(catalog, joins).map(|p| p.key),
        false => catalog
            .model(model)
            .entity(subject)
            .filter(|e| e.keys.len() == 1)
            .map(|e| qualify(&e.keys[0], &joins.base_alias)),
    };
    found.ok_or_else(|| {
        PlanError::new(
            ErrorCode::InvalidQuery,
            format!(
                "model `{}` has no single-column entity `{subject}`",
                catalog.model(model).name
            ),
        )
    })
}

/// A single-column primary key, which tells rows of a model apart.
fn primary_key(catalog: &Catalog, model: ModelId, alias: &str) -> Result<Expr, PlanError> {
    let m = catalog.model(model);
    m.primary_entity()
        .filter(|e| e.keys.len() == 1)
        .map(|e| qualify(&e.keys[0], alias))
        .ok_or_else(|| {
            PlanError::new(
                ErrorCode::InvalidQuery,
                format!("model `{}` has no single-column primary entity", m.name),
            )
        })
}

fn window(name: &str, args: Vec<Expr>, order_by: Vec<Expr>, frame: Option<WindowFrame>) -> Expr {
    Expr::Window {
        name: name.into(),
        args,
        partition_by: vec![Expr::bare("conversion_key")],
        order_by,
        frame,
    }
}

/// `floor(x)` on every engine without a math library: CAST to an integer
/// rounds on some engines and truncates on others; either way it is off by
/// at most one in a direction the comparison corrects.
fn floor(x: Expr) -> Expr {
    let c = Expr::Cast {
        expr: Box::new(x.clone()),
        ty: SqlType::BigInt,
    };
    Expr::binary(
        BinOp::Minus,
        c.clone(),
        Expr::case(
            vec![(Expr::binary(BinOp::Lt, x, c), Expr::num(1))],
            Some(Expr::num(0)),
        ),
    )
}

/// What one output dimension of an attributed query is.
#[derive(Debug, Clone)]
enum OutDim {
    /// The conversion's time (`metric_time`), at a grain.
    ConversionTime(Grain),
    /// The touch's time, at a grain (NULL for unattributed conversions).
    TouchTime(Grain),
    /// A categorical dimension of the touch model, by name.
    Touch(String),
}

/// Where a structured filter applies.
enum FilterTarget {
    /// On conversions, before crediting (metric_time, conversion dimensions).
    Conversion(DimensionRef),
    /// On credited rows (touch dimensions and touch time).
    Credited(OutDim),
}

struct Requested<'c> {
    metric: &'c Metric,
    alias: String,
    model: ModelId,
    measure: usize,
}

/// Scans shared by instances that read the same rows the same way (a
/// stitched instance sees people, a plain one the subject column): per
/// key, the CTE name.
type ScanNames<K> = Vec<(K, String)>;
type ConversionKey = (usize, String, bool);
type TouchKey = (String, bool, usize, usize);

fn conversion_key(mi: usize, a: &Attribution) -> ConversionKey {
    (mi, a.subject.clone(), a.stitched)
}

fn touch_key(a: &Attribution) -> TouchKey {
    (
        a.subject.clone(),
        a.stitched,
        a.touches.time,
        a.touches.channel,
    )
}

fn lookup<K: PartialEq>(names: &ScanNames<K>, key: &K) -> String {
    names
        .iter()
        .find(|(k, _)| k == key)
        .map(|x| x.1.clone())
        .unwrap_or_default()
}

/// An attributed query's request, classified: what each dimension and
/// filter is relative to the instances' touches and conversions.
struct Attributed<'r, 'q, 'c> {
    req: &'r Request<'q, 'c>,
    instances: &'r [&'c Attribution],
    requested: Vec<Requested<'c>>,
    dims: Vec<(DimensionRef, OutDim)>,
    dim_aliases: Vec<String>,
    filters: Vec<(usize, &'q Filter, FilterTarget)>,
    /// Touch dimensions the scans must carry: requested or filtered.
    touch_dims: Vec<String>,
    time_range: (Option<Expr>, Option<Expr>),
    row_policies: Vec<(ModelId, Expr)>,
    min_group_size: Option<u32>,
    consent_ctes: Vec<Cte>,
    ctes: Vec<Cte>,
    policies: Vec<String>,
}

pub fn plan(mut req: Request) -> Result<Plan, PlanError> {
    let mut warnings = std::mem::take(&mut req.warnings);
    let req = &req;
    let catalog = req.catalog;
    let instances = &req.attributions[..];
    let touch_model = common_touch_model(catalog, instances)?;
    let requested = requested_metrics(req, instances)?;
    let conv_model = requested[0].model;
    let mut cx = classify(req, instances, requested, touch_model)?;
    if let Some(k) = cx.min_group_size {
        cx.policies.push(format!(
            "min_group_size {k}: groups built from fewer distinct subjects are suppressed"
        ));
        warnings.push(format!("groups built from fewer than {k} distinct subjects are suppressed (min_group_size policy)"));
    }
    let (conversions, touches) = cx.scans()?;
    let mut columns: Vec<OutputColumn> = cx.dimension_columns();
    let pairs = cx.pairs(&conversions, &touches, &mut columns)?;
    let order = super::build::ordering(
        req.query,
        &columns,
        &cx.dim_aliases,
        "it is not a column of this query",
    )?;
    let body = cx.result(pairs)?;
    let mut all_ctes = std::mem::take(&mut cx.consent_ctes);
    all_ctes.append(&mut cx.ctes);
    let models_used = vec![
        catalog.model(conv_model).name.clone(),
        catalog.model(touch_model).name.clone(),
    ];
    let mut policies = cx.policies;
    policies.push(format!(
        "attribution: {}",
        instances
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(Plan {
        query: Query {
            ctes: all_ctes,
            body: SetExpr::Select(Box::new(body)),
            order_by: order,
            limit: req.query.limit,
            offset: req.query.offset,
        },
        columns,
        metrics: cx.requested.iter().map(|r| r.metric.id).collect(),
        warnings,
        models: models_used,
        policies,
        valid_until: None,
        probes: Vec::new(),
    })
}

/// Instances compared in one query share their touch model.
fn common_touch_model(catalog: &Catalog, instances: &[&Attribution]) -> Result<ModelId, PlanError> {
    let touch_model = instances[0].touches.model;
    if let Some(other) = instances.iter().find(|a| a.touches.model != touch_model) {
        return Err(PlanError::new(
            ErrorCode::InvalidQuery,
            format!(
                "attribution `{}` credits touches of `{}` but `{}` credits `{}`; instances compared in one query must share their touch model",
                instances[0].name,
                catalog.model(touch_model).name,
                other.name,
                catalog.model(other.touches.model).name
            ),
        )
        .at("attribution"));
    }
    Ok(touch_model)
}

/// The resolved metrics, each a simple sum or count metric of every
/// instance's conversion model, with a time to look back from.
fn requested_metrics<'c>(
    req: &Request<'_, 'c>,
    instances: &[&Attribution],
) -> Result<Vec<Requested<'c>>, PlanError> {
    let catalog = req.catalog;
    let mut requested = Vec::new();
    for m in &req.metrics {
        let (field, metric) = (m.field(), m.metric);
        let refuse = |why: String| Err(PlanError::new(ErrorCode::InvalidQuery, why).at(&field));
        let MetricKind::Simple { model, measure } = metric.kind else {
            return refuse(format!(
                "metric `{}` is a {} metric; attribution credits the fact rows of a simple sum or count metric",
                metric.name,
                metric.kind.name()
            ));
        };
        let agg = catalog.model(model).measures[measure].agg;
        if !matches!(
            agg,
            Aggregation::Sum | Aggregation::Count | Aggregation::SumBoolean
        ) {
            return refuse(format!(
                "metric `{}` aggregates with `{}`; attribution splits each conversion's value, which only a simple sum or count metric has",
                metric.name,
                agg.name()
            ));
        }
        for a in instances {
            let conv_model = match catalog.metric(a.conversion).kind {
                MetricKind::Simple { model, .. } => model,
                _ => model,
            };
            if conv_model != model {
                return refuse(format!(
                    "attribution `{}` credits conversions of `{}` (metric `{}`); metric `{}` counts rows of `{}`",
                    a.name,
                    catalog.model(conv_model).name,
                    catalog.metric(a.conversion).name,
                    metric.name,
                    catalog.model(model).name
                ));
            }
        }
        if catalog.model(model).measures[measure]
            .time_dimension
            .is_none()
        {
            return refuse(format!(
                "metric `{}` has no time dimension, so its conversions have no time to look back from",
                metric.name
            ));
        }
        requested.push(Requested {
            metric,
            alias: m.alias.clone(),
            model,
            measure,
        });
    }
    Ok(requested)
}

/// What an attributed query can group by: touch dimensions every instance
/// offers, the touch time and metric_time. Only what the caller may see:
/// these names are shown in errors.
struct Groupable<'a> {
    allowed: Vec<String>,
    /// The references and their bare names, for suggestions.
    suggestible: Vec<String>,
    metric_time_grain: Grain,
    tm: &'a crate::catalog::Model,
}

impl<'a> Groupable<'a> {
    fn new(
        req: &Request<'_, 'a>,
        instances: &[&Attribution],
        requested: &[Requested],
        touch_model: ModelId,
    ) -> Groupable<'a> {
        let catalog = req.catalog;
        let access = &req.access;
        let tm = catalog.model(touch_model);
        let conv_time_grain = |r: &Requested| -> Grain {
            let m = catalog.model(r.model);
            match m.measures[r.measure]
                .time_dimension
                .map(|t| m.dimensions[t].kind)
            {
                Some(DimensionKind::Time { granularity }) => granularity,
                _ => Grain::Day,
            }
        };
        let metric_time_grain = requested
            .iter()
            .map(conv_time_grain)
            .max()
            .unwrap_or(Grain::Day);
        let touch_time = &tm.dimensions[instances[0].touches.time];
        let mut allowed = Vec::new();
        if access.metric_time_visible() {
            allowed.push("metric_time".to_string());
        }
        allowed.push(format!("{}.{}", tm.name, touch_time.name));
        for a in instances {
            for d in &a.touches.dimensions {
                let name = &tm.dimensions[*d].name;
                let n = format!("{}.{name}", tm.name);
                if !allowed.contains(&n) && access.dimension_visible(tm.id, name) {
                    allowed.push(n);
                }
            }
        }
        let suggestible: Vec<String> = allowed
            .iter()
            .cloned()
            .chain(
                allowed
                    .iter()
                    .filter_map(|a| a.split_once('.').map(|(_, n)| n.to_string())),
            )
            .collect();
        Groupable {
            allowed,
            suggestible,
            metric_time_grain,
            tm,
        }
    }

    fn suggest(&self, raw: &str) -> Vec<String> {
        closest(raw, self.suggestible.iter().map(String::as_str))
    }

    /// What a reference is in an attributed query: `None` for something
    /// that is not a touch dimension, the touch time or metric_time.
    fn classify(
        &self,
        req: &Request,
        instances: &[&Attribution],
        r: &DimensionRef,
        field: &str,
    ) -> Result<Option<OutDim>, PlanError> {
        let tm = self.tm;
        let finer = |recorded: Grain, grain: Grain| {
            PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "`{}` is recorded per {recorded}; it cannot be grouped by the finer grain {grain}",
                    r.raw
                ),
            )
            .at(field)
        };
        if r.is_metric_time() {
            let grain = r.grain.unwrap_or(self.metric_time_grain);
            if grain < self.metric_time_grain {
                return Err(finer(self.metric_time_grain, grain));
            }
            return Ok(Some(OutDim::ConversionTime(grain)));
        }
        if !r.path.is_empty() || r.model.as_deref().is_some_and(|m| m != tm.name) {
            return Ok(None);
        }
        // A hidden touch dimension is treated as an absent one.
        let Some((di, d)) = tm
            .dimension(&r.name)
            .filter(|(_, d)| req.access.dimension_visible(tm.id, &d.name))
        else {
            return Ok(None);
        };
        if instances.iter().all(|a| a.touches.time == di) {
            let DimensionKind::Time { granularity } = d.kind else {
                return Ok(None);
            };
            let grain = r.grain.unwrap_or(granularity);
            if grain < granularity {
                return Err(finer(granularity, grain));
            }
            return Ok(Some(OutDim::TouchTime(grain)));
        }
        if let Some(a) = instances
            .iter()
            .find(|a| !a.touches.dimensions.contains(&di))
        {
            return Err(PlanError::new(
                ErrorCode::UnknownDimension,
                format!(
                    "attribution `{}` does not offer `{}`; it groups by {}",
                    a.name,
                    r.raw,
                    self.allowed.join(", ")
                ),
            )
            .with_suggestions(self.suggest(&r.raw))
            .at(field));
        }
        if let Some(g) = r.grain {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "`{}` is not a time dimension, so it takes no grain (`:{g}`)",
                    r.raw
                ),
            )
            .at(field));
        }
        Ok(Some(OutDim::Touch(d.name.clone())))
    }
}

/// Dimensions and filters classified against the instances.
fn classify<'r, 'q, 'c>(
    req: &'r Request<'q, 'c>,
    instances: &'r [&'c Attribution],
    requested: Vec<Requested<'c>>,
    touch_model: ModelId,
) -> Result<Attributed<'r, 'q, 'c>, PlanError> {
    let catalog = req.catalog;
    let groupable = Groupable::new(req, instances, &requested, touch_model);
    let mut dims: Vec<(DimensionRef, OutDim)> = Vec::new();
    for (i, r) in req.dimensions.iter().enumerate() {
        let field = format!("dimensions[{i}]");
        let d = groupable
            .classify(req, instances, r, &field)?
            .ok_or_else(|| {
                PlanError::new(
                    ErrorCode::UnknownDimension,
                    format!(
                        "`{}` cannot group an attributed query; it groups by {}",
                        req.query.dimensions[i],
                        groupable.allowed.join(", ")
                    ),
                )
                .with_suggestions(groupable.suggest(&r.raw))
                .at(&field)
            })?;
        dims.push((r.clone(), d));
    }
    // Filters: touch dimensions apply to credited rows, everything else to
    // conversions before crediting.
    let conv_model = requested[0].model;
    let mut filters = Vec::new();
    for f in &req.row_filters {
        let field = format!("filters[{}].dimension", f.index);
        let r = &f.dimension;
        let target = match groupable.classify(req, instances, r, &field)? {
            Some(OutDim::ConversionTime(_)) => FilterTarget::Conversion(r.clone()),
            Some(d) => FilterTarget::Credited(d),
            None => {
                let visible = |m: ModelId, d: &str| req.access.dimension_visible(m, d);
                target_model(catalog, r, &[conv_model], &visible).map_err(|e| e.at(&field))?;
                FilterTarget::Conversion(r.clone())
            }
        };
        filters.push((f.index, f.filter, target));
    }
    let mut touch_dims: Vec<String> = Vec::new();
    let credited = filters.iter().filter_map(|(_, _, t)| match t {
        FilterTarget::Credited(d) => Some(d),
        _ => None,
    });
    for d in dims.iter().map(|(_, d)| d).chain(credited) {
        if let OutDim::Touch(n) = d
            && !touch_dims.contains(n)
        {
            touch_dims.push(n.clone());
        }
    }
    let time_range = super::timezone::range_bounds(req.query)?;
    let row_policies = req.access.row_filters()?;
    let mut policies = Vec::new();
    if req.access.is_restricted() {
        policies.push(format!("roles: {}", req.access.role_names().join(", ")));
    }
    Ok(Attributed {
        req,
        instances,
        dim_aliases: dims.iter().map(|(r, _)| r.alias()).collect(),
        requested,
        dims,
        filters,
        touch_dims,
        time_range,
        row_policies,
        min_group_size: req.access.min_group_size(),
        consent_ctes: Vec::new(),
        ctes: Vec::new(),
        policies,
    })
}

impl Attributed<'_, '_, '_> {
    fn several(&self) -> bool {
        self.requested.len() * self.instances.len() > 1
    }

    /// Conversion scans, one per (metric, subject entity); touch scans, one
    /// per subject entity.
    fn scans(&mut self) -> Result<(ScanNames<ConversionKey>, ScanNames<TouchKey>), PlanError> {
        let (catalog, access) = (self.req.catalog, &self.req.access);
        let mut conversions: ScanNames<ConversionKey> = Vec::new();
        for (mi, r) in self.requested.iter().enumerate() {
            for a in self.instances {
                if conversions.iter().any(|(k, _)| *k == conversion_key(mi, a)) {
                    continue;
                }
                let name = if self.several() {
                    format!("attr_conversions_{}", conversions.len() + 1)
                } else {
                    "attr_conversions".to_string()
                };
                let s = conversion_scan(
                    catalog,
                    access,
                    &self.row_policies,
                    r,
                    (&a.subject, a.stitched),
                    &self.filters,
                    &self.time_range,
                    (&mut self.consent_ctes, &mut self.policies),
                )?;
                self.ctes.push(Cte::new(&name, Query::select(s)));
                conversions.push((conversion_key(mi, a), name));
            }
        }
        let mut touches: ScanNames<TouchKey> = Vec::new();
        for a in self.instances {
            if touches.iter().any(|(k, _)| *k == touch_key(a)) {
                continue;
            }
            let name = if touches.is_empty() {
                "attr_touches".to_string()
            } else {
                format!("attr_touches_{}", touches.len() + 1)
            };
            let s = touch_scan(
                catalog,
                access,
                &self.row_policies,
                a,
                &self.touch_dims,
                (&mut self.consent_ctes, &mut self.policies),
            )?;
            self.ctes.push(Cte::new(&name, Query::select(s)));
            touches.push((touch_key(a), name));
        }
        Ok((conversions, touches))
    }

    fn dimension_columns(&self) -> Vec<OutputColumn> {
        self.dims
            .iter()
            .enumerate()
            .map(|(i, (r, d))| OutputColumn {
                name: self.dim_aliases[i].clone(),
                role: ColumnRole::Dimension {
                    reference: r.raw.clone(),
                    kind: match d {
                        OutDim::ConversionTime(g) | OutDim::TouchTime(g) => {
                            DimensionKind::Time { granularity: *g }
                        }
                        OutDim::Touch(_) => DimensionKind::Categorical,
                    },
                },
            })
            .collect()
    }

    /// Per (metric, instance): path, crediting, aggregation. Returns each
    /// pair's column and SELECT, adding its output column to `columns`.
    fn pairs(
        &mut self,
        conversions: &ScanNames<ConversionKey>,
        touches: &ScanNames<TouchKey>,
        columns: &mut Vec<OutputColumn>,
    ) -> Result<Vec<(String, Select)>, PlanError> {
        let mut pairs: Vec<(String, Select)> = Vec::new();
        for (mi, r) in self.requested.iter().enumerate() {
            for a in self.instances {
                let suffix = match self.several() {
                    true => format!("_{}", pairs.len() + 1),
                    false => String::new(),
                };
                let column = format!("{}__{}", r.alias, a.name);
                if self.dim_aliases.contains(&column) {
                    return Err(PlanError::new(
                        ErrorCode::InvalidQuery,
                        format!("`{column}` names both a dimension and an attributed metric"),
                    ));
                }
                let credited = credit_ctes(
                    a,
                    &lookup(conversions, &conversion_key(mi, a)),
                    &lookup(touches, &touch_key(a)),
                    &self.touch_dims,
                    &suffix,
                    &mut self.ctes,
                );
                let s = self.pair_select(&credited, &column)?;
                columns.push(OutputColumn {
                    name: column.clone(),
                    role: ColumnRole::Metric {
                        metric: r.metric.name.clone(),
                        version: r.metric.version,
                        integer: false,
                    },
                });
                pairs.push((column, s));
            }
        }
        Ok(pairs)
    }

    /// One pair's credited rows, grouped by the output dimensions and
    /// filtered on touch dimensions.
    fn pair_select(&self, credited: &str, column: &str) -> Result<Select, PlanError> {
        let mut projection: Vec<SelectItem> = self
            .dims
            .iter()
            .enumerate()
            .map(|(i, (_, d))| SelectItem::aliased(out_dim_expr(d), &self.dim_aliases[i]))
            .collect();
        projection.push(SelectItem::aliased(
            Expr::agg(Aggregation::Sum, Some(Expr::bare("credit"))),
            column,
        ));
        let mut conditions = Vec::new();
        for (i, f, t) in &self.filters {
            let FilterTarget::Credited(d) = t else {
                continue;
            };
            let (target, kind) = match d {
                OutDim::Touch(n) => (Expr::bare(&touch_column(n)), DimensionKind::Categorical),
                OutDim::TouchTime(g) => (
                    Expr::bare("touched_at"),
                    DimensionKind::Time { granularity: *g },
                ),
                OutDim::ConversionTime(g) => (
                    Expr::bare("converted_at"),
                    DimensionKind::Time { granularity: *g },
                ),
            };
            conditions.push(
                structured(target, Some(kind), f).map_err(|e| e.at(format!("filters[{i}]")))?,
            );
        }
        let mut s = Select::from(projection, TableRef::named(credited, None))
            .with_selection(Expr::and_all(conditions.into_iter().map(Expr::paren_or)));
        s.group_by = (1..=self.dims.len()).collect();
        if self.min_group_size.is_some() {
            s.projection
                .push(SelectItem::aliased(subjects(), "__subjects"));
        }
        Ok(s)
    }

    /// The answer: the one pair's SELECT, or the pairs merged on the
    /// group keys (super::merge).
    fn result(&mut self, mut pairs: Vec<(String, Select)>) -> Result<Select, PlanError> {
        if pairs.len() == 1 {
            let (_, mut s) = pairs
                .pop()
                .ok_or_else(|| PlanError::new(ErrorCode::InvalidQuery, "no attributed metric"))?;
            if let Some(k) = self.min_group_size {
                s.projection.pop();
                s.having = Some(Expr::binary(BinOp::GtEq, subjects(), Expr::num(k)));
            }
            return Ok(s);
        }
        let n = pairs.len();
        let mut columns: Vec<MergeColumn> = pairs
            .iter()
            .map(|(c, _)| MergeColumn::new(c.clone(), SqlType::Decimal))
            .collect();
        let subject_col = |j: usize| format!("__subjects_{}", j + 1);
        if self.min_group_size.is_some() {
            columns.extend((0..n).map(|j| MergeColumn::new(subject_col(j), SqlType::BigInt)));
        }
        let mut branches = Vec::new();
        for (pi, (c, s)) in pairs.into_iter().enumerate() {
            let cte = format!("attr_result_{}", pi + 1);
            self.ctes.push(Cte::new(&cte, Query::select(s)));
            let mut fills = vec![(pi, Expr::bare(&c))];
            if self.min_group_size.is_some() {
                fills.push((n + pi, Expr::bare("__subjects")));
            }
            branches.push(Branch {
                cte,
                fills,
                grouped: false,
            });
        }
        let mut merged = merge(&self.dim_aliases, &columns, branches, "attributed");
        if let Some(k) = self.min_group_size {
            let guards = (0..n).map(|j| {
                let c = Expr::agg(Aggregation::Max, Some(Expr::bare(&subject_col(j))));
                Expr::nested(Expr::binary(
                    BinOp::Or,
                    Expr::is_null(c.clone(), false),
                    Expr::binary(BinOp::GtEq, c, Expr::num(k)),
                ))
            });
            merged.having = Expr::and_all(guards);
        }
        Ok(merged)
    }
}

/// The distinct subjects of a group of credited rows.
fn subjects() -> Expr {
    Expr::agg(Aggregation::CountDistinct, Some(Expr::bare("subject")))
}

/// Column name of a touch dimension in the touch scan and the path CTEs.
fn touch_column(name: &str) -> String {
    format!("touch__{name}")
}

/// An output dimension over a credited row.
fn out_dim_expr(d: &OutDim) -> Expr {
    match d {
        OutDim::ConversionTime(g) => Expr::DateTrunc {
            grain: *g,
            expr: Box::new(Expr::bare("converted_at")),
        },
        OutDim::TouchTime(g) => Expr::DateTrunc {
            grain: *g,
            expr: Box::new(Expr::bare("touched_at")),
        },
        OutDim::Touch(n) => Expr::case(
            vec![(
                Expr::binary(BinOp::Eq, Expr::bare("path_length"), Expr::num(0)),
                Expr::string(UNATTRIBUTED),
            )],
            Some(Expr::bare(&touch_column(n))),
        ),
    }
}

/// The scan of one metric's conversions: key, subject, time and value of
/// each fact row the metric counts, under the caller's policies and the
/// query's conversion filters.
#[allow(clippy::too_many_arguments)]
fn conversion_scan(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
    r: &Requested,
    subject: (&str, bool),
    filters: &[(usize, &Filter, FilterTarget)],
    time_range: &(Option<Expr>, Option<Expr>),
    (consent_ctes, policies): (&mut Vec<Cte>, &mut Vec<String>),
) -> Result<Select, PlanError> {
    let model = catalog.model(r.model);
    let mut joins = JoinTree::new(catalog, r.model);
    let alias = joins.base_alias.clone();
    let measure = &model.measures[r.measure];
    let time_dim = measure.time_dimension.ok_or_else(|| {
        PlanError::new(
            ErrorCode::InvalidQuery,
            format!("metric `{}` has no time dimension", r.metric.name),
        )
    })?;
    let time = qualify(&model.dimensions[time_dim].expr, &alias);
    let value = match (measure.agg, &measure.expr) {
        (Aggregation::Count, None) => Expr::num(1),
        (Aggregation::Count, Some(e)) => Expr::case(
            vec![(
                Expr::IsNull {
                    expr: Box::new(qualify(e, &alias)),
                    negated: true,
                },
                Expr::num(1),
            )],
            Some(Expr::num(0)),
        ),
        (Aggregation::SumBoolean, Some(e)) => {
            Expr::case(vec![(qualify(e, &alias), Expr::num(1))], Some(Expr::num(0)))
        }
        (_, Some(e)) => qualify(e, &alias),
        (_, None) => Expr::num(1),
    };
    let subject_expr = subject_key(catalog, r.model, subject, &mut joins)?;
    let stitched = subject.1.then(|| subject_expr.clone());
    let context = format!("needed by {}", r.metric.name);
    let is_time = |parts: &[Ident]| {
        let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
        DimensionRef::parse(&text.join(".")).ok().is_some_and(|d| {
            d.is_metric_time()
                || target_model(catalog, &d, &[r.model], &|_, _| true)
                    .ok()
                    .and_then(|m| catalog.model(m).dimension(&d.name).map(|(_, x)| x.kind))
                    .is_some_and(|k| matches!(k, DimensionKind::Time { .. }))
        })
    };
    let resolve = |d: &DimensionRef,
                   joins: &mut JoinTree|
     -> Result<super::resolve::ResolvedDim, PlanError> {
        if d.is_metric_time() {
            return Ok(super::resolve::ResolvedDim {
                expr: time.clone(),
                kind: model.dimensions[time_dim].kind,
            });
        }
        let target = target_model(catalog, d, &[r.model], &|_, _| true)?;
        resolve_dimension(catalog, joins, d, target, &context).map(untruncated)
    };
    let mut conditions = Vec::new();
    if let Some(f) = &r.metric.filter {
        let f = coerce_time_literals(f.clone(), &is_time)?;
        conditions.push(resolve_row_expr(f, &mut |d| resolve(d, &mut joins))?);
    }
    for (i, f, t) in filters {
        if let FilterTarget::Conversion(d) = t {
            let resolved =
                resolve(d, &mut joins).map_err(|e| e.at(format!("filters[{i}].dimension")))?;
            let target = match d.grain {
                Some(g) => Expr::DateTrunc {
                    grain: g,
                    expr: Box::new(resolved.expr),
                },
                None => resolved.expr,
            };
            let target = match targets_mask(catalog, access, d, r.model) {
                Some(mask) => Expr::Mask {
                    mask,
                    expr: Box::new(target),
                },
                None => target,
            };
            conditions.push(
                structured(target, Some(resolved.kind), f)
                    .map_err(|e| e.at(format!("filters[{i}]")))?,
            );
        }
    }
    if let Some(start) = &time_range.0 {
        conditions.push(Expr::binary(BinOp::GtEq, time.clone(), start.clone()));
    }
    if let Some(end) = &time_range.1 {
        conditions.push(Expr::binary(BinOp::Lt, time.clone(), end.clone()));
    }
    conditions.extend(fact_conditions(
        catalog,
        access,
        row_policies,
        r.model,
        &mut joins,
        Some(time.clone()),
        stitched,
        false,
        consent_ctes,
        policies,
    )?);
    let projection = vec![
        SelectItem::aliased(primary_key(catalog, r.model, &alias)?, "conversion_key"),
        SelectItem::aliased(subject_expr, "subject"),
        SelectItem::aliased(time, "converted_at"),
        SelectItem::aliased(value, "conversion_value"),
    ];
    Ok(joins.select(catalog, projection, conditions))
}

/// The caller's mask on a filtered conversion dimension, if any.
fn targets_mask(
    catalog: &Catalog,
    access: &Access,
    d: &DimensionRef,
    base: ModelId,
) -> Option<crate::catalog::policy::Mask> {
    if d.is_metric_time() {
        return None;
    }
    let target = target_model(catalog, d, &[base], &|_, _| true).ok()?;
    access.mask(target, &d.name)
}

/// The scan of an instance's touches: key, subject, time, raw channel (for
/// direct handling) and the touch dimensions the query uses, as the caller
/// sees them.
fn touch_scan(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
    a: &Attribution,
    touch_dims: &[String],
    (consent_ctes, policies): (&mut Vec<Cte>, &mut Vec<String>),
) -> Result<Select, PlanError> {
    let model = catalog.model(a.touches.model);
    let mut joins = JoinTree::new(catalog, model.id);
    let alias = joins.base_alias.clone();
    let time = qualify(&model.dimensions[a.touches.time].expr, &alias);
    let subject = subject_key(catalog, model.id, (&a.subject, a.stitched), &mut joins)?;
    let stitched = a.stitched.then(|| subject.clone());
    let mut projection = vec![
        SelectItem::aliased(primary_key(catalog, model.id, &alias)?, "touch_key"),
        SelectItem::aliased(subject.clone(), "subject"),
        SelectItem::aliased(time.clone(), "touched_at"),
        SelectItem::aliased(
            qualify(&model.dimensions[a.touches.channel].expr, &alias),
            "touch_channel",
        ),
    ];
    for n in touch_dims {
        let (_, d) = model.dimension(n).ok_or_else(|| {
            PlanError::new(
                ErrorCode::UnknownDimension,
                format!("unknown dimension `{}.{n}`", model.name),
            )
        })?;
        let e = qualify(&d.expr, &alias);
        let e = match access.mask(model.id, n) {
            Some(mask) => Expr::Mask {
                mask,
                expr: Box::new(e),
            },
            None => e,
        };
        projection.push(SelectItem::aliased(e, &touch_column(n)));
    }
    let mut conditions = vec![Expr::IsNull {
        expr: Box::new(subject),
        negated: true,
    }];
    conditions.extend(fact_conditions(
        catalog,
        access,
        row_policies,
        model.id,
        &mut joins,
        Some(time),
        stitched,
        false,
        consent_ctes,
        policies,
    )?);
    Ok(joins.select(catalog, projection, conditions))
}

/// Adds the path and crediting CTEs of one (metric, instance) pair; returns
/// the name of the CTE of credited rows (`credit`, `subject`, times, touch
/// dimensions and `path_length`, 0 for an unattributed conversion).
fn credit_ctes(
    a: &Attribution,
    conversions: &str,
    touches: &str,
    touch_dims: &[String],
    suffix: &str,
    ctes: &mut Vec<Cte>,
) -> String {
    let c = Crediting {
        a,
        suffix,
        dim_cols: touch_dims.iter().map(|n| touch_column(n)).collect(),
    };
    let path = c.path(conversions, touches, ctes);
    let kept = c.kept(&path, ctes);
    let ranked = c.ranked(&kept, ctes);
    c.credited(&ranked, ctes)
}

/// The crediting of one (metric, instance) pair, step by step.
struct Crediting<'a> {
    a: &'a Attribution,
    suffix: &'a str,
    /// The touch dimension columns carried along.
    dim_cols: Vec<String>,
}

impl Crediting<'_> {
    /// Prefixed: a CTE must not shadow a warehouse table the scans read.
    fn name(&self, stem: &str) -> String {
        format!("attr_{stem}{}", self.suffix)
    }

    fn direct(&self) -> bool {
        !self.a.direct_channels.is_empty()
    }

    fn direct_list(&self) -> Expr {
        Expr::InList {
            expr: Box::new(Expr::col("t", "touch_channel")),
            list: self.a.direct_channels.iter().map(Expr::string).collect(),
            negated: false,
        }
    }

    /// Whether the path is cut to its last touches or weighed (then it is
    /// renumbered in a pass of its own).
    fn reshaped(&self) -> bool {
        self.a.lookback.touches.is_some()
            || matches!(self.a.model, AttributionModel::TimeDecay { .. })
    }

    /// The path columns every step passes on, and `extra` ones.
    fn carried(&self, extra: &[&str]) -> Vec<SelectItem> {
        [
            "conversion_key",
            "subject",
            "converted_at",
            "conversion_value",
            "touch_key",
            "touched_at",
        ]
        .iter()
        .chain(extra)
        .copied()
        .chain(self.dim_cols.iter().map(String::as_str))
        .map(SelectItem::bare)
        .collect()
    }

    fn path(&self, conversions: &str, touches: &str, ctes: &mut Vec<Cte>) -> String {
        // 1. Each conversion with its subject's touches in the window.
        let mut on = vec![
            Expr::binary(
                BinOp::Eq,
                Expr::col("t", "subject"),
                Expr::col("c", "subject"),
            ),
            Expr::binary(
                BinOp::LtEq,
                Expr::col("t", "touched_at"),
                Expr::col("c", "converted_at"),
            ),
        ];
        if let Some(days) = self.a.lookback.days {
            on.push(Expr::binary(
                BinOp::GtEq,
                Expr::col("t", "touched_at"),
                Expr::AddTime {
                    expr: Box::new(Expr::col("c", "converted_at")),
                    amount: -(days as i64),
                    unit: TimeUnit::Day,
                },
            ));
        }
        let mut projection = vec![
            SelectItem::aliased(Expr::col("c", "conversion_key"), "conversion_key"),
            SelectItem::aliased(Expr::col("c", "subject"), "subject"),
            SelectItem::aliased(Expr::col("c", "converted_at"), "converted_at"),
            SelectItem::aliased(Expr::col("c", "conversion_value"), "conversion_value"),
            SelectItem::aliased(Expr::col("t", "touch_key"), "touch_key"),
            SelectItem::aliased(Expr::col("t", "touched_at"), "touched_at"),
        ];
        projection.extend(
            self.dim_cols
                .iter()
                .map(|c| SelectItem::aliased(Expr::col("t", c), c)),
        );
        if self.direct() {
            // Direct touches of a path with another touch take no credit.
            projection.push(SelectItem::aliased(
                Expr::case(vec![(self.direct_list(), Expr::num(1))], Some(Expr::num(0))),
                "is_direct",
            ));
            let other = Expr::binary(
                BinOp::And,
                Expr::IsNull {
                    expr: Box::new(Expr::col("t", "touch_key")),
                    negated: true,
                },
                Expr::Nested(Box::new(Expr::binary(
                    BinOp::Or,
                    Expr::IsNull {
                        expr: Box::new(Expr::col("t", "touch_channel")),
                        negated: false,
                    },
                    Expr::InList {
                        expr: Box::new(Expr::col("t", "touch_channel")),
                        list: self.a.direct_channels.iter().map(Expr::string).collect(),
                        negated: true,
                    },
                ))),
            );
            projection.push(SelectItem::aliased(
                Expr::Window {
                    name: "SUM".into(),
                    args: vec![Expr::case(vec![(other, Expr::num(1))], Some(Expr::num(0)))],
                    partition_by: vec![Expr::col("c", "conversion_key")],
                    order_by: Vec::new(),
                    frame: None,
                },
                "other_touches",
            ));
        }
        let path = self.name("path");
        ctes.push(Cte {
            name: Ident::generated(&path),
            query: Query::select(Select {
                projection,
                from: Some(TableRef::Named {
                    name: Ident::generated(conversions),
                    alias: Some(Ident::generated("c")),
                }),
                joins: vec![Join {
                    kind: JoinKind::Left,
                    table: TableRef::Named {
                        name: Ident::generated(touches),
                        alias: Some(Ident::generated("t")),
                    },
                    on: Expr::and_all(on),
                }],
                selection: None,
                group_by: Vec::new(),
                having: None,
            }),
        });
        path
    }

    fn kept(&self, path: &str, ctes: &mut Vec<Cte>) -> String {
        // 2. Number the kept touches, oldest first (ties by key, the same on
        //    every engine).
        let order = vec![Expr::bare("touched_at"), Expr::bare("touch_key")];
        let mut projection = self.carried(&[]);
        projection.push(SelectItem::aliased(
            window("ROW_NUMBER", vec![], order.clone(), None),
            "position",
        ));
        // A pass of its own only when the path is cut to its last touches or
        // weighed; otherwise the count is the path's length already.
        let reshaped = self.reshaped();
        projection.push(SelectItem::aliased(
            window("COUNT", vec![Expr::bare("touch_key")], vec![], None),
            if reshaped {
                "path_total"
            } else {
                "path_length"
            },
        ));
        let kept = self.name("kept");
        ctes.push(Cte::new(
            &kept,
            Query::select(
                Select::from(projection, TableRef::named(path, None)).with_selection(
                    self.direct().then(|| {
                        Expr::binary(
                            BinOp::Or,
                            Expr::binary(BinOp::Eq, Expr::bare("is_direct"), Expr::num(0)),
                            Expr::binary(BinOp::Eq, Expr::bare("other_touches"), Expr::num(0)),
                        )
                    }),
                ),
            ),
        ));
        kept
    }

    fn ranked(&self, kept: &str, ctes: &mut Vec<Cte>) -> String {
        let reshaped = self.reshaped();
        // 3. The last `touches` of each path, renumbered 1..path_length.
        let (position, path_length, keep) = match self.a.lookback.touches {
            Some(n) => {
                let over = Expr::binary(BinOp::Gt, Expr::bare("path_total"), Expr::num(n));
                let dropped = Expr::case(
                    vec![(
                        over.clone(),
                        Expr::binary(BinOp::Minus, Expr::bare("path_total"), Expr::num(n)),
                    )],
                    Some(Expr::num(0)),
                );
                (
                    Expr::binary(BinOp::Minus, Expr::bare("position"), dropped),
                    Expr::case(vec![(over, Expr::num(n))], Some(Expr::bare("path_total"))),
                    Some(Expr::binary(
                        BinOp::Gt,
                        Expr::bare("position"),
                        Expr::binary(BinOp::Minus, Expr::bare("path_total"), Expr::num(n)),
                    )),
                )
            }
            None => (Expr::bare("position"), Expr::bare("path_total"), None),
        };
        let mut projection = self.carried(&[]);
        projection.push(SelectItem::aliased(position, "position"));
        projection.push(SelectItem::aliased(path_length, "path_length"));
        if let AttributionModel::TimeDecay { half_life_days } = self.a.model {
            // 2^(-age / half-life), age before the path's last touch, so the
            // newest touch weighs 1 and no weight underflows.
            let epoch = Expr::EpochSeconds(Box::new(Expr::bare("touched_at")));
            let age = Expr::binary(
                BinOp::Minus,
                window("MAX", vec![epoch.clone()], vec![], None),
                epoch,
            );
            let exponent = Expr::binary(
                BinOp::Divide,
                Expr::Unary {
                    op: UnOp::Neg,
                    expr: Box::new(Expr::Nested(Box::new(Expr::Cast {
                        expr: Box::new(age),
                        ty: SqlType::Double,
                    }))),
                },
                Expr::cast(
                    Expr::num(format!("{}", half_life_days * 86400.0)),
                    SqlType::Double,
                ),
            );
            projection.push(SelectItem::aliased(
                Expr::Power {
                    base: Box::new(Expr::cast(Expr::num("2"), SqlType::Double)),
                    exponent: Box::new(exponent),
                },
                "weight",
            ));
        }
        if reshaped {
            let ranked = self.name("ranked");
            ctes.push(Cte::new(
                &ranked,
                Query::select(
                    Select::from(projection, TableRef::named(kept, None)).with_selection(keep),
                ),
            ));
            ranked
        } else {
            kept.to_string()
        }
    }

    fn credited(&self, ranked: &str, ctes: &mut Vec<Cte>) -> String {
        let (credit, selection, source) = self.credit(ranked, ctes);
        let n = Expr::bare("path_length");
        let mut projection = vec![
            SelectItem::aliased(Expr::bare("subject"), "subject"),
            SelectItem::aliased(Expr::bare("converted_at"), "converted_at"),
            SelectItem::aliased(Expr::bare("touched_at"), "touched_at"),
            SelectItem::aliased(Expr::bare("path_length"), "path_length"),
        ];
        projection.extend(
            self.dim_cols
                .iter()
                .map(|c| SelectItem::aliased(Expr::bare(c), c)),
        );
        projection.push(SelectItem::aliased(credit, "credit"));
        let credited = self.name("credited");
        ctes.push(Cte::new(
            &credited,
            Query::select(
                Select::from(projection, TableRef::named(&source, None)).with_selection(
                    selection.map(|s| {
                        Expr::Nested(Box::new(Expr::binary(
                            BinOp::Or,
                            Expr::binary(BinOp::Eq, n.clone(), Expr::num(0)),
                            s,
                        )))
                    }),
                ),
            ),
        ));
        credited
    }

    /// Time decay's pass: each touch's cumulative amount (in units)
    /// through it, from the weights.
    fn decayed(
        &self,
        ranked: &str,
        units: &Expr,
        round_units: &dyn Fn(Expr) -> Expr,
        ctes: &mut Vec<Cte>,
    ) -> String {
        let mut projection = self.carried(&["position", "path_length"]);
        let through = round_units(Expr::binary(
            BinOp::Divide,
            Expr::binary(
                BinOp::Multiply,
                units.clone(),
                window(
                    "SUM",
                    vec![Expr::bare("weight")],
                    vec![Expr::bare("position")],
                    Some(WindowFrame {
                        start: FrameBound::UnboundedPreceding,
                        end: FrameBound::CurrentRow,
                    }),
                ),
            ),
            window("SUM", vec![Expr::bare("weight")], vec![], None),
        ));
        projection.push(SelectItem::aliased(through, "through_units"));
        let decayed = self.name("decayed");
        ctes.push(Cte::new(
            &decayed,
            Query::select(
                Select::from(projection, TableRef::named(ranked, None)).with_selection(None),
            ),
        ));
        decayed
    }

    /// Each touch's credit and which rows get one, over `ranked` (or a
    /// pass of its own for time decay, whose name is returned with them).
    fn credit(&self, ranked: &str, ctes: &mut Vec<Cte>) -> (Expr, Option<Expr>, String) {
        // 4. Credit.
        let mut source = ranked.to_string();
        let value = Expr::bare("conversion_value");
        let units = Expr::binary(
            BinOp::Multiply,
            Expr::Cast {
                expr: Box::new(value.clone()),
                ty: SqlType::Double,
            },
            Expr::cast(
                Expr::num(format!("1{}", "0".repeat(self.a.decimals as usize))),
                SqlType::Double,
            ),
        );
        let unit = Expr::num(if self.a.decimals == 0 {
            "1".to_string()
        } else {
            format!("0.{}1", "0".repeat(self.a.decimals as usize - 1))
        });
        let p = Expr::bare("position");
        let n = Expr::bare("path_length");
        let round_units = |share_times_units: Expr| {
            floor(Expr::binary(
                BinOp::Plus,
                share_times_units,
                Expr::cast(Expr::num("0.5"), SqlType::Double),
            ))
        };
        // Cumulative amount (in units) after touch `k`, for k < n.
        let cumulative: Option<Box<dyn Fn(Expr) -> Expr>> = match &self.a.model {
            AttributionModel::Linear => {
                let units = units.clone();
                let n = n.clone();
                Some(Box::new(move |k| {
                    round_units(Expr::binary(
                        BinOp::Divide,
                        Expr::binary(BinOp::Multiply, units.clone(), k),
                        n.clone(),
                    ))
                }))
            }
            AttributionModel::PositionBased { first, last } => {
                let middle = 1.0 - first - last;
                let (first, middle) = (*first, middle.max(0.0));
                let units = units.clone();
                let n = n.clone();
                Some(Box::new(move |k: Expr| {
                    let share = Expr::case(
                        vec![(
                            Expr::binary(BinOp::Eq, n.clone(), Expr::num(2)),
                            Expr::cast(Expr::num("0.5"), SqlType::Double),
                        )],
                        Some(Expr::binary(
                            BinOp::Plus,
                            Expr::cast(Expr::num(fraction(first)), SqlType::Double),
                            Expr::binary(
                                BinOp::Divide,
                                Expr::binary(
                                    BinOp::Multiply,
                                    Expr::Nested(Box::new(Expr::binary(
                                        BinOp::Minus,
                                        k,
                                        Expr::num(1),
                                    ))),
                                    Expr::cast(Expr::num(fraction(middle)), SqlType::Double),
                                ),
                                Expr::Nested(Box::new(Expr::binary(
                                    BinOp::Minus,
                                    n.clone(),
                                    Expr::num(2),
                                ))),
                            ),
                        )),
                    );
                    round_units(Expr::binary(BinOp::Multiply, units.clone(), share))
                }))
            }
            AttributionModel::TimeDecay { .. } => {
                // Cumulative weight shares need the weights first: their own
                // pass. The amount before a touch is the previous row's amount
                // through it (LAG), bit for bit, so the credits telescope.
                let decayed = self.decayed(ranked, &units, &round_units, ctes);
                source = decayed;
                None
            }
            _ => None,
        };
        let scaled = |e: Expr| Expr::binary(BinOp::Multiply, e, unit.clone());
        let (credit, selection) = match (&self.a.model, cumulative) {
            (AttributionModel::FirstTouch, _) => (
                value.clone(),
                Some(Expr::binary(BinOp::Eq, p.clone(), Expr::num(1))),
            ),
            (AttributionModel::LastTouch | AttributionModel::LastNonDirect, _) => (
                value.clone(),
                Some(Expr::binary(BinOp::Eq, p.clone(), n.clone())),
            ),
            (AttributionModel::TimeDecay { .. }, _) => {
                let before = window(
                    "LAG",
                    vec![Expr::bare("through_units")],
                    vec![p.clone()],
                    None,
                );
                (
                    split(
                        value.clone(),
                        &p,
                        &n,
                        Expr::bare("through_units"),
                        before,
                        &scaled,
                    ),
                    None,
                )
            }
            (_, Some(cum)) => {
                let through = cum(p.clone());
                let before = cum(Expr::binary(BinOp::Minus, p.clone(), Expr::num(1)));
                (split(value.clone(), &p, &n, through, before, &scaled), None)
            }
            (_, None) => (value.clone(), None),
        };
        // An unattributed conversion keeps its whole value (first/last touch
        // credit the value as it is already).
        let credit = if credit == value {
            credit
        } else {
            Expr::case(
                vec![(Expr::binary(BinOp::Eq, n.clone(), Expr::num(0)), value)],
                Some(credit),
            )
        };
        (credit, selection, source)
    }
}

/// A fraction as a literal, without binary noise (`0.2`, not
/// `0.19999999999999996`).
fn fraction(x: f64) -> String {
    let s = format!("{x:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// One touch's credit from the cumulative amounts (in units) through it and
/// before it: the difference, except that the last touch takes the value
/// minus everything before it, so a path's credits sum to the value exactly.
fn split(
    value: Expr,
    p: &Expr,
    n: &Expr,
    through: Expr,
    before: Expr,
    scaled: &dyn Fn(Expr) -> Expr,
) -> Expr {
    let before = Expr::case(
        vec![(
            Expr::binary(BinOp::Eq, p.clone(), Expr::num(1)),
            Expr::num(0),
        )],
        Some(before),
    );
    Expr::case(
        vec![(
            Expr::binary(BinOp::Eq, p.clone(), n.clone()),
            Expr::binary(
                BinOp::Minus,
                value,
                scaled(Expr::Nested(Box::new(before.clone()))),
            ),
        )],
        Some(scaled(Expr::Nested(Box::new(Expr::binary(
            BinOp::Minus,
            through,
            Expr::Nested(Box::new(before)),
        ))))),
    )
}

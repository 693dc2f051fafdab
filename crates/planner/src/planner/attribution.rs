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

use crate::access::{Access, Caller};
use crate::attribution::{Attribution, AttributionModel, UNATTRIBUTED};
use crate::catalog::{Aggregation, Catalog, DimensionKind, Grain, Metric, MetricKind, ModelId};
use crate::diagnostics::closest;
use crate::query::{DimensionRef, Filter, SemanticQuery, parse_metric_ref};
use crate::sql::ast::*;

use super::build::{resolve_row_expr, untruncated};
use super::fact_policy::fact_conditions;
use super::filters::{coerce_time_literals, structured};
use super::resolve::{JoinTree, qualify, resolve_dimension, source_ref, target_model};
use super::{ColumnRole, ErrorCode, OutputColumn, Plan, PlanError};

const MAX_INSTANCES: usize = 10;
const MAX_METRICS: usize = 10;
const MAX_DIMENSIONS: usize = 10;
const MAX_FILTERS: usize = 50;

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

fn num(n: impl ToString) -> Expr {
    Expr::Lit(Literal::Number(n.to_string()))
}

fn double(text: &str) -> Expr {
    Expr::Cast {
        expr: Box::new(num(text)),
        ty: SqlType::Double,
    }
}

fn col(name: &str) -> Expr {
    Expr::bare(name)
}

fn qcol(table: &str, name: &str) -> Expr {
    Expr::col(table, name)
}

fn bin(op: BinOp, l: Expr, r: Expr) -> Expr {
    Expr::binary(op, l, r)
}

fn case(whens: Vec<(Expr, Expr)>, otherwise: Expr) -> Expr {
    Expr::Case {
        operand: None,
        whens,
        otherwise: Some(Box::new(otherwise)),
    }
}

fn item(expr: Expr, alias: &str) -> SelectItem {
    SelectItem {
        expr,
        alias: Some(Ident::generated(alias)),
    }
}

fn window(name: &str, args: Vec<Expr>, order_by: Vec<Expr>, frame: Option<WindowFrame>) -> Expr {
    Expr::Window {
        name: name.into(),
        args,
        partition_by: vec![col("conversion_key")],
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
    bin(
        BinOp::Minus,
        c.clone(),
        case(vec![(bin(BinOp::Lt, x, c), num(1))], num(0)),
    )
}

fn select(projection: Vec<SelectItem>, from: TableRef, selection: Option<Expr>) -> Select {
    Select {
        projection,
        from: Some(from),
        joins: Vec::new(),
        selection,
        group_by: Vec::new(),
        having: None,
    }
}

fn named(name: &str) -> TableRef {
    TableRef::Named {
        name: Ident::generated(name),
        alias: None,
    }
}

fn cte(name: &str, s: Select) -> Cte {
    Cte {
        name: Ident::generated(name),
        query: Query::select(s),
    }
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

pub fn plan(catalog: &Catalog, q: &SemanticQuery, caller: &Caller) -> Result<Plan, PlanError> {
    let access = Access::resolve(catalog, caller)?;
    super::build::check_request(
        q,
        super::build::RequestLimits {
            metrics: MAX_METRICS,
            dimensions: MAX_DIMENSIONS,
            filters: MAX_FILTERS,
        },
        "an attributed query",
    )?;
    if q.attribution.len() > MAX_INSTANCES {
        return Err(PlanError::new(
            ErrorCode::InvalidQuery,
            format!("an attributed query may have at most {MAX_INSTANCES} attribution instances"),
        )
        .at("attribution"));
    }
    if q.filter.is_some() {
        return Err(PlanError::new(
            ErrorCode::Unsupported,
            "a `filter` tree cannot be combined with attribution; use structured filters (on touch dimensions, metric_time or the conversion model's dimensions)",
        )
        .at("filter"));
    }
    if q.where_sql.as_deref().is_some_and(|w| !w.trim().is_empty()) {
        return Err(PlanError::new(
            ErrorCode::Unsupported,
            "a `where` expression cannot be combined with attribution; use structured filters (on touch dimensions, metric_time or the conversion model's dimensions)",
        )
        .at("where"));
    }
    let mut warnings = Vec::new();

    // Instances.
    let mut instances: Vec<&Attribution> = Vec::new();
    for (i, name) in q.attribution.iter().enumerate() {
        let field = format!("attribution[{i}]");
        // An instance the caller may not use is an unknown one.
        let a = catalog
            .attribution(name.trim())
            .filter(|a| crate::attribution::visible(catalog, &access, a))
            .ok_or_else(|| {
                PlanError::new(
                    ErrorCode::UnknownMetric,
                    format!("unknown attribution `{name}`"),
                )
                .with_suggestions(closest(
                    name,
                    catalog
                        .attributions
                        .iter()
                        .filter(|a| crate::attribution::visible(catalog, &access, a))
                        .map(|a| a.name.as_str()),
                ))
                .at(&field)
            })?;
        if instances.iter().any(|x| x.name == a.name) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!("attribution `{name}` is requested twice"),
            )
            .at(&field));
        }
        instances.push(a);
    }
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
    let tm = catalog.model(touch_model);

    // Metrics: simple sum/count metrics of each instance's conversion model.
    let mut requested: Vec<Requested> = Vec::new();
    for (i, text) in q.metrics.iter().enumerate() {
        let field = format!("metrics[{i}]");
        let (name, version) = parse_metric_ref(text).map_err(|e| e.at(&field))?;
        let metric = match version {
            Some(v) => catalog.metric_version(&name, v),
            None => catalog.default_metric(&name),
        }
        .filter(|m| access.metric_visible(m.id))
        .ok_or_else(|| super::build::unknown_metric(catalog, &access, text, &name).at(&field))?;
        warnings.extend(
            crate::lifecycle::check_use(catalog, metric, crate::lifecycle::today())
                .map_err(|e| e.at(&field))?,
        );
        let MetricKind::Simple { model, measure } = metric.kind else {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "metric `{}` is a {} metric; attribution credits the fact rows of a simple sum or count metric",
                    metric.name,
                    metric.kind.name()
                ),
            )
            .at(&field));
        };
        let agg = catalog.model(model).measures[measure].agg;
        if !matches!(
            agg,
            Aggregation::Sum | Aggregation::Count | Aggregation::SumBoolean
        ) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "metric `{}` aggregates with `{}`; attribution splits each conversion's value, which only a simple sum or count metric has",
                    metric.name,
                    agg.name()
                ),
            )
            .at(&field));
        }
        for a in &instances {
            let conv_model = match catalog.metric(a.conversion).kind {
                MetricKind::Simple { model, .. } => model,
                _ => model,
            };
            if conv_model != model {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "attribution `{}` credits conversions of `{}` (metric `{}`); metric `{}` counts rows of `{}`",
                        a.name,
                        catalog.model(conv_model).name,
                        catalog.metric(a.conversion).name,
                        metric.name,
                        catalog.model(model).name
                    ),
                )
                .at(&field));
            }
        }
        if catalog.model(model).measures[measure]
            .time_dimension
            .is_none()
        {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!(
                    "metric `{}` has no time dimension, so its conversions have no time to look back from",
                    metric.name
                ),
            )
            .at(&field));
        }
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
        requested.push(Requested {
            metric,
            alias,
            model,
            measure,
        });
    }
    let conv_model = requested[0].model;
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

    // Dimensions: touch dimensions, the touch time, metric_time.
    let touch_time = &tm.dimensions[instances[0].touches.time];
    // Only what the caller may see: these names are shown in errors.
    let allowed: Vec<String> = {
        let mut v = Vec::new();
        if access.metric_time_visible() {
            v.push("metric_time".to_string());
        }
        v.push(format!("{}.{}", tm.name, touch_time.name));
        for a in &instances {
            for d in &a.touches.dimensions {
                let name = &tm.dimensions[*d].name;
                let n = format!("{}.{name}", tm.name);
                if !v.contains(&n) && access.dimension_visible(tm.id, name) {
                    v.push(n);
                }
            }
        }
        v
    };
    // Suggestions: the references and their bare names.
    let suggestible: Vec<String> = allowed
        .iter()
        .cloned()
        .chain(
            allowed
                .iter()
                .filter_map(|a| a.split_once('.').map(|(_, n)| n.to_string())),
        )
        .collect();
    let classify = |r: &DimensionRef, field: &str| -> Result<Option<OutDim>, PlanError> {
        if r.is_metric_time() {
            if !access.metric_time_visible() {
                return Err(super::build::hidden_metric_time(&r.raw).at(field));
            }
            let grain = r.grain.unwrap_or(metric_time_grain);
            if grain < metric_time_grain {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "`{}` is recorded per {metric_time_grain}; it cannot be grouped by the finer grain {grain}",
                        r.raw
                    ),
                )
                .at(field));
            }
            return Ok(Some(OutDim::ConversionTime(grain)));
        }
        if !r.path.is_empty() || r.model.as_deref().is_some_and(|m| m != tm.name) {
            return Ok(None);
        }
        // A hidden touch dimension is treated as an absent one.
        let Some((di, d)) = tm
            .dimension(&r.name)
            .filter(|(_, d)| access.dimension_visible(tm.id, &d.name))
        else {
            return Ok(None);
        };
        if instances.iter().all(|a| a.touches.time == di) {
            let DimensionKind::Time { granularity } = d.kind else {
                return Ok(None);
            };
            let grain = r.grain.unwrap_or(granularity);
            if grain < granularity {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "`{}` is recorded per {granularity}; it cannot be grouped by the finer grain {grain}",
                        r.raw
                    ),
                )
                .at(field));
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
                    allowed.join(", ")
                ),
            )
            .with_suggestions(closest(&r.raw, suggestible.iter().map(String::as_str)))
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
    };
    let mut dims: Vec<(DimensionRef, OutDim)> = Vec::new();
    for (i, text) in q.dimensions.iter().enumerate() {
        let field = format!("dimensions[{i}]");
        let r = DimensionRef::parse(text).map_err(|e| e.at(&field))?;
        let d = classify(&r, &field)?.ok_or_else(|| {
            PlanError::new(
                ErrorCode::UnknownDimension,
                format!(
                    "`{text}` cannot group an attributed query; it groups by {}",
                    allowed.join(", ")
                ),
            )
            .with_suggestions(closest(&r.raw, suggestible.iter().map(String::as_str)))
            .at(&field)
        })?;
        if dims.iter().any(|(x, _)| x.alias() == r.alias()) {
            return Err(PlanError::new(
                ErrorCode::InvalidQuery,
                format!("dimension `{text}` is requested twice"),
            )
            .at(&field));
        }
        dims.push((r, d));
    }
    let dim_aliases: Vec<String> = dims.iter().map(|(r, _)| r.alias()).collect();
    // Touch dimensions the scans must carry: requested or filtered.
    let mut touch_dims: Vec<String> = Vec::new();

    // Filters: touch dimensions apply to credited rows, everything else to
    // conversions before crediting.
    let mut filters: Vec<(usize, &Filter, FilterTarget)> = Vec::new();
    for (i, f) in q.filters.iter().enumerate() {
        let field = format!("filters[{i}].dimension");
        let r = DimensionRef::parse(&f.dimension).map_err(|e| e.at(&field))?;
        let target = match classify(&r, &field)? {
            Some(OutDim::ConversionTime(_)) => FilterTarget::Conversion(r),
            Some(d) => FilterTarget::Credited(d),
            None => {
                target_model(catalog, &r, &[conv_model], &|m, d| {
                    access.dimension_visible(m, d)
                })
                .map_err(|e| e.at(&field))?;
                FilterTarget::Conversion(r)
            }
        };
        filters.push((i, f, target));
    }
    for d in dims
        .iter()
        .map(|(_, d)| d)
        .chain(filters.iter().filter_map(|(_, _, t)| match t {
            FilterTarget::Credited(d) => Some(d),
            _ => None,
        }))
    {
        if let OutDim::Touch(n) = d
            && !touch_dims.contains(n)
        {
            touch_dims.push(n.clone());
        }
    }
    if q.time_range.is_some() && !access.metric_time_visible() {
        return Err(super::build::hidden_metric_time("metric_time").at("time_range"));
    }
    let time_range = super::timezone::range_bounds(q)?;

    let row_policies = access.row_filters()?;
    let min_group_size = access.min_group_size();
    let mut policies: Vec<String> = Vec::new();
    if access.is_restricted() {
        policies.push(format!("roles: {}", access.role_names().join(", ")));
    }
    if let Some(k) = min_group_size {
        policies.push(format!(
            "min_group_size {k}: groups built from fewer distinct subjects are suppressed"
        ));
        warnings.push(format!("groups built from fewer than {k} distinct subjects are suppressed (min_group_size policy)"));
    }
    let mut consent_ctes: Vec<Cte> = Vec::new();
    let mut ctes: Vec<Cte> = Vec::new();
    let several = requested.len() * instances.len() > 1;

    // Conversion scans, one per (metric, subject entity).
    // Scans are shared by instances that read the same rows the same way:
    // a stitched instance sees people, a plain one the subject column.
    let mut conversion_ctes: Vec<((usize, String, bool), String)> = Vec::new();
    let conv_key = |mi: usize, a: &Attribution| (mi, a.subject.clone(), a.stitched);
    for (mi, r) in requested.iter().enumerate() {
        for a in &instances {
            if conversion_ctes.iter().any(|(k, _)| *k == conv_key(mi, a)) {
                continue;
            }
            let name = if several {
                format!("attr_conversions_{}", conversion_ctes.len() + 1)
            } else {
                "attr_conversions".to_string()
            };
            let s = conversion_scan(
                catalog,
                &access,
                &row_policies,
                r,
                (&a.subject, a.stitched),
                &filters,
                &time_range,
                (&mut consent_ctes, &mut policies),
            )?;
            ctes.push(cte(&name, s));
            conversion_ctes.push((conv_key(mi, a), name));
        }
    }
    // Touch scans, one per subject entity.
    let mut touch_ctes: Vec<((String, bool, usize, usize), String)> = Vec::new();
    let touch_key = |a: &Attribution| {
        (
            a.subject.clone(),
            a.stitched,
            a.touches.time,
            a.touches.channel,
        )
    };
    for a in &instances {
        if touch_ctes.iter().any(|(k, _)| *k == touch_key(a)) {
            continue;
        }
        let name = if touch_ctes.is_empty() {
            "attr_touches".to_string()
        } else {
            format!("attr_touches_{}", touch_ctes.len() + 1)
        };
        let s = touch_scan(
            catalog,
            &access,
            &row_policies,
            a,
            &touch_dims,
            (&mut consent_ctes, &mut policies),
        )?;
        ctes.push(cte(&name, s));
        touch_ctes.push((touch_key(a), name));
    }

    // Per (metric, instance): path, crediting, aggregation.
    let mut columns: Vec<OutputColumn> = dims
        .iter()
        .enumerate()
        .map(|(i, (r, d))| OutputColumn {
            name: dim_aliases[i].clone(),
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
        .collect();
    let mut pair_selects: Vec<(String, Select)> = Vec::new();
    let mut pair_no = 0;
    for (mi, r) in requested.iter().enumerate() {
        for a in &instances {
            pair_no += 1;
            let suffix = if several {
                format!("_{pair_no}")
            } else {
                String::new()
            };
            let conv = conversion_ctes
                .iter()
                .find(|(k, _)| *k == conv_key(mi, a))
                .map(|x| x.1.clone())
                .unwrap_or_default();
            let touches = touch_ctes
                .iter()
                .find(|(k, _)| *k == touch_key(a))
                .map(|x| x.1.clone())
                .unwrap_or_default();
            let column = format!("{}__{}", r.alias, a.name);
            if dim_aliases.contains(&column) {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!("`{column}` names both a dimension and an attributed metric"),
                ));
            }
            let credited = credit_ctes(a, &conv, &touches, &touch_dims, &suffix, &mut ctes);
            let mut projection: Vec<SelectItem> = dims
                .iter()
                .enumerate()
                .map(|(i, (_, d))| item(out_dim_expr(d), &dim_aliases[i]))
                .collect();
            projection.push(item(
                Expr::Aggregate {
                    agg: Aggregation::Sum,
                    arg: Some(Box::new(col("credit"))),
                },
                &column,
            ));
            let mut conditions = Vec::new();
            for (i, f, t) in &filters {
                if let FilterTarget::Credited(d) = t {
                    let (target, kind) = match d {
                        OutDim::Touch(n) => (col(&touch_column(n)), DimensionKind::Categorical),
                        OutDim::TouchTime(g) => {
                            (col("touched_at"), DimensionKind::Time { granularity: *g })
                        }
                        OutDim::ConversionTime(g) => {
                            (col("converted_at"), DimensionKind::Time { granularity: *g })
                        }
                    };
                    conditions.push(
                        structured(target, Some(kind), f)
                            .map_err(|e| e.at(format!("filters[{i}]")))?,
                    );
                }
            }
            let subjects = Expr::Aggregate {
                agg: Aggregation::CountDistinct,
                arg: Some(Box::new(col("subject"))),
            };
            let mut s = select(
                projection,
                named(&credited),
                Expr::and_all(conditions.into_iter().map(parenthesize_or)),
            );
            s.group_by = (1..=dims.len()).collect();
            if min_group_size.is_some() {
                s.projection.push(item(subjects, "__subjects"));
            }
            columns.push(OutputColumn {
                name: column.clone(),
                role: ColumnRole::Metric {
                    metric: r.metric.name.clone(),
                    version: r.metric.version,
                    integer: false,
                },
            });
            pair_selects.push((column, s));
        }
    }

    // Ordering: what was asked, then every dimension.
    let output_names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    let mut order: Vec<OrderItem> = Vec::new();
    let mut ordered: Vec<String> = Vec::new();
    for (i, o) in q.order_by.iter().enumerate() {
        let (field, desc) = o.field_and_desc();
        let name = columns
            .iter()
            .find(|c| {
                c.name == field
                    || matches!(&c.role, ColumnRole::Dimension { reference, .. } if *reference == field)
            })
            .map(|c| c.name.clone())
            .ok_or_else(|| {
                PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!("cannot order by `{field}`: it is not a column of this query"),
                )
                .with_suggestions(closest(&field, output_names.iter().copied()))
                .at(format!("order_by[{i}]"))
            })?;
        if !ordered.contains(&name) {
            order.push(OrderItem {
                expr: col(&name),
                desc,
            });
            ordered.push(name);
        }
    }
    for a in &dim_aliases {
        if !ordered.contains(a) {
            order.push(OrderItem {
                expr: col(a),
                desc: false,
            });
        }
    }

    let body = if pair_selects.len() == 1 {
        let (_, mut s) = pair_selects
            .pop()
            .ok_or_else(|| PlanError::new(ErrorCode::InvalidQuery, "no attributed metric"))?;
        if let Some(k) = min_group_size {
            s.projection.pop();
            s.having = Some(bin(
                BinOp::GtEq,
                Expr::Aggregate {
                    agg: Aggregation::CountDistinct,
                    arg: Some(Box::new(col("subject"))),
                },
                num(k),
            ));
        }
        s
    } else {
        stitch(&dim_aliases, pair_selects, min_group_size, &mut ctes)
    };
    let mut all_ctes = consent_ctes;
    all_ctes.append(&mut ctes);
    let mut models_used = vec![catalog.model(conv_model).name.clone()];
    models_used.push(tm.name.clone());
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
            limit: q.limit,
            offset: q.offset,
        },
        columns,
        metrics: requested.iter().map(|r| r.metric.id).collect(),
        warnings,
        models: models_used,
        policies,
    })
}

/// Several (metric, instance) columns: each aggregated on its own, then
/// stitched on the group keys with UNION ALL + GROUP BY (NULL keys match,
/// no FULL OUTER JOIN needed).
fn stitch(
    dim_aliases: &[String],
    pairs: Vec<(String, Select)>,
    min_group_size: Option<u32>,
    ctes: &mut Vec<Cte>,
) -> Select {
    let names: Vec<String> = pairs.iter().map(|(c, _)| c.clone()).collect();
    let mut branches = Vec::new();
    for (pi, (_, s)) in pairs.into_iter().enumerate() {
        let cte_name = format!("attr_result_{}", pi + 1);
        ctes.push(cte(&cte_name, s));
        let mut projection: Vec<SelectItem> = dim_aliases.iter().map(|a| item(col(a), a)).collect();
        for (pj, n) in names.iter().enumerate() {
            projection.push(item(
                if pj == pi {
                    col(n)
                } else {
                    Expr::TypedNull(SqlType::Decimal)
                },
                n,
            ));
        }
        if min_group_size.is_some() {
            for pj in 0..names.len() {
                let n = format!("__subjects_{}", pj + 1);
                projection.push(item(
                    if pj == pi {
                        col("__subjects")
                    } else {
                        Expr::TypedNull(SqlType::BigInt)
                    },
                    &n,
                ));
            }
        }
        branches.push(select(projection, named(&cte_name), None));
    }
    let union = Query {
        ctes: Vec::new(),
        body: SetExpr::UnionAll(branches),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    };
    let mut projection: Vec<SelectItem> = dim_aliases.iter().map(|a| item(col(a), a)).collect();
    for n in &names {
        projection.push(item(
            Expr::Aggregate {
                agg: Aggregation::Max,
                arg: Some(Box::new(col(n))),
            },
            n,
        ));
    }
    let mut having = Vec::new();
    if let Some(k) = min_group_size {
        for pj in 0..names.len() {
            let c = Expr::Aggregate {
                agg: Aggregation::Max,
                arg: Some(Box::new(col(&format!("__subjects_{}", pj + 1)))),
            };
            having.push(Expr::Nested(Box::new(bin(
                BinOp::Or,
                Expr::IsNull {
                    expr: Box::new(c.clone()),
                    negated: false,
                },
                bin(BinOp::GtEq, c, num(k)),
            ))));
        }
    }
    Select {
        projection,
        from: Some(TableRef::Subquery {
            query: Box::new(union),
            alias: Ident::generated("attributed"),
        }),
        joins: Vec::new(),
        selection: None,
        group_by: (1..=dim_aliases.len()).collect(),
        having: Expr::and_all(having),
    }
}

fn parenthesize_or(e: Expr) -> Expr {
    match e {
        Expr::Binary { op: BinOp::Or, .. } => Expr::Nested(Box::new(e)),
        other => other,
    }
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
            expr: Box::new(col("converted_at")),
        },
        OutDim::TouchTime(g) => Expr::DateTrunc {
            grain: *g,
            expr: Box::new(col("touched_at")),
        },
        OutDim::Touch(n) => case(
            vec![(
                bin(BinOp::Eq, col("path_length"), num(0)),
                Expr::string(UNATTRIBUTED),
            )],
            col(&touch_column(n)),
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
        (Aggregation::Count, None) => num(1),
        (Aggregation::Count, Some(e)) => case(
            vec![(
                Expr::IsNull {
                    expr: Box::new(qualify(e, &alias)),
                    negated: true,
                },
                num(1),
            )],
            num(0),
        ),
        (Aggregation::SumBoolean, Some(e)) => case(vec![(qualify(e, &alias), num(1))], num(0)),
        (_, Some(e)) => qualify(e, &alias),
        (_, None) => num(1),
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
            let resolved = resolve(d, &mut joins).map_err(|e| e.at(format!("filters[{i}]")))?;
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
        conditions.push(bin(BinOp::GtEq, time.clone(), start.clone()));
    }
    if let Some(end) = &time_range.1 {
        conditions.push(bin(BinOp::Lt, time.clone(), end.clone()));
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
        item(primary_key(catalog, r.model, &alias)?, "conversion_key"),
        item(subject_expr, "subject"),
        item(time, "converted_at"),
        item(value, "conversion_value"),
    ];
    Ok(Select {
        projection,
        from: Some(source_ref(catalog, r.model, &alias)),
        joins: joins.joins(catalog),
        selection: Expr::and_all(conditions.into_iter().map(parenthesize_or)),
        group_by: Vec::new(),
        having: None,
    })
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
        item(primary_key(catalog, model.id, &alias)?, "touch_key"),
        item(subject.clone(), "subject"),
        item(time.clone(), "touched_at"),
        item(
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
        projection.push(item(e, &touch_column(n)));
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
    Ok(Select {
        projection,
        from: Some(source_ref(catalog, model.id, &alias)),
        joins: joins.joins(catalog),
        selection: Expr::and_all(conditions.into_iter().map(parenthesize_or)),
        group_by: Vec::new(),
        having: None,
    })
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
    // Prefixed: a CTE must not shadow a warehouse table the scans read.
    let name = |stem: &str| format!("attr_{stem}{suffix}");
    let dim_cols: Vec<String> = touch_dims.iter().map(|n| touch_column(n)).collect();
    let carried = |extra: &[&str]| -> Vec<SelectItem> {
        let mut v: Vec<SelectItem> = [
            "conversion_key",
            "subject",
            "converted_at",
            "conversion_value",
            "touch_key",
            "touched_at",
        ]
        .iter()
        .chain(extra)
        .map(|c| item(col(c), c))
        .collect();
        v.extend(dim_cols.iter().map(|c| item(col(c), c)));
        v
    };
    let direct = !a.direct_channels.is_empty();
    let direct_list = || Expr::InList {
        expr: Box::new(qcol("t", "touch_channel")),
        list: a.direct_channels.iter().map(Expr::string).collect(),
        negated: false,
    };

    // 1. Each conversion with its subject's touches in the window.
    let mut on = vec![
        bin(BinOp::Eq, qcol("t", "subject"), qcol("c", "subject")),
        bin(
            BinOp::LtEq,
            qcol("t", "touched_at"),
            qcol("c", "converted_at"),
        ),
    ];
    if let Some(days) = a.lookback.days {
        on.push(bin(
            BinOp::GtEq,
            qcol("t", "touched_at"),
            Expr::AddTime {
                expr: Box::new(qcol("c", "converted_at")),
                amount: -(days as i64),
                unit: TimeUnit::Day,
            },
        ));
    }
    let mut projection = vec![
        item(qcol("c", "conversion_key"), "conversion_key"),
        item(qcol("c", "subject"), "subject"),
        item(qcol("c", "converted_at"), "converted_at"),
        item(qcol("c", "conversion_value"), "conversion_value"),
        item(qcol("t", "touch_key"), "touch_key"),
        item(qcol("t", "touched_at"), "touched_at"),
    ];
    projection.extend(dim_cols.iter().map(|c| item(qcol("t", c), c)));
    if direct {
        // Direct touches of a path with another touch take no credit.
        projection.push(item(
            case(vec![(direct_list(), num(1))], num(0)),
            "is_direct",
        ));
        let other = bin(
            BinOp::And,
            Expr::IsNull {
                expr: Box::new(qcol("t", "touch_key")),
                negated: true,
            },
            Expr::Nested(Box::new(bin(
                BinOp::Or,
                Expr::IsNull {
                    expr: Box::new(qcol("t", "touch_channel")),
                    negated: false,
                },
                Expr::InList {
                    expr: Box::new(qcol("t", "touch_channel")),
                    list: a.direct_channels.iter().map(Expr::string).collect(),
                    negated: true,
                },
            ))),
        );
        projection.push(item(
            Expr::Window {
                name: "SUM".into(),
                args: vec![case(vec![(other, num(1))], num(0))],
                partition_by: vec![qcol("c", "conversion_key")],
                order_by: Vec::new(),
                frame: None,
            },
            "other_touches",
        ));
    }
    let path = name("path");
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

    // 2. Number the kept touches, oldest first (ties by key, the same on
    //    every engine).
    let order = vec![col("touched_at"), col("touch_key")];
    let mut projection = carried(&[]);
    projection.push(item(
        window("ROW_NUMBER", vec![], order.clone(), None),
        "position",
    ));
    // A pass of its own only when the path is cut to its last touches or
    // weighed; otherwise the count is the path's length already.
    let reshaped =
        a.lookback.touches.is_some() || matches!(a.model, AttributionModel::TimeDecay { .. });
    projection.push(item(
        window("COUNT", vec![col("touch_key")], vec![], None),
        if reshaped {
            "path_total"
        } else {
            "path_length"
        },
    ));
    let kept = name("kept");
    ctes.push(cte(
        &kept,
        select(
            projection,
            named(&path),
            direct.then(|| {
                bin(
                    BinOp::Or,
                    bin(BinOp::Eq, col("is_direct"), num(0)),
                    bin(BinOp::Eq, col("other_touches"), num(0)),
                )
            }),
        ),
    ));

    // 3. The last `touches` of each path, renumbered 1..path_length.
    let (position, path_length, keep) = match a.lookback.touches {
        Some(n) => {
            let over = bin(BinOp::Gt, col("path_total"), num(n));
            let dropped = case(
                vec![(over.clone(), bin(BinOp::Minus, col("path_total"), num(n)))],
                num(0),
            );
            (
                bin(BinOp::Minus, col("position"), dropped),
                case(vec![(over, num(n))], col("path_total")),
                Some(bin(
                    BinOp::Gt,
                    col("position"),
                    bin(BinOp::Minus, col("path_total"), num(n)),
                )),
            )
        }
        None => (col("position"), col("path_total"), None),
    };
    let mut projection = carried(&[]);
    projection.push(item(position, "position"));
    projection.push(item(path_length, "path_length"));
    if let AttributionModel::TimeDecay { half_life_days } = a.model {
        // 2^(-age / half-life), age before the path's last touch, so the
        // newest touch weighs 1 and no weight underflows.
        let epoch = Expr::EpochSeconds(Box::new(col("touched_at")));
        let age = bin(
            BinOp::Minus,
            window("MAX", vec![epoch.clone()], vec![], None),
            epoch,
        );
        let exponent = bin(
            BinOp::Divide,
            Expr::Unary {
                op: UnOp::Neg,
                expr: Box::new(Expr::Nested(Box::new(Expr::Cast {
                    expr: Box::new(age),
                    ty: SqlType::Double,
                }))),
            },
            double(&format!("{}", half_life_days * 86400.0)),
        );
        projection.push(item(
            Expr::Power {
                base: Box::new(double("2")),
                exponent: Box::new(exponent),
            },
            "weight",
        ));
    }
    let ranked = if reshaped {
        let ranked = name("ranked");
        ctes.push(cte(&ranked, select(projection, named(&kept), keep)));
        ranked
    } else {
        kept.clone()
    };

    // 4. Credit.
    let mut source = ranked.clone();
    let value = col("conversion_value");
    let units = bin(
        BinOp::Multiply,
        Expr::Cast {
            expr: Box::new(value.clone()),
            ty: SqlType::Double,
        },
        double(&format!("1{}", "0".repeat(a.decimals as usize))),
    );
    let unit = num(if a.decimals == 0 {
        "1".to_string()
    } else {
        format!("0.{}1", "0".repeat(a.decimals as usize - 1))
    });
    let p = col("position");
    let n = col("path_length");
    let round_units =
        |share_times_units: Expr| floor(bin(BinOp::Plus, share_times_units, double("0.5")));
    // Cumulative amount (in units) after touch `k`, for k < n.
    let cumulative: Option<Box<dyn Fn(Expr) -> Expr>> = match &a.model {
        AttributionModel::Linear => {
            let units = units.clone();
            let n = n.clone();
            Some(Box::new(move |k| {
                round_units(bin(
                    BinOp::Divide,
                    bin(BinOp::Multiply, units.clone(), k),
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
                let share = case(
                    vec![(bin(BinOp::Eq, n.clone(), num(2)), double("0.5"))],
                    bin(
                        BinOp::Plus,
                        double(&fraction(first)),
                        bin(
                            BinOp::Divide,
                            bin(
                                BinOp::Multiply,
                                Expr::Nested(Box::new(bin(BinOp::Minus, k, num(1)))),
                                double(&fraction(middle)),
                            ),
                            Expr::Nested(Box::new(bin(BinOp::Minus, n.clone(), num(2)))),
                        ),
                    ),
                );
                round_units(bin(BinOp::Multiply, units.clone(), share))
            }))
        }
        AttributionModel::TimeDecay { .. } => {
            // Cumulative weight shares need the weights first: their own
            // pass. The amount before a touch is the previous row's amount
            // through it (LAG), bit for bit, so the credits telescope.
            let mut projection = carried(&["position", "path_length"]);
            let through = round_units(bin(
                BinOp::Divide,
                bin(
                    BinOp::Multiply,
                    units.clone(),
                    window(
                        "SUM",
                        vec![col("weight")],
                        vec![col("position")],
                        Some(WindowFrame {
                            start: FrameBound::UnboundedPreceding,
                            end: FrameBound::CurrentRow,
                        }),
                    ),
                ),
                window("SUM", vec![col("weight")], vec![], None),
            ));
            projection.push(item(through, "through_units"));
            let decayed = name("decayed");
            ctes.push(cte(&decayed, select(projection, named(&ranked), None)));
            source = decayed;
            None
        }
        _ => None,
    };
    let scaled = |e: Expr| bin(BinOp::Multiply, e, unit.clone());
    let (credit, selection) = match (&a.model, cumulative) {
        (AttributionModel::FirstTouch, _) => {
            (value.clone(), Some(bin(BinOp::Eq, p.clone(), num(1))))
        }
        (AttributionModel::LastTouch | AttributionModel::LastNonDirect, _) => {
            (value.clone(), Some(bin(BinOp::Eq, p.clone(), n.clone())))
        }
        (AttributionModel::TimeDecay { .. }, _) => {
            let before = window("LAG", vec![col("through_units")], vec![p.clone()], None);
            (
                split(value.clone(), &p, &n, col("through_units"), before, &scaled),
                None,
            )
        }
        (_, Some(cum)) => {
            let through = cum(p.clone());
            let before = cum(bin(BinOp::Minus, p.clone(), num(1)));
            (split(value.clone(), &p, &n, through, before, &scaled), None)
        }
        (_, None) => (value.clone(), None),
    };
    // An unattributed conversion keeps its whole value (first/last touch
    // credit the value as it is already).
    let credit = if credit == value {
        credit
    } else {
        case(vec![(bin(BinOp::Eq, n.clone(), num(0)), value)], credit)
    };
    let mut projection = vec![
        item(col("subject"), "subject"),
        item(col("converted_at"), "converted_at"),
        item(col("touched_at"), "touched_at"),
        item(col("path_length"), "path_length"),
    ];
    projection.extend(dim_cols.iter().map(|c| item(col(c), c)));
    projection.push(item(credit, "credit"));
    let credited = name("credited");
    ctes.push(cte(
        &credited,
        select(
            projection,
            named(&source),
            selection.map(|s| {
                Expr::Nested(Box::new(bin(
                    BinOp::Or,
                    bin(BinOp::Eq, n.clone(), num(0)),
                    s,
                )))
            }),
        ),
    ));
    credited
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
    let before = case(vec![(bin(BinOp::Eq, p.clone(), num(1)), num(0))], before);
    case(
        vec![(
            bin(BinOp::Eq, p.clone(), n.clone()),
            bin(
                BinOp::Minus,
                value,
                scaled(Expr::Nested(Box::new(before.clone()))),
            ),
        )],
        scaled(Expr::Nested(Box::new(bin(
            BinOp::Minus,
            through,
            Expr::Nested(Box::new(before)),
        )))),
    )
}

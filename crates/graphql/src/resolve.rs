//! A model field: the selection set and arguments become one
//! [`SemanticQuery`], run through the same path as POST /v1/query (cache,
//! policies, consent), and the result rows come back as row objects.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};
use async_graphql::{Error, Value};
use serde_json::{Map, Value as Json};

use super::ReqData;
use super::errors::{coded, from_service};
use super::schema::{DimType, Member, ModelSpec};
use crate::catalog::Grain;
use crate::query::{
    Condition, Filter, FilterOp, FilterTree, FilterValue, MAX_FILTER_DEPTH, OrderBy, SemanticQuery,
    TimeRange,
};
use crate::warehouse::Value as Cell;

/// One result row: values by response key.
pub struct Row {
    keys: Arc<HashMap<String, usize>>,
    values: Vec<Value>,
}

/// Resolver of every row field: the value under the field's response key.
pub fn row_field(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    let key = ctx.ctx.item.node.response_key().node.as_str();
    let v = ctx
        .parent_value
        .downcast_ref::<Row>()
        .and_then(|r| r.keys.get(key).map(|i| &r.values[*i]));
    FieldFuture::Value(super::schema::value_of(v))
}

/// Where a selected field's value comes from.
#[derive(Debug, Clone, Copy)]
enum Col {
    Dim(usize),
    Metric(usize),
}

/// The query's metrics and dimensions from the selection set.
#[derive(Debug, Default)]
struct Selection {
    dims: Vec<String>,
    dim_fields: Vec<String>,
    metrics: Vec<String>,
    metric_fields: Vec<String>,
    keys: Vec<(String, Col)>,
}

fn invalid(code: &'static str, msg: impl Into<String>) -> Error {
    coded(code, 422, msg.into(), None)
}

fn arg<'v>(args: &'v [(async_graphql::Name, Value)], name: &str) -> Option<&'v Value> {
    args.iter()
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, v)| v)
        .filter(|v| **v != Value::Null)
}

fn grain_arg(args: &[(async_graphql::Name, Value)]) -> Result<Option<Grain>, Error> {
    match arg(args, "granularity") {
        None => Ok(None),
        // Literals arrive as enum values, variables as strings.
        Some(Value::Enum(n)) => Grain::parse(n.as_str())
            .map(Some)
            .ok_or_else(|| invalid("invalid_query", format!("unknown granularity `{n}`"))),
        Some(Value::String(n)) => Grain::parse(n)
            .map(Some)
            .ok_or_else(|| invalid("invalid_query", format!("unknown granularity `{n}`"))),
        Some(other) => Err(invalid(
            "invalid_query",
            format!("granularity must be one of HOUR..YEAR, not {other}"),
        )),
    }
}

/// `@skip(if: true)` / `@include(if: false)` on a field.
fn skipped(f: &async_graphql::SelectionField<'_>) -> Result<bool, Error> {
    for d in f.directives().map_err(|e| Error::new(e.message))? {
        let on = d
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == "if")
            .map(|(_, v)| matches!(v.node, Value::Boolean(true)));
        match (d.name.node.as_str(), on) {
            ("skip", Some(true)) | ("include", Some(false)) => return Ok(true),
            _ => {}
        }
    }
    Ok(false)
}

/// The output alias a metric entry gets (`revenue`, `revenue_v2`).
fn metric_alias(entry: &str) -> String {
    match entry.split_once('@') {
        Some((n, v)) => format!("{n}_v{v}"),
        None => entry.to_string(),
    }
}

fn selection(ctx: &ResolverContext<'_>, spec: &ModelSpec) -> Result<Selection, Error> {
    let mut sel = Selection::default();
    for f in ctx.ctx.field().selection_set() {
        let name = f.name();
        if name.starts_with("__") || skipped(&f)? {
            continue;
        }
        let key = f.alias().unwrap_or(name).to_string();
        if sel.keys.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let Some(member) = spec.members.get(name) else {
            // Validation already refused fields the schema lacks.
            continue;
        };
        let args = f.arguments().map_err(|e| Error::new(e.message))?;
        let col = match member {
            Member::Metric { name: metric, .. } => {
                let entry = match arg(&args, "version") {
                    None => metric.clone(),
                    Some(Value::Number(n)) => match n.as_u64() {
                        Some(v) if v > 0 && v <= u32::MAX as u64 => format!("{metric}@{v}"),
                        _ => {
                            return Err(invalid(
                                "invalid_query",
                                format!("`{name}`: version must be a positive integer"),
                            ));
                        }
                    },
                    Some(other) => {
                        return Err(invalid(
                            "invalid_query",
                            format!("`{name}`: version must be a positive integer, not {other}"),
                        ));
                    }
                };
                let i = match sel.metrics.iter().position(|m| *m == entry) {
                    Some(i) => i,
                    None => {
                        sel.metrics.push(entry);
                        sel.metric_fields.push(name.to_string());
                        sel.metrics.len() - 1
                    }
                };
                Col::Metric(i)
            }
            Member::Dimension { reference, ty, .. } => {
                let grain = if *ty == DimType::Time {
                    grain_arg(&args)?
                } else {
                    None
                };
                let entry = match grain {
                    Some(g) => format!("{reference}:{g}"),
                    None => reference.clone(),
                };
                Col::Dim(push_dim(&mut sel, entry, name))
            }
            Member::MetricTime => {
                let entry = match grain_arg(&args)? {
                    Some(g) => format!("metric_time:{g}"),
                    None => "metric_time".to_string(),
                };
                Col::Dim(push_dim(&mut sel, entry, name))
            }
        };
        sel.keys.push((key, col));
    }
    Ok(sel)
}

fn push_dim(sel: &mut Selection, entry: String, field: &str) -> usize {
    match sel.dims.iter().position(|d| *d == entry) {
        Some(i) => i,
        None => {
            sel.dims.push(entry);
            sel.dim_fields.push(field.to_string());
            sel.dims.len() - 1
        }
    }
}

/// The semantic reference of a non-metric member.
fn reference(member: &Member) -> Option<&str> {
    match member {
        Member::Dimension { reference, .. } => Some(reference),
        Member::MetricTime => Some("metric_time"),
        Member::Metric { .. } => None,
    }
}

/// Filter operators in `where` inputs and what they mean.
const OPS: &[(&str, FilterOp)] = &[
    ("equals", FilterOp::Eq),
    ("notEquals", FilterOp::Neq),
    ("in", FilterOp::In),
    ("notIn", FilterOp::NotIn),
    ("gt", FilterOp::Gt),
    ("gte", FilterOp::Gte),
    ("lt", FilterOp::Lt),
    ("lte", FilterOp::Lte),
    ("between", FilterOp::Between),
    ("contains", FilterOp::Contains),
    ("startsWith", FilterOp::StartsWith),
];

/// Structured filters (a conjunction) plus the typed trees of `or` groups.
#[derive(Default)]
struct Conditions {
    filters: Vec<Filter>,
    trees: Vec<FilterTree>,
}

fn as_object<'j>(v: &'j Json, what: &str) -> Result<&'j Map<String, Json>, Error> {
    v.as_object()
        .ok_or_else(|| invalid("invalid_filter", format!("{what} must be an object")))
}

fn as_list<'j>(v: &'j Json, what: &str) -> Result<&'j Vec<Json>, Error> {
    v.as_array()
        .ok_or_else(|| invalid("invalid_filter", format!("{what} must be a list")))
}

/// The top level of `where` (and its `and` lists): structured filters.
fn conjunction(
    obj: &Map<String, Json>,
    spec: &ModelSpec,
    sel: &Selection,
    out: &mut Conditions,
) -> Result<(), Error> {
    for (key, v) in obj {
        if v.is_null() {
            continue;
        }
        match key.as_str() {
            "and" => {
                for item in as_list(v, "`and`")? {
                    conjunction(as_object(item, "an `and` item")?, spec, sel, out)?;
                }
            }
            "or" => out.trees.push(or_tree(as_list(v, "`or`")?, spec, 1)?),
            field => {
                let member = spec.members.get(field).ok_or_else(|| {
                    invalid("invalid_filter", format!("unknown filter field `{field}`"))
                })?;
                let target = match member {
                    Member::Metric { name, .. } => {
                        // A metric condition filters groups: it names the
                        // selected metric's column.
                        let i = sel
                            .metric_fields
                            .iter()
                            .position(|f| f == field)
                            .ok_or_else(|| {
                                invalid(
                                    "invalid_filter",
                                    format!(
                                        "a condition on metric `{name}` filters result rows: select `{field}` too"
                                    ),
                                )
                            })?;
                        metric_alias(&sel.metrics[i])
                    }
                    other => reference(other).unwrap_or_default().to_string(),
                };
                let cond = as_object(v, &format!("the condition on `{field}`"))?;
                out.filters.extend(field_filters(&target, cond)?);
            }
        }
    }
    Ok(())
}

/// The filters of one field's condition object. On a time field,
/// `granularity` names the grain the operators compare, as the field's
/// `granularity` argument groups it: `metricTime: {granularity: DAY, gte:
/// "2025-01-01"}` is the REST filter `metric_time:day gte 2025-01-01`.
fn field_filters(target: &str, cond: &Map<String, Json>) -> Result<Vec<Filter>, Error> {
    let target = match cond.get("granularity").filter(|g| !g.is_null()) {
        None => target.to_string(),
        Some(Json::String(g)) => match Grain::parse(g) {
            Some(grain) => format!("{target}:{grain}"),
            None => {
                return Err(invalid(
                    "invalid_filter",
                    format!("unknown granularity `{g}`"),
                ));
            }
        },
        Some(other) => {
            return Err(invalid(
                "invalid_filter",
                format!("granularity must be one of HOUR..YEAR, not {other}"),
            ));
        }
    };
    let mut out = Vec::new();
    for (op, value) in cond.iter().filter(|(op, _)| *op != "granularity") {
        if let Some(f) = structured(&target, op, value)? {
            out.push(f);
        }
    }
    Ok(out)
}

fn structured(target: &str, op: &str, value: &Json) -> Result<Option<Filter>, Error> {
    if op == "isNull" {
        return Ok(match value {
            Json::Null => None,
            Json::Bool(b) => Some(Filter {
                dimension: target.to_string(),
                op: if *b {
                    FilterOp::IsNull
                } else {
                    FilterOp::IsNotNull
                },
                values: vec![],
            }),
            other => {
                return Err(invalid(
                    "invalid_filter",
                    format!("isNull takes true or false, not {other}"),
                ));
            }
        });
    }
    let (_, fop) = OPS
        .iter()
        .find(|(n, _)| *n == op)
        .ok_or_else(|| invalid("invalid_filter", format!("unknown filter operator `{op}`")))?;
    let values = match fop {
        FilterOp::In | FilterOp::NotIn | FilterOp::Between => match value {
            Json::Array(a) => a.clone(),
            Json::Null => return Ok(None),
            other => vec![other.clone()],
        },
        _ => vec![value.clone()],
    };
    Ok(Some(Filter {
        dimension: target.to_string(),
        op: *fop,
        values,
    }))
}

fn too_complex() -> Error {
    invalid(
        "query_too_complex",
        format!("`where` nests more than {MAX_FILTER_DEPTH} `or` / `and` groups"),
    )
}

/// `or: [branch, …]`: each branch a conjunction; `depth` counts the groups
/// around (and including) this one.
fn or_tree(items: &[Json], spec: &ModelSpec, depth: usize) -> Result<FilterTree, Error> {
    if depth > MAX_FILTER_DEPTH {
        return Err(too_complex());
    }
    if items.is_empty() {
        return Err(invalid(
            "invalid_filter",
            "`or` needs at least one condition",
        ));
    }
    let branches = items
        .iter()
        .map(|i| branch_tree(as_object(i, "an `or` item")?, spec, depth + 1))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(FilterTree::Or(branches))
}

fn branch_tree(
    obj: &Map<String, Json>,
    spec: &ModelSpec,
    depth: usize,
) -> Result<FilterTree, Error> {
    if depth > MAX_FILTER_DEPTH {
        return Err(too_complex());
    }
    let mut parts = Vec::new();
    for (key, v) in obj {
        if v.is_null() {
            continue;
        }
        match key.as_str() {
            "and" => {
                for item in as_list(v, "`and`")? {
                    parts.push(branch_tree(
                        as_object(item, "an `and` item")?,
                        spec,
                        depth + 1,
                    )?);
                }
            }
            "or" => parts.push(or_tree(as_list(v, "`or`")?, spec, depth + 1)?),
            field => {
                let member = spec.members.get(field).ok_or_else(|| {
                    invalid("invalid_filter", format!("unknown filter field `{field}`"))
                })?;
                let Some(r) = reference(member) else {
                    return Err(invalid(
                        "invalid_filter",
                        format!(
                            "metric `{field}` cannot be filtered under `or`; filter metrics at the top level or in `and`"
                        ),
                    ));
                };
                let cond = as_object(v, &format!("the condition on `{field}`"))?;
                for f in field_filters(r, cond)? {
                    parts.push(FilterTree::Condition(typed(f)?));
                }
            }
        }
    }
    if parts.is_empty() {
        return Err(invalid(
            "invalid_filter",
            "each `or` branch needs at least one condition",
        ));
    }
    Ok(FilterTree::all(parts))
}

/// A structured filter with typed values: GraphQL values are JSON scalars,
/// which stay values (never SQL text) all the way to the warehouse.
fn typed(f: Filter) -> Result<Condition, Error> {
    let values = f
        .values
        .iter()
        .map(|v| {
            FilterValue::from_json(v)
                .map_err(|e| invalid("invalid_filter", format!("{v} is not a filter value: {e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok(Condition {
        dimension: f.dimension,
        op: f.op,
        values,
    })
}

fn json_arg(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<Json>, Error> {
    match ctx.args.get(name) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => v
            .as_value()
            .clone()
            .into_json()
            .map(Some)
            .map_err(|e| invalid("invalid_query", format!("`{name}`: {e}"))),
    }
}

fn non_negative(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<u64>, Error> {
    match ctx.args.get(name) {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => {
            let n = v.i64().map_err(|e| invalid("invalid_query", e.message))?;
            u64::try_from(n).map(Some).map_err(|_| {
                coded(
                    "invalid_query",
                    422,
                    format!("{name} must not be negative"),
                    Some(name.to_string()),
                )
            })
        }
    }
}

/// The semantic query for one model field.
fn build_query(
    ctx: &ResolverContext<'_>,
    spec: &ModelSpec,
) -> Result<(SemanticQuery, Selection), Error> {
    let sel = selection(ctx, spec)?;
    let mut q = SemanticQuery {
        metrics: sel.metrics.clone(),
        dimensions: sel.dims.clone(),
        ..Default::default()
    };
    if let Some(w) = json_arg(ctx, "where")? {
        let mut c = Conditions::default();
        conjunction(as_object(&w, "`where`")?, spec, &sel, &mut c)?;
        q.filters = c.filters;
        if !c.trees.is_empty() {
            q.filter = Some(FilterTree::all(c.trees));
        }
    }
    if let Some(order) = json_arg(ctx, "orderBy")? {
        for item in as_list(&order, "`orderBy`")? {
            let field = item.get("field").and_then(Json::as_str).unwrap_or_default();
            let desc = item.get("direction").and_then(Json::as_str) == Some("DESC");
            let member = spec
                .members
                .get(field)
                .ok_or_else(|| invalid("invalid_query", format!("cannot order by `{field}`")))?;
            // The selected column the key means: the first selection of
            // that field (so `revenue(version: 2)` orders by that version).
            let name = match member {
                Member::Metric { name, .. } => sel
                    .metric_fields
                    .iter()
                    .position(|f| f == field)
                    .map(|i| metric_alias(&sel.metrics[i]))
                    .unwrap_or_else(|| name.clone()),
                other => sel
                    .dim_fields
                    .iter()
                    .position(|f| f == field)
                    .map(|i| sel.dims[i].clone())
                    .unwrap_or_else(|| reference(other).unwrap_or_default().to_string()),
            };
            // The text form (`-field` for descending) reads the same whatever
            // the structured form's shape.
            q.order_by
                .push(OrderBy::Text(if desc { format!("-{name}") } else { name }));
        }
    }
    q.limit = non_negative(ctx, "limit")?;
    q.offset = non_negative(ctx, "offset")?;
    if let Some(tr) = json_arg(ctx, "timeRange")? {
        let s = |k: &str| tr.get(k).and_then(Json::as_str).map(str::to_string);
        q.time_range = Some(TimeRange {
            start: s("start"),
            end: s("end"),
        });
    }
    let text = |name: &str| -> Result<Option<String>, Error> {
        match ctx.args.get(name).filter(|v| !v.is_null()) {
            Some(v) => v
                .string()
                .map(|s| Some(s.to_string()))
                .map_err(|e| invalid("invalid_query", e.message)),
            None => Ok(None),
        }
    };
    q.purpose = text("purpose")?;
    q.time_zone = text("timeZone")?;
    q.week_start = text("weekStart")?;
    Ok((q, sel))
}

fn float(f: f64) -> Value {
    async_graphql::Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A result cell as the GraphQL type of its field.
fn convert(cell: &Cell, member: &Member) -> Value {
    use rust_decimal::prelude::ToPrimitive;
    let as_float = |c: &Cell| match c {
        Cell::Int(i) => float(*i as f64),
        // Through the decimal text, so the float is the nearest to it.
        Cell::Decimal(d) => d
            .normalize()
            .to_string()
            .parse::<f64>()
            .map(float)
            .unwrap_or(Value::Null),
        Cell::Float(f) => float(*f),
        Cell::Bool(b) => float(if *b { 1.0 } else { 0.0 }),
        Cell::Text(t) => t.parse::<f64>().map(float).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    match (cell, member) {
        (Cell::Null, _) => Value::Null,
        (Cell::Int(i), Member::Metric { integer: true, .. }) => Value::from(*i),
        (Cell::Decimal(d), Member::Metric { integer: true, .. }) if d.fract().is_zero() => d
            .to_i64()
            .map(Value::from)
            .unwrap_or_else(|| as_float(cell)),
        (Cell::Float(f), Member::Metric { integer: true, .. })
            if f.fract() == 0.0 && f.abs() < 9e15 =>
        {
            Value::from(*f as i64)
        }
        (_, Member::Metric { .. }) => as_float(cell),
        (
            _,
            Member::Dimension {
                ty: DimType::Number,
                ..
            },
        ) => as_float(cell),
        (
            Cell::Bool(b),
            Member::Dimension {
                ty: DimType::Boolean,
                ..
            },
        ) => Value::Boolean(*b),
        (other, _) => Value::String(other.to_text()),
    }
}

/// A resolver's error becomes the field's `null` plus an error with the
/// field's path, so the other fields keep their data.
pub fn recover<'a>(
    ctx: &ResolverContext<'a>,
    result: Result<Option<FieldValue<'a>>, Error>,
) -> Result<Option<FieldValue<'a>>, Error> {
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let err = ctx
                .ctx
                .set_error_path(e.into_server_error(ctx.ctx.item.pos));
            ctx.ctx.add_error(err);
            Ok(None)
        }
    }
}

/// Resolver of a model's root field.
pub fn model_field(ctx: ResolverContext<'_>, spec: Arc<ModelSpec>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let result = run_model_field(&ctx, &spec).await;
        recover(&ctx, result)
    })
}

async fn run_model_field<'a>(
    ctx: &ResolverContext<'a>,
    spec: &ModelSpec,
) -> Result<Option<FieldValue<'a>>, Error> {
    {
        let started = Instant::now();
        let data = ctx.data::<Arc<ReqData>>()?.clone();
        let (q, sel) = build_query(ctx, spec)?;
        let who = data
            .caller
            .subject
            .clone()
            .unwrap_or_else(|| "anonymous".into());
        let (executed, hit, used) = match crate::run(&data.state, &q, &data.caller).await {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(target: "accord::audit", caller = %who, interface = "graphql", metrics = ?q.metrics, error = e.code.name(), "query refused");
                return Err(from_service(&e));
            }
        };
        tracing::info!(
            target: "accord::audit",
            caller = %who,
            interface = "graphql",
            metrics = ?q.metrics,
            dimensions = ?q.dimensions,
            sql_hash = %executed.sql_hash,
            rows = executed.result.rows.len(),
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            cache = if hit { "hit" } else { "miss" },
            "query"
        );
        let response_key = ctx.ctx.item.node.response_key().node.to_string();
        data.note(
            &response_key,
            hit,
            &executed.warnings,
            executed.result.truncated,
            &used.version,
        );
        data.note_nulls(&response_key, &executed.nulls);
        // Failing data quality checks this answer depends on (src/checks).
        data.warn(&crate::monitor::warnings_for(
            &data.state,
            &data.catalog,
            &q.metrics,
            &data.caller.for_query(&q),
        ));
        // Plan columns are the dimensions then the metrics, in query order.
        let position = |plan_index: usize| -> Option<usize> {
            let name = &executed.columns.get(plan_index)?.name;
            executed.result.columns.iter().position(|c| c.name == *name)
        };
        let mut keys = HashMap::new();
        let mut cols: Vec<(Option<usize>, &Member)> = Vec::new();
        for (key, col) in &sel.keys {
            let (plan_index, field) = match col {
                Col::Dim(i) => (*i, &sel.dim_fields[*i]),
                Col::Metric(i) => (sel.dims.len() + *i, &sel.metric_fields[*i]),
            };
            let Some(member) = spec.members.get(field) else {
                continue;
            };
            keys.insert(key.clone(), cols.len());
            cols.push((position(plan_index), member));
        }
        let keys = Arc::new(keys);
        let rows: Vec<FieldValue<'_>> = executed
            .result
            .rows
            .iter()
            .map(|r| {
                let values = cols
                    .iter()
                    .map(|(pos, member)| match pos.and_then(|p| r.get(p)) {
                        Some(cell) => convert(cell, member),
                        None => Value::Null,
                    })
                    .collect();
                FieldValue::owned_any(Row {
                    keys: keys.clone(),
                    values,
                })
            })
            .collect();
        Ok(Some(FieldValue::list(rows)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_values_stay_typed_values() {
        let v = Json::from("50%_'\\--/*");
        let f = structured("customers.country", "contains", &v)
            .unwrap()
            .unwrap();
        let c = typed(f).unwrap();
        assert_eq!(c.values, vec![FilterValue::String("50%_'\\--/*".into())]);
        assert_eq!(c.op, FilterOp::Contains);
    }

    #[test]
    fn a_granularity_names_the_grain_its_operators_compare() {
        let cond = |v: serde_json::Value| v.as_object().unwrap().clone();
        let fs = field_filters(
            "metric_time",
            &cond(
                serde_json::json!({"granularity": "DAY", "gte": "2025-01-01", "lt": "2025-02-01"}),
            ),
        )
        .unwrap();
        assert_eq!(fs.len(), 2);
        assert!(
            fs.iter().all(|f| f.dimension == "metric_time:day"),
            "{fs:?}"
        );
        let plain = field_filters(
            "metric_time",
            &cond(serde_json::json!({"gte": "2025-01-01"})),
        );
        assert_eq!(plain.unwrap()[0].dimension, "metric_time");
        assert!(
            field_filters(
                "metric_time",
                &cond(serde_json::json!({"granularity": "FORTNIGHT"}))
            )
            .is_err()
        );
    }
}

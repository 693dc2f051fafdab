//! Metadata fields (`metrics`, `dimensions`, `models`) and `compile`: the
//! catalog as the caller may see it, like GET /v1/catalog, and the SQL a
//! query compiles to, like POST /v1/compile.

use std::sync::Arc;

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};
use async_graphql::{Error, Value};
use serde_json::{Value as Json, json};

use super::ReqData;
use super::errors::{coded, from_api, from_service};
use super::schema::Member;
use crate::catalog::DimensionKind;
use crate::dialect::DialectKind;
use crate::problem::ApiError;
use crate::query::SemanticQuery;

fn list(items: Vec<Json>) -> Result<Option<FieldValue<'static>>, Error> {
    let values = items
        .into_iter()
        .map(|j| Value::from_json(j).map(FieldValue::value))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::new(e.to_string()))?;
    Ok(Some(FieldValue::list(values)))
}

fn string_arg(ctx: &ResolverContext<'_>, name: &str) -> Option<String> {
    ctx.args
        .get(name)
        .and_then(|v| v.string().ok().map(str::to_string))
}

fn with_access<T>(
    data: &ReqData,
    f: impl FnOnce(&crate::CatalogView) -> Result<T, Error>,
) -> Result<T, Error> {
    let view = super::visibility_access(&data.catalog, &data.caller)
        .map_err(|e| from_service(&crate::ServiceError::from(e)))?;
    f(&view)
}

/// GraphQL field names of each metric and dimension, from the layout.
/// (metric name, row field, root field) for each metric on each model.
type MetricNames = Vec<(String, String, String)>;
/// (`model.dimension`, row field).
type DimensionNames = Vec<(String, String)>;

fn graphql_names(data: &ReqData) -> (MetricNames, DimensionNames) {
    let mut metrics = Vec::new();
    let mut dims = Vec::new();
    for spec in &data.layout.models {
        for (field, m) in &spec.members {
            match m {
                Member::Metric { name, .. } => {
                    metrics.push((name.clone(), field.clone(), spec.field.clone()))
                }
                Member::Dimension { reference, .. } => {
                    dims.push((reference.clone(), field.clone()))
                }
                Member::MetricTime => {}
            }
        }
    }
    (metrics, dims)
}

pub fn metrics(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let data = ctx.data::<Arc<ReqData>>()?.clone();
        let wanted = string_arg(&ctx, "name");
        let (names, _) = graphql_names(&data);
        let items = with_access(&data, |view| {
            Ok(view
                .metrics()
                .into_iter()
                .filter(|m| wanted.as_ref().is_none_or(|w| *w == m.name))
                .map(|m| {
                    let on: Vec<&(String, String, String)> =
                        names.iter().filter(|(n, ..)| *n == m.name).collect();
                    let mut entry = view.metric_entry(m);
                    entry["graphqlField"] = json!(
                        on.first()
                            .map(|x| x.1.clone())
                            .unwrap_or_else(|| m.name.clone())
                    );
                    entry["graphqlModels"] =
                        json!(on.iter().map(|x| x.2.clone()).collect::<Vec<_>>());
                    entry
                })
                .collect::<Vec<_>>())
        })?;
        list(items)
    })
}

pub fn dimensions(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let data = ctx.data::<Arc<ReqData>>()?.clone();
        let wanted = string_arg(&ctx, "model");
        let c = &data.catalog;
        let (_, names) = graphql_names(&data);
        let field_of = |reference: &str| {
            names
                .iter()
                .find(|(r, _)| r == reference)
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| reference.replace('.', "__"))
        };
        let items = with_access(&data, |view| {
            let access = &view.access;
            let mut out = Vec::new();
            for m in &c.models {
                if wanted.as_ref().is_some_and(|w| *w != m.name) {
                    continue;
                }
                for d in m
                    .dimensions
                    .iter()
                    .filter(|d| access.dimension_visible(m.id, &d.name))
                {
                    let reference = format!("{}.{}", m.name, d.name);
                    out.push(json!({
                        "name": reference,
                        "model": m.name,
                        "dimension": d.name,
                        "type": d.kind.name(),
                        "granularity": match d.kind { DimensionKind::Time { granularity } => Some(granularity.name()), _ => None },
                        "label": d.label,
                        "description": d.description,
                        "pii": d.pii,
                        "masked": access.mask(m.id, &d.name).is_some(),
                        "tags": d.tags,
                        "graphqlField": field_of(&reference),
                    }));
                }
                for e in m.entities.iter().filter(|e| e.keys.len() == 1) {
                    if m.dimension(&e.name).is_some() || !access.dimension_visible(m.id, &e.name) {
                        continue;
                    }
                    let reference = format!("{}.{}", m.name, e.name);
                    out.push(json!({
                        "name": reference,
                        "model": m.name,
                        "dimension": e.name,
                        "type": "entity",
                        "description": e.description,
                        "pii": false,
                        "masked": false,
                        "tags": [],
                        "graphqlField": field_of(&reference),
                    }));
                }
            }
            Ok(out)
        })?;
        list(items)
    })
}

pub fn models(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let data = ctx.data::<Arc<ReqData>>()?.clone();
        let c = &data.catalog;
        let items = with_access(&data, |view| {
            let access = &view.access;
            Ok(c.models
                .iter()
                .filter(|m| access.model_visible(m.id))
                .map(|m| {
                    let spec = data.layout.models.iter().find(|s| s.model == m.id);
                    let metrics: Vec<String> = spec
                        .map(|s| {
                            s.members
                                .values()
                                .filter_map(|x| match x {
                                    Member::Metric { name, rep, .. }
                                        if access.metric_visible(*rep) =>
                                    {
                                        Some(name.clone())
                                    }
                                    _ => None,
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let dims: Vec<String> = m
                        .dimensions
                        .iter()
                        .filter(|d| access.dimension_visible(m.id, &d.name))
                        .map(|d| d.name.clone())
                        .collect();
                    json!({
                        "name": m.name,
                        "description": m.description,
                        "owner": m.owner,
                        "graphqlField": if metrics.is_empty() { None } else { spec.map(|s| s.field.clone()) },
                        "dimensions": dims,
                        "metrics": metrics,
                    })
                })
                .collect::<Vec<_>>())
        })?;
        list(items)
    })
}

/// `SemanticQueryInput` (camelCase) as the REST body (snake_case).
pub(super) fn semantic_query(input: Json) -> Result<SemanticQuery, Error> {
    let mut obj = match input {
        Json::Object(o) => o,
        _ => {
            return Err(coded(
                "invalid_request",
                422,
                "query must be an object".into(),
                Some("query".into()),
            ));
        }
    };
    obj.retain(|_, v| !v.is_null());
    for (from, to) in [
        ("timeRange", "time_range"),
        ("orderBy", "order_by"),
        ("timeZone", "time_zone"),
        ("weekStart", "week_start"),
    ] {
        if let Some(v) = obj.remove(from) {
            obj.insert(to.to_string(), v);
        }
    }
    if let Some(Json::Array(filters)) = obj.get_mut("filters") {
        for f in filters.iter_mut() {
            if let Json::Object(fo) = f {
                fo.retain(|_, v| !v.is_null());
            }
        }
    }
    serde_json::from_value(Json::Object(obj)).map_err(|e| {
        coded(
            "invalid_request",
            422,
            format!("query: {e}"),
            Some("query".into()),
        )
    })
}

pub fn compile(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let result = run_compile(&ctx);
        super::resolve::recover(&ctx, result)
    })
}

fn run_compile<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>, Error> {
    {
        let data = ctx.data::<Arc<ReqData>>()?.clone();
        let input = ctx
            .args
            .try_get("query")?
            .as_value()
            .clone()
            .into_json()
            .map_err(|e| Error::new(e.to_string()))?;
        let q = semantic_query(input)?;
        let dialect = match string_arg(ctx, "dialect") {
            None => data.state.warehouse.dialect(),
            Some(d) => d.parse::<DialectKind>().map_err(|m| {
                let mut e = ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown_dialect",
                    m,
                );
                e.field = Some("dialect".into());
                e.suggestions =
                    crate::diagnostics::closest(&d, DialectKind::ALL.iter().map(|k| k.name()));
                from_api(&e)
            })?,
        };
        let caller = data.caller.for_query(&q);
        let (plan, sql) = crate::planner::compile(&data.catalog, &q, &caller, dialect)
            .map_err(|e| from_service(&crate::ServiceError::from(e)))?;
        data.warn(&plan.warnings);
        let v = json!({
            "sql": sql,
            "dialect": dialect.name(),
            "sqlHash": crate::execute::sql_hash(&sql),
            "definitionsVersion": data.catalog.version,
            "columns": plan.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "models": plan.models,
            "warnings": plan.warnings,
            "policies": plan.policies,
        });
        let v = Value::from_json(v).map_err(|e| Error::new(e.to_string()))?;
        Ok(Some(FieldValue::value(v)))
    }
}

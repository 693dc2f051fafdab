//! Funnels and retention analyses over GraphQL: `funnel(name: ..)` and
//! `retention(name: ..)` run one like `POST /v1/query` with `{"funnel": ..}`
//! (same planner, cache and policies) and answer an `AnalysisResult`
//! (column names and rows); `analyses` lists the ones the caller may run.

use std::sync::Arc;

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::{Error, Value};
use serde_json::{Map, Value as Json, json};

use super::ReqData;
use super::errors::{coded, from_service};

pub const RESULT_TYPE: &str = "AnalysisResult";

fn prop(name: &str, ty: TypeRef) -> Field {
    let key = name.to_string();
    Field::new(name, ty, move |ctx| {
        let v = match ctx.parent_value.as_value() {
            Some(Value::Object(map)) => map.get(key.as_str()).cloned(),
            _ => None,
        };
        FieldFuture::from_value(v.filter(|v| *v != Value::Null))
    })
}

pub fn result_type() -> Object {
    let list = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    Object::new(RESULT_TYPE)
        .description("The rows of a funnel or retention analysis (docs/analysis.md).")
        .field(prop("columns", list()).description("Column names, in row order."))
        .field(
            prop("rows", TypeRef::named_nn("JSON"))
                .description("One array of values per row; decimals as strings."),
        )
        .field(prop(
            "definitionsVersion",
            TypeRef::named_nn(TypeRef::STRING),
        ))
        .field(prop("sqlHash", TypeRef::named_nn(TypeRef::STRING)))
        .field(prop("warnings", list()))
}

/// The root field `funnel` or `retention`.
pub fn field(kind: &'static str) -> Field {
    Field::new(kind, TypeRef::named(RESULT_TYPE), move |ctx| {
        FieldFuture::new(async move {
            let result = run(&ctx, kind).await;
            super::resolve::recover(&ctx, result)
        })
    })
    .description(match kind {
        "funnel" => "Runs a funnel: per step, the entities reaching it, conversions and the median time from the previous step.",
        _ => "Runs a retention analysis: the cohort × period matrix.",
    })
    .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
    .argument(InputValue::new("filters", TypeRef::named_nn_list("FilterInput")))
    .argument(InputValue::new("where", TypeRef::named(TypeRef::STRING)))
    .argument(InputValue::new("timeRange", TypeRef::named("TimeRangeInput")))
    .argument(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
    .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
    .argument(InputValue::new("purpose", TypeRef::named(TypeRef::STRING)))
    .argument(super::schema::time_zone_arg())
}

/// `analyses`: the funnels and retention analyses the caller may run.
pub fn list_field() -> Field {
    Field::new("analyses", TypeRef::named_nn("JSON"), |ctx| {
        FieldFuture::new(async move {
            let data = ctx.data::<Arc<ReqData>>()?.clone();
            let access = crate::access::Access::resolve(&data.catalog, &data.caller)
                .map_err(|e| from_service(&crate::ServiceError::from(e)))?;
            let v = crate::planner::analysis_catalog(&data.catalog, &access);
            let v = Value::from_json(v).map_err(|e| Error::new(e.to_string()))?;
            Ok(Some(FieldValue::value(v)))
        })
    })
    .description("The funnels and retention analyses you may run, as GET /v1/catalog lists them.")
}

async fn run<'a>(ctx: &ResolverContext<'a>, kind: &str) -> Result<Option<FieldValue<'a>>, Error> {
    let data = ctx.data::<Arc<ReqData>>()?.clone();
    let mut body = Map::new();
    for (arg, key) in [
        ("name", kind),
        ("filters", "filters"),
        ("where", "where"),
        ("timeRange", "time_range"),
        ("limit", "limit"),
        ("offset", "offset"),
        ("purpose", "purpose"),
        ("timeZone", "time_zone"),
    ] {
        if let Some(v) = ctx.args.get(arg) {
            let v = v
                .as_value()
                .clone()
                .into_json()
                .map_err(|e| Error::new(e.to_string()))?;
            if !v.is_null() {
                body.insert(key.to_string(), v);
            }
        }
    }
    if let Some(Json::Array(filters)) = body.get_mut("filters") {
        for f in filters.iter_mut() {
            if let Json::Object(fo) = f {
                fo.retain(|_, v| !v.is_null());
            }
        }
    }
    let q: crate::query::SemanticQuery = serde_json::from_value(Json::Object(body))
        .map_err(|e| coded("invalid_request", 422, e.to_string(), None))?;
    let (executed, _hit, used) = crate::run(&data.state, &q, &data.caller)
        .await
        .map_err(|e| from_service(&e))?;
    data.warn(&executed.warnings);
    let v = json!({
        "columns": executed.result.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "rows": executed.result.rows,
        "definitionsVersion": used.version,
        "sqlHash": executed.sql_hash,
        "warnings": executed.warnings,
    });
    let v = Value::from_json(v).map_err(|e| Error::new(e.to_string()))?;
    Ok(Some(FieldValue::value(v)))
}

//! `attributed(query: SemanticQueryInput!)`: an attributed query (see
//! docs/attribution.md) over GraphQL. Its columns depend on the metrics and
//! instances asked for (`revenue__linear_30d`), so the result is JSON
//! (`columns`, `rows`) rather than a typed row; it runs through
//! [`crate::QueryService::answer`] like every other query.

use std::sync::Arc;

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};
use async_graphql::{Error, Value};
use serde_json::json;

use super::ReqData;
use super::errors::{coded, from_service};

pub fn attributed(ctx: ResolverContext<'_>) -> FieldFuture<'_> {
    FieldFuture::new(async move {
        let result = run(&ctx).await;
        super::resolve::recover(&ctx, result)
    })
}

async fn run<'a>(ctx: &ResolverContext<'a>) -> Result<Option<FieldValue<'a>>, Error> {
    let data = ctx.data::<Arc<ReqData>>()?.clone();
    let input = ctx
        .args
        .try_get("query")?
        .as_value()
        .clone()
        .into_json()
        .map_err(|e| Error::new(e.to_string()))?;
    let q = super::meta::semantic_query(input)?;
    if q.attribution.is_empty() {
        return Err(coded(
            "invalid_request",
            422,
            "`attributed` needs `attribution`: the attribution instances to credit the metrics with".into(),
            Some("query.attribution".into()),
        ));
    }
    let (executed, hit, used) = crate::run(&data.state, &q, &data.caller)
        .await
        .map_err(|e| from_service(&e))?;
    let key = ctx.ctx.item.node.response_key().node.to_string();
    data.note(
        &key,
        hit,
        &executed.warnings,
        executed.result.truncated,
        &used.version,
    );
    let v = json!({
        "columns": executed.result.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        "rows": executed.result.rows,
        "definitionsVersion": used.version,
    });
    let v = Value::from_json(v).map_err(|e| Error::new(e.to_string()))?;
    Ok(Some(FieldValue::value(v)))
}

//! `GET /readyz`: whether this server can answer, and for which models.
//!
//! The status: `503` while the warehouse does not answer `SELECT 1` — a
//! passing state a load balancer should route around. A warehouse that
//! answers but lacks tables or columns the definitions read is `200` with
//! `"status": "degraded"`: that is the same on every replica and only an
//! operator fixes it, so failing readiness (Kubernetes takes the pod out of
//! the Service, forever) would stop the models that are fine as well and
//! help no one. Alert on `status` or on the `accord_models_unavailable`
//! gauge instead.
//!
//! Governance holds here too: a caller is shown the models it may see
//! (`Access::model_visible`, as in the catalog) with what they lack, and
//! only counts of the others; a caller without a role, or with an invalid
//! token (probes send none), gets counts only. The check is cached
//! ([`crate::schema::RECHECK_AFTER`]), so probes do not read the
//! warehouse's catalog on every hit.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::access::{Access, Caller};
use crate::catalog::Catalog;
use crate::handlers::caller_of;
use crate::problem::ApiError;
use crate::schema::SchemaReport;
use crate::state::QueryService;

pub async fn readyz(
    State(state): State<Arc<QueryService>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.warehouse.ping().await?;
    let report = state.schema_report().await;
    let caller = caller_of(&state, &headers).ok();
    let catalog = state.catalog();
    let degraded = report.serving().is_some_and(|s| !s.is_complete());
    Ok(Json(json!({
        "status": if degraded { "degraded" } else { "ready" },
        "definitions_version": state.reload_status().version,
        "warehouse": state.warehouse.url().redacted(),
        "schema": schema(&report, &catalog, caller.as_ref()),
    }))
    .into_response())
}

/// The check as `caller` may see it.
fn schema(report: &SchemaReport, catalog: &Catalog, caller: Option<&Caller>) -> Value {
    let serving = match &report.outcome {
        Ok(s) => s,
        Err(_) => {
            return json!({
                "checked_at": report.checked_at,
                "error": "the warehouse's tables could not be read; the server log has the details",
            });
        }
    };
    let access = caller.and_then(|c| Access::resolve(catalog, c).ok());
    let visible = |model: &str| {
        let id = catalog.model_by_name(model).map(|m| m.id);
        matches!((&access, id), (Some(a), Some(id)) if a.model_visible(id))
    };
    let shown: Vec<Value> = serving
        .gaps
        .iter()
        .filter(|g| visible(&g.model))
        .map(|g| {
            let missing: Vec<Value> = g
                .findings
                .iter()
                .map(|f| json!({"field": f.finding.diagnostic.field, "message": f.finding.diagnostic.message}))
                .collect();
            json!({"model": g.model, "answers_nothing": g.blocked, "missing": missing})
        })
        .collect();
    // The command names the warehouse (shown above anyway) and may name
    // the definitions directory: only for a caller shown every model.
    let fix = match shown.len() == serving.gaps.len() {
        true => serving.fix.text(),
        false => serving.fix.brief().to_string(),
    };
    let mut out = json!({
        "checked_at": report.checked_at,
        "models": serving.models,
        "unavailable": serving.gaps.len(),
        "missing": shown,
    });
    if !serving.gaps.is_empty() {
        out["fix"] = json!(fix);
    }
    out
}

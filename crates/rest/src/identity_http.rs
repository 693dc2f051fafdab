//! `GET /v1/identity/health`: the health report of the identity map.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::access::Access;
use crate::handlers::Authed;
use crate::identity::IdentityError;
use crate::problem::ApiError;
use crate::state::QueryService;

#[derive(Debug, Deserialize)]
pub struct HealthParams {
    /// How many of the largest clusters to list (default 10, at most 100).
    #[serde(default)]
    pub top: Option<usize>,
}

/// A caller held to policies (row filters, a purpose that needs consent,
/// `min_group_size`) gets the report over the people those policies let it
/// see ([`crate::planner::people_scope`], see docs/identity.md). Canonical
/// ids are keys of the stitched entity (customer ids): a caller who may not
/// see that entity on every model carrying it gets cluster sizes without ids.
pub async fn health(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
    Query(p): Query<HealthParams>,
) -> Result<Response, ApiError> {
    let catalog = state.catalog();
    let access = Access::resolve(&catalog, &caller)?;
    let ids_visible = catalog.identity.as_ref().is_some_and(|i| {
        catalog
            .models
            .iter()
            .filter(|m| m.entity(&i.entity).is_some())
            .all(|m| access.dimension_visible(m.id, &i.entity))
    });
    let scope = match catalog.identity {
        Some(_) => crate::planner::people_scope(&catalog, &caller)?,
        None => None,
    };
    let top = p.top.unwrap_or(10).min(100);
    let mut report =
        crate::identity::health_scoped(&catalog, &state.warehouse, top, scope.as_ref())
            .await
            .map_err(|e| match e {
                IdentityError::NoDefinition => {
                    ApiError::new(StatusCode::NOT_FOUND, "no_identity", e.to_string())
                }
                IdentityError::Warehouse(w) => ApiError::from(w),
                other => ApiError::logged(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "identity_unavailable",
                    "the identity map cannot be read; has `accord identity build` run?",
                    &other,
                ),
            })?;
    if !ids_visible {
        for c in &mut report.largest_clusters {
            c.canonical_id = None;
        }
    }
    Ok(Json(report).into_response())
}

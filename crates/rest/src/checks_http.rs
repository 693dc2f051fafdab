//! `GET /v1/checks`: the scheduled checks' latest run and history, as the
//! caller may see them (accord-service's `monitor::report_for`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::handlers::Authed;
use crate::problem::ApiError;
use crate::state::QueryService;

pub async fn handler(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let body = crate::monitor::report_for(&state, &caller)?;
    Ok(Json(body).into_response())
}

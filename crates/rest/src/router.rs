//! The HTTP router and the middleware every HTTP request passes.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::handlers;
use crate::state::QueryService;
use crate::telemetry;

async fn record(State(state): State<Arc<QueryService>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let resp = next.run(req).await;
    let labels = telemetry::RouteLabels {
        route,
        status: resp.status().as_u16(),
    };
    state.telemetry.requests.get_or_create(&labels).inc();
    state
        .telemetry
        .latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// Every error leaves as problem+json, including the ones axum's own
/// extractors produce (path and query string rejections, 405).
async fn problem_only(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_problem = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return resp;
    }
    let code = match status {
        axum::http::StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        axum::http::StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal_error",
        _ => "invalid_request",
    };
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 64 << 10)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let detail = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    // A server error's text is for the log, not the caller.
    let mut problem = if status.is_server_error() {
        crate::problem::ApiError::logged(status, code, "internal error", &detail)
    } else {
        crate::problem::ApiError::new(status, code, detail.clone())
    };
    // Extractors name the parameter at fault as "field `x`".
    if let Some(rest) = detail.split("field `").nth(1)
        && let Some(end) = rest.find('`')
    {
        problem.field = Some(rest[..end].to_string());
    }
    let mut out = problem.into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        out.headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}

/// A panic in a handler becomes a 500 problem instead of a dropped
/// connection; the server keeps running either way.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::problem::ApiError::logged(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal error",
        &"a request handler panicked",
    )
    .into_response()
}

/// The HTTP router: REST's routes plus `extra` (the GraphQL endpoint, mounted
/// by the binary), behind one stack of middleware (request ids, problem+json
/// for every error, panics caught, telemetry, body limit).
pub fn router(state: Arc<QueryService>, extra: Router<Arc<QueryService>>) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .merge(extra)
        .route("/v1/query", post(handlers::query))
        .route("/v1/compile", post(handlers::compile))
        .route("/v1/catalog", get(handlers::catalog))
        .route("/v1/catalog/status", get(handlers::catalog_status))
        .route("/v1/catalog/metrics/{name}", get(handlers::catalog_metric))
        .route("/v1/catalog/lineage/{metric}", get(handlers::catalog_lineage))
        .route("/v1/checks", get(crate::checks_http::handler))
        .route("/v1/identity/health", get(crate::identity_http::health))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(crate::ready::readyz))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn(problem_only))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(crate::problem::with_request_id))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

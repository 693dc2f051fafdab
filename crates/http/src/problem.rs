//! API errors as RFC 9457 problem+json: a stable `code`, a human message,
//! the offending field and suggestions. User mistakes are 4xx, warehouse
//! trouble 502/503/504; nothing a caller sends produces a 500.
//!
//! What callers see and what operators see differ: an error the caller did
//! not cause (warehouse, engine, internal) leaves with a fixed, safe
//! message — never SQL, engine text or file paths — and the request id;
//! the full detail is logged (`accord::errors`) under that id.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::execute::ExecError;
use crate::failure::ServiceError;
use crate::planner::PlanError;
use crate::warehouse::WarehouseError;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// The id the server log files this request's details under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field: Option<String>,
    pub suggestions: Vec<String>,
    /// Set for errors whose detail went to the log only ([`ApiError::logged`]).
    pub request_id: Option<String>,
}

use crate::failure::REQUEST_ID;
pub use crate::failure::request_id;

/// Middleware: runs the request with its id in scope (so errors can log
/// under it) and puts the id into every problem+json body it answers with.
/// Sits inside `SetRequestIdLayer`, which gave the request its id.
pub async fn with_request_id(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(id) = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return next.run(req).await;
    };
    let resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !is_problem {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let body = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut o)) => {
            o.entry("request_id")
                .or_insert(serde_json::Value::String(id));
            serde_json::to_vec(&o).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            field: None,
            suggestions: Vec::new(),
            request_id: None,
        }
    }

    /// An error the caller did not cause: the caller gets `safe` and the
    /// request id; the log gets `detail` (SQL, engine text, paths) under
    /// that id.
    pub fn logged(
        status: StatusCode,
        code: &'static str,
        safe: &str,
        detail: &dyn std::fmt::Display,
    ) -> Self {
        let id = request_id();
        if status.is_server_error() {
            tracing::error!(target: "accord::errors", request_id = %id, code, detail = %detail, "request failed");
        } else {
            tracing::warn!(target: "accord::errors", request_id = %id, code, detail = %detail, "request refused");
        }
        ApiError {
            request_id: Some(id.clone()),
            ..ApiError::new(
                status,
                code,
                format!("{safe} (request id {id}; the server log has the details)"),
            )
        }
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("/problems/{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            field: self.field.clone(),
            suggestions: self.suggestions.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl From<ServiceError> for ApiError {
    /// The one mapping of the service's errors onto HTTP.
    fn from(e: ServiceError) -> Self {
        let status =
            StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code: e.code.name(),
            detail: e.message,
            field: e.field,
            suggestions: e.suggestions,
            request_id: e.logged.map(|l| l.request_id),
        }
    }
}

/// Errors of the layers below reach HTTP through [`ServiceError`].
macro_rules! via_service {
    ($($t:ty),*) => {$(
        impl From<$t> for ApiError {
            fn from(e: $t) -> Self {
                ServiceError::from(e).into()
            }
        }
    )*};
}

via_service!(crate::auth::AuthError, PlanError, WarehouseError, ExecError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut resp = (self.status, Json(self.problem())).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if unauthorized {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"accord\""),
            );
        }
        resp
    }
}

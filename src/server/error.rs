//! API errors as RFC 9457 problem+json: a stable `code`, a human message,
//! the offending field and suggestions. User mistakes are 4xx, warehouse
//! trouble 502/503/504; nothing a caller sends produces a 500.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::execute::ExecError;
use crate::planner::{ErrorCode, PlanError};
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
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub field: Option<String>,
    pub suggestions: Vec<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
            field: None,
            suggestions: Vec::new(),
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
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        match e {
            crate::auth::AuthError::Unauthorized(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m)
            }
            crate::auth::AuthError::Config(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "auth_misconfigured", m)
            }
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        if e.code == ErrorCode::Forbidden {
            return ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                detail: e.message,
                field: e.field,
                suggestions: e.suggestions,
            };
        }
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: e.code.name(),
            detail: e.message,
            field: e.field,
            suggestions: e.suggestions,
        }
    }
}

impl From<WarehouseError> for ApiError {
    fn from(e: WarehouseError) -> Self {
        let (status, code) = match &e {
            WarehouseError::Unavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "warehouse_unavailable")
            }
            WarehouseError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "warehouse_timeout"),
            WarehouseError::Query { .. } => (StatusCode::BAD_GATEWAY, "warehouse_error"),
            WarehouseError::Config(_) => (StatusCode::SERVICE_UNAVAILABLE, "warehouse_unavailable"),
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Plan(p) => p.into(),
            ExecError::Warehouse(w) => w.into(),
        }
    }
}

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

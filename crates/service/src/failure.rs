//! The service's one error type. Every interface maps it once: REST to an
//! HTTP status and problem+json, GraphQL to `extensions.code`, the Postgres
//! endpoint to a SQLSTATE. Matches on [`ServiceCode`] are exhaustive, so a
//! new code cannot reach an interface unmapped.
//!
//! What callers see and what operators see differ: an error the caller did
//! not cause (warehouse, engine, internal) carries a fixed, safe message —
//! never SQL, engine text or file paths — and the request id; the detail
//! is logged (`accord::errors`) under that id when the error is made.

use std::fmt;

use crate::auth::AuthError;
use crate::error::{ErrorCode, PlanError};
use crate::execute::ExecError;
use crate::warehouse::WarehouseError;

/// Stable error classes of the service, beyond the planner's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceCode {
    /// The request's own mistake or refusal, as the planner classed it.
    Plan(ErrorCode),
    /// A request that is not a query at all (bad JSON shape, bad GraphQL).
    InvalidRequest,
    Unauthorized,
    AuthMisconfigured,
    WarehouseUnavailable,
    WarehouseTimeout,
    WarehouseError,
    /// A model the query reads lacks its table (or a column) in the
    /// warehouse: an operator must load or create it.
    ModelUnavailable,
    Internal,
}

impl ServiceCode {
    /// The stable name (`unknown_metric`, `warehouse_timeout`, …).
    pub fn name(self) -> &'static str {
        match self {
            ServiceCode::Plan(c) => c.name(),
            ServiceCode::InvalidRequest => "invalid_request",
            ServiceCode::Unauthorized => "unauthorized",
            ServiceCode::AuthMisconfigured => "auth_misconfigured",
            ServiceCode::WarehouseUnavailable => "warehouse_unavailable",
            ServiceCode::WarehouseTimeout => "warehouse_timeout",
            ServiceCode::WarehouseError => "warehouse_error",
            ServiceCode::ModelUnavailable => "model_unavailable",
            ServiceCode::Internal => "internal_error",
        }
    }

    /// The HTTP status both HTTP interfaces answer with (GraphQL reports it
    /// in `extensions.status`). `forbidden` is for refusals that are not
    /// about a name; hidden members are unknown names (422).
    pub fn http_status(self) -> u16 {
        match self {
            ServiceCode::Plan(ErrorCode::Forbidden) => 403,
            ServiceCode::Plan(_) | ServiceCode::InvalidRequest => 422,
            ServiceCode::Unauthorized => 401,
            ServiceCode::AuthMisconfigured
            | ServiceCode::WarehouseUnavailable
            | ServiceCode::ModelUnavailable => 503,
            ServiceCode::WarehouseTimeout => 504,
            ServiceCode::WarehouseError => 502,
            ServiceCode::Internal => 500,
        }
    }
}

/// An error on its way to a caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceError {
    pub code: ServiceCode,
    /// Safe to show: the planner's message, or a fixed text for errors the
    /// caller did not cause.
    pub message: String,
    /// The request field at fault (`metrics[0]`, …).
    pub field: Option<String>,
    pub suggestions: Vec<String>,
    /// Set when the detail went to the log only ([`ServiceError::logged`]).
    pub logged: Option<Box<Logged>>,
}

/// An error whose detail went to the log, under a request id.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub request_id: String,
    /// The detail (SQL, engine text). No interface shows it to a caller;
    /// only the operator's own terminal (`accord query`) prints it.
    pub detail: String,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceError {}

tokio::task_local! {
    /// The id of the request being served (HTTP `x-request-id`).
    pub static REQUEST_ID: String;
}

/// The id of the request this task serves: the HTTP request id inside a
/// request, else a fresh one (Postgres statements, background work).
pub fn request_id() -> String {
    REQUEST_ID
        .try_with(|id| id.clone())
        .unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

impl ServiceError {
    /// The id the log files this error's detail under.
    pub fn request_id(&self) -> Option<&str> {
        self.logged.as_ref().map(|l| l.request_id.as_str())
    }

    pub fn new(code: ServiceCode, message: impl Into<String>) -> Self {
        ServiceError {
            code,
            message: message.into(),
            field: None,
            suggestions: Vec::new(),
            logged: None,
        }
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// An error the caller did not cause: the caller gets `safe` and the
    /// request id; the log gets `detail` under that id.
    pub fn logged(code: ServiceCode, safe: &str, detail: &dyn fmt::Display) -> Self {
        let id = request_id();
        let name = code.name();
        if code.http_status() >= 500 {
            tracing::error!(target: "accord::errors", request_id = %id, code = name, detail = %detail, "request failed");
        } else {
            tracing::warn!(target: "accord::errors", request_id = %id, code = name, detail = %detail, "request refused");
        }
        ServiceError {
            logged: Some(Box::new(Logged {
                request_id: id.clone(),
                detail: detail.to_string(),
            })),
            ..ServiceError::new(
                code,
                format!("{safe} (request id {id}; the server log has the details)"),
            )
        }
    }
}

impl From<PlanError> for ServiceError {
    fn from(e: PlanError) -> Self {
        ServiceError {
            field: e.field,
            suggestions: e.suggestions,
            ..ServiceError::new(ServiceCode::Plan(e.code), e.message)
        }
    }
}

impl From<WarehouseError> for ServiceError {
    /// Warehouse messages carry generated SQL and engine text: logged, not
    /// shown.
    fn from(e: WarehouseError) -> Self {
        let (code, safe) = match &e {
            WarehouseError::Unavailable { .. }
            | WarehouseError::Config(_)
            | WarehouseError::Locked(_) => (
                ServiceCode::WarehouseUnavailable,
                "the warehouse is unavailable".to_string(),
            ),
            WarehouseError::Timeout { after, .. } => (
                ServiceCode::WarehouseTimeout,
                format!(
                    "the warehouse did not answer within {}s; the query was cancelled",
                    after.as_secs_f64()
                ),
            ),
            WarehouseError::Query { .. } => (
                ServiceCode::WarehouseError,
                "the warehouse could not run this query".to_string(),
            ),
        };
        ServiceError::logged(code, &safe, &e)
    }
}

impl From<ExecError> for ServiceError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Plan(p) => p.into(),
            ExecError::Warehouse(w) => w.into(),
        }
    }
}

impl From<AuthError> for ServiceError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized(m) => ServiceError::new(ServiceCode::Unauthorized, m),
            AuthError::Config(m) => ServiceError::logged(
                ServiceCode::AuthMisconfigured,
                "the server's authentication is not configured correctly",
                &m,
            ),
        }
    }
}

//! Errors as PostgreSQL reports them: a SQLSTATE, a message, and a hint
//! saying how to write the question instead.

use pgwire::error::{ErrorInfo, PgWireError, SEVERITY_ERROR, SEVERITY_FATAL};

use crate::planner::ErrorCode;
use crate::{ServiceCode, ServiceError};

pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const UNDEFINED_COLUMN: &str = "42703";
pub const UNDEFINED_TABLE: &str = "42P01";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
pub const SYNTAX_ERROR: &str = "42601";
pub const INVALID_AUTHORIZATION: &str = "28000";
pub const INVALID_PASSWORD: &str = "28P01";
pub const GROUPING_ERROR: &str = "42803";
pub const INVALID_PARAMETER_VALUE: &str = "22023";
pub const DATA_EXCEPTION: &str = "22000";
pub const UNDEFINED_OBJECT: &str = "42704";
pub const INTERNAL: &str = "XX000";
pub const CONNECTION_FAILURE: &str = "08006";
pub const QUERY_CANCELED: &str = "57014";
/// A statement beyond accord's size or depth limits.
pub const STATEMENT_TOO_COMPLEX: &str = "54001";

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct SqlError {
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl SqlError {
    pub fn new(code: &'static str, message: impl Into<String>) -> SqlError {
        SqlError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> SqlError {
        self.hint = Some(hint.into());
        self
    }

    pub fn unsupported(what: impl Into<String>, instead: impl Into<String>) -> SqlError {
        SqlError::new(FEATURE_NOT_SUPPORTED, what).hint(instead)
    }

    pub fn info(&self) -> ErrorInfo {
        let severity = if self.code.starts_with("28") {
            SEVERITY_FATAL
        } else {
            SEVERITY_ERROR
        };
        let mut info = ErrorInfo::new(severity.into(), self.code.into(), self.message.clone());
        info.hint = self.hint.clone();
        info
    }
}

impl From<SqlError> for PgWireError {
    fn from(e: SqlError) -> PgWireError {
        PgWireError::UserError(Box::new(e.info()))
    }
}

impl From<ServiceError> for SqlError {
    /// The one mapping of the service's errors onto SQLSTATEs.
    fn from(e: ServiceError) -> SqlError {
        let code = match e.code {
            ServiceCode::Plan(c) => match c {
                ErrorCode::Forbidden => INSUFFICIENT_PRIVILEGE,
                ErrorCode::UnknownMetric | ErrorCode::UnknownDimension => UNDEFINED_COLUMN,
                ErrorCode::AmbiguousReference => "42702",
                ErrorCode::UnreachableDimension | ErrorCode::Unsupported => FEATURE_NOT_SUPPORTED,
                ErrorCode::QueryTooComplex => STATEMENT_TOO_COMPLEX,
                ErrorCode::InvalidFilter | ErrorCode::InvalidQuery => "42P10",
            },
            ServiceCode::InvalidRequest => SYNTAX_ERROR,
            ServiceCode::Unauthorized => INVALID_AUTHORIZATION,
            ServiceCode::WarehouseTimeout => QUERY_CANCELED,
            ServiceCode::WarehouseUnavailable => CONNECTION_FAILURE,
            ServiceCode::WarehouseError => "58000",
            // object_not_in_prerequisite_state: the model exists, its
            // table does not (yet); 42P01 is an unknown table of ours.
            ServiceCode::ModelUnavailable => "55000",
            ServiceCode::AuthMisconfigured | ServiceCode::Internal => INTERNAL,
        };
        // The message of a warehouse or internal error is already safe (see
        // `ServiceError::logged`); its request id names the log entry.
        let mut out = SqlError::new(code, e.message.clone());
        if !e.suggestions.is_empty() {
            out.hint = Some(format!("did you mean {}?", e.suggestions.join(", ")));
        } else if let Some(id) = e.request_id() {
            out.hint = Some(format!(
                "the server log has the details under request id {id}"
            ));
        }
        out
    }
}

impl From<crate::planner::PlanError> for SqlError {
    fn from(e: crate::planner::PlanError) -> SqlError {
        ServiceError::from(e).into()
    }
}

pub type SqlResult<T> = Result<T, SqlError>;

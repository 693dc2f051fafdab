//! The one error type of compiling a query: a stable [`ErrorCode`] that
//! every interface maps once (HTTP status, SQLSTATE, GraphQL code), the
//! request field at fault and the closest valid names.

use serde::Serialize;
use thiserror::Error;

use crate::sql::render::RenderError;

/// Stable error classes; interfaces map them to status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UnknownMetric,
    UnknownDimension,
    AmbiguousReference,
    UnreachableDimension,
    InvalidFilter,
    InvalidQuery,
    Unsupported,
    /// The caller may not use a member, a purpose, or any role.
    Forbidden,
    /// Beyond a size or depth limit (see [`crate::limits`]).
    QueryTooComplex,
}

impl ErrorCode {
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::UnknownMetric => "unknown_metric",
            ErrorCode::UnknownDimension => "unknown_dimension",
            ErrorCode::AmbiguousReference => "ambiguous_reference",
            ErrorCode::UnreachableDimension => "unreachable_dimension",
            ErrorCode::InvalidFilter => "invalid_filter",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::QueryTooComplex => "query_too_complex",
        }
    }
}

#[derive(Debug, Clone, Error, PartialEq, Serialize)]
#[error("{message}")]
pub struct PlanError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault (`metrics[0]`, `dimensions[1]`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

impl PlanError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PlanError {
            code,
            message: message.into(),
            field: None,
            suggestions: Vec::new(),
        }
    }

    pub fn with_suggestions(mut self, s: Vec<String>) -> Self {
        self.suggestions = s;
        self
    }

    pub fn at(mut self, field: impl Into<String>) -> Self {
        if self.field.is_none() {
            self.field = Some(field.into());
        }
        self
    }

    pub fn suggestions(&self) -> &[String] {
        &self.suggestions
    }

    /// The message with its suggestions, for a terminal.
    pub fn display_full(&self) -> String {
        let mut s = self.message.clone();
        match self.suggestions.as_slice() {
            [] => {}
            [one] => s.push_str(&format!("; did you mean `{one}`?")),
            many => {
                let l: Vec<String> = many.iter().map(|x| format!("`{x}`")).collect();
                s.push_str(&format!("; did you mean one of {}?", l.join(", ")));
            }
        }
        s
    }
}

impl From<RenderError> for PlanError {
    fn from(e: RenderError) -> Self {
        let code = match e {
            RenderError::InvalidLiteral(_) => ErrorCode::InvalidFilter,
            _ => ErrorCode::Unsupported,
        };
        PlanError::new(code, e.to_string())
    }
}

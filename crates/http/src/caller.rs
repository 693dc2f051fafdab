//! Who is asking, from an HTTP request's bearer token.

use std::sync::Arc;

use axum::http::{HeaderMap, header};

use crate::access::Caller;
use crate::problem::ApiError;
use crate::state::QueryService;

/// The caller of a request: its bearer token, or anonymous.
pub fn caller_of(state: &QueryService, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    Ok(state.caller_from_bearer(auth)?)
}

/// The authenticated caller, extracted before the body is read so a bad
/// token is a 401 whatever else is wrong with the request.
pub struct Authed(pub Caller);

impl axum::extract::FromRequestParts<Arc<QueryService>> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<QueryService>,
    ) -> Result<Self, ApiError> {
        caller_of(state, &parts.headers).map(Authed)
    }
}

//! GraphQL errors with the REST API's problem codes in
//! `extensions.code` (plus `status`, the HTTP status REST would answer,
//! and `field`/`suggestions` when known).

use async_graphql::{Error, ErrorExtensionValues, ServerError, Value};

use super::schema::Built;
use crate::problem::ApiError;

fn extensions(
    code: &str,
    status: u16,
    field: Option<&str>,
    suggestions: &[String],
) -> ErrorExtensionValues {
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    ext.set("status", Value::from(status));
    // The id the server log files an error's details under.
    ext.set("requestId", crate::request_id());
    if let Some(f) = field {
        ext.set("field", f);
    }
    if !suggestions.is_empty() {
        ext.set(
            "suggestions",
            Value::List(
                suggestions
                    .iter()
                    .map(|s| Value::from(s.as_str()))
                    .collect(),
            ),
        );
    }
    ext
}

/// An error with a code.
pub fn coded(code: &'static str, status: u16, message: String, field: Option<String>) -> Error {
    Error {
        message,
        source: None,
        extensions: Some(extensions(code, status, field.as_deref(), &[])),
    }
}

/// The one mapping of a service error onto GraphQL: its code in
/// `extensions.code`, the HTTP status REST would answer in `status`.
pub fn from_service(e: &crate::ServiceError) -> Error {
    Error {
        message: e.message.clone(),
        source: None,
        extensions: Some(extensions(
            e.code.name(),
            e.code.http_status(),
            e.field.as_deref(),
            &e.suggestions,
        )),
    }
}

/// A problem (an HTTP-level error) as a GraphQL error.
pub fn from_api(e: &ApiError) -> Error {
    Error {
        message: e.detail.clone(),
        source: None,
        extensions: Some(extensions(
            e.code,
            e.status.as_u16(),
            e.field.as_deref(),
            &e.suggestions,
        )),
    }
}

/// A response that is only this error (before anything ran).
pub fn response(e: &ApiError) -> async_graphql::Response {
    let mut err = ServerError::new(e.detail.clone(), None);
    err.extensions = Some(extensions(
        e.code,
        e.status.as_u16(),
        e.field.as_deref(),
        &e.suggestions,
    ));
    async_graphql::Response::from_errors(vec![err])
}

fn has_code(e: &ServerError) -> bool {
    e.extensions
        .as_ref()
        .is_some_and(|x| x.get("code").is_some())
}

/// The two quoted names of `Unknown field "x" on type "T".` (or the input
/// form `unknown field "x" of type "T"`).
fn unknown_field(message: &str) -> Option<(&str, &str)> {
    let lower_start = message
        .find("Unknown field \"")
        .or_else(|| message.find("unknown field \""))?;
    let rest = &message[lower_start + "unknown field \"".len()..];
    let (field, rest) = rest.split_once('"')?;
    let rest = rest
        .strip_prefix(" on type \"")
        .or_else(|| rest.strip_prefix(" of type \""))?;
    let (ty, _) = rest.split_once('"')?;
    Some((field, ty))
}

/// Gives the errors async-graphql produced itself (parsing, validation,
/// limits) a code: `query_too_complex` for the depth and complexity limits,
/// `unknown_metric` / `unknown_dimension` / `unknown_field` for names that
/// do not exist or that the caller may not see (alike, see
/// `Built::classify_unknown`),
/// `invalid_filter` for a bad `where` value, else `invalid_query`.
pub fn classify(errors: &mut [ServerError], built: Option<&Built>) {
    for e in errors.iter_mut().filter(|e| !has_code(e)) {
        let m = e.message.as_str();
        let code = if m.starts_with("Query is nested too deep")
            || m.starts_with("Query is too complex")
            || m.starts_with("The recursion depth of the query")
            || m.contains("Recursion limit exceeded")
        {
            "query_too_complex"
        } else if let Some((field, ty)) = unknown_field(m) {
            match built {
                Some(_) if m.starts_with("Invalid value for argument \"where") => "invalid_filter",
                Some(b) => b.classify_unknown(ty, field),
                None => "unknown_field",
            }
        } else if m.starts_with("Invalid value for argument \"where") {
            "invalid_filter"
        } else {
            "invalid_query"
        };
        let mut ext = e.extensions.take().unwrap_or_default();
        ext.set("code", code);
        ext.set("status", Value::from(422));
        ext.set("requestId", crate::request_id());
        e.extensions = Some(ext);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_unknown_field_messages() {
        assert_eq!(
            unknown_field("Unknown field \"x\" on type \"OrdersRow\". Did you mean \"y\"?"),
            Some(("x", "OrdersRow"))
        );
        assert_eq!(
            unknown_field(
                "Invalid value for argument \"where\", unknown field \"a__b\" of type \"OrdersWhere\""
            ),
            Some(("a__b", "OrdersWhere"))
        );
    }
}

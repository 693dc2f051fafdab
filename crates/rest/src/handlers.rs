//! HTTP handlers: thin adapters from JSON to the one semantic query and
//! back. Everything that decides numbers lives in the planner.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::CatalogView;

use crate::dialect::DialectKind;
use crate::planner::{self, OutputColumn};
use crate::problem::ApiError;
use crate::query::SemanticQuery;
use crate::state::QueryService;

/// JSON body extractor whose rejections are problem+json with the right
/// status (400 malformed, 413 too large, 415 wrong content type, 422 shape).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(rej)),
        }
    }
}

fn json_rejection(rej: JsonRejection) -> ApiError {
    let status = rej.status();
    let (status, code) = match rej {
        // A filter tree over its limits is refused while it is read.
        JsonRejection::JsonDataError(ref e)
            if e.body_text().contains(crate::query::TOO_COMPLEX_MARK) =>
        {
            (StatusCode::UNPROCESSABLE_ENTITY, "query_too_complex")
        }
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        }
        _ => (StatusCode::BAD_REQUEST, "invalid_request"),
    };
    let detail = match code {
        "payload_too_large" => "the request body is larger than the server accepts".to_string(),
        _ => rej.body_text(),
    };
    let mut e = ApiError::new(status, code, detail.clone());
    // serde names an unknown key and the valid ones: surface them as the
    // field at fault and a suggestion.
    if let Some(rest) = detail.split("unknown field `").nth(1)
        && let Some(end) = rest.find('`')
    {
        let wanted = &rest[..end];
        e.field = Some(wanted.to_string());
        if let Some(list) = rest.split("expected one of ").nth(1) {
            let valid: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
            e.suggestions = crate::diagnostics::closest(wanted, valid);
        }
    }
    e
}

#[derive(Debug, Serialize)]
pub struct QueryMeta {
    pub sql_hash: String,
    pub definitions_version: String,
    pub cache: &'static str,
    pub duration_ms: f64,
    pub warehouse_ms: f64,
    pub row_count: usize,
    /// True when the result had more rows than were returned (the server's
    /// row limit cut it); page with `limit`/`offset`.
    pub truncated: bool,
    pub warnings: Vec<String>,
    /// Why metric values are NULL, counted per rule (also in `warnings`).
    pub nulls: Vec<crate::nulls::NullCount>,
}

#[derive(Debug, Serialize)]
struct QueryResponse<'a> {
    columns: &'a [crate::warehouse::Column],
    rows: &'a [Vec<crate::warehouse::Value>],
    meta: QueryMeta,
}

enum Format {
    Json,
    Csv,
    Arrow,
}

const ARROW_MIME: &str = "application/vnd.apache.arrow.stream";

fn negotiate(headers: &HeaderMap) -> Result<Format, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    for part in accept.split(',') {
        let mime = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match mime.as_str() {
            "application/json" | "*/*" | "application/*" | "" => return Ok(Format::Json),
            "text/csv" | "text/*" => return Ok(Format::Csv),
            ARROW_MIME => return Ok(Format::Arrow),
            _ => {}
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        format!("cannot produce `{accept}`; use application/json, text/csv or {ARROW_MIME}"),
    ))
}

pub use crate::caller::{Authed, caller_of};

pub async fn query(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
    headers: HeaderMap,
    ApiJson(q): ApiJson<SemanticQuery>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let format = negotiate(&headers)?;
    let who = caller.subject.clone().unwrap_or_else(|| "anonymous".into());
    let answer = match state.answer(&q, &caller).await {
        Ok(a) => a,
        Err(e) => {
            tracing::info!(target: "accord::audit", caller = %who, metrics = ?q.metrics, error = e.code.name(), "query refused");
            return Err(e.into());
        }
    };
    let crate::Answer {
        executed,
        cache_hit: hit,
        catalog,
        warnings,
    } = answer;
    let cache = if hit { "hit" } else { "miss" };
    let duration = started.elapsed();
    tracing::info!(
        target: "accord::audit",
        caller = %who,
        metrics = ?q.metrics,
        dimensions = ?q.dimensions,
        sql_hash = %executed.sql_hash,
        rows = executed.result.rows.len(),
        duration_ms = duration.as_secs_f64() * 1e3,
        cache,
        "query"
    );
    let warnings_header = (!warnings.is_empty())
        .then(|| HeaderValue::from_str(&ascii_json(&warnings)).ok())
        .flatten();
    let mut resp = match format {
        Format::Json => {
            let meta = QueryMeta {
                sql_hash: executed.sql_hash.clone(),
                definitions_version: catalog.version.clone(),
                cache,
                duration_ms: duration.as_secs_f64() * 1e3,
                warehouse_ms: if hit {
                    0.0
                } else {
                    executed.warehouse_time.as_secs_f64() * 1e3
                },
                row_count: executed.result.rows.len(),
                truncated: executed.result.truncated,
                warnings,
                nulls: executed.nulls.clone(),
            };
            Json(QueryResponse {
                columns: &executed.result.columns,
                rows: &executed.result.rows,
                meta,
            })
            .into_response()
        }
        Format::Csv => {
            let mut r = crate::encode::csv(&executed.result).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
            );
            r
        }
        Format::Arrow => {
            let bytes = crate::encode::arrow_ipc(&executed.result).map_err(|e| {
                ApiError::logged(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "encoding_failed",
                    "the answer could not be encoded as Arrow",
                    &e,
                )
            })?;
            let mut r = bytes.into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(ARROW_MIME));
            r
        }
    };
    let h = resp.headers_mut();
    h.insert("x-accord-cache", HeaderValue::from_static(cache));
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept, authorization"),
    );
    if let Ok(v) = HeaderValue::from_str(&catalog.version) {
        h.insert("x-accord-definitions-version", v);
    }
    if let Ok(v) = HeaderValue::from_str(&executed.sql_hash) {
        h.insert("x-accord-sql-hash", v);
    }
    if executed.result.truncated {
        h.insert("x-accord-truncated", HeaderValue::from_static("true"));
    }
    // CSV and Arrow bodies have no place for `meta.warnings`; every format
    // carries them here (suppressed groups, failing checks, ...).
    if let Some(v) = warnings_header {
        h.insert("x-accord-warnings", v);
    }
    Ok(resp)
}

/// `items` as a JSON array of strings with every non-ASCII character
/// escaped (`\uXXXX`), so it is a valid header value.
fn ascii_json(items: &[String]) -> String {
    let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[derive(Debug, Deserialize)]
pub struct CompileParams {
    pub dialect: Option<String>,
}

pub async fn compile(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
    Query(params): Query<CompileParams>,
    ApiJson(q): ApiJson<SemanticQuery>,
) -> Result<Response, ApiError> {
    let caller = caller.for_query(&q);
    let dialect: DialectKind = match &params.dialect {
        Some(d) => d.parse().map_err(|m: String| {
            let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_dialect", m);
            e.field = Some("dialect".into());
            e.suggestions =
                crate::diagnostics::closest(d, DialectKind::ALL.iter().map(|k| k.name()));
            e
        })?,
        None => state.warehouse.dialect(),
    };
    let catalog = state.catalog();
    let (plan, sql) = planner::compile(&catalog, &q, &caller, dialect)?;
    Ok(Json(json!({
        "sql": sql,
        "dialect": dialect.name(),
        "sql_hash": crate::execute::sql_hash(&sql),
        "definitions_version": catalog.version,
        "columns": plan.columns,
        "models": plan.models,
        "warnings": plan.warnings,
        "policies": plan.policies,
    }))
    .into_response())
}

/// The catalog as one caller may see it: hidden members are absent
/// ([`crate::CatalogView`]).
pub async fn catalog(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let c = state.catalog();
    let view = CatalogView::new(&c, &caller)?;
    Ok(Json(view.listing()).into_response())
}

/// A metric unknown to the caller: 404, with the closest visible names.
fn unknown_metric(view: &CatalogView, reference: &str) -> ApiError {
    let e = view.unknown_metric(reference);
    let mut out = ApiError::new(StatusCode::NOT_FOUND, "unknown_metric", e.message);
    out.suggestions = e.suggestions;
    out
}

pub async fn catalog_metric(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let c = state.catalog();
    let view = CatalogView::new(&c, &caller)?;
    let versions = view.versions(&name);
    if versions.is_empty() {
        return Err(unknown_metric(&view, &name));
    }
    let all: Vec<serde_json::Value> = versions
        .iter()
        .map(|id| view.metric_entry(c.metric(*id)))
        .collect();
    let default = c.default_metric(&name).map(|m| m.version);
    Ok(Json(json!({"name": name, "default_version": default, "versions": all})).into_response())
}

/// `GET /v1/catalog/lineage/{metric}`: lineage and documentation of one
/// metric (`revenue` or `revenue@2`), as the caller may see it; a metric
/// the caller cannot use is unknown (404). See crate::governance::lineage.
pub async fn catalog_lineage(
    State(state): State<Arc<QueryService>>,
    Authed(caller): Authed,
    Path(metric): Path<String>,
) -> Result<Response, ApiError> {
    let c = state.catalog();
    let view = CatalogView::new(&c, &caller)?;
    let m = view
        .find_metric(&metric)
        .map_err(|_| unknown_metric(&view, &metric))?;
    let lineage = crate::governance::lineage::lineage(&c, m.id, Some(&view.access));
    Ok(Json(lineage).into_response())
}

pub async fn catalog_status(State(state): State<Arc<QueryService>>) -> Response {
    Json(state.reload_status()).into_response()
}

pub async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

pub use crate::ready::readyz;

pub async fn metrics(State(state): State<Arc<QueryService>>) -> Response {
    state
        .telemetry
        .catalog_metrics
        .set(state.catalog().metrics.len() as i64);
    let mut r = state.telemetry.encode().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that HTTP method; see openapi.yaml",
    )
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see openapi.yaml",
    )
}

/// The columns of a plan, for interfaces that describe results before
/// running them.
pub fn describe(columns: &[OutputColumn]) -> serde_json::Value {
    json!(columns)
}

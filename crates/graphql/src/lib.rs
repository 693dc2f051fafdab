//! accord-graphql: the GraphQL adapter. A dynamic schema per definitions
//! version and caller visibility; resolvers build `SemanticQuery`s and call
//! the [`QueryService`]; every [`ServiceError`] becomes `extensions.code`
//! in one place (`errors`).
//!
//! GraphQL for dashboards: `POST /graphql` (and `GET /graphql?query=...`),
//! GraphiQL at `GET /graphql`.
//!
//! The schema is generated from the catalog with async-graphql's dynamic
//! schema: one root field per model that has metrics, returning rows whose
//! fields are that model's metrics and reachable dimensions (naming rules
//! in [`names`]), plus `metrics`, `dimensions`, `models` and `compile` for
//! metadata. The fields a client selects become the metrics and dimensions
//! of one [`crate::query::SemanticQuery`], which runs through
//! [`crate::server::handlers::run_query`] like POST /v1/query: same
//! identity (bearer token), policies, consent, result cache and numbers.
//!
//! Each caller gets the schema of what it may see (hidden members are
//! absent from introspection and refused as unknown names, exactly
//! like names that do not exist). Schemas are
//! cached per definitions version and visibility; a reload swaps the
//! catalog and the next request builds (once) the schema of the new
//! version, while a request in flight keeps the catalog and schema it
//! started with. See docs/graphql.md.

pub use accord_http::{
    Answer, CatalogView, QueryService, ServeArgs, ServeConfig, ServiceCode, ServiceError, access,
    answer, auth, build_state, cache, caller, catalog, checks, clock, config, definitions, demo,
    diagnostics, dialect, encode, error, execute, failure, governance, identity, lifecycle, limits,
    lineage, masking, monitor, nulls, outln, pg_config, planner, problem, query, reload,
    request_id, sql, state, telemetry, version, view, vocab, warehouse,
};

mod analysis;
mod attribution;
mod errors;
mod meta;
pub mod names;
mod resolve;
mod schema;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::Value;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use indexmap::IndexMap;

pub use schema::{MAX_COMPLEXITY, MAX_DEPTH};

use crate::access::Caller;
use crate::catalog::Catalog;
use crate::planner::PlanError;
use crate::problem::ApiError;
use schema::{Built, Layout};

/// What resolvers of one request share.
pub(crate) struct ReqData {
    pub state: Arc<QueryService>,
    /// The catalog the request started with.
    pub catalog: Arc<Catalog>,
    pub layout: Arc<Layout>,
    pub caller: Caller,
    notes: Mutex<Notes>,
}

#[derive(Default)]
struct Notes {
    warnings: Vec<String>,
    /// Response key of each model field → "hit" / "miss".
    cache: BTreeMap<String, &'static str>,
    truncated: Vec<String>,
    /// Response key of each model field → why its metric values are NULL.
    nulls: BTreeMap<String, Vec<crate::nulls::NullCount>>,
    /// Definitions versions that answered, when a reload raced the request.
    versions: Vec<String>,
}

impl ReqData {
    fn warn(&self, warnings: &[String]) {
        let mut n = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        for w in warnings {
            if !n.warnings.contains(w) {
                n.warnings.push(w.clone());
            }
        }
    }

    fn note_nulls(&self, key: &str, nulls: &[crate::nulls::NullCount]) {
        if nulls.is_empty() {
            return;
        }
        let mut n = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        n.nulls.insert(key.to_string(), nulls.to_vec());
    }

    fn note(&self, key: &str, hit: bool, warnings: &[String], truncated: bool, version: &str) {
        let mut n = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        for w in warnings {
            if !n.warnings.contains(w) {
                n.warnings.push(w.clone());
            }
        }
        n.cache
            .insert(key.to_string(), if hit { "hit" } else { "miss" });
        if truncated {
            n.truncated.push(key.to_string());
        }
        if version != self.catalog.version && !n.versions.iter().any(|v| v == version) {
            n.versions.push(version.to_string());
        }
    }
}

/// Most schemas kept (one per definitions version and visibility).
const MAX_SCHEMAS: usize = 64;

type SchemaCache = Mutex<IndexMap<(String, String), Arc<Built>>>;

fn schemas() -> &'static SchemaCache {
    static CACHE: OnceLock<SchemaCache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(IndexMap::new()))
}

fn layouts() -> &'static Mutex<IndexMap<String, Arc<Layout>>> {
    static CACHE: OnceLock<Mutex<IndexMap<String, Arc<Layout>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(IndexMap::new()))
}

fn layout_for(catalog: &Catalog) -> Arc<Layout> {
    if let Some(l) = layouts()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&catalog.version)
    {
        return l.clone();
    }
    let built = Arc::new(Layout::new(catalog));
    let mut cache = layouts().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= 8 {
        cache.shift_remove_index(0);
    }
    cache
        .entry(catalog.version.clone())
        .or_insert(built)
        .clone()
}

/// The caller's view for deciding what it may see (any purpose its roles
/// allow, see [`crate::CatalogView::for_schema`]).
pub(crate) fn visibility_access<'c>(
    catalog: &'c Catalog,
    caller: &Caller,
) -> Result<crate::CatalogView<'c>, PlanError> {
    crate::CatalogView::for_schema(catalog, caller)
}

/// Answers a query through the service: the answer, whether the cache
/// served it, and the catalog it was planned against.
pub(crate) async fn run(
    state: &QueryService,
    q: &crate::query::SemanticQuery,
    caller: &Caller,
) -> Result<(Arc<crate::execute::Executed>, bool, Arc<Catalog>), crate::ServiceError> {
    let a = state.answer(q, caller).await?;
    Ok((a.executed, a.cache_hit, a.catalog))
}

/// The schema for a caller of a catalog, from the cache or built now.
fn schema_for(view: &crate::CatalogView) -> Result<Arc<Built>, ApiError> {
    let (catalog, access) = (view.catalog, &view.access);
    let key = (
        catalog.version.clone(),
        schema::visibility_key(catalog, access),
    );
    if let Some(b) = schemas()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        return Ok(b.clone());
    }
    let layout = layout_for(catalog);
    let built = schema::build(&layout, catalog, access).map_err(|e| {
        ApiError::logged(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the GraphQL schema could not be built",
            &e.0,
        )
    })?;
    let built = Arc::new(built);
    let mut cache = schemas().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= MAX_SCHEMAS {
        cache.shift_remove_index(0);
    }
    Ok(cache.entry(key).or_insert(built).clone())
}

/// Runs one GraphQL request for the caller of `headers`.
pub async fn execute(
    state: &Arc<QueryService>,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let caller = match crate::caller::caller_of(state, headers) {
        Ok(c) => c,
        Err(e) => return counted(state, errors::response(&e)),
    };
    if let Err(e) = within_limits(&request.query) {
        return counted(state, errors::response(&e));
    }
    // One catalog for the whole request, even if a reload happens meanwhile.
    let catalog = state.catalog();
    let built = {
        let view = match visibility_access(&catalog, &caller) {
            Ok(a) => a,
            Err(e) => return counted(state, errors::response(&ApiError::from(e))),
        };
        match schema_for(&view) {
            Ok(b) => b,
            Err(e) => return counted(state, errors::response(&e)),
        }
    };
    let data = Arc::new(ReqData {
        state: state.clone(),
        catalog: catalog.clone(),
        layout: built.layout.clone(),
        caller,
        notes: Mutex::new(Notes::default()),
    });
    let mut resp = built.schema.execute(request.data(data.clone())).await;
    errors::classify(&mut resp.errors, Some(&built));
    count_errors(state, &resp);
    let notes = std::mem::take(&mut *data.notes.lock().unwrap_or_else(|p| p.into_inner()));
    let strings = |v: Vec<String>| Value::List(v.into_iter().map(Value::from).collect());
    if !notes.warnings.is_empty() {
        resp.extensions
            .insert("warnings".into(), strings(notes.warnings));
    }
    if !notes.cache.is_empty() {
        let map = notes
            .cache
            .into_iter()
            .map(|(k, v)| (async_graphql::Name::new(k), Value::from(v)))
            .collect();
        resp.extensions.insert("cache".into(), Value::Object(map));
    }
    if !notes.truncated.is_empty() {
        resp.extensions
            .insert("truncated".into(), strings(notes.truncated));
    }
    if !notes.nulls.is_empty()
        && let Ok(nulls) = serde_json::to_value(&notes.nulls)
        && let Ok(value) = Value::from_json(nulls)
    {
        resp.extensions.insert("nulls".into(), value);
    }
    let mut versions = vec![catalog.version.clone()];
    versions.extend(notes.versions);
    resp.extensions
        .insert("definitionsVersion".into(), Value::from(versions.join(",")));
    resp
}

/// Refuses a document whose brackets nest deeper than
/// [`crate::limits::MAX_DEPTH`] or that is larger than
/// [`crate::limits::MAX_SQL_BYTES`], before async-graphql's parser (which
/// recurses per nested value) reads it.
fn within_limits(query: &str) -> Result<(), ApiError> {
    use crate::limits::{MAX_DEPTH, MAX_SQL_BYTES};
    let refuse = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "query_too_complex",
            format!(
                "the GraphQL document is too complex: at most {MAX_DEPTH} levels of brackets and {MAX_SQL_BYTES} bytes"
            ),
        )
    };
    if query.len() > MAX_SQL_BYTES {
        return Err(refuse());
    }
    if bracket_depth(query) > MAX_DEPTH {
        return Err(refuse());
    }
    Ok(())
}

/// Deepest nesting of `{`, `[` and `(` outside strings and comments.
fn bracket_depth(query: &str) -> usize {
    let b = query.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                // A block string ends at the next unescaped `"""`.
                i += 3;
                while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                    i += if b[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Counts each error by code in `accord_errors_total`, as REST does.
fn count_errors(state: &QueryService, resp: &async_graphql::Response) {
    for e in &resp.errors {
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| match x.get("code") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "internal_error".into());
        state
            .telemetry
            .errors
            .get_or_create(&crate::telemetry::CodeLabels { code })
            .inc();
    }
}

fn counted(state: &QueryService, resp: async_graphql::Response) -> async_graphql::Response {
    count_errors(state, &resp);
    resp
}

fn json_response(resp: &async_graphql::Response) -> Response {
    let body = serde_json::to_vec(resp).unwrap_or_else(|_| b"{}".to_vec());
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// The GraphQL endpoint's routes (`GET`/`POST /graphql`), mounted on the
/// HTTP router by the binary.
pub fn routes() -> axum::Router<Arc<QueryService>> {
    axum::Router::new().route("/graphql", axum::routing::get(get).post(post))
}

/// `POST /graphql`: a JSON body `{query, operationName, variables}`, or
/// the query itself with `Content-Type: application/graphql`. Answers are
/// `200 application/json` with `data` and/or `errors`; a body that is not
/// a GraphQL request is a 400 problem.
pub async fn post(
    State(state): State<Arc<QueryService>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let request =
        if content_type.starts_with("application/graphql") && !content_type.contains("json") {
            match std::str::from_utf8(&body) {
                Ok(text) => async_graphql::Request::new(text),
                Err(_) => {
                    return ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_request",
                        "the query is not UTF-8",
                    )
                    .into_response();
                }
            }
        } else {
            match serde_json::from_slice::<async_graphql::Request>(&body) {
                Ok(r) => r,
                Err(e) => {
                    let (status, code) = if e.is_data() {
                        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
                    } else {
                        (StatusCode::BAD_REQUEST, "invalid_json")
                    };
                    return ApiError::new(
                        status,
                        code,
                        format!(
                            "expected a GraphQL request {{\"query\": ..., \"variables\": ...}}: {e}"
                        ),
                    )
                    .into_response();
                }
            }
        };
    json_response(&execute(&state, &headers, request).await)
}

/// `GET /graphql`: with `?query=...` a GraphQL request (read-only, so
/// cacheable by proxies keyed on the URL); without, the GraphiQL IDE.
pub async fn get(
    State(state): State<Arc<QueryService>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = raw.split('&').any(|p| p.starts_with("query="));
    if !has_query {
        return Html(graphiql_page()).into_response();
    }
    match async_graphql::http::parse_query_string(&raw) {
        Ok(request) => json_response(&execute(&state, &headers, request).await),
        Err(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("not a GraphQL request: {e}"),
        )
        .into_response(),
    }
}

/// The GraphiQL page (its scripts come from a CDN).
pub fn graphiql_page() -> String {
    async_graphql::http::GraphiQLSource::build()
        .endpoint("/graphql")
        .title("accord GraphQL")
        .finish()
}

#[cfg(test)]
mod tests {
    use super::bracket_depth;

    #[test]
    fn bracket_depth_skips_strings_and_comments() {
        assert_eq!(bracket_depth("{ a(x: [1, [2]]) { b } }"), 4);
        assert_eq!(bracket_depth(r#"{ a(x: "{{{[[[") }"#), 2);
        assert_eq!(bracket_depth("{ a # {{{{\n}"), 1);
        assert_eq!(bracket_depth("{ a(d: \"\"\" {{ \\\"\"\" {{ \"\"\") }"), 2);
        let deep = format!("{{ a(x: {}1{}) }}", "[".repeat(100), "]".repeat(100));
        assert_eq!(bracket_depth(&deep), 102);
    }
}

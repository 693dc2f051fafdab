//! `accord serve`: the HTTP API (axum) over the shared pipeline. Handlers
//! are thin; state is an `Arc<AppState>` holding the swappable catalog, the
//! warehouse, the result cache and telemetry.

pub mod cache;
pub mod config;
pub mod error;
pub mod handlers;
pub mod reload;
pub mod state;
pub mod telemetry;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use config::{ServeArgs, ServeConfig};
pub use state::AppState;

use crate::warehouse::WarehouseOptions;

async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
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
        error::ApiError::logged(status, code, "internal error", &detail)
    } else {
        error::ApiError::new(status, code, detail.clone())
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
    error::ApiError::logged(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "internal error",
        &"a request handler panicked",
    )
    .into_response()
}

pub fn router(state: Arc<AppState>) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/v1/query", post(handlers::query))
        .route("/graphql", get(crate::graphql::get).post(crate::graphql::post))
        .route("/v1/compile", post(handlers::compile))
        .route("/v1/catalog", get(handlers::catalog))
        .route("/v1/catalog/status", get(handlers::catalog_status))
        .route("/v1/catalog/metrics/{name}", get(handlers::catalog_metric))
        .route("/v1/catalog/lineage/{metric}", get(handlers::catalog_lineage))
        .route("/v1/checks", get(crate::checks::monitor::handler))
        .route("/v1/identity/health", get(crate::identity::http::health))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(middleware::from_fn(problem_only))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(error::with_request_id))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Builds the state: loads definitions, opens the warehouse (creating the
/// demo DuckDB file on first use).
pub async fn build_state(config: ServeConfig) -> Result<Arc<AppState>, String> {
    let catalog = crate::definitions::load_dir(&config.defs)
        .map_err(|d| format!("definitions in {} are invalid:\n{d}", config.defs.display()))?;
    let options = WarehouseOptions {
        max_connections: config.max_connections,
        query_timeout: config.query_timeout,
        ..WarehouseOptions::default()
    };
    let verifier = crate::auth::Verifier::new(config.auth.as_ref()).map_err(|e| e.to_string())?;
    let warehouse = crate::cli::open_warehouse_with(&config.warehouse, &config.defs, options)
        .await?
        .with_mask_key(config.mask_key.clone());
    log_mask_key(&config, &catalog);
    let state = Arc::new(AppState::new(
        config,
        catalog,
        Arc::new(warehouse),
        verifier,
    ));
    state
        .telemetry
        .catalog_metrics
        .set(state.catalog().metrics.len() as i64);
    Ok(state)
}

/// Says which mask key serves (its fingerprint), or warns when roles use
/// `hash` masks that will be refused for want of one.
fn log_mask_key(config: &ServeConfig, catalog: &crate::catalog::Catalog) {
    match &config.mask_key {
        Some(k) => tracing::info!(fingerprint = k.fingerprint(), "hash masks keyed"),
        None if crate::masking::catalog_uses_hash(catalog) => tracing::warn!(
            "roles use `hash` masks but no mask key is configured (masking.hmac_key or \
             ACCORD_MASK_KEY): their queries will be refused"
        ),
        None => {}
    }
}

/// A running server (tests and `accord serve`).
pub struct Running {
    pub addr: std::net::SocketAddr,
    /// The Postgres wire endpoint's bound address, when it is on.
    pub pg_addr: Option<std::net::SocketAddr>,
    pg: Option<crate::pgwire::PgListener>,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting connections and lets in-flight requests finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(pg) = self.pg.take() {
            pg.shutdown().await;
        }
        self.handle.await.unwrap_or(Ok(()))
    }
}

pub async fn start(config: ServeConfig) -> Result<Running, String> {
    let addr = config.http_addr;
    let reload = config.reload;
    let state = build_state(config).await?;
    if reload {
        reload::spawn_watcher(state.clone())?;
    }
    crate::checks::monitor::spawn(&state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let pg = match state.config.pg_addr {
        Some(pg_addr) => Some(crate::pgwire::PgListener::start(pg_addr, state.clone()).await?),
        None => None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    let handle = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        pg_addr: pg.as_ref().map(|p| p.addr),
        pg,
        state,
        shutdown: Some(tx),
        handle,
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

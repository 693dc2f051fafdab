//! `accord serve`: the HTTP interfaces (REST and GraphQL on one router) and
//! the Postgres endpoint, started over one [`QueryService`]. This module
//! only composes the adapters; each lives in its own crate.

use std::sync::Arc;

use axum::Router;

pub use accord_rest::handlers;
pub use accord_rest::problem as error;
pub use accord_service::{
    QueryService, ServeArgs, ServeConfig, build_state, cache, config, reload, state, telemetry,
};

/// The name this service had before it was one (kept for embedders).
pub type AppState = QueryService;

/// REST's routes and the GraphQL endpoint, behind REST's middleware.
pub fn router(state: Arc<QueryService>) -> Router {
    accord_rest::router(state, accord_graphql::routes())
}

/// A running server (tests and `accord serve`).
pub struct Running {
    pub addr: std::net::SocketAddr,
    /// The Postgres wire endpoint's bound address, when it is on.
    pub pg_addr: Option<std::net::SocketAddr>,
    pg: Option<accord_pgwire::PgListener>,
    pub state: Arc<QueryService>,
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
        accord_service::reload::spawn_watcher(state.clone())?;
    }
    accord_service::monitor::spawn(&state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let pg = match state.config.pg_addr {
        Some(pg_addr) => Some(accord_pgwire::PgListener::start(pg_addr, state.clone()).await?),
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

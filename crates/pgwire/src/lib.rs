//! accord-pgwire: the Postgres wire adapter. BI tools' SQL is translated
//! into `SemanticQuery`s answered by the [`QueryService`]; every
//! [`ServiceError`] becomes a SQLSTATE in one place (`error`).
//!
//! The Postgres wire endpoint: BI tools connect to accord as if it were
//! PostgreSQL, see every governed model as a table in schema `public`, and
//! get governed numbers.
//!
//! - [`auth`]: startup: configured users log in with SCRAM-SHA-256 and are
//!   the roles/claims they map to; any other user name gives a JWT as its
//!   (cleartext) password, verified like a REST bearer token.
//! - [`tls`]: optional TLS (rustls) from a configured certificate and key;
//!   [`config`] holds these settings.
//! - [`handler`]: the simple and extended query protocols (via the
//!   `pgwire` crate), session commands (BEGIN, SET, SHOW, …).
//! - [`translate`]: `SELECT dims, metrics FROM model …` into the one
//!   [`crate::query::SemanticQuery`], run through the same cache, policies
//!   and consent as `POST /v1/query`. Anything that cannot be mapped exactly
//!   is an error with a SQLSTATE, never an approximate answer.
//! - [`catalog_db`]: `pg_catalog` / `information_schema` questions answered
//!   by an in-memory DuckDB holding empty tables shaped like what the caller
//!   may see; [`catalog_guard`] is the allow-list every such statement
//!   passes first, [`catalog_engine`] the locked-down DuckDB that runs it
//!   under a timeout and a row cap.
//! - [`cursor`]: `DECLARE … CURSOR`, `FETCH`, `MOVE`, `CLOSE` over any
//!   statement's (governed) answer.
//!
//! See docs/bi-tools.md for the SQL surface and the client compatibility
//! table.

pub use accord_service::{
    Answer, CatalogView, QueryService, ServeArgs, ServeConfig, ServiceCode, ServiceError, access,
    answer, build_state, cache, catalog, checks, clock, definitions, demo, diagnostics, dialect,
    execute, failure, governance, identity, lifecycle, limits, lineage, masking, monitor, nulls,
    outln, pg_config, planner, query, reload, request_id, sql, state, telemetry, version, view,
    vocab, warehouse,
};

pub mod attribution;
pub mod auth;
/// The endpoint's settings (users, TLS), read with the server's.
pub use accord_service::pg_config as config;
pub mod catalog_db;
pub mod catalog_engine;
pub mod catalog_guard;
pub mod cursor;
pub mod encode;
pub mod error;
pub mod handler;
pub mod schema;
pub mod tls;
pub mod translate;

use std::net::SocketAddr;
use std::sync::Arc;

/// The bound Postgres listener of a running server.
pub struct PgListener {
    pub addr: SocketAddr,
    shutdown: tokio::sync::watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl PgListener {
    /// Binds `addr` and serves connections until [`PgListener::shutdown`].
    pub async fn start(addr: SocketAddr, state: Arc<QueryService>) -> Result<PgListener, String> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr} (Postgres wire): {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let tls = match &state.config.pg.tls {
            Some(files) => Some(tls::load(files)?),
            None => None,
        };
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let users = state.config.pg.users.len();
        let handlers = Arc::new(handler::Handlers::new(
            state,
            tls.as_ref().map(|t| t.cert_pem.as_slice()),
        )?);
        let acceptor = tls.map(|t| t.acceptor);
        tracing::info!(
            %addr,
            tls = acceptor.is_some(),
            scram_users = users,
            "Postgres wire endpoint listening (configured users: SCRAM-SHA-256; any other user: a JWT as the password)"
        );
        let handle = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = rx.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok((socket, _peer)) => {
                            let h = handlers.clone();
                            let mut stop = rx.clone();
                            let acceptor = acceptor.clone();
                            connections.spawn(async move {
                                tokio::select! {
                                    r = pgwire::tokio::process_socket(socket, acceptor, h) => {
                                        if let Err(e) = r {
                                            tracing::debug!(error = %e, "Postgres connection ended with an error");
                                        }
                                    }
                                    _ = stop.changed() => {}
                                }
                            });
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "Postgres accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            connections.shutdown().await;
        });
        Ok(PgListener {
            addr,
            shutdown: tx,
            handle,
        })
    }

    /// Stops accepting and closes open connections.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.handle.await;
    }
}

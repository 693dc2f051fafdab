//! accord: a semantic metric layer. This crate is the `accord` binary (its
//! command line, [`cli`]) and the composition of the adapters into one
//! server ([`server`]). Everything else lives in the workspace's layered
//! crates (ARCHITECTURE.md); the modules below re-export them under the
//! paths embedders and tests use.

pub use accord_catalog::{catalog, lifecycle, lineage};
pub use accord_core::{
    clock, diagnostics, dialect, error, limits, masking, outln, query, sql, version, vocab,
};
pub use accord_engine::{demo, encode, execute, nulls, warehouse};
pub use accord_graphql as graphql;
pub use accord_pgwire as pgwire;
pub use accord_planner::{CatalogView, access, attribution, definitions, planner, view};
pub use accord_service::{QueryService, ServiceCode, ServiceError, auth};

pub mod cli;
pub mod server;

/// Data quality checks: definitions, compile and run (accord-engine) and
/// the server's schedule (accord-service's `monitor`).
pub mod checks {
    pub use accord_engine::checks::*;
    pub use accord_service::monitor;

    /// `accord check`.
    pub use crate::cli::checks as cli;
}

/// Identity resolution: definitions (accord-catalog), builds and health
/// (accord-engine), `GET /v1/identity/health` (accord-rest).
pub mod identity {
    pub use accord_engine::identity::*;
    pub use accord_rest::identity_http as http;

    /// `accord identity …`.
    pub use crate::cli::identity as cli;
}

/// Lifecycle, `validate --warehouse`, lints, `diff`, lineage and variance
/// (accord-engine), and their commands.
pub mod governance {
    pub use accord_engine::governance::*;

    pub use crate::cli::governance as commands;
}

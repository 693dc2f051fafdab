//! accord-service: the one [`QueryService`] every interface calls — caller,
//! time defaults, plan cache, result cache, execution, telemetry, warnings
//! — its typed [`ServiceError`], the per-caller [`CatalogView`], hot
//! reload, authentication and the check scheduler.

pub use accord_engine::{
    CatalogView, access, attribution, catalog, checks, clock, definitions, demo, diagnostics,
    dialect, encode, error, execute, governance, identity, lifecycle, limits, lineage, masking,
    nulls, outln, planner, query, sql, version, view, vocab, warehouse,
};

pub mod answer;
pub mod auth;
pub mod cache;
pub mod config;
pub mod failure;
pub mod monitor;
pub mod pg_config;
pub mod reload;
pub mod schema;
pub mod state;
pub mod telemetry;

pub use answer::Answer;
pub use config::{ServeArgs, ServeConfig};
pub use failure::{ServiceCode, ServiceError, request_id};
pub use state::{QueryService, build_state};

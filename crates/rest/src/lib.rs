//! accord-rest: the REST adapter. JSON in, the one semantic query to the
//! [`QueryService`], problem+json or an answer out; every [`ServiceError`]
//! becomes an HTTP status in one place ([`problem`]).

pub use accord_http::{
    Answer, CatalogView, QueryService, ServeArgs, ServeConfig, ServiceCode, ServiceError, access,
    answer, attribution, auth, build_state, cache, caller, catalog, checks, clock, config,
    definitions, demo, diagnostics, dialect, encode, error, execute, failure, governance, identity,
    lifecycle, limits, lineage, masking, monitor, nulls, outln, pg_config, planner, problem, query,
    reload, request_id, schema, sql, state, telemetry, version, view, vocab, warehouse,
};

pub mod checks_http;
pub mod handlers;
pub mod identity_http;
pub mod ready;
pub mod router;

pub use router::router;

//! accord-http: what the two HTTP adapters (REST and GraphQL) share —
//! problem+json errors with the one mapping of [`ServiceError`] onto HTTP
//! statuses ([`problem`]), the request id, and the bearer-token caller
//! ([`caller`]).

pub use accord_service::{
    Answer, CatalogView, QueryService, ServeArgs, ServeConfig, ServiceCode, ServiceError, access,
    answer, attribution, auth, build_state, cache, catalog, checks, clock, config, definitions,
    demo, diagnostics, dialect, encode, error, execute, failure, governance, identity, lifecycle,
    limits, lineage, masking, monitor, nulls, outln, pg_config, planner, query, reload, request_id,
    schema, sql, state, telemetry, version, view, vocab, warehouse,
};

pub mod caller;
pub mod problem;

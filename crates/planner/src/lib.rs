//! accord-planner: a caller's access to a catalog ([`access`]) and the
//! pure `(catalog, query, caller, context) → Plan` compiler ([`planner`]).
//! No I/O and no clock: dates come in a [`planner::PlanContext`].

pub use accord_catalog::{
    catalog, checks, clock, diagnostics, dialect, error, identity, lifecycle, limits, lineage,
    masking, outln, query, sql, version, vocab,
};

pub mod access;
pub mod attribution;
pub mod definitions;
pub mod planner;
pub mod view;

pub use view::CatalogView;

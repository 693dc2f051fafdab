//! accord-engine: everything that touches a warehouse. Warehouses by URL,
//! execution of plans, identity builds, check runs, governance reports
//! (validate --warehouse, lint, diff, lineage, variance) and the demo data.

pub use accord_planner::{
    CatalogView, access, attribution, catalog, clock, definitions, diagnostics, dialect, error,
    lifecycle, limits, lineage, masking, outln, planner, query, sql, version, view, vocab,
};

pub mod checks;
pub mod demo;
pub mod encode;
pub mod execute;
pub mod governance;
pub mod identity;
pub mod nulls;
pub mod warehouse;

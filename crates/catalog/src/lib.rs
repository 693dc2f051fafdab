//! accord-catalog: definitions and the validated catalog. `definitions`
//! reads `*.yml` and validates it into a [`catalog::Catalog`] that holds
//! every feature's validated types (models, metrics, policies, analyses,
//! attribution, identity, checks). Nothing here plans or runs a query: the
//! checks that need the planner are handed in through
//! [`definitions::PlanCheck`] by the crate above.

// The layers below, under the names every crate uses for them.
pub use accord_core::{
    clock, diagnostics, dialect, error, limits, masking, outln, query, sql, version, vocab,
};

pub mod attribution;
pub mod catalog;
pub mod checks;
pub mod definitions;
pub mod identity;
pub mod lifecycle;
pub mod lineage;

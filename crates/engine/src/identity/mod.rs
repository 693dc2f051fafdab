//! Identity builds on a warehouse (see accord-catalog's `identity` for the
//! definitions and the algorithm):
//!
//! - [`sql`]: the few statement shapes a build needs beyond SELECT (CREATE,
//!   DROP, INSERT … SELECT, DELETE), rendered per dialect around `sql::ast`
//!   queries;
//! - [`compile`]: the statements of a build — observations, blocking,
//!   exclusions, limits, nodes, edges, label propagation rounds, map, ledger;
//! - [`build`]: runs them on a warehouse (full or incremental) and reports;
//! - [`health`]: cluster statistics of the current map.

pub use accord_catalog::identity::*;

pub mod build;
pub mod compile;
pub mod health;
pub mod sql;

pub use build::{BuildMode, BuildOptions, BuildReport, Exclusion, IdentityError, build, exclude};
pub use health::{HealthReport, health, health_scoped};

//! Identity resolution: stitch anonymous and known identifiers into one
//! canonical identity, in the warehouse.
//!
//! - [`raw`] / [`model`]: the `identity:` definitions section (validated in
//!   `definitions/validate_identity.rs`);
//! - [`sql`]: the few statement shapes a build needs beyond SELECT (CREATE,
//!   DROP, INSERT … SELECT, DELETE), rendered per dialect around `sql::ast`
//!   queries;
//! - [`compile`]: the statements of a build — observations, blocking,
//!   exclusions, limits, nodes, edges, label propagation rounds, map, ledger;
//! - [`build`]: runs them on a warehouse (full or incremental) and reports;
//! - [`health`]: cluster statistics of the current map.
//!
//! Connected components are computed by min-label propagation with pointer
//! jumping: every node starts with its own id, each round takes the minimum
//! label over itself and its neighbours and then the label of that label.
//! Node ids are numbered in (type priority, identifier) order, so the final
//! label of a component is its highest-priority identifier's smallest value:
//! the canonical id falls out of the propagation and is stable across runs.

pub mod build;
pub mod cli;
pub mod compile;
pub mod health;
pub mod http;
pub mod model;
pub mod raw;
pub mod sql;

pub use build::{BuildMode, BuildOptions, BuildReport, Exclusion, IdentityError, build, exclude};
pub use health::{HealthReport, health, health_scoped};
pub use model::{EdgeSource, IdentifierType, Identity, Limit, Tables};

use crate::sql::ast::Expr;

/// `expr` (text) normalised as identifiers of type `t` are: trimmed and/or
/// lower-cased, then compared bytewise (binary collation) so grouping and
/// matching are exact on every engine. The build and every lookup use this
/// one function.
pub fn normalized(t: &IdentifierType, expr: Expr) -> Expr {
    let mut e = expr;
    if t.trim {
        e = Expr::Func {
            name: "TRIM".into(),
            args: vec![e],
            distinct: false,
        };
    }
    if t.lower {
        e = Expr::Func {
            name: "LOWER".into(),
            args: vec![e],
            distinct: false,
        };
    }
    Expr::BinaryText(Box::new(e))
}

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

//!
//! This crate holds the definitions and [`normalized`]; the build, its
//! statements and health live in accord-engine's `identity`.

pub mod model;
pub mod raw;

pub use model::{EdgeSource, IdentifierType, Identity, Limit, Tables};

use crate::catalog::{Catalog, ModelId};
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

/// The identifier type index and unqualified column a model's rows are
/// stitched by.
pub fn row_identifier(
    identity: &Identity,
    catalog: &Catalog,
    model: ModelId,
) -> Option<(usize, Expr)> {
    if let Some(s) = identity.source_of(model) {
        let (t, e) = &s.columns[s.stitch_by];
        return Some((*t, e.clone()));
    }
    catalog
        .model(model)
        .entity(&identity.entity)
        .filter(|e| e.keys.len() == 1)
        .map(|e| (identity.canonical, e.keys[0].clone()))
}

/// Whether a model's rows can be seen as people (the planner's
/// `stitch::canonical_key` has an answer for it).
pub fn is_stitchable(catalog: &Catalog, model: ModelId) -> bool {
    catalog
        .identity
        .as_ref()
        .is_some_and(|i| row_identifier(i, catalog, model).is_some())
}

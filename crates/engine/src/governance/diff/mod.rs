//! `accord diff BASE HEAD`: every change between two definitions versions,
//! in every catalog section, classified, with what depends on it.
//!
//! Each section (metrics, models and their members, join paths, roles,
//! consent and its purposes, funnels, retention analyses, attribution
//! instances, identity rules, checks) describes its items once — keyed,
//! with comparable fields and rules — by implementing [`engine::Section`];
//! one engine ([`engine::run`]) compares BASE and HEAD for all of them.
//!
//! Classes ([`Class`]): **widening_access** — a caller may now see more (a
//! row filter removed or not provably narrowed, a mask removed or weakened,
//! a member made visible, a purpose gained, `min_group_size` lowered, a
//! finer `time_grain`, consent or suppression dropped, identity rules that
//! merge more people); **breaking** — consumers' queries may fail or their
//! numbers change (a removed or renamed member, a changed meaning, grain or
//! join path, narrowed access); **non_breaking** — additions, deprecations,
//! metadata, checks.
//!
//! Adding a section: a file here with a type implementing `Section`, an
//! `ItemKind` for it, and one line in [`diff`].

mod analyses;
mod attribution;
mod change;
mod checks;
mod consent;
pub mod engine;
pub mod fields;
mod identity;
mod impact;
mod join_paths;
mod members;
mod metrics;
mod models;
mod report;
mod roles;
pub mod row_filter;
mod text;

pub use change::{Change, ChangeKind, Class, Detail, Impact, ItemKind};
pub use impact::{filter_dimensions, metric_dependents};
pub use metrics::metric_details;
pub use report::DiffReport;
pub use text::{expr_text, md_code};

use crate::catalog::Catalog;
use engine::{Sides, run};

/// Every change from `base` to `head`, metrics first, each kind of item in
/// name order.
pub fn diff(base: &Catalog, head: &Catalog) -> Vec<Change> {
    let s = Sides { base, head };
    let mut out = Vec::new();
    run(&metrics::Metrics, s, &mut out);
    run(&models::Models, s, &mut out);
    run(&members::Entities, s, &mut out);
    run(&members::Dimensions, s, &mut out);
    run(&members::Measures, s, &mut out);
    run(&join_paths::JoinPaths, s, &mut out);
    run(&roles::Roles, s, &mut out);
    run(&consent::ConsentRules, s, &mut out);
    run(&consent::Purposes, s, &mut out);
    run(&analyses::Funnels, s, &mut out);
    run(&analyses::Retentions, s, &mut out);
    run(&attribution::Attributions, s, &mut out);
    run(&identity::IdentityRules, s, &mut out);
    run(&checks::Checks, s, &mut out);
    out.sort_by(|a, b| (a.item, &a.name, a.kind).cmp(&(b.item, &b.name, b.kind)));
    out
}

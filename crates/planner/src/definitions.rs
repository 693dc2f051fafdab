//! The definitions loader every crate above this one uses: accord-catalog's
//! validation, plus the checks that plan each metric and analysis with the
//! planner as the operator (so a definition that validates also plans).

use std::path::Path;
use std::sync::Arc;

pub use accord_catalog::definitions::*;

use crate::access::Caller;
use crate::catalog::Catalog;
use crate::diagnostics::Diagnostics;
use crate::error::PlanError;
use crate::query::SemanticQuery;

/// Plans as the operator, on today's calendar (a version past its sunset
/// is skipped by validation before it gets here).
struct OperatorPlans;

impl PlanCheck for OperatorPlans {
    fn check(&self, catalog: &Catalog, query: &SemanticQuery) -> Result<(), PlanError> {
        crate::planner::plan(catalog, query, &Caller::operator()).map(|_| ())
    }
}

/// Reads and validates every `*.yml`/`*.yaml` file under `dir`.
pub fn load_dir(dir: &Path) -> Result<Arc<Catalog>, Diagnostics> {
    load_dir_with(dir, &OperatorPlans)
}

/// Validates already-read files (used by tests, `diff` and hot reload).
pub fn load_files(files: &[SourceFile]) -> Result<Arc<Catalog>, Diagnostics> {
    load_files_with(files, &OperatorPlans)
}

/// Parses and validates one YAML document given as text.
pub fn load_str(name: &str, text: &str) -> Result<Arc<Catalog>, Diagnostics> {
    load_str_with(name, text, &OperatorPlans)
}

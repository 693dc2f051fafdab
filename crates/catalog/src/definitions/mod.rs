//! Definitions: YAML files in a directory → a validated [`Catalog`].
//!
//! Loading never stops at the first problem: every file is read and every
//! rule checked, and all diagnostics come back together, each naming its
//! file, line, column and field.

mod load;
pub mod raw;
mod validate;
mod validate_analysis;
pub mod validate_attribution;
mod validate_checks;
mod validate_identity;
mod validate_policy;
mod validate_time;

pub use validate_time::time_intelligent;

use std::path::Path;
use std::sync::Arc;

pub use load::{SourceFile, read_dir};
pub use validate::is_identifier;
pub use validate_checks::{RawCheck, RawScalar};

use crate::catalog::Catalog;
use crate::diagnostics::Diagnostics;
use crate::error::PlanError;
use crate::query::SemanticQuery;

/// Plans a query against a catalog under validation, so each metric's and
/// analysis's filters and join paths are checked by the same code that
/// will run them. The planner implements it: it sits above this crate, and
/// its `definitions` module is the loader every other crate uses.
pub trait PlanCheck {
    fn check(&self, catalog: &Catalog, query: &SemanticQuery) -> Result<(), PlanError>;
}

/// Reads and validates every `*.yml`/`*.yaml` file under `dir`.
pub fn load_dir_with(dir: &Path, plans: &dyn PlanCheck) -> Result<Arc<Catalog>, Diagnostics> {
    let files = read_dir(dir)?;
    load_files_with(&files, plans)
}

/// Validates already-read files (used by tests, `diff` and hot reload).
pub fn load_files_with(
    files: &[SourceFile],
    plans: &dyn PlanCheck,
) -> Result<Arc<Catalog>, Diagnostics> {
    let (parsed, mut diags) = load::parse_files(files);
    let version = load::content_hash(files);
    let built = validate::build(parsed, version, &mut diags, plans);
    // Report in file order, whatever phase found each problem.
    diags.0.sort_by(|a, b| {
        let key = |d: &crate::diagnostics::Diagnostic| {
            d.pos.as_ref().map(|p| (p.file.clone(), p.line, p.column))
        };
        key(a).cmp(&key(b))
    });
    match built {
        Some(catalog) if diags.is_empty() => Ok(Arc::new(catalog)),
        _ => Err(diags),
    }
}

/// Parses and validates one YAML document given as text.
pub fn load_str_with(
    name: &str,
    text: &str,
    plans: &dyn PlanCheck,
) -> Result<Arc<Catalog>, Diagnostics> {
    let files = [SourceFile {
        path: name.into(),
        text: text.to_string(),
    }];
    load_files_with(&files, plans)
}

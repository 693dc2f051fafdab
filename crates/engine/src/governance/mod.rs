//! Governance for metric stewards (docs/governance.md):
//!
//! - [`lifecycle`]: deprecation dates, sunsets and replacements, enforced by
//!   the planner for every interface;
//! - [`lint`] and [`warehouse_check`]: `accord validate` beyond the static
//!   checks (conventions, and every table, column and type a definition
//!   uses, read from the warehouse's information schema), reported by
//!   [`report`] as text, JSON or GitHub annotations;
//! - [`diff`]: `accord diff BASE HEAD`, every change classified (breaking or
//!   not) with its impact, and [`variance`], its parallel run of old and new
//!   versions on a warehouse;
//! - [`serving`]: the same warehouse check per model, for `accord serve`
//!   (what it cannot answer for, and the fix);
//! - [`lineage`]: metric → inputs → measures → columns → tables, with each
//!   metric's documentation data.
//!
//! [`source`] reads definitions from directories or git revisions and
//! indexes where each definition is written.

pub mod diff;
pub use crate::lifecycle;
pub mod lineage;
pub mod lint;
pub mod report;
pub mod serving;
pub mod source;
pub mod variance;
pub mod warehouse_check;

use serde::Serialize;

use crate::diagnostics::{Diagnostic, SourcePos};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem `accord validate` reports: a diagnostic (position, field,
/// message, suggestions) with its severity and the check that found it:
/// `definitions`, `warehouse`, or a lint rule's name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub check: String,
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
}

impl Finding {
    pub fn new(
        severity: Severity,
        check: impl Into<String>,
        pos: Option<SourcePos>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            check: check.into(),
            diagnostic: Diagnostic::new(pos, field, message),
        }
    }

    pub fn with_suggestions(mut self, s: Vec<String>) -> Finding {
        self.diagnostic.suggestions = s;
        self
    }

    /// `file:line:col: field: message; did you mean ...`
    pub fn text(&self) -> String {
        self.diagnostic.to_string()
    }
}

/// Sorts findings into file order (then errors before warnings).
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        let key = |f: &Finding| {
            (
                f.diagnostic
                    .pos
                    .as_ref()
                    .map(|p| (p.file.to_string(), p.line, p.column)),
                std::cmp::Reverse(f.severity),
                f.diagnostic.field.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
}

//! A diff as a report: text, JSON and a Markdown pull-request comment.
//! Changes that widen access come first, under "needs access review".

use serde::Serialize;

use super::change::{Change, ChangeKind, Class, Detail};
use super::text::{md_cell, md_code};
use crate::catalog::Catalog;

/// A diff with what it compared and, optionally, its parallel run.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub base: String,
    pub head: String,
    pub base_version: String,
    pub head_version: String,
    /// Changes that break consumers (some may also widen access).
    pub breaking: usize,
    /// Changes that neither break nor widen access.
    pub non_breaking: usize,
    /// Changes that let a caller see more: each needs an access reviewer.
    pub widening_access: usize,
    pub needs_access_review: bool,
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variance: Option<Vec<crate::governance::variance::MetricVariance>>,
}

/// The report's groups, in order: title in text, title in Markdown, and
/// which changes belong.
const GROUPS: [(&str, &str, Class); 3] = [
    (
        "NEEDS ACCESS REVIEW (widens access)",
        "Access changes (need an access reviewer)",
        Class::WideningAccess,
    ),
    ("BREAKING", "Breaking changes", Class::Breaking),
    ("NON-BREAKING", "Non-breaking changes", Class::NonBreaking),
];

/// `!` breaking, `+` widens access.
fn mark(d: &Detail) -> &'static str {
    match d.class {
        Class::Breaking => "!",
        Class::WideningAccess => "+",
        Class::NonBreaking => " ",
    }
}

impl DiffReport {
    pub fn new(
        base_label: String,
        base: &Catalog,
        head_label: String,
        head: &Catalog,
    ) -> DiffReport {
        let changes = super::diff(base, head);
        let breaking = changes.iter().filter(|c| c.breaking).count();
        let widening = changes.iter().filter(|c| c.widening_access).count();
        let non_breaking = changes
            .iter()
            .filter(|c| c.class == Class::NonBreaking)
            .count();
        DiffReport {
            base: base_label,
            head: head_label,
            base_version: base.version.clone(),
            head_version: head.version.clone(),
            breaking,
            non_breaking,
            widening_access: widening,
            needs_access_review: widening > 0,
            changes,
            variance: None,
        }
    }

    fn group(&self, class: Class) -> Vec<&Change> {
        self.changes.iter().filter(|c| c.class == class).collect()
    }

    pub fn text(&self, top: usize) -> String {
        let mut s = format!(
            "accord diff {} → {} (definitions {} → {})\n",
            self.base, self.head, self.base_version, self.head_version
        );
        if self.changes.is_empty() {
            s.push_str("no changes\n");
        } else {
            s.push_str(&format!(
                "{} breaking change(s), {} non-breaking",
                self.breaking, self.non_breaking
            ));
            if self.widening_access > 0 {
                s.push_str(&format!(
                    ", {} widening access (needs an access review)",
                    self.widening_access
                ));
            }
            s.push('\n');
        }
        for (title, _, class) in GROUPS {
            let list = self.group(class);
            if list.is_empty() {
                continue;
            }
            s.push_str(&format!("\n{title}\n"));
            for c in list {
                let also = if class == Class::WideningAccess && c.breaking {
                    " (also breaking)"
                } else {
                    ""
                };
                s.push_str(&format!("  {:<15} {}{also}\n", c.kind.name(), c.title()));
                for d in &c.details {
                    s.push_str(&format!("  {:<15} {} {}\n", "", mark(d), d.text()));
                }
                if !c.impact.is_empty() {
                    let mut all: Vec<String> = c.impact.metrics.clone();
                    all.extend(c.impact.definitions.iter().cloned());
                    s.push_str(&format!("  {:<15}   impact: {}\n", "", all.join(", ")));
                }
            }
        }
        if let Some(v) = &self.variance {
            s.push_str(&crate::governance::variance::text(v, top));
        }
        s
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// A Markdown summary to paste as a pull-request comment.
    pub fn markdown(&self, top: usize) -> String {
        let mut s = format!(
            "## accord diff: `{}` → `{}`\n\n",
            md_code(&self.base),
            md_code(&self.head)
        );
        s.push_str(&self.markdown_summary());
        for (_, title, class) in GROUPS {
            let list = self.group(class);
            if list.is_empty() {
                continue;
            }
            s.push_str(&format!(
                "\n### {title}\n\n| Change | Item | Details | Impact |\n|---|---|---|---|\n"
            ));
            for c in list {
                s.push_str(&markdown_row(c));
            }
        }
        if let Some(v) = &self.variance {
            s.push_str(&crate::governance::variance::markdown(v, top));
        }
        s
    }

    fn markdown_summary(&self) -> String {
        let mut s = if self.changes.is_empty() {
            "No changes to the definitions.\n".to_string()
        } else if self.breaking > 0 {
            format!(
                "**:warning: {} breaking change(s)**, {} non-breaking (definitions `{}` → `{}`).\n",
                self.breaking, self.non_breaking, self.base_version, self.head_version
            )
        } else {
            format!(
                "**No breaking changes**; {} non-breaking (definitions `{}` → `{}`).\n",
                self.non_breaking, self.base_version, self.head_version
            )
        };
        if self.widening_access > 0 {
            s.push_str(&format!(
                "\n**:lock: {} change(s) widen access** (a caller may see more rows, values, people or purposes): they need an access reviewer.\n",
                self.widening_access
            ));
        }
        s
    }
}

fn markdown_row(c: &Change) -> String {
    let item = match (&c.kind, &c.from) {
        (ChangeKind::Renamed, Some(f)) => format!(
            "{} `{}` → `{}`",
            c.item.name(),
            md_code(f),
            md_code(&c.name)
        ),
        (ChangeKind::VersionBumped, Some(f)) => format!(
            "{} `{}` (after `{}`)",
            c.item.name(),
            md_code(&c.name),
            md_code(f)
        ),
        _ => format!("{} `{}`", c.item.name(), md_code(&c.name)),
    };
    let details: Vec<String> = c
        .details
        .iter()
        .map(|d| {
            let show = |v: &Option<String>| match v {
                Some(x) => format!("`{}`", md_code(x)),
                None => "_none_".to_string(),
            };
            let mark = match d.class {
                Class::Breaking => " **(breaking)**",
                Class::WideningAccess => " **(widens access)**",
                Class::NonBreaking => "",
            };
            format!(
                "{}: {} → {}{mark}",
                d.field,
                show(&d.before),
                show(&d.after)
            )
        })
        .collect();
    let mut impact: Vec<String> = c
        .impact
        .metrics
        .iter()
        .map(|m| format!("`{}`", md_code(m)))
        .collect();
    impact.extend(c.impact.definitions.iter().cloned());
    format!(
        "| {} | {} | {} | {} |\n",
        c.kind.name(),
        item,
        md_cell(&details.join("<br>")),
        md_cell(&impact.join(", "))
    )
}

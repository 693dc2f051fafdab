//! Access policies and consent, as validated definitions. Enforcement is the
//! planner's (`crate::access` resolves them for one caller).

use serde::Serialize;

use super::ModelId;
use crate::sql::ast::Expr;

/// A member a role can name: a metric, a model's dimension, or a whole model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemberRef {
    Metric {
        name: String,
    },
    Dimension {
        model: String,
        name: String,
    },
    Model {
        model: String,
    },
    /// `metric_time`, which every metric's time dimension answers to.
    MetricTime,
}

impl MemberRef {
    pub fn parse(text: &str) -> MemberRef {
        match text.split_once('.') {
            None if text == "metric_time" => MemberRef::MetricTime,
            None => MemberRef::Metric {
                name: text.to_string(),
            },
            Some((m, "*")) => MemberRef::Model {
                model: m.to_string(),
            },
            Some((m, d)) => MemberRef::Dimension {
                model: m.to_string(),
                name: d.to_string(),
            },
        }
    }

    pub fn covers_dimension(&self, model: &str, name: &str) -> bool {
        match self {
            MemberRef::Dimension { model: m, name: n } => m == model && n == name,
            MemberRef::Model { model: m } => m == model,
            _ => false,
        }
    }
}

pub use crate::vocab::Mask;

#[derive(Debug, Clone)]
pub struct RowFilter {
    pub model: ModelId,
    /// Over `model.dimension` references; `Ref([__claim__x])` is the
    /// caller's claim `x`.
    pub filter: Expr,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub description: Option<String>,
    pub include: Option<Vec<MemberRef>>,
    pub exclude: Vec<MemberRef>,
    pub masks: Vec<(String, String, Mask)>,
    pub row_filters: Vec<RowFilter>,
    pub min_group_size: Option<u32>,
    /// With `min_group_size`: the finest period the role's answers are cut
    /// at (time cells, see `planner::kanon`).
    pub time_grain: crate::catalog::Grain,
    pub purposes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Purpose {
    pub name: String,
    pub description: Option<String>,
    pub requires_consent: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentMode {
    AsOfFact,
    AsOfNow,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    pub model: ModelId,
    /// Index of the subject entity in the ledger model.
    pub subject_key: Expr,
    pub purpose: Expr,
    pub status: Expr,
    pub time: Expr,
    /// Tie-break for events at the same instant (the ledger's primary key).
    pub order_key: Option<Expr>,
    pub granted_value: String,
}

#[derive(Debug, Clone)]
pub struct Consent {
    pub purposes: Vec<Purpose>,
    pub default_purpose: String,
    pub ledger: Ledger,
    pub mode: ConsentMode,
    /// Model listing subjects that must never be counted.
    pub suppression: Option<(ModelId, Expr)>,
    /// The entity consent is recorded for (the ledger's subject).
    pub subject_entity: String,
}

impl Consent {
    pub fn purpose(&self, name: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.name == name)
    }
}

/// Placeholder identifier for a claim inside a parsed row filter.
pub const CLAIM_PREFIX: &str = "__claim__";

/// Replaces `{{ claims.x }}` with an identifier sqlparser can read.
pub fn claims_to_placeholders(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in `{text}`"))?;
        let inner = after[..end].trim();
        let claim = inner
            .strip_prefix("claims.")
            .filter(|c| {
                !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            })
            .ok_or_else(|| {
                format!(
                    "`{{{{ {inner} }}}}`: only `{{{{ claims.NAME }}}}` may be used in a row filter"
                )
            })?;
        out.push_str(CLAIM_PREFIX);
        out.push_str(claim);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl crate::catalog::Catalog {
    /// Whether any role masks with `hash`, which needs the deployment's
    /// mask key (see `masking`).
    pub fn uses_hash_masks(&self) -> bool {
        self.roles
            .iter()
            .any(|r| r.masks.iter().any(|(_, _, m)| *m == Mask::Hash))
    }
}

//! Conventions a metric steward wants every definition to follow. Each
//! rule reports a warning by default; `--strict` makes them errors, and
//! `--lint RULE=off|warn|error` sets one rule (`all=LEVEL` every rule).

use std::collections::BTreeMap;

use super::source::{MemberKind, SourceIndex};
use super::{Finding, Severity};
use crate::catalog::{Catalog, MetricKind, MetricStatus};
use crate::diagnostics::SourcePos;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    Warn,
    Error,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s.trim() {
            "off" | "allow" => Some(Level::Off),
            "warn" | "warning" => Some(Level::Warn),
            "error" | "deny" => Some(Level::Error),
            _ => None,
        }
    }
}

pub struct Rule {
    pub name: &'static str,
    pub description: &'static str,
}

/// Every lint rule, in the order they are documented.
pub const RULES: &[Rule] = &[
    Rule {
        name: "owner-required",
        description: "an active metric names its `owner`",
    },
    Rule {
        name: "description-required",
        description: "an active metric has a `description`",
    },
    Rule {
        name: "snake-case",
        description: "model, entity, dimension, measure and metric names are snake_case",
    },
    Rule {
        name: "currency-unit",
        description: "a metric with `format: currency` gives its `unit` (USD, EUR, ...)",
    },
    Rule {
        name: "ratio-format",
        description: "a ratio metric gives a `format` (percent, number, currency, ...)",
    },
    Rule {
        name: "pii-tagged",
        description: "a dimension marked `pii: true` carries at least one tag",
    },
    Rule {
        name: "deprecated-input",
        description: "a draft or active metric does not read a deprecated version",
    },
];

/// Rule levels: `--lint` options and `--strict`.
#[derive(Debug, Clone, Default)]
pub struct LintConfig {
    pub strict: bool,
    levels: BTreeMap<&'static str, Level>,
}

impl LintConfig {
    /// Reads `RULE=LEVEL` options (`all=LEVEL` for every rule, later ones
    /// win); levels are `off`, `warn` and `error`.
    pub fn new(options: &[String], strict: bool) -> Result<LintConfig, String> {
        let mut c = LintConfig {
            strict,
            levels: BTreeMap::new(),
        };
        let names: Vec<&str> = RULES.iter().map(|r| r.name).collect();
        for opt in options.iter().filter(|o| !o.trim().is_empty()) {
            let (rule, level) = opt
                .split_once('=')
                .ok_or_else(|| format!("--lint `{opt}`: write RULE=off|warn|error"))?;
            let level = Level::parse(level).ok_or_else(|| {
                format!("--lint `{opt}`: unknown level `{level}` (off, warn or error)")
            })?;
            let rule = rule.trim();
            if rule == "all" {
                for r in RULES {
                    c.levels.insert(r.name, level);
                }
                continue;
            }
            let known = RULES.iter().find(|r| r.name == rule).ok_or_else(|| {
                let mut m = format!(
                    "--lint: unknown rule `{rule}` (one of {})",
                    names.join(", ")
                );
                if let Some(s) = crate::diagnostics::closest(rule, names.iter().copied()).first() {
                    m.push_str(&format!("; did you mean `{s}`?"));
                }
                m
            })?;
            c.levels.insert(known.name, level);
        }
        Ok(c)
    }

    /// The severity a rule reports with, or `None` when it is off. A level
    /// given with `--lint` wins; `--strict` turns the default (warn) into
    /// errors.
    pub fn severity(&self, rule: &str) -> Option<Severity> {
        match self.levels.get(rule).copied() {
            Some(Level::Off) => None,
            Some(Level::Error) => Some(Severity::Error),
            Some(Level::Warn) => Some(Severity::Warning),
            None if self.strict => Some(Severity::Error),
            None => Some(Severity::Warning),
        }
    }
}

/// `lower_snake_case`: lowercase letters and digits in words joined by
/// single underscores, starting with a letter.
pub fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('_')
        && !name.contains("__")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The snake_case spelling of a name: `OrderCount` → `order_count`.
pub fn to_snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let collapsed: Vec<&str> = out.split('_').filter(|s| !s.is_empty()).collect();
    collapsed.join("_")
}

struct Out<'a> {
    config: &'a LintConfig,
    findings: Vec<Finding>,
}

impl Out<'_> {
    fn push(
        &mut self,
        rule: &str,
        pos: Option<SourcePos>,
        field: String,
        message: String,
        suggestions: Vec<String>,
    ) {
        if let Some(sev) = self.config.severity(rule) {
            self.findings
                .push(Finding::new(sev, rule, pos, field, message).with_suggestions(suggestions));
        }
    }
}

/// Every lint finding for a catalog.
pub fn lint(catalog: &Catalog, index: &SourceIndex, config: &LintConfig) -> Vec<Finding> {
    let today = super::lifecycle::today();
    let mut out = Out {
        config,
        findings: Vec::new(),
    };
    let snake = |out: &mut Out, what: &str, name: &str, pos: Option<SourcePos>, field: String| {
        if !is_snake_case(name) {
            let fixed = to_snake_case(name);
            out.push(
                "snake-case",
                pos,
                field,
                format!("{what} name `{name}` is not snake_case"),
                if fixed.is_empty() || fixed == name {
                    Vec::new()
                } else {
                    vec![fixed]
                },
            );
        }
    };
    for model in &catalog.models {
        let mpos = index
            .models
            .get(&model.name)
            .map(|m| m.name.clone())
            .or(Some(model.pos.clone()));
        snake(
            &mut out,
            "model",
            &model.name,
            mpos,
            format!("models.{}.name", model.name),
        );
        let members = model
            .entities
            .iter()
            .map(|e| (MemberKind::Entity, "entity", e.name.as_str()))
            .chain(
                model
                    .dimensions
                    .iter()
                    .map(|d| (MemberKind::Dimension, "dimension", d.name.as_str())),
            )
            .chain(
                model
                    .measures
                    .iter()
                    .map(|x| (MemberKind::Measure, "measure", x.name.as_str())),
            );
        for (kind, what, name) in members {
            let pos = index.member(&model.name, kind, name, false);
            snake(
                &mut out,
                what,
                name,
                pos,
                format!("models.{}.{}.{name}", model.name, kind.section()),
            );
        }
        for d in model
            .dimensions
            .iter()
            .filter(|d| d.pii && d.tags.is_empty())
        {
            out.push(
                "pii-tagged",
                index.member(&model.name, MemberKind::Dimension, &d.name, false),
                format!("models.{}.dimensions.{}.tags", model.name, d.name),
                format!(
                    "PII dimension `{}.{}` has no tags; tag it (e.g. `tags: [contact]`) so policies and reviewers can find it",
                    model.name, d.name
                ),
                Vec::new(),
            );
        }
    }
    for m in catalog.metrics_sorted() {
        let at = |field: &str| {
            index
                .metric_field(&m.name, m.version, field)
                .or(Some(m.pos.clone()))
        };
        let field = |f: &str| format!("metrics.{}.{f}", m.name);
        let q = m.qualified_name();
        // A name is reported once, at its first version.
        if catalog.metric_versions(&m.name).first() == Some(&m.id) {
            snake(&mut out, "metric", &m.name, at("name"), field("name"));
        }
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|x| x.trim().is_empty());
        if m.status == MetricStatus::Active {
            if blank(&m.owner) {
                out.push(
                    "owner-required",
                    at("name"),
                    field("owner"),
                    format!("active metric `{q}` has no `owner`; name the team or person who answers for it"),
                    Vec::new(),
                );
            }
            if blank(&m.description) {
                out.push(
                    "description-required",
                    at("name"),
                    field("description"),
                    format!("active metric `{q}` has no `description`; say what it counts and what it leaves out"),
                    Vec::new(),
                );
            }
        }
        if m.format.as_deref() == Some("currency") && blank(&m.unit) {
            out.push(
                "currency-unit",
                at("name"),
                field("unit"),
                format!("metric `{q}` has `format: currency` but no `unit`; give the currency (e.g. `unit: USD`)"),
                Vec::new(),
            );
        }
        if matches!(m.kind, MetricKind::Ratio { .. }) && blank(&m.format) {
            out.push(
                "ratio-format",
                at("type"),
                field("format"),
                format!("ratio metric `{q}` has no `format`; say how to show it (e.g. `format: percent`)"),
                Vec::new(),
            );
        }
        if m.status != MetricStatus::Deprecated {
            for input in super::lifecycle::inputs(m) {
                let i = catalog.metric(input);
                if i.status != MetricStatus::Deprecated {
                    continue;
                }
                let instead = i
                    .replaced_by
                    .as_ref()
                    .map(|r| format!("; use `{}` instead", r.reference))
                    .unwrap_or_default();
                let state = match i.sunset_on {
                    Some(d) if super::lifecycle::is_sunset(i, today) => {
                        format!("was sunset on {d}")
                    }
                    Some(d) => format!("is deprecated (sunset after {d})"),
                    None => "is deprecated".to_string(),
                };
                let loc = match m.kind {
                    MetricKind::Simple { .. } => "name",
                    MetricKind::Ratio { .. } => "numerator",
                    MetricKind::Derived { .. } => "expr",
                    MetricKind::Cumulative { .. } | MetricKind::Conversion(_) => "name",
                };
                out.push(
                    "deprecated-input",
                    at(loc),
                    field("inputs"),
                    format!(
                        "{} metric `{q}` reads `{}`, which {state}{instead}",
                        m.status.name(),
                        i.qualified_name()
                    ),
                    Vec::new(),
                );
            }
        }
    }
    out.findings
}

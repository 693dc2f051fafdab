//! The checks section: one item per data quality check. Checks guard the
//! data but never change what a query returns, so every change is
//! non-breaking — and listed field by field, so a removed or loosened
//! check does not go unseen.

use super::change::{Change, ChangeKind, Class, Impact, ItemKind};
use super::engine::{Section, Sides};
use super::fields::{Field, Fields, Rule};
use super::text::{dim_name, expr_text, opt_expr};
use crate::catalog::Catalog;
use crate::checks::{Check, CheckKind, CheckTarget};

fn kind_fields(f: &mut Fields, c: &Catalog, k: &CheckKind) {
    let mut info = |name: &str, v: String| {
        f.add(name, Some(v), Rule::Info);
    };
    match k {
        CheckKind::Freshness { max_lag_seconds } => {
            info("max_lag", crate::checks::format_duration(*max_lag_seconds));
        }
        CheckKind::Completeness {
            column,
            filter,
            max_null_rate,
        } => {
            info("column", column.name.clone());
            info("filter", opt_expr(filter).unwrap_or_default());
            info("max_null_rate", max_null_rate.to_string());
        }
        CheckKind::Volume {
            trailing,
            k,
            min_history,
        } => {
            info("trailing", trailing.to_string());
            info("k", k.to_string());
            info("min_history", min_history.to_string());
        }
        CheckKind::ReferentialIntegrity {
            entity,
            references,
            max_orphans,
            ..
        } => {
            info("entity", entity.clone());
            info("references", c.model(*references).name.clone());
            info("max_orphans", max_orphans.to_string());
        }
        CheckKind::AcceptedValues {
            column,
            values,
            max_invalid,
        } => {
            let vals: Vec<String> = values
                .iter()
                .map(|v| expr_text(&crate::sql::ast::Expr::Lit(v.clone())))
                .collect();
            info("column", column.name.clone());
            info("values", vals.join(", "));
            info("max_invalid", max_invalid.to_string());
        }
        CheckKind::Anomaly {
            period,
            trailing,
            k,
            weekday_seasonality,
            min_history,
        } => {
            info("period", period.name().to_string());
            info("trailing", trailing.to_string());
            info("k", k.to_string());
            info("weekday_seasonality", weekday_seasonality.to_string());
            info("min_history", min_history.to_string());
        }
    }
}

fn target_text(c: &Catalog, t: CheckTarget) -> String {
    match t {
        CheckTarget::Model(m) => format!("model {}", c.model(m).name),
        CheckTarget::Metric(m) => format!("metric {}", c.metric(m).qualified_name()),
    }
}

pub struct Checks;

impl Section for Checks {
    type Item<'c> = &'c Check;
    const KIND: ItemKind = ItemKind::Check;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Check)> {
        this.checks.iter().map(|x| (x.name.clone(), x)).collect()
    }

    fn fields(&self, c: &Catalog, x: &&Check) -> Vec<Field> {
        let mut f = Fields::new();
        let time = match (x.target, x.time) {
            (CheckTarget::Model(m), Some(i)) => Some(dim_name(c.model(m), i)),
            _ => None,
        };
        f.add("target", Some(target_text(c, x.target)), Rule::Info)
            .add("type", Some(x.kind.name().to_string()), Rule::Info)
            .add("severity", Some(x.severity.name().to_string()), Rule::Info)
            .add("time", time, Rule::Info);
        kind_fields(&mut f, c, &x.kind);
        f.info("owner", &x.owner)
            .info("description", &x.description);
        f.0
    }

    fn impact(&self, c: &Catalog, x: &&Check) -> Impact {
        let metrics = match x.target {
            CheckTarget::Metric(m) => vec![c.metric(m).qualified_name()],
            CheckTarget::Model(_) => Vec::new(),
        };
        Impact {
            metrics,
            definitions: Vec::new(),
        }
    }

    /// A check gone guards nothing any more; no query changes.
    fn removed(&self, s: Sides, key: &str, x: &&Check) -> Change {
        let detail = super::change::Detail::classed(
            "severity",
            Some(x.severity.name().to_string()),
            None,
            Class::NonBreaking,
        );
        Change::new(
            ChangeKind::Removed,
            ItemKind::Check,
            key,
            vec![detail],
            Class::NonBreaking,
            self.impact(s.base, x),
        )
    }
}

//! The funnels and retention sections: one item per analysis. What
//! counts as an event, the window, the order, the periods, the subject and
//! stitching all change the answer (breaking); descriptions and owners do
//! not.

use serde::Serialize;

use super::change::{Impact, ItemKind};
use super::engine::Section;
use super::fields::{Field, Fields};
use super::text::{dim_name, expr_text};
use crate::catalog::Catalog;
use crate::catalog::analysis::{EventSource, Funnel, Retention};

/// A serde enum's snake_case name (`first_time`).
pub fn snake<T: Serialize>(t: &T) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `signup: events where kind = 'signup' (time events.occurred_at)`
fn event_text(c: &Catalog, e: &EventSource) -> String {
    let model = c.model(e.model);
    let mut s = format!("{}: {}", e.name, model.name);
    if let Some(f) = &e.filter {
        s.push_str(&format!(" where {}", expr_text(f)));
    }
    s.push_str(&format!(" (time {})", dim_name(model, e.time)));
    s
}

fn stitched(at: &Option<crate::diagnostics::SourcePos>) -> String {
    at.is_some().to_string()
}

pub struct Funnels;

impl Section for Funnels {
    type Item<'c> = &'c Funnel;
    const KIND: ItemKind = ItemKind::Funnel;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Funnel)> {
        this.analyses
            .funnels
            .iter()
            .map(|f| (f.name.clone(), f))
            .collect()
    }

    fn fields(&self, c: &Catalog, f: &&Funnel) -> Vec<Field> {
        let mut x = Fields::new();
        x.breaking("subject", &f.subject);
        for (i, s) in f.steps.iter().enumerate() {
            x.breaking(&format!("step {}", i + 1), event_text(c, s));
        }
        x.breaking("window", &f.window_text)
            .breaking("order", f.order.name());
        for (i, e) in f.exclusions.iter().enumerate() {
            let text = format!(
                "{} between steps {} and {}",
                event_text(c, &e.event),
                e.after + 1,
                e.before + 1
            );
            x.breaking(&format!("exclusion {}", i + 1), text);
        }
        x.add(
            "breakdown",
            f.breakdown.clone(),
            super::fields::Rule::Breaking,
        )
        .breaking("stitched", stitched(&f.stitched_at))
        .info("description", &f.description)
        .info("owner", &f.owner);
        x.0
    }

    fn impact(&self, _c: &Catalog, _f: &&Funnel) -> Impact {
        Impact::default()
    }
}

pub struct Retentions;

impl Section for Retentions {
    type Item<'c> = &'c Retention;
    const KIND: ItemKind = ItemKind::Retention;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Retention)> {
        this.analyses
            .retention
            .iter()
            .map(|r| (r.name.clone(), r))
            .collect()
    }

    fn fields(&self, c: &Catalog, r: &&Retention) -> Vec<Field> {
        let mut x = Fields::new();
        x.breaking("subject", &r.subject)
            .breaking("cohort", event_text(c, &r.cohort))
            .breaking("return", event_text(c, &r.returns))
            .breaking("period", r.period.name())
            .breaking("periods", r.periods)
            .breaking("cohort_kind", snake(&r.cohort_kind))
            .breaking("mode", snake(&r.mode))
            .add(
                "group_by",
                r.group_by.clone(),
                super::fields::Rule::Breaking,
            )
            .breaking("stitched", stitched(&r.stitched_at))
            .info("description", &r.description)
            .info("owner", &r.owner);
        x.0
    }

    fn impact(&self, _c: &Catalog, _r: &&Retention) -> Impact {
        Impact::default()
    }
}

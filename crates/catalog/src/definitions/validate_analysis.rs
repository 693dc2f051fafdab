//! The `funnels:` and `retention:` sections: raw shapes and validation into
//! [`crate::catalog::analysis`]. Structure is checked here with positions
//! and suggestions; then each analysis is planned once, so filters, the
//! breakdown and join paths are checked by the code that will run them.

use std::sync::Arc;

use serde::Deserialize;
use serde_saphyr::Location;

use super::raw::S;
use super::validate::Ctx;
use crate::catalog::analysis::*;
use crate::catalog::{Catalog, DimensionKind, Model, ModelId};
use crate::diagnostics::{Diagnostic, Diagnostics, SourcePos};
use crate::sql::convert::{Origin, parse_expr};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    #[serde(default)]
    pub name: Option<S<String>>,
    pub model: S<String>,
    /// Boolean SQL over dimensions; bare names are the model's own.
    #[serde(default)]
    pub filter: Option<S<String>>,
    /// Time dimension ordering the events; defaults to the model's.
    #[serde(default)]
    pub time: Option<S<String>>,
    /// Exclusions only: the steps it lies between (names; default the
    /// first and the last step).
    #[serde(default)]
    pub after: Option<S<String>>,
    #[serde(default)]
    pub before: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunnel {
    pub name: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    pub subject: S<String>,
    pub steps: Vec<S<RawEvent>>,
    /// `30 minutes`, `1 day`, `2 weeks`.
    pub window: S<String>,
    #[serde(default)]
    pub order: Option<S<String>>,
    #[serde(default)]
    pub exclusions: Vec<S<RawEvent>>,
    #[serde(default)]
    pub breakdown: Option<S<String>>,
    /// Subjects are people through the identity map (docs/identity.md).
    #[serde(default)]
    pub stitched: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    pub name: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    pub subject: S<String>,
    pub cohort: S<RawEvent>,
    #[serde(rename = "return")]
    pub returns: S<RawEvent>,
    pub period: S<String>,
    pub periods: S<u32>,
    /// `first_time` (default) or `recurring`.
    #[serde(default)]
    pub cohort_type: Option<S<String>>,
    /// `on` (default) or `on_or_after`.
    #[serde(default)]
    pub mode: Option<S<String>>,
    #[serde(default)]
    pub group_by: Option<S<String>>,
    /// Subjects are people through the identity map (docs/identity.md).
    #[serde(default)]
    pub stitched: Option<S<bool>>,
}

/// The most period numbers a retention matrix may have (each is one
/// branch of a CASE and one row per cohort).
pub const MAX_PERIODS: u32 = 120;

/// The longest funnel (each step is one pass over the events).
pub const MAX_STEPS: usize = 20;

/// Validates both sections into `catalog.analyses`, then plans each one.
pub fn analyses(
    catalog: &mut Catalog,
    funnels: Vec<(Arc<str>, S<RawFunnel>)>,
    retention: Vec<(Arc<str>, S<RawRetention>)>,
    plans: &dyn super::PlanCheck,
    diags: &mut Diagnostics,
) {
    let mut out = Analyses::default();
    let mut names: Vec<(String, SourcePos)> = Vec::new();
    for (file, raw) in funnels {
        let mut cx = Ctx { file, diags };
        if let Some(f) = funnel(&mut cx, catalog, raw.value, &raw.referenced, &mut names) {
            out.funnels.push(f);
        }
    }
    for (file, raw) in retention {
        let mut cx = Ctx { file, diags };
        if let Some(r) = retention_def(&mut cx, catalog, raw.value, &raw.referenced, &mut names) {
            out.retention.push(r);
        }
    }
    catalog.analyses = out;
    if !diags.is_empty() {
        return;
    }
    let mut problems = Vec::new();
    for f in &catalog.analyses.funnels {
        let q = crate::query::SemanticQuery {
            funnel: Some(f.name.clone()),
            ..Default::default()
        };
        if let Err(e) = plans.check(catalog, &q) {
            problems.push(
                Diagnostic::new(
                    Some(f.pos.clone()),
                    format!("funnels.{}", f.name),
                    e.message,
                )
                .with_suggestions(e.suggestions),
            );
        }
    }
    for r in &catalog.analyses.retention {
        let q = crate::query::SemanticQuery {
            retention: Some(r.name.clone()),
            ..Default::default()
        };
        if let Err(e) = plans.check(catalog, &q) {
            problems.push(
                Diagnostic::new(
                    Some(r.pos.clone()),
                    format!("retention.{}", r.name),
                    e.message,
                )
                .with_suggestions(e.suggestions),
            );
        }
    }
    for p in problems {
        diags.push(p);
    }
}

fn unique_name(
    cx: &mut Ctx,
    name: &S<String>,
    field: &str,
    names: &mut Vec<(String, SourcePos)>,
) -> bool {
    if !super::is_identifier(&name.value) {
        cx.error(
            &name.referenced,
            field,
            format!("`{}` must be a plain identifier", name.value),
        );
        return false;
    }
    if let Some((_, first)) = names.iter().find(|(n, _)| *n == name.value) {
        cx.error(
            &name.referenced,
            field,
            format!(
                "duplicate analysis `{}` (first defined at {first}); funnels and retention analyses share one namespace",
                name.value
            ),
        );
        return false;
    }
    names.push((name.value.clone(), cx.pos(&name.referenced)));
    true
}

/// `30 minutes`, `1 day` → seconds.
pub fn parse_window(text: &str) -> Option<i64> {
    let mut parts = text.split_whitespace();
    let n: i64 = parts.next()?.parse().ok()?;
    let unit = parts.next()?;
    if parts.next().is_some() || n <= 0 {
        return None;
    }
    let factor = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 604_800,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn model_named<'c>(
    cx: &mut Ctx,
    catalog: &'c Catalog,
    name: &S<String>,
    field: &str,
) -> Option<&'c Model> {
    let m = catalog.model_by_name(&name.value);
    if m.is_none() {
        let names: Vec<&str> = catalog.model_names().collect();
        cx.suggest(
            &name.referenced,
            field,
            format!("unknown model `{}`", name.value),
            &name.value,
            &names,
        );
    }
    m
}

fn event(
    cx: &mut Ctx,
    catalog: &Catalog,
    raw: &RawEvent,
    loc: &Location,
    default_name: &str,
    field: &str,
    (subject, stitched): (&S<String>, bool),
) -> Option<EventSource> {
    let is_exclusion = field.contains(".exclusions[");
    for (what, v) in [("after", &raw.after), ("before", &raw.before)] {
        if let Some(v) = v
            && !is_exclusion
        {
            cx.error(
                &v.referenced,
                format!("{field}.{what}"),
                format!("`{what}` belongs to exclusions only"),
            );
            return None;
        }
    }
    let name = raw
        .name
        .as_ref()
        .map(|n| n.value.clone())
        .unwrap_or_else(|| default_name.to_string());
    if let Some(n) = &raw.name
        && !super::is_identifier(&n.value)
    {
        cx.error(
            &n.referenced,
            format!("{field}.name"),
            format!("`{}` must be a plain identifier", n.value),
        );
        return None;
    }
    let model = model_named(cx, catalog, &raw.model, &format!("{field}.model"))?;
    let times: Vec<(usize, &str)> = model
        .dimensions
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d.kind, DimensionKind::Time { .. }))
        .map(|(i, d)| (i, d.name.as_str()))
        .collect();
    let time = match &raw.time {
        Some(t) => match times.iter().find(|(_, n)| *n == t.value) {
            Some((i, _)) => *i,
            None => {
                let options: Vec<&str> = times.iter().map(|(_, n)| *n).collect();
                cx.suggest(
                    &t.referenced,
                    format!("{field}.time"),
                    format!(
                        "`{}` is not a time dimension of model `{}`",
                        t.value, model.name
                    ),
                    &t.value,
                    &options,
                );
                return None;
            }
        },
        None => match (
            model.measures.iter().find_map(|m| m.time_dimension),
            &times[..],
        ) {
            (Some(i), _) => i,
            (None, [(i, _)]) => *i,
            (None, _) => {
                cx.error(
                    loc,
                    format!("{field}.time"),
                    format!(
                        "model `{}` has {} time dimensions and no default; name the one that orders these events with `time`",
                        model.name,
                        times.len()
                    ),
                );
                return None;
            }
        },
    };
    // A stitched analysis finds the person of a row through the identity
    // map, so an identity source needs no entity column of its own.
    let subject_ok = model
        .entity(&subject.value)
        .is_some_and(|e| e.keys.len() == 1)
        || (stitched && crate::identity::is_stitchable(catalog, model.id));
    if !subject_ok {
        let options: Vec<&str> = model
            .entities
            .iter()
            .filter(|e| e.keys.len() == 1)
            .map(|e| e.name.as_str())
            .collect();
        cx.suggest(
            &subject.referenced,
            "subject",
            format!(
                "model `{}` (used by {field}) has no single-key entity `{}` to identify the subject",
                model.name, subject.value
            ),
            &subject.value,
            &options,
        );
        return None;
    }
    let filter = match &raw.filter {
        Some(f) => match parse_expr(&f.value, Origin::Definition) {
            Ok(e) => Some(e),
            Err(m) => {
                cx.error(&f.referenced, format!("{field}.filter"), m);
                return None;
            }
        },
        None => None,
    };
    Some(EventSource {
        name,
        model: model.id,
        filter,
        filter_text: raw.filter.as_ref().map(|f| f.value.clone()),
        time,
    })
}

fn funnel(
    cx: &mut Ctx,
    catalog: &Catalog,
    raw: RawFunnel,
    loc: &Location,
    names: &mut Vec<(String, SourcePos)>,
) -> Option<Funnel> {
    let name = raw.name.value.clone();
    let f = |x: &str| format!("funnels.{name}.{x}");
    if !unique_name(cx, &raw.name, &f("name"), names) {
        return None;
    }
    let stitched = raw.stitched.as_ref().is_some_and(|s| s.value);
    let mut ok = true;
    if raw.steps.len() < 2 || raw.steps.len() > MAX_STEPS {
        cx.error(
            loc,
            f("steps"),
            format!(
                "a funnel needs 2 to {MAX_STEPS} steps; this one has {}",
                raw.steps.len()
            ),
        );
        ok = false;
    }
    let mut steps = Vec::new();
    for (i, s) in raw.steps.iter().enumerate() {
        let default = format!("step_{}", i + 1);
        match event(
            cx,
            catalog,
            &s.value,
            &s.referenced,
            &default,
            &f(&format!("steps[{i}]")),
            (&raw.subject, stitched),
        ) {
            Some(e) => {
                if steps.iter().any(|x: &EventSource| x.name == e.name) {
                    cx.error(
                        &s.referenced,
                        f(&format!("steps[{i}].name")),
                        format!("duplicate step name `{}`", e.name),
                    );
                    ok = false;
                }
                steps.push(e);
            }
            None => ok = false,
        }
    }
    let window_seconds = match parse_window(&raw.window.value) {
        Some(w) => w,
        None => {
            cx.error(
                &raw.window.referenced,
                f("window"),
                format!(
                    "`{}` is not a window; write a positive number and a unit: `30 minutes`, `1 day`, `2 weeks` (seconds, minutes, hours, days, weeks)",
                    raw.window.value
                ),
            );
            ok = false;
            0
        }
    };
    let order = match &raw.order {
        None => FunnelOrder::Ordered,
        Some(o) => match FunnelOrder::parse(&o.value) {
            Some(x) => x,
            None => {
                cx.suggest(
                    &o.referenced,
                    f("order"),
                    format!("unknown order `{}`", o.value),
                    &o.value,
                    &FunnelOrder::NAMES,
                );
                ok = false;
                FunnelOrder::Ordered
            }
        },
    };
    let step_names: Vec<String> = steps.iter().map(|s| s.name.clone()).collect();
    let mut exclusions = Vec::new();
    for (i, x) in raw.exclusions.iter().enumerate() {
        let field = f(&format!("exclusions[{i}]"));
        let Some(event) = event(
            cx,
            catalog,
            &x.value,
            &x.referenced,
            &format!("exclusion_{}", i + 1),
            &field,
            (&raw.subject, stitched),
        ) else {
            ok = false;
            continue;
        };
        if order == FunnelOrder::Unordered {
            cx.error(
                &x.referenced,
                &field,
                "an unordered funnel has no \"between two steps\"; exclusions need `order: ordered` or `strict`",
            );
            ok = false;
            continue;
        }
        let mut step_index = |s: &Option<S<String>>, default: usize, what: &str| match s {
            None => Some(default),
            Some(n) => match step_names.iter().position(|x| *x == n.value) {
                Some(p) => Some(p),
                None => {
                    let options: Vec<&str> = step_names.iter().map(String::as_str).collect();
                    cx.suggest(
                        &n.referenced,
                        format!("{field}.{what}"),
                        format!("unknown step `{}`", n.value),
                        &n.value,
                        &options,
                    );
                    None
                }
            },
        };
        let after = step_index(&x.value.after, 0, "after");
        let before = step_index(
            &x.value.before,
            step_names.len().saturating_sub(1),
            "before",
        );
        match (after, before) {
            (Some(a), Some(b)) if a < b => exclusions.push(Exclusion {
                event,
                after: a,
                before: b,
            }),
            (Some(_), Some(_)) => {
                cx.error(
                    &x.referenced,
                    &field,
                    "`after` must name a step before the one `before` names",
                );
                ok = false;
            }
            _ => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let models: Vec<ModelId> = steps
        .iter()
        .chain(exclusions.iter().map(|x| &x.event))
        .map(|e| e.model)
        .collect();
    let stitched_at = stitched_at(
        cx,
        catalog,
        &raw.stitched,
        &f("stitched"),
        &raw.subject,
        &models,
    )?;
    Some(Funnel {
        name,
        description: raw.description,
        owner: raw.owner,
        subject: raw.subject.value,
        steps,
        window_seconds,
        window_text: raw.window.value,
        order,
        exclusions,
        breakdown: raw.breakdown.map(|b| b.value),
        stitched_at,
        pos: cx.pos(loc),
    })
}

fn retention_def(
    cx: &mut Ctx,
    catalog: &Catalog,
    raw: RawRetention,
    loc: &Location,
    names: &mut Vec<(String, SourcePos)>,
) -> Option<Retention> {
    let name = raw.name.value.clone();
    let f = |x: &str| format!("retention.{name}.{x}");
    if !unique_name(cx, &raw.name, &f("name"), names) {
        return None;
    }
    let stitched = raw.stitched.as_ref().is_some_and(|s| s.value);
    let cohort = event(
        cx,
        catalog,
        &raw.cohort.value,
        &raw.cohort.referenced,
        "cohort",
        &f("cohort"),
        (&raw.subject, stitched),
    );
    let returns = event(
        cx,
        catalog,
        &raw.returns.value,
        &raw.returns.referenced,
        "return",
        &f("return"),
        (&raw.subject, stitched),
    );
    let period = RetentionPeriod::parse(&raw.period.value);
    if period.is_none() {
        cx.suggest(
            &raw.period.referenced,
            f("period"),
            format!("unknown period `{}`", raw.period.value),
            &raw.period.value,
            &RetentionPeriod::NAMES,
        );
    }
    let periods = raw.periods.value;
    let periods_ok = (1..=MAX_PERIODS).contains(&periods);
    if !periods_ok {
        cx.error(
            &raw.periods.referenced,
            f("periods"),
            format!("`periods` must be between 1 and {MAX_PERIODS}"),
        );
    }
    let parse_opt = |cx: &mut Ctx, v: &Option<S<String>>, field: &str, names: &[&str]| match v {
        None => Some(None),
        Some(s) if names.contains(&s.value.as_str()) => Some(Some(s.value.clone())),
        Some(s) => {
            cx.suggest(
                &s.referenced,
                f(field),
                format!("unknown {field} `{}`", s.value),
                &s.value,
                names,
            );
            None
        }
    };
    let kind = parse_opt(cx, &raw.cohort_type, "cohort_type", &CohortKind::NAMES);
    let mode = parse_opt(cx, &raw.mode, "mode", &RetentionMode::NAMES);
    let (Some(cohort), Some(returns), Some(period), true, Some(kind), Some(mode)) =
        (cohort, returns, period, periods_ok, kind, mode)
    else {
        return None;
    };
    let models = [cohort.model, returns.model];
    let stitched_at = stitched_at(
        cx,
        catalog,
        &raw.stitched,
        &f("stitched"),
        &raw.subject,
        &models,
    )?;
    Some(Retention {
        name,
        description: raw.description,
        owner: raw.owner,
        subject: raw.subject.value,
        cohort,
        returns,
        period,
        periods,
        cohort_kind: kind
            .as_deref()
            .and_then(CohortKind::parse)
            .unwrap_or(CohortKind::FirstTime),
        mode: mode
            .as_deref()
            .and_then(RetentionMode::parse)
            .unwrap_or(RetentionMode::On),
        group_by: raw.group_by.map(|g| g.value),
        stitched_at,
        pos: cx.pos(loc),
    })
}

/// Where `stitched: true` was written, when the analysis can be stitched;
/// `Err` (reported) when it cannot. `Ok(None)`: not stitched.
fn stitched_at(
    cx: &mut Ctx,
    catalog: &Catalog,
    flag: &Option<S<bool>>,
    field: &str,
    subject: &S<String>,
    models: &[ModelId],
) -> Option<Option<SourcePos>> {
    let Some(flag) = flag.as_ref().filter(|s| s.value) else {
        return Some(None);
    };
    match super::validate_identity::stitch_problem(catalog, &subject.value, models) {
        None => Some(Some(cx.pos(&flag.referenced))),
        Some(problem) => {
            cx.error(&flag.referenced, field, problem);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn windows() {
        assert_eq!(parse_window("1 day"), Some(86_400));
        assert_eq!(parse_window("30 minutes"), Some(1800));
        assert_eq!(parse_window("2 weeks"), Some(1_209_600));
        assert_eq!(parse_window("0 days"), None);
        assert_eq!(parse_window("1 fortnight"), None);
        assert_eq!(parse_window("day"), None);
    }
}

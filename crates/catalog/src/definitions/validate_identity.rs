//! Validation of the `identity:` section: identifier types, edge sources,
//! merge limits, erasure source, and the `stitched` flag of measures.

use std::sync::Arc;

use super::raw::S;
use super::validate::{Ctx, model_expr};
use crate::catalog::{Catalog, DimensionKind, ModelId};
use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::identity::model::{
    DEFAULT_MAX_ITERATIONS, DEFAULT_TABLE_PREFIX, EdgeSource, IdentifierType, Identity, Limit,
    Tables,
};
use crate::identity::raw::RawIdentity;

const NORMALISATIONS: [&str; 2] = ["trim", "lower"];

pub fn identity(
    c: &Catalog,
    raw: Vec<(Arc<str>, S<RawIdentity>)>,
    diags: &mut Diagnostics,
) -> Option<Identity> {
    let mut it = raw.into_iter();
    let (file, first) = it.next()?;
    let mut cx = Ctx { file, diags };
    for (_, dup) in it {
        cx.error(
            &dup.referenced,
            "identity",
            "`identity` may be defined only once",
        );
    }
    let pos = cx.pos(&first.referenced);
    let raw = first.value;
    let errors_before = cx.diags.0.len();

    // Identifier types, sorted by priority.
    let mut types: Vec<IdentifierType> = Vec::new();
    for t in &raw.identifiers {
        let t = &t.value;
        let name = t.name.value.clone();
        let f = |x: &str| format!("identity.identifiers.{name}.{x}");
        if !super::is_identifier(&name) || types.iter().any(|x| x.name == name) {
            cx.error(
                &t.name.referenced,
                "identity.identifiers.name",
                format!("identifier type `{name}` must be a unique plain identifier"),
            );
            continue;
        }
        if t.priority.value == 0 || types.iter().any(|x| x.priority == t.priority.value) {
            cx.error(
                &t.priority.referenced,
                f("priority"),
                format!(
                    "priority {} must be a positive number no other identifier type uses",
                    t.priority.value
                ),
            );
        }
        let (mut trim, mut lower) = (false, false);
        for n in &t.normalize {
            match n.value.as_str() {
                "trim" => trim = true,
                "lower" => lower = true,
                other => cx.suggest(
                    &n.referenced,
                    f("normalize"),
                    format!("unknown normalisation `{other}`"),
                    other,
                    &NORMALISATIONS,
                ),
            }
        }
        // Blocked values are compared after normalisation, so one written
        // in another form could never match.
        let normal = |v: &str| {
            let v = if trim { v.trim() } else { v };
            if lower {
                v.to_lowercase()
            } else {
                v.to_string()
            }
        };
        for v in t.blocked_values.iter().chain(&t.blocked_patterns) {
            if normal(&v.value) != v.value {
                cx.diags.push(
                    Diagnostic::new(
                        Some(cx.pos(&v.referenced)),
                        f("blocked_values"),
                        format!(
                            "`{}` can never match: values are compared after normalisation",
                            v.value
                        ),
                    )
                    .with_suggestions(vec![normal(&v.value)]),
                );
            }
        }
        for p in &t.blocked_patterns {
            // Engines disagree on LIKE's default escape character.
            if p.value.contains('\\') {
                cx.error(
                    &p.referenced,
                    f("blocked_patterns"),
                    "a blocked pattern may not contain a backslash (engines disagree on LIKE escapes)",
                );
            }
        }
        types.push(IdentifierType {
            name,
            priority: t.priority.value,
            trim,
            lower,
            blocked_values: t.blocked_values.iter().map(|v| v.value.clone()).collect(),
            blocked_patterns: t.blocked_patterns.iter().map(|v| v.value.clone()).collect(),
        });
    }
    types.sort_by_key(|t| t.priority);
    if types.is_empty() {
        cx.error(
            &first.referenced,
            "identity.identifiers",
            "at least one identifier type is required",
        );
        return None;
    }
    let type_names: Vec<String> = types.iter().map(|t| t.name.clone()).collect();
    let type_refs: Vec<&str> = type_names.iter().map(String::as_str).collect();
    let find_type = |cx: &mut Ctx, s: &S<String>, field: &str| -> Option<usize> {
        let i = types.iter().position(|t| t.name == s.value);
        if i.is_none() {
            cx.suggest(
                &s.referenced,
                field,
                format!("unknown identifier type `{}`", s.value),
                &s.value,
                &type_refs,
            );
        }
        i
    };
    let canonical = find_type(&mut cx, &raw.canonical, "identity.canonical");

    // The stitched entity must exist on some model.
    let entity = raw.entity.value.clone();
    if !c
        .models
        .iter()
        .any(|m| m.entities.iter().any(|e| e.name == entity))
    {
        let mut names: Vec<&str> = c
            .models
            .iter()
            .flat_map(|m| m.entities.iter().map(|e| e.name.as_str()))
            .collect();
        names.sort();
        names.dedup();
        cx.suggest(
            &raw.entity.referenced,
            "identity.entity",
            format!("unknown entity `{entity}`"),
            &entity,
            &names,
        );
    }

    let mut limits = Vec::new();
    for l in &raw.limits {
        let l = &l.value;
        let a = find_type(&mut cx, &l.identifier, "identity.limits.identifier");
        let b = find_type(&mut cx, &l.linked, "identity.limits.linked");
        if l.max.value == 0 {
            cx.error(
                &l.max.referenced,
                "identity.limits.max",
                "max must be at least 1 (block the identifier type instead)",
            );
            continue;
        }
        if let (Some(identifier), Some(linked)) = (a, b) {
            limits.push(Limit {
                identifier,
                linked,
                max: l.max.value,
            });
        }
    }

    let model_names: Vec<&str> = c.model_names().collect();
    let mut sources = Vec::new();
    for s in &raw.sources {
        let s = &s.value;
        let Some(model) = c.model_by_name(&s.model.value) else {
            cx.suggest(
                &s.model.referenced,
                "identity.sources.model",
                format!("unknown model `{}`", s.model.value),
                &s.model.value,
                &model_names,
            );
            continue;
        };
        let f = |x: &str| format!("identity.sources.{}.{x}", model.name);
        if sources.iter().any(|x: &EdgeSource| x.model == model.id) {
            cx.error(
                &s.model.referenced,
                f("model"),
                "each model may be listed as a source once (list all its pairs there)",
            );
            continue;
        }
        let time = match model.dimension(&s.time.value) {
            Some((_, d)) if matches!(d.kind, DimensionKind::Time { .. }) => Some(d.expr.clone()),
            _ => {
                let names: Vec<&str> = model
                    .dimensions
                    .iter()
                    .filter(|d| matches!(d.kind, DimensionKind::Time { .. }))
                    .map(|d| d.name.as_str())
                    .collect();
                cx.suggest(
                    &s.time.referenced,
                    f("time"),
                    format!(
                        "`{}` is not a time dimension of `{}`",
                        s.time.value, model.name
                    ),
                    &s.time.value,
                    &names,
                );
                None
            }
        };
        let mut columns = Vec::new();
        for i in &s.identifiers {
            let Some(t) = find_type(&mut cx, &i.value.identifier, &f("identifiers.identifier"))
            else {
                continue;
            };
            if columns.iter().any(|(x, _)| *x == t) {
                cx.error(
                    &i.value.identifier.referenced,
                    f("identifiers"),
                    format!("identifier type `{}` is listed twice", types[t].name),
                );
                continue;
            }
            let text = i
                .value
                .expr
                .as_ref()
                .map(|e| e.value.clone())
                .unwrap_or_else(|| types[t].name.clone());
            match model_expr(&text) {
                Ok(e) if !e.contains_aggregate() => columns.push((t, e)),
                Ok(_) => cx.error(
                    &i.referenced,
                    f("identifiers.expr"),
                    "an identifier expression must not aggregate",
                ),
                Err(msg) => cx.error(&i.referenced, f("identifiers.expr"), msg),
            }
        }
        let listed: Vec<&str> = columns
            .iter()
            .map(|(t, _)| types[*t].name.as_str())
            .collect();
        let in_source = |cx: &mut Ctx, name: &S<String>, field: &str| -> Option<usize> {
            let i = columns
                .iter()
                .position(|(t, _)| types[*t].name == name.value);
            if i.is_none() {
                cx.suggest(
                    &name.referenced,
                    field,
                    format!("`{}` is not one of this source's identifiers", name.value),
                    &name.value,
                    &listed,
                );
            }
            i
        };
        let mut pairs = Vec::new();
        for p in &s.pairs {
            match p.value.as_slice() {
                [a, b] => {
                    let (a, b) = (
                        in_source(&mut cx, a, &f("pairs")),
                        in_source(&mut cx, b, &f("pairs")),
                    );
                    match (a, b) {
                        (Some(a), Some(b)) if a != b => pairs.push((a, b)),
                        (Some(_), Some(_)) => cx.error(
                            &p.referenced,
                            f("pairs"),
                            "a pair links two different identifiers",
                        ),
                        _ => {}
                    }
                }
                _ => cx.error(
                    &p.referenced,
                    f("pairs"),
                    "a pair is a list of two identifier types, e.g. [anonymous_id, customer_id]",
                ),
            }
        }
        let stitch_by = match &s.stitch_by {
            Some(n) => in_source(&mut cx, n, &f("stitch_by")),
            None => Some(0),
        };
        if let (Some(time), Some(stitch_by)) = (time, stitch_by)
            && !columns.is_empty()
        {
            sources.push(EdgeSource {
                model: model.id,
                time,
                columns,
                pairs,
                stitch_by,
            });
        }
    }
    if raw.sources.is_empty() {
        cx.error(
            &first.referenced,
            "identity.sources",
            "at least one source model is required",
        );
    }

    let erasure = match &raw.erasure {
        None => None,
        Some(e) => match c.model_by_name(&e.value) {
            Some(m) => match m.entity(&entity).filter(|x| x.keys.len() == 1) {
                Some(x) => Some((m.id, x.keys[0].clone())),
                None => {
                    cx.error(
                        &e.referenced,
                        "identity.erasure",
                        format!("model `{}` has no single-column `{entity}` entity", m.name),
                    );
                    None
                }
            },
            None => {
                cx.suggest(
                    &e.referenced,
                    "identity.erasure",
                    format!("unknown model `{}`", e.value),
                    &e.value,
                    &model_names,
                );
                None
            }
        },
    };
    let prefix = match &raw.table_prefix {
        Some(p) if super::is_identifier(&p.value) => p.value.clone(),
        Some(p) => {
            cx.error(
                &p.referenced,
                "identity.table_prefix",
                "the table prefix must be a plain identifier",
            );
            DEFAULT_TABLE_PREFIX.into()
        }
        None => DEFAULT_TABLE_PREFIX.into(),
    };
    let max_iterations = match &raw.max_iterations {
        Some(m) if m.value == 0 => {
            cx.error(
                &m.referenced,
                "identity.max_iterations",
                "max_iterations must be at least 1",
            );
            DEFAULT_MAX_ITERATIONS
        }
        Some(m) => m.value,
        None => DEFAULT_MAX_ITERATIONS,
    };
    if cx.diags.0.len() > errors_before {
        return None;
    }
    Some(Identity {
        entity,
        canonical: canonical?,
        rule_version: raw.rule_version.value,
        max_iterations,
        tables: Tables { prefix },
        types,
        limits,
        sources,
        erasure,
        pos,
    })
}

/// Why an analysis or attribution marked `stitched: true`, counting
/// `subject` over `models`, cannot be stitched; `None` when it can. Consent
/// and suppression then hold per person too, so their models must be
/// stitchable as well.
pub fn stitch_problem(c: &Catalog, subject: &str, models: &[ModelId]) -> Option<String> {
    let Some(idn) = &c.identity else {
        return Some("`stitched` needs a valid `identity:` definition".into());
    };
    if idn.entity != subject {
        return Some(format!(
            "the identity definition stitches `{}`, not the subject `{subject}`",
            idn.entity
        ));
    }
    let policy_models = c
        .consent
        .iter()
        .flat_map(|k| std::iter::once(k.ledger.model).chain(k.suppression.as_ref().map(|s| s.0)));
    let mut seen = Vec::new();
    for m in models.iter().copied().chain(policy_models) {
        if seen.contains(&m) {
            continue;
        }
        seen.push(m);
        if !crate::identity::is_stitchable(c, m) {
            return Some(format!(
                "model `{}` can not be stitched: list it under identity.sources or give it a `{}` entity",
                c.model(m).name,
                idn.entity
            ));
        }
    }
    None
}

/// Every `stitched: true` measure needs an identity definition and a model
/// the planner can stitch (an identity source, or a model keyed by the
/// stitched entity).
pub fn stitched_measures(c: &Catalog, identity_written: bool, diags: &mut Diagnostics) {
    for m in &c.models {
        for me in &m.measures {
            let Some(pos) = &me.stitched_at else { continue };
            let field = format!("models.{}.measures.{}.stitched", m.name, me.name);
            let problem = match &c.identity {
                // An invalid identity section was reported already.
                None if identity_written => None,
                None => Some("`stitched` needs an `identity:` definition".to_string()),
                Some(idn) => stitch_problem(c, &idn.entity, &[m.id]),
            };
            if let Some(p) = problem {
                diags.push(Diagnostic::new(Some(pos.clone()), field, p));
            }
        }
    }
    // A conversion whose base measure is stitched matches conversions per
    // person, so its conversion model must be stitchable by the same
    // entity; otherwise an anonymous base event could never convert.
    for metric in &c.metrics {
        let crate::catalog::MetricKind::Conversion(conv) = &metric.kind else {
            continue;
        };
        let base = c.model(conv.base_model);
        if base.measures[conv.base_measure].stitched_at.is_none() {
            continue;
        }
        let problem = match &c.identity {
            None => None,
            Some(_) => stitch_problem(c, &conv.entity, &[conv.conversion_model]),
        };
        if let Some(p) = problem {
            diags.push(Diagnostic::new(
                Some(metric.pos.clone()),
                format!("metrics.{}.base_measure", metric.name),
                format!(
                    "the base measure `{}.{}` is stitched, so conversions are matched per person: {p}",
                    base.name, base.measures[conv.base_measure].name
                ),
            ));
        }
    }
}

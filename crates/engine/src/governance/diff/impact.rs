//! What depends on a changed item: metrics reading it (transitively) and
//! other definitions naming it (roles, consent, analyses).

use std::collections::{BTreeMap, BTreeSet};

use super::change::Impact;
use crate::catalog::policy::MemberRef;
use crate::catalog::{Catalog, Metric, MetricId, MetricKind, Model, ModelId};
use crate::sql::ast::Expr;

/// Metrics that read any of `roots`, through ratio and derived inputs, in
/// catalog order (the roots themselves excluded).
pub fn metric_dependents(c: &Catalog, roots: &[MetricId]) -> Vec<MetricId> {
    let mut readers: BTreeMap<MetricId, Vec<MetricId>> = BTreeMap::new();
    for m in &c.metrics {
        for i in super::super::lifecycle::inputs(m) {
            readers.entry(i).or_default().push(m.id);
        }
    }
    let mut seen: BTreeSet<MetricId> = roots.iter().copied().collect();
    let mut out = BTreeSet::new();
    let mut stack: Vec<MetricId> = roots.to_vec();
    while let Some(id) = stack.pop() {
        for r in readers.get(&id).into_iter().flatten() {
            if seen.insert(*r) {
                out.insert(*r);
                stack.push(*r);
            }
        }
    }
    out.into_iter().collect()
}

pub fn names(c: &Catalog, ids: impl IntoIterator<Item = MetricId>) -> Vec<String> {
    let mut v: Vec<String> = ids
        .into_iter()
        .map(|id| c.metric(id).qualified_name())
        .collect();
    v.sort();
    v.dedup();
    v
}

pub use crate::lineage::filter_dimensions;

/// Metrics whose simple leaves use `model.measure` (directly) — then every
/// metric reading those.
pub fn measure_users(c: &Catalog, model: ModelId, measure: usize) -> Vec<MetricId> {
    let direct: Vec<MetricId> = c
        .metrics
        .iter()
        .filter(|m| matches!(m.kind, MetricKind::Simple { model: md, measure: ms } if md == model && ms == measure))
        .map(|m| m.id)
        .collect();
    let mut all = direct.clone();
    all.extend(metric_dependents(c, &direct));
    all
}

pub fn roles_naming(
    c: &Catalog,
    test: &dyn Fn(&MemberRef) -> bool,
    model: Option<ModelId>,
) -> Vec<String> {
    c.roles
        .iter()
        .filter(|r| {
            r.include.iter().flatten().any(test)
                || r.exclude.iter().any(test)
                || model.is_some_and(|m| r.row_filters.iter().any(|f| f.model == m))
        })
        .map(|r| format!("role {}", r.name))
        .collect()
}

pub fn consent_naming(c: &Catalog, model: ModelId) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(consent) = &c.consent {
        if consent.ledger.model == model {
            out.push("consent ledger".to_string());
        }
        if consent
            .suppression
            .as_ref()
            .is_some_and(|(m, _)| *m == model)
        {
            out.push("consent suppression".to_string());
        }
    }
    out
}

pub fn metric_impact(c: &Catalog, m: &Metric) -> Impact {
    let name = m.name.clone();
    Impact {
        metrics: names(c, metric_dependents(c, &[m.id])),
        definitions: roles_naming(
            c,
            &|x| matches!(x, MemberRef::Metric { name: n } if *n == name),
            None,
        ),
    }
}

pub fn model_impact(c: &Catalog, model: &Model) -> Impact {
    let users = c
        .metrics
        .iter()
        .filter(|m| c.metric_models(m.id).contains(&model.id))
        .map(|m| m.id);
    let mut definitions = roles_naming(
        c,
        &|x| match x {
            MemberRef::Model { model: n } | MemberRef::Dimension { model: n, .. } => {
                *n == model.name
            }
            _ => false,
        },
        Some(model.id),
    );
    definitions.extend(consent_naming(c, model.id));
    Impact {
        metrics: names(c, users),
        definitions,
    }
}

pub fn dimension_impact(c: &Catalog, model: &Model, dim: &str) -> Impact {
    let index = model.dimension(dim).map(|(i, _)| i);
    let mut direct: Vec<MetricId> = Vec::new();
    for m in &c.metrics {
        let in_filter = filter_dimensions(c, m)
            .iter()
            .any(|(md, d)| *md == model.name && d == dim);
        // A measure dated by this dimension answers `metric_time` with it.
        let dated = index.is_some()
            && matches!(m.kind, MetricKind::Simple { model: md, measure } if md == model.id && model.measures[measure].time_dimension == index);
        if in_filter || dated {
            direct.push(m.id);
        }
    }
    let mut all = direct.clone();
    all.extend(metric_dependents(c, &direct));
    let row_filtered = |r: &crate::catalog::policy::Role| {
        r.row_filters.iter().any(|f| {
            let mut hit = false;
            f.filter.walk(&mut |x| {
                if let Expr::Ref(parts) = x
                    && parts.last().is_some_and(|p| p.value == dim)
                {
                    hit = true;
                }
            });
            f.model == model.id && hit
        })
    };
    let mut definitions: Vec<String> = c
        .roles
        .iter()
        .filter(|r| {
            let names_it = |x: &MemberRef| matches!(x, MemberRef::Dimension { model: m, name } if *m == model.name && name == dim);
            r.include.iter().flatten().any(names_it)
                || r.exclude.iter().any(names_it)
                || r.masks.iter().any(|(m, d, _)| *m == model.name && d == dim)
                || row_filtered(r)
        })
        .map(|r| format!("role {}", r.name))
        .collect();
    definitions.extend(consent_naming(c, model.id));
    Impact {
        metrics: names(c, all),
        definitions,
    }
}

pub fn entity_impact(c: &Catalog, model: &Model, entity: &str) -> Impact {
    // Every model sharing the entity joins through it.
    let joined: Vec<ModelId> = c
        .models
        .iter()
        .filter(|m| m.entity(entity).is_some())
        .map(|m| m.id)
        .chain([model.id])
        .collect();
    let users = c
        .metrics
        .iter()
        .filter(|m| c.metric_models(m.id).iter().any(|x| joined.contains(x)))
        .map(|m| m.id);
    Impact {
        metrics: names(c, users),
        definitions: Vec::new(),
    }
}

/// Metrics aggregating a model from which `target` is reachable (or
/// `target` itself): those a row filter or consent rule on `target` holds
/// for.
pub fn metrics_reaching(c: &Catalog, targets: &[ModelId]) -> Vec<String> {
    let reaches = |from: ModelId| {
        targets
            .iter()
            .any(|t| *t == from || !c.graph.shortest_paths(from, *t).is_empty())
    };
    let users = c
        .metrics
        .iter()
        .filter(|m| c.metric_models(m.id).into_iter().any(reaches))
        .map(|m| m.id);
    names(c, users)
}

/// Funnels, retention analyses and attribution instances whose events or
/// touches come from one of `models`, or reach one through the join graph.
pub fn analyses_reaching(c: &Catalog, targets: &[ModelId]) -> Vec<String> {
    let reaches = |from: ModelId| {
        targets
            .iter()
            .any(|t| *t == from || !c.graph.shortest_paths(from, *t).is_empty())
    };
    let mut out = Vec::new();
    for f in &c.analyses.funnels {
        if f.steps.iter().any(|s| reaches(s.model)) {
            out.push(format!("funnel {}", f.name));
        }
    }
    for r in &c.analyses.retention {
        if reaches(r.cohort.model) || reaches(r.returns.model) {
            out.push(format!("retention {}", r.name));
        }
    }
    for a in &c.attributions {
        let conv = c.metric_models(a.conversion);
        if reaches(a.touches.model) || conv.into_iter().any(reaches) {
            out.push(format!("attribution {}", a.name));
        }
    }
    out
}

//! Validation of `roles:` and `consent:` sections.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::raw::{RawConsent, RawRole, S};
use super::validate::Ctx;
use crate::catalog::policy::{
    CLAIM_PREFIX, Consent, ConsentMode, Ledger, Mask, MemberRef, Purpose, Role, RowFilter,
    claims_to_placeholders,
};
use crate::catalog::{Catalog, DimensionKind, EntityKind, Grain, Model};
use crate::diagnostics::{Diagnostics, closest};
use crate::sql::ast::Expr;
use crate::sql::convert::{Origin, parse_expr};

fn dimension_of<'c>(
    c: &'c Catalog,
    model: &Model,
    name: &str,
) -> Option<&'c crate::catalog::Dimension> {
    c.model(model.id).dimension(name).map(|(_, d)| d)
}

/// Checks a member reference names something that exists.
fn check_member(cx: &mut Ctx, c: &Catalog, m: &S<String>, field: &str) -> Option<MemberRef> {
    let r = MemberRef::parse(m.value.trim());
    let ok = match &r {
        MemberRef::MetricTime => true,
        MemberRef::Metric { name } => !c.metric_versions(name).is_empty(),
        MemberRef::Model { model } => c.model_by_name(model).is_some(),
        MemberRef::Dimension { model, name } => c
            .model_by_name(model)
            .is_some_and(|md| md.dimension(name).is_some() || md.entity(name).is_some()),
    };
    if ok {
        return Some(r);
    }
    let mut names: Vec<String> = c.metric_names().map(str::to_string).collect();
    for md in &c.models {
        names.push(format!("{}.*", md.name));
        names.extend(
            md.dimensions
                .iter()
                .map(|d| format!("{}.{}", md.name, d.name)),
        );
        names.extend(
            md.entities
                .iter()
                .map(|e| format!("{}.{}", md.name, e.name)),
        );
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    cx.suggest(
        &m.referenced,
        field,
        format!("`{}` is not a metric, dimension or model", m.value),
        &m.value,
        &refs,
    );
    None
}

pub fn roles(c: &Catalog, raw: Vec<(Arc<str>, S<RawRole>)>, diags: &mut Diagnostics) -> Vec<Role> {
    let mut out: Vec<Role> = Vec::new();
    let purposes: Vec<String> = c
        .consent
        .as_ref()
        .map(|k| k.purposes.iter().map(|p| p.name.clone()).collect())
        .unwrap_or_default();
    for (file, r) in raw {
        let mut cx = Ctx { file, diags };
        let r = r.value;
        let name = r.name.value.clone();
        let f = |x: &str| format!("roles.{name}.{x}");
        if !super::is_identifier(&name) {
            cx.error(
                &r.name.referenced,
                f("name"),
                "a role name must be a plain identifier",
            );
            continue;
        }
        if out.iter().any(|x| x.name == name) {
            cx.error(
                &r.name.referenced,
                f("name"),
                format!("duplicate role `{name}`"),
            );
            continue;
        }
        let include = r.include.as_ref().map(|l| {
            l.iter()
                .filter_map(|m| check_member(&mut cx, c, m, &f("include")))
                .collect()
        });
        let exclude = r
            .exclude
            .iter()
            .filter_map(|m| check_member(&mut cx, c, m, &f("exclude")))
            .collect();
        let mut masks = Vec::new();
        for m in &r.mask {
            let dim = m.value.dimension.value.as_str();
            let method = match m.value.method.value.as_str() {
                "hash" => Some(Mask::Hash),
                "redact" => Some(Mask::Redact),
                other => match other
                    .strip_prefix("last:")
                    .and_then(|n| n.parse::<u32>().ok())
                {
                    Some(n) if n > 0 => Some(Mask::KeepLast { n }),
                    _ => {
                        cx.suggest(
                            &m.value.method.referenced,
                            f("mask.method"),
                            format!("unknown mask `{other}`"),
                            other,
                            &["hash", "redact", "last:4"],
                        );
                        None
                    }
                },
            };
            let target = match dim.split_once('.') {
                Some((model, d)) => c
                    .model_by_name(model)
                    .and_then(|md| dimension_of(c, md, d).map(|x| (md, x))),
                None => None,
            };
            match (target, method) {
                (Some((md, d)), Some(method)) => {
                    if !matches!(d.kind, DimensionKind::Categorical) {
                        cx.error(
                            &m.value.dimension.referenced,
                            f("mask.dimension"),
                            format!(
                                "only categorical dimensions can be masked; `{dim}` is {}",
                                d.kind.name()
                            ),
                        );
                        continue;
                    }
                    masks.push((md.name.clone(), d.name.clone(), method));
                }
                (None, _) => {
                    let all: Vec<String> = c
                        .models
                        .iter()
                        .flat_map(|md| {
                            md.dimensions
                                .iter()
                                .map(move |d| format!("{}.{}", md.name, d.name))
                        })
                        .collect();
                    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
                    cx.suggest(
                        &m.value.dimension.referenced,
                        f("mask.dimension"),
                        format!("unknown dimension `{dim}`"),
                        dim,
                        &refs,
                    );
                }
                _ => {}
            }
        }
        let mut row_filters = Vec::new();
        for rf in &r.row_filters {
            let model_name = &rf.value.model.value;
            let Some(model) = c.model_by_name(model_name) else {
                let names: Vec<&str> = c.model_names().collect();
                cx.suggest(
                    &rf.value.model.referenced,
                    f("row_filters.model"),
                    format!("unknown model `{model_name}`"),
                    model_name,
                    &names,
                );
                continue;
            };
            let parsed = claims_to_placeholders(&rf.value.filter.value)
                .and_then(|t| parse_expr(&t, Origin::Definition));
            match parsed {
                Ok(filter) if filter.contains_aggregate() => {
                    cx.error(
                        &rf.value.filter.referenced,
                        f("row_filters.filter"),
                        "a row filter must not aggregate",
                    );
                }
                Ok(filter) => {
                    // Every name must be a dimension of the filtered model
                    // (so the filter means the same from any fact) or a claim.
                    let mut bad = Vec::new();
                    filter.walk(&mut |e| {
                        if let Expr::Ref(parts) = e {
                            let names: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
                            let ok = match names.as_slice() {
                                [one] => {
                                    one.starts_with(CLAIM_PREFIX) || model.dimension(one).is_some()
                                }
                                [m, d] => *m == model.name && model.dimension(d).is_some(),
                                _ => false,
                            };
                            if !ok {
                                bad.push(names.join("."));
                            }
                        }
                    });
                    if let Some(b) = bad.first() {
                        let dims: Vec<String> = model
                            .dimensions
                            .iter()
                            .map(|d| format!("{}.{}", model.name, d.name))
                            .collect();
                        let refs: Vec<&str> = dims.iter().map(String::as_str).collect();
                        cx.suggest(
                            &rf.value.filter.referenced,
                            f("row_filters.filter"),
                            format!("`{b}` is not a dimension of `{}`", model.name),
                            b,
                            &refs,
                        );
                        continue;
                    }
                    // Qualify bare names with the model so the planner
                    // resolves them like any reference.
                    let filter = filter
                        .try_transform::<()>(&mut |e| match e {
                            Expr::Ref(parts)
                                if parts.len() == 1
                                    && !parts[0].value.starts_with(CLAIM_PREFIX) =>
                            {
                                let mut q = vec![crate::sql::ast::Ident::new(model.name.clone())];
                                q.extend(parts);
                                Ok(Expr::Ref(q))
                            }
                            other => Ok(other),
                        })
                        .unwrap_or(Expr::Lit(crate::sql::ast::Literal::Bool(false)));
                    row_filters.push(RowFilter {
                        model: model.id,
                        filter,
                        text: rf.value.filter.value.clone(),
                    });
                }
                Err(msg) => cx.error(&rf.value.filter.referenced, f("row_filters.filter"), msg),
            }
        }
        let role_purposes = r.purposes.as_ref().map(|l| {
            l.iter()
                .filter_map(|p| {
                    if purposes.contains(&p.value) {
                        Some(p.value.clone())
                    } else {
                        let refs: Vec<&str> = purposes.iter().map(String::as_str).collect();
                        cx.suggest(
                            &p.referenced,
                            f("purposes"),
                            format!("unknown purpose `{}`", p.value),
                            &p.value,
                            &refs,
                        );
                        None
                    }
                })
                .collect()
        });
        if let Some(k) = &r.min_group_size
            && k.value < 2
        {
            cx.error(
                &k.referenced,
                f("min_group_size"),
                "min_group_size must be at least 2",
            );
        }
        let time_grain = role_time_grain(
            &mut cx,
            r.time_grain.as_ref(),
            r.min_group_size.is_some(),
            &f,
        );
        out.push(Role {
            name,
            description: r.description,
            include,
            exclude,
            masks,
            row_filters,
            min_group_size: r.min_group_size.map(|k| k.value).filter(|k| *k >= 2),
            time_grain,
            purposes: role_purposes,
        });
    }
    out
}

fn single_key(model: &Model, entity: &str) -> Option<Expr> {
    model
        .entity(entity)
        .filter(|e| e.keys.len() == 1)
        .map(|e| e.keys[0].clone())
}

pub fn consent(
    c: &Catalog,
    raw: Vec<(Arc<str>, S<RawConsent>)>,
    diags: &mut Diagnostics,
) -> Option<Consent> {
    let mut it = raw.into_iter();
    let (file, first) = it.next()?;
    let mut cx = Ctx { file, diags };
    for (_, dup) in it {
        cx.error(
            &dup.referenced,
            "consent",
            "`consent` may be defined only once",
        );
    }
    let raw = first.value;
    let mut names = BTreeSet::new();
    let mut purposes = Vec::new();
    for p in &raw.purposes {
        if !super::is_identifier(&p.value.name.value) || !names.insert(p.value.name.value.clone()) {
            cx.error(
                &p.value.name.referenced,
                "consent.purposes",
                format!(
                    "purpose `{}` must be a unique plain identifier",
                    p.value.name.value
                ),
            );
            continue;
        }
        purposes.push(Purpose {
            name: p.value.name.value.clone(),
            description: p.value.description.clone(),
            requires_consent: p.value.requires_consent,
        });
    }
    let purpose_names: Vec<&str> = purposes.iter().map(|p| p.name.as_str()).collect();
    if !purpose_names.contains(&raw.default_purpose.value.as_str()) {
        cx.suggest(
            &raw.default_purpose.referenced,
            "consent.default_purpose",
            format!("unknown purpose `{}`", raw.default_purpose.value),
            &raw.default_purpose.value,
            &purpose_names,
        );
    }
    let l = &raw.ledger.value;
    let Some(model) = c.model_by_name(&l.model.value) else {
        let names: Vec<&str> = c.model_names().collect();
        cx.suggest(
            &l.model.referenced,
            "consent.ledger.model",
            format!("unknown model `{}`", l.model.value),
            &l.model.value,
            &names,
        );
        return None;
    };
    let Some(subject_entity) = model.subject.clone() else {
        cx.error(&l.model.referenced, "consent.ledger.model", format!("the ledger model `{}` must declare `subject:` (the entity consent is recorded for)", model.name));
        return None;
    };
    let dim = |cx: &mut Ctx, s: &S<String>, field: &str| -> Option<Expr> {
        match model.dimension(&s.value) {
            Some((_, d)) => Some(d.expr.clone()),
            None => {
                let names: Vec<&str> = model.dimensions.iter().map(|d| d.name.as_str()).collect();
                cx.suggest(
                    &s.referenced,
                    format!("consent.ledger.{field}"),
                    format!("`{}` is not a dimension of `{}`", s.value, model.name),
                    &s.value,
                    &names,
                );
                None
            }
        }
    };
    let purpose = dim(&mut cx, &l.purpose, "purpose");
    let status = dim(&mut cx, &l.status, "status");
    let time = match model.dimension(&l.time.value) {
        Some((_, d)) if matches!(d.kind, DimensionKind::Time { .. }) => Some(d.expr.clone()),
        _ => {
            cx.error(
                &l.time.referenced,
                "consent.ledger.time",
                format!(
                    "`{}` is not a time dimension of `{}`",
                    l.time.value, model.name
                ),
            );
            None
        }
    };
    let mode = match raw.mode.as_ref().map(|m| m.value.as_str()) {
        None | Some("as_of_fact") => ConsentMode::AsOfFact,
        Some("as_of_now") => ConsentMode::AsOfNow,
        Some(other) => {
            if let Some(m) = &raw.mode {
                cx.suggest(
                    &m.referenced,
                    "consent.mode",
                    format!("unknown consent mode `{other}`"),
                    other,
                    &["as_of_fact", "as_of_now"],
                );
            }
            ConsentMode::AsOfFact
        }
    };
    let suppression = match &raw.suppression {
        None => None,
        Some(s) => match c.model_by_name(&s.value.model.value) {
            Some(m) => match single_key(m, &subject_entity) {
                Some(k) => Some((m.id, k)),
                None => {
                    cx.error(
                        &s.value.model.referenced,
                        "consent.suppression.model",
                        format!(
                            "model `{}` has no single-column `{subject_entity}` entity",
                            m.name
                        ),
                    );
                    None
                }
            },
            None => {
                let names: Vec<&str> = c.model_names().collect();
                cx.suggest(
                    &s.value.model.referenced,
                    "consent.suppression.model",
                    format!("unknown model `{}`", s.value.model.value),
                    &s.value.model.value,
                    &names,
                );
                None
            }
        },
    };
    // Models that declare a subject must call it by the ledger's entity,
    // or consent could not be matched to their rows.
    for m in &c.models {
        if let Some(sj) = &m.subject
            && sj != &subject_entity
        {
            cx.diags.push(crate::diagnostics::Diagnostic::new(
                Some(m.pos.clone()),
                format!("models.{}.subject", m.name),
                format!("subject `{sj}` differs from the consent ledger's subject `{subject_entity}`"),
            ).with_suggestions(closest(sj, [subject_entity.as_str()])));
        }
    }
    let subject_key = single_key(model, &subject_entity)?;
    let order_key = model
        .entities
        .iter()
        .find(|e| e.kind == EntityKind::Primary && e.keys.len() == 1)
        .map(|e| e.keys[0].clone());
    Some(Consent {
        purposes,
        default_purpose: raw.default_purpose.value.clone(),
        ledger: Ledger {
            model: model.id,
            subject_key,
            purpose: purpose?,
            status: status?,
            time: time?,
            order_key,
            granted_value: l.granted_value.clone().unwrap_or_else(|| "granted".into()),
        },
        mode,
        suppression,
        subject_entity,
    })
}

/// A role's `time_grain`: a grain name, only beside `min_group_size`;
/// month when absent.
fn role_time_grain(
    cx: &mut Ctx,
    grain: Option<&S<String>>,
    has_k: bool,
    f: &dyn Fn(&str) -> String,
) -> Grain {
    let Some(g) = grain else {
        return Grain::Month;
    };
    if !has_k {
        cx.error(
            &g.referenced,
            f("time_grain"),
            "time_grain applies only to a role with min_group_size",
        );
    }
    Grain::parse(g.value.trim()).unwrap_or_else(|| {
        cx.suggest(
            &g.referenced,
            f("time_grain"),
            format!("unknown time grain `{}`", g.value),
            &g.value,
            &Grain::names(),
        );
        Grain::Month
    })
}

//! The roles section: one item per access role, compared by what its
//! callers may see — each member's visibility, each mask, each model's row
//! filter, `min_group_size` and `time_grain`, and purposes. Anything that
//! lets a caller see more is `widening_access`; anything that lets it see
//! less breaks its queries or numbers.

use super::change::{Change, ChangeKind, Class, Detail, Impact, ItemKind};
use super::engine::{Section, Sides};
use super::fields::{self, Fields, Rule};
use super::impact::{analyses_reaching, metrics_reaching};
use super::row_filter::narrows;
use crate::catalog::policy::{Mask, MemberRef, Role};
use crate::catalog::{Catalog, Grain, ModelId};
use crate::sql::ast::Expr;

pub struct Roles;

fn shows(role: &Role, test: &dyn Fn(&MemberRef) -> bool) -> bool {
    role.include.as_ref().is_none_or(|l| l.iter().any(test)) && !role.exclude.iter().any(test)
}

/// Every member a role could name that both catalogs have, as
/// `(label, test)`: `metric revenue`, `customers.email`, `metric_time`.
fn common_members(s: Sides) -> Vec<(String, MemberRef)> {
    let mut out: Vec<(String, MemberRef)> = s
        .base
        .metric_names()
        .filter(|n| !s.head.metric_versions(n).is_empty())
        .map(|n| (format!("metric {n}"), MemberRef::Metric { name: n.into() }))
        .collect();
    for m in &s.base.models {
        let Some(h) = s.head.model_by_name(&m.name) else {
            continue;
        };
        let dims = m.dimensions.iter().map(|d| &d.name);
        let ents = m.entities.iter().map(|e| &e.name);
        for name in dims.chain(ents) {
            let both = h.dimension(name).is_some() || h.entity(name).is_some();
            let key = format!("{}.{name}", m.name);
            if both && !out.iter().any(|(k, _)| *k == key) {
                let r = MemberRef::Dimension {
                    model: m.name.clone(),
                    name: name.clone(),
                };
                out.push((key, r));
            }
        }
    }
    out.push(("metric_time".into(), MemberRef::MetricTime));
    out
}

fn visible(role: &Role, member: &MemberRef) -> bool {
    match member {
        MemberRef::Dimension { model, name } => shows(role, &|x| x.covers_dimension(model, name)),
        other => shows(role, &|x| x == other),
    }
}

fn mask_text(m: &Mask) -> String {
    match m {
        Mask::Hash => "hash".into(),
        Mask::Redact => "redact".into(),
        Mask::KeepLast { n } => format!("last:{n}"),
    }
}

/// A mask change narrows only when it provably reveals less: no mask to
/// any mask, any mask to `redact`, or `last:N` to fewer characters.
/// Everything else (removed, `hash` → `last:N`, `redact` → `hash`, ...)
/// may reveal more.
fn mask_class(before: Option<&str>, after: Option<&str>) -> Class {
    let last = |s: &str| s.strip_prefix("last:").and_then(|n| n.parse::<u32>().ok());
    match (before, after) {
        (None, Some(_)) | (Some(_), Some("redact")) => Class::Breaking,
        (Some(b), Some(a)) => match (last(b), last(a)) {
            (Some(nb), Some(na)) if na < nb => Class::Breaking,
            _ => Class::WideningAccess,
        },
        _ => Class::WideningAccess,
    }
}

/// Time cells get finer (more detail) when the grain gets smaller.
fn grain_class(before: Option<&str>, after: Option<&str>) -> Class {
    match (before.and_then(Grain::parse), after.and_then(Grain::parse)) {
        (Some(b), Some(a)) if a > b => Class::Breaking,
        _ => Class::WideningAccess,
    }
}

/// Each filtered model's filter (several on one model are ANDed), by name.
fn row_filters<'c>(c: &'c Catalog, r: &'c Role) -> Vec<(&'c str, Expr, String)> {
    let mut out: Vec<(&str, Expr, String)> = Vec::new();
    for m in &c.models {
        let fs: Vec<_> = r.row_filters.iter().filter(|f| f.model == m.id).collect();
        if let Some(e) = Expr::and_all(fs.iter().map(|f| f.filter.clone())) {
            let text = fs
                .iter()
                .map(|f| f.text.as_str())
                .collect::<Vec<_>>()
                .join(" AND ");
            out.push((m.name.as_str(), e, text));
        }
    }
    out
}

fn row_filter_details(s: Sides, b: &Role, h: &Role) -> Vec<Detail> {
    let (fb, fh) = (row_filters(s.base, b), row_filters(s.head, h));
    let mut out = Vec::new();
    let mut models: Vec<&str> = fb.iter().map(|f| f.0).collect();
    models.extend(
        fh.iter()
            .map(|f| f.0)
            .filter(|m| !fb.iter().any(|f| f.0 == *m)),
    );
    for model in models {
        let before = fb.iter().find(|f| f.0 == model);
        let after = fh.iter().find(|f| f.0 == model);
        let class = match (before, after) {
            (Some(x), Some(y)) if x.1 == y.1 => continue,
            (Some(x), Some(y)) if narrows(&x.1, &y.1) => Class::Breaking,
            (None, Some(_)) => Class::Breaking,
            _ => Class::WideningAccess,
        };
        out.push(Detail::classed(
            &format!("row filter on {model}"),
            before.map(|f| f.2.clone()),
            after.map(|f| f.2.clone()),
            class,
        ));
    }
    out
}

fn visibility_details(s: Sides, b: &Role, h: &Role) -> Vec<Detail> {
    let show = |v: bool| Some(if v { "visible" } else { "hidden" }.to_string());
    common_members(s)
        .into_iter()
        .filter_map(|(label, m)| {
            let (vb, vh) = (visible(b, &m), visible(h, &m));
            (vb != vh).then(|| {
                let class = if vh {
                    Class::WideningAccess
                } else {
                    Class::Breaking
                };
                Detail::classed(&label, show(vb), show(vh), class)
            })
        })
        .collect()
}

/// Masks, limits and purposes as fields.
fn policy_fields(r: &Role) -> Vec<fields::Field> {
    let mut f = Fields::new();
    f.info("description", &r.description);
    for (model, dim, mask) in &r.masks {
        f.add(
            format!("mask {model}.{dim}"),
            Some(mask_text(mask)),
            Rule::Custom(mask_class),
        );
    }
    f.add(
        "min_group_size",
        r.min_group_size.map(|k| k.to_string()),
        Rule::AtLeast,
    );
    if r.min_group_size.is_some() {
        f.add(
            "time_grain",
            Some(r.time_grain.to_string()),
            Rule::Custom(grain_class),
        );
    }
    // Absent: any purpose.
    let purposes = r.purposes.as_ref().map_or("any".to_string(), |l| {
        let mut l = l.clone();
        l.sort();
        l.join(", ")
    });
    f.add("purposes", Some(purposes), Rule::Custom(purpose_class));
    f.0
}

/// A role gaining a purpose (or any purpose) widens what its callers may
/// count; losing one breaks their queries under it.
fn purpose_class(before: Option<&str>, after: Option<&str>) -> Class {
    let list = |s: Option<&str>| -> Option<Vec<String>> {
        match s {
            None | Some("any") => None,
            Some(x) => Some(x.split(", ").map(str::to_string).collect()),
        }
    };
    match (list(before), list(after)) {
        (_, None) => Class::WideningAccess,
        (None, Some(_)) => Class::Breaking,
        (Some(b), Some(a)) if a.iter().all(|p| b.contains(p)) => Class::Breaking,
        _ => Class::WideningAccess,
    }
}

/// Models whose rows or values a role's policy touches, in `c`.
fn policy_models(c: &Catalog, roles: &[&Role]) -> Vec<ModelId> {
    let mut out: Vec<ModelId> = Vec::new();
    for r in roles {
        for f in &r.row_filters {
            out.push(f.model);
        }
        for (model, _, _) in &r.masks {
            out.extend(c.model_by_name(model).map(|m| m.id));
        }
    }
    out.sort();
    out.dedup();
    out
}

impl Section for Roles {
    type Item<'c> = &'c Role;
    const KIND: ItemKind = ItemKind::Role;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Role)> {
        this.roles.iter().map(|r| (r.name.clone(), r)).collect()
    }

    fn compare(&self, s: Sides, b: &&Role, h: &&Role) -> Vec<Detail> {
        let mut out = visibility_details(s, b, h);
        out.extend(row_filter_details(s, b, h));
        out.extend(fields::compare(&policy_fields(b), &policy_fields(h)));
        out
    }

    fn impact(&self, c: &Catalog, r: &&Role) -> Impact {
        let models = policy_models(c, &[*r]);
        Impact {
            metrics: metrics_reaching(c, &models),
            definitions: analyses_reaching(c, &models),
        }
    }

    fn modified(&self, s: Sides, key: &str, b: &&Role, h: &&Role, details: Vec<Detail>) -> Change {
        // Models named on either side, as HEAD knows them.
        let mut models = policy_models(s.head, &[*h]);
        for m in policy_models(s.base, &[*b]) {
            let name = &s.base.model(m).name;
            models.extend(s.head.model_by_name(name).map(|x| x.id));
        }
        models.sort();
        models.dedup();
        let impact = Impact {
            metrics: metrics_reaching(s.head, &models),
            definitions: analyses_reaching(s.head, &models),
        };
        Change::new(
            ChangeKind::Modified,
            ItemKind::Role,
            key,
            details,
            Class::NonBreaking,
            impact,
        )
    }

    /// A new role lets its holders in (they were refused); the first roles
    /// ever defined restrict everyone instead.
    fn added(&self, s: Sides, key: &str, r: &&Role) -> Change {
        let class = if s.base.roles.is_empty() {
            Class::Breaking
        } else {
            Class::WideningAccess
        };
        Change::new(
            ChangeKind::Added,
            ItemKind::Role,
            key,
            Vec::new(),
            class,
            self.impact(s.head, r),
        )
    }

    /// A removed role refuses its holders; removing every role lifts access
    /// control for everyone.
    fn removed(&self, s: Sides, key: &str, r: &&Role) -> Change {
        let (class, details) = if s.head.roles.is_empty() {
            let d = Detail::classed(
                "access control",
                Some("restricted by roles".into()),
                Some("unrestricted (no roles defined)".into()),
                Class::WideningAccess,
            );
            (Class::WideningAccess, vec![d])
        } else {
            (Class::Breaking, Vec::new())
        };
        Change::new(
            ChangeKind::Removed,
            ItemKind::Role,
            key,
            details,
            class,
            self.impact(s.base, r),
        )
    }
}

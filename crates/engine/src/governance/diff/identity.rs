//! The identity section: the identity rules as one item. A rule change
//! that can merge more people into one (a link limit raised or dropped, a
//! blocked value unblocked, a new link pair or identifier, normalisation
//! added, erasure dropped) is `widening_access`: one person's numbers may
//! then include another's. Changes that merge fewer are breaking.

use super::change::{Class, Impact, ItemKind};
use super::engine::Section;
use super::fields::{Field, Fields, Rule};
use super::impact::{measure_users, names};
use super::text::expr_text;
use crate::catalog::Catalog;
use crate::identity::Identity;

/// Normalising more (`trim`, `lower`) makes more values equal.
fn normalize_class(_before: Option<&str>, after: Option<&str>) -> Class {
    if after == Some("true") {
        Class::WideningAccess
    } else {
        Class::Breaking
    }
}

fn type_fields(f: &mut Fields, id: &Identity) {
    for t in &id.types {
        let p = format!("identifier {}", t.name);
        f.add(p.clone(), Some("defined".into()), Rule::Grants)
            .add(
                format!("{p} priority"),
                Some(t.priority.to_string()),
                Rule::Breaking,
            )
            .add(
                format!("{p} trim"),
                Some(t.trim.to_string()),
                Rule::Custom(normalize_class),
            )
            .add(
                format!("{p} lower"),
                Some(t.lower.to_string()),
                Rule::Custom(normalize_class),
            )
            .set(
                &format!("{p} blocked value"),
                &t.blocked_values,
                Rule::Restricts,
            )
            .set(
                &format!("{p} blocked pattern"),
                &t.blocked_patterns,
                Rule::Restricts,
            );
    }
}

fn source_fields(f: &mut Fields, c: &Catalog, id: &Identity) {
    let type_name = |i: usize| id.types.get(i).map_or("?", |t| t.name.as_str());
    for s in &id.sources {
        let p = format!("source {}", c.model(s.model).name);
        f.add(
            format!("{p} time"),
            Some(expr_text(&s.time)),
            Rule::Breaking,
        );
        for (t, e) in &s.columns {
            f.add(
                format!("{p} identifier {}", type_name(*t)),
                Some(expr_text(e)),
                Rule::Grants,
            );
        }
        let col = |i: usize| s.columns.get(i).map_or("?", |(t, _)| type_name(*t));
        for (a, b) in &s.pairs {
            f.add(
                format!("{p} pair {} ↔ {}", col(*a), col(*b)),
                Some("links".into()),
                Rule::Grants,
            );
        }
        f.add(
            format!("{p} stitch_by"),
            Some(col(s.stitch_by).to_string()),
            Rule::Breaking,
        );
    }
}

pub struct IdentityRules;

impl Section for IdentityRules {
    type Item<'c> = &'c Identity;
    const KIND: ItemKind = ItemKind::Identity;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Identity)> {
        this.identity
            .iter()
            .map(|i| (i.entity.clone(), i))
            .collect()
    }

    fn fields(&self, c: &Catalog, id: &&Identity) -> Vec<Field> {
        let mut f = Fields::new();
        f.breaking("canonical", &id.canonical_type().name)
            .add(
                "rule_version",
                Some(id.rule_version.to_string()),
                Rule::Info,
            )
            .add(
                "max_iterations",
                Some(id.max_iterations.to_string()),
                Rule::AtMost,
            )
            .breaking("tables", &id.tables.prefix);
        type_fields(&mut f, id);
        for l in &id.limits {
            let name = |i: usize| id.types.get(i).map_or("?", |t| t.name.as_str());
            f.add(
                format!("limit {} → {}", name(l.identifier), name(l.linked)),
                Some(l.max.to_string()),
                Rule::AtMost,
            );
        }
        source_fields(&mut f, c, id);
        let erasure = id
            .erasure
            .as_ref()
            .map(|(m, key)| format!("{} ({})", c.model(*m).name, expr_text(key)));
        f.add("erasure", erasure, Rule::Restricts);
        f.0
    }

    /// Stitched measures' metrics, and stitched analyses.
    fn impact(&self, c: &Catalog, _id: &&Identity) -> Impact {
        let mut metrics = Vec::new();
        for m in &c.models {
            for (i, x) in m.measures.iter().enumerate() {
                if x.stitched_at.is_some() {
                    metrics.extend(measure_users(c, m.id, i));
                }
            }
        }
        let mut definitions = Vec::new();
        let a = &c.analyses;
        for f in a.funnels.iter().filter(|f| f.stitched_at.is_some()) {
            definitions.push(format!("funnel {}", f.name));
        }
        for r in a.retention.iter().filter(|r| r.stitched_at.is_some()) {
            definitions.push(format!("retention {}", r.name));
        }
        for x in c.attributions.iter().filter(|x| x.stitched) {
            definitions.push(format!("attribution {}", x.name));
        }
        Impact {
            metrics: names(c, metrics),
            definitions,
        }
    }
}

//! A model's members as sections: entities (the grain and the joins),
//! dimensions and measures, each listed only for models both sides have (a
//! removed or renamed model is reported once, as a model).

use super::change::{Change, ChangeKind, Class, Detail, Impact, ItemKind};
use super::engine::{Section, Sides};
use super::fields::{Field, Fields, Rule};
use super::impact::{dimension_impact, entity_impact, measure_users, names};
use super::text::{agg_text, dim_type, expr_text, opt_expr, time_dim};
use crate::catalog::{Catalog, Dimension, Entity, EntityKind, Measure, Model};
use crate::sql::ast::Expr;

/// `(model, member)` for every model `other` has too, keyed `model.member`.
fn members<'c, T: 'c>(
    this: &'c Catalog,
    other: &Catalog,
    list: impl Fn(&'c Model) -> &'c [T],
    name: impl Fn(&T) -> &str,
) -> Vec<(String, (&'c Model, &'c T))> {
    let mut out = Vec::new();
    for m in this
        .models
        .iter()
        .filter(|m| other.model_by_name(&m.name).is_some())
    {
        for x in list(m) {
            out.push((format!("{}.{}", m.name, name(x)), (m, x)));
        }
    }
    out
}

pub struct Entities;

impl Section for Entities {
    type Item<'c> = (&'c Model, &'c Entity);
    const KIND: ItemKind = ItemKind::Entity;

    fn items<'c>(&self, this: &'c Catalog, other: &Catalog) -> Vec<(String, Self::Item<'c>)> {
        members(this, other, |m| m.entities.as_slice(), |e| e.name.as_str())
    }

    fn compare(&self, _s: Sides, (_, e): &Self::Item<'_>, (_, x): &Self::Item<'_>) -> Vec<Detail> {
        let mut details = Vec::new();
        // The primary entity is the model's grain: say so.
        let grain = e.kind == EntityKind::Primary || x.kind == EntityKind::Primary;
        if e.kind != x.kind {
            details.push(Detail::new(
                if grain { "grain (entity type)" } else { "type" },
                Some(format!("{:?}", e.kind).to_lowercase()),
                Some(format!("{:?}", x.kind).to_lowercase()),
                true,
            ));
        }
        if e.keys != x.keys {
            let keys = |k: &[Expr]| k.iter().map(expr_text).collect::<Vec<_>>().join(", ");
            details.push(Detail::new(
                if grain { "grain (key)" } else { "key" },
                Some(keys(&e.keys)),
                Some(keys(&x.keys)),
                true,
            ));
        }
        if e.description != x.description {
            details.push(Detail::new(
                "description",
                e.description.clone(),
                x.description.clone(),
                false,
            ));
        }
        details
    }

    fn impact(&self, c: &Catalog, (m, e): &Self::Item<'_>) -> Impact {
        entity_impact(c, m, &e.name)
    }
}

pub struct Dimensions;

impl Section for Dimensions {
    type Item<'c> = (&'c Model, &'c Dimension);
    const KIND: ItemKind = ItemKind::Dimension;

    fn items<'c>(&self, this: &'c Catalog, other: &Catalog) -> Vec<(String, Self::Item<'c>)> {
        members(
            this,
            other,
            |m| m.dimensions.as_slice(),
            |d| d.name.as_str(),
        )
    }

    fn fields(&self, _c: &Catalog, (_, d): &Self::Item<'_>) -> Vec<Field> {
        let tags = Some(d.tags.join(", ")).filter(|s| !s.is_empty());
        let mut f = Fields::new();
        f.breaking("type", dim_type(d))
            .breaking("expr", expr_text(&d.expr))
            .info("label", &d.label)
            .info("description", &d.description)
            .add("pii", Some(d.pii.to_string()), Rule::Info)
            .add("tags", tags, Rule::Info);
        f.0
    }

    fn impact(&self, c: &Catalog, (m, d): &Self::Item<'_>) -> Impact {
        dimension_impact(c, m, &d.name)
    }

    fn fingerprint(&self, _: &Catalog, _: &Catalog, (m, d): &Self::Item<'_>) -> Option<String> {
        Some(format!("{}|{:?}|{:?}", m.name, d.kind, d.expr))
    }
}

pub struct Measures;

impl Section for Measures {
    type Item<'c> = (&'c Model, &'c Measure);
    const KIND: ItemKind = ItemKind::Measure;

    fn items<'c>(&self, this: &'c Catalog, other: &Catalog) -> Vec<(String, Self::Item<'c>)> {
        members(this, other, |m| m.measures.as_slice(), |x| x.name.as_str())
    }

    fn fields(&self, _c: &Catalog, (m, x): &Self::Item<'_>) -> Vec<Field> {
        let mut f = Fields::new();
        f.breaking("agg", agg_text(x))
            .add("expr", opt_expr(&x.expr), Rule::Breaking)
            .add("agg_time_dimension", time_dim(m, x), Rule::Breaking)
            .add(
                "stitched",
                x.stitched_at.as_ref().map(|_| "true".to_string()),
                Rule::Breaking,
            )
            .info("description", &x.description);
        f.0
    }

    fn impact(&self, c: &Catalog, (m, x): &Self::Item<'_>) -> Impact {
        match m.measure(&x.name) {
            Some((i, _)) => Impact {
                metrics: names(c, measure_users(c, m.id, i)),
                definitions: Vec::new(),
            },
            None => Impact::default(),
        }
    }

    fn fingerprint(&self, _: &Catalog, _: &Catalog, (m, x): &Self::Item<'_>) -> Option<String> {
        Some(format!(
            "{}|{:?}|{:?}|{:?}",
            m.name,
            x.agg,
            x.expr,
            time_dim(m, x)
        ))
    }

    fn modified(
        &self,
        s: Sides,
        key: &str,
        _b: &Self::Item<'_>,
        h: &Self::Item<'_>,
        mut details: Vec<Detail>,
    ) -> Change {
        let imp = self.impact(s.head, h);
        // A measure is not queried by itself: changing what it computes
        // breaks only the metrics built on it.
        if imp.metrics.is_empty() {
            for d in details.iter_mut().filter(|d| d.breaking) {
                d.set_class(Class::NonBreaking);
            }
        }
        Change::new(
            ChangeKind::Modified,
            ItemKind::Measure,
            key,
            details,
            Class::NonBreaking,
            imp,
        )
    }
}

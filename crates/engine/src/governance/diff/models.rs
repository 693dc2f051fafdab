//! The models section: one item per model (source, subject, metadata).
//! Its entities, dimensions and measures are sections of their own
//! (`members.rs`), compared inside models both sides have.

use super::change::{Impact, ItemKind};
use super::engine::Section;
use super::fields::{Field, Fields, Rule};
use super::impact::model_impact;
use super::text::{source_text, time_dim};
use crate::catalog::{Catalog, Model};

pub struct Models;

/// Everything but the name: a model gone under one name with the same
/// fingerprint as a new one was renamed.
fn member_fingerprint(m: &Model) -> String {
    let entities: Vec<String> = m
        .entities
        .iter()
        .map(|e| format!("{}:{:?}:{:?}", e.name, e.kind, e.keys))
        .collect();
    let dims: Vec<String> = m
        .dimensions
        .iter()
        .map(|d| format!("{}:{:?}:{:?}", d.name, d.kind, d.expr))
        .collect();
    let measures: Vec<String> = m
        .measures
        .iter()
        .map(|x| format!("{}:{:?}:{:?}:{:?}", x.name, x.agg, x.expr, time_dim(m, x)))
        .collect();
    format!(
        "{}|{entities:?}|{dims:?}|{measures:?}",
        source_text(&m.source)
    )
}

impl Section for Models {
    type Item<'c> = &'c Model;
    const KIND: ItemKind = ItemKind::Model;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Model)> {
        this.models.iter().map(|m| (m.name.clone(), m)).collect()
    }

    fn fields(&self, _c: &Catalog, m: &&Model) -> Vec<Field> {
        let mut f = Fields::new();
        f.breaking("source", source_text(&m.source))
            // The subject is who consent and min_group_size count: a model
            // losing it escapes both.
            .add("subject", m.subject.clone(), Rule::Restricts)
            .info("description", &m.description)
            .info("owner", &m.owner);
        f.0
    }

    fn impact(&self, c: &Catalog, m: &&Model) -> Impact {
        model_impact(c, m)
    }

    fn fingerprint(&self, _this: &Catalog, _other: &Catalog, m: &&Model) -> Option<String> {
        Some(member_fingerprint(m))
    }
}

//! The join paths section: one item per ordered pair of models both sides
//! have (from a model with measures), valued by its shortest path.

use super::change::{Change, ChangeKind, Class, Detail, Impact, ItemKind};
use super::engine::{Section, Sides};
use super::impact::names;
use crate::catalog::{Catalog, ModelId};

pub struct JoinPaths;

/// `orders -[customer]-> customers`, `ambiguous (2 paths)` or `None` when
/// unreachable.
fn path_text(c: &Catalog, from: ModelId, to: ModelId) -> Option<String> {
    let paths = c.graph.shortest_paths(from, to);
    match paths.len() {
        0 => None,
        1 => Some(paths[0].describe(&c.model(from).name, |id| c.model(id).name.clone())),
        n => Some(format!("ambiguous ({n} shortest paths)")),
    }
}

/// A pair of models by id, and its path text.
pub struct Pair {
    from: ModelId,
    path: Option<String>,
}

impl Section for JoinPaths {
    type Item<'c> = Pair;
    const KIND: ItemKind = ItemKind::JoinPath;

    fn items(&self, this: &Catalog, other: &Catalog) -> Vec<(String, Pair)> {
        let mut out = Vec::new();
        for a in &this.models {
            let Some(oa) = other.model_by_name(&a.name) else {
                continue;
            };
            // Paths matter from models that aggregate (on either side).
            if a.measures.is_empty() && oa.measures.is_empty() {
                continue;
            }
            for t in &this.models {
                if t.id == a.id || other.model_by_name(&t.name).is_none() {
                    continue;
                }
                let pair = Pair {
                    from: a.id,
                    path: path_text(this, a.id, t.id),
                };
                out.push((format!("{} → {}", a.name, t.name), pair));
            }
        }
        out
    }

    fn compare(&self, _s: Sides, b: &Pair, h: &Pair) -> Vec<Detail> {
        if b.path == h.path {
            return Vec::new();
        }
        let unique = |p: &Option<String>| p.as_ref().is_some_and(|s| !s.starts_with("ambiguous"));
        // A new path, or an ambiguous one becoming unique, breaks nothing.
        let breaking = unique(&b.path);
        let show = |p: &Option<String>| Some(p.clone().unwrap_or_else(|| "unreachable".into()));
        vec![Detail::new("path", show(&b.path), show(&h.path), breaking)]
    }

    fn impact(&self, c: &Catalog, p: &Pair) -> Impact {
        let users = c
            .metrics
            .iter()
            .filter(|m| c.metric_models(m.id).contains(&p.from))
            .map(|m| m.id);
        Impact {
            metrics: names(c, users),
            definitions: Vec::new(),
        }
    }

    fn modified(&self, s: Sides, key: &str, b: &Pair, h: &Pair, details: Vec<Detail>) -> Change {
        let kind = if b.path.is_none() {
            ChangeKind::Added
        } else {
            ChangeKind::Modified
        };
        Change::new(
            kind,
            ItemKind::JoinPath,
            key,
            details,
            Class::NonBreaking,
            self.impact(s.head, h),
        )
    }
}

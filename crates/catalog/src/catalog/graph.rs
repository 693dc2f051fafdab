//! The join graph: which models can be joined to which, and by what path,
//! without multiplying rows.
//!
//! An edge `A -[e]-> B` exists when both models declare entity `e` and `B`
//! declares it primary or unique: every row of `A` matches at most one row of
//! `B`, so a LEFT JOIN keeps `A`'s grain. Only such edges are followed, which
//! is what makes every plan fan-out safe: a measure is always aggregated on
//! its own model's rows, never on rows multiplied by a join.

use std::collections::VecDeque;

use super::{Model, ModelId};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinEdge {
    pub from: ModelId,
    pub entity: String,
    pub to: ModelId,
}

/// A sequence of edges starting at some model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JoinPath {
    pub edges: Vec<JoinEdge>,
}

impl JoinPath {
    pub fn entities(&self) -> Vec<&str> {
        self.edges.iter().map(|e| e.entity.as_str()).collect()
    }

    /// `orders -[customer]-> customers -[account]-> accounts`
    pub fn describe(&self, start: &str, name_of: impl Fn(ModelId) -> String) -> String {
        let mut s = start.to_string();
        for e in &self.edges {
            s.push_str(&format!(" -[{}]-> {}", e.entity, name_of(e.to)));
        }
        s
    }
}

#[derive(Debug, Default)]
pub struct JoinGraph {
    /// Outgoing edges per model, in definition order for stable results.
    out: Vec<Vec<JoinEdge>>,
}

/// Longest path searched; real schemas are far shallower, and the bound keeps
/// a pathological definition set from making path search expensive.
const MAX_HOPS: usize = 8;

impl JoinGraph {
    pub fn build(models: &[Model]) -> JoinGraph {
        let mut out = vec![Vec::new(); models.len()];
        for a in models {
            for ea in &a.entities {
                for b in models {
                    if a.id == b.id {
                        continue;
                    }
                    if let Some(eb) = b.entity(&ea.name)
                        && eb.kind.is_unique()
                        && eb.keys.len() == ea.keys.len()
                    {
                        out[a.id.0 as usize].push(JoinEdge {
                            from: a.id,
                            entity: ea.name.clone(),
                            to: b.id,
                        });
                    }
                }
            }
        }
        JoinGraph { out }
    }

    pub fn edges_from(&self, model: ModelId) -> &[JoinEdge] {
        self.out
            .get(model.0 as usize)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Every shortest path from `from` to `to`. An empty path when they are
    /// the same model; an empty list when `to` is unreachable.
    pub fn shortest_paths(&self, from: ModelId, to: ModelId) -> Vec<JoinPath> {
        if from == to {
            return vec![JoinPath::default()];
        }
        let mut found: Vec<JoinPath> = Vec::new();
        let mut queue: VecDeque<JoinPath> = VecDeque::new();
        queue.push_back(JoinPath::default());
        while let Some(path) = queue.pop_front() {
            if let Some(best) = found.first()
                && path.edges.len() >= best.edges.len()
            {
                break;
            }
            if path.edges.len() >= MAX_HOPS {
                continue;
            }
            let here = path.edges.last().map(|e| e.to).unwrap_or(from);
            for edge in self.edges_from(here) {
                // A path never revisits a model: cycles add nothing.
                if edge.to == from || path.edges.iter().any(|e| e.to == edge.to) {
                    continue;
                }
                let mut next = path.clone();
                next.edges.push(edge.clone());
                if edge.to == to {
                    found.push(next);
                } else {
                    queue.push_back(next);
                }
            }
        }
        found
    }

    /// The path from `from` that follows exactly the given entities, if each
    /// hop exists and ends at `to`.
    pub fn path_via(&self, from: ModelId, entities: &[String], to: ModelId) -> Vec<JoinPath> {
        let mut paths = vec![JoinPath::default()];
        for entity in entities {
            let mut next = Vec::new();
            for p in &paths {
                let here = p.edges.last().map(|e| e.to).unwrap_or(from);
                for edge in self.edges_from(here).iter().filter(|e| &e.entity == entity) {
                    let mut q = p.clone();
                    q.edges.push(edge.clone());
                    next.push(q);
                }
            }
            paths = next;
        }
        paths.retain(|p| p.edges.last().map(|e| e.to).unwrap_or(from) == to);
        paths
    }

    pub fn reachable(&self, from: ModelId, to: ModelId) -> bool {
        !self.shortest_paths(from, to).is_empty()
    }
}

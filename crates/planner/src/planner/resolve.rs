//! Resolving dimension references from one scanned model: which model holds
//! the dimension, the join path to it (many-to-one edges only, so the scan
//! keeps its grain), and the qualified expression.

use crate::catalog::{Catalog, DimensionKind, Grain, JoinPath, ModelId};
use crate::diagnostics::closest;
use crate::query::DimensionRef;
use crate::sql::ast::{BinOp, Expr, Ident, Join, JoinKind, Select, SelectItem, TableRef};

use super::{ErrorCode, PlanError};

/// The joins one scan needs, as a tree of paths from its base model.
pub struct JoinTree {
    pub base: ModelId,
    pub base_alias: String,
    /// Put before every joined model's alias; empty for a top-level scan.
    /// A correlated subquery's joins are prefixed so they never shadow an
    /// alias of the query around it.
    prefix: String,
    /// A stitched scan's person: joins from the base on this entity match
    /// the entity's key against this expression (the person's canonical
    /// entity id as text) instead of the row's own key column; the identity
    /// map join it reads comes first in [`JoinTree::joins`].
    follow: Option<Follow>,
    nodes: Vec<JoinNode>,
}

struct Follow {
    entity: String,
    key: Expr,
    map: Join,
}

struct JoinNode {
    /// Index of the parent node, `None` for the base.
    parent: Option<usize>,
    entity: String,
    model: ModelId,
    alias: String,
}

/// A resolved dimension: its expression in this scan and what it is.
#[derive(Debug, Clone)]
pub struct ResolvedDim {
    pub expr: Expr,
    pub kind: DimensionKind,
}

/// Replaces unqualified column references with `alias.column`.
pub fn qualify(expr: &Expr, alias: &str) -> Expr {
    expr.qualified(alias)
}

impl JoinTree {
    pub fn new(catalog: &Catalog, base: ModelId) -> JoinTree {
        JoinTree {
            base,
            base_alias: catalog.model(base).name.clone(),
            prefix: String::new(),
            follow: None,
            nodes: Vec::new(),
        }
    }

    /// A tree for a scan nested inside another query: the base is
    /// `alias` and each joined model `<alias>__<model>`. Model names hold
    /// no `__`, so none of these can capture an outer alias.
    pub fn nested(base: ModelId, alias: &str) -> JoinTree {
        JoinTree {
            base,
            base_alias: alias.to_string(),
            prefix: format!("{alias}__"),
            follow: None,
            nodes: Vec::new(),
        }
    }

    /// Joins from the base on `entity` follow `key`, read through `map`
    /// (see `stitch::scan_person`).
    pub fn follow(&mut self, entity: &str, key: Expr, map: Join) {
        self.follow = Some(Follow {
            entity: entity.to_string(),
            key,
            map,
        });
    }

    fn alias_taken(&self, alias: &str) -> bool {
        alias == self.base_alias || self.nodes.iter().any(|n| n.alias == alias)
    }

    /// Adds (or finds) the joins along `path`; returns the alias of its end.
    pub fn ensure(&mut self, catalog: &Catalog, path: &JoinPath) -> String {
        let mut parent: Option<usize> = None;
        for edge in &path.edges {
            let existing = self
                .nodes
                .iter()
                .position(|n| n.parent == parent && n.entity == edge.entity && n.model == edge.to);
            let idx = match existing {
                Some(i) => i,
                None => {
                    let model_name = &catalog.model(edge.to).name;
                    // The model's own name reads best; a role-playing second
                    // join to the same model is named by its entity.
                    let mut alias = format!("{}{model_name}", self.prefix);
                    if self.alias_taken(&alias) {
                        alias = format!("{}{}__{}", self.prefix, edge.entity, model_name);
                    }
                    let mut n = 2;
                    let stem = alias.clone();
                    while self.alias_taken(&alias) {
                        alias = format!("{stem}_{n}");
                        n += 1;
                    }
                    self.nodes.push(JoinNode {
                        parent,
                        entity: edge.entity.clone(),
                        model: edge.to,
                        alias,
                    });
                    self.nodes.len() - 1
                }
            };
            parent = Some(idx);
        }
        match parent {
            Some(i) => self.nodes[i].alias.clone(),
            None => self.base_alias.clone(),
        }
    }

    /// `SELECT projection FROM <base> <joins> WHERE c1 AND c2 …`: a scan
    /// of the base model's rows with every join the tree gathered (an OR
    /// among the conditions keeps its parentheses).
    pub fn select(
        &self,
        catalog: &Catalog,
        projection: Vec<SelectItem>,
        conditions: Vec<Expr>,
    ) -> Select {
        Select {
            projection,
            from: Some(source_ref(catalog, self.base, &self.base_alias)),
            joins: self.joins(catalog),
            selection: Expr::and_all(conditions.into_iter().map(Expr::paren_or)),
            group_by: Vec::new(),
            having: None,
        }
    }

    /// LEFT JOINs in dependency order (a followed person's map first): a
    /// fact whose dimension row is missing still counts, under a NULL
    /// dimension value.
    pub fn joins(&self, catalog: &Catalog) -> Vec<Join> {
        let map = self.follow.as_ref().map(|f| f.map.clone());
        map.into_iter()
            .chain(self.nodes.iter().map(|n| self.join(catalog, n)))
            .collect()
    }

    fn join(&self, catalog: &Catalog, n: &JoinNode) -> Join {
        let (parent_model, parent_alias) = match n.parent {
            Some(p) => (self.nodes[p].model, self.nodes[p].alias.as_str()),
            None => (self.base, self.base_alias.as_str()),
        };
        let keys = |m: ModelId| {
            catalog
                .model(m)
                .entity(&n.entity)
                .map(|e| e.keys.clone())
                .unwrap_or_default()
        };
        let followed = match (&self.follow, n.parent) {
            (Some(f), None) if f.entity == n.entity => {
                super::stitch::entity_match(catalog, n.model, &n.alias, &f.key)
            }
            _ => None,
        };
        let on = followed.or_else(|| {
            Expr::and_all(keys(parent_model).iter().zip(&keys(n.model)).map(|(a, b)| {
                Expr::binary(BinOp::Eq, qualify(a, parent_alias), qualify(b, &n.alias))
            }))
        });
        Join {
            kind: JoinKind::Left,
            table: source_ref(catalog, n.model, &n.alias),
            on,
        }
    }
}

pub fn source_ref(catalog: &Catalog, model: ModelId, alias: &str) -> TableRef {
    let m = catalog.model(model);
    match &m.source {
        crate::catalog::Source::Table(parts) => TableRef::Table {
            name: parts.iter().map(|p| Ident::new(p.clone())).collect(),
            alias: Ident::generated(alias),
        },
        crate::catalog::Source::Sql(sql) => TableRef::RawSql {
            sql: sql.clone(),
            alias: Ident::generated(alias),
        },
    }
}

/// Every `model.dimension` (and groupable entity) in the catalog, for
/// suggestions.
pub fn all_dimension_names(catalog: &Catalog) -> Vec<String> {
    let mut v: Vec<String> = catalog
        .models
        .iter()
        .flat_map(|m| {
            m.dimensions
                .iter()
                .map(move |d| format!("{}.{}", m.name, d.name))
                .chain(
                    m.entities
                        .iter()
                        .filter(|e| e.keys.len() == 1)
                        .map(move |e| format!("{}.{}", m.name, e.name)),
                )
        })
        .collect();
    v.push("metric_time".into());
    v.sort();
    v.dedup();
    v
}

/// What a dimension name denotes inside a model.
enum Member {
    Dimension(usize),
    Entity(String),
}

fn member(catalog: &Catalog, model: ModelId, name: &str) -> Option<Member> {
    let m = catalog.model(model);
    if let Some((i, _)) = m.dimension(name) {
        return Some(Member::Dimension(i));
    }
    m.entity(name)
        .filter(|e| e.keys.len() == 1)
        .map(|e| Member::Entity(e.name.clone()))
}

/// The error for a dimension the caller cannot name: absent from the
/// catalog or hidden from the caller, worded alike, with suggestions drawn
/// from the names the caller may see only.
pub fn unknown_dimension(
    catalog: &Catalog,
    r: &DimensionRef,
    visible: &dyn Fn(ModelId, &str) -> bool,
) -> PlanError {
    let names: Vec<String> = all_dimension_names(catalog)
        .into_iter()
        .filter(|n| match n.split_once('.') {
            Some((model, dim)) => catalog
                .model_by_name(model)
                .is_some_and(|m| visible(m.id, dim)),
            // metric_time: its own visibility is checked by the callers.
            None => false,
        })
        .collect();
    let wanted = match &r.model {
        Some(m) => format!("{m}.{}", r.name),
        None => r.name.clone(),
    };
    let mut message = format!("unknown dimension `{}`", r.raw);
    if let Some(reference) = column_spelling(&r.raw) {
        message.push_str(&format!(
            " (a result column's name; as a reference it is written `{reference}`)"
        ));
    }
    PlanError::new(ErrorCode::UnknownDimension, message)
        .with_suggestions(closest(&wanted, names.iter().map(String::as_str)))
}

/// A result column's name (`metric_time__day`, `customers__region`,
/// `orders__ordered_at__week`) rewritten as the reference it names
/// (`metric_time:day`, `customers.region`, `orders.ordered_at:week`): the
/// spelling people copy from answers. Only the text is rewritten, so the
/// hint reveals nothing about what exists.
fn column_spelling(raw: &str) -> Option<String> {
    if !raw.contains("__") || raw.contains(':') {
        return None;
    }
    let (body, grain) = match raw.rsplit_once("__") {
        Some((body, g)) if Grain::parse(g).is_some() => (body, Some(g.to_ascii_lowercase())),
        _ => (raw, None),
    };
    // `model__dimension` only where no `.` already qualifies the name.
    let mut reference = match body.contains('.') {
        true => body.to_string(),
        false => body.replace("__", "."),
    };
    if let Some(g) = grain {
        reference = format!("{reference}:{g}");
    }
    (reference != raw).then_some(reference)
}

/// The model a reference points at, decided once per query so every scan
/// agrees on it.
/// `visible` says which `model.dimension` the caller may see: a bare name
/// resolves among visible ones only, so errors never reveal hidden members.
pub fn target_model(
    catalog: &Catalog,
    r: &DimensionRef,
    bases: &[ModelId],
    visible: &dyn Fn(ModelId, &str) -> bool,
) -> Result<ModelId, PlanError> {
    if let Some(model_name) = &r.model {
        // An absent model, an absent member and a hidden one are one and
        // the same error, so names cannot be probed.
        return catalog
            .model_by_name(model_name)
            .filter(|m| member(catalog, m.id, &r.name).is_some() && visible(m.id, &r.name))
            .map(|m| m.id)
            .ok_or_else(|| unknown_dimension(catalog, r, visible));
    }
    let candidates: Vec<ModelId> = catalog
        .models
        .iter()
        .filter(|m| member(catalog, m.id, &r.name).is_some() && visible(m.id, &r.name))
        .map(|m| m.id)
        .collect();
    match candidates.as_slice() {
        [one] => Ok(*one),
        [] => Err(unknown_dimension(catalog, r, visible)),
        many => {
            // Prefer the one model every scan can reach.
            let reachable: Vec<ModelId> = many
                .iter()
                .copied()
                .filter(|c| bases.iter().all(|b| catalog.graph.reachable(*b, *c)))
                .collect();
            if let [one] = reachable.as_slice() {
                return Ok(*one);
            }
            let names: Vec<String> = many
                .iter()
                .map(|m| format!("{}.{}", catalog.model(*m).name, r.name))
                .collect();
            Err(PlanError::new(
                ErrorCode::AmbiguousReference,
                format!("dimension `{}` is ambiguous: it exists in several models; qualify it as one of {}", r.raw, names.join(", ")),
            )
            .with_suggestions(names))
        }
    }
}

/// The single join path from `base` to `target` for this reference.
pub fn path_to(
    catalog: &Catalog,
    r: &DimensionRef,
    base: ModelId,
    target: ModelId,
    context: &str,
) -> Result<JoinPath, PlanError> {
    let paths = if r.path.is_empty() {
        catalog.graph.shortest_paths(base, target)
    } else {
        catalog.graph.path_via(base, &r.path, target)
    };
    let name_of = |id: ModelId| catalog.model(id).name.clone();
    let base_name = name_of(base);
    match paths.len() {
        1 => Ok(paths.into_iter().next().unwrap_or_default()),
        0 if !r.path.is_empty() => Err(PlanError::new(
            ErrorCode::UnreachableDimension,
            format!(
                "no join path from `{base_name}` through entities `{}` ends at `{}` ({context})",
                r.path.join("."),
                name_of(target)
            ),
        )),
        0 => Err(PlanError::new(
            ErrorCode::UnreachableDimension,
            format!(
                "dimension `{}` cannot be reached from model `{base_name}` ({context}): no chain of many-to-one joins leads from `{base_name}` to `{}`, and a join the other way would multiply rows",
                r.raw,
                name_of(target)
            ),
        )),
        _ => {
            let described: Vec<String> = paths
                .iter()
                .map(|p| p.describe(&base_name, name_of))
                .collect();
            let spelled: Vec<String> = paths
                .iter()
                .map(|p| {
                    let mut s = p.entities().join(".");
                    s.push_str(&format!(".{}.{}", name_of(target), r.name));
                    s
                })
                .collect();
            Err(PlanError::new(
                ErrorCode::AmbiguousReference,
                format!(
                    "dimension `{}` is reachable from `{base_name}` by {} paths ({context}): {}; name the path explicitly, e.g. `{}`",
                    r.raw,
                    paths.len(),
                    described.join(" and "),
                    spelled[0]
                ),
            )
            .with_suggestions(spelled))
        }
    }
}

/// Resolves a non-`metric_time` reference in one scan.
pub fn resolve_dimension(
    catalog: &Catalog,
    joins: &mut JoinTree,
    r: &DimensionRef,
    target: ModelId,
    context: &str,
) -> Result<ResolvedDim, PlanError> {
    let path = path_to(catalog, r, joins.base, target, context)?;
    let alias = joins.ensure(catalog, &path);
    let model = catalog.model(target);
    let (expr, kind) = match member(catalog, target, &r.name) {
        Some(Member::Dimension(i)) => {
            let d = &model.dimensions[i];
            (qualify(&d.expr, &alias), d.kind)
        }
        Some(Member::Entity(e)) => {
            let ent = model
                .entity(&e)
                .map(|x| x.keys[0].clone())
                .unwrap_or(Expr::Star);
            (qualify(&ent, &alias), DimensionKind::Categorical)
        }
        None => {
            return Err(PlanError::new(
                ErrorCode::UnknownDimension,
                format!("unknown dimension `{}`", r.raw),
            ));
        }
    };
    apply_grain(expr, kind, r)
}

/// Truncates a time dimension to the requested grain (or its own).
pub fn apply_grain(
    expr: Expr,
    kind: DimensionKind,
    r: &DimensionRef,
) -> Result<ResolvedDim, PlanError> {
    match (kind, r.grain) {
        (DimensionKind::Time { granularity }, grain) => {
            let grain = grain.unwrap_or(granularity);
            if grain < granularity {
                return Err(PlanError::new(
                    ErrorCode::InvalidQuery,
                    format!(
                        "`{}` is recorded per {granularity}; it cannot be grouped by the finer grain {grain}",
                        r.raw
                    ),
                ));
            }
            let kind = DimensionKind::Time { granularity: grain };
            Ok(ResolvedDim {
                expr: Expr::DateTrunc {
                    grain,
                    expr: Box::new(expr),
                },
                kind,
            })
        }
        (_, Some(g)) => Err(PlanError::new(
            ErrorCode::InvalidQuery,
            format!(
                "`{}` is not a time dimension, so it takes no grain (`:{g}`)",
                r.raw
            ),
        )),
        (kind, None) => Ok(ResolvedDim { expr, kind }),
    }
}

/// What a caller's filter on `r` compares: the raw time, unless the
/// reference names a grain (`metric_time:day`), which compares the bucket
/// (truncated in the query's zone with its week start), the same in
/// `filters`, the `filter` tree and `where`.
pub fn filtered(r: &DimensionRef, d: ResolvedDim) -> ResolvedDim {
    match r.grain {
        Some(_) => d,
        None => untruncated(d),
    }
}

/// A time dimension in a filter compares on its raw value, not its bucket.
pub fn untruncated(d: ResolvedDim) -> ResolvedDim {
    match d.expr {
        Expr::DateTrunc { expr, .. } => ResolvedDim {
            expr: *expr,
            kind: d.kind,
        },
        other => ResolvedDim {
            expr: other,
            kind: d.kind,
        },
    }
}

/// Replaces every dimension reference in a row-level expression.
pub fn resolve_row_expr(
    expr: Expr,
    resolve: &mut dyn FnMut(&DimensionRef) -> Result<ResolvedDim, PlanError>,
) -> Result<Expr, PlanError> {
    expr.try_transform(&mut |e| match e {
        Expr::Ref(parts) => {
            let text: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
            let r = DimensionRef::parse(&text.join("."))?;
            Ok(resolve(&r)?.expr)
        }
        other => Ok(other),
    })
}

/// A dimension as the caller sees it: under the caller's mask on it, if
/// any (what the caller writes is masked; definitions and policies read
/// true values).
pub fn masked(d: ResolvedDim, mask: Option<crate::catalog::policy::Mask>) -> ResolvedDim {
    match mask {
        Some(mask) => ResolvedDim {
            expr: Expr::Mask {
                mask,
                expr: Box::new(d.expr),
            },
            kind: d.kind,
        },
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::column_spelling;

    #[test]
    fn result_column_names_read_as_references() {
        let spelled = |s: &str| column_spelling(s);
        assert_eq!(
            spelled("metric_time__day").as_deref(),
            Some("metric_time:day")
        );
        assert_eq!(
            spelled("customers__region").as_deref(),
            Some("customers.region")
        );
        assert_eq!(
            spelled("orders__ordered_at__WEEK").as_deref(),
            Some("orders.ordered_at:week")
        );
        assert_eq!(
            spelled("orders.ordered_at__month").as_deref(),
            Some("orders.ordered_at:month")
        );
        for plain in ["metric_time", "region", "metric_time:day", "a__b:day"] {
            assert_eq!(spelled(plain), None, "{plain}");
        }
    }
}

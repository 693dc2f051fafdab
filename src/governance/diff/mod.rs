//! `accord diff BASE HEAD`: every change between two definitions versions,
//! classified, with what depends on it.
//!
//! Breaking: a removed or renamed member, a type change, a changed grain or
//! join path, and a meaning changed without a version bump (a metric's
//! measure, expression, filter, inputs or type; a dimension's expression or
//! type; the expression or aggregation of a measure some metric uses).
//! Non-breaking: new metrics, versions, dimensions and measures;
//! deprecations; descriptions, labels, owners, formats and units.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::catalog::policy::MemberRef;
use crate::catalog::{
    Catalog, Dimension, Measure, Metric, MetricId, MetricKind, MetricStatus, Model, ModelId, Source,
};
use crate::dialect::DialectKind;
use crate::sql::ast::{Expr, Ident};
use crate::sql::render::Renderer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Renamed,
    VersionBumped,
    Deprecated,
    Modified,
}

impl ChangeKind {
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Renamed => "renamed",
            ChangeKind::VersionBumped => "version bumped",
            ChangeKind::Deprecated => "deprecated",
            ChangeKind::Modified => "modified",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Metric,
    Model,
    Dimension,
    Measure,
    Entity,
    JoinPath,
}

impl ItemKind {
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Metric => "metric",
            ItemKind::Model => "model",
            ItemKind::Dimension => "dimension",
            ItemKind::Measure => "measure",
            ItemKind::Entity => "entity",
            ItemKind::JoinPath => "join path",
        }
    }
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    pub breaking: bool,
}

impl Detail {
    fn new(field: &str, before: Option<String>, after: Option<String>, breaking: bool) -> Detail {
        Detail {
            field: field.to_string(),
            before,
            after,
            breaking,
        }
    }

    /// `filter: a → b`
    pub fn text(&self) -> String {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
        format!(
            "{}: {} → {}",
            self.field,
            show(&self.before),
            show(&self.after)
        )
    }
}

/// What depends on a changed item.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Impact {
    /// Metrics (`name@version`) that read it, directly or through other
    /// metrics.
    pub metrics: Vec<String>,
    /// Other definitions that name it: `role partner`, `consent ledger`.
    pub definitions: Vec<String>,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty() && self.definitions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    pub item: ItemKind,
    /// `revenue@2`, `orders`, `orders.status`, `orders → customers`; for a
    /// removal, the name in BASE.
    pub name: String,
    /// The BASE name of a renamed item, or the version a new one follows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub breaking: bool,
    pub details: Vec<Detail>,
    pub impact: Impact,
}

impl Change {
    /// `removed metric `refunds@1``
    pub fn title(&self) -> String {
        match (&self.kind, &self.from) {
            (ChangeKind::Renamed, Some(f)) => {
                format!("{} `{f}` renamed to `{}`", self.item.name(), self.name)
            }
            (ChangeKind::VersionBumped, Some(f)) => {
                format!(
                    "{} `{}` (new version after `{f}`)",
                    self.item.name(),
                    self.name
                )
            }
            _ => format!("{} `{}`", self.item.name(), self.name),
        }
    }
}

/// An expression as SQL text; names not yet resolved print as written.
pub fn expr_text(e: &Expr) -> String {
    let resolved = e.clone().try_transform(&mut |x| {
        Ok::<_, ()>(match x {
            Expr::Ref(mut parts) => {
                let name = parts.pop().unwrap_or_else(|| Ident::new(""));
                let table = if parts.is_empty() {
                    None
                } else {
                    Some(Ident::new(
                        parts
                            .iter()
                            .map(|p| p.value.clone())
                            .collect::<Vec<_>>()
                            .join("."),
                    ))
                };
                Expr::Column { table, name }
            }
            other => other,
        })
    });
    match resolved {
        Ok(x) => Renderer::new(DialectKind::Duckdb.dialect())
            .expr(&x)
            .unwrap_or_else(|_| format!("{e:?}")),
        Err(()) => format!("{e:?}"),
    }
}

fn opt_expr(e: &Option<Expr>) -> Option<String> {
    e.as_ref().map(expr_text)
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Table(t) => format!("table {}", t.join(".")),
        Source::Sql(q) => format!("sql {}", q.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

fn dim_type(d: &Dimension) -> String {
    match d.kind {
        crate::catalog::DimensionKind::Time { granularity } => format!("time ({granularity})"),
        k => k.name().to_string(),
    }
}

fn agg_text(m: &Measure) -> String {
    match m.agg {
        crate::catalog::Aggregation::Percentile { p } => format!("percentile {p}"),
        a => a.name().to_string(),
    }
}

fn time_dim(model: &Model, m: &Measure) -> Option<String> {
    m.time_dimension.map(|i| model.dimensions[i].name.clone())
}

/// What a metric computes, apart from its name and metadata: equal
/// signatures mean equal numbers.
#[derive(Debug, Clone, PartialEq)]
struct Signature {
    kind: &'static str,
    measure: Option<String>,
    filter: Option<Expr>,
    inputs: Vec<(String, String, Option<Expr>)>,
    expr: Option<Expr>,
}

fn input_sig(c: &Catalog, i: &crate::catalog::MetricInput) -> (String, String, Option<Expr>) {
    (
        c.metric(i.metric).qualified_name(),
        match i.offset {
            Some(o) => format!("{} ({})", i.alias, o.describe()),
            None => i.alias.clone(),
        },
        i.filter.clone(),
    )
}

fn signature(c: &Catalog, m: &Metric) -> Signature {
    let (measure, inputs, expr) = match &m.kind {
        MetricKind::Simple { model, measure } => {
            let md = c.model(*model);
            (
                Some(format!("{}.{}", md.name, md.measures[*measure].name)),
                vec![],
                None,
            )
        }
        MetricKind::Ratio {
            numerator,
            denominator,
        } => (
            None,
            vec![input_sig(c, numerator), input_sig(c, denominator)],
            None,
        ),
        MetricKind::Derived { expr, inputs } => (
            None,
            inputs.iter().map(|i| input_sig(c, i)).collect(),
            Some(expr.clone()),
        ),
        MetricKind::Cumulative { input, window } => {
            let (m, alias, f) = input_sig(c, input);
            (
                None,
                vec![(m, format!("{alias} ({})", window.describe()), f)],
                None,
            )
        }
        MetricKind::Conversion(conv) => {
            let name = |md: crate::catalog::ModelId, ms: usize| {
                format!("{}.{}", c.model(md).name, c.model(md).measures[ms].name)
            };
            (
                Some(format!(
                    "{} -> {} by {} within {}",
                    name(conv.base_model, conv.base_measure),
                    name(conv.conversion_model, conv.conversion_measure),
                    conv.entity,
                    conv.window
                )),
                vec![],
                None,
            )
        }
    };
    Signature {
        kind: m.kind.name(),
        measure,
        filter: m.filter.clone(),
        inputs,
        expr,
    }
}

fn inputs_text(inputs: &[(String, String, Option<Expr>)]) -> String {
    inputs
        .iter()
        .map(|(q, alias, f)| {
            let mut s = q.clone();
            if !q.starts_with(&format!("{alias}@")) {
                s.push_str(&format!(" as {alias}"));
            }
            if let Some(f) = f {
                s.push_str(&format!(" where {}", expr_text(f)));
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every difference between two metric definitions (two versions, or one
/// version in two catalogs), the meaning-changing ones marked breaking.
pub fn metric_details(bc: &Catalog, b: &Metric, hc: &Catalog, h: &Metric) -> Vec<Detail> {
    let mut out = Vec::new();
    let (sb, sh) = (signature(bc, b), signature(hc, h));
    if sb.kind != sh.kind {
        out.push(Detail::new(
            "type",
            Some(sb.kind.into()),
            Some(sh.kind.into()),
            true,
        ));
    }
    if sb.measure != sh.measure {
        out.push(Detail::new(
            "measure",
            sb.measure.clone(),
            sh.measure.clone(),
            true,
        ));
    }
    if sb.filter != sh.filter {
        out.push(Detail::new(
            "filter",
            opt_expr(&sb.filter),
            opt_expr(&sh.filter),
            true,
        ));
    }
    if sb.inputs != sh.inputs {
        let field = match h.kind {
            MetricKind::Ratio { .. } => "numerator/denominator",
            _ => "inputs",
        };
        out.push(Detail::new(
            field,
            Some(inputs_text(&sb.inputs)).filter(|s| !s.is_empty()),
            Some(inputs_text(&sh.inputs)).filter(|s| !s.is_empty()),
            true,
        ));
    }
    if sb.expr != sh.expr {
        out.push(Detail::new(
            "expr",
            opt_expr(&sb.expr),
            opt_expr(&sh.expr),
            true,
        ));
    }
    if b.status != h.status {
        // Leaving the default resolution (or a draft taking it) changes
        // what a bare name means; only demoting to draft takes it away.
        let breaking = h.status == MetricStatus::Draft;
        out.push(Detail::new(
            "status",
            Some(b.status.name().into()),
            Some(h.status.name().into()),
            breaking,
        ));
    }
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string());
    let meta: [(&str, Option<String>, Option<String>); 8] = [
        (
            "deprecated_on",
            date(b.deprecated_on),
            date(h.deprecated_on),
        ),
        ("sunset_on", date(b.sunset_on), date(h.sunset_on)),
        (
            "replaced_by",
            b.replaced_by.as_ref().map(|r| r.reference.clone()),
            h.replaced_by.as_ref().map(|r| r.reference.clone()),
        ),
        ("label", b.label.clone(), h.label.clone()),
        ("description", b.description.clone(), h.description.clone()),
        ("owner", b.owner.clone(), h.owner.clone()),
        ("format", b.format.clone(), h.format.clone()),
        ("unit", b.unit.clone(), h.unit.clone()),
    ];
    for (field, before, after) in meta {
        if before != after {
            out.push(Detail::new(field, before, after, false));
        }
    }
    out
}

/// Metrics that read any of `roots`, through ratio and derived inputs, in
/// catalog order (the roots themselves excluded).
pub fn metric_dependents(c: &Catalog, roots: &[MetricId]) -> Vec<MetricId> {
    let mut readers: BTreeMap<MetricId, Vec<MetricId>> = BTreeMap::new();
    for m in &c.metrics {
        for i in super::lifecycle::inputs(m) {
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

fn names(c: &Catalog, ids: impl IntoIterator<Item = MetricId>) -> Vec<String> {
    let mut v: Vec<String> = ids
        .into_iter()
        .map(|id| c.metric(id).qualified_name())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Dimensions (model, name) a metric's filters read, its own and its
/// inputs' (the filters on its input references included).
pub fn filter_dimensions(c: &Catalog, m: &Metric) -> Vec<(String, String)> {
    let models = c.metric_models(m.id);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |e: &Expr| {
        e.walk(&mut |x| {
            if let Expr::Ref(parts) = x {
                let key = match parts.as_slice() {
                    [model, dim] => Some((model.value.clone(), dim.value.clone())),
                    [dim] => models
                        .iter()
                        .map(|id| c.model(*id))
                        .find(|md| md.dimension(&dim.value).is_some())
                        .map(|md| (md.name.clone(), dim.value.clone())),
                    _ => None,
                };
                if let Some(k) = key
                    && !out.contains(&k)
                {
                    out.push(k);
                }
            }
        })
    };
    if let Some(f) = &m.filter {
        add(f);
    }
    let inputs: Vec<&crate::catalog::MetricInput> = match &m.kind {
        MetricKind::Simple { .. } => vec![],
        MetricKind::Ratio {
            numerator,
            denominator,
        } => vec![numerator, denominator],
        MetricKind::Derived { inputs, .. } => inputs.iter().collect(),
        MetricKind::Cumulative { input, .. } => vec![input],
        MetricKind::Conversion(_) => vec![],
    };
    for i in inputs {
        if let Some(f) = &i.filter {
            add(f);
        }
    }
    out
}

/// Metrics whose simple leaves use `model.measure` (directly) — then every
/// metric reading those.
fn measure_users(c: &Catalog, model: ModelId, measure: usize) -> Vec<MetricId> {
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

fn roles_naming(
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

fn consent_naming(c: &Catalog, model: ModelId) -> Vec<String> {
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

fn metric_impact(c: &Catalog, m: &Metric) -> Impact {
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

fn model_impact(c: &Catalog, model: &Model) -> Impact {
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

fn dimension_impact(c: &Catalog, model: &Model, dim: &str) -> Impact {
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

fn entity_impact(c: &Catalog, model: &Model, entity: &str) -> Impact {
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

struct Diff<'a> {
    base: &'a Catalog,
    head: &'a Catalog,
    out: Vec<Change>,
}

impl Diff<'_> {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: ChangeKind,
        item: ItemKind,
        name: String,
        from: Option<String>,
        details: Vec<Detail>,
        breaking: bool,
        impact: Impact,
    ) {
        self.out.push(Change {
            kind,
            item,
            name,
            from,
            breaking,
            details,
            impact,
        });
    }

    fn models(&mut self) {
        let (base, head) = (self.base, self.head);
        let removed: Vec<&Model> = base
            .models
            .iter()
            .filter(|m| head.model_by_name(&m.name).is_none())
            .collect();
        let mut added: Vec<&Model> = head
            .models
            .iter()
            .filter(|m| base.model_by_name(&m.name).is_none())
            .collect();
        for r in removed {
            let fp = member_fingerprint(r);
            match added.iter().position(|a| member_fingerprint(a) == fp) {
                Some(i) => {
                    let a = added.remove(i);
                    self.push(
                        ChangeKind::Renamed,
                        ItemKind::Model,
                        a.name.clone(),
                        Some(r.name.clone()),
                        vec![],
                        true,
                        model_impact(base, r),
                    );
                }
                None => self.push(
                    ChangeKind::Removed,
                    ItemKind::Model,
                    r.name.clone(),
                    None,
                    vec![],
                    true,
                    model_impact(base, r),
                ),
            }
        }
        for a in added {
            self.push(
                ChangeKind::Added,
                ItemKind::Model,
                a.name.clone(),
                None,
                vec![],
                false,
                Impact::default(),
            );
        }
        for b in &base.models {
            let Some(h) = head.model_by_name(&b.name) else {
                continue;
            };
            let mut details = Vec::new();
            let (sb, sh) = (source_text(&b.source), source_text(&h.source));
            if sb != sh {
                details.push(Detail::new("source", Some(sb), Some(sh), true));
            }
            if b.subject != h.subject {
                details.push(Detail::new(
                    "subject",
                    b.subject.clone(),
                    h.subject.clone(),
                    true,
                ));
            }
            if b.description != h.description {
                details.push(Detail::new(
                    "description",
                    b.description.clone(),
                    h.description.clone(),
                    false,
                ));
            }
            if b.owner != h.owner {
                details.push(Detail::new(
                    "owner",
                    b.owner.clone(),
                    h.owner.clone(),
                    false,
                ));
            }
            if !details.is_empty() {
                let breaking = details.iter().any(|d| d.breaking);
                self.push(
                    ChangeKind::Modified,
                    ItemKind::Model,
                    h.name.clone(),
                    None,
                    details,
                    breaking,
                    model_impact(head, h),
                );
            }
            self.entities(b, h);
            self.dimensions(b, h);
            self.measures(b, h);
        }
    }

    fn entities(&mut self, b: &Model, h: &Model) {
        let (base, head) = (self.base, self.head);
        for e in &b.entities {
            let name = format!("{}.{}", b.name, e.name);
            match h.entity(&e.name) {
                None => self.push(
                    ChangeKind::Removed,
                    ItemKind::Entity,
                    name,
                    None,
                    vec![],
                    true,
                    entity_impact(base, b, &e.name),
                ),
                Some(x) => {
                    let mut details = Vec::new();
                    let grain = e.kind == crate::catalog::EntityKind::Primary
                        || x.kind == crate::catalog::EntityKind::Primary;
                    if e.kind != x.kind {
                        details.push(Detail::new(
                            if grain { "grain (entity type)" } else { "type" },
                            Some(format!("{:?}", e.kind).to_lowercase()),
                            Some(format!("{:?}", x.kind).to_lowercase()),
                            true,
                        ));
                    }
                    if e.keys != x.keys {
                        let keys =
                            |k: &[Expr]| k.iter().map(expr_text).collect::<Vec<_>>().join(", ");
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
                    if !details.is_empty() {
                        let breaking = details.iter().any(|d| d.breaking);
                        self.push(
                            ChangeKind::Modified,
                            ItemKind::Entity,
                            name,
                            None,
                            details,
                            breaking,
                            entity_impact(head, h, &e.name),
                        );
                    }
                }
            }
        }
        for x in h.entities.iter().filter(|x| b.entity(&x.name).is_none()) {
            self.push(
                ChangeKind::Added,
                ItemKind::Entity,
                format!("{}.{}", h.name, x.name),
                None,
                vec![],
                false,
                Impact::default(),
            );
        }
    }

    fn dimensions(&mut self, b: &Model, h: &Model) {
        let (base, head) = (self.base, self.head);
        let mut added: Vec<&Dimension> = h
            .dimensions
            .iter()
            .filter(|d| b.dimension(&d.name).is_none())
            .collect();
        for d in &b.dimensions {
            let Some((_, x)) = h.dimension(&d.name) else {
                let renamed = added
                    .iter()
                    .position(|a| a.kind == d.kind && a.expr == d.expr);
                match renamed {
                    Some(i) => {
                        let a = added.remove(i);
                        self.push(
                            ChangeKind::Renamed,
                            ItemKind::Dimension,
                            format!("{}.{}", h.name, a.name),
                            Some(format!("{}.{}", b.name, d.name)),
                            vec![],
                            true,
                            dimension_impact(base, b, &d.name),
                        );
                    }
                    None => self.push(
                        ChangeKind::Removed,
                        ItemKind::Dimension,
                        format!("{}.{}", b.name, d.name),
                        None,
                        vec![],
                        true,
                        dimension_impact(base, b, &d.name),
                    ),
                }
                continue;
            };
            let mut details = Vec::new();
            if d.kind != x.kind {
                details.push(Detail::new(
                    "type",
                    Some(dim_type(d)),
                    Some(dim_type(x)),
                    true,
                ));
            }
            if d.expr != x.expr {
                details.push(Detail::new(
                    "expr",
                    Some(expr_text(&d.expr)),
                    Some(expr_text(&x.expr)),
                    true,
                ));
            }
            let tags = |t: &[String]| Some(t.join(", ")).filter(|s| !s.is_empty());
            let meta = [
                ("label", d.label.clone(), x.label.clone()),
                ("description", d.description.clone(), x.description.clone()),
                ("pii", Some(d.pii.to_string()), Some(x.pii.to_string())),
                ("tags", tags(&d.tags), tags(&x.tags)),
            ];
            for (field, before, after) in meta {
                if before != after {
                    details.push(Detail::new(field, before, after, false));
                }
            }
            if !details.is_empty() {
                let breaking = details.iter().any(|d| d.breaking);
                self.push(
                    ChangeKind::Modified,
                    ItemKind::Dimension,
                    format!("{}.{}", h.name, x.name),
                    None,
                    details,
                    breaking,
                    dimension_impact(head, h, &x.name),
                );
            }
        }
        for a in added {
            self.push(
                ChangeKind::Added,
                ItemKind::Dimension,
                format!("{}.{}", h.name, a.name),
                None,
                vec![],
                false,
                Impact::default(),
            );
        }
    }

    fn measures(&mut self, b: &Model, h: &Model) {
        let (base, head) = (self.base, self.head);
        let impact = |c: &Catalog, m: &Model, name: &str| match m.measure(name) {
            Some((i, _)) => Impact {
                metrics: names(c, measure_users(c, m.id, i)),
                definitions: Vec::new(),
            },
            None => Impact::default(),
        };
        let same = |x: &Measure, mx: &Model, y: &Measure, my: &Model| {
            x.agg == y.agg && x.expr == y.expr && time_dim(mx, x) == time_dim(my, y)
        };
        let mut added: Vec<&Measure> = h
            .measures
            .iter()
            .filter(|m| b.measure(&m.name).is_none())
            .collect();
        for m in &b.measures {
            let Some((_, x)) = h.measure(&m.name) else {
                match added.iter().position(|a| same(m, b, a, h)) {
                    Some(i) => {
                        let a = added.remove(i);
                        self.push(
                            ChangeKind::Renamed,
                            ItemKind::Measure,
                            format!("{}.{}", h.name, a.name),
                            Some(format!("{}.{}", b.name, m.name)),
                            vec![],
                            true,
                            impact(base, b, &m.name),
                        );
                    }
                    None => self.push(
                        ChangeKind::Removed,
                        ItemKind::Measure,
                        format!("{}.{}", b.name, m.name),
                        None,
                        vec![],
                        true,
                        impact(base, b, &m.name),
                    ),
                }
                continue;
            };
            let mut details = Vec::new();
            if m.agg != x.agg {
                details.push(Detail::new(
                    "agg",
                    Some(agg_text(m)),
                    Some(agg_text(x)),
                    true,
                ));
            }
            if m.expr != x.expr {
                details.push(Detail::new(
                    "expr",
                    opt_expr(&m.expr),
                    opt_expr(&x.expr),
                    true,
                ));
            }
            if time_dim(b, m) != time_dim(h, x) {
                details.push(Detail::new(
                    "agg_time_dimension",
                    time_dim(b, m),
                    time_dim(h, x),
                    true,
                ));
            }
            if m.description != x.description {
                details.push(Detail::new(
                    "description",
                    m.description.clone(),
                    x.description.clone(),
                    false,
                ));
            }
            if !details.is_empty() {
                let imp = impact(head, h, &x.name);
                // A measure is not queried by itself: changing what it
                // computes breaks only the metrics built on it.
                let breaking = details.iter().any(|d| d.breaking) && !imp.metrics.is_empty();
                for d in details.iter_mut() {
                    d.breaking &= breaking;
                }
                self.push(
                    ChangeKind::Modified,
                    ItemKind::Measure,
                    format!("{}.{}", h.name, x.name),
                    None,
                    details,
                    breaking,
                    imp,
                );
            }
        }
        for a in added {
            self.push(
                ChangeKind::Added,
                ItemKind::Measure,
                format!("{}.{}", h.name, a.name),
                None,
                vec![],
                false,
                Impact::default(),
            );
        }
    }

    fn join_paths(&mut self) {
        let (base, head) = (self.base, self.head);
        for a in &head.models {
            let Some(ba) = base.model_by_name(&a.name) else {
                continue;
            };
            if a.measures.is_empty() && ba.measures.is_empty() {
                continue;
            }
            for t in &head.models {
                let Some(bt) = base.model_by_name(&t.name) else {
                    continue;
                };
                if t.id == a.id {
                    continue;
                }
                let before = path_text(base, ba.id, bt.id);
                let after = path_text(head, a.id, t.id);
                if before == after {
                    continue;
                }
                let unique =
                    |p: &Option<String>| p.as_ref().is_some_and(|s| !s.starts_with("ambiguous"));
                let (kind, breaking) = match (&before, &after) {
                    (None, Some(_)) => (ChangeKind::Added, false),
                    _ if !unique(&before) => (ChangeKind::Modified, false),
                    _ => (ChangeKind::Modified, true),
                };
                let show = |p: Option<String>| Some(p.unwrap_or_else(|| "unreachable".to_string()));
                let users = head
                    .metrics
                    .iter()
                    .filter(|m| head.metric_models(m.id).contains(&a.id))
                    .map(|m| m.id);
                self.push(
                    kind,
                    ItemKind::JoinPath,
                    format!("{} → {}", a.name, t.name),
                    None,
                    vec![Detail::new("path", show(before), show(after), breaking)],
                    breaking,
                    Impact {
                        metrics: names(head, users),
                        definitions: Vec::new(),
                    },
                );
            }
        }
    }

    fn metrics(&mut self) {
        let (base, head) = (self.base, self.head);
        let base_names: BTreeSet<&str> = base.metric_names().collect();
        let head_names: BTreeSet<&str> = head.metric_names().collect();
        let mut added: Vec<&Metric> = head
            .metrics_sorted()
            .into_iter()
            .filter(|m| base.metric_version(&m.name, m.version).is_none())
            .collect();
        for b in base.metrics_sorted() {
            if let Some(h) = head.metric_version(&b.name, b.version) {
                let details = metric_details(base, b, head, h);
                if details.is_empty() {
                    continue;
                }
                let breaking = details.iter().any(|d| d.breaking);
                let deprecated =
                    b.status != MetricStatus::Deprecated && h.status == MetricStatus::Deprecated;
                let kind = if deprecated && !breaking {
                    ChangeKind::Deprecated
                } else {
                    ChangeKind::Modified
                };
                self.push(
                    kind,
                    ItemKind::Metric,
                    h.qualified_name(),
                    None,
                    details,
                    breaking,
                    metric_impact(head, h),
                );
                continue;
            }
            // Gone in HEAD: renamed if a new name computes the same thing.
            let sig = signature(base, b);
            let renamed = (!head_names.contains(b.name.as_str()))
                .then(|| {
                    added.iter().position(|a| {
                        !base_names.contains(a.name.as_str()) && signature(head, a) == sig
                    })
                })
                .flatten();
            match renamed {
                Some(i) => {
                    let a = added.remove(i);
                    let details = metric_details(base, b, head, a);
                    self.push(
                        ChangeKind::Renamed,
                        ItemKind::Metric,
                        a.qualified_name(),
                        Some(b.qualified_name()),
                        details,
                        true,
                        metric_impact(base, b),
                    );
                }
                None => self.push(
                    ChangeKind::Removed,
                    ItemKind::Metric,
                    b.qualified_name(),
                    None,
                    vec![],
                    true,
                    metric_impact(base, b),
                ),
            }
        }
        for a in added {
            if !base_names.contains(a.name.as_str()) {
                let status = (a.status != MetricStatus::Active)
                    .then(|| Detail::new("status", None, Some(a.status.name().into()), false));
                self.push(
                    ChangeKind::Added,
                    ItemKind::Metric,
                    a.qualified_name(),
                    None,
                    status.into_iter().collect(),
                    false,
                    Impact::default(),
                );
                continue;
            }
            // A new version of a known metric: compare with BASE's default
            // (else its newest) version.
            let prev = base.default_metric(&a.name).or_else(|| {
                base.metric_versions(&a.name)
                    .last()
                    .map(|id| base.metric(*id))
            });
            let mut details = prev
                .map(|p| metric_details(base, p, head, a))
                .unwrap_or_default();
            // The new version's differences are the point of the bump.
            for d in details.iter_mut() {
                d.breaking = false;
            }
            let before = base.default_metric(&a.name).map(|m| m.qualified_name());
            let after = head.default_metric(&a.name).map(|m| m.qualified_name());
            if before != after && after.as_deref() == Some(a.qualified_name().as_str()) {
                details.insert(0, Detail::new("default version", before, after, false));
            }
            let impact = Impact {
                metrics: names(head, metric_dependents(head, &[a.id])),
                definitions: Vec::new(),
            };
            self.push(
                ChangeKind::VersionBumped,
                ItemKind::Metric,
                a.qualified_name(),
                prev.map(|p| p.qualified_name()),
                details,
                false,
                impact,
            );
        }
    }
}

/// Every change from `base` to `head`, metrics first, each kind of item in
/// name order.
pub fn diff(base: &Catalog, head: &Catalog) -> Vec<Change> {
    let mut d = Diff {
        base,
        head,
        out: Vec::new(),
    };
    d.metrics();
    d.models();
    d.join_paths();
    let mut out = d.out;
    out.sort_by(|a, b| (a.item, &a.name, a.kind).cmp(&(b.item, &b.name, b.kind)));
    out
}

/// A diff with what it compared and, optionally, its parallel run.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub base: String,
    pub head: String,
    pub base_version: String,
    pub head_version: String,
    pub breaking: usize,
    pub non_breaking: usize,
    pub changes: Vec<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variance: Option<Vec<super::variance::MetricVariance>>,
}

impl DiffReport {
    pub fn new(
        base_label: String,
        base: &Catalog,
        head_label: String,
        head: &Catalog,
    ) -> DiffReport {
        let changes = diff(base, head);
        let breaking = changes.iter().filter(|c| c.breaking).count();
        DiffReport {
            base: base_label,
            head: head_label,
            base_version: base.version.clone(),
            head_version: head.version.clone(),
            breaking,
            non_breaking: changes.len() - breaking,
            changes,
            variance: None,
        }
    }

    pub fn text(&self, top: usize) -> String {
        let mut s = format!(
            "accord diff {} → {} (definitions {} → {})\n",
            self.base, self.head, self.base_version, self.head_version
        );
        if self.changes.is_empty() {
            s.push_str("no changes\n");
        } else {
            s.push_str(&format!(
                "{} breaking change(s), {} non-breaking\n",
                self.breaking, self.non_breaking
            ));
        }
        for (title, breaking) in [("BREAKING", true), ("NON-BREAKING", false)] {
            let list: Vec<&Change> = self
                .changes
                .iter()
                .filter(|c| c.breaking == breaking)
                .collect();
            if list.is_empty() {
                continue;
            }
            s.push_str(&format!("\n{title}\n"));
            for c in list {
                s.push_str(&format!("  {:<15} {}\n", c.kind.name(), c.title()));
                for d in &c.details {
                    let mark = if d.breaking { "!" } else { " " };
                    s.push_str(&format!("  {:<15} {mark} {}\n", "", d.text()));
                }
                if !c.impact.is_empty() {
                    let mut all: Vec<String> = c.impact.metrics.clone();
                    all.extend(c.impact.definitions.iter().cloned());
                    s.push_str(&format!("  {:<15}   impact: {}\n", "", all.join(", ")));
                }
            }
        }
        if let Some(v) = &self.variance {
            s.push_str(&super::variance::text(v, top));
        }
        s
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }

    /// A Markdown summary to paste as a pull-request comment.
    pub fn markdown(&self, top: usize) -> String {
        let mut s = format!(
            "## accord diff: `{}` → `{}`\n\n",
            md_code(&self.base),
            md_code(&self.head)
        );
        if self.changes.is_empty() {
            s.push_str("No changes to the definitions.\n");
        } else if self.breaking > 0 {
            s.push_str(&format!(
                "**:warning: {} breaking change(s)**, {} non-breaking (definitions `{}` → `{}`).\n",
                self.breaking, self.non_breaking, self.base_version, self.head_version
            ));
        } else {
            s.push_str(&format!(
                "**No breaking changes**; {} non-breaking (definitions `{}` → `{}`).\n",
                self.non_breaking, self.base_version, self.head_version
            ));
        }
        for (title, breaking) in [("Breaking changes", true), ("Non-breaking changes", false)] {
            let list: Vec<&Change> = self
                .changes
                .iter()
                .filter(|c| c.breaking == breaking)
                .collect();
            if list.is_empty() {
                continue;
            }
            s.push_str(&format!(
                "\n### {title}\n\n| Change | Item | Details | Impact |\n|---|---|---|---|\n"
            ));
            for c in list {
                let item = match (&c.kind, &c.from) {
                    (ChangeKind::Renamed, Some(f)) => format!(
                        "{} `{}` → `{}`",
                        c.item.name(),
                        md_code(f),
                        md_code(&c.name)
                    ),
                    (ChangeKind::VersionBumped, Some(f)) => format!(
                        "{} `{}` (after `{}`)",
                        c.item.name(),
                        md_code(&c.name),
                        md_code(f)
                    ),
                    _ => format!("{} `{}`", c.item.name(), md_code(&c.name)),
                };
                let details: Vec<String> = c
                    .details
                    .iter()
                    .map(|d| {
                        let show = |v: &Option<String>| match v {
                            Some(x) => format!("`{}`", md_code(x)),
                            None => "_none_".to_string(),
                        };
                        let mark = if d.breaking { " **(breaking)**" } else { "" };
                        format!(
                            "{}: {} → {}{mark}",
                            d.field,
                            show(&d.before),
                            show(&d.after)
                        )
                    })
                    .collect();
                let mut impact: Vec<String> = c
                    .impact
                    .metrics
                    .iter()
                    .map(|m| format!("`{}`", md_code(m)))
                    .collect();
                impact.extend(c.impact.definitions.iter().cloned());
                s.push_str(&format!(
                    "| {} | {} | {} | {} |\n",
                    c.kind.name(),
                    item,
                    md_cell(&details.join("<br>")),
                    md_cell(&impact.join(", "))
                ));
            }
        }
        if let Some(v) = &self.variance {
            s.push_str(&super::variance::markdown(v, top));
        }
        s
    }
}

/// Text inside a Markdown code span within a table cell.
pub fn md_code(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|").replace('\n', " ")
}

fn md_cell(s: &str) -> String {
    s.replace('\n', "<br>")
}

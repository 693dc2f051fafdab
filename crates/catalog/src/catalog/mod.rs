//! The validated, immutable catalog: every model, dimension, measure and
//! metric of one definitions version, with the join graph between models.
//! Only [`crate::definitions`] builds one, so every value here has already
//! been checked (names resolve, types fit, no cycles).

pub mod analysis;
mod graph;
pub mod policy;
pub mod time;

use std::collections::BTreeMap;

use serde::Serialize;

pub use graph::{JoinEdge, JoinGraph, JoinPath};

use crate::diagnostics::SourcePos;
use crate::sql::ast::Expr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ModelId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MetricId(pub u32);

pub use crate::vocab::{Aggregation, DimensionKind, Grain};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Primary,
    Unique,
    Foreign,
}

impl EntityKind {
    /// A model with this entity has at most one row per key value, so joining
    /// to it from anywhere never multiplies rows.
    pub fn is_unique(self) -> bool {
        matches!(self, EntityKind::Primary | EntityKind::Unique)
    }
}

#[derive(Debug, Clone)]
pub struct Entity {
    pub name: String,
    pub kind: EntityKind,
    /// One expression per key column; several for a composite key.
    pub keys: Vec<Expr>,
    pub description: Option<String>,
    pub pos: SourcePos,
}

#[derive(Debug, Clone)]
pub struct Dimension {
    pub name: String,
    pub kind: DimensionKind,
    pub expr: Expr,
    pub label: Option<String>,
    pub description: Option<String>,
    pub pii: bool,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Measure {
    pub name: String,
    pub agg: Aggregation,
    /// `None` only for `count`, which then counts rows.
    pub expr: Option<Expr>,
    /// Index into the model's dimensions: the time `metric_time` means for
    /// this measure.
    pub time_dimension: Option<usize>,
    pub description: Option<String>,
    /// Where `stitched: true` was written: the measure is computed per
    /// canonical identity (see `planner::stitch`).
    pub stitched_at: Option<crate::diagnostics::SourcePos>,
}

#[derive(Debug, Clone)]
pub enum Source {
    Table(Vec<String>),
    Sql(String),
}

#[derive(Debug, Clone)]
pub struct Model {
    pub id: ModelId,
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub source: Source,
    pub entities: Vec<Entity>,
    pub dimensions: Vec<Dimension>,
    pub measures: Vec<Measure>,
    /// Entity naming the person a row is about, if any.
    pub subject: Option<String>,
    pub pos: SourcePos,
}

impl Model {
    pub fn dimension(&self, name: &str) -> Option<(usize, &Dimension)> {
        self.dimensions
            .iter()
            .enumerate()
            .find(|(_, d)| d.name == name)
    }

    pub fn entity(&self, name: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.name == name)
    }

    pub fn measure(&self, name: &str) -> Option<(usize, &Measure)> {
        self.measures
            .iter()
            .enumerate()
            .find(|(_, m)| m.name == name)
    }

    /// The entity that identifies one row, if any.
    pub fn primary_entity(&self) -> Option<&Entity> {
        self.entities.iter().find(|e| e.kind == EntityKind::Primary)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricStatus {
    Draft,
    Active,
    Deprecated,
}

impl MetricStatus {
    pub fn name(self) -> &'static str {
        match self {
            MetricStatus::Draft => "draft",
            MetricStatus::Active => "active",
            MetricStatus::Deprecated => "deprecated",
        }
    }
}

/// A reference from a ratio or derived metric to another metric, optionally
/// narrowed by a filter that applies to everything underneath it.
#[derive(Debug, Clone)]
pub struct MetricInput {
    pub metric: MetricId,
    /// Name the input goes by inside a derived expression.
    pub alias: String,
    pub filter: Option<Expr>,
    /// Read at another period (derived metrics' period-over-period inputs).
    pub offset: Option<time::TimeOffset>,
}

#[derive(Debug, Clone)]
pub enum MetricKind {
    Simple {
        model: ModelId,
        measure: usize,
    },
    Ratio {
        numerator: MetricInput,
        denominator: MetricInput,
    },
    /// `expr` refers to its inputs by alias through `Expr::Ref`.
    Derived {
        expr: Expr,
        inputs: Vec<MetricInput>,
    },
    /// An additive metric added up over a window of periods.
    Cumulative {
        input: MetricInput,
        window: time::CumulativeWindow,
    },
    /// Base events followed by a conversion event of the same entity.
    Conversion(Box<time::Conversion>),
}

impl MetricKind {
    pub fn name(&self) -> &'static str {
        match self {
            MetricKind::Simple { .. } => "simple",
            MetricKind::Ratio { .. } => "ratio",
            MetricKind::Derived { .. } => "derived",
            MetricKind::Cumulative { .. } => "cumulative",
            MetricKind::Conversion(_) => "conversion",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Metric {
    pub id: MetricId,
    pub name: String,
    pub version: u32,
    pub status: MetricStatus,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub label: Option<String>,
    pub format: Option<String>,
    pub unit: Option<String>,
    /// Filter over dimensions, as `Expr::Ref`s resolved per query.
    pub filter: Option<Expr>,
    pub filter_text: Option<String>,
    pub filter_pos: Option<SourcePos>,
    pub kind: MetricKind,
    pub pos: SourcePos,
    // Lifecycle of a deprecated version (see docs/governance.md): when it
    // was deprecated, the last day it answers, and what replaces it.
    pub deprecated_on: Option<chrono::NaiveDate>,
    pub sunset_on: Option<chrono::NaiveDate>,
    pub replaced_by: Option<MetricRef>,
    /// What a period without facts reads as in a gap-filled time series
    /// (a number literal); `None` leaves it NULL.
    pub fill_nulls_with: Option<String>,
}

/// A reference to a metric as written (`revenue`, `revenue@3`) and the
/// version it resolved to when the catalog was built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRef {
    pub reference: String,
    pub id: MetricId,
}

impl Metric {
    /// `name@version`, the unambiguous spelling.
    pub fn qualified_name(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// One definitions version, shared read-only by every request.
#[derive(Debug)]
pub struct Catalog {
    pub models: Vec<Model>,
    pub metrics: Vec<Metric>,
    model_index: BTreeMap<String, ModelId>,
    /// Every version of a metric, ascending by version.
    metric_versions: BTreeMap<String, Vec<MetricId>>,
    pub graph: JoinGraph,
    /// Access roles; none means access is not restricted.
    pub roles: Vec<policy::Role>,
    pub consent: Option<policy::Consent>,
    /// Funnels and retention analyses (`funnels:`, `retention:`).
    pub analyses: analysis::Analyses,
    /// Data quality checks (src/checks), versioned with the definitions.
    pub checks: Vec<crate::checks::Check>,
    /// Identity resolution rules, if defined.
    pub identity: Option<crate::identity::Identity>,
    /// Named attribution instances (`attribution:` definitions).
    pub attributions: Vec<crate::attribution::Attribution>,
    /// Content hash of the definition files: a result computed under one
    /// version is never served under another.
    pub version: String,
}

impl Catalog {
    pub fn new(models: Vec<Model>, metrics: Vec<Metric>, version: String) -> Catalog {
        let model_index = models.iter().map(|m| (m.name.clone(), m.id)).collect();
        let mut metric_versions: BTreeMap<String, Vec<MetricId>> = BTreeMap::new();
        for m in &metrics {
            metric_versions
                .entry(m.name.clone())
                .or_default()
                .push(m.id);
        }
        for ids in metric_versions.values_mut() {
            ids.sort_by_key(|id| metrics[id.0 as usize].version);
        }
        let graph = JoinGraph::build(&models);
        Catalog {
            models,
            metrics,
            model_index,
            metric_versions,
            graph,
            roles: Vec::new(),
            consent: None,
            analyses: analysis::Analyses::default(),
            checks: Vec::new(),
            identity: None,
            attributions: Vec::new(),
            version,
        }
    }

    pub fn model(&self, id: ModelId) -> &Model {
        &self.models[id.0 as usize]
    }

    pub fn metric(&self, id: MetricId) -> &Metric {
        &self.metrics[id.0 as usize]
    }

    pub fn model_by_name(&self, name: &str) -> Option<&Model> {
        self.model_index.get(name).map(|id| self.model(*id))
    }

    pub fn model_names(&self) -> impl Iterator<Item = &str> {
        self.model_index.keys().map(String::as_str)
    }

    pub fn metric_names(&self) -> impl Iterator<Item = &str> {
        self.metric_versions.keys().map(String::as_str)
    }

    /// All versions of a metric, oldest first.
    pub fn metric_versions(&self, name: &str) -> &[MetricId] {
        self.metric_versions
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// What a bare metric name means: the newest active version, else the
    /// newest deprecated one. Drafts are only used when asked for by version.
    pub fn default_metric(&self, name: &str) -> Option<&Metric> {
        let versions = self.metric_versions(name);
        let pick = |status| {
            versions
                .iter()
                .rev()
                .map(|id| self.metric(*id))
                .find(|m| m.status == status)
        };
        pick(MetricStatus::Active).or_else(|| pick(MetricStatus::Deprecated))
    }

    pub fn metric_version(&self, name: &str, version: u32) -> Option<&Metric> {
        self.metric_versions(name)
            .iter()
            .map(|id| self.metric(*id))
            .find(|m| m.version == version)
    }

    /// Metrics in the order a catalog listing shows them.
    pub fn metrics_sorted(&self) -> Vec<&Metric> {
        self.metric_versions
            .values()
            .flatten()
            .map(|id| self.metric(*id))
            .collect()
    }
}

impl Catalog {
    /// Models whose measures a metric aggregates, through ratio and derived
    /// inputs.
    pub fn metric_models(&self, id: MetricId) -> Vec<ModelId> {
        fn walk(c: &Catalog, id: MetricId, out: &mut Vec<ModelId>, depth: usize) {
            if depth > 64 {
                return;
            }
            match &c.metric(id).kind {
                MetricKind::Simple { model, .. } => {
                    if !out.contains(model) {
                        out.push(*model);
                    }
                }
                MetricKind::Ratio {
                    numerator,
                    denominator,
                } => {
                    walk(c, numerator.metric, out, depth + 1);
                    walk(c, denominator.metric, out, depth + 1);
                }
                MetricKind::Derived { inputs, .. } => {
                    for i in inputs {
                        walk(c, i.metric, out, depth + 1);
                    }
                }
                MetricKind::Cumulative { input, .. } => walk(c, input.metric, out, depth + 1),
                MetricKind::Conversion(conv) => {
                    if !out.contains(&conv.base_model) {
                        out.push(conv.base_model);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self, id, &mut out, 0);
        out
    }

    /// Every dimension a metric can be grouped by: those reachable with one
    /// unambiguous path from each model it aggregates, plus `metric_time`
    /// when each of its measures has a time dimension.
    pub fn groupable_dimensions(&self, id: MetricId) -> Vec<String> {
        let models = self.metric_models(id);
        let mut out = Vec::new();
        let all_timed = {
            let mut ok = true;
            fn measures(c: &Catalog, id: MetricId, ok: &mut bool, depth: usize) {
                if depth > 64 {
                    return;
                }
                match &c.metric(id).kind {
                    MetricKind::Simple { model, measure } => {
                        *ok &= c.model(*model).measures[*measure].time_dimension.is_some()
                    }
                    MetricKind::Ratio {
                        numerator,
                        denominator,
                    } => {
                        measures(c, numerator.metric, ok, depth + 1);
                        measures(c, denominator.metric, ok, depth + 1);
                    }
                    MetricKind::Derived { inputs, .. } => inputs
                        .iter()
                        .for_each(|i| measures(c, i.metric, ok, depth + 1)),
                    MetricKind::Cumulative { input, .. } => {
                        measures(c, input.metric, ok, depth + 1)
                    }
                    MetricKind::Conversion(conv) => {
                        *ok &= c.model(conv.base_model).measures[conv.base_measure]
                            .time_dimension
                            .is_some()
                    }
                }
            }
            measures(self, id, &mut ok, 0);
            ok
        };
        if all_timed {
            out.push("metric_time".to_string());
        }
        for target in &self.models {
            let reachable = models
                .iter()
                .all(|m| self.graph.shortest_paths(*m, target.id).len() == 1);
            if !reachable {
                continue;
            }
            for d in &target.dimensions {
                out.push(format!("{}.{}", target.name, d.name));
            }
            for e in target.entities.iter().filter(|e| e.keys.len() == 1) {
                if target.dimension(&e.name).is_none() {
                    out.push(format!("{}.{}", target.name, e.name));
                }
            }
        }
        out
    }
}

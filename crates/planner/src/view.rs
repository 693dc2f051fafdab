//! One caller's view of a catalog: the only place that decides which
//! models, dimensions, measures, metrics, analyses and attribution
//! instances a caller is shown, and how each is described. The REST
//! catalog, the GraphQL schema and listings, and the Postgres endpoint's
//! tables are all generated from a [`CatalogView`], so they cannot
//! disagree about what a caller may see.

use serde_json::{Value as Json, json};

use crate::access::{Access, Caller};
use crate::catalog::{Catalog, DimensionKind, Metric, MetricId, MetricKind, Model, Source};
use crate::error::{ErrorCode, PlanError};

/// A catalog as one caller may see it.
pub struct CatalogView<'c> {
    pub catalog: &'c Catalog,
    pub access: Access<'c>,
}

impl<'c> CatalogView<'c> {
    /// The caller's view; refused (`forbidden`) for a caller with no usable
    /// role or purpose.
    pub fn new(catalog: &'c Catalog, caller: &Caller) -> Result<CatalogView<'c>, PlanError> {
        Ok(CatalogView {
            catalog,
            access: Access::resolve(catalog, caller)?,
        })
    }

    /// The view a schema or listing is generated from. Visibility depends
    /// on roles only, so a purpose the roles may not use (refused when a
    /// query runs) does not hide the schema: the other purposes are tried.
    pub fn for_schema(catalog: &'c Catalog, caller: &Caller) -> Result<CatalogView<'c>, PlanError> {
        let first = match CatalogView::new(catalog, caller) {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        for p in catalog.consent.iter().flat_map(|c| &c.purposes) {
            let mut c = caller.clone();
            c.purpose = Some(p.name.clone());
            if let Ok(v) = CatalogView::new(catalog, &c) {
                return Ok(v);
            }
        }
        Err(first)
    }

    /// Every visible version of every metric, by name then version.
    pub fn metrics(&self) -> Vec<&'c Metric> {
        self.catalog
            .metrics_sorted()
            .into_iter()
            .filter(|m| self.access.metric_visible(m.id))
            .collect()
    }

    /// The default version of each metric the caller may use, by name.
    pub fn default_metrics(&self) -> Vec<&'c Metric> {
        let c = self.catalog;
        c.metric_names()
            .filter_map(|n| c.default_metric(n))
            .filter(|m| self.access.metric_visible(m.id))
            .collect()
    }

    /// The visible versions of metric `name` (empty: unknown to the caller).
    pub fn versions(&self, name: &str) -> Vec<MetricId> {
        self.access.visible_versions(name)
    }

    /// `name` or `name@version` when the caller may use it; otherwise the
    /// same `unknown_metric` error a name that does not exist gets, with
    /// suggestions drawn from what the caller may see.
    pub fn find_metric(&self, reference: &str) -> Result<&'c Metric, PlanError> {
        match crate::lineage::find_metric(self.catalog, reference) {
            Some(m) if self.access.metric_visible(m.id) => Ok(m),
            _ => Err(self.unknown_metric(reference)),
        }
    }

    /// `unknown metric `x``, with the closest visible names.
    pub fn unknown_metric(&self, reference: &str) -> PlanError {
        let name = reference.split('@').next().unwrap_or("");
        let visible: Vec<&str> = self
            .default_metrics()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        PlanError::new(
            ErrorCode::UnknownMetric,
            format!("unknown metric `{reference}`"),
        )
        .with_suggestions(crate::diagnostics::closest(name, visible))
    }

    /// Whether a dimension reference (`metric_time`, `model.dimension`) is
    /// visible.
    pub fn reference_visible(&self, reference: &str) -> bool {
        if reference == "metric_time" {
            return self.access.metric_time_visible();
        }
        match reference.split_once('.') {
            Some((model, name)) => self
                .catalog
                .model_by_name(model)
                .is_some_and(|m| self.access.dimension_visible(m.id, name)),
            None => false,
        }
    }

    /// The models the caller may use something of.
    pub fn models(&self) -> impl Iterator<Item = &'c Model> + '_ {
        self.catalog
            .models
            .iter()
            .filter(|m| self.access.model_visible(m.id))
    }

    /// One model as listed (`GET /v1/catalog`): hidden entities and
    /// dimensions are absent, and so are measures no visible metric reads.
    pub fn model_entry(&self, m: &Model) -> Json {
        let access = &self.access;
        let dims: Vec<Json> = m
            .dimensions
            .iter()
            .filter(|d| access.dimension_visible(m.id, &d.name))
            .map(|d| {
                let mut v = dimension_kind(d.kind);
                v["name"] = json!(d.name);
                v["description"] = json!(d.description);
                v["pii"] = json!(d.pii);
                v["tags"] = json!(d.tags);
                v["masked"] = json!(access.mask(m.id, &d.name).is_some());
                v
            })
            .collect();
        let source = match &m.source {
            Source::Table(t) => json!({"table": t.join(".")}),
            Source::Sql(_) => json!({"sql": true}),
        };
        let entities: Vec<Json> = m
            .entities
            .iter()
            .filter(|e| access.dimension_visible(m.id, &e.name))
            .map(|e| json!({"name": e.name, "type": e.kind}))
            .collect();
        let measures: Vec<Json> = m
            .measures
            .iter()
            .enumerate()
            .filter(|(i, _)| access.measure_visible(m.id, *i))
            .map(
                |(_, x)| json!({"name": x.name, "agg": x.agg.name(), "description": x.description}),
            )
            .collect();
        json!({
            "name": m.name,
            "description": m.description,
            "owner": m.owner,
            "source": source,
            "entities": entities,
            "dimensions": dims,
            "measures": measures,
        })
    }

    /// One metric version as listed by REST and GraphQL: its definition
    /// filter only for a caller it cannot tell anything hidden.
    pub fn metric_entry(&self, m: &Metric) -> Json {
        let c = self.catalog;
        json!({
            "name": m.name,
            "version": m.version,
            "default": c.default_metric(&m.name).is_some_and(|d| d.id == m.id),
            "status": m.status.name(),
            "type": m.kind.name(),
            "label": m.label,
            "owner": m.owner,
            "description": m.description,
            "format": m.format,
            "unit": m.unit,
            "filter": self.access.metric_filter(m),
            "inputs": metric_inputs(c, m),
            "dimensions": self.access.groupable_dimensions(m.id),
        })
    }

    /// Funnels and retention analyses the caller may run.
    pub fn analyses(&self) -> Json {
        crate::planner::analysis_catalog(self.catalog, &self.access)
    }

    /// Attribution instances the caller may use.
    pub fn attributions(&self) -> Vec<Json> {
        crate::attribution::listing(self.catalog, &self.access)
    }

    /// The whole listing of `GET /v1/catalog`.
    pub fn listing(&self) -> Json {
        let models: Vec<Json> = self.models().map(|m| self.model_entry(m)).collect();
        let metrics: Vec<Json> = self
            .metrics()
            .iter()
            .map(|m| self.metric_entry(m))
            .collect();
        let analyses = self.analyses();
        json!({
            "version": self.catalog.version,
            "models": models,
            "metrics": metrics,
            "funnels": analyses["funnels"],
            "retention": analyses["retention"],
            "attributions": self.attributions(),
        })
    }
}

/// A dimension's kind as listed: `{"type": "time", "granularity": "day"}`.
pub fn dimension_kind(k: DimensionKind) -> Json {
    match k {
        DimensionKind::Time { granularity } => {
            json!({"type": "time", "granularity": granularity.name()})
        }
        other => json!({"type": other.name()}),
    }
}

/// What a metric is computed from: measures (`model.measure`) or metrics
/// (`name@version`).
pub fn metric_inputs(c: &Catalog, m: &Metric) -> Vec<String> {
    let measure = |model: crate::catalog::ModelId, i: usize| {
        format!(
            "{}.{}",
            c.model(model).name,
            c.model(model).measures[i].name
        )
    };
    match &m.kind {
        MetricKind::Simple { model, measure: i } => vec![measure(*model, *i)],
        MetricKind::Ratio {
            numerator,
            denominator,
        } => vec![
            c.metric(numerator.metric).qualified_name(),
            c.metric(denominator.metric).qualified_name(),
        ],
        MetricKind::Derived { inputs, .. } => inputs
            .iter()
            .map(|i| c.metric(i.metric).qualified_name())
            .collect(),
        MetricKind::Cumulative { input, .. } => vec![c.metric(input.metric).qualified_name()],
        MetricKind::Conversion(conv) => vec![
            measure(conv.base_model, conv.base_measure),
            measure(conv.conversion_model, conv.conversion_measure),
        ],
    }
}

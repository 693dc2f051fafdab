//! What one caller sees over the Postgres endpoint: every model as a table
//! in schema `public`, its columns the dimensions its metrics can be grouped
//! by and the metrics themselves — only members the caller's roles show.
//!
//! Column names: a dimension of the table's own model keeps its name
//! (`status`); a dimension reached through a join is `model__dimension`
//! (`customers__country`); `metric_time` is `metric_time`; a metric keeps
//! its name (`revenue`). A dimension whose plain name equals a metric's is
//! listed as `model__dimension` only. `model__dimension` is accepted for the
//! table's own dimensions too.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::access::Caller;
use crate::catalog::{Aggregation, Catalog, DimensionKind, MetricKind, ModelId};
use crate::planner::ColumnRole;
use crate::warehouse::ColumnType;

#[derive(Debug, Clone)]
pub enum ColKind {
    /// `reference` is what a semantic query names: `model.dim` or
    /// `metric_time`.
    Dimension {
        reference: String,
        kind: Option<DimensionKind>,
    },
    Metric {
        name: String,
        /// The aggregation when the metric is a simple one: a BI tool's
        /// `SUM(metric)` is the metric itself only for additive ones.
        agg: Option<Aggregation>,
    },
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub kind: ColKind,
    pub ty: ColumnType,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub model: ModelId,
    pub description: Option<String>,
    pub columns: Vec<Column>,
    /// The attribution instance whose credited metrics this table holds
    /// (see `super::attribution`); `None` for a model's table.
    pub attribution: Option<String>,
}

impl Table {
    /// A column by name: listed names, and `model__dim` for own dimensions.
    pub fn column(&self, name: &str) -> Option<&Column> {
        let lower = name.to_ascii_lowercase();
        self.columns
            .iter()
            .find(|c| c.name == name)
            .or_else(|| self.columns.iter().find(|c| c.name == lower))
            .or_else(|| {
                let own = lower.strip_prefix(&format!("{}__", self.name))?;
                self.columns.iter().find(|c| {
                    matches!(&c.kind, ColKind::Dimension { reference, .. }
                        if *reference == format!("{}.{own}", self.name))
                })
            })
    }
}

/// The tables one caller sees.
#[derive(Debug)]
pub struct Exposed {
    pub tables: Vec<Table>,
    /// Distinguishes visibility: callers with equal fingerprints see the
    /// same tables (the catalog database is shared between them).
    pub fingerprint: String,
    /// Why nothing is visible, when access itself is denied.
    pub denied: Option<crate::planner::PlanError>,
}

impl Exposed {
    pub fn table(&self, name: &str) -> Option<&Table> {
        let lower = name.to_ascii_lowercase();
        self.tables
            .iter()
            .find(|t| t.name == name || t.name == lower)
    }
}

/// The type a result column has when only the plan is known (describe
/// before execution). Non-integer numbers are `numeric` so no digit is lost.
pub fn predicted_type(role: &ColumnRole) -> ColumnType {
    match role {
        ColumnRole::Dimension { kind, .. } => dimension_type(Some(*kind)),
        ColumnRole::Metric { integer: true, .. } => ColumnType::Integer,
        ColumnRole::Metric { .. } => ColumnType::Decimal,
    }
}

fn dimension_type(kind: Option<DimensionKind>) -> ColumnType {
    match kind {
        Some(DimensionKind::Time { .. }) => ColumnType::Timestamp,
        Some(DimensionKind::Boolean) => ColumnType::Boolean,
        Some(DimensionKind::Number) => ColumnType::Decimal,
        Some(DimensionKind::Categorical) | None => ColumnType::Text,
    }
}

fn metric_type(catalog: &Catalog, kind: &MetricKind) -> (ColumnType, Option<Aggregation>) {
    match kind {
        MetricKind::Simple { model, measure } => {
            let agg = catalog.model(*model).measures[*measure].agg;
            let ty = match agg {
                Aggregation::Count | Aggregation::CountDistinct | Aggregation::SumBoolean => {
                    ColumnType::Integer
                }
                _ => ColumnType::Decimal,
            };
            (ty, Some(agg))
        }
        _ => (ColumnType::Decimal, None),
    }
}

/// The tables and columns a caller sees. Hidden members are simply absent:
/// naming one is `undefined_column` / `undefined_table`, as for a name that
/// does not exist, and `pg_class` / `information_schema` (built from this)
/// list only these.
pub fn build(catalog: &Catalog, caller: &Caller) -> Exposed {
    let view = match crate::CatalogView::new(catalog, caller) {
        Ok(v) => v,
        Err(e) => {
            return Exposed {
                tables: Vec::new(),
                fingerprint: format!("{}|denied", catalog.version),
                denied: Some(e),
            };
        }
    };
    let access = &view.access;
    let metrics = view.default_metrics();
    let dim_visible = |reference: &str| view.reference_visible(reference);
    let mut groupable: HashMap<u32, Vec<String>> = HashMap::new();
    let mut tables = Vec::new();
    let mut models: Vec<_> = catalog.models.iter().collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    for model in models {
        let own: Vec<_> = metrics
            .iter()
            .filter(|m| catalog.metric_models(m.id).contains(&model.id))
            .collect();
        let metric_names: BTreeSet<&str> = own.iter().map(|m| m.name.as_str()).collect();
        let mut refs: Vec<String> = Vec::new();
        for m in &own {
            let dims = groupable
                .entry(m.id.0)
                .or_insert_with(|| catalog.groupable_dimensions(m.id));
            for d in dims.iter() {
                if !refs.contains(d) {
                    refs.push(d.clone());
                }
            }
        }
        if own.is_empty() {
            for d in &model.dimensions {
                refs.push(format!("{}.{}", model.name, d.name));
            }
        }
        // Own dimensions first, then metric_time, then joined ones.
        refs.sort_by_key(|r| {
            if r.starts_with(&format!("{}.", model.name)) {
                0
            } else if r == "metric_time" {
                1
            } else {
                2
            }
        });
        let mut columns = Vec::new();
        for r in refs.iter().filter(|r| dim_visible(r)) {
            let (name, kind, description) = if r == "metric_time" {
                (
                    "metric_time".to_string(),
                    Some(DimensionKind::Time {
                        granularity: crate::catalog::Grain::Day,
                    }),
                    Some(
                        "The time each metric is measured at (its model's time dimension).".into(),
                    ),
                )
            } else {
                let (mname, dname) = r.split_once('.').unwrap_or(("", r));
                let dim = catalog
                    .model_by_name(mname)
                    .and_then(|m| m.dimension(dname))
                    .map(|(_, d)| d);
                let name = if mname == model.name && !metric_names.contains(dname) {
                    dname.to_string()
                } else {
                    format!("{mname}__{dname}")
                };
                (
                    name,
                    dim.map(|d| d.kind),
                    dim.and_then(|d| d.description.clone().or_else(|| d.label.clone())),
                )
            };
            columns.push(Column {
                name,
                ty: dimension_type(kind),
                kind: ColKind::Dimension {
                    reference: r.clone(),
                    kind,
                },
                description,
            });
        }
        for m in &own {
            let (ty, agg) = metric_type(catalog, &m.kind);
            columns.push(Column {
                name: m.name.clone(),
                ty,
                kind: ColKind::Metric {
                    name: m.name.clone(),
                    agg,
                },
                description: m.description.clone().or_else(|| m.label.clone()),
            });
        }
        // A model is a table only for a caller who may use one of its own
        // members (a metric over it, or one of its dimensions); a table of
        // nothing but other models' dimensions would only reveal the model.
        let own_dim = |c: &Column| {
            matches!(&c.kind, ColKind::Dimension { reference, .. }
                if reference.split_once('.').is_some_and(|(m, _)| m == model.name))
        };
        if own.is_empty() && !columns.iter().any(own_dim) {
            continue;
        }
        tables.push(Table {
            name: model.name.clone(),
            model: model.id,
            description: model.description.clone(),
            columns,
            attribution: None,
        });
    }
    tables.extend(super::attribution::tables(catalog, access));
    let mut fp = String::new();
    for t in &tables {
        fp.push_str(&t.name);
        fp.push('(');
        for c in &t.columns {
            fp.push_str(&c.name);
            fp.push(',');
        }
        fp.push(')');
    }
    Exposed {
        tables,
        fingerprint: format!("{}|{}", catalog.version, crate::execute::sql_hash(&fp)),
        denied: None,
    }
}

/// Exposed schemas by catalog version and caller, so a connection's
/// introspection does not recompute reachability every query.
#[derive(Default)]
pub struct SchemaCache {
    entries: Mutex<HashMap<String, Arc<Exposed>>>,
}

impl SchemaCache {
    pub fn get(&self, catalog: &Catalog, caller: &Caller) -> Arc<Exposed> {
        let key = format!("{}|{}", catalog.version, caller.security_context());
        if let Some(e) = self.entries.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return e;
        }
        let built = Arc::new(build(catalog, caller));
        if let Ok(mut m) = self.entries.lock() {
            if m.len() > 512 {
                m.clear();
            }
            m.insert(key, built.clone());
        }
        built
    }
}

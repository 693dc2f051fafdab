//! Lineage: metric → input metrics → measures → model columns → warehouse
//! tables, with each metric's documentation data (owner, description,
//! status and lifecycle, every version with its differences from the one
//! before, and the metrics that depend on it). Served as JSON by
//! `GET /v1/catalog/lineage/{metric}` and drawn by `accord lineage` as a
//! text tree, Graphviz DOT or Mermaid.

use std::collections::BTreeSet;

use serde::Serialize;

use super::diff::{Detail, expr_text, filter_dimensions, metric_dependents, metric_details};
use super::warehouse_check::columns_of;
use crate::access::Access;
use crate::catalog::{Catalog, Metric, MetricId, MetricKind, Model, Source};

#[derive(Debug, Clone, Serialize)]
pub struct InputNode {
    pub metric: String,
    /// `numerator`, `denominator` or `input`.
    pub role: &'static str,
    pub alias: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    /// For a simple metric, its `model.measure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measure: Option<String>,
    pub inputs: Vec<InputNode>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MeasureNode {
    /// `model.measure`
    pub measure: String,
    pub model: String,
    pub agg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_dimension: Option<String>,
    /// The metrics of this lineage that aggregate it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DimensionNode {
    /// `model.dimension`, read by a metric filter.
    pub dimension: String,
    pub model: String,
    pub expr: String,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelNode {
    pub name: String,
    /// `table` or `sql`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Warehouse tables the model reads.
    pub tables: Vec<String>,
    /// Model columns this lineage uses.
    pub columns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionDoc {
    pub version: u32,
    pub status: &'static str,
    pub default: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sunset_on: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// How this version differs from the one before it (empty for the
    /// first).
    pub changes: Vec<Detail>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dependent {
    pub metric: String,
    /// Reads this metric itself rather than through another metric.
    pub direct: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: String,
    /// `metric`, `measure`, `dimension`, `column`, `model` or `table`.
    pub kind: &'static str,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Lineage {
    pub metric: String,
    pub name: String,
    pub version: u32,
    pub default: bool,
    pub status: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub label: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub format: Option<String>,
    pub unit: Option<String>,
    pub filter: Option<String>,
    pub deprecated_on: Option<String>,
    pub sunset_on: Option<String>,
    pub replaced_by: Option<String>,
    pub inputs: Vec<InputNode>,
    pub measures: Vec<MeasureNode>,
    pub filter_dimensions: Vec<DimensionNode>,
    pub models: Vec<ModelNode>,
    pub tables: Vec<String>,
    pub versions: Vec<VersionDoc>,
    pub dependents: Vec<Dependent>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

pub use crate::lineage::find_metric;

/// Warehouse tables a SQL source reads (common table expressions aside).
pub fn sql_tables(sql: &str) -> Vec<String> {
    let dialect = sqlparser::dialect::GenericDialect {};
    let Ok(stmts) = crate::sql::guard::parse_statements(&dialect, sql, "the SQL") else {
        return Vec::new();
    };
    let mut ctes: BTreeSet<String> = BTreeSet::new();
    let mut tables: Vec<String> = Vec::new();
    for s in &stmts {
        let _ = sqlparser::ast::visit_statements(s, |st| {
            if let sqlparser::ast::Statement::Query(q) = st
                && let Some(with) = &q.with
            {
                for cte in &with.cte_tables {
                    ctes.insert(cte.alias.name.value.to_ascii_lowercase());
                }
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
        let _ = sqlparser::ast::visit_relations(s, |r| {
            let name = r.to_string();
            if !ctes.contains(&name.to_ascii_lowercase()) && !tables.contains(&name) {
                tables.push(name);
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
    tables
}

fn model_tables(m: &Model) -> Vec<String> {
    match &m.source {
        Source::Table(t) => vec![t.join(".")],
        Source::Sql(q) => sql_tables(q),
    }
}

struct Builder<'a> {
    c: &'a Catalog,
    access: Option<&'a Access<'a>>,
    measures: Vec<MeasureNode>,
    dims: Vec<DimensionNode>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Builder<'_> {
    fn node(&mut self, id: String, kind: &'static str, label: String) -> String {
        if !self.nodes.iter().any(|n| n.id == id) {
            self.nodes.push(Node {
                id: id.clone(),
                kind,
                label,
            });
        }
        id
    }

    fn edge(&mut self, from: &str, to: &str) {
        if !self.edges.iter().any(|e| e.from == from && e.to == to) {
            self.edges.push(Edge {
                from: from.to_string(),
                to: to.to_string(),
            });
        }
    }

    fn metric_node(&mut self, m: &Metric) -> String {
        let q = m.qualified_name();
        self.node(
            format!("metric:{q}"),
            "metric",
            format!("{q} ({}, {})", m.kind.name(), m.status.name()),
        )
    }

    fn column(&mut self, model: &Model, col: &str, from: &str) {
        let model_id = self.model_node(model);
        let id = self.node(
            format!("column:{}.{col}", model.name),
            "column",
            format!("{}.{col}", model.name),
        );
        self.edge(from, &id);
        self.edge(&id, &model_id);
    }

    fn model_node(&mut self, model: &Model) -> String {
        let kind = match model.source {
            Source::Table(_) => "table",
            Source::Sql(_) => "sql",
        };
        let id = self.node(
            format!("model:{}", model.name),
            "model",
            format!("{} ({kind} source)", model.name),
        );
        for t in model_tables(model) {
            let tid = self.node(format!("table:{t}"), "table", t.clone());
            self.edge(&id, &tid);
        }
        id
    }

    /// Walks a metric: its leaves (measures), its filter dimensions, and its
    /// inputs recursively.
    fn walk(&mut self, m: &Metric, depth: usize) -> Vec<InputNode> {
        let me = self.metric_node(m);
        let c = self.c;
        for (model_name, dim) in filter_dimensions(c, m) {
            let Some(model) = c.model_by_name(&model_name) else {
                continue;
            };
            let Some((_, d)) = model.dimension(&dim) else {
                continue;
            };
            if self
                .access
                .is_some_and(|a| !a.dimension_visible(model.id, &dim))
            {
                continue;
            }
            let key = format!("{model_name}.{dim}");
            let id = self.node(
                format!("dimension:{key}"),
                "dimension",
                format!("{key} (filter)"),
            );
            self.edge(&me, &id);
            let cols = columns_of(&d.expr);
            for col in &cols {
                self.column(model, col, &id);
            }
            if !self.dims.iter().any(|x| x.dimension == key) {
                self.dims.push(DimensionNode {
                    dimension: key,
                    model: model_name.clone(),
                    expr: expr_text(&d.expr),
                    columns: cols,
                });
            }
        }
        let mut out = Vec::new();
        if depth > 32 {
            return out;
        }
        match &m.kind {
            MetricKind::Simple { model, measure } => {
                let md = c.model(*model);
                let x = &md.measures[*measure];
                let key = format!("{}.{}", md.name, x.name);
                let id = self.node(
                    format!("measure:{key}"),
                    "measure",
                    format!("{key} ({})", x.agg.name()),
                );
                self.edge(&me, &id);
                let cols = x.expr.as_ref().map(columns_of).unwrap_or_default();
                for col in &cols {
                    self.column(md, col, &id);
                }
                if cols.is_empty() {
                    // count(*): the rows of the model itself.
                    let mid = self.model_node(md);
                    self.edge(&id, &mid);
                }
                let q = m.qualified_name();
                match self.measures.iter_mut().find(|n| n.measure == key) {
                    Some(n) => {
                        if !n.used_by.contains(&q) {
                            n.used_by.push(q);
                        }
                    }
                    None => self.measures.push(MeasureNode {
                        measure: key,
                        model: md.name.clone(),
                        agg: x.agg.name().to_string(),
                        expr: x.expr.as_ref().map(expr_text),
                        columns: cols,
                        time_dimension: x.time_dimension.map(|i| md.dimensions[i].name.clone()),
                        used_by: vec![q],
                    }),
                }
            }
            MetricKind::Ratio {
                numerator,
                denominator,
            } => {
                for (role, i) in [("numerator", numerator), ("denominator", denominator)] {
                    out.push(self.input(&me, role, i, depth));
                }
            }
            MetricKind::Derived { inputs, .. } => {
                for i in inputs {
                    out.push(self.input(&me, "input", i, depth));
                }
            }
            MetricKind::Cumulative { input, .. } => {
                out.push(self.input(&me, "input", input, depth));
            }
            MetricKind::Conversion(conv) => {
                // Both sides read whole models' rows (events), not one column.
                for model in [conv.base_model, conv.conversion_model] {
                    let c = self.c;
                    let mid = self.model_node(c.model(model));
                    self.edge(&me, &mid);
                }
            }
        }
        out
    }

    fn input(
        &mut self,
        parent: &str,
        role: &'static str,
        i: &crate::catalog::MetricInput,
        depth: usize,
    ) -> InputNode {
        let m = self.c.metric(i.metric);
        let id = self.metric_node(m);
        self.edge(parent, &id);
        let inputs = self.walk(m, depth + 1);
        let measure = match &m.kind {
            MetricKind::Simple { model, measure } => {
                let md = self.c.model(*model);
                Some(format!("{}.{}", md.name, md.measures[*measure].name))
            }
            _ => None,
        };
        InputNode {
            metric: m.qualified_name(),
            role,
            alias: i.alias.clone(),
            filter: i.filter.as_ref().map(expr_text),
            kind: m.kind.name(),
            status: m.status.name(),
            measure,
            inputs,
        }
    }
}

fn date(d: Option<chrono::NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// The lineage and documentation of one metric version. With `access`,
/// what the caller may not see is left out (dependents they cannot use,
/// filter dimensions hidden from them).
pub fn lineage(c: &Catalog, id: MetricId, access: Option<&Access>) -> Lineage {
    let m = c.metric(id);
    let visible = |id: MetricId| access.is_none_or(|a| a.metric_visible(id));
    // Source SQL and past filters may name members the caller cannot see:
    // role-restricted callers get neither (the current filter only when
    // every member it reads is visible, `Access::metric_filter`).
    let restricted = access.filter(|a| a.is_restricted());
    let mut b = Builder {
        c,
        access,
        measures: Vec::new(),
        dims: Vec::new(),
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let inputs = b.walk(m, 0);
    // Models in the order lineage reaches them, with the columns used.
    let mut models: Vec<ModelNode> = Vec::new();
    let mut uses: Vec<(String, Vec<String>)> = b
        .measures
        .iter()
        .map(|x| (x.model.clone(), x.columns.clone()))
        .collect();
    uses.extend(b.dims.iter().map(|d| (d.model.clone(), d.columns.clone())));
    for (model, cols) in uses {
        let Some(md) = c.model_by_name(&model) else {
            continue;
        };
        let node = match models.iter_mut().position(|x| x.name == model) {
            Some(i) => &mut models[i],
            None => {
                models.push(ModelNode {
                    name: model.clone(),
                    source: match md.source {
                        Source::Table(_) => "table",
                        Source::Sql(_) => "sql",
                    },
                    // A source query may read anything: operators' reading.
                    sql: match &md.source {
                        Source::Sql(q) if restricted.is_none() => Some(q.clone()),
                        _ => None,
                    },
                    tables: model_tables(md),
                    columns: Vec::new(),
                    owner: md.owner.clone(),
                });
                models.last_mut().expect("just pushed")
            }
        };
        for col in cols {
            if !node.columns.contains(&col) {
                node.columns.push(col);
            }
        }
    }
    let mut tables: Vec<String> = Vec::new();
    for t in models.iter().flat_map(|m| m.tables.iter()) {
        if !tables.contains(t) {
            tables.push(t.clone());
        }
    }
    let default = c.default_metric(&m.name).map(|d| d.id);
    let mut versions = Vec::new();
    let mut prev: Option<&Metric> = None;
    for vid in c
        .metric_versions(&m.name)
        .iter()
        .copied()
        .filter(|v| visible(*v))
    {
        let v = c.metric(vid);
        versions.push(VersionDoc {
            version: v.version,
            status: v.status.name(),
            default: default == Some(vid),
            deprecated_on: date(v.deprecated_on),
            sunset_on: date(v.sunset_on),
            replaced_by: v.replaced_by.as_ref().map(|r| r.reference.clone()),
            changes: prev
                .map(|p| {
                    metric_details(c, p, c, v)
                        .into_iter()
                        .filter(|d| {
                            !matches!(
                                d.field.as_str(),
                                "status" | "deprecated_on" | "sunset_on" | "replaced_by"
                            ) && (restricted.is_none() || d.field != "filter")
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        prev = Some(v);
    }
    let direct: BTreeSet<MetricId> = c
        .metrics
        .iter()
        .filter(|x| super::lifecycle::inputs(x).contains(&id))
        .map(|x| x.id)
        .collect();
    let dependents = metric_dependents(c, &[id])
        .into_iter()
        .filter(|d| visible(*d))
        .map(|d| Dependent {
            metric: c.metric(d).qualified_name(),
            direct: direct.contains(&d),
        })
        .collect();
    Lineage {
        metric: m.qualified_name(),
        name: m.name.clone(),
        version: m.version,
        default: default == Some(id),
        status: m.status.name(),
        kind: m.kind.name(),
        label: m.label.clone(),
        owner: m.owner.clone(),
        description: m.description.clone(),
        format: m.format.clone(),
        unit: m.unit.clone(),
        filter: match access {
            Some(a) => a.metric_filter(m).cloned(),
            None => m.filter_text.clone(),
        },
        deprecated_on: date(m.deprecated_on),
        sunset_on: date(m.sunset_on),
        replaced_by: m.replaced_by.as_ref().map(|r| r.reference.clone()),
        inputs,
        measures: b.measures,
        filter_dimensions: b.dims,
        models,
        tables,
        versions,
        dependents,
        nodes: b.nodes,
        edges: b.edges,
    }
}

impl Lineage {
    /// An indented tree: inputs, then measures with their columns, models
    /// and tables, then documentation.
    pub fn text(&self) -> String {
        let mut s = format!("{} ({}, {})", self.metric, self.kind, self.status);
        if let Some(l) = &self.label {
            s.push_str(&format!(" — {l}"));
        }
        s.push('\n');
        if let Some(f) = &self.filter {
            s.push_str(&format!("  filter: {f}\n"));
        }
        fn inputs(out: &mut String, list: &[InputNode], indent: usize) {
            for i in list {
                let pad = "  ".repeat(indent);
                out.push_str(&format!(
                    "{pad}{} {} ({}, {})",
                    i.role, i.metric, i.kind, i.status
                ));
                if let Some(m) = &i.measure {
                    out.push_str(&format!(" ← measure {m}"));
                }
                if let Some(f) = &i.filter {
                    out.push_str(&format!(" where {f}"));
                }
                out.push('\n');
                inputs(out, &i.inputs, indent + 1);
            }
        }
        inputs(&mut s, &self.inputs, 1);
        s.push_str("measures:\n");
        for m in &self.measures {
            s.push_str(&format!(
                "  {} = {}({}) ← columns {}\n",
                m.measure,
                m.agg,
                m.expr.clone().unwrap_or_else(|| "*".into()),
                if m.columns.is_empty() {
                    "(rows)".to_string()
                } else {
                    m.columns.join(", ")
                }
            ));
        }
        if !self.filter_dimensions.is_empty() {
            s.push_str("filter dimensions:\n");
            for d in &self.filter_dimensions {
                s.push_str(&format!(
                    "  {} = {} ← columns {}\n",
                    d.dimension,
                    d.expr,
                    d.columns.join(", ")
                ));
            }
        }
        s.push_str("models:\n");
        for m in &self.models {
            s.push_str(&format!(
                "  {} ({} source) → tables {} ; columns used: {}\n",
                m.name,
                m.source,
                m.tables.join(", "),
                m.columns.join(", ")
            ));
        }
        s.push_str(&format!("tables: {}\n", self.tables.join(", ")));
        s.push_str(&format!(
            "owner: {}\n",
            self.owner.as_deref().unwrap_or("(none)")
        ));
        if let Some(d) = &self.description {
            s.push_str(&format!("description: {d}\n"));
        }
        if let Some(r) = &self.replaced_by {
            s.push_str(&format!("replaced by: {r}\n"));
        }
        if let Some(d) = &self.sunset_on {
            s.push_str(&format!("sunset after: {d}\n"));
        }
        s.push_str("versions:\n");
        for v in &self.versions {
            let mut notes: Vec<String> = Vec::new();
            if v.default {
                notes.push("default".into());
            }
            if let Some(d) = &v.deprecated_on {
                notes.push(format!("deprecated on {d}"));
            }
            if let Some(d) = &v.sunset_on {
                notes.push(format!("sunset after {d}"));
            }
            if let Some(r) = &v.replaced_by {
                notes.push(format!("replaced by {r}"));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join(", "))
            };
            s.push_str(&format!(
                "  {}@{} {}{notes}\n",
                self.name, v.version, v.status
            ));
            for d in &v.changes {
                s.push_str(&format!("    {}\n", d.text()));
            }
        }
        let deps: Vec<String> = self
            .dependents
            .iter()
            .map(|d| {
                if d.direct {
                    d.metric.clone()
                } else {
                    format!("{} (indirect)", d.metric)
                }
            })
            .collect();
        s.push_str(&format!(
            "dependents: {}\n",
            if deps.is_empty() {
                "(none)".to_string()
            } else {
                deps.join(", ")
            }
        ));
        s
    }

    /// Graphviz DOT, left to right.
    pub fn dot(&self) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let shape = |k: &str| match k {
            "metric" => "box, style=\"rounded,bold\"",
            "measure" => "box",
            "dimension" => "box, style=dashed",
            "column" => "plaintext",
            "model" => "component",
            _ => "cylinder",
        };
        let mut s = format!(
            "digraph \"lineage {}\" {{\n  rankdir=LR;\n",
            esc(&self.metric)
        );
        for n in &self.nodes {
            s.push_str(&format!(
                "  \"{}\" [label=\"{}\", shape={}];\n",
                esc(&n.id),
                esc(&n.label),
                shape(n.kind)
            ));
        }
        for e in &self.edges {
            s.push_str(&format!("  \"{}\" -> \"{}\";\n", esc(&e.from), esc(&e.to)));
        }
        s.push_str("}\n");
        s
    }

    /// A Mermaid flowchart, left to right.
    pub fn mermaid(&self) -> String {
        let id = |node: &str| {
            self.nodes
                .iter()
                .position(|n| n.id == node)
                .map(|i| format!("n{i}"))
                .unwrap_or_else(|| "missing".into())
        };
        let esc = |s: &str| s.replace('"', "#quot;");
        let mut s = String::from("flowchart LR\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let label = esc(&n.label);
            let shape = match n.kind {
                "metric" => format!("([\"{label}\"])"),
                "table" => format!("[(\"{label}\")]"),
                "model" => format!("[[\"{label}\"]]"),
                _ => format!("[\"{label}\"]"),
            };
            s.push_str(&format!("  n{i}{shape}\n"));
        }
        for e in &self.edges {
            s.push_str(&format!("  {} --> {}\n", id(&e.from), id(&e.to)));
        }
        s
    }
}

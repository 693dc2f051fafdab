//! What a metric reads, as far as the catalog alone can tell: finding a
//! metric by reference and the dimensions its filters read. The full
//! lineage graph (tables, columns, dependents) is accord-engine's
//! `governance::lineage`.

use crate::catalog::{Catalog, Metric, MetricKind};
use crate::query::parse_metric_ref;
use crate::sql::ast::Expr;

/// `revenue` (its default version, else its newest) or `revenue@2`.
pub fn find_metric<'c>(c: &'c Catalog, reference: &str) -> Option<&'c Metric> {
    let (name, version) = parse_metric_ref(reference).ok()?;
    match version {
        Some(v) => c.metric_version(&name, v),
        None => c
            .default_metric(&name)
            .or_else(|| c.metric_versions(&name).last().map(|id| c.metric(*id))),
    }
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

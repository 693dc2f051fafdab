//! The metrics section: one item per `name@version`. A new version of a
//! known metric is a version bump, compared with BASE's default version; a
//! metric gone under one name and computing the same under a new one is a
//! rename.

use super::change::{Change, ChangeKind, Class, Detail, Impact, ItemKind};
use super::engine::{Section, Sides};
use super::impact::{metric_dependents, metric_impact, names};
use super::text::{expr_text, opt_expr};
use crate::catalog::{Catalog, Metric, MetricKind, MetricStatus};
use crate::sql::ast::Expr;

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

pub struct Metrics;

impl Section for Metrics {
    type Item<'c> = &'c Metric;
    const KIND: ItemKind = ItemKind::Metric;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Metric)> {
        this.metrics_sorted()
            .into_iter()
            .map(|m| (m.qualified_name(), m))
            .collect()
    }

    fn compare(&self, s: Sides, b: &&Metric, h: &&Metric) -> Vec<Detail> {
        metric_details(s.base, b, s.head, h)
    }

    fn impact(&self, c: &Catalog, m: &&Metric) -> Impact {
        metric_impact(c, m)
    }

    /// Only a name gone from HEAD altogether pairs with a name new in
    /// HEAD; versions of a name both sides have are never renames.
    fn fingerprint(&self, this: &Catalog, other: &Catalog, m: &&Metric) -> Option<String> {
        if other.metric_names().any(|n| n == m.name) {
            return None;
        }
        Some(format!("{:?}", signature(this, m)))
    }

    fn modified(
        &self,
        s: Sides,
        key: &str,
        b: &&Metric,
        h: &&Metric,
        details: Vec<Detail>,
    ) -> Change {
        let breaking = details.iter().any(|d| d.breaking);
        let deprecated =
            b.status != MetricStatus::Deprecated && h.status == MetricStatus::Deprecated;
        let kind = if deprecated && !breaking {
            ChangeKind::Deprecated
        } else {
            ChangeKind::Modified
        };
        Change::new(
            kind,
            ItemKind::Metric,
            key,
            details,
            Class::NonBreaking,
            metric_impact(s.head, h),
        )
    }

    fn renamed(&self, s: Sides, (from, b): (&str, &&Metric), (to, h): (&str, &&Metric)) -> Change {
        Change::new(
            ChangeKind::Renamed,
            ItemKind::Metric,
            to,
            metric_details(s.base, b, s.head, h),
            Class::Breaking,
            metric_impact(s.base, b),
        )
        .with_from(from)
    }

    fn added(&self, s: Sides, key: &str, a: &&Metric) -> Change {
        let (base, head) = (s.base, s.head);
        if base.metric_versions(&a.name).is_empty() {
            let status = (a.status != MetricStatus::Active)
                .then(|| Detail::new("status", None, Some(a.status.name().into()), false));
            return Change::new(
                ChangeKind::Added,
                ItemKind::Metric,
                key,
                status.into_iter().collect(),
                Class::NonBreaking,
                Impact::default(),
            );
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
            d.set_class(Class::NonBreaking);
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
        let change = Change::new(
            ChangeKind::VersionBumped,
            ItemKind::Metric,
            key,
            details,
            Class::NonBreaking,
            impact,
        );
        match prev {
            Some(p) => change.with_from(p.qualified_name()),
            None => change,
        }
    }
}

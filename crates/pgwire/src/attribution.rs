//! Attribution instances as tables of the Postgres endpoint: table
//! `linear_30d` has the instance's touch dimensions (`channel`, `campaign`,
//! ...), the touch time, `metric_time` (the conversion's time) and one
//! column per simple sum/count metric of the conversion model, credited by
//! the instance. `SELECT channel, revenue FROM linear_30d GROUP BY channel`
//! is the semantic query `{"metrics": ["revenue"], "attribution":
//! "linear_30d", "dimensions": ["marketing_touches.channel"]}`.

use crate::access::Access;
use crate::catalog::{Aggregation, Catalog, DimensionKind, MetricKind};
use crate::warehouse::ColumnType;

use super::schema::{ColKind, Column, Table};

/// The attribution tables one caller sees. An instance named like a model
/// is not exposed (the model's table keeps the name), nor one whose touches
/// or metrics the caller may not see.
pub fn tables(catalog: &Catalog, access: &Access) -> Vec<Table> {
    let mut out = Vec::new();
    for a in &catalog.attributions {
        if catalog.model_by_name(&a.name).is_some() {
            continue;
        }
        if !accord_service::attribution::visible(catalog, access, a) {
            continue;
        }
        let tm = catalog.model(a.touches.model);
        let visible = |i: usize| access.dimension_visible(tm.id, &tm.dimensions[i].name);
        let MetricKind::Simple {
            model: conv_model, ..
        } = catalog.metric(a.conversion).kind
        else {
            continue;
        };
        let mut columns = Vec::new();
        for &i in a.touches.dimensions.iter().filter(|i| visible(**i)) {
            let d = &tm.dimensions[i];
            columns.push(Column {
                name: d.name.clone(),
                kind: ColKind::Dimension {
                    reference: format!("{}.{}", tm.name, d.name),
                    kind: Some(DimensionKind::Categorical),
                },
                ty: ColumnType::Text,
                description: d.description.clone().or_else(|| d.label.clone()),
            });
        }
        let time = &tm.dimensions[a.touches.time];
        columns.push(Column {
            name: time.name.clone(),
            kind: ColKind::Dimension {
                reference: format!("{}.{}", tm.name, time.name),
                kind: Some(time.kind),
            },
            ty: ColumnType::Timestamp,
            description: Some("When the credited touch happened.".into()),
        });
        if access.metric_time_visible() {
            columns.push(Column {
                name: "metric_time".into(),
                kind: ColKind::Dimension {
                    reference: "metric_time".into(),
                    kind: Some(DimensionKind::Time {
                        granularity: crate::catalog::Grain::Day,
                    }),
                },
                ty: ColumnType::Timestamp,
                description: Some("When the conversion happened.".into()),
            });
        }
        let mut metrics = 0;
        for m in catalog
            .metric_names()
            .filter_map(|n| catalog.default_metric(n))
            .filter(|m| access.metric_visible(m.id))
        {
            let MetricKind::Simple { model, measure } = m.kind else {
                continue;
            };
            let ms = &catalog.model(model).measures[measure];
            if model != conv_model
                || ms.time_dimension.is_none()
                || !matches!(
                    ms.agg,
                    Aggregation::Sum | Aggregation::Count | Aggregation::SumBoolean
                )
                || columns.iter().any(|c| c.name == m.name)
            {
                continue;
            }
            metrics += 1;
            columns.push(Column {
                name: m.name.clone(),
                kind: ColKind::Metric {
                    name: m.name.clone(),
                    // Credits add up: SUM(col) is the column itself.
                    agg: Some(Aggregation::Sum),
                },
                ty: ColumnType::Decimal,
                description: Some(format!(
                    "{}, credited by attribution `{}`.",
                    m.label.clone().unwrap_or_else(|| m.name.clone()),
                    a.name
                )),
            });
        }
        if metrics == 0 {
            continue;
        }
        out.push(Table {
            name: a.name.clone(),
            model: conv_model,
            description: Some(a.description.clone().unwrap_or_else(|| {
                format!(
                    "Conversions credited by the {} attribution model.",
                    a.model.name()
                )
            })),
            columns,
            attribution: Some(a.name.clone()),
        });
    }
    out
}

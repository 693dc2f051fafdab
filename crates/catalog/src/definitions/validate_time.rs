//! Definitions for time intelligence: cumulative and conversion metrics,
//! period offsets of derived inputs, `fill_nulls_with`. Shapes are checked
//! while each metric is read; rules that need the whole catalog (what a
//! cumulative metric may add up, where offsets may appear) afterwards.

use serde_saphyr::Location;

use super::raw::*;
use super::validate::{Ctx, is_identifier};
use crate::catalog::time::{
    ConstantProperty, Conversion, ConversionCalc, CumulativeWindow, TimeOffset, TimeSpan,
};
use crate::catalog::*;
use crate::diagnostics::{Diagnostic, Diagnostics};

fn field(raw: &RawMetric, name: &str) -> String {
    format!("metrics.{}.{name}", raw.name.value)
}

fn span(cx: &mut Ctx, loc: &Location, field: String, text: &str) -> Option<TimeSpan> {
    match TimeSpan::parse(text) {
        Ok(s) => Some(s),
        Err(msg) => {
            let unit = text.split_whitespace().nth(1).unwrap_or(text);
            let options = TimeSpan::unit_names();
            let options: Vec<&str> = options.iter().map(String::as_str).collect();
            cx.suggest(loc, field, msg, unit, &options);
            None
        }
    }
}

fn grain(cx: &mut Ctx, loc: &Location, field: String, text: &str) -> Option<Grain> {
    let g = Grain::parse(text.trim());
    if g.is_none() {
        cx.suggest(
            loc,
            field,
            format!("unknown grain `{text}`"),
            text,
            &Grain::names(),
        );
    }
    g
}

/// `offset_window` / `offset_to_grain` of a metric input; `Err` when one
/// is malformed (already reported).
pub(super) fn input_offset(
    cx: &mut Ctx,
    input: &S<RawMetricInput>,
    field: &str,
) -> Result<Option<TimeOffset>, ()> {
    let RawMetricInput::Full(full) = &input.value else {
        return Ok(None);
    };
    let loc = &input.referenced;
    match (&full.offset_window, &full.offset_to_grain) {
        (None, None) => Ok(None),
        (Some(_), Some(_)) => {
            cx.error(
                loc,
                format!("{field}.offset_window"),
                "an input takes `offset_window` or `offset_to_grain`, not both",
            );
            Err(())
        }
        (Some(w), None) => span(cx, loc, format!("{field}.offset_window"), w)
            .map(|s| Some(TimeOffset::Window(s)))
            .ok_or(()),
        (None, Some(g)) => grain(cx, loc, format!("{field}.offset_to_grain"), g)
            .map(|g| Some(TimeOffset::ToGrain(g)))
            .ok_or(()),
    }
}

/// `type: cumulative`: `metric` plus `window`, `grain_to_date`, or neither
/// (a running total).
/// `input` is the resolved `metric` field (`None` when it is missing; an
/// inner `None` when it did not resolve, already reported).
pub(super) fn cumulative(
    cx: &mut Ctx,
    raw: &RawMetric,
    input: Option<Option<MetricInput>>,
) -> Option<MetricKind> {
    let Some(input) = input else {
        cx.error(
            &raw.kind.referenced,
            field(raw, "metric"),
            "a cumulative metric needs `metric: <an additive metric>`",
        );
        return None;
    };
    let window = match (&raw.window, &raw.grain_to_date) {
        (Some(w), Some(_)) => {
            cx.error(
                &w.referenced,
                field(raw, "window"),
                "a cumulative metric takes `window` or `grain_to_date`, not both",
            );
            None
        }
        (Some(w), None) => {
            span(cx, &w.referenced, field(raw, "window"), &w.value).map(CumulativeWindow::Trailing)
        }
        (None, Some(g)) => grain(cx, &g.referenced, field(raw, "grain_to_date"), &g.value)
            .map(CumulativeWindow::GrainToDate),
        (None, None) => Some(CumulativeWindow::RunningTotal),
    };
    Some(MetricKind::Cumulative {
        input: input?,
        window: window?,
    })
}

/// `type: conversion`.
pub(super) fn conversion(cx: &mut Ctx, raw: &RawMetric, models: &[Model]) -> Option<MetricKind> {
    let kind_loc = raw.kind.referenced;
    let need = |cx: &mut Ctx, v: &Option<S<String>>, name: &str, what: &str| {
        if v.is_none() {
            cx.error(
                &kind_loc,
                field(raw, name),
                format!("a conversion metric needs `{name}`: {what}"),
            );
        }
    };
    need(
        cx,
        &raw.base_measure,
        "base_measure",
        "the measure counting base events (model.measure)",
    );
    need(
        cx,
        &raw.conversion_measure,
        "conversion_measure",
        "a measure of the conversion events' model (model.measure)",
    );
    need(
        cx,
        &raw.entity,
        "entity",
        "the entity both events belong to",
    );
    need(
        cx,
        &raw.window,
        "window",
        "how long after the base event, e.g. `7 days`",
    );
    let (Some(bm), Some(cm), Some(entity), Some(window)) = (
        &raw.base_measure,
        &raw.conversion_measure,
        &raw.entity,
        &raw.window,
    ) else {
        return None;
    };
    let base = measure(cx, models, bm, field(raw, "base_measure"));
    let conv = measure(cx, models, cm, field(raw, "conversion_measure"));
    let window = span(cx, &window.referenced, field(raw, "window"), &window.value);
    // Months and years have no fixed length; a window is an exact duration.
    let window = window.filter(|w| {
        let fixed = matches!(w.unit, Grain::Hour | Grain::Day | Grain::Week);
        if !fixed {
            let days = match w.unit {
                Grain::Month => 30 * w.amount,
                Grain::Quarter => 91 * w.amount,
                _ => 365 * w.amount,
            };
            cx.error(
                &raw.window.as_ref().map(|w| w.referenced).unwrap_or(kind_loc),
                field(raw, "window"),
                format!(
                    "a conversion window is an exact duration in hours, days or weeks; `{w}` has no fixed length (write e.g. `{days} days`)"
                ),
            );
        }
        fixed
    });
    let calculation = match raw.calculation.as_ref() {
        None => Some(ConversionCalc::Rate),
        Some(c) => match c.value.as_str() {
            "count" => Some(ConversionCalc::Count),
            "rate" => Some(ConversionCalc::Rate),
            other => {
                cx.suggest(
                    &c.referenced,
                    field(raw, "calculation"),
                    format!("unknown calculation `{other}`"),
                    other,
                    &ConversionCalc::NAMES,
                );
                None
            }
        },
    };
    let (Some((bmodel, bmeasure)), Some((cmodel, cmeasure))) = (base, conv) else {
        return None;
    };
    let (b, c) = (&models[bmodel.0 as usize], &models[cmodel.0 as usize]);
    let mut ok = true;
    let bx = &b.measures[bmeasure];
    if !matches!(bx.agg, Aggregation::Count | Aggregation::CountDistinct) {
        cx.error(
            &bm.referenced,
            field(raw, "base_measure"),
            format!(
                "`{}.{}` is a {}; the base of a conversion counts events (count or count_distinct)",
                b.name,
                bx.name,
                bx.agg.name()
            ),
        );
        ok = false;
    }
    let time_of = |cx: &mut Ctx, md: &Model, ms: usize, loc: &Location, name: &str| {
        let t = md.measures[ms].time_dimension;
        if t.is_none() {
            cx.error(
                loc,
                field(raw, name),
                format!(
                    "`{}.{}` has no time dimension; set `agg_time_dimension`",
                    md.name, md.measures[ms].name
                ),
            );
        }
        t
    };
    let bt = time_of(cx, b, bmeasure, &bm.referenced, "base_measure");
    let ct = time_of(cx, c, cmeasure, &cm.referenced, "conversion_measure");
    let key = |cx: &mut Ctx, md: &Model| -> Option<crate::sql::ast::Expr> {
        match md.entity(&entity.value) {
            Some(e) if e.keys.len() == 1 => Some(e.keys[0].clone()),
            Some(_) => {
                cx.error(
                    &entity.referenced,
                    field(raw, "entity"),
                    format!(
                        "entity `{}` of `{}` has a composite key; a conversion entity has one key column",
                        entity.value, md.name
                    ),
                );
                None
            }
            None => {
                let names: Vec<&str> = md.entities.iter().map(|e| e.name.as_str()).collect();
                cx.suggest(
                    &entity.referenced,
                    field(raw, "entity"),
                    format!("model `{}` has no entity `{}`", md.name, entity.value),
                    &entity.value,
                    &names,
                );
                None
            }
        }
    };
    let bk = key(cx, b);
    let ck = key(cx, c);
    let mut constant_properties = Vec::new();
    for (i, p) in raw.constant_properties.iter().enumerate() {
        let dim = |cx: &mut Ctx, md: &Model, name: &str, which: &str| match md.dimension(name) {
            Some((_, d)) => Some(d.expr.clone()),
            None => {
                let names: Vec<&str> = md.dimensions.iter().map(|d| d.name.as_str()).collect();
                cx.suggest(
                    &p.referenced,
                    field(raw, &format!("constant_properties[{i}].{which}")),
                    format!("model `{}` has no dimension `{name}`", md.name),
                    name,
                    &names,
                );
                None
            }
        };
        let be = dim(cx, b, &p.value.base_property, "base_property");
        let ce = dim(cx, c, &p.value.conversion_property, "conversion_property");
        match (be, ce) {
            (Some(base), Some(conversion)) => constant_properties.push(ConstantProperty {
                base,
                conversion,
                base_name: p.value.base_property.clone(),
                conversion_name: p.value.conversion_property.clone(),
            }),
            _ => ok = false,
        }
    }
    let (Some(base_time), Some(conversion_time), Some(base_key), Some(conversion_key)) =
        (bt, ct, bk, ck)
    else {
        return None;
    };
    if !ok {
        return None;
    }
    Some(MetricKind::Conversion(Box::new(Conversion {
        base_model: bmodel,
        base_measure: bmeasure,
        conversion_model: cmodel,
        conversion_measure: cmeasure,
        entity: entity.value.clone(),
        base_key,
        conversion_key,
        base_time,
        conversion_time,
        window: window?,
        calculation: calculation?,
        constant_properties,
    })))
}

fn measure(
    cx: &mut Ctx,
    models: &[Model],
    m: &S<String>,
    field: String,
) -> Option<(ModelId, usize)> {
    let found = m.value.split_once('.').and_then(|(model, measure)| {
        let md = models.iter().find(|md| md.name == model)?;
        md.measure(measure).map(|(i, _)| (md.id, i))
    });
    if found.is_none() {
        let all: Vec<String> = models
            .iter()
            .flat_map(|md| {
                md.measures
                    .iter()
                    .map(move |x| format!("{}.{}", md.name, x.name))
            })
            .collect();
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        cx.suggest(
            &m.referenced,
            field,
            format!("unknown measure `{}` (write model.measure)", m.value),
            &m.value,
            &all,
        );
    }
    found
}

/// Time-intelligence fields on a metric of another type are mistakes.
pub(super) fn misplaced_fields(cx: &mut Ctx, raw: &RawMetric) {
    let kind = raw.kind.value.as_str();
    let check = |cx: &mut Ctx, name: &str, loc: Option<Location>, kinds: &[&str]| {
        if let Some(loc) = loc
            && !kinds.contains(&kind)
        {
            cx.error(
                &loc,
                field(raw, name),
                format!(
                    "`{name}` does not apply to a {kind} metric (only to {})",
                    kinds.join(" and ")
                ),
            );
        }
    };
    check(
        cx,
        "metric",
        raw.metric.as_ref().map(|x| x.referenced),
        &["cumulative"],
    );
    check(
        cx,
        "window",
        raw.window.as_ref().map(|x| x.referenced),
        &["cumulative", "conversion"],
    );
    check(
        cx,
        "grain_to_date",
        raw.grain_to_date.as_ref().map(|x| x.referenced),
        &["cumulative"],
    );
    for (name, loc) in [
        (
            "base_measure",
            raw.base_measure.as_ref().map(|x| x.referenced),
        ),
        (
            "conversion_measure",
            raw.conversion_measure.as_ref().map(|x| x.referenced),
        ),
        ("entity", raw.entity.as_ref().map(|x| x.referenced)),
        (
            "calculation",
            raw.calculation.as_ref().map(|x| x.referenced),
        ),
        (
            "constant_properties",
            raw.constant_properties.first().map(|x| x.referenced),
        ),
    ] {
        check(cx, name, loc, &["conversion"]);
    }
    if let Some(f) = &raw.fill_nulls_with
        && !f.value.is_finite()
    {
        cx.error(
            &f.referenced,
            field(raw, "fill_nulls_with"),
            "fill_nulls_with must be a finite number (0 is the usual choice)",
        );
    }
    if kind == "conversion"
        && let Some(e) = &raw.entity
        && !is_identifier(&e.value)
    {
        cx.error(
            &e.referenced,
            field(raw, "entity"),
            "an entity name is a plain identifier",
        );
    }
}

/// The number literal periods without facts read as.
pub(super) fn fill_nulls_with(raw: &RawMetric) -> Option<String> {
    raw.fill_nulls_with
        .as_ref()
        .filter(|f| f.value.is_finite())
        .map(|f| f.value.to_string())
}

/// Rules across metrics: what a cumulative metric adds up, and where
/// period offsets may appear (see docs/definitions.md, Time intelligence).
pub(super) fn check_catalog(catalog: &Catalog, diags: &mut Diagnostics) {
    let err = |diags: &mut Diagnostics, m: &Metric, f: &str, msg: String| {
        diags.push(Diagnostic::new(
            Some(m.pos.clone()),
            format!("metrics.{}.{f}", m.name),
            msg,
        ));
    };
    for m in &catalog.metrics {
        match &m.kind {
            MetricKind::Cumulative { input, .. } => {
                let target = catalog.metric(input.metric);
                match &target.kind {
                    MetricKind::Simple { model, measure } => {
                        let x = &catalog.model(*model).measures[*measure];
                        if !x.agg.is_additive() {
                            err(
                                diags,
                                m,
                                "metric",
                                format!(
                                    "`{}` is a {} of `{}.{}`, which does not add up across periods; a cumulative metric needs sum, count or sum_boolean",
                                    target.name,
                                    x.agg.name(),
                                    catalog.model(*model).name,
                                    x.name
                                ),
                            );
                        } else if x.time_dimension.is_none() {
                            err(
                                diags,
                                m,
                                "metric",
                                format!(
                                    "`{}.{}` has no time dimension; set `agg_time_dimension`",
                                    catalog.model(*model).name,
                                    x.name
                                ),
                            );
                        }
                    }
                    other => err(
                        diags,
                        m,
                        "metric",
                        format!(
                            "`{}` is a {} metric; a cumulative metric adds up a simple metric (sum, count or sum_boolean)",
                            target.name,
                            other.name()
                        ),
                    ),
                }
                if input.offset.is_some() || input.filter.is_some() {
                    err(
                        diags,
                        m,
                        "metric",
                        "the input of a cumulative metric takes no offset or filter; put the filter on the input metric".into(),
                    );
                }
                if m.filter.is_some() {
                    err(
                        diags,
                        m,
                        "filter",
                        "a cumulative metric takes no filter; put it on the metric it adds up"
                            .into(),
                    );
                }
            }
            MetricKind::Ratio {
                numerator,
                denominator,
            } => {
                if numerator.offset.is_some() || denominator.offset.is_some() {
                    err(
                        diags,
                        m,
                        "numerator",
                        "offsets apply to inputs of derived metrics; write a derived metric `a / b` with an offset input".into(),
                    );
                }
            }
            MetricKind::Derived { inputs, .. } => {
                let timed = inputs
                    .iter()
                    .any(|i| i.offset.is_some() || time_intelligent(catalog, i.metric, 0));
                for (k, i) in inputs.iter().enumerate() {
                    if i.offset.is_some() && time_intelligent(catalog, i.metric, 0) {
                        err(
                            diags,
                            m,
                            &format!("inputs[{k}]"),
                            format!(
                                "`{}` is itself cumulative or offset; an offset input reads a metric without time intelligence",
                                catalog.metric(i.metric).name
                            ),
                        );
                    }
                    if timed && i.filter.is_some() {
                        err(
                            diags,
                            m,
                            &format!("inputs[{k}].filter"),
                            "a metric with offset or cumulative inputs takes no input filters; define a filtered metric and use it as the input".into(),
                        );
                    }
                }
                if timed && m.filter.is_some() {
                    err(
                        diags,
                        m,
                        "filter",
                        "a metric with offset or cumulative inputs takes no filter; define filtered input metrics instead".into(),
                    );
                }
            }
            MetricKind::Simple { .. } | MetricKind::Conversion(_) => {}
        }
    }
}

/// Whether a metric is cumulative or reads an input at an offset, directly
/// or through its inputs.
pub fn time_intelligent(catalog: &Catalog, id: MetricId, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    match &catalog.metric(id).kind {
        MetricKind::Cumulative { .. } => true,
        MetricKind::Simple { .. } | MetricKind::Conversion(_) => false,
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            time_intelligent(catalog, numerator.metric, depth + 1)
                || time_intelligent(catalog, denominator.metric, depth + 1)
        }
        MetricKind::Derived { inputs, .. } => inputs
            .iter()
            .any(|i| i.offset.is_some() || time_intelligent(catalog, i.metric, depth + 1)),
    }
}

/// The query validation plans a metric with: time-intelligent metrics need
/// `metric_time` at a grain their windows and offsets fit.
pub(super) fn validation_query(catalog: &Catalog, m: &Metric) -> crate::query::SemanticQuery {
    let mut q = crate::query::SemanticQuery {
        metrics: vec![m.qualified_name()],
        ..Default::default()
    };
    if let Some(g) = crate::catalog::time::natural_grain(catalog, m.id) {
        q.dimensions.push(format!("metric_time:{g}"));
    }
    q
}

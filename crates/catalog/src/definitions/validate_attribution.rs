//! The `attribution:` section: raw shape and validation into
//! [`crate::attribution::Attribution`]s. Every problem names its file, line,
//! column and field, with the closest valid name where one exists.

use std::sync::Arc;

use serde::Deserialize;

use super::raw::S;
use super::validate::Ctx;
use crate::attribution::{Attribution, AttributionModel, Lookback, TouchSource};
use crate::catalog::{Aggregation, Catalog, DimensionKind, EntityKind, MetricKind, Model};
use crate::diagnostics::{Diagnostics, SourcePos};

/// One named attribution instance as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAttribution {
    pub name: S<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// first_touch | last_touch | last_non_direct | linear | position_based | time_decay
    pub model: S<String>,
    /// A simple sum/count metric: `revenue` or `revenue@2`.
    pub conversion: S<String>,
    pub touches: S<RawTouches>,
    /// Entity on both models; default: the conversion model's `subject`.
    #[serde(default)]
    pub subject: Option<S<String>>,
    pub lookback: S<RawLookback>,
    #[serde(default)]
    pub direct_channels: Vec<S<String>>,
    #[serde(default)]
    pub position_based: Option<S<RawPositionWeights>>,
    #[serde(default)]
    pub half_life_days: Option<S<f64>>,
    #[serde(default)]
    pub decimals: Option<S<u32>>,
    /// Conversions and touches are a person's through the identity map
    /// (docs/identity.md): anonymous touches before a signup get credit.
    #[serde(default)]
    pub stitched: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTouches {
    pub model: S<String>,
    pub time: S<String>,
    pub channel: S<String>,
    /// Further groupable dimensions of the touch model.
    #[serde(default)]
    pub dimensions: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLookback {
    #[serde(default)]
    pub days: Option<S<u32>>,
    #[serde(default)]
    pub touches: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPositionWeights {
    pub first: S<f64>,
    pub last: S<f64>,
}

const DEFAULT_DECIMALS: u32 = 4;
const MAX_DECIMALS: u32 = 9;
const MAX_LOOKBACK_DAYS: u32 = 3660;
const MAX_LOOKBACK_TOUCHES: u32 = 1000;

/// A model's single-column entity of a kind, for keys the compiler needs.
fn single_key(model: &Model, unique: bool) -> bool {
    model
        .entities
        .iter()
        .any(|e| (!unique || e.kind == EntityKind::Primary) && e.keys.len() == 1)
}

pub fn attributions(
    c: &Catalog,
    raw: Vec<(Arc<str>, S<RawAttribution>)>,
    diags: &mut Diagnostics,
) -> Vec<Attribution> {
    let mut out: Vec<Attribution> = Vec::new();
    // Every name written, valid or not, so a duplicate is reported even
    // when the first definition has errors of its own.
    let mut seen: Vec<(String, SourcePos)> = Vec::new();
    for (file, r) in raw {
        let mut cx = Ctx { file, diags };
        if let Some(a) = one(&mut cx, c, r, &mut seen) {
            out.push(a);
        }
    }
    out
}

fn one(
    cx: &mut Ctx,
    c: &Catalog,
    r: S<RawAttribution>,
    seen: &mut Vec<(String, SourcePos)>,
) -> Option<Attribution> {
    let loc = r.referenced;
    let r = r.value;
    let name = r.name.value.clone();
    let f = |x: &str| format!("attribution.{name}.{x}");
    if !super::is_identifier(&name) {
        cx.error(
            &r.name.referenced,
            f("name"),
            "an attribution name must be a plain identifier",
        );
        return None;
    }
    if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
        cx.error(
            &r.name.referenced,
            f("name"),
            format!("duplicate attribution `{name}` (first defined at {first})"),
        );
        return None;
    }
    seen.push((name.clone(), cx.pos(&loc)));
    let mut ok = true;

    // The conversion metric: a simple sum/count metric with a time.
    let conv_text = r.conversion.value.trim();
    let (metric_name, version) = match conv_text.split_once('@') {
        Some((n, v)) => (n.trim(), v.trim().parse::<u32>().ok()),
        None => (conv_text, None),
    };
    let metric = match version {
        Some(v) => c.metric_version(metric_name, v),
        None => c.default_metric(metric_name),
    };
    let mut conversion = None;
    match metric {
        None => {
            let names: Vec<&str> = c.metric_names().collect();
            cx.suggest(
                &r.conversion.referenced,
                f("conversion"),
                format!("unknown metric `{conv_text}`"),
                metric_name,
                &names,
            );
            ok = false;
        }
        Some(m) => match &m.kind {
            MetricKind::Simple { model, measure } => {
                let md = c.model(*model);
                let ms = &md.measures[*measure];
                if !matches!(
                    ms.agg,
                    Aggregation::Sum | Aggregation::Count | Aggregation::SumBoolean
                ) {
                    cx.error(
                        &r.conversion.referenced,
                        f("conversion"),
                        format!(
                            "metric `{}` aggregates with `{}`; attribution splits each conversion's value, so the conversion metric must be a simple sum or count metric",
                            m.name,
                            ms.agg.name()
                        ),
                    );
                    ok = false;
                } else if ms.time_dimension.is_none() {
                    cx.error(
                        &r.conversion.referenced,
                        f("conversion"),
                        format!(
                            "measure `{}.{}` of metric `{}` has no time dimension, so conversions have no time to look back from; set `agg_time_dimension`",
                            md.name, ms.name, m.name
                        ),
                    );
                    ok = false;
                } else if !single_key(md, true) {
                    cx.error(
                        &r.conversion.referenced,
                        f("conversion"),
                        format!(
                            "model `{}` needs a single-column primary entity to tell its conversions apart",
                            md.name
                        ),
                    );
                    ok = false;
                } else {
                    conversion = Some((m.id, *model));
                }
            }
            other => {
                cx.error(
                    &r.conversion.referenced,
                    f("conversion"),
                    format!(
                        "metric `{}` is a {} metric; the conversion metric must be a simple sum or count metric (its fact rows are the conversions)",
                        m.name,
                        other.name()
                    ),
                );
                ok = false;
            }
        },
    }

    // The touch source.
    let t = &r.touches.value;
    let touch_model = c.model_by_name(&t.model.value);
    let mut touches = None;
    match touch_model {
        None => {
            let names: Vec<&str> = c.model_names().collect();
            cx.suggest(
                &t.model.referenced,
                f("touches.model"),
                format!("unknown model `{}`", t.model.value),
                &t.model.value,
                &names,
            );
            ok = false;
        }
        Some(tm) => {
            let dim_names: Vec<&str> = tm.dimensions.iter().map(|d| d.name.as_str()).collect();
            let find = |cx: &mut Ctx, s: &S<String>, field: &str| -> Option<usize> {
                match tm.dimension(&s.value) {
                    Some((i, _)) => Some(i),
                    None => {
                        cx.suggest(
                            &s.referenced,
                            f(field),
                            format!("model `{}` has no dimension `{}`", tm.name, s.value),
                            &s.value,
                            &dim_names,
                        );
                        None
                    }
                }
            };
            let time = find(cx, &t.time, "touches.time");
            if let Some(i) = time
                && !matches!(tm.dimensions[i].kind, DimensionKind::Time { .. })
            {
                cx.error(
                    &t.time.referenced,
                    f("touches.time"),
                    format!(
                        "`{}.{}` is {}, not a time dimension",
                        tm.name,
                        t.time.value,
                        tm.dimensions[i].kind.name()
                    ),
                );
                ok = false;
            }
            let channel = find(cx, &t.channel, "touches.channel");
            let mut dims: Vec<usize> = channel.into_iter().collect();
            let mut dims_ok = true;
            for d in &t.dimensions {
                match find(cx, d, "touches.dimensions") {
                    Some(i) if dims.contains(&i) => {
                        cx.error(
                            &d.referenced,
                            f("touches.dimensions"),
                            format!("dimension `{}` is listed twice", d.value),
                        );
                        dims_ok = false;
                    }
                    Some(i) if Some(i) == time => {
                        cx.error(
                            &d.referenced,
                            f("touches.dimensions"),
                            format!(
                                "`{}` is the touch time; it is groupable already (with a grain, e.g. `{}.{}:day`)",
                                d.value, tm.name, d.value
                            ),
                        );
                        dims_ok = false;
                    }
                    Some(i) => dims.push(i),
                    None => dims_ok = false,
                }
            }
            for &i in &dims {
                if !matches!(tm.dimensions[i].kind, DimensionKind::Categorical) {
                    let at = if Some(i) == channel {
                        &t.channel
                    } else {
                        t.dimensions
                            .iter()
                            .find(|d| d.value == tm.dimensions[i].name)
                            .unwrap_or(&t.channel)
                    };
                    cx.error(
                        &at.referenced,
                        f("touches.dimensions"),
                        format!(
                            "`{}.{}` is {}; touch dimensions must be categorical (unattributed conversions are labelled `{}`)",
                            tm.name,
                            tm.dimensions[i].name,
                            tm.dimensions[i].kind.name(),
                            crate::attribution::UNATTRIBUTED
                        ),
                    );
                    dims_ok = false;
                }
            }
            if !single_key(tm, true) {
                cx.error(
                    &t.model.referenced,
                    f("touches.model"),
                    format!(
                        "model `{}` needs a single-column primary entity so touches at the same time are ordered the same way on every engine",
                        tm.name
                    ),
                );
                ok = false;
            }
            match (time, channel, dims_ok) {
                (Some(time), Some(channel), true) => {
                    touches = Some(TouchSource {
                        model: tm.id,
                        time,
                        channel,
                        dimensions: dims,
                    })
                }
                _ => ok = false,
            }
        }
    }

    // The subject entity, on both models.
    let subject = match (&r.subject, conversion) {
        (Some(s), _) => Some((s.value.clone(), s.referenced)),
        (None, Some((_, model))) => c
            .model(model)
            .subject
            .clone()
            .map(|s| (s, r.conversion.referenced)),
        (None, None) => None,
    };
    let subject = match (subject, conversion) {
        (None, Some((_, model))) => {
            cx.error(
                &loc,
                f("subject"),
                format!(
                    "no subject entity: model `{}` declares no `subject`; name the entity both models share (e.g. `subject: customer`)",
                    c.model(model).name
                ),
            );
            ok = false;
            None
        }
        (s, _) => s,
    };
    let stitched = r.stitched.as_ref().filter(|s| s.value);
    if let (Some((s, _)), Some(flag)) = (&subject, stitched) {
        let models: Vec<_> = conversion
            .map(|(_, m)| m)
            .into_iter()
            .chain(touch_model.map(|m| m.id))
            .collect();
        if let Some(problem) = super::validate_identity::stitch_problem(c, s, &models) {
            cx.error(&flag.referenced, f("stitched"), problem);
            ok = false;
        }
    }
    if let Some((s, at)) = &subject {
        for model in conversion
            .map(|(_, m)| c.model(m))
            .into_iter()
            .chain(touch_model)
        {
            // A stitched instance finds a row's person through the map.
            if stitched.is_some() && crate::identity::is_stitchable(c, model.id) {
                continue;
            }
            match model.entity(s) {
                Some(e) if e.keys.len() == 1 => {}
                Some(_) => {
                    cx.error(
                        at,
                        f("subject"),
                        format!("entity `{s}` of model `{}` is composite; the subject must be one column", model.name),
                    );
                    ok = false;
                }
                None => {
                    let names: Vec<&str> = model.entities.iter().map(|e| e.name.as_str()).collect();
                    cx.suggest(
                        at,
                        f("subject"),
                        format!("model `{}` has no entity `{s}`", model.name),
                        s,
                        &names,
                    );
                    ok = false;
                }
            }
        }
    }

    // Lookback.
    let lb = &r.lookback.value;
    let days = lb.days.as_ref().map(|d| (d.value, d.referenced));
    let max_touches = lb.touches.as_ref().map(|d| (d.value, d.referenced));
    if days.is_none() && max_touches.is_none() {
        cx.error(
            &r.lookback.referenced,
            f("lookback"),
            "a lookback needs `days`, `touches` or both",
        );
        ok = false;
    }
    if let Some((d, at)) = days
        && !(1..=MAX_LOOKBACK_DAYS).contains(&d)
    {
        cx.error(
            &at,
            f("lookback.days"),
            format!("must be between 1 and {MAX_LOOKBACK_DAYS}"),
        );
        ok = false;
    }
    if let Some((n, at)) = max_touches
        && !(1..=MAX_LOOKBACK_TOUCHES).contains(&n)
    {
        cx.error(
            &at,
            f("lookback.touches"),
            format!("must be between 1 and {MAX_LOOKBACK_TOUCHES}"),
        );
        ok = false;
    }

    // The model and its parameters.
    let model_name = r.model.value.trim();
    let model = match model_name {
        "first_touch" => Some(AttributionModel::FirstTouch),
        "last_touch" => Some(AttributionModel::LastTouch),
        "last_non_direct" => Some(AttributionModel::LastNonDirect),
        "linear" => Some(AttributionModel::Linear),
        "position_based" => {
            let (first, last) = match &r.position_based {
                Some(w) => (w.value.first.value, w.value.last.value),
                None => (0.4, 0.4),
            };
            let bad = |x: f64| !(0.0..=1.0).contains(&x) || !x.is_finite();
            if bad(first) || bad(last) || first + last > 1.0 + 1e-12 {
                let at = r
                    .position_based
                    .as_ref()
                    .map(|w| w.referenced)
                    .unwrap_or(r.model.referenced);
                cx.error(
                    &at,
                    f("position_based"),
                    format!(
                        "`first` and `last` are fractions between 0 and 1 whose sum is at most 1 (got {first} and {last})"
                    ),
                );
                None
            } else {
                Some(AttributionModel::PositionBased { first, last })
            }
        }
        "time_decay" => match &r.half_life_days {
            Some(h) if h.value > 0.0 && h.value <= MAX_LOOKBACK_DAYS as f64 => {
                Some(AttributionModel::TimeDecay {
                    half_life_days: h.value,
                })
            }
            Some(h) => {
                cx.error(
                    &h.referenced,
                    f("half_life_days"),
                    format!("must be more than 0 and at most {MAX_LOOKBACK_DAYS}"),
                );
                None
            }
            None => {
                cx.error(
                    &r.model.referenced,
                    f("half_life_days"),
                    "a time_decay model needs `half_life_days`",
                );
                None
            }
        },
        other => {
            cx.suggest(
                &r.model.referenced,
                f("model"),
                format!("unknown attribution model `{other}`"),
                other,
                &AttributionModel::NAMES,
            );
            None
        }
    };
    if let Some(w) = &r.position_based
        && model_name != "position_based"
    {
        cx.error(
            &w.referenced,
            f("position_based"),
            format!(
                "`position_based` weights apply only to `model: position_based`, not `{model_name}`"
            ),
        );
        ok = false;
    }
    if let Some(h) = &r.half_life_days
        && model_name != "time_decay"
    {
        cx.error(
            &h.referenced,
            f("half_life_days"),
            format!("`half_life_days` applies only to `model: time_decay`, not `{model_name}`"),
        );
        ok = false;
    }
    let direct_channels: Vec<String> = r.direct_channels.iter().map(|s| s.value.clone()).collect();
    if model_name == "last_non_direct" && direct_channels.is_empty() {
        cx.error(
            &r.model.referenced,
            f("direct_channels"),
            "a last_non_direct model needs `direct_channels` (the channel values that count as direct, e.g. [direct])",
        );
        ok = false;
    }
    for (i, d) in r.direct_channels.iter().enumerate() {
        if r.direct_channels[..i].iter().any(|x| x.value == d.value) {
            cx.error(
                &d.referenced,
                f("direct_channels"),
                format!("`{}` is listed twice", d.value),
            );
            ok = false;
        }
    }
    let decimals = match &r.decimals {
        Some(d) if d.value > MAX_DECIMALS => {
            cx.error(
                &d.referenced,
                f("decimals"),
                format!("must be at most {MAX_DECIMALS}"),
            );
            ok = false;
            DEFAULT_DECIMALS
        }
        Some(d) => d.value,
        None => DEFAULT_DECIMALS,
    };

    let (Some(model), Some((conversion, _)), Some(touches), Some((subject, _)), true) =
        (model, conversion, touches, subject, ok)
    else {
        return None;
    };
    Some(Attribution {
        name,
        description: r.description,
        owner: r.owner,
        model,
        conversion,
        touches,
        subject,
        lookback: Lookback {
            days: days.map(|d| d.0),
            touches: max_touches.map(|d| d.0),
        },
        direct_channels,
        decimals,
        stitched: stitched.is_some(),
        pos: cx.pos(&loc),
    })
}

//! `checks:` definitions: their raw shape and their validation into
//! [`crate::checks::Check`]s. Every problem names file:line:col and the
//! field, with the closest valid name where there is one.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::raw::S;
use super::validate::{Ctx, model_expr};
use crate::catalog::{Catalog, DimensionKind, EntityKind, Model};
use crate::checks::{Check, CheckColumn, CheckKind, CheckTarget, KIND_NAMES, Period, Severity};
use crate::diagnostics::{Diagnostics, SourcePos};
use crate::sql::ast::Literal;

/// A check as written. Type-specific fields are optional here; validation
/// says which apply to which type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub name: S<String>,
    #[serde(rename = "type")]
    pub kind: S<String>,
    /// Exactly one of `model` and `metric`.
    #[serde(default)]
    pub model: Option<S<String>>,
    #[serde(default)]
    pub metric: Option<S<String>>,
    #[serde(default)]
    pub severity: Option<S<String>>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The time dimension dating the model's rows.
    #[serde(default)]
    pub time: Option<S<String>>,
    #[serde(default)]
    pub max_lag: Option<S<String>>,
    #[serde(default)]
    pub column: Option<S<String>>,
    #[serde(default)]
    pub filter: Option<S<String>>,
    #[serde(default)]
    pub max_null_rate: Option<S<f64>>,
    #[serde(default)]
    pub values: Option<S<Vec<RawScalar>>>,
    #[serde(default)]
    pub max_invalid: Option<S<u64>>,
    #[serde(default)]
    pub trailing: Option<S<u32>>,
    #[serde(default)]
    pub k: Option<S<f64>>,
    #[serde(default)]
    pub min_history: Option<S<u32>>,
    #[serde(default)]
    pub period: Option<S<String>>,
    #[serde(default)]
    pub seasonality: Option<S<String>>,
    #[serde(default)]
    pub entity: Option<S<String>>,
    #[serde(default)]
    pub references: Option<S<String>>,
    #[serde(default)]
    pub max_orphans: Option<S<u64>>,
}

/// An accepted value: text, number or boolean.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawScalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl RawScalar {
    fn literal(&self) -> Literal {
        match self {
            RawScalar::Bool(b) => Literal::Bool(*b),
            RawScalar::Int(i) => Literal::Number(i.to_string()),
            RawScalar::Float(f) => Literal::Number(f.to_string()),
            RawScalar::Text(s) => Literal::String(s.clone()),
        }
    }
}

/// Which optional fields each type takes (beyond name, type, model/metric,
/// severity, owner, description).
fn allowed(kind: &str) -> &'static [&'static str] {
    match kind {
        "freshness" => &["time", "max_lag"],
        "completeness" => &["time", "column", "filter", "max_null_rate"],
        "volume" => &["time", "trailing", "k", "min_history"],
        "referential_integrity" => &["time", "entity", "references", "max_orphans"],
        "accepted_values" => &["time", "column", "values", "max_invalid"],
        "anomaly" => &["trailing", "k", "min_history", "period", "seasonality"],
        _ => &[],
    }
}

fn set_fields(r: &RawCheck) -> Vec<(&'static str, serde_saphyr::Location)> {
    let mut v = Vec::new();
    macro_rules! f {
        ($($name:ident),*) => {$(
            if let Some(x) = &r.$name {
                v.push((stringify!($name), x.referenced));
            }
        )*};
    }
    f!(
        time,
        max_lag,
        column,
        filter,
        max_null_rate,
        values,
        max_invalid,
        trailing,
        k,
        min_history,
        period,
        seasonality,
        entity,
        references,
        max_orphans
    );
    v
}

/// Validates every raw check against the catalog.
pub(super) fn checks(
    catalog: &Catalog,
    raw: Vec<(Arc<str>, S<RawCheck>)>,
    diags: &mut Diagnostics,
) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::new();
    let mut seen: BTreeMap<String, SourcePos> = BTreeMap::new();
    for (file, c) in raw {
        let mut cx = Ctx {
            file: file.clone(),
            diags,
        };
        let loc = c.referenced;
        let r = c.value;
        let name = r.name.value.clone();
        let field = |f: &str| format!("checks.{name}.{f}");
        if !super::is_identifier(&name) {
            cx.error(
                &r.name.referenced,
                field("name"),
                format!("check name `{name}` must be a plain identifier (letters, digits, _)"),
            );
            continue;
        }
        if let Some(first) = seen.get(&name) {
            cx.error(
                &r.name.referenced,
                field("name"),
                format!("duplicate check `{name}` (first defined at {first})"),
            );
            continue;
        }
        seen.insert(name.clone(), cx.pos(&r.name.referenced));
        let kind_name = r.kind.value.as_str();
        if !KIND_NAMES.contains(&kind_name) {
            cx.suggest(
                &r.kind.referenced,
                field("type"),
                format!("unknown check type `{kind_name}`"),
                kind_name,
                &KIND_NAMES,
            );
            continue;
        }
        let mut ok = true;
        for (f, at) in set_fields(&r) {
            if !allowed(kind_name).contains(&f) {
                cx.error(
                    &at,
                    field(f),
                    format!(
                        "`{f}` does not apply to a {kind_name} check (it takes: {})",
                        allowed(kind_name).join(", ")
                    ),
                );
                ok = false;
            }
        }
        let severity = match &r.severity {
            None => Severity::Error,
            Some(s) => match s.value.as_str() {
                "warn" | "warning" => Severity::Warn,
                "error" => Severity::Error,
                other => {
                    cx.suggest(
                        &s.referenced,
                        field("severity"),
                        format!("unknown severity `{other}`"),
                        other,
                        &Severity::NAMES,
                    );
                    ok = false;
                    Severity::Error
                }
            },
        };
        let is_metric_check = kind_name == "anomaly";
        let target = match (&r.model, &r.metric, is_metric_check) {
            (Some(m), None, false) => match catalog.model_by_name(&m.value) {
                Some(model) => CheckTarget::Model(model.id),
                None => {
                    let names: Vec<&str> = catalog.model_names().collect();
                    cx.suggest(
                        &m.referenced,
                        field("model"),
                        format!("unknown model `{}`", m.value),
                        &m.value,
                        &names,
                    );
                    continue;
                }
            },
            (None, Some(m), true) => match crate::lineage::find_metric(catalog, &m.value) {
                Some(metric) => CheckTarget::Metric(metric.id),
                None => {
                    let names: Vec<&str> = catalog.metric_names().collect();
                    cx.suggest(
                        &m.referenced,
                        field("metric"),
                        format!("unknown metric `{}`", m.value),
                        m.value.split('@').next().unwrap_or(""),
                        &names,
                    );
                    continue;
                }
            },
            (_, Some(m), false) => {
                cx.error(
                    &m.referenced,
                    field("metric"),
                    format!("a {kind_name} check is about a model: give `model`, not `metric`"),
                );
                continue;
            }
            (Some(m), _, true) => {
                cx.error(
                    &m.referenced,
                    field("model"),
                    "an anomaly check is about a metric: give `metric`, not `model`",
                );
                continue;
            }
            (None, None, metric) => {
                cx.error(
                    &loc,
                    field(if metric { "metric" } else { "model" }),
                    format!(
                        "a {kind_name} check needs `{}`",
                        if metric { "metric" } else { "model" }
                    ),
                );
                continue;
            }
        };
        let model = match target {
            CheckTarget::Model(id) => Some(catalog.model(id)),
            CheckTarget::Metric(_) => None,
        };
        let time = match model {
            Some(m) => time_dimension(&mut cx, m, &r, &name, kind_name, &loc, &mut ok),
            None => None,
        };
        let kind = match model {
            Some(m) => model_kind(&mut cx, catalog, m, &r, &name, kind_name, &loc),
            None => anomaly_kind(&mut cx, &r, &name, &loc),
        };
        if let (Some(kind), true) = (kind, ok) {
            out.push(Check {
                pos: cx.pos(&loc),
                name,
                target,
                severity,
                owner: r.owner,
                description: r.description,
                time,
                kind,
            });
        }
    }
    out
}

/// The time dimension dating a model's rows: `time`, else the one the
/// model's measures aggregate by, else its only time dimension. Freshness
/// and volume need one; other checks use it to see rows as of `now`.
fn time_dimension(
    cx: &mut Ctx,
    m: &Model,
    r: &RawCheck,
    name: &str,
    kind: &str,
    loc: &serde_saphyr::Location,
    ok: &mut bool,
) -> Option<usize> {
    let time_dims: Vec<&str> = m
        .dimensions
        .iter()
        .filter(|d| matches!(d.kind, DimensionKind::Time { .. }))
        .map(|d| d.name.as_str())
        .collect();
    if let Some(t) = &r.time {
        return match m.dimension(&t.value) {
            Some((i, d)) if matches!(d.kind, DimensionKind::Time { .. }) => Some(i),
            Some(_) => {
                cx.error(
                    &t.referenced,
                    format!("checks.{name}.time"),
                    format!(
                        "`{}` is not a time dimension of model `{}`",
                        t.value, m.name
                    ),
                );
                *ok = false;
                None
            }
            None => {
                cx.suggest(
                    &t.referenced,
                    format!("checks.{name}.time"),
                    format!("unknown time dimension `{}` in model `{}`", t.value, m.name),
                    &t.value,
                    &time_dims,
                );
                *ok = false;
                None
            }
        };
    }
    let mut by_measures: Vec<usize> = m.measures.iter().filter_map(|x| x.time_dimension).collect();
    by_measures.sort_unstable();
    by_measures.dedup();
    let found = match by_measures.as_slice() {
        [one] => Some(*one),
        _ if time_dims.len() == 1 => m.dimension(time_dims[0]).map(|(i, _)| i),
        _ => None,
    };
    if found.is_none() && matches!(kind, "freshness" | "volume") {
        cx.error(
            loc,
            format!("checks.{name}.time"),
            if time_dims.is_empty() {
                format!(
                    "a {kind} check needs a time dimension, and model `{}` has none",
                    m.name
                )
            } else {
                format!(
                    "a {kind} check needs `time`: model `{}` has several time dimensions ({})",
                    m.name,
                    time_dims.join(", ")
                )
            },
        );
        *ok = false;
    }
    found
}

fn column(cx: &mut Ctx, m: &Model, s: &S<String>, field: String) -> Option<CheckColumn> {
    if let Some((_, d)) = m.dimension(&s.value) {
        return Some(CheckColumn {
            name: d.name.clone(),
            exprs: vec![d.expr.clone()],
        });
    }
    if let Some(e) = m.entity(&s.value) {
        return Some(CheckColumn {
            name: e.name.clone(),
            exprs: e.keys.clone(),
        });
    }
    let names: Vec<&str> = m
        .dimensions
        .iter()
        .map(|d| d.name.as_str())
        .chain(m.entities.iter().map(|e| e.name.as_str()))
        .collect();
    cx.suggest(
        &s.referenced,
        field,
        format!(
            "`{}` is not a dimension or entity of model `{}`",
            s.value, m.name
        ),
        &s.value,
        &names,
    );
    None
}

fn required<'a, T>(
    cx: &mut Ctx,
    v: &'a Option<S<T>>,
    loc: &serde_saphyr::Location,
    name: &str,
    f: &str,
    kind: &str,
) -> Option<&'a S<T>> {
    if v.is_none() {
        cx.error(
            loc,
            format!("checks.{name}.{f}"),
            format!("a {kind} check needs `{f}`"),
        );
    }
    v.as_ref()
}

fn positive_k(cx: &mut Ctx, r: &RawCheck, name: &str, default: f64) -> Option<f64> {
    match &r.k {
        None => Some(default),
        Some(k) if k.value.is_finite() && k.value > 0.0 => Some(k.value),
        Some(k) => {
            cx.error(
                &k.referenced,
                format!("checks.{name}.k"),
                format!(
                    "k must be a positive number of robust standard deviations, got {}",
                    k.value
                ),
            );
            None
        }
    }
}

fn history(
    cx: &mut Ctx,
    r: &RawCheck,
    name: &str,
    loc: &serde_saphyr::Location,
) -> Option<(u32, u32)> {
    let trailing = r.trailing.as_ref().map_or(28, |t| t.value);
    if !(3..=366).contains(&trailing) {
        let at = r.trailing.as_ref().map_or(*loc, |t| t.referenced);
        cx.error(
            &at,
            format!("checks.{name}.trailing"),
            format!("trailing must be between 3 and 366 periods, got {trailing}"),
        );
        return None;
    }
    let min = r
        .min_history
        .as_ref()
        .map_or(trailing.div_ceil(2), |t| t.value);
    if min == 0 || min > trailing {
        let at = r.min_history.as_ref().map_or(*loc, |t| t.referenced);
        cx.error(
            &at,
            format!("checks.{name}.min_history"),
            format!("min_history must be between 1 and trailing ({trailing}), got {min}"),
        );
        return None;
    }
    Some((trailing, min))
}

fn model_kind(
    cx: &mut Ctx,
    catalog: &Catalog,
    m: &Model,
    r: &RawCheck,
    name: &str,
    kind: &str,
    loc: &serde_saphyr::Location,
) -> Option<CheckKind> {
    let field = |f: &str| format!("checks.{name}.{f}");
    match kind {
        "freshness" => {
            let lag = required(cx, &r.max_lag, loc, name, "max_lag", kind)?;
            match crate::checks::parse_duration(&lag.value) {
                Ok(s) if s > 0 => Some(CheckKind::Freshness { max_lag_seconds: s }),
                Ok(_) => {
                    cx.error(
                        &lag.referenced,
                        field("max_lag"),
                        "max_lag must be positive",
                    );
                    None
                }
                Err(e) => {
                    cx.error(&lag.referenced, field("max_lag"), e);
                    None
                }
            }
        }
        "completeness" => {
            let col = required(cx, &r.column, loc, name, "column", kind)?;
            let column = column(cx, m, col, field("column"))?;
            let filter = match &r.filter {
                None => None,
                Some(f) => match model_expr(&f.value) {
                    Ok(x) if x.contains_aggregate() => {
                        cx.error(
                            &f.referenced,
                            field("filter"),
                            "a check filter cannot aggregate",
                        );
                        return None;
                    }
                    Ok(x) => Some(x),
                    Err(e) => {
                        cx.error(&f.referenced, field("filter"), e);
                        return None;
                    }
                },
            };
            let rate = r.max_null_rate.as_ref().map_or(0.0, |x| x.value);
            if !(0.0..=1.0).contains(&rate) {
                let at = r
                    .max_null_rate
                    .as_ref()
                    .map(|x| x.referenced)
                    .unwrap_or(*loc);
                cx.error(
                    &at,
                    field("max_null_rate"),
                    format!("max_null_rate is a share between 0 and 1, got {rate}"),
                );
                return None;
            }
            Some(CheckKind::Completeness {
                column,
                filter,
                max_null_rate: rate,
            })
        }
        "volume" => {
            let k = positive_k(cx, r, name, 5.0)?;
            let (trailing, min_history) = history(cx, r, name, loc)?;
            Some(CheckKind::Volume {
                trailing,
                k,
                min_history,
            })
        }
        "referential_integrity" => {
            let e = required(cx, &r.entity, loc, name, "entity", kind)?;
            let foreign: Vec<&str> = m
                .entities
                .iter()
                .filter(|x| x.kind == EntityKind::Foreign)
                .map(|x| x.name.as_str())
                .collect();
            let Some(entity) = m.entity(&e.value).filter(|x| x.kind == EntityKind::Foreign) else {
                cx.suggest(
                    &e.referenced,
                    field("entity"),
                    format!(
                        "`{}` is not a foreign entity of model `{}`",
                        e.value, m.name
                    ),
                    &e.value,
                    &foreign,
                );
                return None;
            };
            // The models holding this entity as their primary/unique key.
            let targets: Vec<&Model> = catalog
                .models
                .iter()
                .filter(|o| {
                    o.id != m.id
                        && o.entity(&entity.name).is_some_and(|x| {
                            x.kind.is_unique() && x.keys.len() == entity.keys.len()
                        })
                })
                .collect();
            let target = match &r.references {
                Some(rm) => match targets.iter().find(|t| t.name == rm.value) {
                    Some(t) => *t,
                    None => {
                        let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                        cx.suggest(
                            &rm.referenced,
                            field("references"),
                            format!(
                                "model `{}` has no primary or unique entity `{}`",
                                rm.value, entity.name
                            ),
                            &rm.value,
                            &names,
                        );
                        return None;
                    }
                },
                None => {
                    // Prefer the model where the entity is primary.
                    let primary: Vec<&&Model> = targets
                        .iter()
                        .filter(|t| {
                            t.entity(&entity.name)
                                .is_some_and(|x| x.kind == EntityKind::Primary)
                        })
                        .collect();
                    match (primary.as_slice(), targets.as_slice()) {
                        ([one], _) => **one,
                        ([], [one]) => *one,
                        _ => {
                            let names: Vec<&str> =
                                targets.iter().map(|t| t.name.as_str()).collect();
                            cx.error(
                                &e.referenced,
                                field("references"),
                                format!(
                                    "entity `{}` is the key of several models ({}); say which with `references`",
                                    entity.name,
                                    names.join(", ")
                                ),
                            );
                            return None;
                        }
                    }
                }
            };
            let reference_keys = target
                .entity(&entity.name)
                .map(|x| x.keys.clone())
                .unwrap_or_default();
            Some(CheckKind::ReferentialIntegrity {
                entity: entity.name.clone(),
                keys: entity.keys.clone(),
                references: target.id,
                reference_keys,
                max_orphans: r.max_orphans.as_ref().map_or(0, |x| x.value),
            })
        }
        "accepted_values" => {
            let col = required(cx, &r.column, loc, name, "column", kind)?;
            let column = column(cx, m, col, field("column"))?;
            if column.exprs.len() != 1 {
                cx.error(
                    &col.referenced,
                    field("column"),
                    format!(
                        "`{}` has a composite key; accepted values need one column",
                        column.name
                    ),
                );
                return None;
            }
            let values = required(cx, &r.values, loc, name, "values", kind)?;
            if values.value.is_empty() {
                cx.error(
                    &values.referenced,
                    field("values"),
                    "list at least one accepted value",
                );
                return None;
            }
            Some(CheckKind::AcceptedValues {
                column,
                values: values.value.iter().map(RawScalar::literal).collect(),
                max_invalid: r.max_invalid.as_ref().map_or(0, |x| x.value),
            })
        }
        _ => None,
    }
}

fn anomaly_kind(
    cx: &mut Ctx,
    r: &RawCheck,
    name: &str,
    loc: &serde_saphyr::Location,
) -> Option<CheckKind> {
    let field = |f: &str| format!("checks.{name}.{f}");
    let period = match &r.period {
        None => Period::Day,
        Some(p) => match p.value.as_str() {
            "day" => Period::Day,
            "week" => Period::Week,
            other => {
                cx.suggest(
                    &p.referenced,
                    field("period"),
                    format!("unknown period `{other}`"),
                    other,
                    &Period::NAMES,
                );
                return None;
            }
        },
    };
    let weekday = match &r.seasonality {
        None => false,
        Some(s) if s.value == "weekday" && period == Period::Day => true,
        Some(s) if s.value == "weekday" => {
            cx.error(
                &s.referenced,
                field("seasonality"),
                "weekday seasonality compares days; it needs `period: day`",
            );
            return None;
        }
        Some(s) if s.value == "none" => false,
        Some(s) => {
            cx.suggest(
                &s.referenced,
                field("seasonality"),
                format!("unknown seasonality `{}`", s.value),
                &s.value,
                &["weekday", "none"],
            );
            return None;
        }
    };
    let k = positive_k(cx, r, name, 5.0)?;
    let (trailing, min_history) = history(cx, r, name, loc)?;
    Some(CheckKind::Anomaly {
        period,
        trailing,
        k,
        weekday_seasonality: weekday,
        min_history,
    })
}

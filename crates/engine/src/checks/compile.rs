//! Checks → SQL. All checks of one model become ONE aggregate SELECT over
//! the model (each check contributes a few `SUM(CASE WHEN … THEN 1 ELSE 0
//! END)` / `MAX(…)` columns, and referential integrity a LEFT JOIN to the
//! distinct keys of the referenced model), so a model is read once however
//! many checks it has. A metric anomaly check is a semantic query (metric by
//! `metric_time` over the trailing periods), planned like any other query so
//! its number is exactly the one users see.
//!
//! Every constant (`now`, day boundaries, accepted values) is an AST
//! literal, escaped per dialect.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};

use super::{Check, CheckKind, CheckTarget, Period};
use crate::catalog::{Aggregation, Catalog, ModelId, Source};
use crate::query::{SemanticQuery, TimeRange};
use crate::sql::ast::*;

/// Alias of the checked model in its query.
const BASE: &str = "m";

/// Where a check's numbers are in its model query's single result row.
#[derive(Debug, Clone)]
pub enum Slots {
    /// Epoch seconds of the newest row dated before `now`.
    Freshness {
        newest: usize,
    },
    Completeness {
        rows: usize,
        nulls: usize,
    },
    /// `first`: epoch seconds of the oldest dated row (days before it are
    /// not history); `days`: one row count per day, oldest first, the last
    /// being the day checked.
    Volume {
        first: usize,
        days: Vec<(NaiveDate, usize)>,
    },
    ReferentialIntegrity {
        orphans: usize,
    },
    AcceptedValues {
        invalid: usize,
    },
}

/// One model's checks as one query.
#[derive(Debug, Clone)]
pub struct ModelQuery {
    pub model: ModelId,
    pub query: Query,
    /// (index into `catalog.checks`, where its values are).
    pub checks: Vec<(usize, Slots)>,
}

/// The last complete day before `now` and the day after it (`now`'s
/// midnight): volume checks judge `[checked, end)`.
pub fn checked_day(now: NaiveDateTime) -> NaiveDate {
    now.date() - Duration::days(1)
}

/// Start of the period containing `now` (midnight; Monday for weeks): the
/// end of the last complete period.
pub fn period_end(now: NaiveDateTime, period: Period) -> NaiveDate {
    let d = now.date();
    match period {
        Period::Day => d,
        Period::Week => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

/// Start dates of the periods an anomaly check reads: the checked period
/// first, then its history, most recent first.
pub fn anomaly_periods(
    now: NaiveDateTime,
    period: Period,
    trailing: u32,
    weekday: bool,
) -> Vec<NaiveDate> {
    let end = period_end(now, period);
    let checked = end - Duration::days(period.days());
    let step = if weekday { 7 } else { period.days() };
    (0..=i64::from(trailing))
        .map(|i| checked - Duration::days(step * i))
        .collect()
}

fn lit_ts(t: NaiveDateTime) -> Expr {
    Expr::Lit(Literal::Timestamp(t))
}

fn one_if(cond: Expr) -> Expr {
    Expr::Aggregate {
        agg: Aggregation::Sum,
        arg: Some(Box::new(Expr::Case {
            operand: None,
            whens: vec![(cond, Expr::Lit(Literal::Number("1".into())))],
            otherwise: Some(Box::new(Expr::Lit(Literal::Number("0".into())))),
        })),
    }
}

fn and(a: Option<Expr>, b: Expr) -> Expr {
    match a {
        Some(a) => Expr::binary(BinOp::And, a.paren_logic(), b.paren_logic()),
        None => b,
    }
}

fn is_null(e: Expr, negated: bool) -> Expr {
    Expr::IsNull {
        expr: Box::new(e),
        negated,
    }
}

/// Qualifies a model expression's bare columns with `alias`.
pub fn qualify(expr: &Expr, alias: &str) -> Expr {
    expr.qualified(alias)
}

fn source(catalog: &Catalog, model: ModelId, alias: &str) -> TableRef {
    match &catalog.model(model).source {
        Source::Table(parts) => TableRef::Table {
            name: parts.iter().map(|p| Ident::new(p.clone())).collect(),
            alias: Ident::generated(alias),
        },
        Source::Sql(sql) => TableRef::RawSql {
            sql: sql.clone(),
            alias: Ident::generated(alias),
        },
    }
}

/// Builds the one query for every check of `model` (checks whose target is
/// that model, in catalog order). `None` when the model has no checks.
pub fn model_query(catalog: &Catalog, model: ModelId, now: NaiveDateTime) -> Option<ModelQuery> {
    let m = catalog.model(model);
    let mut projection: Vec<SelectItem> = Vec::new();
    let mut joins: Vec<Join> = Vec::new();
    let mut checks = Vec::new();
    fn push(projection: &mut Vec<SelectItem>, expr: Expr, name: String) -> usize {
        projection.push(SelectItem {
            expr,
            alias: Some(Ident::generated(name)),
        });
        projection.len() - 1
    }
    for (ci, check) in catalog.checks.iter().enumerate() {
        if check.target != CheckTarget::Model(model) {
            continue;
        }
        let time = check.time.map(|i| qualify(&m.dimensions[i].expr, BASE));
        // Rows dated before `now`, and rows with no date at all.
        let as_of = time.as_ref().map(|t| {
            Expr::Nested(Box::new(Expr::binary(
                BinOp::Or,
                Expr::binary(BinOp::Lt, t.clone(), lit_ts(now)),
                is_null(t.clone(), false),
            )))
        });
        let tag = format!("c{}", checks.len() + 1);
        let slots = match &check.kind {
            CheckKind::Freshness { .. } => {
                let Some(t) = time.clone() else { continue };
                let newest = Expr::EpochSeconds(Box::new(Expr::Aggregate {
                    agg: Aggregation::Max,
                    arg: Some(Box::new(Expr::Case {
                        operand: None,
                        whens: vec![(Expr::binary(BinOp::Lt, t.clone(), lit_ts(now)), t)],
                        otherwise: None,
                    })),
                }));
                Slots::Freshness {
                    newest: push(&mut projection, newest, format!("{tag}_newest")),
                }
            }
            CheckKind::Completeness { column, filter, .. } => {
                let scope = match filter {
                    Some(f) => Some(and(as_of.clone(), qualify(f, BASE))),
                    None => as_of.clone(),
                };
                let any_null = column
                    .exprs
                    .iter()
                    .map(|e| is_null(qualify(e, BASE), false))
                    .reduce(|a, b| Expr::binary(BinOp::Or, a, b))
                    .unwrap_or(Expr::Lit(Literal::Bool(false)));
                let rows = match scope.clone() {
                    Some(s) => one_if(s),
                    None => Expr::Aggregate {
                        agg: Aggregation::Count,
                        arg: None,
                    },
                };
                let rows = push(&mut projection, rows, format!("{tag}_rows"));
                let nulls = push(
                    &mut projection,
                    one_if(and(scope, any_null)),
                    format!("{tag}_nulls"),
                );
                Slots::Completeness { rows, nulls }
            }
            CheckKind::Volume { trailing, .. } => {
                let Some(t) = time.clone() else { continue };
                let first = Expr::EpochSeconds(Box::new(Expr::Aggregate {
                    agg: Aggregation::Min,
                    arg: Some(Box::new(Expr::Case {
                        operand: None,
                        whens: vec![(Expr::binary(BinOp::Lt, t.clone(), lit_ts(now)), t.clone())],
                        otherwise: None,
                    })),
                }));
                let first = push(&mut projection, first, format!("{tag}_first"));
                let checked = checked_day(now);
                let mut days = Vec::new();
                for back in (0..=i64::from(*trailing)).rev() {
                    let day = checked - Duration::days(back);
                    let start = day.and_time(chrono::NaiveTime::MIN);
                    let end = start + Duration::days(1);
                    let within = Expr::binary(
                        BinOp::And,
                        Expr::binary(BinOp::GtEq, t.clone(), lit_ts(start)),
                        Expr::binary(BinOp::Lt, t.clone(), lit_ts(end)),
                    );
                    let col = push(
                        &mut projection,
                        one_if(within),
                        format!("{tag}_{}", day.format("%Y%m%d")),
                    );
                    days.push((day, col));
                }
                Slots::Volume { first, days }
            }
            CheckKind::ReferentialIntegrity {
                keys,
                references,
                reference_keys,
                ..
            } => {
                let alias = format!("r{}", checks.len() + 1);
                let inner = Select {
                    projection: reference_keys
                        .iter()
                        .enumerate()
                        .map(|(i, k)| SelectItem {
                            expr: qualify(k, "t"),
                            alias: Some(Ident::generated(format!("k{i}"))),
                        })
                        .collect(),
                    from: Some(source(catalog, *references, "t")),
                    joins: Vec::new(),
                    selection: None,
                    group_by: (1..=reference_keys.len()).collect(),
                    having: None,
                };
                let on = Expr::and_all(keys.iter().enumerate().map(|(i, k)| {
                    Expr::binary(
                        BinOp::Eq,
                        qualify(k, BASE),
                        Expr::col(&alias, &format!("k{i}")),
                    )
                }));
                joins.push(Join {
                    kind: JoinKind::Left,
                    table: TableRef::Subquery {
                        query: Box::new(Query::select(inner)),
                        alias: Ident::generated(alias.clone()),
                    },
                    on,
                });
                let present = keys
                    .iter()
                    .map(|k| is_null(qualify(k, BASE), true))
                    .reduce(|a, b| Expr::binary(BinOp::And, a, b))
                    .unwrap_or(Expr::Lit(Literal::Bool(true)));
                let missing = is_null(Expr::col(&alias, "k0"), false);
                let cond = and(as_of.clone(), Expr::binary(BinOp::And, present, missing));
                Slots::ReferentialIntegrity {
                    orphans: push(&mut projection, one_if(cond), format!("{tag}_orphans")),
                }
            }
            CheckKind::AcceptedValues { column, values, .. } => {
                let Some(col) = column.exprs.first().map(|e| qualify(e, BASE)) else {
                    continue;
                };
                let outside = Expr::binary(
                    BinOp::And,
                    is_null(col.clone(), true),
                    Expr::InList {
                        expr: Box::new(col),
                        list: values.iter().cloned().map(Expr::Lit).collect(),
                        negated: true,
                    },
                );
                Slots::AcceptedValues {
                    invalid: push(
                        &mut projection,
                        one_if(and(as_of.clone(), outside)),
                        format!("{tag}_invalid"),
                    ),
                }
            }
            CheckKind::Anomaly { .. } => continue,
        };
        checks.push((ci, slots));
    }
    if checks.is_empty() {
        return None;
    }
    let select = Select {
        projection,
        from: Some(source(catalog, model, BASE)),
        joins,
        selection: None,
        group_by: Vec::new(),
        having: None,
    };
    Some(ModelQuery {
        model,
        query: Query::select(select),
        checks,
    })
}

/// Every model query, in model order.
pub fn model_queries(catalog: &Catalog, now: NaiveDateTime) -> Vec<ModelQuery> {
    catalog
        .models
        .iter()
        .filter_map(|m| model_query(catalog, m.id, now))
        .collect()
}

/// The semantic query behind an anomaly check: the metric by period over
/// the checked period and its history.
pub fn anomaly_query(
    catalog: &Catalog,
    check: &Check,
    now: NaiveDateTime,
) -> Option<SemanticQuery> {
    let (
        CheckTarget::Metric(id),
        CheckKind::Anomaly {
            period,
            trailing,
            weekday_seasonality,
            ..
        },
    ) = (check.target, &check.kind)
    else {
        return None;
    };
    let periods = anomaly_periods(now, *period, *trailing, *weekday_seasonality);
    let start = periods.last().copied()?;
    let end = period_end(now, *period);
    Some(SemanticQuery {
        metrics: vec![catalog.metric(id).qualified_name()],
        dimensions: vec![format!("metric_time:{}", period.name())],
        time_range: Some(TimeRange {
            start: Some(start.format("%Y-%m-%d").to_string()),
            end: Some(end.format("%Y-%m-%d").to_string()),
        }),
        ..Default::default()
    })
}

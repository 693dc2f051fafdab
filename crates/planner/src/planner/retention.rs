//! Retention as SQL. Semantics (docs/analysis.md):
//!
//! - Cohorts: first-time, each subject's first cohort event (earliest time,
//!   then primary key) puts it in the cohort of that event's period;
//!   recurring, the first cohort event of every period does. The time range
//!   selects cohorts by that event's time.
//! - Returns: return events at or after the cohort event. Period N is the
//!   N-th period after the cohort's, by calendar (`DATE_TRUNC` buckets and
//!   interval arithmetic, so months and DST need no special case).
//! - `on`: retained in N means a return in period N; `on_or_after`: in N or
//!   any later period.
//! - The matrix holds every period from 0 to `periods` that has started by
//!   the last event seen (zeros included); rates are retained / cohort size.
//!
//! Returns join cohorts on the subject only, bounded by the window of
//! periods asked for; period numbers come from a CASE over the period
//! starts (no division, whose integer semantics differ across engines).

use crate::catalog::analysis::{CohortKind, Retention, RetentionMode, RetentionPeriod};
use crate::catalog::{Aggregation, DimensionKind, Grain};
use crate::sql::ast::*;

use super::analysis::*;
use super::{Plan, PlanError};

fn grain_and_unit(p: RetentionPeriod) -> (Grain, TimeUnit) {
    match p {
        RetentionPeriod::Day => (Grain::Day, TimeUnit::Day),
        RetentionPeriod::Week => (Grain::Week, TimeUnit::Week),
        RetentionPeriod::Month => (Grain::Month, TimeUnit::Month),
    }
}

/// Which period after `cohort` the period starting at `at` is: a CASE over
/// 0..=`upto`, else `otherwise`.
fn period_number(
    at: &Expr,
    cohort: &Expr,
    unit: TimeUnit,
    upto: u32,
    otherwise: Option<i64>,
) -> Expr {
    let whens = (0..=upto)
        .map(|j| {
            let start = if j == 0 {
                cohort.clone()
            } else {
                Expr::AddTime {
                    expr: Box::new(cohort.clone()),
                    amount: j as i64,
                    unit,
                }
            };
            (eq(at.clone(), start), Expr::num(j as i64))
        })
        .collect();
    Expr::Case {
        operand: None,
        whens,
        otherwise: otherwise.map(|n| Box::new(Expr::num(n))),
    }
}

pub fn plan(cx: &mut AnalysisCx, r: &Retention) -> Result<Plan, PlanError> {
    cx.stitched = r.stitched_at.is_some();
    let (mut ctes, bd_kind) = event_scans(cx, r)?;
    cohorts(cx, r, &mut ctes);
    retained(r, &mut ctes);
    sizes(r, &mut ctes);
    matrix(cx, r, bd_kind, ctes)
}

/// Cohort events (with the cohort dimension) and return events (with
/// their period), as CTEs; and the cohort dimension's kind.
fn event_scans(cx: &mut AnalysisCx, r: &Retention) -> Result<(Vec<Cte>, DimensionKind), PlanError> {
    let (grain, _) = grain_and_unit(r.period);
    // Cohort events, with the cohort dimension.
    let mut bd_kind = DimensionKind::Categorical;
    let scan = cx.event_scan(&[&r.cohort], &r.subject, |cx, joins, _| {
        let breakdown = match &r.group_by {
            Some(g) => {
                let d = cx.breakdown(joins, g, "group_by")?;
                bd_kind = d.kind;
                Some(d.expr)
            }
            None => None,
        };
        Ok(EventColumns {
            key: true,
            breakdown,
            extra: Vec::new(),
        })
    })?;
    let mut cohort_events = scan.select;
    if let Some(Some(f)) = scan.filters.into_iter().next() {
        cohort_events.and_where(f.paren_or());
    }
    // Return events, with their period.
    let scan = cx.event_scan(&[&r.returns], &r.subject, |_, _, time| {
        Ok(EventColumns {
            key: false,
            breakdown: None,
            extra: vec![(
                "rp".into(),
                Expr::DateTrunc {
                    grain,
                    expr: Box::new(time.clone()),
                },
            )],
        })
    })?;
    let mut returns = scan.select;
    if let Some(Some(f)) = scan.filters.into_iter().next() {
        returns.and_where(f.paren_or());
    }
    let ctes = vec![
        Cte::new("retention_cohort_events", Query::select(cohort_events)),
        Cte::new("retention_returns", Query::select(returns)),
    ];
    Ok((ctes, bd_kind))
}

/// Cohorts: one row per subject (first-time) or per subject and period
/// (recurring), at the first cohort event in the range.
fn cohorts(cx: &AnalysisCx, r: &Retention, ctes: &mut Vec<Cte>) {
    let (grain, _) = grain_and_unit(r.period);
    let bd = |t: &str| breakdown_column(r.group_by.is_some(), t);
    let (start, end) = cx.time_range.clone();
    let period_of = |e: Expr| Expr::DateTrunc {
        grain,
        expr: Box::new(e),
    };
    let mut partition = vec![Expr::col("e", "subject")];
    if r.cohort_kind == CohortKind::Recurring {
        partition.push(period_of(Expr::col("e", "ts")));
    }
    let mut inner = vec![
        SelectItem::aliased(Expr::col("e", "subject"), "subject"),
        SelectItem::aliased(Expr::col("e", "ts"), "ts"),
        SelectItem::aliased(period_of(Expr::col("e", "ts")), "cohort_period"),
    ];
    inner.extend(bd("e"));
    inner.push(SelectItem::aliased(
        Expr::row_number(partition, vec![Expr::col("e", "ts"), Expr::col("e", "key")]),
        "rn",
    ));
    let inner = Select::from(inner, TableRef::named("retention_cohort_events", Some("e")));
    let mut proj = vec![
        SelectItem::aliased(Expr::col("a", "subject"), "subject"),
        SelectItem::aliased(Expr::col("a", "ts"), "anchor"),
        SelectItem::aliased(Expr::col("a", "cohort_period"), "cohort_period"),
    ];
    proj.extend(bd("a"));
    let mut cohorts = first_rows(proj, inner);
    let ts = || Expr::col("a", "ts");
    if let Some(s) = &start {
        cohorts.and_where(Expr::binary(BinOp::GtEq, ts(), s.clone()));
    }
    if let Some(e) = &end {
        cohorts.and_where(Expr::binary(BinOp::Lt, ts(), e.clone()));
    }
    ctes.push(Cte::new("retention_cohorts", Query::select(cohorts)));
}

/// Each return of a cohort member, numbered by period; and per cohort
/// (and period number), how many were retained.
fn retained(r: &Retention, ctes: &mut Vec<Cte>) {
    let (_, unit) = grain_and_unit(r.period);
    let n = r.periods;
    let has_bd = r.group_by.is_some();
    let bd = |t: &str| breakdown_column(has_bd, t);
    // Each return of a cohort member, numbered by period.
    let on = r.mode == RetentionMode::On;
    let k = if on {
        period_number(
            &Expr::col("r", "rp"),
            &Expr::col("c", "cohort_period"),
            unit,
            n,
            None,
        )
    } else {
        period_number(
            &Expr::col("r", "rp"),
            &Expr::col("c", "cohort_period"),
            unit,
            n - 1,
            Some(n as i64),
        )
    };
    let mut proj = vec![
        SelectItem::aliased(Expr::col("c", "subject"), "subject"),
        SelectItem::aliased(Expr::col("c", "cohort_period"), "cohort_period"),
    ];
    proj.extend(bd("c"));
    proj.push(SelectItem::aliased(k, "k"));
    let mut hits = Select::from(proj, TableRef::named("retention_cohorts", Some("c")));
    let mut join_on = vec![
        eq(Expr::col("r", "subject"), Expr::col("c", "subject")),
        Expr::binary(BinOp::GtEq, Expr::col("r", "ts"), Expr::col("c", "anchor")),
    ];
    if on {
        join_on.push(Expr::binary(
            BinOp::Lt,
            Expr::col("r", "ts"),
            Expr::AddTime {
                expr: Box::new(Expr::col("c", "cohort_period")),
                amount: n as i64 + 1,
                unit,
            },
        ));
    }
    hits.joins.push(Join {
        kind: JoinKind::Inner,
        table: TableRef::named("retention_returns", Some("r")),
        on: Expr::and_all(join_on),
    });
    ctes.push(Cte::new("retention_hits", Query::select(hits)));

    // Period numbers 0..=n.
    ctes.push(Cte::new(
        "retention_periods",
        Query::union_all(
            (0..=n)
                .map(|j| Select {
                    projection: vec![SelectItem::aliased(Expr::num(j as i64), "k")],
                    from: None,
                    joins: Vec::new(),
                    selection: None,
                    group_by: Vec::new(),
                    having: None,
                })
                .collect(),
        ),
    ));
    let keys = if has_bd { 2 } else { 1 };
    if on {
        let mut proj = vec![SelectItem::aliased(
            Expr::col("h", "cohort_period"),
            "cohort_period",
        )];
        proj.extend(bd("h"));
        proj.push(SelectItem::aliased(Expr::col("h", "k"), "k"));
        proj.push(SelectItem::aliased(
            Expr::agg(Aggregation::CountDistinct, Some(Expr::col("h", "subject"))),
            "retained",
        ));
        let mut s = Select::from(proj, TableRef::named("retention_hits", Some("h")));
        s.group_by = (1..=keys + 1).collect();
        ctes.push(Cte::new("retention_retained", Query::select(s)));
    } else {
        let mut proj = vec![
            SelectItem::aliased(Expr::col("h", "subject"), "subject"),
            SelectItem::aliased(Expr::col("h", "cohort_period"), "cohort_period"),
        ];
        proj.extend(bd("h"));
        proj.push(SelectItem::aliased(
            Expr::agg(Aggregation::Max, Some(Expr::col("h", "k"))),
            "reach",
        ));
        let mut s = Select::from(proj, TableRef::named("retention_hits", Some("h")));
        s.group_by = (1..=keys + 1).collect();
        ctes.push(Cte::new("retention_reach", Query::select(s)));
        let mut proj = vec![SelectItem::aliased(
            Expr::col("x", "cohort_period"),
            "cohort_period",
        )];
        proj.extend(bd("x"));
        proj.push(SelectItem::aliased(Expr::col("p", "k"), "k"));
        proj.push(SelectItem::aliased(
            Expr::agg(Aggregation::Count, None),
            "retained",
        ));
        let mut s = Select::from(proj, TableRef::named("retention_reach", Some("x")));
        s.joins.push(Join {
            kind: JoinKind::Inner,
            table: TableRef::named("retention_periods", Some("p")),
            on: Some(Expr::binary(
                BinOp::GtEq,
                Expr::col("x", "reach"),
                Expr::col("p", "k"),
            )),
        });
        s.group_by = (1..=keys + 1).collect();
        ctes.push(Cte::new("retention_retained", Query::select(s)));
    }
}

/// Cohort sizes, and the last period seen (later ones have not happened).
fn sizes(r: &Retention, ctes: &mut Vec<Cte>) {
    let (grain, _) = grain_and_unit(r.period);
    let has_bd = r.group_by.is_some();
    let bd = |t: &str| breakdown_column(has_bd, t);
    let keys = if has_bd { 2 } else { 1 };
    // Cohort sizes.
    let mut proj = vec![SelectItem::aliased(
        Expr::col("c", "cohort_period"),
        "cohort_period",
    )];
    proj.extend(bd("c"));
    proj.push(SelectItem::aliased(
        Expr::agg(Aggregation::Count, None),
        "cohort_size",
    ));
    let mut s = Select::from(proj, TableRef::named("retention_cohorts", Some("c")));
    s.group_by = (1..=keys).collect();
    ctes.push(Cte::new("retention_sizes", Query::select(s)));
    // The last event seen: later periods have not happened yet.
    let ts_of = |name: &str| {
        Select::from(
            vec![SelectItem::aliased(Expr::col("x", "ts"), "ts")],
            TableRef::named(name, Some("x")),
        )
    };
    let horizon = Select::from(
        vec![SelectItem::aliased(
            Expr::DateTrunc {
                grain,
                expr: Box::new(Expr::agg(Aggregation::Max, Some(Expr::col("u", "ts")))),
            },
            "last_period",
        )],
        TableRef::Subquery {
            query: Box::new(Query::union_all(vec![
                ts_of("retention_cohort_events"),
                ts_of("retention_returns"),
            ])),
            alias: Ident::generated("u"),
        },
    );
    ctes.push(Cte::new("retention_horizon", Query::select(horizon)));
}

/// The matrix: per cohort (and group), period number, size, retained and
/// rate, up to the last period seen.
fn matrix(
    cx: &mut AnalysisCx,
    r: &Retention,
    bd_kind: DimensionKind,
    ctes: Vec<Cte>,
) -> Result<Plan, PlanError> {
    let (grain, unit) = grain_and_unit(r.period);
    let n = r.periods;
    let has_bd = r.group_by.is_some();
    // The matrix.
    let group_alias = r
        .group_by
        .as_ref()
        .map(|g| crate::query::DimensionRef::parse(g).map(|d| d.alias()))
        .transpose()?;
    let retained = Expr::Func {
        name: "COALESCE".into(),
        args: vec![Expr::col("h", "retained"), Expr::num(0)],
        distinct: false,
    };
    let mut proj = vec![SelectItem::aliased(
        Expr::col("s", "cohort_period"),
        "cohort_period",
    )];
    let mut columns = vec![dimension_column(
        "cohort_period",
        "cohort_period",
        DimensionKind::Time { granularity: grain },
    )];
    if let (Some(alias), Some(reference)) = (&group_alias, &r.group_by) {
        proj.push(SelectItem::aliased(Expr::col("s", "bd"), alias));
        columns.push(dimension_column(alias, reference, bd_kind));
    }
    proj.push(SelectItem::aliased(Expr::col("p", "k"), "period_number"));
    proj.push(SelectItem::aliased(
        Expr::col("s", "cohort_size"),
        "cohort_size",
    ));
    proj.push(SelectItem::aliased(retained.clone(), "retained"));
    proj.push(SelectItem::aliased(
        Expr::binary(
            BinOp::Divide,
            Expr::cast(retained, SqlType::Double),
            Expr::col("s", "cohort_size"),
        ),
        "rate",
    ));
    columns.push(dimension_column(
        "period_number",
        "period_number",
        DimensionKind::Number,
    ));
    columns.push(value_column("cohort_size", &r.name, true));
    columns.push(value_column("retained", &r.name, true));
    columns.push(value_column("rate", &r.name, false));
    let mut s = Select::from(proj, TableRef::named("retention_sizes", Some("s")));
    s.joins.push(Join {
        kind: JoinKind::Cross,
        table: TableRef::named("retention_periods", Some("p")),
        on: None,
    });
    s.joins.push(Join {
        kind: JoinKind::Cross,
        table: TableRef::named("retention_horizon", Some("z")),
        on: None,
    });
    let mut on_keys = vec![
        eq(
            Expr::col("h", "cohort_period"),
            Expr::col("s", "cohort_period"),
        ),
        eq(Expr::col("h", "k"), Expr::col("p", "k")),
    ];
    if has_bd {
        on_keys.push(Expr::null_safe_eq(
            Expr::col("h", "bd"),
            Expr::col("s", "bd"),
        ));
    }
    s.joins.push(Join {
        kind: JoinKind::Left,
        table: TableRef::named("retention_retained", Some("h")),
        on: Expr::and_all(on_keys),
    });
    let mut conds = vec![Expr::binary(
        BinOp::LtEq,
        Expr::col("p", "k"),
        period_number(
            &Expr::col("z", "last_period"),
            &Expr::col("s", "cohort_period"),
            unit,
            n - 1,
            Some(n as i64),
        ),
    )];
    if let Some(k) = cx.access.min_group_size() {
        conds.push(Expr::binary(
            BinOp::GtEq,
            Expr::col("s", "cohort_size"),
            Expr::num(k as i64),
        ));
    }
    s.selection = Expr::and_all(conds);
    let mut order_by: Vec<&str> = vec!["cohort_period"];
    if let Some(alias) = &group_alias {
        order_by.push(alias);
    }
    order_by.push("period_number");
    let mut all = std::mem::take(&mut cx.ctes);
    all.extend(ctes);
    let query = ordered_result(all, s, &columns, &order_by, cx.limit, cx.offset);
    Ok(cx.finish(query, columns))
}

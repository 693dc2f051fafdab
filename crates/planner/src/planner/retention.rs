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

fn col(t: &str, c: &str) -> Expr {
    Expr::col(t, c)
}

fn agg(agg: Aggregation, e: Option<Expr>) -> Expr {
    Expr::Aggregate {
        agg,
        arg: e.map(Box::new),
    }
}

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
            (eq(at.clone(), start), num(j as i64))
        })
        .collect();
    Expr::Case {
        operand: None,
        whens,
        otherwise: otherwise.map(|n| Box::new(num(n))),
    }
}

fn union(selects: Vec<Select>) -> Query {
    Query {
        ctes: Vec::new(),
        body: SetExpr::UnionAll(selects),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    }
}

pub fn plan(cx: &mut AnalysisCx, r: &Retention) -> Result<Plan, PlanError> {
    cx.stitched = r.stitched_at.is_some();
    let (grain, unit) = grain_and_unit(r.period);
    let n = r.periods;
    let has_bd = r.group_by.is_some();
    let (start, end) = cx.time_range.clone();

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
        and_where(&mut cohort_events, f);
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
        and_where(&mut returns, f);
    }
    let bd = |t: &str| {
        if has_bd {
            vec![item(col(t, "bd"), "bd")]
        } else {
            vec![]
        }
    };
    let mut ctes = vec![
        cte("retention_cohort_events", Query::select(cohort_events)),
        cte("retention_returns", Query::select(returns)),
    ];

    // Cohorts: one row per subject (first-time) or per subject and period
    // (recurring), at the first cohort event.
    let period_of = |e: Expr| Expr::DateTrunc {
        grain,
        expr: Box::new(e),
    };
    let mut partition = vec![col("e", "subject")];
    if r.cohort_kind == CohortKind::Recurring {
        partition.push(period_of(col("e", "ts")));
    }
    let mut inner = vec![
        item(col("e", "subject"), "subject"),
        item(col("e", "ts"), "ts"),
        item(period_of(col("e", "ts")), "cohort_period"),
    ];
    inner.extend(bd("e"));
    inner.push(item(
        row_number(partition, vec![col("e", "ts"), col("e", "key")]),
        "rn",
    ));
    let inner = select(inner, named("retention_cohort_events", "e"));
    let mut proj = vec![
        item(col("a", "subject"), "subject"),
        item(col("a", "ts"), "anchor"),
        item(col("a", "cohort_period"), "cohort_period"),
    ];
    proj.extend(bd("a"));
    let mut cohorts = select(
        proj,
        TableRef::Subquery {
            query: Box::new(Query::select(inner)),
            alias: Ident::generated("a"),
        },
    );
    cohorts.selection = Expr::and_all(
        std::iter::once(eq(col("a", "rn"), num(1)))
            .chain(
                start
                    .iter()
                    .map(|s| Expr::binary(BinOp::GtEq, col("a", "ts"), s.clone())),
            )
            .chain(
                end.iter()
                    .map(|e| Expr::binary(BinOp::Lt, col("a", "ts"), e.clone())),
            ),
    );
    ctes.push(cte("retention_cohorts", Query::select(cohorts)));

    // Each return of a cohort member, numbered by period.
    let on = r.mode == RetentionMode::On;
    let k = if on {
        period_number(&col("r", "rp"), &col("c", "cohort_period"), unit, n, None)
    } else {
        period_number(
            &col("r", "rp"),
            &col("c", "cohort_period"),
            unit,
            n - 1,
            Some(n as i64),
        )
    };
    let mut proj = vec![
        item(col("c", "subject"), "subject"),
        item(col("c", "cohort_period"), "cohort_period"),
    ];
    proj.extend(bd("c"));
    proj.push(item(k, "k"));
    let mut hits = select(proj, named("retention_cohorts", "c"));
    let mut join_on = vec![
        eq(col("r", "subject"), col("c", "subject")),
        Expr::binary(BinOp::GtEq, col("r", "ts"), col("c", "anchor")),
    ];
    if on {
        join_on.push(Expr::binary(
            BinOp::Lt,
            col("r", "ts"),
            Expr::AddTime {
                expr: Box::new(col("c", "cohort_period")),
                amount: n as i64 + 1,
                unit,
            },
        ));
    }
    hits.joins.push(Join {
        kind: JoinKind::Inner,
        table: named("retention_returns", "r"),
        on: Expr::and_all(join_on),
    });
    ctes.push(cte("retention_hits", Query::select(hits)));

    // Period numbers 0..=n.
    ctes.push(cte(
        "retention_periods",
        union(
            (0..=n)
                .map(|j| Select {
                    projection: vec![item(num(j as i64), "k")],
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
        let mut proj = vec![item(col("h", "cohort_period"), "cohort_period")];
        proj.extend(bd("h"));
        proj.push(item(col("h", "k"), "k"));
        proj.push(item(
            agg(Aggregation::CountDistinct, Some(col("h", "subject"))),
            "retained",
        ));
        let mut s = select(proj, named("retention_hits", "h"));
        s.group_by = (1..=keys + 1).collect();
        ctes.push(cte("retention_retained", Query::select(s)));
    } else {
        let mut proj = vec![
            item(col("h", "subject"), "subject"),
            item(col("h", "cohort_period"), "cohort_period"),
        ];
        proj.extend(bd("h"));
        proj.push(item(agg(Aggregation::Max, Some(col("h", "k"))), "reach"));
        let mut s = select(proj, named("retention_hits", "h"));
        s.group_by = (1..=keys + 1).collect();
        ctes.push(cte("retention_reach", Query::select(s)));
        let mut proj = vec![item(col("x", "cohort_period"), "cohort_period")];
        proj.extend(bd("x"));
        proj.push(item(col("p", "k"), "k"));
        proj.push(item(agg(Aggregation::Count, None), "retained"));
        let mut s = select(proj, named("retention_reach", "x"));
        s.joins.push(Join {
            kind: JoinKind::Inner,
            table: named("retention_periods", "p"),
            on: Some(Expr::binary(BinOp::GtEq, col("x", "reach"), col("p", "k"))),
        });
        s.group_by = (1..=keys + 1).collect();
        ctes.push(cte("retention_retained", Query::select(s)));
    }
    // Cohort sizes.
    let mut proj = vec![item(col("c", "cohort_period"), "cohort_period")];
    proj.extend(bd("c"));
    proj.push(item(agg(Aggregation::Count, None), "cohort_size"));
    let mut s = select(proj, named("retention_cohorts", "c"));
    s.group_by = (1..=keys).collect();
    ctes.push(cte("retention_sizes", Query::select(s)));
    // The last event seen: later periods have not happened yet.
    let ts_of = |name: &str| select(vec![item(col("x", "ts"), "ts")], named(name, "x"));
    let horizon = select(
        vec![item(
            Expr::DateTrunc {
                grain,
                expr: Box::new(agg(Aggregation::Max, Some(col("u", "ts")))),
            },
            "last_period",
        )],
        TableRef::Subquery {
            query: Box::new(union(vec![
                ts_of("retention_cohort_events"),
                ts_of("retention_returns"),
            ])),
            alias: Ident::generated("u"),
        },
    );
    ctes.push(cte("retention_horizon", Query::select(horizon)));

    // The matrix.
    let group_alias = r
        .group_by
        .as_ref()
        .map(|g| crate::query::DimensionRef::parse(g).map(|d| d.alias()))
        .transpose()?;
    let retained = Expr::Func {
        name: "COALESCE".into(),
        args: vec![col("h", "retained"), num(0)],
        distinct: false,
    };
    let mut proj = vec![item(col("s", "cohort_period"), "cohort_period")];
    let mut columns = vec![dimension_column(
        "cohort_period",
        "cohort_period",
        DimensionKind::Time { granularity: grain },
    )];
    if let (Some(alias), Some(reference)) = (&group_alias, &r.group_by) {
        proj.push(item(col("s", "bd"), alias));
        columns.push(dimension_column(alias, reference, bd_kind));
    }
    proj.push(item(col("p", "k"), "period_number"));
    proj.push(item(col("s", "cohort_size"), "cohort_size"));
    proj.push(item(retained.clone(), "retained"));
    proj.push(item(
        Expr::binary(BinOp::Divide, to_double(retained), col("s", "cohort_size")),
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
    let mut s = select(proj, named("retention_sizes", "s"));
    s.joins.push(Join {
        kind: JoinKind::Cross,
        table: named("retention_periods", "p"),
        on: None,
    });
    s.joins.push(Join {
        kind: JoinKind::Cross,
        table: named("retention_horizon", "z"),
        on: None,
    });
    let mut on_keys = vec![
        eq(col("h", "cohort_period"), col("s", "cohort_period")),
        eq(col("h", "k"), col("p", "k")),
    ];
    if has_bd {
        on_keys.push(null_safe_eq(col("h", "bd"), col("s", "bd")));
    }
    s.joins.push(Join {
        kind: JoinKind::Left,
        table: named("retention_retained", "h"),
        on: Expr::and_all(on_keys),
    });
    let mut conds = vec![Expr::binary(
        BinOp::LtEq,
        col("p", "k"),
        period_number(
            &col("z", "last_period"),
            &col("s", "cohort_period"),
            unit,
            n - 1,
            Some(n as i64),
        ),
    )];
    if let Some(k) = cx.access.min_group_size() {
        conds.push(Expr::binary(
            BinOp::GtEq,
            col("s", "cohort_size"),
            num(k as i64),
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

fn and_where(s: &mut Select, c: Expr) {
    let c = match c {
        Expr::Binary { op: BinOp::Or, .. } => Expr::Nested(Box::new(c)),
        other => other,
    };
    s.selection = Some(match s.selection.take() {
        Some(w) => Expr::binary(BinOp::And, w, c),
        None => c,
    });
}

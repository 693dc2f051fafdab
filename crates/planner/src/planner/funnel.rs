//! Funnels as SQL. Semantics (docs/analysis.md):
//!
//! - The events of every step model form one stream per subject, ordered by
//!   time, then by funnel step (same-time events count in step order), then
//!   by model and primary key. `ROW_NUMBER` numbers it (`seq`).
//! - Ordered: the subject's earliest step-1 event in the time range anchors
//!   the path; step k is the first step-k event after step k-1's in the
//!   stream, at most `window` seconds after the anchor (inclusive). Each
//!   step is one join of the stream with the previous step's one row per
//!   subject, restricted to that subject and window: no all-pairs join.
//! - Strict: step k must be the very next event of the stream (which then
//!   holds every row of the step models, not only matching ones).
//! - Unordered: the earliest event matching any step anchors; each step's
//!   first event within the window counts; "step k" is reached by subjects
//!   who did k distinct steps, at the time the k-th was done.
//! - Exclusions: an exclusion event strictly between the times of the two
//!   steps it names removes the subject from the funnel.
//! - Medians are exact, from ROW_NUMBER/COUNT windows (no engine-specific
//!   median aggregate), so every dialect computes the same number.

use crate::catalog::analysis::{Funnel, FunnelOrder};
use crate::catalog::{Aggregation, DimensionKind, ModelId};
use crate::sql::ast::*;

use super::analysis::*;
use super::{Plan, PlanError};

fn s_col(i: usize) -> String {
    format!("s_{}", i + 1)
}

fn t_col(i: usize) -> String {
    format!("t_{}", i + 1)
}

pub fn plan(cx: &mut AnalysisCx, f: &Funnel) -> Result<Plan, PlanError> {
    cx.stitched = f.stitched_at.is_some();
    let n = f.steps.len();
    let has_bd = f.breakdown.is_some();
    let unordered = f.order == FunnelOrder::Unordered;
    let (events, bd_kind, several) = event_stream(cx, f)?;
    let mut ctes = vec![events];
    let mut order_keys = vec![Expr::bare("t"), Expr::bare("rank")];
    if several {
        order_keys.push(Expr::bare("src"));
    }
    order_keys.push(Expr::bare("key"));
    let bd = |t: &str| breakdown_column(has_bd, t);
    let window = f.window_seconds;
    let within_window = |t: Expr, anchor: Expr| {
        Expr::binary(
            BinOp::LtEq,
            t,
            Expr::binary(BinOp::Plus, anchor, Expr::num(window)),
        )
    };

    if unordered {
        unordered_paths(&mut ctes, n, has_bd, &order_keys, &bd, &within_window);
    } else {
        ordered_paths(cx, f, &mut ctes, &order_keys, &bd, &within_window)?;
    }
    statistics(f, &mut ctes, &bd);
    result(cx, f, bd_kind, ctes)
}

/// The event stream: one branch per (model, time dimension) of the steps,
/// each row flagged with the steps it matches (`s_k`) and its step rank.
/// Returns the stream's CTE, the breakdown's kind and whether the stream
/// has several branches (then rows carry their branch, `src`).
fn event_stream(cx: &mut AnalysisCx, f: &Funnel) -> Result<(Cte, DimensionKind, bool), PlanError> {
    let n = f.steps.len();
    let unordered = f.order == FunnelOrder::Unordered;
    let strict = f.order == FunnelOrder::Strict;
    let (start, end) = cx.time_range.clone();

    let branches = step_branches(f);
    let several = branches.len() > 1;
    let mut bd_kind: Option<DimensionKind> = None;
    let mut selects: Vec<Select> = Vec::new();
    for (bi, (_, _, steps)) in branches.iter().enumerate() {
        let sources: Vec<_> = steps.iter().map(|i| &f.steps[*i]).collect();
        let wants_bd = f.breakdown.is_some() && (unordered || steps.contains(&0));
        let mut kind = None;
        let scan = cx.event_scan(&sources, &f.subject, |cx, joins, _| {
            let breakdown = match (&f.breakdown, wants_bd) {
                (Some(b), true) => {
                    let d = cx.breakdown(joins, b, "breakdown")?;
                    kind = Some(d.kind);
                    Some(d.expr)
                }
                _ => None,
            };
            Ok(EventColumns {
                key: true,
                breakdown,
                extra: Vec::new(),
            })
        })?;
        if bd_kind.is_none() {
            bd_kind = kind;
        }
        let mut branch = scan.select;
        let ts = branch.projection[1].expr.clone();
        let in_range = Expr::and_all(
            start
                .iter()
                .map(|s| Expr::binary(BinOp::GtEq, ts.clone(), s.clone()))
                .chain(
                    end.iter()
                        .map(|e| Expr::binary(BinOp::Lt, ts.clone(), e.clone())),
                ),
        );
        // Step conditions in this branch; `None` matches every row.
        let cond = |i: usize| -> Option<Option<Expr>> {
            let pos = steps.iter().position(|s| *s == i)?;
            let own = scan.filters[pos].clone();
            let range = if i == 0 && !unordered {
                in_range.clone()
            } else {
                None
            };
            Some(Expr::and_all(
                own.into_iter().chain(range).map(Expr::paren_logic),
            ))
        };
        // Keep only rows some step wants (strict keeps all: "consecutive"
        // is about every event of the step models).
        if !strict {
            let mut any: Vec<Expr> = Vec::new();
            let mut all_rows = false;
            for i in steps {
                match cond(*i).flatten() {
                    Some(c) => any.push(c.paren_logic()),
                    None => all_rows = true,
                }
            }
            if !all_rows
                && let Some(or) = any.into_iter().reduce(|a, b| Expr::binary(BinOp::Or, a, b))
            {
                branch.and_where(or.paren_logic());
            }
        }
        // Events before the range cannot follow an anchor inside it.
        if let Some(s) = &start {
            branch.and_where(Expr::binary(BinOp::GtEq, ts.clone(), s.clone()));
        }
        // Columns: subject, ts, t, key, [bd].
        let mut projection: Vec<SelectItem> = branch.projection.drain(..).collect();
        if several {
            projection[3].expr = Expr::Cast {
                expr: Box::new(projection[3].expr.clone()),
                ty: SqlType::Text,
            };
            projection.push(SelectItem::aliased(Expr::num(bi as i64), "src"));
        }
        if f.breakdown.is_some() && !wants_bd {
            projection.push(SelectItem::aliased(
                null_of(bd_kind.unwrap_or(DimensionKind::Categorical)),
                "bd",
            ));
        }
        let mut rank_whens = Vec::new();
        for i in 0..n {
            let flag_expr = match cond(i) {
                None => Expr::num(0),
                Some(None) => Expr::num(1),
                Some(Some(c)) => flag(c),
            };
            if let Some(c) = cond(i) {
                rank_whens.push((
                    c.unwrap_or_else(|| eq(Expr::num(1), Expr::num(1))),
                    Expr::num(i as i64 + 1),
                ));
            }
            projection.push(SelectItem::aliased(flag_expr, &s_col(i)));
        }
        projection.push(SelectItem::aliased(
            Expr::Case {
                operand: None,
                whens: rank_whens,
                otherwise: Some(Box::new(Expr::num(n as i64 + 1))),
            },
            "rank",
        ));
        if unordered {
            projection.push(SelectItem::aliased(
                match &in_range {
                    Some(r) => flag(r.clone()),
                    None => Expr::num(1),
                },
                "anchor",
            ));
        }
        branch.projection = projection;
        selects.push(branch);
    }
    let bd_kind = bd_kind.unwrap_or(DimensionKind::Categorical);
    let events = Cte::new("funnel_events", crate::sql::build::union_all(selects));
    Ok((events, bd_kind, several))
}

/// The steps grouped by (model, time dimension): one scan branch each.
fn step_branches(f: &Funnel) -> Vec<(ModelId, usize, Vec<usize>)> {
    let mut branches: Vec<(ModelId, usize, Vec<usize>)> = Vec::new();
    for (i, s) in f.steps.iter().enumerate() {
        match branches
            .iter_mut()
            .find(|(m, t, _)| *m == s.model && *t == s.time)
        {
            Some(b) => b.2.push(i),
            None => branches.push((s.model, s.time, vec![i])),
        }
    }
    branches
}

/// Ordered and strict funnels: the stream numbered per subject, each step
/// joined from the previous one within the window, exclusions applied.
fn ordered_paths(
    cx: &mut AnalysisCx,
    f: &Funnel,
    ctes: &mut Vec<Cte>,
    order_keys: &[Expr],
    bd: &dyn Fn(&str) -> Vec<SelectItem>,
    within_window: &dyn Fn(Expr, Expr) -> Expr,
) -> Result<(), PlanError> {
    let n = f.steps.len();
    let strict = f.order == FunnelOrder::Strict;
    let mut proj = vec![
        SelectItem::aliased(Expr::col("e", "subject"), "subject"),
        SelectItem::aliased(Expr::col("e", "t"), "t"),
    ];
    proj.extend(bd("e"));
    for i in 0..n {
        proj.push(SelectItem::aliased(Expr::col("e", &s_col(i)), &s_col(i)));
    }
    proj.push(SelectItem::aliased(
        Expr::row_number(
            vec![Expr::col("e", "subject")],
            order_keys.iter().map(|k| qualify_bare(k, "e")).collect(),
        ),
        "seq",
    ));
    ctes.push(Cte::new(
        "funnel_seq",
        Query::select(Select::from(
            proj,
            TableRef::named("funnel_events", Some("e")),
        )),
    ));
    // Step 1: the earliest step-1 event.
    let mut inner = vec![
        SelectItem::aliased(Expr::col("e", "subject"), "subject"),
        SelectItem::aliased(Expr::col("e", "t"), "t"),
        SelectItem::aliased(Expr::col("e", "seq"), "seq"),
    ];
    inner.extend(bd("e"));
    inner.push(SelectItem::aliased(
        Expr::row_number(vec![Expr::col("e", "subject")], vec![Expr::col("e", "seq")]),
        "rn",
    ));
    let mut inner = Select::from(inner, TableRef::named("funnel_seq", Some("e")));
    inner.selection = Some(eq(Expr::col("e", &s_col(0)), Expr::num(1)));
    let mut first = vec![
        SelectItem::aliased(Expr::col("a", "subject"), "subject"),
        SelectItem::aliased(Expr::col("a", "t"), "anchor_t"),
        SelectItem::aliased(Expr::col("a", "seq"), "seq"),
        SelectItem::aliased(Expr::col("a", "t"), "t"),
    ];
    first.extend(bd("a"));
    let first = first_rows(first, inner);
    ctes.push(Cte::new("funnel_step_1", Query::select(first)));
    // Step k from step k-1: a join restricted to the subject and window.
    for k in 1..n {
        let prev = format!("funnel_step_{k}");
        let mut on = vec![
            eq(Expr::col("e", "subject"), Expr::col("p", "subject")),
            eq(Expr::col("e", &s_col(k)), Expr::num(1)),
        ];
        let mut proj = vec![
            SelectItem::aliased(Expr::col("p", "subject"), "subject"),
            SelectItem::aliased(Expr::col("p", "anchor_t"), "anchor_t"),
        ];
        let mut group_by = Vec::new();
        if strict {
            on.push(eq(
                Expr::col("e", "seq"),
                Expr::binary(BinOp::Plus, Expr::col("p", "seq"), Expr::num(1)),
            ));
            proj.push(SelectItem::aliased(Expr::col("e", "seq"), "seq"));
            proj.push(SelectItem::aliased(Expr::col("e", "t"), "t"));
        } else {
            on.push(Expr::binary(
                BinOp::Gt,
                Expr::col("e", "seq"),
                Expr::col("p", "seq"),
            ));
            // The stream is ordered by time first, so the earliest
            // following event has both the smallest seq and time.
            proj.push(SelectItem::aliased(
                Expr::agg(Aggregation::Min, Some(Expr::col("e", "seq"))),
                "seq",
            ));
            proj.push(SelectItem::aliased(
                Expr::agg(Aggregation::Min, Some(Expr::col("e", "t"))),
                "t",
            ));
            group_by = vec![1, 2];
        }
        on.push(within_window(
            Expr::col("e", "t"),
            Expr::col("p", "anchor_t"),
        ));
        let mut s = Select::from(proj, TableRef::named(&prev, Some("p")));
        s.joins.push(Join {
            kind: JoinKind::Inner,
            table: TableRef::named("funnel_seq", Some("e")),
            on: Expr::and_all(on),
        });
        s.group_by = group_by;
        ctes.push(Cte::new(
            &format!("funnel_step_{}", k + 1),
            Query::select(s),
        ));
    }
    // Paths: one row per anchored subject with each step's time.
    let mut proj = vec![SelectItem::aliased(Expr::col("f1", "subject"), "subject")];
    proj.extend(bd("f1"));
    for k in 0..n {
        proj.push(SelectItem::aliased(
            Expr::col(&format!("f{}", k + 1), "t"),
            &t_col(k),
        ));
    }
    let mut s = Select::from(proj, TableRef::named("funnel_step_1", Some("f1")));
    for k in 1..n {
        let alias = format!("f{}", k + 1);
        s.joins.push(Join {
            kind: JoinKind::Left,
            table: TableRef::named(&format!("funnel_step_{}", k + 1), Some(&alias)),
            on: Some(eq(Expr::col(&alias, "subject"), Expr::col("f1", "subject"))),
        });
    }
    let excluded = exclusions(cx, f, ctes)?;
    s.selection = Expr::and_all(excluded);
    ctes.push(Cte::new("funnel_paths", Query::select(s)));
    Ok(())
}

/// Exclusions: per exclusion, a scan of its events and the condition
/// that no such event falls strictly between the two steps it names.
fn exclusions(
    cx: &mut AnalysisCx,
    f: &Funnel,
    ctes: &mut Vec<Cte>,
) -> Result<Vec<Expr>, PlanError> {
    let mut excluded = Vec::new();
    for (j, x) in f.exclusions.iter().enumerate() {
        let scan = cx.event_scan(&[&x.event], &f.subject, |_, _, _| {
            Ok(EventColumns {
                key: false,
                breakdown: None,
                extra: Vec::new(),
            })
        })?;
        let mut xs = scan.select;
        if let Some(Some(filter)) = scan.filters.into_iter().next() {
            xs.and_where(filter.paren_logic());
        }
        let name = format!("funnel_exclusion_{}", j + 1);
        ctes.push(Cte::new(&name, Query::select(xs)));
        let a = format!("f{}", x.after + 1);
        let b = format!("f{}", x.before + 1);
        let mut sub = Select::from(
            vec![SelectItem::aliased(Expr::num(1), "one")],
            TableRef::named(&name, Some("x")),
        );
        sub.selection = Expr::and_all([
            eq(Expr::col("x", "subject"), Expr::col("f1", "subject")),
            Expr::binary(BinOp::Gt, Expr::col("x", "t"), Expr::col(&a, "t")),
            Expr::binary(BinOp::Lt, Expr::col("x", "t"), Expr::col(&b, "t")),
        ]);
        excluded.push(Expr::Exists {
            query: Box::new(Query::select(sub)),
            negated: true,
        });
    }
    Ok(excluded)
}

/// Counts per step and the exact median time from the previous step.
fn statistics(f: &Funnel, ctes: &mut Vec<Cte>, bd: &dyn Fn(&str) -> Vec<SelectItem>) {
    let n = f.steps.len();
    let unordered = f.order == FunnelOrder::Unordered;
    let has_bd = f.breakdown.is_some();
    // Counts per step: entities reaching it, the previous and the first.
    let counts: Vec<Select> = (0..n)
        .map(|k| {
            let mut proj = bd("p");
            proj.push(SelectItem::aliased(Expr::num(k as i64 + 1), "step"));
            let name = if unordered {
                format!("{} of {n}", k + 1)
            } else {
                f.steps[k].name.clone()
            };
            proj.push(SelectItem::aliased(Expr::string(name), "step_name"));
            let count = |i: usize| Expr::agg(Aggregation::Count, Some(Expr::col("p", &t_col(i))));
            proj.push(SelectItem::aliased(count(k), "entities"));
            proj.push(SelectItem::aliased(count(k.saturating_sub(1)), "previous"));
            proj.push(SelectItem::aliased(count(0), "first"));
            let mut s = Select::from(proj, TableRef::named("funnel_paths", Some("p")));
            if has_bd {
                s.group_by = vec![1];
            }
            s
        })
        .collect();
    ctes.push(Cte::new(
        "funnel_counts",
        Query {
            ctes: Vec::new(),
            body: SetExpr::UnionAll(counts),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        },
    ));
    // Time from the previous step, per subject who reached a step.
    let durations: Vec<Select> = (1..n)
        .map(|k| {
            let mut proj = bd("p");
            proj.push(SelectItem::aliased(Expr::num(k as i64 + 1), "step"));
            proj.push(SelectItem::aliased(
                Expr::binary(
                    BinOp::Minus,
                    Expr::col("p", &t_col(k)),
                    Expr::col("p", &t_col(k - 1)),
                ),
                "d",
            ));
            let mut s = Select::from(proj, TableRef::named("funnel_paths", Some("p")));
            s.selection = Some(Expr::IsNull {
                expr: Box::new(Expr::col("p", &t_col(k))),
                negated: true,
            });
            s
        })
        .collect();
    ctes.push(Cte::new(
        "funnel_durations",
        Query {
            ctes: Vec::new(),
            body: if durations.len() == 1 {
                SetExpr::Select(Box::new(durations.into_iter().next().expect("one")))
            } else {
                SetExpr::UnionAll(durations)
            },
            order_by: Vec::new(),
            limit: None,
            offset: None,
        },
    ));
    // Exact median: the mean of the middle one or two values.
    let mut part = if has_bd {
        vec![Expr::col("d", "bd")]
    } else {
        vec![]
    };
    part.push(Expr::col("d", "step"));
    let mut proj = bd("d");
    proj.push(SelectItem::aliased(Expr::col("d", "step"), "step"));
    proj.push(SelectItem::aliased(Expr::col("d", "d"), "d"));
    proj.push(SelectItem::aliased(
        Expr::row_number(part.clone(), vec![Expr::col("d", "d")]),
        "rn",
    ));
    proj.push(SelectItem::aliased(
        Expr::Window {
            name: "COUNT".into(),
            args: vec![Expr::Star],
            partition_by: part,
            order_by: Vec::new(),
            frame: None,
        },
        "n",
    ));
    ctes.push(Cte::new(
        "funnel_ranked",
        Query::select(Select::from(
            proj,
            TableRef::named("funnel_durations", Some("d")),
        )),
    ));
    let mut proj = bd("r");
    proj.push(SelectItem::aliased(Expr::col("r", "step"), "step"));
    proj.push(SelectItem::aliased(
        Expr::agg(
            Aggregation::Avg,
            Some(Expr::cast(Expr::col("r", "d"), SqlType::Double)),
        ),
        "median",
    ));
    let mut s = Select::from(proj, TableRef::named("funnel_ranked", Some("r")));
    let twice = Expr::binary(BinOp::Multiply, Expr::col("r", "rn"), Expr::num(2));
    s.selection = Expr::and_all([
        Expr::binary(BinOp::GtEq, twice.clone(), Expr::col("r", "n")),
        Expr::binary(
            BinOp::LtEq,
            twice,
            Expr::binary(BinOp::Plus, Expr::col("r", "n"), Expr::num(2)),
        ),
    ]);
    s.group_by = if has_bd { vec![1, 2] } else { vec![1] };
    ctes.push(Cte::new("funnel_medians", Query::select(s)));
}

/// The result: counts, conversion rates and medians per step (and
/// breakdown value), ordered.
fn result(
    cx: &mut AnalysisCx,
    f: &Funnel,
    bd_kind: DimensionKind,
    ctes: Vec<Cte>,
) -> Result<Plan, PlanError> {
    let has_bd = f.breakdown.is_some();
    // The result.
    let bd_alias = f
        .breakdown
        .as_ref()
        .map(|b| crate::query::DimensionRef::parse(b).map(|r| r.alias()))
        .transpose()?;
    let mut proj = Vec::new();
    let mut columns = Vec::new();
    if let (Some(alias), Some(reference)) = (&bd_alias, &f.breakdown) {
        proj.push(SelectItem::aliased(Expr::col("c", "bd"), alias));
        columns.push(dimension_column(alias, reference, bd_kind));
    }
    proj.push(SelectItem::aliased(Expr::col("c", "step"), "step"));
    proj.push(SelectItem::aliased(
        Expr::col("c", "step_name"),
        "step_name",
    ));
    proj.push(SelectItem::aliased(Expr::col("c", "entities"), "entities"));
    let rate = |den: &str| {
        Expr::binary(
            BinOp::Divide,
            Expr::cast(Expr::col("c", "entities"), SqlType::Double),
            Expr::Func {
                name: "NULLIF".into(),
                args: vec![Expr::col("c", den), Expr::num(0)],
                distinct: false,
            },
        )
    };
    proj.push(SelectItem::aliased(
        rate("previous"),
        "conversion_from_previous",
    ));
    proj.push(SelectItem::aliased(rate("first"), "conversion_from_first"));
    proj.push(SelectItem::aliased(
        Expr::col("m", "median"),
        "median_seconds_from_previous",
    ));
    columns.push(dimension_column("step", "step", DimensionKind::Number));
    columns.push(dimension_column(
        "step_name",
        "step_name",
        DimensionKind::Categorical,
    ));
    columns.push(value_column("entities", &f.name, true));
    columns.push(value_column("conversion_from_previous", &f.name, false));
    columns.push(value_column("conversion_from_first", &f.name, false));
    columns.push(value_column("median_seconds_from_previous", &f.name, false));
    let mut s = Select::from(proj, TableRef::named("funnel_counts", Some("c")));
    let mut on = vec![eq(Expr::col("m", "step"), Expr::col("c", "step"))];
    if has_bd {
        on.push(Expr::null_safe_eq(
            Expr::col("m", "bd"),
            Expr::col("c", "bd"),
        ));
    }
    s.joins.push(Join {
        kind: JoinKind::Left,
        table: TableRef::named("funnel_medians", Some("m")),
        on: Expr::and_all(on),
    });
    // k-anonymity: a breakdown group shows only if enough subjects
    // entered it.
    if let Some(k) = cx.access.min_group_size() {
        s.selection = Some(Expr::binary(
            BinOp::GtEq,
            Expr::col("c", "first"),
            Expr::num(k as i64),
        ));
    }
    let mut order_by: Vec<&str> = Vec::new();
    if let Some(alias) = &bd_alias {
        order_by.push(alias);
    }
    order_by.push("step");
    let mut all = std::mem::take(&mut cx.ctes);
    all.extend(ctes);
    let query = ordered_result(all, s, &columns, &order_by, cx.limit, cx.offset);
    Ok(cx.finish(query, columns))
}

fn unordered_paths(
    ctes: &mut Vec<Cte>,
    n: usize,
    has_bd: bool,
    order_keys: &[Expr],
    bd: &dyn Fn(&str) -> Vec<SelectItem>,
    within_window: &dyn Fn(Expr, Expr) -> Expr,
) {
    // The anchor: the earliest event in range matching any step.
    let mut inner = vec![
        SelectItem::aliased(Expr::col("e", "subject"), "subject"),
        SelectItem::aliased(Expr::col("e", "t"), "t"),
    ];
    inner.extend(bd("e"));
    inner.push(SelectItem::aliased(
        Expr::row_number(
            vec![Expr::col("e", "subject")],
            order_keys.iter().map(|k| qualify_bare(k, "e")).collect(),
        ),
        "rn",
    ));
    let mut inner = Select::from(inner, TableRef::named("funnel_events", Some("e")));
    inner.selection = Some(eq(Expr::col("e", "anchor"), Expr::num(1)));
    let mut proj = vec![
        SelectItem::aliased(Expr::col("a", "subject"), "subject"),
        SelectItem::aliased(Expr::col("a", "t"), "anchor_t"),
    ];
    proj.extend(bd("a"));
    let anchor = first_rows(proj, inner);
    ctes.push(Cte::new("funnel_anchor", Query::select(anchor)));
    // Each step's first event within the window.
    let mut proj = vec![SelectItem::aliased(Expr::col("a", "subject"), "subject")];
    proj.extend(bd("a"));
    for i in 0..n {
        proj.push(SelectItem::aliased(
            Expr::agg(
                Aggregation::Min,
                Some(Expr::Case {
                    operand: None,
                    whens: vec![(
                        eq(Expr::col("e", &s_col(i)), Expr::num(1)),
                        Expr::col("e", "t"),
                    )],
                    otherwise: None,
                }),
            ),
            &format!("f_{}", i + 1),
        ));
    }
    let mut firsts = Select::from(proj, TableRef::named("funnel_anchor", Some("a")));
    firsts.joins.push(Join {
        kind: JoinKind::Inner,
        table: TableRef::named("funnel_events", Some("e")),
        on: Expr::and_all([
            eq(Expr::col("e", "subject"), Expr::col("a", "subject")),
            Expr::binary(BinOp::GtEq, Expr::col("e", "t"), Expr::col("a", "anchor_t")),
            within_window(Expr::col("e", "t"), Expr::col("a", "anchor_t")),
        ]),
    });
    firsts.group_by = if has_bd { vec![1, 2] } else { vec![1] };
    ctes.push(Cte::new("funnel_firsts", Query::select(firsts)));
    // The steps done, in the order they were done.
    let done: Vec<Select> = (0..n)
        .map(|i| {
            let f = format!("f_{}", i + 1);
            let mut proj = vec![SelectItem::aliased(Expr::col("x", "subject"), "subject")];
            proj.extend(bd("x"));
            proj.push(SelectItem::aliased(Expr::num(i as i64 + 1), "step"));
            proj.push(SelectItem::aliased(Expr::col("x", &f), "t"));
            let mut s = Select::from(proj, TableRef::named("funnel_firsts", Some("x")));
            s.selection = Some(Expr::IsNull {
                expr: Box::new(Expr::col("x", &f)),
                negated: true,
            });
            s
        })
        .collect();
    ctes.push(Cte::new(
        "funnel_done",
        Query {
            ctes: Vec::new(),
            body: SetExpr::UnionAll(done),
            order_by: Vec::new(),
            limit: None,
            offset: None,
        },
    ));
    let mut proj = vec![SelectItem::aliased(Expr::col("d", "subject"), "subject")];
    proj.extend(bd("d"));
    proj.push(SelectItem::aliased(Expr::col("d", "t"), "t"));
    proj.push(SelectItem::aliased(
        Expr::row_number(
            vec![Expr::col("d", "subject")],
            vec![Expr::col("d", "t"), Expr::col("d", "step")],
        ),
        "k",
    ));
    ctes.push(Cte::new(
        "funnel_done_ranked",
        Query::select(Select::from(
            proj,
            TableRef::named("funnel_done", Some("d")),
        )),
    ));
    let mut proj = vec![SelectItem::aliased(Expr::col("r", "subject"), "subject")];
    proj.extend(bd("r"));
    for k in 0..n {
        proj.push(SelectItem::aliased(
            Expr::agg(
                Aggregation::Max,
                Some(Expr::Case {
                    operand: None,
                    whens: vec![(
                        eq(Expr::col("r", "k"), Expr::num(k as i64 + 1)),
                        Expr::col("r", "t"),
                    )],
                    otherwise: None,
                }),
            ),
            &t_col(k),
        ));
    }
    let mut paths = Select::from(proj, TableRef::named("funnel_done_ranked", Some("r")));
    paths.group_by = if has_bd { vec![1, 2] } else { vec![1] };
    ctes.push(Cte::new("funnel_paths", Query::select(paths)));
}

/// `name` → `alias.name` for a bare column.
fn qualify_bare(e: &Expr, alias: &str) -> Expr {
    match e {
        Expr::Column { table: None, name } => Expr::Column {
            table: Some(Ident::generated(alias)),
            name: name.clone(),
        },
        other => other.clone(),
    }
}

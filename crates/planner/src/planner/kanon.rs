//! k-anonymity that survives differencing (`min_group_size`), see
//! docs/access.md, "Minimum group size".
//!
//! Suppressing small groups alone is not enough: an attacker subtracts two
//! answers (a total and the same total with `country <> 'AR'`, a month and
//! the month with a one-hour hole, a region and its visible countries) and
//! gets the aggregate the suppression hid. So a role with a minimum group
//! size sees answers built only from whole *cells*: the cross product of
//! every dimension the role may see from the scanned model (true values,
//! not masked ones) and `metric_time` at the role's `time_grain`, in UTC.
//!
//! - A request may only cut along cell boundaries: filters name dimensions
//!   (which are cells), the time range falls on `time_grain` boundaries in
//!   UTC, time is grouped at the grain or coarser unions of it, never
//!   filtered by a time dimension, and read in UTC. So every group of an
//!   answer is a union of whole cells.
//! - A group is shown only if every cell in it holds 0 or at least `k`
//!   subjects (counted over the rows the answer reads).
//!
//! No number the role sees then includes a small cell, so no sum or
//! difference of such numbers can isolate one: a total without Argentina
//! is shown, but no total with it. What this does not cover is written
//! down in docs/access.md.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::access::Access;
use crate::catalog::{Catalog, DimensionKind, Grain, ModelId};
use crate::query::{DimensionRef, SemanticQuery};
use crate::sql::ast::*;

use super::resolve::{JoinTree, ResolvedDim, resolve_dimension};
use super::{ErrorCode, PlanError};

/// The caller's cell rule: the smallest group and the finest time cell.
#[derive(Debug, Clone, Copy)]
pub(super) struct CellRule {
    pub k: u32,
    pub grain: Grain,
}

impl CellRule {
    pub fn of(access: &Access) -> Option<CellRule> {
        access.k_anonymity().map(|(k, grain)| CellRule { k, grain })
    }

    fn refuse(&self, message: impl Into<String>) -> PlanError {
        PlanError::new(
            ErrorCode::Forbidden,
            format!(
                "{} (your role has min_group_size {}, time_grain {}; see docs/access.md)",
                message.into(),
                self.k,
                self.grain
            ),
        )
    }

    /// The rule as `/v1/compile` lists it among the policies.
    pub fn describe(&self) -> String {
        format!(
            "min_group_size {} cells: every visible dimension × metric_time:{} (UTC); a group holding a cell of 1 to {} subjects is suppressed",
            self.k,
            self.grain,
            self.k - 1
        )
    }

    /// Refuses a query kind other than plain metrics: funnels, retention,
    /// attribution and time intelligence have no cell guard yet.
    pub fn refuse_kind(&self, kind: &str) -> PlanError {
        self.refuse(format!(
            "{kind} queries are refused to roles with a minimum group size"
        ))
    }

    /// Refuses what would cut a cell: a zone other than UTC, a time range
    /// off the grain, time grouped finer than the grain, a filter on time.
    pub fn check_request(
        &self,
        q: &SemanticQuery,
        time_range: &(Option<Expr>, Option<Expr>),
        grouped: &[(String, DimensionKind, Option<Grain>)],
        filtered: &[(String, DimensionKind)],
    ) -> Result<(), PlanError> {
        if super::timezone::zone(q)?.is_some() {
            return Err(self
                .refuse("time is read in UTC for your role")
                .at("time_zone"));
        }
        for (field, bound) in [("start", &time_range.0), ("end", &time_range.1)] {
            if let Some(Expr::Lit(Literal::Timestamp(t))) = bound
                && truncate(*t, self.grain) != *t
            {
                return Err(self
                    .refuse(format!(
                        "time_range.{field} must fall on a {} boundary (UTC)",
                        self.grain
                    ))
                    .at(format!("time_range.{field}")));
            }
        }
        for (field, kind, grain) in grouped {
            if let DimensionKind::Time { granularity } = kind {
                let g = grain.unwrap_or(*granularity);
                if !self.unions_of_cells(g) {
                    return Err(self
                        .refuse(format!(
                            "time may be grouped by {} or coarser unions of it, not by {g}",
                            self.grain
                        ))
                        .at(field.as_str()));
                }
            }
        }
        for (field, kind) in filtered {
            if matches!(kind, DimensionKind::Time { .. }) {
                return Err(self
                    .refuse("filters on time are not available; use time_range")
                    .at(field.as_str()));
            }
        }
        Ok(())
    }

    /// Whether every period of `g` is a union of the rule's time cells.
    fn unions_of_cells(&self, g: Grain) -> bool {
        match self.grain {
            Grain::Hour | Grain::Day => g >= self.grain,
            Grain::Week => g == Grain::Week,
            Grain::Month => matches!(g, Grain::Month | Grain::Quarter | Grain::Year),
            Grain::Quarter => matches!(g, Grain::Quarter | Grain::Year),
            Grain::Year => g == Grain::Year,
        }
    }
}

/// Refuses, for a caller with a cell rule, the query kinds that have no
/// cell guard: funnels, retention, attribution and time intelligence.
pub(super) fn refuse_uncelled_kinds(
    catalog: &Catalog,
    q: &SemanticQuery,
    caller: &crate::access::Caller,
) -> Result<(), PlanError> {
    // A caller without any role is refused by the planner itself.
    let Ok(access) = Access::resolve(catalog, caller) else {
        return Ok(());
    };
    let Some(rule) = CellRule::of(&access) else {
        return Ok(());
    };
    // Funnels, retention and attribution are refused whatever they name;
    // time intelligence is a property of the metrics, so only visible ones
    // count (a hidden one reads as absent, like everywhere else).
    let kind = if q.funnel.is_some() {
        "funnel"
    } else if q.retention.is_some() {
        "retention"
    } else if !q.attribution.is_empty() {
        "attributed"
    } else if super::timeintel::applies_among(catalog, q, |m| access.metric_visible(m)) {
        "time-intelligence (cumulative, offset or gap-filled)"
    } else {
        return Ok(());
    };
    Err(rule.refuse_kind(kind))
}

/// `t` truncated to the start of its period (ISO weeks start on Monday).
fn truncate(t: NaiveDateTime, grain: Grain) -> NaiveDateTime {
    let d = t.date();
    let day = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    let first_of = |month: u32| NaiveDate::from_ymd_opt(d.year(), month, 1).map(day);
    let truncated = match grain {
        Grain::Hour => t
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0)),
        Grain::Day => Some(day(d)),
        Grain::Week => Some(day(d - chrono::Duration::days(i64::from(
            d.weekday().num_days_from_monday(),
        )))),
        Grain::Month => first_of(d.month()),
        Grain::Quarter => first_of((d.month() - 1) / 3 * 3 + 1),
        Grain::Year => first_of(1),
    };
    truncated.unwrap_or(t)
}

/// The cell columns of one scan: every dimension the caller may see on the
/// models the scan reaches (true values, time at the grain), the ones the
/// query names (they may follow an explicit path), and `metric_time`.
pub(super) fn cell_exprs(
    catalog: &Catalog,
    access: &Access,
    rule: CellRule,
    joins: &mut JoinTree,
    named: &mut dyn FnMut(&mut JoinTree) -> Result<Vec<ResolvedDim>, PlanError>,
    time_expr: Option<&Expr>,
) -> Result<Vec<Expr>, PlanError> {
    let mut out: Vec<Expr> = Vec::new();
    let mut push = |e: Expr, kind: DimensionKind| {
        let e = match kind {
            DimensionKind::Time { .. } => cell_time(e, rule.grain),
            _ => e,
        };
        if !out.contains(&e) {
            out.push(e);
        }
    };
    for model in reachable(catalog, joins.base) {
        let m = catalog.model(model);
        for d in &m.dimensions {
            if !access.dimension_visible(model, &d.name) {
                continue;
            }
            let r = DimensionRef {
                path: Vec::new(),
                model: Some(m.name.clone()),
                name: d.name.clone(),
                grain: None,
                raw: format!("{}.{}", m.name, d.name),
            };
            // A dimension reached by several paths is a cell only on the
            // path a query spells out, which `named` adds.
            if let Ok(r) = resolve_dimension(catalog, joins, &r, model, "min_group_size cells") {
                push(untruncated(r.expr), r.kind);
            }
        }
    }
    for r in named(joins)? {
        push(untruncated(r.expr), r.kind);
    }
    if let Some(t) = time_expr
        && access.metric_time_visible()
    {
        push(
            t.clone(),
            DimensionKind::Time {
                granularity: Grain::Hour,
            },
        );
    }
    Ok(out)
}

fn untruncated(e: Expr) -> Expr {
    match e {
        Expr::DateTrunc { expr, .. } => *expr,
        other => other,
    }
}

fn cell_time(e: Expr, grain: Grain) -> Expr {
    Expr::DateTrunc {
        grain,
        expr: Box::new(e),
    }
}

/// The scanned model and every model its many-to-one joins reach.
fn reachable(catalog: &Catalog, base: ModelId) -> Vec<ModelId> {
    catalog
        .models
        .iter()
        .map(|m| m.id)
        .filter(|m| *m == base || catalog.graph.reachable(base, *m))
        .collect()
}

/// One scan's cells CTE: the query's group keys, the cell columns, and the
/// distinct subjects per cell (`subjects`, the scan's subject count), over
/// the rows the scan reads (`conditions`, its WHERE).
pub(super) fn cells_query(
    groups: Vec<SelectItem>,
    cells: Vec<Expr>,
    subjects: Expr,
    from: TableRef,
    joins: Vec<Join>,
    conditions: Vec<Expr>,
) -> Query {
    let width = groups.len() + cells.len();
    let mut projection = groups;
    for (i, c) in cells.into_iter().enumerate() {
        projection.push(SelectItem {
            expr: c,
            alias: Some(Ident::generated(format!("__cell_{}", i + 1))),
        });
    }
    projection.push(SelectItem {
        expr: subjects,
        alias: Some(Ident::generated(CELL_SUBJECTS)),
    });
    Query::select(Select {
        projection,
        from: Some(from),
        joins,
        selection: Expr::and_all(conditions),
        group_by: (1..=width).collect(),
        having: None,
    })
}

/// The subjects column of a cells CTE.
pub(super) const CELL_SUBJECTS: &str = "__cell_subjects";

/// What a cells CTE's branch of the stitch carries per group: its smallest
/// cell. Cells of anonymous rows only (no subject) identify nobody.
pub(super) fn smallest_cell() -> Expr {
    let identified = Expr::case(
        vec![(
            Expr::binary(BinOp::Gt, Expr::bare(CELL_SUBJECTS), Expr::num(0)),
            Expr::bare(CELL_SUBJECTS),
        )],
        None,
    );
    Expr::agg(crate::catalog::Aggregation::Min, Some(identified))
}

/// The stitched query's k-anonymity conditions: a group is shown only if
/// every scan that contributed to it saw at least k distinct subjects, and
/// every cell in it holds none or at least k.
pub(super) fn stitched_guard(k: u32, subject_cols: &[String], guard_cols: &[String]) -> Vec<Expr> {
    let mut conditions = Vec::new();
    if !guard_cols.is_empty() {
        // A group only the cells saw is no answer.
        let seen = subject_cols
            .iter()
            .map(|c| Expr::is_null(Expr::bare(c), true));
        conditions.extend(
            seen.reduce(|a, b| Expr::binary(BinOp::Or, a, b))
                .map(Expr::nested),
        );
    }
    for col in subject_cols.iter().chain(guard_cols) {
        conditions.push(Expr::nested(Expr::binary(
            BinOp::Or,
            Expr::is_null(Expr::bare(col), false),
            Expr::binary(BinOp::GtEq, Expr::bare(col), Expr::num(k)),
        )));
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn truncation_per_grain() {
        let t = ts("2025-02-19 13:45:10");
        assert_eq!(truncate(t, Grain::Hour), ts("2025-02-19 13:00:00"));
        assert_eq!(truncate(t, Grain::Day), ts("2025-02-19 00:00:00"));
        assert_eq!(truncate(t, Grain::Week), ts("2025-02-17 00:00:00"));
        assert_eq!(truncate(t, Grain::Month), ts("2025-02-01 00:00:00"));
        assert_eq!(truncate(t, Grain::Quarter), ts("2025-01-01 00:00:00"));
        assert_eq!(truncate(t, Grain::Year), ts("2025-01-01 00:00:00"));
    }

    #[test]
    fn coarser_groups_must_be_unions_of_cells() {
        let month = CellRule {
            k: 10,
            grain: Grain::Month,
        };
        assert!(month.unions_of_cells(Grain::Quarter));
        assert!(!month.unions_of_cells(Grain::Week));
        assert!(!month.unions_of_cells(Grain::Day));
        let day = CellRule {
            k: 10,
            grain: Grain::Day,
        };
        assert!(day.unions_of_cells(Grain::Week));
        assert!(!day.unions_of_cells(Grain::Hour));
        let week = CellRule {
            k: 10,
            grain: Grain::Week,
        };
        assert!(!week.unions_of_cells(Grain::Month));
    }
}

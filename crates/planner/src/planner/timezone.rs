//! Time zones and week starts for `metric_time`.
//!
//! Facts are stored as naive UTC timestamps. A query in another zone reads
//! each fact at its local time before truncating to a grain, and reads its
//! `time_range` as local times. Engines disagree on zone support (SQLite
//! has none, MariaDB's zone tables are usually empty), so the conversion is
//! computed here: chrono-tz gives the zone's UTC-offset transitions over the
//! range the query can touch, and the SQL is a binary tree of `CASE WHEN t <
//! transition` over those instants adding the offset in force — the same
//! arithmetic on every engine, exact across DST changes.
//!
//! Without a bounded range, transitions from 1970 to 2100 are covered; a
//! fact outside those years reads the offset in force at the nearest end.

use chrono::{Duration, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

use crate::catalog::DimensionKind;
use crate::diagnostics::closest;
use crate::query::{DimensionRef, SemanticQuery};
use crate::sql::ast::*;

use super::resolve::{ResolvedDim, apply_grain};
use super::spine::{self, WeekStart};
use super::{ErrorCode, PlanError};

/// The query's zone; `None` for UTC (no conversion at all).
pub fn zone(q: &SemanticQuery) -> Result<Option<Tz>, PlanError> {
    let Some(name) = q.time_zone.as_deref().map(str::trim) else {
        return Ok(None);
    };
    if name.eq_ignore_ascii_case("utc") || name == "Etc/UTC" {
        return Ok(None);
    }
    name.parse::<Tz>().map(Some).map_err(|_| {
        PlanError::new(
            ErrorCode::InvalidQuery,
            format!("unknown time zone `{name}` (use an IANA name such as `Europe/Berlin`)"),
        )
        .with_suggestions(closest(
            name,
            chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()),
        ))
        .at("time_zone")
    })
}

pub fn week_start(q: &SemanticQuery) -> Result<WeekStart, PlanError> {
    match &q.week_start {
        None => Ok(WeekStart::default()),
        Some(w) => WeekStart::parse(w).ok_or_else(|| {
            PlanError::new(ErrorCode::InvalidQuery, format!("unknown week_start `{w}`"))
                .with_suggestions(closest(w, WeekStart::NAMES))
                .at("week_start")
        }),
    }
}

fn offset_at(tz: Tz, utc: NaiveDateTime) -> i64 {
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// The UTC instant of a local time. In a gap (clocks jump forward) the
/// first instant after it; when a local time occurs twice, the first.
pub fn to_utc(tz: Option<Tz>, local: NaiveDateTime) -> NaiveDateTime {
    let Some(tz) = tz else { return local };
    let mut t = local;
    for _ in 0..48 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.naive_utc();
        }
        // Inside a gap: the gap's end is the next local time that exists.
        t += Duration::minutes(30);
    }
    local
}

/// Instants (UTC) in [from, to] at which the zone's offset changes, with
/// the offset from then on. Found by stepping a day at a time and bisecting
/// to the second where the offset differs.
fn transitions(tz: Tz, from: NaiveDateTime, to: NaiveDateTime) -> Vec<(NaiveDateTime, i64)> {
    let mut out = Vec::new();
    let mut t = from;
    let mut off = offset_at(tz, t);
    while t < to {
        let next = (t + Duration::days(1)).min(to);
        let o = offset_at(tz, next);
        if o != off {
            // Bisect on whole seconds: offsets change on second boundaries,
            // and halving a chrono Duration would leave nanoseconds behind.
            let secs = |d: NaiveDateTime| d.and_utc().timestamp();
            let at_secs = |s: i64| {
                chrono::DateTime::from_timestamp(s, 0)
                    .expect("within chrono's range")
                    .naive_utc()
            };
            let (mut lo, mut hi) = (secs(t), secs(next));
            // offset(lo) == off and offset(hi) != off throughout.
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(tz, at_secs(mid)) == off {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let at = at_secs(hi);
            out.push((at, offset_at(tz, at)));
            off = o;
        }
        t = next;
    }
    out
}

/// `utc` read as local time in `tz`, for facts within [from, to] (UTC).
pub fn local_expr(
    tz: Tz,
    utc: Expr,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
) -> Expr {
    let day = Duration::days(1);
    let from = from.map(|t| t - day).unwrap_or_else(|| {
        NaiveDate::from_ymd_opt(1970, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    });
    let to = to.map(|t| t + day).unwrap_or_else(|| {
        NaiveDate::from_ymd_opt(2100, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default()
    });
    let first = offset_at(tz, from);
    let mut pieces = vec![(None, first)];
    pieces.extend(
        transitions(tz, from, to)
            .into_iter()
            .map(|(t, o)| (Some(t), o)),
    );
    tree(&utc, &pieces)
}

/// Binary search over `pieces` (each: the instant it starts, its offset).
fn tree(utc: &Expr, pieces: &[(Option<NaiveDateTime>, i64)]) -> Expr {
    if pieces.len() == 1 {
        let off = pieces[0].1;
        return if off == 0 {
            utc.clone()
        } else {
            Expr::AddTime {
                expr: Box::new(utc.clone()),
                amount: off,
                unit: TimeUnit::Second,
            }
        };
    }
    let mid = pieces.len() / 2;
    let at = pieces[mid].0.unwrap_or_default();
    Expr::Case {
        operand: None,
        whens: vec![(
            Expr::binary(BinOp::Lt, utc.clone(), Expr::Lit(Literal::Timestamp(at))),
            tree(utc, &pieces[..mid]),
        )],
        otherwise: Some(Box::new(tree(utc, &pieces[mid..]))),
    }
}

/// `metric_time` for one scan: the measure's time read in the query's zone,
/// truncated to the grain with the query's week start. `range` is the
/// query's time_range in UTC.
pub fn metric_time(
    raw: Expr,
    kind: DimensionKind,
    r: &DimensionRef,
    q: &SemanticQuery,
    range: (Option<NaiveDateTime>, Option<NaiveDateTime>),
) -> Result<ResolvedDim, PlanError> {
    let local = match zone(q)? {
        Some(tz) => local_expr(tz, raw, range.0, range.1),
        None => raw,
    };
    let week = week_start(q)?;
    let d = apply_grain(local, kind, r)?;
    Ok(match d.expr {
        Expr::DateTrunc { grain, expr } => ResolvedDim {
            expr: spine::trunc(grain, *expr, week),
            kind: d.kind,
        },
        other => ResolvedDim {
            expr: other,
            kind: d.kind,
        },
    })
}

/// A `time_range` bound as written (`start` or `end`), or a clear error
/// naming the field.
pub fn parse_bound(text: &Option<String>, field: &str) -> Result<Option<NaiveDateTime>, PlanError> {
    let Some(t) = text else { return Ok(None) };
    crate::sql::convert::parse_timestamp(t)
        .map(Some)
        .ok_or_else(|| {
            PlanError::new(
                ErrorCode::InvalidQuery,
                format!("`{t}` is not a time (use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"),
            )
            .at(format!("time_range.{field}"))
        })
}

/// The query's `time_range` as the UTC instants facts are compared with:
/// each bound is written in the query's time zone. Every planner that
/// filters facts by the range (metrics, funnels, retention, attribution)
/// reads it here.
pub fn range_bounds(q: &SemanticQuery) -> Result<(Option<Expr>, Option<Expr>), PlanError> {
    let Some(tr) = &q.time_range else {
        return Ok((None, None));
    };
    let tz = zone(q)?;
    let bound = |text: &Option<String>, field: &str| -> Result<Option<Expr>, PlanError> {
        Ok(parse_bound(text, field)?.map(|local| Expr::Lit(Literal::Timestamp(to_utc(tz, local)))))
    };
    Ok((bound(&tr.start, "start")?, bound(&tr.end, "end")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn berlin_2024() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let t = transitions(tz, ts("2024-01-01 00:00:00"), ts("2025-01-01 00:00:00"));
        assert_eq!(
            t,
            vec![
                (ts("2024-03-31 01:00:00"), 7200),
                (ts("2024-10-27 01:00:00"), 3600)
            ]
        );
        assert_eq!(
            to_utc(Some(tz), ts("2024-04-01 00:00:00")),
            ts("2024-03-31 22:00:00")
        );
        // 02:30 does not exist on 2024-03-31 in Berlin.
        assert_eq!(
            to_utc(Some(tz), ts("2024-03-31 02:30:00")),
            ts("2024-03-31 01:00:00")
        );
    }
}

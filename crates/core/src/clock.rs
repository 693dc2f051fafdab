//! The wall clock, read in one place. Planning takes dates as input (see
//! `planner::PlanContext`); only the edges — a service answering a request,
//! a command run from a terminal, a scheduled check — read the time here.

use chrono::{NaiveDate, NaiveDateTime};

/// Today's date in UTC.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Now, in UTC, without a zone.
pub fn utc_now() -> NaiveDateTime {
    chrono::Utc::now().naive_utc()
}

/// Now as RFC 3339 to the second (`2026-01-31T12:00:00Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

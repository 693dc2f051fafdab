//! Funnels and retention analyses as validated definitions (`funnels:` and
//! `retention:` sections). The semantics are documented in
//! `docs/analysis.md`; the SQL is laid out by `planner::funnel` and
//! `planner::retention`.

use serde::Serialize;

use super::ModelId;
use crate::diagnostics::SourcePos;
use crate::sql::ast::Expr;

/// The rows of one model that count as one kind of event.
#[derive(Debug, Clone)]
pub struct EventSource {
    pub name: String,
    pub model: ModelId,
    /// Over dimensions (`Expr::Ref`s, bare names meaning the model's own),
    /// resolved per query like a metric filter.
    pub filter: Option<Expr>,
    pub filter_text: Option<String>,
    /// Index of the model's time dimension that orders the events.
    pub time: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelOrder {
    /// Steps in order, other events allowed between them.
    Ordered,
    /// Each step the very next event of the subject among the rows of the
    /// step models.
    Strict,
    /// Steps in any order within the window of the first event.
    Unordered,
}

impl FunnelOrder {
    pub const NAMES: [&'static str; 3] = ["ordered", "strict", "unordered"];

    pub fn parse(s: &str) -> Option<FunnelOrder> {
        Some(match s {
            "ordered" => FunnelOrder::Ordered,
            "strict" => FunnelOrder::Strict,
            "unordered" => FunnelOrder::Unordered,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            FunnelOrder::Ordered => "ordered",
            FunnelOrder::Strict => "strict",
            FunnelOrder::Unordered => "unordered",
        }
    }
}

/// An event that, between two steps of a subject's path, removes the
/// subject from the funnel.
#[derive(Debug, Clone)]
pub struct Exclusion {
    pub event: EventSource,
    /// 0-based step indexes: the exclusion counts strictly between the
    /// times of these two steps' events.
    pub after: usize,
    pub before: usize,
}

#[derive(Debug, Clone)]
pub struct Funnel {
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    /// Entity name every step model has (single key): who converts.
    pub subject: String,
    pub steps: Vec<EventSource>,
    pub window_seconds: i64,
    /// As written (`1 day`), for listings.
    pub window_text: String,
    pub order: FunnelOrder,
    pub exclusions: Vec<Exclusion>,
    /// A dimension reference resolved from the first step's model.
    pub breakdown: Option<String>,
    /// Where `stitched: true` was written: subjects are people through the
    /// identity map (see `planner::stitch`).
    pub stitched_at: Option<SourcePos>,
    pub pos: SourcePos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionPeriod {
    Day,
    Week,
    Month,
}

impl RetentionPeriod {
    pub const NAMES: [&'static str; 3] = ["day", "week", "month"];

    pub fn parse(s: &str) -> Option<RetentionPeriod> {
        Some(match s {
            "day" => RetentionPeriod::Day,
            "week" => RetentionPeriod::Week,
            "month" => RetentionPeriod::Month,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            RetentionPeriod::Day => "day",
            RetentionPeriod::Week => "week",
            RetentionPeriod::Month => "month",
        }
    }
}

/// Who forms a cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CohortKind {
    /// A subject belongs to one cohort: the period of its first cohort event.
    FirstTime,
    /// A subject belongs to the cohort of every period with a cohort event.
    Recurring,
}

impl CohortKind {
    pub const NAMES: [&'static str; 2] = ["first_time", "recurring"];

    pub fn parse(s: &str) -> Option<CohortKind> {
        Some(match s {
            "first_time" => CohortKind::FirstTime,
            "recurring" => CohortKind::Recurring,
            _ => return None,
        })
    }
}

/// What "retained in period N" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionMode {
    /// A return event in period N.
    On,
    /// A return event in period N or any later period.
    OnOrAfter,
}

impl RetentionMode {
    pub const NAMES: [&'static str; 2] = ["on", "on_or_after"];

    pub fn parse(s: &str) -> Option<RetentionMode> {
        Some(match s {
            "on" => RetentionMode::On,
            "on_or_after" => RetentionMode::OnOrAfter,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Retention {
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub subject: String,
    pub cohort: EventSource,
    pub returns: EventSource,
    pub period: RetentionPeriod,
    /// Period numbers run from 0 to `periods`.
    pub periods: u32,
    pub cohort_kind: CohortKind,
    pub mode: RetentionMode,
    /// A dimension reference resolved from the cohort event's model.
    pub group_by: Option<String>,
    /// Where `stitched: true` was written (see [`Funnel::stitched_at`]).
    pub stitched_at: Option<SourcePos>,
    pub pos: SourcePos,
}

/// Every funnel and retention analysis of one definitions version.
#[derive(Debug, Clone, Default)]
pub struct Analyses {
    pub funnels: Vec<Funnel>,
    pub retention: Vec<Retention>,
}

impl Analyses {
    pub fn funnel(&self, name: &str) -> Option<&Funnel> {
        self.funnels.iter().find(|f| f.name == name)
    }

    pub fn retention(&self, name: &str) -> Option<&Retention> {
        self.retention.iter().find(|r| r.name == name)
    }
}

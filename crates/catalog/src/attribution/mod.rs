//! Attribution models as governed definitions: the validated shape of one
//! `attribution:` instance (`linear_30d`, `time_decay_30d`, ...). The
//! definitions loader builds them (`definitions::validate_attribution`), the
//! planner compiles a query that names them (`planner::attribution`).
//!
//! An instance says which touches (a model with a time, a channel and other
//! dimensions) may take credit for which conversions (the fact rows of one
//! simple sum/count metric), for whom (the subject entity both models carry),
//! within which lookback, and how the credit is split (the model).

use serde::Serialize;

use crate::catalog::{MetricId, ModelId};
use crate::diagnostics::SourcePos;

/// How one conversion's credit is split over its path of touches (oldest
/// first). Every model gives a path of one touch 100%.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "model")]
pub enum AttributionModel {
    FirstTouch,
    LastTouch,
    /// The last touch whose channel is not a direct channel; a path of
    /// direct touches only credits its last one.
    LastNonDirect,
    Linear,
    /// `first` and `last` shares (fractions), the rest split evenly over the
    /// middle touches; two touches split 50/50.
    PositionBased {
        first: f64,
        last: f64,
    },
    /// A touch's weight halves every `half_life_days` before the last touch
    /// of the path.
    TimeDecay {
        half_life_days: f64,
    },
}

impl AttributionModel {
    pub const NAMES: [&'static str; 6] = [
        "first_touch",
        "last_touch",
        "last_non_direct",
        "linear",
        "position_based",
        "time_decay",
    ];

    pub fn name(&self) -> &'static str {
        match self {
            AttributionModel::FirstTouch => "first_touch",
            AttributionModel::LastTouch => "last_touch",
            AttributionModel::LastNonDirect => "last_non_direct",
            AttributionModel::Linear => "linear",
            AttributionModel::PositionBased { .. } => "position_based",
            AttributionModel::TimeDecay { .. } => "time_decay",
        }
    }
}

/// Which touches before a conversion count: those within `days` (inclusive,
/// up to and including the conversion's time) and, of those, the most recent
/// `touches`. Validation guarantees at least one bound is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lookback {
    pub days: Option<u32>,
    pub touches: Option<u32>,
}

/// The model whose rows are touches, and the dimensions an attributed query
/// may group by.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TouchSource {
    pub model: ModelId,
    /// Index of the touch time dimension.
    pub time: usize,
    /// Index of the channel dimension (direct handling reads it).
    pub channel: usize,
    /// Indexes of the groupable dimensions, the channel first.
    pub dimensions: Vec<usize>,
}

/// One validated attribution instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attribution {
    pub name: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub model: AttributionModel,
    /// The simple sum/count metric whose fact rows are the conversions.
    pub conversion: MetricId,
    pub touches: TouchSource,
    /// Entity naming the person on both the conversion and the touch model.
    pub subject: String,
    pub lookback: Lookback,
    /// Channel values credited only when a path has no other touch.
    pub direct_channels: Vec<String>,
    /// Credit is exact to this many decimal places (see docs/attribution.md).
    pub decimals: u32,
    /// Conversions and touches are people's through the identity map.
    pub stitched: bool,
    #[serde(skip)]
    pub pos: SourcePos,
}

/// The label a categorical touch dimension takes on the row of conversions
/// that had no touch in their window.
pub const UNATTRIBUTED: &str = "(unattributed)";

impl crate::catalog::Catalog {
    pub fn attribution(&self, name: &str) -> Option<&Attribution> {
        self.attributions.iter().find(|a| a.name == name)
    }
}

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

/// The instances a caller may use, for catalog listings (`GET /v1/catalog`):
/// those whose conversion metric and touch time and channel it may see.
/// Whether the caller may use an instance: its conversion metric and the
/// touches' time and channel (crediting reads them) visible. Planning and
/// listings agree through this one test, so an instance the caller may not
/// use is unknown, never "forbidden".
pub fn visible(
    catalog: &crate::catalog::Catalog,
    access: &crate::access::Access,
    a: &Attribution,
) -> bool {
    let tm = catalog.model(a.touches.model);
    access.metric_visible(a.conversion)
        && [a.touches.time, a.touches.channel]
            .iter()
            .all(|i| access.dimension_visible(tm.id, &tm.dimensions[*i].name))
}

pub fn listing(
    catalog: &crate::catalog::Catalog,
    access: &crate::access::Access,
) -> Vec<serde_json::Value> {
    catalog
        .attributions
        .iter()
        .filter(|a| visible(catalog, access, a))
        .map(|a| {
            let tm = catalog.model(a.touches.model);
            let mut dims = Vec::new();
            if access.metric_time_visible() {
                dims.push("metric_time".to_string());
            }
            dims.push(format!(
                "{}.{}",
                tm.name, tm.dimensions[a.touches.time].name
            ));
            dims.extend(
                a.touches
                    .dimensions
                    .iter()
                    .map(|i| &tm.dimensions[*i].name)
                    .filter(|n| access.dimension_visible(tm.id, n))
                    .map(|n| format!("{}.{n}", tm.name)),
            );
            serde_json::json!({
                "name": a.name,
                "description": a.description,
                "owner": a.owner,
                "model": a.model,
                "conversion": catalog.metric(a.conversion).qualified_name(),
                "touch_model": tm.name,
                "dimensions": dims,
                "subject": a.subject,
                "lookback": a.lookback,
                "direct_channels": a.direct_channels,
                "decimals": a.decimals,
                "stitched": a.stitched,
            })
        })
        .collect()
}

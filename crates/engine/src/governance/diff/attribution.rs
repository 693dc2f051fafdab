//! The attribution section: one item per instance. How credit is split,
//! for which conversions, from which touches, within which lookback — all
//! change the credited numbers (breaking); a new groupable touch dimension
//! does not.

use super::change::{Class, Impact, ItemKind};
use super::engine::Section;
use super::fields::{Field, Fields, Rule};
use super::text::dim_name;
use crate::attribution::{Attribution, AttributionModel};
use crate::catalog::Catalog;

fn model_text(m: &AttributionModel) -> String {
    match m {
        AttributionModel::PositionBased { first, last } => {
            format!("position_based (first {first}, last {last})")
        }
        AttributionModel::TimeDecay { half_life_days } => {
            format!("time_decay (half life {half_life_days} days)")
        }
        other => other.name().to_string(),
    }
}

pub struct Attributions;

impl Section for Attributions {
    type Item<'c> = &'c Attribution;
    const KIND: ItemKind = ItemKind::Attribution;

    fn items<'c>(&self, this: &'c Catalog, _other: &Catalog) -> Vec<(String, &'c Attribution)> {
        this.attributions
            .iter()
            .map(|a| (a.name.clone(), a))
            .collect()
    }

    fn fields(&self, c: &Catalog, a: &&Attribution) -> Vec<Field> {
        let tm = c.model(a.touches.model);
        let opt = |v: Option<u32>| v.map(|n| n.to_string());
        let mut f = Fields::new();
        f.breaking("model", model_text(&a.model))
            .breaking("conversion", c.metric(a.conversion).qualified_name())
            .breaking("touches", &tm.name)
            .breaking("touch time", dim_name(tm, a.touches.time))
            .breaking("channel", dim_name(tm, a.touches.channel))
            .breaking("subject", &a.subject)
            .add("lookback days", opt(a.lookback.days), Rule::Breaking)
            .add("lookback touches", opt(a.lookback.touches), Rule::Breaking)
            .breaking("direct_channels", a.direct_channels.join(", "))
            .breaking("decimals", a.decimals)
            .breaking("stitched", a.stitched);
        for i in &a.touches.dimensions {
            // A new dimension to group by is an addition; one gone breaks
            // the queries grouping by it.
            f.add(
                format!("dimension {}", dim_name(tm, *i)),
                Some("groupable".into()),
                Rule::Custom(|_, after| match after {
                    None => Class::Breaking,
                    Some(_) => Class::NonBreaking,
                }),
            );
        }
        f.info("description", &a.description)
            .info("owner", &a.owner);
        f.0
    }

    fn impact(&self, c: &Catalog, a: &&Attribution) -> Impact {
        Impact {
            metrics: vec![c.metric(a.conversion).qualified_name()],
            definitions: Vec::new(),
        }
    }
}

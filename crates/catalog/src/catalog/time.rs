//! Time intelligence in the catalog: cumulative windows, period offsets of
//! metric inputs and conversion metrics, as validated definitions. How they
//! compile is [`crate::planner`]'s business (`planner::timeintel`).

use std::fmt;

use super::{Catalog, Grain, MetricId, MetricKind, ModelId};
use crate::sql::ast::{Expr, TimeUnit};

/// `7 days`, `1 month`: a whole number of calendar units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSpan {
    pub amount: u32,
    pub unit: Grain,
}

impl TimeSpan {
    /// Parses `N unit` with the unit singular or plural (`1 day`, `7 days`).
    pub fn parse(text: &str) -> Result<TimeSpan, String> {
        let mut parts = text.split_whitespace();
        let (Some(n), Some(u), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "`{text}` is not a time span; write a number and a unit, e.g. `7 days` or `1 month`"
            ));
        };
        let amount: u32 = n
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("`{n}` in `{text}` must be a whole number above 0"))?;
        let singular = u.to_ascii_lowercase();
        let singular = singular.strip_suffix('s').unwrap_or(&singular);
        let unit = Grain::parse(singular).ok_or_else(|| format!("unknown time unit `{u}`"))?;
        Ok(TimeSpan { amount, unit })
    }

    /// The unit names a span accepts, for suggestions.
    pub fn unit_names() -> Vec<String> {
        Grain::ALL
            .iter()
            .flat_map(|g| [g.name().to_string(), format!("{}s", g.name())])
            .collect()
    }

    /// How many periods of `grain` this span is, when it is a whole number
    /// of them on every calendar (`2 weeks` = 14 days, `1 year` = 4
    /// quarters); `None` when it is not (`1 month` in days, `7 days` in
    /// months).
    pub fn periods_of(self, grain: Grain) -> Option<u64> {
        let amount = u64::from(self.amount);
        if let Some(per) = units_per(self.unit, grain) {
            return Some(amount * per);
        }
        // `14 days` is 2 weeks, `48 hours` 2 days.
        let k = units_per(grain, self.unit)?;
        (amount % k == 0).then_some(amount / k)
    }

    pub fn time_unit(self) -> TimeUnit {
        grain_unit(self.unit)
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.amount == 1 { "" } else { "s" };
        write!(f, "{} {}{s}", self.amount, self.unit)
    }
}

/// How many `fine` periods one `coarse` period always holds.
pub fn units_per(coarse: Grain, fine: Grain) -> Option<u64> {
    use Grain::*;
    Some(match (coarse, fine) {
        (a, b) if a == b => 1,
        (Day, Hour) => 24,
        (Week, Hour) => 24 * 7,
        (Week, Day) => 7,
        (Quarter, Month) => 3,
        (Year, Month) => 12,
        (Year, Quarter) => 4,
        _ => return None,
    })
}

/// The interval unit of one period of a grain.
pub fn grain_unit(g: Grain) -> TimeUnit {
    match g {
        Grain::Hour => TimeUnit::Hour,
        Grain::Day => TimeUnit::Day,
        Grain::Week => TimeUnit::Week,
        Grain::Month => TimeUnit::Month,
        Grain::Quarter => TimeUnit::Quarter,
        Grain::Year => TimeUnit::Year,
    }
}

/// What a cumulative metric adds up at each period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CumulativeWindow {
    /// Everything up to and including the period.
    RunningTotal,
    /// The trailing span ending with the period (`7 days`: the period and
    /// the six before it at day grain).
    Trailing(TimeSpan),
    /// From the start of the enclosing `grain` (month to date).
    GrainToDate(Grain),
}

impl CumulativeWindow {
    pub fn describe(self) -> String {
        match self {
            CumulativeWindow::RunningTotal => "running total".into(),
            CumulativeWindow::Trailing(s) => format!("trailing {s}"),
            CumulativeWindow::GrainToDate(g) => format!("{g} to date"),
        }
    }
}

/// A derived metric's input read at another period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeOffset {
    /// The value `span` earlier (`1 month`: the previous month).
    Window(TimeSpan),
    /// The value at the first period of the enclosing grain.
    ToGrain(Grain),
}

impl TimeOffset {
    pub fn describe(self) -> String {
        match self {
            TimeOffset::Window(s) => format!("offset_window {s}"),
            TimeOffset::ToGrain(g) => format!("offset_to_grain {g}"),
        }
    }
}

/// Whether a conversion metric answers with the number of converted base
/// events or their share of all base events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversionCalc {
    Count,
    Rate,
}

impl ConversionCalc {
    pub const NAMES: [&'static str; 2] = ["count", "rate"];
}

/// A pair of dimensions that must be equal on the base and the conversion
/// event (e.g. the same product).
#[derive(Debug, Clone)]
pub struct ConstantProperty {
    pub base: Expr,
    pub conversion: Expr,
    pub base_name: String,
    pub conversion_name: String,
}

/// Base event → conversion event by the same entity within a window. Each
/// base event counts at most once; a conversion at exactly `base time +
/// window` counts (the window is closed on both ends).
#[derive(Debug, Clone)]
pub struct Conversion {
    /// The measure counting base events (`count` or `count_distinct`).
    pub base_model: ModelId,
    pub base_measure: usize,
    /// The measure whose model's rows are the conversion events.
    pub conversion_model: ModelId,
    pub conversion_measure: usize,
    pub entity: String,
    /// Key expressions of `entity` on each model (one column each).
    pub base_key: Expr,
    pub conversion_key: Expr,
    /// Time dimension (index) of each side.
    pub base_time: usize,
    pub conversion_time: usize,
    pub window: TimeSpan,
    pub calculation: ConversionCalc,
    pub constant_properties: Vec<ConstantProperty>,
}

/// The grain a time-intelligent metric is validated at: the finest its
/// windows and offsets allow (day, or month for monthly spans).
pub fn natural_grain(catalog: &Catalog, id: MetricId) -> Option<Grain> {
    if !crate::definitions::time_intelligent(catalog, id, 0) {
        return None;
    }
    let mut needs = Vec::new();
    collect_needs(catalog, id, &mut needs, 0);
    [Grain::Day, Grain::Month, Grain::Quarter, Grain::Year]
        .into_iter()
        .find(|g| {
            needs.iter().all(|(unit, span)| {
                if *span {
                    units_per(*unit, *g).is_some()
                } else {
                    nests(*unit, *g)
                }
            })
        })
        .or(Some(Grain::Year))
}

/// Each window or offset unit, and whether it is a span (`true`: must be a
/// whole number of periods) or a to-grain (`false`: periods must nest).
fn collect_needs(catalog: &Catalog, id: MetricId, out: &mut Vec<(Grain, bool)>, depth: usize) {
    if depth > 64 {
        return;
    }
    match &catalog.metric(id).kind {
        MetricKind::Cumulative { window, .. } => match window {
            CumulativeWindow::RunningTotal => {}
            CumulativeWindow::Trailing(s) => out.push((s.unit, true)),
            CumulativeWindow::GrainToDate(g) => out.push((*g, false)),
        },
        MetricKind::Ratio {
            numerator,
            denominator,
        } => {
            collect_needs(catalog, numerator.metric, out, depth + 1);
            collect_needs(catalog, denominator.metric, out, depth + 1);
        }
        MetricKind::Derived { inputs, .. } => {
            for i in inputs {
                match i.offset {
                    Some(TimeOffset::Window(s)) => out.push((s.unit, true)),
                    Some(TimeOffset::ToGrain(g)) => out.push((g, false)),
                    None => {}
                }
                collect_needs(catalog, i.metric, out, depth + 1);
            }
        }
        MetricKind::Simple { .. } | MetricKind::Conversion(_) => {}
    }
}

/// Every period boundary of `coarse` is one of `fine` (days nest in
/// months; weeks do not).
pub fn nests(coarse: Grain, fine: Grain) -> bool {
    use Grain::*;
    match fine {
        Hour | Day => true,
        Week => coarse == Week,
        Month => matches!(coarse, Month | Quarter | Year),
        Quarter => matches!(coarse, Quarter | Year),
        Year => coarse == Year,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        let s = TimeSpan::parse("7 days").unwrap();
        assert_eq!(s.unit, Grain::Day);
        assert_eq!(s.periods_of(Grain::Day), Some(7));
        assert_eq!(s.periods_of(Grain::Hour), Some(168));
        assert_eq!(s.periods_of(Grain::Month), None);
        assert_eq!(s.periods_of(Grain::Week), Some(1));
        assert_eq!(
            TimeSpan::parse("10 days").unwrap().periods_of(Grain::Week),
            None
        );
        assert_eq!(
            TimeSpan::parse("1 year").unwrap().periods_of(Grain::Month),
            Some(12)
        );
        assert!(TimeSpan::parse("7 fortnights").is_err());
        assert!(TimeSpan::parse("0 days").is_err());
        assert!(TimeSpan::parse("days").is_err());
        assert_eq!(TimeSpan::parse("1 month").unwrap().to_string(), "1 month");
    }
}

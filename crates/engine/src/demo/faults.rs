//! Deliberate faults in generated demo data, for showing and testing the
//! data quality checks (`accord demo init --inject-fault KIND`). Each fault
//! breaks "yesterday's load" — the last day of the demo year, 2025-12-31 —
//! so the demo checks evaluated at [`DEMO_NOW`] catch it. Faults are pure
//! functions of the data: the same data and fault give the same rows.

use chrono::{NaiveDate, NaiveDateTime};

use super::model::{DemoData, Order, OrderItem};

/// The instant the demo checks are evaluated at: midnight after the last
/// generated day (what `checks.now` in the demo accord.yaml says).
pub const DEMO_NOW: &str = "2026-01-01T00:00:00";

/// A spike re-loads this many days of orders onto the fault day.
pub const SPIKE_DAYS: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Fault {
    /// The last day's events, sessions, orders and marketing touches have
    /// not arrived.
    #[value(name = "late_day")]
    LateDay,
    /// The two weeks of orders before the last day are loaded again, dated
    /// on the last day (a backfill into the wrong partition).
    #[value(name = "spike")]
    Spike,
    /// The last day's web and app orders lost their session key.
    #[value(name = "null_keys")]
    NullKeys,
    /// The last day's orders point at customers that do not exist.
    #[value(name = "orphans")]
    Orphans,
}

impl Fault {
    pub const ALL: [Fault; 4] = [
        Fault::LateDay,
        Fault::Spike,
        Fault::NullKeys,
        Fault::Orphans,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::LateDay => "late_day",
            Fault::Spike => "spike",
            Fault::NullKeys => "null_keys",
            Fault::Orphans => "orphans",
        }
    }
}

/// The day every fault breaks: the last day of the generated year.
pub fn fault_day() -> NaiveDate {
    super::time_range().1.date()
}

fn on_day(t: NaiveDateTime) -> bool {
    t.date() == fault_day()
}

/// Applies `fault` to `data` and says what changed.
pub fn inject(data: &mut DemoData, fault: Fault) -> String {
    let day = fault_day();
    match fault {
        Fault::LateDay => {
            let before = (
                data.events.len(),
                data.sessions.len(),
                data.orders.len(),
                data.marketing_touches.len(),
            );
            data.events.retain(|e| !on_day(e.occurred_at));
            data.sessions.retain(|s| !on_day(s.started_at));
            let gone: std::collections::BTreeSet<i64> = data
                .orders
                .iter()
                .filter(|o| on_day(o.ordered_at))
                .map(|o| o.order_id)
                .collect();
            data.orders.retain(|o| !gone.contains(&o.order_id));
            data.order_items.retain(|i| !gone.contains(&i.order_id));
            data.marketing_touches.retain(|t| !on_day(t.touched_at));
            format!(
                "fault late_day: {day} not loaded (removed {} events, {} sessions, {} orders, {} marketing touches)",
                before.0 - data.events.len(),
                before.1 - data.sessions.len(),
                before.2 - data.orders.len(),
                before.3 - data.marketing_touches.len()
            )
        }
        Fault::Spike => {
            // A backfill loaded into the wrong day: the orders (and items)
            // of the SPIKE_DAYS days before are copied onto the fault day,
            // each at its own time of day, with new ids.
            let from = day - chrono::Duration::days(SPIKE_DAYS);
            let originals: Vec<Order> = data
                .orders
                .iter()
                .filter(|o| o.ordered_at.date() >= from && o.ordered_at.date() < day)
                .cloned()
                .collect();
            let ids: std::collections::BTreeSet<i64> =
                originals.iter().map(|o| o.order_id).collect();
            let mut items_of: std::collections::BTreeMap<i64, Vec<OrderItem>> =
                std::collections::BTreeMap::new();
            for i in data
                .order_items
                .iter()
                .filter(|i| ids.contains(&i.order_id))
            {
                items_of.entry(i.order_id).or_default().push(i.clone());
            }
            let first_order = data.orders.iter().map(|o| o.order_id).max().unwrap_or(0) + 1;
            let mut next_item = data
                .order_items
                .iter()
                .map(|i| i.order_item_id)
                .max()
                .unwrap_or(0)
                + 1;
            for (next_order, o) in (first_order..).zip(&originals) {
                let mut copy = o.clone();
                copy.order_id = next_order;
                copy.ordered_at = day.and_time(o.ordered_at.time());
                if let Some(r) = copy.refunded_at {
                    copy.refunded_at = Some(r + (copy.ordered_at - o.ordered_at));
                }
                for mut item in items_of.get(&o.order_id).cloned().unwrap_or_default() {
                    item.order_id = next_order;
                    item.order_item_id = next_item;
                    next_item += 1;
                    data.order_items.push(item);
                }
                data.orders.push(copy);
            }
            format!(
                "fault spike: the {} orders of the {SPIKE_DAYS} days before {day} loaded again on {day}",
                originals.len()
            )
        }
        Fault::NullKeys => {
            let mut n = 0;
            for o in data
                .orders
                .iter_mut()
                .filter(|o| on_day(o.ordered_at) && o.session_id.is_some())
            {
                o.session_id = None;
                n += 1;
            }
            format!("fault null_keys: {n} orders of {day} lost their session_id")
        }
        Fault::Orphans => {
            let unknown = data
                .customers
                .iter()
                .map(|c| c.customer_id)
                .max()
                .unwrap_or(0)
                + 1_000_000;
            let mut n = 0;
            for (id, o) in (unknown..).zip(data.orders.iter_mut().filter(|o| on_day(o.ordered_at)))
            {
                o.customer_id = id;
                n += 1;
            }
            format!("fault orphans: {n} orders of {day} point at customers that do not exist")
        }
    }
}

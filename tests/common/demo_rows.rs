//! Expectations computed from the demo generator's rows (scale 1, seed 42),
//! the data every demo warehouse holds, independently of accord's SQL.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;

use accord::demo::{Customer, DemoConfig, DemoData, Order};
use rust_decimal::Decimal;

pub fn demo() -> &'static DemoData {
    static D: OnceLock<DemoData> = OnceLock::new();
    D.get_or_init(|| accord::demo::generate(&DemoConfig { scale: 1, seed: 42 }))
}

pub fn customer(id: i64) -> &'static Customer {
    static IDX: OnceLock<HashMap<i64, usize>> = OnceLock::new();
    let idx = IDX.get_or_init(|| {
        demo()
            .customers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.customer_id, i))
            .collect()
    });
    &demo().customers[idx[&id]]
}

/// Customers the demo's suppression list leaves out of every number.
pub fn suppressed(customer_id: i64) -> bool {
    static S: OnceLock<BTreeSet<i64>> = OnceLock::new();
    S.get_or_init(|| {
        let defs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("metric_defs");
        let catalog = accord::definitions::load_dir(&defs).expect("demo definitions");
        let on = catalog
            .consent
            .as_ref()
            .is_some_and(|c| c.suppression.is_some());
        if on {
            demo()
                .erasure_requests
                .iter()
                .map(|e| e.customer_id)
                .collect()
        } else {
            BTreeSet::new()
        }
    })
    .contains(&customer_id)
}

/// `revenue`: amounts of orders that are not cancelled, per country, for
/// the orders `keep` accepts.
pub fn revenue_where(keep: impl Fn(&Order, &Customer) -> bool) -> BTreeMap<String, Decimal> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for o in &demo().orders {
        if o.status == "cancelled" || suppressed(o.customer_id) {
            continue;
        }
        let c = customer(o.customer_id);
        if keep(o, c) {
            *sums.entry(c.country.to_string()).or_default() += o.amount;
        }
    }
    sums
}

//! Everything the cases compare against, computed here from the
//! generator's rows (`accord::demo::generate`, scale 1, seed 42) and the
//! demo definitions — never read back from the server under test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use accord::demo::{Customer, DemoConfig, DemoData, Order};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};
use rust_decimal::Decimal;
use serde_json::Value as Json;

use super::auth;

pub fn demo() -> &'static DemoData {
    static D: OnceLock<DemoData> = OnceLock::new();
    D.get_or_init(|| accord::demo::generate(&DemoConfig { scale: 1, seed: 42 }))
}

fn customers() -> &'static HashMap<i64, &'static Customer> {
    static C: OnceLock<HashMap<i64, &'static Customer>> = OnceLock::new();
    C.get_or_init(|| {
        demo()
            .customers
            .iter()
            .map(|c| (c.customer_id, c))
            .collect()
    })
}

fn customer(id: i64) -> &'static Customer {
    customers()[&id]
}

/// The demo's suppression list (erasure requests): never counted.
fn suppressed() -> &'static BTreeSet<i64> {
    static S: OnceLock<BTreeSet<i64>> = OnceLock::new();
    S.get_or_init(|| {
        demo()
            .erasure_requests
            .iter()
            .map(|e| e.customer_id)
            .collect()
    })
}

/// Orders `revenue` and `orders` count: not cancelled, not suppressed.
pub fn live_orders() -> impl Iterator<Item = &'static Order> {
    demo()
        .orders
        .iter()
        .filter(|o| o.status != "cancelled" && !suppressed().contains(&o.customer_id))
}

fn sum(orders: impl Iterator<Item = &'static Order>) -> Decimal {
    orders.map(|o| o.amount).sum()
}

fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

fn by_country(keep: impl Fn(&Customer) -> bool) -> Vec<Vec<String>> {
    let mut m: BTreeMap<&str, Decimal> = BTreeMap::new();
    for o in live_orders() {
        let c = customer(o.customer_id);
        if keep(c) {
            *m.entry(c.country).or_default() += o.amount;
        }
    }
    m.into_iter()
        .map(|(k, v)| vec![k.to_string(), num(v)])
        .collect()
}

/// Rows for `rows_equal: KEY`.
pub fn rows(key: &str) -> Option<Vec<Vec<String>>> {
    let de = |c: &Customer| c.country == "DE";
    Some(match key {
        "none" => vec![],
        "revenue_total" => vec![vec![num(sum(live_orders()))]],
        "revenue_de" => vec![vec![num(sum(
            live_orders().filter(|o| de(customer(o.customer_id)))
        ))]],
        "revenue_by_country_de" => by_country(de),
        "revenue_by_country_eu" => by_country(|c| c.region == "EU"),
        "revenue_by_country_all" => by_country(|_| true),
        _ => return None,
    })
}

/// Values no cell may equal, for `forbidden_values: KEY`.
pub fn forbidden(key: &str) -> Option<BTreeSet<String>> {
    match key {
        // A mask that is plain MD5 is reversible by lookup: neither the
        // emails nor their MD5 may be shown.
        "emails_and_md5" => Some(
            demo()
                .customers
                .iter()
                .flat_map(|c| [c.email.clone(), auth::md5_hex(&c.email)])
                .collect(),
        ),
        _ => None,
    }
}

/// The customers who bought (live orders), by id: `email|N` picks the Nth.
fn buyer(n: usize) -> &'static Customer {
    let ids: BTreeSet<i64> = live_orders().map(|o| o.customer_id).collect();
    customer(*ids.iter().nth(n).expect("enough buyers"))
}

/// A (month, country) whose group has 2..=9 buyers while the month has
/// many more: the by-country answer suppresses it, so a difference of two
/// answers must not reveal it.
pub struct SmallGroup {
    pub month: NaiveDate,
    pub next_month: NaiveDate,
    pub country: &'static str,
    pub buyers: usize,
    /// An hour late in the month with exactly one live order.
    pub hour: NaiveDateTime,
    /// Buyers of the month before that hour (10 or more: answered).
    pub buyers_before_hour: usize,
}

pub fn small_group() -> &'static SmallGroup {
    static G: OnceLock<SmallGroup> = OnceLock::new();
    G.get_or_init(find_small_group)
}

fn month_of(t: NaiveDateTime) -> NaiveDate {
    NaiveDate::from_ymd_opt(t.year(), t.month(), 1).expect("a month")
}

fn find_small_group() -> SmallGroup {
    let mut buyers: BTreeMap<(NaiveDate, &str), BTreeSet<i64>> = BTreeMap::new();
    let mut month_buyers: BTreeMap<NaiveDate, BTreeSet<i64>> = BTreeMap::new();
    for o in live_orders() {
        let m = month_of(o.ordered_at);
        buyers
            .entry((m, customer(o.customer_id).country))
            .or_default()
            .insert(o.customer_id);
        month_buyers.entry(m).or_default().insert(o.customer_id);
    }
    let small: Vec<_> = buyers
        .iter()
        .filter(|((m, _), b)| (2..10).contains(&b.len()) && month_buyers[m].len() >= b.len() + 10)
        .collect();
    if std::env::var("ATTACK_EXPLORE").is_ok() {
        for ((m, c), b) in &small {
            println!(
                "small group {m} {c}: {} buyers of {}",
                b.len(),
                month_buyers[m].len()
            );
        }
    }
    // The example: the earliest month, its smallest group.
    let ((month, country), who) = small
        .into_iter()
        .min_by_key(|((m, _), b)| (*m, b.len()))
        .expect("a small (month, country) group in the demo data");
    let next_month = (*month + Duration::days(32)).with_day(1).expect("a day");
    let hour = lonely_hour(*month);
    let before: BTreeSet<i64> = live_orders()
        .filter(|o| month_of(o.ordered_at) == *month && o.ordered_at < hour)
        .map(|o| o.customer_id)
        .collect();
    SmallGroup {
        month: *month,
        next_month,
        country,
        buyers: who.len(),
        hour,
        buyers_before_hour: before.len(),
    }
}

/// The last hour of the month holding exactly one live order.
fn lonely_hour(month: NaiveDate) -> NaiveDateTime {
    let mut per_hour: BTreeMap<NaiveDateTime, usize> = BTreeMap::new();
    for o in live_orders().filter(|o| month_of(o.ordered_at) == month) {
        let h = o.ordered_at.with_minute(0).and_then(|t| t.with_second(0));
        *per_hour.entry(h.expect("an hour")).or_default() += 1;
    }
    per_hour
        .iter()
        .rev()
        .find(|(_, n)| **n == 1)
        .map(|(h, _)| *h)
        .expect("an hour with one order")
}

/// Values the case files name as `«NAME|ARG»`.
pub fn lookup(name: &str, args: &[&str]) -> Option<String> {
    let g = small_group;
    let ts = |t: NaiveDateTime| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nth = || {
        args.first()
            .and_then(|a| a.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Some(match name {
        "secret" => accord::auth::DEV_SECRET.to_string(),
        "k_country" => g().country.to_string(),
        "k_month_start" => g().month.to_string(),
        "k_month_end" => g().next_month.to_string(),
        "k_hour_start" => ts(g().hour),
        "k_hour_end" => ts(g().hour + Duration::hours(1)),
        "email" => buyer(nth()).email.clone(),
        "md5_email" => auth::md5_hex(&buyer(nth()).email),
        _ => return None,
    })
}

/// The names a listing (catalog, GraphQL models, pg tables) may show
/// `role`: the models of the metrics and dimensions the role includes.
fn listable_models(role: &str) -> BTreeSet<String> {
    use accord::catalog::policy::MemberRef;
    let catalog = super::common::demo_catalog();
    let r = catalog
        .roles
        .iter()
        .find(|r| r.name == role)
        .expect("a demo role");
    let mut out = BTreeSet::new();
    for member in r.include.as_deref().unwrap_or_default() {
        match member {
            MemberRef::Metric { name } => {
                for m in catalog.metrics.iter().filter(|m| &m.name == name) {
                    for id in catalog.metric_models(m.id) {
                        out.insert(catalog.model(id).name.clone());
                    }
                }
            }
            MemberRef::Dimension { model, .. } | MemberRef::Model { model } => {
                out.insert(model.clone());
            }
            _ => {}
        }
    }
    out
}

/// A named structural check of one answer; `Err` says what is wrong.
pub fn check(
    spec: &str,
    json: Option<&Json>,
    rows: Option<&Vec<Vec<String>>>,
) -> Result<(), String> {
    let parts: Vec<&str> = spec.split('|').collect();
    match parts.as_slice() {
        ["identity_ids_within", region] => identity_ids_within(json, region),
        ["listing", role, source] => {
            let listed = listed_names(source, json, rows)?;
            let allowed = listable_models(role);
            let extra: Vec<&String> = listed.iter().filter(|n| !allowed.contains(*n)).collect();
            if extra.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "`{role}` is shown models it cannot use: {extra:?} (may use {allowed:?})"
                ))
            }
        }
        _ => Err(format!("unknown check `{spec}`")),
    }
}

fn listed_names(
    source: &str,
    json: Option<&Json>,
    rows: Option<&Vec<Vec<String>>>,
) -> Result<BTreeSet<String>, String> {
    let names = |v: &Json| -> BTreeSet<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    match source {
        "rest_catalog" => Ok(names(&json.ok_or("no JSON answer")?["models"])),
        "graphql_models" => Ok(names(&json.ok_or("no JSON answer")?["data"]["models"])),
        "rows" => Ok(rows
            .ok_or("no rows")?
            .iter()
            .filter_map(|r| r.first().cloned())
            .collect()),
        other => Err(format!("unknown listing source `{other}`")),
    }
}

fn identity_ids_within(json: Option<&Json>, region: &str) -> Result<(), String> {
    let json = json.ok_or("no JSON answer")?;
    let clusters = json["largest_clusters"]
        .as_array()
        .ok_or("no largest_clusters in the answer")?;
    let outside: Vec<String> = clusters
        .iter()
        .filter_map(|c| c["canonical_id"].as_str())
        .filter(|id| {
            id.parse::<i64>()
                .ok()
                .and_then(|n| customers().get(&n))
                // `none`: no customer id at all.
                .is_some_and(|c| region == "none" || c.region != region)
        })
        .map(str::to_string)
        .collect();
    if outside.is_empty() {
        Ok(())
    } else {
        Err(format!("ids of customers outside {region}: {outside:?}"))
    }
}

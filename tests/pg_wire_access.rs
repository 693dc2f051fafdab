//! The access-control cases of tests/access_control.rs, through the
//! Postgres wire endpoint: hidden members (in every clause and in the
//! catalog), row filters (a role's, and one built from a claim), hash
//! masks, minimum group sizes, purposes (from the token, from
//! `SET accord.purpose`, refused ones), and a SCRAM user whose mapping
//! carries a role and a claim.
//!
//! Every expected number is computed here in Rust from the generator's
//! rows (scale 1, seed 42), never read back from the warehouse under test.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/demo_rows.rs"]
mod demo_rows;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::OnceLock;

use accord::demo::{Customer, Order};
use chrono::NaiveDateTime;
use demo_rows::{customer, demo, suppressed};
use http::Server;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio_postgres::{NoTls, SimpleQueryMessage};

// ---------------------------------------------------------------------------
// Expectations from the generator

/// Orders that count as sales, of customers who are not suppressed.
fn live_orders() -> impl Iterator<Item = &'static Order> {
    demo()
        .orders
        .iter()
        .filter(|o| o.status != "cancelled" && !suppressed(o.customer_id))
}

/// Whether `customer` had `purpose` granted at `t` (the ledger replayed in
/// (time, id) order; the last event at or before `t` wins).
fn consented(customer_id: i64, purpose: &str, t: NaiveDateTime) -> bool {
    type Ledger = HashMap<(i64, &'static str), Vec<(NaiveDateTime, i64, bool)>>;
    static L: OnceLock<Ledger> = OnceLock::new();
    let ledger = L.get_or_init(|| {
        let mut m: Ledger = HashMap::new();
        for e in &demo().consent_events {
            m.entry((e.customer_id, e.purpose)).or_default().push((
                e.occurred_at,
                e.consent_event_id,
                e.status == "granted",
            ));
        }
        for v in m.values_mut() {
            v.sort();
        }
        m
    });
    ledger
        .get(&(customer_id, purpose))
        .and_then(|events| events.iter().take_while(|(at, _, _)| *at <= t).last())
        .is_some_and(|(_, _, granted)| *granted)
}

/// Revenue per customer attribute over the orders `keep` accepts.
fn revenue_by(
    key: impl Fn(&Customer) -> &'static str,
    keep: impl Fn(&Order, &Customer) -> bool,
) -> BTreeMap<String, Decimal> {
    let mut sums: BTreeMap<String, Decimal> = BTreeMap::new();
    for o in live_orders() {
        let c = customer(o.customer_id);
        if keep(o, c) {
            *sums.entry(key(c).to_string()).or_default() += o.amount;
        }
    }
    sums
}

fn eu_marketing(o: &Order, c: &Customer) -> bool {
    c.region == "EU" && consented(c.customer_id, "marketing", o.ordered_at)
}

fn buyers_by<K: Ord>(key: impl Fn(&Order) -> K) -> BTreeMap<K, BTreeSet<i64>> {
    let mut m: BTreeMap<K, BTreeSet<i64>> = BTreeMap::new();
    for o in live_orders() {
        m.entry(key(o)).or_default().insert(o.customer_id);
    }
    m
}

// ---------------------------------------------------------------------------
// The endpoint

/// One server for the binary: demo policies, anonymous access off, and a
/// SCRAM user `emea` mapped to regional_manager with region EU.
fn port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(start_server)
}

fn start_server() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let pg = accord::pgwire::config::resolve(
                Some(accord::pgwire::config::FilePg {
                    tls: None,
                    users: vec![accord::pgwire::config::FileUser {
                        name: "emea".into(),
                        password: Some("emea password".into()),
                        roles: vec!["regional_manager".into()],
                        claims: [("region".to_string(), json!("EU"))].into_iter().collect(),
                        ..Default::default()
                    }],
                }),
                None,
                None,
            )
            .expect("pg settings");
            let server = Server::demo(move |c| {
                c.auth.as_mut().expect("auth").anonymous_roles = None;
                c.pg = pg;
            })
            .await;
            let port = server.running().pg_addr.expect("pg endpoint").port();
            tx.send(port).unwrap();
            // Serve for as long as the test binary runs.
            std::future::pending::<()>().await;
            drop(server);
        });
    });
    rx.recv().expect("server started")
}

async fn connect_as(user: &str, password: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user={user} password='{password}' dbname=accord",
            port()
        ),
        NoTls,
    )
    .await
    .unwrap_or_else(|e| panic!("connect as {user}: {e}"));
    tokio::spawn(conn);
    client
}

async fn connect(roles: &[&str], claims: &[(&str, Value)]) -> tokio_postgres::Client {
    connect_as("u", &auth::token(roles, claims)).await
}

/// The rows of a simple query as text cells.
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Vec<Option<String>>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).map(str::to_string))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .collect()
}

/// `key → number` from two-column rows.
async fn keyed(client: &tokio_postgres::Client, sql: &str) -> BTreeMap<String, Decimal> {
    rows(client, sql)
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                Decimal::from_str(r[1].as_deref().expect("a number")).unwrap(),
            )
        })
        .collect()
}

/// The SQLSTATE and message a statement fails with.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> (String, String) {
    let e = client
        .simple_query(sql)
        .await
        .err()
        .unwrap_or_else(|| panic!("`{sql}` should be refused"));
    let db = e.as_db_error().unwrap_or_else(|| panic!("{e}"));
    (db.code().code().to_string(), db.message().to_string())
}

// ---------------------------------------------------------------------------
// Hidden members

#[tokio::test]
async fn hidden_members_are_refused_in_every_clause() {
    let partner = connect(&["partner"], &[]).await;
    for sql in [
        "SELECT net_revenue FROM orders",
        "SELECT refunds FROM orders",
        "SELECT status, revenue FROM orders GROUP BY status",
        "SELECT revenue FROM orders WHERE status = 'completed'",
        "SELECT customers__country, revenue FROM orders GROUP BY 1 ORDER BY status",
        "SELECT customers__country, revenue FROM orders GROUP BY 1 HAVING net_revenue > 0",
    ] {
        let (code, message) = refused(&partner, sql).await;
        // Hidden columns are undefined, like absent ones.
        assert_eq!(code, "42703", "{sql}: {message}");
    }
    // The analyst may not reach customer ids through any model.
    let analyst = connect(&["analyst"], &[]).await;
    for sql in [
        "SELECT customers__customer, orders FROM orders GROUP BY 1",
        "SELECT customer, orders FROM orders GROUP BY 1",
    ] {
        let (code, message) = refused(&analyst, sql).await;
        assert_eq!(code, "42703", "{sql}: {message}");
    }
}

#[tokio::test]
async fn hidden_members_never_appear_in_the_catalog() {
    let partner = connect(&["partner"], &[]).await;
    let cols: BTreeSet<String> = rows(
        &partner,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'",
    )
    .await
    .into_iter()
    .filter_map(|r| r[0].clone())
    .collect();
    let expected: BTreeSet<String> = [
        "average_order_value",
        "customers__region",
        "metric_time",
        "orders",
        "revenue",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(cols, expected);
    let attrs: BTreeSet<String> = rows(
        &partner,
        "SELECT a.attname FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid WHERE c.relname = 'orders' AND a.attnum > 0",
    )
    .await
    .into_iter()
    .filter_map(|r| r[0].clone())
    .collect();
    assert_eq!(attrs, expected);
}

// ---------------------------------------------------------------------------
// Row filters

#[tokio::test]
async fn a_regional_manager_sees_the_revenue_of_their_region() {
    let na = connect(&["regional_manager"], &[("region", json!("NA"))]).await;
    let got = keyed(
        &na,
        "SELECT customers__country, revenue FROM orders GROUP BY 1 ORDER BY 1",
    )
    .await;
    let expected = revenue_by(|c| c.country, |_, c| c.region == "NA");
    assert_eq!(expected.keys().collect::<Vec<_>>(), ["CA", "US"]);
    assert_eq!(got, expected);
    // Without the claim the role's filter cannot be built: refused.
    let none = connect(&["regional_manager"], &[]).await;
    let (code, _) = refused(&none, "SELECT revenue FROM orders").await;
    assert_eq!(code, "42501");
}

#[tokio::test]
async fn a_scram_user_is_the_role_and_claims_it_maps_to() {
    let emea = connect_as("emea", "emea password").await;
    let got = keyed(
        &emea,
        "SELECT customers__country, revenue FROM orders GROUP BY 1 ORDER BY 1",
    )
    .await;
    let expected = revenue_by(|c| c.country, |_, c| c.region == "EU");
    assert!(expected.len() >= 3);
    assert_eq!(got, expected);
    // The role hides the email.
    let (code, _) = refused(
        &emea,
        "SELECT customers__email, orders FROM orders GROUP BY 1",
    )
    .await;
    assert_eq!(code, "42703");
}

// ---------------------------------------------------------------------------
// Masks

#[tokio::test]
async fn the_analyst_sees_emails_as_keyed_hmac_hex() {
    let analyst = connect(&["analyst"], &[]).await;
    let got = keyed(
        &analyst,
        "SELECT customers__email, orders FROM orders GROUP BY 1",
    )
    .await;
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for o in live_orders() {
        *expected
            .entry(auth::mask_hex(&customer(o.customer_id).email))
            .or_default() += Decimal::ONE;
    }
    assert_eq!(got, expected);
    assert!(got.keys().all(|k| k.len() == 64 && !k.contains('@')));
    // A raw email in WHERE matches nothing; its hash finds the customer.
    let (email, n) = {
        let mut per: BTreeMap<&str, i64> = BTreeMap::new();
        for o in live_orders() {
            *per.entry(customer(o.customer_id).email.as_str())
                .or_default() += 1;
        }
        per.into_iter().nth(3).unwrap()
    };
    let raw = rows(
        &analyst,
        &format!("SELECT customers__email, orders FROM orders WHERE customers__email = '{email}' GROUP BY 1"),
    )
    .await;
    assert!(raw.is_empty(), "{raw:?}");
    let hash = auth::mask_hex(email);
    let found = rows(
        &analyst,
        &format!("SELECT customers__email, orders FROM orders WHERE customers__email = '{hash}' GROUP BY 1"),
    )
    .await;
    assert_eq!(found, vec![vec![Some(hash), Some(n.to_string())]]);
}

// ---------------------------------------------------------------------------
// Minimum group size

#[tokio::test]
async fn partner_groups_have_at_least_ten_customers() {
    // The partner's cells are (region, year) and the demo is one year, so
    // each region group is one cell: shown with 10+ buyers.
    let partner = connect(&["partner"], &[]).await;
    let got = keyed(
        &partner,
        "SELECT customers__region, orders FROM orders GROUP BY 1 ORDER BY 1",
    )
    .await;
    let buyers = buyers_by(|o| customer(o.customer_id).region);
    let expected: BTreeMap<String, Decimal> = buyers
        .iter()
        .filter(|(_, who)| who.len() >= 10)
        .map(|(r, _)| {
            let n = live_orders()
                .filter(|o| customer(o.customer_id).region == *r)
                .count();
            (r.to_string(), Decimal::from(n))
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    // Months would cut the partner's yearly cells: refused, as on REST.
    let (code, message) = refused(
        &partner,
        "SELECT customers__region, DATE_TRUNC('month', metric_time) AS m, orders FROM orders GROUP BY 1, 2",
    )
    .await;
    assert_eq!(code, "42501");
    assert!(message.contains("not by month"), "{message}");
}

// ---------------------------------------------------------------------------
// Purposes

#[tokio::test]
async fn marketing_eu_counts_consenting_eu_customers_under_marketing() {
    let expected = revenue_by(|c| c.country, eu_marketing);
    assert!(expected.len() >= 3);
    let sql = "SELECT customers__country, revenue FROM orders GROUP BY 1 ORDER BY 1";
    // The purpose from the token.
    let with_claim = connect(&["marketing_eu"], &[("purpose", json!("marketing"))]).await;
    assert_eq!(keyed(&with_claim, sql).await, expected);
    // Without one, the default purpose (analytics) is not the role's.
    let plain = connect(&["marketing_eu"], &[]).await;
    let (code, message) = refused(&plain, sql).await;
    assert_eq!(code, "42501");
    assert!(message.contains("purpose `analytics`"), "{message}");
    // SET accord.purpose gives it for the session.
    plain
        .simple_query("SET accord.purpose = 'marketing'")
        .await
        .expect("SET");
    assert_eq!(keyed(&plain, sql).await, expected);
    // Another consent purpose is not the role's either.
    plain
        .simple_query("SET accord.purpose = 'ads'")
        .await
        .expect("SET");
    let (code, message) = refused(&plain, sql).await;
    assert_eq!(code, "42501");
    assert!(message.contains("purpose `ads`"), "{message}");
}

#[tokio::test]
async fn admin_under_marketing_counts_consenting_customers_only() {
    let admin = connect(&["admin"], &[]).await;
    admin
        .simple_query("SET accord.purpose TO 'marketing'")
        .await
        .expect("SET");
    let got = keyed(
        &admin,
        "SELECT customers__region, revenue FROM orders GROUP BY 1 ORDER BY 1",
    )
    .await;
    let expected = revenue_by(
        |c| c.region,
        |o, c| consented(c.customer_id, "marketing", o.ordered_at),
    );
    assert_eq!(got, expected);
    // An undeclared purpose is an error naming it.
    admin
        .simple_query("SET accord.purpose = 'marketting'")
        .await
        .expect("SET");
    let (code, message) = refused(&admin, "SELECT revenue FROM orders").await;
    assert_ne!(code, "XX000", "{message}");
    assert!(message.contains("marketting"), "{message}");
}

// ---------------------------------------------------------------------------
// Session time settings

/// Live orders per period start (`YYYY-MM-DD`), with each order's UTC time
/// read in `zone` and truncated by `start_of`.
fn orders_per_period(
    zone: chrono_tz::Tz,
    start_of: impl Fn(chrono::NaiveDate) -> chrono::NaiveDate,
) -> BTreeMap<String, i64> {
    use chrono::TimeZone as _;
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    for o in live_orders() {
        let local = zone.from_utc_datetime(&o.ordered_at).date_naive();
        *out.entry(start_of(local).to_string()).or_default() += 1;
    }
    out
}

async fn periods(client: &tokio_postgres::Client, grain: &str) -> BTreeMap<String, i64> {
    rows(
        client,
        &format!(
            "SELECT DATE_TRUNC('{grain}', metric_time) AS p, orders FROM orders GROUP BY 1 ORDER BY 1"
        ),
    )
    .await
    .into_iter()
    .map(|r| {
        let p = r[0].clone().expect("a period");
        (p[..10].to_string(), r[1].as_deref().unwrap().parse().unwrap())
    })
    .collect()
}

#[tokio::test]
async fn set_accord_time_zone_and_week_start_move_the_periods() {
    use chrono::Datelike as _;
    let month = |d: chrono::NaiveDate| d.with_day(1).unwrap();
    let sunday_week = |d: chrono::NaiveDate| {
        d - chrono::Duration::days(d.weekday().num_days_from_sunday().into())
    };
    let auckland = chrono_tz::Pacific::Auckland;

    let admin = connect(&["admin"], &[]).await;
    let utc_months = orders_per_period(chrono_tz::UTC, month);
    assert_eq!(periods(&admin, "month").await, utc_months);

    admin
        .simple_query("SET accord.time_zone = 'Pacific/Auckland'")
        .await
        .expect("SET");
    let nz_months = orders_per_period(auckland, month);
    // Otherwise the setting could be ignored unnoticed.
    assert_ne!(nz_months, utc_months);
    assert_eq!(periods(&admin, "month").await, nz_months);

    admin
        .simple_query("SET accord.week_start TO 'sunday'")
        .await
        .expect("SET");
    assert_eq!(
        periods(&admin, "week").await,
        orders_per_period(auckland, sunday_week)
    );

    // RESET ALL goes back to the server's defaults (UTC, Monday weeks).
    admin.simple_query("RESET ALL").await.expect("RESET");
    assert_eq!(periods(&admin, "month").await, utc_months);

    // A zone that does not exist is refused, naming it.
    admin
        .simple_query("SET accord.time_zone = 'Europe/Berlinn'")
        .await
        .expect("SET");
    let (code, message) = refused(&admin, "SELECT orders FROM orders").await;
    assert_ne!(code, "XX000", "{message}");
    assert!(message.contains("Europe/Berlinn"), "{message}");
    admin
        .simple_query("RESET accord.time_zone")
        .await
        .expect("RESET");
    assert_eq!(periods(&admin, "month").await, utc_months);
}

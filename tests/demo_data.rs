//! The demo warehouse generator and its four loaders.
//!
//! The database tests need the servers of the dev environment: PostgreSQL at
//! `ACCORD_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`)
//! and MariaDB at `ACCORD_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`).
//! They fail, never skip, when a server is unreachable. Each loads into its own
//! schema/database named `accord_demo_test_*` and drops it afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use accord::demo::{
    self, AnonymousId, DemoConfig, DemoData, DeviceId, Engine, LinkAnonymousId, LoadStats,
    NoiseKind, Value,
};
use chrono::{Datelike, NaiveDateTime};
use futures::FutureExt;
use rust_decimal::Decimal;

fn scale1() -> &'static DemoData {
    static DATA: OnceLock<DemoData> = OnceLock::new();
    DATA.get_or_init(|| demo::generate(&DemoConfig { scale: 1, seed: 42 }))
}

fn scale5() -> &'static DemoData {
    static DATA: OnceLock<DemoData> = OnceLock::new();
    DATA.get_or_init(|| demo::generate(&DemoConfig { scale: 5, seed: 7 }))
}

fn print_counts(label: &str, data: &DemoData) {
    let counts: Vec<String> = data
        .row_counts()
        .iter()
        .map(|(t, n)| format!("{t}={n}"))
        .collect();
    eprintln!("{label}: {}", counts.join(" "));
}

/// FNV-1a over the rendered cells of every table except `skip`, in load
/// order: a fingerprint of exactly what the loaders would write. With
/// `without_noise`, the junk and shared-cookie `identity_links` rows (see
/// `LinkNoise`) are left out.
fn fingerprint(data: &DemoData, skip: &[&str], without_noise: bool) -> u64 {
    let noise: BTreeSet<String> = data
        .truth_link_noise
        .iter()
        .map(|n| n.anonymous_id.to_string())
        .collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut values = Vec::new();
    for table in data.tables() {
        let spec = table.spec();
        if skip.contains(&spec.name) {
            continue;
        }
        feed(spec.name.as_bytes());
        feed(b"\n");
        for i in 0..table.row_count() {
            values.clear();
            table.push_row_values(i, &mut values);
            if without_noise
                && spec.name == "identity_links"
                && matches!(&values[0], Value::Text(id) if noise.contains(id.as_ref()))
            {
                continue;
            }
            for v in &values {
                let cell = match v {
                    Value::Null => "\\N".to_string(),
                    Value::Int(n) => n.to_string(),
                    Value::Text(s) => s.to_string(),
                    Value::Dec(d) => d.to_string(),
                    Value::Ts(t) => t.to_string(),
                    Value::Bool(b) => b.to_string(),
                };
                feed(cell.as_bytes());
                feed(b"\t");
            }
            feed(b"\n");
        }
    }
    h
}

/// FNV-1a over the identity answer key, which is never loaded anywhere.
fn truth_fingerprint(data: &DemoData) -> u64 {
    let mut text = String::new();
    for t in &data.truth_anonymous {
        text.push_str(&format!(
            "{} {} {} {:?} {} {}\n",
            t.anonymous_id, t.person_id, t.device_id, t.customer_id, t.linkable, t.direct
        ));
    }
    for t in &data.truth_devices {
        text.push_str(&format!(
            "{} {} {:?} {}\n",
            t.device_id, t.person_id, t.customer_id, t.linkable
        ));
    }
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Fingerprints recorded with the generator as it was before
/// `erasure_requests` and the identity link noise existed: adding them must
/// not move a single value of the other rows (expected metric values are
/// computed from them).
#[test]
fn erasure_requests_and_link_noise_leave_other_rows_unchanged() {
    const SKIP: &[&str] = &["erasure_requests"];
    assert_eq!(scale1().tables().len(), 13);
    assert_eq!(fingerprint(scale1(), SKIP, true), 0x234c_aaff_8883_0207);
    assert_eq!(truth_fingerprint(scale1()), 0xb26f_259f_5dce_f2bc);
    assert_eq!(fingerprint(scale5(), SKIP, true), 0x0226_2fe4_48f5_adec);
    assert_eq!(truth_fingerprint(scale5()), 0x3ca0_4523_7d67_7b9f);
    // The additions do count in the full fingerprint.
    assert_ne!(
        fingerprint(scale1(), &[], true),
        fingerprint(scale1(), SKIP, true)
    );
    assert_ne!(
        fingerprint(scale1(), SKIP, false),
        fingerprint(scale1(), SKIP, true)
    );
}

// ------------------------------------------------------------ generation

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let cfg = DemoConfig { scale: 1, seed: 42 };
    let started = Instant::now();
    let a = demo::generate(&cfg);
    let took = started.elapsed();
    let b = demo::generate(&cfg);
    assert!(a == b, "two generations with the same seed differ");
    assert_eq!(&a, scale1());
    let c = demo::generate(&DemoConfig { scale: 1, seed: 43 });
    assert_ne!(a.events, c.events);
    assert_ne!(a.orders, c.orders);
    assert_ne!(a.sessions, c.sessions);
    assert!(!a.erasure_requests.is_empty());
    assert_eq!(a.erasure_requests, b.erasure_requests);
    assert_ne!(a.erasure_requests, c.erasure_requests);
    eprintln!(
        "generate scale 1: {} rows ({} events) in {:.3?} = {:.0} events/s",
        a.total_rows(),
        a.events.len(),
        took,
        a.events.len() as f64 / took.as_secs_f64()
    );
    print_counts("scale 1 seed 42", &a);
}

#[test]
fn scale_one_is_about_ten_thousand_events() {
    let n = scale1().events.len();
    assert!((8_000..=12_500).contains(&n), "{n} events at scale 1");
    let n5 = scale5().events.len();
    assert!((40_000..=62_500).contains(&n5), "{n5} events at scale 5");
}

#[test]
fn every_row_matches_its_column_spec() {
    let data = scale1();
    let mut names = BTreeSet::new();
    for table in data.tables() {
        let spec = table.spec();
        assert!(names.insert(spec.name), "duplicate table {}", spec.name);
        assert!(table.row_count() > 0, "{} is empty", spec.name);
        for pk in spec.primary_key {
            assert!(spec.column_names().any(|c| c == *pk), "{}.{pk}", spec.name);
        }
        let mut values = Vec::new();
        for i in 0..table.row_count() {
            values.clear();
            table.push_row_values(i, &mut values);
            assert_eq!(values.len(), spec.columns.len(), "{} row {i}", spec.name);
            for (v, c) in values.iter().zip(spec.columns) {
                assert!(
                    v.fits(c.ty, c.nullable),
                    "{}.{} row {i}: {v:?} does not fit {:?}",
                    spec.name,
                    c.name,
                    c.ty
                );
                match v {
                    Value::Dec(d) => assert_eq!(d.scale(), 2, "{}.{} {d}", spec.name, c.name),
                    Value::Text(s) => assert!(s.len() <= 255, "{}.{} too long", spec.name, c.name),
                    _ => {}
                }
            }
        }
    }
    assert_eq!(names.len(), 13);
    assert_eq!(
        demo::table_specs().map(|s| s.name).to_vec(),
        data.tables()
            .iter()
            .map(|t| t.spec().name)
            .collect::<Vec<_>>()
    );
}

fn unique<T: Ord + std::fmt::Debug>(table: &str, keys: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    for k in keys {
        assert!(set.insert(k), "duplicate primary key in {table}");
    }
    set
}

fn region_of(country: &str) -> &'static str {
    match country {
        "US" | "CA" => "NA",
        "DE" | "GB" | "FR" | "ES" | "IT" | "NL" | "SE" | "PL" => "EU",
        "BR" | "MX" | "AR" | "CO" | "CL" => "LATAM",
        "JP" | "AU" | "IN" | "SG" | "KR" => "APAC",
        other => panic!("unexpected country {other}"),
    }
}

fn check_integrity(data: &DemoData) {
    let (lo, hi) = demo::time_range();
    assert_eq!(lo.to_string(), "2025-01-01 00:00:00");
    assert_eq!(hi.to_string(), "2025-12-31 23:59:59");
    let in_range = |what: &str, t: NaiveDateTime| {
        assert!(t >= lo && t <= hi, "{what} {t} outside 2025");
        assert_eq!(t.and_utc().timestamp_subsec_nanos(), 0, "{what} {t}");
    };
    let money = |what: &str, d: Decimal| {
        assert_eq!(d.scale(), 2, "{what} {d} has scale {}", d.scale());
        assert!(d >= Decimal::ZERO, "{what} {d} negative");
    };

    let accounts = unique("accounts", data.accounts.iter().map(|a| a.account_id));
    let customers = unique("customers", data.customers.iter().map(|c| c.customer_id));
    let products = unique("products", data.products.iter().map(|p| p.product_id));
    let devices = unique("devices", data.devices.iter().map(|d| d.device_id));
    unique(
        "identity_links",
        data.identity_links
            .iter()
            .map(|l| (l.anonymous_id, l.customer_id)),
    );
    let sessions: BTreeMap<_, _> = data.sessions.iter().map(|s| (s.session_id, s)).collect();
    assert_eq!(sessions.len(), data.sessions.len(), "duplicate session_id");
    unique("events", data.events.iter().map(|e| e.event_id));
    let orders: BTreeMap<_, _> = data.orders.iter().map(|o| (o.order_id, o)).collect();
    assert_eq!(orders.len(), data.orders.len(), "duplicate order_id");
    unique(
        "order_items",
        data.order_items.iter().map(|i| i.order_item_id),
    );
    unique(
        "marketing_touches",
        data.marketing_touches.iter().map(|t| t.touch_id),
    );
    unique(
        "consent_events",
        data.consent_events.iter().map(|c| c.consent_event_id),
    );
    unique(
        "support_tickets",
        data.support_tickets.iter().map(|t| t.ticket_id),
    );
    unique(
        "erasure_requests",
        data.erasure_requests.iter().map(|r| r.erasure_request_id),
    );
    let customer = |id: i64| {
        assert!(customers.contains(&id), "customer {id} does not exist");
        data.customers
            .get((id - 1) as usize)
            .filter(|c| c.customer_id == id)
            .expect("customer ids are 1..=n in order")
    };

    // accounts and customers
    for a in &data.accounts {
        assert!(
            ["free", "pro", "enterprise"].contains(&a.plan),
            "{}",
            a.plan
        );
        in_range("accounts.created_at", a.created_at);
    }
    let mut emails = BTreeSet::new();
    for (i, c) in data.customers.iter().enumerate() {
        assert_eq!(c.customer_id, i as i64 + 1);
        if let Some(a) = c.account_id {
            assert!(
                accounts.contains(&a),
                "customer {} account {a}",
                c.customer_id
            );
            let account = &data.accounts[(a - 1) as usize];
            assert!(
                account.created_at <= c.signed_up_at,
                "account created after member"
            );
            assert_ne!(c.segment, "consumer");
        } else {
            assert_eq!(c.segment, "consumer");
        }
        assert_eq!(c.region, region_of(c.country), "{}", c.country);
        assert!(["consumer", "smb", "enterprise"].contains(&c.segment));
        assert_eq!(c.email, c.email.to_lowercase());
        let (local, domain) = c.email.split_once('@').expect("email has @");
        assert!(!local.is_empty() && local.contains('.'), "{}", c.email);
        assert!(["example.com", "example.org", "example.net"].contains(&domain));
        assert!(
            emails.insert(c.email.clone()),
            "duplicate email {}",
            c.email
        );
        in_range("customers.signed_up_at", c.signed_up_at);
        if i > 0 {
            assert!(data.customers[i - 1].signed_up_at <= c.signed_up_at);
        }
    }
    for p in &data.products {
        money("products.price", p.price);
        assert!(p.price > Decimal::ZERO);
    }

    // devices and identity
    for d in &data.devices {
        if let Some(c) = d.customer_id {
            customer(c);
        }
        assert!(["desktop", "mobile", "tablet"].contains(&d.device_type));
        in_range("devices.first_seen_at", d.first_seen_at);
    }
    // Real links only; the noise rows are checked by
    // `link_noise_is_blocked_or_shared`.
    let noise: BTreeSet<LinkAnonymousId> = data
        .truth_link_noise
        .iter()
        .map(|n| n.anonymous_id)
        .collect();
    let links: BTreeMap<AnonymousId, i64> = data
        .identity_links
        .iter()
        .filter(|l| !noise.contains(&l.anonymous_id))
        .map(|l| {
            let cookie = l.anonymous_id.cookie().expect("real links hold cookies");
            (cookie, l.customer_id)
        })
        .collect();
    for l in &data.identity_links {
        let c = customer(l.customer_id);
        assert!(l.linked_at >= c.signed_up_at, "link before signup");
        assert!(["login", "signup", "email_click"].contains(&l.source));
        in_range("identity_links.linked_at", l.linked_at);
    }

    // sessions and events
    let mut session_events: BTreeMap<_, Vec<&demo::Event>> = BTreeMap::new();
    for s in &data.sessions {
        assert!(
            devices.contains(&s.device_id),
            "session device {}",
            s.device_id
        );
        if let Some(c) = s.customer_id {
            customer(c);
            assert_eq!(
                links.get(&s.anonymous_id),
                Some(&c),
                "logged-in session without link"
            );
        }
        in_range("sessions.started_at", s.started_at);
        in_range("sessions.ended_at", s.ended_at);
        assert!(s.started_at <= s.ended_at);
    }
    let mut prev_time = lo;
    for e in &data.events {
        let s = sessions
            .get(&e.session_id)
            .unwrap_or_else(|| panic!("event {} session {} missing", e.event_id, e.session_id));
        assert_eq!(
            e.anonymous_id, s.anonymous_id,
            "event anonymous_id differs from session"
        );
        assert!(
            e.occurred_at >= s.started_at && e.occurred_at <= s.ended_at,
            "event {} at {} outside session {}..{}",
            e.event_id,
            e.occurred_at,
            s.started_at,
            s.ended_at
        );
        if let Some(c) = e.customer_id {
            customer(c);
            assert_eq!(
                s.customer_id,
                Some(c),
                "event customer differs from session"
            );
        }
        if let Some(p) = e.product_id {
            assert!(products.contains(&p));
        }
        let needs_product = matches!(e.event_type, "product_view" | "add_to_cart");
        assert_eq!(e.product_id.is_some(), needs_product, "{}", e.event_type);
        assert!(
            [
                "page_view",
                "product_view",
                "signup",
                "add_to_cart",
                "checkout",
                "purchase",
                "login"
            ]
            .contains(&e.event_type)
        );
        if matches!(e.event_type, "login" | "signup" | "purchase") {
            assert!(e.customer_id.is_some(), "{} without customer", e.event_type);
        }
        assert!(e.occurred_at >= prev_time, "event ids do not follow time");
        prev_time = e.occurred_at;
        in_range("events.occurred_at", e.occurred_at);
        session_events.entry(e.session_id).or_default().push(e);
    }
    assert_eq!(
        session_events.len(),
        data.sessions.len(),
        "session without events"
    );
    for s in &data.sessions {
        let events = &session_events[&s.session_id];
        let first = events[0];
        assert_eq!(first.event_type, "page_view");
        assert_eq!(first.page, s.landing_page);
        assert_eq!(first.occurred_at, s.started_at);
        if s.customer_id.is_none() {
            assert!(events.iter().all(|e| e.customer_id.is_none()));
        } else {
            assert!(events.iter().any(|e| e.customer_id.is_some()));
        }
    }
    let mut signups = BTreeMap::new();
    for e in data.events.iter().filter(|e| e.event_type == "signup") {
        let c = e.customer_id.expect("signup has customer");
        assert!(
            signups.insert(c, e.occurred_at).is_none(),
            "two signups for {c}"
        );
        assert_eq!(customer(c).signed_up_at, e.occurred_at);
    }
    assert_eq!(
        signups.len(),
        data.customers.len(),
        "customer without signup event"
    );
    for e in data.events.iter().filter(|e| e.customer_id.is_some()) {
        assert_eq!(links.get(&e.anonymous_id).copied(), e.customer_id);
    }

    // orders
    let mut items_by_order: BTreeMap<i64, Vec<&demo::OrderItem>> = BTreeMap::new();
    for i in &data.order_items {
        assert!(
            orders.contains_key(&i.order_id),
            "item of missing order {}",
            i.order_id
        );
        assert!(products.contains(&i.product_id));
        assert!(i.quantity >= 1);
        money("order_items.unit_price", i.unit_price);
        money("order_items.line_amount", i.line_amount);
        assert_eq!(i.line_amount, i.unit_price * Decimal::from(i.quantity));
        items_by_order.entry(i.order_id).or_default().push(i);
    }
    let purchases: BTreeSet<_> = data
        .events
        .iter()
        .filter(|e| e.event_type == "purchase")
        .map(|e| (e.session_id, e.occurred_at, e.customer_id))
        .collect();
    let mut web_orders = 0;
    for (i, o) in data.orders.iter().enumerate() {
        assert_eq!(o.order_id, i as i64 + 1);
        let c = customer(o.customer_id);
        assert!(o.ordered_at >= c.signed_up_at);
        in_range("orders.ordered_at", o.ordered_at);
        for (what, d) in [
            ("amount", o.amount),
            ("discount", o.discount),
            ("refunded_amount", o.refunded_amount),
        ] {
            money(what, d);
        }
        let items = items_by_order
            .get(&o.order_id)
            .expect("order without items");
        let lines: Decimal = items.iter().map(|i| i.line_amount).sum();
        assert_eq!(o.amount, lines - o.discount, "order {} amount", o.order_id);
        assert!(o.amount > Decimal::ZERO);
        match o.status {
            "refunded" => {
                assert!(o.refunded_amount > Decimal::ZERO && o.refunded_amount <= o.amount);
                let at = o.refunded_at.expect("refunded_at");
                assert!(at > o.ordered_at);
                in_range("orders.refunded_at", at);
            }
            "completed" | "cancelled" => {
                assert_eq!(o.refunded_amount, Decimal::ZERO);
                assert!(o.refunded_at.is_none());
            }
            other => panic!("status {other}"),
        }
        assert!(["USD", "EUR", "GBP"].contains(&o.currency));
        match o.session_id {
            Some(sid) => {
                web_orders += 1;
                let s = sessions.get(&sid).expect("order session exists");
                assert_eq!(s.customer_id, Some(o.customer_id));
                assert!(
                    purchases.contains(&(sid, o.ordered_at, Some(o.customer_id))),
                    "order {} has no purchase event",
                    o.order_id
                );
                assert!(["web", "mobile_app"].contains(&o.channel));
            }
            None => assert_eq!(o.channel, "phone"),
        }
    }
    assert_eq!(
        web_orders,
        purchases.len(),
        "purchase events without orders"
    );

    // marketing, consent, support
    let mut consent: BTreeMap<(i64, &str), Vec<&demo::ConsentEvent>> = BTreeMap::new();
    for c in &data.consent_events {
        let cust = customer(c.customer_id);
        assert!(c.occurred_at >= cust.signed_up_at);
        assert!(["analytics", "marketing", "personalization", "ads"].contains(&c.purpose));
        assert!(["granted", "withdrawn"].contains(&c.status));
        in_range("consent_events.occurred_at", c.occurred_at);
        consent
            .entry((c.customer_id, c.purpose))
            .or_default()
            .push(c);
    }
    for history in consent.values() {
        assert_eq!(history[0].status, "granted", "withdrawal without a grant");
        for pair in history.windows(2) {
            assert_ne!(pair[0].status, pair[1].status, "repeated consent status");
            assert!(pair[0].occurred_at <= pair[1].occurred_at);
        }
    }
    let marketing_granted = |c: i64, t: NaiveDateTime| {
        consent.get(&(c, "marketing")).is_some_and(|h| {
            h.iter()
                .take_while(|e| e.occurred_at <= t)
                .last()
                .is_some_and(|e| e.status == "granted")
        })
    };
    let known_anons: BTreeSet<AnonymousId> = data
        .truth_anonymous
        .iter()
        .map(|t| t.anonymous_id)
        .collect();
    for t in &data.marketing_touches {
        assert!(known_anons.contains(&t.anonymous_id));
        assert!(
            [
                "paid_search",
                "organic_search",
                "email",
                "social",
                "display",
                "affiliate",
                "referral",
                "direct"
            ]
            .contains(&t.channel)
        );
        money("marketing_touches.cost", t.cost);
        in_range("marketing_touches.touched_at", t.touched_at);
        if let Some(c) = t.customer_id {
            customer(c);
            assert_eq!(
                links.get(&t.anonymous_id),
                Some(&c),
                "touch customer without link"
            );
        }
        if t.channel == "email" {
            let c = t.customer_id.expect("e-mail touches know the customer");
            assert!(marketing_granted(c, t.touched_at), "e-mail without consent");
        }
    }
    for t in &data.support_tickets {
        customer(t.customer_id);
        in_range("support_tickets.opened_at", t.opened_at);
        if let Some(closed) = t.closed_at {
            assert!(closed >= t.opened_at);
            in_range("support_tickets.closed_at", closed);
        } else {
            assert!(t.csat_score.is_none());
        }
        if let Some(s) = t.csat_score {
            assert!((1..=5).contains(&s));
        }
        assert!(["low", "normal", "high", "urgent"].contains(&t.priority));
    }

    // erasure requests
    let n = data.customers.len();
    let erased = data.erasure_requests.len();
    assert!(erased >= 2, "{erased} erasure requests");
    assert!(
        erased.abs_diff((n * 15 + 500) / 1000) <= 2,
        "{erased} erasure requests for {n} customers (expected about 1.5%)"
    );
    let mut erased_customers = BTreeSet::new();
    let mut prev: Option<&demo::ErasureRequest> = None;
    for (i, r) in data.erasure_requests.iter().enumerate() {
        assert_eq!(r.erasure_request_id, i as i64 + 1, "sorted by dense PK");
        let c = customer(r.customer_id);
        assert!(
            erased_customers.insert(r.customer_id),
            "two erasure requests for customer {}",
            r.customer_id
        );
        assert!(
            r.requested_at > c.signed_up_at,
            "erasure request {} at {} not after signup {}",
            r.erasure_request_id,
            r.requested_at,
            c.signed_up_at
        );
        in_range("erasure_requests.requested_at", r.requested_at);
        assert!(
            ["erasure", "objection", "suppression"].contains(&r.reason),
            "{}",
            r.reason
        );
        if let Some(p) = prev {
            assert!(p.requested_at <= r.requested_at, "ids do not follow time");
        }
        prev = Some(r);
    }

    check_identity_truth(data, &links);
}

/// Recomputes, from the observable tables alone, which cookies and devices
/// reach a customer, and compares with the answer key.
fn check_identity_truth(data: &DemoData, links: &BTreeMap<AnonymousId, i64>) {
    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    enum Node {
        Anon(AnonymousId),
        Device(DeviceId),
        Customer(i64),
    }
    let mut parent: BTreeMap<Node, Node> = BTreeMap::new();
    fn find(parent: &mut BTreeMap<Node, Node>, n: Node) -> Node {
        let p = *parent.entry(n).or_insert(n);
        if p == n {
            return n;
        }
        let root = find(parent, p);
        parent.insert(n, root);
        root
    }
    let mut union = |a: Node, b: Node| {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent.insert(ra, rb);
    };
    // The noise rows are blocked or cut by the identity rules, so they are
    // not edges.
    for (anon, customer) in links {
        union(Node::Anon(*anon), Node::Customer(*customer));
    }
    for s in &data.sessions {
        union(Node::Anon(s.anonymous_id), Node::Device(s.device_id));
        if let Some(c) = s.customer_id {
            union(Node::Anon(s.anonymous_id), Node::Customer(c));
        }
    }
    for e in &data.events {
        if let Some(c) = e.customer_id {
            union(Node::Anon(e.anonymous_id), Node::Customer(c));
        }
    }
    for t in &data.marketing_touches {
        if let Some(c) = t.customer_id {
            union(Node::Anon(t.anonymous_id), Node::Customer(c));
        }
    }
    for d in &data.devices {
        if let Some(c) = d.customer_id {
            union(Node::Device(d.device_id), Node::Customer(c));
        }
    }
    // No component may hold two customers: the graph never merges people.
    let mut customer_of_root: BTreeMap<Node, i64> = BTreeMap::new();
    for c in &data.customers {
        let root = find(&mut parent, Node::Customer(c.customer_id));
        assert!(
            customer_of_root.insert(root, c.customer_id).is_none(),
            "two customers merged"
        );
    }

    let session_anons: BTreeSet<_> = data.sessions.iter().map(|s| s.anonymous_id).collect();
    assert_eq!(
        session_anons,
        data.truth_anonymous
            .iter()
            .map(|t| t.anonymous_id)
            .collect(),
        "truth must cover exactly the cookies seen in sessions"
    );
    assert!(
        data.truth_anonymous
            .windows(2)
            .all(|w| w[0].anonymous_id < w[1].anonymous_id)
    );
    let mut person_customer: BTreeMap<u64, Option<i64>> = BTreeMap::new();
    for t in &data.truth_anonymous {
        let root = find(&mut parent, Node::Anon(t.anonymous_id));
        let observed = customer_of_root.get(&root).copied();
        assert_eq!(t.linkable, observed.is_some(), "{}", t.anonymous_id);
        if t.linkable {
            assert_eq!(
                observed, t.customer_id,
                "{} links to the wrong person",
                t.anonymous_id
            );
        }
        assert_eq!(t.direct, links.contains_key(&t.anonymous_id));
        if t.direct {
            assert_eq!(links.get(&t.anonymous_id).copied(), t.customer_id);
        }
        let prev = person_customer.insert(t.person_id, t.customer_id);
        assert!(
            prev.is_none() || prev == Some(t.customer_id),
            "person with two customers"
        );
    }
    let device_rows: BTreeMap<_, _> = data.devices.iter().map(|d| (d.device_id, d)).collect();
    assert_eq!(data.truth_devices.len(), data.devices.len());
    for t in &data.truth_devices {
        let row = device_rows.get(&t.device_id).expect("truth device exists");
        let root = find(&mut parent, Node::Device(t.device_id));
        let observed = customer_of_root.get(&root).copied();
        assert_eq!(t.linkable, observed.is_some());
        if t.linkable {
            assert_eq!(observed, t.customer_id);
        }
        if let Some(c) = row.customer_id {
            assert_eq!(Some(c), t.customer_id);
        }
        assert_eq!(
            person_customer.get(&t.person_id).copied().flatten(),
            t.customer_id
        );
    }
    assert_eq!(
        data.truth_person_of_anonymous().len(),
        data.truth_anonymous.len()
    );
}

/// The demo identity definitions' normalisation of anonymous ids (trim,
/// lower) and whether the result is blocked, as `metric_defs/identity.yml`
/// says, written out independently.
fn blocked_anonymous_id(raw: &str) -> Option<String> {
    let v = raw.trim_matches(' ').to_ascii_lowercase();
    let blocked = ["", "0", "-1", "null", "undefined", "anonymous"].contains(&v.as_str())
        || v.starts_with("test");
    blocked.then_some(v)
}

fn check_link_noise(data: &DemoData) {
    let noise: BTreeMap<LinkAnonymousId, &demo::LinkNoise> = data
        .truth_link_noise
        .iter()
        .map(|n| (n.anonymous_id, n))
        .collect();
    assert_eq!(noise.len(), data.truth_link_noise.len(), "noise ids repeat");
    // Every noise row is described, and every description has its rows.
    let mut rows: BTreeMap<LinkAnonymousId, Vec<i64>> = BTreeMap::new();
    for l in &data.identity_links {
        if noise.contains_key(&l.anonymous_id) {
            rows.entry(l.anonymous_id).or_default().push(l.customer_id);
        } else {
            assert!(l.anonymous_id.cookie().is_some(), "{}", l.anonymous_id);
        }
    }
    for (id, n) in &noise {
        let mut got = rows.remove(id).unwrap_or_default();
        got.sort_unstable();
        assert_eq!(got, n.customers, "{id:?}");
        assert!(
            n.customers.len() >= 2,
            "{id:?} links fewer than two customers"
        );
    }
    let seen: BTreeSet<AnonymousId> = data
        .sessions
        .iter()
        .map(|s| s.anonymous_id)
        .chain(data.events.iter().map(|e| e.anonymous_id))
        .chain(data.marketing_touches.iter().map(|t| t.anonymous_id))
        .collect();
    let mut blocked_values = BTreeSet::new();
    let mut shared = 0;
    for n in &data.truth_link_noise {
        let raw = n.anonymous_id.to_string();
        match n.kind {
            NoiseKind::Blocked => {
                let v =
                    blocked_anonymous_id(&raw).unwrap_or_else(|| panic!("`{raw}` is not blocked"));
                blocked_values.insert(v);
            }
            NoiseKind::Shared => {
                let cookie = n
                    .anonymous_id
                    .cookie()
                    .expect("a shared cookie is a cookie");
                assert!(!seen.contains(&cookie), "{cookie} is seen elsewhere");
                assert!(blocked_anonymous_id(&raw).is_none());
                shared += 1;
            }
        }
    }
    // Every blocked value, the pattern, and values that only normalisation
    // reveals as blocked.
    for v in ["", "0", "-1", "null", "undefined", "anonymous"] {
        assert!(blocked_values.contains(v), "no junk `{v}`");
    }
    assert!(blocked_values.iter().any(|v| v.starts_with("test")));
    assert!(data.truth_link_noise.iter().any(|n| {
        let raw = n.anonymous_id.to_string();
        n.kind == NoiseKind::Blocked && raw != raw.trim_matches(' ').to_ascii_lowercase()
    }));
    assert!(shared >= 1, "no shared cookie");
    // Distinct even where case and trailing spaces do not count (MariaDB's
    // default collation): the primary key holds and distinct counts agree
    // on every engine.
    let fold = |id: &LinkAnonymousId| id.to_string().trim_end_matches(' ').to_ascii_lowercase();
    let keys: BTreeSet<_> = data
        .identity_links
        .iter()
        .map(|l| (fold(&l.anonymous_id), l.customer_id))
        .collect();
    assert_eq!(keys.len(), data.identity_links.len());
    let ids: BTreeSet<_> = data.identity_links.iter().map(|l| l.anonymous_id).collect();
    let folded: BTreeSet<_> = ids.iter().map(fold).collect();
    assert_eq!(folded.len(), ids.len());
}

#[test]
fn link_noise_is_blocked_or_shared() {
    check_link_noise(scale1());
    check_link_noise(scale5());
}

#[test]
fn integrity_invariants_hold() {
    check_integrity(scale1());
    check_integrity(scale5());
    check_integrity(&demo::generate(&DemoConfig { scale: 1, seed: 0 }));
}

#[test]
fn realistic_shapes() {
    let data = scale5();
    let orders = data.orders.len() as f64;
    let refunded = data
        .orders
        .iter()
        .filter(|o| o.status == "refunded")
        .count() as f64;
    let cancelled = data
        .orders
        .iter()
        .filter(|o| o.status == "cancelled")
        .count();
    assert!(
        (0.045..=0.085).contains(&(refunded / orders)),
        "refund rate {}",
        refunded / orders
    );
    assert!(cancelled > 0);
    let tests = data.customers.iter().filter(|c| c.is_test).count() as f64;
    let share = tests / data.customers.len() as f64;
    assert!((0.005..=0.07).contains(&share), "is_test share {share}");
    assert!(data.orders.iter().any(|o| o.discount > Decimal::ZERO));
    assert!(data.orders.iter().any(|o| o.session_id.is_none()));

    let mut orders_per_customer: BTreeMap<i64, usize> = BTreeMap::new();
    for o in &data.orders {
        *orders_per_customer.entry(o.customer_id).or_default() += 1;
    }
    let returning = orders_per_customer.values().filter(|&&n| n >= 3).count();
    assert!(returning >= 20, "{returning} customers with 3+ orders");

    let mut devices_per_customer: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &data.truth_devices {
        if let Some(c) = t.customer_id {
            *devices_per_customer.entry(c).or_default() += 1;
        }
    }
    assert!(devices_per_customer.values().filter(|&&n| n >= 2).count() >= 50);
    let mut anons_per_customer: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &data.truth_anonymous {
        if let Some(c) = t.customer_id {
            *anons_per_customer.entry(c).or_default() += 1;
        }
    }
    assert!(anons_per_customer.values().filter(|&&n| n >= 3).count() >= 50);
    let unlinkable = data
        .truth_anonymous
        .iter()
        .filter(|t| t.customer_id.is_some() && !t.linkable)
        .count();
    let via_device = data
        .truth_anonymous
        .iter()
        .filter(|t| t.linkable && !t.direct)
        .count();
    assert!(unlinkable > 20, "{unlinkable} unlinkable customer cookies");
    assert!(
        via_device > 20,
        "{via_device} cookies linkable only through a device"
    );
    assert!(data.devices.iter().any(|d| d.customer_id.is_none()));
    for source in ["signup", "login", "email_click"] {
        assert!(
            data.identity_links.iter().any(|l| l.source == source),
            "{source}"
        );
    }
    for kind in [
        "signup",
        "login",
        "add_to_cart",
        "checkout",
        "purchase",
        "product_view",
    ] {
        assert!(data.events.iter().any(|e| e.event_type == kind), "{kind}");
    }

    // Weekly and yearly seasonality in traffic.
    let mut per_day = [0usize; 365];
    for e in &data.events {
        per_day[e.occurred_at.ordinal0() as usize] += 1;
    }
    let weekend = |d: usize| (d + 2) % 7 >= 5;
    let avg = |days: &mut dyn Iterator<Item = usize>| {
        let v: Vec<usize> = days.collect();
        v.iter().map(|&d| per_day[d]).sum::<usize>() as f64 / v.len() as f64
    };
    let weekday_avg = avg(&mut (0..365).filter(|&d| !weekend(d)));
    let weekend_avg = avg(&mut (0..365).filter(|&d| weekend(d)));
    assert!(
        weekend_avg < weekday_avg * 0.95,
        "weekend {weekend_avg} weekday {weekday_avg}"
    );
    let peak = avg(&mut (304..365));
    let rest = avg(&mut (31..304));
    assert!(peak > rest * 1.2, "Nov/Dec {peak} vs rest {rest}");

    // Multi-touch journeys before purchases.
    let person_of: BTreeMap<AnonymousId, u64> = data
        .truth_anonymous
        .iter()
        .map(|t| (t.anonymous_id, t.person_id))
        .collect();
    let mut touches_of: BTreeMap<u64, Vec<NaiveDateTime>> = BTreeMap::new();
    for t in &data.marketing_touches {
        touches_of
            .entry(person_of[&t.anonymous_id])
            .or_default()
            .push(t.touched_at);
    }
    let sessions: BTreeMap<_, _> = data.sessions.iter().map(|s| (s.session_id, s)).collect();
    let mut journey_lengths = BTreeMap::new();
    let mut multi_day = 0;
    for o in &data.orders {
        let Some(sid) = o.session_id else { continue };
        let person = person_of[&sessions[&sid].anonymous_id];
        let window = o.ordered_at - chrono::Duration::days(14);
        let touches: Vec<_> = touches_of[&person]
            .iter()
            .filter(|&&t| t >= window && t <= o.ordered_at)
            .collect();
        *journey_lengths
            .entry(touches.len().min(7))
            .or_insert(0usize) += 1;
        if touches
            .iter()
            .any(|&&t| o.ordered_at - t > chrono::Duration::days(1))
        {
            multi_day += 1;
        }
    }
    assert!(
        !journey_lengths.contains_key(&0),
        "purchase without a touch"
    );
    assert!(
        journey_lengths.keys().filter(|&&k| k <= 6).count() >= 5,
        "{journey_lengths:?}"
    );
    assert!(multi_day > 50, "{multi_day} journeys spanning days");
    assert!(data.marketing_touches.iter().any(|t| t.campaign.is_none()));
    assert!(
        data.marketing_touches
            .iter()
            .any(|t| t.cost > Decimal::ZERO)
    );
    assert!(data.consent_events.iter().any(|c| c.status == "withdrawn"));
    assert!(data.support_tickets.iter().any(|t| t.closed_at.is_none()));
    assert!(data.support_tickets.iter().any(|t| t.csat_score.is_some()));
}

// --------------------------------------------------------------- loading

/// What every engine must report for scale 1, as text so all four engines
/// can be compared the same way.
struct Check {
    sql: String,
    expected: String,
}

fn checks(engine: Engine, data: &DemoData) -> Vec<Check> {
    let txt = |e: &str| match engine {
        Engine::Postgres | Engine::Sqlite => format!("CAST({e} AS TEXT)"),
        Engine::DuckDb => format!("CAST({e} AS VARCHAR)"),
        Engine::MySql => format!("CAST({e} AS CHAR)"),
    };
    // SQLite keeps decimals as REAL: round them back to cents.
    let money = |e: &str| match engine {
        Engine::Sqlite => format!("printf('%.2f', {e})"),
        _ => txt(e),
    };
    let is_true = match engine {
        Engine::Sqlite | Engine::MySql => "is_test = 1",
        _ => "is_test",
    };
    let mut out: Vec<Check> = data
        .row_counts()
        .into_iter()
        .map(|(table, n)| Check {
            sql: format!("SELECT {} FROM {table}", txt("COUNT(*)")),
            expected: n.to_string(),
        })
        .collect();
    let sum = |it: &mut dyn Iterator<Item = Decimal>| it.sum::<Decimal>().to_string();
    let distinct = |it: &mut dyn Iterator<Item = Option<i64>>| {
        it.flatten().collect::<BTreeSet<_>>().len().to_string()
    };
    out.extend([
        Check {
            sql: format!("SELECT {} FROM orders", money("SUM(amount)")),
            expected: sum(&mut data.orders.iter().map(|o| o.amount)),
        },
        Check {
            sql: format!(
                "SELECT {} FROM orders WHERE status = 'refunded'",
                money("SUM(refunded_amount)")
            ),
            expected: sum(&mut data.orders.iter().map(|o| o.refunded_amount)),
        },
        Check {
            sql: format!("SELECT {} FROM order_items", money("SUM(line_amount)")),
            expected: sum(&mut data.order_items.iter().map(|i| i.line_amount)),
        },
        Check {
            sql: format!("SELECT {} FROM events", txt("COUNT(DISTINCT customer_id)")),
            expected: distinct(&mut data.events.iter().map(|e| e.customer_id)),
        },
        Check {
            sql: format!("SELECT {} FROM events", txt("COUNT(DISTINCT anonymous_id)")),
            expected: data
                .events
                .iter()
                .map(|e| e.anonymous_id)
                .collect::<BTreeSet<_>>()
                .len()
                .to_string(),
        },
        Check {
            sql: format!(
                "SELECT {} FROM events WHERE customer_id IS NULL",
                txt("COUNT(*)")
            ),
            expected: data
                .events
                .iter()
                .filter(|e| e.customer_id.is_none())
                .count()
                .to_string(),
        },
        Check {
            sql: format!("SELECT {} FROM customers WHERE {is_true}", txt("COUNT(*)")),
            expected: data
                .customers
                .iter()
                .filter(|c| c.is_test)
                .count()
                .to_string(),
        },
        Check {
            sql: format!("SELECT {} FROM events", txt("MIN(occurred_at)")),
            expected: data
                .events
                .iter()
                .map(|e| e.occurred_at)
                .min()
                .unwrap()
                .to_string(),
        },
        Check {
            sql: format!("SELECT {} FROM orders", txt("MAX(refunded_at)")),
            expected: data
                .orders
                .iter()
                .filter_map(|o| o.refunded_at)
                .max()
                .unwrap()
                .to_string(),
        },
        Check {
            sql: format!(
                "SELECT {} FROM events e JOIN sessions s ON s.session_id = e.session_id \
                 WHERE e.occurred_at < s.started_at OR e.occurred_at > s.ended_at",
                txt("COUNT(*)")
            ),
            expected: "0".into(),
        },
        Check {
            sql: format!(
                "SELECT {} FROM orders o JOIN customers c ON c.customer_id = o.customer_id \
                 JOIN order_items i ON i.order_id = o.order_id",
                txt("COUNT(*)")
            ),
            expected: data.order_items.len().to_string(),
        },
        Check {
            sql: format!(
                "SELECT {} FROM erasure_requests r JOIN customers c \
                 ON c.customer_id = r.customer_id WHERE r.requested_at > c.signed_up_at",
                txt("COUNT(DISTINCT r.customer_id)")
            ),
            expected: data.erasure_requests.len().to_string(),
        },
        Check {
            sql: format!("SELECT {} FROM erasure_requests", txt("MAX(requested_at)")),
            expected: data
                .erasure_requests
                .iter()
                .map(|r| r.requested_at)
                .max()
                .unwrap()
                .to_string(),
        },
        Check {
            sql: format!(
                "SELECT {} FROM orders \
                 WHERE customer_id NOT IN (SELECT customer_id FROM erasure_requests)",
                txt("COUNT(*)")
            ),
            expected: {
                let erased: BTreeSet<i64> = data
                    .erasure_requests
                    .iter()
                    .map(|r| r.customer_id)
                    .collect();
                data.orders
                    .iter()
                    .filter(|o| !erased.contains(&o.customer_id))
                    .count()
                    .to_string()
            },
        },
        Check {
            sql: format!(
                "SELECT {} FROM customers WHERE region = 'EU'",
                txt("COUNT(*)")
            ),
            expected: data
                .customers
                .iter()
                .filter(|c| c.region == "EU")
                .count()
                .to_string(),
        },
    ]);
    out
}

fn report(engine: Engine, first: &LoadStats, second: &LoadStats) {
    let rate = |s: &LoadStats| s.rows as f64 / s.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "load {engine} scale 1: {} rows into {} tables in {:.3?} ({:.0} rows/s); reload {:.3?} ({:.0} rows/s)",
        first.rows,
        first.tables,
        first.elapsed,
        rate(first),
        second.elapsed,
        rate(second)
    );
}

fn unique_name(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .subsec_nanos();
    format!("accord_demo_test_{test}_{}_{nanos}", std::process::id())
}

#[cfg(feature = "duckdb")]
#[test]
fn loads_into_duckdb() {
    let data = scale1();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.duckdb");
    let conn = duckdb::Connection::open(&path).unwrap();
    let first = demo::load_duckdb(&conn, data).unwrap_or_else(|e| panic!("{e}"));
    let second = demo::load_duckdb(&conn, data).unwrap_or_else(|e| panic!("{e}"));
    report(Engine::DuckDb, &first, &second);
    assert_eq!(first.rows, data.total_rows());
    assert_eq!(first.tables, 13);
    for check in checks(Engine::DuckDb, data) {
        let got: String = conn
            .query_row(&check.sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{}: {e}", check.sql));
        assert_eq!(got, check.expected, "DuckDB: {}", check.sql);
    }
    // Values survive the appender exactly, not just in aggregate.
    let (amount, ts): (String, String) = conn
        .query_row(
            "SELECT CAST(amount AS VARCHAR), CAST(ordered_at AS VARCHAR) FROM orders WHERE order_id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(amount, data.orders[0].amount.to_string());
    assert_eq!(ts, data.orders[0].ordered_at.to_string());
}

#[tokio::test]
async fn loads_into_sqlite() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let data = scale1();
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("demo.sqlite"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let first = demo::load_sqlite(&pool, data)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = demo::load_sqlite(&pool, data)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    report(Engine::Sqlite, &first, &second);
    for check in checks(Engine::Sqlite, data) {
        let got: String = sqlx::query_scalar(&check.sql)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", check.sql));
        assert_eq!(got, check.expected, "SQLite: {}", check.sql);
    }
    let ts: String = sqlx::query_scalar("SELECT signed_up_at FROM customers WHERE customer_id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(ts, data.customers[0].signed_up_at.to_string());
    pool.close().await;
}

#[tokio::test]
async fn loads_into_postgres() {
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    let url = std::env::var("ACCORD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {url} is unreachable: {e} (start it or set ACCORD_TEST_POSTGRES_URL)"
            )
        });
    let schema = unique_name("pg");
    sqlx::raw_sql(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();

    let outcome = AssertUnwindSafe(async {
        let data = scale1();
        let first = demo::load_postgres(&pool, data).await.unwrap_or_else(|e| panic!("{e}"));
        let second = demo::load_postgres(&pool, data).await.unwrap_or_else(|e| panic!("{e}"));
        report(Engine::Postgres, &first, &second);
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(tables, 13, "tables must land in the dedicated schema");
        for check in checks(Engine::Postgres, data) {
            let got: String = sqlx::query_scalar(&check.sql)
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", check.sql));
            assert_eq!(got, check.expected, "PostgreSQL: {}", check.sql);
        }
        let indexes: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'idx_%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(indexes >= 16, "{indexes} foreign key indexes");
    })
    .catch_unwind()
    .await;
    pool.close().await;
    sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[tokio::test]
async fn loads_into_mariadb() {
    use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
    let url = std::env::var("ACCORD_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
    let admin = MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&url)
        .await
        .unwrap_or_else(|e| {
            panic!("MariaDB at {url} is unreachable: {e} (start it or set ACCORD_TEST_MYSQL_URL)")
        });
    let database = unique_name("my");
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {database}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = MySqlConnectOptions::from_str(&url)
        .unwrap()
        .database(&database);
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();

    let outcome = AssertUnwindSafe(async {
        let data = scale1();
        let first = demo::load_mysql(&pool, data)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let second = demo::load_mysql(&pool, data)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        report(Engine::MySql, &first, &second);
        for check in checks(Engine::MySql, data) {
            let got: String = sqlx::query_scalar(&check.sql)
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", check.sql));
            assert_eq!(got, check.expected, "MariaDB: {}", check.sql);
        }
        let amount: Decimal = sqlx::query_scalar("SELECT amount FROM orders WHERE order_id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(amount, data.orders[0].amount);
    })
    .catch_unwind()
    .await;
    pool.close().await;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {database}"))
        .execute(&admin)
        .await
        .unwrap();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn ddl_is_engine_specific() {
    use accord::demo::{Row, ddl::index_sqls};
    let orders = demo::Order::SPEC;
    let links = demo::IdentityLink::SPEC;
    let customers = demo::Customer::SPEC;
    let my = demo::create_table_sql(Engine::MySql, orders);
    assert!(my.contains("`ordered_at` DATETIME NOT NULL"), "{my}");
    assert!(my.contains("`session_id` VARCHAR(255),"), "{my}");
    assert!(my.contains("`amount` DECIMAL(12,2) NOT NULL"), "{my}");
    let pg = demo::create_table_sql(Engine::Postgres, orders);
    assert!(pg.contains("\"refunded_at\" TIMESTAMP,"), "{pg}");
    assert!(pg.contains("PRIMARY KEY (\"order_id\")"), "{pg}");
    let lite = demo::create_table_sql(Engine::Sqlite, customers);
    assert!(lite.contains("\"signed_up_at\" TEXT NOT NULL"), "{lite}");
    assert!(lite.contains("\"is_test\" INTEGER NOT NULL"), "{lite}");
    let duck = demo::create_table_sql(Engine::DuckDb, links);
    assert!(
        duck.contains("PRIMARY KEY (\"anonymous_id\", \"customer_id\")"),
        "{duck}"
    );
    assert!(index_sqls(Engine::DuckDb, orders).is_empty());
    assert_eq!(index_sqls(Engine::Postgres, orders).len(), 2);
    assert_eq!(demo::schema_sql(Engine::MySql).len(), 26 + 16);
    let erasure = demo::create_table_sql(Engine::Postgres, demo::ErasureRequest::SPEC);
    assert!(
        erasure.contains("\"customer_id\" BIGINT NOT NULL"),
        "{erasure}"
    );
    assert!(
        erasure.contains("\"requested_at\" TIMESTAMP NOT NULL"),
        "{erasure}"
    );
    assert!(
        erasure.contains("PRIMARY KEY (\"erasure_request_id\")"),
        "{erasure}"
    );
    assert_eq!(
        index_sqls(Engine::Postgres, demo::ErasureRequest::SPEC),
        [
            "CREATE INDEX \"idx_erasure_requests_customer_id\" ON \"erasure_requests\" (\"customer_id\")"
        ]
    );
}

#[test]
#[ignore = "timing run: cargo test --release --test demo_data -- --ignored --nocapture"]
fn scale_100_generation_timing() {
    eprintln!(
        "row sizes: event {} B, session {} B, touch {} B, order {} B",
        std::mem::size_of::<demo::Event>(),
        std::mem::size_of::<demo::Session>(),
        std::mem::size_of::<demo::MarketingTouch>(),
        std::mem::size_of::<demo::Order>()
    );
    for scale in [10, 100] {
        let started = Instant::now();
        let data = demo::generate(&DemoConfig { scale, seed: 42 });
        let took = started.elapsed();
        eprintln!(
            "generate scale {scale}: {} rows ({} events) in {:.2?} = {:.0} events/s",
            data.total_rows(),
            data.events.len(),
            took,
            data.events.len() as f64 / took.as_secs_f64()
        );
        print_counts(&format!("scale {scale} seed 42"), &data);
    }
}

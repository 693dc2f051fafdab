//! An adversarial suite for access control, through real listening servers
//! over the demo data (scale 1, seed 42, DuckDB): members hidden through
//! every clause of a query, tokens of every broken kind, default deny, roles
//! combined, row filters with hostile claims, hash masks, minimum group
//! sizes, purposes, what /v1/compile reports, and the same enforcement in
//! the planner the CLI calls.
//!
//! Every expected number is computed here in Rust from the generator's
//! rows, never read back from the warehouse under test.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/demo_rows.rs"]
mod demo_rows;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use accord::access::Caller;
use accord::demo::{Customer, Order};
use accord::dialect::DialectKind;
use accord::server::ServeConfig;
use auth::{
    JWKS_KID, Keys, SECRET, background_server, bearer, body, mask_hex, now, raw_token, sign_es256,
    sign_hmac, sign_hs256, sign_rs256, token, with_payload,
};
use chrono::NaiveDateTime;
use demo_rows::{customer, demo, suppressed};
use http::{Client, Resp};
use jsonwebtoken::Algorithm;
use rust_decimal::Decimal;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Servers (one per configuration, shared by every test of this binary)
// ---------------------------------------------------------------------------

/// A server over the demo definitions and a private copy of the demo
/// DuckDB file; `extra_defs` names a file of tests/fixtures/access/ to add
/// to a copy of the demo definitions.
fn demo_server(
    tweak: impl FnOnce(&mut ServeConfig) + Send + 'static,
    extra_defs: Option<&'static str>,
) -> String {
    background_server(move || {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = http::demo_duckdb_copy(dir.path());
        let defs = match extra_defs {
            None => http::demo_defs(),
            Some(file) => {
                let defs = dir.path().join("defs");
                http::copy_dir(&http::demo_defs(), &defs);
                let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/access")
                    .join(file);
                std::fs::copy(&fixture, defs.join(file)).expect("copy the fixture roles");
                defs
            }
        };
        let mut config = ServeConfig::for_tests(&defs, url);
        config.reload = false;
        tweak(&mut config);
        (config, dir)
    })
}

/// Demo policies, HS256 with the development secret, anonymous access off.
fn main_server() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        demo_server(
            |c| {
                c.auth.as_mut().expect("auth").anonymous_roles = None;
            },
            None,
        )
    })
}

/// The demo policies plus `tests/fixtures/access/extra_roles.yml`.
fn extra_server() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        demo_server(
            |c| {
                c.auth.as_mut().expect("auth").anonymous_roles = None;
            },
            Some("extra_roles.yml"),
        )
    })
}

const ISSUER: &str = "https://idp.accord.test";
const AUDIENCE: &str = "accord-api";

/// HS256 with an issuer and an audience to check.
fn issuer_server() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        demo_server(
            |c| {
                let a = c.auth.as_mut().expect("auth");
                a.anonymous_roles = None;
                a.issuer = Some(ISSUER.into());
                a.audience = Some(AUDIENCE.into());
            },
            None,
        )
    })
}

/// Key material generated once per binary with the openssl CLI.
fn keys() -> &'static Keys {
    static K: OnceLock<Keys> = OnceLock::new();
    K.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("accord-access-keys")
            .tempdir()
            .expect("tempdir")
            .keep();
        auth::generate_keys(&dir)
    })
}

/// Public keys only: an RS256 PEM, an ES256 PEM and a JWKS file; no HMAC
/// secret at all.
fn keys_server() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| {
        let k = keys();
        let (rsa, ec, jwks) = (k.rsa_public.clone(), k.ec_public.clone(), k.jwks.clone());
        demo_server(
            move |c| {
                c.auth = Some(accord::auth::AuthConfig {
                    rs256_public_key: Some(rsa),
                    es256_public_key: Some(ec),
                    jwks_file: Some(jwks),
                    ..Default::default()
                });
            },
            None,
        )
    })
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

async fn call(
    base: &str,
    method: &str,
    path: &str,
    authorization: Option<&str>,
    payload: Option<&Value>,
) -> Resp {
    let c = Client::new(base);
    let mut req = match method {
        "GET" => c.http.get(c.url(path)),
        _ => c.http.post(c.url(path)),
    };
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    if let Some(p) = payload {
        req = req.json(p);
    }
    c.send(req).await
}

/// POST /v1/query with a bearer token.
async fn query(base: &str, token: &str, q: Value) -> Resp {
    call(base, "POST", "/v1/query", Some(&bearer(token)), Some(&q)).await
}

async fn compile(base: &str, token: &str, q: Value) -> Resp {
    call(base, "POST", "/v1/compile", Some(&bearer(token)), Some(&q)).await
}

async fn get(base: &str, token: &str, path: &str) -> Resp {
    call(base, "GET", path, Some(&bearer(token)), None).await
}

/// The rows of a successful JSON query response.
fn rows(r: &Resp) -> Vec<Value> {
    r.ok_json()["rows"].as_array().expect("rows").clone()
}

/// Asserts a problem with this status, code and exact detail; returns it.
fn refused(r: &Resp, status: u16, code: &str, detail: &str) -> Value {
    let p = r.problem(status, code);
    assert_eq!(p["detail"], detail, "detail in:\n{p:#}");
    p
}

fn suggestions(p: &Value) -> Vec<String> {
    p["suggestions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn admin() -> String {
    token(&["admin"], &[])
}

fn partner() -> String {
    token(&["partner"], &[])
}

fn analyst() -> String {
    token(&["analyst"], &[])
}

fn manager(region: Value) -> String {
    token(&["regional_manager"], &[("region", region)])
}

/// Metrics and dimensions the partner role may see.
const PARTNER_METRICS: [&str; 4] = ["average_order_value", "orders", "revenue", "sessions"];

// ---------------------------------------------------------------------------
// Expectations computed from the generator
// ---------------------------------------------------------------------------

/// Orders that count as sales (the `revenue` and `orders` metrics), of
/// customers who are not suppressed.
fn live_orders() -> impl Iterator<Item = &'static Order> {
    demo()
        .orders
        .iter()
        .filter(|o| o.status != "cancelled" && !suppressed(o.customer_id))
}

/// Sessions that count: anonymous ones, and those of customers who are not
/// suppressed.
fn live_sessions() -> impl Iterator<Item = &'static accord::demo::Session> {
    demo()
        .sessions
        .iter()
        .filter(|s| s.customer_id.is_none_or(|id| !suppressed(id)))
}

/// Whether `customer` had `purpose` granted at `t`: the ledger replayed in
/// (time, consent_event_id) order, the last event at or before `t` wins.
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

fn dec(d: Decimal) -> Value {
    json!(d.normalize().to_string())
}

/// Revenue per customer attribute over the orders `keep` accepts, as
/// `[key, revenue]` rows in key order.
fn revenue_by(
    key: impl Fn(&Customer) -> &'static str,
    keep: impl Fn(&Order, &Customer) -> bool,
) -> Vec<Value> {
    let mut sums: BTreeMap<&str, Decimal> = BTreeMap::new();
    for o in live_orders() {
        let c = customer(o.customer_id);
        if keep(o, c) {
            *sums.entry(key(c)).or_default() += o.amount;
        }
    }
    sums.into_iter().map(|(k, v)| json!([k, dec(v)])).collect()
}

fn revenue_total(keep: impl Fn(&Order, &Customer) -> bool) -> Decimal {
    live_orders()
        .filter(|o| keep(o, customer(o.customer_id)))
        .map(|o| o.amount)
        .sum()
}

fn country(c: &Customer) -> &'static str {
    c.country
}

fn region(c: &Customer) -> &'static str {
    c.region
}

fn eu_marketing(o: &Order, c: &Customer) -> bool {
    c.region == "EU" && consented(c.customer_id, "marketing", o.ordered_at)
}

// ---------------------------------------------------------------------------
// Forbidden members, through every clause
// ---------------------------------------------------------------------------

#[tokio::test]
async fn partner_cannot_ask_for_a_hidden_metric() {
    let r = query(main_server(), &partner(), json!({"metrics": ["refunds"]})).await;
    let p = refused(&r, 422, "unknown_metric", "unknown metric `refunds`");
    assert_eq!(p["field"], "metrics[0]");
}

#[tokio::test]
async fn a_version_of_a_hidden_metric_is_hidden_too() {
    let r = query(main_server(), &partner(), json!({"metrics": ["refunds@1"]})).await;
    let p = refused(&r, 422, "unknown_metric", "unknown metric `refunds`");
    assert_eq!(p["field"], "metrics[0]");
}

#[tokio::test]
async fn a_missing_version_of_a_hidden_metric_reveals_nothing() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["refunds@99"]}),
    )
    .await;
    let p = r.problem(r.status, p_code(&r).as_str());
    let detail = p["detail"].as_str().unwrap();
    assert!(!detail.contains("refunds@1"), "{p:#}");
    // As for any name the caller cannot see.
    refused(&r, 422, "unknown_metric", "unknown metric `refunds`");
}

fn p_code(r: &Resp) -> String {
    r.json()["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn partner_cannot_ask_for_a_derived_metric_of_hidden_inputs() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue", "net_revenue"]}),
    )
    .await;
    let p = refused(&r, 422, "unknown_metric", "unknown metric `net_revenue`");
    assert_eq!(p["field"], "metrics[1]");
}

#[tokio::test]
async fn a_derived_metric_shown_by_name_is_refused_when_an_input_is_hidden() {
    // derived_viewer includes net_revenue and return_on_ad_spend by name but
    // not refunds or marketing_spend.
    let t = token(&["derived_viewer"], &[]);
    for m in ["net_revenue", "return_on_ad_spend"] {
        let r = query(extra_server(), &t, json!({"metrics": [m]})).await;
        refused(&r, 422, "unknown_metric", &format!("unknown metric `{m}`"));
    }
    let r = query(extra_server(), &t, json!({"metrics": ["revenue"]})).await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
}

#[tokio::test]
async fn a_ratio_whose_input_is_hidden_is_refused() {
    // The partner may not see `refunded_orders`, so not `refund_rate` either.
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["refund_rate"]}),
    )
    .await;
    refused(&r, 422, "unknown_metric", "unknown metric `refund_rate`");
}

#[tokio::test]
async fn partner_cannot_group_by_a_hidden_dimension() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue"], "dimensions": ["customers.region", "customers.segment"]}),
    )
    .await;
    let p = refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `customers.segment`",
    );
    assert_eq!(p["field"], "dimensions[1]");
}

#[tokio::test]
async fn partner_cannot_filter_on_a_hidden_dimension() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue"],
               "filters": [{"dimension": "orders.channel", "op": "eq", "values": ["web"]}]}),
    )
    .await;
    let p = refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `orders.channel`",
    );
    assert_eq!(p["field"], "filters[0].dimension");
}

#[tokio::test]
async fn partner_cannot_name_a_hidden_dimension_in_where() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue"], "where": "customers.region = 'EU' AND customers.segment = 'smb'"}),
    )
    .await;
    let p = refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `customers.segment`",
    );
    assert_eq!(p["field"], "where");
}

#[tokio::test]
async fn partner_cannot_order_by_a_hidden_dimension() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"],
               "order_by": ["customers.segment"]}),
    )
    .await;
    let p = refused(
        &r,
        422,
        "invalid_query",
        "cannot order by `customers.segment`: it is not a metric or dimension of this query",
    );
    assert_eq!(p["field"], "order_by[0]");
    assert!(
        suggestions(&p).iter().all(|s| !s.contains("segment")),
        "{p:#}"
    );
}

#[tokio::test]
async fn metric_time_is_refused_to_a_role_without_it() {
    let t = token(&["no_time"], &[]);
    // Refused as an unknown dimension, like a name that does not exist.
    for (q, name) in [
        (
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"]}),
            "metric_time:month",
        ),
        (
            json!({"metrics": ["revenue"],
               "filters": [{"dimension": "metric_time", "op": "gte", "values": ["2025-06-01"]}]}),
            "metric_time",
        ),
        (
            json!({"metrics": ["revenue"], "where": "metric_time >= '2025-06-01'"}),
            "metric_time",
        ),
    ] {
        let r = query(extra_server(), &t, q.clone()).await;
        refused(
            &r,
            422,
            "unknown_dimension",
            &format!("unknown dimension `{name}`"),
        );
    }
    // What it may see still works.
    let r = query(
        extra_server(),
        &t,
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"]}),
    )
    .await;
    assert_eq!(rows(&r), revenue_by(country, |_, _| true));
}

#[tokio::test]
async fn a_time_range_is_refused_to_a_role_without_metric_time() {
    let t = token(&["no_time"], &[]);
    let r = query(
        extra_server(),
        &t,
        json!({"metrics": ["revenue"], "time_range": {"start": "2025-06-01", "end": "2025-07-01"}}),
    )
    .await;
    refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `metric_time`",
    );
}

#[tokio::test]
async fn a_typo_suggests_only_visible_metrics() {
    let r = query(main_server(), &partner(), json!({"metrics": ["revenu"]})).await;
    let p = refused(&r, 422, "unknown_metric", "unknown metric `revenu`");
    assert_eq!(suggestions(&p), ["revenue"]);
}

#[tokio::test]
async fn a_typo_near_a_hidden_metric_suggests_nothing_hidden() {
    // The admin is offered `refunds`; the partner, who may not see it, is
    // offered nothing.
    let r = query(main_server(), &admin(), json!({"metrics": ["refundz"]})).await;
    let p = refused(&r, 422, "unknown_metric", "unknown metric `refundz`");
    assert_eq!(suggestions(&p), ["refunds"]);
    let r = query(main_server(), &partner(), json!({"metrics": ["refundz"]})).await;
    let p = refused(&r, 422, "unknown_metric", "unknown metric `refundz`");
    assert_eq!(suggestions(&p), Vec::<String>::new(), "{p:#}");
    assert!(p.get("suggestions").is_none(), "{p:#}");
}

#[tokio::test]
async fn a_dimension_typo_suggests_only_visible_dimensions() {
    let q = |d: &str| json!({"metrics": ["revenue"], "dimensions": [d]});
    let r = query(main_server(), &admin(), q("customers.segmnt")).await;
    let p = refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `customers.segmnt`",
    );
    assert_eq!(suggestions(&p), ["customers.segment"]);
    // Suggestions come from the names the caller may see, as if hidden
    // ones did not exist (an empty list would betray a hidden near-match).
    let r = query(main_server(), &partner(), q("customers.segmnt")).await;
    let p = refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `customers.segmnt`",
    );
    for s in suggestions(&p) {
        assert!(["customers.region"].contains(&s.as_str()), "{s}");
    }
    let r = query(main_server(), &partner(), q("customers.regoin")).await;
    let p = refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `customers.regoin`",
    );
    assert_eq!(suggestions(&p), ["customers.region"]);
}

#[tokio::test]
async fn an_ambiguous_name_does_not_reveal_hidden_dimensions() {
    // `channel` exists in orders, sessions and marketing_touches, none of
    // which the partner may see: to the partner it does not exist.
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue"], "dimensions": ["channel"]}),
    )
    .await;
    let p = r.problem(r.status, p_code(&r).as_str());
    for hidden in [
        "orders.channel",
        "sessions.channel",
        "marketing_touches.channel",
    ] {
        assert!(!p.to_string().contains(hidden), "{hidden} leaks: {p:#}");
    }
    let p = refused(&r, 422, "unknown_dimension", "unknown dimension `channel`");
    assert_eq!(suggestions(&p), Vec::<String>::new());
}

#[tokio::test]
async fn the_catalog_shows_the_partner_only_what_it_may_see() {
    let r = get(main_server(), &partner(), "/v1/catalog").await;
    let c = r.ok_json();
    let metrics: Vec<&str> = c["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    assert_eq!(metrics, PARTNER_METRICS);
    let mut dims = Vec::new();
    for m in c["models"].as_array().expect("models") {
        for d in m["dimensions"].as_array().expect("dimensions") {
            assert_eq!(d["masked"], false, "{d}");
            dims.push(format!(
                "{}.{}",
                m["name"].as_str().unwrap(),
                d["name"].as_str().unwrap()
            ));
        }
    }
    assert_eq!(dims, ["customers.region"]);
    for m in c["metrics"].as_array().expect("metrics") {
        let ds: BTreeSet<&str> = m["dimensions"]
            .as_array()
            .expect("dimensions")
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert!(
            ds.is_subset(&BTreeSet::from([
                "customers.country",
                "customers.region",
                "metric_time"
            ])),
            "{m:#}"
        );
    }
}

#[tokio::test]
async fn the_catalog_flags_the_analysts_masked_email_and_hides_marketing_eu_emails() {
    let masked_dims = |c: &Value| -> Vec<String> {
        c["models"]
            .as_array()
            .expect("models")
            .iter()
            .flat_map(|m| {
                let model = m["name"].as_str().unwrap().to_string();
                m["dimensions"]
                    .as_array()
                    .expect("dimensions")
                    .iter()
                    .filter(|d| d["masked"] == true)
                    .map(move |d| format!("{model}.{}", d["name"].as_str().unwrap()))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let has_email = |c: &Value| {
        c["models"].as_array().unwrap().iter().any(|m| {
            m["name"] == "customers"
                && m["dimensions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["name"] == "email")
        })
    };
    let a = get(main_server(), &analyst(), "/v1/catalog")
        .await
        .ok_json();
    assert_eq!(masked_dims(&a), ["customers.email"]);
    let all = get(main_server(), &admin(), "/v1/catalog").await.ok_json();
    assert_eq!(masked_dims(&all), Vec::<String>::new());
    assert_eq!(
        a["metrics"].as_array().unwrap().len(),
        all["metrics"].as_array().unwrap().len(),
        "the analyst sees every metric"
    );
    let m = get(
        main_server(),
        &token(&["marketing_eu"], &[("purpose", json!("marketing"))]),
        "/v1/catalog",
    )
    .await
    .ok_json();
    assert!(has_email(&all) && has_email(&a));
    assert!(!has_email(&m), "marketing_eu never sees emails");
    assert_eq!(masked_dims(&m), Vec::<String>::new());
}

#[tokio::test]
async fn a_hidden_metric_is_not_found_in_the_catalog() {
    let r = get(main_server(), &partner(), "/v1/catalog/metrics/refunds").await;
    let p = refused(&r, 404, "unknown_metric", "unknown metric `refunds`");
    assert!(
        suggestions(&p)
            .iter()
            .all(|s| PARTNER_METRICS.contains(&s.as_str())),
        "{p:#}"
    );
    let r = get(main_server(), &partner(), "/v1/catalog/metrics/net_revenue").await;
    refused(&r, 404, "unknown_metric", "unknown metric `net_revenue`");
    // By name visible, input hidden: still not there.
    let r = get(
        extra_server(),
        &token(&["derived_viewer"], &[]),
        "/v1/catalog/metrics/net_revenue",
    )
    .await;
    refused(&r, 404, "unknown_metric", "unknown metric `net_revenue`");
}

#[tokio::test]
async fn a_visible_metric_in_the_catalog_lists_only_visible_dimensions() {
    let r = get(main_server(), &partner(), "/v1/catalog/metrics/revenue").await;
    let c = r.ok_json();
    let dims: BTreeSet<&str> = c["versions"][0]["dimensions"]
        .as_array()
        .expect("dimensions")
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(dims, BTreeSet::from(["customers.region", "metric_time"]));
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

fn unauthorized(r: &Resp, detail: &str) {
    refused(r, 401, "unauthorized", detail);
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"accord\"")
    );
}

fn unauthorized_starting(r: &Resp, prefix: &str) {
    let p = r.problem(401, "unauthorized");
    assert!(
        p["detail"].as_str().unwrap().starts_with(prefix),
        "detail should start with {prefix:?}: {p:#}"
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"accord\"")
    );
}

fn revenue_q() -> Value {
    json!({"metrics": ["revenue"]})
}

async fn with_header(base: &str, authorization: Option<&str>) -> Resp {
    call(base, "POST", "/v1/query", authorization, Some(&revenue_q())).await
}

#[tokio::test]
async fn a_missing_token_is_401_when_anonymous_access_is_off() {
    let r = with_header(main_server(), None).await;
    unauthorized(&r, "missing bearer token (Authorization: Bearer <JWT>)");
    let r = call(main_server(), "GET", "/v1/catalog", None, None).await;
    unauthorized(&r, "missing bearer token (Authorization: Bearer <JWT>)");
}

#[tokio::test]
async fn a_malformed_token_is_401() {
    for t in ["not-a-jwt", "a.b.c", "...."] {
        let r = with_header(main_server(), Some(&bearer(t))).await;
        unauthorized_starting(&r, "malformed token");
    }
    // A well-formed header with an empty payload and no signature.
    let r = with_header(main_server(), Some(&bearer("eyJhbGciOiJIUzI1NiJ9.."))).await;
    unauthorized(&r, "the token's signature does not verify");
}

#[tokio::test]
async fn a_wrong_scheme_is_401() {
    let t = admin();
    for h in [
        "Basic YWRtaW46YWRtaW4=".to_string(),
        t.clone(),
        format!("Token {t}"),
        format!("Bearer{t}"),
    ] {
        let r = with_header(main_server(), Some(&h)).await;
        unauthorized(&r, "the Authorization header must be `Bearer <JWT>`");
    }
    // The scheme name itself is case-insensitive (RFC 9110).
    let r = with_header(main_server(), Some(&format!("BEARER {t}"))).await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let mut b = body(&["admin"]);
    b["exp"] = json!(now() - 3600);
    let r = with_header(
        main_server(),
        Some(&bearer(&sign_hs256(SECRET.as_bytes(), &b))),
    )
    .await;
    unauthorized(&r, "the token has expired");
}

#[tokio::test]
async fn a_token_not_yet_valid_is_401() {
    let mut b = body(&["admin"]);
    b["nbf"] = json!(now() + 3600);
    let r = with_header(
        main_server(),
        Some(&bearer(&sign_hs256(SECRET.as_bytes(), &b))),
    )
    .await;
    unauthorized(&r, "the token is not valid yet (nbf)");
}

#[tokio::test]
async fn a_token_without_exp_is_401() {
    let b = json!({"sub": "tester", "roles": ["admin"]});
    let r = with_header(
        main_server(),
        Some(&bearer(&sign_hs256(SECRET.as_bytes(), &b))),
    )
    .await;
    unauthorized(&r, "the token lacks the `exp` claim");
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_401() {
    let t = sign_hs256(
        b"another-secret-that-is-long-enough-0123456789",
        &body(&["admin"]),
    );
    let r = with_header(main_server(), Some(&bearer(&t))).await;
    unauthorized(&r, "the token's signature does not verify");
}

#[tokio::test]
async fn a_tampered_payload_is_401() {
    // A partner token whose payload is swapped for an admin one.
    let t = with_payload(&partner(), &body(&["admin"]));
    let r = with_header(main_server(), Some(&bearer(&t))).await;
    unauthorized(&r, "the token's signature does not verify");
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_401() {
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        for sig in ["", "AAAA"] {
            let t = raw_token(&header, &body(&["admin"]), sig);
            let r = with_header(main_server(), Some(&bearer(&t))).await;
            unauthorized_starting(&r, "malformed token");
        }
    }
}

#[tokio::test]
async fn an_unaccepted_algorithm_is_401() {
    let t = sign_hmac(Algorithm::HS512, SECRET.as_bytes(), &body(&["admin"]));
    let r = with_header(main_server(), Some(&bearer(&t))).await;
    unauthorized(
        &r,
        "algorithm HS512 is not accepted; use HS256, RS256 or ES256",
    );
}

#[tokio::test]
async fn an_rs256_token_is_401_where_only_a_secret_is_configured() {
    let t = sign_rs256(&keys().rsa_private, &body(&["admin"]), None);
    let r = with_header(main_server(), Some(&bearer(&t))).await;
    unauthorized(&r, "no key accepts RS256 tokens here");
}

#[tokio::test]
async fn a_token_is_accepted_within_the_clock_leeway() {
    let mut b = body(&["admin"]);
    b["exp"] = json!(now() - 5);
    let r = with_header(
        main_server(),
        Some(&bearer(&sign_hs256(SECRET.as_bytes(), &b))),
    )
    .await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
}

fn iss_aud(iss: Option<&str>, aud: Option<Value>) -> String {
    let mut b = body(&["admin"]);
    if let Some(i) = iss {
        b["iss"] = json!(i);
    }
    if let Some(a) = aud {
        b["aud"] = a;
    }
    sign_hs256(SECRET.as_bytes(), &b)
}

#[tokio::test]
async fn the_right_issuer_and_audience_are_accepted() {
    for aud in [json!(AUDIENCE), json!([AUDIENCE])] {
        let t = iss_aud(Some(ISSUER), Some(aud));
        let r = query(issuer_server(), &t, revenue_q()).await;
        assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
    }
}

#[tokio::test]
async fn a_wrong_issuer_is_401() {
    let t = iss_aud(Some("https://evil.example"), Some(json!(AUDIENCE)));
    let r = with_header(issuer_server(), Some(&bearer(&t))).await;
    unauthorized(&r, "the token's issuer is not accepted");
}

#[tokio::test]
async fn a_wrong_audience_is_401() {
    for aud in [json!("another-api"), json!(["another-api"])] {
        let t = iss_aud(Some(ISSUER), Some(aud));
        let r = with_header(issuer_server(), Some(&bearer(&t))).await;
        unauthorized(&r, "the token's audience is not accepted");
    }
}

#[tokio::test]
async fn a_token_without_an_issuer_is_401_when_one_is_required() {
    let t = iss_aud(None, Some(json!(AUDIENCE)));
    let r = with_header(issuer_server(), Some(&bearer(&t))).await;
    unauthorized(&r, "the token lacks the `iss` claim");
}

#[tokio::test]
async fn a_token_without_an_audience_is_401_when_one_is_required() {
    let t = iss_aud(Some(ISSUER), None);
    let r = with_header(issuer_server(), Some(&bearer(&t))).await;
    unauthorized(&r, "the token lacks the `aud` claim");
}

#[tokio::test]
async fn a_valid_rs256_token_is_accepted() {
    let t = sign_rs256(&keys().rsa_private, &body(&["partner"]), None);
    let r = query(keys_server(), &t, revenue_q()).await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
    // ... and its roles apply.
    let r = query(keys_server(), &t, json!({"metrics": ["refunds"]})).await;
    refused(&r, 422, "unknown_metric", "unknown metric `refunds`");
}

#[tokio::test]
async fn a_valid_es256_token_is_accepted() {
    let t = sign_es256(&keys().ec_private, &body(&["admin"]), None);
    let r = query(keys_server(), &t, revenue_q()).await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
}

#[tokio::test]
async fn a_jwks_key_selected_by_kid_is_accepted() {
    let t = sign_rs256(&keys().jwks_private, &body(&["admin"]), Some(JWKS_KID));
    let r = query(keys_server(), &t, revenue_q()).await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_401() {
    let k = keys();
    let rs = sign_rs256(&k.stranger_rsa_private, &body(&["admin"]), None);
    let es = sign_es256(&k.stranger_ec_private, &body(&["admin"]), None);
    // Signed by the JWKS key but announcing a kid nobody published.
    let kid = sign_rs256(&k.jwks_private, &body(&["admin"]), Some("unknown-kid"));
    // The JWKS kid, signed by a stranger.
    let stolen_kid = sign_rs256(&k.stranger_rsa_private, &body(&["admin"]), Some(JWKS_KID));
    for t in [rs, es, kid, stolen_kid] {
        let r = with_header(keys_server(), Some(&bearer(&t))).await;
        unauthorized(&r, "the token's signature does not verify");
    }
}

#[tokio::test]
async fn algorithm_confusion_with_the_rsa_public_key_as_hmac_secret_is_401() {
    let k = keys();
    let pem = std::fs::read(&k.rsa_public).expect("public key");
    let forged = sign_hs256(&pem, &body(&["admin"]));
    let r = with_header(keys_server(), Some(&bearer(&forged))).await;
    unauthorized(&r, "no key accepts HS256 tokens here");
    // Same with a trailing-newline-less PEM and with the JWKS kid announced.
    let trimmed = String::from_utf8(pem.clone()).unwrap();
    let forged = sign_hs256(trimmed.trim().as_bytes(), &body(&["admin"]));
    let r = with_header(keys_server(), Some(&bearer(&forged))).await;
    unauthorized(&r, "no key accepts HS256 tokens here");
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": JWKS_KID});
    let claims = body(&["admin"]);
    let mut forged = jsonwebtoken::encode(
        &serde_json::from_value::<jsonwebtoken::Header>(header).unwrap(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&pem),
    )
    .unwrap();
    let r = with_header(keys_server(), Some(&bearer(&forged))).await;
    unauthorized(&r, "no key accepts HS256 tokens here");
    // An HS256 token with the development secret: no HMAC key here at all.
    forged = sign_hs256(SECRET.as_bytes(), &claims);
    let r = with_header(keys_server(), Some(&bearer(&forged))).await;
    unauthorized(&r, "no key accepts HS256 tokens here");
}

// ---------------------------------------------------------------------------
// Default deny and roles combined
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_valid_token_without_roles_is_denied() {
    let t = token(&[], &[]);
    let r = query(main_server(), &t, revenue_q()).await;
    let msg = "no role: access is restricted by policies and the caller holds none of its roles";
    refused(&r, 403, "forbidden", msg);
    let r = get(main_server(), &t, "/v1/catalog").await;
    refused(&r, 403, "forbidden", msg);
    let r = compile(main_server(), &t, revenue_q()).await;
    refused(&r, 403, "forbidden", msg);
}

#[tokio::test]
async fn a_token_with_only_unknown_roles_is_denied() {
    let t = token(&["stranger", "ADMIN"], &[]);
    let r = query(main_server(), &t, revenue_q()).await;
    refused(
        &r,
        403,
        "forbidden",
        "none of the caller's roles (stranger, ADMIN) is defined in the access policies",
    );
}

#[tokio::test]
async fn a_roles_claim_of_the_wrong_shape_gives_no_role() {
    let msg = "no role: access is restricted by policies and the caller holds none of its roles";
    for roles in [
        json!(42),
        json!({"admin": true}),
        json!([["admin"]]),
        json!(null),
    ] {
        let mut b = body(&[]);
        b["roles"] = roles;
        let r = query(
            main_server(),
            &sign_hs256(SECRET.as_bytes(), &b),
            revenue_q(),
        )
        .await;
        refused(&r, 403, "forbidden", msg);
    }
    // A space-separated string is a list of roles.
    let mut b = body(&[]);
    b["roles"] = json!("stranger partner");
    let t = sign_hs256(SECRET.as_bytes(), &b);
    let r = query(main_server(), &t, json!({"metrics": ["refunds"]})).await;
    refused(&r, 422, "unknown_metric", "unknown metric `refunds`");
}

#[tokio::test]
async fn analyst_and_marketing_eu_together_see_what_either_sees() {
    let t = token(&["analyst", "marketing_eu"], &[]);
    // No row filter: the analyst does not restrict customers. Analytics is
    // allowed: the analyst may use it.
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"]}),
    )
    .await;
    assert_eq!(rows(&r), revenue_by(region, |_, _| true));
    // orders.customer: hidden to the analyst, shown to marketing_eu.
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["orders"], "dimensions": ["orders.customer"], "limit": 1}),
    )
    .await;
    assert_eq!(rows(&r).len(), 1);
    // customers.email: only the analyst shows it, and masks it.
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["orders"], "dimensions": ["customers.email"], "limit": 5}),
    )
    .await;
    for row in rows(&r) {
        let e = row[0].as_str().unwrap();
        assert!(e.len() == 64 && !e.contains('@'), "{e}");
    }
}

#[tokio::test]
async fn two_row_restricted_roles_see_the_union_of_their_rows() {
    // marketing_eu (EU) + regional_manager (NA): both restrict customers, so
    // their filters are ORed; marketing is allowed by marketing_eu.
    let t = token(
        &["marketing_eu", "regional_manager"],
        &[("region", json!("NA"))],
    );
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "purpose": "marketing"}),
    )
    .await;
    let expected = revenue_by(region, |o, c| {
        (c.region == "EU" || c.region == "NA")
            && consented(c.customer_id, "marketing", o.ordered_at)
    });
    assert_eq!(expected.len(), 2);
    assert_eq!(rows(&r), expected);
}

#[tokio::test]
async fn analyst_and_admin_together_see_raw_emails() {
    let t = token(&["analyst", "admin"], &[]);
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["orders"], "dimensions": ["customers.email"], "limit": 5}),
    )
    .await;
    let emails: BTreeSet<&str> = demo().customers.iter().map(|c| c.email.as_str()).collect();
    let got = rows(&r);
    assert_eq!(got.len(), 5);
    for row in got {
        assert!(emails.contains(row[0].as_str().unwrap()), "{row}");
    }
}

#[tokio::test]
async fn a_role_without_a_group_size_lifts_the_partners() {
    // analyst + partner: the analyst has no min_group_size, so none applies.
    let t = token(&["analyst", "partner"], &[]);
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["orders"], "dimensions": ["customers.country", "metric_time:day"]}),
    )
    .await;
    let body = r.ok_json();
    assert_eq!(body["meta"]["warnings"], json!([]));
    let mut expected: BTreeMap<(&str, String), i64> = BTreeMap::new();
    for o in live_orders() {
        *expected
            .entry((
                customer(o.customer_id).country,
                o.ordered_at.format("%Y-%m-%d").to_string(),
            ))
            .or_default() += 1;
    }
    let got: BTreeMap<(String, String), i64> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                (
                    row[0].as_str().unwrap().to_string(),
                    row[1].as_str().unwrap()[..10].to_string(),
                ),
                row[2].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeMap<(String, String), i64> = expected
        .into_iter()
        .map(|((c, d), n)| ((c.to_string(), d), n))
        .collect();
    assert!(expected.values().any(|n| *n < 10));
    assert_eq!(got, expected);
}

// ---------------------------------------------------------------------------
// Row filters
// ---------------------------------------------------------------------------

#[tokio::test]
async fn marketing_eu_sees_eu_revenue_of_consenting_customers_only() {
    let t = token(&["marketing_eu"], &[]);
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"], "purpose": "marketing"}),
    )
    .await;
    let expected = revenue_by(country, eu_marketing);
    let eu: BTreeSet<&str> = demo()
        .customers
        .iter()
        .filter(|c| c.region == "EU")
        .map(|c| c.country)
        .collect();
    assert!(expected.len() >= 3);
    assert!(expected.iter().all(|r| eu.contains(r[0].as_str().unwrap())));
    assert_eq!(rows(&r), expected);
}

#[tokio::test]
async fn marketing_eu_takes_its_purpose_from_the_token() {
    let t = token(&["marketing_eu"], &[("purpose", json!("marketing"))]);
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"]}),
    )
    .await;
    assert_eq!(rows(&r), revenue_by(country, eu_marketing));
    // The request's purpose overrides the token's.
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["revenue"], "purpose": "analytics"}),
    )
    .await;
    refused(
        &r,
        403,
        "forbidden",
        "the caller's roles may not query for the purpose `analytics`",
    );
}

#[tokio::test]
async fn marketing_eu_under_the_default_purpose_is_denied() {
    // The default purpose is analytics, which marketing_eu may not use.
    let t = token(&["marketing_eu"], &[]);
    let r = query(main_server(), &t, revenue_q()).await;
    refused(
        &r,
        403,
        "forbidden",
        "the caller's roles may not query for the purpose `analytics`",
    );
    let r = get(main_server(), &t, "/v1/catalog").await;
    refused(
        &r,
        403,
        "forbidden",
        "the caller's roles may not query for the purpose `analytics`",
    );
}

#[tokio::test]
async fn marketing_eu_may_not_use_another_consent_purpose() {
    let t = token(&["marketing_eu"], &[]);
    for p in ["ads", "personalization"] {
        let r = query(
            main_server(),
            &t,
            json!({"metrics": ["revenue"], "purpose": p}),
        )
        .await;
        refused(
            &r,
            403,
            "forbidden",
            &format!("the caller's roles may not query for the purpose `{p}`"),
        );
    }
}

#[tokio::test]
async fn marketing_eu_asking_for_another_region_gets_nothing() {
    let t = token(&["marketing_eu"], &[]);
    for q in [
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "purpose": "marketing",
               "filters": [{"dimension": "customers.region", "op": "eq", "values": ["NA"]}]}),
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "purpose": "marketing",
               "where": "customers.region <> 'EU' OR customers.region IS NULL OR 1 = 1"}),
    ] {
        let r = query(main_server(), &t, q).await;
        let got = rows(&r);
        assert!(
            got.iter().all(|row| row[0] == "EU"),
            "only EU rows may come back: {got:?}"
        );
    }
}

#[tokio::test]
async fn marketing_eu_counts_sessions_of_consenting_eu_customers_only() {
    let t = token(&["marketing_eu"], &[]);
    let r = query(
        main_server(),
        &t,
        json!({"metrics": ["sessions"], "purpose": "marketing"}),
    )
    .await;
    let expected = live_sessions()
        .filter(|s| {
            s.customer_id.is_some_and(|id| {
                customer(id).region == "EU" && consented(id, "marketing", s.started_at)
            })
        })
        .count() as i64;
    assert!(expected > 0);
    assert_eq!(rows(&r), [json!([expected])]);
}

#[tokio::test]
async fn a_regional_manager_sees_the_revenue_of_their_region() {
    let r = query(
        main_server(),
        &manager(json!("NA")),
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"]}),
    )
    .await;
    let expected = revenue_by(country, |_, c| c.region == "NA");
    assert_eq!(
        expected
            .iter()
            .map(|r| r[0].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["CA", "US"]
    );
    assert_eq!(rows(&r), expected);
}

#[tokio::test]
async fn a_regional_manager_counts_only_sessions_of_their_regions_customers() {
    let r = query(
        main_server(),
        &manager(json!("NA")),
        json!({"metrics": ["sessions"]}),
    )
    .await;
    let expected = live_sessions()
        .filter(|s| s.customer_id.is_some_and(|id| customer(id).region == "NA"))
        .count() as i64;
    assert!(expected > 0 && (expected as usize) < demo().sessions.len());
    assert_eq!(rows(&r), [json!([expected])]);
}

#[tokio::test]
async fn a_regional_manager_without_the_region_claim_is_denied() {
    let t = token(&["regional_manager"], &[]);
    let r = query(main_server(), &t, revenue_q()).await;
    refused(
        &r,
        403,
        "forbidden",
        "the access policy needs the claim `region`, which the caller lacks",
    );
}

/// Revenue by region as a hostile claim's manager: nothing, no error.
async fn hostile_region(claim: &str) {
    let r = query(
        main_server(),
        &manager(json!(claim)),
        json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.region"]}),
    )
    .await;
    assert_eq!(rows(&r), Vec::<Value>::new(), "claim {claim:?}");
    let r = query(
        main_server(),
        &manager(json!(claim)),
        json!({"metrics": ["sessions", "signups"]}),
    )
    .await;
    // A grand total over no rows is one row of NULLs or zeros, never others'.
    for row in rows(&r) {
        for v in row.as_array().unwrap() {
            assert!(v.is_null() || *v == json!(0), "claim {claim:?}: {row}");
        }
    }
}

#[tokio::test]
async fn a_quote_in_a_claim_cannot_widen_the_row_filter() {
    hostile_region("EU' OR '1'='1").await;
    hostile_region("' OR 1=1 --").await;
}

#[tokio::test]
async fn a_statement_in_a_claim_is_a_plain_value() {
    hostile_region("'; DROP TABLE customers; --").await;
    hostile_region("NA'); DELETE FROM orders; --").await;
    // The tables are intact.
    let r = query(
        main_server(),
        &admin(),
        json!({"metrics": ["signups", "orders"]}),
    )
    .await;
    let signups = demo()
        .customers
        .iter()
        .filter(|c| !c.is_test && !suppressed(c.customer_id))
        .count() as i64;
    let orders = live_orders().count() as i64;
    assert_eq!(rows(&r), [json!([signups, orders])]);
}

#[tokio::test]
async fn unicode_and_escapes_in_a_claim_match_nothing() {
    for claim in [
        "ÉU",
        "EU\u{2019} OR \u{2018}1\u{2019}=\u{2019}1",
        "欧洲",
        "EU\\",
        "EU\\' OR 1=1 --",
        "E\u{0301}U",
        "EU\u{200B}",
        "",
    ] {
        hostile_region(claim).await;
    }
}

#[tokio::test]
async fn a_list_claim_is_refused_outside_in() {
    for v in [
        json!(["EU", "NA"]),
        json!(["NA"]),
        json!({"region": "NA"}),
        json!(null),
    ] {
        let r = query(main_server(), &manager(v.clone()), revenue_q()).await;
        refused(
            &r,
            403,
            "forbidden",
            "claim `region` must be a string, number or boolean (or a list inside IN (...))",
        );
    }
}

#[tokio::test]
async fn a_scalar_claim_inside_in_is_a_one_item_list() {
    let t = |v: Value| token(&["multi_region"], &[("regions", v)]);
    let q = json!({"metrics": ["revenue"], "dimensions": ["customers.region"]});
    let r = query(extra_server(), &t(json!("LATAM")), q.clone()).await;
    assert_eq!(rows(&r), revenue_by(region, |_, c| c.region == "LATAM"));
    let r = query(extra_server(), &t(json!("LATAM' OR '1'='1")), q.clone()).await;
    assert_eq!(rows(&r), Vec::<Value>::new());
    let r = query(extra_server(), &token(&["multi_region"], &[]), q).await;
    refused(
        &r,
        403,
        "forbidden",
        "the access policy needs the claim `regions`, which the caller lacks",
    );
}

#[tokio::test]
async fn a_list_claim_expands_inside_in() {
    let t = |v: Value| token(&["multi_region"], &[("regions", v)]);
    let q = json!({"metrics": ["revenue"], "dimensions": ["customers.region"]});
    let r = query(extra_server(), &t(json!(["EU", "NA"])), q.clone()).await;
    assert_eq!(
        rows(&r),
        revenue_by(region, |_, c| c.region == "EU" || c.region == "NA")
    );
    // An empty list matches nothing.
    let r = query(extra_server(), &t(json!([])), q.clone()).await;
    assert_eq!(rows(&r), Vec::<Value>::new());
    // Hostile items stay values.
    let r = query(
        extra_server(),
        &t(json!(["EU') OR ('1'='1", "x' OR 'a'='a"])),
        q.clone(),
    )
    .await;
    assert_eq!(rows(&r), Vec::<Value>::new());
    // Nested lists are refused.
    let r = query(extra_server(), &t(json!([["EU"]])), q).await;
    refused(
        &r,
        403,
        "forbidden",
        "claim `regions` must be a string, number or boolean (or a list inside IN (...))",
    );
}

#[tokio::test]
async fn a_numeric_or_boolean_claim_never_errors() {
    for v in [json!(42), json!(true), json!(1.5e300)] {
        let r = query(
            main_server(),
            &manager(v.clone()),
            json!({"metrics": ["revenue"], "dimensions": ["customers.region"]}),
        )
        .await;
        // Either the value matches nothing, or the claim is refused; never
        // a warehouse error.
        if r.status == 403 {
            r.problem(403, "forbidden");
        } else {
            assert_eq!(rows(&r), Vec::<Value>::new(), "claim {v}");
        }
    }
}

#[tokio::test]
async fn cached_results_never_cross_callers() {
    let q = json!({"metrics": ["revenue"], "dimensions": ["customers.region"]});
    for region_name in ["EU", "NA", "APAC", "EU"] {
        let r = query(main_server(), &manager(json!(region_name)), q.clone()).await;
        assert_eq!(rows(&r), revenue_by(region, |_, c| c.region == region_name));
    }
    let q = json!({"metrics": ["orders"], "dimensions": ["customers.email"], "limit": 3});
    let raw = rows(&query(main_server(), &admin(), q.clone()).await);
    let masked = rows(&query(main_server(), &analyst(), q.clone()).await);
    for (a, b) in raw.iter().zip(&masked) {
        assert!(a[0].as_str().unwrap().contains('@'));
        assert!(!b[0].as_str().unwrap().contains('@'));
    }
}

// ---------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------

/// Orders per customer email, for customers with a live order.
fn orders_per_email() -> BTreeMap<&'static str, i64> {
    let mut m: BTreeMap<&str, i64> = BTreeMap::new();
    for o in live_orders() {
        *m.entry(customer(o.customer_id).email.as_str()).or_default() += 1;
    }
    m
}

#[tokio::test]
async fn the_analyst_sees_emails_as_keyed_hmac_hex() {
    for dim in ["customers.email", "email"] {
        let r = query(
            main_server(),
            &analyst(),
            json!({"metrics": ["orders"], "dimensions": [dim]}),
        )
        .await;
        let got: BTreeMap<String, i64> = rows(&r)
            .iter()
            .map(|row| {
                (
                    row[0].as_str().unwrap().to_string(),
                    row[1].as_i64().unwrap(),
                )
            })
            .collect();
        let expected: BTreeMap<String, i64> = orders_per_email()
            .into_iter()
            .map(|(e, n)| (mask_hex(e), n))
            .collect();
        assert_eq!(got.len(), orders_per_email().len(), "{dim}");
        assert_eq!(got, expected, "{dim}");
        assert!(
            got.keys().all(|h| h.len() == 64
                && h.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())),
            "{dim}"
        );
        assert!(
            !r.text().contains('@'),
            "no raw email anywhere in the response"
        );
    }
}

#[tokio::test]
async fn a_raw_email_filter_matches_nothing_for_the_analyst() {
    let (email, _) = orders_per_email().into_iter().next().unwrap();
    for q in [
        json!({"metrics": ["orders"], "dimensions": ["customers.email"],
               "filters": [{"dimension": "customers.email", "op": "eq", "values": [email]}]}),
        json!({"metrics": ["orders"], "dimensions": ["customers.email"],
               "filters": [{"dimension": "customers.email", "op": "in", "values": [email, email.to_uppercase()]}]}),
        json!({"metrics": ["orders"], "dimensions": ["customers.email"],
               "where": format!("lower(customers.email) = '{email}'")}),
    ] {
        let r = query(main_server(), &analyst(), q).await;
        assert_eq!(rows(&r), Vec::<Value>::new());
    }
}

#[tokio::test]
async fn the_hash_filter_finds_the_customer() {
    let (email, n) = orders_per_email().into_iter().nth(7).unwrap();
    let hash = mask_hex(email);
    let r = query(
        main_server(),
        &analyst(),
        json!({"metrics": ["orders"], "dimensions": ["customers.email"],
               "filters": [{"dimension": "customers.email", "op": "eq", "values": [hash]}]}),
    )
    .await;
    assert_eq!(rows(&r), [json!([hash, n])]);
}

#[tokio::test]
async fn pattern_filters_on_a_masked_email_match_nothing() {
    let (email, _) = orders_per_email().into_iter().next().unwrap();
    let prefix = &email[..4];
    for q in [
        json!({"metrics": ["orders"],
               "filters": [{"dimension": "customers.email", "op": "contains", "values": ["@"]}]}),
        json!({"metrics": ["orders"],
               "filters": [{"dimension": "customers.email", "op": "starts_with", "values": [prefix]}]}),
        json!({"metrics": ["orders"], "where": "customers.email LIKE '%@%'"}),
        json!({"metrics": ["orders"], "where": "length(customers.email) <> 64"}),
    ] {
        let r = query(main_server(), &analyst(), q.clone()).await;
        let got = rows(&r);
        assert!(
            got.is_empty() || got == [json!([null])] || got == [json!([0])],
            "{q}: {got:?}"
        );
    }
}

#[tokio::test]
async fn a_subquery_cannot_read_raw_emails() {
    let r = query(
        main_server(),
        &analyst(),
        json!({"metrics": ["orders"], "where": "customers.email IN (SELECT email FROM customers)"}),
    )
    .await;
    let p = r.problem(422, "invalid_filter");
    assert_eq!(p["field"], "where");
    let r = query(
        main_server(),
        &analyst(),
        json!({"metrics": ["orders"], "where": "EXISTS (SELECT 1 FROM customers WHERE email LIKE 'a%')"}),
    )
    .await;
    r.problem(422, "invalid_filter");
}

#[tokio::test]
async fn the_analyst_cannot_use_customer_ids() {
    for d in ["orders.customer", "customers.customer", "sessions.customer"] {
        let r = query(
            main_server(),
            &analyst(),
            json!({"metrics": ["orders"], "dimensions": [d]}),
        )
        .await;
        refused(
            &r,
            422,
            "unknown_dimension",
            &format!("unknown dimension `{d}`"),
        );
    }
}

#[tokio::test]
async fn the_analyst_cannot_reach_customer_ids_through_any_model() {
    for (m, d) in [
        ("units_sold", "order_items.customer"),
        ("touches", "marketing_touches.customer"),
        ("marketing_consent_grants", "consent_events.customer"),
        ("linked_visitors", "identity_links.customer"),
    ] {
        let r = query(
            main_server(),
            &analyst(),
            json!({"metrics": [m], "dimensions": [d]}),
        )
        .await;
        refused(
            &r,
            422,
            "unknown_dimension",
            &format!("unknown dimension `{d}`"),
        );
    }
}

#[tokio::test]
async fn a_hash_mask_is_refused_on_a_dialect_without_a_hash() {
    let r = call(
        main_server(),
        "POST",
        "/v1/compile?dialect=sqlite",
        Some(&bearer(&analyst())),
        Some(&json!({"metrics": ["orders"], "dimensions": ["customers.email"]})),
    )
    .await;
    let p = r.problem(422, "unsupported");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("keyed hash (HMAC-SHA256) for masking"),
        "{p:#}"
    );
}

// ---------------------------------------------------------------------------
// Minimum group size
// ---------------------------------------------------------------------------

/// Distinct customers with a live order per key.
fn buyers_by<K: Ord>(key: impl Fn(&Order) -> K) -> BTreeMap<K, BTreeSet<i64>> {
    let mut m: BTreeMap<K, BTreeSet<i64>> = BTreeMap::new();
    for o in live_orders() {
        m.entry(key(o)).or_default().insert(o.customer_id);
    }
    m
}

const K_WARNING: &str =
    "groups built from fewer than 10 distinct subjects are suppressed (min_group_size policy)";

#[tokio::test]
async fn partner_groups_by_country_have_at_least_ten_customers() {
    // Each country group is one (region, country, year) cell of the
    // country partner: the cell rule adds nothing to the group rule here.
    let r = query(
        extra_server(),
        &country_partner(),
        json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"]}),
    )
    .await;
    let body = r.ok_json();
    assert_eq!(body["meta"]["warnings"], json!([K_WARNING]));
    // Every format carries the warnings in a header too (a CSV or Arrow
    // body has no place for them).
    let header = |r: &Resp| -> Value {
        serde_json::from_str(r.header("x-accord-warnings").expect("x-accord-warnings"))
            .expect("a JSON array")
    };
    assert_eq!(header(&r), json!([K_WARNING]));
    let c = Client::new(extra_server());
    let csv = c
        .send(
            c.http
                .post(c.url("/v1/query"))
                .header("Authorization", bearer(&country_partner()))
                .header("accept", "text/csv")
                .json(
                    &json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"]}),
                ),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(header(&csv), json!([K_WARNING]));
    let buyers = buyers_by(|o| customer(o.customer_id).country);
    let mut expected = Vec::new();
    for (c, who) in &buyers {
        if who.len() >= 10 {
            let (sum, n) = live_orders()
                .filter(|o| customer(o.customer_id).country == *c)
                .fold((Decimal::ZERO, 0i64), |(s, n), o| (s + o.amount, n + 1));
            expected.push(json!([c, dec(sum), n]));
        }
    }
    assert_eq!(body["rows"].as_array().unwrap(), &expected);
}

#[tokio::test]
async fn partner_small_groups_over_time_are_suppressed_and_large_ones_kept() {
    // By month, each (country, month) group is one cell of the monthly
    // partner: the cell rule adds nothing to the group rule here.
    let r = query(
        extra_server(),
        &token(&["monthly_partner"], &[]),
        json!({"metrics": ["orders"], "dimensions": ["customers.country", "metric_time:month"]}),
    )
    .await;
    let body = r.ok_json();
    assert_eq!(body["meta"]["warnings"], json!([K_WARNING]));
    let buyers = buyers_by(|o| {
        (
            customer(o.customer_id).country.to_string(),
            o.ordered_at.format("%Y-%m").to_string(),
        )
    });
    assert!(
        buyers.values().any(|b| b.len() < 10),
        "some groups are small"
    );
    assert!(
        buyers.values().any(|b| b.len() >= 10),
        "some groups are large"
    );
    let mut counts: BTreeMap<(String, String), i64> = BTreeMap::new();
    for o in live_orders() {
        *counts
            .entry((
                customer(o.customer_id).country.to_string(),
                o.ordered_at.format("%Y-%m").to_string(),
            ))
            .or_default() += 1;
    }
    let expected: BTreeMap<(String, String), i64> = counts
        .into_iter()
        .filter(|(k, _)| buyers[k].len() >= 10)
        .collect();
    let got: BTreeMap<(String, String), i64> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                (
                    row[0].as_str().unwrap().to_string(),
                    row[1].as_str().unwrap()[..7].to_string(),
                ),
                row[2].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn partner_groups_over_two_models_need_ten_subjects_in_each() {
    let r = query(
        extra_server(),
        &country_partner(),
        json!({"metrics": ["orders", "sessions"], "dimensions": ["customers.country"]}),
    )
    .await;
    let body = r.ok_json();
    assert_eq!(body["meta"]["warnings"], json!([K_WARNING]));
    let mut orders: BTreeMap<Option<&str>, (i64, BTreeSet<i64>)> = BTreeMap::new();
    for o in live_orders() {
        let e = orders
            .entry(Some(customer(o.customer_id).country))
            .or_default();
        e.0 += 1;
        e.1.insert(o.customer_id);
    }
    let mut sessions: BTreeMap<Option<&str>, (i64, BTreeSet<i64>)> = BTreeMap::new();
    for s in live_sessions() {
        let e = sessions
            .entry(s.customer_id.map(|id| customer(id).country))
            .or_default();
        e.0 += 1;
        e.1.extend(s.customer_id);
    }
    let keys: BTreeSet<Option<&str>> = orders.keys().chain(sessions.keys()).copied().collect();
    let mut expected: BTreeMap<Option<String>, (Value, Value)> = BTreeMap::new();
    for k in keys {
        let o = orders.get(&k);
        let s = sessions.get(&k);
        let ok = o.is_none_or(|x| x.1.len() >= 10) && s.is_none_or(|x| x.1.len() >= 10);
        if ok {
            expected.insert(
                k.map(str::to_string),
                (
                    o.map_or(Value::Null, |x| json!(x.0)),
                    s.map_or(Value::Null, |x| json!(x.0)),
                ),
            );
        }
    }
    assert!(
        !expected.contains_key(&None),
        "anonymous sessions have no subjects to count"
    );
    let got: BTreeMap<Option<String>, (Value, Value)> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().map(str::to_string),
                (row[1].clone(), row[2].clone()),
            )
        })
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_filter_cannot_narrow_the_partner_to_a_small_group() {
    // One country on one day: a grand total over a handful of customers.
    let buyers = buyers_by(|o| {
        (
            customer(o.customer_id).country,
            o.ordered_at.format("%Y-%m-%d").to_string(),
        )
    });
    let ((small_country, small_day), few) = buyers
        .iter()
        .find(|(_, b)| b.len() < 10)
        .expect("a small group");
    assert!(few.len() < 10);
    let next_day = |d: &str| {
        (chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap() + chrono::Days::new(1))
            .format("%Y-%m-%d")
            .to_string()
    };
    let r = query(
        extra_server(),
        &country_partner(),
        json!({"metrics": ["revenue", "orders"],
               "filters": [{"dimension": "customers.country", "op": "eq", "values": [small_country]}],
               "time_range": {"start": small_day, "end": next_day(small_day)}}),
    )
    .await;
    // The partner's time cells are years: a day is not one.
    k_refused(&r, "time_range.start must fall on a year boundary (UTC)");
    // A whole country over the year is big enough.
    let by_country = buyers_by(|o| customer(o.customer_id).country);
    let (big, _) = by_country
        .iter()
        .find(|(_, b)| b.len() >= 10)
        .expect("a large country");
    let r = query(
        extra_server(),
        &country_partner(),
        json!({"metrics": ["orders"],
               "where": format!("customers.country = '{big}'")}),
    )
    .await;
    let n = live_orders()
        .filter(|o| customer(o.customer_id).country == *big)
        .count();
    assert_eq!(rows(&r), [json!([n])]);
}

#[tokio::test]
async fn the_partners_grand_total_works() {
    let r = query(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue", "orders"]}),
    )
    .await;
    let body = r.ok_json();
    assert_eq!(body["meta"]["warnings"], json!([K_WARNING]));
    assert_eq!(
        body["rows"],
        json!([[dec(revenue_total(|_, _| true)), live_orders().count()]])
    );
}

// ---------------------------------------------------------------------------
// k-anonymity against differencing (cells, docs/access.md)
// ---------------------------------------------------------------------------

/// A 403 whose detail starts with `message` (the rest names the rule).
fn k_refused(r: &Resp, message: &str) -> Value {
    let p = r.problem(403, "forbidden");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with(message) && detail.contains("min_group_size"),
        "detail in:\n{p:#}"
    );
    p
}

fn monthly_partner() -> String {
    token(&["monthly_partner"], &[])
}

fn country_partner() -> String {
    token(&["country_partner"], &[])
}

/// Buyers per (region, country, month) cell, over every live order.
fn monthly_cells() -> BTreeMap<(&'static str, &'static str, String), BTreeSet<i64>> {
    buyers_by(|o| {
        let c = customer(o.customer_id);
        (
            region(c),
            country(c),
            o.ordered_at.format("%Y-%m").to_string(),
        )
    })
}

/// Whether every cell `inside` holds 0 or at least 10 buyers.
fn cells_safe(inside: impl Fn(&str, &str) -> bool) -> bool {
    monthly_cells()
        .iter()
        .filter(|((r, c, _), _)| inside(r, c))
        .all(|(_, b)| b.len() >= 10)
}

#[tokio::test]
async fn a_region_is_shown_only_if_none_of_its_country_months_is_small() {
    let r = query(
        extra_server(),
        &monthly_partner(),
        json!({"metrics": ["orders"], "dimensions": ["customers.region"]}),
    )
    .await;
    let by_region = buyers_by(|o| region(customer(o.customer_id)));
    let mut expected = Vec::new();
    let mut hidden_by_a_cell = 0;
    for (reg, who) in &by_region {
        let safe = cells_safe(|r, _| r == *reg);
        if who.len() >= 10 && !safe {
            hidden_by_a_cell += 1;
        }
        if who.len() >= 10 && safe {
            let n = live_orders()
                .filter(|o| region(customer(o.customer_id)) == *reg)
                .count();
            expected.push(json!([reg, n]));
        }
    }
    assert!(
        hidden_by_a_cell > 0,
        "the data has a large region with a small country-month"
    );
    assert_eq!(rows(&r), expected);
}

#[tokio::test]
async fn a_total_minus_a_filtered_total_never_isolates_a_small_country() {
    // The attack: February in total, and February without Argentina.
    let cells = monthly_cells();
    let ((_, small, month), few) = cells
        .iter()
        .find(|((_, c, m), b)| b.len() < 10 && *c == "AR" && m.as_str() == "2025-02")
        .or_else(|| cells.iter().find(|(_, b)| b.len() < 10))
        .expect("a small country-month");
    assert!(few.len() < 10);
    let start = format!("{month}-01");
    let end = (chrono::NaiveDate::parse_from_str(&start, "%Y-%m-%d").unwrap()
        + chrono::Months::new(1))
    .format("%Y-%m-%d")
    .to_string();
    let range = json!({"start": start, "end": end});
    let total = query(
        extra_server(),
        &monthly_partner(),
        json!({"metrics": ["revenue"], "time_range": range}),
    )
    .await;
    let without = query(
        extra_server(),
        &monthly_partner(),
        json!({"metrics": ["revenue"], "time_range": range,
               "where": format!("customers.country <> '{small}' OR customers.country IS NULL")}),
    )
    .await;
    let structured = query(
        extra_server(),
        &monthly_partner(),
        json!({"metrics": ["revenue"], "time_range": range,
               "filters": [{"dimension": "customers.country", "op": "neq", "values": [small]}]}),
    )
    .await;
    // The grand total holds the small cell, so no total is shown at all:
    // neither side of the difference exists.
    assert!(!cells_safe(|_, _| true));
    assert_eq!(rows(&total), Vec::<Value>::new());
    assert_eq!(rows(&without), Vec::<Value>::new());
    assert_eq!(rows(&structured), Vec::<Value>::new());
}

#[tokio::test]
async fn a_cell_rule_refuses_what_would_cut_a_cell() {
    let t = monthly_partner();
    for (q, field, message) in [
        (
            json!({"metrics": ["revenue"], "time_range": {"start": "2025-02-01", "end": "2025-02-14 10:00:00"}}),
            "time_range.end",
            "time_range.end must fall on a month boundary (UTC)",
        ),
        (
            json!({"metrics": ["revenue"], "time_range": {"start": "2025-02-01 01:00:00", "end": "2025-03-01"}}),
            "time_range.start",
            "time_range.start must fall on a month boundary (UTC)",
        ),
        (
            json!({"metrics": ["revenue"], "time_zone": "Asia/Tokyo"}),
            "time_zone",
            "time is read in UTC for your role",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:day"]}),
            "dimensions[0]",
            "time may be grouped by month or coarser unions of it, not by day",
        ),
        (
            json!({"metrics": ["revenue"], "dimensions": ["metric_time:week"]}),
            "dimensions[0]",
            "time may be grouped by month or coarser unions of it, not by week",
        ),
        (
            json!({"metrics": ["revenue"], "filters": [{"dimension": "metric_time", "op": "gte", "values": ["2025-02-01"]}]}),
            "filters[0]",
            "filters on time are not available; use time_range",
        ),
        (
            json!({"metrics": ["revenue"], "where": "metric_time < '2025-02-14 10:00:00'"}),
            "where",
            "filters on time are not available; use time_range",
        ),
    ] {
        let r = query(extra_server(), &t, q.clone()).await;
        let p = k_refused(&r, message);
        assert_eq!(p["field"], json!(field), "{q}");
    }
    // Quarters are unions of months; the whole year is too.
    let r = query(
        extra_server(),
        &t,
        json!({"metrics": ["orders"], "dimensions": ["metric_time:quarter"],
               "time_range": {"start": "2025-01-01", "end": "2026-01-01"}}),
    )
    .await;
    r.ok_json();
}

#[tokio::test]
async fn no_total_is_shown_while_it_holds_a_small_cell() {
    // The country partner's cells are (region, country, year). A total
    // that holds a small country is never shown, so subtracting a total
    // without that country from it is impossible; the total without every
    // small country is shown, and is exactly the large countries' sum.
    let year = json!({"start": "2025-01-01", "end": "2026-01-01"});
    let by_country = buyers_by(|o| customer(o.customer_id).country);
    let small: Vec<&str> = by_country
        .iter()
        .filter(|(_, b)| b.len() < 10)
        .map(|(c, _)| *c)
        .collect();
    assert!(small.len() > 1, "the demo has several small countries");
    let t = country_partner();
    let ask = |filter: Option<String>| {
        let mut q = json!({"metrics": ["revenue"], "time_range": year});
        if let Some(w) = filter {
            q["where"] = json!(w);
        }
        query(extra_server(), &t, q)
    };
    assert_eq!(rows(&ask(None).await), Vec::<Value>::new());
    let without_one = ask(Some(format!(
        "customers.country <> '{}' OR customers.country IS NULL",
        small[0]
    )))
    .await;
    assert_eq!(rows(&without_one), Vec::<Value>::new());
    let list: Vec<String> = small.iter().map(|c| format!("'{c}'")).collect();
    let without_all = ask(Some(format!(
        "customers.country NOT IN ({})",
        list.join(", ")
    )))
    .await;
    assert_eq!(
        rows(&without_all),
        [json!([dec(revenue_total(
            |_, c| !small.contains(&country(c))
        ))])]
    );
}

#[tokio::test]
async fn a_cell_rule_refuses_query_kinds_without_cells() {
    for (q, what) in [
        (json!({"funnel": "visit_to_purchase"}), "funnel"),
        (
            json!({"metrics": ["revenue"], "attribution": "linear_30d"}),
            "attributed",
        ),
    ] {
        let r = query(main_server(), &partner(), q.clone()).await;
        k_refused(
            &r,
            &format!("{what} queries are refused to roles with a minimum group size"),
        );
    }
}

// ---------------------------------------------------------------------------
// Purposes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_undeclared_purpose_is_422_with_a_suggestion() {
    let r = query(
        main_server(),
        &admin(),
        json!({"metrics": ["revenue"], "purpose": "marketng"}),
    )
    .await;
    let p = refused(&r, 422, "invalid_query", "unknown purpose `marketng`");
    assert_eq!(suggestions(&p), ["marketing"]);
    let r = query(
        main_server(),
        &admin(),
        json!({"metrics": ["revenue"], "purpose": "astrology"}),
    )
    .await;
    let p = refused(&r, 422, "invalid_query", "unknown purpose `astrology`");
    assert_eq!(suggestions(&p), Vec::<String>::new());
    // From the token, too.
    let t = token(&["admin"], &[("purpose", json!("astrology"))]);
    let r = query(main_server(), &t, revenue_q()).await;
    refused(&r, 422, "invalid_query", "unknown purpose `astrology`");
}

#[tokio::test]
async fn admin_revenue_under_marketing_counts_consenting_customers_only() {
    let r = query(
        main_server(),
        &admin(),
        json!({"metrics": ["revenue"], "purpose": "marketing"}),
    )
    .await;
    let expected = revenue_total(|o, c| consented(c.customer_id, "marketing", o.ordered_at));
    assert!(expected < revenue_total(|_, _| true));
    assert_eq!(rows(&r), [json!([dec(expected)])]);
    // analytics needs no consent.
    let r = query(
        main_server(),
        &admin(),
        json!({"metrics": ["revenue"], "purpose": "analytics"}),
    )
    .await;
    assert_eq!(rows(&r), [json!([dec(revenue_total(|_, _| true))])]);
}

// ---------------------------------------------------------------------------
// /v1/compile
// ---------------------------------------------------------------------------

fn policies(r: &Resp) -> Vec<String> {
    r.ok_json()["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// The policy line the demo's suppression list adds, when it has one.
fn suppression_policy() -> Vec<String> {
    let c = demo_catalog();
    c.consent
        .as_ref()
        .and_then(|k| k.suppression.as_ref())
        .map(|(m, _)| format!("suppression list {}", c.model(*m).name))
        .into_iter()
        .collect()
}

fn expected_policies(lines: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    v.extend(suppression_policy());
    v
}

/// Replaces the text after `row filter on <model>: ` (checked apart).
fn without_filter_text(policies: Vec<String>) -> Vec<String> {
    policies
        .into_iter()
        .map(|p| match p.split_once(": ") {
            Some((head, _)) if head.starts_with("row filter on ") => format!("{head}: …"),
            _ => p,
        })
        .collect()
}

#[tokio::test]
async fn compile_shows_the_policies_and_escapes_the_claim() {
    let r = compile(
        main_server(),
        &manager(json!("O'Brien")),
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"]}),
    )
    .await;
    let sql = r.ok_json()["sql"].as_str().unwrap().to_string();
    assert!(sql.contains("'O''Brien'"), "{sql}");
    assert!(!sql.contains("'O'Brien'"), "{sql}");
    assert_eq!(
        without_filter_text(policies(&r)),
        expected_policies(&["roles: regional_manager", "row filter on customers: …"])
    );
}

#[tokio::test]
async fn compile_describes_each_row_filter() {
    let r = compile(
        main_server(),
        &manager(json!("O'Brien")),
        json!({"metrics": ["revenue"]}),
    )
    .await;
    let line = policies(&r)
        .into_iter()
        .find(|p| p.starts_with("row filter on customers: "))
        .expect("a row filter line");
    assert!(
        line.contains("region") && line.contains("'O''Brien'"),
        "{line}"
    );
    let r = compile(
        main_server(),
        &token(&["marketing_eu"], &[]),
        json!({"metrics": ["revenue"], "purpose": "marketing"}),
    )
    .await;
    let line = policies(&r)
        .into_iter()
        .find(|p| p.starts_with("row filter on customers: "))
        .expect("a row filter line");
    assert!(line.contains("region") && line.contains("'EU'"), "{line}");
}

#[tokio::test]
async fn compile_shows_marketing_eus_filter_and_consent() {
    let t = token(&["marketing_eu"], &[]);
    let r = compile(
        main_server(),
        &t,
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"], "purpose": "marketing"}),
    )
    .await;
    assert_eq!(
        without_filter_text(policies(&r)),
        expected_policies(&[
            "roles: marketing_eu",
            "row filter on customers: …",
            "consent purpose marketing (as of each fact's time)",
        ])
    );
    let sql = r.ok_json()["sql"].as_str().unwrap().to_string();
    assert!(sql.contains("'EU'") && sql.contains("'marketing'"), "{sql}");
}

#[tokio::test]
async fn compile_shows_the_partners_group_size() {
    let r = compile(
        main_server(),
        &partner(),
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"]}),
    )
    .await;
    assert_eq!(
        policies(&r),
        expected_policies(&[
            "roles: partner",
            "min_group_size 10: groups built from fewer distinct subjects are suppressed",
            "min_group_size 10 cells: every visible dimension × metric_time:year (UTC); a group holding a cell of 1 to 9 subjects is suppressed",
        ])
    );
    let v = r.ok_json();
    assert_eq!(v["warnings"], json!([K_WARNING]));
    let sql = v["sql"].as_str().unwrap();
    assert!(sql.contains("__cells_1") && sql.contains(">= 10"), "{sql}");
}

#[tokio::test]
async fn compile_refuses_what_query_refuses() {
    let r = compile(main_server(), &partner(), json!({"metrics": ["refunds"]})).await;
    refused(&r, 422, "unknown_metric", "unknown metric `refunds`");
    let r = compile(
        main_server(),
        &token(&["marketing_eu"], &[]),
        json!({"metrics": ["revenue"], "dimensions": ["customers.email"], "purpose": "marketing"}),
    )
    .await;
    refused(
        &r,
        422,
        "unknown_dimension",
        "unknown dimension `customers.email`",
    );
}

// ---------------------------------------------------------------------------
// The planner, as the CLI calls it
// ---------------------------------------------------------------------------

fn demo_catalog() -> std::sync::Arc<accord::catalog::Catalog> {
    accord::definitions::load_dir(&http::demo_defs()).expect("demo definitions")
}

fn sq(v: Value) -> accord::query::SemanticQuery {
    serde_json::from_value(v).expect("a semantic query")
}

#[test]
fn the_planner_refuses_the_partner_a_hidden_metric() {
    let c = demo_catalog();
    let partner = Caller::with_roles(&["partner"]);
    for m in ["refunds", "net_revenue"] {
        let e = accord::planner::compile(
            &c,
            &sq(json!({"metrics": [m]})),
            &partner,
            DialectKind::Duckdb,
        )
        .expect_err("refused");
        assert_eq!(e.code, accord::planner::ErrorCode::UnknownMetric);
        assert_eq!(e.message, format!("unknown metric `{m}`"));
    }
    let e = accord::planner::compile(
        &c,
        &sq(json!({"metrics": ["revenue"], "dimensions": ["customers.segment"]})),
        &partner,
        DialectKind::Postgres,
    )
    .expect_err("refused");
    assert_eq!(e.message, "unknown dimension `customers.segment`");
    assert!(
        accord::planner::compile(
            &c,
            &sq(json!({"metrics": ["revenue"]})),
            &partner,
            DialectKind::Duckdb
        )
        .is_ok()
    );
}

/// The demo definitions with one more role, which hides `refunds` only (so
/// attribution and time intelligence stay open to it).
fn demo_catalog_hiding_refunds() -> std::sync::Arc<accord::catalog::Catalog> {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(&http::demo_defs(), dir.path());
    let policies = dir.path().join("policies.yml");
    let text = std::fs::read_to_string(&policies).unwrap().replacen(
        "roles:\n",
        "roles:\n  - name: no_refunds\n    description: Everything but refunds.\n    exclude: [refunds]\n",
        1,
    );
    std::fs::write(&policies, text).unwrap();
    accord::definitions::load_dir(dir.path()).expect("demo definitions and a role")
}

/// One resolve stage: a hidden metric is refused with the same code,
/// words, suggestions and field by every query kind (plain, time
/// intelligence, attributed), pinned version or not.
#[test]
fn a_hidden_metric_is_the_same_unknown_metric_for_every_query_kind() {
    let c = demo_catalog_hiding_refunds();
    let caller = Caller::with_roles(&["no_refunds"]);
    let refused = |v: Value| accord::planner::plan(&c, &sq(v), &caller).expect_err("refused");
    let plain = refused(json!({"metrics": ["revenue", "refunds"]}));
    assert_eq!(plain.code, accord::planner::ErrorCode::UnknownMetric);
    assert_eq!(plain.message, "unknown metric `refunds`");
    assert_eq!(plain.field.as_deref(), Some("metrics[1]"));
    for v in [
        json!({"metrics": ["revenue", "refunds@1"]}),
        json!({"metrics": ["revenue_7d_trailing", "refunds"], "dimensions": ["metric_time:day"]}),
        json!({"metrics": ["revenue_7d_trailing", "refunds@1"], "dimensions": ["metric_time:day"]}),
        json!({"metrics": ["revenue", "refunds"], "attribution": "linear_30d"}),
        json!({"metrics": ["revenue", "refunds@1"], "attribution": "linear_30d"}),
    ] {
        let e = refused(v.clone());
        assert_eq!(e, plain, "{v}");
    }
    // The same query without the hidden metric plans, for each kind.
    for v in [
        json!({"metrics": ["revenue_7d_trailing"], "dimensions": ["metric_time:day"]}),
        json!({"metrics": ["revenue"], "attribution": "linear_30d"}),
    ] {
        accord::planner::plan(&c, &sq(v.clone()), &caller).unwrap_or_else(|e| panic!("{v}: {e}"));
    }
}

#[test]
fn the_planner_denies_a_caller_without_roles_and_trusts_the_operator() {
    let c = demo_catalog();
    let q = sq(json!({"metrics": ["refunds"], "dimensions": ["customers.email"]}));
    let e = accord::planner::compile(&c, &q, &Caller::with_roles(&[]), DialectKind::Duckdb)
        .expect_err("default deny");
    assert_eq!(e.code, accord::planner::ErrorCode::Forbidden);
    let (plan, sql) = accord::planner::compile(&c, &q, &Caller::operator(), DialectKind::Duckdb)
        .expect("the operator sees everything");
    assert_eq!(plan.policies, suppression_policy());
    assert!(!sql.contains("sha256("), "{sql}");
}

#[test]
fn the_planner_applies_claims_and_masks_like_the_server() {
    let c = demo_catalog();
    let mut manager = Caller::with_roles(&["regional_manager"]);
    manager
        .claims
        .insert("region".into(), json!("EU' OR '1'='1"));
    let (_, sql) = accord::planner::compile(
        &c,
        &sq(json!({"metrics": ["revenue"]})),
        &manager,
        DialectKind::Duckdb,
    )
    .expect("compiles");
    assert!(sql.contains("'EU'' OR ''1''=''1'"), "{sql}");
    let (_, sql) = accord::planner::compile(
        &c,
        &sq(json!({"metrics": ["orders"], "dimensions": ["customers.email"]})),
        &Caller::with_roles(&["analyst"]),
        DialectKind::Duckdb,
    )
    .expect("compiles");
    assert!(sql.contains("sha256("), "{sql}");
}

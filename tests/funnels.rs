//! Funnels: hand-computed results on a small fixture for every order mode
//! and option (window boundary, same-second events, anchors, exclusions,
//! breakdown, time range, filters), identical on DuckDB, PostgreSQL,
//! MariaDB and SQLite; policies; definition errors; the demo funnels
//! against a computation in Rust from the generator's rows; SQL snapshots
//! in all ten dialects; REST and CLI.

mod common;
#[path = "analysis_fixture/mod.rs"]
mod fixture;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet};

use accord::access::Caller;
use accord::dialect::DialectKind;
use accord::planner::{self, ErrorCode};
use common::{demo_catalog, q};
use http::Server;
use serde_json::{Value as Json, json};

const THIRD: f64 = 1.0 / 3.0;

fn cases() -> Vec<(&'static str, Json, Json)> {
    vec![
        (
            "ordered: boundary inclusive, B before A ignored, same second in step order, earliest anchor",
            json!({"funnel": "abc"}),
            json!([
                [1, "a", 6, 1.0, 1.0, null],
                [2, "b", 4, 4.0 / 6.0, 4.0 / 6.0, 1500.0],
                [3, "c", 2, 0.5, 2.0 / 6.0, 600.0]
            ]),
        ),
        (
            "breakdown by the anchoring event's dimension",
            json!({"funnel": "abc_by_grp"}),
            json!([
                ["x", 1, "a", 3, 1.0, 1.0, null],
                ["x", 2, "b", 3, 1.0, 1.0, 2400.0],
                ["x", 3, "c", 1, THIRD, THIRD, 1200.0],
                ["y", 1, "a", 3, 1.0, 1.0, null],
                ["y", 2, "b", 1, THIRD, THIRD, 0.0],
                ["y", 3, "c", 1, 1.0, THIRD, 0.0]
            ]),
        ),
        (
            "strict: the next event of the subject must be the next step",
            json!({"funnel": "abc_strict"}),
            json!([
                [1, "a", 6, 1.0, 1.0, null],
                [2, "b", 3, 0.5, 0.5, 600.0],
                [3, "c", 2, 2.0 / 3.0, THIRD, 600.0]
            ]),
        ),
        (
            "unordered: k distinct steps within the window of the first",
            json!({"funnel": "abc_unordered"}),
            json!([
                [1, "1 of 3", 7, 1.0, 1.0, null],
                [2, "2 of 3", 5, 5.0 / 7.0, 5.0 / 7.0, 2400.0],
                [3, "3 of 3", 2, 0.4, 2.0 / 7.0, 600.0]
            ]),
        ),
        (
            "exclusions: strictly between the steps' times, whole subject removed",
            json!({"funnel": "abc_excluding"}),
            json!([
                [1, "a", 5, 1.0, 1.0, null],
                [2, "b", 3, 0.6, 0.6, 2400.0],
                [3, "c", 1, THIRD, 0.2, 0.0]
            ]),
        ),
        (
            "time range: anchors inside it, later steps may fall after its end",
            json!({"funnel": "abc", "time_range": {"start": "2025-03-30 10:15:00", "end": "2025-03-30 10:35:00"}}),
            json!([
                [1, "a", 1, 1.0, 1.0, null],
                [2, "b", 1, 1.0, 1.0, 600.0],
                [3, "c", 0, 0.0, 0.0, null]
            ]),
        ),
        (
            "request filters restrict every step's events",
            json!({"funnel": "abc", "filters": [{"dimension": "ev.grp", "op": "eq", "values": ["x"]}]}),
            json!([
                [1, "a", 3, 1.0, 1.0, null],
                [2, "b", 2, 2.0 / 3.0, 2.0 / 3.0, 2100.0],
                [3, "c", 1, 0.5, THIRD, 1200.0]
            ]),
        ),
        (
            "a `where` works the same",
            json!({"funnel": "abc", "where": "ev.grp = 'x'"}),
            json!([
                [1, "a", 3, 1.0, 1.0, null],
                [2, "b", 2, 2.0 / 3.0, 2.0 / 3.0, 2100.0],
                [3, "c", 1, 0.5, THIRD, 1200.0]
            ]),
        ),
        (
            "steps from two models",
            json!({"funnel": "signup_to_order"}),
            json!([
                [1, "signup", 2, 1.0, 1.0, null],
                [2, "order", 1, 0.5, 0.5, 100800.0]
            ]),
        ),
        (
            "limit and offset page the rows",
            json!({"funnel": "abc", "limit": 1, "offset": 1}),
            json!([[2, "b", 4, 4.0 / 6.0, 4.0 / 6.0, 1500.0]]),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn fixture_funnels_match_hand_computed_results_on_every_engine() {
    let catalog = fixture::catalog();
    let dir = tempfile::tempdir().unwrap();
    let engines = fixture::engines("funnels_fixture", dir.path()).await;
    let op = Caller::operator();
    for (engine, wh) in &engines {
        for (what, query, expected) in cases() {
            let got = fixture::rows(&catalog, wh, query.clone(), &op).await;
            assert!(
                fixture::same(&got, &expected),
                "{engine}: {what}\nquery {query}\n got {got:?}\nwant {expected}"
            );
        }
        // A row-filtered role sees only its rows: the same as filtering.
        let only_x = Caller::with_roles(&["only_x"]);
        let got = fixture::rows(&catalog, wh, json!({"funnel": "abc"}), &only_x).await;
        let want = &cases()[6].2;
        assert!(fixture::same(&got, want), "{engine}: only_x got {got:?}");
        // A masked breakdown: the groups are the masked values.
        let masked = Caller::with_roles(&["grp_redacted"]);
        let got = fixture::rows(&catalog, wh, json!({"funnel": "abc_by_grp"}), &masked).await;
        let counts: Vec<f64> = got.iter().map(|r| r[3].as_f64().unwrap()).collect();
        assert_eq!(counts, vec![6.0, 4.0, 2.0], "{engine}: masked {got:?}");
        assert!(
            got.iter().all(|r| r[0] != json!("x") && r[0] != json!("y")),
            "{engine}: masked values leak: {got:?}"
        );
    }
}

#[test]
fn a_role_that_cannot_see_a_model_cannot_run_a_funnel_over_it() {
    let catalog = fixture::catalog();
    let err = planner::plan(
        &catalog,
        &q(json!({"funnel": "abc"})),
        &Caller::with_roles(&["no_events"]),
    )
    .unwrap_err();
    // A funnel the caller may not run is unknown, naming no model.
    assert_eq!(err.code, ErrorCode::UnknownMetric, "{err:?}");
    assert_eq!(err.message, "unknown funnel `abc`");
    // An exclusion model counts too.
    let err = planner::plan(
        &catalog,
        &q(json!({"funnel": "abc_excluding"})),
        &Caller::with_roles(&["no_blocks"]),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownMetric);
    // The breakdown dimension must be visible.
    let err = planner::plan(
        &catalog,
        &q(json!({"funnel": "abc_by_grp"})),
        &Caller::with_roles(&["no_grp"]),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownMetric);
    // The same role may run the funnel without a breakdown.
    planner::plan(
        &catalog,
        &q(json!({"funnel": "abc"})),
        &Caller::with_roles(&["no_grp"]),
    )
    .unwrap();
}

#[test]
fn bad_requests_are_clear_errors() {
    let catalog = fixture::catalog();
    let op = Caller::operator();
    let err = planner::plan(&catalog, &q(json!({"funnel": "acb"})), &op).unwrap_err();
    assert_eq!(err.code, ErrorCode::UnknownMetric);
    assert_eq!(err.field.as_deref(), Some("funnel"));
    assert!(err.suggestions.contains(&"abc".to_string()), "{err:?}");
    for (body, field) in [
        (json!({"funnel": "abc", "metrics": ["x"]}), "metrics"),
        (
            json!({"funnel": "abc", "dimensions": ["ev.grp"]}),
            "dimensions",
        ),
        (json!({"funnel": "abc", "order_by": ["step"]}), "order_by"),
        (json!({"funnel": "abc", "retention": "weekly"}), "retention"),
        (
            json!({"funnel": "abc", "filters": [{"dimension": "ev.nope", "op": "eq", "values": [1]}]}),
            "filters[0].dimension",
        ),
        (
            json!({"funnel": "abc", "time_range": {"start": "yesterday"}}),
            "time_range.start",
        ),
        (json!({"funnel": "abc", "where": "ev.grp = "}), "where"),
    ] {
        let err = planner::plan(&catalog, &q(body.clone()), &op).unwrap_err();
        assert_eq!(err.field.as_deref(), Some(field), "{body}: {err:?}");
    }
}

#[test]
fn definition_errors_point_at_the_field_and_suggest() {
    let base = fixture::DEFS.split("\nfunnels:").next().unwrap();
    let check = |funnels: &str, field: &str, wanted: &[&str]| {
        let text = format!("{base}\nfunnels:\n{funnels}");
        let diags = accord::definitions::load_str("bad.yml", &text)
            .err()
            .unwrap_or_else(|| panic!("{funnels} should not validate"));
        let shown = diags.to_string();
        assert!(
            diags.0.iter().any(|d| d.field == field),
            "no error on {field}:\n{shown}"
        );
        for w in wanted {
            assert!(shown.contains(w), "`{w}` missing from:\n{shown}");
        }
        assert!(shown.contains("bad.yml:"), "{shown}");
    };
    let steps = "    steps:\n      - {name: a, model: ev, filter: \"kind = 'A'\"}\n      - {name: b, model: ev}\n";
    check(
        &format!("  - name: f\n    subject: user\n    window: 1 hour\n    order: strikt\n{steps}"),
        "funnels.f.order",
        &["unknown order `strikt`", "did you mean `strict`"],
    );
    check(
        &format!("  - name: f\n    subject: user\n    window: 1 fortnight\n{steps}"),
        "funnels.f.window",
        &["not a window"],
    );
    check(
        "  - name: f\n    subject: user\n    window: 1 hour\n    steps:\n      - {name: a, model: evs}\n      - {name: b, model: ev}\n",
        "funnels.f.steps[0].model",
        &["unknown model `evs`", "did you mean `ev`"],
    );
    check(
        &format!("  - name: f\n    subject: usr\n    window: 1 hour\n{steps}"),
        "subject",
        &["no single-key entity `usr`", "did you mean `user`"],
    );
    check(
        "  - name: f\n    subject: user\n    window: 1 hour\n    steps:\n      - {name: a, model: ev}\n",
        "funnels.f.steps",
        &["2 to 20 steps"],
    );
    check(
        &format!(
            "  - name: f\n    subject: user\n    window: 1 hour\n    exclusions:\n      - {{model: ex, after: z}}\n{steps}"
        ),
        "funnels.f.exclusions[0].after",
        &["unknown step `z`"],
    );
    // Planned once at load: an unknown dimension in a filter or breakdown.
    check(
        "  - name: f\n    subject: user\n    window: 1 hour\n    breakdown: ev.grup\n    steps:\n      - {name: a, model: ev}\n      - {name: b, model: ev}\n",
        "funnels.f",
        &["unknown dimension `ev.grup`", "ev.grp"],
    );
    check(
        "  - name: f\n    subject: user\n    window: 1 hour\n    steps:\n      - {name: a, model: ev, filter: \"knd = 'A'\"}\n      - {name: b, model: ev}\n",
        "funnels.f",
        &["knd"],
    );
}

/// Seconds since 1970 of a naive UTC time.
fn secs(t: chrono::NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

fn median(mut v: Vec<i64>) -> Option<f64> {
    v.sort_unstable();
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2] as f64),
        _ => Some((v[n / 2 - 1] + v[n / 2]) as f64 / 2.0),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_funnels_match_the_generator_rows() {
    let catalog = demo_catalog();
    let data = common::warehouses::demo(1);
    let dir = tempfile::tempdir().unwrap();
    let wh = fixture_open(&format!(
        "duckdb://{}",
        dir.path().join("demo.duckdb").display()
    ))
    .await;
    wh.load_demo(&data).await.unwrap();
    let op = Caller::operator();
    let erased: BTreeSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();

    // signup_to_purchase, from the rows: each customer's earliest signup
    // event, then the first non-cancelled order at or after it within 30
    // days (an order at the same second follows: steps go in step order).
    let mut signup: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    for e in &data.events {
        if let Some(c) = e.customer_id
            && e.event_type == "signup"
            && !erased.contains(&c)
        {
            let key = (secs(e.occurred_at), e.event_id);
            signup
                .entry(c)
                .and_modify(|k| *k = (*k).min(key))
                .or_insert(key);
        }
    }
    let mut durations = Vec::new();
    for (c, (t0, _)) in &signup {
        let next = data
            .orders
            .iter()
            .filter(|o| o.customer_id == *c && o.status != "cancelled")
            .map(|o| secs(o.ordered_at))
            .filter(|t| *t >= *t0 && *t - *t0 <= 30 * 86_400)
            .min();
        if let Some(t) = next {
            durations.push(t - t0);
        }
    }
    let got = fixture::rows(&catalog, &wh, json!({"funnel": "signup_to_purchase"}), &op).await;
    let n1 = signup.len() as f64;
    let n2 = durations.len() as f64;
    assert!(n1 > 10.0 && n2 > 0.0, "the demo has signups and orders");
    let want = json!([
        [1, "signup", n1, 1.0, 1.0, null],
        [2, "first_order", n2, n2 / n1, n2 / n1, median(durations)]
    ]);
    assert!(fixture::same(&got, &want), "got {got:?}\nwant {want}");

    // checkout_funnel: counts never increase within a channel, and step 1
    // over all channels is every customer with a product view.
    let got = fixture::rows(&catalog, &wh, json!({"funnel": "checkout_funnel"}), &op).await;
    assert_eq!(got.len() % 4, 0);
    let mut total_first = 0.0;
    for group in got.chunks(4) {
        let counts: Vec<f64> = group.iter().map(|r| r[3].as_f64().unwrap()).collect();
        assert!(counts.windows(2).all(|w| w[1] <= w[0]), "{group:?}");
        assert!(group.iter().all(|r| r[0] == group[0][0]), "{group:?}");
        total_first += counts[0];
    }
    let viewers: BTreeSet<i64> = data
        .events
        .iter()
        .filter(|e| e.event_type == "product_view")
        .filter_map(|e| e.customer_id)
        .filter(|c| !erased.contains(c))
        .collect();
    assert_eq!(total_first, viewers.len() as f64);
    assert!(
        got.iter()
            .any(|r| r[2] == json!("purchase") && r[3].as_f64().unwrap() > 0.0)
    );
}

/// `visit_to_purchase` is stitched: its subjects are people, as are those of
/// the conversion metric `visitor_to_purchase_7d`. Computed from
/// the generator's truth: an event belongs to the customer its cookie is
/// tied to through the observable identity graph (`linkable`), else to the
/// cookie's device cluster (a cookie with sessions) or the cookie alone;
/// erased people are suppressed. The same numbers on all four engines.
#[tokio::test]
async fn stitched_funnel_and_conversion_count_people_as_the_generator_truth_says() {
    use std::collections::HashMap;
    let catalog = demo_catalog();
    let data = common::warehouses::demo(1);
    let erased: BTreeSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let with_session: BTreeSet<String> = data
        .sessions
        .iter()
        .map(|s| s.anonymous_id.to_string())
        .collect();
    // Person of each cookie; None: erased (absent from the map).
    let person_of: HashMap<String, Option<String>> = data
        .truth_anonymous
        .iter()
        .map(|t| {
            let anon = t.anonymous_id.to_string();
            let p = match (t.linkable, t.customer_id) {
                (true, Some(c)) if erased.contains(&c) => None,
                (true, Some(c)) => Some(format!("c{c}")),
                _ if with_session.contains(&anon) => Some(format!("d{}", t.device_id)),
                _ => Some(format!("a{anon}")),
            };
            (anon, p)
        })
        .collect();
    // The person of a row with this cookie and customer column.
    let person = |anon: String, customer: Option<i64>| -> Option<String> {
        match person_of.get(&anon) {
            Some(Some(p)) => Some(p.clone()),
            // Not in the map: the row's own customer, unless suppressed.
            _ => customer
                .filter(|c| !erased.contains(c))
                .map(|c| format!("c{c}")),
        }
    };
    let event_person = |e: &accord::demo::Event| person(e.anonymous_id.to_string(), e.customer_id);
    // Each step's (person, time) events.
    let times = |kind: &str| -> Vec<(String, i64)> {
        data.events
            .iter()
            .filter(|e| e.event_type == kind)
            .filter_map(|e| Some((event_person(e)?, secs(e.occurred_at))))
            .collect()
    };
    let views = times("product_view");
    let signups = times("signup");
    let orders: Vec<(String, i64)> = data
        .orders
        .iter()
        .filter(|o| o.status != "cancelled" && !erased.contains(&o.customer_id))
        .map(|o| (format!("c{}", o.customer_id), secs(o.ordered_at)))
        .collect();
    let window = 30 * 86_400;
    let mut anchor: BTreeMap<&str, i64> = BTreeMap::new();
    for (p, t) in &views {
        anchor
            .entry(p.as_str())
            .and_modify(|a| *a = (*a).min(*t))
            .or_insert(*t);
    }
    // Step k: the earliest step-k event at or after step k-1's (same second
    // counts: steps go in step order) and within the window of the anchor.
    let next = |events: &[(String, i64)], p: &str, after: i64, t0: i64| {
        events
            .iter()
            .filter(|(q, t)| q == p && *t >= after && *t - t0 <= window)
            .map(|(_, t)| *t)
            .min()
    };
    let (mut d2, mut d3) = (Vec::new(), Vec::new());
    for (p, t0) in &anchor {
        if let Some(t1) = next(&signups, p, *t0, *t0) {
            d2.push(t1 - t0);
            if let Some(t2) = next(&orders, p, t1, *t0) {
                d3.push(t2 - t1);
            }
        }
    }
    let (n1, n2, n3) = (anchor.len() as f64, d2.len() as f64, d3.len() as f64);
    // Stitching is what makes this funnel: by the event rows' own customer
    // column, hardly any product view is a known customer's before signup.
    let known_viewers = anchor.keys().filter(|p| p.starts_with('c')).count();
    let plain_viewers: BTreeSet<i64> = data
        .events
        .iter()
        .filter(|e| e.event_type == "product_view")
        .filter_map(|e| e.customer_id)
        .filter(|c| !erased.contains(c))
        .collect();
    assert!(
        known_viewers > plain_viewers.len(),
        "{known_viewers} vs {}",
        plain_viewers.len()
    );
    assert!(n3 > 0.0 && n2 >= n3 && n1 > n2, "{n1} {n2} {n3}");
    let want = json!([
        [1, "product_view", n1, 1.0, 1.0, null],
        [2, "signup", n2, n2 / n1, n2 / n1, median(d2)],
        [3, "first_order", n3, n3 / n2, n3 / n1, median(d3)]
    ]);

    // The stitched conversion metric `visitor_to_purchase_7d`: people who
    // visited (a session), and of them those with an order within 7 days
    // after one of their visits, on the same truth.
    let session_person =
        |s: &accord::demo::Session| person(s.anonymous_id.to_string(), s.customer_id);
    let mut ordered_at: HashMap<String, Vec<i64>> = HashMap::new();
    for o in data
        .orders
        .iter()
        .filter(|o| !erased.contains(&o.customer_id))
    {
        ordered_at
            .entry(format!("c{}", o.customer_id))
            .or_default()
            .push(secs(o.ordered_at));
    }
    let (mut visitors, mut buyers) = (BTreeSet::new(), BTreeSet::new());
    for s in &data.sessions {
        let Some(p) = session_person(s) else { continue };
        let t = secs(s.started_at);
        if ordered_at
            .get(&p)
            .is_some_and(|ts| ts.iter().any(|o| *o >= t && *o - t <= 7 * 86_400))
        {
            buyers.insert(p.clone());
        }
        visitors.insert(p);
    }
    // Stitching is what makes the base: fewer people than cookies, and
    // people who bought after a visit made before they were customers.
    let cookies: BTreeSet<String> = data
        .sessions
        .iter()
        .map(|s| s.anonymous_id.to_string())
        .collect();
    assert!(visitors.len() < cookies.len());
    let anonymous_converting = data.sessions.iter().filter(|s| {
        s.customer_id.is_none()
            && session_person(s).is_some_and(|p| {
                let t = secs(s.started_at);
                ordered_at
                    .get(&p)
                    .is_some_and(|ts| ts.iter().any(|o| *o >= t && *o - t <= 7 * 86_400))
            })
    });
    assert!(anonymous_converting.count() > 0);
    let conversion = json!([[
        buyers.len() as f64,
        buyers.len() as f64 / visitors.len() as f64
    ]]);

    let dir = tempfile::tempdir().unwrap();
    let engines = common::warehouses::all_engines("stitched_funnel", &data, dir.path()).await;
    let op = Caller::operator();
    for (name, wh) in &engines {
        common::warehouses::build_identity(wh).await;
        let got = fixture::rows(&catalog, wh, json!({"funnel": "visit_to_purchase"}), &op).await;
        assert!(
            fixture::same(&got, &want),
            "{name}: got {got:?}\nwant {want}"
        );
        let got = fixture::rows(
            &catalog,
            wh,
            json!({"metrics": ["visitors_purchasing_7d", "visitor_to_purchase_7d"]}),
            &op,
        )
        .await;
        assert!(
            fixture::same(&got, &conversion),
            "{name}: got {got:?}\nwant {conversion}"
        );
    }
}

async fn fixture_open(url: &str) -> accord::warehouse::Warehouse {
    common::warehouses::open(url).await
}

fn snapshot_queries() -> Vec<(&'static str, Json)> {
    vec![
        (
            "funnel_checkout_breakdown",
            json!({"funnel": "checkout_funnel"}),
        ),
        (
            "funnel_two_models_time_range",
            json!({"funnel": "signup_to_purchase", "time_range": {"start": "2025-03-01", "end": "2025-04-01"}}),
        ),
        (
            "funnel_filtered_with_consent",
            json!({"funnel": "checkout_funnel", "purpose": "marketing", "filters": [{"dimension": "customers.region", "op": "eq", "values": ["EU"]}]}),
        ),
        (
            "funnel_stitched_with_consent",
            json!({"funnel": "visit_to_purchase", "purpose": "marketing"}),
        ),
    ]
}

fn fixture_snapshot_queries() -> Vec<(&'static str, Json)> {
    vec![
        ("funnel_strict", json!({"funnel": "abc_strict"})),
        ("funnel_unordered", json!({"funnel": "abc_unordered"})),
        ("funnel_exclusions", json!({"funnel": "abc_excluding"})),
    ]
}

#[test]
fn funnel_sql_in_every_dialect() {
    let demo = demo_catalog();
    let fix = fixture::catalog();
    let all = snapshot_queries()
        .into_iter()
        .map(|(n, b)| (n, b, demo.clone()))
        .chain(
            fixture_snapshot_queries()
                .into_iter()
                .map(|(n, b)| (n, b, fix.clone())),
        );
    for (name, body, catalog) in all {
        let query = q(body.clone());
        let mut text = format!("-- query: {body}\n");
        for d in DialectKind::ALL {
            // The request's purpose, as every interface applies it.
            let caller = Caller::operator().for_query(&query);
            let (_, sql) = planner::compile(&catalog, &query, &caller, d)
                .unwrap_or_else(|e| panic!("{name} on {d}: {e}"));
            let parser = sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser)
                .expect("sqlparser dialect");
            let parsed = sqlparser::parser::Parser::parse_sql(parser.as_ref(), &sql);
            assert!(
                parsed.as_ref().is_ok_and(|s| s.len() == 1),
                "{name} on {d} does not parse: {:?}\n{sql}",
                parsed.err()
            );
            text.push_str(&format!("\n-- dialect: {d}\n{sql}\n"));
        }
        insta::assert_snapshot!(name, text);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_and_catalog() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let body = c
        .post_json("/v1/query", &json!({"funnel": "signup_to_purchase"}))
        .await
        .ok_json();
    let names: Vec<&str> = body["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "step",
            "step_name",
            "entities",
            "conversion_from_previous",
            "conversion_from_first",
            "median_seconds_from_previous"
        ]
    );
    assert_eq!(body["rows"].as_array().unwrap().len(), 2);
    c.post_json("/v1/query", &json!({"funnel": "checkout_funnl"}))
        .await
        .problem(422, "unknown_metric");
    let catalog = c.get("/v1/catalog").await.ok_json();
    let funnels = catalog["funnels"].as_array().unwrap();
    assert!(funnels.iter().any(|f| f["name"] == "checkout_funnel"
        && f["steps"].as_array().unwrap().len() == 4
        && f["breakdown"] == "sessions.channel"));
    let compiled = c
        .post_json(
            "/v1/compile?dialect=postgres",
            &json!({"funnel": "checkout_funnel"}),
        )
        .await
        .ok_json();
    assert!(compiled["sql"].as_str().unwrap().contains("ROW_NUMBER()"));
    // GraphQL: the same rows, and the listing.
    let gql = c
        .post_json(
            "/graphql",
            &json!({"query": "{ funnel(name: \"signup_to_purchase\") { columns rows } analyses }"}),
        )
        .await
        .ok_json();
    assert!(gql["errors"].is_null(), "{gql:#}");
    assert_eq!(gql["data"]["funnel"]["columns"][2], "entities");
    assert_eq!(gql["data"]["funnel"]["rows"], body["rows"]);
    assert!(gql["data"]["analyses"]["retention"][0]["name"] == "weekly_purchase_retention");
    let bad = c
        .post_json(
            "/graphql",
            &json!({"query": "{ funnel(name: \"nope\") { columns } }"}),
        )
        .await
        .ok_json();
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown funnel"),
        "{bad:#}"
    );
}

#[test]
fn cli_runs_a_funnel() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.duckdb");
    let accord = env!("CARGO_BIN_EXE_accord");
    let out = std::process::Command::new(accord)
        .args(["demo", "init", "--scale", "1", "--warehouse"])
        .arg(format!("duckdb://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(accord)
        .args([
            "query",
            "--funnel",
            "signup_to_purchase",
            "--format",
            "csv",
            "--warehouse",
        ])
        .arg(format!("duckdb://{}", db.display()))
        .args(["--defs"])
        .arg(common::repo_path("metric_defs"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "step,step_name,entities,conversion_from_previous,conversion_from_first,median_seconds_from_previous"
        )
    );
    assert!(lines.next().unwrap().starts_with("1,signup,"));
    assert!(lines.next().unwrap().starts_with("2,first_order,"));
    let out = std::process::Command::new(accord)
        .args(["query", "--funnel", "x", "--metrics", "revenue"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

//! Identity stitching on the demo data must recover the generator's truth
//! exactly (precision and recall 1.0) and give the same map on DuckDB,
//! PostgreSQL, MariaDB and SQLite, despite the junk and shared-cookie links
//! the generator injects (blocked, or cut by the merge limit, and counted
//! as such); stitched metrics must equal what the generator's rows say.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use accord::demo::{DemoData, NoiseKind};
use accord::identity::{self, BuildMode, BuildOptions};
use accord::warehouse::{Value, Warehouse};
use common::warehouses::{all_engines, demo};
use common::{demo_catalog, q};
use serde_json::json;

type Key = (String, String);
type Map = BTreeMap<Key, Key>;

fn key(t: &str, v: impl ToString) -> Key {
    (t.to_string(), v.to_string())
}

/// The map the truth implies: a customer's linkable cookies and devices
/// under the customer; an unlinkable cookie under the device it lives on
/// (reached through its sessions) or alone; erased customers' clusters
/// absent; shared cookies alone; junk absent.
fn truth_map(data: &DemoData) -> Map {
    let erased: HashSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let with_session: HashSet<_> = data.sessions.iter().map(|s| s.anonymous_id).collect();
    let mut m = Map::new();
    for c in &data.customers {
        if !erased.contains(&c.customer_id) {
            m.insert(
                key("customer_id", c.customer_id),
                key("customer_id", c.customer_id),
            );
        }
    }
    for t in &data.truth_anonymous {
        let canonical = match (t.linkable, t.customer_id) {
            (true, Some(c)) if erased.contains(&c) => continue,
            (true, Some(c)) => key("customer_id", c),
            _ if with_session.contains(&t.anonymous_id) => key("device_id", t.device_id),
            _ => key("anonymous_id", t.anonymous_id),
        };
        m.insert(key("anonymous_id", t.anonymous_id), canonical);
    }
    for d in &data.truth_devices {
        let canonical = match (d.linkable, d.customer_id) {
            (true, Some(c)) if erased.contains(&c) => continue,
            (true, Some(c)) => key("customer_id", c),
            _ => key("device_id", d.device_id),
        };
        m.insert(key("device_id", d.device_id), canonical);
    }
    for n in &data.truth_link_noise {
        if n.kind == NoiseKind::Shared {
            let id = key("anonymous_id", n.anonymous_id);
            m.insert(id.clone(), id);
        }
    }
    m
}

/// `trim` then `lower`, as the demo definitions normalise anonymous and
/// device ids.
fn trim_lower(v: &str) -> String {
    v.trim_matches(' ').to_ascii_lowercase()
}

/// The blocked identifiers and those over a merge limit, recomputed from
/// the generator's rows with the rules of `metric_defs/identity.yml`
/// written out here: blocked values and the `test%` pattern after
/// normalisation; at most one customer per anonymous id and per device.
fn junk_counts(data: &DemoData) -> (i64, i64) {
    let anon_blocked = |v: &str| {
        ["", "0", "-1", "null", "undefined", "anonymous"].contains(&v) || v.starts_with("test")
    };
    let device_blocked = |v: &str| ["", "0", "-1", "null", "unknown"].contains(&v);
    let customer_blocked = |v: &str| ["", "0", "-1"].contains(&v);
    let mut blocked: HashSet<(&str, String)> = HashSet::new();
    let mut anon_customers: HashMap<String, HashSet<i64>> = HashMap::new();
    let mut device_customers: HashMap<String, HashSet<i64>> = HashMap::new();
    let mut anon = |raw: String, customer: Option<i64>| {
        let v = trim_lower(&raw);
        if anon_blocked(&v) {
            blocked.insert(("anonymous_id", v));
        } else if let Some(c) = customer {
            anon_customers.entry(v).or_default().insert(c);
        }
    };
    for l in &data.identity_links {
        anon(l.anonymous_id.to_string(), Some(l.customer_id));
    }
    for s in &data.sessions {
        anon(s.anonymous_id.to_string(), s.customer_id);
    }
    for e in &data.events {
        anon(e.anonymous_id.to_string(), e.customer_id);
    }
    for t in &data.marketing_touches {
        anon(t.anonymous_id.to_string(), t.customer_id);
    }
    for d in &data.devices {
        let v = trim_lower(&d.device_id.to_string());
        if device_blocked(&v) {
            blocked.insert(("device_id", v));
        } else if let Some(c) = d.customer_id {
            device_customers.entry(v).or_default().insert(c);
        }
    }
    for s in &data.sessions {
        let v = trim_lower(&s.device_id.to_string());
        if device_blocked(&v) {
            blocked.insert(("device_id", v));
        }
    }
    for c in &data.customers {
        let v = c.customer_id.to_string();
        if customer_blocked(&v) {
            blocked.insert(("customer_id", v));
        }
    }
    let over = anon_customers
        .values()
        .chain(device_customers.values())
        .filter(|customers| customers.len() > 1)
        .count();
    (blocked.len() as i64, over as i64)
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Null => "NULL".into(),
        other => other.to_text(),
    }
}

async fn read_map(wh: &Warehouse) -> Map {
    wh.query(
        "SELECT identifier_type, identifier, canonical_type, canonical_id FROM accord_identity_map",
        10_000_000,
    )
    .await
    .expect("read map")
    .rows
    .iter()
    .map(|r| ((text(&r[0]), text(&r[1])), (text(&r[2]), text(&r[3]))))
    .collect()
}

/// Precision and recall of customer attribution: of the identifiers the map
/// puts under a customer, how many truly belong to that customer; of the
/// identifiers the truth can link to a customer, how many the map finds.
fn precision_recall(data: &DemoData, got: &Map) -> (f64, f64) {
    let erased: HashSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let mut truth: HashMap<Key, Option<i64>> = HashMap::new();
    for t in &data.truth_anonymous {
        truth.insert(
            key("anonymous_id", t.anonymous_id),
            t.customer_id.filter(|_| t.linkable),
        );
    }
    for d in &data.truth_devices {
        truth.insert(
            key("device_id", d.device_id),
            d.customer_id.filter(|_| d.linkable),
        );
    }
    // Shared cookies belong to no customer in particular.
    for n in &data.truth_link_noise {
        if n.kind == NoiseKind::Shared {
            truth.insert(key("anonymous_id", n.anonymous_id), None);
        }
    }
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for (id, want) in &truth {
        let want = want.filter(|c| !erased.contains(c));
        let got = got
            .get(id)
            .filter(|(t, _)| t == "customer_id")
            .map(|(_, v)| v.parse::<i64>().unwrap_or(-1));
        match (want, got) {
            (Some(w), Some(g)) if w == g => tp += 1,
            (Some(_), Some(_)) => {
                fp += 1;
                fn_ += 1;
            }
            (None, Some(_)) => fp += 1,
            (Some(_), None) => fn_ += 1,
            (None, None) => {}
        }
    }
    (tp as f64 / (tp + fp) as f64, tp as f64 / (tp + fn_) as f64)
}

/// No cluster holds two people (pairwise precision over every identifier,
/// customers or not).
fn one_person_per_cluster(data: &DemoData, got: &Map) {
    let mut person: HashMap<Key, u64> = HashMap::new();
    for t in &data.truth_anonymous {
        person.insert(key("anonymous_id", t.anonymous_id), t.person_id);
    }
    for d in &data.truth_devices {
        person.insert(key("device_id", d.device_id), d.person_id);
    }
    let mut people: BTreeMap<&Key, BTreeSet<u64>> = BTreeMap::new();
    for (id, canonical) in got {
        if let Some(p) = person.get(id) {
            people.entry(canonical).or_default().insert(*p);
        }
    }
    let mixed: Vec<_> = people.iter().filter(|(_, p)| p.len() > 1).collect();
    assert!(
        mixed.is_empty(),
        "clusters holding several people: {mixed:?}"
    );
}

#[tokio::test]
async fn demo_stitching_recovers_the_truth_on_every_engine() {
    let data = demo(1);
    let want = truth_map(&data);
    assert!(
        want.values().any(|(t, _)| t == "device_id"),
        "the demo has unlinkable visitors"
    );
    // What the generator injected, and what the rules must make of the
    // rows: the same counts.
    let (blocked, over_limit) = junk_counts(&data);
    let injected_blocked: HashSet<String> = data
        .truth_link_noise
        .iter()
        .filter(|n| n.kind == NoiseKind::Blocked)
        .map(|n| trim_lower(&n.anonymous_id.to_string()))
        .collect();
    let injected_shared = data
        .truth_link_noise
        .iter()
        .filter(|n| n.kind == NoiseKind::Shared)
        .count() as i64;
    assert_eq!(blocked, injected_blocked.len() as i64);
    assert_eq!(over_limit, injected_shared);
    assert!(blocked >= 10 && over_limit >= 1, "{blocked} {over_limit}");
    let dir = tempfile::tempdir().expect("tempdir");
    let catalog = demo_catalog();

    // Expected stitched metrics, straight from the rows: erased customers'
    // logged-in sessions are suppressed (consent), their anonymous ones have
    // no canonical id (erased from the map).
    let erased: HashSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let kept: Vec<_> = data
        .sessions
        .iter()
        .filter(|s| s.customer_id.is_none_or(|c| !erased.contains(&c)))
        .collect();
    let canonical = |s: &&accord::demo::Session| want.get(&key("anonymous_id", s.anonymous_id));
    let stitched_visitors: HashSet<_> = kept.iter().filter_map(canonical).collect();
    let credited = kept
        .iter()
        .filter(|s| canonical(s).is_some_and(|(t, _)| t == "customer_id"))
        .count() as i64;
    let logged_in = kept.iter().filter(|s| s.customer_id.is_some()).count() as i64;
    let visitors: HashSet<_> = kept.iter().map(|s| s.anonymous_id).collect();
    assert!(
        stitched_visitors.len() < visitors.len(),
        "stitching merges cookies"
    );
    assert!(credited > logged_in, "anonymous sessions are credited");
    let expected_row = vec![
        stitched_visitors.len().to_string(),
        credited.to_string(),
        (credited - logged_in).to_string(),
        visitors.len().to_string(),
    ];
    // Credited sessions by the region of the customer they are credited
    // to: anonymous sessions land in their customer's region, none in none.
    let region: HashMap<String, &str> = data
        .customers
        .iter()
        .map(|c| (c.customer_id.to_string(), c.region))
        .collect();
    let mut credited_by_region: BTreeMap<String, i64> = BTreeMap::new();
    for s in &kept {
        if let Some((t, id)) = canonical(s)
            && t == "customer_id"
        {
            *credited_by_region
                .entry(region[id].to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(credited_by_region.values().sum::<i64>(), credited);

    for (engine, wh) in all_engines("identity_demo", &data, dir.path()).await {
        let r = identity::build(&catalog, &wh, &BuildOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        let got = read_map(&wh).await;
        let missing: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(*v))
            .take(5)
            .collect();
        let extra: Vec<_> = got
            .keys()
            .filter(|k| !want.contains_key(*k))
            .take(5)
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{engine}: map differs from the truth; e.g. expected {missing:?}, unexpected {extra:?} (got {} rows, want {})",
            got.len(),
            want.len()
        );
        let (precision, recall) = precision_recall(&data, &got);
        println!(
            "{engine}: precision {precision}, recall {recall}, {} identifiers, {} clusters, {} rounds, {} blocked, {} over a limit",
            r.identifiers, r.clusters, r.iterations, r.blocked, r.over_limit
        );
        assert_eq!((precision, recall), (1.0, 1.0), "{engine}");
        one_person_per_cluster(&data, &got);
        assert_eq!(
            (r.blocked, r.over_limit, r.excluded),
            (blocked, over_limit, 0),
            "{engine}"
        );
        assert!(r.erased > 0, "{engine}: the demo has erasure requests");
        let h = identity::health(&catalog, &wh, 1)
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        let last = h.last_run.expect("a run");
        assert_eq!(
            (last.blocked, last.over_limit),
            (blocked, over_limit),
            "{engine}"
        );
        assert_eq!(h.identifiers, want.len() as i64, "{engine}");

        // Nothing changed: the re-run does nothing, and says what stands.
        let again = identity::build(&catalog, &wh, &BuildOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        assert_eq!(again.mode, BuildMode::Noop, "{engine}");
        assert_eq!(again.unchanged_since, Some(r.run_id), "{engine}");
        assert_eq!(
            (again.identifiers, again.blocked, again.over_limit),
            (want.len() as i64, blocked, over_limit),
            "{engine}"
        );
        assert_eq!(read_map(&wh).await, got, "{engine}");

        let run = |raw: serde_json::Value| {
            let (catalog, wh, engine) = (&catalog, &wh, &engine);
            async move {
                accord::execute::run(
                    catalog,
                    wh,
                    &q(raw),
                    &accord::access::Caller::operator(),
                    10,
                )
                .await
                .unwrap_or_else(|e| panic!("{engine}: {e}"))
            }
        };
        let done = run(
            json!({"metrics": ["stitched_visitors", "credited_sessions", "anonymous_sessions_credited", "visitors"]}),
        )
        .await;
        let row: Vec<String> = done.result.rows[0].iter().map(text).collect();
        assert_eq!(row, expected_row, "{engine}\n{}", done.sql);

        let done =
            run(json!({"metrics": ["credited_sessions"], "dimensions": ["customers.region"]}))
                .await;
        // Sessions of people who never became customers form a group
        // without a region, with nothing credited.
        let got: BTreeMap<String, i64> = done
            .result
            .rows
            .iter()
            .map(|r| (text(&r[0]), text(&r[1]).parse::<i64>().unwrap_or(0)))
            .filter(|(_, n)| *n != 0)
            .collect();
        assert_eq!(got, credited_by_region, "{engine}\n{}", done.sql);
    }
}

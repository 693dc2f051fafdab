//! Identity resolution on hand-made graphs, on DuckDB, PostgreSQL, MariaDB
//! and SQLite: a chain longer than one propagation round, a cycle, a
//! blocked hub and junk values, merge limits exceeded, normalisation;
//! idempotent and incremental re-runs, no-op re-runs when no input changed
//! (and a rebuild after each kind of change), exclusions splitting a
//! cluster (and the ledger showing it), erasure, the iteration limit, and a
//! stitched measure. Every expected map is written out by hand below.

mod common;

use std::collections::BTreeMap;

use accord::catalog::Catalog;
use accord::identity::{self, BuildMode, BuildOptions, Exclusion, IdentityError};
use accord::warehouse::{Value, Warehouse};
use common::warehouses::{mysql_db, open, postgres_db};

const DEFS: &str = r#"
models:
  - name: visits
    source: {table: fx_visits}
    entities:
      - {name: visit, type: primary, expr: visit_id}
      - {name: person, type: foreign, expr: user_id}
    dimensions:
      - {name: seen_at, type: time, granularity: hour}
    measures:
      - {name: visit_count, agg: count}
      - {name: people, agg: count_distinct, stitched: true}
      - {name: credited_visits, agg: count, stitched: true}
  - name: users
    source: {table: fx_users}
    entities:
      - {name: person, type: primary, expr: user_id}
    dimensions:
      - {name: created_at, type: time, granularity: hour}
  - name: erasures
    source: {table: fx_erasures}
    entities:
      - {name: erasure, type: primary, expr: erasure_id}
      - {name: person, type: foreign, expr: user_id}
    dimensions:
      - {name: requested_at, type: time, granularity: hour}
metrics:
  - {name: people, type: simple, measure: visits.people}
  - {name: credited_visits, type: simple, measure: visits.credited_visits}
identity:
  entity: person
  canonical: user
  rule_version: 3
  max_iterations: MAXIT
  identifiers:
    - {name: user, priority: 1, normalize: [trim]}
    - name: device
      priority: 2
      normalize: [trim, lower]
      blocked_values: ['unknown']
    - name: cookie
      priority: 3
      normalize: [trim, lower]
      blocked_values: ['', 'anonymous']
      blocked_patterns: ['test%']
  limits:
    - {identifier: cookie, linked: user, max: 1}
    - {identifier: device, linked: user, max: 2}
  sources:
    - model: users
      time: created_at
      identifiers: [{identifier: user, expr: user_id}]
    - model: visits
      time: seen_at
      identifiers:
        - {identifier: cookie}
        - {identifier: device}
        - {identifier: user, expr: user_id}
      pairs: [[cookie, device], [cookie, user], [device, user]]
  erasure: erasures
"#;

fn catalog(max_iterations: u32) -> std::sync::Arc<Catalog> {
    catalog_with(max_iterations, &[])
}

/// The fixture definitions with some text replaced.
fn catalog_with(max_iterations: u32, edits: &[(&str, &str)]) -> std::sync::Arc<Catalog> {
    let mut text = DEFS.replace("MAXIT", &max_iterations.to_string());
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    accord::definitions::load_str("fixture.yml", &text)
        .unwrap_or_else(|d| panic!("fixture definitions:\n{d}"))
}

type Row = (&'static str, Option<&'static str>, Option<&'static str>);

/// (cookie, device, user) of each visit.
fn visits() -> Vec<(String, Option<String>, Option<String>)> {
    let mut v: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    // A chain c01-d01-c02-d02-...-c10-d10-u01: 21 identifiers, far longer
    // than one propagation round reaches.
    for i in 1..=10 {
        v.push((format!("c{i:02}"), Some(format!("d{i:02}")), None));
    }
    for i in 1..10 {
        v.push((format!("c{:02}", i + 1), Some(format!("d{i:02}")), None));
    }
    v.push(("c10".into(), Some("d10".into()), Some("u01".into())));
    let fixed: [Row; 16] = [
        // A 4-cycle without a user: canonical is its smallest device.
        ("c20", Some("d20"), None),
        ("c21", Some("d20"), None),
        ("c21", Some("d21"), None),
        ("c20", Some("d21"), None),
        // A blocked hub device that would merge u30 and u31.
        ("c30", Some("UNKNOWN "), Some("u30")),
        ("c31", Some("unknown"), Some("u31")),
        // Junk cookies.
        ("", Some("d32"), None),
        ("anonymous", Some("d32"), None),
        ("TEST_1", Some("d33"), None),
        // A cookie linked to two users: over the limit of 1.
        ("c40", None, Some("u40")),
        ("c40", Some("d40"), Some("u41")),
        // A device linked to three users: over the limit of 2.
        ("c60", Some("d60"), Some("u60")),
        ("c61", Some("d60"), Some("u61")),
        ("c62", Some("d60"), Some("u62")),
        // Normalisation: one cookie and one device, written two ways.
        (" C70 ", Some("D70"), None),
        ("c70", Some("d70"), None),
    ];
    for (c, d, u) in fixed {
        v.push((c.into(), d.map(Into::into), u.map(Into::into)));
    }
    v
}

const USERS: [&str; 9] = [
    "u01", "u30", "u31", "u40", "u41", "u60", "u61", "u62", "u90",
];

type Map = BTreeMap<(String, String), (String, String)>;

fn expected_map() -> Map {
    let mut m = Map::new();
    let mut put = |t: &str, v: &str, ct: &str, cv: &str| {
        m.insert((t.into(), v.into()), (ct.into(), cv.into()));
    };
    for i in 1..=10 {
        put("cookie", &format!("c{i:02}"), "user", "u01");
        put("device", &format!("d{i:02}"), "user", "u01");
    }
    put("user", "u01", "user", "u01");
    for x in ["c20", "c21"] {
        put("cookie", x, "device", "d20");
    }
    for x in ["d20", "d21"] {
        put("device", x, "device", "d20");
    }
    put("cookie", "c30", "user", "u30");
    put("user", "u30", "user", "u30");
    put("cookie", "c31", "user", "u31");
    put("user", "u31", "user", "u31");
    put("device", "d32", "device", "d32");
    put("device", "d33", "device", "d33");
    put("cookie", "c40", "cookie", "c40");
    put("user", "u40", "user", "u40");
    put("device", "d40", "user", "u41");
    put("user", "u41", "user", "u41");
    for u in ["60", "61", "62"] {
        put("cookie", &format!("c{u}"), "user", &format!("u{u}"));
        put("user", &format!("u{u}"), "user", &format!("u{u}"));
    }
    put("device", "d60", "device", "d60");
    put("cookie", "c70", "device", "d70");
    put("device", "d70", "device", "d70");
    put("user", "u90", "user", "u90");
    m
}

async fn exec(wh: &Warehouse, sql: &str) {
    wh.query(sql, 1)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn lit(v: &Option<String>) -> String {
    match v {
        Some(s) => format!("'{}'", s.replace('\'', "''")),
        None => "NULL".into(),
    }
}

async fn insert_visits(
    wh: &Warehouse,
    rows: &[(String, Option<String>, Option<String>)],
    first_id: usize,
) {
    for (i, (c, d, u)) in rows.iter().enumerate() {
        let id = first_id + i;
        exec(
            wh,
            &format!(
                "INSERT INTO fx_visits VALUES ({id}, {}, {}, {}, '2025-01-{:02} 10:00:00')",
                lit(&Some(c.clone())),
                lit(d),
                lit(u),
                1 + id % 28
            ),
        )
        .await;
    }
}

async fn setup(engine: &str, wh: &Warehouse) {
    let ts = if engine == "mysql" {
        "DATETIME"
    } else {
        "TIMESTAMP"
    };
    for t in ["fx_visits", "fx_users", "fx_erasures"] {
        exec(wh, &format!("DROP TABLE IF EXISTS {t}")).await;
    }
    exec(
        wh,
        &format!("CREATE TABLE fx_visits (visit_id INT, cookie TEXT, device TEXT, user_id TEXT, seen_at {ts})"),
    )
    .await;
    exec(
        wh,
        &format!("CREATE TABLE fx_users (user_id TEXT, created_at {ts})"),
    )
    .await;
    exec(
        wh,
        &format!("CREATE TABLE fx_erasures (erasure_id INT, user_id TEXT, requested_at {ts})"),
    )
    .await;
    insert_visits(wh, &visits(), 1).await;
    for u in USERS {
        exec(
            wh,
            &format!("INSERT INTO fx_users VALUES ('{u}', '2024-12-01 00:00:00')"),
        )
        .await;
    }
}

/// The four engines, each with the fixture tables, in private databases.
async fn engines(name: &str, dir: &std::path::Path) -> Vec<(&'static str, Warehouse)> {
    let name = format!("identity_{name}");
    let mut out = vec![
        (
            "duckdb",
            open(&format!("duckdb://{}", dir.join("fx.duckdb").display())).await,
        ),
        ("postgres", open(&postgres_db(&name).await).await),
        ("mysql", open(&mysql_db(&name).await).await),
        (
            "sqlite",
            open(&format!("sqlite://{}", dir.join("fx.sqlite").display())).await,
        ),
    ];
    for (n, w) in &mut out {
        setup(n, w).await;
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        other => other.to_text(),
    }
}

async fn read_map(wh: &Warehouse) -> Map {
    let rs = wh
        .query(
            "SELECT identifier_type, identifier, canonical_type, canonical_id FROM accord_identity_map",
            1_000_000,
        )
        .await
        .expect("read map");
    rs.rows
        .iter()
        .map(|r| ((text(&r[0]), text(&r[1])), (text(&r[2]), text(&r[3]))))
        .collect()
}

/// Ledger rows as (event, canonical, from, other, evidence a, evidence b,
/// source, identifiers), sorted.
async fn read_ledger(wh: &Warehouse) -> Vec<Vec<String>> {
    let rs = wh
        .query(
            "SELECT event, canonical_id, from_canonical_id, other_canonical_id, evidence_a, evidence_b, evidence_source, identifiers, run_id FROM accord_identity_ledger",
            1_000_000,
        )
        .await
        .expect("read ledger");
    let mut rows: Vec<Vec<String>> = rs
        .rows
        .iter()
        .map(|r| r.iter().map(text).collect())
        .collect();
    rows.sort();
    rows
}

async fn build(c: &Catalog, wh: &Warehouse, engine: &str) -> identity::BuildReport {
    identity::build(c, wh, &BuildOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{engine}: build: {e}"))
}

fn diff(engine: &str, got: &Map, want: &Map) {
    let missing: Vec<_> = want
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .collect();
    let extra: Vec<_> = got.iter().filter(|(k, _)| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{engine}: map differs\nexpected but not found (or different): {missing:?}\nunexpected: {extra:?}"
    );
}

#[tokio::test]
async fn hand_made_graphs_on_every_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = catalog(30);
    for (engine, wh) in engines("graphs", dir.path()).await {
        let r = build(&c, &wh, engine).await;
        diff(engine, &read_map(&wh).await, &expected_map());
        assert_eq!(r.mode, BuildMode::Full, "{engine}");
        assert_eq!(r.identifiers, expected_map().len() as i64, "{engine}");
        assert_eq!(r.clusters, 15, "{engine}");
        // 'unknown' (device), '', 'anonymous', 'test_1' (cookies).
        assert_eq!(r.blocked, 4, "{engine}");
        // c40 (two users), d60 (three users).
        assert_eq!(r.over_limit, 2, "{engine}");
        // Pointer jumping: more than one round, far fewer than the chain.
        assert!(
            (2..=8).contains(&r.iterations),
            "{engine}: {} rounds",
            r.iterations
        );
        assert!(
            read_ledger(&wh).await.is_empty(),
            "{engine}: a first build records no merges"
        );

        let h = identity::health(&c, &wh, 3).await.expect("health");
        assert_eq!(h.clusters, 15, "{engine}");
        assert_eq!(h.identifiers, 45, "{engine}");
        assert_eq!(
            h.largest_clusters[0].canonical_id.as_deref(),
            Some("u01"),
            "{engine}"
        );
        assert_eq!(h.largest_clusters[0].identifiers, 21, "{engine}");
        let sizes: Vec<(&str, i64)> = h
            .size_distribution
            .iter()
            .map(|b| (b.size, b.clusters))
            .collect();
        // Sizes: 21, 4, 2, 2, 1 (d32), 1 (d33), 1 (c40), 1 (u40), 2 (d40+u41),
        // 2, 2, 2 (c6x+u6x), 1 (d60), 2 (c70+d70), 1 (u90).
        assert_eq!(
            sizes,
            vec![
                ("1", 6),
                ("2", 7),
                ("3-5", 1),
                ("6-10", 0),
                ("11-100", 1),
                ("101+", 0)
            ],
            "{engine}"
        );
        let last = h.last_run.expect("last run");
        assert_eq!(
            (last.blocked, last.over_limit, last.iterations),
            (4, 2, r.iterations as i64)
        );

        // Stitched measures: distinct canonical ids over visits whose cookie
        // is in the map (u01, d20, u30, u31, c40, u60, u61, u62, d70), and
        // visits credited to a user (chain 20, hub 2, c6x 3 = 25).
        let q = common::q(serde_json::json!({"metrics": ["people", "credited_visits"]}));
        let done = accord::execute::run(&c, &wh, &q, &accord::access::Caller::operator(), 10)
            .await
            .unwrap_or_else(|e| panic!("{engine}: {e}"));
        let row: Vec<String> = done.result.rows[0].iter().map(text).collect();
        assert_eq!(row, vec!["9", "25"], "{engine}");
    }
}

#[tokio::test]
async fn reruns_are_idempotent_and_incremental() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = catalog(30);
    for (engine, wh) in engines("incr", dir.path()).await {
        let first = build(&c, &wh, engine).await;
        let again = build(&c, &wh, engine).await;
        assert_eq!(again.mode, BuildMode::Noop, "{engine}: nothing new");
        assert_eq!(again.active, 0, "{engine}: nothing new, nothing recomputed");
        assert_eq!(again.run_id, first.run_id + 1, "{engine}");
        diff(engine, &read_map(&wh).await, &expected_map());
        assert!(read_ledger(&wh).await.is_empty(), "{engine}");

        // New evidence: a new component, a cookie joining the chain, and a
        // link merging the cycle's cluster into user u90.
        let new_rows = vec![
            ("c80".to_string(), Some("d80".to_string()), None),
            ("c11".to_string(), Some("d05".to_string()), None),
            ("c20".to_string(), None, Some("u90".to_string())),
        ];
        insert_visits(&wh, &new_rows, 1000).await;
        let inc = build(&c, &wh, engine).await;
        assert_eq!(inc.mode, BuildMode::Incremental, "{engine}");
        // chain (21) + c11, cycle (4) + u90, c80 + d80.
        assert_eq!(inc.active, 29, "{engine}");
        let mut want = expected_map();
        want.insert(
            ("cookie".into(), "c11".into()),
            ("user".into(), "u01".into()),
        );
        want.insert(
            ("cookie".into(), "c80".into()),
            ("device".into(), "d80".into()),
        );
        want.insert(
            ("device".into(), "d80".into()),
            ("device".into(), "d80".into()),
        );
        for (t, v) in [
            ("cookie", "c20"),
            ("cookie", "c21"),
            ("device", "d20"),
            ("device", "d21"),
        ] {
            want.insert((t.into(), v.into()), ("user".into(), "u90".into()));
        }
        diff(engine, &read_map(&wh).await, &want);
        assert_eq!(inc.merges, 1, "{engine}");
        let ledger = read_ledger(&wh).await;
        let s = |x: &str| x.to_string();
        assert_eq!(
            ledger,
            vec![vec![
                s("merge"),
                s("u90"),
                s("d20"),
                s("u90"),
                s("c20"),
                s("u90"),
                s("visits"),
                s("NULL"),
                (first.run_id + 2).to_string()
            ]],
            "{engine}"
        );

        // A full rebuild agrees with the incremental one.
        let full = identity::build(
            &c,
            &wh,
            &BuildOptions {
                full: true,
                now: None,
            },
        )
        .await
        .expect("full build");
        assert_eq!(full.mode, BuildMode::Full);
        diff(engine, &read_map(&wh).await, &want);
        assert_eq!(read_ledger(&wh).await, ledger, "{engine}: nothing changed");
    }
}

#[tokio::test]
async fn exclusions_split_clusters_and_erasure_removes_subjects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = catalog(30);
    for (engine, wh) in engines("split", dir.path()).await {
        let first = build(&c, &wh, engine).await;
        let edge = Exclusion {
            identifier_type: "cookie".into(),
            identifier: " C06".into(),
            linked_type: Some("device".into()),
            linked_identifier: Some("d05".into()),
            reason: "bad_data".into(),
        };
        identity::exclude(&c, &wh, &edge)
            .await
            .expect("exclude edge");
        let whole = Exclusion {
            identifier_type: "cookie".into(),
            identifier: "c30".into(),
            linked_type: None,
            linked_identifier: None,
            reason: "privacy_request".into(),
        };
        identity::exclude(&c, &wh, &whole)
            .await
            .expect("exclude identifier");
        let r = build(&c, &wh, engine).await;
        assert_eq!(r.mode, BuildMode::Full, "{engine}: an edge went away");
        assert_eq!((r.excluded, r.splits), (1, 1), "{engine}");
        let mut want = expected_map();
        // c01..c05 and d01..d05 now stand alone under device d01.
        for i in 1..=5 {
            want.insert(
                ("cookie".into(), format!("c{i:02}")),
                ("device".into(), "d01".into()),
            );
            want.insert(
                ("device".into(), format!("d{i:02}")),
                ("device".into(), "d01".into()),
            );
        }
        want.remove(&("cookie".to_string(), "c30".to_string()));
        diff(engine, &read_map(&wh).await, &want);
        let run = (first.run_id + 1).to_string();
        let s = |x: &str| x.to_string();
        let ledger = read_ledger(&wh).await;
        assert_eq!(
            ledger,
            vec![
                vec![
                    s("remove"),
                    s("NULL"),
                    s("u30"),
                    s("NULL"),
                    s("c30"),
                    s("NULL"),
                    s("excluded"),
                    s("NULL"),
                    run.clone()
                ],
                vec![
                    s("split"),
                    s("d01"),
                    s("u01"),
                    s("NULL"),
                    s("NULL"),
                    s("NULL"),
                    s("NULL"),
                    s("10"),
                    run.clone()
                ],
                vec![
                    s("split"),
                    s("u01"),
                    s("u01"),
                    s("NULL"),
                    s("NULL"),
                    s("NULL"),
                    s("NULL"),
                    s("11"),
                    run.clone()
                ],
            ],
            "{engine}"
        );

        // Erasure of u31: its cluster (u31, c31) leaves the map, and the
        // ledger keeps only a count.
        exec(
            &wh,
            "INSERT INTO fx_erasures VALUES (1, 'u31', '2025-02-01 00:00:00')",
        )
        .await;
        let r = build(&c, &wh, engine).await;
        assert_eq!(r.erased, 2, "{engine}");
        want.remove(&("cookie".to_string(), "c31".to_string()));
        want.remove(&("user".to_string(), "u31".to_string()));
        diff(engine, &read_map(&wh).await, &want);
        let ledger = read_ledger(&wh).await;
        assert!(
            ledger
                .iter()
                .all(|row| !row.iter().any(|v| v == "u31" || v == "c31")),
            "{engine}: {ledger:?}"
        );
        assert!(
            ledger.iter().any(|row| row[0] == "erase" && row[7] == "2"),
            "{engine}: {ledger:?}"
        );
        // Erasure holds on the next run too (nothing changed: a no-op).
        let again = build(&c, &wh, engine).await;
        assert_eq!(again.mode, BuildMode::Noop, "{engine}");
        assert_eq!(again.erased, 2, "{engine}: the standing map's count");
        diff(engine, &read_map(&wh).await, &want);
    }
}

/// Modes of every run so far, in order.
async fn run_modes(wh: &Warehouse) -> Vec<String> {
    wh.query(
        "SELECT mode FROM accord_identity_runs ORDER BY run_id",
        1000,
    )
    .await
    .expect("runs")
    .rows
    .iter()
    .map(|r| text(&r[0]))
    .collect()
}

#[tokio::test]
async fn reruns_without_changes_are_noops_and_every_change_rebuilds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = catalog(30);
    for (engine, wh) in engines("noop", dir.path()).await {
        let first = build(&c, &wh, engine).await;
        let ledger = read_ledger(&wh).await;
        let noop = build(&c, &wh, engine).await;
        assert_eq!(noop.mode, BuildMode::Noop, "{engine}");
        assert_eq!(noop.unchanged_since, Some(first.run_id), "{engine}");
        assert_eq!(noop.run_id, first.run_id + 1, "{engine}");
        assert_eq!(
            (
                noop.identifiers,
                noop.clusters,
                noop.edges,
                noop.blocked,
                noop.over_limit
            ),
            (first.identifiers, first.clusters, first.edges, 4, 2),
            "{engine}: the standing map's figures"
        );
        assert_eq!((noop.iterations, noop.active, noop.merges), (0, 0, 0));
        diff(engine, &read_map(&wh).await, &expected_map());
        assert_eq!(read_ledger(&wh).await, ledger, "{engine}: ledger untouched");
        let h = identity::health(&c, &wh, 1).await.expect("health");
        let last = h.last_run.expect("last run");
        assert_eq!(
            (last.mode.as_str(), last.blocked, last.over_limit),
            ("noop", 4, 2),
            "{engine}"
        );

        // --full always builds.
        let full = identity::build(
            &c,
            &wh,
            &BuildOptions {
                full: true,
                now: None,
            },
        )
        .await
        .expect("full");
        assert_eq!(full.mode, BuildMode::Full, "{engine}");
        for _ in 0..2 {
            let n = build(&c, &wh, engine).await;
            // A no-op names the run that built the standing map.
            assert_eq!(
                (n.mode, n.unchanged_since),
                (BuildMode::Noop, Some(full.run_id)),
                "{engine}"
            );
        }

        // New rows, even with no new evidence: incremental, nothing
        // recomputed.
        insert_visits(&wh, &[("c01".into(), Some("d01".into()), None)], 2000).await;
        let r = build(&c, &wh, engine).await;
        assert_eq!((r.mode, r.active), (BuildMode::Incremental, 0), "{engine}");
        assert_eq!(build(&c, &wh, engine).await.mode, BuildMode::Noop);

        // A new exclusion: c70 and d70 part (an edge goes: full).
        identity::exclude(
            &c,
            &wh,
            &Exclusion {
                identifier_type: "cookie".into(),
                identifier: "c70".into(),
                linked_type: None,
                linked_identifier: None,
                reason: "bad_data".into(),
            },
        )
        .await
        .expect("exclude");
        let r = build(&c, &wh, engine).await;
        assert_eq!((r.mode, r.excluded), (BuildMode::Full, 1), "{engine}");
        let mut want = expected_map();
        want.remove(&("cookie".to_string(), "c70".to_string()));
        diff(engine, &read_map(&wh).await, &want);
        assert_eq!(build(&c, &wh, engine).await.mode, BuildMode::Noop);

        // A new erasure request: u90 leaves.
        exec(
            &wh,
            "INSERT INTO fx_erasures VALUES (7, 'u90', '2025-03-01 00:00:00')",
        )
        .await;
        let r = build(&c, &wh, engine).await;
        assert_eq!((r.mode, r.erased), (BuildMode::Incremental, 1), "{engine}");
        want.remove(&("user".to_string(), "u90".to_string()));
        diff(engine, &read_map(&wh).await, &want);
        assert_eq!(build(&c, &wh, engine).await.mode, BuildMode::Noop);

        // A rule version bump: full.
        let v4 = catalog_with(30, &[("rule_version: 3", "rule_version: 4")]);
        let r = build(&v4, &wh, engine).await;
        assert_eq!(r.mode, BuildMode::Full, "{engine}");
        assert_eq!(build(&v4, &wh, engine).await.mode, BuildMode::Noop);

        // Changed rules without a bump still count: d33 is now blocked.
        let stricter = catalog_with(
            30,
            &[
                ("rule_version: 3", "rule_version: 4"),
                (
                    "blocked_values: ['unknown']",
                    "blocked_values: ['unknown', 'd33']",
                ),
            ],
        );
        let r = build(&stricter, &wh, engine).await;
        assert_ne!(r.mode, BuildMode::Noop, "{engine}");
        assert_eq!(r.blocked, 5, "{engine}");
        let stricter_mode = r.mode.name();
        want.remove(&("device".to_string(), "d33".to_string()));
        diff(engine, &read_map(&wh).await, &want);

        // A map changed behind accord's back is rebuilt.
        exec(
            &wh,
            "DELETE FROM accord_identity_map WHERE identifier = 'u01'",
        )
        .await;
        let r = build(&stricter, &wh, engine).await;
        assert_ne!(r.mode, BuildMode::Noop, "{engine}");
        diff(engine, &read_map(&wh).await, &want);
        let tampered_mode = r.mode.name();

        let s = |x: &str| x.to_string();
        assert_eq!(
            run_modes(&wh).await,
            vec![
                s("full"),
                s("noop"),
                s("full"),
                s("noop"),
                s("noop"),
                s("incremental"),
                s("noop"),
                s("full"),
                s("noop"),
                s("incremental"),
                s("noop"),
                s("full"),
                s("noop"),
                s(stricter_mode),
                s(tampered_mode),
            ],
            "{engine}"
        );
    }
}

#[tokio::test]
async fn the_iteration_limit_fails_the_build_and_keeps_the_map() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(&format!(
        "duckdb://{}",
        dir.path().join("it.duckdb").display()
    ))
    .await;
    setup("duckdb", &wh).await;
    build(&catalog(30), &wh, "duckdb").await;
    let err = identity::build(
        &catalog(1),
        &wh,
        &BuildOptions {
            full: true,
            now: None,
        },
    )
    .await
    .expect_err("one round cannot settle the chain");
    assert!(
        matches!(err, IdentityError::NotConverged { iterations: 1 }),
        "{err}"
    );
    diff("duckdb", &read_map(&wh).await, &expected_map());
    // No work table is left behind.
    let rs = wh
        .query(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'accord_identity_w_%'",
            1,
        )
        .await
        .expect("tables");
    assert_eq!(text(&rs.rows[0][0]), "0");
}

#[test]
fn definition_errors_name_position_and_suggest() {
    let bad = DEFS
        .replace("MAXIT", "30")
        .replace("canonical: user", "canonical: usr")
        .replace("normalize: [trim]}", "normalize: [trimm]}")
        .replace(
            "{identifier: cookie, linked: user, max: 1}",
            "{identifier: cookie, linked: user, max: 0}",
        )
        .replace("time: created_at", "time: created")
        .replace("blocked_values: ['unknown']", "blocked_values: ['UNKNOWN']");
    let err = accord::definitions::load_str("fixture.yml", &bad).expect_err("invalid");
    let text = err.to_string();
    for want in [
        "fixture.yml:",
        "identity.canonical: unknown identifier type `usr`; did you mean `user`?",
        "unknown normalisation `trimm`; did you mean `trim`?",
        "max must be at least 1",
        "`created` is not a time dimension of `users`; did you mean `created_at`?",
        "`UNKNOWN` can never match: values are compared after normalisation; did you mean `unknown`?",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    // A stitched measure needs an identity definition (and says so only
    // when there is none, not when the section itself is invalid).
    assert!(!text.contains("needs an `identity:`"), "{text}");
    let no_identity = DEFS.replace("MAXIT", "30");
    let cut = no_identity.find("identity:").expect("identity section");
    let err =
        accord::definitions::load_str("fixture.yml", &no_identity[..cut]).expect_err("invalid");
    assert!(
        err.to_string().contains(
            "models.visits.measures.people.stitched: `stitched` needs an `identity:` definition"
        ),
        "{err}"
    );
}

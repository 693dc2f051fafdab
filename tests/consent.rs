//! Consent, on a hand-made fixture (tests/fixtures/access/consent/) whose
//! every order is one case with a hand-computed answer, on DuckDB, SQLite
//! and PostgreSQL alike; then on the demo data, against the ledger replayed
//! in Rust.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::catalog::policy::ConsentMode;
use accord::warehouse::{Value, Warehouse};
use chrono::NaiveDateTime;
use rust_decimal::Decimal;
use serde_json::json;

fn fixture_dir() -> PathBuf {
    common::repo_path("tests/fixtures/access/consent")
}

fn fixture_sql() -> String {
    std::fs::read_to_string(fixture_dir().join("data.sql")).expect("the fixture's data.sql")
}

/// The fixture's definitions, with the consent mode given.
fn fixture_catalog(mode: &str) -> Arc<Catalog> {
    let dir = fixture_dir();
    let models = std::fs::read_to_string(dir.join("models.yml")).expect("models.yml");
    let policies = std::fs::read_to_string(dir.join("policies.yml")).expect("policies.yml");
    assert!(policies.contains("mode: as_of_fact"));
    let policies = policies.replace("mode: as_of_fact", &format!("mode: {mode}"));
    let files = [
        accord::definitions::SourceFile {
            path: "consent/models.yml".into(),
            text: models,
        },
        accord::definitions::SourceFile {
            path: "consent/policies.yml".into(),
            text: policies,
        },
    ];
    match accord::definitions::load_files(&files) {
        Ok(c) => c,
        Err(d) => panic!("the consent fixture does not validate:\n{d}"),
    }
}

/// The fixture's statements, one by one (no statement contains `;`).
fn statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn fixture_duckdb(dir: &Path) -> Warehouse {
    let path = dir.join("consent.duckdb");
    {
        let conn = duckdb::Connection::open(&path).expect("open DuckDB");
        conn.execute_batch(&fixture_sql())
            .expect("load the fixture into DuckDB");
    }
    common::warehouses::open(&format!("duckdb://{}", path.display())).await
}

async fn fixture_sqlite(dir: &Path) -> Warehouse {
    use sqlx::Connection;
    let path = dir.join("consent.sqlite");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let mut conn = sqlx::SqliteConnection::connect_with(&opts)
        .await
        .expect("open SQLite");
    // SQLite keeps timestamps as ISO text (the accord SQLite dialect).
    for s in statements(&fixture_sql().replace("TIMESTAMP", "TEXT")) {
        sqlx::raw_sql(&s)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("SQLite: {e}\n{s}"));
    }
    conn.close().await.expect("close SQLite");
    common::warehouses::open(&format!("sqlite://{}", path.display())).await
}

async fn fixture_postgres() -> Warehouse {
    use sqlx::Connection;
    let url = common::warehouses::postgres_db("consent_fixture").await;
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is unreachable ({e})"));
    for s in statements(&fixture_sql()) {
        sqlx::raw_sql(&s)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL: {e}\n{s}"));
    }
    conn.close().await.expect("close PostgreSQL");
    common::warehouses::open(&url).await
}

/// `(label, orders, revenue)` rows.
type Rows = Vec<(String, i64, i64)>;
/// `(mode, purpose)` → rows.
type Scenarios = BTreeMap<(String, String), Rows>;
/// `(customer, purpose)` → `(time, consent_event_id, granted)`, in order.
type Ledger<'a> = HashMap<(i64, &'a str), Vec<(NaiveDateTime, i64, bool)>>;

fn int(v: &Value) -> i64 {
    let f = v.as_f64().unwrap_or_else(|| panic!("a number, got {v:?}"));
    assert_eq!(f.fract(), 0.0, "a whole number, got {v:?}");
    f as i64
}

/// `(label, orders, revenue)` per counted order under `purpose`.
async fn by_label(catalog: &Catalog, wh: &Warehouse, purpose: &str) -> Rows {
    let q = common::q(json!({
        "metrics": ["orders", "revenue"],
        "dimensions": ["orders.label"],
        "purpose": purpose,
    }));
    let out = accord::execute::run(catalog, wh, &q, &Caller::operator(), 1000)
        .await
        .unwrap_or_else(|e| panic!("{purpose} on {}: {e}", wh.url().redacted()));
    out.result
        .rows
        .iter()
        .map(|r| (r[0].to_text(), int(&r[1]), int(&r[2])))
        .collect()
}

/// `(orders, revenue)` in total under `purpose`.
async fn total(catalog: &Catalog, wh: &Warehouse, purpose: &str) -> (i64, i64) {
    let q = common::q(json!({"metrics": ["orders", "revenue"], "purpose": purpose}));
    let out = accord::execute::run(catalog, wh, &q, &Caller::operator(), 10)
        .await
        .unwrap_or_else(|e| panic!("{purpose} on {}: {e}", wh.url().redacted()));
    assert_eq!(out.result.rows.len(), 1);
    let r = &out.result.rows[0];
    // No counted order: COUNT is 0, SUM is NULL.
    (int(&r[0]), if r[1] == Value::Null { 0 } else { int(&r[1]) })
}

/// Every order of the fixture and its amount.
const ORDERS: [(&str, i64); 16] = [
    ("granted_before", 1),
    ("withdrawn_before", 2),
    ("withdrawn_after", 4),
    ("regranted_first", 8),
    ("regranted_gap", 16),
    ("regranted_again", 32),
    ("tie_withdrawn_last", 64),
    ("tie_granted_last", 128),
    ("granted_at_fact", 256),
    ("withdrawn_at_fact", 512),
    ("ads_only", 1024),
    ("granted_after", 2048),
    ("anonymous", 4096),
    ("erased", 8192),
    ("other_purpose_withdrawn", 16384),
    ("pending_status", 32768),
];

/// What each scenario counts, worked out by hand from data.sql.
const MARKETING_AS_OF_FACT: [&str; 7] = [
    "granted_before",
    "withdrawn_after",
    "regranted_first",
    "regranted_again",
    "tie_granted_last",
    "granted_at_fact",
    "other_purpose_withdrawn",
];
const MARKETING_AS_OF_NOW: [&str; 8] = [
    "granted_before",
    "regranted_first",
    "regranted_gap",
    "regranted_again",
    "tie_granted_last",
    "granted_at_fact",
    "granted_after",
    "other_purpose_withdrawn",
];
const ADS: [&str; 1] = ["ads_only"];

fn everyone_but_erased() -> Vec<&'static str> {
    ORDERS
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| *l != "erased")
        .collect()
}

/// The rows `by_label` must return for these labels (label order).
fn expected_rows(labels: &[&str]) -> Rows {
    let amounts: HashMap<&str, i64> = ORDERS.into_iter().collect();
    let mut v: Rows = labels
        .iter()
        .map(|l| (l.to_string(), 1, amounts[l]))
        .collect();
    v.sort();
    v
}

fn sum(labels: &[&str]) -> (i64, i64) {
    let amounts: HashMap<&str, i64> = ORDERS.into_iter().collect();
    (labels.len() as i64, labels.iter().map(|l| amounts[l]).sum())
}

/// Every scenario on one warehouse: `(mode, purpose)` → rows.
async fn scenarios(wh: &Warehouse) -> Scenarios {
    let mut out = BTreeMap::new();
    for mode in ["as_of_fact", "as_of_now"] {
        let c = fixture_catalog(mode);
        for purpose in ["analytics", "marketing", "ads"] {
            out.insert(
                (mode.to_string(), purpose.to_string()),
                by_label(&c, wh, purpose).await,
            );
        }
    }
    out
}

fn expected_scenarios() -> Scenarios {
    let all = everyone_but_erased();
    let mut m = BTreeMap::new();
    for (mode, marketing) in [
        ("as_of_fact", MARKETING_AS_OF_FACT.as_slice()),
        ("as_of_now", MARKETING_AS_OF_NOW.as_slice()),
    ] {
        m.insert((mode.into(), "analytics".into()), expected_rows(&all));
        m.insert((mode.into(), "marketing".into()), expected_rows(marketing));
        m.insert((mode.into(), "ads".into()), expected_rows(&ADS));
    }
    m
}

#[test]
fn the_fixture_declares_what_the_tests_assume() {
    let c = fixture_catalog("as_of_fact");
    let consent = c.consent.as_ref().expect("consent");
    assert_eq!(consent.mode, ConsentMode::AsOfFact);
    assert_eq!(consent.default_purpose, "analytics");
    assert!(consent.suppression.is_some());
    assert!(!consent.purpose("analytics").unwrap().requires_consent);
    assert!(consent.purpose("marketing").unwrap().requires_consent);
    assert_eq!(
        fixture_catalog("as_of_now").consent.as_ref().unwrap().mode,
        ConsentMode::AsOfNow
    );
    let labels: BTreeSet<&str> = ORDERS.iter().map(|(l, _)| *l).collect();
    assert_eq!(labels.len(), ORDERS.len());
    for l in &labels {
        assert!(
            fixture_sql().contains(&format!("'{l}'")),
            "{l} is in data.sql"
        );
    }
}

#[tokio::test]
async fn marketing_counts_consent_as_of_each_facts_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    let c = fixture_catalog("as_of_fact");
    assert_eq!(
        by_label(&c, &wh, "marketing").await,
        expected_rows(&MARKETING_AS_OF_FACT)
    );
    assert_eq!(
        total(&c, &wh, "marketing").await,
        sum(&MARKETING_AS_OF_FACT)
    );
    assert_eq!(total(&c, &wh, "marketing").await, (7, 16813));
}

/// One order alone, under `purpose`: whether it counted.
async fn counted(c: &Catalog, wh: &Warehouse, purpose: &str, label: &str) -> bool {
    let q = common::q(json!({
        "metrics": ["orders"],
        "filters": [{"dimension": "orders.label", "op": "eq", "values": [label]}],
        "purpose": purpose,
    }));
    let out = accord::execute::run(c, wh, &q, &Caller::operator(), 10)
        .await
        .expect("runs");
    int(&out.result.rows[0][0]) == 1
}

#[tokio::test]
async fn each_ledger_case_on_its_own() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    let c = fixture_catalog("as_of_fact");
    for (label, expected) in [
        ("granted_before", true),
        ("withdrawn_before", false),
        ("withdrawn_after", true),
        ("regranted_first", true),
        ("regranted_gap", false),
        ("regranted_again", true),
        ("tie_withdrawn_last", false),
        ("tie_granted_last", true),
        ("granted_at_fact", true),
        ("withdrawn_at_fact", false),
        ("granted_after", false),
        ("pending_status", false),
    ] {
        assert_eq!(
            counted(&c, &wh, "marketing", label).await,
            expected,
            "{label} under marketing, as of the fact"
        );
    }
}

#[tokio::test]
async fn as_of_now_uses_each_subjects_latest_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    let c = fixture_catalog("as_of_now");
    assert_eq!(
        by_label(&c, &wh, "marketing").await,
        expected_rows(&MARKETING_AS_OF_NOW)
    );
    assert_eq!(total(&c, &wh, "marketing").await, (8, 18873));
}

#[tokio::test]
async fn a_purpose_without_consent_counts_everyone_but_the_suppressed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    let c = fixture_catalog("as_of_fact");
    let all = everyone_but_erased();
    assert_eq!(by_label(&c, &wh, "analytics").await, expected_rows(&all));
    assert_eq!(total(&c, &wh, "analytics").await, (15, 65535 - 8192));
    // The default purpose is analytics.
    let q = common::q(json!({"metrics": ["orders", "revenue"]}));
    let out = accord::execute::run(&c, &wh, &q, &Caller::operator(), 10)
        .await
        .expect("runs");
    assert_eq!(
        (int(&out.result.rows[0][0]), int(&out.result.rows[0][1])),
        (15, 57343)
    );
}

#[tokio::test]
async fn another_purpose_needs_its_own_consent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    let c = fixture_catalog("as_of_fact");
    assert_eq!(by_label(&c, &wh, "ads").await, expected_rows(&ADS));
    assert!(counted(&c, &wh, "marketing", "other_purpose_withdrawn").await);
    assert!(!counted(&c, &wh, "ads", "other_purpose_withdrawn").await);
    assert!(!counted(&c, &wh, "marketing", "ads_only").await);
}

#[tokio::test]
async fn anonymous_facts_are_excluded_under_a_consent_purpose() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    for mode in ["as_of_fact", "as_of_now"] {
        let c = fixture_catalog(mode);
        assert!(!counted(&c, &wh, "marketing", "anonymous").await, "{mode}");
        assert!(!counted(&c, &wh, "ads", "anonymous").await, "{mode}");
        assert!(counted(&c, &wh, "analytics", "anonymous").await, "{mode}");
    }
}

#[tokio::test]
async fn suppressed_subjects_are_excluded_under_every_purpose() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = fixture_duckdb(dir.path()).await;
    for mode in ["as_of_fact", "as_of_now"] {
        let c = fixture_catalog(mode);
        for purpose in ["analytics", "marketing", "ads"] {
            assert!(
                !counted(&c, &wh, purpose, "erased").await,
                "{purpose}, {mode}"
            );
        }
    }
    // The compiled query says so.
    let c = fixture_catalog("as_of_fact");
    let q = common::q(json!({"metrics": ["revenue"], "purpose": "marketing"}));
    let (plan, _) = accord::planner::compile(
        &c,
        &q,
        &Caller::operator().for_query(&q),
        accord::dialect::DialectKind::Duckdb,
    )
    .expect("compiles");
    assert_eq!(
        plan.policies,
        [
            "consent purpose marketing (as of each fact's time)",
            "suppression list erasures",
        ]
    );
}

#[tokio::test]
async fn the_fixture_gives_identical_answers_on_duckdb_sqlite_and_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let expected = expected_scenarios();
    for wh in [
        fixture_duckdb(dir.path()).await,
        fixture_sqlite(dir.path()).await,
        fixture_postgres().await,
    ] {
        let got = scenarios(&wh).await;
        assert_eq!(got, expected, "on {}", wh.url().redacted());
    }
}

// ---------------------------------------------------------------------------
// The demo data
// ---------------------------------------------------------------------------

/// Whether the customer had `purpose` granted at `t`, replaying the ledger
/// per customer in time order (ties by consent_event_id).
fn granted_at(ledger: &Ledger, customer: i64, purpose: &str, t: NaiveDateTime) -> bool {
    let mut state = false;
    if let Some(events) = ledger.get(&(customer, purpose)) {
        for (at, _, granted) in events {
            if *at > t {
                break;
            }
            state = *granted;
        }
    }
    state
}

/// The demo's consent ledger, per customer and purpose in time order.
fn demo_ledger(data: &accord::demo::DemoData) -> Ledger<'_> {
    let mut ledger: Ledger = HashMap::new();
    for e in &data.consent_events {
        ledger.entry((e.customer_id, e.purpose)).or_default().push((
            e.occurred_at,
            e.consent_event_id,
            e.status == "granted",
        ));
    }
    for v in ledger.values_mut() {
        v.sort();
    }
    ledger
}

/// Erased customers are out whatever the purpose, when the demo says so.
fn demo_suppressed(catalog: &Catalog, data: &accord::demo::DemoData) -> BTreeSet<i64> {
    if catalog
        .consent
        .as_ref()
        .is_some_and(|c| c.suppression.is_some())
    {
        data.erasure_requests
            .iter()
            .map(|e| e.customer_id)
            .collect()
    } else {
        BTreeSet::new()
    }
}

/// The demo (scale 1) in a DuckDB file of its own; keep the directory.
async fn demo_on_duckdb() -> (accord::demo::DemoData, tempfile::TempDir, Warehouse) {
    let data = common::warehouses::demo(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = common::warehouses::open(&format!(
        "duckdb://{}",
        dir.path().join("demo.duckdb").display()
    ))
    .await;
    wh.load_demo(&data).await.expect("load the demo data");
    (data, dir, wh)
}

#[tokio::test]
async fn demo_revenue_under_marketing_follows_the_consent_ledger() {
    let (data, _dir, wh) = demo_on_duckdb().await;
    let catalog = common::demo_catalog();

    let ledger = demo_ledger(&data);
    let suppressed = demo_suppressed(&catalog, &data);
    let live = || {
        data.orders
            .iter()
            .filter(|o| o.status != "cancelled" && !suppressed.contains(&o.customer_id))
    };
    let marketing: Decimal = live()
        .filter(|o| granted_at(&ledger, o.customer_id, "marketing", o.ordered_at))
        .map(|o| o.amount)
        .sum();
    let everyone: Decimal = live().map(|o| o.amount).sum();
    assert!(marketing > Decimal::ZERO && marketing < everyone);

    let revenue = |purpose: &str| {
        let q = common::q(json!({"metrics": ["revenue"], "purpose": purpose}));
        let catalog = catalog.clone();
        let wh = &wh;
        async move {
            let out = accord::execute::run(&catalog, wh, &q, &Caller::operator(), 10)
                .await
                .expect("runs");
            match &out.result.rows[0][0] {
                Value::Decimal(d) => *d,
                other => panic!("revenue is a decimal, got {other:?}"),
            }
        }
    };
    assert_eq!(
        revenue("marketing").await.normalize(),
        marketing.normalize()
    );
    assert_eq!(revenue("analytics").await.normalize(), everyone.normalize());

    // And per region, as marketing_eu's kind of question.
    let q = common::q(json!({
        "metrics": ["revenue"],
        "dimensions": ["customers.region"],
        "purpose": "marketing",
    }));
    let out = accord::execute::run(&catalog, &wh, &q, &Caller::operator(), 100)
        .await
        .expect("runs");
    let region: HashMap<i64, &str> = data
        .customers
        .iter()
        .map(|c| (c.customer_id, c.region))
        .collect();
    let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
    for o in live().filter(|o| granted_at(&ledger, o.customer_id, "marketing", o.ordered_at)) {
        *expected
            .entry(region[&o.customer_id].to_string())
            .or_default() += o.amount;
    }
    let got: BTreeMap<String, Decimal> = out
        .result
        .rows
        .iter()
        .map(|r| match &r[1] {
            Value::Decimal(d) => (r[0].to_text(), d.normalize()),
            other => panic!("revenue is a decimal, got {other:?}"),
        })
        .collect();
    let expected: BTreeMap<String, Decimal> = expected
        .into_iter()
        .map(|(k, v)| (k, v.normalize()))
        .collect();
    assert_eq!(got, expected);
}

/// A conversion metric under a consent purpose: a signup counts when the
/// customer had granted at signup, and it converted only through an order
/// placed while they still had (consent as of each fact, on both sides).
#[tokio::test]
async fn demo_conversions_under_marketing_need_consent_at_the_conversion_too() {
    let (data, _dir, wh) = demo_on_duckdb().await;
    let catalog = common::demo_catalog();
    let ledger = demo_ledger(&data);
    let suppressed = demo_suppressed(&catalog, &data);

    let mut orders: HashMap<i64, Vec<NaiveDateTime>> = HashMap::new();
    for o in &data.orders {
        orders.entry(o.customer_id).or_default().push(o.ordered_at);
    }
    let granted = |c: i64, t: NaiveDateTime| granted_at(&ledger, c, "marketing", t);
    let (mut signups, mut converted, mut ungoverned) = (0i64, 0i64, 0i64);
    for c in &data.customers {
        if c.is_test
            || suppressed.contains(&c.customer_id)
            || !granted(c.customer_id, c.signed_up_at)
        {
            continue;
        }
        signups += 1;
        let end = c.signed_up_at + chrono::Duration::days(7);
        let in_window = || {
            orders
                .get(&c.customer_id)
                .into_iter()
                .flatten()
                .filter(move |t| **t >= c.signed_up_at && **t <= end)
        };
        if in_window().any(|t| granted(c.customer_id, *t)) {
            converted += 1;
        }
        if in_window().next().is_some() {
            ungoverned += 1;
        }
    }
    // Otherwise this test could not tell the two rules apart.
    assert!(
        converted < ungoverned,
        "the demo has no signup whose only conversions came after a withdrawal \
         ({converted} converted either way)"
    );

    let q = common::q(json!({
        "metrics": ["signup_to_purchase_7d_count", "signup_to_purchase_7d"],
        "purpose": "marketing",
    }));
    let out = accord::execute::run(&catalog, &wh, &q, &Caller::operator(), 10)
        .await
        .expect("runs");
    let row = &out.result.rows[0];
    assert_eq!(int(&row[0]), converted, "{}", out.sql);
    let rate = row[1].as_f64().expect("a rate");
    assert!(
        (rate - converted as f64 / signups as f64).abs() < 1e-9,
        "rate {rate}, want {converted}/{signups}"
    );
}

//! Property-based fuzzing (proptest) of every parser and the planner,
//! in-process: generated and mutated inputs must give Ok or Err, never a
//! panic (a stack overflow aborts this binary: also a failure).
//!
//! - `rest_json`: arbitrary JSON and mutated semantic queries → serde →
//!   `planner::compile` as several callers, for every dialect;
//! - `where_text`: expression grammars (deep nesting, long chains, odd
//!   literals, unicode) → the planner;
//! - `graphql_documents`: documents executed by `accord::graphql::execute`
//!   against the real per-caller schema over the demo DuckDB data;
//! - `pg_statements`: the Postgres endpoint's classify → translate → plan,
//!   or its catalog rewrite, as the statement path runs them;
//! - `definitions_yaml`: mutated `metric_defs/*.yml` → `load_files`: Ok or
//!   an Err with a position.
//!
//! Each property first runs its seed corpus: every request string of
//! `tests/attacks/*.yaml` (templates expanded with placeholder values).
//! Deterministic: a fixed seed unless `PROPTEST_RNG_SEED` is set; cases per
//! property from `PROPTEST_CASES` (default below, sized for CI in a debug
//! build). `FUZZ_MAX_DEPTH=n` caps generated chains and nesting and skips
//! deeper seeds (to measure the rest on a build that still overflows).
//! `FUZZ_TRACE=file` writes each input there first (the last one is the
//! input that aborted). Failures are saved in `tests/fuzz_inputs.proptest-regressions` and
//! replayed first.
//! Each property prints its executions and executions per second.

mod common;
#[path = "common/http.rs"]
mod http;

#[path = "attack_suite/cases.rs"]
mod cases;
#[path = "fuzz_inputs/inputs.rs"]
mod inputs;

use std::fmt::Debug;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::dialect::DialectKind;
use accord::query::SemanticQuery;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed, TestRunner};
use serde_json::{Value as Json, json};

// ---------------------------------------------------------------------------
// Harness

fn config(default_cases: u32) -> Config {
    let mut c = Config {
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        // Shrinking a deep input is slow; a bounded shrink still names it.
        max_shrink_time: 20_000,
        ..Config::default()
    };
    if std::env::var("PROPTEST_CASES").is_err() {
        c.cases = default_cases;
    }
    if std::env::var("PROPTEST_RNG_SEED").is_err() {
        c.rng_seed = RngSeed::Fixed(0x0ACC_0D17);
    }
    c
}

fn short<T: Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    if s.len() > 400 {
        let cut = (0..=400)
            .rev()
            .find(|i| s.is_char_boundary(*i))
            .unwrap_or(0);
        format!("{}… ({} chars)", &s[..cut], s.len())
    } else {
        s
    }
}

/// With `FUZZ_TRACE=file`, each input is written there before it runs, so
/// the one that aborted the binary (stack overflow) can be read back.
fn trace<T: Debug>(v: &T) {
    if let Ok(path) = std::env::var("FUZZ_TRACE") {
        let _ = std::fs::write(path, format!("{v:#?}"));
    }
}

/// Runs the seeds, then the property; prints executions and their rate.
fn fuzz<S>(
    name: &str,
    default_cases: u32,
    seeds: Vec<S::Value>,
    strategy: S,
    exec: impl Fn(&S::Value),
) where
    S: Strategy,
    S::Value: Debug,
{
    let started = Instant::now();
    let mut seeded = 0u64;
    let limited = std::env::var("FUZZ_MAX_DEPTH").is_ok();
    for (i, s) in seeds.iter().enumerate() {
        if limited && inputs::depth_proxy(&format!("{s:?}")) > inputs::max_depth() {
            continue;
        }
        trace(s);
        if std::panic::catch_unwind(AssertUnwindSafe(|| exec(s))).is_err() {
            panic!("{name}: seed {i} panics: {}", short(s));
        }
        seeded += 1;
    }
    let counter = std::sync::atomic::AtomicU64::new(0);
    let mut runner = TestRunner::new(config(default_cases));
    let result = runner.run(&strategy, |v| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        trace(&v);
        exec(&v);
        Ok(())
    });
    let total = seeded + counter.into_inner();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "fuzz {name}: {total} executions ({seeded} seeds) in {secs:.1} s = {:.0}/s",
        total as f64 / secs
    );
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

// ---------------------------------------------------------------------------
// What the inputs run against

fn catalog() -> &'static Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(common::demo_catalog)
}

/// The demo's callers: operator, each role, a claim, a purpose.
fn callers() -> &'static [Caller] {
    static C: OnceLock<Vec<Caller>> = OnceLock::new();
    C.get_or_init(|| {
        let mut eu = Caller::with_roles(&["regional_manager"]);
        eu.claims.insert("region".into(), json!("EU"));
        let mut quote = Caller::with_roles(&["regional_manager"]);
        quote.claims.insert("region".into(), json!("EU' OR '1'='1"));
        let mut marketing = Caller::with_roles(&["marketing_eu"]);
        marketing.purpose = Some("marketing".into());
        vec![
            Caller::operator(),
            Caller::with_roles(&["admin"]),
            Caller::with_roles(&["analyst"]),
            Caller::with_roles(&["partner"]),
            eu,
            quote,
            marketing,
            Caller::with_roles(&["partner", "analyst"]),
        ]
    })
}

fn who() -> impl Strategy<Value = usize> {
    0..callers().len()
}

/// Plans and renders as a caller for a dialect: must not panic.
fn plan(q: &SemanticQuery, who: usize, dialect: usize) {
    let caller = callers()[who % callers().len()].for_query(q);
    let kind = DialectKind::ALL[dialect % DialectKind::ALL.len()];
    let _ = accord::planner::compile(catalog(), q, &caller, kind);
}

// ---------------------------------------------------------------------------
// Seeds: every request of the attack suite

fn placeholder(name: &str, _: &[&str]) -> Option<String> {
    Some(
        match name {
            "k_country" => "AR",
            "k_month_start" => "2025-02-01",
            "k_month_end" => "2025-03-01",
            "k_hour_start" => "2025-02-27 10:00:00",
            "k_hour_end" => "2025-02-27 11:00:00",
            _ => "x@example.com",
        }
        .to_string(),
    )
}

fn attack_cases() -> &'static [cases::Case] {
    static C: OnceLock<Vec<cases::Case>> = OnceLock::new();
    C.get_or_init(|| cases::load(&common::repo_path("tests/attacks")).expect("attack cases"))
}

fn seed_bodies() -> &'static [Json] {
    static S: OnceLock<Vec<Json>> = OnceLock::new();
    S.get_or_init(|| {
        attack_cases()
            .iter()
            .filter_map(|c| c.body.as_ref())
            .map(|b| cases::expand_json(b, &placeholder))
            .chain([
                json!({"metrics": ["revenue"], "dimensions": ["customers.country", "metric_time:month"]}),
                json!({"funnel": "checkout_funnel"}),
                json!({"retention": "weekly_purchase_retention"}),
                json!({"metrics": ["revenue"], "attribution": "linear_30d", "dimensions": ["marketing_touches.channel"]}),
            ])
            .collect()
    })
}

fn seed_wheres() -> Vec<String> {
    seed_bodies()
        .iter()
        .filter_map(|b| b["where"].as_str().map(str::to_string))
        .collect()
}

fn seed_graphql() -> Vec<String> {
    attack_cases()
        .iter()
        .filter_map(|c| c.graphql.as_deref())
        .map(|g| cases::expand(g, &placeholder))
        .collect()
}

fn seed_sql() -> Vec<String> {
    attack_cases()
        .iter()
        .flat_map(|c| c.sql.iter())
        .map(|s| cases::expand(s, &placeholder))
        .collect()
}

// ---------------------------------------------------------------------------
// (a) REST JSON

fn run_json(v: &Json, who: usize, dialect: usize) {
    if let Ok(q) = serde_json::from_value::<SemanticQuery>(v.clone()) {
        plan(&q, who, dialect);
    }
    // The bytes a client sends go through serde_json's own parser too.
    let text = v.to_string();
    if let Ok(q) = serde_json::from_str::<SemanticQuery>(&text) {
        plan(&q, who, dialect);
    }
}

#[test]
fn rest_json() {
    let seeds = seed_bodies();
    let seeded: Vec<(Json, usize, usize)> = seeds.iter().map(|s| (s.clone(), 1, 0)).collect();
    // Mutations start from the seeds the depth knob lets through.
    let pool: Vec<Json> = seeds
        .iter()
        .filter(|s| {
            std::env::var("FUZZ_MAX_DEPTH").is_err()
                || inputs::depth_proxy(&s.to_string()) <= inputs::max_depth()
        })
        .cloned()
        .collect();
    let strategy = (
        prop_oneof![
            3 => inputs::query_json(),
            2 => (prop::sample::select(pool), prop::collection::vec(inputs::mutation(), 0..4))
                .prop_map(|(seed, m)| inputs::apply(seed, &m)),
            1 => inputs::any_json(),
        ],
        who(),
        0..DialectKind::ALL.len(),
    );
    fuzz("rest_json", 256, seeded, strategy, |(v, w, d)| {
        run_json(v, *w, *d)
    });
}

// ---------------------------------------------------------------------------
// (b) where strings

fn run_where(text: &str, who: usize, dialect: usize) {
    let q = SemanticQuery {
        metrics: vec!["revenue".into()],
        dimensions: vec!["customers.country".into()],
        where_sql: Some(text.to_string()),
        ..Default::default()
    };
    plan(&q, who, dialect);
}

#[test]
fn where_text() {
    let seeds: Vec<(String, usize)> = seed_wheres().into_iter().map(|w| (w, 1)).collect();
    let strategy = (inputs::where_text(), who(), 0..DialectKind::ALL.len());
    let seeded = seeds.into_iter().map(|(w, who)| (w, who, 0)).collect();
    fuzz("where_text", 256, seeded, strategy, |(w, who, d)| {
        run_where(w, *who, *d)
    });
}

// ---------------------------------------------------------------------------
// (c) GraphQL documents

struct Gql {
    rt: tokio::runtime::Runtime,
    state: Arc<accord::server::AppState>,
    _dir: tempfile::TempDir,
}

fn gql() -> &'static Gql {
    static G: OnceLock<Gql> = OnceLock::new();
    G.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let url = http::demo_duckdb_copy(dir.path());
        let mut config = accord::server::ServeConfig::for_tests(&http::demo_defs(), url);
        config.reload = false;
        config.pg_addr = None;
        let state = rt
            .block_on(accord::server::build_state(config))
            .expect("server state");
        Gql {
            rt,
            state,
            _dir: dir,
        }
    })
}

const GQL_ROLES: &[&[&str]] = &[
    &["admin"],
    &["analyst"],
    &["partner"],
    &["regional_manager"],
    &[],
];

fn run_graphql(doc: &str, who: usize) {
    let g = gql();
    let mut headers = axum::http::HeaderMap::new();
    let roles = GQL_ROLES[who % GQL_ROLES.len()];
    if !roles.is_empty() {
        let claims = [("region".to_string(), json!("EU"))].into_iter().collect();
        let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
        let t = accord::auth::mint_hs256(accord::auth::DEV_SECRET, "fuzz", &roles, &claims, 600)
            .expect("token");
        headers.insert(
            "authorization",
            format!("Bearer {t}").parse().expect("header"),
        );
    }
    let req = async_graphql::Request::new(doc);
    let resp =
        g.rt.block_on(accord::graphql::execute(&g.state, &headers, req));
    // The answer must serialise (it is what the endpoint sends).
    serde_json::to_vec(&resp).expect("a GraphQL response serialises");
}

#[test]
fn graphql_documents() {
    let seeds: Vec<(String, usize)> = seed_graphql().into_iter().map(|d| (d, 0)).collect();
    let strategy = (inputs::graphql_doc(), 0..GQL_ROLES.len());
    fuzz("graphql_documents", 128, seeds, strategy, |(d, w)| {
        run_graphql(d, *w)
    });
}

// ---------------------------------------------------------------------------
// (d) Postgres statements

fn exposed(who: usize) -> &'static accord::pgwire::schema::Exposed {
    static E: OnceLock<Vec<accord::pgwire::schema::Exposed>> = OnceLock::new();
    let all = E.get_or_init(|| {
        callers()
            .iter()
            .map(|c| accord::pgwire::schema::build(catalog(), c))
            .collect()
    });
    &all[who % all.len()]
}

/// One statement as the endpoint's statement path treats it, short of
/// running SQL: a model query is translated and planned; anything else is
/// rewritten for the catalog engine.
fn run_pg_statement(stmt: &sqlparser::ast::Statement, who: usize) {
    use accord::pgwire::{catalog_db, translate};
    let exposed = exposed(who);
    match stmt {
        sqlparser::ast::Statement::Query(q) if translate::references_model(q, exposed) => {
            if let Ok(t) = translate::translate(q, exposed) {
                plan(&t.query, who, 0);
            }
        }
        other => {
            let mut s = other.clone();
            let info = catalog_db::SessionInfo {
                user: "fuzz".into(),
                database: "accord".into(),
                application_name: "fuzz".into(),
                pid: 1,
            };
            catalog_db::rewrite(&mut s, &info);
            let _ = s.to_string();
        }
    }
}

fn run_pg(sql: &str, who: usize) {
    use accord::pgwire::handler::{Kind, classify, split_statements};
    for text in split_statements(sql) {
        match classify(&text) {
            Ok(Kind::Parsed(stmt)) => run_pg_statement(&stmt, who),
            Ok(Kind::Declare(d)) => run_pg_statement(&d.query, who),
            Ok(Kind::Raw(raw)) => {
                let _ = accord::pgwire::catalog_db::rewrite_text(&raw);
            }
            _ => {}
        }
    }
}

#[test]
fn pg_statements() {
    let seeds: Vec<(String, usize)> = seed_sql().into_iter().map(|s| (s, 1)).collect();
    let strategy = (inputs::pg_statement(), who());
    fuzz("pg_statements", 256, seeds, strategy, |(s, w)| {
        run_pg(s, *w)
    });
}

// ---------------------------------------------------------------------------
// (e) Definitions

fn demo_files() -> &'static [accord::definitions::SourceFile] {
    static F: OnceLock<Vec<accord::definitions::SourceFile>> = OnceLock::new();
    F.get_or_init(|| accord::definitions::read_dir(&http::demo_defs()).expect("demo definitions"))
}

fn run_definitions(file: usize, edits: &[inputs::YamlEdit]) {
    let mut files = demo_files().to_vec();
    let i = file % files.len();
    files[i].text = inputs::edit_yaml(&files[i].text, edits);
    if let Err(d) = accord::definitions::load_files(&files) {
        assert!(!d.0.is_empty(), "an Err without diagnostics");
        assert!(
            d.0.iter().any(|x| x.pos.is_some()),
            "no diagnostic has a position:\n{d}"
        );
    }
}

#[test]
fn definitions_yaml() {
    let n = demo_files().len();
    // Seeds: every file unchanged, and each with a deep filter and a deep
    // flow collection.
    let mut seeds: Vec<(usize, Vec<inputs::YamlEdit>)> = (0..n).map(|i| (i, vec![])).collect();
    for i in 0..n {
        seeds.push((
            i,
            vec![inputs::YamlEdit::Deep(
                3,
                inputs::max_depth().min(1000),
                false,
            )],
        ));
        seeds.push((
            i,
            vec![inputs::YamlEdit::Deep(3, inputs::max_depth(), true)],
        ));
    }
    let strategy = (0..n, prop::collection::vec(inputs::yaml_edit(), 1..4));
    fuzz("definitions_yaml", 64, seeds, strategy, |(f, e)| {
        run_definitions(*f, e)
    });
}

//! Policy tests as data, below the HTTP layer: every case of
//! `tests/access_cases/*.yaml` names a caller, a semantic query and what the
//! planner must do with it — refuse it with an `ErrorCode` and the field at
//! fault, or compile it to SQL whose duckdb text (with the policies applied,
//! in words) is an insta snapshot of its own. The cases run against
//! `accord::planner::compile` directly, in process; the interface suites
//! (tests/access_control.rs, tests/masks.rs, tests/consent.rs,
//! tests/attack_suite.rs) keep what only a server can show: tokens, status
//! codes, numbers from a warehouse. The format is documented in
//! `tests/access_cases/README.md`.

#[path = "attack_suite/cases.rs"]
mod attack_cases;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use accord::access::Caller;
use accord::catalog::Catalog;
use accord::dialect::DialectKind;
use accord::planner::{ErrorCode, PlanError};
use accord::query::{SemanticQuery, TOO_COMPLEX_MARK};
use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

// ---------------------------------------------------------------------------
// The case format
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: String,
    /// For readers of the file only.
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    /// `demo` (default) or `consent`, see [`catalog`].
    #[serde(default)]
    catalog: Option<String>,
    caller: CallerSpec,
    /// A `SemanticQuery` as REST clients send it; strings may hold the
    /// attack suite's `«repeat|…»` / `«nest|…»` templates. A string is a
    /// JSON text, expanded first (for structures too deep to write out).
    query: Json,
    /// The dialect the SQL is rendered for (default duckdb).
    #[serde(default)]
    dialect: Option<String>,
    expect: Expect,
}

/// An `accord::access::Caller`: the operator, or roles, claims (the JWT's
/// other claims, as the verifier passes them) and a purpose.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerSpec {
    #[serde(default)]
    operator: bool,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    claims: BTreeMap<String, Json>,
    #[serde(default)]
    purpose: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    error: Option<ErrorExpect>,
    sql: Option<SqlExpect>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorExpect {
    /// An `ErrorCode` name (`unknown_metric`, `forbidden`, ...).
    code: String,
    /// The request field at fault; `null` when the error names none. Required.
    #[serde(deserialize_with = "present")]
    field: Option<String>,
    /// The exact message.
    #[serde(default)]
    message: Option<String>,
    /// The message's beginning (for messages that go on naming a rule).
    #[serde(default)]
    message_starts_with: Option<String>,
    /// The exact suggestions (`[]`: none).
    #[serde(default)]
    suggestions: Option<Vec<String>>,
    /// Strings that must appear nowhere in the message or suggestions.
    #[serde(default)]
    not_mentioning: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlExpect {
    /// Compare the policies, warnings and SQL with the case's snapshot
    /// (`tests/access_cases/snapshots/`). Default true.
    #[serde(default = "yes")]
    snapshot: bool,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    not_contains: Vec<String>,
    /// The exact policies the plan reports.
    #[serde(default)]
    policies: Option<Vec<String>>,
    /// The exact warnings.
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

fn yes() -> bool {
    true
}

/// A required key whose value may be null.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}

impl CallerSpec {
    /// For snapshot headers: `operator` or `roles [..] claims {..} purpose ..`.
    fn describe(&self) -> String {
        if self.operator {
            return match &self.purpose {
                Some(p) => format!("operator, purpose {p}"),
                None => "operator".into(),
            };
        }
        let mut s = format!("roles [{}]", self.roles.join(", "));
        if !self.claims.is_empty() {
            s.push_str(&format!(
                ", claims {}",
                serde_json::to_string(&self.claims).unwrap_or_default()
            ));
        }
        if let Some(p) = &self.purpose {
            s.push_str(&format!(", purpose {p}"));
        }
        s
    }
}

/// One loaded case and the file it came from.
struct Loaded {
    file: PathBuf,
    case: Case,
}

impl Loaded {
    fn name(&self) -> String {
        format!("{}: case `{}`", rel(&self.file), self.case.id)
    }

    fn stem(&self) -> String {
        self.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

fn cases_dir() -> PathBuf {
    repo().join("tests/access_cases")
}

/// Every case of every file, in file then list order; ids unique overall.
fn load_cases() -> Vec<Loaded> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/access_cases")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", rel(&f)));
        let cases: Vec<Case> =
            serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", rel(&f)));
        for case in cases {
            assert!(
                ids.insert(case.id.clone()),
                "{}: duplicate case id `{}`",
                rel(&f),
                case.id
            );
            out.push(Loaded {
                file: f.clone(),
                case,
            });
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Catalogs
// ---------------------------------------------------------------------------

/// The demo definitions plus the test roles of tests/fixtures/access/
/// (`extra_roles.yml`, `case_roles.yml`): roles only add, so the demo
/// roles behave as in `metric_defs/`.
fn demo_catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| {
        let mut files = accord::definitions::read_dir(&repo().join("metric_defs"))
            .unwrap_or_else(|d| panic!("demo definitions:\n{d}"));
        for extra in ["extra_roles.yml", "case_roles.yml"] {
            let path = repo().join("tests/fixtures/access").join(extra);
            files.push(accord::definitions::SourceFile {
                path: format!("metric_defs/{extra}"),
                text: std::fs::read_to_string(&path).expect("a fixture roles file"),
            });
        }
        accord::definitions::load_files(&files)
            .unwrap_or_else(|d| panic!("demo definitions with the test roles:\n{d}"))
    })
    .clone()
}

/// tests/consent.rs's hand-made shop: consent purposes and a suppression
/// list, no roles.
fn consent_catalog() -> Arc<Catalog> {
    static C: OnceLock<Arc<Catalog>> = OnceLock::new();
    C.get_or_init(|| {
        let files = accord::definitions::read_dir(&repo().join("tests/fixtures/access/consent"))
            .unwrap_or_else(|d| panic!("consent fixture:\n{d}"));
        accord::definitions::load_files(&files).unwrap_or_else(|d| panic!("consent fixture:\n{d}"))
    })
    .clone()
}

fn catalog(name: Option<&str>) -> Result<Arc<Catalog>, String> {
    match name.unwrap_or("demo") {
        "demo" => Ok(demo_catalog()),
        "consent" => Ok(consent_catalog()),
        other => Err(format!("unknown catalog `{other}` (demo, consent)")),
    }
}

// ---------------------------------------------------------------------------
// Running one case
// ---------------------------------------------------------------------------

fn caller(spec: &CallerSpec) -> Caller {
    let mut c = if spec.operator {
        Caller::operator()
    } else {
        let roles: Vec<&str> = spec.roles.iter().map(String::as_str).collect();
        Caller::with_roles(&roles)
    };
    c.claims = spec.claims.clone();
    c.purpose = spec.purpose.clone();
    c
}

/// The query, templates expanded, read the way REST reads a body: a filter
/// tree over its limits is refused while it is read (`query_too_complex`),
/// any other shape error is `invalid_request`.
fn semantic_query(v: &Json) -> Result<SemanticQuery, (String, String)> {
    let none = |_: &str, _: &[&str]| None;
    let v = match v {
        Json::String(text) => serde_json::from_str(&attack_cases::expand(text, &none))
            .map_err(|e| ("invalid_json".to_string(), e.to_string()))?,
        other => attack_cases::expand_json(other, &none),
    };
    serde_json::from_value(v).map_err(|e| {
        let m = e.to_string();
        let code = if m.contains(TOO_COMPLEX_MARK) {
            "query_too_complex"
        } else {
            "invalid_request"
        };
        (code.to_string(), m)
    })
}

/// What happened to a case: a refusal (code, field, message, suggestions)
/// or a plan rendered to SQL.
enum Outcome {
    Refused {
        code: String,
        field: Option<String>,
        message: String,
        suggestions: Vec<String>,
    },
    Planned {
        sql: String,
        policies: Vec<String>,
        warnings: Vec<String>,
    },
}

fn refused(e: PlanError) -> Outcome {
    Outcome::Refused {
        code: e.code.name().to_string(),
        field: e.field,
        message: e.message,
        suggestions: e.suggestions,
    }
}

fn run(l: &Loaded) -> Result<Outcome, String> {
    let c = &l.case;
    let catalog = catalog(c.catalog.as_deref())?;
    let dialect: DialectKind = c
        .dialect
        .as_deref()
        .unwrap_or("duckdb")
        .parse()
        .map_err(|e| format!("dialect: {e}"))?;
    let q = match semantic_query(&c.query) {
        Ok(q) => q,
        Err((code, message)) => {
            return Ok(Outcome::Refused {
                code,
                field: None,
                message,
                suggestions: Vec::new(),
            });
        }
    };
    let who = caller(&c.caller).for_query(&q);
    // No input may panic the planner: a panic is a failure of the case.
    let compiled = std::panic::catch_unwind(AssertUnwindSafe(|| {
        accord::planner::compile(&catalog, &q, &who, dialect)
    }))
    .map_err(|_| "the planner panicked".to_string())?;
    Ok(match compiled {
        Ok((plan, sql)) => Outcome::Planned {
            sql,
            policies: plan.policies,
            warnings: plan.warnings,
        },
        Err(e) => refused(e),
    })
}

/// Checks one case; returns what went wrong, if anything.
fn check(l: &Loaded) -> Vec<String> {
    let e = &l.case.expect;
    let outcome = match run(l) {
        Ok(o) => o,
        Err(m) => return vec![m],
    };
    match (&e.error, &e.sql, outcome) {
        (
            Some(want),
            None,
            Outcome::Refused {
                code,
                field,
                message,
                suggestions,
            },
        ) => check_error(want, &code, &field, &message, &suggestions),
        (
            None,
            Some(want),
            Outcome::Planned {
                sql,
                policies,
                warnings,
            },
        ) => check_sql(l, want, &sql, &policies, &warnings),
        (Some(want), None, Outcome::Planned { sql, .. }) => vec![format!(
            "expected the error `{}`, but the query compiled to:\n{sql}",
            want.code
        )],
        (
            None,
            Some(_),
            Outcome::Refused {
                code,
                field,
                message,
                ..
            },
        ) => vec![format!(
            "expected SQL, but the query was refused: {code} at {field:?}: {message}"
        )],
        _ => vec!["`expect` needs exactly one of `error` and `sql`".to_string()],
    }
}

fn check_error(
    want: &ErrorExpect,
    code: &str,
    field: &Option<String>,
    message: &str,
    suggestions: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    let got = format!("{code} at {field:?}: {message} (suggestions {suggestions:?})");
    if want.code != code {
        out.push(format!("code: expected `{}`, got {got}", want.code));
    }
    if want.field != *field {
        out.push(format!("field: expected {:?}, got {got}", want.field));
    }
    if let Some(m) = &want.message
        && m != message
    {
        out.push(format!("message: expected {m:?}, got {got}"));
    }
    if let Some(p) = &want.message_starts_with
        && !message.starts_with(p.as_str())
    {
        out.push(format!("message: expected to start with {p:?}, got {got}"));
    }
    if let Some(s) = &want.suggestions
        && s.as_slice() != suggestions
    {
        out.push(format!("suggestions: expected {s:?}, got {got}"));
    }
    for n in &want.not_mentioning {
        if message.contains(n.as_str()) || suggestions.iter().any(|s| s.contains(n.as_str())) {
            out.push(format!("the error mentions {n:?}: {got}"));
        }
    }
    out
}

/// The snapshot text: policies and warnings in words, then the SQL.
fn snapshot_text(sql: &str, policies: &[String], warnings: &[String]) -> String {
    let mut t = String::new();
    for p in policies {
        t.push_str(&format!("-- policy: {p}\n"));
    }
    for w in warnings {
        t.push_str(&format!("-- warning: {w}\n"));
    }
    t.push_str(sql);
    t.push('\n');
    t
}

fn check_sql(
    l: &Loaded,
    want: &SqlExpect,
    sql: &str,
    policies: &[String],
    warnings: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    for s in &want.contains {
        if !sql.contains(s.as_str()) {
            out.push(format!("the SQL lacks {s:?}:\n{sql}"));
        }
    }
    for s in &want.not_contains {
        if sql.contains(s.as_str()) {
            out.push(format!("the SQL contains {s:?}:\n{sql}"));
        }
    }
    if let Some(p) = &want.policies
        && p.as_slice() != policies
    {
        out.push(format!("policies: expected {p:?}, got {policies:?}"));
    }
    if let Some(w) = &want.warnings
        && w.as_slice() != warnings
    {
        out.push(format!("warnings: expected {w:?}, got {warnings:?}"));
    }
    if want.snapshot {
        let name = format!("{}__{}", l.stem(), l.case.id);
        let text = snapshot_text(sql, policies, warnings);
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(cases_dir().join("snapshots"));
        settings.set_prepend_module_to_snapshot(false);
        settings.set_description(format!(
            "{} — caller {}, query {}",
            l.name(),
            l.case.caller.describe(),
            l.case.query
        ));
        settings.set_omit_expression(true);
        let matched = std::panic::catch_unwind(AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name.as_str(), text));
        }));
        if matched.is_err() {
            out.push(format!(
                "the SQL differs from snapshot `{name}` (cargo insta review)"
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

fn cases() -> &'static [Loaded] {
    static L: OnceLock<Vec<Loaded>> = OnceLock::new();
    L.get_or_init(load_cases)
}

#[test]
fn every_access_case_holds() {
    let filter = std::env::var("ACCESS_CASE_FILTER").ok();
    let mut failures = Vec::new();
    let mut ran = 0;
    for l in cases() {
        if filter
            .as_deref()
            .is_some_and(|f| !l.case.id.contains(f) && !rel(&l.file).contains(f))
        {
            continue;
        }
        ran += 1;
        for problem in check(l) {
            failures.push(format!("{}: {problem}", l.name()));
        }
    }
    assert!(ran > 0, "no case ran (ACCESS_CASE_FILTER={filter:?})");
    assert!(
        failures.is_empty(),
        "{} of {ran} access cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every `ErrorCode`, listed so that a new variant does not compile until
/// it is added here (and then needs a case).
fn every_error_code() -> Vec<ErrorCode> {
    use ErrorCode::*;
    let all = vec![
        UnknownMetric,
        UnknownDimension,
        AmbiguousReference,
        UnreachableDimension,
        InvalidFilter,
        InvalidQuery,
        Unsupported,
        Forbidden,
        QueryTooComplex,
    ];
    for c in &all {
        match c {
            UnknownMetric | UnknownDimension | AmbiguousReference | UnreachableDimension
            | InvalidFilter | InvalidQuery | Unsupported | Forbidden | QueryTooComplex => {}
        }
    }
    all
}

#[test]
fn the_cases_cover_every_role_and_every_refusal_class() {
    let mut problems = Vec::new();
    let codes: BTreeSet<&str> = cases()
        .iter()
        .filter_map(|l| l.case.expect.error.as_ref().map(|e| e.code.as_str()))
        .collect();
    for c in every_error_code() {
        if !codes.contains(c.name()) {
            problems.push(format!("no case expects `{}`", c.name()));
        }
    }
    let roles: BTreeSet<&str> = cases()
        .iter()
        .flat_map(|l| l.case.caller.roles.iter().map(String::as_str))
        .collect();
    for r in &demo_catalog().roles {
        let refused = cases()
            .iter()
            .any(|l| l.case.caller.roles.contains(&r.name) && l.case.expect.error.is_some());
        let planned = cases()
            .iter()
            .any(|l| l.case.caller.roles.contains(&r.name) && l.case.expect.sql.is_some());
        if !roles.contains(r.name.as_str()) || !refused || !planned {
            problems.push(format!(
                "role `{}` needs a refused and a compiled case (refused: {refused}, compiled: {planned})",
                r.name
            ));
        }
    }
    if !cases().iter().any(|l| l.case.caller.operator) {
        problems.push("no case runs as the operator".into());
    }
    for kind in ["funnel", "retention", "attribution"] {
        if !cases().iter().any(|l| l.case.query.get(kind).is_some()) {
            problems.push(format!("no case asks a {kind} query"));
        }
    }
    assert!(cases().len() >= 60, "only {} cases", cases().len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

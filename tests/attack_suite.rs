//! The data-driven adversarial suite: every case of `tests/attacks/*.yaml`
//! (format: `tests/attacks/README.md`) against one real `accord serve`
//! (HTTP, GraphQL, Postgres endpoint) over the demo data. After each case
//! the server must still answer; a server that died or hung is recorded
//! and restarted. All failures are collected and reported together, so one
//! run lists every failing case id with its reasons.
//!
//! `ATTACK_FILTER=substring` runs only the cases whose id contains it.
//! Numbers compared against are computed from the generator's rows
//! (`attack_suite/expected.rs`).

#[path = "common/auth.rs"]
mod auth;
mod common;
#[path = "common/http.rs"]
mod http;

#[path = "attack_suite/cases.rs"]
mod cases;
#[path = "attack_suite/client.rs"]
mod client;
#[path = "attack_suite/expected.rs"]
mod expected;
#[path = "attack_suite/server.rs"]
mod server;
#[path = "attack_suite/verdict.rs"]
mod verdict;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cases::{Case, Interface};
use client::{Outcome, Request};
use server::Server;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/attacks")
}

/// The request of a case with its templates expanded.
fn request(case: &Case) -> Request {
    let lookup = &expected::lookup;
    let body = match (&case.body, case.body_bytes) {
        (Some(b), pad) => {
            let mut text = serde_json::to_string(&cases::expand_json(b, lookup)).unwrap();
            if let Some(n) = pad {
                let fill = n.saturating_sub(text.len());
                text.insert_str(1, &" ".repeat(fill));
            }
            Some(text.into_bytes())
        }
        (None, _) => None,
    };
    Request {
        method: case.method.clone().unwrap_or_else(|| "POST".into()),
        path: cases::expand(case.path.as_deref().unwrap_or("/v1/query"), lookup),
        body,
        graphql: case.graphql.as_ref().map(|g| cases::expand(g, lookup)),
        sql: case.sql.iter().map(|s| cases::expand(s, lookup)).collect(),
    }
}

fn keys() -> (client::Keys, PathBuf) {
    let dir = tempfile::Builder::new()
        .prefix("accord-attack-keys")
        .tempdir()
        .expect("tempdir")
        .keep();
    let k = auth::generate_keys(&dir);
    let pem = std::fs::read(&k.rsa_public).expect("read the RSA public key");
    (
        client::Keys {
            rsa_public_pem: pem,
            stranger_rsa_private: k.stranger_rsa_private,
        },
        k.rsa_public,
    )
}

/// The Postgres endpoint still takes a login and answers `SELECT 1`.
async fn pg_alive(port: u16) -> bool {
    let req = Request {
        method: String::new(),
        path: String::new(),
        body: None,
        graphql: None,
        sql: vec!["SELECT 1".into()],
    };
    let case: Case = serde_saphyr::from_str(
        "{id: alive, attack: 0, interface: pgwire, caller: {roles: [admin]}, expect: {ok: true}}",
    )
    .expect("liveness case");
    let token = auth::token(&["admin"], &[]);
    let probe = client::send(&case, &req, Some(&token), "", port);
    matches!(
        tokio::time::timeout(Duration::from_secs(10), probe).await,
        Ok(o) if o.refused.is_none()
    )
}

struct Run {
    rt: tokio::runtime::Runtime,
    keys: client::Keys,
    rsa_public: PathBuf,
    server: Server,
    done: BTreeMap<String, Outcome>,
    failures: Vec<String>,
}

impl Run {
    /// Runs one case; returns its problems.
    fn case(&mut self, case: &Case) -> Vec<String> {
        let req = request(case);
        let bearer = client::token(&case.caller, &self.keys);
        let limit = Duration::from_secs(case.expect.within_seconds.map_or(90, |s| s + 10));
        let send = client::send(
            case,
            &req,
            bearer.as_deref(),
            &self.server.base,
            self.server.pg_port,
        );
        let outcome = self
            .rt
            .block_on(async { tokio::time::timeout(limit, send).await });
        let mut problems = match &outcome {
            Ok(o) => verdict::evaluate(case, o, &self.done),
            Err(_) => vec![format!("no answer within {} s", limit.as_secs())],
        };
        if let Some(why) = self.down(outcome.is_err()) {
            problems.push(why);
            self.server = Server::start(&self.rsa_public);
        }
        self.done
            .insert(case.id.clone(), outcome.unwrap_or_default());
        problems
    }

    /// Why the server is no longer serving, if it is not.
    fn down(&mut self, hung: bool) -> Option<String> {
        let why = if let Some(status) = self.server.exited() {
            format!("the server DIED ({status})")
        } else if hung {
            "the server hung on this case (restarted)".to_string()
        } else if !self.server.healthy(Duration::from_secs(10)) {
            "the server stopped answering HTTP".to_string()
        } else if !self.rt.block_on(pg_alive(self.server.pg_port)) {
            "the Postgres endpoint stopped answering".to_string()
        } else {
            return None;
        };
        Some(format!("{why}; server log:\n{}", self.server.log_tail()))
    }
}

/// Not a test: the server process when `ATTACK_SUITE_SERVER=test-binary`
/// (`attack_suite/server.rs`), through the entry point `main` calls.
#[test]
#[ignore]
fn serve_child() {
    use clap::Parser as _;
    let Ok(cfg) = std::env::var("ATTACK_SUITE_CHILD_CONFIG") else {
        return;
    };
    let cli = accord::cli::Cli::parse_from(["accord", "serve", "--config", &cfg]);
    let code = accord::cli::run(cli);
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

#[test]
fn case_files_parse_and_resolve() {
    let all = cases::load(&cases_dir()).expect("case files");
    assert!(all.len() >= 80, "only {} cases", all.len());
    for c in &all {
        let req = request(c);
        match c.interface {
            Interface::Rest => assert!(req.path.starts_with("/v1/"), "{}", c.id),
            Interface::Graphql => assert!(req.graphql.is_some(), "{}: no graphql", c.id),
            Interface::Pgwire => assert!(!req.sql.is_empty(), "{}: no sql", c.id),
        }
        if let Some(k) = &c.expect.rows_equal {
            assert!(expected::rows(k).is_some(), "{}: unknown rows `{k}`", c.id);
        }
        if let Some(k) = &c.expect.forbidden_values {
            assert!(
                expected::forbidden(k).is_some(),
                "{}: unknown values `{k}`",
                c.id
            );
        }
        for other in [
            &c.expect.pair_no_difference,
            &c.expect.same_error_as.as_ref().map(|s| s.case.clone()),
        ]
        .into_iter()
        .flatten()
        {
            let pos = |id: &str| all.iter().position(|x| x.id == id);
            assert!(
                pos(other) < pos(&c.id) && pos(other).is_some(),
                "{}: `{other}` must come before it",
                c.id
            );
        }
    }
    // The differencing cases rest on a small group that really is small.
    let g = expected::small_group();
    assert!((2..10).contains(&g.buyers), "{} buyers", g.buyers);
    assert!(
        g.buyers_before_hour >= 10,
        "{} buyers",
        g.buyers_before_hour
    );
    println!(
        "small group: {} in {} ({} buyers); lonely hour {}",
        g.country, g.month, g.buyers, g.hour
    );
}

#[test]
fn attack_suite() {
    let all = cases::load(&cases_dir()).expect("case files");
    let filter = std::env::var("ATTACK_FILTER").unwrap_or_default();
    let (keys, rsa_public) = keys();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = Server::start(&rsa_public);
    let mut run = Run {
        rt,
        keys,
        rsa_public,
        server,
        done: BTreeMap::new(),
        failures: Vec::new(),
    };
    let mut ran = 0;
    for case in all.iter().filter(|c| c.id.contains(&filter)) {
        ran += 1;
        let problems = run.case(case);
        let verdict = if problems.is_empty() { "ok" } else { "FAIL" };
        println!("{verdict:4} {} (attack {})", case.id, case.attack);
        if !problems.is_empty() {
            run.failures.push(format!(
                "{} [attack {}]:\n    - {}",
                case.id,
                case.attack,
                problems.join("\n    - ")
            ));
        }
    }
    println!("{ran} cases, {} failing", run.failures.len());
    assert!(
        run.failures.is_empty(),
        "{} of {ran} attack cases fail:\n{}",
        run.failures.len(),
        run.failures.join("\n")
    );
}

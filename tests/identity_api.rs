//! `accord identity compile | build | health | exclude` and
//! `GET /v1/identity/health` on a real server.

#[path = "common/auth.rs"]
mod auth;
mod common;
#[path = "common/http.rs"]
mod http;

use std::path::Path;
use std::process::Command;

use accord::identity::{self, BuildOptions};
use auth::{bearer, token};
use http::{Server, demo_defs, demo_duckdb_copy};
use serde_json::Value;

fn accord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_accord"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = accord().args(args).output().expect("run accord");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"))
}

#[test]
fn compile_prints_the_build_sql_for_any_dialect() {
    let defs = demo_defs();
    let defs = defs.to_str().expect("utf-8 path");
    let (code, out, err) = run(&[
        "identity",
        "compile",
        "--defs",
        defs,
        "--dialect",
        "snowflake",
    ]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "CREATE TABLE IF NOT EXISTS accord_identity_map (",
        "ROW_NUMBER() OVER (ORDER BY",
        "INSERT INTO accord_identity_ledger",
        "DROP TABLE IF EXISTS accord_identity_w_obs;",
        "ALTER TABLE accord_identity_w_map_next RENAME TO accord_identity_map;",
        "INSERT INTO accord_identity_fingerprints",
    ] {
        assert!(out.contains(want), "missing `{want}`:\n{out}");
    }
    let (code, _, err) = run(&[
        "identity",
        "compile",
        "--defs",
        defs,
        "--dialect",
        "snowflak",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `snowflake`"), "{err}");
}

fn demo_file(dir: &Path) -> String {
    let url = format!("duckdb://{}", dir.join("demo.duckdb").display());
    let (code, _, err) = run(&[
        "demo",
        "init",
        "--scale",
        "1",
        "--warehouse",
        &url,
        "--no-identity",
    ]);
    assert_eq!(code, 0, "{err}");
    url
}

#[test]
fn build_health_and_exclude_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = demo_file(dir.path());
    let defs = demo_defs();
    let defs = defs.to_str().expect("utf-8 path");
    let base = ["--defs", defs, "--warehouse", &url];
    let cmd = |sub: &str, extra: &[&str]| {
        let mut a = vec!["identity", sub];
        a.extend(base);
        a.extend(extra);
        run(&a.iter().map(|s| &**s).collect::<Vec<&str>>())
    };

    let (code, out, err) = cmd("build", &["--json"]);
    assert_eq!(code, 0, "{err}");
    let first = json_of(&out);
    assert_eq!(first["mode"], "full");
    assert!(first["clusters"].as_i64().unwrap_or(0) > 100, "{first}");

    // Nothing changed: the re-run does nothing and says so.
    let (code, out, err) = cmd("build", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("identity run 2 (noop, rule version 1)"),
        "{out}"
    );
    assert!(out.contains("unchanged since run 1"), "{out}");
    assert!(
        out.contains(&format!(
            "{} identifiers in {} clusters",
            first["identifiers"], first["clusters"]
        )),
        "{out}"
    );
    let (code, out, err) = cmd("build", &["--json"]);
    assert_eq!(code, 0, "{err}");
    let noop = json_of(&out);
    assert_eq!(noop["mode"], "noop");
    assert_eq!(noop["unchanged_since"], 1);
    assert_eq!(noop["identifiers"], first["identifiers"]);

    let (code, out, err) = cmd("health", &["--json", "--top", "2"]);
    assert_eq!(code, 0, "{err}");
    let h = json_of(&out);
    assert_eq!(h["clusters"], first["clusters"]);
    assert_eq!(h["identifiers"], first["identifiers"]);
    assert_eq!(h["largest_clusters"].as_array().map(Vec::len), Some(2));
    assert_eq!(h["last_run"]["mode"], "noop");

    let (code, out, err) = cmd("health", &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cluster sizes:") && out.contains("largest clusters:"),
        "{out}"
    );

    // Excluding the largest cluster's canonical customer splits it.
    let top = &h["largest_clusters"][0];
    let id = format!(
        "{}:{}",
        top["canonical_type"].as_str().unwrap_or(""),
        top["canonical_id"].as_str().unwrap_or("")
    );
    let (code, out, err) = cmd(
        "exclude",
        &["--identifier", &id, "--reason", "privacy_request"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("run `accord identity build`"), "{out}");
    let (code, out, err) = cmd("build", &["--json"]);
    assert_eq!(code, 0, "{err}");
    let after = json_of(&out);
    assert_eq!(after["mode"], "full");
    assert_eq!(after["excluded"], 1);
    assert_eq!(after["splits"], 1, "{after}");

    let (code, _, err) = cmd(
        "exclude",
        &["--identifier", "cookie:x", "--reason", "bad_data"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("unknown identifier type `cookie`"), "{err}");
    let (code, _, err) = cmd(
        "exclude",
        &["--identifier", "no-colon", "--reason", "bad_data"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("must be TYPE:VALUE"), "{err}");
}

#[tokio::test]
async fn health_endpoint_reports_and_hides_ids_from_restricted_roles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = demo_duckdb_copy(dir.path());
    let catalog = common::demo_catalog();
    let report = {
        let wh = accord::warehouse::Warehouse::connect(&url, Default::default())
            .await
            .expect("open");
        identity::build(&catalog, &wh, &BuildOptions::default())
            .await
            .expect("build")
    };
    let mut config = accord::server::ServeConfig::for_tests(&demo_defs(), url);
    config.reload = false;
    let server = Server::start(config, dir).await;

    let h = server
        .client
        .get("/v1/identity/health?top=3")
        .await
        .ok_json();
    assert_eq!(h["clusters"], report.clusters);
    assert_eq!(h["identifiers"], report.identifiers);
    assert_eq!(h["last_run"]["iterations"], report.iterations);
    let largest = h["largest_clusters"].as_array().expect("list");
    assert_eq!(largest.len(), 3);
    assert!(largest[0]["canonical_id"].is_string(), "{h}");
    let sizes: i64 = h["size_distribution"]
        .as_array()
        .expect("list")
        .iter()
        .map(|b| b["clusters"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(sizes, report.clusters);

    // The analyst role may not see customer ids.
    let req = server
        .client
        .http
        .get(server.client.url("/v1/identity/health"))
        .header("authorization", bearer(&token(&["analyst"], &[])));
    let h = server.client.send(req).await.ok_json();
    assert!(h["largest_clusters"][0]["canonical_id"].is_null(), "{h}");
    assert_eq!(h["clusters"], report.clusters);
}

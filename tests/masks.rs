//! `hash` masks are keyed HMAC-SHA256 (src/masking.rs). Before, they were
//! plain MD5: anyone could confirm a known person (`email eq md5(x)`) or
//! recover every email with a dictionary. Expected pseudonyms here come from
//! the `hmac` crate over the generator's rows, never from accord's output.

#[path = "common/auth.rs"]
mod auth;
mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet};

use accord::access::Caller;
use accord::demo::DemoData;
use accord::dialect::DialectKind;
use accord::masking::{DEV_KEY, MaskKey};
use accord::warehouse::{Value, Warehouse};
use auth::{hmac_hex, md5_hex};
use common::warehouses;
use common::{demo_catalog, q};
use serde_json::json;

const OTHER_KEY: &str = "a-second-deployment-key-of-32-bytes-or-more";

/// Customers the `signups` metric counts, by email: not test accounts, not
/// on the suppression list (erasure requests).
fn signups_by_email(data: &DemoData) -> BTreeMap<&str, i64> {
    let erased: BTreeSet<i64> = data
        .erasure_requests
        .iter()
        .map(|e| e.customer_id)
        .collect();
    let mut out = BTreeMap::new();
    for c in &data.customers {
        if !c.is_test && !erased.contains(&c.customer_id) {
            *out.entry(c.email.as_str()).or_default() += 1;
        }
    }
    out
}

/// `(masked email, signups)` rows with a non-zero count.
async fn analyst_signups(wh: &Warehouse, query: serde_json::Value) -> BTreeMap<String, i64> {
    let done = accord::execute::run(
        &demo_catalog(),
        wh,
        &q(query),
        &Caller::with_roles(&["analyst"]),
        100_000,
    )
    .await
    .unwrap_or_else(|e| panic!("analyst query: {e}"));
    done.result
        .rows
        .iter()
        .filter_map(|r| match (&r[0], r[1].as_f64()) {
            (Value::Text(k), Some(n)) if n > 0.0 => Some((k.clone(), n as i64)),
            (Value::Null, _) => panic!("no customer has a NULL email"),
            _ => None,
        })
        .collect()
}

fn by_email() -> serde_json::Value {
    json!({"metrics": ["signups"], "dimensions": ["customers.email"]})
}

fn email_eq(value: &str) -> serde_json::Value {
    json!({"metrics": ["signups"], "dimensions": ["customers.email"],
           "filters": [{"dimension": "customers.email", "op": "eq", "values": [value]}]})
}

/// DuckDB, PostgreSQL and MariaDB loaded with the demo data, each with the
/// development mask key (tests/common/warehouses.rs).
async fn engines(data: &DemoData, dir: &std::path::Path) -> Vec<(&'static str, Warehouse)> {
    let duck = warehouses::open(&format!("duckdb://{}", dir.join("m.duckdb").display())).await;
    let pg = warehouses::open(&warehouses::postgres_db("masks").await).await;
    let my = warehouses::open(&warehouses::mysql_db("masks").await).await;
    let mut out = Vec::new();
    for (n, w) in [("duckdb", duck), ("postgres", pg), ("mysql", my)] {
        w.load_demo(data)
            .await
            .unwrap_or_else(|e| panic!("loading demo data into {n}: {e}"));
        out.push((n, w));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn masked_emails_are_hmac_sha256_on_every_engine() {
    let data = warehouses::demo(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let expected_raw = signups_by_email(&data);
    let expected: BTreeMap<String, i64> = expected_raw
        .iter()
        .map(|(e, n)| (hmac_hex(DEV_KEY.as_bytes(), e), *n))
        .collect();
    assert_eq!(expected.len(), expected_raw.len(), "no two emails collide");
    let (known, known_n) = expected_raw.iter().nth(11).map(|(e, n)| (*e, *n)).unwrap();
    for (name, wh) in engines(&data, dir.path()).await {
        let got = analyst_signups(&wh, by_email()).await;
        // Equal to HMAC-SHA256 under the key, one group per distinct email:
        // the same pseudonyms on all three engines.
        assert_eq!(got, expected, "{name}");
        for (email, _) in expected_raw.iter().take(50) {
            assert!(!got.contains_key(&md5_hex(email)), "{name}: md5 of {email}");
            let other = hmac_hex(OTHER_KEY.as_bytes(), email);
            assert!(!got.contains_key(&other), "{name}: another key's pseudonym");
        }
        // Filters compare masked values: a guess, plain or MD5, finds nothing.
        for guess in [known.to_string(), md5_hex(known), known.to_uppercase()] {
            let hit = analyst_signups(&wh, email_eq(&guess)).await;
            assert!(hit.is_empty(), "{name}: `eq {guess}` found {hit:?}");
        }
        let pseudonym = hmac_hex(DEV_KEY.as_bytes(), known);
        let hit = analyst_signups(&wh, email_eq(&pseudonym)).await;
        assert_eq!(hit, BTreeMap::from([(pseudonym, known_n)]), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ordering_on_a_masked_email_orders_the_pseudonyms() {
    let data = warehouses::demo(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = warehouses::open(&format!(
        "duckdb://{}",
        dir.path().join("o.duckdb").display()
    ))
    .await;
    wh.load_demo(&data).await.expect("load");
    let done = accord::execute::run(
        &demo_catalog(),
        &wh,
        &q(
            json!({"metrics": ["signups"], "dimensions": ["customers.email"],
                  "order_by": ["customers.email"], "limit": 20}),
        ),
        &Caller::with_roles(&["analyst"]),
        100,
    )
    .await
    .expect("ordered query");
    let got: Vec<String> = done
        .result
        .rows
        .iter()
        .map(|r| match &r[0] {
            Value::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    // The 20 smallest pseudonyms of the counted customers' emails.
    let all: BTreeSet<String> = signups_by_email(&data)
        .keys()
        .map(|e| hmac_hex(DEV_KEY.as_bytes(), e))
        .collect();
    let smallest: Vec<String> = all.into_iter().take(20).collect();
    assert_eq!(got, smallest);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_key_changes_the_pseudonyms_and_bypasses_the_cache() {
    let server = http::Server::demo(|c| {
        c.auth.as_mut().expect("auth").anonymous_roles = Some(vec!["analyst".into()]);
    })
    .await;
    let body = json!({"metrics": ["signups"], "dimensions": ["customers.email"],
                      "order_by": ["customers.email"], "limit": 5});
    let emails: Vec<String> = warehouses::demo(1)
        .customers
        .iter()
        .map(|c| c.email.clone())
        .collect();
    let pseudonyms = |key: &str| -> BTreeSet<String> {
        emails.iter().map(|e| hmac_hex(key.as_bytes(), e)).collect()
    };
    let first_column = |r: &http::Resp| -> Vec<String> {
        r.ok_json()["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| row[0].as_str().expect("text").to_string())
            .collect()
    };
    let dev = pseudonyms(DEV_KEY);
    let other = pseudonyms(OTHER_KEY);

    let a = server.client.query(&body).await;
    assert_eq!(a.ok_json()["meta"]["cache"], "miss");
    assert!(first_column(&a).iter().all(|p| dev.contains(p)));
    let again = server.client.query(&body).await;
    assert_eq!(again.ok_json()["meta"]["cache"], "hit");

    let wh = &server.running().state.warehouse;
    wh.set_mask_key(Some(MaskKey::new(OTHER_KEY.as_bytes()).unwrap()));
    let b = server.client.query(&body).await;
    assert_eq!(
        b.ok_json()["meta"]["cache"],
        "miss",
        "not served across keys"
    );
    let b_rows = first_column(&b);
    assert!(b_rows.iter().all(|p| other.contains(p) && !dev.contains(p)));

    // Without a key, hash-masked queries are refused, with a clear reason.
    wh.set_mask_key(None);
    let refused = server.client.query(&body).await;
    let p = refused.problem(422, "unsupported");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("no mask key"), "{p}");
    // Unmasked queries still run.
    let plain = server
        .client
        .query(&json!({"metrics": ["signups"], "dimensions": ["customers.region"]}))
        .await;
    plain.ok_json();
}

#[tokio::test(flavor = "multi_thread")]
async fn shown_sql_never_holds_the_key() {
    let server = http::Server::demo(|c| {
        c.auth.as_mut().expect("auth").anonymous_roles = Some(vec!["analyst".into()]);
    })
    .await;
    let key = MaskKey::dev();
    let r = server.client.post_json("/v1/compile", &by_email()).await;
    let sql = r.ok_json()["sql"].as_str().expect("sql").to_string();
    assert!(sql.contains("sha256("), "{sql}");
    assert!(sql.contains("withheld"), "{sql}");
    for secret in [key.ipad_hex(), key.opad_hex(), key.raw_hex()] {
        assert!(!sql.contains(&secret), "{sql}");
    }
}

/// The analyst's email query in every dialect, as shown (key withheld):
/// snapshots to review, each parsed back by sqlparser; the executable form
/// parses too, and carries the key's pads only there.
#[test]
fn masked_sql_per_dialect() {
    let catalog = demo_catalog();
    let query = q(by_email());
    let analyst = Caller::with_roles(&["analyst"]);
    let key = MaskKey::dev();
    let mut text = String::new();
    for d in DialectKind::ALL {
        text.push_str(&format!("\n-- dialect: {d}\n"));
        let plan = accord::planner::plan(&catalog, &query, &analyst).expect("plans");
        let shown = match plan.render(d) {
            Ok(sql) => sql,
            Err(e) => {
                assert!(
                    matches!(
                        d,
                        DialectKind::Sqlite | DialectKind::Snowflake | DialectKind::Redshift
                    ),
                    "{d}: {e}"
                );
                assert!(e.message.contains("keyed hash (HMAC-SHA256)"), "{e}");
                text.push_str(&format!("-- error: {}\n", e.message));
                continue;
            }
        };
        let run = plan.render_for_execution(d, Some(&key)).expect("renders");
        assert!(
            run.contains(&key.ipad_hex()) || run.contains(&key.raw_hex()),
            "{run}"
        );
        assert!(!shown.contains(&key.ipad_hex()) && !shown.contains(&key.raw_hex()));
        for sql in [&shown, &run] {
            let parser = sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser).unwrap();
            if let Err(e) = sqlparser::parser::Parser::parse_sql(parser.as_ref(), sql) {
                panic!("{d} does not parse: {e}\n{sql}");
            }
        }
        assert_eq!(
            plan.render_for_execution(d, None).unwrap_err().message,
            "hashed values cannot be computed: this deployment has no mask key \
             (its operator sets `masking.hmac_key` in accord.yaml or ACCORD_MASK_KEY)"
        );
        text.push_str(&shown);
        text.push('\n');
    }
    insta::assert_snapshot!("masked_email_per_dialect", text);
}

#[test]
fn the_cli_acts_as_a_role_with_the_configured_key_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = http::demo_duckdb_copy(dir.path());
    let run = |key: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accord"));
        cmd.current_dir(dir.path())
            .args(["query", "--metrics", "signups", "--by", "customers.email"])
            .args(["--role", "analyst", "--format", "csv", "--warehouse"])
            .arg(url.to_string())
            .arg("--defs")
            .arg(http::demo_defs())
            .env_remove("ACCORD_CONFIG")
            .env_remove("ACCORD_MASK_KEY");
        if let Some(k) = key {
            cmd.env("ACCORD_MASK_KEY", k);
        }
        cmd.output().expect("run accord")
    };
    // No accord.yaml in the working directory and no key: refused.
    let out = run(None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no mask key"), "{err}");
    // A short key is refused with the rule.
    let out = run(Some("short"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 32"), "{err}");
    // With the key from the environment: HMAC pseudonyms.
    let out = run(Some(OTHER_KEY));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_pseudonyms(&out.stdout, OTHER_KEY);
    // From ./accord.yaml, as `accord serve` reads it: here a key file.
    std::fs::write(dir.path().join("key.txt"), format!("{OTHER_KEY}x\n")).unwrap();
    std::fs::write(
        dir.path().join("accord.yaml"),
        "masking:\n  hmac_key_file: key.txt\n",
    )
    .unwrap();
    let out = run(None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_pseudonyms(&out.stdout, &format!("{OTHER_KEY}x"));
}

/// Every row of a CSV answer starts with HMAC(key, some demo email).
fn assert_pseudonyms(stdout: &[u8], key: &str) {
    let csv = String::from_utf8_lossy(stdout);
    let pseudonyms: BTreeSet<String> = warehouses::demo(1)
        .customers
        .iter()
        .map(|c| hmac_hex(key.as_bytes(), &c.email))
        .collect();
    let lines: Vec<&str> = csv.lines().skip(1).filter(|l| !l.is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let p = line.split(',').next().unwrap_or_default();
        assert!(pseudonyms.contains(p), "{line}");
    }
}

#[test]
fn the_demo_configuration_carries_the_documented_development_key() {
    let args = accord::server::ServeArgs {
        config: Some(common::repo_path("accord.yaml")),
        ..Default::default()
    };
    let config = args.resolve().expect("the demo accord.yaml resolves");
    assert_eq!(config.mask_key, Some(MaskKey::dev()));
    // A flag (or ACCORD_MASK_KEY) overrides it; a short one stops the server.
    let args = accord::server::ServeArgs {
        mask_key: Some(OTHER_KEY.into()),
        ..args
    };
    let config = args.resolve().expect("resolves");
    assert_eq!(
        config.mask_key,
        Some(MaskKey::new(OTHER_KEY.as_bytes()).unwrap())
    );
    let short = accord::server::ServeArgs {
        mask_key: Some("0123456789".into()),
        ..args
    };
    let err = short.resolve().unwrap_err();
    assert!(
        err.contains("masking: the mask key has 10 bytes; at least 32"),
        "{err}"
    );
}

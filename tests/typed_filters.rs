//! The typed filter tree (`filter` in a semantic query) and the interfaces
//! that build it: the Postgres endpoint's WHERE and GraphQL's `or:`. No
//! filter is SQL text that something parses again, so values that look
//! like SQL (`') OR 1=1 --`, `%`, `_`, `\`, `/*`) are values.
//!
//! Expected revenue is computed here from the generator's rows (scale 1,
//! seed 42), the way tests/pg_wire_access.rs does, and cross-checked with a
//! flat REST filter.

#[path = "common/auth.rs"]
mod auth;
#[path = "common/demo_rows.rs"]
mod demo_rows;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::OnceLock;

use demo_rows::revenue_where;
use http::{Client, Server};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio_postgres::{NoTls, SimpleQueryMessage};

// ---------------------------------------------------------------------------
// Expectations from the generator (tests/common/demo_rows.rs)

fn de_only() -> BTreeMap<String, Decimal> {
    let m = revenue_where(|_, c| c.country == "DE");
    assert_eq!(m.len(), 1, "the demo has German customers");
    m
}

// ---------------------------------------------------------------------------
// One server for the binary (anonymous callers are admins over REST and
// GraphQL; the Postgres endpoint takes a JWT as password).

fn base_and_port() -> &'static (String, u16) {
    static S: OnceLock<(String, u16)> = OnceLock::new();
    S.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let server = Server::demo(|_| {}).await;
                let port = server.running().pg_addr.expect("pg endpoint").port();
                tx.send((server.base.clone(), port)).unwrap();
                std::future::pending::<()>().await;
                drop(server);
            });
        });
        rx.recv().expect("server started")
    })
}

fn rest() -> Client {
    Client::new(&base_and_port().0)
}

async fn pg(roles: &[&str], claims: &[(&str, Value)]) -> tokio_postgres::Client {
    let token = auth::token(roles, claims);
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} user=u password='{token}' dbname=accord",
            base_and_port().1
        ),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(conn);
    client
}

fn decimal(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).expect("a decimal"),
        Value::String(s) => Decimal::from_str(s).expect("a decimal"),
        other => panic!("not a number: {other}"),
    }
}

/// `country → revenue` of a REST query grouped by country.
async fn rest_by_country(c: &Client, body: Value) -> BTreeMap<String, Decimal> {
    let mut body = body;
    body["metrics"] = json!(["revenue"]);
    body["dimensions"] = json!(["customers.country"]);
    let r = c.query(&body).await.ok_json();
    let cols: Vec<String> = r["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let (ci, ri) = (
        cols.iter().position(|c| c == "customers__country").unwrap(),
        cols.iter().position(|c| c == "revenue").unwrap(),
    );
    r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[ci].as_str().unwrap_or_default().to_string(),
                decimal(&row[ri]),
            )
        })
        .collect()
}

async fn pg_by_country(client: &tokio_postgres::Client, sql: &str) -> BTreeMap<String, Decimal> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((
                r.get(0).unwrap_or_default().to_string(),
                Decimal::from_str(r.get(1).expect("a number")).unwrap(),
            )),
            _ => None,
        })
        .collect()
}

fn eq(dim: &str, v: &str) -> Value {
    json!({"dimension": dim, "op": "eq", "values": [v]})
}

// ---------------------------------------------------------------------------
// The Postgres endpoint

/// The injection of the issue: `- -1` rendered as `--1` opened a comment
/// that swallowed the list's end and returned every country. Now the list
/// is three values and the answer is Germany's revenue alone (for a role
/// whose row policy still holds).
#[tokio::test]
async fn the_pg_injection_returns_only_germany() {
    let expected = de_only();
    // Cross-check the Rust computation against a flat REST filter.
    let flat = rest_by_country(
        &rest(),
        json!({"filters": [{"dimension": "customers.country", "op": "eq", "values": ["DE"]}]}),
    )
    .await;
    assert_eq!(flat, expected);

    let eu = pg(&["regional_manager"], &[("region", json!("EU"))]).await;
    let sql = "SELECT customers__country, revenue FROM orders \
               WHERE customers__country IN ('DE', - -1, E'\\n5) OR 1=1 --') GROUP BY 1";
    // `- -1` is the number 1, and a number against a text column is
    // PostgreSQL's own error: refused cleanly, nothing runs.
    let e = eu.simple_query(sql).await.expect_err("text = numeric");
    assert_eq!(e.as_db_error().expect("a db error").code().code(), "42883");
    // With the number quoted, the list is three strings: only Germany.
    let quoted = "SELECT customers__country, revenue FROM orders \
                  WHERE customers__country IN ('DE', '- -1', E'\\n5) OR 1=1 --') GROUP BY 1";
    assert_eq!(pg_by_country(&eu, quoted).await, expected, "{quoted}");
    let bare = "SELECT customers__country, revenue FROM orders \
                WHERE customers__country IN ('DE', E'\\n5) OR 1=1 --') GROUP BY 1";
    assert_eq!(pg_by_country(&eu, bare).await, expected, "{bare}");
    // The same values as bound parameters are values too.
    let got = eu
        .query(
            "SELECT customers__country, revenue FROM orders WHERE customers__country IN ($1, $2) GROUP BY 1",
            &[&"DE", &"x') OR 1=1 --"],
        )
        .await
        .expect("bound parameters");
    assert_eq!(got.len(), 1);
    let country: String = got[0].get(0);
    assert_eq!(country, "DE");
}

/// Literals the endpoint reads: escape strings, casts, typed strings,
/// comments and quotes inside values.
#[tokio::test]
async fn pg_literals_are_typed_values() {
    let admin = pg(&["admin"], &[]).await;
    let de = de_only();
    for sql in [
        // E'\x44E' is 'DE'.
        "SELECT customers__country, revenue FROM orders WHERE customers__country = E'\\x44E' GROUP BY 1",
        "SELECT customers__country, revenue FROM orders WHERE customers__country = 'DE'::text GROUP BY 1",
        "SELECT customers__country, revenue FROM orders WHERE (customers__country = 'DE' OR customers__country = '--') AND NOT customers__country LIKE '/*%' GROUP BY 1",
        "SELECT customers__country, revenue FROM orders WHERE customers__country LIKE 'D_' AND customers__country <> 'DK' GROUP BY 1",
    ] {
        assert_eq!(pg_by_country(&admin, sql).await, de, "{sql}");
    }
    // Dates: DATE '…', '…'::date and a REST time filter agree with the rows.
    let since = chrono::NaiveDate::from_ymd_opt(2025, 3, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let expected = revenue_where(|o, c| c.country == "DE" && o.ordered_at >= since);
    for sql in [
        "SELECT customers__country, revenue FROM orders WHERE customers__country = 'DE' AND ordered_at >= DATE '2025-03-01' GROUP BY 1",
        "SELECT customers__country, revenue FROM orders WHERE customers__country = 'DE' AND ordered_at >= '2025-03-01'::date GROUP BY 1",
    ] {
        assert_eq!(pg_by_country(&admin, sql).await, expected, "{sql}");
    }
    // Numbers that are not numbers never reach SQL.
    let e = admin
        .simple_query("SELECT revenue FROM orders WHERE customers__country = '1; x'::numeric")
        .await
        .unwrap_err();
    assert_eq!(e.as_db_error().unwrap().code().code(), "22P02");
}

/// A long OR chain (left-deep in the parser's AST) is read iteratively into
/// one flat `or`; a 1,000-value IN list is one condition.
#[tokio::test]
async fn long_alternatives_over_pg_are_one_flat_or() {
    let admin = pg(&["admin"], &[]).await;
    let mut terms: Vec<String> = (0..199)
        .map(|i| format!("customers__country = 'x{i}'"))
        .collect();
    terms.push("customers__country = 'DE'".into());
    let sql = format!(
        "SELECT customers__country, revenue FROM orders WHERE {} GROUP BY 1",
        terms.join(" OR ")
    );
    assert_eq!(pg_by_country(&admin, &sql).await, de_only());
    let mut values: Vec<String> = (0..999).map(|i| format!("'x{i}'")).collect();
    values.push("'DE'".into());
    let sql = format!(
        "SELECT customers__country, revenue FROM orders WHERE customers__country IN ({}) GROUP BY 1",
        values.join(", ")
    );
    assert_eq!(pg_by_country(&admin, &sql).await, de_only());
}

// ---------------------------------------------------------------------------
// GraphQL

async fn gql(query: &str) -> Value {
    let c = rest();
    let r = c
        .send(
            c.http
                .post(c.url("/graphql"))
                .json(&json!({"query": query})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

fn gql_by_country(body: &Value) -> BTreeMap<String, Decimal> {
    assert!(body.get("errors").is_none(), "errors: {body:#}");
    body["data"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["customers__country"].as_str().unwrap().to_string(),
                decimal(&r["revenue"]),
            )
        })
        .collect()
}

/// Under `or:`, `%`, `_`, `'`, `\`, `--` and `/*` are matched literally
/// (none occurs in a country code, so only the DE branch matches). Before,
/// `%` and `_` were refused under `or` and the rest became SQL text.
#[tokio::test]
async fn graphql_or_matches_special_characters_literally() {
    let odd = [r"%", r"_", r"'", r"\\", r"--", r"/*", r"D%", r"_E"];
    let mut branches = vec![r#"{customers__country: {equals: "DE"}}"#.to_string()];
    for v in odd {
        branches.push(format!(r#"{{customers__country: {{contains: "{v}"}}}}"#));
        branches.push(format!(r#"{{customers__country: {{startsWith: "{v}"}}}}"#));
        branches.push(format!(r#"{{customers__country: {{equals: "{v}"}}}}"#));
    }
    branches.push(r#"{customers__country: {in: ["x') OR 1=1 --", "%", "\\'"]}}"#.into());
    let q = format!(
        "{{ orders(where: {{or: [{}]}}) {{ customers__country revenue }} }}",
        branches.join(", ")
    );
    assert_eq!(gql_by_country(&gql(&q).await), de_only());
    // A nested `or` inside an `and` branch.
    let q = r#"{ orders(where: {or: [{and: [{customers__region: {equals: "EU"}}, {or: [{customers__country: {startsWith: "D"}}, {customers__country: {contains: "%"}}]}]}]}) { customers__country revenue } }"#;
    let expected = revenue_where(|_, c| c.region == "EU" && c.country.starts_with('D'));
    assert_eq!(gql_by_country(&gql(q).await), expected);
}

// ---------------------------------------------------------------------------
// REST: the tree equals its flat and `where` equivalents

#[tokio::test]
async fn rest_trees_equal_flat_filters_and_where() {
    let c = rest();
    let cases: Vec<(Value, Value, Value)> = vec![
        (
            json!({"filter": {"or": [eq("customers.country", "DE"), eq("customers.country", "FR")]}}),
            json!({"filters": [{"dimension": "customers.country", "op": "in", "values": ["DE", "FR"]}]}),
            json!({"where": "customers.country = 'DE' OR customers.country = 'FR'"}),
        ),
        (
            json!({"filter": {"and": [eq("customers.region", "EU"), {"not": eq("customers.country", "DE")}]}}),
            json!({"filters": [{"dimension": "customers.region", "op": "eq", "values": ["EU"]},
                               {"dimension": "customers.country", "op": "neq", "values": ["DE"]}]}),
            json!({"where": "customers.region = 'EU' AND NOT customers.country = 'DE'"}),
        ),
        (
            json!({"filter": {"and": [
                {"dimension": "orders.ordered_at", "op": "gte", "values": [{"date": "2025-03-01"}]},
                {"dimension": "orders.ordered_at", "op": "lt", "values": [{"timestamp": "2025-06-01 00:00:00"}]}]}}),
            json!({"filters": [{"dimension": "orders.ordered_at", "op": "gte", "values": ["2025-03-01"]},
                               {"dimension": "orders.ordered_at", "op": "lt", "values": ["2025-06-01"]}]}),
            json!({"where": "orders.ordered_at >= '2025-03-01' AND orders.ordered_at < '2025-06-01'"}),
        ),
        (
            json!({"filter": {"dimension": "customers.country", "op": "like", "values": ["D%"]}}),
            json!({"filters": [{"dimension": "customers.country", "op": "starts_with", "values": ["D"]}]}),
            json!({"where": "customers.country LIKE 'D%'"}),
        ),
        (
            json!({"filter": {"or": [{"dimension": "customers.segment", "op": "is_null"},
                                     {"dimension": "customers.segment", "op": "in", "values": ["smb", "enterprise"]}]}}),
            json!({"filters": [{"dimension": "customers.segment", "op": "in", "values": ["smb", "enterprise", null]}]}),
            json!({"where": "customers.segment IS NULL OR customers.segment IN ('smb', 'enterprise')"}),
        ),
    ];
    for (tree, flat, text) in cases {
        let a = rest_by_country(&c, tree.clone()).await;
        assert!(!a.is_empty(), "{tree}");
        assert_eq!(
            a,
            rest_by_country(&c, flat.clone()).await,
            "{tree} vs {flat}"
        );
        assert_eq!(
            a,
            rest_by_country(&c, text.clone()).await,
            "{tree} vs {text}"
        );
    }
    // The tree is ANDed with flat filters.
    let both = rest_by_country(
        &c,
        json!({"filter": {"or": [eq("customers.country", "DE"), eq("customers.country", "FR")]},
               "filters": [{"dimension": "customers.country", "op": "eq", "values": ["DE"]}]}),
    )
    .await;
    assert_eq!(both, de_only());
}

#[tokio::test]
async fn a_thousand_branch_or_tree_works() {
    let mut branches: Vec<Value> = (0..999)
        .map(|i| eq("customers.country", &format!("x{i}")))
        .collect();
    branches.push(eq("customers.country", "DE"));
    let got = rest_by_country(&rest(), json!({"filter": {"or": branches}})).await;
    assert_eq!(got, de_only());
}

#[tokio::test]
async fn deep_nesting_is_query_too_complex() {
    let c = rest();
    let mut not = eq("customers.country", "DE");
    let mut or = not.clone();
    for _ in 0..200 {
        not = json!({"not": not});
        or = json!({"or": [or]});
    }
    for tree in [not, or] {
        let r = c
            .query(&json!({"metrics": ["revenue"], "filter": tree}))
            .await;
        r.problem(422, "query_too_complex");
    }
    // Misused trees are ordinary request errors.
    let r = c
        .query(&json!({"metrics": ["revenue"], "filter": {"or": [], "dimension": "x"}}))
        .await;
    r.problem(422, "invalid_request");
    let r = c
        .query(&json!({"metrics": ["revenue"], "filter": {"dimension": "revenue", "op": "gt", "values": [1]}}))
        .await;
    r.problem(422, "invalid_filter");
}

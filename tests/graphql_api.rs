//! The GraphQL endpoint through a real listening server over the demo
//! DuckDB data: the generated schema (and what a restricted caller may
//! introspect), results identical to POST /v1/query for the same question,
//! errors with REST's problem codes in `extensions.code`, limits, hot
//! reload of the schema, and GraphiQL.

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use accord::server::ServeConfig;
use http::{Client, Server, copy_dir, demo_defs, demo_duckdb_copy, eventually, write_atomic};
use serde_json::{Value as Json, json};

fn token(roles: &[&str]) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    accord::auth::mint_hs256(
        accord::auth::DEV_SECRET,
        "u",
        &roles,
        &BTreeMap::new(),
        3600,
    )
    .expect("mint a token")
}

/// POST /graphql; the whole response body.
async fn gql(c: &Client, bearer: Option<&str>, query: &str) -> Json {
    gql_vars(c, bearer, query, json!({})).await
}

async fn gql_vars(c: &Client, bearer: Option<&str>, query: &str, variables: Json) -> Json {
    let mut req = c
        .http
        .post(c.url("/graphql"))
        .json(&json!({"query": query, "variables": variables}));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = c.send(req).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.content_type().starts_with("application/json"),
        "content type {}",
        r.content_type()
    );
    r.json()
}

/// The data of a response that must have no errors.
fn data(body: &Json) -> &Json {
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    &body["data"]
}

/// The one error of a response, checked to carry `code`.
fn error_code<'a>(body: &'a Json, code: &str) -> &'a Json {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected errors, got {body:#}"));
    assert!(!errors.is_empty(), "{body:#}");
    let e = &errors[0];
    assert_eq!(e["extensions"]["code"], code, "{body:#}");
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(e["extensions"]["status"].as_u64().is_some(), "{body:#}");
    e
}

async fn rest(c: &Client, bearer: Option<&str>, body: &Json) -> Json {
    let mut req = c.http.post(c.url("/v1/query")).json(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = c.send(req).await;
    assert_eq!(r.status, 200, "REST {body}: {}", r.text());
    r.json()
}

fn field_names(t: &Json) -> BTreeSet<String> {
    t["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields in {t:#}"))
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A number from either API (REST decimals travel as strings).
fn num(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Asserts that a GraphQL model field and a REST query return the same
/// rows in the same order; `map` pairs GraphQL response keys with REST
/// column names. Returns the row count.
async fn agree(
    c: &Client,
    bearer: Option<&str>,
    query: &str,
    root: &str,
    rest_body: Json,
    map: &[(&str, &str)],
) -> usize {
    let g = gql(c, bearer, query).await;
    let g_rows = data(&g)[root]
        .as_array()
        .unwrap_or_else(|| panic!("{root} is not a list: {g:#}"))
        .clone();
    let r = rest(c, bearer, &rest_body).await;
    let cols: Vec<&str> = r["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let r_rows = r["rows"].as_array().unwrap();
    assert!(!r_rows.is_empty(), "REST returned no rows for {rest_body}");
    assert_eq!(
        g_rows.len(),
        r_rows.len(),
        "row counts differ for\n{query}\nGraphQL {g:#}\nREST {r:#}"
    );
    for (i, (gr, rr)) in g_rows.iter().zip(r_rows).enumerate() {
        for (gk, rc) in map {
            let ci = cols
                .iter()
                .position(|c| c == rc)
                .unwrap_or_else(|| panic!("REST has no column {rc}: {cols:?}"));
            let (gv, rv) = (&gr[*gk], &rr[ci]);
            let same = match (gv, rv) {
                (Json::Null, Json::Null) => true,
                (Json::String(a), Json::String(b)) => a == b,
                (Json::Bool(a), Json::Bool(b)) => a == b,
                (Json::String(a), Json::Number(b)) => *a == b.to_string(),
                (a, b) => match (num(a), num(b)) {
                    (Some(x), Some(y)) => x == y,
                    _ => false,
                },
            };
            assert!(
                same,
                "row {i}, {gk} vs {rc}: GraphQL {gv} vs REST {rv}\nquery {query}"
            );
        }
    }
    g_rows.len()
}

const TYPE_FIELDS: &str = r#"query($t: String!) { __type(name: $t) { name kind
    fields(includeDeprecated: true) { name isDeprecated args { name type { name kind } } type { name kind ofType { name kind } } }
    inputFields { name } enumValues { name } } }"#;

async fn type_info(c: &Client, bearer: Option<&str>, name: &str) -> Json {
    let body = gql_vars(c, bearer, TYPE_FIELDS, json!({"t": name})).await;
    data(&body)["__type"].clone()
}

// ---------------------------------------------------------------------------

#[tokio::test]
async fn schema_is_generated_from_the_catalog() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;

    let query = type_info(c, None, "Query").await;
    let roots = field_names(&query);
    for f in [
        "orders",
        "sessions",
        "customers",
        "order_items",
        "events",
        "metrics",
        "dimensions",
        "models",
        "compile",
    ] {
        assert!(roots.contains(f), "Query lacks {f}: {roots:?}");
    }
    // A model without measures has no field of its own.
    assert!(!roots.contains("order_sequence"), "{roots:?}");

    let row = type_info(c, None, "OrdersRow").await;
    let fields = field_names(&row);
    for f in [
        "revenue",
        "orders",
        "average_order_value",
        "refund_rate",
        "conversion_rate",
        "metricTime",
        "orders__status",
        "orders__ordered_at",
        "customers__country",
        "customers__region",
        "order_sequence__is_first_order",
    ] {
        assert!(fields.contains(f), "OrdersRow lacks {f}: {fields:?}");
    }
    // Metrics of other models are not on orders rows.
    assert!(!fields.contains("sessions"), "{fields:?}");
    let field = |name: &str| {
        row["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        field("orders")["type"]["name"],
        "Int",
        "count metrics are Int"
    );
    assert_eq!(field("revenue")["type"]["name"], "Float");
    assert_eq!(field("average_order_value")["type"]["name"], "Float");
    assert_eq!(field("customers__country")["type"]["name"], "String");
    assert_eq!(
        field("order_sequence__is_first_order")["type"]["name"],
        "Boolean"
    );
    let arg_names = |f: &Json| -> Vec<String> {
        f["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(arg_names(&field("revenue")), ["version"]);
    assert_eq!(arg_names(&field("metricTime")), ["granularity"]);
    assert_eq!(arg_names(&field("orders__ordered_at")), ["granularity"]);
    assert!(arg_names(&field("orders__status")).is_empty());

    let orders_field = query["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "orders")
        .unwrap()
        .clone();
    assert_eq!(
        arg_names(&orders_field),
        [
            "where",
            "orderBy",
            "limit",
            "offset",
            "timeRange",
            "purpose",
            "timeZone",
            "weekStart"
        ]
    );

    let g = type_info(c, None, "Granularity").await;
    let values: Vec<&str> = g["enumValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR"]);

    let w = type_info(c, None, "OrdersWhere").await;
    let inputs: BTreeSet<String> = w["inputFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    for f in [
        "and",
        "or",
        "orders__status",
        "customers__country",
        "revenue",
        "metricTime",
    ] {
        assert!(inputs.contains(f), "OrdersWhere lacks {f}");
    }
    let sf = type_info(c, None, "StringFilter").await;
    let ops: BTreeSet<String> = sf["inputFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ops,
        set(&[
            "equals",
            "notEquals",
            "in",
            "notIn",
            "gt",
            "gte",
            "lt",
            "lte",
            "contains",
            "startsWith",
            "isNull",
            "between"
        ])
    );

    // The standard introspection query GraphiQL sends passes the limits.
    let full = gql(c, None, INTROSPECTION).await;
    let types = data(&full)["__schema"]["types"].as_array().unwrap().len();
    assert!(types > 20, "{types} types");
}

#[tokio::test]
async fn metadata_queries() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let body = gql(
        c,
        None,
        r#"{ metrics(name: "revenue") { name version default type status owner description label format unit dimensions graphqlField graphqlModels }
            models { name graphqlField metrics dimensions }
            dimensions(model: "customers") { name type masked pii graphqlField } }"#,
    )
    .await;
    let d = data(&body);
    let revenue = &d["metrics"][0];
    assert_eq!(revenue["name"], "revenue");
    assert_eq!(revenue["version"], 1);
    assert_eq!(revenue["default"], true);
    assert_eq!(revenue["type"], "simple");
    assert_eq!(revenue["status"], "active");
    assert_eq!(revenue["format"], "currency");
    assert_eq!(revenue["unit"], "USD");
    assert_eq!(revenue["label"], "Gross revenue");
    assert_eq!(revenue["owner"], "finance-analytics@example.com");
    assert_eq!(revenue["graphqlField"], "revenue");
    assert_eq!(revenue["graphqlModels"], json!(["orders"]));
    let dims: Vec<&str> = revenue["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(dims.contains(&"metric_time") && dims.contains(&"customers.country"));

    // Same list as GET /v1/catalog.
    let catalog = c.get("/v1/catalog").await.ok_json();
    let rest_dims: Vec<Json> = catalog["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "revenue")
        .unwrap()["dimensions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(revenue["dimensions"], Json::Array(rest_dims));

    let models = d["models"].as_array().unwrap();
    let orders = models.iter().find(|m| m["name"] == "orders").unwrap();
    assert_eq!(orders["graphqlField"], "orders");
    assert!(
        orders["metrics"]
            .as_array()
            .unwrap()
            .contains(&json!("revenue"))
    );
    let seq = models
        .iter()
        .find(|m| m["name"] == "order_sequence")
        .unwrap();
    assert_eq!(seq["graphqlField"], Json::Null);

    let email = d["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "customers.email")
        .unwrap();
    assert_eq!(email["pii"], true);
    assert_eq!(email["graphqlField"], "customers__email");

    // An analyst sees emails hashed.
    let analyst = token(&["analyst"]);
    let body = gql(
        c,
        Some(&analyst),
        r#"{ dimensions(model: "customers") { name masked } }"#,
    )
    .await;
    let email = data(&body)["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "customers.email")
        .cloned()
        .unwrap();
    assert_eq!(email["masked"], true);
}

#[tokio::test]
async fn compile_returns_sql_and_policies() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let partner = token(&["partner"]);
    let q = r#"{ compile(query: {metrics: ["revenue"], dimensions: ["customers.region"], orderBy: ["-revenue"], limit: 5}, dialect: "postgres") { sql dialect sqlHash policies warnings columns } }"#;
    let body = gql(c, Some(&partner), q).await;
    let r = &data(&body)["compile"];
    assert_eq!(r["dialect"], "postgres");
    assert!(r["sql"].as_str().unwrap().contains("SELECT"));
    assert_eq!(r["columns"], json!(["customers__region", "revenue"]));
    let policies = r["policies"].as_array().unwrap();
    assert!(
        policies
            .iter()
            .any(|p| p.as_str().unwrap().contains("min_group_size")),
        "{policies:?}"
    );
    // Same SQL as POST /v1/compile.
    let rest = c
        .send(
            c.http
                .post(c.url("/v1/compile?dialect=postgres"))
                .bearer_auth(&partner)
                .json(&json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "order_by": ["-revenue"], "limit": 5})),
        )
        .await
        .ok_json();
    assert_eq!(r["sql"], rest["sql"]);
    assert_eq!(r["policies"], rest["policies"]);

    let body = gql(
        c,
        None,
        r#"{ compile(query: {metrics: ["revenue"]}, dialect: "oracle") { sql } }"#,
    )
    .await;
    error_code(&body, "unknown_dialect");
}

#[tokio::test]
async fn results_agree_with_rest() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let mut n = 0;

    n += agree(
        c,
        None,
        "{ orders { revenue } }",
        "orders",
        json!({"metrics": ["revenue"]}),
        &[("revenue", "revenue")],
    )
    .await;

    n += agree(
        c,
        None,
        "{ orders { orders__status orders revenue } }",
        "orders",
        json!({"metrics": ["orders", "revenue"], "dimensions": ["orders.status"]}),
        &[
            ("orders__status", "orders__status"),
            ("orders", "orders"),
            ("revenue", "revenue"),
        ],
    )
    .await;

    n += agree(
        c,
        None,
        "{ orders { month: metricTime(granularity: MONTH) revenue average_order_value } }",
        "orders",
        json!({"metrics": ["revenue", "average_order_value"], "dimensions": ["metric_time:month"]}),
        &[
            ("month", "metric_time__month"),
            ("revenue", "revenue"),
            ("average_order_value", "average_order_value"),
        ],
    )
    .await;

    // Structured filters and ordering.
    n += agree(
        c,
        None,
        r#"{ orders(where: {customers__region: {in: ["EU", "NA"]}, orders__channel: {notEquals: "phone"}},
                     orderBy: [{field: revenue, direction: DESC}]) { customers__country revenue orders } }"#,
        "orders",
        json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"],
               "filters": [{"dimension": "customers.region", "op": "in", "values": ["EU", "NA"]},
                           {"dimension": "orders.channel", "op": "neq", "values": ["phone"]}],
               "order_by": ["-revenue"]}),
        &[
            ("customers__country", "customers__country"),
            ("revenue", "revenue"),
            ("orders", "orders"),
        ],
    )
    .await;

    // `or` becomes a where expression; a quote in a value stays a value.
    n += agree(
        c,
        None,
        r#"{ orders(where: {or: [{customers__country: {equals: "O'Brien"}}, {customers__country: {in: ["a\\'b", "DE"]}},
                                 {orders__channel: {equals: "phone"}, customers__segment: {startsWith: "ent"}}]})
             { customers__region revenue } }"#,
        "orders",
        json!({"metrics": ["revenue"], "dimensions": ["customers.region"],
               "where": "customers.country = 'O''Brien' OR customers.country IN ('a\\''b', 'DE') OR (orders.channel = 'phone' AND customers.segment LIKE 'ent%')"}),
        &[("customers__region", "customers__region"), ("revenue", "revenue")],
    )
    .await;

    // Time range, paging, ordering by a time dimension.
    n += agree(
        c,
        None,
        r#"{ orders(timeRange: {start: "2025-03-01", end: "2025-06-01"}, limit: 4, offset: 2,
                     orderBy: [{field: metricTime, direction: DESC}]) { metricTime(granularity: WEEK) orders } }"#,
        "orders",
        json!({"metrics": ["orders"], "dimensions": ["metric_time:week"],
               "time_range": {"start": "2025-03-01", "end": "2025-06-01"},
               "limit": 4, "offset": 2, "order_by": ["-metric_time:week"]}),
        &[("metricTime", "metric_time__week"), ("orders", "orders")],
    )
    .await;

    // Periods in a time zone, weeks from Sunday (REST's `time_zone` and
    // `week_start`; their numbers are checked against the generator in
    // tests/time_intelligence_demo.rs and tests/pg_wire_access.rs).
    n += agree(
        c,
        None,
        r#"{ orders(timeRange: {start: "2025-03-01", end: "2025-05-01"}, timeZone: "Pacific/Auckland",
                     weekStart: "sunday") { metricTime(granularity: WEEK) orders } }"#,
        "orders",
        json!({"metrics": ["orders"], "dimensions": ["metric_time:week"],
               "time_range": {"start": "2025-03-01", "end": "2025-05-01"},
               "time_zone": "Pacific/Auckland", "week_start": "sunday"}),
        &[("metricTime", "metric_time__week"), ("orders", "orders")],
    )
    .await;

    n += agree(
        c,
        None,
        "{ sessions { sessions__channel sessions__is_logged_in sessions visitors logged_in_share } }",
        "sessions",
        json!({"metrics": ["sessions", "visitors", "logged_in_share"],
               "dimensions": ["sessions.channel", "sessions.is_logged_in"]}),
        &[
            ("sessions__channel", "sessions__channel"),
            ("sessions__is_logged_in", "sessions__is_logged_in"),
            ("sessions", "sessions"),
            ("visitors", "visitors"),
            ("logged_in_share", "logged_in_share"),
        ],
    )
    .await;

    // A metric condition filters groups (HAVING): keep the countries above
    // the median.
    let all = rest(
        c,
        None,
        &json!({"metrics": ["revenue"], "dimensions": ["customers.country"]}),
    )
    .await;
    let mut values: Vec<f64> = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| num(&r[1]))
        .collect();
    values.sort_by(f64::total_cmp);
    let threshold = values[values.len() / 2].floor();
    n += agree(
        c,
        None,
        &format!(
            "{{ orders(where: {{revenue: {{gt: {threshold}}}}}) {{ customers__country revenue }} }}"
        ),
        "orders",
        json!({"metrics": ["revenue"], "dimensions": ["customers.country"],
               "filters": [{"dimension": "revenue", "op": "gt", "values": [threshold]}]}),
        &[
            ("customers__country", "customers__country"),
            ("revenue", "revenue"),
        ],
    )
    .await;

    // A time dimension at a grain, a version argument, a boolean dimension.
    n += agree(
        c,
        None,
        r#"{ orders(limit: 5, orderBy: [{field: orders__ordered_at, direction: DESC}])
             { day: orders__ordered_at(granularity: DAY) revenue(version: 1) refunds } }"#,
        "orders",
        json!({"metrics": ["revenue@1", "refunds"], "dimensions": ["orders.ordered_at:day"],
               "order_by": ["-orders.ordered_at:day"], "limit": 5}),
        &[
            ("day", "orders__ordered_at__day"),
            ("revenue", "revenue_v1"),
            ("refunds", "refunds"),
        ],
    )
    .await;

    n += agree(
        c,
        None,
        r#"{ orders(where: {orders__ordered_at: {between: ["2025-02-01", "2025-02-28"]}, order_sequence__is_first_order: {equals: true}})
             { order_sequence__is_first_order orders } }"#,
        "orders",
        json!({"metrics": ["orders"], "dimensions": ["order_sequence.is_first_order"],
               "filters": [{"dimension": "orders.ordered_at", "op": "between", "values": ["2025-02-01", "2025-02-28"]},
                           {"dimension": "order_sequence.is_first_order", "op": "eq", "values": [true]}]}),
        &[
            ("order_sequence__is_first_order", "order_sequence__is_first_order"),
            ("orders", "orders"),
        ],
    )
    .await;

    // A restricted caller gets its policies on both interfaces.
    let partner = token(&["partner"]);
    n += agree(
        c,
        Some(&partner),
        "{ orders { customers__region revenue orders } }",
        "orders",
        json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.region"]}),
        &[
            ("customers__region", "customers__region"),
            ("revenue", "revenue"),
            ("orders", "orders"),
        ],
    )
    .await;
    // A role limited to one purpose and to EU customers, under that purpose.
    let marketing = token(&["marketing_eu"]);
    n += agree(
        c,
        Some(&marketing),
        r#"{ orders(purpose: "marketing") { customers__country orders } }"#,
        "orders",
        json!({"metrics": ["orders"], "dimensions": ["customers.country"], "purpose": "marketing"}),
        &[
            ("customers__country", "customers__country"),
            ("orders", "orders"),
        ],
    )
    .await;
    error_code(
        &gql(c, Some(&marketing), "{ orders { orders } }").await,
        "forbidden",
    );
    assert!(n > 20, "{n} rows compared");

    // Variables, fragments and aliases select the same columns.
    let body = gql_vars(
        c,
        None,
        r#"query($g: Granularity, $c: [String]) { orders(where: {customers__country: {in: $c}}) { ...F m: metricTime(granularity: $g) } }
           fragment F on OrdersRow { revenue }"#,
        json!({"g": "QUARTER", "c": ["DE"]}),
    )
    .await;
    let rows = data(&body)["orders"].as_array().unwrap().clone();
    let r = rest(
        c,
        None,
        &json!({"metrics": ["revenue"], "dimensions": ["metric_time:quarter"],
                "filters": [{"dimension": "customers.country", "op": "in", "values": ["DE"]}]}),
    )
    .await;
    assert_eq!(rows.len(), r["rows"].as_array().unwrap().len());
    assert_eq!(rows[0]["m"], r["rows"][0][0]);
    assert_eq!(num(&rows[0]["revenue"]), num(&r["rows"][0][1]));

    // The second identical query is a cache hit, shared with REST.
    let q = "{ orders { orders__status orders revenue } }";
    let body = gql(c, None, q).await;
    assert_eq!(body["extensions"]["cache"]["orders"], "hit", "{body:#}");
    assert!(body["extensions"]["definitionsVersion"].is_string());
}

#[tokio::test]
async fn a_restricted_caller_sees_only_its_members() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let partner = token(&["partner"]);
    let p = Some(partner.as_str());

    let roots = field_names(&type_info(c, p, "Query").await);
    assert_eq!(
        roots,
        set(&[
            "orders",
            "sessions",
            "metrics",
            "dimensions",
            "models",
            "compile"
        ])
    );
    assert_eq!(
        field_names(&type_info(c, p, "OrdersRow").await),
        set(&[
            "revenue",
            "orders",
            "average_order_value",
            "metricTime",
            "customers__region"
        ])
    );
    assert_eq!(type_info(c, p, "CustomersRow").await, Json::Null);
    let body = gql(c, p, "{ __schema { types { name } } }").await;
    let types: Vec<&str> = data(&body)["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(!types.contains(&"CustomersRow") && types.contains(&"SessionsRow"));

    let body = gql(c, p, "{ metrics { name } dimensions { name } }").await;
    let names = |k: &str| -> BTreeSet<String> {
        data(&body)[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("metrics"),
        set(&["revenue", "orders", "average_order_value", "sessions"])
    );
    assert_eq!(names("dimensions"), set(&["customers.region"]));

    // The admin sees everything.
    assert!(field_names(&type_info(c, None, "OrdersRow").await).contains("customers__email"));

    // Hidden members are refused as unknown names (exactly as names that
    // do not exist), wherever they appear.
    let e = error_code(
        &gql(c, p, "{ orders { revenue customers__email } }").await,
        "unknown_dimension",
    )
    .clone();
    assert_eq!(e["extensions"]["status"], 422);
    error_code(
        &gql(c, p, "{ orders { revenue refunds } }").await,
        "unknown_metric",
    );
    error_code(
        &gql(c, p, "{ customers { signups } }").await,
        "unknown_field",
    );
    error_code(
        &gql(
            c,
            p,
            r#"{ orders(where: {customers__segment: {equals: "smb"}}) { revenue } }"#,
        )
        .await,
        "invalid_filter",
    );

    // A caller with no role the policies know is refused outright.
    let nobody = token(&["nobody"]);
    error_code(&gql(c, Some(&nobody), "{ __typename }").await, "forbidden");
}

#[tokio::test]
async fn errors_carry_problem_codes() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;

    let e = error_code(
        &gql(c, None, "{ orders { revenue nope } }").await,
        "unknown_metric",
    )
    .clone();
    assert!(e["message"].as_str().unwrap().contains("nope"));
    error_code(
        &gql(c, None, "{ orders { revenue customers__nope } }").await,
        "unknown_dimension",
    );
    error_code(&gql(c, None, "{ nope { revenue } }").await, "unknown_field");

    // Bad filter values: a wrong GraphQL type, and a value the planner
    // cannot read as a time.
    error_code(
        &gql(
            c,
            None,
            "{ orders(where: {orders__status: {equals: 5}}) { revenue } }",
        )
        .await,
        "invalid_filter",
    );
    let e = error_code(
        &gql(
            c,
            None,
            r#"{ orders(where: {orders__ordered_at: {gt: "yesterday"}}) { revenue } }"#,
        )
        .await,
        "invalid_filter",
    )
    .clone();
    assert_eq!(e["extensions"]["status"], 422);
    assert_eq!(e["path"], json!(["orders"]), "{e:#}");
    // `%` under `or` is a literal character now (a typed value, not LIKE
    // text): nothing matches, and nothing is refused.
    let body = gql(
        c,
        None,
        r#"{ orders(where: {or: [{orders__status: {contains: "50%"}}]}) { revenue } }"#,
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    error_code(
        &gql(c, None, "{ orders(where: {revenue: {gt: 1}}) { orders } }").await,
        "invalid_filter",
    );
    error_code(
        &gql(c, None, "{ orders { revenue(version: 9) } }").await,
        "unknown_metric",
    );
    error_code(
        &gql(c, None, "{ orders { orders__status } }").await,
        "invalid_query",
    );
    error_code(
        &gql(c, None, r#"{ orders(purpose: "astrology") { revenue } }"#).await,
        "invalid_query",
    );
    error_code(
        &gql(c, None, "{ orders(limit: -1) { revenue } }").await,
        "invalid_query",
    );
    error_code(&gql(c, None, "{ orders { revenue ").await, "invalid_query");

    // Complexity limit: more fields than the schema allows.
    let wide: String = (0..=accord::graphql::MAX_COMPLEXITY / 2)
        .map(|i| format!("f{i}: models {{ name }} "))
        .collect();
    error_code(
        &gql(c, None, &format!("{{ {wide} }}")).await,
        "query_too_complex",
    );

    // Errors are counted by code, like REST's.
    let metrics = c.get("/metrics").await.text();
    assert!(
        metrics.contains("code=\"query_too_complex\""),
        "no error counter in /metrics"
    );

    // Depth limit.
    let mut deep = String::from("{ __schema { types { fields { type ");
    for _ in 0..accord::graphql::MAX_DEPTH {
        deep.push_str("{ ofType ");
    }
    deep.push_str("{ name }");
    for _ in 0..accord::graphql::MAX_DEPTH {
        deep.push('}');
    }
    deep.push_str(" } } } }");
    error_code(&gql(c, None, &deep).await, "query_too_complex");

    // Identity: a bad token is unauthorized, like REST.
    let e = error_code(
        &gql(c, Some("not-a-jwt"), "{ orders { revenue } }").await,
        "unauthorized",
    )
    .clone();
    assert_eq!(e["extensions"]["status"], 401);

    // Not a GraphQL request at all: a problem, like REST.
    let r = c
        .post_raw("/graphql", "application/json", b"{not json".to_vec())
        .await;
    r.problem(400, "invalid_json");

    // A partial failure keeps the other fields' data.
    let body = gql(
        c,
        None,
        r#"{ a: orders { revenue } b: orders(timeRange: {start: "soon"}) { revenue } }"#,
    )
    .await;
    assert!(body["data"]["a"][0]["revenue"].is_number(), "{body:#}");
    error_code(&body, "invalid_query");
}

#[tokio::test]
async fn graphiql_and_get_queries() {
    let server = Server::demo(|_| {}).await;
    let c = &server.client;
    let r = c.get("/graphql").await;
    assert_eq!(r.status, 200);
    assert!(
        r.content_type().starts_with("text/html"),
        "{}",
        r.content_type()
    );
    let html = r.text();
    assert!(
        html.contains("graphiql") && html.contains("/graphql"),
        "{html}"
    );

    let r = c
        .get("/graphql?query=%7B%20orders%20%7B%20orders%20%7D%20%7D")
        .await;
    let body = r.ok_json();
    assert!(data(&body)["orders"][0]["orders"].as_i64().unwrap() > 0);

    // application/graphql bodies are queries.
    let r = c
        .post_raw(
            "/graphql",
            "application/graphql",
            b"{ orders { orders } }".to_vec(),
        )
        .await;
    assert!(data(&r.ok_json())["orders"][0]["orders"].is_i64());
}

#[tokio::test]
async fn schema_follows_definition_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let defs = dir.path().join("defs");
    copy_dir(&demo_defs(), &defs);
    let url = demo_duckdb_copy(dir.path());
    let mut config = ServeConfig::for_tests(&defs, url);
    config.reload = true;
    let server = Server::start(config, dir).await;
    let c = server.client.clone();

    let before = field_names(&type_info(&c, None, "OrdersRow").await);
    assert!(!before.contains("completed_orders"));
    let v1 =
        gql(&c, None, "{ orders { orders } }").await["extensions"]["definitionsVersion"].clone();

    write_atomic(
        &defs.join("metrics").join("extra.yml"),
        r#"metrics:
  - name: completed_orders
    label: Completed orders
    description: Orders that completed.
    owner: test@example.com
    type: simple
    measure: orders.order_count
    filter: "orders.status = 'completed'"
  - name: legacy_orders
    description: Old order count.
    owner: test@example.com
    status: deprecated
    type: simple
    measure: orders.order_count
"#,
    );
    let fields = eventually(
        Duration::from_secs(30),
        "the new metric in the schema",
        || {
            let c = c.clone();
            async move {
                let t = type_info(&c, None, "OrdersRow").await;
                let f = field_names(&t);
                f.contains("completed_orders").then_some(t)
            }
        },
    )
    .await;
    let legacy = fields["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "legacy_orders")
        .unwrap()
        .clone();
    assert_eq!(legacy["isDeprecated"], true);

    agree(
        &c,
        None,
        "{ orders { orders__channel completed_orders } }",
        "orders",
        json!({"metrics": ["completed_orders"], "dimensions": ["orders.channel"]}),
        &[
            ("orders__channel", "orders__channel"),
            ("completed_orders", "completed_orders"),
        ],
    )
    .await;
    let body = gql(&c, None, "{ orders { legacy_orders } }").await;
    assert!(data(&body)["orders"][0]["legacy_orders"].as_i64().unwrap() > 0);
    let warnings = body["extensions"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("legacy_orders@1` is deprecated")),
        "{body:#}"
    );
    assert_ne!(body["extensions"]["definitionsVersion"], v1);
}

/// graphql-js's `getIntrospectionQuery()` (what GraphiQL sends).
const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}
"#;

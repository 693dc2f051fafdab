//! Input generators: names from the demo catalog (valid, hidden and
//! nonsense), SQL expression grammars (nested, long chains, odd literals,
//! unicode), semantic query JSON, GraphQL documents, Postgres statements and
//! YAML mutations.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value as Json, json};

/// The longest chain or deepest nesting generated: 3000, or
/// `FUZZ_MAX_DEPTH` — a knob to measure the other inputs on a build that
/// still overflows its stack on deep ones (which aborts the whole binary).
pub fn max_depth() -> usize {
    std::env::var("FUZZ_MAX_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
        .max(2)
}

/// A rough nesting measure of a seed: brackets, operators and keywords.
pub fn depth_proxy(s: &str) -> usize {
    ["(", "[", "{", " OR ", " AND ", "-", " * ", "NOT ", " || "]
        .iter()
        .map(|t| s.matches(t).count())
        .sum()
}

/// Names the generators draw from, read from the demo definitions.
pub struct Names {
    pub metrics: Vec<String>,
    /// `model.dimension` for every dimension and entity of every model.
    pub dims: Vec<String>,
    pub models: Vec<String>,
    /// Postgres / GraphQL column spellings: `model__dim`, plain dims, metrics.
    pub columns: Vec<String>,
}

pub fn names() -> &'static Names {
    static N: OnceLock<Names> = OnceLock::new();
    N.get_or_init(|| {
        let c = super::common::demo_catalog();
        let mut dims = vec!["metric_time".to_string()];
        let mut columns = vec!["metric_time".to_string(), "metricTime".to_string()];
        for m in &c.models {
            for d in &m.dimensions {
                dims.push(format!("{}.{}", m.name, d.name));
                columns.push(format!("{}__{}", m.name, d.name));
                columns.push(d.name.clone());
            }
            for e in &m.entities {
                dims.push(format!("{}.{}", m.name, e.name));
            }
        }
        let metrics: Vec<String> = c.metrics.iter().map(|m| m.name.clone()).collect();
        columns.extend(metrics.iter().cloned());
        Names {
            metrics,
            dims,
            models: c.models.iter().map(|m| m.name.clone()).collect(),
            columns,
        }
    })
}

const NONSENSE: &[&str] = &[
    "",
    " ",
    "x",
    "zz_absent",
    "revenue@2",
    "revenue@",
    "revenue@99999999999",
    "a.b.c.d",
    "orders.",
    ".status",
    "metric_time:fortnight",
    "metric_time:month",
    "metric_time:hour",
    "customers.country:day",
    "Ünïcödé",
    "日本",
    "\u{0}",
    "\u{202e}",
    "a\"b",
    "a'b",
    "a`b",
    "a;b",
    "--",
    "/*",
    "*/",
    "$1",
    "?",
    "\\",
    "%s",
    "NULL",
    "SELECT",
    "pg_class",
    "information_schema",
    "read_text",
    "🦀",
];

/// A name: mostly real, sometimes nonsense, sometimes arbitrary text.
pub fn name(pool: &'static [String]) -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(pool),
        2 => select(NONSENSE).prop_map(str::to_string),
        1 => weird_string(),
    ]
    .boxed()
}

const TOKENS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    ",",
    "=",
    "<>",
    "<",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "'",
    "''",
    "\"",
    "E'\\''",
    "$$",
    "--",
    "/*",
    "*/",
    ";",
    "IN",
    "BETWEEN",
    "LIKE",
    "ILIKE",
    "IS",
    "NULL",
    "TRUE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "CAST",
    "AS",
    "::",
    "[",
    "]",
    "{",
    "}",
    "1",
    "-1",
    "1e308",
    "1e-400",
    "0x10",
    "99999999999999999999999999999999999999",
    "'x'",
    "U&'\\0041'",
    "DATE '2025-01-01'",
    "INTERVAL '1 day'",
    "customers.country",
    "orders.status",
    "metric_time",
    "lower",
    "read_text",
    "EXISTS",
    "UNION",
    "OVER",
    "PARTITION",
    "BY",
    "@",
    "#",
    "?",
    "$1",
    ":",
    "ü",
    "日",
    "\t",
    "\n",
];

/// Arbitrary text: printable unicode, token soup, long repeats.
pub fn weird_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "\\PC{0,40}",
        3 => prop::collection::vec(select(TOKENS), 0..24).prop_map(|t| t.join(" ")),
        1 => (select(TOKENS), 1usize..max_depth()).prop_map(|(t, n)| t.repeat(n)),
        1 => ".{0,20}",
    ]
    .boxed()
}

fn literal() -> BoxedStrategy<String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "\\PC{0,12}".prop_map(|s| format!("'{}'", s.replace('\'', "''"))),
        "[a-z'\\\\]{0,8}".prop_map(|s| format!("E'{s}'")),
        select(
            &[
                "NULL",
                "TRUE",
                "FALSE",
                "'2025-02-01'",
                "'2025-02-30'",
                "DATE '2025-01-01'",
                "TIMESTAMP '2025-01-01 00:00:00'",
                "'EU'",
                "'DE'",
                "1e400",
                "-0",
                "''",
                "'\u{0}'",
                "'日本'",
                "99999999999999999999999999999999999999999",
            ][..]
        )
        .prop_map(str::to_string),
    ]
    .boxed()
}

fn column() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(&names().dims[..]).prop_map(|d| d.replace(':', "")),
        1 => select(&names().columns[..]),
        1 => select(NONSENSE).prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
    ]
    .boxed()
}

const BINOPS: &[&str] = &[
    "AND",
    "OR",
    "=",
    "<>",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "%",
    "||",
    "LIKE",
    "ILIKE",
    "IS DISTINCT FROM",
    "^",
    "&",
    "|",
    "<<",
    "->",
    "@>",
];

const FUNCS: &[&str] = &[
    "lower",
    "upper",
    "coalesce",
    "length",
    "substr",
    "concat",
    "abs",
    "round",
    "date_trunc",
    "extract",
    "nullif",
    "trim",
    "md5",
    "read_text",
    "current_setting",
    "pg_sleep",
    "random",
    "now",
    "sum",
    "count",
    "row_number",
    "ZZ_absent",
];

/// A SQL boolean-ish expression over dimensions, nested up to a few levels.
pub fn expr() -> BoxedStrategy<String> {
    let leaf = prop_oneof![column(), literal()];
    leaf.prop_recursive(6, 96, 6, |e| {
        prop_oneof![
            4 => (e.clone(), select(BINOPS), e.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            2 => e.clone().prop_map(|a| format!("({a})")),
            1 => e.clone().prop_map(|a| format!("NOT {a}")),
            1 => e.clone().prop_map(|a| format!("-{a}")),
            2 => (select(FUNCS), prop::collection::vec(e.clone(), 0..4))
                .prop_map(|(f, a)| format!("{f}({})", a.join(", "))),
            1 => (e.clone(), prop::collection::vec(e.clone(), 0..6))
                .prop_map(|(a, l)| format!("{a} IN ({})", l.join(", "))),
            1 => (e.clone(), e.clone(), e.clone())
                .prop_map(|(a, b, c)| format!("{a} BETWEEN {b} AND {c}")),
            1 => e.clone().prop_map(|a| format!("{a} IS NOT NULL")),
            1 => (e.clone(), e.clone(), e.clone())
                .prop_map(|(a, b, c)| format!("CASE WHEN {a} THEN {b} ELSE {c} END")),
            1 => (e.clone(), select(&["INTEGER", "TEXT", "DATE", "DECIMAL(38, 2)", "BLOB", "x"][..]))
                .prop_map(|(a, t)| format!("CAST({a} AS {t})")),
            1 => e.clone().prop_map(|a| format!("(SELECT {a})")),
            1 => e.prop_map(|a| format!("EXISTS (SELECT 1 FROM orders WHERE {a})")),
        ]
    })
    .boxed()
}

/// Long chains and deep nesting: what crashed the server by recursion.
pub fn deep() -> BoxedStrategy<String> {
    let atom = select(
        &[
            "1",
            "1 = 1",
            "customers.country = 'DE'",
            "x",
            "'a'",
            "metric_time",
        ][..],
    );
    prop_oneof![
        (1usize..max_depth(), select(BINOPS), atom.clone())
            .prop_map(|(n, op, a)| { vec![a; n].join(&format!(" {op} ")) }),
        (
            1usize..(max_depth() / 2),
            select(
                &[
                    ("(", ")"),
                    ("NOT (", ")"),
                    ("lower(", ")"),
                    ("-(", ")"),
                    ("CASE WHEN TRUE THEN ", " END"),
                    ("(SELECT ", ")")
                ][..]
            ),
            atom.clone()
        )
            .prop_map(|(n, (o, c), a)| format!("{}{a}{}", o.repeat(n), c.repeat(n))),
        (1usize..max_depth(), atom).prop_map(|(n, a)| format!("{}{a}", "- ".repeat(n))),
    ]
    .boxed()
}

/// A `where` string.
pub fn where_text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => expr(),
        2 => deep(),
        2 => weird_string(),
    ]
    .boxed()
}

fn date_text() -> BoxedStrategy<String> {
    prop_oneof![
        select(
            &[
                "2025-01-01",
                "2025-02-30",
                "2025-13-01",
                "2025-01-01 25:00:00",
                "0000-01-01",
                "9999-12-31 23:59:59",
                "2025-01-01T00:00:00Z",
                "yesterday",
                "",
                "2025-01-01' OR '1'='1",
            ][..]
        )
        .prop_map(str::to_string),
        weird_string(),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Json> {
    prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Json::Number)),
        weird_string().prop_map(Json::from),
        select(&["DE", "EU", "2025-01-01", "completed"][..]).prop_map(Json::from),
    ]
    .boxed()
}

const OPS: &[&str] = &[
    "eq",
    "neq",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "contains",
    "starts_with",
    "is_null",
    "is_not_null",
    "=",
    "like",
    "",
];

fn filter() -> BoxedStrategy<Json> {
    let dims = name(&names().dims);
    let metrics = name(&names().metrics);
    (
        prop_oneof![dims, metrics],
        select(OPS),
        prop::collection::vec(json_value(), 0..4),
    )
        .prop_map(|(d, op, v)| json!({"dimension": d, "op": op, "values": v}))
        .boxed()
}

fn order() -> BoxedStrategy<Json> {
    let field = prop_oneof![name(&names().metrics), name(&names().dims)];
    prop_oneof![
        (
            field.clone(),
            select(&["", " desc", " DESC", " asc", "-"][..])
        )
            .prop_map(|(f, d)| Json::from(format!("{f}{d}"))),
        (field, any::<bool>()).prop_map(|(f, d)| json!({"field": f, "desc": d})),
        json_value(),
    ]
    .boxed()
}

/// One field of a semantic query, with plausible or odd values.
fn query_field() -> BoxedStrategy<(String, Json)> {
    let list = |s: BoxedStrategy<String>| prop::collection::vec(s, 0..5).prop_map(Json::from);
    let analyses = &[
        "checkout_funnel",
        "signup_to_purchase",
        "weekly_purchase_retention",
        "linear_30d",
        "first_touch_30d",
        "zz_absent",
    ][..];
    prop_oneof![
        4 => list(name(&names().metrics)).prop_map(|v| ("metrics".to_string(), v)),
        4 => list(name(&names().dims)).prop_map(|v| ("dimensions".to_string(), v)),
        2 => prop::collection::vec(filter(), 0..4).prop_map(|v| ("filters".to_string(), Json::from(v))),
        3 => where_text().prop_map(|w| ("where".to_string(), Json::from(w))),
        2 => (date_text(), date_text()).prop_map(|(s, e)| ("time_range".to_string(), json!({"start": s, "end": e}))),
        2 => prop::collection::vec(order(), 0..3).prop_map(|v| ("order_by".to_string(), Json::from(v))),
        1 => json_value().prop_map(|v| ("limit".to_string(), v)),
        1 => any::<u64>().prop_map(|v| ("offset".to_string(), Json::from(v))),
        1 => prop_oneof![select(&["analytics", "marketing", "ads", "zz"][..]).prop_map(str::to_string), weird_string()]
            .prop_map(|v| ("purpose".to_string(), Json::from(v))),
        1 => prop_oneof![select(&["UTC", "Europe/Berlin", "Pacific/Auckland", "Mars/Base"][..]).prop_map(str::to_string), weird_string()]
            .prop_map(|v| ("time_zone".to_string(), Json::from(v))),
        1 => prop_oneof![select(&["monday", "sunday", "someday"][..]).prop_map(str::to_string), weird_string()]
            .prop_map(|v| ("week_start".to_string(), Json::from(v))),
        1 => select(analyses).prop_map(|v| ("funnel".to_string(), Json::from(v))),
        1 => select(analyses).prop_map(|v| ("retention".to_string(), Json::from(v))),
        1 => select(analyses).prop_map(|v| ("attribution".to_string(), Json::from(v))),
        1 => (weird_string(), json_value()).prop_map(|(k, v)| (k, v)),
    ]
    .boxed()
}

/// A semantic query as JSON: mostly well-formed, with odd contents.
pub fn query_json() -> BoxedStrategy<Json> {
    prop::collection::vec(query_field(), 0..7)
        .prop_map(|fields| Json::Object(fields.into_iter().collect::<Map<_, _>>()))
        .boxed()
}

/// Any JSON at all (top-level keys mostly the query's).
pub fn any_json() -> BoxedStrategy<Json> {
    json_value()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            select(
                                &[
                                    "metrics",
                                    "dimensions",
                                    "where",
                                    "filters",
                                    "order_by",
                                    "time_range",
                                    "values",
                                    "dimension",
                                    "op",
                                    "field"
                                ][..]
                            )
                            .prop_map(str::to_string),
                            weird_string()
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|kv| Json::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A mutation of a seed query.
#[derive(Debug, Clone)]
pub enum Mutation {
    Set(String, Json),
    Remove(usize),
    /// Replace the nth string found (depth first) with this one.
    String(usize, String),
    /// Wrap `where` in n parentheses.
    Nest(usize),
}

pub fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => query_field().prop_map(|(k, v)| Mutation::Set(k, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
        3 => (any::<usize>(), prop_oneof![weird_string(), where_text()]).prop_map(|(i, s)| Mutation::String(i, s)),
        1 => (1usize..max_depth()).prop_map(Mutation::Nest),
    ]
    .boxed()
}

/// Replaces the nth string (depth first); true when it was found.
fn replace_nth_string(v: &mut Json, n: &mut usize, with: &str) -> bool {
    match v {
        Json::String(s) if *n == 0 => {
            *s = with.to_string();
            true
        }
        Json::String(_) => {
            *n -= 1;
            false
        }
        Json::Array(a) => a.iter_mut().any(|x| replace_nth_string(x, n, with)),
        Json::Object(o) => o.values_mut().any(|x| replace_nth_string(x, n, with)),
        _ => false,
    }
}

fn count_strings(v: &Json) -> usize {
    match v {
        Json::String(_) => 1,
        Json::Array(a) => a.iter().map(count_strings).sum(),
        Json::Object(o) => o.values().map(count_strings).sum(),
        _ => 0,
    }
}

pub fn apply(mut q: Json, muts: &[Mutation]) -> Json {
    if !q.is_object() {
        return q;
    }
    for m in muts {
        match m {
            Mutation::Set(k, v) => {
                q[k.as_str()] = v.clone();
            }
            Mutation::Remove(i) => {
                let o = q.as_object_mut().expect("object");
                if !o.is_empty() {
                    let k = o.keys().nth(i % o.len()).cloned().expect("a key");
                    o.remove(&k);
                }
            }
            Mutation::String(i, s) => {
                let total = count_strings(&q);
                if total > 0 {
                    replace_nth_string(&mut q, &mut (i % total), s);
                }
            }
            Mutation::Nest(n) => {
                if let Some(w) = q.get("where").and_then(Json::as_str) {
                    q["where"] = Json::from(format!("{}{w}{}", "(".repeat(*n), ")".repeat(*n)));
                }
            }
        }
    }
    q
}

// ---------------------------------------------------------------------------
// GraphQL

fn gql_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "\\PC{0,10}".prop_map(|s| format!("{:?}", s)),
        select(
            &[
                "true",
                "null",
                "\"DE\"",
                "\"2025-01-01\"",
                "ASC",
                "$v",
                "1e400"
            ][..]
        )
        .prop_map(str::to_string),
    ];
    leaf.prop_recursive(5, 64, 5, |inner| {
        let key = prop_oneof![
            select(
                &[
                    "or",
                    "and",
                    "equals",
                    "notEquals",
                    "in",
                    "notIn",
                    "gt",
                    "lt",
                    "between",
                    "contains",
                    "startsWith",
                    "isNull"
                ][..]
            )
            .prop_map(str::to_string),
            select(&names().columns[..]),
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key, inner), 0..4).prop_map(|kv| {
                let parts: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", parts.join(", "))
            }),
        ]
    })
    .boxed()
}

fn gql_model_field() -> BoxedStrategy<String> {
    let fields = prop::collection::vec(
        prop_oneof![
            5 => select(&names().columns[..]),
            1 => select(&["metricTime(granularity: MONTH)", "metricTime(granularity: HOUR)", "revenue(version: 9)", "__typename", "zz_absent"][..]).prop_map(str::to_string),
        ],
        0..6,
    );
    let args = prop::collection::vec(
        prop_oneof![
            gql_value().prop_map(|v| format!("where: {v}")),
            any::<i64>().prop_map(|n| format!("limit: {n}")),
            any::<i64>().prop_map(|n| format!("offset: {n}")),
            gql_value().prop_map(|v| format!("orderBy: {v}")),
            gql_value().prop_map(|v| format!("timeRange: {v}")),
            gql_value().prop_map(|v| format!("purpose: {v}")),
            gql_value().prop_map(|v| format!("timeZone: {v}")),
        ],
        0..4,
    );
    (select(&names().models[..]), args, fields)
        .prop_map(|(m, a, f)| {
            let args = if a.is_empty() {
                String::new()
            } else {
                format!("({})", a.join(", "))
            };
            format!("{m}{args} {{ {} }}", f.join(" "))
        })
        .boxed()
}

/// A GraphQL document.
pub fn graphql_doc() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::collection::vec(gql_model_field(), 1..3).prop_map(|f| {
            let aliased: Vec<String> = f.iter().enumerate().map(|(i, x)| format!("a{i}: {x}")).collect();
            format!("{{ {} }}", aliased.join(" "))
        }),
        1 => select(&[
            "{ models { name } }", "{ metrics { name } }", "{ dimensions { name } }",
            "{ __schema { types { name fields { name } } } }", "query Q($v: Int) { orders(limit: $v) { revenue } }",
            "mutation { x }", "subscription { x }", "{ ...F } fragment F on Query { models { name } }",
            "{ ...F } fragment F on Query { ...F }",
        ][..]).prop_map(str::to_string),
        1 => (1usize..max_depth(), select(&[("{ orders(where: ", ") { revenue } }", "{or: [", "]}"), ("{ ", " }", "__schema { types { ", " } }"), ("{ orders(where: {customers__country: {in: ", "}}) { revenue } }", "[", "]")][..]))
            .prop_map(|(n, (pre, post, o, c))| format!("{pre}{}{{customers__country: {{equals: \"DE\"}}}}{}{post}", o.repeat(n), c.repeat(n))),
        1 => prop::collection::vec(select(&["{", "}", "(", ")", "[", "]", ":", "...", "$", "@", "orders", "revenue", "\"x\"", "1", "query", "fragment", "on", ",", "!", "="][..]), 0..40)
            .prop_map(|t| t.join(" ")),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Postgres

fn pg_column() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(&names().columns[..]),
        1 => select(&names().metrics[..]).prop_map(|m| format!("SUM({m})")),
        1 => select(&names().metrics[..]).prop_map(|m| format!("MEASURE({m})")),
        1 => select(&["DATE_TRUNC('month', metric_time)", "DATE_TRUNC('fortnight', metric_time)", "*", "COUNT(*)", "1", "NULL", "current_user", "version()"][..]).prop_map(str::to_string),
        1 => pg_expr().prop_map(|e| format!("({e})")),
    ]
    .boxed()
}

fn pg_expr() -> BoxedStrategy<String> {
    expr().prop_map(|e| e.replace('.', "__")).boxed()
}

fn pg_table() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(&names().models[..]),
        2 => select(&["pg_catalog.pg_class", "pg_class", "information_schema.columns", "information_schema.tables", "pg_catalog.pg_attribute", "public.orders", "linear_30d", "zz_absent", "(SELECT 1) AS s", "orders o, sessions s", "read_text('accord.yaml')", "range(10)"][..]).prop_map(str::to_string),
    ]
    .boxed()
}

fn pg_select() -> BoxedStrategy<String> {
    (
        prop::collection::vec(pg_column(), 1..5),
        pg_table(),
        prop::option::of(prop_oneof![
            pg_expr(),
            deep().prop_map(|d| d.replace('.', "__"))
        ]),
        prop::option::of(prop::collection::vec(
            prop_oneof![
                select(&["1", "2", "3"][..]).prop_map(str::to_string),
                pg_column()
            ],
            1..3,
        )),
        prop::option::of(pg_expr()),
        prop::option::of((pg_column(), select(&["", " DESC", " ASC NULLS FIRST"][..]))),
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            Just("ALL".to_string()),
            Just("$1".to_string())
        ]),
    )
        .prop_map(|(cols, t, w, g, h, o, l)| {
            let mut s = format!("SELECT {} FROM {t}", cols.join(", "));
            if let Some(w) = w {
                s += &format!(" WHERE {w}");
            }
            if let Some(g) = g {
                s += &format!(" GROUP BY {}", g.join(", "));
            }
            if let Some(h) = h {
                s += &format!(" HAVING {h}");
            }
            if let Some((c, d)) = o {
                s += &format!(" ORDER BY {c}{d}");
            }
            if let Some(l) = l {
                s += &format!(" LIMIT {l}");
            }
            s
        })
        .boxed()
}

/// A Postgres statement.
pub fn pg_statement() -> BoxedStrategy<String> {
    prop_oneof![
        6 => pg_select(),
        1 => pg_select().prop_map(|s| format!("WITH x AS (SELECT 1) {s}")),
        1 => pg_select().prop_map(|s| format!("DECLARE c CURSOR FOR {s}")),
        1 => select(&[
            "SET accord.purpose = 'marketing'", "SET search_path TO public", "SHOW server_version",
            "BEGIN", "COMMIT", "FETCH 10 FROM c", "CLOSE ALL", "DISCARD ALL", "RESET ALL",
            "WITH x AS (SELECT 1) DELETE FROM pg_catalog.pg_class", "COPY orders TO STDOUT",
            "EXPLAIN SELECT revenue FROM orders", "SELECT 1; SELECT 2", "", ";", "--",
            "SELECT * FROM pg_catalog.pg_class WHERE relname = 'orders'",
        ][..]).prop_map(str::to_string),
        1 => deep().prop_map(|d| format!("SELECT {d}")),
        1 => weird_string(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// Definitions YAML

const YAML_LINES: &[&str] = &[
    "  - name: x",
    "    filter: \"1 = 1 OR\"",
    "    type: ratio",
    "    measure: orders.zz",
    "metrics:",
    "models:",
    "roles:",
    "- [",
    "{{{{",
    "&a [*a, *a]",
    "*undefined_alias",
    "!!binary aGVsbG8=",
    "? complex key",
    "    numerator: revenue",
    "    denominator: revenue",
    "\t- tab",
    "---",
    "...",
    "%YAML 1.1",
    "    filter: \"{{ claims.region }}\"",
    "        sql: \"SELECT 1; DROP TABLE x\"",
    "    min_group_size: -1",
    "    min_group_size: 99999999999999999999",
    "  - name: \u{202e}evil",
    "key: value: value",
];

#[derive(Debug, Clone)]
pub enum YamlEdit {
    DeleteLine(usize),
    DuplicateLine(usize),
    ReplaceValue(usize, String),
    InsertLine(usize, String),
    Indent(usize, usize),
    InsertChar(usize, char),
    Truncate(usize),
    /// A deep flow collection or a long filter chain at a line.
    Deep(usize, usize, bool),
}

pub fn yaml_edit() -> BoxedStrategy<YamlEdit> {
    let line_text = prop_oneof![select(YAML_LINES).prop_map(str::to_string), weird_string()];
    prop_oneof![
        2 => any::<usize>().prop_map(YamlEdit::DeleteLine),
        1 => any::<usize>().prop_map(YamlEdit::DuplicateLine),
        3 => (any::<usize>(), prop_oneof![weird_string(), where_text()]).prop_map(|(i, s)| YamlEdit::ReplaceValue(i, s)),
        2 => (any::<usize>(), line_text).prop_map(|(i, s)| YamlEdit::InsertLine(i, s)),
        1 => (any::<usize>(), 0usize..9).prop_map(|(i, n)| YamlEdit::Indent(i, n)),
        1 => (any::<usize>(), any::<char>()).prop_map(|(i, c)| YamlEdit::InsertChar(i, c)),
        1 => any::<usize>().prop_map(YamlEdit::Truncate),
        1 => (any::<usize>(), 1usize..max_depth(), any::<bool>()).prop_map(|(i, n, f)| YamlEdit::Deep(i, n, f)),
    ]
    .boxed()
}

fn floor_char(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

pub fn edit_yaml(text: &str, edits: &[YamlEdit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            YamlEdit::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            YamlEdit::DuplicateLine(i) if !lines.is_empty() => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            YamlEdit::ReplaceValue(i, v) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                if let Some(p) = l.find(": ") {
                    *l = format!("{}: {:?}", &l[..p], v);
                }
            }
            YamlEdit::InsertLine(i, s) => lines.insert(i % n, s.clone()),
            YamlEdit::Indent(i, k) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                *l = format!("{}{}", " ".repeat(*k), l.trim_start());
            }
            YamlEdit::InsertChar(i, c) if !lines.is_empty() => {
                let l = &mut lines[i % n];
                let at = floor_char(l, i % (l.len() + 1));
                l.insert(at, *c);
            }
            YamlEdit::Truncate(i) => lines.truncate(i % (n + 1)),
            YamlEdit::Deep(i, depth, flow) => {
                let s = if *flow {
                    format!("deep: {}1{}", "[".repeat(*depth), "]".repeat(*depth))
                } else {
                    format!("    filter: \"{}\"", vec!["1 = 1"; *depth].join(" OR "))
                };
                lines.insert(i % n, s);
            }
            _ => {}
        }
    }
    lines.join("\n")
}

//! Attribution's SQL for every dialect (insta snapshots, each statement
//! parsed back by sqlparser with the dialect's parser), its refusals, and
//! the validation of `attribution:` definitions.

mod common;

use accord::access::Caller;
use accord::dialect::DialectKind;
use accord::planner::{self, ErrorCode};
use accord::query::SemanticQuery;
use common::{demo_catalog, q};
use serde_json::json;

fn matrix() -> Vec<(&'static str, SemanticQuery)> {
    let by_channel =
        |i: &str| q(json!({"metrics": ["revenue"], "attribution": i, "dimensions": ["channel"]}));
    vec![
        ("attribution_01_first_touch", by_channel("first_touch_30d")),
        ("attribution_02_last_touch", by_channel("last_touch_30d")),
        (
            "attribution_03_last_non_direct",
            by_channel("last_non_direct_30d"),
        ),
        ("attribution_04_linear", by_channel("linear_30d")),
        (
            "attribution_05_position_based",
            by_channel("position_based_30d"),
        ),
        ("attribution_06_time_decay", by_channel("time_decay_30d")),
        (
            "attribution_07_side_by_side",
            q(
                json!({"metrics": ["revenue", "orders"], "attribution": ["linear_30d", "first_touch_30d"], "dimensions": ["channel", "metric_time:month"]}),
            ),
        ),
        (
            "attribution_08_touch_time_and_filters",
            q(json!({
                "metrics": ["orders"],
                "attribution": "linear_30d",
                "dimensions": ["marketing_touches.touched_at:week", "campaign"],
                "filters": [
                    {"dimension": "channel", "op": "neq", "values": ["display"]},
                    {"dimension": "customers.region", "op": "eq", "values": ["EU"]}
                ],
                "time_range": {"start": "2025-01-01", "end": "2025-07-01"},
                "order_by": ["-orders__linear_30d"],
                "limit": 10
            })),
        ),
    ]
}

fn compile_all(query: &SemanticQuery) -> Vec<(DialectKind, Result<String, String>)> {
    let catalog = demo_catalog();
    DialectKind::ALL
        .iter()
        .map(|d| {
            (
                *d,
                planner::compile(&catalog, query, &Caller::operator(), *d)
                    .map(|(_, sql)| sql)
                    .map_err(|e| e.display_full()),
            )
        })
        .collect()
}

#[test]
fn sql_snapshots_per_dialect() {
    for (name, query) in &matrix() {
        let mut text = format!(
            "-- query: {}\n",
            serde_json::to_string(query).unwrap_or_default()
        );
        for (d, sql) in compile_all(query) {
            text.push_str(&format!("\n-- dialect: {d}\n"));
            match sql {
                Ok(s) => text.push_str(&s),
                Err(e) => text.push_str(&format!("-- error: {e}")),
            }
            text.push('\n');
        }
        insta::assert_snapshot!(*name, text);
    }
}

#[test]
fn every_statement_parses_with_its_sqlparser_dialect() {
    let mut compiled = 0;
    for (name, query) in matrix() {
        for (d, sql) in compile_all(&query) {
            let sql = match sql {
                Ok(s) => s,
                // SQLite has no power function: time decay is refused there.
                Err(e) => {
                    assert!(
                        d == DialectKind::Sqlite && e.contains("power"),
                        "{name} on {d}: {e}"
                    );
                    continue;
                }
            };
            let dialect_name = &d.dialect().sqlparser;
            let parser_dialect = sqlparser::dialect::dialect_from_str(dialect_name)
                .unwrap_or_else(|| panic!("sqlparser has no dialect `{dialect_name}`"));
            let parsed = sqlparser::parser::Parser::parse_sql(parser_dialect.as_ref(), &sql);
            assert!(
                parsed.is_ok(),
                "{name} on {d} does not parse: {:?}\n{sql}",
                parsed.err()
            );
            assert_eq!(parsed.map(|s| s.len()).unwrap_or(0), 1, "{name} on {d}");
            compiled += 1;
        }
    }
    assert!(compiled >= 75, "compiled {compiled}");
}

#[test]
fn the_join_is_on_subject_and_window_never_a_cross_join() {
    let catalog = demo_catalog();
    let query =
        q(json!({"metrics": ["revenue"], "attribution": "linear_30d", "dimensions": ["channel"]}));
    let (_, sql) =
        planner::compile(&catalog, &query, &Caller::operator(), DialectKind::Duckdb).unwrap();
    assert!(!sql.contains("CROSS JOIN"), "{sql}");
    assert!(
        sql.contains(r#"LEFT JOIN "attr_touches" AS "t""#)
            && sql.contains(r#""t"."subject" = "c"."subject""#)
            && sql.contains(r#""t"."touched_at" <= "c"."converted_at""#),
        "{sql}"
    );
}

fn err(v: serde_json::Value) -> planner::PlanError {
    planner::plan(&demo_catalog(), &q(v), &Caller::operator()).unwrap_err()
}

#[test]
fn bad_requests_are_refused_clearly() {
    let e = err(json!({"metrics": ["revenue"], "attribution": "linear_3d"}));
    assert_eq!(e.code, ErrorCode::UnknownMetric);
    assert_eq!(e.field.as_deref(), Some("attribution[0]"));
    assert_eq!(e.suggestions, vec!["linear_30d"]);

    let e = err(json!({"metrics": ["average_order_value"], "attribution": "linear_30d"}));
    assert!(e.message.contains("ratio metric"), "{}", e.message);

    let e = err(json!({"metrics": ["median_order_value"], "attribution": "linear_30d"}));
    assert!(e.message.contains("`median`"), "{}", e.message);

    let e = err(json!({"metrics": ["sessions"], "attribution": "linear_30d"}));
    assert!(
        e.message.contains("conversions of `orders`"),
        "{}",
        e.message
    );

    let e =
        err(json!({"metrics": ["revenue"], "attribution": "linear_30d", "dimensions": ["chanel"]}));
    assert_eq!(e.code, ErrorCode::UnknownDimension);
    assert!(e.suggestions.contains(&"channel".to_string()), "{e:?}");

    let e = err(
        json!({"metrics": ["revenue"], "attribution": "linear_30d", "dimensions": ["customers.region"]}),
    );
    assert_eq!(e.code, ErrorCode::UnknownDimension, "{e:?}");

    let e =
        err(json!({"metrics": ["revenue"], "attribution": "linear_30d", "where": "channel = 'x'"}));
    assert_eq!(e.code, ErrorCode::Unsupported);

    let e = err(json!({"metrics": ["revenue"], "attribution": ["linear_30d", "linear_30d"]}));
    assert!(e.message.contains("twice"), "{}", e.message);
}

/// A size limit is `query_too_complex` from the planner itself (interfaces
/// map the code, never the message).
#[test]
fn more_attribution_instances_than_the_limit_is_query_too_complex() {
    let names: Vec<String> = (0..11).map(|i| format!("instance_{i}")).collect();
    let e = err(json!({"metrics": ["revenue"], "attribution": names}));
    assert_eq!(e.code, ErrorCode::QueryTooComplex, "{e:?}");
    assert_eq!(e.field.as_deref(), Some("attribution"));
    assert!(e.message.contains("at most 10"), "{}", e.message);
    // As are too many metrics in an attributed query.
    let metrics: Vec<String> = (0..11).map(|i| format!("m{i}")).collect();
    let e = err(json!({"metrics": metrics, "attribution": "linear_30d"}));
    assert_eq!(e.code, ErrorCode::QueryTooComplex, "{e:?}");
}

#[test]
fn time_decay_is_refused_on_sqlite_not_approximated() {
    let catalog = demo_catalog();
    let query = q(json!({"metrics": ["revenue"], "attribution": "time_decay_30d"}));
    let e =
        planner::compile(&catalog, &query, &Caller::operator(), DialectKind::Sqlite).unwrap_err();
    assert_eq!(e.code, ErrorCode::Unsupported);
    assert!(e.message.contains("power"), "{}", e.message);
}

#[test]
fn the_rest_body_takes_one_name_or_a_list() {
    let one = q(json!({"metrics": ["revenue"], "attribution": "linear_30d"}));
    assert_eq!(one.attribution, vec!["linear_30d"]);
    let many = q(json!({"metrics": ["revenue"], "attribution": ["linear_30d", "first_touch_30d"]}));
    assert_eq!(many.attribution.len(), 2);
    let none = q(json!({"metrics": ["revenue"]}));
    assert!(none.attribution.is_empty());
    assert!(
        !serde_json::to_string(&none)
            .unwrap()
            .contains("attribution")
    );
}

const BASE: &str = r#"models:
  - name: customers
    source: {table: customers}
    entities:
      - {name: customer, type: primary, expr: customer_id}
  - name: purchases
    subject: customer
    source: {table: purchases}
    entities:
      - {name: purchase, type: primary, expr: purchase_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: purchased_at, type: time}
    defaults: {agg_time_dimension: purchased_at}
    measures:
      - {name: amount, agg: sum}
      - {name: median_amount, agg: median, expr: amount}
  - name: touches
    subject: customer
    source: {table: touches}
    entities:
      - {name: touch, type: primary, expr: touch_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: touched_at, type: time}
      - {name: channel, type: categorical}
      - {name: cost, type: number}
metrics:
  - {name: revenue, type: simple, measure: purchases.amount}
  - {name: median_revenue, type: simple, measure: purchases.median_amount}
  - {name: double_revenue, type: derived, expr: revenue * 2, inputs: [revenue]}
"#;

fn errors(attribution: &str) -> Vec<String> {
    let text = format!("{BASE}attribution:\n{attribution}");
    match accord::definitions::load_str("defs.yml", &text) {
        Ok(_) => vec![],
        Err(d) => d.0.iter().map(|x| x.to_string()).collect(),
    }
}

#[test]
fn definitions_are_validated_with_positions_and_suggestions() {
    let ok = errors(
        "  - name: lin
    model: linear
    conversion: revenue
    touches: {model: touches, time: touched_at, channel: channel}
    lookback: {days: 30}
",
    );
    assert!(ok.is_empty(), "{ok:?}");

    let e = errors(
        "  - name: lin
    model: linaer
    conversion: revenu
    touches: {model: touchs, time: touched_at, channel: channel}
    lookback: {days: 30}
",
    );
    assert_eq!(
        e,
        vec![
            "defs.yml:34:12: attribution.lin.model: unknown attribution model `linaer`; did you mean `linear`?",
            "defs.yml:35:17: attribution.lin.conversion: unknown metric `revenu`; did you mean `revenue`?",
            "defs.yml:36:22: attribution.lin.touches.model: unknown model `touchs`; did you mean `touches`?",
        ],
    );

    let e = errors(
        "  - name: med
    model: position_based
    position_based: {first: 0.7, last: 0.5}
    conversion: median_revenue
    touches: {model: touches, time: channel, channel: chanel, dimensions: [cost]}
    lookback: {}
",
    );
    let text = e.join("\n");
    for want in [
        "defs.yml:35:21: attribution.med.position_based: `first` and `last` are fractions between 0 and 1 whose sum is at most 1",
        "defs.yml:36:17: attribution.med.conversion: metric `median_revenue` aggregates with `median`",
        "attribution.med.touches.time: `touches.channel` is categorical, not a time dimension",
        "attribution.med.touches.channel: model `touches` has no dimension `chanel`; did you mean `channel`?",
        "attribution.med.lookback: a lookback needs `days`, `touches` or both",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }

    let e = errors(
        "  - name: dec
    model: time_decay
    conversion: double_revenue
    touches: {model: touches, time: touched_at, channel: channel}
    lookback: {touches: 0}
  - name: lnd
    model: last_non_direct
    half_life_days: 3
    conversion: revenue
    touches: {model: touches, time: touched_at, channel: channel}
    lookback: {days: 9999}
  - name: lnd
    model: linear
    conversion: revenue
    touches: {model: touches, time: touched_at, channel: channel}
    lookback: {days: 1}
",
    );
    let text = e.join("\n");
    for want in [
        "attribution.dec.half_life_days: a time_decay model needs `half_life_days`",
        "attribution.dec.conversion: metric `double_revenue` is a derived metric; the conversion metric must be a simple sum or count metric",
        "attribution.dec.lookback.touches: must be between 1 and 1000",
        "attribution.lnd.half_life_days: `half_life_days` applies only to `model: time_decay`",
        "attribution.lnd.direct_channels: a last_non_direct model needs `direct_channels`",
        "attribution.lnd.lookback.days: must be between 1 and 3660",
        "attribution.lnd.name: duplicate attribution `lnd`",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
}

#[test]
fn attribution_definitions_version_the_catalog() {
    let a = accord::definitions::load_str("defs.yml", &format!(
        "{BASE}attribution:\n  - name: lin\n    model: linear\n    conversion: revenue\n    touches: {{model: touches, time: touched_at, channel: channel}}\n    lookback: {{days: 30}}\n"
    ))
    .unwrap();
    let b = accord::definitions::load_str("defs.yml", &format!(
        "{BASE}attribution:\n  - name: lin\n    model: linear\n    conversion: revenue\n    touches: {{model: touches, time: touched_at, channel: channel}}\n    lookback: {{days: 14}}\n"
    ))
    .unwrap();
    assert_ne!(a.version, b.version);
    assert_eq!(a.attributions[0].lookback.days, Some(30));
    assert_eq!(b.attributions[0].lookback.days, Some(14));
}

//! The compiler's output for a matrix of queries × every dialect: insta
//! snapshots of the SQL (review them as SQL, they are what runs), and a check
//! that sqlparser's matching dialect parses every statement.

mod common;

use accord::dialect::DialectKind;
use accord::planner;
use accord::query::SemanticQuery;
use common::{demo_catalog, q};
use serde_json::json;

fn matrix() -> Vec<(&'static str, SemanticQuery)> {
    vec![
        ("01_simple_total", q(json!({"metrics": ["revenue"]}))),
        (
            "02_simple_by_own_dimension",
            q(json!({"metrics": ["orders"], "dimensions": ["orders.status"]})),
        ),
        (
            "03_by_joined_dimension",
            q(json!({"metrics": ["revenue"], "dimensions": ["customers.region"]})),
        ),
        (
            "04_metric_time_month",
            q(json!({"metrics": ["revenue"], "dimensions": ["metric_time:month"]})),
        ),
        (
            "05_grain_hour",
            q(
                json!({"metrics": ["sessions"], "dimensions": ["metric_time:hour"], "time_range": {"start": "2025-03-01", "end": "2025-03-02"}}),
            ),
        ),
        (
            "06_grain_day",
            q(json!({"metrics": ["sessions"], "dimensions": ["metric_time:day"]})),
        ),
        (
            "07_grain_week",
            q(json!({"metrics": ["orders"], "dimensions": ["metric_time:week"]})),
        ),
        (
            "08_grain_quarter",
            q(json!({"metrics": ["revenue"], "dimensions": ["metric_time:quarter"]})),
        ),
        (
            "09_grain_year_explicit_dimension",
            q(json!({"metrics": ["revenue"], "dimensions": ["orders.ordered_at:year"]})),
        ),
        (
            "10_ratio_same_model",
            q(json!({"metrics": ["average_order_value"], "dimensions": ["customers.segment"]})),
        ),
        (
            "11_ratio_across_models",
            q(json!({"metrics": ["conversion_rate"], "dimensions": ["metric_time:month"]})),
        ),
        (
            "12_derived",
            q(json!({"metrics": ["net_revenue"], "dimensions": ["metric_time:month"]})),
        ),
        (
            "13_derived_across_models",
            q(json!({"metrics": ["return_on_ad_spend"]})),
        ),
        (
            "14_shared_scan_many_metrics",
            q(
                json!({"metrics": ["revenue", "orders", "average_order_value", "refund_rate", "discounts", "cancelled_orders"], "dimensions": ["orders.currency"]}),
            ),
        ),
        (
            "15_three_models_stitched",
            q(
                json!({"metrics": ["revenue", "sessions", "tickets"], "dimensions": ["metric_time:week"]}),
            ),
        ),
        (
            "16_three_hop_join",
            q(json!({"metrics": ["units_sold"], "dimensions": ["accounts.plan"]})),
        ),
        (
            "17_filter_through_join_in_metric",
            q(
                json!({"metrics": ["new_customers", "returning_customers", "repeat_purchase_rate"], "dimensions": ["metric_time:month"]}),
            ),
        ),
        (
            "18_structured_filters_all_ops",
            q(
                json!({"metrics": ["revenue"], "dimensions": ["customers.country"], "filters": [
                    {"dimension": "customers.region", "op": "in", "values": ["EU", "NA"]},
                    {"dimension": "customers.segment", "op": "neq", "values": ["enterprise"]},
                    {"dimension": "customers.email", "op": "contains", "values": ["@example"]},
                    {"dimension": "customers.country", "op": "starts_with", "values": ["D"]},
                    {"dimension": "customers.acquisition_channel", "op": "is_not_null"}
                ]}),
            ),
        ),
        (
            "19_filter_numeric_between",
            q(
                json!({"metrics": ["tickets"], "dimensions": ["support_tickets.priority"], "filters": [{"dimension": "support_tickets.csat_score", "op": "between", "values": [1, 3]}]}),
            ),
        ),
        (
            "20_filter_time_gte_lt",
            q(
                json!({"metrics": ["orders"], "filters": [{"dimension": "orders.ordered_at", "op": "gte", "values": ["2025-06-01"]}, {"dimension": "orders.ordered_at", "op": "lt", "values": ["2025-07-01 00:00:00"]}]}),
            ),
        ),
        (
            "21_where_expression",
            q(
                json!({"metrics": ["revenue"], "dimensions": ["customers.region"], "where": "customers.segment = 'smb' OR (customers.country IN ('DE', 'FR') AND NOT customers.is_test)"}),
            ),
        ),
        (
            "22_time_range",
            q(
                json!({"metrics": ["revenue", "orders"], "dimensions": ["metric_time:day"], "time_range": {"start": "2025-11-01", "end": "2025-12-01"}}),
            ),
        ),
        (
            "23_order_limit_offset",
            q(
                json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"], "order_by": ["-revenue"], "limit": 5, "offset": 10}),
            ),
        ),
        (
            "24_offset_only",
            q(json!({"metrics": ["orders"], "dimensions": ["orders.status"], "offset": 1})),
        ),
        (
            "25_median_and_percentile",
            q(
                json!({"metrics": ["median_order_value", "p90_order_value"], "dimensions": ["customers.region"]}),
            ),
        ),
        (
            "26_sum_boolean_ratio",
            q(
                json!({"metrics": ["logged_in_sessions", "logged_in_share"], "dimensions": ["sessions.channel"]}),
            ),
        ),
        (
            "27_count_distinct_by_boolean",
            q(
                json!({"metrics": ["active_customers", "signups"], "dimensions": ["metric_time:month"]}),
            ),
        ),
        (
            "28_post_aggregation_filter",
            q(
                json!({"metrics": ["revenue", "orders"], "dimensions": ["customers.country"], "filters": [{"dimension": "orders", "op": "gte", "values": [10]}]}),
            ),
        ),
        (
            "29_post_filter_stitched",
            q(
                json!({"metrics": ["revenue", "sessions"], "dimensions": ["metric_time:month"], "filters": [{"dimension": "sessions", "op": "gt", "values": [0]}]}),
            ),
        ),
        (
            "30_entity_as_dimension",
            q(
                json!({"metrics": ["orders", "revenue"], "dimensions": ["orders.customer"], "order_by": [{"field": "revenue", "desc": true}], "limit": 10}),
            ),
        ),
        (
            "31_product_dimensions_via_items",
            q(
                json!({"metrics": ["units_sold"], "dimensions": ["products.category", "products.brand"]}),
            ),
        ),
        (
            "32_consent_and_identity",
            q(
                json!({"metrics": ["marketing_consent_grants", "consent_withdrawals", "linked_visitors"], "dimensions": ["metric_time:quarter"]}),
            ),
        ),
        (
            "33_bare_dimension_name",
            q(json!({"metrics": ["tickets", "urgent_tickets"], "dimensions": ["priority"]})),
        ),
        (
            "34_events_funnel_counts",
            q(
                json!({"metrics": ["page_views", "add_to_carts", "checkouts", "purchase_events", "cart_to_purchase_rate"], "dimensions": ["products.category"], "filters": [{"dimension": "events.page", "op": "is_not_null"}]}),
            ),
        ),
        (
            "35_null_in_list",
            q(
                json!({"metrics": ["orders"], "dimensions": ["orders.channel"], "filters": [{"dimension": "orders.channel", "op": "in", "values": ["phone", null]}]}),
            ),
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
                planner::compile(&catalog, query, &accord::access::Caller::operator(), *d)
                    .map(|(_, sql)| sql)
                    .map_err(|e| e.display_full()),
            )
        })
        .collect()
}

#[test]
fn sql_snapshots_per_dialect() {
    let queries = matrix();
    assert!(queries.len() >= 30);
    for (name, query) in &queries {
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
            let Ok(sql) = sql else {
                // Only capability gaps may fail: exact median/percentile.
                let err = sql.unwrap_err();
                assert!(
                    err.contains("median") || err.contains("percentile"),
                    "{name} on {d}: {err}"
                );
                continue;
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
            assert_eq!(
                parsed.map(|s| s.len()).unwrap_or(0),
                1,
                "{name} on {d}: one statement"
            );
            compiled += 1;
        }
    }
    assert!(compiled >= 300, "compiled {compiled}");
}

#[test]
fn capability_gaps_are_refused_not_approximated() {
    let catalog = demo_catalog();
    let query = q(json!({"metrics": ["median_order_value"]}));
    for d in [
        DialectKind::Mysql,
        DialectKind::Sqlite,
        DialectKind::Bigquery,
        DialectKind::Trino,
    ] {
        let err =
            planner::compile(&catalog, &query, &accord::access::Caller::operator(), d).unwrap_err();
        assert_eq!(err.code, planner::ErrorCode::Unsupported, "{d}");
        assert!(err.message.contains("median"), "{d}: {}", err.message);
    }
}

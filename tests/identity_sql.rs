//! The SQL of an identity build and of a stitched metric, for every
//! dialect: insta snapshots (review them as SQL, they are what runs) and a
//! check that sqlparser's matching dialect parses every statement.

mod common;

use accord::dialect::DialectKind;
use accord::identity::compile;
use accord::planner;
use chrono::NaiveDate;
use common::{demo_catalog, q};
use serde_json::json;

fn run_at() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 1, 2)
        .and_then(|d| d.and_hms_opt(3, 4, 5))
        .expect("valid time")
}

fn parses(d: DialectKind, sql: &str) {
    let name = &d.dialect().sqlparser;
    let parser = sqlparser::dialect::dialect_from_str(name)
        .unwrap_or_else(|| panic!("sqlparser has no dialect `{name}`"));
    let parsed = sqlparser::parser::Parser::parse_sql(parser.as_ref(), sql);
    assert!(
        parsed.is_ok(),
        "{d}: does not parse: {:?}\n{sql}",
        parsed.err()
    );
    assert_eq!(
        parsed.map(|s| s.len()).unwrap_or(0),
        1,
        "{d}: one statement\n{sql}"
    );
}

#[test]
fn build_script_snapshots_and_parses_per_dialect() {
    let catalog = demo_catalog();
    let mut total = 0;
    for d in DialectKind::ALL {
        let stmts = compile::script(&catalog, d, run_at()).expect("script");
        let incremental = compile::incremental_seed(&catalog, d).expect("incremental seed");
        for s in stmts.iter().chain(&incremental) {
            parses(d, s);
            total += 1;
        }
        let mut text = format!("-- accord identity compile --dialect {d}\n\n");
        for s in &stmts {
            text.push_str(s);
            text.push_str(";\n\n");
        }
        text.push_str("-- incremental seed (replaces the full seed statements)\n\n");
        for s in &incremental {
            text.push_str(s);
            text.push_str(";\n\n");
        }
        insta::assert_snapshot!(format!("identity_build_{d}"), text);
    }
    assert!(total > 500, "{total} statements");
}

#[test]
fn stitched_metrics_snapshot_and_parse_per_dialect() {
    let catalog = demo_catalog();
    let query = q(json!({
        "metrics": ["stitched_visitors", "credited_sessions", "anonymous_sessions_credited", "visitors"],
        "dimensions": ["metric_time:month"]
    }));
    let mut text = String::new();
    for d in DialectKind::ALL {
        let (_, sql) = planner::compile(&catalog, &query, &accord::access::Caller::operator(), d)
            .unwrap_or_else(|e| panic!("{d}: {}", e.display_full()));
        parses(d, &sql);
        text.push_str(&format!("-- dialect: {d}\n{sql}\n\n"));
    }
    insta::assert_snapshot!("identity_stitched_metrics", text);
}

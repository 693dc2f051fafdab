//! User values reach SQL only as literals escaped for the dialect: every
//! hostile value must parse back, with sqlparser's matching dialect, to
//! exactly the string that was sent.

mod common;

use std::ops::ControlFlow;

use accord::dialect::DialectKind;
use accord::planner;
use common::{demo_catalog, q};
use serde_json::json;
use sqlparser::ast::{Expr, Value, visit_expressions};

const HOSTILE: &[&str] = &[
    "it's",
    "''",
    "back\\slash",
    "\\'",
    "trailing backslash \\",
    "'; DROP TABLE orders; --",
    "\" OR 1=1 --",
    "unicode ✓ 日本語 — ünïcödé 🚀",
    "new\nline and tab\t",
    "100% _match_",
    "$$dollar$$",
    "`backtick`",
];

fn string_literals(sql: &str, d: DialectKind) -> Vec<String> {
    let parser_dialect =
        sqlparser::dialect::dialect_from_str(&d.dialect().sqlparser).expect("dialect");
    let stmts = sqlparser::parser::Parser::parse_sql(parser_dialect.as_ref(), sql)
        .unwrap_or_else(|e| panic!("{d}: does not parse: {e}\n{sql}"));
    let mut found = Vec::new();
    let _ = visit_expressions(&stmts, |e| {
        if let Expr::Value(v) = e
            && let Value::SingleQuotedString(s) = &v.value
        {
            found.push(s.clone());
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

#[test]
fn hostile_values_round_trip_in_every_dialect() {
    let catalog = demo_catalog();
    for value in HOSTILE {
        for op in ["eq", "contains", "starts_with", "in"] {
            let query = q(json!({
                "metrics": ["orders"],
                "dimensions": ["customers.region"],
                "filters": [{"dimension": "customers.email", "op": op, "values": [value]}]
            }));
            for d in DialectKind::ALL {
                let (_, sql) =
                    planner::compile(&catalog, &query, &accord::access::Caller::operator(), d)
                        .unwrap_or_else(|e| panic!("{d}: {e}"));
                let literals = string_literals(&sql, d);
                assert!(
                    literals.iter().any(|l| l == value),
                    "{d} {op}: {value:?} did not round-trip; literals {literals:?}\n{sql}"
                );
            }
        }
    }
}

#[test]
fn hostile_values_in_where_expressions_stay_literals() {
    let catalog = demo_catalog();
    for value in HOSTILE {
        // The caller writes SQL; its literal is re-rendered, never pasted.
        let escaped = value.replace('\'', "''");
        let query =
            q(json!({"metrics": ["orders"], "where": format!("customers.email = '{escaped}'")}));
        for d in DialectKind::ALL {
            let (_, sql) =
                planner::compile(&catalog, &query, &accord::access::Caller::operator(), d)
                    .unwrap_or_else(|e| panic!("{d}: {e}"));
            assert!(
                string_literals(&sql, d).iter().any(|l| l == value),
                "{d}: {value:?}\n{sql}"
            );
        }
    }
}

#[test]
fn injection_attempts_in_structure_are_refused() {
    let catalog = demo_catalog();
    let bad = [
        json!({"metrics": ["orders"], "where": "1=1; DROP TABLE orders"}),
        json!({"metrics": ["orders"], "where": "customers.email IN (SELECT email FROM customers)"}),
        json!({"metrics": ["orders"], "where": "read_csv('/etc/passwd') IS NULL"}),
        json!({"metrics": ["orders"], "where": "pg_sleep(10) IS NULL"}),
        json!({"metrics": ["orders"], "dimensions": ["customers.region; DROP TABLE x"]}),
        json!({"metrics": ["orders\"; DROP TABLE x; --"]}),
        json!({"metrics": ["orders"], "filters": [{"dimension": "orders.ordered_at", "op": "gte", "values": ["2025-01-01'; DROP TABLE x; --"]}]}),
        json!({"metrics": ["orders"], "filters": [{"dimension": "support_tickets.csat_score", "op": "eq", "values": ["1 OR 1=1"]}]}),
        json!({"metrics": ["orders"], "filters": [{"dimension": "customers.email", "op": "eq", "values": ["nul\u{0}byte"]}]}),
    ];
    for b in bad {
        let query = q(b.clone());
        for d in DialectKind::ALL {
            assert!(
                planner::compile(&catalog, &query, &accord::access::Caller::operator(), d).is_err(),
                "{d} accepted {b}"
            );
        }
    }
}

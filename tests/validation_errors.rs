//! Every class of definitions error: the message, the field, the position
//! (file:line:column) and the suggestion, and that all errors of a run are
//! reported together.

use accord::definitions::{SourceFile, load_files, load_str};

const BASE: &str = r#"
models:
  - name: orders
    source: {table: orders}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: customer, type: foreign, expr: customer_id}
    dimensions:
      - {name: status, type: categorical}
      - {name: ordered_at, type: time, granularity: day}
    measures:
      - {name: amount, agg: sum}
      - {name: order_count, agg: count}
  - name: customers
    source: {table: customers}
    entities:
      - {name: customer, type: primary, expr: customer_id}
    dimensions:
      - {name: region, type: categorical}
"#;

fn errors(extra: &str) -> String {
    let text = format!("{BASE}{extra}");
    match load_str("defs.yml", &text) {
        Ok(_) => panic!("expected errors for:\n{extra}"),
        Err(d) => d.to_string(),
    }
}

fn assert_has(out: &str, needles: &[&str]) {
    for n in needles {
        assert!(out.contains(n), "missing `{n}` in:\n{out}");
    }
}

#[test]
fn base_is_valid() {
    load_str("defs.yml", BASE).unwrap();
}

#[test]
fn unknown_dimension_in_filter_suggests() {
    let out = errors(
        "metrics:\n  - {name: eu_revenue, type: simple, measure: orders.amount, filter: \"customers.regoin = 'EU'\"}\n",
    );
    assert_has(
        &out,
        &[
            "defs.yml:21:70",
            "metrics.eu_revenue.filter",
            "unknown dimension `customers.regoin`",
            "did you mean `customers.region`?",
        ],
    );
}

#[test]
fn unknown_measure_suggests() {
    let out = errors("metrics:\n  - name: revenue\n    type: simple\n    measure: orders.amout\n");
    assert_has(
        &out,
        &[
            "defs.yml:23:14",
            "metrics.revenue.measure",
            "unknown measure `orders.amout`",
            "did you mean `orders.amount`?",
        ],
    );
}

#[test]
fn unknown_metric_type_and_agg_and_granularity() {
    let text = BASE
        .replace("agg: sum}", "agg: summ}")
        .replace("granularity: day", "granularity: dya")
        + "metrics:\n  - {name: x, type: simpel, measure: orders.amount}\n";
    let out = load_str("defs.yml", &text).unwrap_err().to_string();
    assert_has(
        &out,
        &[
            "unknown aggregation `summ`; did you mean `sum`?",
            "unknown granularity `dya`; did you mean `day`?",
            "unknown metric type `simpel`; did you mean `simple`?",
        ],
    );
    assert!(
        out.matches("error:").count() >= 3,
        "all errors in one run:\n{out}"
    );
}

#[test]
fn unknown_field_is_named_with_position_and_suggestion() {
    let out = load_str(
        "defs.yml",
        "models:\n  - name: a\n    source: {table: a}\n    dimenssions: []\n",
    )
    .unwrap_err()
    .to_string();
    assert_has(
        &out,
        &[
            "defs.yml:4",
            "unknown field `dimenssions`",
            "did you mean `dimensions`?",
        ],
    );
}

#[test]
fn duplicate_names() {
    let out = errors(
        "  - name: orders\n    source: {table: orders2}\nmetrics:\n  - {name: m, type: simple, measure: orders.amount}\n  - {name: m, type: simple, measure: orders.amount}\n",
    );
    assert_has(
        &out,
        &[
            "duplicate model `orders` (first defined at defs.yml:3:5)",
            "duplicate metric `m` version 1",
        ],
    );
}

#[test]
fn derived_cycle_is_reported_with_the_chain() {
    let out = errors(
        "metrics:\n  - {name: a, type: derived, expr: b + 1}\n  - {name: b, type: derived, expr: a * 2}\n",
    );
    assert_has(
        &out,
        &["metrics depend on each other in a cycle: a@1 -> b@1 -> a@1"],
    );
}

#[test]
fn self_reference_is_a_cycle() {
    let out = errors("metrics:\n  - {name: a, type: ratio, numerator: a, denominator: a}\n");
    assert_has(&out, &["cycle: a@1 -> a@1"]);
}

#[test]
fn type_misuse_sum_over_categorical() {
    let text = BASE.replace(
        "{name: amount, agg: sum}",
        "{name: amount, agg: sum, expr: status}",
    );
    let out = load_str("defs.yml", &text).unwrap_err().to_string();
    assert_has(
        &out,
        &[
            "models.orders.measures.amount.agg",
            "`sum` over `status` is a type misuse: it is declared as a categorical dimension",
        ],
    );
}

#[test]
fn unresolvable_foreign_entity_suggests() {
    let text = BASE.replace(
        "{name: customer, type: foreign, expr: customer_id}",
        "{name: custome, type: foreign, expr: customer_id}",
    );
    let out = load_str("defs.yml", &text).unwrap_err().to_string();
    assert_has(
        &out,
        &[
            "models.orders.entities.custome",
            "foreign entity `custome` matches no primary or unique entity",
            "did you mean `customer`?",
        ],
    );
}

#[test]
fn ambiguous_join_path_names_both_paths() {
    let text = r#"
models:
  - name: orders
    source: {table: orders}
    entities:
      - {name: order, type: primary, expr: order_id}
      - {name: billing_address, type: foreign, expr: billing_address_id}
      - {name: shipping_address, type: foreign, expr: shipping_address_id}
    measures:
      - {name: order_count, agg: count}
  - name: addresses
    source: {table: addresses}
    entities:
      - {name: billing_address, type: unique, expr: address_id}
      - {name: shipping_address, type: primary, expr: address_id}
    dimensions:
      - {name: country, type: categorical}
metrics:
  - {name: german_orders, type: simple, measure: orders.order_count, filter: "addresses.country = 'DE'"}
"#;
    let out = load_str("defs.yml", text).unwrap_err().to_string();
    assert_has(
        &out,
        &[
            "dimension `addresses.country` is reachable from `orders` by 2 paths",
            "orders -[billing_address]-> addresses and orders -[shipping_address]-> addresses",
            "billing_address.addresses.country",
        ],
    );
    // The explicit path resolves it.
    let fixed = text.replace(
        "filter: \"addresses.country",
        "filter: \"shipping_address.addresses.country",
    );
    load_str("defs.yml", &fixed).unwrap();
}

#[test]
fn fan_out_dimension_is_unreachable() {
    // customers → orders is one-to-many: a customer measure cannot be split
    // by an order attribute without multiplying rows.
    let text = BASE.replace("      - {name: region, type: categorical}\n", "      - {name: region, type: categorical}\n    measures:\n      - {name: customer_count, agg: count}\n")
        + "metrics:\n  - {name: c, type: simple, measure: customers.customer_count, filter: \"orders.status = 'x'\"}\n";
    let out = load_str("defs.yml", &text).unwrap_err().to_string();
    assert_has(
        &out,
        &[
            "dimension `orders.status` cannot be reached from model `customers`",
            "would multiply rows",
        ],
    );
}

#[test]
fn missing_fields_per_metric_type() {
    let out = errors(
        "metrics:\n  - {name: r, type: ratio, numerator: x}\n  - {name: d, type: derived}\n  - {name: s, type: simple}\n",
    );
    assert_has(
        &out,
        &[
            "metrics.r.denominator: a ratio metric needs both `numerator` and `denominator`",
            "metrics.d.expr: a derived metric needs `expr`",
            "metrics.s.measure: a simple metric needs `measure: <model>.<measure>`",
        ],
    );
}

#[test]
fn bad_expressions_are_refused() {
    let text = BASE.replace(
        "{name: status, type: categorical}",
        "{name: status, type: categorical, expr: \"SUM(status)\"}",
    );
    let out = load_str("defs.yml", &text).unwrap_err().to_string();
    assert_has(&out, &["a dimension cannot aggregate"]);
    let out = errors(
        "metrics:\n  - {name: m, type: simple, measure: orders.amount, filter: \"orders.status = \"}\n",
    );
    assert_has(&out, &["metrics.m.filter: cannot parse"]);
}

#[test]
fn derived_input_unknown_suggests() {
    let out = errors(
        "metrics:\n  - {name: revenue, type: simple, measure: orders.amount}\n  - {name: d, type: derived, expr: revenu * 2}\n",
    );
    assert_has(
        &out,
        &[
            "`revenu` is not an input of this metric",
            "did you mean `revenue`?",
        ],
    );
}

#[test]
fn errors_from_several_files_come_together() {
    let files = vec![
        SourceFile { path: "a.yml".into(), text: "models:\n  - name: a\n    source: {table: a}\n    measures:\n      - {name: m, agg: avrage}\n".into() },
        SourceFile { path: "b.yml".into(), text: "metrics: [\n".into() },
        SourceFile { path: "c.yml".into(), text: "metrics:\n  - {name: z, type: simple, measure: a.nope}\n".into() },
    ];
    let out = load_files(&files).unwrap_err().to_string();
    assert_has(
        &out,
        &[
            "a.yml:5:",
            "unknown aggregation `avrage`",
            "b.yml",
            "c.yml:2:",
        ],
    );
}

#[test]
fn percentile_needs_a_fraction() {
    let text = BASE.replace("{name: order_count, agg: count}", "{name: order_count, agg: count}\n      - {name: p, agg: percentile, expr: amount, percentile: 90}");
    let out = load_str("defs.yml", &text).unwrap_err().to_string();
    assert_has(
        &out,
        &["percentile must be between 0 and 1 (exclusive), got 90"],
    );
}

#[test]
fn fields_of_another_metric_type_are_refused() {
    let out = errors(
        "metrics:\n  - {name: r, type: ratio, numerator: a, denominator: b, expr: a / b}\n  - {name: a, type: simple, measure: orders.amount, inputs: [b]}\n  - {name: b, type: simple, measure: orders.order_count}\n",
    );
    assert_has(
        &out,
        &[
            "metrics.r.expr: `expr` does not apply to a ratio metric",
            "metrics.a.inputs: `inputs` does not apply to a simple metric",
        ],
    );
}

#[test]
fn derived_input_mapping_is_strict() {
    let out = errors(
        "metrics:\n  - {name: a, type: simple, measure: orders.amount}\n  - name: d\n    type: derived\n    expr: x * 2\n    inputs:\n      - {metric: a, alias: x, filtr: \"orders.status = 'x'\"}\n",
    );
    assert_has(&out, &["unknown field `filtr`"]);
    let out = errors(
        "metrics:\n  - {name: a, type: simple, measure: orders.amount}\n  - name: d\n    type: derived\n    expr: a + a\n    inputs: [a, a]\n",
    );
    assert_has(&out, &["two inputs are named `a`; give one an `alias`"]);
}

#[test]
fn metric_time_in_a_metric_filter_is_the_measures_time() {
    let text = format!(
        "{BASE}metrics:\n  - {{name: recent, type: simple, measure: orders.amount, filter: \"metric_time >= '2025-06-01'\"}}\n"
    );
    let catalog = load_str("defs.yml", &text).unwrap();
    let q: accord::query::SemanticQuery =
        serde_json::from_value(serde_json::json!({"metrics": ["recent"]})).unwrap();
    let (_, sql) = accord::planner::compile(
        &catalog,
        &q,
        &accord::access::Caller::operator(),
        accord::dialect::DialectKind::Postgres,
    )
    .unwrap();
    assert!(
        sql.contains("\"orders\".ordered_at >= TIMESTAMP '2025-06-01 00:00:00'"),
        "{sql}"
    );
}

#[test]
fn model_names_with_generated_alias_shapes_are_refused() {
    for (name, fix) in [("order__lines", "order_lines"), ("_orders", "orders")] {
        let text = BASE.replacen("name: customers", &format!("name: {name}"), 1);
        let out = match load_str("defs.yml", &text) {
            Ok(_) => panic!("`{name}` should be refused"),
            Err(d) => d.to_string(),
        };
        assert_has(
            &out,
            &[
                "defs.yml:14:11",
                &format!("models.{name}.name"),
                "reserved for generated aliases",
                &format!("try `{fix}`"),
            ],
        );
    }
}

#[test]
fn a_roles_time_grain_needs_a_minimum_group_size_and_a_known_grain() {
    let out = errors(
        "roles:\n  - {name: partner, min_group_size: 10, time_grain: mnth}\n  - {name: viewer, time_grain: month}\n",
    );
    assert_has(
        &out,
        &[
            "defs.yml:21:53",
            "roles.partner.time_grain",
            "unknown time grain `mnth`",
            "did you mean `month`?",
            "defs.yml:22:32",
            "roles.viewer.time_grain",
            "time_grain applies only to a role with min_group_size",
        ],
    );
}

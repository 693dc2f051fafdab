//! Why a metric's value is NULL, counted per rule (issue: a caller should
//! not have to guess whether a NULL is a zero denominator, a period
//! without data or rows the policies took away).
//!
//! A metric query's plan carries one [`NullProbe`] per metric: a CASE over
//! the same columns the metric is computed from, naming the first rule that
//! explains a NULL value (an index into [`NullProbe::rules`]). The probes
//! are appended to the statement only when it runs
//! ([`super::Plan::render_for_execution`]): the SQL shown to people is the
//! metric's SQL, and the executor strips the probe columns and counts them.
//!
//! What a probe may say is what the caller may know. Rows removed by a row
//! filter, missing consent, the suppression list or a minimum group size
//! are never told apart from rows that do not exist: telling them apart
//! would reveal that data the caller may not use exists (a withdrawn
//! consent, a small group). Such NULLs are [`NullRule::NoRows`] or
//! [`NullRule::EmptyPeriod`], reported with the rules in force that remove
//! rows, so the caller knows which rules could have done it.

use serde::Serialize;

use super::metrics::MetricTree;
use crate::sql::ast::*;

/// One reason a metric's value can be NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum NullRule {
    /// A ratio's denominator (or the `x` of a derived metric's
    /// `NULLIF(x, 0)`) is 0: the quotient is NULL rather than an error.
    ZeroDenominator { denominator: String },
    /// No rows of the measure's model that the caller may use fall in the
    /// group; with `filtered`, none that match the metric's own filter
    /// (a filtered count over no matching rows is NULL, not 0).
    NoRows {
        model: String,
        measure: String,
        filtered: bool,
    },
    /// A gap-filled series (time intelligence): the period has no data the
    /// caller may use for the metric `series` (the requested metric, or an
    /// input of it); `fill_nulls_with` makes it a value.
    EmptyPeriod { series: String },
    /// The inputs themselves are NULL (e.g. a sum over NULL values) or a
    /// derived expression returned NULL: none of the rules above.
    NullInputs,
}

impl NullRule {
    /// The rule in words, for warnings.
    pub fn describe(&self) -> String {
        match self {
            NullRule::ZeroDenominator { denominator } => {
                format!("the denominator `{denominator}` is 0")
            }
            NullRule::NoRows {
                model,
                measure,
                filtered: true,
            } => format!(
                "no rows of `{model}` match the filter of `{measure}` in those groups (a filtered count or sum over no rows is NULL, not 0)"
            ),
            NullRule::NoRows { model, .. } => {
                format!("no rows of `{model}` fall in those groups")
            }
            NullRule::EmptyPeriod { series } => format!(
                "those periods have no data for `{series}` (set `fill_nulls_with` on the metric to read a value instead)"
            ),
            NullRule::NullInputs => "the metric's inputs are NULL".to_string(),
        }
    }

    /// Whether rules that remove rows (row filters, consent, suppression,
    /// group sizes) could be why: then a warning names them.
    pub fn rows_missing(&self) -> bool {
        matches!(self, NullRule::NoRows { .. } | NullRule::EmptyPeriod { .. })
    }
}

/// How to tell why one output metric is NULL.
#[derive(Debug, Clone)]
pub struct NullProbe {
    /// The metric's output column.
    pub column: String,
    /// NULL when the metric's value is not NULL, else the index in
    /// `rules` of the first rule that explains it.
    pub expr: Expr,
    pub rules: Vec<NullRule>,
}

impl NullProbe {
    /// The column the probe runs as (output names never start with `__`).
    pub fn alias(i: usize) -> String {
        format!("__accord_null_{i}")
    }
}

/// A probe for a metric computed as `value` from `tree`, whose leaves are
/// spelt by `leaf` and explained by `leaf_rule`.
pub(super) fn probe(
    column: &str,
    value: Expr,
    tree: &MetricTree,
    leaf: &dyn Fn(usize) -> Expr,
    leaf_rule: &dyn Fn(usize) -> NullRule,
) -> NullProbe {
    let mut cases: Vec<(Expr, NullRule)> = Vec::new();
    zero_denominators(tree, leaf, &mut cases);
    let mut leaves = Vec::new();
    tree.leaves_into(&mut leaves);
    for li in leaves {
        cases.push((Expr::is_null(leaf(li), false), leaf_rule(li)));
    }
    build(column, value, cases)
}

/// A probe from explicit cases, tried in order (time intelligence spells
/// its own: series columns instead of leaves).
pub(super) fn build(column: &str, value: Expr, cases: Vec<(Expr, NullRule)>) -> NullProbe {
    let mut rules: Vec<NullRule> = Vec::new();
    let mut whens = vec![(Expr::is_null(value, true), Expr::Lit(Literal::Null))];
    for (condition, rule) in cases {
        let index = match rules.iter().position(|r| *r == rule) {
            Some(i) => i,
            None => {
                rules.push(rule);
                rules.len() - 1
            }
        };
        whens.push((condition, Expr::num(index)));
    }
    rules.push(NullRule::NullInputs);
    let otherwise = Expr::num(rules.len() - 1);
    NullProbe {
        column: column.to_string(),
        expr: Expr::case(whens, Some(otherwise)),
        rules,
    }
}

/// Every denominator the tree divides by, as "it is 0" conditions.
pub(super) fn zero_denominators(
    tree: &MetricTree,
    leaf: &dyn Fn(usize) -> Expr,
    out: &mut Vec<(Expr, NullRule)>,
) {
    let is_zero = |e: Expr| Expr::binary(BinOp::Eq, e, Expr::num(0));
    match tree {
        MetricTree::Leaf(_) => {}
        MetricTree::Ratio(n, d) => {
            zero_denominators(n, leaf, out);
            zero_denominators(d, leaf, out);
            out.push((
                is_zero(d.lower(leaf)),
                NullRule::ZeroDenominator {
                    denominator: tree_label(d, leaf),
                },
            ));
        }
        MetricTree::Derived(expr, inputs) => {
            for (_, t) in inputs {
                zero_denominators(t, leaf, out);
            }
            for name in nullif_zero_inputs(expr) {
                if let Some((_, t)) = inputs.iter().find(|(a, _)| *a == name) {
                    out.push((
                        is_zero(t.lower(leaf)),
                        NullRule::ZeroDenominator { denominator: name },
                    ));
                }
            }
        }
    }
}

/// A denominator's name: the column it reads, or "denominator".
fn tree_label(tree: &MetricTree, leaf: &dyn Fn(usize) -> Expr) -> String {
    match tree {
        MetricTree::Leaf(li) => match leaf(*li) {
            Expr::Column { name, .. } => name.value,
            _ => "denominator".to_string(),
        },
        _ => "denominator".to_string(),
    }
}

/// The inputs a derived expression guards with `NULLIF(input, 0)`.
fn nullif_zero_inputs(expr: &Expr) -> Vec<String> {
    let mut names = Vec::new();
    expr.walk(&mut |e| {
        if let Expr::Func { name, args, .. } = e
            && name.eq_ignore_ascii_case("nullif")
            && let [Expr::Ref(parts), Expr::Lit(Literal::Number(zero))] = args.as_slice()
            && parts.len() == 1
            && zero.parse::<f64>() == Ok(0.0)
            && !names.contains(&parts[0].value)
        {
            names.push(parts[0].value.clone());
        }
    });
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_probe_tries_the_denominator_then_each_leaf() {
        let tree = MetricTree::Ratio(Box::new(MetricTree::Leaf(0)), Box::new(MetricTree::Leaf(1)));
        let leaf = |li: usize| Expr::bare(["orders", "sessions"][li]);
        let value = tree.lower(&leaf);
        let p = probe("conversion_rate", value, &tree, &leaf, &|li| {
            NullRule::NoRows {
                model: ["orders", "sessions"][li].into(),
                measure: ["orders", "sessions"][li].into(),
                filtered: false,
            }
        });
        assert_eq!(
            p.rules,
            vec![
                NullRule::ZeroDenominator {
                    denominator: "sessions".into()
                },
                NullRule::NoRows {
                    model: "orders".into(),
                    measure: "orders".into(),
                    filtered: false
                },
                NullRule::NoRows {
                    model: "sessions".into(),
                    measure: "sessions".into(),
                    filtered: false
                },
                NullRule::NullInputs,
            ]
        );
    }

    #[test]
    fn a_derived_nullif_names_its_input() {
        let expr = crate::sql::convert::parse_expr(
            "CAST(online AS DOUBLE) / NULLIF(total, 0)",
            crate::sql::convert::Origin::Definition,
        )
        .expect("parses");
        assert_eq!(nullif_zero_inputs(&expr), vec!["total".to_string()]);
    }
}

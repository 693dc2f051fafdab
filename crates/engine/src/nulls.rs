//! Counting why metric values are NULL: the plan's probe columns
//! ([`crate::planner::nulls`]) come back after the metrics; they are
//! counted per rule and removed, so no interface ever sees them.

use serde::Serialize;

use crate::planner::{NullProbe, NullRule, Plan};
use crate::warehouse::ResultSet;
use crate::warehouse::result::Value;

/// How many of a metric's returned values one rule made NULL.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NullCount {
    /// The metric's output column.
    pub metric: String,
    /// Values of `metric` this rule explains.
    pub count: usize,
    /// Rows returned (the values the count is out of).
    pub rows: usize,
    #[serde(flatten)]
    pub rule: NullRule,
}

/// Counts and removes the probe columns of `plan` from `result`.
pub fn count_and_strip(plan: &Plan, result: &mut ResultSet) -> Vec<NullCount> {
    let mut counts = Vec::new();
    for (i, probe) in plan.probes.iter().enumerate() {
        let Some(at) = result
            .columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(&NullProbe::alias(i)))
        else {
            continue;
        };
        let mut per_rule = vec![0usize; probe.rules.len()];
        for row in &result.rows {
            if let Some(r) = rule_index(&row[at]).filter(|r| *r < per_rule.len()) {
                per_rule[r] += 1;
            }
        }
        counts.extend(
            per_rule
                .into_iter()
                .zip(&probe.rules)
                .filter(|(n, _)| *n > 0)
                .map(|(count, rule)| NullCount {
                    metric: probe.column.clone(),
                    count,
                    rows: result.rows.len(),
                    rule: rule.clone(),
                }),
        );
    }
    let probe_names: Vec<String> = (0..plan.probes.len()).map(NullProbe::alias).collect();
    let keep: Vec<bool> = result
        .columns
        .iter()
        .map(|c| !probe_names.iter().any(|p| c.name.eq_ignore_ascii_case(p)))
        .collect();
    if keep.iter().all(|k| *k) {
        return counts;
    }
    let mut flags = keep.iter();
    result.columns.retain(|_| *flags.next().unwrap_or(&true));
    for row in &mut result.rows {
        let mut flags = keep.iter();
        row.retain(|_| *flags.next().unwrap_or(&true));
    }
    counts
}

fn rule_index(v: &Value) -> Option<usize> {
    match v {
        Value::Int(i) => usize::try_from(*i).ok(),
        Value::Decimal(_) | Value::Float(_) => v.as_f64().map(|f| f as usize),
        Value::Text(t) => t.trim().parse().ok(),
        _ => None,
    }
}

/// The counts in words, one warning per metric and rule; rules that
/// remove rows (`policies`, the plan's, without the roles line) are named
/// where they could be why rows are missing.
pub fn warnings(counts: &[NullCount], policies: &[String]) -> Vec<String> {
    let removing: Vec<&str> = policies
        .iter()
        .filter(|p| !p.starts_with("roles:"))
        .map(String::as_str)
        .collect();
    counts
        .iter()
        .map(|c| {
            let mut w = format!(
                "`{}`: {} of {} values are NULL because {}",
                c.metric,
                c.count,
                c.rows,
                c.rule.describe()
            );
            if c.rule.rows_missing() && !removing.is_empty() {
                w.push_str(&format!(
                    "; rules in force that remove rows (not told apart from rows that do not exist): {}",
                    removing.join("; ")
                ));
            }
            w
        })
        .collect()
}

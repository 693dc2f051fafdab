//! The parallel run of `accord diff --warehouse`: the old and the new
//! version of each changed metric computed on the same warehouse over
//! standard breakdowns (the total, by `metric_time:month`, and by up to N
//! of the metric's categorical dimensions), with the variance per group,
//! largest first.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::diff::{Change, ChangeKind, ItemKind};
use crate::access::Caller;
use crate::catalog::{Catalog, DimensionKind, Metric, MetricStatus};
use crate::planner::ColumnRole;
use crate::query::{SemanticQuery, parse_metric_ref};
use crate::warehouse::{Value, Warehouse};

/// Most groups a breakdown reads from the warehouse.
const MAX_GROUPS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupVariance {
    /// The group's dimension values (empty for the total).
    pub group: Vec<Value>,
    pub old: Option<f64>,
    pub new: Option<f64>,
    /// `new - old`, a missing value counting as 0.
    pub abs: f64,
    /// `abs / |old|`; absent when old is 0 or missing.
    pub rel: Option<f64>,
}

impl GroupVariance {
    pub fn label(&self) -> String {
        if self.group.is_empty() {
            return "(total)".to_string();
        }
        self.group
            .iter()
            .map(|v| match v {
                Value::Null => "∅".to_string(),
                v => v.to_text(),
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    /// `total`, `metric_time:month`, `orders.status`.
    pub name: String,
    pub dimensions: Vec<String>,
    /// Largest absolute variance first.
    pub groups: Vec<GroupVariance>,
    /// Groups whose value differs.
    pub changed_groups: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricVariance {
    /// The metric in BASE and in HEAD (`name@version`).
    pub old: String,
    pub new: String,
    pub breakdowns: Vec<Breakdown>,
}

/// The (old, new) metric pairs a diff calls for: changed meanings, new
/// versions, renames, and metrics built on changed model members.
pub fn pairs(base: &Catalog, head: &Catalog, changes: &[Change]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |o: String, n: String| {
        if !out.contains(&(o.clone(), n.clone())) {
            out.push((o, n));
        }
    };
    let exists = |c: &Catalog, q: &str| {
        parse_metric_ref(q)
            .ok()
            .and_then(|(n, v)| c.metric_version(&n, v?))
            .is_some()
    };
    for c in changes {
        match (c.item, c.kind) {
            (ItemKind::Metric, ChangeKind::Modified) if c.breaking => {
                add(c.name.clone(), c.name.clone())
            }
            (ItemKind::Metric, ChangeKind::VersionBumped | ChangeKind::Renamed) => {
                if let Some(from) = &c.from {
                    add(from.clone(), c.name.clone())
                }
            }
            (ItemKind::Metric, _) => {}
            // Model members change what metrics compute; policies, analyses
            // and checks do not change what the operator's run returns.
            (
                ItemKind::Model
                | ItemKind::Dimension
                | ItemKind::Measure
                | ItemKind::Entity
                | ItemKind::JoinPath,
                ChangeKind::Modified,
            ) if c.breaking => {
                for m in &c.impact.metrics {
                    if exists(base, m) && exists(head, m) {
                        add(m.clone(), m.clone());
                    }
                }
            }
            _ => {}
        }
    }
    out.retain(|(o, n)| exists(base, o) && exists(head, n));
    out
}

fn lookup<'c>(c: &'c Catalog, q: &str) -> Option<&'c Metric> {
    let (name, version) = parse_metric_ref(q).ok()?;
    c.metric_version(&name, version?)
}

/// Categorical and boolean dimensions both versions can be grouped by, PII
/// left out, in catalog order.
fn breakdown_dimensions(
    base: &Catalog,
    old: &Metric,
    head: &Catalog,
    new: &Metric,
    n: usize,
) -> Vec<String> {
    let before: BTreeSet<String> = base.groupable_dimensions(old.id).into_iter().collect();
    head.groupable_dimensions(new.id)
        .into_iter()
        .filter(|d| before.contains(d))
        .filter(|d| {
            let Some((model, dim)) = d.split_once('.') else {
                return false;
            };
            head.model_by_name(model)
                .and_then(|m| m.dimension(dim))
                .is_some_and(|(_, x)| {
                    !x.pii && matches!(x.kind, DimensionKind::Categorical | DimensionKind::Boolean)
                })
        })
        .take(n)
        .collect()
}

type Groups = BTreeMap<Vec<String>, (Vec<Value>, Option<f64>)>;

async fn run_one(
    c: &Catalog,
    m: &Metric,
    dims: &[String],
    wh: &Warehouse,
) -> Result<Groups, String> {
    let q = SemanticQuery {
        metrics: vec![m.qualified_name()],
        dimensions: dims.to_vec(),
        ..Default::default()
    };
    let (plan, sql) = crate::planner::compile(c, &q, &Caller::operator(), wh.dialect())
        .map_err(|e| e.display_full())?;
    let rs = wh
        .query(&sql, MAX_GROUPS)
        .await
        .map_err(|e| e.to_string())?;
    if rs.truncated {
        return Err(format!("more than {MAX_GROUPS} groups"));
    }
    let metric_col = plan
        .columns
        .iter()
        .position(|c| matches!(c.role, ColumnRole::Metric { .. }))
        .ok_or("the plan has no metric column")?;
    let dim_cols: Vec<usize> = plan
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c.role, ColumnRole::Dimension { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut out = Groups::new();
    for row in rs.rows {
        let group: Vec<Value> = dim_cols.iter().map(|i| row[*i].clone()).collect();
        let key: Vec<String> = group
            .iter()
            .map(|v| match v {
                Value::Null => "\u{0}null".to_string(),
                v => v.to_text(),
            })
            .collect();
        out.insert(key, (group, row[metric_col].as_f64()));
    }
    Ok(out)
}

fn compare(old: Groups, new: Groups) -> Vec<GroupVariance> {
    let keys: BTreeSet<&Vec<String>> = old.keys().chain(new.keys()).collect();
    let mut out: Vec<GroupVariance> = keys
        .into_iter()
        .map(|k| {
            let o = old.get(k);
            let n = new.get(k);
            let group = o.or(n).map(|x| x.0.clone()).unwrap_or_default();
            let ov = o.and_then(|x| x.1);
            let nv = n.and_then(|x| x.1);
            let abs = nv.unwrap_or(0.0) - ov.unwrap_or(0.0);
            let rel = ov.filter(|x| *x != 0.0).map(|x| abs / x.abs());
            GroupVariance {
                group,
                old: ov,
                new: nv,
                abs,
                rel,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.abs
            .abs()
            .total_cmp(&a.abs.abs())
            .then_with(|| a.label().cmp(&b.label()))
    });
    out
}

/// Runs old and new of one metric over the standard breakdowns.
pub async fn metric_variance(
    base: &Catalog,
    old: &Metric,
    head: &Catalog,
    new: &Metric,
    wh: &Warehouse,
    breakdowns: usize,
) -> MetricVariance {
    let mut plans: Vec<(String, Vec<String>)> = vec![("total".into(), vec![])];
    let timed = |c: &Catalog, m: &Metric| {
        c.groupable_dimensions(m.id)
            .iter()
            .any(|d| d == "metric_time")
    };
    if timed(base, old) && timed(head, new) {
        plans.push(("metric_time:month".into(), vec!["metric_time:month".into()]));
    }
    for d in breakdown_dimensions(base, old, head, new, breakdowns) {
        plans.push((d.clone(), vec![d]));
    }
    let mut out = Vec::new();
    for (name, dims) in plans {
        let result = async {
            let o = run_one(base, old, &dims, wh)
                .await
                .map_err(|e| format!("{}: {e}", old.qualified_name()))?;
            let n = run_one(head, new, &dims, wh)
                .await
                .map_err(|e| format!("{}: {e}", new.qualified_name()))?;
            Ok::<_, String>(compare(o, n))
        }
        .await;
        let (groups, error) = match result {
            Ok(g) => (g, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        out.push(Breakdown {
            changed_groups: groups
                .iter()
                .filter(|g| g.abs != 0.0 || g.old.is_some() != g.new.is_some())
                .count(),
            name,
            dimensions: dims,
            groups,
            error,
        });
    }
    MetricVariance {
        old: old.qualified_name(),
        new: new.qualified_name(),
        breakdowns: out,
    }
}

/// The parallel run for every pair a diff calls for.
pub async fn run(
    base: &Catalog,
    head: &Catalog,
    changes: &[Change],
    wh: &Warehouse,
    breakdowns: usize,
) -> Vec<MetricVariance> {
    let mut out = Vec::new();
    for (o, n) in pairs(base, head, changes) {
        let (Some(old), Some(new)) = (lookup(base, &o), lookup(head, &n)) else {
            continue;
        };
        if old.status == MetricStatus::Draft && new.status == MetricStatus::Draft {
            continue;
        }
        out.push(metric_variance(base, old, head, new, wh, breakdowns).await);
    }
    out
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "–".to_string(),
        Some(x) if x == x.trunc() && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:+.2}%", x * 100.0))
        .unwrap_or_else(|| "–".into())
}

fn signed(x: f64) -> String {
    let s = num(Some(x));
    if x > 0.0 { format!("+{s}") } else { s }
}

pub fn text(all: &[MetricVariance], top: usize) -> String {
    let mut s = String::from("\nPARALLEL RUN\n");
    if all.is_empty() {
        s.push_str("  no metric changed meaning\n");
    }
    for m in all {
        s.push_str(&format!("  {} → {}\n", m.old, m.new));
        for b in &m.breakdowns {
            if let Some(e) = &b.error {
                s.push_str(&format!("    {}: error: {e}\n", b.name));
                continue;
            }
            s.push_str(&format!(
                "    by {} ({} of {} groups differ)\n",
                b.name,
                b.changed_groups,
                b.groups.len()
            ));
            for g in b.groups.iter().take(top) {
                s.push_str(&format!(
                    "      {:<28} old {:>16}  new {:>16}  Δ {:>16}  {:>9}\n",
                    g.label(),
                    num(g.old),
                    num(g.new),
                    signed(g.abs),
                    pct(g.rel)
                ));
            }
        }
    }
    s
}

pub fn markdown(all: &[MetricVariance], top: usize) -> String {
    let mut s = String::from("\n### Parallel run\n");
    if all.is_empty() {
        s.push_str("\nNo metric changed meaning.\n");
    }
    for m in all {
        s.push_str(&format!("\n#### `{}` → `{}`\n", m.old, m.new));
        for b in &m.breakdowns {
            if let Some(e) = &b.error {
                s.push_str(&format!(
                    "\n_by {}_: error: {}\n",
                    b.name,
                    super::diff::md_code(e)
                ));
                continue;
            }
            s.push_str(&format!(
                "\n<details><summary>by <code>{}</code>: {} of {} groups differ</summary>\n\n| Group | Old | New | Δ | Δ % |\n|---|---:|---:|---:|---:|\n",
                b.name,
                b.changed_groups,
                b.groups.len()
            ));
            for g in b.groups.iter().take(top) {
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} |\n",
                    super::diff::md_code(&g.label()),
                    num(g.old),
                    num(g.new),
                    signed(g.abs),
                    pct(g.rel)
                ));
            }
            s.push_str("\n</details>\n");
        }
    }
    s
}

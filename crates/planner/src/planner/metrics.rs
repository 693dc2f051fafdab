//! Metric expansion: every requested metric becomes an expression over
//! leaves, where a leaf is one measure aggregated under one set of filters.
//! Leaves are shared, so `revenue` and `average_order_value` in one query
//! aggregate `orders.amount` once.

use super::{ErrorCode, PlanError};
use crate::catalog::time::ConversionCalc;
use crate::catalog::{Aggregation, Catalog, MetricId, MetricKind, ModelId};
use crate::sql::ast::{BinOp, Expr, Ident, Literal, SqlType};

#[derive(Debug, Clone)]
pub struct Leaf {
    pub model: ModelId,
    pub measure: usize,
    /// Row filters over dimension references, ANDed.
    pub filters: Vec<Expr>,
    /// Column name of the aggregate in scans.
    pub alias: String,
    /// A conversion metric's converted events: only base rows for which a
    /// conversion exists count. The scan builder writes that test, since
    /// it holds the caller's policies the conversion side must obey too.
    pub converted: Option<MetricId>,
}

/// How a metric is computed from leaves.
#[derive(Debug, Clone)]
pub enum MetricTree {
    Leaf(usize),
    Ratio(Box<MetricTree>, Box<MetricTree>),
    /// An expression whose `Ref`s name the inputs, with each input's tree.
    Derived(Expr, Vec<(String, MetricTree)>),
}

impl MetricTree {
    /// Every leaf the tree reads, in order, once each.
    pub fn leaves_into(&self, out: &mut Vec<usize>) {
        match self {
            MetricTree::Leaf(i) => {
                if !out.contains(i) {
                    out.push(*i);
                }
            }
            MetricTree::Ratio(n, d) => {
                n.leaves_into(out);
                d.leaves_into(out);
            }
            MetricTree::Derived(_, inputs) => {
                for (_, t) in inputs {
                    t.leaves_into(out);
                }
            }
        }
    }

    /// The metric's expression, given how to spell each leaf.
    pub fn lower(&self, leaf: &dyn Fn(usize) -> Expr) -> Expr {
        match self {
            MetricTree::Leaf(i) => leaf(*i),
            MetricTree::Ratio(n, d) => {
                // Cast before dividing: integer division would truncate on
                // engines that keep integer types, and NULLIF makes a zero
                // denominator a NULL instead of an error.
                let num = Expr::Cast {
                    expr: Box::new(n.lower(leaf)),
                    ty: SqlType::Double,
                };
                let den = Expr::Func {
                    name: "NULLIF".into(),
                    args: vec![d.lower(leaf), Expr::Lit(Literal::Number("0".into()))],
                    distinct: false,
                };
                Expr::binary(BinOp::Divide, num, den)
            }
            MetricTree::Derived(expr, inputs) => {
                // Divide in floating point, as ratios do: `orders / sessions`
                // must not truncate on engines that divide integers exactly.
                let expr = &expr
                    .clone()
                    .try_transform::<()>(&mut |e| match e {
                        Expr::Binary {
                            op: BinOp::Divide,
                            left,
                            right,
                        } if !matches!(
                            *left,
                            Expr::Cast {
                                ty: SqlType::Double,
                                ..
                            }
                        ) =>
                        {
                            Ok(Expr::Binary {
                                op: BinOp::Divide,
                                left: Box::new(Expr::Cast {
                                    expr: left,
                                    ty: SqlType::Double,
                                }),
                                right,
                            })
                        }
                        other => Ok(other),
                    })
                    .unwrap_or_else(|_| expr.clone());
                let lowered: Vec<(String, Expr)> = inputs
                    .iter()
                    .map(|(a, t)| (a.clone(), t.lower(leaf)))
                    .collect();
                expr.clone()
                    .try_transform::<()>(&mut |e| match e {
                        Expr::Ref(parts) if parts.len() == 1 => {
                            let name = &parts[0].value;
                            match lowered.iter().find(|(a, _)| a == name) {
                                // Parenthesise only what could bind wrongly.
                                Some((_, x)) => Ok(match x {
                                    Expr::Column { .. }
                                    | Expr::Lit(_)
                                    | Expr::Func { .. }
                                    | Expr::Aggregate { .. }
                                    | Expr::Cast { .. }
                                    | Expr::Nested(_) => x.clone(),
                                    _ => Expr::Nested(Box::new(x.clone())),
                                }),
                                None => Ok(Expr::Ref(parts)),
                            }
                        }
                        other => Ok(other),
                    })
                    .unwrap_or_else(|_| expr.clone())
            }
        }
    }
}

#[derive(Default)]
pub struct Expansion {
    pub leaves: Vec<Leaf>,
}

impl Expansion {
    pub fn expand(
        &mut self,
        catalog: &Catalog,
        id: MetricId,
        inherited: &[Expr],
    ) -> Result<MetricTree, PlanError> {
        let metric = catalog.metric(id);
        let mut filters: Vec<Expr> = inherited.to_vec();
        if let Some(f) = &metric.filter {
            filters.push(f.clone());
        }
        Ok(match &metric.kind {
            MetricKind::Simple { model, measure } => {
                MetricTree::Leaf(self.leaf(*model, *measure, filters, None, &metric.name))
            }
            MetricKind::Ratio {
                numerator,
                denominator,
            } => {
                let with = |extra: &Option<Expr>| {
                    let mut f = filters.clone();
                    f.extend(extra.clone());
                    f
                };
                let n = self.expand(catalog, numerator.metric, &with(&numerator.filter))?;
                let d = self.expand(catalog, denominator.metric, &with(&denominator.filter))?;
                MetricTree::Ratio(Box::new(n), Box::new(d))
            }
            MetricKind::Derived { expr, inputs } => {
                let mut trees = Vec::new();
                for i in inputs {
                    if i.offset.is_some() {
                        return Err(time_intelligence_here(&metric.name));
                    }
                    let mut f = filters.clone();
                    f.extend(i.filter.clone());
                    trees.push((i.alias.clone(), self.expand(catalog, i.metric, &f)?));
                }
                MetricTree::Derived(expr.clone(), trees)
            }
            MetricKind::Cumulative { .. } => return Err(time_intelligence_here(&metric.name)),
            // Converted base events are the base measure's rows for which a
            // conversion exists: a leaf with one more filter, so conversions
            // group and filter by the base event's dimensions like any count.
            MetricKind::Conversion(conv) => {
                let base = self.leaf(
                    conv.base_model,
                    conv.base_measure,
                    filters.clone(),
                    None,
                    &format!("{}_base", metric.name),
                );
                let hit = self.leaf(
                    conv.base_model,
                    conv.base_measure,
                    filters,
                    Some(id),
                    &metric.name,
                );
                // A filtered count reads NULL for a group without matching
                // rows; a group of base events none of which converted has
                // 0 conversions.
                let alias = "converted".to_string();
                let hit = MetricTree::Derived(
                    Expr::Func {
                        name: "COALESCE".into(),
                        args: vec![
                            Expr::Ref(vec![Ident::new(alias.clone())]),
                            Expr::Lit(Literal::Number("0".into())),
                        ],
                        distinct: false,
                    },
                    vec![(alias, MetricTree::Leaf(hit))],
                );
                match conv.calculation {
                    ConversionCalc::Count => hit,
                    ConversionCalc::Rate => {
                        MetricTree::Ratio(Box::new(hit), Box::new(MetricTree::Leaf(base)))
                    }
                }
            }
        })
    }

    fn leaf(
        &mut self,
        model: ModelId,
        measure: usize,
        mut filters: Vec<Expr>,
        converted: Option<MetricId>,
        hint: &str,
    ) -> usize {
        // Filters compare as a set: the same conditions in another order are
        // the same leaf.
        filters.sort_by_cached_key(|f| format!("{f:?}"));
        filters.dedup();
        if let Some(i) = self.leaves.iter().position(|l| {
            l.model == model
                && l.measure == measure
                && l.filters == filters
                && l.converted == converted
        }) {
            return i;
        }
        let mut alias = hint.to_string();
        let mut n = 2;
        while self.leaves.iter().any(|l| l.alias == alias) {
            alias = format!("{hint}_{n}");
            n += 1;
        }
        self.leaves.push(Leaf {
            model,
            measure,
            filters,
            alias,
            converted,
        });
        self.leaves.len() - 1
    }
}

/// A column reference to a leaf's aggregate in a stitched (multi-scan) query.
pub fn leaf_column(alias: &str) -> Expr {
    Expr::Column {
        table: None,
        name: Ident::generated(alias),
    }
}

/// Cumulative metrics and offset inputs are planned by
/// [`super::timeintel`]; reaching the plain expansion with one is a bug in
/// the dispatch, reported rather than computed wrongly.
fn time_intelligence_here(name: &str) -> PlanError {
    PlanError::new(
        ErrorCode::Unsupported,
        format!("internal: time-intelligent metric `{name}` reached the plain planner"),
    )
}

fn one() -> Expr {
    Expr::Lit(Literal::Number("1".into()))
}

/// A leaf's aggregate. With a filter that could not go to WHERE, the filter
/// becomes a CASE inside the aggregate; counts then need care, because a
/// group without a matching row must read NULL (as if the metric had its own
/// scan and the group were absent), not 0.
pub fn leaf_aggregate(
    catalog: &Catalog,
    leaf: &Leaf,
    base_alias: &str,
    filter: Option<Expr>,
) -> Expr {
    let measure = &catalog.model(leaf.model).measures[leaf.measure];
    let value = super::stitch::measure_value(catalog, leaf.model, measure, base_alias);
    let (agg, value) = match (measure.agg, value) {
        (Aggregation::SumBoolean, Some(v)) => (
            Aggregation::Sum,
            Some(Expr::Case {
                operand: None,
                whens: vec![(v, one())],
                otherwise: Some(Box::new(Expr::Lit(Literal::Number("0".into())))),
            }),
        ),
        (a, v) => (a, v),
    };
    let Some(f) = filter else {
        return Expr::Aggregate {
            agg,
            arg: value.map(Box::new),
        };
    };
    let when = |v: Expr| Expr::Case {
        operand: None,
        whens: vec![(f.clone(), v)],
        otherwise: None,
    };
    let matching_rows = || Expr::Aggregate {
        agg: Aggregation::Count,
        arg: Some(Box::new(when(one()))),
    };
    match (agg, value) {
        // COUNT(*) over the matching rows, NULL when there are none.
        (Aggregation::Count, None) => Expr::Func {
            name: "NULLIF".into(),
            args: vec![matching_rows(), Expr::Lit(Literal::Number("0".into()))],
            distinct: false,
        },
        // A count of values can be 0 while matching rows exist (all NULL).
        (Aggregation::Count | Aggregation::CountDistinct, Some(v)) => Expr::Case {
            operand: None,
            whens: vec![(
                Expr::binary(
                    BinOp::Gt,
                    matching_rows(),
                    Expr::Lit(Literal::Number("0".into())),
                ),
                Expr::Aggregate {
                    agg,
                    arg: Some(Box::new(when(v))),
                },
            )],
            otherwise: None,
        },
        // Every other aggregate of no values is NULL already.
        (agg, value) => Expr::Aggregate {
            agg,
            arg: Some(Box::new(when(value.unwrap_or_else(one)))),
        },
    }
}

//! Filters: structured `{dimension, op, values}` filters and SQL `where`
//! expressions become AST expressions whose user values are literals the
//! renderer escapes per dialect. Nothing a caller sends is pasted as text.

use crate::catalog::DimensionKind;
use crate::query::{
    Condition, DimensionRef, Filter, FilterOp, FilterTree, FilterValue, SemanticQuery, is_decimal,
};
use crate::sql::ast::{BinOp, Expr, Ident, Literal, UnOp};
use crate::sql::convert::parse_timestamp;

use super::resolve::ResolvedDim;
use super::{ErrorCode, PlanError};

fn invalid(msg: String) -> PlanError {
    PlanError::new(ErrorCode::InvalidFilter, msg)
}

/// A typed value as a literal fitting a dimension of `kind`.
fn literal(v: &FilterValue, kind: Option<DimensionKind>, what: &str) -> Result<Literal, PlanError> {
    let time = matches!(kind, Some(DimensionKind::Time { .. }));
    match (kind, v) {
        (_, FilterValue::Null) => Ok(Literal::Null),
        (_, FilterValue::Timestamp(t)) => Ok(Literal::Timestamp(*t)),
        // A day compared with a time is its midnight, as a date string is.
        (_, FilterValue::Date(d)) if time => Ok(Literal::Timestamp(d.and_time(Default::default()))),
        (_, FilterValue::Date(d)) => Ok(Literal::Date(*d)),
        (_, FilterValue::String(s)) if time => {
            parse_timestamp(s).map(Literal::Timestamp).ok_or_else(|| {
                invalid(format!(
                    "`{s}` is not a time for {what} (use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"
                ))
            })
        }
        (_, other) if time => Err(invalid(format!(
            "{what} is a time; give a string like \"2025-01-31\", not {other}"
        ))),
        (Some(DimensionKind::Boolean), FilterValue::Bool(b)) => Ok(Literal::Bool(*b)),
        (Some(DimensionKind::Boolean), FilterValue::String(s)) if s == "true" || s == "false" => {
            Ok(Literal::Bool(s == "true"))
        }
        (Some(DimensionKind::Boolean), other) => Err(invalid(format!(
            "{what} is a boolean; give true or false, not {other}"
        ))),
        (Some(DimensionKind::Number) | None, FilterValue::String(s)) => number(s, what),
        (_, FilterValue::Number(n)) => number(n, what),
        (_, FilterValue::String(s)) => Ok(Literal::String(s.clone())),
        (_, FilterValue::Bool(b)) => Ok(Literal::Bool(*b)),
    }
}

/// A numeric literal from text, accepting only plain decimal notation so the
/// text can be written into SQL as is.
fn number(s: &str, what: &str) -> Result<Literal, PlanError> {
    let t = s.trim();
    if is_decimal(t) {
        Ok(Literal::Number(t.to_string()))
    } else {
        Err(invalid(format!("{what} is numeric; `{s}` is not a number")))
    }
}

/// Builds the condition for one structured filter on `target`.
/// `kind` is `None` for a metric value (always numeric).
pub fn structured(
    target: Expr,
    kind: Option<DimensionKind>,
    f: &Filter,
) -> Result<Expr, PlanError> {
    let values = f
        .values
        .iter()
        .map(|v| {
            FilterValue::from_json(v).map_err(|e| {
                invalid(format!(
                    "`{}`: {v} is not a filter value ({e})",
                    f.dimension
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    condition(
        target,
        kind,
        &Condition {
            dimension: f.dimension.clone(),
            op: f.op,
            values,
        },
    )
}

fn check_arity(c: &Condition, what: &str) -> Result<(), PlanError> {
    let (min, max) = c.op.arity();
    let n = c.values.len();
    if n >= min && n <= max {
        return Ok(());
    }
    let expected = match (min, max) {
        (0, 0) => "no values".to_string(),
        (a, b) if a == b => format!("exactly {a} value(s)"),
        (a, _) => format!("at least {a} value(s)"),
    };
    Err(invalid(
        format!(
            "filter on {what} with op `{:?}` takes {expected}, got {n}",
            c.op
        )
        .to_lowercase(),
    ))
}

/// Builds the condition for one typed condition on `target`.
pub fn condition(
    target: Expr,
    kind: Option<DimensionKind>,
    c: &Condition,
) -> Result<Expr, PlanError> {
    let what = format!("`{}`", c.dimension);
    check_arity(c, &what)?;
    let lit = |v: &FilterValue| literal(v, kind, &what).map(Expr::Lit);
    let t = Box::new(target.clone());
    let first_null = c.values.first() == Some(&FilterValue::Null);
    let cmp = |op: BinOp| -> Result<Expr, PlanError> {
        if first_null {
            return Err(invalid(format!(
                "{what}: use is_null / is_not_null to compare with null"
            )));
        }
        Ok(Expr::binary(op, target.clone(), lit(&c.values[0])?))
    };
    let text = || -> Result<String, PlanError> {
        match &c.values[0] {
            FilterValue::String(s) => Ok(s.clone()),
            other => Err(invalid(
                format!("{what}: {:?} needs a string, not {other}", c.op).to_lowercase(),
            )),
        }
    };
    Ok(match c.op {
        FilterOp::Eq if first_null => Expr::IsNull {
            expr: t,
            negated: false,
        },
        FilterOp::Neq if first_null => Expr::IsNull {
            expr: t,
            negated: true,
        },
        FilterOp::Eq => cmp(BinOp::Eq)?,
        FilterOp::Neq => cmp(BinOp::NotEq)?,
        FilterOp::Gt => cmp(BinOp::Gt)?,
        FilterOp::Gte => cmp(BinOp::GtEq)?,
        FilterOp::Lt => cmp(BinOp::Lt)?,
        FilterOp::Lte => cmp(BinOp::LtEq)?,
        FilterOp::In | FilterOp::NotIn => {
            let negated = c.op == FilterOp::NotIn;
            let has_null = c.values.contains(&FilterValue::Null);
            let list: Vec<Expr> = c
                .values
                .iter()
                .filter(|v| **v != FilterValue::Null)
                .map(lit)
                .collect::<Result<_, _>>()?;
            let in_list = (!list.is_empty()).then(|| Expr::InList {
                expr: t.clone(),
                list,
                negated,
            });
            let null_test = has_null.then(|| Expr::IsNull {
                expr: t.clone(),
                negated,
            });
            match (in_list, null_test) {
                (Some(a), Some(b)) => Expr::Nested(Box::new(Expr::binary(
                    if negated { BinOp::And } else { BinOp::Or },
                    a,
                    b,
                ))),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => unreachable!("arity checked above"),
            }
        }
        FilterOp::Between => {
            if c.values.contains(&FilterValue::Null) {
                return Err(invalid(format!(
                    "{what}: between needs two non-null bounds"
                )));
            }
            Expr::Between {
                expr: t,
                low: Box::new(lit(&c.values[0])?),
                high: Box::new(lit(&c.values[1])?),
                negated: false,
            }
        }
        FilterOp::Contains => Expr::Contains {
            expr: t,
            needle: Box::new(Expr::Lit(Literal::String(text()?))),
        },
        FilterOp::StartsWith => Expr::StartsWith {
            expr: t,
            prefix: Box::new(Expr::Lit(Literal::String(text()?))),
        },
        FilterOp::Like | FilterOp::Ilike => {
            super::like::lower(target, &text()?, c.op == FilterOp::Ilike, &what)?
        }
        FilterOp::NotLike | FilterOp::NotIlike => not(super::like::lower(
            target,
            &text()?,
            c.op == FilterOp::NotIlike,
            &what,
        )?),
        FilterOp::IsNull => Expr::IsNull {
            expr: t,
            negated: false,
        },
        FilterOp::IsNotNull => Expr::IsNull {
            expr: t,
            negated: true,
        },
    })
}

fn not(e: Expr) -> Expr {
    Expr::Unary {
        op: UnOp::Not,
        expr: Box::new(Expr::Nested(Box::new(e))),
    }
}

/// `items` joined by `op` as a balanced tree, so a list of thousands of
/// conditions nests only log2(n) deep in the AST (every walk over it,
/// rendering included, is recursive).
pub fn join_balanced(op: BinOp, mut items: Vec<Expr>) -> Expr {
    while items.len() > 1 {
        let mut next = Vec::with_capacity(items.len().div_ceil(2));
        let mut it = items.into_iter();
        while let Some(a) = it.next() {
            next.push(match it.next() {
                Some(b) => Expr::Nested(Box::new(Expr::binary(op, a, b))),
                None => a,
            });
        }
        items = next;
    }
    items
        .pop()
        .unwrap_or(Expr::Lit(Literal::Bool(op == BinOp::And)))
}

/// The dimension references a tree's conditions name, checked: each
/// parses (a grain, `metric_time:day`, compares the truncated time as in
/// `filters`), and is not a requested metric (a metric's value is filtered
/// in `filters`). The tree's limits are checked here too, for trees built
/// in code.
pub fn tree_refs(
    q: &SemanticQuery,
    metric_aliases: &[&str],
) -> Result<Vec<DimensionRef>, PlanError> {
    let Some(tree) = &q.filter else {
        return Ok(Vec::new());
    };
    tree.check_limits()
        .map_err(|e| PlanError::new(ErrorCode::QueryTooComplex, e.0).at("filter"))?;
    let mut out = Vec::new();
    for c in tree.conditions() {
        if metric_aliases.contains(&c.dimension.as_str()) {
            return Err(invalid(format!(
                "`{}` is a metric: filter its value in `filters` (applied after aggregation), not in `filter`",
                c.dimension
            ))
            .at("filter"));
        }
        out.push(DimensionRef::parse(&c.dimension).map_err(|e| e.at("filter"))?);
    }
    Ok(out)
}

/// The tree as one condition: each leaf's dimension resolved by `resolve`
/// (masked, as the caller sees it; truncated only where a grain is
/// written) and built by [`condition`] with the dimension's kind; groups
/// become AND / OR / NOT in the AST.
pub fn tree(
    t: &FilterTree,
    resolve: &mut dyn FnMut(&DimensionRef) -> Result<ResolvedDim, PlanError>,
) -> Result<Expr, PlanError> {
    let group =
        |op: BinOp,
         items: &[FilterTree],
         resolve: &mut dyn FnMut(&DimensionRef) -> Result<ResolvedDim, PlanError>| {
            let parts = items
                .iter()
                .map(|i| tree(i, resolve))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, PlanError>(join_balanced(op, parts))
        };
    match t {
        FilterTree::And(items) => group(BinOp::And, items, resolve),
        FilterTree::Or(items) => group(BinOp::Or, items, resolve),
        FilterTree::Not(inner) => Ok(not(tree(inner, resolve)?)),
        FilterTree::Condition(c) => {
            let r = DimensionRef::parse(&c.dimension)?;
            let d = resolve(&r)?;
            condition(d.expr, Some(d.kind), c)
        }
    }
}

/// In a `where` expression, a string compared with a time dimension is a
/// time: rewrite such literals so every dialect compares times, not text.
pub fn coerce_time_literals(
    expr: Expr,
    is_time: &dyn Fn(&[Ident]) -> bool,
) -> Result<Expr, PlanError> {
    let refers_to_time = |e: &Expr| matches!(e, Expr::Ref(parts) if is_time(parts));
    let to_ts = |e: Expr| -> Result<Expr, PlanError> {
        match e {
            Expr::Lit(Literal::String(s)) => parse_timestamp(&s)
                .map(|t| Expr::Lit(Literal::Timestamp(t)))
                .ok_or_else(|| invalid(format!("`{s}` is compared with a time but is not one (use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"))),
            other => Ok(other),
        }
    };
    expr.try_transform(&mut |e| match e {
        Expr::Binary { op, left, right } if op.is_comparison() && refers_to_time(&left) => {
            Ok(Expr::Binary {
                op,
                left,
                right: Box::new(to_ts(*right)?),
            })
        }
        Expr::Binary { op, left, right } if op.is_comparison() && refers_to_time(&right) => {
            Ok(Expr::Binary {
                op,
                left: Box::new(to_ts(*left)?),
                right,
            })
        }
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } if refers_to_time(&expr) => Ok(Expr::Between {
            expr,
            low: Box::new(to_ts(*low)?),
            high: Box::new(to_ts(*high)?),
            negated,
        }),
        Expr::InList {
            expr,
            list,
            negated,
        } if refers_to_time(&expr) => Ok(Expr::InList {
            expr,
            list: list.into_iter().map(to_ts).collect::<Result<_, _>>()?,
            negated,
        }),
        other => Ok(other),
    })
}

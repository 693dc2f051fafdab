//! Filters: structured `{dimension, op, values}` filters and SQL `where`
//! expressions become AST expressions whose user values are literals the
//! renderer escapes per dialect. Nothing a caller sends is pasted as text.

use serde_json::Value;

use crate::catalog::DimensionKind;
use crate::query::{Filter, FilterOp};
use crate::sql::ast::{BinOp, Expr, Ident, Literal};
use crate::sql::convert::parse_timestamp;

use super::{ErrorCode, PlanError};

fn invalid(msg: String) -> PlanError {
    PlanError::new(ErrorCode::InvalidFilter, msg)
}

/// A JSON value as a literal fitting a dimension of `kind`.
fn literal(v: &Value, kind: Option<DimensionKind>, what: &str) -> Result<Literal, PlanError> {
    match (kind, v) {
        (_, Value::Null) => Ok(Literal::Null),
        (Some(DimensionKind::Time { .. }), Value::String(s)) => {
            parse_timestamp(s).map(Literal::Timestamp).ok_or_else(|| {
                invalid(format!(
                    "`{s}` is not a time for {what} (use YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"
                ))
            })
        }
        (Some(DimensionKind::Time { .. }), other) => Err(invalid(format!(
            "{what} is a time; give a string like \"2025-01-31\", not {other}"
        ))),
        (Some(DimensionKind::Boolean), Value::Bool(b)) => Ok(Literal::Bool(*b)),
        (Some(DimensionKind::Boolean), Value::String(s)) if s == "true" || s == "false" => {
            Ok(Literal::Bool(s == "true"))
        }
        (Some(DimensionKind::Boolean), other) => Err(invalid(format!(
            "{what} is a boolean; give true or false, not {other}"
        ))),
        (Some(DimensionKind::Number) | None, Value::String(s)) => number(s, what),
        (_, Value::Number(n)) => Ok(Literal::Number(n.to_string())),
        (_, Value::String(s)) => Ok(Literal::String(s.clone())),
        (_, Value::Bool(b)) => Ok(Literal::Bool(*b)),
        (_, other) => Err(invalid(format!("{what}: {other} is not a filter value"))),
    }
}

/// A numeric literal from text, accepting only plain decimal notation so the
/// text can be written into SQL as is.
fn number(s: &str, what: &str) -> Result<Literal, PlanError> {
    let t = s.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let ok = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    if ok {
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
    let what = format!("`{}`", f.dimension);
    let (min, max) = f.op.arity();
    let n = f.values.len();
    if n < min || n > max {
        let expected = match (min, max) {
            (0, 0) => "no values".to_string(),
            (a, b) if a == b => format!("exactly {a} value(s)"),
            (a, _) => format!("at least {a} value(s)"),
        };
        return Err(invalid(
            format!(
                "filter on {what} with op `{:?}` takes {expected}, got {n}",
                f.op
            )
            .to_lowercase(),
        ));
    }
    let lit = |v: &Value| literal(v, kind, &what).map(Expr::Lit);
    let t = Box::new(target.clone());
    let cmp = |op: BinOp| -> Result<Expr, PlanError> {
        if f.values[0].is_null() {
            return Err(invalid(format!(
                "{what}: use is_null / is_not_null to compare with null"
            )));
        }
        Ok(Expr::binary(op, target.clone(), lit(&f.values[0])?))
    };
    let text = |v: &Value| -> Result<Expr, PlanError> {
        match v {
            Value::String(s) => Ok(Expr::Lit(Literal::String(s.clone()))),
            other => Err(invalid(
                format!("{what}: {:?} needs a string, not {other}", f.op).to_lowercase(),
            )),
        }
    };
    Ok(match f.op {
        FilterOp::Eq if f.values[0].is_null() => Expr::IsNull {
            expr: t,
            negated: false,
        },
        FilterOp::Neq if f.values[0].is_null() => Expr::IsNull {
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
            let negated = f.op == FilterOp::NotIn;
            let has_null = f.values.iter().any(Value::is_null);
            let list: Vec<Expr> = f
                .values
                .iter()
                .filter(|v| !v.is_null())
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
            if f.values.iter().any(Value::is_null) {
                return Err(invalid(format!(
                    "{what}: between needs two non-null bounds"
                )));
            }
            Expr::Between {
                expr: t,
                low: Box::new(lit(&f.values[0])?),
                high: Box::new(lit(&f.values[1])?),
                negated: false,
            }
        }
        FilterOp::Contains => Expr::Contains {
            expr: t,
            needle: Box::new(text(&f.values[0])?),
        },
        FilterOp::StartsWith => Expr::StartsWith {
            expr: t,
            prefix: Box::new(text(&f.values[0])?),
        },
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

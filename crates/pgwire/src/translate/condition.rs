//! A statement's WHERE (sqlparser's AST) as the typed filter tree. Every
//! construct maps to a node or is refused with a SQLSTATE; nothing is
//! rendered back to SQL text. `a OR b OR …` chains (left-deep in the
//! parser's AST) are read iteratively into one flat group, so a list of
//! thousands of alternatives neither recurses nor nests.

use sqlparser::ast as sp;

use super::literal;
use super::{Ctx, column_ref, constant_truth, filter_dim, unsupported};
use crate::error::{SqlError, SqlResult};
use crate::query::{Condition, FilterOp, FilterTree, FilterValue, MAX_FILTER_DEPTH};
use crate::warehouse::ColumnType;

const STATEMENT_TOO_COMPLEX: &str = "54001";
const OPERATORS: &str =
    "use =, <>, <, <=, >, >=, IN, LIKE, ILIKE, BETWEEN, IS NULL, AND, OR, NOT over dimensions";

/// A translated WHERE: a tree, or a truth that depends on no row.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Tree(FilterTree),
    Const(bool),
}

/// The WHERE expression `e` as a node.
pub fn translate(ctx: &Ctx, e: &sp::Expr) -> SqlResult<Node> {
    node(ctx, e, 0, false)
}

fn too_deep() -> SqlError {
    SqlError::new(
        STATEMENT_TOO_COMPLEX,
        format!("the WHERE clause nests more than {MAX_FILTER_DEPTH} groups"),
    )
    .hint("write long lists flat: a OR b OR c …, or IN (…)")
}

/// `depth` counts the groups (AND / OR / NOT) around `e`; `negated` says
/// whether an odd number of NOTs encloses it (see [`unknown`]).
fn node(ctx: &Ctx, e: &sp::Expr, depth: usize, negated: bool) -> SqlResult<Node> {
    use sp::BinaryOperator as B;
    match e {
        sp::Expr::Nested(inner) => node(ctx, inner, depth, negated),
        sp::Expr::BinaryOp {
            op: op @ (B::And | B::Or),
            ..
        } => {
            if depth >= MAX_FILTER_DEPTH {
                return Err(too_deep());
            }
            let and = *op == B::And;
            let mut items = Vec::new();
            for operand in chain(e, op) {
                match node(ctx, operand, depth + 1, negated)? {
                    // TRUE in an AND and FALSE in an OR change nothing.
                    Node::Const(b) if b == and => {}
                    Node::Const(b) => return Ok(Node::Const(b)),
                    Node::Tree(t) => items.push(t),
                }
            }
            Ok(match items.len() {
                0 => Node::Const(and),
                1 => Node::Tree(items.remove(0)),
                _ if and => Node::Tree(FilterTree::And(items)),
                _ => Node::Tree(FilterTree::Or(items)),
            })
        }
        sp::Expr::UnaryOp {
            op: sp::UnaryOperator::Not,
            expr,
        } => {
            if depth >= MAX_FILTER_DEPTH {
                return Err(too_deep());
            }
            Ok(match node(ctx, expr, depth + 1, !negated)? {
                Node::Const(b) => Node::Const(!b),
                Node::Tree(t) => Node::Tree(FilterTree::Not(Box::new(t))),
            })
        }
        sp::Expr::Value(v) if matches!(v.value, sp::Value::Boolean(_)) => {
            Ok(Node::Const(matches!(v.value, sp::Value::Boolean(true))))
        }
        _ => leaf(ctx, e, negated).map(|c| match c {
            Leaf::Cond(c) => Node::Tree(c),
            Leaf::Const(b) => Node::Const(b),
        }),
    }
}

/// The operands of a chain of one operator, left to right, without
/// recursion (parenthesised sub-chains of the same operator included).
fn chain<'a>(e: &'a sp::Expr, op: &sp::BinaryOperator) -> Vec<&'a sp::Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x {
            sp::Expr::BinaryOp { left, op: o, right } if o == op => {
                stack.push(right);
                stack.push(left);
            }
            sp::Expr::Nested(inner) if matches!(inner.as_ref(), sp::Expr::BinaryOp { op: o, .. } if o == op) => {
                stack.push(inner)
            }
            other => out.push(other),
        }
    }
    out
}

enum Leaf {
    Cond(FilterTree),
    Const(bool),
}

fn cond(dimension: String, op: FilterOp, values: Vec<FilterValue>) -> Leaf {
    Leaf::Cond(FilterTree::Condition(Condition {
        dimension,
        op,
        values,
    }))
}

fn negated(negate: bool, l: Leaf) -> Leaf {
    match (negate, l) {
        (false, l) => l,
        (true, Leaf::Cond(t)) => Leaf::Cond(FilterTree::Not(Box::new(t))),
        (true, Leaf::Const(b)) => Leaf::Const(!b),
    }
}

/// A literal operand's value.
fn operand_value(e: &sp::Expr) -> SqlResult<FilterValue> {
    literal::value(e).unwrap_or_else(|| {
        Err(unsupported(format!("`{e}` in WHERE is not supported"))
            .hint("compare dimensions with literals or parameters"))
    })
}

/// A test involving NULL (`x = NULL`, `x IN (NULL)`, `x NOT IN (a, NULL)`,
/// as a bound NULL parameter gives): SQL makes it unknown, never true. Where
/// no NOT encloses it, that is exactly "no row", so it folds to FALSE; under
/// NOT, unknown is not the opposite of false, so it is refused.
fn unknown(e: &sp::Expr, negated: bool) -> SqlResult<Leaf> {
    if negated {
        return Err(unsupported(format!(
            "`{e}` compares with NULL under NOT, which SQL leaves unknown"
        ))
        .hint("test for missing values with IS NULL / IS NOT NULL"));
    }
    Ok(Leaf::Const(false))
}

/// The dimension an operand names, refusing anything that is neither a
/// dimension nor a literal.
fn dimension(ctx: &Ctx, e: &sp::Expr) -> SqlResult<Option<String>> {
    let d = filter_dim(ctx, e)?;
    if d.is_none() && literal::value(e).is_none() {
        return Err(unsupported(format!("`{e}` in WHERE is not supported"))
            .hint("compare dimensions with literals or parameters"));
    }
    Ok(d)
}

fn leaf(ctx: &Ctx, e: &sp::Expr, negated_context: bool) -> SqlResult<Leaf> {
    use sp::BinaryOperator as B;
    match e {
        sp::Expr::BinaryOp { left, op, right } => {
            let (op, flipped) = match op {
                B::Eq => (FilterOp::Eq, FilterOp::Eq),
                B::NotEq => (FilterOp::Neq, FilterOp::Neq),
                B::Lt => (FilterOp::Lt, FilterOp::Gt),
                B::LtEq => (FilterOp::Lte, FilterOp::Gte),
                B::Gt => (FilterOp::Gt, FilterOp::Lt),
                B::GtEq => (FilterOp::Gte, FilterOp::Lte),
                other => {
                    return Err(
                        unsupported(format!("operator {other} in WHERE is not supported"))
                            .hint(OPERATORS),
                    );
                }
            };
            let (d, op, v, col) = match (dimension(ctx, left)?, dimension(ctx, right)?) {
                (Some(d), None) => (d, op, operand_value(right)?, left),
                (None, Some(d)) => (d, flipped, operand_value(left)?, right),
                (Some(_), Some(_)) => {
                    return Err(unsupported(format!("`{e}` compares two columns"))
                        .hint("compare a dimension with a literal"));
                }
                (None, None) => {
                    return constant_truth(e).map(Leaf::Const).ok_or_else(|| {
                        unsupported(format!("`{e}` in WHERE is not supported")).hint(OPERATORS)
                    });
                }
            };
            if v == FilterValue::Null {
                return unknown(e, negated_context);
            }
            check_text(ctx, col, std::slice::from_ref(&v))?;
            Ok(cond(d, op, vec![v]))
        }
        sp::Expr::IsNull(x) | sp::Expr::IsNotNull(x) => {
            let d = dim_operand(ctx, x)?;
            let op = if matches!(e, sp::Expr::IsNull(_)) {
                FilterOp::IsNull
            } else {
                FilterOp::IsNotNull
            };
            Ok(cond(d, op, vec![]))
        }
        sp::Expr::In {
            expr,
            target: sp::InTarget::List(list),
            negated: neg,
            ..
        } => {
            let d = dim_operand(ctx, expr)?;
            let mut values = list
                .iter()
                .map(|item| {
                    literal::value(item).unwrap_or_else(|| {
                        Err(
                            unsupported(format!("`{item}` in an IN list is not supported"))
                                .hint("IN lists hold literals"),
                        )
                    })
                })
                .collect::<SqlResult<Vec<_>>>()?;
            if values.is_empty() {
                return Err(unsupported("an empty IN list").hint("list at least one value"));
            }
            // A NULL item never makes IN true and makes NOT IN never true.
            if values.contains(&FilterValue::Null) {
                values.retain(|v| *v != FilterValue::Null);
                if *neg || values.is_empty() {
                    return unknown(e, negated_context);
                }
            }
            check_text(ctx, expr, &values)?;
            let op = if *neg { FilterOp::NotIn } else { FilterOp::In };
            Ok(cond(d, op, values))
        }
        sp::Expr::Between {
            expr,
            negated: neg,
            low,
            high,
        } => {
            let d = dim_operand(ctx, expr)?;
            let values = vec![operand_value(low)?, operand_value(high)?];
            if values.contains(&FilterValue::Null) {
                return unknown(e, negated_context || *neg);
            }
            check_text(ctx, expr, &values)?;
            Ok(negated(*neg, cond(d, FilterOp::Between, values)))
        }
        sp::Expr::Like {
            negated: neg,
            any: false,
            expr,
            pattern,
            escape_char: None,
        }
        | sp::Expr::ILike {
            negated: neg,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => {
            let d = dim_operand(ctx, expr)?;
            let p = match operand_value(pattern)? {
                FilterValue::String(s) => s,
                FilterValue::Null => return unknown(e, negated_context),
                other => {
                    return Err(SqlError::new(
                        "42883",
                        format!("LIKE needs a text pattern, not {other}"),
                    ));
                }
            };
            let op = match (matches!(e, sp::Expr::ILike { .. }), *neg) {
                (false, false) => FilterOp::Like,
                (false, true) => FilterOp::NotLike,
                (true, false) => FilterOp::Ilike,
                (true, true) => FilterOp::NotIlike,
            };
            Ok(cond(d, op, vec![FilterValue::String(p)]))
        }
        other => match constant_truth(other) {
            Some(b) => Ok(Leaf::Const(b)),
            None => {
                Err(unsupported(format!("`{other}` in WHERE is not supported")).hint(OPERATORS))
            }
        },
    }
}

/// The dimension a test applies to (`x IS NULL`, `x IN (…)`).
fn dim_operand(ctx: &Ctx, e: &sp::Expr) -> SqlResult<String> {
    filter_dim(ctx, e)?.ok_or_else(|| {
        unsupported(format!("`{e}` in WHERE is not supported"))
            .hint("the left side of IN, LIKE, BETWEEN and IS NULL is a dimension")
    })
}

/// PostgreSQL compares a text column with text only: a number against a
/// text dimension is its "operator does not exist" error, not a guess at
/// what was meant (the engines behind accord would each guess differently).
fn check_text(ctx: &Ctx, dim: &sp::Expr, values: &[FilterValue]) -> SqlResult<()> {
    let text = matches!(column_ref(ctx, dim), Some(Ok(c)) if c.ty == ColumnType::Text);
    match values.iter().find(|v| matches!(v, FilterValue::Number(_))) {
        Some(v) if text => Err(SqlError::new(
            "42883",
            format!("operator does not exist: text = numeric (`{dim}` compared with {v})"),
        )
        .hint("quote the value to compare text: '…'")),
        _ => Ok(()),
    }
}

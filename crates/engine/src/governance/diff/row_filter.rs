//! Whether a changed row filter provably narrows: every row the new filter
//! admits, the old one admitted too (`after ⇒ before`). Only simple,
//! sound cases are recognised — equal conjuncts, smaller `IN` lists, `=`
//! a listed value, tighter numeric bounds, `OR` and `AND` of those —
//! anything else is "not provably narrowing", which the diff flags as an
//! access change for a reviewer.

use crate::catalog::policy::CLAIM_PREFIX;
use crate::sql::ast::{BinOp, Expr, Literal};

/// Nesting depth past which nothing is proved (definitions are small;
/// this bounds recursion on adversarial input).
const MAX_DEPTH: usize = 32;

/// `after ⇒ before`: the new filter admits no row the old one refused.
pub fn narrows(before: &Expr, after: &Expr) -> bool {
    implies(after, before, 0)
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(x) => strip(x),
        other => other,
    }
}

fn split(e: &Expr, op: BinOp) -> Option<(&Expr, &Expr)> {
    match strip(e) {
        Expr::Binary { op: o, left, right } if *o == op => Some((&**left, &**right)),
        _ => None,
    }
}

/// Whether `a` implies `b` for every row.
fn implies(a: &Expr, b: &Expr, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let (a, b) = (strip(a), strip(b));
    if a == b {
        return true;
    }
    let d = depth + 1;
    // b = l AND r: a must imply both.
    if let Some((l, r)) = split(b, BinOp::And) {
        return implies(a, l, d) && implies(a, r, d);
    }
    // a = l OR r: both branches must imply b.
    if let Some((l, r)) = split(a, BinOp::Or) {
        return implies(l, b, d) && implies(r, b, d);
    }
    // a = l AND r: one conjunct implying b is enough.
    if let Some((l, r)) = split(a, BinOp::And)
        && (implies(l, b, d) || implies(r, b, d))
    {
        return true;
    }
    // b = l OR r: implying one branch is enough.
    if let Some((l, r)) = split(b, BinOp::Or)
        && (implies(a, l, d) || implies(a, r, d))
    {
        return true;
    }
    atom_implies(a, b)
}

/// A value a filter compares with: a literal or a caller's claim.
fn is_value(e: &Expr) -> bool {
    match strip(e) {
        Expr::Lit(_) => true,
        Expr::Ref(parts) => parts.len() == 1 && parts[0].value.starts_with(CLAIM_PREFIX),
        _ => false,
    }
}

/// The column side of a comparison: a dimension reference.
fn is_column(e: &Expr) -> bool {
    matches!(strip(e), Expr::Ref(_)) && !is_value(e)
}

/// `column IN (values)` / `column = value` as (column, values, negated).
fn value_set(e: &Expr) -> Option<(&Expr, Vec<&Expr>, bool)> {
    match strip(e) {
        Expr::InList {
            expr,
            list,
            negated,
        } if is_column(expr) && list.iter().all(is_value) => {
            Some((strip(expr), list.iter().map(strip).collect(), *negated))
        }
        Expr::Binary { op, left, right } if matches!(op, BinOp::Eq | BinOp::NotEq) => {
            let negated = *op == BinOp::NotEq;
            if is_column(left) && is_value(right) {
                Some((strip(left), vec![strip(right)], negated))
            } else if is_column(right) && is_value(left) {
                Some((strip(right), vec![strip(left)], negated))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// `column > n` etc. with a number literal, as (column, op, n).
fn bound(e: &Expr) -> Option<(&Expr, BinOp, f64)> {
    let Expr::Binary { op, left, right } = strip(e) else {
        return None;
    };
    let num = |x: &Expr| match strip(x) {
        Expr::Lit(Literal::Number(n)) => n.parse::<f64>().ok(),
        _ => None,
    };
    let flip = |op: BinOp| match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::LtEq => BinOp::GtEq,
        BinOp::Gt => BinOp::Lt,
        BinOp::GtEq => BinOp::LtEq,
        o => o,
    };
    if !matches!(op, BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq) {
        return None;
    }
    if is_column(left) {
        num(right.as_ref()).map(|n| (strip(left.as_ref()), *op, n))
    } else if is_column(right) {
        num(left.as_ref()).map(|n| (strip(right.as_ref()), flip(*op), n))
    } else {
        None
    }
}

/// Whether `x op n` holds for the number `v`.
fn holds(op: BinOp, v: f64, n: f64) -> bool {
    match op {
        BinOp::Gt => v > n,
        BinOp::GtEq => v >= n,
        BinOp::Lt => v < n,
        BinOp::LtEq => v <= n,
        _ => false,
    }
}

fn atom_implies(a: &Expr, b: &Expr) -> bool {
    if let (Some((ca, va, na)), Some((cb, vb, nb))) = (value_set(a), value_set(b))
        && ca == cb
    {
        return match (na, nb) {
            // x IN A ⇒ x IN B when A ⊆ B.
            (false, false) => va.iter().all(|v| vb.contains(v)),
            // x NOT IN A ⇒ x NOT IN B when B ⊆ A.
            (true, true) => vb.iter().all(|v| va.contains(v)),
            // x IN A ⇒ x NOT IN B when no value of A is in B (literals
            // only: two claims may be equal).
            (false, true) => {
                va.iter()
                    .all(|v| matches!(v, Expr::Lit(_)) && !vb.contains(v))
                    && vb.iter().all(|v| matches!(v, Expr::Lit(_)))
            }
            (true, false) => false,
        };
    }
    let Some((cb, ob, nb)) = bound(b) else {
        return false;
    };
    if let Some((ca, oa, na)) = bound(a)
        && ca == cb
    {
        let lower = |o: BinOp| matches!(o, BinOp::Gt | BinOp::GtEq);
        if lower(oa) != lower(ob) {
            return false;
        }
        // a's bound at least as tight as b's: na itself (or just past it,
        // for a strict a) satisfies b.
        return if na == nb {
            oa == ob || matches!(oa, BinOp::Gt | BinOp::Lt)
        } else {
            holds(ob, na, nb)
        };
    }
    // x IN (numbers) ⇒ x > n when every number is.
    if let Some((ca, va, false)) = value_set(a)
        && ca == cb
    {
        return va.iter().all(|v| match v {
            Expr::Lit(Literal::Number(s)) => s.parse::<f64>().is_ok_and(|x| holds(ob, x, nb)),
            _ => false,
        });
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::convert::{Origin, parse_expr};

    fn e(s: &str) -> Expr {
        let text = crate::catalog::policy::claims_to_placeholders(s).unwrap();
        parse_expr(&text, Origin::Definition).unwrap()
    }

    #[test]
    fn narrowing_is_proved_only_when_sound() {
        let cases: &[(&str, &str, bool)] = &[
            ("region = 'EU'", "region = 'EU'", true),
            ("region IN ('EU', 'NA')", "region = 'EU'", true),
            ("region IN ('EU', 'NA')", "region IN ('NA')", true),
            ("region = 'EU'", "region IN ('EU', 'NA')", false),
            ("region = 'EU'", "region = 'NA'", false),
            ("region = 'EU'", "region = 'EU' AND country <> 'FR'", true),
            ("region = 'EU' AND country <> 'FR'", "region = 'EU'", false),
            ("region = 'EU' OR region = 'NA'", "region = 'NA'", true),
            ("region = 'EU'", "region = 'EU' OR region = 'NA'", false),
            ("amount > 10", "amount > 20", true),
            ("amount > 10", "amount >= 10", false),
            ("amount >= 10", "amount > 10", true),
            ("amount > 20", "amount > 10", false),
            ("amount < 100", "amount <= 50", true),
            ("amount < 100", "amount IN (1, 2)", true),
            ("status NOT IN ('x')", "status NOT IN ('x', 'y')", true),
            ("status NOT IN ('x', 'y')", "status NOT IN ('x')", false),
            ("status <> 'x'", "status = 'y'", true),
            (
                "region = {{ claims.region }}",
                "region = {{ claims.region }}",
                true,
            ),
            (
                "region = {{ claims.region }}",
                "region = {{ claims.region }} AND tier = 'gold'",
                true,
            ),
            ("region = {{ claims.region }}", "region <> 'EU'", false),
            ("lower(region) = 'eu'", "region = 'EU'", false),
        ];
        for (before, after, want) in cases {
            assert_eq!(narrows(&e(before), &e(after)), *want, "{before} → {after}");
        }
    }

    #[test]
    fn deep_filters_are_not_proved() {
        let mut f = e("a = 1");
        for _ in 0..200 {
            f = Expr::binary(BinOp::Or, f, e("a = 1"));
        }
        assert!(!narrows(&e("a = 2"), &f));
    }
}

//! Parses expressions written in definitions and requests with sqlparser and
//! converts them into accord's AST. Anything outside the supported subset is
//! refused with a message naming it, so no text is ever pasted into SQL.

use super::ast::{BinOp, Expr, Ident, Literal, SqlType, UnOp, is_aggregate_function};
use super::guard;
use crate::error::{ErrorCode, PlanError};
use crate::vocab::Grain;
use chrono::{NaiveDate, NaiveDateTime};
use sqlparser::ast as sp;
use sqlparser::dialect::GenericDialect;

/// Who wrote the expression decides what it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A steward's definition: any warehouse function may be called.
    Definition,
    /// A caller's request: only row-level functions from a fixed list, so a
    /// request cannot read files, sleep, or reach other tables.
    Request,
}

/// Row-level functions a request's `where` may use. They exist under these
/// names in every executed dialect.
const REQUEST_FUNCTIONS: &[&str] = &[
    "lower", "upper", "coalesce", "abs", "round", "length", "trim", "nullif", "greatest", "least",
    "floor", "ceil",
];

/// Why an expression was refused: too large or deep (`query_too_complex`,
/// SQLSTATE 54001) or anything else (`invalid_filter` in a request).
#[derive(Debug, Clone, PartialEq)]
pub enum ExprError {
    TooComplex(String),
    Invalid(String),
}

impl ExprError {
    pub fn message(self) -> String {
        match self {
            ExprError::TooComplex(m) | ExprError::Invalid(m) => m,
        }
    }
}

pub fn parse_expr(text: &str, origin: Origin) -> Result<Expr, String> {
    parse_checked(text, origin).map_err(ExprError::message)
}

/// A request's `where` filter, with the error the planner reports.
pub fn parse_request_filter(text: &str) -> Result<Expr, PlanError> {
    parse_checked(text, Origin::Request).map_err(|e| match e {
        ExprError::TooComplex(m) => PlanError::new(ErrorCode::QueryTooComplex, m),
        ExprError::Invalid(m) => PlanError::new(ErrorCode::InvalidFilter, m),
    })
}

/// Parses with bounded size and recursion (see [`crate::sql::guard`]), so
/// [`convert`] and every later pass see a shallow tree.
pub fn parse_checked(text: &str, origin: Origin) -> Result<Expr, ExprError> {
    let what = "the expression";
    let cannot =
        |e: &dyn std::fmt::Display| ExprError::Invalid(format!("cannot parse `{text}`: {e}"));
    let failed = |f: guard::Failure| match f {
        guard::Failure::TooComplex(m) => ExprError::TooComplex(m),
        guard::Failure::Syntax(e) => cannot(&e),
    };
    let dialect = GenericDialect {};
    let mut parser = guard::parser(&dialect, text, what).map_err(failed)?;
    let mut parsed = parser
        .parse_expr()
        .map_err(|e| failed(guard::parse_error(e, what)))?;
    guard::bound(&mut parsed, what).map_err(failed)?;
    // Anything after the expression (`x = 1; DROP TABLE t`) is an error, not
    // something to ignore.
    let rest = parser.peek_token();
    if rest.token != sqlparser::tokenizer::Token::EOF {
        return Err(ExprError::Invalid(format!(
            "unexpected `{}` after the expression in `{text}`",
            rest.token
        )));
    }
    convert(&parsed, origin).map_err(ExprError::Invalid)
}

fn ident(i: &sp::Ident) -> Ident {
    Ident {
        value: i.value.clone(),
        quoted: i.quote_style.is_some(),
    }
}

fn binop(op: &sp::BinaryOperator) -> Result<BinOp, String> {
    use sp::BinaryOperator as B;
    Ok(match op {
        B::Plus => BinOp::Plus,
        B::Minus => BinOp::Minus,
        B::Multiply => BinOp::Multiply,
        B::Divide => BinOp::Divide,
        B::Modulo => BinOp::Modulo,
        B::Eq => BinOp::Eq,
        B::NotEq => BinOp::NotEq,
        B::Lt => BinOp::Lt,
        B::LtEq => BinOp::LtEq,
        B::Gt => BinOp::Gt,
        B::GtEq => BinOp::GtEq,
        B::And => BinOp::And,
        B::Or => BinOp::Or,
        B::StringConcat => BinOp::Concat,
        other => return Err(format!("operator `{other}` is not supported")),
    })
}

fn literal(v: &sp::Value) -> Result<Literal, String> {
    Ok(match v {
        sp::Value::Number(n, _) => Literal::Number(n.to_string()),
        sp::Value::SingleQuotedString(s) => Literal::String(s.clone()),
        sp::Value::Boolean(b) => Literal::Bool(*b),
        sp::Value::Null => Literal::Null,
        other => {
            return Err(format!(
                "literal `{other}` is not supported; use a 'single-quoted' string"
            ));
        }
    })
}

pub fn parse_timestamp(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%SZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

fn boxed(e: &sp::Expr, origin: Origin) -> Result<Box<Expr>, String> {
    convert(e, origin).map(Box::new)
}

pub fn convert(e: &sp::Expr, origin: Origin) -> Result<Expr, String> {
    Ok(match e {
        sp::Expr::Identifier(i) => {
            let upper = i.value.to_ascii_uppercase();
            if i.quote_style.is_none() && upper == "CURRENT_DATE" {
                Expr::Keyword("CURRENT_DATE")
            } else if i.quote_style.is_none() && upper == "CURRENT_TIMESTAMP" {
                Expr::Keyword("CURRENT_TIMESTAMP")
            } else {
                Expr::Ref(vec![ident(i)])
            }
        }
        sp::Expr::CompoundIdentifier(parts) => Expr::Ref(parts.iter().map(ident).collect()),
        sp::Expr::Value(v) => Expr::Lit(literal(&v.value)?),
        sp::Expr::TypedString(ts) => {
            let text = match &ts.value.value {
                sp::Value::SingleQuotedString(s) => s.clone(),
                other => return Err(format!("unsupported typed literal `{other}`")),
            };
            match &ts.data_type {
                sp::DataType::Date => Expr::Lit(Literal::Date(
                    NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                        .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))?,
                )),
                sp::DataType::Timestamp(..) | sp::DataType::Datetime(_) => {
                    Expr::Lit(Literal::Timestamp(parse_timestamp(&text).ok_or_else(
                        || format!("`{text}` is not a timestamp (YYYY-MM-DD HH:MM:SS)"),
                    )?))
                }
                other => return Err(format!("typed literal `{other} '...'` is not supported")),
            }
        }
        sp::Expr::BinaryOp { left, op, right } => Expr::Binary {
            op: binop(op)?,
            left: boxed(left, origin)?,
            right: boxed(right, origin)?,
        },
        sp::Expr::UnaryOp { op, expr } => match op {
            sp::UnaryOperator::Not => Expr::Unary {
                op: UnOp::Not,
                expr: boxed(expr, origin)?,
            },
            sp::UnaryOperator::Minus => Expr::Unary {
                op: UnOp::Neg,
                expr: boxed(expr, origin)?,
            },
            sp::UnaryOperator::Plus => convert(expr, origin)?,
            other => return Err(format!("operator `{other}` is not supported")),
        },
        sp::Expr::Nested(inner) => Expr::Nested(boxed(inner, origin)?),
        sp::Expr::IsNull(inner) => Expr::IsNull {
            expr: boxed(inner, origin)?,
            negated: false,
        },
        sp::Expr::IsNotNull(inner) => Expr::IsNull {
            expr: boxed(inner, origin)?,
            negated: true,
        },
        sp::Expr::IsTrue(inner) => Expr::binary(
            BinOp::Eq,
            convert(inner, origin)?,
            Expr::Lit(Literal::Bool(true)),
        ),
        sp::Expr::IsFalse(inner) => Expr::binary(
            BinOp::Eq,
            convert(inner, origin)?,
            Expr::Lit(Literal::Bool(false)),
        ),
        sp::Expr::In {
            expr,
            target,
            negated,
            ..
        } => match target {
            sp::InTarget::List(list) => Expr::InList {
                expr: boxed(expr, origin)?,
                list: list
                    .iter()
                    .map(|x| convert(x, origin))
                    .collect::<Result<_, _>>()?,
                negated: *negated,
            },
            _ => return Err("IN takes a list of values here; subqueries are not supported".into()),
        },
        sp::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Expr::Between {
            expr: boxed(expr, origin)?,
            low: boxed(low, origin)?,
            high: boxed(high, origin)?,
            negated: *negated,
        },
        sp::Expr::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        }
        | sp::Expr::ILike {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            if *any || escape_char.is_some() {
                return Err("LIKE ANY and LIKE ... ESCAPE are not supported".into());
            }
            Expr::Like {
                expr: boxed(expr, origin)?,
                pattern: boxed(pattern, origin)?,
                negated: *negated,
                case_insensitive: matches!(e, sp::Expr::ILike { .. }),
            }
        }
        sp::Expr::Cast {
            kind,
            expr,
            data_type,
            format,
        } => {
            if format.is_some() || !matches!(kind, sp::CastKind::Cast | sp::CastKind::DoubleColon) {
                return Err("only CAST(x AS type) is supported".into());
            }
            let ty = SqlType::parse(&data_type.to_string()).ok_or_else(|| {
                format!(
                    "cannot cast to `{data_type}`; use one of double, bigint, text, date, timestamp, boolean, decimal"
                )
            })?;
            Expr::Cast {
                expr: boxed(expr, origin)?,
                ty,
            }
        }
        sp::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Expr::Case {
            operand: match operand {
                Some(o) => Some(boxed(o, origin)?),
                None => None,
            },
            whens: conditions
                .iter()
                .map(|c| Ok((convert(&c.condition, origin)?, convert(&c.result, origin)?)))
                .collect::<Result<_, String>>()?,
            otherwise: match else_result {
                Some(o) => Some(boxed(o, origin)?),
                None => None,
            },
        },
        sp::Expr::Function(f) => function(f, origin)?,
        sp::Expr::JsonAccess { value, path } if origin == Origin::Request => {
            grain_suffix(e, value, path)?
        }
        sp::Expr::Subquery(_) | sp::Expr::Exists { .. } => {
            return Err("subqueries are not supported in expressions".into());
        }
        other => return Err(format!("`{other}` is not supported in an expression")),
    })
}

fn function(f: &sp::Function, origin: Origin) -> Result<Expr, String> {
    let name = match f.name.0.as_slice() {
        [sp::ObjectNamePart::Identifier(i)] => i.value.clone(),
        _ => return Err(format!("function `{}` must be a plain name", f.name)),
    };
    let lower = name.to_ascii_lowercase();
    if origin == Origin::Request && lower == "date_trunc" {
        return date_trunc(f, origin);
    }
    if origin == Origin::Request && !REQUEST_FUNCTIONS.contains(&lower.as_str()) {
        return Err(format!(
            "function `{name}` is not allowed in a request filter; allowed: {}",
            REQUEST_FUNCTIONS.join(", ")
        ));
    }
    if origin == Origin::Request && is_aggregate_function(&lower) {
        return Err(format!("aggregate `{name}` is not allowed in a filter"));
    }
    if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
        return Err(format!(
            "window or filtered aggregate calls (`{name}`) are not supported"
        ));
    }
    if !matches!(f.parameters, sp::FunctionArguments::None) {
        return Err(format!("parametric function `{name}` is not supported"));
    }
    let (args, distinct) = match &f.args {
        sp::FunctionArguments::None => (Vec::new(), false),
        sp::FunctionArguments::Subquery(_) => {
            return Err("subqueries are not supported in expressions".into());
        }
        sp::FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(format!("clauses inside `{name}(...)` are not supported"));
            }
            let distinct = matches!(
                list.duplicate_treatment,
                Some(sp::DuplicateTreatment::Distinct)
            );
            let mut args = Vec::new();
            for a in &list.args {
                match a {
                    sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(x)) => {
                        args.push(convert(x, origin)?)
                    }
                    sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard) => {
                        args.push(Expr::Star)
                    }
                    _ => {
                        return Err(format!(
                            "named or wildcard arguments to `{name}` are not supported"
                        ));
                    }
                }
            }
            (args, distinct)
        }
    };
    // Definitions keep the author's spelling; requests use the allow-list's.
    let name = if origin == Origin::Request {
        lower
    } else {
        name
    };
    Ok(Expr::Func {
        name,
        args,
        distinct,
    })
}

// ---------------------------------------------------------------------------
// Time grains in a request's `where`. A request names a grain the way its
// `dimensions` and `filters` do, `metric_time:day`, and a filter on it
// compares the truncated time (the query's zone and week start applied), as
// a `filters` entry on `metric_time:day` does. The grain stays in the
// reference's text, `Ref([.., "metric_time:day"])`, which
// `DimensionRef::parse` reads like any other reference text; nothing of it
// becomes SQL text.

/// `metric_time:day` (sqlparser reads `a:b` as semi-structured access).
fn grain_suffix(e: &sp::Expr, value: &sp::Expr, path: &sp::JsonPath) -> Result<Expr, String> {
    let written = || e.to_string();
    let grain = match path.path.as_slice() {
        [sp::JsonPathElem::Dot { key, quoted: false }] => key.as_str(),
        _ => {
            return Err(format!(
                "`{}`: after `:` write a time grain ({})",
                written(),
                Grain::names().join(", ")
            ));
        }
    };
    let parts = reference_parts(value).ok_or_else(|| {
        format!(
            "`{}`: a time grain (`:{grain}`) follows a dimension reference, e.g. `metric_time:{grain}`",
            written()
        )
    })?;
    grained(parts, grain, &written())
}

/// `date_trunc('day', metric_time)` is `metric_time:day`, and nothing else:
/// the grain is a literal and the time a dimension reference.
fn date_trunc(f: &sp::Function, origin: Origin) -> Result<Expr, String> {
    let usage = "date_trunc takes a grain and a time dimension: `date_trunc('day', metric_time)`, the same as `metric_time:day`";
    let sp::FunctionArguments::List(list) = &f.args else {
        return Err(usage.into());
    };
    let args: Vec<&sp::Expr> = list
        .args
        .iter()
        .filter_map(|a| match a {
            sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(x)) => Some(x),
            _ => None,
        })
        .collect();
    let plain = list.duplicate_treatment.is_none()
        && list.clauses.is_empty()
        && args.len() == list.args.len()
        && f.over.is_none()
        && f.filter.is_none();
    let (grain, time) = match args.as_slice() {
        [g, t] if plain => (g, t),
        _ => return Err(usage.into()),
    };
    let grain = match convert(grain, origin)? {
        Expr::Lit(Literal::String(g)) => g,
        _ => return Err(format!("{usage}; the grain is a quoted literal")),
    };
    let parts = reference_parts(time)
        .ok_or_else(|| format!("{usage}; `{time}` is not a dimension reference"))?;
    if Grain::parse(grain.trim()).is_none() {
        let mut m = format!(
            "unknown time grain `{grain}` in `{f}`; the grains are {}",
            Grain::names().join(", ")
        );
        if let Some(close) = crate::diagnostics::closest(&grain, Grain::names()).first() {
            m.push_str(&format!("; did you mean `{close}`?"));
        }
        return Err(m);
    }
    grained(parts, &grain, &f.to_string())
}

/// The parts of a plain (possibly qualified) reference.
fn reference_parts(e: &sp::Expr) -> Option<Vec<Ident>> {
    match e {
        sp::Expr::Identifier(i) => Some(vec![ident(i)]),
        sp::Expr::CompoundIdentifier(parts) => Some(parts.iter().map(ident).collect()),
        sp::Expr::Nested(inner) => reference_parts(inner),
        _ => None,
    }
}

/// The reference with its grain written after a `:`, as a request's
/// `dimensions` and `filters` write it. Which grains exist is checked where
/// every reference text is read, `DimensionRef::parse`, so a misspelt grain
/// reads the same (with the grains and the closest one) in every field;
/// here only a word may follow the `:`.
fn grained(mut parts: Vec<Ident>, grain: &str, written: &str) -> Result<Expr, String> {
    let grain = grain.trim();
    if grain.is_empty() || !grain.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{written}`: `{grain}` is not a time grain; the grains are {}",
            Grain::names().join(", ")
        ));
    }
    let last = parts.last_mut().expect("a reference has a part");
    if last.value.contains(':') {
        return Err(format!("`{written}` names two grains"));
    }
    // A known grain in its one spelling, so `DAY` and `day` are one query.
    let grain = Grain::parse(grain).map_or(grain, |g| g.name());
    last.value = format!("{}:{grain}", last.value);
    Ok(Expr::Ref(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_trailing_statements() {
        assert!(parse_expr("a = 1; DROP TABLE t", Origin::Request).is_err());
        assert!(parse_expr("read_csv('/etc/passwd') = 1", Origin::Request).is_err());
        assert!(parse_expr("lower(region) = 'eu'", Origin::Request).is_ok());
        assert!(parse_expr("x IN (SELECT 1)", Origin::Definition).is_err());
    }

    fn ref_text(e: &Expr) -> Vec<String> {
        let mut out = Vec::new();
        e.walk(&mut |x| {
            if let Expr::Ref(parts) = x {
                let p: Vec<&str> = parts.iter().map(|i| i.value.as_str()).collect();
                out.push(p.join("."));
            }
        });
        out
    }

    #[test]
    fn a_request_names_a_grain_as_its_dimensions_do() {
        for (text, wanted) in [
            ("metric_time:day >= '2025-01-01'", "metric_time:day"),
            (
                "date_trunc('DAY', metric_time) >= '2025-01-01'",
                "metric_time:day",
            ),
            (
                "orders.ordered_at:week = '2025-03-03'",
                "orders.ordered_at:week",
            ),
            (
                "DATE_TRUNC('week', orders.ordered_at) = '2025-03-03'",
                "orders.ordered_at:week",
            ),
        ] {
            let e = parse_request_filter(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
            assert_eq!(ref_text(&e), vec![wanted.to_string()], "{text}");
        }
        // The same text means `metric_time:day` in both spellings.
        assert_eq!(
            parse_request_filter("metric_time:day >= '2025-01-01'").unwrap(),
            parse_request_filter("date_trunc('day', metric_time) >= '2025-01-01'").unwrap()
        );
    }

    #[test]
    fn misplaced_or_unknown_grains_say_how_to_write_one() {
        let err = |t: &str| parse_request_filter(t).unwrap_err().message;
        assert!(err("lower(x):day = 'a'").contains("follows a dimension reference"));
        assert!(err("metric_time:day.x = 1").contains("after `:` write a time grain"));
        let m = err("date_trunc('dya', metric_time) = '2025-01-01'");
        assert!(
            m.contains("hour, day, week") && m.contains("did you mean `day`"),
            "{m}"
        );
        assert!(err("date_trunc('day; drop', metric_time) = 1").contains("unknown time grain"));
        assert!(err("date_trunc(lower(x), metric_time) = 1").contains("quoted literal"));
        assert!(err("date_trunc('day', lower(x)) = 1").contains("not a dimension reference"));
        assert!(err("date_trunc('day', metric_time:month) = 1").contains("not a dimension"));
        // Definitions do not take request grains; their functions are theirs.
        assert!(parse_expr("metric_time:day = 1", Origin::Definition).is_err());
        assert!(matches!(
            parse_expr("date_trunc('day', ordered_at)", Origin::Definition),
            Ok(Expr::Func { .. })
        ));
    }

    /// Height of accord's tree (every node counts).
    fn height(e: &Expr) -> usize {
        let mut stack = vec![(e, 1usize)];
        let mut max = 0;
        while let Some((e, d)) = stack.pop() {
            max = max.max(d);
            if let Expr::Binary { left, right, .. } = e {
                stack.push((left, d + 1));
                stack.push((right, d + 1));
            }
        }
        max
    }

    #[test]
    fn a_thousand_alternatives_become_a_shallow_tree() {
        let terms: Vec<String> = (0..1000).map(|i| format!("a = {i}")).collect();
        let e = parse_request_filter(&terms.join(" OR ")).unwrap();
        // 1,000 leaves balanced: 10 levels of OR plus the comparison.
        assert!(height(&e) <= 12, "height {}", height(&e));
        let mut leaves = 0;
        e.walk(&mut |x| {
            if matches!(x, Expr::Binary { op: BinOp::Eq, .. }) {
                leaves += 1;
            }
        });
        assert_eq!(leaves, 1000);
    }

    #[test]
    fn deep_expressions_are_query_too_complex() {
        let minus = vec!["1"; 200].join(" - ");
        let err = parse_request_filter(&minus).unwrap_err();
        assert_eq!(err.code, ErrorCode::QueryTooComplex);
        let parens = format!("{}a{} = 1", "(".repeat(100), ")".repeat(100));
        assert!(matches!(
            parse_checked(&parens, Origin::Definition),
            Err(ExprError::TooComplex(_))
        ));
        let nots = format!("{}a", "NOT ".repeat(100));
        assert!(matches!(
            parse_checked(&nots, Origin::Request),
            Err(ExprError::TooComplex(_))
        ));
        // Other mistakes keep their code.
        let bad = parse_request_filter("a = ").unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidFilter);
        // Nesting within the limit is fine.
        assert!(parse_request_filter(&vec!["1"; 30].join(" - ")).is_ok());
    }
}

//! PostgreSQL literals as typed filter values: strings (including `E'…'`
//! escape strings, already unescaped by the parser), numbers with unary
//! signs (`- -1` is 1), `NULL`, booleans, `DATE '…'` / `TIMESTAMP '…'`,
//! casts (`'…'::date`, `CAST(… AS numeric)`). Bound parameters arrive as
//! these literals (see `handler::bind`). A value never becomes SQL text:
//! the planner writes it as a literal escaped for the warehouse.

use chrono::NaiveDate;
use sqlparser::ast as sp;

use crate::error::{FEATURE_NOT_SUPPORTED, SqlError, SqlResult};
use crate::query::FilterValue;
use crate::sql::convert::parse_timestamp;

const INVALID_TEXT: &str = "22P02";
const INVALID_DATETIME: &str = "22007";
const UNDEFINED_PARAMETER: &str = "42P02";

fn not_a(what: &str, text: &str) -> SqlError {
    let code = if what.contains("date") || what.contains("timestamp") {
        INVALID_DATETIME
    } else {
        INVALID_TEXT
    };
    SqlError::new(
        code,
        format!("invalid input syntax for type {what}: \"{text}\""),
    )
}

/// The typed value a literal expression denotes, or `None` when the
/// expression is not a literal at all (a column, a function call).
pub fn value(e: &sp::Expr) -> Option<SqlResult<FilterValue>> {
    Some(match e {
        sp::Expr::Value(v) => scalar(&v.value),
        sp::Expr::Nested(inner) => return value(inner),
        sp::Expr::UnaryOp { op, expr } => match op {
            sp::UnaryOperator::Minus => value(expr)?.and_then(negate),
            sp::UnaryOperator::Plus => value(expr)?.and_then(|v| match v {
                FilterValue::Number(_) | FilterValue::Null => Ok(v),
                other => Err(SqlError::new(
                    "42883",
                    format!("operator does not exist: + {other}"),
                )),
            }),
            _ => return None,
        },
        sp::Expr::TypedString(t) => match t.value.value.clone().into_string() {
            Some(text) => cast(FilterValue::String(text), &t.data_type),
            None => Err(unsupported_literal(e)),
        },
        sp::Expr::Cast {
            expr,
            data_type,
            format: None,
            ..
        } => value(expr)?.and_then(|v| cast(v, data_type)),
        _ => return None,
    })
}

fn unsupported_literal(e: &sp::Expr) -> SqlError {
    SqlError::new(
        FEATURE_NOT_SUPPORTED,
        format!("the literal `{e}` is not supported in a filter"),
    )
    .hint("use strings, numbers, booleans, NULL, DATE '…' or TIMESTAMP '…'")
}

fn scalar(v: &sp::Value) -> SqlResult<FilterValue> {
    match v {
        sp::Value::Number(n, _) => FilterValue::number(n).ok_or_else(|| not_a("numeric", n)),
        sp::Value::SingleQuotedString(s)
        | sp::Value::EscapedStringLiteral(s)
        | sp::Value::UnicodeStringLiteral(s)
        | sp::Value::NationalStringLiteral(s) => Ok(FilterValue::String(s.clone())),
        sp::Value::DollarQuotedString(d) => Ok(FilterValue::String(d.value.clone())),
        sp::Value::Boolean(b) => Ok(FilterValue::Bool(*b)),
        sp::Value::Null => Ok(FilterValue::Null),
        sp::Value::Placeholder(p) => Err(SqlError::new(
            UNDEFINED_PARAMETER,
            format!("there is no parameter {p}"),
        )),
        other => Err(SqlError::new(
            FEATURE_NOT_SUPPORTED,
            format!("the literal `{other}` is not supported in a filter"),
        )),
    }
}

/// `-x`: the number with its sign flipped (so `- -1` is `1`).
fn negate(v: FilterValue) -> SqlResult<FilterValue> {
    match v {
        FilterValue::Number(n) => {
            let flipped = match n.strip_prefix('-') {
                Some(rest) => rest.to_string(),
                None => format!("-{}", n.strip_prefix('+').unwrap_or(&n)),
            };
            Ok(FilterValue::Number(flipped))
        }
        FilterValue::Null => Ok(FilterValue::Null),
        other => Err(SqlError::new(
            "42883",
            format!("operator does not exist: - {other}"),
        )),
    }
}

/// What PostgreSQL's cast of a literal to `ty` gives, for the types a
/// filter can hold.
fn cast(v: FilterValue, ty: &sp::DataType) -> SqlResult<FilterValue> {
    use sp::DataType as T;
    if v == FilterValue::Null {
        return Ok(v);
    }
    let text = |v: &FilterValue| match v {
        FilterValue::String(s) | FilterValue::Number(s) => Some(s.clone()),
        _ => None,
    };
    match ty {
        T::Date => match &v {
            FilterValue::Date(_) => Ok(v),
            FilterValue::Timestamp(t) => Ok(FilterValue::Date(t.date())),
            FilterValue::String(s) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .ok()
                .or_else(|| parse_timestamp(s).map(|t| t.date()))
                .map(FilterValue::Date)
                .ok_or_else(|| not_a("date", s)),
            other => Err(not_a("date", &other.to_string())),
        },
        T::Timestamp(_, sp::TimezoneInfo::None | sp::TimezoneInfo::WithoutTimeZone)
        | T::Datetime(_) => match &v {
            FilterValue::Timestamp(_) => Ok(v),
            FilterValue::Date(d) => Ok(FilterValue::Timestamp(d.and_time(Default::default()))),
            FilterValue::String(s) => parse_timestamp(s)
                .map(FilterValue::Timestamp)
                .ok_or_else(|| not_a("timestamp", s)),
            other => Err(not_a("timestamp", &other.to_string())),
        },
        T::Text
        | T::Varchar(_)
        | T::CharacterVarying(_)
        | T::CharVarying(_)
        | T::Char(_)
        | T::Character(_)
        | T::String(_) => Ok(FilterValue::String(match &v {
            FilterValue::Bool(b) => b.to_string(),
            FilterValue::Date(d) => d.format("%Y-%m-%d").to_string(),
            FilterValue::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.f").to_string(),
            other => text(other).unwrap_or_default(),
        })),
        T::Int(_)
        | T::Integer(_)
        | T::Int2(_)
        | T::Int4(_)
        | T::Int8(_)
        | T::SmallInt(_)
        | T::BigInt(_) => {
            let t = text(&v).ok_or_else(|| not_a("integer", &v.to_string()))?;
            let t = t.trim();
            let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
                Ok(FilterValue::Number(t.to_string()))
            } else {
                Err(not_a("integer", t))
            }
        }
        T::Numeric(_)
        | T::Decimal(_)
        | T::Real
        | T::Float4
        | T::Float8
        | T::Float(_)
        | T::Double(_)
        | T::DoublePrecision => {
            let t = text(&v).ok_or_else(|| not_a("numeric", &v.to_string()))?;
            FilterValue::number(&t).ok_or_else(|| not_a("numeric", &t))
        }
        T::Bool | T::Boolean => match &v {
            FilterValue::Bool(_) => Ok(v),
            FilterValue::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "t" | "true" | "yes" | "y" | "on" | "1" => Ok(FilterValue::Bool(true)),
                "f" | "false" | "no" | "n" | "off" | "0" => Ok(FilterValue::Bool(false)),
                _ => Err(not_a("boolean", s)),
            },
            other => Err(not_a("boolean", &other.to_string())),
        },
        other => Err(SqlError::new(
            FEATURE_NOT_SUPPORTED,
            format!("a cast to {other} is not supported in a filter"),
        )
        .hint("cast to date, timestamp, text, numeric, integer or boolean")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    fn lit(sql: &str) -> SqlResult<FilterValue> {
        let e = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap();
        value(&e).expect("a literal")
    }

    fn s(x: &str) -> FilterValue {
        FilterValue::String(x.into())
    }

    #[test]
    fn escape_strings_are_unescaped_values() {
        assert_eq!(lit(r"E'\n5) OR 1=1 --'").unwrap(), s("\n5) OR 1=1 --"));
        assert_eq!(lit(r"E'it\'s'").unwrap(), s("it's"));
        assert_eq!(lit("'it''s'").unwrap(), s("it's"));
        assert_eq!(lit("$$a'b$$").unwrap(), s("a'b"));
    }

    #[test]
    fn unary_minus_is_arithmetic() {
        let n = |x: &str| FilterValue::Number(x.into());
        assert_eq!(lit("- -1").unwrap(), n("1"));
        assert_eq!(lit("-1").unwrap(), n("-1"));
        assert_eq!(lit("- - -2.5").unwrap(), n("-2.5"));
        assert_eq!(lit("+3").unwrap(), n("3"));
        assert!(lit("-'x'").is_err());
    }

    #[test]
    fn casts_and_typed_strings() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap();
        assert_eq!(lit("DATE '2025-01-31'").unwrap(), FilterValue::Date(d));
        assert_eq!(lit("'2025-01-31'::date").unwrap(), FilterValue::Date(d));
        assert_eq!(
            lit("TIMESTAMP '2025-01-31 08:00:00'").unwrap(),
            FilterValue::Timestamp(d.and_hms_opt(8, 0, 0).unwrap())
        );
        assert_eq!(
            lit("CAST('12.50' AS numeric)").unwrap(),
            FilterValue::Number("12.50".into())
        );
        assert_eq!(lit("'t'::boolean").unwrap(), FilterValue::Bool(true));
        assert_eq!(lit("NULL::date").unwrap(), FilterValue::Null);
        assert_eq!(lit("5::text").unwrap(), s("5"));
        assert_eq!(
            lit("'2025-13-01'::date").unwrap_err().code,
            INVALID_DATETIME
        );
        assert_eq!(lit("'1; drop'::numeric").unwrap_err().code, INVALID_TEXT);
        assert_eq!(lit("'1.5'::int").unwrap_err().code, INVALID_TEXT);
        assert!(lit("'x'::interval").is_err());
    }
}

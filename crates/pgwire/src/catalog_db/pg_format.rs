//! PostgreSQL's `format()`, as an expression DuckDB runs.

use sqlparser::ast as sp;

use super::sp_build::{call, call_plain, case, cast, lit, string_lit};

/// PostgreSQL's `format(fmt, args…)` as a concatenation DuckDB runs: `%s`
/// (NULL is empty), `%I` (quote_ident; NULL is an error), `%L`
/// (quote_literal; NULL is `NULL`), `%%`, and positions (`%2$s`). Widths
/// and flags, and a format that is not a literal, become an error at run
/// time saying so, never DuckDB's own `format` (another syntax).
pub(super) fn pg_format(args: &[sp::Expr]) -> sp::Expr {
    let refuse = |why: &str| {
        call_plain(
            "error",
            vec![lit(&format!(
                "format(): {why}; accord's catalog supports %s, %I, %L, %% and positions like %1$s"
            ))],
        )
    };
    let Some(fmt) = args.first().and_then(string_lit) else {
        return refuse("the format string must be a literal");
    };
    let values = &args[1..];
    let mut pieces: Vec<sp::Expr> = Vec::new();
    let mut text = String::new();
    let mut next = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            text.push('%');
            continue;
        }
        // Optional `n$` position.
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let index = if digits.is_empty() {
            next
        } else if chars.peek() == Some(&'$') {
            chars.next();
            match digits.parse::<usize>() {
                Ok(n) if n >= 1 => n - 1,
                _ => return refuse("positions start at 1"),
            }
        } else {
            return refuse("widths are not supported");
        };
        let Some(value) = values.get(index) else {
            return refuse("too few arguments for the format");
        };
        next = index + 1;
        if !text.is_empty() {
            pieces.push(lit(&std::mem::take(&mut text)));
        }
        let as_text = cast(value.clone(), "VARCHAR");
        let is_null = sp::Expr::IsNull(Box::new(value.clone()));
        let piece = match chars.next() {
            Some('s') => call_plain("coalesce", vec![as_text, lit("")]),
            Some('I') => case(
                is_null,
                call_plain(
                    "error",
                    vec![lit("null values cannot be formatted as an SQL identifier")],
                ),
                call("quote_ident", vec![as_text]),
            ),
            Some('L') => case(is_null, lit("NULL"), call("quote_literal", vec![as_text])),
            Some(other) => {
                return refuse(&format!("unrecognized format() type specifier \"{other}\""));
            }
            None => return refuse("unterminated format() type specifier"),
        };
        pieces.push(piece);
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(lit(&text));
    }
    call_plain("concat", pieces)
}

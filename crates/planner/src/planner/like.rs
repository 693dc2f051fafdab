//! LIKE patterns lowered so they mean the same on every engine. Engines
//! disagree on LIKE's escape character (PostgreSQL and MySQL `\`, DuckDB
//! and SQLite none), so accord never emits an escape: a pattern is read
//! here with PostgreSQL's rules (`%` any run, `_` one character, `\`
//! escapes the next character) and becomes an equality, a prefix or
//! substring test (which match `%`, `_` and `\` literally), or a LIKE whose
//! pattern holds none of those characters literally.

use crate::sql::ast::{BinOp, Expr, Literal};

use super::{ErrorCode, PlanError};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    Char(char),
    /// `%`
    Any,
    /// `_`
    One,
}

fn tokens(pattern: &str, what: &str) -> Result<Vec<Tok>, PlanError> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        out.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => Tok::Char(chars.next().ok_or_else(|| {
                PlanError::new(
                    ErrorCode::InvalidFilter,
                    format!("{what}: a LIKE pattern must not end with the escape character `\\`"),
                )
            })?),
            c => Tok::Char(c),
        });
    }
    Ok(out)
}

fn text(toks: &[Tok]) -> Option<String> {
    toks.iter()
        .map(|t| match t {
            Tok::Char(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn string(s: String) -> Box<Expr> {
    Box::new(Expr::Lit(Literal::String(s)))
}

/// `target LIKE pattern` (case-insensitively with `ci`) as an expression
/// with no escape-dependent text.
pub fn lower(target: Expr, pattern: &str, ci: bool, what: &str) -> Result<Expr, PlanError> {
    let toks = tokens(pattern, what)?;
    let t = Box::new(target);
    if !ci {
        // Exact, prefix and substring: the tests that match literally.
        if let Some(s) = text(&toks) {
            return Ok(Expr::binary(BinOp::Eq, *t, Expr::Lit(Literal::String(s))));
        }
        if let [body @ .., Tok::Any] = toks.as_slice()
            && let Some(s) = text(body)
        {
            if let [Tok::Any, inner @ ..] = body
                && let Some(s) = text(inner)
            {
                return Ok(Expr::Contains {
                    expr: t,
                    needle: string(s),
                });
            }
            return Ok(Expr::StartsWith {
                expr: t,
                prefix: string(s),
            });
        }
        if let [Tok::Any, inner @ .., Tok::Any] = toks.as_slice()
            && let Some(s) = text(inner)
        {
            return Ok(Expr::Contains {
                expr: t,
                needle: string(s),
            });
        }
    }
    // Otherwise a plain LIKE, possible only when no literal character
    // would need the escape.
    let mut plain = String::with_capacity(pattern.len());
    for tok in &toks {
        match tok {
            Tok::Any => plain.push('%'),
            Tok::One => plain.push('_'),
            Tok::Char(c @ ('%' | '_' | '\\')) => {
                return Err(PlanError::new(
                    ErrorCode::Unsupported,
                    format!(
                        "{what}: this LIKE pattern matches a literal `{c}` together with wildcards, which engines escape differently; use contains or starts_with (they match `%`, `_` and `\\` literally), or an exact comparison"
                    ),
                ));
            }
            Tok::Char(c) => plain.push(*c),
        }
    }
    Ok(Expr::Like {
        expr: t,
        pattern: string(plain),
        negated: false,
        case_insensitive: ci,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ast::Ident;

    fn col() -> Expr {
        Expr::Ref(vec![Ident::new("c")])
    }

    fn lit(s: &str) -> Box<Expr> {
        string(s.to_string())
    }

    #[test]
    fn literal_shapes_become_literal_tests() {
        assert_eq!(
            lower(col(), "50\\%", false, "c").unwrap(),
            Expr::binary(BinOp::Eq, col(), Expr::Lit(Literal::String("50%".into())))
        );
        assert_eq!(
            lower(col(), "a\\_b%", false, "c").unwrap(),
            Expr::StartsWith {
                expr: Box::new(col()),
                prefix: lit("a_b")
            }
        );
        assert_eq!(
            lower(col(), "%\\\\x%", false, "c").unwrap(),
            Expr::Contains {
                expr: Box::new(col()),
                needle: lit("\\x")
            }
        );
        // `%` alone: a prefix test with the empty prefix (any non-null).
        assert!(matches!(
            lower(col(), "%", false, "c").unwrap(),
            Expr::StartsWith { .. }
        ));
    }

    #[test]
    fn general_patterns_stay_like_without_escapes() {
        assert_eq!(
            lower(col(), "a_c%d", false, "c").unwrap(),
            Expr::Like {
                expr: Box::new(col()),
                pattern: lit("a_c%d"),
                negated: false,
                case_insensitive: false
            }
        );
        assert!(matches!(
            lower(col(), "de", true, "c").unwrap(),
            Expr::Like {
                case_insensitive: true,
                ..
            }
        ));
        assert!(lower(col(), "a_\\%", false, "c").is_err());
        assert!(lower(col(), "abc\\", false, "c").is_err());
    }
}

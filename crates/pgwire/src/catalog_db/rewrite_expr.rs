//! Expression rewriting, by case: session keywords, schema-qualified
//! columns, catalog function calls, casts to PostgreSQL's catalog types,
//! PostgreSQL's operators, and `COLLATE`.

use sqlparser::ast as sp;

use super::SessionInfo;
use super::is_macro;
use super::pg_format::pg_format;
use super::sp_build::{call, call_plain, cast, ident, is_text_expr, last_name, lit, string_lit};

pub(super) fn rewrite_expr(e: &mut sp::Expr, session: &SessionInfo) {
    match e {
        // `user`, `current_user`, … are keywords, not columns, in PostgreSQL.
        sp::Expr::Identifier(i) if i.quote_style.is_none() => {
            if let Some(r) = session_value(&i.value.to_ascii_lowercase(), session) {
                *e = r;
            }
        }
        sp::Expr::CompoundIdentifier(parts) if parts.len() >= 3 => {
            let first = parts[0].value.to_ascii_lowercase();
            if first == "pg_catalog" {
                parts[0] = ident("pgc");
            } else if first == "information_schema" {
                parts[0] = ident("isc");
            }
        }
        sp::Expr::Function(f) => {
            if let Some(r) = rewrite_function(f, session) {
                *e = r;
            }
        }
        sp::Expr::Cast {
            expr, data_type, ..
        } => {
            let inner = std::mem::replace(expr.as_mut(), sp::Expr::value(sp::Value::Null));
            match rewrite_cast(&inner, data_type) {
                Some(r) => *e = r,
                None => {
                    **expr = inner;
                    fix_type(data_type);
                }
            }
        }
        sp::Expr::BinaryOp { op, left, right } => {
            if let Some(r) = rewrite_operator(op, left, right) {
                *e = r;
            }
        }
        sp::Expr::Collate { expr, .. } => {
            let inner = std::mem::replace(expr.as_mut(), sp::Expr::value(sp::Value::Null));
            *e = inner;
        }
        _ => {}
    }
}

/// What a session keyword (`current_user`, `current_catalog`, …) stands
/// for.
fn session_value(keyword: &str, session: &SessionInfo) -> Option<sp::Expr> {
    match keyword {
        "current_user" | "session_user" | "user" | "current_role" => Some(lit(&session.user)),
        "current_catalog" => Some(lit(&session.database)),
        "current_schema" => Some(lit("public")),
        _ => None,
    }
}

/// `left / right` as PostgreSQL divides: division by zero is an error
/// (SQLSTATE 22012), not DuckDB's NULL or infinity. (Integers divide
/// truncating, as the catalog engine is set to: `integer_division`.)
fn checked_division(left: &sp::Expr, right: &sp::Expr) -> sp::Expr {
    let zero = sp::Expr::value(sp::Value::Number("0".into(), false));
    sp::Expr::Case {
        case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sp::CaseWhen {
            condition: sp::Expr::BinaryOp {
                left: Box::new(sp::Expr::Nested(Box::new(right.clone()))),
                op: sp::BinaryOperator::Eq,
                right: Box::new(zero),
            },
            result: call_plain("error", vec![lit("division by zero")]),
        }],
        else_result: Some(Box::new(sp::Expr::BinaryOp {
            left: Box::new(left.clone()),
            op: sp::BinaryOperator::Divide,
            right: Box::new(right.clone()),
        })),
    }
}

/// A function call: a session keyword called without parentheses,
/// `format(…)`, a catalog macro (called in `pgc`), or a
/// `pg_catalog.`-qualified DuckDB function. Returns a replacement, or
/// renames `f` in place.
fn rewrite_function(f: &mut sp::Function, session: &SessionInfo) -> Option<sp::Expr> {
    let parts: Vec<String> = f
        .name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
        .collect();
    let fname = parts.last().cloned().unwrap_or_default();
    if matches!(f.args, sp::FunctionArguments::None)
        && let Some(r) = session_value(&fname, session)
    {
        return Some(r);
    }
    if fname == "format"
        && (parts.len() == 1 || parts[0] == "pg_catalog")
        && let sp::FunctionArguments::List(list) = &f.args
    {
        let args: Option<Vec<sp::Expr>> = list
            .args
            .iter()
            .map(|a| match a {
                sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(x)) => Some(x.clone()),
                _ => None,
            })
            .collect();
        if let Some(args) = args {
            return Some(pg_format(&args));
        }
    }
    if is_macro(&fname) {
        f.name = sp::ObjectName::from(vec![ident("pgc"), ident(&fname)]);
    } else if parts.len() == 2 && parts[0] == "pg_catalog" {
        f.name = sp::ObjectName::from(vec![ident(&fname)]);
    }
    None
}

/// A cast to one of PostgreSQL's catalog types (or a PostgreSQL array
/// literal), as DuckDB can run it; `None` keeps the cast (with its type
/// fixed by [`fix_type`]).
fn rewrite_cast(inner: &sp::Expr, data_type: &sp::DataType) -> Option<sp::Expr> {
    let tname = custom_type_name(data_type);
    let replacement = match tname.as_deref() {
        // A literal names the object (its oid results); an oid
        // shows as its name, as PostgreSQL prints these types.
        Some("regclass") => Some(match string_lit(inner) {
            Some(s) => call("regclass_oid", vec![lit(&s)]),
            None if is_text_expr(inner) => call("regclass_oid", vec![inner.clone()]),
            None => call("regclass_name", vec![inner.clone()]),
        }),
        Some("regtype") => Some(match string_lit(inner) {
            Some(s) => call("regtype_oid", vec![lit(&s)]),
            None => call(
                "format_type",
                vec![inner.clone(), sp::Expr::value(sp::Value::Null)],
            ),
        }),
        Some(
            "regproc" | "regprocedure" | "regnamespace" | "regrole" | "regoper" | "regoperator"
            | "regconfig" | "regdictionary",
        ) => Some(match string_lit(inner) {
            Some(_) => sp::Expr::value(sp::Value::Number("0".into(), false)),
            None => inner.clone(),
        }),
        Some("oid" | "xid" | "cid" | "xid8") => Some(cast(inner.clone(), "UINTEGER")),
        Some(
            "name" | "char" | "\"char\"" | "int2vector" | "oidvector" | "aclitem" | "pg_node_tree"
            | "bpchar" | "citext" | "pg_lsn",
        ) => Some(cast(inner.clone(), "VARCHAR")),
        _ => None,
    };
    replacement.or_else(|| array_literal(inner, data_type))
}

/// `'{a,b}'::text[]`: PostgreSQL's array literal, as a DuckDB list.
fn array_literal(inner: &sp::Expr, data_type: &sp::DataType) -> Option<sp::Expr> {
    let sp::DataType::Array(_) = data_type else {
        return None;
    };
    let s = string_lit(inner)?;
    if !(s.starts_with('{') && s.ends_with('}')) {
        return None;
    }
    let items: Vec<sp::Expr> = s[1..s.len() - 1]
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| lit(x.trim_matches('"')))
        .collect();
    Some(sp::Expr::Array(sp::Array {
        elem: items,
        named: true,
    }))
}

/// `OPERATOR(pg_catalog.~)` and friends as the operators they name; the
/// case-insensitive regular expression matches (which DuckDB lacks) as
/// `regexp_matches(…, 'i')`.
fn rewrite_operator(
    op: &mut sp::BinaryOperator,
    left: &sp::Expr,
    right: &sp::Expr,
) -> Option<sp::Expr> {
    if let sp::BinaryOperator::PGCustomBinaryOperator(parts) = op {
        let last = parts.last().cloned().unwrap_or_default();
        *op = match last.as_str() {
            "~" => sp::BinaryOperator::PGRegexMatch,
            "~*" => sp::BinaryOperator::PGRegexIMatch,
            "!~" => sp::BinaryOperator::PGRegexNotMatch,
            "!~*" => sp::BinaryOperator::PGRegexNotIMatch,
            "=" => sp::BinaryOperator::Eq,
            "<>" => sp::BinaryOperator::NotEq,
            "<" => sp::BinaryOperator::Lt,
            ">" => sp::BinaryOperator::Gt,
            "<=" => sp::BinaryOperator::LtEq,
            ">=" => sp::BinaryOperator::GtEq,
            "~~" => sp::BinaryOperator::PGLikeMatch,
            "~~*" => sp::BinaryOperator::PGILikeMatch,
            _ => return None,
        };
    }
    // PostgreSQL's `~` finds a match anywhere (DuckDB's `~` must match the
    // whole string); `*` ignores case.
    let (negated, flags) = match op {
        sp::BinaryOperator::PGRegexMatch => (false, None),
        sp::BinaryOperator::PGRegexNotMatch => (true, None),
        sp::BinaryOperator::PGRegexIMatch => (false, Some("i")),
        sp::BinaryOperator::PGRegexNotIMatch => (true, Some("i")),
        sp::BinaryOperator::Divide => return Some(checked_division(left, right)),
        _ => return None,
    };
    let mut args = vec![left.clone(), right.clone()];
    args.extend(flags.map(lit));
    let m = call_plain("regexp_matches", args);
    Some(if negated {
        sp::Expr::UnaryOp {
            op: sp::UnaryOperator::Not,
            expr: Box::new(m),
        }
    } else {
        m
    })
}

fn custom_type_name(t: &sp::DataType) -> Option<String> {
    match t {
        sp::DataType::Custom(name, _) => last_name(name),
        sp::DataType::Regclass => Some("regclass".into()),
        sp::DataType::Char(_) | sp::DataType::Character(_) => None,
        _ => None,
    }
}

/// `pg_catalog.int2`, `int2[]`, `name`: types DuckDB knows by other names.
fn fix_type(t: &mut sp::DataType) {
    match t {
        sp::DataType::Array(
            sp::ArrayElemTypeDef::SquareBracket(inner, _)
            | sp::ArrayElemTypeDef::AngleBracket(inner)
            | sp::ArrayElemTypeDef::Parenthesis(inner),
        ) => fix_type(inner),
        sp::DataType::Custom(name, _) => {
            let last = last_name(name).unwrap_or_default();
            *t = match last.as_str() {
                "text" | "varchar" | "name" | "char" | "bpchar" | "regproc" | "regtype"
                | "regclass" | "int2vector" | "oidvector" | "aclitem" | "pg_node_tree" => {
                    sp::DataType::Varchar(None)
                }
                "int2" => sp::DataType::SmallInt(None),
                "int4" => sp::DataType::Int(None),
                "int8" => sp::DataType::BigInt(None),
                "oid" | "xid" | "cid" => {
                    sp::DataType::Custom(sp::ObjectName::from(vec![ident("UINTEGER")]), vec![])
                }
                "bool" => sp::DataType::Boolean,
                "float4" => sp::DataType::Real,
                "float8" => sp::DataType::Double(sp::ExactNumberInfo::None),
                _ if name.0.len() > 1 => {
                    sp::DataType::Custom(sp::ObjectName::from(vec![ident(&last)]), vec![])
                }
                _ => return,
            };
        }
        _ => {}
    }
}

//! sqlparser AST constructors and readers the rewrite shares.

use sqlparser::ast as sp;

/// The last part of a (possibly qualified) name, in lower case; `None`
/// when that part is not an identifier.
pub(super) fn last_name(name: &sp::ObjectName) -> Option<String> {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
}

pub(super) fn ident(s: &str) -> sp::Ident {
    sp::Ident::new(s)
}

pub(super) fn lit(s: &str) -> sp::Expr {
    sp::Expr::Value(sp::Value::SingleQuotedString(s.to_string()).into())
}

pub(super) fn call(name: &str, args: Vec<sp::Expr>) -> sp::Expr {
    sp::Expr::Function(sp::Function {
        name: sp::ObjectName::from(vec![ident("pgc"), ident(name)]),
        uses_odbc_syntax: false,
        parameters: sp::FunctionArguments::None,
        args: sp::FunctionArguments::List(sp::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// A call of a DuckDB function by its own (unqualified) name.
pub(super) fn call_plain(name: &str, args: Vec<sp::Expr>) -> sp::Expr {
    let mut c = call(name, args);
    if let sp::Expr::Function(f) = &mut c {
        f.name = sp::ObjectName::from(vec![ident(name)]);
    }
    c
}

pub(super) fn cast(e: sp::Expr, ty: &str) -> sp::Expr {
    sp::Expr::Cast {
        kind: sp::CastKind::Cast,
        expr: Box::new(sp::Expr::Nested(Box::new(e))),
        data_type: sp::DataType::Custom(sp::ObjectName::from(vec![ident(ty)]), vec![]),
        format: None,
    }
}

pub(super) fn case(condition: sp::Expr, then: sp::Expr, otherwise: sp::Expr) -> sp::Expr {
    sp::Expr::Case {
        case_token: sp::helpers::attached_token::AttachedToken::empty(),
        end_token: sp::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sp::CaseWhen {
            condition,
            result: then,
        }],
        else_result: Some(Box::new(otherwise)),
    }
}

pub(super) fn string_lit(e: &sp::Expr) -> Option<String> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::SingleQuotedString(s) | sp::Value::EscapedStringLiteral(s) => {
                Some(s.clone())
            }
            _ => None,
        },
        sp::Expr::Nested(inner) => string_lit(inner),
        sp::Expr::Cast {
            expr,
            data_type: sp::DataType::Text | sp::DataType::Varchar(_),
            ..
        } => string_lit(expr),
        _ => None,
    }
}

/// Whether an expression is text (so `::regclass` names a relation rather
/// than turning an oid into its name).
pub(super) fn is_text_expr(e: &sp::Expr) -> bool {
    match e {
        sp::Expr::Nested(inner) => is_text_expr(inner),
        sp::Expr::BinaryOp {
            op: sp::BinaryOperator::StringConcat,
            ..
        } => true,
        sp::Expr::Cast {
            data_type: sp::DataType::Text | sp::DataType::Varchar(_),
            ..
        } => true,
        sp::Expr::Function(f) => {
            let name = last_name(&f.name).unwrap_or_default();
            matches!(
                name.as_str(),
                "concat"
                    | "format"
                    | "quote_ident"
                    | "lower"
                    | "upper"
                    | "replace"
                    | "trim"
                    | "btrim"
            )
        }
        _ => string_lit(e).is_some(),
    }
}

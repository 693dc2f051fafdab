//! Constructors for [`ast`](super::ast) trees built step by step (the
//! identity build's statements, its lookups and health queries), so such
//! code names what it builds and never decides quoting itself.
//!
//! Quoting follows who named a thing. Relation aliases are accord's own
//! ([`Ident::generated`], always quoted). Tables accord stores for its
//! users (the identity map, ledger, runs, work tables) are created with
//! their column names as plain identifiers (`identity::sql`), so
//! [`column`] and [`named`] spell those names the same way
//! ([`Ident::new`]: quoted only where the dialect must, e.g. a reserved
//! word): on an engine that folds unquoted names (Snowflake) a reference
//! then resolves exactly as the `CREATE TABLE` did. [`Expr::col`] is for
//! names accord generates inside one query (CTE columns), always quoted.

use super::ast::{
    BinOp, Expr, Ident, Join, JoinKind, Literal, Query, Select, SelectItem, SqlType, TableRef,
};
use crate::vocab::Aggregation;

/// `alias.name`: a column of a stored table (or of a subquery whose items
/// are [`named`]) under an alias accord chose.
pub fn column(alias: &str, name: &str) -> Expr {
    Expr::Column {
        table: Some(Ident::generated(alias)),
        name: Ident::new(name),
    }
}

/// `name`, unqualified: a column of the one table a statement reads
/// (`DELETE FROM t WHERE …`).
pub fn unqualified(name: &str) -> Expr {
    Expr::Column {
        table: None,
        name: Ident::new(name),
    }
}

/// `expr AS name`, `name` spelt as a stored table's column.
pub fn named(expr: Expr, name: &str) -> SelectItem {
    SelectItem {
        expr,
        alias: Some(Ident::new(name)),
    }
}

/// `expr AS alias`, the alias accord's own (always quoted): a result
/// column accord reads back by position or by that alias.
pub fn aliased(expr: Expr, alias: &str) -> SelectItem {
    SelectItem::aliased(expr, alias)
}

/// A stored table under an alias accord chose.
pub fn table(name: &str, alias: &str) -> TableRef {
    TableRef::Table {
        name: vec![Ident::new(name)],
        alias: Ident::generated(alias),
    }
}

/// `(query) AS alias`.
pub fn subquery(query: Query, alias: &str) -> TableRef {
    TableRef::Subquery {
        query: Box::new(query),
        alias: Ident::generated(alias),
    }
}

/// `SELECT items FROM from`, to be refined through its public fields.
pub fn select_from(items: Vec<SelectItem>, from: TableRef) -> Select {
    Select::from(items, from)
}

/// `SELECT items [FROM from]`.
pub fn select_rows(items: Vec<SelectItem>, from: Option<TableRef>) -> Select {
    Select {
        projection: items,
        from,
        joins: Vec::new(),
        selection: None,
        group_by: Vec::new(),
        having: None,
    }
}

/// The selects combined by `UNION ALL`; one select stays a plain query.
pub fn union_all(selects: Vec<Select>) -> Query {
    if selects.len() == 1 {
        let mut v = selects;
        return Query::select(v.remove(0));
    }
    Query::union_all(selects)
}

/// `INNER JOIN t ON <all of on>`.
pub fn inner_join(t: TableRef, on: Vec<Expr>) -> Join {
    Join {
        kind: JoinKind::Inner,
        table: t,
        on: all_of(on),
    }
}

/// `LEFT JOIN t ON <all of on>`.
pub fn left_join(t: TableRef, on: Vec<Expr>) -> Join {
    Join {
        kind: JoinKind::Left,
        table: t,
        on: all_of(on),
    }
}

/// The conjunction of `parts` (an `OR` among them parenthesised); `None`
/// for none.
pub fn all_of(parts: Vec<Expr>) -> Option<Expr> {
    Expr::and_all(parts.into_iter().map(|p| match p {
        Expr::Binary { op: BinOp::Or, .. } => Expr::Nested(Box::new(p)),
        other => other,
    }))
}

/// The disjunction of `parts`; `FALSE` for none.
pub fn any_of(parts: Vec<Expr>) -> Expr {
    parts
        .into_iter()
        .reduce(|a, b| Expr::binary(BinOp::Or, a, b))
        .unwrap_or(Expr::Lit(Literal::Bool(false)))
}

pub fn eq(a: Expr, b: Expr) -> Expr {
    Expr::binary(BinOp::Eq, a, b)
}

/// `(a = b OR (a IS NULL AND b IS NULL))`.
pub fn equal_or_both_null(a: Expr, b: Expr) -> Expr {
    Expr::Nested(Box::new(Expr::binary(
        BinOp::Or,
        eq(a.clone(), b.clone()),
        Expr::Nested(Box::new(Expr::binary(
            BinOp::And,
            is_null(a, false),
            is_null(b, false),
        ))),
    )))
}

/// An integer literal.
pub fn int(v: i64) -> Expr {
    Expr::num(v)
}

/// `agg(e)`.
pub fn aggregate(agg: Aggregation, e: Expr) -> Expr {
    Expr::agg(agg, Some(e))
}

/// `COUNT(*)`.
pub fn count_star() -> Expr {
    Expr::agg(Aggregation::Count, None)
}

/// `e IS NULL`, or `e IS NOT NULL` when `negated`.
pub fn is_null(e: Expr, negated: bool) -> Expr {
    Expr::is_null(e, negated)
}

/// `COALESCE(args…)`.
pub fn coalesce(args: Vec<Expr>) -> Expr {
    Expr::Func {
        name: "COALESCE".into(),
        args,
        distinct: false,
    }
}

/// `CAST(e AS <text>)`.
pub fn as_text(e: Expr) -> Expr {
    Expr::Cast {
        expr: Box::new(e),
        ty: SqlType::Text,
    }
}

/// `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)`.
pub fn row_number(partition_by: Vec<Expr>, order_by: Vec<Expr>) -> Expr {
    Expr::row_number(partition_by, order_by)
}

/// `[NOT] EXISTS (SELECT …)`.
pub fn exists(select: Select, negated: bool) -> Expr {
    Expr::Exists {
        query: Box::new(Query::select(select)),
        negated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::DialectKind;
    use crate::sql::render::Renderer;

    fn sql(d: DialectKind, q: &Query) -> String {
        Renderer::new(d.dialect()).query(q).expect("renders")
    }

    /// A stored column keeps the spelling its `CREATE TABLE` gave it: bare
    /// where it may be (so Snowflake folds it as it folded the column) and
    /// quoted where it must be (a reserved word), while accord's aliases
    /// are always quoted.
    #[test]
    fn stored_columns_are_spelt_as_created() {
        let q = Query::select(select_from(
            vec![
                named(column("m", "canonical_id"), "canonical_id"),
                named(column("m", "identifier"), "identifier"),
            ],
            table("accord_identity_map", "m"),
        ));
        assert_eq!(
            sql(DialectKind::Snowflake, &q),
            "SELECT\n  \"m\".canonical_id,\n  \"m\".\"identifier\"\nFROM accord_identity_map AS \"m\""
        );
    }

    #[test]
    fn conjunctions_parenthesise_disjunctions() {
        let a = || eq(column("t", "a"), int(1));
        let cond = all_of(vec![a(), any_of(vec![a(), a()])]).expect("two parts");
        assert!(
            matches!(cond, Expr::Binary { op: BinOp::And, ref right, .. } if matches!(**right, Expr::Nested(_)))
        );
        assert_eq!(all_of(Vec::new()), None);
        assert_eq!(any_of(Vec::new()), Expr::Lit(Literal::Bool(false)));
    }
}

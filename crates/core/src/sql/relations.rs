//! What a statement reads: every table and every piece of definition SQL
//! in its FROM clauses, joins, CTEs, subqueries and `EXISTS` tests, and
//! the names of the columns its expressions read. A server uses it to tell
//! which models a failed query touched, so the error can name a missing
//! table or column rather than pass on the engine's text.

use std::collections::BTreeSet;

use super::ast::{Expr, Query, Select, SetExpr, TableRef};

/// A relation as the statement names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Relation {
    /// A table, by its name parts (`schema.table` is two).
    Table(Vec<String>),
    /// A model's source query, verbatim.
    Sql(String),
}

/// What a statement reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    /// Each relation once, in the order first met.
    pub relations: Vec<Relation>,
    /// Column names (lower case), whatever relation they are read from.
    pub columns: BTreeSet<String>,
}

impl Reads {
    pub fn reads_column(&self, name: &str) -> bool {
        self.columns.contains(&name.to_ascii_lowercase())
    }
}

/// What `query` reads.
pub fn reads(query: &Query) -> Reads {
    let mut out = Reads::default();
    query_reads(query, &mut out);
    out
}

/// The relations `query` reads, each once, in the order first met.
pub fn relations(query: &Query) -> Vec<Relation> {
    reads(query).relations
}

fn push(out: &mut Reads, r: Relation) {
    if !out.relations.contains(&r) {
        out.relations.push(r);
    }
}

fn query_reads(q: &Query, out: &mut Reads) {
    for cte in &q.ctes {
        query_reads(&cte.query, out);
    }
    match &q.body {
        SetExpr::Select(s) => select_reads(s, out),
        SetExpr::UnionAll(branches) => branches.iter().for_each(|s| select_reads(s, out)),
    }
    for o in &q.order_by {
        expr_reads(&o.expr, out);
    }
}

fn select_reads(s: &Select, out: &mut Reads) {
    if let Some(from) = &s.from {
        table_reads(from, out);
    }
    for j in &s.joins {
        table_reads(&j.table, out);
        if let Some(on) = &j.on {
            expr_reads(on, out);
        }
    }
    for item in &s.projection {
        expr_reads(&item.expr, out);
    }
    for e in s.selection.iter().chain(s.having.iter()) {
        expr_reads(e, out);
    }
}

fn table_reads(t: &TableRef, out: &mut Reads) {
    match t {
        TableRef::Table { name, .. } => push(
            out,
            Relation::Table(name.iter().map(|p| p.value.clone()).collect()),
        ),
        TableRef::RawSql { sql, .. } => push(out, Relation::Sql(sql.clone())),
        TableRef::Subquery { query, .. } => query_reads(query, out),
        // A CTE of the same statement: its own query was visited.
        TableRef::Named { .. } => {}
    }
}

/// [`Expr::walk`] does not enter `EXISTS` subqueries or window functions;
/// their insides are visited here.
fn expr_reads(e: &Expr, out: &mut Reads) {
    e.walk(&mut |x| match x {
        Expr::Column { name, .. } => {
            out.columns.insert(name.value.to_ascii_lowercase());
        }
        Expr::Exists { query, .. } => query_reads(query, out),
        Expr::Window {
            args,
            partition_by,
            order_by,
            ..
        } => {
            for inner in args.iter().chain(partition_by).chain(order_by) {
                expr_reads(inner, out);
            }
        }
        _ => {}
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::ast::{Ident, JoinKind, SelectItem};

    fn table(name: &str, alias: &str) -> TableRef {
        TableRef::Table {
            name: name.split('.').map(Ident::generated).collect(),
            alias: Ident::generated(alias),
        }
    }

    #[test]
    fn finds_tables_in_joins_ctes_and_exists() {
        let inner = Query::select(Select::from(
            vec![SelectItem::bare("x")],
            table("consent", "c"),
        ));
        let mut main = Select::from(vec![SelectItem::bare("a")], table("shop.orders", "o"));
        main.joins.push(crate::sql::ast::Join {
            kind: JoinKind::Left,
            table: table("customers", "cu"),
            on: None,
        });
        main.and_where(Expr::Exists {
            query: Box::new(inner),
            negated: false,
        });
        let mut q = Query::select(main);
        q.ctes.push(crate::sql::ast::Cte::new(
            "s",
            Query::select(Select::from(
                vec![SelectItem::bare("y")],
                TableRef::RawSql {
                    sql: "select 1 as y".into(),
                    alias: Ident::generated("src"),
                },
            )),
        ));
        assert!(reads(&q).reads_column("X") && !reads(&q).reads_column("z"));
        assert_eq!(
            relations(&q),
            vec![
                Relation::Sql("select 1 as y".into()),
                Relation::Table(vec!["shop".into(), "orders".into()]),
                Relation::Table(vec!["customers".into()]),
                Relation::Table(vec!["consent".into()]),
            ]
        );
    }
}

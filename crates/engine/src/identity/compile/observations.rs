//! Work table `obs`: every identifier and identifier pair seen in a source.

use super::super::normalized;
use super::super::sql::{Statement, fresh, insert};
use super::Compiler;
use super::tables::edge_table;
use crate::catalog::Aggregation;
use crate::planner::stitch::{model_source, qualified};
use crate::sql::ast::{Expr, Query, SqlType};
use crate::sql::build::{
    aggregate, all_of, as_text, column, is_null, named, select_from, subquery, union_all,
};

impl Compiler<'_> {
    /// Every identifier (a-side only) and identifier pair of every source,
    /// normalised, grouped with first/last evidence time.
    pub(super) fn observations(&self) -> Vec<Statement> {
        let def = edge_table(self.names.work("obs"));
        let mut branches = Vec::new();
        let typed_null = || Expr::TypedNull(SqlType::Text);
        for src in &self.identity.sources {
            let model = self.catalog.model(src.model);
            let alias = "src";
            let value = |i: usize| {
                let (t, e) = &src.columns[i];
                normalized(&self.identity.types[*t], as_text(qualified(e, alias)))
            };
            let not_null = |i: usize| is_null(qualified(&src.columns[i].1, alias), true);
            let time = qualified(&src.time, alias);
            let from = || model_source(self.catalog, src.model, alias);
            for (i, (t, _)) in src.columns.iter().enumerate() {
                let mut b = select_from(
                    vec![
                        named(Expr::string(self.type_name(*t)), "a_type"),
                        named(value(i), "a_value"),
                        named(typed_null(), "b_type"),
                        named(typed_null(), "b_value"),
                        named(Expr::string(&model.name), "source"),
                        named(time.clone(), "seen_at"),
                    ],
                    from(),
                );
                b.selection = Some(not_null(i));
                branches.push(b);
            }
            for (x, y) in &src.pairs {
                let mut b = select_from(
                    vec![
                        named(Expr::string(self.type_name(src.columns[*x].0)), "a_type"),
                        named(value(*x), "a_value"),
                        named(Expr::string(self.type_name(src.columns[*y].0)), "b_type"),
                        named(value(*y), "b_value"),
                        named(Expr::string(&model.name), "source"),
                        named(time.clone(), "seen_at"),
                    ],
                    from(),
                );
                b.selection = all_of(vec![not_null(*x), not_null(*y)]);
                branches.push(b);
            }
        }
        let u = "u";
        let mut g = select_from(
            vec![
                named(column(u, "a_type"), "a_type"),
                named(column(u, "a_value"), "a_value"),
                named(column(u, "b_type"), "b_type"),
                named(column(u, "b_value"), "b_value"),
                named(aggregate(Aggregation::Min, column(u, "source")), "source"),
                named(
                    aggregate(Aggregation::Min, column(u, "seen_at")),
                    "first_seen",
                ),
                named(
                    aggregate(Aggregation::Max, column(u, "seen_at")),
                    "last_seen",
                ),
            ],
            subquery(union_all(branches), u),
        );
        g.group_by = vec![1, 2, 3, 4];
        let mut out = fresh(def.clone());
        out.push(insert(&def, Query::select(g)));
        out
    }
}

//! Merging several aggregated relations on their group keys: each input
//! becomes a branch of a UNION ALL that fills its own value columns and
//! NULL for the others, and one GROUP BY over the keys takes, per column,
//! the MAX of that union. Each key has at most one non-NULL value per
//! column (from the input that computed it), so MAX picks it. This needs no
//! FULL OUTER JOIN (absent on MySQL) and matches NULL keys, which an
//! equi-join would drop. Metric scans (`build`) and attributed columns
//! (`attribution`) are merged here, and only here.

use crate::catalog::Aggregation;
use crate::sql::ast::*;

/// A merged value column: its name and the type its NULL stands for in
/// branches that do not fill it (engines type a UNION's columns from its
/// first branch).
pub(super) struct MergeColumn {
    pub name: String,
    pub null: SqlType,
}

impl MergeColumn {
    pub fn new(name: impl Into<String>, null: SqlType) -> MergeColumn {
        MergeColumn {
            name: name.into(),
            null,
        }
    }
}

/// One input of a merge: the CTE it reads and the columns it fills, by
/// position in the merged columns, with the expression each reads.
pub(super) struct Branch {
    pub cte: String,
    pub fills: Vec<(usize, Expr)>,
    /// The fills aggregate, so the branch groups by the keys itself.
    pub grouped: bool,
}

impl Branch {
    /// A branch filling columns `own` with its columns of the same name.
    pub fn passing(cte: &str, columns: &[MergeColumn], own: &[usize]) -> Branch {
        Branch {
            cte: cte.to_string(),
            fills: own
                .iter()
                .map(|i| (*i, Expr::bare(&columns[*i].name)))
                .collect(),
            grouped: false,
        }
    }
}

/// `SELECT keys, MAX(c) AS c, … FROM (branch UNION ALL …) AS alias
/// GROUP BY keys`; the caller adds HAVING or reads it from outside.
pub(super) fn merge(
    keys: &[String],
    columns: &[MergeColumn],
    branches: Vec<Branch>,
    alias: &str,
) -> Select {
    let union = Query {
        ctes: Vec::new(),
        body: SetExpr::UnionAll(
            branches
                .into_iter()
                .map(|b| branch_select(keys, columns, b))
                .collect(),
        ),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    };
    let mut projection: Vec<SelectItem> = keys.iter().map(|k| SelectItem::bare(k)).collect();
    projection.extend(columns.iter().map(|c| {
        SelectItem::aliased(
            Expr::agg(Aggregation::Max, Some(Expr::bare(&c.name))),
            &c.name,
        )
    }));
    Select {
        projection,
        from: Some(TableRef::Subquery {
            query: Box::new(union),
            alias: Ident::generated(alias),
        }),
        joins: Vec::new(),
        selection: None,
        group_by: (1..=keys.len()).collect(),
        having: None,
    }
}

fn branch_select(keys: &[String], columns: &[MergeColumn], b: Branch) -> Select {
    let mut projection = unaliased(keys);
    for (i, c) in columns.iter().enumerate() {
        let expr = b
            .fills
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, e)| e.clone())
            .unwrap_or(Expr::TypedNull(c.null));
        projection.push(SelectItem::aliased(expr, &c.name));
    }
    let mut s = Select::from(projection, TableRef::named(&b.cte, None));
    if b.grouped {
        s.group_by = (1..=keys.len()).collect();
    }
    s
}

/// `SELECT a, b, …` of the named columns, unaliased.
pub(super) fn unaliased(names: &[String]) -> Vec<SelectItem> {
    names
        .iter()
        .map(|a| SelectItem {
            expr: Expr::bare(a),
            alias: None,
        })
        .collect()
}

/// A CTE name not yet in `taken` (`stem`, `stem_2`, …), recorded there.
pub(super) fn fresh_name(stem: &str, taken: &mut Vec<String>) -> String {
    let mut name = stem.to_string();
    let mut n = 2;
    while taken.contains(&name) {
        name = format!("{stem}_{n}");
        n += 1;
    }
    taken.push(name.clone());
    name
}

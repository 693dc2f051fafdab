//! How definitions read in a diff: expressions as SQL text, sources,
//! types and aggregations as written.

use crate::catalog::{Dimension, Measure, Model, Source};
use crate::dialect::DialectKind;
use crate::sql::ast::{Expr, Ident};
use crate::sql::render::Renderer;

/// An expression as SQL text; names not yet resolved print as written.
pub fn expr_text(e: &Expr) -> String {
    let resolved = e.clone().try_transform(&mut |x| {
        Ok::<_, ()>(match x {
            Expr::Ref(mut parts) => {
                let name = parts.pop().unwrap_or_else(|| Ident::new(""));
                let table = if parts.is_empty() {
                    None
                } else {
                    Some(Ident::new(
                        parts
                            .iter()
                            .map(|p| p.value.clone())
                            .collect::<Vec<_>>()
                            .join("."),
                    ))
                };
                Expr::Column { table, name }
            }
            other => other,
        })
    });
    match resolved {
        Ok(x) => Renderer::new(DialectKind::Duckdb.dialect())
            .expr(&x)
            .unwrap_or_else(|_| format!("{e:?}")),
        Err(()) => format!("{e:?}"),
    }
}

pub fn opt_expr(e: &Option<Expr>) -> Option<String> {
    e.as_ref().map(expr_text)
}

pub fn source_text(s: &Source) -> String {
    match s {
        Source::Table(t) => format!("table {}", t.join(".")),
        Source::Sql(q) => format!("sql {}", q.split_whitespace().collect::<Vec<_>>().join(" ")),
    }
}

pub fn dim_type(d: &Dimension) -> String {
    match d.kind {
        crate::catalog::DimensionKind::Time { granularity } => format!("time ({granularity})"),
        k => k.name().to_string(),
    }
}

pub fn agg_text(m: &Measure) -> String {
    match m.agg {
        crate::catalog::Aggregation::Percentile { p } => format!("percentile {p}"),
        a => a.name().to_string(),
    }
}

pub fn time_dim(model: &Model, m: &Measure) -> Option<String> {
    m.time_dimension.map(|i| model.dimensions[i].name.clone())
}

/// `orders.status`, for a dimension given by index (`None` out of range).
pub fn dim_name(model: &Model, index: usize) -> String {
    model.dimensions.get(index).map_or_else(
        || format!("{}.?", model.name),
        |d| format!("{}.{}", model.name, d.name),
    )
}

/// Text inside a Markdown code span within a table cell.
pub fn md_code(s: &str) -> String {
    s.replace('`', "'").replace('|', "\\|").replace('\n', " ")
}

pub fn md_cell(s: &str) -> String {
    s.replace('\n', "<br>")
}

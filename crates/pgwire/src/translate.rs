//! `SELECT dims, metrics FROM model [WHERE …] [GROUP BY …] [HAVING …]
//! [ORDER BY …] [LIMIT …]` into the one [`SemanticQuery`]. Only what maps
//! exactly is accepted; everything else is an error with a SQLSTATE and a
//! hint saying how to write it.

use sqlparser::ast as sp;

mod condition;
mod literal;

use super::error::{
    FEATURE_NOT_SUPPORTED, GROUPING_ERROR, SqlError, SqlResult, UNDEFINED_COLUMN, UNDEFINED_TABLE,
};
use super::schema::{ColKind, Column, Exposed, Table};
use crate::catalog::{Aggregation, Grain};
use crate::query::{Filter, FilterOp, FilterTree, OrderBy, SemanticQuery};
use crate::warehouse::ColumnType;

/// A translated SELECT.
#[derive(Debug, Clone)]
pub struct Translated {
    pub query: SemanticQuery,
    /// Output columns: their names and their index in the planner's output
    /// (dimensions first, then metrics, in query order).
    pub outputs: Vec<(String, usize)>,
    /// The type of each output column as the definitions fix it (used
    /// before any row exists: describe, empty answers).
    pub types: Vec<ColumnType>,
    /// The answer is empty whatever the data (`WHERE 1 = 0`, `LIMIT 0`):
    /// tools probe result shapes this way.
    pub empty: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Member {
    /// A dimension reference with an optional grain: `orders.ordered_at:month`.
    Dim(String),
    Metric(String),
}

struct Ctx<'a> {
    table: &'a Table,
    /// Names the table goes by in the query (its name, alias, schema-qualified).
    qualifiers: Vec<String>,
}

fn unsupported(what: impl Into<String>) -> SqlError {
    SqlError::new(FEATURE_NOT_SUPPORTED, what)
}

const SHAPE_HINT: &str = "write SELECT <dimensions>, <metrics> FROM <model> [WHERE <dimension filters>] [GROUP BY <dimensions>] [HAVING <metric filters>] [ORDER BY …] [LIMIT n]";

/// Whether a query reads from one of the exposed model tables (else it is
/// a catalog or constant question).
pub fn references_model(q: &sp::Query, exposed: &Exposed) -> bool {
    let mut found = false;
    let _ = sp::visit_relations(q, |name| {
        if let Some(t) = relation_table(name)
            && exposed.table(&t).is_some()
        {
            found = true;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// Whether a query names a relation outside the system catalogs (a model,
/// for a caller whose access is denied altogether).
pub fn references_user_relation(q: &sp::Query) -> bool {
    let mut found = false;
    let _ = sp::visit_relations(q, |name| {
        if let Some(t) = relation_table(name)
            && !t.to_ascii_lowercase().starts_with("pg_")
        {
            found = true;
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    found
}

/// The table a relation names when it is in schema `public` (or unqualified).
fn relation_table(name: &sp::ObjectName) -> Option<String> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(|i| i.value.clone()))
        .collect();
    match parts.as_slice() {
        [t] => Some(t.clone()),
        [s, t] if s.eq_ignore_ascii_case("public") => Some(t.clone()),
        [_, s, t] if s.eq_ignore_ascii_case("public") => Some(t.clone()),
        _ => None,
    }
}

pub fn translate(q: &sp::Query, exposed: &Exposed) -> SqlResult<Translated> {
    if q.with.is_some() {
        return Err(unsupported("WITH is not supported over the semantic layer").hint(SHAPE_HINT));
    }
    if q.fetch.is_some() || !q.locks.is_empty() {
        return Err(unsupported("FETCH and FOR UPDATE are not supported").hint("use LIMIT"));
    }
    let select = match q.body.as_ref() {
        sp::SetExpr::Select(s) => s,
        sp::SetExpr::Query(inner) if q.order_by.is_none() && q.limit_clause.is_none() => {
            return translate(inner, exposed);
        }
        _ => {
            return Err(unsupported(
                "UNION, INTERSECT, EXCEPT and VALUES are not supported over the semantic layer",
            )
            .hint("ask each question separately"));
        }
    };
    check_clauses(select)?;
    let [from] = select.from.as_slice() else {
        return Err(unsupported(if select.from.is_empty() {
            "a query over the semantic layer needs a FROM model"
        } else {
            "several tables in FROM: models are not joined in SQL"
        })
        .hint("accord joins models itself: select the other model's dimensions as columns of one table (e.g. customers__country in orders)"));
    };
    if !from.joins.is_empty() {
        return Err(unsupported("JOIN is not supported over the semantic layer")
            .hint("accord joins models itself: select the other model's dimensions as columns of one table (e.g. customers__country in orders)"));
    }
    match &from.relation {
        sp::TableFactor::Derived {
            subquery, alias, ..
        } => translate_wrapper(q, select, subquery, alias.as_ref(), exposed),
        sp::TableFactor::Table {
            name, alias, args, ..
        } => {
            if args.is_some() {
                return Err(unsupported("table functions are not supported"));
            }
            let tname = relation_table(name).ok_or_else(|| {
                SqlError::new(
                    UNDEFINED_TABLE,
                    format!("relation \"{name}\" does not exist"),
                )
                .hint("models are tables in schema public")
            })?;
            let table = exposed.table(&tname).ok_or_else(|| {
                let mut e = SqlError::new(
                    UNDEFINED_TABLE,
                    format!("relation \"{name}\" does not exist"),
                );
                let close = crate::diagnostics::closest(
                    &tname,
                    exposed.tables.iter().map(|t| t.name.as_str()),
                );
                if let Some(d) = &exposed.denied {
                    e = e.hint(d.message.clone());
                } else if !close.is_empty() {
                    e = e.hint(format!("did you mean {}?", close.join(", ")));
                }
                e
            })?;
            let mut qualifiers = vec![table.name.clone()];
            if let Some(a) = alias {
                qualifiers = vec![a.name.value.clone()];
            }
            let ctx = Ctx { table, qualifiers };
            translate_select(q, select, &ctx)
        }
        _ => Err(unsupported("this FROM item is not supported").hint(SHAPE_HINT)),
    }
}

fn check_clauses(s: &sp::Select) -> SqlResult<()> {
    let extra = s.top.is_some()
        || s.into.is_some()
        || !s.lateral_views.is_empty()
        || s.prewhere.is_some()
        || !s.cluster_by.is_empty()
        || !s.distribute_by.is_empty()
        || !s.sort_by.is_empty()
        || !s.named_window.is_empty()
        || s.qualify.is_some()
        || !s.connect_by.is_empty();
    if extra {
        return Err(
            unsupported("this SELECT clause is not supported over the semantic layer")
                .hint(SHAPE_HINT),
        );
    }
    if let Some(sp::Distinct::On(_)) = &s.distinct {
        return Err(unsupported("DISTINCT ON is not supported").hint(SHAPE_HINT));
    }
    Ok(())
}

fn ident_lower(i: &sp::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_ascii_lowercase()
    }
}

/// A column the caller cannot name: absent, or hidden by its roles — the
/// same SQLSTATE and words either way, so names cannot be probed.
fn column_not_found(ctx: &Ctx, name: &str) -> SqlError {
    let close =
        crate::diagnostics::closest(name, ctx.table.columns.iter().map(|c| c.name.as_str()));
    let mut e = SqlError::new(
        UNDEFINED_COLUMN,
        format!("column \"{name}\" does not exist in {}", ctx.table.name),
    );
    let grain = name
        .rsplit_once("__")
        .filter(|(_, g)| Grain::parse(g).is_some());
    e = if let Some((time, g)) = grain {
        // Result columns are named `metric_time__day`; a statement picks
        // the grain with DATE_TRUNC.
        e.hint(format!(
            "write the grain as DATE_TRUNC('{}', {time})",
            g.to_ascii_lowercase()
        ))
    } else if close.is_empty() {
        e.hint(format!(
            "the columns of {} are its dimensions and metrics; list them with \\d {}",
            ctx.table.name, ctx.table.name
        ))
    } else {
        e.hint(format!("did you mean {}?", close.join(", ")))
    };
    e
}

/// The column an identifier expression names, if it is one.
fn column_ref<'a>(ctx: &'a Ctx, e: &sp::Expr) -> Option<SqlResult<&'a Column>> {
    let idents: Vec<&sp::Ident> = match e {
        sp::Expr::Identifier(i) => vec![i],
        sp::Expr::CompoundIdentifier(v) => v.iter().collect(),
        sp::Expr::Nested(inner) => return column_ref(ctx, inner),
        _ => return None,
    };
    let (col, quals) = idents.split_last()?;
    if let Some(q) = quals.last() {
        let q = q.value.as_str();
        if !ctx.qualifiers.iter().any(|x| x.eq_ignore_ascii_case(q))
            && !ctx.table.name.eq_ignore_ascii_case(q)
        {
            return Some(Err(SqlError::new(
                UNDEFINED_TABLE,
                format!("missing FROM-clause entry for table \"{q}\""),
            )));
        }
    }
    let name = ident_lower(col);
    Some(
        ctx.table
            .column(&name)
            .ok_or_else(|| column_not_found(ctx, &col.value)),
    )
}

fn function_args(f: &sp::Function) -> SqlResult<Vec<&sp::Expr>> {
    match &f.args {
        sp::FunctionArguments::None => Ok(vec![]),
        sp::FunctionArguments::List(list) => {
            if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
                return Err(unsupported(format!(
                    "{}(DISTINCT …) and clauses inside aggregates are not supported",
                    f.name
                ))
                .hint("select the metric itself: each metric is already aggregated as defined"));
            }
            list.args
                .iter()
                .map(|a| match a {
                    sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(e)) => Ok(e),
                    sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Wildcard) => {
                        Err(unsupported(format!("{}(*) is not a metric", f.name))
                            .hint("count with a metric instead, e.g. SELECT orders FROM orders"))
                    }
                    _ => Err(unsupported(format!(
                        "arguments of {} are not supported",
                        f.name
                    ))),
                })
                .collect()
        }
        sp::FunctionArguments::Subquery(_) => Err(unsupported("subqueries are not supported")),
    }
}

fn string_literal(e: &sp::Expr) -> Option<String> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::SingleQuotedString(s)
            | sp::Value::EscapedStringLiteral(s)
            | sp::Value::DoubleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        sp::Expr::Cast { expr, .. } | sp::Expr::Nested(expr) => string_literal(expr),
        _ => None,
    }
}

/// A select-list (or ORDER BY / GROUP BY / HAVING) expression as a member.
fn member(ctx: &Ctx, e: &sp::Expr) -> SqlResult<Member> {
    typed_member(ctx, e).map(|(m, _)| m)
}

fn typed_member(ctx: &Ctx, e: &sp::Expr) -> SqlResult<(Member, ColumnType)> {
    if let Some(c) = column_ref(ctx, e) {
        let c = c?;
        let m = match &c.kind {
            ColKind::Dimension { reference, .. } => Member::Dim(reference.clone()),
            ColKind::Metric { name, .. } => Member::Metric(name.clone()),
        };
        return Ok((m, c.ty));
    }
    match e {
        sp::Expr::Nested(inner) => typed_member(ctx, inner),
        sp::Expr::Function(f) => {
            if f.over.is_some() || f.filter.is_some() || !f.within_group.is_empty() {
                return Err(unsupported(format!(
                    "{} with OVER / FILTER / WITHIN GROUP is not supported",
                    f.name
                ))
                .hint("select the metric itself"));
            }
            let fname = f
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default();
            let args = function_args(f)?;
            match fname.as_str() {
                "date_trunc" => {
                    let [grain, col] = args.as_slice() else {
                        return Err(unsupported("DATE_TRUNC takes a grain and a time column"));
                    };
                    let grain_text = string_literal(grain).ok_or_else(|| {
                        unsupported("DATE_TRUNC's grain must be a literal such as 'month'")
                    })?;
                    let g = Grain::parse(&grain_text).ok_or_else(|| {
                        let close = crate::diagnostics::closest(&grain_text, Grain::names());
                        let guess = close
                            .first()
                            .map(|c| format!("; did you mean '{c}'?"))
                            .unwrap_or_default();
                        unsupported(format!("DATE_TRUNC('{grain_text}', …) is not a grain accord has"))
                            .hint(format!("the grains are {}{guess}", Grain::names().join(", ")))
                    })?;
                    match member(ctx, col)? {
                        Member::Dim(r) if !r.contains(':') && is_time(ctx, &r) => {
                            Ok((Member::Dim(format!("{r}:{}", g.name())), ColumnType::Timestamp))
                        }
                        _ => Err(unsupported(format!(
                            "DATE_TRUNC applies to time dimensions; `{col}` is not one"
                        ))),
                    }
                }
                "measure" | "agg" => {
                    let [arg] = args.as_slice() else {
                        return Err(unsupported(format!("{fname} takes one metric")));
                    };
                    match typed_member(ctx, arg)? {
                        (Member::Metric(m), t) => Ok((Member::Metric(m), t)),
                        (Member::Dim(d), _) => Err(unsupported(format!(
                            "{fname}({arg}): `{d}` is a dimension, not a metric"
                        ))),
                    }
                }
                "sum" | "min" | "max" | "avg" | "count" | "median" => {
                    let [arg] = args.as_slice() else {
                        return Err(unsupported(format!("{fname} takes one argument")));
                    };
                    let col = match column_ref(ctx, arg) {
                        Some(c) => c?,
                        None => {
                            return Err(unsupported(format!(
                                "{}({arg}) is not supported: aggregates apply to metrics",
                                fname.to_uppercase()
                            ))
                            .hint("select a metric by name (or MEASURE(metric)); accord aggregates it as defined"));
                        }
                    };
                    let ColKind::Metric { name, agg } = &col.kind else {
                        return Err(unsupported(format!(
                            "{}({}) aggregates a dimension; accord only aggregates metrics as defined",
                            fname.to_uppercase(),
                            col.name
                        ))
                        .hint("count things with a metric (e.g. orders, active_customers)"));
                    };
                    let equivalent = match (fname.as_str(), agg) {
                        ("sum", Some(a)) => a.is_additive(),
                        ("min", Some(Aggregation::Min)) => true,
                        ("max", Some(Aggregation::Max)) => true,
                        _ => false,
                    };
                    if equivalent {
                        Ok((Member::Metric(name.clone()), col.ty))
                    } else {
                        Err(unsupported(format!(
                            "{}({name}) is not the same number as the metric `{name}`{}",
                            fname.to_uppercase(),
                            match agg {
                                Some(a) => format!(" (aggregated with {})", a.name()),
                                None => " (a ratio or derived metric)".into(),
                            }
                        ))
                        .hint(format!("select {name} or MEASURE({name}) instead")))
                    }
                }
                _ => Err(unsupported(format!("function {} is not supported over the semantic layer", f.name))
                    .hint("select dimensions and metrics by name; DATE_TRUNC('<grain>', time_dimension) picks a time grain")),
            }
        }
        sp::Expr::Cast { .. } => Err(unsupported(format!(
            "casts (`{e}`) are not supported over the semantic layer"
        ))
        .hint("select the column itself; its type is fixed by the definitions")),
        sp::Expr::Value(_) => {
            Err(unsupported(format!("constant `{e}` in a semantic query")).hint(SHAPE_HINT))
        }
        other => Err(unsupported(format!(
            "expression `{other}` is not supported over the semantic layer"
        ))
        .hint(SHAPE_HINT)),
    }
}

fn is_time(ctx: &Ctx, reference: &str) -> bool {
    ctx.table.columns.iter().any(|c| {
        matches!(&c.kind, ColKind::Dimension { reference: r, kind }
            if r == reference && matches!(kind, Some(crate::catalog::DimensionKind::Time { .. })))
    })
}

fn output_name(e: &sp::Expr) -> String {
    match e {
        sp::Expr::Identifier(i) => ident_lower(i),
        sp::Expr::CompoundIdentifier(v) => v.last().map(ident_lower).unwrap_or_default(),
        sp::Expr::Nested(inner) => output_name(inner),
        sp::Expr::Function(f) => f
            .name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_ascii_lowercase())
            .unwrap_or_else(|| "?column?".into()),
        _ => "?column?".into(),
    }
}

/// A non-negative integer literal (LIMIT, OFFSET, positions).
fn integer(e: &sp::Expr) -> Option<u64> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::Number(n, _) => n.parse().ok(),
            sp::Value::SingleQuotedString(s) => s.trim().parse().ok(),
            _ => None,
        },
        sp::Expr::Nested(inner) => integer(inner),
        sp::Expr::Cast { expr, .. } => integer(expr),
        _ => None,
    }
}

fn limit_offset(q: &sp::Query) -> SqlResult<(Option<u64>, Option<u64>)> {
    match &q.limit_clause {
        None => Ok((None, None)),
        Some(sp::LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) => {
            if !limit_by.is_empty() {
                return Err(unsupported("LIMIT BY is not supported"));
            }
            let limit = match limit {
                None => None,
                Some(sp::Expr::Value(v)) if matches!(v.value, sp::Value::Null) => None,
                Some(e) => Some(integer(e).ok_or_else(|| {
                    unsupported(format!("LIMIT {e}: the limit must be a number"))
                })?),
            };
            let offset = match offset {
                None => None,
                Some(o) => Some(integer(&o.value).ok_or_else(|| {
                    unsupported(format!("OFFSET {}: the offset must be a number", o.value))
                })?),
            };
            Ok((limit, offset))
        }
        Some(sp::LimitClause::OffsetCommaLimit { offset, limit }) => {
            Ok((integer(limit), integer(offset).filter(|o| *o > 0)))
        }
    }
}

fn translate_select(q: &sp::Query, s: &sp::Select, ctx: &Ctx) -> SqlResult<Translated> {
    let mut dims: Vec<String> = Vec::new();
    let mut metrics: Vec<String> = Vec::new();
    // (output name, member) per select item.
    let mut items: Vec<(String, Member)> = Vec::new();
    let mut types: Vec<ColumnType> = Vec::new();
    let mut wildcard = false;
    for item in &s.projection {
        let (e, name) = match item {
            sp::SelectItem::UnnamedExpr(e) => (e, output_name(e)),
            sp::SelectItem::ExprWithAlias { expr, alias } => (expr, alias.value.clone()),
            sp::SelectItem::Wildcard(_) | sp::SelectItem::QualifiedWildcard(..) => {
                wildcard = true;
                continue;
            }
            _ => return Err(unsupported("this select item is not supported").hint(SHAPE_HINT)),
        };
        let (m, t) = typed_member(ctx, e)?;
        items.push((name, m));
        types.push(t);
    }
    let mut empty = false;
    let filter: Option<FilterTree> = match &s.selection {
        None => None,
        Some(w) => match condition::translate(ctx, w)? {
            condition::Node::Const(true) => None,
            condition::Node::Const(false) => {
                empty = true;
                None
            }
            condition::Node::Tree(t) => Some(t),
        },
    };
    let (limit, offset) = limit_offset(q)?;
    if limit == Some(0) {
        empty = true;
    }
    if wildcard {
        if !empty {
            return Err(unsupported(format!(
                "SELECT * over {} would ask for every metric by every dimension at once",
                ctx.table.name
            ))
            .hint(format!(
                "name the dimensions and metrics: e.g. SELECT {} FROM {}",
                example_columns(ctx.table),
                ctx.table.name
            )));
        }
        // A probe for the shape: every column, no rows.
        return Ok(Translated {
            query: SemanticQuery::default(),
            outputs: ctx
                .table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.clone(), i))
                .collect(),
            types: ctx.table.columns.iter().map(|c| c.ty).collect(),
            empty: true,
        });
    }
    for (_, m) in &items {
        match m {
            Member::Dim(d) if !dims.contains(d) => dims.push(d.clone()),
            Member::Metric(x) if !metrics.contains(x) => metrics.push(x.clone()),
            _ => {}
        }
    }
    // GROUP BY: positions or expressions, each a selected dimension.
    let resolve_ref = |e: &sp::Expr| -> SqlResult<Member> {
        if let Some(n) = integer(e)
            && matches!(e, sp::Expr::Value(_))
        {
            let idx = (n as usize).checked_sub(1).filter(|i| *i < items.len());
            return idx.map(|i| items[i].1.clone()).ok_or_else(|| {
                SqlError::new("42P10", format!("position {n} is not in select list"))
            });
        }
        if let sp::Expr::Identifier(i) = e
            && let Some((_, m)) = items
                .iter()
                .find(|(n, _)| *n == i.value || *n == ident_lower(i))
            && ctx.table.column(&ident_lower(i)).is_none()
        {
            return Ok(m.clone());
        }
        member(ctx, e)
    };
    match &s.group_by {
        sp::GroupByExpr::All(_) => {}
        sp::GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return Err(
                    unsupported("ROLLUP, CUBE and GROUPING SETS are not supported")
                        .hint("ask once per grouping"),
                );
            }
            for e in exprs {
                match resolve_ref(e)? {
                    Member::Dim(d) if dims.contains(&d) => {}
                    Member::Dim(d) => {
                        return Err(SqlError::new(
                            GROUPING_ERROR,
                            format!("GROUP BY `{e}` ({d}) is not in the select list"),
                        )
                        .hint("accord groups by exactly the selected dimensions: select it too"));
                    }
                    Member::Metric(m) => {
                        return Err(SqlError::new(
                            GROUPING_ERROR,
                            format!("cannot GROUP BY the metric `{m}`"),
                        )
                        .hint("group by dimensions; metrics are aggregated per group"));
                    }
                }
            }
        }
    }
    let mut filters = Vec::new();
    if let Some(h) = &s.having {
        having_filters(ctx, h, &metrics, &mut filters, &resolve_ref)?;
    }
    let mut order_by = Vec::new();
    if let Some(ob) = &q.order_by {
        let exprs = match &ob.kind {
            sp::OrderByKind::Expressions(v) => v,
            sp::OrderByKind::All(_) => {
                return Err(unsupported("ORDER BY ALL is not supported").hint("name the columns"));
            }
        };
        for o in exprs {
            if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                return Err(unsupported("NULLS FIRST / NULLS LAST is not supported")
                    .hint("order without it; accord places NULLs as the warehouse does"));
            }
            let desc = match &o.options.sort {
                None | Some(sp::OrderBySort::Asc) => false,
                Some(sp::OrderBySort::Desc) => true,
                Some(sp::OrderBySort::Using(_)) => {
                    return Err(unsupported("ORDER BY … USING is not supported"));
                }
            };
            let field = match resolve_ref(&o.expr)? {
                Member::Dim(d) if dims.contains(&d) => d,
                Member::Metric(m) if metrics.contains(&m) => m,
                Member::Dim(d) | Member::Metric(d) => {
                    return Err(unsupported(format!(
                        "ORDER BY `{}`: `{d}` is not in the select list",
                        o.expr
                    ))
                    .hint("select it too"));
                }
            };
            order_by.push(order_item(field, desc));
        }
    }
    let outputs = items
        .iter()
        .map(|(name, m)| {
            let idx = match m {
                Member::Dim(d) => dims.iter().position(|x| x == d).unwrap_or(0),
                Member::Metric(x) => dims.len() + metrics.iter().position(|y| y == x).unwrap_or(0),
            };
            (name.clone(), idx)
        })
        .collect();
    if metrics.is_empty() && !empty {
        return Err(unsupported(format!(
            "a query over {} needs at least one metric",
            ctx.table.name
        ))
        .hint(format!(
            "accord answers metrics by dimensions, e.g. SELECT {} FROM {}",
            example_columns(ctx.table),
            ctx.table.name
        )));
    }
    Ok(Translated {
        query: SemanticQuery {
            metrics,
            dimensions: dims,
            filters,
            filter,
            order_by,
            limit,
            offset,
            attribution: ctx.table.attribution.iter().cloned().collect(),
            ..Default::default()
        },
        outputs,
        types,
        empty,
    })
}

fn order_item(field: String, desc: bool) -> OrderBy {
    OrderBy::Text(if desc { format!("{field} desc") } else { field })
}

fn example_columns(t: &Table) -> String {
    let dim = t
        .columns
        .iter()
        .find(|c| matches!(c.kind, ColKind::Dimension { .. }))
        .map(|c| c.name.as_str());
    let metric = t
        .columns
        .iter()
        .find(|c| matches!(c.kind, ColKind::Metric { .. }))
        .map(|c| c.name.as_str());
    match (dim, metric) {
        (Some(d), Some(m)) => format!("{d}, {m}"),
        (None, Some(m)) => m.to_string(),
        (Some(d), None) => d.to_string(),
        _ => "…".into(),
    }
}

/// `1 = 1`, `TRUE`, `1 = 0`, `FALSE`: a WHERE whose truth does not depend
/// on any row.
fn constant_truth(e: &sp::Expr) -> Option<bool> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::Boolean(b) => Some(*b),
            _ => None,
        },
        sp::Expr::Nested(inner) => constant_truth(inner),
        sp::Expr::UnaryOp {
            op: sp::UnaryOperator::Not,
            expr,
        } => constant_truth(expr).map(|b| !b),
        sp::Expr::BinaryOp { left, op, right } => {
            let lit = |x: &sp::Expr| match x {
                sp::Expr::Value(v) => match &v.value {
                    sp::Value::Number(n, _) => Some(n.clone()),
                    sp::Value::SingleQuotedString(s) => Some(format!("'{s}'")),
                    _ => None,
                },
                _ => None,
            };
            match op {
                sp::BinaryOperator::And => match (constant_truth(left), constant_truth(right)) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
                sp::BinaryOperator::Or => match (constant_truth(left), constant_truth(right)) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
                sp::BinaryOperator::Eq => Some(lit(left)? == lit(right)?),
                sp::BinaryOperator::NotEq => Some(lit(left)? != lit(right)?),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A JSON value for a HAVING filter.
fn literal_json(e: &sp::Expr) -> Option<serde_json::Value> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::Number(n, _) => serde_json::from_str(n).ok(),
            sp::Value::SingleQuotedString(s) => Some(
                serde_json::from_str::<serde_json::Number>(s.trim())
                    .map(serde_json::Value::Number)
                    .unwrap_or_else(|_| serde_json::Value::String(s.clone())),
            ),
            sp::Value::Boolean(b) => Some((*b).into()),
            sp::Value::Null => Some(serde_json::Value::Null),
            _ => None,
        },
        sp::Expr::Cast { expr, .. } | sp::Expr::Nested(expr) => literal_json(expr),
        sp::Expr::UnaryOp {
            op: sp::UnaryOperator::Minus,
            expr,
        } => match literal_json(expr)? {
            serde_json::Value::Number(n) => serde_json::from_str(&format!("-{n}")).ok(),
            _ => None,
        },
        _ => None,
    }
}

fn is_date_trunc(f: &sp::Function) -> bool {
    f.name
        .0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.eq_ignore_ascii_case("date_trunc"))
}

/// The dimension reference a filter operand names: a dimension column, or
/// `DATE_TRUNC('<grain>', time_dimension)` as `reference:grain`.
fn filter_dim(ctx: &Ctx, e: &sp::Expr) -> SqlResult<Option<String>> {
    match column_ref(ctx, e) {
        Some(c) => match &c?.kind {
            ColKind::Dimension { reference, .. } => Ok(Some(reference.clone())),
            ColKind::Metric { name, .. } => Err(SqlError::new(
                GROUPING_ERROR,
                format!("the metric `{name}` cannot be filtered in WHERE"),
            )
            .hint(format!("filter aggregated values in HAVING: HAVING {name} > …"))),
        },
        None => match e {
            // A grain, as the select list writes it: the condition compares
            // the truncated time, like a `filters` entry on `metric_time:day`.
            sp::Expr::Function(f) if is_date_trunc(f) => match member(ctx, e)? {
                Member::Dim(d) => Ok(Some(d)),
                Member::Metric(m) => Err(unsupported(format!("DATE_TRUNC of the metric `{m}`"))),
            },
            sp::Expr::Nested(inner) => filter_dim(ctx, inner),
            sp::Expr::Function(_) => Err(unsupported(format!(
                "`{e}` in WHERE is not supported"
            ))
            .hint("filter dimensions with literals: =, <>, <, >, IN, LIKE, ILIKE, BETWEEN, IS NULL; DATE_TRUNC('<grain>', time_dimension) compares a time's period")),
            _ => Ok(None),
        },
    }
}

fn having_filters(
    ctx: &Ctx,
    h: &sp::Expr,
    metrics: &[String],
    out: &mut Vec<Filter>,
    resolve: &dyn Fn(&sp::Expr) -> SqlResult<Member>,
) -> SqlResult<()> {
    use sp::BinaryOperator as B;
    let metric_of = |e: &sp::Expr| -> SqlResult<Option<String>> {
        if literal_json(e).is_some() {
            return Ok(None);
        }
        match resolve(e)? {
            Member::Metric(m) if metrics.contains(&m) => Ok(Some(m)),
            Member::Metric(m) => Err(unsupported(format!(
                "HAVING on `{m}`, which is not selected"
            ))
            .hint("select the metric too")),
            Member::Dim(d) => Err(unsupported(format!("HAVING on the dimension `{d}`"))
                .hint("filter dimensions in WHERE")),
        }
    };
    let value = |e: &sp::Expr| {
        literal_json(e).ok_or_else(|| {
            unsupported(format!("`{e}` in HAVING is not supported"))
                .hint("compare metrics with literals")
        })
    };
    let _ = ctx;
    match h {
        sp::Expr::Nested(inner) => having_filters(ctx, inner, metrics, out, resolve),
        sp::Expr::BinaryOp {
            left,
            op: B::And,
            right,
        } => {
            having_filters(ctx, left, metrics, out, resolve)?;
            having_filters(ctx, right, metrics, out, resolve)
        }
        sp::Expr::BinaryOp { left, op, right } => {
            let flip = |op: &B| match op {
                B::Lt => B::Gt,
                B::LtEq => B::GtEq,
                B::Gt => B::Lt,
                B::GtEq => B::LtEq,
                o => o.clone(),
            };
            let (m, v, op) = match (metric_of(left)?, metric_of(right)?) {
                (Some(m), None) => (m, value(right)?, op.clone()),
                (None, Some(m)) => (m, value(left)?, flip(op)),
                _ => {
                    return Err(unsupported(format!("`{h}` in HAVING is not supported"))
                        .hint("compare one metric with a literal"));
                }
            };
            let op = match op {
                B::Eq => FilterOp::Eq,
                B::NotEq => FilterOp::Neq,
                B::Lt => FilterOp::Lt,
                B::LtEq => FilterOp::Lte,
                B::Gt => FilterOp::Gt,
                B::GtEq => FilterOp::Gte,
                other => {
                    return Err(unsupported(format!(
                        "operator {other} in HAVING is not supported"
                    ))
                    .hint("HAVING takes =, <>, <, <=, >, >=, BETWEEN, IN, IS NULL joined by AND"));
                }
            };
            out.push(Filter {
                dimension: m,
                op,
                values: vec![v],
            });
            Ok(())
        }
        sp::Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => {
            let m =
                metric_of(expr)?.ok_or_else(|| unsupported("BETWEEN in HAVING needs a metric"))?;
            out.push(Filter {
                dimension: m,
                op: FilterOp::Between,
                values: vec![value(low)?, value(high)?],
            });
            Ok(())
        }
        sp::Expr::In {
            expr,
            target: sp::InTarget::List(list),
            negated,
            ..
        } => {
            let m = metric_of(expr)?.ok_or_else(|| unsupported("IN in HAVING needs a metric"))?;
            out.push(Filter {
                dimension: m,
                op: if *negated {
                    FilterOp::NotIn
                } else {
                    FilterOp::In
                },
                values: list.iter().map(value).collect::<SqlResult<_>>()?,
            });
            Ok(())
        }
        sp::Expr::IsNull(x) | sp::Expr::IsNotNull(x) => {
            let m = metric_of(x)?.ok_or_else(|| unsupported("IS NULL in HAVING needs a metric"))?;
            out.push(Filter {
                dimension: m,
                op: if matches!(h, sp::Expr::IsNull(_)) {
                    FilterOp::IsNull
                } else {
                    FilterOp::IsNotNull
                },
                values: vec![],
            });
            Ok(())
        }
        other => Err(unsupported(format!("`{other}` in HAVING is not supported"))
            .hint("HAVING takes comparisons of selected metrics with literals, joined by AND")),
    }
}

/// `SELECT cols FROM (<semantic query>) AS t [ORDER BY …] [LIMIT …]`: the
/// wrapper BI tools put around a question to page or count it.
fn translate_wrapper(
    q: &sp::Query,
    s: &sp::Select,
    sub: &sp::Query,
    _alias: Option<&sp::TableAlias>,
    exposed: &Exposed,
) -> SqlResult<Translated> {
    let mut inner = translate(sub, exposed)?;
    if !matches!(&s.group_by, sp::GroupByExpr::Expressions(e, _) if e.is_empty())
        || s.having.is_some()
    {
        return Err(
            unsupported("GROUP BY / HAVING over a subquery is not supported")
                .hint("group and filter in the inner query"),
        );
    }
    if let Some(w) = &s.selection {
        match constant_truth(w) {
            Some(true) => {}
            Some(false) => inner.empty = true,
            None => {
                return Err(unsupported("WHERE over a subquery is not supported")
                    .hint("filter in the inner query"));
            }
        }
    }
    // Projection: `*` or inner output names.
    let mut outputs = Vec::new();
    let mut types = Vec::new();
    for item in &s.projection {
        match item {
            sp::SelectItem::Wildcard(_) | sp::SelectItem::QualifiedWildcard(..) => {
                outputs.extend(inner.outputs.iter().cloned());
                types.extend(inner.types.iter().copied());
            }
            sp::SelectItem::UnnamedExpr(e) | sp::SelectItem::ExprWithAlias { expr: e, .. } => {
                let name = match e {
                    sp::Expr::Identifier(i) => i.value.clone(),
                    sp::Expr::CompoundIdentifier(v) => {
                        v.last().map(|i| i.value.clone()).unwrap_or_default()
                    }
                    _ => {
                        return Err(
                            unsupported(format!("`{e}` over a subquery is not supported"))
                                .hint("select the subquery's columns by name"),
                        );
                    }
                };
                let pos = inner
                    .outputs
                    .iter()
                    .position(|(n, _)| *n == name || n.eq_ignore_ascii_case(&name));
                if let Some(p) = pos {
                    types.push(inner.types[p]);
                }
                let found = pos.map(|p| inner.outputs[p].clone()).ok_or_else(|| {
                    SqlError::new(
                        UNDEFINED_COLUMN,
                        format!("column \"{name}\" does not exist"),
                    )
                })?;
                let out_name = match item {
                    sp::SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                    _ => found.0.clone(),
                };
                outputs.push((out_name, found.1));
            }
            _ => return Err(unsupported("this select item is not supported")),
        }
    }
    // Ordering over the subquery's outputs.
    if let Some(ob) = &q.order_by {
        let sp::OrderByKind::Expressions(exprs) = &ob.kind else {
            return Err(unsupported("ORDER BY ALL is not supported"));
        };
        if inner.query.limit.is_some() || inner.query.offset.is_some() {
            return Err(
                unsupported("ORDER BY around a subquery with LIMIT is not supported")
                    .hint("order in the inner query"),
            );
        }
        let mut order = Vec::new();
        for o in exprs {
            if o.options.nulls_first.is_some() {
                return Err(unsupported("NULLS FIRST / NULLS LAST is not supported"));
            }
            let name = match &o.expr {
                sp::Expr::Identifier(i) => i.value.clone(),
                sp::Expr::CompoundIdentifier(v) => {
                    v.last().map(|i| i.value.clone()).unwrap_or_default()
                }
                e => match integer(e) {
                    Some(n) if n >= 1 && (n as usize) <= outputs.len() => {
                        outputs[n as usize - 1].0.clone()
                    }
                    _ => {
                        return Err(unsupported(format!("ORDER BY `{e}` over a subquery")));
                    }
                },
            };
            let idx = outputs
                .iter()
                .chain(inner.outputs.iter())
                .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                .map(|(_, i)| *i)
                .ok_or_else(|| {
                    SqlError::new(
                        UNDEFINED_COLUMN,
                        format!("column \"{name}\" does not exist"),
                    )
                })?;
            let nd = inner.query.dimensions.len();
            let field = if idx < nd {
                inner.query.dimensions[idx].clone()
            } else {
                inner.query.metrics[idx - nd].clone()
            };
            order.push(order_item(
                field,
                matches!(o.options.sort, Some(sp::OrderBySort::Desc)),
            ));
        }
        inner.query.order_by = order;
    }
    let (limit, offset) = limit_offset(q)?;
    let o2 = offset.unwrap_or(0);
    if o2 > 0 {
        inner.query.offset = Some(inner.query.offset.unwrap_or(0) + o2);
    }
    let remaining = inner.query.limit.map(|l| l.saturating_sub(o2));
    inner.query.limit = match (remaining, limit) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if inner.query.limit == Some(0) {
        inner.empty = true;
    }
    inner.outputs = outputs;
    inner.types = types;
    Ok(inner)
}

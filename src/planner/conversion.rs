//! Conversion metrics: a base event converts when the same entity has a
//! conversion event at or after the base event's time and no later than
//! `window` after it (both ends inclusive), with every constant property
//! equal (NULL never equals). The test is an EXISTS on the conversion
//! model, so each base event counts at most once however many conversions
//! follow it, and the base scan keeps its joins, filters and policies.

use crate::catalog::Catalog;
use crate::catalog::time::Conversion;
use crate::sql::ast::{BinOp, Expr, Literal, Query, Select, SelectItem};

use super::resolve::{qualify, source_ref};

/// Alias of the conversion model inside the EXISTS; distinct from any base
/// alias (those are model names, which are identifiers without `__`).
const CONV: &str = "__conversion";

/// `EXISTS (SELECT 1 FROM <conversion model> WHERE same entity AND base
/// time <= conversion time <= base time + window AND constants equal)`,
/// written against the base scan's alias (the base model's name).
pub fn exists(catalog: &Catalog, conv: &Conversion) -> Expr {
    let base = catalog.model(conv.base_model);
    let target = catalog.model(conv.conversion_model);
    let b = |e: &Expr| qualify(e, &base.name);
    let c = |e: &Expr| qualify(e, CONV);
    let base_time = b(&base.dimensions[conv.base_time].expr);
    let conv_time = c(&target.dimensions[conv.conversion_time].expr);
    let mut conds = vec![
        Expr::binary(BinOp::Eq, c(&conv.conversion_key), b(&conv.base_key)),
        Expr::binary(BinOp::GtEq, conv_time.clone(), base_time.clone()),
        Expr::binary(
            BinOp::LtEq,
            conv_time,
            Expr::AddTime {
                expr: Box::new(base_time),
                amount: i64::from(conv.window.amount),
                unit: conv.window.time_unit(),
            },
        ),
    ];
    for p in &conv.constant_properties {
        conds.push(Expr::binary(BinOp::Eq, c(&p.conversion), b(&p.base)));
    }
    let select = Select {
        projection: vec![SelectItem {
            expr: Expr::Lit(Literal::Number("1".into())),
            alias: None,
        }],
        from: Some(source_ref(catalog, conv.conversion_model, CONV)),
        joins: Vec::new(),
        selection: Expr::and_all(conds),
        group_by: Vec::new(),
        having: None,
    };
    Expr::Exists {
        query: Box::new(Query::select(select)),
        negated: false,
    }
}

//! Conversion metrics: a base event converts when the same entity has a
//! conversion event at or after the base event's time and no later than
//! `window` after it (both ends inclusive), with every constant property
//! equal (NULL never equals). The test is an EXISTS on the conversion
//! model, so each base event counts at most once however many conversions
//! follow it. Both sides obey the caller's policies: the base scan's own,
//! and inside the EXISTS the same conditions for the conversion's rows.

use crate::catalog::Catalog;
use crate::catalog::time::Conversion;
use crate::sql::ast::{BinOp, Expr, Literal, Query, Select, SelectItem};

use super::PlanError;
use super::resolve::{JoinTree, qualify, source_ref};

/// Alias of the conversion model inside the EXISTS; models it joins for
/// policies are `__conversion__<model>` (see [`JoinTree::nested`]).
const CONV: &str = "__conversion";

/// The policy conditions on the conversion side: given the EXISTS's join
/// tree (to join what policies need), the conversion's time and, when
/// stitched, its person.
pub type Govern<'a> =
    dyn FnMut(&mut JoinTree, Expr, Option<Expr>) -> Result<Vec<Expr>, PlanError> + 'a;

/// `EXISTS (SELECT 1 FROM <conversion model> WHERE same entity AND base
/// time <= conversion time <= base time + window AND constants equal AND
/// the caller's policies)`, correlated with the base scan's `base_alias`.
///
/// `govern` adds the conditions every scan of facts obeys (row policies,
/// consent at the conversion's time, suppression), joining what they need
/// into the tree it is given: a conversion the caller may not see must not
/// make a base event count as converted.
///
/// `person`: the base scan's person key when it is stitched; the same
/// person then converts through any of their identifiers (an anonymous
/// visit, a later order), and consent on the conversion side holds per
/// person too.
pub fn exists(
    catalog: &Catalog,
    conv: &Conversion,
    base_alias: &str,
    person: Option<&Expr>,
    govern: &mut Govern<'_>,
) -> Result<Expr, PlanError> {
    let base = catalog.model(conv.base_model);
    let target = catalog.model(conv.conversion_model);
    let b = |e: &Expr| qualify(e, base_alias);
    let c = |e: &Expr| qualify(e, CONV);
    let base_time = b(&base.dimensions[conv.base_time].expr);
    let conv_time = c(&target.dimensions[conv.conversion_time].expr);
    // Validation guarantees a stitchable conversion model when the base
    // measure is stitched.
    let stitched = match person {
        Some(outer) => match super::stitch::nested_subject(catalog, conv.conversion_model, CONV) {
            Some(inner) => Some((outer.clone(), inner)),
            None => {
                return Err(PlanError::new(
                    super::ErrorCode::Unsupported,
                    format!(
                        "model `{}` cannot be stitched, so conversions cannot be matched per person",
                        target.name
                    ),
                ));
            }
        },
        None => None,
    };
    let same_entity = match &stitched {
        Some((outer, inner)) => Expr::binary(BinOp::Eq, inner.key.clone(), outer.clone()),
        None => Expr::binary(BinOp::Eq, c(&conv.conversion_key), b(&conv.base_key)),
    };
    let mut conds = vec![
        same_entity,
        Expr::binary(BinOp::GtEq, conv_time.clone(), base_time.clone()),
        Expr::binary(
            BinOp::LtEq,
            conv_time.clone(),
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
    let mut joins = JoinTree::nested(conv.conversion_model, CONV);
    if let Some((_, inner)) = &stitched {
        super::stitch::follow_person(catalog, &mut joins, inner);
    }
    conds.extend(govern(
        &mut joins,
        conv_time,
        stitched.as_ref().map(|(_, inner)| inner.key.clone()),
    )?);
    let select = Select {
        projection: vec![SelectItem {
            expr: Expr::Lit(Literal::Number("1".into())),
            alias: None,
        }],
        from: Some(source_ref(catalog, conv.conversion_model, CONV)),
        joins: joins.joins(catalog),
        selection: Expr::and_all(conds),
        group_by: Vec::new(),
        having: None,
    };
    Ok(Expr::Exists {
        query: Box::new(Query::select(select)),
        negated: false,
    })
}

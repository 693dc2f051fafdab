//! Stitching: the canonical identity of a model's rows.
//!
//! [`canonical_key`] is the one function every feature that counts people
//! (stitched measures today; funnels, attribution and consent later) uses to
//! see a fact through the identity map built by `accord identity build`: it
//! yields a LEFT JOIN of the map on the row's identifier and the expressions
//! of the row's canonical id. The map holds at most one row per
//! (identifier type, identifier), so the join never multiplies a scan's rows.
//!
//! Which identifier a row is looked up by: for a model listed under
//! `identity.sources`, its `stitch_by` identifier; for any other model with an
//! entity named like the stitched entity, that entity's key as the canonical
//! identifier type. The lookup value is normalised exactly as the build
//! normalised it.

use crate::catalog::{Catalog, Measure, ModelId};
use crate::identity::{Identity, normalized};
use crate::sql::ast::{BinOp, Expr, Ident, Join, JoinKind, Literal, SqlType, TableRef};

use super::resolve::qualify;

/// Alias of the identity map in a stitched scan.
pub const MAP_ALIAS: &str = "identity_map";

/// A model's rows seen as canonical identities.
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalKey {
    /// `LEFT JOIN <map> ON type = '<type>' AND identifier = <normalised column>`.
    pub join: Join,
    /// The canonical id (text); NULL when the row's identifier is not in the
    /// map (missing, blocked, excluded or erased).
    pub id: Expr,
    /// True when the row belongs to a known entity: its cluster's canonical
    /// identifier is of the canonical type (a customer id).
    pub is_entity: Expr,
}

/// The identifier type index and unqualified column a model's rows are
/// stitched by.
fn row_identifier(identity: &Identity, catalog: &Catalog, model: ModelId) -> Option<(usize, Expr)> {
    if let Some(s) = identity.source_of(model) {
        let (t, e) = &s.columns[s.stitch_by];
        return Some((*t, e.clone()));
    }
    catalog
        .model(model)
        .entity(&identity.entity)
        .filter(|e| e.keys.len() == 1)
        .map(|e| (identity.canonical, e.keys[0].clone()))
}

/// Whether [`canonical_key`] has an answer for `model`.
pub fn is_stitchable(catalog: &Catalog, model: ModelId) -> bool {
    catalog
        .identity
        .as_ref()
        .is_some_and(|i| row_identifier(i, catalog, model).is_some())
}

/// The canonical identity of the rows of `model` scanned as `base_alias`;
/// `None` without an identity definition or for a model that cannot be
/// stitched.
pub fn canonical_key(catalog: &Catalog, model: ModelId, base_alias: &str) -> Option<CanonicalKey> {
    let identity = catalog.identity.as_ref()?;
    let (t, column) = row_identifier(identity, catalog, model)?;
    let ty = &identity.types[t];
    let map_col = |name: &str| Expr::Column {
        table: Some(Ident::generated(MAP_ALIAS)),
        name: Ident::new(name),
    };
    let value = normalized(
        ty,
        Expr::Cast {
            expr: Box::new(qualify(&column, base_alias)),
            ty: SqlType::Text,
        },
    );
    let on = Expr::binary(
        BinOp::And,
        Expr::binary(
            BinOp::Eq,
            map_col("identifier_type"),
            Expr::Lit(Literal::String(ty.name.clone())),
        ),
        Expr::binary(BinOp::Eq, map_col("identifier"), value),
    );
    Some(CanonicalKey {
        join: Join {
            kind: JoinKind::Left,
            table: TableRef::Table {
                name: vec![Ident::new(identity.tables.map())],
                alias: Ident::generated(MAP_ALIAS),
            },
            on: Some(on),
        },
        id: map_col("canonical_id"),
        is_entity: Expr::binary(
            BinOp::Eq,
            map_col("canonical_type"),
            Expr::Lit(Literal::String(identity.canonical_type().name.clone())),
        ),
    })
}

/// The value a stitched measure aggregates: for `count_distinct`, the
/// canonical id (distinct people across devices and cookies); for every
/// other aggregation, the measure's value on rows credited to a known entity
/// (anonymous rows of a later customer included), NULL elsewhere. Plain
/// measures get their qualified expression.
pub(super) fn measure_value(
    catalog: &Catalog,
    model: ModelId,
    measure: &Measure,
    base_alias: &str,
) -> Option<Expr> {
    let plain = measure.expr.as_ref().map(|e| qualify(e, base_alias));
    if measure.stitched_at.is_none() {
        return plain;
    }
    // Validation guarantees a key for every stitched measure.
    let key = canonical_key(catalog, model, base_alias)?;
    if measure.agg == crate::catalog::Aggregation::CountDistinct {
        return Some(key.id);
    }
    Some(Expr::Case {
        operand: None,
        whens: vec![(
            key.is_entity,
            plain.unwrap_or(Expr::Lit(Literal::Number("1".into()))),
        )],
        otherwise: None,
    })
}

/// `joins` plus the identity map when one of the scan's measures is stitched.
pub(super) fn scan_joins(
    catalog: &Catalog,
    model: ModelId,
    base_alias: &str,
    stitched: bool,
    mut joins: Vec<Join>,
) -> Vec<Join> {
    if stitched && let Some(k) = canonical_key(catalog, model, base_alias) {
        joins.push(k.join);
    }
    joins
}

/// `expr` with its bare columns qualified by `alias` (for code outside the
/// planner that reads models, like the identity build).
pub fn qualified(expr: &Expr, alias: &str) -> Expr {
    qualify(expr, alias)
}

/// A model's source (table or SQL) as a FROM item.
pub fn model_source(catalog: &Catalog, model: ModelId, alias: &str) -> TableRef {
    super::resolve::source_ref(catalog, model, alias)
}

//! Stitching: the canonical identity of a model's rows.
//!
//! [`canonical_key`] is the one function every feature that counts people
//! (stitched measures, funnels, retention, attribution, and consent and
//! suppression on their scans) uses to see a fact through the identity map
//! built by `accord identity build`: it yields a LEFT JOIN of the map on the
//! row's identifier and the expressions of the row's canonical id;
//! [`stitched_subject`] turns that into one person key per row, and
//! [`scan_person`] also makes the scan's joins to the entity's models (its
//! dimensions and row policies) go through that person. The map
//! holds at most one row per (identifier type, identifier), so the join
//! never multiplies a scan's rows.
//!
//! Which identifier a row is looked up by: for a model listed under
//! `identity.sources`, its `stitch_by` identifier; for any other model with an
//! entity named like the stitched entity, that entity's key as the canonical
//! identifier type. The lookup value is normalised exactly as the build
//! normalised it.

use crate::catalog::{Catalog, Measure, ModelId};
use crate::identity::normalized;
use crate::sql::ast::{BinOp, Expr, Ident, Join, JoinKind, Literal, SqlType, TableRef};

use super::resolve::{JoinTree, qualify};

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

pub use crate::identity::{is_stitchable, row_identifier};

/// The canonical identity of the rows of `model` scanned as `base_alias`;
/// `None` without an identity definition or for a model that cannot be
/// stitched.
pub fn canonical_key(catalog: &Catalog, model: ModelId, base_alias: &str) -> Option<CanonicalKey> {
    canonical_key_as(catalog, model, base_alias, MAP_ALIAS)
}

/// [`canonical_key`] with the map joined as `map_alias` (a subquery inside a
/// stitched scan needs its own alias, or it would shadow the scan's map).
fn canonical_key_as(
    catalog: &Catalog,
    model: ModelId,
    base_alias: &str,
    map_alias: &str,
) -> Option<CanonicalKey> {
    let identity = catalog.identity.as_ref()?;
    let (t, column) = row_identifier(identity, catalog, model)?;
    let ty = &identity.types[t];
    let map_col = |name: &str| Expr::Column {
        table: Some(Ident::generated(map_alias)),
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
                alias: Ident::generated(map_alias),
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

/// Whose facts a stitched scan's rows are, as one text value per person.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StitchedSubject {
    /// The identity map, LEFT JOINed to the scan.
    pub join: Join,
    /// The person: a known entity's canonical id as the entity key reads
    /// (`42`), another cluster's as `<type>:<id>` (ids of different types
    /// never collide), and a row missing from the map (newer than the last
    /// build, blocked, erased) by its own entity key when it has one; NULL
    /// for a row of nobody.
    pub key: Expr,
    /// The entity (customer) the row's person is, as the identity map
    /// spells it: the canonical id when the cluster is a known entity's,
    /// the row's own entity key when the map does not know the row, NULL
    /// for a never-identified visitor. Joins to the entity's models follow
    /// it ([`follow_person`]).
    pub entity_key: Expr,
}

/// The person behind each row of `model` scanned as `base_alias`, seen
/// through the identity map joined as `map_alias`.
fn stitched_subject_as(
    catalog: &Catalog,
    model: ModelId,
    base_alias: &str,
    map_alias: &str,
) -> Option<StitchedSubject> {
    let identity = catalog.identity.as_ref()?;
    let k = canonical_key_as(catalog, model, base_alias, map_alias)?;
    let map_col = |name: &str| Expr::Column {
        table: Some(Ident::generated(map_alias)),
        name: Ident::new(name),
    };
    // A row the map does not know still belongs to its own entity key.
    let own = catalog
        .model(model)
        .entity(&identity.entity)
        .filter(|e| e.keys.len() == 1)
        .map(|e| {
            normalized(
                identity.canonical_type(),
                Expr::Cast {
                    expr: Box::new(qualify(&e.keys[0], base_alias)),
                    ty: SqlType::Text,
                },
            )
        })
        .unwrap_or(Expr::TypedNull(SqlType::Text));
    let typed = Expr::binary(
        BinOp::Concat,
        Expr::binary(
            BinOp::Concat,
            map_col("canonical_type"),
            Expr::Lit(Literal::String(":".into())),
        ),
        k.id.clone(),
    );
    let whens = vec![
        (
            Expr::IsNull {
                expr: Box::new(k.id.clone()),
                negated: false,
            },
            own,
        ),
        (k.is_entity, k.id),
    ];
    let key = Expr::Case {
        operand: None,
        whens: whens.clone(),
        otherwise: Some(Box::new(typed)),
    };
    let entity_key = Expr::Case {
        operand: None,
        whens,
        otherwise: None,
    };
    Some(StitchedSubject {
        join: k.join,
        key,
        entity_key,
    })
}

/// The person behind each row of `model` scanned as `base_alias`, through
/// the scan's identity map.
pub(super) fn stitched_subject(
    catalog: &Catalog,
    model: ModelId,
    base_alias: &str,
) -> Option<StitchedSubject> {
    stitched_subject_as(catalog, model, base_alias, MAP_ALIAS)
}

/// The person of a row of `model` (a consent ledger or suppression list)
/// read in a subquery of a stitched scan, through a map alias of its own.
pub(super) fn nested_subject(
    catalog: &Catalog,
    model: ModelId,
    base_alias: &str,
) -> Option<StitchedSubject> {
    stitched_subject_as(
        catalog,
        model,
        base_alias,
        &format!("{MAP_ALIAS}_{base_alias}"),
    )
}

/// The person behind each row of the scan `joins` is built for (its base
/// model under its base alias), with `joins` made to reach the identity
/// entity's models through that person: an anonymous page view of a later
/// customer then has that customer's region, and a row policy on customers
/// holds per person, as consent and suppression do. Every stitched scan
/// starts here, so none can forget the joins.
/// The identity map join comes with `joins` (first in its list).
pub(super) fn scan_person(catalog: &Catalog, joins: &mut JoinTree) -> Option<StitchedSubject> {
    let person = stitched_subject(catalog, joins.base, &joins.base_alias)?;
    follow_person(catalog, joins, &person);
    Some(person)
}

/// Makes `joins` reach the identity entity's models through `person`, and
/// carry the map join `person` reads.
pub(super) fn follow_person(catalog: &Catalog, joins: &mut JoinTree, person: &StitchedSubject) {
    if let Some(identity) = &catalog.identity {
        joins.follow(
            &identity.entity,
            person.entity_key.clone(),
            person.join.clone(),
        );
    }
}

/// The ON condition of a [`follow_person`] join: the entity key of `model`
/// (joined as `alias`) equal to `person`'s entity key, which is text as the
/// map spells canonical ids; `None` when the model has no single-column key
/// of the stitched entity.
pub(super) fn entity_match(
    catalog: &Catalog,
    model: ModelId,
    alias: &str,
    person: &Expr,
) -> Option<Expr> {
    let identity = catalog.identity.as_ref()?;
    let e = catalog
        .model(model)
        .entity(&identity.entity)
        .filter(|e| e.keys.len() == 1)?;
    let key = qualify(&e.keys[0], alias);
    let key_text = normalized(
        identity.canonical_type(),
        Expr::Cast {
            expr: Box::new(key.clone()),
            ty: SqlType::Text,
        },
    );
    Some(Expr::KeyEqualsText {
        key: Box::new(key),
        key_text: Box::new(key_text),
        text: Box::new(person.clone()),
    })
}

/// The value a stitched measure aggregates: for `count_distinct`, the
/// person ([`StitchedSubject::key`]: distinct people across devices and
/// cookies); for every other aggregation, the measure's value on rows
/// credited to a known entity (anonymous rows of a later customer
/// included), NULL elsewhere. Plain measures get their qualified expression.
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
    if measure.agg == crate::catalog::Aggregation::CountDistinct {
        return Some(stitched_subject(catalog, model, base_alias)?.key);
    }
    let key = canonical_key(catalog, model, base_alias)?;
    Some(Expr::Case {
        operand: None,
        whens: vec![(
            key.is_entity,
            plain.unwrap_or(Expr::Lit(Literal::Number("1".into()))),
        )],
        otherwise: None,
    })
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

//! The rules every scan of facts obeys, whoever builds it (the metric
//! planner's scans, attribution's conversion and touch scans): the caller's
//! row policies on any model the facts reach, consent for the query's
//! purpose at each fact's time, and the suppression list.

use crate::access::Access;
use crate::catalog::policy::{Consent, ConsentMode};
use crate::catalog::{Catalog, DimensionKind, ModelId};
use crate::query::DimensionRef;
use crate::sql::ast::*;

use super::PlanError;
use super::build::untruncated;
use super::resolve::{JoinTree, ResolvedDim, qualify, resolve_dimension, source_ref, target_model};

/// A policy's `model.dimension` reference, resolved from the scanned model.
fn resolve_policy_ref(
    catalog: &Catalog,
    model_id: ModelId,
    r: &DimensionRef,
    joins: &mut JoinTree,
) -> Result<ResolvedDim, PlanError> {
    let target = target_model(catalog, r, &[model_id], &|_, _| true)?;
    resolve_dimension(catalog, joins, r, target, "needed by an access policy")
}

/// Whether a policy's reference names a time dimension (its string
/// literals are then times).
fn is_time(catalog: &Catalog, parts: &[Ident]) -> bool {
    match parts {
        [m, d] => catalog
            .model_by_name(&m.value)
            .and_then(|md| md.dimension(&d.value))
            .is_some_and(|(_, d)| matches!(d.kind, DimensionKind::Time { .. })),
        _ => false,
    }
}

/// Conditions a scan of `model_id`'s rows must add to its WHERE, for
/// builders that hold a [`JoinTree`] (attribution's conversion and touch
/// scans, a conversion metric's EXISTS): the one policy code path, [`super::build::scan_policy_conditions`],
/// with policy references resolved from the scanned model (joining their
/// models into `joins` as needed).
#[allow(clippy::too_many_arguments)]
pub(super) fn fact_conditions(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
    model_id: ModelId,
    joins: &mut JoinTree,
    fact_time: Option<Expr>,
    stitched: Option<Expr>,
    suppression_implied: bool,
    consent_ctes: &mut Vec<Cte>,
    policies: &mut Vec<String>,
) -> Result<Vec<Expr>, PlanError> {
    let base_alias = joins.base_alias.clone();
    super::build::scan_policy_conditions(
        catalog,
        access,
        row_policies,
        super::build::ScanPolicyInput {
            model: model_id,
            base_alias: &base_alias,
            fact_time,
            stitched,
            suppression_implied,
        },
        &mut |r| resolve_policy_ref(catalog, model_id, r, joins).map(untruncated),
        &|parts| is_time(catalog, parts),
        (consent_ctes, policies),
    )
}

/// `consent_<purpose>`: each subject's consent history for one purpose as
/// intervals [valid_from, valid_to) with the status that held in them.
/// `stitched`: the subject is the person the identity map puts the ledger's
/// key in (see `stitch::StitchedSubject`), so a person's latest decision
/// holds whichever of their customer ids recorded it.
pub(super) fn consent_cte(
    catalog: &Catalog,
    consent: &Consent,
    purpose: &str,
    name: &str,
    stitched: bool,
) -> Cte {
    let l = &consent.ledger;
    let alias = catalog.model(l.model).name.clone();
    let q = |e: &Expr| qualify(e, &alias);
    let (subject, joins) = match stitched
        .then(|| super::stitch::nested_subject(catalog, l.model, &alias))
        .flatten()
    {
        Some(s) => (s.key, vec![s.join]),
        None => (q(&l.subject_key), Vec::new()),
    };
    let mut order = vec![q(&l.time)];
    order.extend(l.order_key.as_ref().map(q));
    let select = Select {
        projection: vec![
            SelectItem {
                expr: subject.clone(),
                alias: Some(Ident::generated("subject")),
            },
            SelectItem {
                expr: q(&l.time),
                alias: Some(Ident::generated("valid_from")),
            },
            SelectItem {
                expr: Expr::Window {
                    name: "LEAD".into(),
                    args: vec![q(&l.time)],
                    partition_by: vec![subject],
                    order_by: order,
                    frame: None,
                },
                alias: Some(Ident::generated("valid_to")),
            },
            SelectItem {
                expr: q(&l.status),
                alias: Some(Ident::generated("status")),
            },
        ],
        from: Some(source_ref(catalog, l.model, &alias)),
        joins,
        selection: Some(Expr::binary(
            BinOp::Eq,
            q(&l.purpose),
            Expr::string(purpose),
        )),
        group_by: Vec::new(),
        having: None,
    };
    Cte {
        name: Ident::generated(name),
        query: Query::select(select),
    }
}

/// EXISTS a granted interval of the subject covering the fact's time (or,
/// as of now, the subject's latest status is granted).
pub(super) fn consent_exists(
    cte: &str,
    subject: Expr,
    fact_time: Option<Expr>,
    consent: &Consent,
) -> Expr {
    let c = |col: &str| Expr::col("c", col);
    let mut conds = vec![
        Expr::binary(BinOp::Eq, c("subject"), subject),
        Expr::binary(
            BinOp::Eq,
            c("status"),
            Expr::string(consent.ledger.granted_value.clone()),
        ),
    ];
    let open = Expr::IsNull {
        expr: Box::new(c("valid_to")),
        negated: false,
    };
    match (consent.mode, fact_time) {
        (ConsentMode::AsOfFact, Some(t)) => {
            conds.push(Expr::binary(BinOp::LtEq, c("valid_from"), t.clone()));
            conds.push(Expr::Nested(Box::new(Expr::binary(
                BinOp::Or,
                open,
                Expr::binary(BinOp::Lt, t, c("valid_to")),
            ))));
        }
        _ => conds.push(open),
    }
    let sub = Select {
        projection: vec![SelectItem {
            expr: Expr::Lit(Literal::Number("1".into())),
            alias: None,
        }],
        from: Some(TableRef::Named {
            name: Ident::generated(cte),
            alias: Some(Ident::generated("c")),
        }),
        joins: Vec::new(),
        selection: Expr::and_all(conds),
        group_by: Vec::new(),
        having: None,
    };
    Expr::Exists {
        query: Box::new(Query::select(sub)),
        negated: false,
    }
}

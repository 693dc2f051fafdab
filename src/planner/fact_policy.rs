//! The rules every scan of facts obeys, whoever builds it (the metric
//! planner's scans, attribution's conversion and touch scans): the caller's
//! row policies on any model the facts reach, consent for the query's
//! purpose at each fact's time, and the suppression list.

use crate::access::Access;
use crate::catalog::policy::{Consent, ConsentMode};
use crate::catalog::{Catalog, DimensionKind, ModelId};
use crate::query::DimensionRef;
use crate::sql::ast::*;

use super::build::{resolve_row_expr, untruncated};
use super::filters::coerce_time_literals;
use super::resolve::{JoinTree, ResolvedDim, qualify, resolve_dimension, source_ref, target_model};
use super::{ErrorCode, PlanError};

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

/// Conditions a scan of `model_id`'s rows must add to its WHERE: row
/// policies (joining their models into `joins` as needed), consent at
/// `fact_time` (the CTE it needs is added to `consent_ctes` once) and the
/// suppression list. `policies` collects what was applied, in words.
#[allow(clippy::too_many_arguments)]
pub(super) fn fact_conditions(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
    model_id: ModelId,
    joins: &mut JoinTree,
    fact_time: Option<Expr>,
    consent_ctes: &mut Vec<Cte>,
    policies: &mut Vec<String>,
) -> Result<Vec<Expr>, PlanError> {
    let model = catalog.model(model_id);
    let base_alias = joins.base_alias.clone();
    let is_time = |parts: &[Ident]| is_time(catalog, parts);
    let mut conditions = Vec::new();
    // Row policies: any model this scan can reach through the join
    // graph is restricted for this scan's facts (joining it if needed).
    for (policy_model, filter) in row_policies {
        if *policy_model != model_id && !catalog.graph.reachable(model_id, *policy_model) {
            continue;
        }
        let f = coerce_time_literals(filter.clone(), &is_time)?;
        let bound = resolve_row_expr(f, &mut |r| {
            resolve_policy_ref(catalog, model_id, r, joins).map(untruncated)
        })
        .map_err(|e| {
            PlanError::new(
                ErrorCode::Forbidden,
                format!(
                    "the row policy on `{}` cannot be enforced for `{}`: {}",
                    catalog.model(*policy_model).name,
                    model.name,
                    e.message
                ),
            )
        })?;
        conditions.push(bound);
    }
    // Consent: facts about a person count only under a purpose that
    // person granted (at the fact's time), and never for suppressed
    // subjects.
    if let (Some(consent), Some(subject)) = (&catalog.consent, &model.subject) {
        let subject_expr = model
            .entity(subject)
            .map(|e| qualify(&e.keys[0], &base_alias));
        if let Some(subject_expr) = subject_expr {
            if let Some(purpose) = access.purpose.filter(|p| p.requires_consent) {
                let cte_name = format!("consent_{}", purpose.name);
                if !consent_ctes.iter().any(|c| c.name.value == cte_name) {
                    consent_ctes.push(consent_cte(catalog, consent, &purpose.name, &cte_name));
                }
                conditions.push(consent_exists(
                    &cte_name,
                    subject_expr.clone(),
                    fact_time.clone(),
                    consent,
                ));
                if !policies
                    .iter()
                    .any(|p| p.starts_with(&format!("consent purpose {}", purpose.name)))
                {
                    policies.push(format!(
                        "consent purpose {} ({})",
                        purpose.name,
                        match consent.mode {
                            ConsentMode::AsOfFact => "as of each fact's time",
                            ConsentMode::AsOfNow => "as of now",
                        }
                    ));
                }
            }
            if let Some((supp_model, key)) = &consent.suppression {
                let alias = "suppressed";
                let sub = Select {
                    projection: vec![SelectItem {
                        expr: Expr::Lit(Literal::Number("1".into())),
                        alias: None,
                    }],
                    from: Some(source_ref(catalog, *supp_model, alias)),
                    joins: Vec::new(),
                    selection: Some(Expr::binary(
                        BinOp::Eq,
                        qualify(key, alias),
                        subject_expr.clone(),
                    )),
                    group_by: Vec::new(),
                    having: None,
                };
                conditions.push(Expr::Exists {
                    query: Box::new(Query::select(sub)),
                    negated: true,
                });
                let desc = format!("suppression list {}", catalog.model(*supp_model).name);
                if !policies.contains(&desc) {
                    policies.push(desc);
                }
            }
        }
    }
    Ok(conditions)
}

/// `consent_<purpose>`: each subject's consent history for one purpose as
/// intervals [valid_from, valid_to) with the status that held in them.
pub(super) fn consent_cte(catalog: &Catalog, consent: &Consent, purpose: &str, name: &str) -> Cte {
    let l = &consent.ledger;
    let alias = catalog.model(l.model).name.clone();
    let q = |e: &Expr| qualify(e, &alias);
    let mut order = vec![q(&l.time)];
    order.extend(l.order_key.as_ref().map(q));
    let select = Select {
        projection: vec![
            SelectItem {
                expr: q(&l.subject_key),
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
                    partition_by: vec![q(&l.subject_key)],
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
        joins: Vec::new(),
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

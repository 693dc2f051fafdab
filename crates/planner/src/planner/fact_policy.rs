//! The rules every scan of facts obeys, whoever builds it (the metric
//! planner's scans, attribution's conversion and touch scans): the caller's
//! row policies on any model the facts reach, consent for the query's
//! purpose at each fact's time, and the suppression list.

use crate::access::Access;
use crate::catalog::policy::{Consent, ConsentMode};
use crate::catalog::{Catalog, DimensionKind, ModelId};
use crate::query::DimensionRef;
use crate::sql::ast::*;

use super::filters::coerce_time_literals;
use super::resolve::{JoinTree, ResolvedDim, qualify, resolve_dimension, source_ref, target_model};
use super::resolve::{resolve_row_expr, untruncated};
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

/// Conditions a scan of `model_id`'s rows must add to its WHERE, for
/// builders that hold a [`JoinTree`] (attribution's conversion and touch
/// scans, a conversion metric's EXISTS): the one policy code path, [`scan_policy_conditions`],
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
    scan_policy_conditions(
        catalog,
        access,
        row_policies,
        ScanPolicyInput {
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

/// What [`scan_policy_conditions`] needs to know about one scan.
pub(super) struct ScanPolicyInput<'a> {
    pub model: ModelId,
    pub base_alias: &'a str,
    /// The time each fact happened, for consent as of the fact.
    pub fact_time: Option<Expr>,
    /// The person of each row when the scan is stitched
    /// ([`super::stitch::StitchedSubject::key`]): consent and suppression
    /// then hold per person, anonymous rows included.
    pub stitched: Option<Expr>,
    /// Every row is correlated to a row of the same subject that is already
    /// held to the suppression list (a conversion EXISTS matched on the
    /// base event's subject), so the list is not read again.
    pub suppression_implied: bool,
}

/// The WHERE conditions the caller's policies put on one scan of `model`:
/// row filters of every model the scan can reach, consent under the
/// caller's purpose, and the suppression list. Every scan of facts (metric
/// scans here, funnel and retention event scans in `funnel`/`retention`)
/// goes through this one function.
pub(super) fn scan_policy_conditions(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
    scan: ScanPolicyInput,
    resolve: &mut dyn FnMut(&DimensionRef) -> Result<super::resolve::ResolvedDim, PlanError>,
    is_time: &dyn Fn(&[Ident]) -> bool,
    (consent_ctes, policies): (&mut Vec<Cte>, &mut Vec<String>),
) -> Result<Vec<Expr>, PlanError> {
    let model = catalog.model(scan.model);
    let base_alias = scan.base_alias;
    let mut conditions = Vec::new();
    // Row policies: any model this scan can reach through the join
    // graph is restricted for this scan's facts (joining it if needed).
    for (policy_model, filter) in row_policies {
        if *policy_model != scan.model && !catalog.graph.reachable(scan.model, *policy_model) {
            continue;
        }
        let f = coerce_time_literals(filter.clone(), is_time)?;
        // Refused without naming the policy's model or members, which the
        // caller may not see; the reason goes to the log for operators.
        let bound = resolve_row_expr(f, resolve).map_err(|e| {
            tracing::warn!(
                target: "accord::errors",
                policy_model = %catalog.model(*policy_model).name,
                model = %model.name,
                reason = %e.message,
                "a row policy cannot be enforced"
            );
            PlanError::new(
                ErrorCode::Forbidden,
                "an access policy of your roles cannot be enforced for this query",
            )
        })?;
        conditions.push(bound);
    }
    // Consent: facts about a person count only under a purpose that
    // person granted (at the fact's time), and never for suppressed
    // subjects.
    if let Some(consent) = &catalog.consent {
        // A stitched scan's facts are a person's even without the model's
        // own subject column; a plain scan's only through that column.
        let subject_expr = match &scan.stitched {
            Some(person) => Some(person.clone()),
            None => model
                .subject
                .as_ref()
                .and_then(|s| model.entity(s))
                .map(|e| qualify(&e.keys[0], base_alias)),
        };
        let stitched = scan.stitched.is_some();
        if let Some(subject_expr) = subject_expr {
            if let Some(purpose) = access.purpose.filter(|p| p.requires_consent) {
                let cte_name = if stitched {
                    format!("consent_{}_stitched", purpose.name)
                } else {
                    format!("consent_{}", purpose.name)
                };
                if !consent_ctes.iter().any(|c| c.name.value == cte_name) {
                    consent_ctes.push(consent_cte(
                        catalog,
                        consent,
                        &purpose.name,
                        &cte_name,
                        stitched,
                    ));
                }
                conditions.push(consent_exists(
                    &cte_name,
                    subject_expr.clone(),
                    scan.fact_time,
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
            if let Some((supp_model, key)) = consent
                .suppression
                .as_ref()
                .filter(|_| !scan.suppression_implied)
            {
                let alias = "suppressed";
                // Stitched: a suppressed person's every identifier the map
                // still holds is left out, not only rows keyed by them.
                let (joins, listed) = match stitched {
                    true => match super::stitch::nested_subject(catalog, *supp_model, alias) {
                        Some(s) => (vec![s.join], s.key),
                        None => (Vec::new(), qualify(key, alias)),
                    },
                    false => (Vec::new(), qualify(key, alias)),
                };
                let sub = Select {
                    projection: vec![SelectItem {
                        expr: Expr::Lit(Literal::Number("1".into())),
                        alias: None,
                    }],
                    from: Some(source_ref(catalog, *supp_model, alias)),
                    joins,
                    selection: Some(Expr::binary(BinOp::Eq, listed, subject_expr.clone())),
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

/// The caller's row filters, described for `compile` output and the
/// plan's `policies`.
pub(super) fn describe_row_policies(
    catalog: &Catalog,
    access: &Access,
    row_policies: &[(ModelId, Expr)],
) -> Vec<String> {
    let mut policies = Vec::new();
    if access.is_restricted() {
        policies.push(format!("roles: {}", access.role_names().join(", ")));
    }
    for (m, f) in row_policies {
        // Show the filter as SQL; its names are still `model.dimension`.
        let shown = f
            .clone()
            .try_transform::<()>(&mut |e| match e {
                Expr::Ref(parts) if parts.len() == 2 => Ok(Expr::Column {
                    table: Some(Ident::new(parts[0].value.clone())),
                    name: parts[1].clone(),
                }),
                other => Ok(other),
            })
            .ok()
            .and_then(|e| {
                crate::sql::render::Renderer::new(crate::dialect::DialectKind::Postgres.dialect())
                    .expr(&e)
                    .ok()
            })
            .unwrap_or_default();
        policies.push(format!("row filter on {}: {shown}", catalog.model(*m).name));
    }
    policies
}

//! The people a caller's policies let it see, for reports about people that
//! are not metric queries (the identity map's health): the canonical ids of
//! the stitched entity's rows (customers) that pass the caller's row
//! filters, consent under its purpose and the suppression list — the same
//! conditions, from the same `fact_policy::scan_policy_conditions`, that every
//! metric scan of those rows gets.

use crate::access::{Access, Caller};
use crate::catalog::Catalog;
use crate::sql::ast::*;

use super::fact_policy::{ScanPolicyInput, scan_policy_conditions};
use super::resolve::untruncated;
use super::resolve::{JoinTree, resolve_dimension, target_model};
use super::{ErrorCode, PlanError};

/// Name of the CTE listing the people in scope, one `person` per row.
pub const PEOPLE_CTE: &str = "accord_people";

/// What a caller held to policies may learn about people.
#[derive(Debug, Clone)]
pub struct PeopleScope {
    /// CTEs to put in front of any query reading [`PEOPLE_CTE`] (consent
    /// intervals, then the people themselves).
    pub ctes: Vec<Cte>,
    /// Counts over fewer people than this are withheld.
    pub min_group_size: Option<u32>,
}

/// The caller's scope over people, or `None` when its policies restrict
/// no person (no row filter, no purpose that needs consent, no minimum
/// group size): then reports about people are not narrowed.
pub fn people_scope(catalog: &Catalog, caller: &Caller) -> Result<Option<PeopleScope>, PlanError> {
    let access = Access::resolve(catalog, caller)?;
    let row_policies = access.row_filters()?;
    let consent = access.purpose.is_some_and(|p| p.requires_consent);
    let min_group_size = access.min_group_size();
    if row_policies.is_empty() && !consent && min_group_size.is_none() {
        return Ok(None);
    }
    let unsupported = || {
        PlanError::new(
            ErrorCode::Unsupported,
            "the identity definition names no model whose primary entity is the stitched entity",
        )
    };
    let identity = catalog.identity.as_ref().ok_or_else(unsupported)?;
    let home = catalog
        .models
        .iter()
        .find(|m| {
            m.primary_entity()
                .is_some_and(|e| e.name == identity.entity && e.keys.len() == 1)
        })
        .ok_or_else(unsupported)?
        .id;
    let mut joins = JoinTree::new(catalog, home);
    let alias = joins.base_alias.clone();
    let person = super::stitch::scan_person(catalog, &mut joins).ok_or_else(unsupported)?;
    let (mut ctes, mut policies) = (Vec::new(), Vec::new());
    let mut conditions = scan_policy_conditions(
        catalog,
        &access,
        &row_policies,
        ScanPolicyInput {
            model: home,
            base_alias: &alias,
            // Consent as of now: a person is in scope while consent holds.
            fact_time: None,
            stitched: Some(person.key.clone()),
            suppression_implied: false,
        },
        &mut |r| {
            let target = target_model(catalog, r, &[home], &|_, _| true)?;
            resolve_dimension(catalog, &mut joins, r, target, "a row policy").map(untruncated)
        },
        &|parts| super::analysis::is_time_in(catalog, home, parts),
        (&mut ctes, &mut policies),
    )?;
    conditions.push(Expr::IsNull {
        expr: Box::new(person.key.clone()),
        negated: true,
    });
    let people = Select {
        group_by: vec![1],
        ..joins.select(
            catalog,
            vec![SelectItem::aliased(person.key, "person")],
            conditions,
        )
    };
    ctes.push(Cte {
        name: Ident::generated(PEOPLE_CTE),
        query: Query::select(people),
    });
    Ok(Some(PeopleScope {
        ctes,
        min_group_size,
    }))
}

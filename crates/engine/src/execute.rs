//! Running a semantic query: plan (pure), render for the warehouse's
//! dialect, execute, and normalise the result. Every interface (CLI, REST,
//! GraphQL, Postgres wire) calls [`run`], so all of them get the same SQL
//! and the same numbers.

use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::access::Caller;
use crate::catalog::Catalog;
use crate::masking::MaskKey;
use crate::nulls::NullCount;
use crate::planner::{self, OutputColumn, Plan, PlanError};
use crate::query::SemanticQuery;
use crate::warehouse::result::normalize;
use crate::warehouse::{ResultSet, Warehouse, WarehouseError};

#[derive(Debug, Clone, Error)]
pub enum ExecError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

#[derive(Debug, Clone, Serialize)]
pub struct Executed {
    pub result: ResultSet,
    #[serde(skip)]
    pub columns: Vec<OutputColumn>,
    pub sql: String,
    /// Short hash of the SQL, for audit logs and cache keys.
    pub sql_hash: String,
    pub warnings: Vec<String>,
    /// Why metric values are NULL, counted per rule
    /// ([`crate::nulls`]); the same counts are in `warnings` in words.
    pub nulls: Vec<NullCount>,
    #[serde(skip)]
    pub warehouse_time: Duration,
}

pub fn sql_hash(sql: &str) -> String {
    hex::encode(&Sha256::digest(sql.as_bytes())[..8])
}

/// Plans, runs and normalises `query`, returning at most `max_rows` rows.
pub async fn run(
    catalog: &Catalog,
    warehouse: &Warehouse,
    query: &SemanticQuery,
    caller: &Caller,
    max_rows: usize,
) -> Result<Executed, ExecError> {
    let (plan, sql) = planner::compile(
        catalog,
        query,
        &caller.for_query(query),
        warehouse.dialect(),
    )?;
    let key = warehouse.mask_key();
    execute_compiled(plan, sql, warehouse, max_rows, key.as_deref()).await
}

/// Runs a plan already compiled for `warehouse` (callers that key a cache
/// on the SQL compile first). `sql` is its shown form; the warehouse runs
/// the plan rendered again with `mask_key`, the key the caller's cache key
/// names (read once, so a rotation between the two cannot mix keys).
pub async fn execute_compiled(
    plan: Plan,
    sql: String,
    warehouse: &Warehouse,
    max_rows: usize,
    mask_key: Option<&MaskKey>,
) -> Result<Executed, ExecError> {
    let runnable = plan.render_for_execution(warehouse.dialect(), mask_key)?;
    let started = Instant::now();
    let mut result = warehouse
        .query(&runnable, max_rows)
        .await
        .map_err(|e| scrub(e, mask_key))?;
    let warehouse_time = started.elapsed();
    let nulls = crate::nulls::count_and_strip(&plan, &mut result);
    normalize(&mut result, &plan.columns);
    let mut warnings = plan.warnings;
    warnings.extend(crate::nulls::warnings(&nulls, &plan.policies));
    Ok(Executed {
        result,
        sql_hash: sql_hash(&sql),
        sql,
        columns: plan.columns,
        warnings,
        nulls,
        warehouse_time,
    })
}

/// A warehouse error that may quote the SQL it ran, without the mask key.
fn scrub(e: WarehouseError, key: Option<&MaskKey>) -> WarehouseError {
    let Some(key) = key else { return e };
    match e {
        WarehouseError::Query { warehouse, message } => WarehouseError::Query {
            warehouse,
            message: key.scrub(&message),
        },
        WarehouseError::Unavailable { warehouse, message } => WarehouseError::Unavailable {
            warehouse,
            message: key.scrub(&message),
        },
        WarehouseError::Config(m) => WarehouseError::Config(key.scrub(&m)),
        other @ (WarehouseError::Timeout { .. } | WarehouseError::Locked(_)) => other,
    }
}

//! The one query path: caller, time defaults, plan cache, result cache,
//! execution, telemetry and warnings. REST, GraphQL, the Postgres endpoint,
//! the CLI and scheduled checks all answer through
//! [`QueryService::answer`], so they agree on every number and every error.

use std::sync::Arc;

use crate::access::Caller;
use crate::cache::CacheKey;
use crate::catalog::Catalog;
use crate::execute::{ExecError, Executed};
use crate::failure::{ServiceCode, ServiceError};
use crate::planner;
use crate::query::SemanticQuery;
use crate::state::QueryService;

/// A governed answer and what produced it.
pub struct Answer {
    pub executed: Arc<Executed>,
    /// Served from the result cache.
    pub cache_hit: bool,
    /// The catalog the answer was planned against (a reload may swap the
    /// service's while this request runs).
    pub catalog: Arc<Catalog>,
    /// The plan's warnings, then those of failing checks on the metrics
    /// asked for.
    pub warnings: Vec<String>,
}

impl QueryService {
    /// Plans (or takes a cached plan) and answers (or takes a cached
    /// answer) `query` for `caller`.
    pub async fn answer(
        &self,
        query: &SemanticQuery,
        caller: &Caller,
    ) -> Result<Answer, ServiceError> {
        let outcome = self.answer_uncounted(query, caller).await;
        if let Err(e) = &outcome {
            self.telemetry
                .errors
                .get_or_create(&crate::telemetry::CodeLabels {
                    code: e.code.name().to_string(),
                })
                .inc();
        }
        outcome
    }

    async fn answer_uncounted(
        &self,
        query: &SemanticQuery,
        caller: &Caller,
    ) -> Result<Answer, ServiceError> {
        let catalog = self.catalog();
        let query = &self.config.time_defaults().apply(query);
        let caller = caller.for_query(query);
        let compiled = self.compiled(&catalog, query, &caller)?;
        if let Some(e) = self.refuse_known_gaps(&catalog, &caller, &compiled.0) {
            return Err(e);
        }
        let started = std::time::Instant::now();
        let (executed, computed) = match self.execute_cached(&catalog, &caller, &compiled).await {
            Ok(x) => x,
            // The engine's refusal may be a missing table: say which.
            Err(e) if e.code == ServiceCode::WarehouseError => {
                let plan = &compiled.0;
                return Err(self
                    .explain_failure(&catalog, &caller, plan, started, e)
                    .await);
            }
            Err(e) => return Err(e),
        };
        if computed {
            self.telemetry.cache_misses.inc();
            self.telemetry
                .warehouse_seconds
                .observe(executed.warehouse_time.as_secs_f64());
        } else {
            self.telemetry.cache_hits.inc();
        }
        let warnings = executed
            .warnings
            .iter()
            .cloned()
            .chain(crate::monitor::warnings_for(
                self,
                &catalog,
                &query.metrics,
                &caller,
            ))
            .collect();
        Ok(Answer {
            executed,
            cache_hit: !computed,
            catalog,
            warnings,
        })
    }

    /// The plan and its SQL for this service's dialect, from the plan cache
    /// when the same caller asked the same question of the same definitions.
    fn compiled(
        &self,
        catalog: &Arc<Catalog>,
        query: &SemanticQuery,
        caller: &Caller,
    ) -> Result<Arc<(planner::Plan, String)>, ServiceError> {
        // The key holds no date: a plan says through which day it is valid
        // (the earliest sunset of what it uses) and is planned again after
        // that day, when the same request is refused or warned differently.
        let ctx = planner::PlanContext::today_utc();
        let plan_key = format!(
            "{}\u{0}{}\u{0}{}",
            catalog.version,
            serde_json::to_string(query).unwrap_or_default(),
            caller.security_context(),
        );
        if let Some(p) = self.plans.get(&plan_key)
            && p.0.valid_until.is_none_or(|last| ctx.today <= last)
        {
            return Ok(p);
        }
        let p = Arc::new(planner::compile_in(
            catalog,
            query,
            caller,
            self.warehouse.dialect(),
            &ctx,
        )?);
        self.plans.insert(plan_key, p.clone());
        Ok(p)
    }

    /// Runs a compiled plan through the result cache; `true` when it ran on
    /// the warehouse now.
    async fn execute_cached(
        &self,
        catalog: &Catalog,
        caller: &Caller,
        compiled: &(planner::Plan, String),
    ) -> Result<(Arc<Executed>, bool), ServiceError> {
        let (plan, sql) = (compiled.0.clone(), compiled.1.clone());
        // Plans and their shown SQL hold no key; the answer does, so its
        // cache key names the key it will be computed with.
        let mask_key = self.warehouse.mask_key();
        let key = CacheKey {
            definitions_version: catalog.version.clone(),
            sql: sql.clone(),
            // The SQL already embodies the caller's policies; the context
            // keeps two callers from ever sharing an entry by accident.
            security_context: caller.security_context(),
            max_rows: self.config.max_rows,
            mask_key: mask_key
                .as_ref()
                .map(|k| k.fingerprint().to_string())
                .unwrap_or_default(),
        };
        let warehouse = self.warehouse.clone();
        let max_rows = self.config.max_rows;
        self.cache
            .get_or_run(key, async move {
                crate::execute::execute_compiled(
                    plan,
                    sql,
                    &warehouse,
                    max_rows,
                    mask_key.as_deref(),
                )
                .await
            })
            .await
            .map_err(|e: Arc<ExecError>| ServiceError::from((*e).clone()))
    }

    /// The caller a bearer token (an `Authorization` header value) proves.
    pub fn caller_from_bearer(&self, authorization: Option<&str>) -> Result<Caller, ServiceError> {
        Ok(self.verifier.authenticate(authorization, None)?)
    }
}

//! Shared server state: the current catalog (swapped atomically on
//! reload), the warehouse, the result cache and telemetry.

use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::cache::ResultCache;
use crate::catalog::Catalog;
use crate::config::ServeConfig;
use crate::diagnostics::Diagnostic;
use crate::telemetry::Telemetry;
use crate::warehouse::{Warehouse, WarehouseOptions};

/// What `GET /v1/catalog/status` reports about definitions reloads.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadStatus {
    /// Version being served.
    pub version: String,
    pub loaded_at: String,
    /// Outcome of the most recent reload attempt.
    pub last_attempt_ok: bool,
    pub last_attempt_at: String,
    /// Errors of the last failed attempt; the previous catalog kept serving.
    pub errors: Vec<Diagnostic>,
    pub reloads: u64,
}

pub use crate::clock::now_rfc3339;

pub struct QueryService {
    pub config: ServeConfig,
    catalog: ArcSwap<Catalog>,
    pub warehouse: Arc<Warehouse>,
    pub cache: ResultCache,
    pub telemetry: Telemetry,
    pub reload: Mutex<ReloadStatus>,
    pub verifier: crate::auth::Verifier,
    /// Compiled plans by (definitions version, query, caller): planning is
    /// pure, so a repeated question skips straight to the result cache.
    pub plans: moka::sync::Cache<String, Arc<(crate::planner::Plan, String)>>,
    /// Data quality check runs (src/checks/monitor.rs).
    pub checks: crate::monitor::Monitor,
    /// Which models the warehouse lacks tables or columns for (schema.rs).
    pub schema: crate::schema::SchemaWatch,
}

impl QueryService {
    pub fn new(
        config: ServeConfig,
        catalog: Arc<Catalog>,
        warehouse: Arc<Warehouse>,
        verifier: crate::auth::Verifier,
    ) -> QueryService {
        let now = now_rfc3339();
        let reload = ReloadStatus {
            version: catalog.version.clone(),
            loaded_at: now.clone(),
            last_attempt_ok: true,
            last_attempt_at: now,
            errors: Vec::new(),
            reloads: 0,
        };
        QueryService {
            cache: ResultCache::new(config.cache_ttl, config.cache_max_bytes),
            catalog: ArcSwap::from(catalog),
            warehouse,
            telemetry: Telemetry::new(),
            reload: Mutex::new(reload),
            verifier,
            plans: moka::sync::Cache::new(10_000),
            checks: crate::monitor::Monitor::new(config.checks.history),
            schema: Default::default(),
            config,
        }
    }

    /// The catalog for one request: a request keeps the version it started
    /// with even if a reload swaps in another meanwhile.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    pub fn swap_catalog(&self, next: Arc<Catalog>) {
        self.catalog.store(next);
    }

    pub fn reload_status(&self) -> ReloadStatus {
        self.reload
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

/// Builds the state: loads definitions, opens the warehouse (creating the
/// demo DuckDB file on first use; a DuckDB file is then open read-only,
/// since serving only reads) and starts checking it has the tables and
/// columns the definitions read (`schema_checked_since` waits for that).
pub async fn build_state(config: ServeConfig) -> Result<Arc<QueryService>, String> {
    let catalog = crate::definitions::load_dir(&config.defs)
        .map_err(|d| format!("definitions in {} are invalid:\n{d}", config.defs.display()))?;
    let options = WarehouseOptions {
        max_connections: config.max_connections,
        query_timeout: config.query_timeout,
        ..WarehouseOptions::read_only()
    };
    let verifier = crate::auth::Verifier::new(config.auth.as_ref()).map_err(|e| e.to_string())?;
    let warehouse =
        crate::warehouse::open::open_warehouse_with(&config.warehouse, &config.defs, options)
            .await?
            .with_mask_key(config.mask_key.clone());
    log_mask_key(&config, &catalog);
    let state = Arc::new(QueryService::new(
        config,
        catalog,
        Arc::new(warehouse),
        verifier,
    ));
    state
        .telemetry
        .catalog_metrics
        .set(state.catalog().metrics.len() as i64);
    let first = state.clone();
    tokio::spawn(async move { first.schema_checked_since(None).await });
    Ok(state)
}

/// Says which mask key serves (its fingerprint), or warns when roles use
/// `hash` masks that will be refused for want of one.
fn log_mask_key(config: &ServeConfig, catalog: &crate::catalog::Catalog) {
    match &config.mask_key {
        Some(k) => tracing::info!(fingerprint = k.fingerprint(), "hash masks keyed"),
        None if catalog.uses_hash_masks() => tracing::warn!(
            "roles use `hash` masks but no mask key is configured (masking.hmac_key or \
             ACCORD_MASK_KEY): their queries will be refused"
        ),
        None => {}
    }
}

//! Shared server state: the current catalog (swapped atomically on
//! reload), the warehouse, the result cache and telemetry.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Serialize;

use super::cache::ResultCache;
use super::config::ServeConfig;
use super::telemetry::Telemetry;
use crate::catalog::Catalog;
use crate::diagnostics::Diagnostic;
use crate::warehouse::Warehouse;

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

pub fn now_rfc3339() -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub struct AppState {
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
    pub checks: crate::checks::monitor::Monitor,
}

impl AppState {
    pub fn new(
        config: ServeConfig,
        catalog: Arc<Catalog>,
        warehouse: Arc<Warehouse>,
        verifier: crate::auth::Verifier,
    ) -> AppState {
        let now = now_rfc3339();
        let reload = ReloadStatus {
            version: catalog.version.clone(),
            loaded_at: now.clone(),
            last_attempt_ok: true,
            last_attempt_at: now,
            errors: Vec::new(),
            reloads: 0,
        };
        AppState {
            cache: ResultCache::new(config.cache_ttl, config.cache_max_bytes),
            catalog: ArcSwap::from(catalog),
            warehouse,
            telemetry: Telemetry::new(),
            reload: Mutex::new(reload),
            verifier,
            plans: moka::sync::Cache::new(10_000),
            checks: crate::checks::monitor::Monitor::new(config.checks.history),
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

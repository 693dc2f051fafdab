//! Which models the served warehouse cannot answer for: the
//! `validate --warehouse` check per model
//! ([`crate::governance::serving`]), run at start, after a reload, for
//! `/readyz` at most every [`RECHECK_AFTER`], and when a query fails on the
//! warehouse (to tell a missing table from other failures). One check runs
//! at a time; whoever arrives meanwhile takes its result.
//!
//! A query reading a model whose table is missing gets `model_unavailable`
//! naming the table and the fix, before it reaches the warehouse while the
//! last check is recent, and in place of the engine's error otherwise.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use crate::access::{Access, Caller};
use crate::catalog::Catalog;
use crate::failure::{ServiceCode, ServiceError};
use crate::governance::serving::{ModelGaps, ServingReport};
use crate::governance::source::SourceIndex;
use crate::planner::Plan;
use crate::state::{QueryService, now_rfc3339};

/// How long a check stands before `/readyz` or a query checks again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(5);

/// One check of the warehouse against one definitions version.
#[derive(Debug)]
pub struct SchemaReport {
    pub definitions_version: String,
    /// When it ran: monotonic (freshness), and RFC 3339 (shown).
    pub at: Instant,
    pub checked_at: String,
    /// The report, or why the warehouse's schema could not be read.
    pub outcome: Result<ServingReport, String>,
}

impl SchemaReport {
    pub fn serving(&self) -> Option<&ServingReport> {
        self.outcome.as_ref().ok()
    }
}

/// The latest check and the turn to run the next.
#[derive(Default)]
pub struct SchemaWatch {
    latest: ArcSwapOption<SchemaReport>,
    turn: tokio::sync::Mutex<()>,
}

impl QueryService {
    /// The latest check when it is of the served definitions and ran after
    /// `since` (any, with `None`); otherwise checks now.
    pub async fn schema_checked_since(&self, since: Option<Instant>) -> Arc<SchemaReport> {
        if let Some(r) = self.schema_fitting(since) {
            return r;
        }
        let _turn = self.schema.turn.lock().await;
        // A check may have finished while this waited its turn.
        if let Some(r) = self.schema_fitting(since) {
            return r;
        }
        let r = Arc::new(self.check_schema().await);
        let gaps = r.serving().map_or(0, |s| s.gaps.len());
        self.telemetry.models_unavailable.set(gaps as i64);
        self.schema.latest.store(Some(r.clone()));
        r
    }

    /// A check no older than [`RECHECK_AFTER`] (what `/readyz` reports).
    pub async fn schema_report(&self) -> Arc<SchemaReport> {
        self.schema_checked_since(Instant::now().checked_sub(RECHECK_AFTER))
            .await
    }

    fn schema_fitting(&self, since: Option<Instant>) -> Option<Arc<SchemaReport>> {
        let r = self.schema.latest.load_full()?;
        let fits =
            r.definitions_version == self.catalog().version && since.is_none_or(|s| r.at >= s);
        fits.then_some(r)
    }

    async fn check_schema(&self) -> SchemaReport {
        let catalog = self.catalog();
        let at = Instant::now();
        let checked_at = now_rfc3339();
        // Positions make the operator's report point at the definition.
        let index = crate::definitions::read_dir(&self.config.defs)
            .map(|files| SourceIndex::build(&files))
            .unwrap_or_default();
        let outcome =
            crate::governance::serving::check(&catalog, &index, &self.warehouse, &self.config.defs)
                .await
                .map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            tracing::warn!(error = %e, "cannot check the warehouse's tables against the definitions");
        }
        SchemaReport {
            definitions_version: catalog.version.clone(),
            at,
            checked_at,
            outcome,
        }
    }

    /// Before a query runs: refuses it when a recent check found a table it
    /// reads missing (so a dashboard hammering a broken model does not
    /// hammer the warehouse too).
    pub(crate) fn refuse_known_gaps(
        &self,
        catalog: &Catalog,
        caller: &Caller,
        plan: &Plan,
    ) -> Option<ServiceError> {
        let r = self.schema_fitting(Instant::now().checked_sub(RECHECK_AFTER))?;
        let serving = r.serving()?;
        if serving.blocked() == 0 {
            return None;
        }
        let read = crate::sql::relations::reads(&plan.query);
        let gaps: Vec<&ModelGaps> = serving
            .gaps_read_by(catalog, &read)
            .into_iter()
            .filter(|g| g.blocked)
            .collect();
        (!gaps.is_empty()).then(|| refusal(serving, &gaps, catalog, caller))
    }

    /// After the warehouse failed a query that started at `started`: checks
    /// again (unless a check ran since), and when the query reads a model
    /// the warehouse lacks something for, says so instead of `err`.
    pub(crate) async fn explain_failure(
        &self,
        catalog: &Catalog,
        caller: &Caller,
        plan: &Plan,
        started: Instant,
        err: ServiceError,
    ) -> ServiceError {
        let r = self.schema_checked_since(Some(started)).await;
        let Some(serving) = r.serving() else {
            return err;
        };
        let read = crate::sql::relations::reads(&plan.query);
        let gaps = serving.gaps_read_by(catalog, &read);
        match gaps.is_empty() {
            true => err,
            false => refusal(serving, &gaps, catalog, caller),
        }
    }
}

/// `model_unavailable`: the caller is told the models and tables it may see
/// and the fix in words; the operator (log, `accord query`) gets every
/// finding with its position and the command to run.
fn refusal(
    serving: &ServingReport,
    gaps: &[&ModelGaps],
    catalog: &Catalog,
    caller: &Caller,
) -> ServiceError {
    let access = Access::resolve(catalog, caller).ok();
    let visible = |g: &ModelGaps| {
        let id = catalog.model_by_name(&g.model).map(|m| m.id);
        matches!((&access, id), (Some(a), Some(id)) if a.model_visible(id))
    };
    let shown: Vec<String> = gaps
        .iter()
        .filter(|g| visible(g))
        .map(|g| format!("model `{}`: {}", g.model, g.summary()))
        .collect();
    let what = match shown.len() == gaps.len() {
        true => format!(
            "the warehouse lacks what this query reads ({})",
            shown.join("; ")
        ),
        false => "the warehouse lacks a table or column a model of this query reads".to_string(),
    };
    let safe = format!(
        "{what}; {} (GET /readyz lists every model that is unavailable)",
        serving.fix.brief()
    );
    let mut detail = format!(
        "the warehouse {} lacks what this query reads:",
        serving.warehouse
    );
    for g in gaps {
        for f in &g.findings {
            detail.push_str(&format!("\n  model `{}`: {}", g.model, f.finding.text()));
        }
    }
    detail.push_str(&format!("\nfix: {}", serving.fix.text()));
    ServiceError::logged(ServiceCode::ModelUnavailable, &safe, &detail)
}

//! Hot reload: watch the definitions directory; a valid change is swapped in
//! atomically, an invalid one is refused and reported while the last good
//! catalog keeps serving.

use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::state::{QueryService, now_rfc3339};

/// Re-reads the definitions now. Returns whether a new version was swapped in.
pub fn reload_now(state: &QueryService) -> bool {
    let attempt_at = now_rfc3339();
    let result = crate::definitions::load_dir(&state.config.defs);
    let mut status = match state.reload.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    status.last_attempt_at = attempt_at.clone();
    match result {
        Ok(catalog) => {
            status.last_attempt_ok = true;
            status.errors.clear();
            if catalog.version == status.version {
                return false;
            }
            tracing::info!(old = %status.version, new = %catalog.version, metrics = catalog.metrics.len(), "definitions reloaded");
            status.version = catalog.version.clone();
            status.loaded_at = attempt_at;
            status.reloads += 1;
            state.telemetry.reloads.inc();
            state
                .telemetry
                .catalog_metrics
                .set(catalog.metrics.len() as i64);
            state.swap_catalog(catalog);
            true
        }
        Err(diags) => {
            status.last_attempt_ok = false;
            status.errors = diags.0.clone();
            state.telemetry.reload_failures.inc();
            tracing::warn!(
                errors = diags.len(),
                "definitions change refused; still serving version {}:\n{diags}",
                status.version
            );
            false
        }
    }
}

/// Watches the definitions directory until the process ends. Events are
/// debounced so an editor's burst of writes triggers one reload.
pub fn spawn_watcher(state: Arc<QueryService>) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && !matches!(ev.kind, notify::EventKind::Access(_))
        {
            let _ = tx.send(());
        }
    })
    .map_err(|e| format!("cannot watch definitions: {e}"))?;
    watcher
        .watch(&state.config.defs, RecursiveMode::Recursive)
        .map_err(|e| format!("cannot watch {}: {e}", state.config.defs.display()))?;
    tokio::spawn(async move {
        // The watcher lives as long as this task.
        let _watcher = watcher;
        while rx.recv().await.is_some() {
            tokio::time::sleep(Duration::from_millis(250)).await;
            while rx.try_recv().is_ok() {}
            let st = state.clone();
            if let Ok(true) = tokio::task::spawn_blocking(move || reload_now(&st)).await {
                recheck_schema(&state).await;
            }
        }
    });
    Ok(())
}

/// New definitions may read tables the warehouse lacks (or no longer read
/// missing ones): checks them now and logs what is missing.
pub async fn recheck_schema(state: &QueryService) {
    let r = state.schema_checked_since(None).await;
    if let Some(text) = r.serving().and_then(|s| s.text()) {
        tracing::warn!(
            "after the reload to version {}:\n{text}",
            r.definitions_version
        );
    }
}

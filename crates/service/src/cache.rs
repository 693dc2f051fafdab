//! The result cache. Keys include the definitions version and the exact SQL,
//! so a definitions change can never serve an old answer; concurrent
//! identical queries run on the warehouse once (moka's `try_get_with`
//! single-flights them).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use moka::future::Cache;

use crate::execute::Executed;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub definitions_version: String,
    pub sql: String,
    /// Who is asking, as far as it changes the answer (policies, consent).
    pub security_context: String,
    pub max_rows: usize,
    /// Fingerprint of the mask key the answer's pseudonyms were made with
    /// (empty without one): a rotated key never serves old pseudonyms.
    pub mask_key: String,
}

#[derive(Clone)]
pub struct ResultCache {
    inner: Option<Cache<CacheKey, Arc<Executed>>>,
}

/// Rough bytes a result holds, for the memory bound.
fn weight(e: &Executed) -> u32 {
    let cells = e
        .result
        .rows
        .len()
        .saturating_mul(e.result.columns.len().max(1));
    let bytes = cells.saturating_mul(32) + e.sql.len() + 256;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl ResultCache {
    pub fn new(ttl: Duration, max_bytes: u64) -> ResultCache {
        if ttl.is_zero() || max_bytes == 0 {
            return ResultCache { inner: None };
        }
        let cache = Cache::builder()
            .time_to_live(ttl)
            .max_capacity(max_bytes)
            .weigher(|_k: &CacheKey, v: &Arc<Executed>| weight(v))
            .build();
        ResultCache { inner: Some(cache) }
    }

    /// Returns the cached result or computes it (once, however many callers
    /// ask concurrently). The flag says whether this call computed it.
    pub async fn get_or_run<F, E>(
        &self,
        key: CacheKey,
        run: F,
    ) -> Result<(Arc<Executed>, bool), Arc<E>>
    where
        F: std::future::Future<Output = Result<Executed, E>>,
        E: Send + Sync + 'static,
    {
        let Some(cache) = &self.inner else {
            return run.await.map(|e| (Arc::new(e), true)).map_err(Arc::new);
        };
        let computed = AtomicBool::new(false);
        let value = cache
            .try_get_with(key, async {
                computed.store(true, Ordering::Relaxed);
                run.await.map(Arc::new)
            })
            .await?;
        Ok((value, computed.load(Ordering::Relaxed)))
    }

    pub fn entry_count(&self) -> u64 {
        self.inner.as_ref().map(|c| c.entry_count()).unwrap_or(0)
    }
}

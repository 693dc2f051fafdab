//! Opening a warehouse by URL for a command or the server, creating the
//! demo DuckDB file (data and identity map) on first use, so a fresh clone
//! answers with no setup.

use std::path::Path;

use super::{Warehouse, WarehouseOptions, WarehouseUrl};
use crate::catalog::Catalog;

/// The demo's default size: about 100,000 events, loaded in seconds.
pub const DEFAULT_DEMO_SCALE: u32 = 10;
/// The warehouse every command uses unless told otherwise.
pub const DEFAULT_WAREHOUSE: &str = "duckdb://accord-demo.duckdb";

/// Opens the warehouse; when it is the default demo DuckDB file and does
/// not exist yet, creates it with demo data first so a fresh clone works
/// with no setup.
pub async fn open_warehouse(url: &WarehouseUrl, defs: &Path) -> Result<Warehouse, String> {
    open_warehouse_with(url, defs, WarehouseOptions::default()).await
}

pub async fn open_warehouse_with(
    url: &WarehouseUrl,
    defs: &Path,
    options: WarehouseOptions,
) -> Result<Warehouse, String> {
    let is_default_demo = url.to_string() == DEFAULT_WAREHOUSE;
    let missing = matches!(url, WarehouseUrl::Duckdb(Some(p)) if !p.exists());
    let demo_defs = defs.ends_with("metric_defs");
    let wh = Warehouse::connect(url, options)
        .await
        .map_err(|e| e.to_string())?;
    // A demo file from an older accord may lack tables the demo definitions
    // now use: rebuild it rather than fail every query.
    let stale = is_default_demo && !missing && demo_defs && {
        let names: Vec<String> = crate::demo::table_specs()
            .iter()
            .map(|t| format!("'{}'", t.name))
            .collect();
        let sql = format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name IN ({})",
            names.join(", ")
        );
        match wh.query(&sql, 1).await {
            Ok(rs) => rs
                .rows
                .first()
                .and_then(|r| r[0].as_f64())
                .is_none_or(|n| (n as usize) < names.len()),
            Err(_) => false,
        }
    };
    if is_default_demo && (missing || stale) && demo_defs {
        eprintln!(
            "creating the demo warehouse {url} (scale {}, seed 42)...",
            DEFAULT_DEMO_SCALE
        );
        let data = crate::demo::generate(&crate::demo::DemoConfig {
            scale: DEFAULT_DEMO_SCALE,
            seed: 42,
        });
        let stats = wh.load_demo(&data).await.map_err(|e| e.to_string())?;
        eprintln!(
            "loaded {} rows into {} tables in {:.1?}",
            stats.rows, stats.tables, stats.elapsed
        );
    }
    // Stitched metrics and analyses read the identity map: a demo without
    // one (new, or from before identity resolution) gets it built.
    // (Invalid definitions are reported by whoever loads them next.)
    if is_default_demo
        && demo_defs
        && let Ok(catalog) = crate::definitions::load_dir(defs)
        && let Some(identity) = &catalog.identity
    {
        let probe = format!("SELECT COUNT(*) FROM {}", identity.tables.map());
        if (missing || stale || wh.query(&probe, 1).await.is_err())
            && let Some(line) = build_demo_identity(&catalog, &wh).await?
        {
            eprintln!("{line}");
        }
    }
    Ok(wh)
}

/// A full identity build on freshly loaded demo data (a map left from
/// earlier data would be wrong); `None` when the definitions stitch
/// nothing.
pub async fn build_demo_identity(
    catalog: &Catalog,
    wh: &Warehouse,
) -> Result<Option<String>, String> {
    if catalog.identity.is_none() {
        return Ok(None);
    }
    let opts = crate::identity::BuildOptions {
        full: true,
        ..Default::default()
    };
    let r = crate::identity::build(catalog, wh, &opts)
        .await
        .map_err(|e| format!("identity build: {e}"))?;
    Ok(Some(format!(
        "identity map built: {} identifiers in {} clusters ({} iterations, {} blocked, {} over a limit) in {} ms",
        r.identifiers, r.clusters, r.iterations, r.blocked, r.over_limit, r.duration_ms
    )))
}

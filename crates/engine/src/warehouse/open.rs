//! Opening a warehouse by URL for a command or the server, creating the
//! demo DuckDB file (data and identity map) on first use, so a fresh clone
//! answers with no setup.

use std::path::Path;

use super::{FileAccess, Warehouse, WarehouseOptions, WarehouseUrl};
use crate::catalog::Catalog;

/// The demo's default size: about 100,000 events, loaded in seconds.
pub const DEFAULT_DEMO_SCALE: u32 = 10;
/// The warehouse every command uses unless told otherwise.
pub const DEFAULT_WAREHOUSE: &str = "duckdb://accord-demo.duckdb";

/// Opens the warehouse; when it is the default demo DuckDB file and does
/// not exist yet, creates it with demo data first so a fresh clone works
/// with no setup. Commands that only read open it [`FileAccess::ReadOnly`].
pub async fn open_warehouse(
    url: &WarehouseUrl,
    defs: &Path,
    access: FileAccess,
) -> Result<Warehouse, String> {
    let options = WarehouseOptions {
        access,
        ..WarehouseOptions::default()
    };
    open_warehouse_with(url, defs, options).await
}

/// What the default demo file needs before it can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DemoSetup {
    load: bool,
    identity: bool,
}

pub async fn open_warehouse_with(
    url: &WarehouseUrl,
    defs: &Path,
    options: WarehouseOptions,
) -> Result<Warehouse, String> {
    let demo = url.to_string() == DEFAULT_WAREHOUSE && defs.ends_with("metric_defs");
    let missing = matches!(url, WarehouseUrl::Duckdb(Some(p)) if !p.exists());
    let writable = WarehouseOptions {
        access: FileAccess::ReadWrite,
        ..options.clone()
    };
    // A read-only open cannot create a file: a new one is created (with
    // the demo in it, for the default) read-write, then opened as asked.
    if missing {
        let wh = connect(url, writable).await?;
        if demo {
            set_up_demo(
                &wh,
                defs,
                DemoSetup {
                    load: true,
                    identity: true,
                },
                true,
            )
            .await?;
        }
        return reopen(wh, url, options).await;
    }
    let wh = connect(url, options.clone()).await?;
    let setup = match demo {
        true => demo_setup(&wh, defs).await,
        false => None,
    };
    let Some(setup) = setup else {
        return Ok(wh);
    };
    let wh = match options.access {
        FileAccess::ReadWrite => wh,
        FileAccess::ReadOnly => {
            wh.close().await;
            connect(url, writable).await?
        }
    };
    set_up_demo(&wh, defs, setup, false).await?;
    reopen(wh, url, options).await
}

async fn connect(url: &WarehouseUrl, options: WarehouseOptions) -> Result<Warehouse, String> {
    Warehouse::connect(url, options)
        .await
        .map_err(|e| e.to_string())
}

/// `wh` (opened read-write) closed and opened again as `options` say.
async fn reopen(
    wh: Warehouse,
    url: &WarehouseUrl,
    options: WarehouseOptions,
) -> Result<Warehouse, String> {
    match options.access {
        FileAccess::ReadWrite => Ok(wh),
        FileAccess::ReadOnly => {
            wh.close().await;
            connect(url, options).await
        }
    }
}

/// Whether an existing default demo file needs loading or an identity map:
/// a demo file from an older accord may lack tables the demo definitions
/// now use (rebuilt rather than fail every query), or the identity map
/// stitched metrics read.
async fn demo_setup(wh: &Warehouse, defs: &Path) -> Option<DemoSetup> {
    let names: Vec<String> = crate::demo::table_specs()
        .iter()
        .map(|t| format!("'{}'", t.name))
        .collect();
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name IN ({})",
        names.join(", ")
    );
    let stale = match wh.query(&sql, 1).await {
        Ok(rs) => rs
            .rows
            .first()
            .and_then(|r| r[0].as_f64())
            .is_none_or(|n| (n as usize) < names.len()),
        Err(_) => false,
    };
    // (Invalid definitions are reported by whoever loads them next.)
    let identity = match crate::definitions::load_dir(defs) {
        Ok(catalog) => match &catalog.identity {
            Some(identity) => {
                let probe = format!("SELECT COUNT(*) FROM {}", identity.tables.map());
                stale || wh.query(&probe, 1).await.is_err()
            }
            None => false,
        },
        Err(_) => false,
    };
    (stale || identity).then_some(DemoSetup {
        load: stale,
        identity,
    })
}

/// Loads the demo data and builds its identity map, as `setup` says.
async fn set_up_demo(
    wh: &Warehouse,
    defs: &Path,
    setup: DemoSetup,
    new: bool,
) -> Result<(), String> {
    let url = wh.url();
    if setup.load {
        eprintln!(
            "{} the demo warehouse {url} (scale {}, seed 42)...",
            if new { "creating" } else { "rebuilding" },
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
    if setup.identity
        && let Ok(catalog) = crate::definitions::load_dir(defs)
        && let Some(line) = build_demo_identity(&catalog, wh).await?
    {
        eprintln!("{line}");
    }
    Ok(())
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

//! What the DuckDB benches share: an embedded DuckDB warehouse in a
//! temporary file, sized by `ACCORD_BENCH_SCALE` (default 500 ≈ 5M demo
//! events), and the runtime that drives it. Each bench loads the demo data
//! itself, since some time the load and some keep the rows.

use std::path::PathBuf;

use accord::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};

pub struct Bench {
    pub rt: tokio::runtime::Runtime,
    pub wh: Warehouse,
    pub scale: u32,
    /// Holds the database file's directory for as long as the bench runs.
    pub _dir: tempfile::TempDir,
}

pub fn duckdb() -> Bench {
    let scale: u32 = std::env::var("ACCORD_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("bench.duckdb");
    let url: WarehouseUrl = format!("duckdb://{}", path.display()).parse().expect("url");
    let wh: Warehouse = rt
        .block_on(Warehouse::connect(&url, WarehouseOptions::default()))
        .expect("open");
    Bench {
        rt,
        wh,
        scale,
        _dir: dir,
    }
}

impl Bench {
    /// A full identity build: the demo's stitched definitions read the map.
    #[allow(dead_code)] // not every bench reads stitched definitions
    pub fn build_identity(
        &self,
        catalog: &accord::catalog::Catalog,
    ) -> accord::identity::BuildReport {
        let opts = accord::identity::BuildOptions {
            full: true,
            ..Default::default()
        };
        self.rt
            .block_on(accord::identity::build(catalog, &self.wh, &opts))
            .expect("identity build")
    }
}

/// The DuckDB SQL of `query` as the operator would run it (with the
/// query's own purpose).
#[allow(dead_code)] // not every bench compiles semantic queries
pub fn duckdb_sql(
    catalog: &accord::catalog::Catalog,
    query: &accord::query::SemanticQuery,
) -> String {
    let caller = accord::access::Caller::operator().for_query(query);
    accord::planner::compile(
        catalog,
        query,
        &caller,
        accord::dialect::DialectKind::Duckdb,
    )
    .expect("compiles")
    .1
}

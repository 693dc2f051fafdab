//! The command line: a thin adapter that builds a [`SemanticQuery`] from
//! flags and prints what the library returns.

pub mod args;
pub mod format;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::definitions;
use crate::diagnostics::Diagnostics;
use crate::planner;
use crate::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};

pub use args::{Cli, Command, DemoCommand, OutputFormat};

/// Loads definitions, printing every diagnostic on failure.
pub fn load_catalog(dir: &Path) -> Result<Arc<Catalog>, Diagnostics> {
    definitions::load_dir(dir)
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        // Static checks, lints and --warehouse checks: src/governance.
        Command::Validate(a) => block_on(crate::governance::commands::validate(
            &a.defs,
            a.json,
            &a.governance,
        )),
        Command::Compile(a) => {
            let (catalog, query, caller) = match prepare(&a.query) {
                Ok(x) => x,
                Err(code) => return code,
            };
            match planner::compile(&catalog, &query, &caller, a.dialect) {
                Ok((plan, sql)) => {
                    for w in &plan.warnings {
                        eprintln!("warning: {w}");
                    }
                    crate::outln!("{sql}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", e.display_full());
                    ExitCode::from(1)
                }
            }
        }
        Command::Serve(a) => block_on(serve_cmd(a)),
        Command::Query(a) => block_on(query_cmd(a)),
        Command::Demo(DemoCommand::Init(a)) => block_on(demo_init(a)),
        Command::Token(t) => {
            let claims = match args::parse_claims(&t.claims) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let secret = t
                .secret
                .clone()
                .unwrap_or_else(|| crate::auth::DEV_SECRET.to_string());
            match crate::auth::mint_hs256(&secret, &t.subject, &t.roles, &claims, t.ttl) {
                Ok(tok) => {
                    crate::outln!("{tok}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Diff(a) => block_on(crate::governance::commands::diff_gated(&a.args, &a.fail_on)),
        Command::Lineage(a) => crate::governance::commands::lineage(&a),
        Command::Check(a) => block_on(crate::checks::cli::run(a)),
        Command::Identity(c) => block_on(crate::identity::cli::run(c)),
        Command::Dialects => {
            for k in crate::dialect::DialectKind::ALL {
                let d = k.dialect();
                crate::outln!("{:<11} {}", k.name(), d.description);
                for n in &d.notes {
                    crate::outln!("{:<11}   note: {n}", "");
                }
            }
            ExitCode::SUCCESS
        }
    }
}

fn block_on(f: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match crate::limits::runtime() {
        Ok(rt) => rt.block_on(f),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

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
    let is_default_demo = url.to_string() == args::DEFAULT_WAREHOUSE;
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
            args::DEFAULT_DEMO_SCALE
        );
        let data = crate::demo::generate(&crate::demo::DemoConfig {
            scale: args::DEFAULT_DEMO_SCALE,
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
        && let Ok(catalog) = load_catalog(defs)
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
async fn build_demo_identity(catalog: &Catalog, wh: &Warehouse) -> Result<Option<String>, String> {
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

fn init_tracing(format: crate::server::config::LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        crate::server::config::LogFormat::Json => builder.json().try_init(),
        crate::server::config::LogFormat::Text => builder.try_init(),
    };
}

async fn serve_cmd(a: crate::server::ServeArgs) -> ExitCode {
    let config = match a.resolve() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_tracing(config.log_format, &config.log_filter);
    let warehouse = config.warehouse.redacted();
    let defs = config.defs.display().to_string();
    let running = match crate::server::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = running.addr;
    let catalog = running.state.catalog();
    // BI tools and psql log in with a JWT as the password.
    let psql = match running.pg_addr {
        Some(pg) => format!(
            "  psql     PGPASSWORD=$(cargo run -q -- token --role analyst) psql -h {} -p {} -U analyst accord\n",
            pg.ip(),
            pg.port()
        ),
        None => String::new(),
    };
    eprintln!(
        "accord {} serving {} metrics from {defs} (definitions {}) on {warehouse}\n\n  browser  http://{addr}/v1/catalog\n  curl     curl -s http://{addr}/v1/query -H 'content-type: application/json' -d '{{\"metrics\": [\"revenue\"], \"dimensions\": [\"metric_time:month\"]}}'\n  graphql  http://{addr}/graphql\n  health   http://{addr}/healthz  http://{addr}/readyz  http://{addr}/metrics\n{psql}",
        crate::version(),
        catalog.metrics.len(),
        catalog.version,
    );
    crate::server::shutdown_signal().await;
    tracing::info!("shutting down; finishing in-flight requests");
    match running.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The catalog, query and caller a `compile` or `query` command works with;
/// errors are printed and become the exit code.
fn prepare(
    q: &args::QueryArgs,
) -> Result<
    (
        Arc<Catalog>,
        crate::query::SemanticQuery,
        crate::access::Caller,
    ),
    ExitCode,
> {
    let catalog = load_catalog(&q.defs).map_err(|d| {
        eprintln!("{d}");
        ExitCode::from(1)
    })?;
    let query = q.to_query().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let caller = q.caller().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    Ok((catalog, query, caller))
}

async fn query_cmd(a: args::QueryCmdArgs) -> ExitCode {
    let (catalog, query, caller) = match prepare(&a.query) {
        Ok(x) => x,
        Err(code) => return code,
    };
    // The operator sees true values, so only a role needs the mask key.
    let mask_key = match caller.operator {
        true => Ok(None),
        false => crate::server::config::cli_mask_key(a.mask_key.as_deref()),
    };
    let mask_key = match mask_key {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let wh = match open_warehouse(&a.warehouse.warehouse, &a.query.defs).await {
        Ok(w) => w.with_mask_key(mask_key),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match crate::execute::run(&catalog, &wh, &query, &caller, a.max_rows).await {
        Ok(done) => {
            for w in &done.warnings {
                eprintln!("warning: {w}");
            }
            if a.show_sql {
                eprintln!("{}\n", done.sql);
            }
            let text = match a.format {
                OutputFormat::Table => format::table(&done.result),
                OutputFormat::Csv => format::csv(&done.result),
                OutputFormat::Json => format::json(&done.result),
            };
            crate::outln!("{text}");
            ExitCode::SUCCESS
        }
        Err(crate::execute::ExecError::Plan(e)) => {
            eprintln!("error: {}", e.display_full());
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn demo_init(a: args::DemoInitArgs) -> ExitCode {
    let started = std::time::Instant::now();
    let mut data = crate::demo::generate(&crate::demo::DemoConfig {
        scale: a.scale,
        seed: a.seed,
    });
    for fault in &a.inject_fault {
        eprintln!("{}", crate::demo::faults::inject(&mut data, *fault));
    }
    let generated = started.elapsed();
    let wh = match Warehouse::connect(&a.warehouse.warehouse, WarehouseOptions::default()).await {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match wh.load_demo(&data).await {
        Ok(stats) => {
            let rate = stats.rows as f64 / stats.elapsed.as_secs_f64().max(1e-9);
            crate::outln!(
                "demo data (scale {}, seed {}) written to {}: {} rows in {} tables; generated in {:.2?}, loaded in {:.2?} ({:.0} rows/s)",
                a.scale,
                a.seed,
                a.warehouse.warehouse.redacted(),
                stats.rows,
                stats.tables,
                generated,
                stats.elapsed,
                rate
            );
            if a.no_identity {
                return ExitCode::SUCCESS;
            }
            let catalog = match load_catalog(&a.defs) {
                Ok(c) => c,
                Err(d) => {
                    eprintln!("{d}");
                    return ExitCode::from(2);
                }
            };
            match build_demo_identity(&catalog, &wh).await {
                Ok(Some(line)) => {
                    crate::outln!("{line}");
                    ExitCode::SUCCESS
                }
                Ok(None) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

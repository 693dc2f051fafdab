//! The command line: a thin adapter that builds a [`SemanticQuery`] from
//! flags and prints what the library returns.

pub mod args;
pub mod checks;
pub mod format;
pub mod governance;
pub mod identity;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::definitions;
use crate::diagnostics::Diagnostics;
use crate::planner;
use crate::warehouse::{Warehouse, WarehouseOptions};

pub use args::{Cli, Command, DemoCommand, OutputFormat};

/// Loads definitions, printing every diagnostic on failure.
pub fn load_catalog(dir: &Path) -> Result<Arc<Catalog>, Diagnostics> {
    definitions::load_dir(dir)
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        // Static checks, lints and --warehouse checks: accord-engine governance.
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

pub use crate::warehouse::open::{build_demo_identity, open_warehouse, open_warehouse_with};

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
    report_schema(&running.state).await;
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

/// Says which models the warehouse lacks tables or columns for, and the
/// fix (the check `build_state` started; the server keeps serving the
/// rest either way).
async fn report_schema(state: &crate::QueryService) {
    let wait = state.config.query_timeout + std::time::Duration::from_secs(5);
    match tokio::time::timeout(wait, state.schema_checked_since(None)).await {
        Ok(r) => match (&r.outcome, r.serving().and_then(|s| s.text())) {
            (Err(e), _) => eprintln!(
                "warning: cannot check that the warehouse has the tables the definitions read: {e}"
            ),
            (Ok(_), Some(text)) => eprintln!("{text}\n"),
            (Ok(_), None) => {}
        },
        Err(_) => eprintln!(
            "warning: checking the warehouse's tables takes long; GET /readyz reports them when it is done"
        ),
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
    let wh = match open_warehouse(
        &a.warehouse.warehouse,
        &a.query.defs,
        crate::warehouse::FileAccess::ReadOnly,
    )
    .await
    {
        Ok(w) => w.with_mask_key(mask_key),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    // The same service as `accord serve` (time defaults, planning,
    // execution, warnings); the terminal is the operator's, so a
    // warehouse error is printed in full.
    let config = match crate::server::ServeConfig::for_command(
        &a.query.defs,
        a.warehouse.warehouse.clone(),
        a.max_rows,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let verifier = match crate::auth::Verifier::new(None) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let service = crate::QueryService::new(config, catalog, std::sync::Arc::new(wh), verifier);
    match service.answer(&query, &caller).await {
        Ok(answer) => {
            for w in &answer.warnings {
                eprintln!("warning: {w}");
            }
            let done = &answer.executed;
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
        Err(e) => {
            let mut text = e.message.clone();
            match (&e.logged, e.suggestions.as_slice()) {
                (Some(logged), _) => text = logged.detail.clone(),
                (None, [one]) => text.push_str(&format!("; did you mean `{one}`?")),
                (None, []) => {}
                (None, many) => {
                    let l: Vec<String> = many.iter().map(|x| format!("`{x}`")).collect();
                    text.push_str(&format!("; did you mean one of {}?", l.join(", ")));
                }
            }
            eprintln!("error: {text}");
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

//! `accord check`: run every check once and report. Exit status 0 when no
//! error-severity check fails, 1 when one fails (or cannot run), 2 when the
//! checks could not run at all (flags, definitions, warehouse).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::checks::report;
use crate::cli::args::WarehouseArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Junit,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Definitions directory.
    #[arg(long, default_value = "metric_defs", env = "ACCORD_DEFS")]
    pub defs: PathBuf,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
    pub format: CheckFormat,
    /// Evaluate as of this UTC instant (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS`
    /// or RFC 3339) instead of the current time.
    #[arg(long, env = "ACCORD_CHECKS_NOW")]
    pub now: Option<String>,
    /// Print each check's SQL in text output (JSON and JUnit always carry it).
    #[arg(long)]
    pub show_sql: bool,
}

pub async fn run(a: CheckArgs) -> ExitCode {
    let now = match &a.now {
        Some(t) => match crate::checks::parse_now(t) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("error: --now: {e}");
                return ExitCode::from(2);
            }
        },
        None => crate::clock::utc_now(),
    };
    let catalog = match crate::definitions::load_dir(&a.defs) {
        Ok(c) => c,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(2);
        }
    };
    if catalog.checks.is_empty() {
        eprintln!(
            "warning: {} defines no checks (see docs/checks.md)",
            a.defs.display()
        );
    }
    let wh = match crate::cli::open_warehouse(
        &a.warehouse.warehouse,
        &a.defs,
        crate::warehouse::FileAccess::ReadOnly,
    )
    .await
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let defaults = match crate::server::config::cli_time_defaults() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let direct = crate::checks::run::Direct {
        catalog: &catalog,
        warehouse: &wh,
        defaults,
    };
    let run = crate::checks::run::run_checks_with(&catalog, &wh, now, &direct).await;
    let text = match a.format {
        CheckFormat::Text => report::text(&run, a.show_sql),
        CheckFormat::Json => report::json(&run),
        CheckFormat::Junit => report::junit(&run),
    };
    crate::outln!("{}", text.trim_end());
    if run.failed_blocking() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

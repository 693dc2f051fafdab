//! The command line: a thin adapter that builds a [`SemanticQuery`] from
//! flags and prints what the library returns.

pub mod args;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use crate::catalog::Catalog;
use crate::definitions;
use crate::diagnostics::Diagnostics;
use crate::planner;

pub use args::{Cli, Command};

/// Loads definitions, printing every diagnostic on failure.
pub fn load_catalog(dir: &Path) -> Result<Arc<Catalog>, Diagnostics> {
    definitions::load_dir(dir)
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate(a) => match load_catalog(&a.defs) {
            Ok(c) => {
                if a.json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": true, "version": c.version, "models": c.models.len(), "metrics": c.metrics.len()})
                    );
                } else {
                    println!(
                        "ok: {} models, {} metrics (definitions version {})",
                        c.models.len(),
                        c.metrics.len(),
                        c.version
                    );
                }
                ExitCode::SUCCESS
            }
            Err(d) => {
                if a.json {
                    println!("{}", serde_json::json!({"ok": false, "errors": d}));
                } else {
                    eprintln!("{d}");
                    eprintln!("{} error(s)", d.len());
                }
                ExitCode::from(1)
            }
        },
        Command::Compile(a) => {
            let catalog = match load_catalog(&a.query.defs) {
                Ok(c) => c,
                Err(d) => {
                    eprintln!("{d}");
                    return ExitCode::from(1);
                }
            };
            let query = match a.query.to_query() {
                Ok(q) => q,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            match planner::compile(&catalog, &query, a.dialect) {
                Ok((plan, sql)) => {
                    for w in &plan.warnings {
                        eprintln!("warning: {w}");
                    }
                    println!("{sql}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", e.display_full());
                    ExitCode::from(1)
                }
            }
        }
        Command::Dialects => {
            for k in crate::dialect::DialectKind::ALL {
                let d = k.dialect();
                println!("{:<11} {}", k.name(), d.description);
                for n in &d.notes {
                    println!("{:<11}   note: {n}", "");
                }
            }
            ExitCode::SUCCESS
        }
    }
}

//! `accord identity build | compile | health | exclude`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cli::args::WarehouseArgs;
use crate::dialect::DialectKind;

#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Build the identity map and ledger in the warehouse (incremental when
    /// possible; nothing at all when no input changed since the last run).
    Build(BuildArgs),
    /// Print the SQL a build runs, for a dialect, without running it.
    Compile(CompileArgs),
    /// Cluster statistics of the current identity map.
    Health(HealthArgs),
    /// Exclude an identifier (all its links) or one link from stitching;
    /// the next build splits what it held together.
    Exclude(ExcludeArgs),
}

#[derive(Debug, Args)]
pub struct DefsArgs {
    /// Definitions directory.
    #[arg(long, default_value = "metric_defs", env = "ACCORD_DEFS")]
    pub defs: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub defs: DefsArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Recompute every component even when an incremental run, or none,
    /// would do.
    #[arg(long)]
    pub full: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub defs: DefsArgs,
    /// Target dialect.
    #[arg(long, default_value = "duckdb")]
    pub dialect: DialectKind,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    #[command(flatten)]
    pub defs: DefsArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// How many of the largest clusters to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExcludeArgs {
    #[command(flatten)]
    pub defs: DefsArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// `TYPE:VALUE`, e.g. `anonymous_id:anon_00000000000000ab`.
    #[arg(long)]
    pub identifier: String,
    /// Exclude only the link to this `TYPE:VALUE`.
    #[arg(long)]
    pub linked: Option<String>,
    /// Why (bad_data, privacy_request, ...); stored with the exclusion.
    #[arg(long)]
    pub reason: String,
}

fn split_id(s: &str) -> Result<(String, String), String> {
    s.split_once(':')
        .map(|(t, v)| (t.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` must be TYPE:VALUE"))
}

fn catalog(defs: &DefsArgs) -> Result<std::sync::Arc<crate::catalog::Catalog>, ExitCode> {
    crate::cli::load_catalog(&defs.defs).map_err(|d| {
        eprintln!("{d}");
        ExitCode::from(1)
    })
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(1)
}

pub async fn run(cmd: IdentityCommand) -> ExitCode {
    match cmd {
        IdentityCommand::Compile(a) => {
            let c = match catalog(&a.defs) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match crate::identity::compile::script(&c, a.dialect, crate::identity::build::now_utc())
            {
                Ok(stmts) => {
                    for s in stmts {
                        crate::outln!("{s};\n");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        IdentityCommand::Build(a) => {
            let c = match catalog(&a.defs) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let wh = match crate::cli::open_warehouse(
                &a.warehouse.warehouse,
                &a.defs.defs,
                crate::warehouse::FileAccess::ReadWrite,
            )
            .await
            {
                Ok(w) => w,
                Err(e) => return fail(e),
            };
            let opts = crate::identity::BuildOptions {
                full: a.full,
                now: None,
            };
            match crate::identity::build(&c, &wh, &opts).await {
                Ok(r) if a.json => {
                    crate::outln!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Ok(r) if r.mode == crate::identity::BuildMode::Noop => {
                    crate::outln!(
                        "identity run {} (noop, rule version {}): unchanged since run {}, no source, exclusion, erasure or rule changed; the map stands: {} identifiers in {} clusters; {} ms",
                        r.run_id,
                        r.rule_version,
                        r.unchanged_since.unwrap_or_default(),
                        r.identifiers,
                        r.clusters,
                        r.duration_ms
                    );
                    ExitCode::SUCCESS
                }
                Ok(r) => {
                    crate::outln!(
                        "identity run {} ({}, rule version {}): {} identifiers in {} clusters, {} edges; {} rounds; {} recomputed",
                        r.run_id,
                        r.mode.name(),
                        r.rule_version,
                        r.identifiers,
                        r.clusters,
                        r.edges,
                        r.iterations,
                        r.active
                    );
                    crate::outln!(
                        "blocked {}, excluded {}, over a merge limit {}, erased {}; merges {}, splits {}; {} ms",
                        r.blocked,
                        r.excluded,
                        r.over_limit,
                        r.erased,
                        r.merges,
                        r.splits,
                        r.duration_ms
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        IdentityCommand::Health(a) => {
            let c = match catalog(&a.defs) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let wh = match crate::cli::open_warehouse(
                &a.warehouse.warehouse,
                &a.defs.defs,
                crate::warehouse::FileAccess::ReadOnly,
            )
            .await
            {
                Ok(w) => w,
                Err(e) => return fail(e),
            };
            match crate::identity::health(&c, &wh, a.top).await {
                Ok(h) if a.json => {
                    crate::outln!("{}", serde_json::to_string_pretty(&h).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Ok(h) => {
                    crate::outln!(
                        "{}: {} identifiers in {} clusters (rule version {})",
                        h.map_table,
                        h.identifiers,
                        h.clusters,
                        h.rule_version
                    );
                    for t in &h.identifiers_by_type {
                        crate::outln!("  {:<20} {}", t.identifier_type, t.identifiers);
                    }
                    crate::outln!("cluster sizes:");
                    for b in &h.size_distribution {
                        crate::outln!("  {:<8} {}", b.size, b.clusters);
                    }
                    crate::outln!("largest clusters:");
                    for l in &h.largest_clusters {
                        crate::outln!(
                            "  {}:{}  {}",
                            l.canonical_type,
                            l.canonical_id.as_deref().unwrap_or("?"),
                            l.identifiers
                        );
                    }
                    if let Some(r) = &h.last_run {
                        crate::outln!(
                            "last run {} ({}): {} rounds, {} edges, blocked {}, excluded {}, over a merge limit {}, erased {}",
                            r.run_id,
                            r.mode,
                            r.iterations,
                            r.edges,
                            r.blocked,
                            r.excluded,
                            r.over_limit,
                            r.erased
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        IdentityCommand::Exclude(a) => {
            let c = match catalog(&a.defs) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let (identifier_type, identifier) = match split_id(&a.identifier) {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            let linked = match a.linked.as_deref().map(split_id).transpose() {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            let wh = match crate::cli::open_warehouse(
                &a.warehouse.warehouse,
                &a.defs.defs,
                crate::warehouse::FileAccess::ReadWrite,
            )
            .await
            {
                Ok(w) => w,
                Err(e) => return fail(e),
            };
            let ex = crate::identity::Exclusion {
                identifier_type,
                identifier,
                linked_type: linked.as_ref().map(|l| l.0.clone()),
                linked_identifier: linked.map(|l| l.1),
                reason: a.reason,
            };
            match crate::identity::exclude(&c, &wh, &ex).await {
                Ok(()) => {
                    crate::outln!("excluded; run `accord identity build` to apply");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
    }
}

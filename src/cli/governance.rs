//! The governance commands of the CLI: `accord validate` (static checks,
//! lints and `--warehouse`), `accord diff` and `accord lineage`. Exit
//! codes: 0 fine, 1 problems found (errors, or breaking changes without
//! `--allow-breaking`), 2 usage mistakes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::catalog::Catalog;
use crate::definitions::load_files;
use crate::diagnostics::Diagnostics;
use crate::governance::diff::DiffReport;
use crate::governance::lint::{LintConfig, lint};
use crate::governance::report::{ReportFormat, ValidateReport};
use crate::governance::source::{Definitions, ReadError, SourceIndex};
use crate::governance::{Finding, Severity};
use crate::warehouse::{Warehouse, WarehouseOptions, WarehouseUrl};

/// `accord validate` options beyond `--defs` and `--json`.
#[derive(Debug, Args, Clone, Default)]
pub struct ValidateOptions {
    /// Also check that every table and column the definitions use exists in
    /// this warehouse with a fitting type (duckdb://PATH, postgres://…,
    /// mysql://…, sqlite://PATH).
    #[arg(long)]
    pub warehouse: Option<WarehouseUrl>,
    /// Output: text, json, or github (workflow annotations). `--json` is
    /// `--format json`.
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// A lint rule's level, `RULE=off|warn|error` (repeatable or
    /// comma-separated; `all=LEVEL` sets every rule). Rules:
    /// owner-required, description-required, snake-case, currency-unit,
    /// ratio-format, pii-tagged, deprecated-input.
    #[arg(long = "lint", value_delimiter = ',', value_name = "RULE=LEVEL")]
    pub lint: Vec<String>,
    /// Report lint findings as errors rather than warnings.
    #[arg(long)]
    pub strict: bool,
}

fn definition_errors(d: &Diagnostics) -> Vec<Finding> {
    d.iter()
        .map(|x| Finding {
            severity: Severity::Error,
            check: "definitions".into(),
            diagnostic: x.clone(),
        })
        .collect()
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Opens a warehouse to inspect it; a DuckDB or SQLite file that does not
/// exist is refused rather than created empty.
pub async fn open_for_check(url: &WarehouseUrl) -> Result<Warehouse, String> {
    let missing = match url {
        WarehouseUrl::Duckdb(Some(p)) => (!p.exists()).then(|| p.display().to_string()),
        WarehouseUrl::Sqlite(u) => {
            let path = u
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:")
                .split('?')
                .next()
                .unwrap_or("");
            (!path.is_empty() && path != ":memory:" && !Path::new(path).exists())
                .then(|| path.to_string())
        }
        _ => None,
    };
    if let Some(p) = missing {
        return Err(format!("warehouse file {p} does not exist"));
    }
    // Checks only read: another reader of a DuckDB file does not lock them out.
    Warehouse::connect(url, WarehouseOptions::read_only())
        .await
        .map_err(|e| e.to_string())
}

/// Runs every check `accord validate` makes and returns the report.
pub async fn validate_report(
    defs: &Path,
    options: &ValidateOptions,
) -> Result<ValidateReport, String> {
    let config = LintConfig::new(&options.lint, options.strict)?;
    let warehouse = options.warehouse.as_ref().map(|w| w.redacted());
    let files = match crate::definitions::read_dir(defs) {
        Ok(f) => f,
        Err(d) => {
            return Ok(ValidateReport::new(
                None,
                0,
                0,
                warehouse,
                definition_errors(&d),
            ));
        }
    };
    let catalog = match load_files(&files) {
        Ok(c) => c,
        Err(d) => {
            return Ok(ValidateReport::new(
                None,
                0,
                0,
                warehouse,
                definition_errors(&d),
            ));
        }
    };
    let index = SourceIndex::build(&files);
    let mut findings = lint(&catalog, &index, &config);
    if let Some(url) = &options.warehouse {
        let checked = match open_for_check(url).await {
            Ok(wh) => crate::governance::warehouse_check::check(&catalog, &index, &wh)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        match checked {
            Ok(f) => findings.extend(f),
            Err(e) => findings.push(Finding::new(
                Severity::Error,
                "warehouse",
                None,
                "",
                format!("cannot check against the warehouse: {e}"),
            )),
        }
    }
    Ok(ValidateReport::new(
        Some(catalog.version.clone()),
        catalog.models.len(),
        catalog.metrics.len(),
        warehouse,
        findings,
    ))
}

/// `accord validate`.
pub async fn validate(defs: &Path, json: bool, options: &ValidateOptions) -> ExitCode {
    let format = options.format.unwrap_or(if json {
        ReportFormat::Json
    } else {
        ReportFormat::Text
    });
    let report = match validate_report(defs, options).await {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    let out = report.render(format);
    if format == ReportFormat::Text && !report.ok {
        eprintln!("{out}");
    } else {
        crate::outln!("{out}");
    }
    ExitCode::from(report.exit_code())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args, Clone)]
pub struct DiffArgs {
    /// The base: a definitions directory, or a git revision (branch, tag,
    /// commit, `HEAD~1`, ...).
    pub base: String,
    /// The head: a definitions directory, or a git revision.
    pub head: String,
    /// Where definitions live inside the repository, for git revisions
    /// (relative to --repo).
    #[arg(long, default_value = "metric_defs")]
    pub defs: PathBuf,
    /// The git repository revisions are read from.
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    pub format: DiffFormat,
    /// Exit 0 even when there are breaking changes.
    #[arg(long)]
    pub allow_breaking: bool,
    /// Run the old and new version of each changed metric on this
    /// warehouse and report the variance per group.
    #[arg(long)]
    pub warehouse: Option<WarehouseUrl>,
    /// Dimensions to break each changed metric down by in the parallel run
    /// (besides the total and metric_time:month).
    #[arg(long, default_value_t = 3)]
    pub breakdowns: usize,
    /// Groups shown per breakdown in text and Markdown (JSON has all).
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Reads and validates one side of a diff.
pub fn load_side(
    spec: &str,
    repo: &Path,
    defs: &Path,
) -> Result<(String, std::sync::Arc<Catalog>), (u8, String)> {
    let d = Definitions::open(spec, repo, defs).map_err(|e| match e {
        ReadError::Usage(m) => (2, m),
        ReadError::Definitions(d) => (1, d.to_string()),
    })?;
    let label = d.origin.label();
    let catalog = load_files(&d.files).map_err(|diags| {
        (
            1,
            format!("the definitions at {label} are invalid:\n{diags}"),
        )
    })?;
    Ok((label, catalog))
}

/// Builds the diff report, with the parallel run when a warehouse is
/// given.
pub async fn diff_report(a: &DiffArgs) -> Result<DiffReport, (u8, String)> {
    let (bl, base) = load_side(&a.base, &a.repo, &a.defs)?;
    let (hl, head) = load_side(&a.head, &a.repo, &a.defs)?;
    let mut report = DiffReport::new(bl, &base, hl, &head);
    if let Some(url) = &a.warehouse {
        let wh = open_for_check(url).await.map_err(|e| (1, e))?;
        report.variance = Some(
            crate::governance::variance::run(&base, &head, &report.changes, &wh, a.breakdowns)
                .await,
        );
    }
    Ok(report)
}

/// A class of change `accord diff --fail-on` exits 1 for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// Breaking changes (the default; even with `--allow-breaking`).
    Breaking,
    /// Changes that let a caller see more: they need an access reviewer.
    WideningAccess,
}

/// `accord diff` as the command line has it: the diff's arguments and the
/// classes of change that fail it.
#[derive(Debug, Args, Clone)]
pub struct DiffCommand {
    #[command(flatten)]
    pub args: DiffArgs,
    /// Also exit 1 on these classes of change (repeatable or
    /// comma-separated): `widening-access` (a widened row filter, a removed
    /// mask, a role gaining a member or purpose, consent dropped...),
    /// `breaking`.
    #[arg(
        long = "fail-on",
        value_enum,
        value_delimiter = ',',
        value_name = "CLASS"
    )]
    pub fail_on: Vec<FailOn>,
}

/// `accord diff`, failing on breaking changes unless allowed.
pub async fn diff(a: &DiffArgs) -> ExitCode {
    diff_gated(a, &[]).await
}

/// `accord diff` with `--fail-on`.
pub async fn diff_gated(a: &DiffArgs, fail_on: &[FailOn]) -> ExitCode {
    let report = match diff_report(a).await {
        Ok(r) => r,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            return ExitCode::from(code);
        }
    };
    let out = match a.format {
        DiffFormat::Text => report.text(a.top),
        DiffFormat::Json => report.json(),
        DiffFormat::Markdown => report.markdown(a.top),
    };
    crate::outln!("{}", out.trim_end());
    let mut fail = false;
    let fail_breaking = !a.allow_breaking || fail_on.contains(&FailOn::Breaking);
    if report.breaking > 0 && fail_breaking {
        eprintln!(
            "{} breaking change(s); pass --allow-breaking to accept them",
            report.breaking
        );
        fail = true;
    }
    if report.widening_access > 0 {
        if fail_on.contains(&FailOn::WideningAccess) {
            eprintln!(
                "{} change(s) widen access and need an access reviewer (--fail-on widening-access)",
                report.widening_access
            );
            fail = true;
        } else {
            eprintln!(
                "note: {} change(s) widen access and need an access reviewer",
                report.widening_access
            );
        }
    }
    if fail {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineageFormat {
    Text,
    Dot,
    Mermaid,
    Json,
}

#[derive(Debug, Args, Clone)]
pub struct LineageArgs {
    /// The metric: `revenue` (its default version) or `revenue@2`.
    pub metric: String,
    /// Definitions directory.
    #[arg(long, default_value = "metric_defs", env = "ACCORD_DEFS")]
    pub defs: PathBuf,
    #[arg(long, value_enum, default_value_t = LineageFormat::Text)]
    pub format: LineageFormat,
}

/// `accord lineage`.
pub fn lineage(a: &LineageArgs) -> ExitCode {
    let catalog = match crate::definitions::load_dir(&a.defs) {
        Ok(c) => c,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(1);
        }
    };
    let Some(m) = crate::governance::lineage::find_metric(&catalog, &a.metric) else {
        let mut msg = format!("unknown metric `{}`", a.metric);
        let name = a.metric.split('@').next().unwrap_or("");
        if let Some(s) = crate::diagnostics::closest(name, catalog.metric_names()).first() {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        return usage(msg);
    };
    let l = crate::governance::lineage::lineage(&catalog, m.id, None);
    let out = match a.format {
        LineageFormat::Text => l.text(),
        LineageFormat::Dot => l.dot(),
        LineageFormat::Mermaid => l.mermaid(),
        LineageFormat::Json => serde_json::to_string_pretty(&l).unwrap_or_default(),
    };
    crate::outln!("{}", out.trim_end());
    ExitCode::SUCCESS
}

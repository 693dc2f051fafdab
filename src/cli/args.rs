//! Flag definitions (clap) and their translation into a semantic query.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::dialect::DialectKind;
use crate::query::{Filter, FilterOp, OrderBy, SemanticQuery, TimeRange};

#[derive(Debug, Parser)]
#[command(
    name = "accord",
    version,
    about = "A semantic metric layer: one definition of every KPI, compiled to your warehouse's SQL"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the definitions and report every problem with its position.
    Validate(ValidateArgs),
    /// Print the SQL a query compiles to, without running it.
    Compile(CompileArgs),
    /// Serve the HTTP API (REST) over the definitions and the warehouse.
    Serve(crate::server::ServeArgs),
    /// Run a query on the warehouse and print the result.
    Query(QueryCmdArgs),
    /// Demo warehouse commands.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// List the SQL dialects accord compiles to.
    Dialects,
    /// Mint a development token (HS256) for trying roles and policies.
    Token(TokenArgs),
    // Governance (accord-engine governance, docs/governance.md).
    /// Classify the changes between two definitions versions (directories or
    /// git revisions) in every catalog section: breaking, widening access or
    /// neither, with their impact.
    Diff(crate::governance::commands::DiffCommand),
    /// Show where a metric comes from: inputs, measures, columns, tables.
    Lineage(crate::governance::commands::LineageArgs),
    /// Run the data quality checks (freshness, completeness, volume,
    /// integrity, accepted values, anomalies) and report; non-zero exit when
    /// an error-severity check fails.
    Check(crate::checks::cli::CheckArgs),
    /// Identity resolution: build, compile, health, exclude (docs/identity.md).
    #[command(subcommand)]
    Identity(crate::identity::cli::IdentityCommand),
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// Role to put in the token (repeatable).
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// Claim `key=value` (repeatable).
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    #[arg(long, default_value = "dev-user")]
    pub subject: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: i64,
    /// Signing secret [default: the documented demo secret].
    #[arg(long, env = "ACCORD_JWT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// `key=value` claims; values that parse as JSON (numbers, booleans, lists)
/// keep their type.
pub fn parse_claims(
    list: &[String],
) -> Result<std::collections::BTreeMap<String, serde_json::Value>, String> {
    let mut out = std::collections::BTreeMap::new();
    for c in list {
        let (k, v) = c
            .split_once('=')
            .ok_or_else(|| format!("claim `{c}` must be key=value"))?;
        let value =
            serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
        out.insert(k.trim().to_string(), value);
    }
    Ok(out)
}

impl QueryArgs {
    /// Who the CLI acts as: the operator, unless a token or role is given.
    pub fn caller(&self) -> Result<crate::access::Caller, String> {
        if let Some(token) = &self.token {
            let secret = std::env::var("ACCORD_JWT_SECRET").ok();
            let mut config = crate::server::ServeArgs::default()
                .resolve()?
                .auth
                .unwrap_or_default();
            if let Some(s) = secret {
                config.hs256_secret = Some(s);
            }
            let verifier = crate::auth::Verifier::new(Some(&config)).map_err(|e| e.to_string())?;
            return verifier
                .verify(token, self.purpose.clone())
                .map_err(|e| e.to_string());
        }
        if !self.roles.is_empty() || !self.claims.is_empty() {
            return Ok(crate::access::Caller {
                operator: false,
                subject: None,
                roles: self.roles.clone(),
                claims: parse_claims(&self.claims)?,
                purpose: self.purpose.clone(),
            });
        }
        let mut op = crate::access::Caller::operator();
        op.purpose = self.purpose.clone();
        Ok(op)
    }
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Generate the demo customer-journey data and load it into a warehouse.
    Init(DemoInitArgs),
}

#[derive(Debug, Args)]
pub struct DemoInitArgs {
    /// Size: 1 is about 10,000 events, 1000 about 10 million.
    #[arg(long, default_value_t = DEFAULT_DEMO_SCALE)]
    pub scale: u32,
    /// Seed: the same seed gives the same rows on every engine.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    /// Corrupt the generated data on purpose (repeatable): late_day, spike,
    /// null_keys or orphans (docs/checks.md).
    #[arg(long = "inject-fault", value_enum)]
    pub inject_fault: Vec<crate::demo::faults::Fault>,
    /// Definitions whose `identity:` section the identity map is built
    /// from after loading (stitched metrics and analyses read the map).
    #[arg(long, default_value = "metric_defs", env = "ACCORD_DEFS")]
    pub defs: PathBuf,
    /// Load the data only; leave the identity map unbuilt.
    #[arg(long)]
    pub no_identity: bool,
}

pub use crate::warehouse::open::{DEFAULT_DEMO_SCALE, DEFAULT_WAREHOUSE};

#[derive(Debug, Args, Clone)]
pub struct WarehouseArgs {
    /// Warehouse URL: duckdb://PATH, postgres://…, mysql://… or sqlite://PATH.
    #[arg(long, env = "ACCORD_WAREHOUSE", default_value = DEFAULT_WAREHOUSE)]
    pub warehouse: crate::warehouse::WarehouseUrl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct QueryCmdArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    #[command(flatten)]
    pub warehouse: WarehouseArgs,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Print the SQL before the result.
    #[arg(long)]
    pub show_sql: bool,
    /// Most rows to print.
    #[arg(long, default_value_t = 10_000)]
    pub max_rows: usize,
    /// Key of `hash` masks when acting as a role [default: accord.yaml's masking].
    #[arg(long, env = "ACCORD_MASK_KEY", hide_env_values = true)]
    pub mask_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Definitions directory.
    #[arg(long, default_value = "metric_defs", env = "ACCORD_DEFS")]
    pub defs: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    /// Lints and warehouse checks (docs/governance.md).
    #[command(flatten)]
    pub governance: crate::governance::commands::ValidateOptions,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Definitions directory.
    #[arg(long, default_value = "metric_defs", env = "ACCORD_DEFS")]
    pub defs: PathBuf,
    /// Metrics, comma-separated (`revenue,orders` or `revenue@2`).
    #[arg(long, value_delimiter = ',', required_unless_present_any = ["funnel", "retention"])]
    pub metrics: Vec<String>,
    /// Run this funnel instead of metrics (docs/analysis.md).
    #[arg(long, conflicts_with_all = ["metrics", "retention"])]
    pub funnel: Option<String>,
    /// Run this retention analysis instead of metrics.
    #[arg(long, conflicts_with = "metrics")]
    pub retention: Option<String>,
    /// Group-by dimensions, comma-separated (`customers.region,metric_time:month`).
    #[arg(long = "by", value_delimiter = ',')]
    pub by: Vec<String>,
    /// A SQL boolean expression over dimensions; a time grain is written as
    /// in --by: `metric_time:day >= '2025-03-10'`.
    #[arg(long = "where")]
    pub where_sql: Option<String>,
    /// A structured filter `DIMENSION OP [VALUE[,VALUE...]]`, e.g.
    /// `customers.region in EU,NA` or `orders.status = completed`. Repeatable.
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// A typed filter tree as JSON (the request's `filter` field), e.g.
    /// `{"or": [{"dimension": "customers.country", "op": "eq", "values": ["DE"]}, …]}`.
    #[arg(long = "filter-tree")]
    pub filter_tree: Option<String>,
    /// Inclusive start of metric_time (`YYYY-MM-DD[ HH:MM:SS]`).
    #[arg(long)]
    pub start: Option<String>,
    /// Exclusive end of metric_time.
    #[arg(long)]
    pub end: Option<String>,
    /// Ordering, comma-separated; prefix `-` for descending.
    #[arg(long = "order-by", value_delimiter = ',', allow_hyphen_values = true)]
    pub order_by: Vec<String>,
    #[arg(long)]
    pub limit: Option<u64>,
    #[arg(long)]
    pub offset: Option<u64>,
    /// Purpose the data is used for (consent); default from the definitions.
    #[arg(long)]
    pub purpose: Option<String>,
    /// IANA time zone periods and --start/--end are read in (default UTC).
    #[arg(long = "time-zone")]
    pub time_zone: Option<String>,
    /// First day of week periods, `monday` .. `sunday` (default monday).
    #[arg(long = "week-start")]
    pub week_start: Option<String>,
    /// Attribution instances, comma-separated (`linear_30d,first_touch_30d`):
    /// credit the metrics to touches, one column per metric and instance.
    #[arg(long, value_delimiter = ',')]
    pub attribution: Vec<String>,
    /// Act as the caller this JWT identifies (verified with ACCORD_JWT_SECRET
    /// or accord.yaml's auth settings) instead of as the operator.
    #[arg(long, env = "ACCORD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Act as a caller holding this role (repeatable), to try policies out.
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// A claim of that caller, `key=value` (repeatable), e.g. `region=EU`.
    #[arg(long = "claim")]
    pub claims: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CompileArgs {
    #[command(flatten)]
    pub query: QueryArgs,
    /// Target dialect.
    #[arg(long, default_value = "duckdb")]
    pub dialect: DialectKind,
}

/// Parses `DIMENSION OP [VALUES]`; values are comma-separated, and numbers
/// or `true`/`false`/`null` are read as such.
pub fn parse_filter(text: &str) -> Result<Filter, String> {
    let mut parts = text.trim().splitn(3, char::is_whitespace);
    let dimension = parts
        .next()
        .filter(|s| !s.is_empty())
        .ok_or("empty filter")?
        .to_string();
    let op_text = parts.next().ok_or_else(|| {
        format!(
            "filter `{text}` needs an operator (one of {})",
            FilterOp::NAMES.join(", ")
        )
    })?;
    let op = FilterOp::parse(op_text).ok_or_else(|| {
        let hint = crate::diagnostics::closest(op_text, FilterOp::NAMES);
        let mut m = format!(
            "unknown filter operator `{op_text}` (one of {})",
            FilterOp::NAMES.join(", ")
        );
        if let Some(h) = hint.first() {
            m.push_str(&format!("; did you mean `{h}`?"));
        }
        m
    })?;
    let values = match parts.next() {
        None => Vec::new(),
        Some(rest) => rest
            .split(',')
            .map(|v| {
                let v = v.trim();
                match v {
                    "null" => serde_json::Value::Null,
                    "true" => serde_json::Value::Bool(true),
                    "false" => serde_json::Value::Bool(false),
                    _ => v
                        .parse::<i64>()
                        .map(serde_json::Value::from)
                        .or_else(|_| v.parse::<f64>().map(serde_json::Value::from))
                        .unwrap_or_else(|_| serde_json::Value::String(v.to_string())),
                }
            })
            .collect(),
    };
    Ok(Filter {
        dimension,
        op,
        values,
    })
}

impl QueryArgs {
    pub fn to_query(&self) -> Result<SemanticQuery, String> {
        let filters = self
            .filters
            .iter()
            .map(|f| parse_filter(f))
            .collect::<Result<Vec<_>, _>>()?;
        let time_range = (self.start.is_some() || self.end.is_some()).then(|| TimeRange {
            start: self.start.clone(),
            end: self.end.clone(),
        });
        Ok(SemanticQuery {
            metrics: self.metrics.clone(),
            dimensions: self.by.clone(),
            filters,
            filter: match &self.filter_tree {
                Some(json) => {
                    Some(serde_json::from_str(json).map_err(|e| format!("--filter-tree: {e}"))?)
                }
                None => None,
            },
            where_sql: self.where_sql.clone(),
            time_range,
            order_by: self
                .order_by
                .iter()
                .map(|o| OrderBy::Text(o.clone()))
                .collect(),
            limit: self.limit,
            offset: self.offset,
            purpose: self.purpose.clone(),
            funnel: self.funnel.clone(),
            retention: self.retention.clone(),
            time_zone: self.time_zone.clone(),
            week_start: self.week_start.clone(),
            attribution: self.attribution.clone(),
        })
    }
}

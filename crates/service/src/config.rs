//! Server configuration: `accord.yaml`, then `ACCORD_*` environment
//! variables, then flags — each overriding the one before. Defaults fit the
//! demo: loopback only, the demo definitions, the embedded DuckDB file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

use crate::warehouse::WarehouseUrl;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub http_addr: Option<String>,
    /// Postgres wire endpoint address (BI tools); `off` disables it.
    pub pg_addr: Option<String>,
    /// Postgres wire endpoint TLS and SCRAM users.
    pub pg: Option<crate::pg_config::FilePg>,
    pub defs: Option<PathBuf>,
    pub warehouse: Option<String>,
    pub reload: Option<bool>,
    #[serde(default)]
    pub cache: FileCache,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub log: FileLog,
    /// Identity: how bearer tokens are verified.
    #[serde(default)]
    pub auth: Option<crate::auth::AuthConfig>,
    /// Default time zone of queries (IANA name; default UTC).
    pub time_zone: Option<String>,
    /// Default first day of week periods (default monday).
    pub week_start: Option<String>,
    /// Data quality checks on a schedule (src/checks).
    #[serde(default)]
    pub checks: crate::monitor::FileChecks,
    /// The key of `hash` masks (src/masking.rs).
    pub masking: Option<crate::masking::FileMasking>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCache {
    pub ttl_seconds: Option<u64>,
    pub max_mb: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_body_bytes: Option<usize>,
    pub max_rows: Option<usize>,
    pub query_timeout_seconds: Option<u64>,
    pub max_connections: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    /// `text` or `json`.
    pub format: Option<String>,
    /// A tracing filter, e.g. `info` or `accord=debug,tower_http=info`.
    pub level: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Configuration file (default: ./accord.yaml when it exists).
    #[arg(long, env = "ACCORD_CONFIG")]
    pub config: Option<PathBuf>,
    /// HTTP listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "ACCORD_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Postgres wire listen address for BI tools, or `off` [default: 127.0.0.1:15432].
    #[arg(long, env = "ACCORD_PG_ADDR")]
    pub pg_addr: Option<String>,
    /// TLS certificate chain (PEM) for the Postgres endpoint; needs --pg-tls-key.
    #[arg(long, env = "ACCORD_PG_TLS_CERT")]
    pub pg_tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) for the Postgres endpoint; needs --pg-tls-cert.
    #[arg(long, env = "ACCORD_PG_TLS_KEY")]
    pub pg_tls_key: Option<PathBuf>,
    /// Definitions directory [default: metric_defs].
    #[arg(long, env = "ACCORD_DEFS")]
    pub defs: Option<PathBuf>,
    /// Warehouse URL [default: duckdb://accord-demo.duckdb].
    #[arg(long, env = "ACCORD_WAREHOUSE")]
    pub warehouse: Option<String>,
    /// Result cache time-to-live in seconds (0 disables the cache) [default: 300].
    #[arg(long, env = "ACCORD_CACHE_TTL")]
    pub cache_ttl: Option<u64>,
    /// Result cache size bound in MiB [default: 256].
    #[arg(long, env = "ACCORD_CACHE_MAX_MB")]
    pub cache_max_mb: Option<u64>,
    /// Most rows one response returns; larger results are cut and flagged [default: 10000].
    #[arg(long, env = "ACCORD_MAX_ROWS")]
    pub max_rows: Option<usize>,
    /// Largest request body in bytes [default: 65536].
    #[arg(long, env = "ACCORD_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Warehouse query timeout in seconds [default: 60].
    #[arg(long, env = "ACCORD_QUERY_TIMEOUT")]
    pub query_timeout: Option<u64>,
    /// Warehouse connection pool size [default: 8].
    #[arg(long, env = "ACCORD_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// Log format: text or json [default: text].
    #[arg(long, env = "ACCORD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter [default: info].
    #[arg(long, env = "ACCORD_LOG")]
    pub log: Option<String>,
    /// HS256 secret for bearer tokens (overrides accord.yaml's auth.hs256_secret).
    #[arg(long, env = "ACCORD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Key of `hash` masks (HMAC-SHA256, at least 32 bytes; overrides accord.yaml's masking).
    #[arg(long, env = "ACCORD_MASK_KEY", hide_env_values = true)]
    pub mask_key: Option<String>,
    /// Do not watch the definitions directory for changes.
    #[arg(long, env = "ACCORD_NO_RELOAD")]
    pub no_reload: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub http_addr: SocketAddr,
    /// The Postgres wire endpoint; `None` when turned off.
    pub pg_addr: Option<SocketAddr>,
    /// Its TLS files and SCRAM login users.
    pub pg: crate::pg_config::PgConfig,
    pub defs: PathBuf,
    pub warehouse: WarehouseUrl,
    pub reload: bool,
    pub cache_ttl: Duration,
    pub cache_max_bytes: u64,
    pub max_rows: usize,
    pub max_body_bytes: usize,
    pub query_timeout: Duration,
    pub max_connections: u32,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub auth: Option<crate::auth::AuthConfig>,
    /// Defaults for queries that name no `time_zone` / `week_start`.
    pub time_zone: Option<String>,
    pub week_start: Option<String>,
    pub checks: crate::monitor::ChecksConfig,
    /// Key of `hash` masks; without one, hash-masked queries are refused.
    pub mask_key: Option<crate::masking::MaskKey>,
}

impl ServeConfig {
    /// The configured time zone and week start.
    pub fn time_defaults(&self) -> crate::query::TimeDefaults {
        crate::query::TimeDefaults {
            time_zone: self.time_zone.clone(),
            week_start: self.week_start.clone(),
        }
    }

    /// A command's service (`accord query`): no listeners, the given row
    /// limit, the time defaults of ACCORD_CONFIG or ./accord.yaml.
    pub fn for_command(
        defs: &Path,
        warehouse: WarehouseUrl,
        max_rows: usize,
    ) -> Result<ServeConfig, String> {
        let defaults = cli_time_defaults()?;
        Ok(ServeConfig {
            pg_addr: None,
            reload: false,
            max_rows,
            auth: None,
            mask_key: None,
            time_zone: defaults.time_zone,
            week_start: defaults.week_start,
            ..ServeConfig::for_tests(defs, warehouse)
        })
    }

    /// Defaults for embedding (tests): an ephemeral port, given defs and
    /// warehouse.
    pub fn for_tests(defs: &Path, warehouse: WarehouseUrl) -> ServeConfig {
        ServeConfig {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pg_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            pg: Default::default(),
            defs: defs.to_path_buf(),
            warehouse,
            reload: true,
            cache_ttl: Duration::from_secs(300),
            cache_max_bytes: 64 << 20,
            max_rows: 10_000,
            max_body_bytes: 64 << 10,
            query_timeout: Duration::from_secs(30),
            max_connections: 8,
            log_format: LogFormat::Text,
            log_filter: "warn".into(),
            // Tests act as the demo's admin unless they send a token.
            time_zone: None,
            week_start: None,
            auth: Some(crate::auth::AuthConfig {
                hs256_secret: Some(crate::auth::DEV_SECRET.into()),
                anonymous_roles: Some(vec!["admin".into()]),
                ..Default::default()
            }),
            checks: Default::default(),
            mask_key: Some(crate::masking::MaskKey::dev()),
        }
    }
}

fn read_file_config(path: Option<&Path>) -> Result<FileConfig, String> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        }
        None => Ok(FileConfig::default()),
    }
}

/// The time zone and week start for CLI commands (`accord query`, `accord
/// check`): those of ACCORD_CONFIG or ./accord.yaml, as `accord serve`
/// would use, so a number is bucketed alike on every path.
pub fn cli_time_defaults() -> Result<crate::query::TimeDefaults, String> {
    let file = read_file_config(cli_config_path().as_deref())?;
    let defaults = crate::query::TimeDefaults {
        time_zone: file.time_zone,
        week_start: file.week_start,
    };
    check_time_defaults(&defaults)?;
    Ok(defaults)
}

/// ACCORD_CONFIG, else ./accord.yaml when it exists.
fn cli_config_path() -> Option<PathBuf> {
    std::env::var_os("ACCORD_CONFIG")
        .map(PathBuf::from)
        .or_else(|| {
            let default = PathBuf::from("accord.yaml");
            default.exists().then_some(default)
        })
}

/// Refuses a misspelt zone or week start when the configuration is read,
/// so a typo stops the command instead of every query.
fn check_time_defaults(d: &crate::query::TimeDefaults) -> Result<(), String> {
    let probe = d.apply(&crate::query::SemanticQuery::default());
    crate::planner::timezone::zone(&probe)
        .map_err(|e| format!("time_zone: {}", e.display_full()))?;
    crate::planner::timezone::week_start(&probe)
        .map_err(|e| format!("week_start: {}", e.display_full()))?;
    Ok(())
}

/// The mask key for CLI commands: `flag` (`--mask-key`, ACCORD_MASK_KEY),
/// else the `masking:` section of ACCORD_CONFIG or ./accord.yaml, as
/// `accord serve` would use.
pub fn cli_mask_key(flag: Option<&str>) -> Result<Option<crate::masking::MaskKey>, String> {
    if flag.is_some() {
        return crate::masking::resolve(flag, None);
    }
    let file = read_file_config(cli_config_path().as_deref())?;
    crate::masking::resolve(None, file.masking.as_ref())
}

impl ServeArgs {
    pub fn resolve(&self) -> Result<ServeConfig, String> {
        let path = self.config.clone().or_else(|| {
            let default = PathBuf::from("accord.yaml");
            default.exists().then_some(default)
        });
        let file = read_file_config(path.as_deref())?;
        let addr_text = self
            .http_addr
            .clone()
            .or(file.http_addr)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let http_addr: SocketAddr = addr_text
            .parse()
            .map_err(|_| format!("`{addr_text}` is not a listen address (e.g. 127.0.0.1:8080)"))?;
        let pg_text = self
            .pg_addr
            .clone()
            .or(file.pg_addr)
            .unwrap_or_else(|| "127.0.0.1:15432".into());
        let pg_addr = match pg_text.trim() {
            "off" | "none" | "" => None,
            text => Some(text.parse::<SocketAddr>().map_err(|_| {
                format!("`{text}` is not a Postgres listen address (e.g. 127.0.0.1:15432, or off)")
            })?),
        };
        let pg =
            crate::pg_config::resolve(file.pg, self.pg_tls_cert.clone(), self.pg_tls_key.clone())?;
        let warehouse_text = self
            .warehouse
            .clone()
            .or(file.warehouse)
            .unwrap_or_else(|| crate::warehouse::open::DEFAULT_WAREHOUSE.into());
        let log_format = match self.log_format.clone().or(file.log.format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(format!("log format `{other}`: use text or json")),
        };
        check_time_defaults(&crate::query::TimeDefaults {
            time_zone: file.time_zone.clone(),
            week_start: file.week_start.clone(),
        })?;
        Ok(ServeConfig {
            time_zone: file.time_zone,
            week_start: file.week_start,
            http_addr,
            pg_addr,
            pg,
            defs: self
                .defs
                .clone()
                .or(file.defs)
                .unwrap_or_else(|| PathBuf::from("metric_defs")),
            warehouse: warehouse_text.parse()?,
            reload: !self.no_reload && file.reload.unwrap_or(true),
            cache_ttl: Duration::from_secs(
                self.cache_ttl.or(file.cache.ttl_seconds).unwrap_or(300),
            ),
            cache_max_bytes: self.cache_max_mb.or(file.cache.max_mb).unwrap_or(256) << 20,
            max_rows: self.max_rows.or(file.limits.max_rows).unwrap_or(10_000),
            max_body_bytes: self
                .max_body_bytes
                .or(file.limits.max_body_bytes)
                .unwrap_or(64 << 10),
            query_timeout: Duration::from_secs(
                self.query_timeout
                    .or(file.limits.query_timeout_seconds)
                    .unwrap_or(60),
            ),
            max_connections: self
                .max_connections
                .or(file.limits.max_connections)
                .unwrap_or(8),
            log_format,
            log_filter: self
                .log
                .clone()
                .or(file.log.level)
                .unwrap_or_else(|| "info".into()),
            auth: match (file.auth, &self.jwt_secret) {
                (Some(mut a), Some(s)) => {
                    a.hs256_secret = Some(s.clone());
                    Some(a)
                }
                (None, Some(s)) => Some(crate::auth::AuthConfig {
                    hs256_secret: Some(s.clone()),
                    ..Default::default()
                }),
                (a, None) => a,
            },
            checks: file.checks.resolve()?,
            mask_key: crate::masking::resolve(self.mask_key.as_deref(), file.masking.as_ref())?,
        })
    }
}

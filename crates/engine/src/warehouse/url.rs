//! Warehouse URLs: `duckdb://path` (or `duckdb::memory:`), `postgres://…`,
//! `mysql://…` / `mariadb://…`, `sqlite://path`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::dialect::DialectKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarehouseUrl {
    /// `None` is an in-memory database.
    Duckdb(Option<PathBuf>),
    Postgres(String),
    Mysql(String),
    Sqlite(String),
}

impl WarehouseUrl {
    pub fn dialect(&self) -> DialectKind {
        match self {
            WarehouseUrl::Duckdb(_) => DialectKind::Duckdb,
            WarehouseUrl::Postgres(_) => DialectKind::Postgres,
            WarehouseUrl::Mysql(_) => DialectKind::Mysql,
            WarehouseUrl::Sqlite(_) => DialectKind::Sqlite,
        }
    }

    /// The URL with any password replaced, safe for logs and errors.
    pub fn redacted(&self) -> String {
        let raw = self.to_string();
        match (raw.find("://"), raw.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let creds = &raw[s + 3..at];
                match creds.split_once(':') {
                    Some((user, _)) => format!("{}{user}:***{}", &raw[..s + 3], &raw[at..]),
                    None => raw,
                }
            }
            _ => raw,
        }
    }
}

impl fmt::Display for WarehouseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WarehouseUrl::Duckdb(None) => f.write_str("duckdb::memory:"),
            WarehouseUrl::Duckdb(Some(p)) => write!(f, "duckdb://{}", p.display()),
            WarehouseUrl::Postgres(u) | WarehouseUrl::Mysql(u) | WarehouseUrl::Sqlite(u) => {
                f.write_str(u)
            }
        }
    }
}

impl FromStr for WarehouseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "duckdb::memory:" || s == "duckdb://:memory:" {
            return Ok(WarehouseUrl::Duckdb(None));
        }
        if let Some(path) = s.strip_prefix("duckdb://") {
            if path.is_empty() {
                return Err("duckdb:// needs a file path, e.g. duckdb://accord-demo.duckdb".into());
            }
            return Ok(WarehouseUrl::Duckdb(Some(PathBuf::from(path))));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(WarehouseUrl::Postgres(s.to_string()));
        }
        if s.starts_with("mysql://") {
            return Ok(WarehouseUrl::Mysql(s.to_string()));
        }
        if let Some(rest) = s.strip_prefix("mariadb://") {
            return Ok(WarehouseUrl::Mysql(format!("mysql://{rest}")));
        }
        if s.starts_with("sqlite:") {
            return Ok(WarehouseUrl::Sqlite(s.to_string()));
        }
        Err(format!(
            "unsupported warehouse URL `{s}`; use duckdb://PATH, postgres://…, mysql://… (MariaDB too) or sqlite://PATH"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_redacts() {
        let u: WarehouseUrl = "postgres://bob:secret@db:5432/x".parse().unwrap();
        assert_eq!(u.redacted(), "postgres://bob:***@db:5432/x");
        assert_eq!(u.dialect(), DialectKind::Postgres);
        assert_eq!(
            "duckdb://a.duckdb".parse::<WarehouseUrl>().unwrap(),
            WarehouseUrl::Duckdb(Some("a.duckdb".into()))
        );
        assert!("oracle://x".parse::<WarehouseUrl>().is_err());
        assert_eq!(
            "mariadb://root@h/db".parse::<WarehouseUrl>().unwrap(),
            WarehouseUrl::Mysql("mysql://root@h/db".into())
        );
    }
}

//! SQL dialects. What differs between warehouses and can be said as data
//! (quoting, escaping, type names, date truncation, aggregate spellings,
//! capabilities) lives in `dialects/<name>.yaml`, embedded at build time;
//! this module loads those files and offers the few operations that need
//! code (escaping string literals, filling templates).

mod template;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Deserialize;

pub use template::Template;

use crate::sql::ast::SqlType;
use crate::vocab::Grain;

/// Every dialect accord compiles to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DialectKind {
    Duckdb,
    Postgres,
    Mysql,
    Sqlite,
    Snowflake,
    Bigquery,
    Redshift,
    Databricks,
    Trino,
    Clickhouse,
}

impl DialectKind {
    pub const ALL: [DialectKind; 10] = [
        DialectKind::Duckdb,
        DialectKind::Postgres,
        DialectKind::Mysql,
        DialectKind::Sqlite,
        DialectKind::Snowflake,
        DialectKind::Bigquery,
        DialectKind::Redshift,
        DialectKind::Databricks,
        DialectKind::Trino,
        DialectKind::Clickhouse,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DialectKind::Duckdb => "duckdb",
            DialectKind::Postgres => "postgres",
            DialectKind::Mysql => "mysql",
            DialectKind::Sqlite => "sqlite",
            DialectKind::Snowflake => "snowflake",
            DialectKind::Bigquery => "bigquery",
            DialectKind::Redshift => "redshift",
            DialectKind::Databricks => "databricks",
            DialectKind::Trino => "trino",
            DialectKind::Clickhouse => "clickhouse",
        }
    }

    fn source(self) -> &'static str {
        match self {
            DialectKind::Duckdb => include_str!("../../../../dialects/duckdb.yaml"),
            DialectKind::Postgres => include_str!("../../../../dialects/postgres.yaml"),
            DialectKind::Mysql => include_str!("../../../../dialects/mysql.yaml"),
            DialectKind::Sqlite => include_str!("../../../../dialects/sqlite.yaml"),
            DialectKind::Snowflake => include_str!("../../../../dialects/snowflake.yaml"),
            DialectKind::Bigquery => include_str!("../../../../dialects/bigquery.yaml"),
            DialectKind::Redshift => include_str!("../../../../dialects/redshift.yaml"),
            DialectKind::Databricks => include_str!("../../../../dialects/databricks.yaml"),
            DialectKind::Trino => include_str!("../../../../dialects/trino.yaml"),
            DialectKind::Clickhouse => include_str!("../../../../dialects/clickhouse.yaml"),
        }
    }

    /// The dialect's specification, loaded once per process.
    pub fn dialect(self) -> &'static Dialect {
        static LOADED: OnceLock<BTreeMap<DialectKind, Dialect>> = OnceLock::new();
        let all = LOADED.get_or_init(|| {
            DialectKind::ALL
                .iter()
                .map(|k| {
                    // The files are part of the binary and covered by a test
                    // that loads each one, so a failure here is a build defect.
                    let d = Dialect::parse(*k, k.source())
                        .unwrap_or_else(|e| panic!("dialects/{}.yaml is invalid: {e}", k.name()));
                    (*k, d)
                })
                .collect()
        });
        &all[&self]
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DialectKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let alias = match lower.as_str() {
            "postgresql" | "pg" => "postgres",
            "mariadb" => "mysql",
            "spark" => "databricks",
            other => other,
        };
        DialectKind::ALL
            .into_iter()
            .find(|k| k.name() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = DialectKind::ALL.iter().map(|k| k.name()).collect();
                let hint = crate::diagnostics::closest(s, names.iter().copied());
                let mut msg = format!(
                    "unknown dialect `{s}`; expected one of {}",
                    names.join(", ")
                );
                if let Some(h) = hint.first() {
                    msg.push_str(&format!(" (did you mean `{h}`?)"));
                }
                msg
            })
    }
}

/// How a dialect writes quotes and backslashes inside a string literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StringEscape {
    /// SQL standard: a quote is doubled, a backslash is an ordinary character.
    Standard,
    /// Backslash escapes (`\'`, `\\`, `\n`), as BigQuery, Snowflake, Spark,
    /// ClickHouse and Redshift read string literals.
    Backslash,
    /// MySQL/MariaDB: backslash escapes are on by default; quotes doubled.
    Mysql,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitStyle {
    /// `LIMIT n OFFSET m`
    LimitOffset,
    /// `OFFSET m LIMIT n` (Trino)
    OffsetLimit,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDialect {
    name: String,
    description: String,
    sqlparser: String,
    identifier_quote: char,
    string_escape: StringEscape,
    types: BTreeMap<String, String>,
    literals: RawLiterals,
    date_trunc: BTreeMap<String, String>,
    aggregates: BTreeMap<String, String>,
    functions: BTreeMap<String, String>,
    /// Interval arithmetic and epoch conversion (`add_seconds`, `add_days`,
    /// `add_months`, `epoch_seconds`).
    time: BTreeMap<String, String>,
    nulls_last: Option<String>,
    nulls_first: Option<String>,
    limit_style: LimitStyle,
    /// What to write as LIMIT when only an OFFSET is wanted, for engines
    /// that cannot take OFFSET alone.
    #[serde(default)]
    unbounded_limit: Option<String>,
    /// The engine types UNION columns from the first branches, so NULL
    /// placeholders there need a cast.
    #[serde(default)]
    typed_union_nulls: bool,
    /// Caveats a user of this dialect should know; shown by `accord dialects`.
    #[serde(default)]
    notes: Vec<String>,
    /// Column types of tables accord writes (identity resolution).
    tables: TableTypes,
}

/// Column types for the tables accord creates itself (identity map, ledger,
/// work tables), and what a CREATE TABLE needs after its column list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableTypes {
    /// Text compared and ordered bytewise (binary collation), so identifiers
    /// group and sort the same on every engine.
    pub key_text: String,
    pub bigint: String,
    pub timestamp: String,
    #[serde(default)]
    pub create_suffix: Option<String>,
    /// Template (`{expr}`) making text compare, group and sort bytewise.
    pub binary_text: String,
    /// How a typed key column is compared with text (`{key}`, `{key_text}`,
    /// `{text}`; see `Expr::KeyEqualsText`); default `{key_text} = {text}`.
    #[serde(default)]
    pub key_equals_text: Option<String>,
    /// `CREATE INDEX {name} ON {table} ({columns})` for engines that join
    /// unindexed tables by nested loops (MySQL/MariaDB); absent elsewhere.
    #[serde(default)]
    pub index: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLiterals {
    timestamp: String,
    date: String,
    #[serde(rename = "true")]
    true_: String,
    #[serde(rename = "false")]
    false_: String,
}

/// A loaded dialect specification.
#[derive(Debug)]
pub struct Dialect {
    pub kind: DialectKind,
    pub description: String,
    /// Name of the sqlparser dialect that must accept everything we emit.
    pub sqlparser: String,
    pub identifier_quote: char,
    pub string_escape: StringEscape,
    types: BTreeMap<SqlType, String>,
    pub timestamp_literal: Template,
    pub date_literal: Template,
    pub true_literal: String,
    pub false_literal: String,
    date_trunc: BTreeMap<Grain, Template>,
    aggregates: BTreeMap<String, Template>,
    functions: BTreeMap<String, Template>,
    time: BTreeMap<String, Template>,
    pub nulls_last: Option<String>,
    pub nulls_first: Option<String>,
    pub limit_style: LimitStyle,
    pub unbounded_limit: Option<String>,
    pub typed_union_nulls: bool,
    pub notes: Vec<String>,
    pub tables: TableTypes,
    pub binary_text: Template,
    pub key_equals_text: Option<Template>,
}

const REQUIRED_TYPES: [SqlType; 7] = [
    SqlType::Double,
    SqlType::BigInt,
    SqlType::Text,
    SqlType::Date,
    SqlType::Timestamp,
    SqlType::Boolean,
    SqlType::Decimal,
];

const REQUIRED_AGGREGATES: [&str; 7] = [
    "sum",
    "count",
    "count_star",
    "count_distinct",
    "avg",
    "min",
    "max",
];
const OPTIONAL_AGGREGATES: [&str; 2] = ["median", "percentile"];
const TIME_FUNCTIONS: [&str; 7] = [
    "add_seconds",
    "add_days",
    "add_months",
    "add_seconds_by",
    "add_days_by",
    "add_months_by",
    "epoch_seconds",
];
const REQUIRED_FUNCTIONS: [&str; 4] = ["contains", "starts_with", "ilike", "concat"];

impl Dialect {
    fn parse(kind: DialectKind, text: &str) -> Result<Dialect, String> {
        let raw: RawDialect = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        if raw.name != kind.name() {
            return Err(format!(
                "name is `{}`, expected `{}`",
                raw.name,
                kind.name()
            ));
        }
        let mut types = BTreeMap::new();
        for ty in REQUIRED_TYPES {
            let spelled = raw
                .types
                .get(ty.key())
                .ok_or_else(|| format!("types.{} is missing", ty.key()))?;
            types.insert(ty, spelled.clone());
        }
        let mut date_trunc = BTreeMap::new();
        for grain in Grain::ALL {
            let t = raw
                .date_trunc
                .get(grain.name())
                .ok_or_else(|| format!("date_trunc.{} is missing", grain.name()))?;
            date_trunc.insert(grain, Template::parse(t, &["expr"])?);
        }
        let mut aggregates = BTreeMap::new();
        for (name, t) in &raw.aggregates {
            let vars: &[&str] = match name.as_str() {
                "percentile" => &["expr", "p"],
                "count_star" => &[],
                n if REQUIRED_AGGREGATES.contains(&n) || OPTIONAL_AGGREGATES.contains(&n) => {
                    &["expr"]
                }
                other => return Err(format!("aggregates.{other} is not a known aggregate")),
            };
            aggregates.insert(name.clone(), Template::parse(t, vars)?);
        }
        for required in REQUIRED_AGGREGATES {
            if !aggregates.contains_key(required) {
                return Err(format!("aggregates.{required} is missing"));
            }
        }
        let mut functions = BTreeMap::new();
        for (name, t) in &raw.functions {
            let vars: &[&str] = match name.as_str() {
                "contains" => &["expr", "needle"],
                "starts_with" => &["expr", "prefix"],
                "ilike" => &["expr", "pattern"],
                "concat" => &["left", "right"],
                // A keyed HMAC-SHA256 mask: `{ipad}`/`{opad}` are the
                // padded keys and `{key}` the key, each a hex string literal.
                "hash" => &["expr", "ipad", "opad", "key"],
                "right" => &["expr", "n"],
                "power" => &["base", "exponent"],
                other => return Err(format!("functions.{other} is not a known function")),
            };
            functions.insert(name.clone(), Template::parse(t, vars)?);
        }
        for required in REQUIRED_FUNCTIONS {
            if !functions.contains_key(required) {
                return Err(format!("functions.{required} is missing"));
            }
        }
        let mut time = BTreeMap::new();
        for (name, t) in &raw.time {
            let vars: &[&str] = match name.as_str() {
                "add_seconds" | "add_days" | "add_months" | "add_seconds_by" | "add_days_by"
                | "add_months_by" => &["expr", "n"],
                "epoch_seconds" => &["expr"],
                other => return Err(format!("time.{other} is not a known time function")),
            };
            time.insert(name.clone(), Template::parse(t, vars)?);
        }
        for required in TIME_FUNCTIONS {
            if !time.contains_key(required) {
                return Err(format!("time.{required} is missing"));
            }
        }
        Ok(Dialect {
            kind,
            description: raw.description,
            sqlparser: raw.sqlparser,
            identifier_quote: raw.identifier_quote,
            string_escape: raw.string_escape,
            types,
            timestamp_literal: Template::parse(&raw.literals.timestamp, &["value"])?,
            date_literal: Template::parse(&raw.literals.date, &["value"])?,
            true_literal: raw.literals.true_,
            false_literal: raw.literals.false_,
            date_trunc,
            aggregates,
            functions,
            time,
            nulls_last: raw.nulls_last,
            nulls_first: raw.nulls_first,
            limit_style: raw.limit_style,
            unbounded_limit: raw.unbounded_limit,
            typed_union_nulls: raw.typed_union_nulls,
            notes: raw.notes,
            binary_text: Template::parse(&raw.tables.binary_text, &["expr"])?,
            key_equals_text: raw
                .tables
                .key_equals_text
                .as_deref()
                .map(|t| Template::parse(t, &["key", "key_text", "text"]))
                .transpose()?,
            tables: raw.tables,
        })
    }

    pub fn type_name(&self, ty: SqlType) -> &str {
        // Every SqlType is checked present at load.
        self.types.get(&ty).map(String::as_str).unwrap_or("")
    }

    pub fn date_trunc(&self, grain: Grain) -> &Template {
        &self.date_trunc[&grain]
    }

    /// The template for an aggregate, or `None` when the dialect has no exact
    /// equivalent (e.g. median on MySQL): the planner then refuses the query
    /// rather than approximate.
    pub fn aggregate(&self, name: &str) -> Option<&Template> {
        self.aggregates.get(name)
    }

    pub fn function(&self, name: &str) -> &Template {
        &self.functions[name]
    }

    /// `seconds`, `days`, `months` (an `add_*` template) or `epoch_seconds`;
    /// every dialect has all four (checked at load).
    pub fn time_function(&self, name: &str) -> &Template {
        match name {
            "epoch_seconds" => &self.time["epoch_seconds"],
            prim => &self.time[&format!("add_{prim}")],
        }
    }

    /// A function only some dialects have (`hash`, `right`, `power`).
    pub fn optional_function(&self, name: &str) -> Option<&Template> {
        self.functions.get(name)
    }

    /// Quotes an identifier, doubling any embedded quote character.
    pub fn quote_ident(&self, name: &str) -> String {
        let q = self.identifier_quote;
        let mut out = String::with_capacity(name.len() + 2);
        out.push(q);
        for c in name.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// Writes `value` as a string literal this dialect reads back exactly.
    /// NUL cannot be represented in most engines' text types, so it is refused
    /// rather than silently truncated.
    pub fn string_literal(&self, value: &str) -> Result<String, String> {
        if value.contains('\0') {
            return Err("string values may not contain the NUL character".into());
        }
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        for c in value.chars() {
            match (self.string_escape, c) {
                (_, '\'') if self.string_escape != StringEscape::Backslash => out.push_str("''"),
                (StringEscape::Backslash, '\'') => out.push_str("\\'"),
                (StringEscape::Backslash | StringEscape::Mysql, '\\') => out.push_str("\\\\"),
                (StringEscape::Backslash, '\n') => out.push_str("\\n"),
                (StringEscape::Backslash, '\r') => out.push_str("\\r"),
                (StringEscape::Backslash, '\t') => out.push_str("\\t"),
                (_, c) => out.push(c),
            }
        }
        out.push('\'');
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_file_loads() {
        for k in DialectKind::ALL {
            let d = k.dialect();
            assert_eq!(d.kind, k);
        }
    }

    #[test]
    fn escapes_per_style() {
        let pg = DialectKind::Postgres.dialect();
        assert_eq!(pg.string_literal("it's \\ ok").unwrap(), "'it''s \\ ok'");
        let my = DialectKind::Mysql.dialect();
        assert_eq!(my.string_literal("it's \\ ok").unwrap(), "'it''s \\\\ ok'");
        let bq = DialectKind::Bigquery.dialect();
        assert_eq!(bq.string_literal("it's \\\n").unwrap(), "'it\\'s \\\\\\n'");
        assert!(pg.string_literal("a\0b").is_err());
    }

    #[test]
    fn unknown_dialect_suggests() {
        let err = "postgress".parse::<DialectKind>().unwrap_err();
        assert!(err.contains("did you mean `postgres`"), "{err}");
    }
}

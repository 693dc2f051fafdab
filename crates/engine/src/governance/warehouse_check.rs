//! `accord validate --warehouse URL`: every table and column a definition
//! uses must exist in the warehouse, with a type that fits its use.
//!
//! Tables are described by the warehouse's own catalog: DuckDB, PostgreSQL
//! and MySQL/MariaDB through `information_schema.columns`, SQLite through
//! `pragma_table_info`. A model whose source is a SQL query is described by
//! running the query for no rows (DuckDB: `DESCRIBE`; elsewhere an outer
//! join that keeps one row of NULLs, so the column types travel with it).
//! Column references come from entity keys and dimension and measure
//! expressions (every [`Expr::Column`] node).
//!
//! Types: `sum`, `avg`, `median` and `percentile` need a numeric column,
//! `sum_boolean` a boolean (or integer) one; time dimensions need a date or
//! timestamp column (any column on SQLite, which has no temporal type),
//! number dimensions a numeric one and boolean dimensions a boolean or
//! integer one; the key columns of a join must be of one kind. A check is
//! only made when the expression is the bare column.

use std::collections::BTreeMap;

use serde::Serialize;

use super::source::{MemberKind, SourceIndex};
use super::{Finding, Severity};
use crate::catalog::{Aggregation, Catalog, DimensionKind, Model, Source};
use crate::diagnostics::closest;
use crate::dialect::DialectKind;
use crate::sql::ast::Expr;
use crate::warehouse::{ColumnType, Warehouse, WarehouseError};

/// What a column holds, as far as the checks care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeClass {
    Numeric,
    Temporal,
    Boolean,
    Text,
    /// Anything else, or unknown: never reported.
    Other,
}

/// Classifies a type name as the warehouse spells it (`BIGINT`,
/// `character varying`, `DECIMAL(12,2)`, `timestamp with time zone`, ...).
pub fn classify(data_type: &str) -> TypeClass {
    let t = data_type.trim().to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or("").trim();
    if base.is_empty() || base == "null" || base == "unknown" {
        return TypeClass::Other;
    }
    if base.starts_with("bool") {
        return TypeClass::Boolean;
    }
    if base.starts_with("timestamp") || base == "date" || base.starts_with("datetime") {
        return TypeClass::Temporal;
    }
    if base.starts_with("interval") || base.starts_with("time") || base.ends_with("[]") {
        return TypeClass::Other;
    }
    let numeric = [
        "int", "decimal", "numeric", "real", "double", "float", "number", "money", "serial", "dec",
    ];
    if numeric.iter().any(|n| base.contains(n)) {
        return TypeClass::Numeric;
    }
    let text = [
        "char", "text", "string", "clob", "uuid", "json", "enum", "blob", "bytea", "binary",
    ];
    if text.iter().any(|n| base.contains(n)) {
        return TypeClass::Text;
    }
    TypeClass::Other
}

#[derive(Debug, Clone, Serialize)]
pub struct WhColumn {
    pub name: String,
    pub data_type: String,
    pub class: TypeClass,
}

#[derive(Debug, Clone, Serialize)]
pub struct WhTable {
    pub catalog: String,
    pub schema: String,
    pub name: String,
    pub columns: Vec<WhColumn>,
}

impl WhTable {
    pub fn column(&self, name: &str) -> Option<&WhColumn> {
        self.columns.iter().find(|c| c.name == name).or_else(|| {
            self.columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
    }
}

/// Every table and column of a warehouse, from its catalog.
#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    pub tables: Vec<WhTable>,
    /// Where unqualified table names are looked up first.
    pub default_schema: String,
}

fn describe_sql(dialect: DialectKind) -> Result<&'static str, WarehouseError> {
    Ok(match dialect {
        DialectKind::Duckdb => {
            "SELECT table_catalog, table_schema, table_name, column_name, data_type, current_schema() \
             FROM information_schema.columns \
             WHERE table_schema NOT IN ('information_schema', 'pg_catalog') \
             ORDER BY table_catalog, table_schema, table_name, ordinal_position"
        }
        DialectKind::Postgres => {
            "SELECT table_catalog::text, table_schema::text, table_name::text, column_name::text, data_type::text, current_schema()::text \
             FROM information_schema.columns \
             WHERE table_schema NOT IN ('information_schema', 'pg_catalog') \
             ORDER BY table_catalog, table_schema, table_name, ordinal_position"
        }
        DialectKind::Mysql => {
            "SELECT CAST(table_catalog AS CHAR), CAST(table_schema AS CHAR), CAST(table_name AS CHAR), \
             CAST(column_name AS CHAR), CAST(column_type AS CHAR), CAST(DATABASE() AS CHAR) \
             FROM information_schema.columns \
             WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') \
             ORDER BY table_schema, table_name, ordinal_position"
        }
        DialectKind::Sqlite => {
            "SELECT 'main', 'main', m.name, p.name, p.type, 'main' \
             FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p \
             WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite_%' \
             ORDER BY m.name, p.cid"
        }
        other => {
            return Err(WarehouseError::Config(format!(
                "checking definitions against a {} warehouse is not supported",
                other.name()
            )));
        }
    })
}

impl Schema {
    /// Reads the warehouse's catalog.
    pub async fn read(wh: &Warehouse) -> Result<Schema, WarehouseError> {
        let sql = describe_sql(wh.dialect())?;
        let rs = wh.query(sql, 1_000_000).await?;
        let mut tables: Vec<WhTable> = Vec::new();
        let mut default_schema = String::new();
        for row in &rs.rows {
            let cell = |i: usize| row.get(i).map(|v| v.to_text()).unwrap_or_default();
            let (catalog, schema, table) = (cell(0), cell(1), cell(2));
            default_schema = cell(5);
            let data_type = cell(4);
            let column = WhColumn {
                name: cell(3),
                class: classify(&data_type),
                data_type,
            };
            match tables.last_mut() {
                Some(t) if t.catalog == catalog && t.schema == schema && t.name == table => {
                    t.columns.push(column)
                }
                _ => tables.push(WhTable {
                    catalog,
                    schema,
                    name: table,
                    columns: vec![column],
                }),
            }
        }
        Ok(Schema {
            tables,
            default_schema,
        })
    }

    /// The table a model's `table:` names: `table`, `schema.table` or
    /// `catalog.schema.table` (case-insensitively). An unqualified name is
    /// looked up in the default schema, then anywhere if that is unique.
    pub fn find(&self, parts: &[String]) -> Option<&WhTable> {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        match parts {
            [t] => {
                let matches: Vec<&WhTable> =
                    self.tables.iter().filter(|x| eq(&x.name, t)).collect();
                matches
                    .iter()
                    .find(|x| eq(&x.schema, &self.default_schema))
                    .copied()
                    .or(if matches.len() == 1 {
                        Some(matches[0])
                    } else {
                        None
                    })
            }
            [s, t] => self
                .tables
                .iter()
                .find(|x| eq(&x.schema, s) && eq(&x.name, t))
                // MySQL calls a database what others call a schema; DuckDB
                // also reads `db.table` for an attached database.
                .or_else(|| {
                    self.tables
                        .iter()
                        .find(|x| eq(&x.catalog, s) && eq(&x.name, t))
                }),
            [c, s, t] => self
                .tables
                .iter()
                .find(|x| eq(&x.catalog, c) && eq(&x.schema, s) && eq(&x.name, t)),
            _ => None,
        }
    }

    /// Table names as a definition would write them, for suggestions.
    fn names(&self) -> Vec<String> {
        self.tables
            .iter()
            .map(|t| {
                if t.schema.eq_ignore_ascii_case(&self.default_schema) {
                    t.name.clone()
                } else {
                    format!("{}.{}", t.schema, t.name)
                }
            })
            .collect()
    }
}

/// The columns of a model's source query, by running it for no rows.
async fn describe_query(wh: &Warehouse, sql: &str) -> Result<Vec<WhColumn>, WarehouseError> {
    if wh.dialect() == DialectKind::Duckdb {
        let rs = wh
            .query(
                &format!("DESCRIBE SELECT * FROM (\n{sql}\n) AS accord_source"),
                100_000,
            )
            .await?;
        return Ok(rs
            .rows
            .iter()
            .map(|r| {
                let data_type = r.get(1).map(|v| v.to_text()).unwrap_or_default();
                WhColumn {
                    name: r.first().map(|v| v.to_text()).unwrap_or_default(),
                    class: classify(&data_type),
                    data_type,
                }
            })
            .collect());
    }
    // One row of NULLs carrying the query's column names and types.
    let probe = format!(
        "SELECT accord_source.* FROM (SELECT 1 AS accord_probe) AS accord_one \
         LEFT JOIN (SELECT * FROM (\n{sql}\n) AS accord_inner LIMIT 0) AS accord_source ON 1 = 1"
    );
    let rs = wh.query(&probe, 1).await?;
    Ok(rs
        .columns
        .iter()
        .map(|c| {
            let (data_type, class) = match c.ty {
                ColumnType::Integer => ("integer", TypeClass::Numeric),
                ColumnType::Decimal => ("decimal", TypeClass::Numeric),
                ColumnType::Float => ("double", TypeClass::Numeric),
                ColumnType::Text => ("text", TypeClass::Text),
                ColumnType::Boolean => ("boolean", TypeClass::Boolean),
                ColumnType::Date => ("date", TypeClass::Temporal),
                ColumnType::Timestamp => ("timestamp", TypeClass::Temporal),
                ColumnType::Null => ("unknown", TypeClass::Other),
            };
            WhColumn {
                name: c.name.clone(),
                data_type: data_type.to_string(),
                class,
            }
        })
        .collect())
}

/// A model's columns as the warehouse has them.
enum Described {
    Table(WhTable),
    Query(Vec<WhColumn>),
}

impl Described {
    fn columns(&self) -> &[WhColumn] {
        match self {
            Described::Table(t) => &t.columns,
            Described::Query(c) => c,
        }
    }

    fn column(&self, name: &str) -> Option<&WhColumn> {
        let cols = self.columns();
        cols.iter()
            .find(|c| c.name == name)
            .or_else(|| cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
    }

    fn what(&self) -> String {
        match self {
            Described::Table(t) => format!("table `{}`", t.name),
            Described::Query(_) => "the model's source query".to_string(),
        }
    }
}

/// How an expression is used, which decides the type it needs.
#[derive(Clone, Copy)]
enum Use {
    Key,
    Dimension(DimensionKind),
    Measure(Aggregation),
}

struct Site<'a> {
    kind: MemberKind,
    member: &'a str,
    expr: &'a Expr,
    usage: Use,
}

fn sites(model: &Model) -> Vec<Site<'_>> {
    let mut out = Vec::new();
    for e in &model.entities {
        for k in &e.keys {
            out.push(Site {
                kind: MemberKind::Entity,
                member: &e.name,
                expr: k,
                usage: Use::Key,
            });
        }
    }
    for d in &model.dimensions {
        out.push(Site {
            kind: MemberKind::Dimension,
            member: &d.name,
            expr: &d.expr,
            usage: Use::Dimension(d.kind),
        });
    }
    for m in &model.measures {
        if let Some(x) = &m.expr {
            out.push(Site {
                kind: MemberKind::Measure,
                member: &m.name,
                expr: x,
                usage: Use::Measure(m.agg),
            });
        }
    }
    out
}

/// Columns an expression reads, in order, once each.
pub fn columns_of(expr: &Expr) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    expr.walk(&mut |e| {
        if let Expr::Column { name, .. } = e
            && !out.contains(&name.value)
        {
            out.push(name.value.clone());
        }
    });
    out
}

/// What a finding means for serving its model (see [`ModelFinding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gap {
    /// The model's table does not exist: nothing of it can be answered.
    MissingTable,
    /// The model's source query fails: nothing of it can be answered.
    BrokenSource,
    /// A column a member reads does not exist: queries reading it fail.
    MissingColumn,
    /// A column exists with a type that does not fit its use.
    TypeMisuse,
}

impl Gap {
    /// Whether every query over the model fails.
    pub fn blocks_model(self) -> bool {
        matches!(self, Gap::MissingTable | Gap::BrokenSource)
    }

    /// Whether something the model reads is absent (not merely mistyped).
    pub fn is_missing(self) -> bool {
        self != Gap::TypeMisuse
    }
}

/// One finding of [`check`] with the model it is about, so a server can
/// tell which models it can answer for ([`crate::governance::serving`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFinding {
    pub model: String,
    pub gap: Gap,
    /// The column that does not exist ([`Gap::MissingColumn`]).
    pub column: Option<String>,
    pub finding: Finding,
}

/// Checks every model against the warehouse. An unreachable warehouse or
/// an unreadable catalog is an `Err`; problems with definitions are
/// findings (errors).
pub async fn check(
    catalog: &Catalog,
    index: &SourceIndex,
    wh: &Warehouse,
) -> Result<Vec<Finding>, WarehouseError> {
    Ok(check_models(catalog, index, wh)
        .await?
        .into_iter()
        .map(|m| m.finding)
        .collect())
}

/// [`check`], each finding with its model and what it means for serving.
pub async fn check_models(
    catalog: &Catalog,
    index: &SourceIndex,
    wh: &Warehouse,
) -> Result<Vec<ModelFinding>, WarehouseError> {
    let schema = Schema::read(wh).await?;
    let sqlite = wh.dialect() == DialectKind::Sqlite;
    let mut findings: Vec<ModelFinding> = Vec::new();
    let error = |pos, field: String, msg: String| {
        Finding::new(Severity::Error, "warehouse", pos, field, msg)
    };
    let about = |model: &Model, gap: Gap, finding: Finding| ModelFinding {
        model: model.name.clone(),
        gap,
        column: None,
        finding,
    };
    let mut described: BTreeMap<&str, Described> = BTreeMap::new();
    for model in &catalog.models {
        let spans = index.models.get(&model.name);
        match &model.source {
            Source::Table(parts) => match schema.find(parts) {
                Some(t) => {
                    described.insert(&model.name, Described::Table(t.clone()));
                }
                None => {
                    let pos = spans
                        .and_then(|s| s.table.clone())
                        .unwrap_or_else(|| model.pos.clone());
                    let written = parts.join(".");
                    let names = schema.names();
                    findings.push(about(
                        model,
                        Gap::MissingTable,
                        error(
                            Some(pos),
                            format!("models.{}.source.table", model.name),
                            format!("table `{written}` does not exist in the warehouse"),
                        )
                        .with_suggestions(closest(&written, names.iter().map(String::as_str))),
                    ));
                }
            },
            Source::Sql(sql) => match describe_query(wh, sql).await {
                Ok(cols) => {
                    described.insert(&model.name, Described::Query(cols));
                }
                Err(e @ (WarehouseError::Unavailable { .. } | WarehouseError::Timeout { .. })) => {
                    return Err(e);
                }
                Err(e) => {
                    let pos = spans
                        .and_then(|s| s.sql.clone())
                        .unwrap_or_else(|| model.pos.clone());
                    let msg = match e {
                        WarehouseError::Query { message, .. } => message,
                        other => other.to_string(),
                    };
                    // Engines add context lines (a caret under the SQL);
                    // the first line says what is wrong.
                    let msg = msg.lines().next().unwrap_or("").trim().to_string();
                    findings.push(about(
                        model,
                        Gap::BrokenSource,
                        error(
                            Some(pos),
                            format!("models.{}.source.sql", model.name),
                            format!("the source query fails on the warehouse: {msg}"),
                        ),
                    ));
                }
            },
        }
        let Some(desc) = described.get(model.name.as_str()) else {
            continue;
        };
        let names: Vec<&str> = desc.columns().iter().map(|c| c.name.as_str()).collect();
        for site in sites(model) {
            let explicit = index
                .models
                .get(&model.name)
                .and_then(|m| {
                    let list = match site.kind {
                        MemberKind::Entity => &m.entities,
                        MemberKind::Dimension => &m.dimensions,
                        MemberKind::Measure => &m.measures,
                    };
                    list.get(site.member)
                })
                .is_some_and(|s| s.expr.is_some());
            let pos = index
                .member(&model.name, site.kind, site.member, true)
                .or(Some(model.pos.clone()));
            let field = format!(
                "models.{}.{}.{}{}",
                model.name,
                site.kind.section(),
                site.member,
                if explicit { ".expr" } else { "" }
            );
            let mut missing = false;
            for col in columns_of(site.expr) {
                if desc.column(&col).is_none() {
                    missing = true;
                    findings.push(ModelFinding {
                        column: Some(col.clone()),
                        ..about(
                            model,
                            Gap::MissingColumn,
                            error(
                                pos.clone(),
                                field.clone(),
                                format!("column `{col}` does not exist in {}", desc.what()),
                            )
                            .with_suggestions(closest(&col, names.iter().copied())),
                        )
                    });
                }
            }
            if missing {
                continue;
            }
            let Expr::Column { name, .. } = site.expr else {
                continue;
            };
            let Some(col) = desc.column(&name.value) else {
                continue;
            };
            let c = col.class;
            let problem = match site.usage {
                Use::Key => None,
                Use::Measure(agg) if agg.needs_numeric() => (!matches!(
                    c,
                    TypeClass::Numeric | TypeClass::Other
                ))
                .then(|| {
                    format!(
                        "`{}` over column `{}` is a type misuse: the warehouse types it {}, not a number",
                        agg.name(),
                        col.name,
                        col.data_type
                    )
                }),
                Use::Measure(Aggregation::SumBoolean) => (!matches!(
                    c,
                    TypeClass::Boolean | TypeClass::Numeric | TypeClass::Other
                ))
                .then(|| {
                    format!(
                        "`sum_boolean` over column `{}` is a type misuse: the warehouse types it {}, not a boolean",
                        col.name, col.data_type
                    )
                }),
                Use::Measure(_) => None,
                Use::Dimension(DimensionKind::Time { .. }) => {
                    let ok = matches!(c, TypeClass::Temporal | TypeClass::Other)
                        || (sqlite && matches!(c, TypeClass::Text | TypeClass::Numeric));
                    (!ok).then(|| {
                        format!(
                            "time dimension `{}` reads column `{}`, which the warehouse types {}, not a date or timestamp",
                            site.member, col.name, col.data_type
                        )
                    })
                }
                Use::Dimension(DimensionKind::Number) => (!matches!(
                    c,
                    TypeClass::Numeric | TypeClass::Other
                ))
                .then(|| {
                    format!(
                        "number dimension `{}` reads column `{}`, which the warehouse types {}, not a number",
                        site.member, col.name, col.data_type
                    )
                }),
                Use::Dimension(DimensionKind::Boolean) => (!matches!(
                    c,
                    TypeClass::Boolean | TypeClass::Numeric | TypeClass::Other
                ))
                .then(|| {
                    format!(
                        "boolean dimension `{}` reads column `{}`, which the warehouse types {}, not a boolean",
                        site.member, col.name, col.data_type
                    )
                }),
                Use::Dimension(DimensionKind::Categorical) => None,
            };
            if let Some(msg) = problem {
                findings.push(about(
                    model,
                    Gap::TypeMisuse,
                    error(pos.clone(), field.clone(), msg),
                ));
            }
        }
    }
    // Join keys: both ends of every join must hold the same kind of value.
    let key_class = |model: &Model, entity: &str| -> Option<(String, String, TypeClass)> {
        let e = model.entity(entity)?;
        let [Expr::Column { name, .. }] = e.keys.as_slice() else {
            return None;
        };
        let col = described.get(model.name.as_str())?.column(&name.value)?;
        Some((col.name.clone(), col.data_type.clone(), col.class))
    };
    for model in &catalog.models {
        for edge in catalog.graph.edges_from(model.id) {
            let target = catalog.model(edge.to);
            let (Some(a), Some(b)) = (
                key_class(model, &edge.entity),
                key_class(target, &edge.entity),
            ) else {
                continue;
            };
            let comparable = |x: TypeClass| !matches!(x, TypeClass::Other);
            if comparable(a.2) && comparable(b.2) && a.2 != b.2 {
                let pos = index
                    .member(&model.name, MemberKind::Entity, &edge.entity, true)
                    .or(Some(model.pos.clone()));
                findings.push(about(
                    model,
                    Gap::TypeMisuse,
                    error(
                        pos,
                        format!("models.{}.entities.{}", model.name, edge.entity),
                        format!(
                            "entity `{}` joins `{}.{}` ({}) to `{}.{}` ({}): the key types do not match",
                            edge.entity, model.name, a.0, a.1, target.name, b.0, b.1
                        ),
                    ),
                ));
            }
        }
    }
    Ok(findings)
}

//! Statements of an identity build. SELECT bodies are `sql::ast` queries
//! rendered by the shared renderer; this module adds only the statement
//! heads every engine spells alike (`DROP TABLE IF EXISTS`, `CREATE TABLE`,
//! `INSERT INTO … SELECT`, `DELETE FROM … WHERE`, `ALTER TABLE … RENAME TO`,
//! MySQL's multi-table `RENAME TABLE`) and the column types from the
//! dialect's `tables:` section.

use crate::dialect::Dialect;
use crate::sql::ast::{Expr, Ident, Query};
use crate::sql::render::{RenderError, Renderer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// Identifier text, bytewise collation.
    Key,
    BigInt,
    Timestamp,
}

/// A table accord writes: its name, columns, and the column lists worth an
/// index on engines without hash joins (`tables.index` in the dialect file).
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub columns: Vec<(&'static str, ColType)>,
    pub indexes: Vec<&'static [&'static str]>,
}

impl TableDef {
    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.0).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    DropTable(String),
    Create {
        table: TableDef,
        if_not_exists: bool,
    },
    /// Rendered empty where the dialect has no `tables.index` template.
    CreateIndex {
        table: String,
        number: usize,
        columns: &'static [&'static str],
    },
    Insert {
        table: String,
        columns: Vec<&'static str>,
        query: Query,
    },
    /// `DELETE FROM table WHERE selection` (columns unqualified).
    Delete {
        table: String,
        selection: Expr,
    },
    /// A query whose rows the build reads (counts, checks).
    Select(Query),
    /// `ALTER TABLE from RENAME TO to`.
    Rename {
        from: String,
        to: String,
    },
    /// `RENAME TABLE a TO b, c TO d, …`: MySQL/MariaDB (and ClickHouse)
    /// rename every pair in one atomic step, in order, so `map TO old,
    /// next TO map` never leaves `map` missing.
    RenameTables(Vec<(String, String)>),
}

impl Statement {
    pub fn render(&self, d: &Dialect) -> Result<String, RenderError> {
        let r = Renderer::new(d);
        let name = |t: &str| r.ident(&Ident::new(t));
        Ok(match self {
            Statement::DropTable(t) => format!("DROP TABLE IF EXISTS {}", name(t)),
            Statement::Create {
                table,
                if_not_exists,
            } => {
                let cols: Vec<String> = table
                    .columns
                    .iter()
                    .map(|(c, ty)| {
                        let ty = match ty {
                            ColType::Key => &d.tables.key_text,
                            ColType::BigInt => &d.tables.bigint,
                            ColType::Timestamp => &d.tables.timestamp,
                        };
                        format!("  {} {ty}", r.ident(&Ident::new(*c)))
                    })
                    .collect();
                let mut s = format!(
                    "CREATE TABLE {}{} (\n{}\n)",
                    if *if_not_exists { "IF NOT EXISTS " } else { "" },
                    name(&table.name),
                    cols.join(",\n")
                );
                if let Some(suffix) = &d.tables.create_suffix {
                    s.push(' ');
                    s.push_str(suffix);
                }
                s
            }
            Statement::CreateIndex {
                table,
                number,
                columns,
            } => match &d.tables.index {
                Some(t) => {
                    let cols: Vec<String> =
                        columns.iter().map(|c| r.ident(&Ident::new(*c))).collect();
                    t.replace("{name}", &name(&format!("{table}_i{number}")))
                        .replace("{table}", &name(table))
                        .replace("{columns}", &cols.join(", "))
                }
                None => String::new(),
            },
            Statement::Insert {
                table,
                columns,
                query,
            } => {
                let cols: Vec<String> = columns.iter().map(|c| r.ident(&Ident::new(*c))).collect();
                format!(
                    "INSERT INTO {} ({})\n{}",
                    name(table),
                    cols.join(", "),
                    r.query(query)?
                )
            }
            Statement::Delete { table, selection } => {
                format!("DELETE FROM {} WHERE {}", name(table), r.expr(selection)?)
            }
            Statement::Select(q) => r.query(q)?,
            Statement::Rename { from, to } => {
                format!("ALTER TABLE {} RENAME TO {}", name(from), name(to))
            }
            Statement::RenameTables(pairs) => {
                let pairs: Vec<String> = pairs
                    .iter()
                    .map(|(from, to)| format!("{} TO {}", name(from), name(to)))
                    .collect();
                format!("RENAME TABLE {}", pairs.join(", "))
            }
        })
    }
}

/// `CREATE TABLE` followed by its indexes.
pub fn create(table: TableDef, if_not_exists: bool) -> Vec<Statement> {
    let mut out: Vec<Statement> = table
        .indexes
        .iter()
        .enumerate()
        .map(|(i, cols)| Statement::CreateIndex {
            table: table.name.clone(),
            number: i + 1,
            columns: cols,
        })
        .collect();
    out.insert(
        0,
        Statement::Create {
            table,
            if_not_exists,
        },
    );
    out
}

/// Drop-and-create of a work table (with its indexes).
pub fn fresh(def: TableDef) -> Vec<Statement> {
    let mut out = vec![Statement::DropTable(def.name.clone())];
    out.extend(create(def, false));
    out
}

/// `INSERT INTO def (its columns) query`.
pub fn insert(def: &TableDef, query: Query) -> Statement {
    Statement::Insert {
        table: def.name.clone(),
        columns: def.column_names(),
        query,
    }
}

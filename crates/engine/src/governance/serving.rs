//! Which models a served warehouse can answer for. `accord serve` (at start,
//! on `/readyz` and after a reload) and a failed query run the
//! `validate --warehouse` check ([`warehouse_check`]) and read its findings
//! per model: a model whose table or source query is missing answers
//! nothing, one missing a column fails the queries that read it, and every
//! other model is served as usual. The report says what is missing and the
//! command that fixes it.

use std::path::Path;

use super::source::SourceIndex;
use super::warehouse_check::{self, ModelFinding};
use crate::catalog::{Catalog, Model, Source};
use crate::sql::relations::{Reads, Relation};
use crate::warehouse::{Warehouse, WarehouseError, WarehouseUrl};

/// What a warehouse lacks for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelGaps {
    pub model: String,
    /// The table (or source query) is missing: every query over it fails.
    pub blocked: bool,
    /// Missing tables, source queries and columns, in definition order.
    pub findings: Vec<ModelFinding>,
}

impl ModelGaps {
    /// What is missing, in one line: `table `orders` does not exist in the
    /// warehouse; ...`.
    pub fn summary(&self) -> String {
        let parts: Vec<&str> = self
            .findings
            .iter()
            .map(|f| f.finding.diagnostic.message.as_str())
            .collect();
        parts.join("; ")
    }
}

/// How to fix what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// The definitions read the demo's tables: load them.
    Demo { command: String },
    /// Anything else: the warehouse or the definitions must change.
    Definitions { validate: String },
}

impl Fix {
    /// The fix for the operator, with the command to run.
    pub fn text(&self) -> String {
        match self {
            Fix::Demo { command } => format!(
                "these are the demo's tables; load them (this replaces any demo tables already there) with\n  {command}"
            ),
            Fix::Definitions { validate } => format!(
                "create the missing tables and columns in the warehouse, or correct the models' \
                 `table:`/`sql:` and member `expr:`s in the definitions; check again with\n  {validate}"
            ),
        }
    }

    /// The fix in words for a caller of the server, who is told neither
    /// the warehouse's address nor where the definitions live.
    pub fn brief(&self) -> &'static str {
        match self {
            Fix::Demo { .. } => {
                "an operator can load the demo tables with `accord demo init --warehouse URL`"
            }
            Fix::Definitions { .. } => {
                "an operator must create the table or correct the model's `table:` in the definitions"
            }
        }
    }
}

/// The models a warehouse cannot fully serve.
#[derive(Debug, Clone, PartialEq)]
pub struct ServingReport {
    /// The warehouse, password replaced.
    pub warehouse: String,
    pub duckdb_file: bool,
    /// Models in the definitions.
    pub models: usize,
    /// Models lacking a table, source query or column, in catalog order.
    pub gaps: Vec<ModelGaps>,
    /// Columns whose type does not fit their use (`accord validate
    /// --warehouse` lists them); their models are served.
    pub mistyped: usize,
    pub fix: Fix,
}

/// Checks `catalog` against `wh` (see [`warehouse_check::check_models`]).
pub async fn check(
    catalog: &Catalog,
    index: &SourceIndex,
    wh: &Warehouse,
    defs: &Path,
) -> Result<ServingReport, WarehouseError> {
    let findings = warehouse_check::check_models(catalog, index, wh).await?;
    Ok(ServingReport::new(catalog, findings, wh.url(), defs))
}

/// Whether the definitions read only the demo's tables (their `table:`s
/// and the tables their `sql:`s read), so loading the demo is the fix and
/// cannot overwrite tables of someone else's.
fn demo_shaped(catalog: &Catalog) -> bool {
    let demo: Vec<&str> = crate::demo::table_specs().iter().map(|t| t.name).collect();
    let is_demo = |name: &str| {
        let last = name.rsplit('.').next().unwrap_or(name);
        demo.iter().any(|d| d.eq_ignore_ascii_case(last))
    };
    !catalog.models.is_empty()
        && catalog.models.iter().all(|m| match &m.source {
            Source::Table(parts) => parts.last().is_some_and(|t| is_demo(t)),
            Source::Sql(sql) => {
                let tables = super::lineage::sql_tables(sql);
                !tables.is_empty() && tables.iter().all(|t| is_demo(t))
            }
        })
}

impl ServingReport {
    pub fn new(
        catalog: &Catalog,
        findings: Vec<ModelFinding>,
        url: &WarehouseUrl,
        defs: &Path,
    ) -> ServingReport {
        let warehouse = url.redacted();
        let mistyped = findings.iter().filter(|f| !f.gap.is_missing()).count();
        let gaps = catalog
            .models
            .iter()
            .filter_map(|m| {
                let mine: Vec<ModelFinding> = findings
                    .iter()
                    .filter(|f| f.model == m.name && f.gap.is_missing())
                    .cloned()
                    .collect();
                (!mine.is_empty()).then(|| ModelGaps {
                    model: m.name.clone(),
                    blocked: mine.iter().any(|f| f.gap.blocks_model()),
                    findings: mine,
                })
            })
            .collect();
        let defs_flag = match defs == Path::new("metric_defs") {
            true => String::new(),
            false => format!(" --defs {}", defs.display()),
        };
        let fix = match demo_shaped(catalog) {
            true => Fix::Demo {
                command: format!("accord demo init --warehouse {warehouse}{defs_flag}"),
            },
            false => Fix::Definitions {
                validate: format!("accord validate --warehouse {warehouse}{defs_flag}"),
            },
        };
        ServingReport {
            duckdb_file: matches!(url, WarehouseUrl::Duckdb(Some(_))),
            warehouse,
            models: catalog.models.len(),
            gaps,
            mistyped,
            fix,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }

    /// Models that answer nothing (table or source query missing).
    pub fn blocked(&self) -> usize {
        self.gaps.iter().filter(|g| g.blocked).count()
    }

    pub fn gaps_of(&self, model: &str) -> Option<&ModelGaps> {
        self.gaps.iter().find(|g| g.model == model)
    }

    /// What `accord serve` prints at start (and logs after a reload) when
    /// something is missing; `None` when every model is served.
    pub fn text(&self) -> Option<String> {
        if self.gaps.is_empty() {
            return None;
        }
        let mut out = format!(
            "warning: {} of {} models cannot be fully served: the warehouse {} lacks what they read\n",
            self.gaps.len(),
            self.models,
            self.warehouse
        );
        for g in &self.gaps {
            let what = if g.blocked {
                "answers nothing"
            } else {
                "queries reading these fail"
            };
            out.push_str(&format!("  model `{}` ({what}):\n", g.model));
            for f in &g.findings {
                out.push_str(&format!("    {}\n", f.finding.text()));
            }
        }
        out.push_str(&format!("fix: {}\n", self.fix.text()));
        if self.duckdb_file && matches!(self.fix, Fix::Demo { .. }) {
            out.push_str(
                "  (a running `accord serve` keeps the DuckDB file open: stop it first, then start it again)\n",
            );
        }
        out.push_str(&format!(
            "The other {} models are served; GET /readyz lists what is missing until it is fixed.",
            self.models - self.gaps.len()
        ));
        Some(out)
    }

    /// The gaps a statement that `read`s this runs into, in catalog order:
    /// models whose source it reads and which lack their table, or a column
    /// of the names it reads (see [`crate::sql::relations`]).
    pub fn gaps_read_by<'a>(&'a self, catalog: &Catalog, read: &Reads) -> Vec<&'a ModelGaps> {
        self.gaps
            .iter()
            .filter(|g| {
                let scanned = catalog
                    .model_by_name(&g.model)
                    .is_some_and(|m| read.relations.iter().any(|r| is_source(m, r)));
                scanned
                    && (g.blocked
                        || g.findings
                            .iter()
                            .any(|f| f.column.as_deref().is_some_and(|c| read.reads_column(c))))
            })
            .collect()
    }
}

/// Whether `r` is `model`'s source, as the planner renders it.
fn is_source(model: &Model, r: &Relation) -> bool {
    match (&model.source, r) {
        (Source::Table(parts), Relation::Table(names)) => {
            parts.len() == names.len()
                && parts
                    .iter()
                    .zip(names)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        }
        (Source::Sql(sql), Relation::Sql(text)) => sql == text,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::warehouse_check::Gap;
    use crate::governance::{Finding, Severity};

    fn catalog(orders_table: &str) -> std::sync::Arc<Catalog> {
        let text = format!(
            "models:\n  - name: orders\n    source: {{table: {orders_table}}}\n    entities:\n      - {{name: order, type: primary, expr: order_id}}\n    measures:\n      - {{name: revenue, agg: sum, expr: amount}}\n  - name: customers\n    source: {{table: customers}}\n    entities:\n      - {{name: customer, type: primary, expr: customer_id}}\n    dimensions:\n      - {{name: region, type: categorical}}\n"
        );
        crate::definitions::load_files(&[crate::definitions::SourceFile {
            path: "defs/models.yml".into(),
            text,
        }])
        .unwrap_or_else(|d| panic!("{d}"))
    }

    fn finding(model: &str, gap: Gap, column: Option<&str>, msg: &str) -> ModelFinding {
        ModelFinding {
            model: model.into(),
            gap,
            column: column.map(String::from),
            finding: Finding::new(Severity::Error, "warehouse", None, "f", msg),
        }
    }

    fn findings() -> Vec<ModelFinding> {
        vec![
            finding(
                "orders",
                Gap::MissingTable,
                None,
                "table `orders` does not exist in the warehouse",
            ),
            finding(
                "customers",
                Gap::MissingColumn,
                Some("region"),
                "column `region` does not exist in table `customers`",
            ),
            finding("customers", Gap::TypeMisuse, None, "mistyped"),
        ]
    }

    #[test]
    fn groups_findings_by_model_with_the_demo_fix() {
        let url: WarehouseUrl = "duckdb://new.duckdb".parse().unwrap();
        let c = catalog("orders");
        let r = ServingReport::new(&c, findings(), &url, Path::new("metric_defs"));
        assert_eq!(
            (r.models, r.gaps.len(), r.blocked(), r.mistyped),
            (2, 2, 1, 1)
        );
        assert!(r.gaps_of("orders").is_some_and(|g| g.blocked));
        assert_eq!(
            r.fix,
            Fix::Demo {
                command: "accord demo init --warehouse duckdb://new.duckdb".into()
            }
        );
        let text = r.text().expect("a report");
        assert!(
            text.starts_with("warning: 2 of 2 models cannot be fully served"),
            "{text}"
        );
        assert!(
            text.contains(
                "model `orders` (answers nothing):\n    f: table `orders` does not exist"
            ),
            "{text}"
        );
        assert!(text.contains("stop it first"), "{text}");
    }

    #[test]
    fn other_definitions_are_told_to_create_or_correct() {
        let url: WarehouseUrl = "postgres://u:secret@db/x".parse().unwrap();
        let c = catalog("shop.orders_v2");
        let r = ServingReport::new(&c, findings(), &url, Path::new("defs"));
        assert_eq!(
            r.fix,
            Fix::Definitions {
                validate: "accord validate --warehouse postgres://u:***@db/x --defs defs".into()
            }
        );
        assert!(!r.text().unwrap_or_default().contains("secret"));
    }

    #[test]
    fn a_statement_runs_into_missing_tables_and_the_missing_columns_it_reads() {
        let url: WarehouseUrl = "duckdb://new.duckdb".parse().unwrap();
        let c = catalog("orders");
        let r = ServingReport::new(&c, findings(), &url, Path::new("metric_defs"));
        let read = |tables: &[&str], columns: &[&str]| Reads {
            relations: tables
                .iter()
                .map(|t| Relation::Table(vec![t.to_string()]))
                .collect(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        };
        let names =
            |gaps: Vec<&ModelGaps>| gaps.iter().map(|g| g.model.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(r.gaps_read_by(&c, &read(&["orders"], &["amount"]))),
            ["orders"]
        );
        assert!(
            r.gaps_read_by(&c, &read(&["customers"], &["customer_id"]))
                .is_empty()
        );
        assert_eq!(
            names(r.gaps_read_by(&c, &read(&["customers"], &["region"]))),
            ["customers"]
        );
    }
}

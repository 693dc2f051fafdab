//! A whole build as SQL text, for review (`accord identity compile`) and
//! snapshot tests.

use chrono::NaiveDateTime;

use super::super::sql::Statement;
use super::{Compiler, Mode};
use crate::catalog::Catalog;

impl Compiler<'_> {
    /// Work tables to drop at the end.
    pub fn cleanup(&self) -> Vec<Statement> {
        self.names
            .all_work()
            .into_iter()
            .map(Statement::DropTable)
            .collect()
    }
}

/// Every statement of a full build for one dialect, as a script: one
/// propagation round stands for all (the build repeats it, alternating the
/// two label tables, until the change count is 0); the statements from
/// the ledger inserts to the fingerprint run in one transaction (see
/// [`Compiler::publish`]); the run-log row is left out. Shown by
/// `accord identity compile`; the warehouses accord runs on execute exactly
/// these statements.
pub fn script(
    catalog: &Catalog,
    dialect: crate::dialect::DialectKind,
    run_at: NaiveDateTime,
) -> Result<Vec<String>, String> {
    let comp = compiler(catalog)?;
    let (a, b) = (comp.names.work("lbl_a"), comp.names.work("lbl_b"));
    let mut all = comp.persistent();
    all.extend(comp.fingerprint());
    all.extend(comp.prepare());
    all.extend(comp.seed(Mode::Full));
    all.extend(comp.round(&a, &b));
    all.push(comp.changed(&a, &b));
    all.extend(comp.write(&b));
    all.extend(comp.publish(dialect, 1, run_at));
    all.extend(comp.cleanup());
    render_all(&all, dialect)
}

fn render_all(
    all: &[Statement],
    dialect: crate::dialect::DialectKind,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for s in all {
        let sql = s.render(dialect.dialect()).map_err(|e| e.to_string())?;
        // Index statements render empty where the dialect needs none.
        if !sql.is_empty() {
            out.push(sql);
        }
    }
    Ok(out)
}

/// The incremental seed statements (for review and snapshot tests).
pub fn incremental_seed(
    catalog: &Catalog,
    dialect: crate::dialect::DialectKind,
) -> Result<Vec<String>, String> {
    let comp = compiler(catalog)?;
    render_all(&comp.seed(Mode::Incremental), dialect)
}

fn compiler(catalog: &Catalog) -> Result<Compiler<'_>, String> {
    let identity = catalog
        .identity
        .as_ref()
        .ok_or("the definitions have no `identity:` section")?;
    Ok(Compiler::new(catalog, identity))
}

//! Publishing a run: ledger, swap of the map and graph snapshot, fingerprint.

use chrono::NaiveDateTime;

use super::super::sql::Statement;
use super::Compiler;

impl Compiler<'_> {
    /// What makes this run visible, meant to run in one transaction
    /// ([`Warehouse::execute_batch_atomic`](crate::warehouse::Warehouse::execute_batch_atomic)):
    /// the ledger entries (they compare the current map with the next), the
    /// next map and graph snapshot swapped in, the run's fingerprint. The
    /// next map already has its indexes.
    ///
    /// The swap: where DDL is transactional (PostgreSQL, DuckDB, SQLite, and
    /// the other dialects as far as they allow) `DROP TABLE map` + `ALTER
    /// TABLE next RENAME TO map`, which readers see at commit; MySQL/MariaDB
    /// and ClickHouse commit around DDL, so there one `RENAME TABLE map TO
    /// old, next TO map` swaps atomically and `old` is dropped afterwards.
    pub fn publish(
        &self,
        dialect: crate::dialect::DialectKind,
        run_id: i64,
        run_at: NaiveDateTime,
    ) -> Vec<Statement> {
        use crate::dialect::DialectKind::{Clickhouse, Mysql};
        let n = &self.names;
        let swaps = [
            (n.work("map_next"), n.map.clone(), n.work("map_old")),
            (n.work("graph_keep"), n.graph.clone(), n.work("graph_old")),
        ];
        let mut out = Vec::new();
        let rename_all = matches!(dialect, Mysql | Clickhouse);
        if rename_all {
            // Left over by a run that failed between rename and drop.
            out.extend(
                swaps
                    .iter()
                    .map(|(_, _, old)| Statement::DropTable(old.clone())),
            );
        }
        out.extend(self.ledger(run_id, run_at));
        if rename_all {
            let mut pairs = Vec::new();
            for (next, current, old) in &swaps {
                pairs.push((current.clone(), old.clone()));
                pairs.push((next.clone(), current.clone()));
            }
            out.push(Statement::RenameTables(pairs));
            out.extend(
                swaps
                    .iter()
                    .map(|(_, _, old)| Statement::DropTable(old.clone())),
            );
        } else {
            for (next, current, _) in &swaps {
                out.push(Statement::DropTable(current.clone()));
                out.push(Statement::Rename {
                    from: next.clone(),
                    to: current.clone(),
                });
            }
        }
        out.push(self.record_fingerprint(run_id));
        out
    }
}

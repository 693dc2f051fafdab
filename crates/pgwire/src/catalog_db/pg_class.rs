//! `pg_class`: one ordinary table (`relkind = 'r'`) per exposed table.

use super::script::{Script, q};
use super::{PUBLIC_OID, Relation, pgc_table, table_oid};

pub(super) const RELATIONS: &[Relation] = &[pgc_table(
    "pg_class",
    "oid UINTEGER, relname VARCHAR, relnamespace UINTEGER, reltype UINTEGER, reloftype UINTEGER, relowner UINTEGER, relam UINTEGER, relfilenode UINTEGER, reltablespace UINTEGER, relpages INTEGER, reltuples REAL, relallvisible INTEGER, reltoastrelid UINTEGER, relhasindex BOOLEAN, relisshared BOOLEAN, relpersistence VARCHAR, relkind VARCHAR, relnatts SMALLINT, relchecks SMALLINT, relhasoids BOOLEAN, relhasrules BOOLEAN, relhastriggers BOOLEAN, relhassubclass BOOLEAN, relrowsecurity BOOLEAN, relforcerowsecurity BOOLEAN, relispopulated BOOLEAN, relreplident VARCHAR, relispartition BOOLEAN, relrewrite UINTEGER, relfrozenxid BIGINT, relminmxid BIGINT, relacl VARCHAR, reloptions VARCHAR[], relpartbound VARCHAR, xmin BIGINT",
)];

pub(super) fn rows(s: &mut Script<'_>) {
    for (i, t) in s.exposed.tables.iter().enumerate() {
        let oid = table_oid(i);
        let reltype = oid + 1;
        s.push(&format!(
            "INSERT INTO pgc.pg_class VALUES ({oid}, {}, {PUBLIC_OID}, {reltype}, 0, 10, 2, {oid}, 0, 0, -1, 0, 0, false, false, 'p', 'r', {}, 0, false, false, false, false, false, false, true, 'd', false, 0, 0, 0, NULL, NULL, NULL, 1)",
            q(&t.name),
            t.columns.len()
        ));
    }
}

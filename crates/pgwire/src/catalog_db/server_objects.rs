//! What every PostgreSQL server has: access methods (`pg_am`),
//! tablespaces, languages and the `plpgsql` extension.

use super::script::Script;
use super::{PG_CATALOG_OID, Relation, pgc_table};

pub(super) const RELATIONS: &[Relation] = &[
    pgc_table(
        "pg_am",
        "oid UINTEGER, amname VARCHAR, amhandler VARCHAR, amtype VARCHAR",
    ),
    pgc_table(
        "pg_tablespace",
        "oid UINTEGER, spcname VARCHAR, spcowner UINTEGER, spcacl VARCHAR, spcoptions VARCHAR[]",
    ),
    pgc_table(
        "pg_language",
        "oid UINTEGER, lanname VARCHAR, lanowner UINTEGER, lanispl BOOLEAN, lanpltrusted BOOLEAN, lanplcallfoid UINTEGER, laninline UINTEGER, lanvalidator UINTEGER, lanacl VARCHAR",
    ),
    pgc_table(
        "pg_extension",
        "oid UINTEGER, extname VARCHAR, extowner UINTEGER, extnamespace UINTEGER, extrelocatable BOOLEAN, extversion VARCHAR, extconfig UINTEGER[], extcondition VARCHAR[]",
    ),
];

pub(super) fn rows(s: &mut Script<'_>) {
    s.push("INSERT INTO pgc.pg_am VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i')");
    s.push("INSERT INTO pgc.pg_tablespace VALUES (1663, 'pg_default', 10, NULL, NULL), (1664, 'pg_global', 10, NULL, NULL)");
    s.push("INSERT INTO pgc.pg_language VALUES (12, 'internal', 10, false, false, 0, 0, 0, NULL), (13, 'c', 10, false, false, 0, 0, 0, NULL), (14, 'sql', 10, false, true, 0, 0, 0, NULL)");
    s.push(&format!("INSERT INTO pgc.pg_extension VALUES (13500, 'plpgsql', 10, {PG_CATALOG_OID}, false, '1.0', NULL, NULL)"));
}

//! `pg_type`: the built-in types (with their array types) and one
//! composite type per exposed table.

use super::script::{Script, q};
use super::types::TYPES;
use super::{PG_CATALOG_OID, PUBLIC_OID, Relation, pgc_table, table_oid};

pub(super) const RELATIONS: &[Relation] = &[pgc_table(
    "pg_type",
    "oid UINTEGER, typname VARCHAR, typnamespace UINTEGER, typowner UINTEGER, typlen SMALLINT, typbyval BOOLEAN, typtype VARCHAR, typcategory VARCHAR, typispreferred BOOLEAN, typisdefined BOOLEAN, typdelim VARCHAR, typrelid UINTEGER, typsubscript VARCHAR, typelem UINTEGER, typarray UINTEGER, typinput VARCHAR, typoutput VARCHAR, typreceive VARCHAR, typsend VARCHAR, typmodin VARCHAR, typmodout VARCHAR, typanalyze VARCHAR, typalign VARCHAR, typstorage VARCHAR, typnotnull BOOLEAN, typbasetype UINTEGER, typtypmod INTEGER, typndims INTEGER, typcollation UINTEGER, typdefaultbin VARCHAR, typdefault VARCHAR, typacl VARCHAR",
)];

pub(super) fn rows(s: &mut Script<'_>) {
    for (oid, name, len, cat, array) in TYPES {
        let byval = matches!(*len, 1 | 2 | 4 | 8);
        s.push(&format!(
            "INSERT INTO pgc.pg_type VALUES ({oid}, {}, {PG_CATALOG_OID}, 10, {len}, {byval}, '{}', '{cat}', false, true, ',', 0, NULL, 0, {array}, '{name}in', '{name}out', '{name}recv', '{name}send', NULL, NULL, NULL, '{}', 'p', false, 0, -1, 0, {}, NULL, NULL, NULL)",
            q(name),
            if *cat == "P" { "p" } else { "b" },
            if *len == 8 { "d" } else if *len == 4 { "i" } else { "c" },
            if *cat == "S" { 100 } else { 0 },
        ));
        if *array != 0 {
            s.push(&format!(
                "INSERT INTO pgc.pg_type VALUES ({array}, {}, {PG_CATALOG_OID}, 10, -1, false, 'b', 'A', false, true, ',', 0, 'array_subscript_handler', {oid}, 0, 'array_in', 'array_out', 'array_recv', 'array_send', NULL, NULL, NULL, 'i', 'x', false, 0, -1, 0, 0, NULL, NULL, NULL)",
                q(&format!("_{name}"))
            ));
        }
    }
    for (i, t) in s.exposed.tables.iter().enumerate() {
        let oid = table_oid(i);
        let reltype = oid + 1;
        s.push(&format!(
            "INSERT INTO pgc.pg_type VALUES ({reltype}, {}, {PUBLIC_OID}, 10, -1, false, 'c', 'C', false, true, ',', {oid}, NULL, 0, 0, 'record_in', 'record_out', 'record_recv', 'record_send', NULL, NULL, NULL, 'd', 'x', false, 0, -1, 0, 0, NULL, NULL, NULL)",
            q(&t.name)
        ));
    }
}

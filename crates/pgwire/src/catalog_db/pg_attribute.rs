//! `pg_attribute`: the columns of every exposed table.

use super::script::{Script, q};
use super::types::type_oid;
use super::{Relation, pgc_table, table_oid};
use crate::warehouse::ColumnType;

pub(super) const RELATIONS: &[Relation] = &[pgc_table(
    "pg_attribute",
    "attrelid UINTEGER, attname VARCHAR, atttypid UINTEGER, attstattarget INTEGER, attlen SMALLINT, attnum SMALLINT, attndims INTEGER, attcacheoff INTEGER, atttypmod INTEGER, attbyval BOOLEAN, attalign VARCHAR, attstorage VARCHAR, attcompression VARCHAR, attnotnull BOOLEAN, atthasdef BOOLEAN, atthasmissing BOOLEAN, attidentity VARCHAR, attgenerated VARCHAR, attisdropped BOOLEAN, attislocal BOOLEAN, attinhcount INTEGER, attcollation UINTEGER, attacl VARCHAR, attoptions VARCHAR[], attfdwoptions VARCHAR[], attmissingval VARCHAR",
)];

pub(super) fn rows(s: &mut Script<'_>) {
    for (i, t) in s.exposed.tables.iter().enumerate() {
        let oid = table_oid(i);
        for (n, c) in t.columns.iter().enumerate() {
            let typ = type_oid(c.ty);
            let (len, byval, align) = match c.ty {
                ColumnType::Integer | ColumnType::Float | ColumnType::Timestamp => (8, true, "d"),
                ColumnType::Boolean => (1, true, "c"),
                ColumnType::Date => (4, true, "i"),
                _ => (-1, false, "i"),
            };
            let collation = if typ == 25 { 100 } else { 0 };
            s.push(&format!(
                "INSERT INTO pgc.pg_attribute VALUES ({oid}, {}, {typ}, -1, {len}, {}, 0, -1, -1, {byval}, '{align}', '{}', '', false, false, false, '', '', false, true, 0, {collation}, NULL, NULL, NULL, NULL)",
                q(&c.name),
                n + 1,
                if len == -1 { "x" } else { "p" }
            ));
        }
    }
}

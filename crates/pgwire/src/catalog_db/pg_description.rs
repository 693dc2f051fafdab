//! `pg_description`: the descriptions of exposed tables (`objsubid` 0)
//! and of their columns (`objsubid` = column number), when the script is
//! built with descriptions.

use super::script::{Script, opt};
use super::{Relation, pgc_table, table_oid};

pub(super) const RELATIONS: &[Relation] = &[pgc_table(
    "pg_description",
    "objoid UINTEGER, classoid UINTEGER, objsubid INTEGER, description VARCHAR",
)];

pub(super) fn rows(s: &mut Script<'_>) {
    if !s.descriptions {
        return;
    }
    for (i, t) in s.exposed.tables.iter().enumerate() {
        let oid = table_oid(i);
        if t.description.is_some() {
            s.push(&format!(
                "INSERT INTO pgc.pg_description VALUES ({oid}, 1259, 0, {})",
                opt(&t.description)
            ));
        }
        for (n, c) in t.columns.iter().enumerate() {
            if c.description.is_some() {
                s.push(&format!(
                    "INSERT INTO pgc.pg_description VALUES ({oid}, 1259, {}, {})",
                    n + 1,
                    opt(&c.description)
                ));
            }
        }
    }
}

//! `pg_database`: the one database a session is connected to, named as the
//! session asked (`getvariable('accord_db')`, set per session).

use super::{Relation, pgc_view};

pub(super) const RELATIONS: &[Relation] = &[pgc_view(
    "pg_database",
    // 16384 is `DATABASE_OID` (a test checks they agree).
    "SELECT 16384::UINTEGER AS oid, getvariable('accord_db') AS datname, 10::UINTEGER AS datdba, 6 AS encoding, 'c' AS datlocprovider, false AS datistemplate, true AS datallowconn, -1 AS datconnlimit, 0::UINTEGER AS datlastsysoid, 0::BIGINT AS datfrozenxid, 0::BIGINT AS datminmxid, 1663::UINTEGER AS dattablespace, 'C.UTF-8' AS datcollate, 'C.UTF-8' AS datctype, NULL::VARCHAR AS daticulocale, NULL::VARCHAR AS datcollversion, NULL::VARCHAR AS datacl",
)];

#[cfg(test)]
mod tests {
    #[test]
    fn the_view_has_the_database_oid() {
        let super::super::relations::Shape::View(select) = super::RELATIONS[0].shape else {
            panic!("a view");
        };
        assert!(select.starts_with(&format!(
            "SELECT {}::UINTEGER AS oid,",
            super::super::DATABASE_OID
        )));
    }
}

//! `pg_namespace`: `pg_catalog`, `public` and `information_schema`.

use super::script::Script;
use super::{INFORMATION_SCHEMA_OID, PG_CATALOG_OID, PUBLIC_OID, Relation, pgc_table};

pub(super) const RELATIONS: &[Relation] = &[pgc_table(
    "pg_namespace",
    "oid UINTEGER, nspname VARCHAR, nspowner UINTEGER, nspacl VARCHAR",
)];

pub(super) fn rows(s: &mut Script<'_>) {
    s.push(&format!(
        "INSERT INTO pgc.pg_namespace VALUES ({PG_CATALOG_OID}, 'pg_catalog', 10, NULL), ({PUBLIC_OID}, 'public', 10, NULL), ({INFORMATION_SCHEMA_OID}, 'information_schema', 10, NULL)"
    ));
}

//! `pg_tables`: the ordinary tables of `pg_class`, as PostgreSQL's view
//! has them.

use super::{Relation, pgc_view};

pub(super) const RELATIONS: &[Relation] = &[pgc_view(
    "pg_tables",
    "SELECT n.nspname AS schemaname, c.relname AS tablename, 'accord' AS tableowner, NULL::VARCHAR AS tablespace, false AS hasindexes, false AS hasrules, false AS hastriggers, false AS rowsecurity FROM pgc.pg_class c JOIN pgc.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'",
)];

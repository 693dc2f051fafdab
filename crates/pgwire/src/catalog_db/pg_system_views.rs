//! System views and shared catalogs tools read but accord has nothing for: always empty.

use super::{Relation, pgc_table};

pub(super) const RELATIONS: &[Relation] = &[
    pgc_table(
        "pg_shdescription",
        "objoid UINTEGER, classoid UINTEGER, description VARCHAR",
    ),
    pgc_table(
        "pg_auth_members",
        "oid UINTEGER, roleid UINTEGER, member UINTEGER, grantor UINTEGER, admin_option BOOLEAN",
    ),
    pgc_table(
        "pg_db_role_setting",
        "setdatabase UINTEGER, setrole UINTEGER, setconfig VARCHAR[]",
    ),
    pgc_table(
        "pg_locks",
        "locktype VARCHAR, database UINTEGER, relation UINTEGER, pid INTEGER, mode VARCHAR, granted BOOLEAN",
    ),
    pgc_table(
        "pg_timezone_names",
        "name VARCHAR, abbrev VARCHAR, utc_offset INTERVAL, is_dst BOOLEAN",
    ),
    pgc_table(
        "pg_available_extensions",
        "name VARCHAR, default_version VARCHAR, installed_version VARCHAR, comment VARCHAR",
    ),
    pgc_table(
        "pg_matviews",
        "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, tablespace VARCHAR, hasindexes BOOLEAN, ispopulated BOOLEAN, definition VARCHAR",
    ),
    pgc_table(
        "pg_views",
        "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
    ),
    pgc_table(
        "pg_indexes",
        "schemaname VARCHAR, tablename VARCHAR, indexname VARCHAR, tablespace VARCHAR, indexdef VARCHAR",
    ),
    pgc_table(
        "pg_sequences",
        "schemaname VARCHAR, sequencename VARCHAR, sequenceowner VARCHAR, data_type VARCHAR, start_value BIGINT, min_value BIGINT, max_value BIGINT, increment_by BIGINT, cycle BOOLEAN, cache_size BIGINT, last_value BIGINT",
    ),
    pgc_table(
        "pg_prepared_statements",
        "name VARCHAR, statement VARCHAR, prepare_time TIMESTAMP, parameter_types VARCHAR[], from_sql BOOLEAN",
    ),
    pgc_table(
        "pg_cursors",
        "name VARCHAR, statement VARCHAR, is_holdable BOOLEAN, is_binary BOOLEAN, is_scrollable BOOLEAN, creation_time TIMESTAMP",
    ),
];

//! Statistics views: the session itself in `pg_stat_activity`, and zero
//! counters for every exposed table.

use super::{Relation, pgc_view};

pub(super) const RELATIONS: &[Relation] = &[
    pgc_view(
        "pg_stat_activity",
        "SELECT 16384::UINTEGER AS datid, getvariable('accord_db') AS datname, getvariable('accord_pid') AS pid, 10::UINTEGER AS usesysid, getvariable('accord_user') AS usename, getvariable('accord_app') AS application_name, '127.0.0.1' AS client_addr, NULL::VARCHAR AS client_hostname, 0 AS client_port, NULL::TIMESTAMP AS backend_start, NULL::TIMESTAMP AS xact_start, NULL::TIMESTAMP AS query_start, NULL::TIMESTAMP AS state_change, NULL::VARCHAR AS wait_event_type, NULL::VARCHAR AS wait_event, 'active' AS state, NULL::BIGINT AS backend_xid, NULL::BIGINT AS backend_xmin, '' AS query, 'client backend' AS backend_type",
    ),
    pgc_view(
        "pg_stat_user_tables",
        "SELECT c.oid AS relid, 'public' AS schemaname, c.relname, 0::BIGINT AS seq_scan, 0::BIGINT AS seq_tup_read, 0::BIGINT AS idx_scan, 0::BIGINT AS idx_tup_fetch, 0::BIGINT AS n_tup_ins, 0::BIGINT AS n_tup_upd, 0::BIGINT AS n_tup_del, 0::BIGINT AS n_live_tup, 0::BIGINT AS n_dead_tup FROM pgc.pg_class c WHERE c.relkind = 'r'",
    ),
    pgc_view(
        "pg_stat_all_tables",
        "SELECT * FROM pgc.pg_stat_user_tables",
    ),
    pgc_view(
        "pg_statio_user_tables",
        "SELECT c.oid AS relid, 'public' AS schemaname, c.relname, 0::BIGINT AS heap_blks_read, 0::BIGINT AS heap_blks_hit FROM pgc.pg_class c WHERE c.relkind = 'r'",
    ),
];

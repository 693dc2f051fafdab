//! `pg_catalog` and `information_schema` questions, answered by running
//! them on an in-memory DuckDB that holds empty tables shaped like the
//! models one caller may see, plus PostgreSQL-shaped catalog tables
//! (`pgc.pg_class`, `pgc.pg_attribute`, …, `isc.tables`, `isc.columns`)
//! filled from the same exposed schema, and the catalog functions BI tools
//! call (`version()`, `format_type`, `pg_get_expr`, …) as DuckDB macros.
//! Queries are rewritten from PostgreSQL's spelling to these (schema names,
//! `::regclass` and friends, `OPERATOR(pg_catalog.~)`, `COLLATE`), never
//! matched by their text. Hidden members appear nowhere: a database is
//! built per distinct visibility.

use std::ops::ControlFlow;

use sqlparser::ast as sp;

use super::schema::Exposed;
use crate::warehouse::ColumnType;

pub const PUBLIC_OID: u32 = 2200;
pub const PG_CATALOG_OID: u32 = 11;
pub const INFORMATION_SCHEMA_OID: u32 = 13_000;
pub const FIRST_TABLE_OID: u32 = 16_400;
pub const DATABASE_OID: u32 = 16_384;

/// What a query's rewrite needs from the session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: String,
    pub database: String,
    pub application_name: String,
    pub pid: i32,
}

/// The OID accord gives the `i`-th exposed table.
pub fn table_oid(i: usize) -> u32 {
    FIRST_TABLE_OID + 2 * i as u32
}

/// PostgreSQL type facts: oid, name, length, category, array oid.
pub const TYPES: &[(u32, &str, i32, &str, u32)] = &[
    (16, "bool", 1, "B", 1000),
    (17, "bytea", -1, "U", 1001),
    (18, "char", 1, "S", 1002),
    (19, "name", 64, "S", 1003),
    (20, "int8", 8, "N", 1016),
    (21, "int2", 2, "N", 1005),
    (22, "int2vector", -1, "A", 1006),
    (23, "int4", 4, "N", 1007),
    (24, "regproc", 4, "N", 1008),
    (25, "text", -1, "S", 1009),
    (26, "oid", 4, "N", 1028),
    (28, "xid", 4, "U", 1011),
    (30, "oidvector", -1, "A", 1013),
    (114, "json", -1, "U", 199),
    (700, "float4", 4, "N", 1021),
    (701, "float8", 8, "N", 1022),
    (705, "unknown", -2, "X", 0),
    (1042, "bpchar", -1, "S", 1014),
    (1043, "varchar", -1, "S", 1015),
    (1082, "date", 4, "D", 1182),
    (1083, "time", 8, "D", 1183),
    (1114, "timestamp", 8, "D", 1115),
    (1184, "timestamptz", 8, "D", 1185),
    (1186, "interval", 16, "T", 1187),
    (1700, "numeric", -1, "N", 1231),
    (2205, "regclass", 4, "N", 2210),
    (2206, "regtype", 4, "N", 2211),
    (2950, "uuid", 16, "U", 2951),
    (3802, "jsonb", -1, "U", 3807),
    (2249, "record", -1, "P", 2287),
    (2278, "void", 4, "P", 0),
];

/// `format_type` names.
fn format_name(typname: &str) -> &str {
    match typname {
        "bool" => "boolean",
        "int8" => "bigint",
        "int4" => "integer",
        "int2" => "smallint",
        "float8" => "double precision",
        "float4" => "real",
        "varchar" => "character varying",
        "bpchar" => "character",
        "timestamp" => "timestamp without time zone",
        "timestamptz" => "timestamp with time zone",
        "time" => "time without time zone",
        "char" => "\"char\"",
        other => other,
    }
}

pub fn type_oid(t: ColumnType) -> u32 {
    match t {
        ColumnType::Integer => 20,
        ColumnType::Decimal => 1700,
        ColumnType::Float => 701,
        ColumnType::Text | ColumnType::Null => 25,
        ColumnType::Boolean => 16,
        ColumnType::Date => 1082,
        ColumnType::Timestamp => 1114,
    }
}

fn duck_type(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Integer => "BIGINT",
        ColumnType::Decimal => "DECIMAL(38,10)",
        ColumnType::Float => "DOUBLE",
        ColumnType::Text | ColumnType::Null => "VARCHAR",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp => "TIMESTAMP",
    }
}

/// A SQL string literal.
pub(crate) fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn qi(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(q).unwrap_or_else(|| "NULL".into())
}

/// PostgreSQL-shaped catalog tables: name and columns. Rows for the ones
/// that have any are inserted by [`build_sql`].
const PG_TABLES: &[(&str, &str)] = &[
    (
        "pg_namespace",
        "oid UINTEGER, nspname VARCHAR, nspowner UINTEGER, nspacl VARCHAR",
    ),
    (
        "pg_class",
        "oid UINTEGER, relname VARCHAR, relnamespace UINTEGER, reltype UINTEGER, reloftype UINTEGER, relowner UINTEGER, relam UINTEGER, relfilenode UINTEGER, reltablespace UINTEGER, relpages INTEGER, reltuples REAL, relallvisible INTEGER, reltoastrelid UINTEGER, relhasindex BOOLEAN, relisshared BOOLEAN, relpersistence VARCHAR, relkind VARCHAR, relnatts SMALLINT, relchecks SMALLINT, relhasoids BOOLEAN, relhasrules BOOLEAN, relhastriggers BOOLEAN, relhassubclass BOOLEAN, relrowsecurity BOOLEAN, relforcerowsecurity BOOLEAN, relispopulated BOOLEAN, relreplident VARCHAR, relispartition BOOLEAN, relrewrite UINTEGER, relfrozenxid BIGINT, relminmxid BIGINT, relacl VARCHAR, reloptions VARCHAR[], relpartbound VARCHAR, xmin BIGINT",
    ),
    (
        "pg_attribute",
        "attrelid UINTEGER, attname VARCHAR, atttypid UINTEGER, attstattarget INTEGER, attlen SMALLINT, attnum SMALLINT, attndims INTEGER, attcacheoff INTEGER, atttypmod INTEGER, attbyval BOOLEAN, attalign VARCHAR, attstorage VARCHAR, attcompression VARCHAR, attnotnull BOOLEAN, atthasdef BOOLEAN, atthasmissing BOOLEAN, attidentity VARCHAR, attgenerated VARCHAR, attisdropped BOOLEAN, attislocal BOOLEAN, attinhcount INTEGER, attcollation UINTEGER, attacl VARCHAR, attoptions VARCHAR[], attfdwoptions VARCHAR[], attmissingval VARCHAR",
    ),
    (
        "pg_type",
        "oid UINTEGER, typname VARCHAR, typnamespace UINTEGER, typowner UINTEGER, typlen SMALLINT, typbyval BOOLEAN, typtype VARCHAR, typcategory VARCHAR, typispreferred BOOLEAN, typisdefined BOOLEAN, typdelim VARCHAR, typrelid UINTEGER, typsubscript VARCHAR, typelem UINTEGER, typarray UINTEGER, typinput VARCHAR, typoutput VARCHAR, typreceive VARCHAR, typsend VARCHAR, typmodin VARCHAR, typmodout VARCHAR, typanalyze VARCHAR, typalign VARCHAR, typstorage VARCHAR, typnotnull BOOLEAN, typbasetype UINTEGER, typtypmod INTEGER, typndims INTEGER, typcollation UINTEGER, typdefaultbin VARCHAR, typdefault VARCHAR, typacl VARCHAR",
    ),
    (
        "pg_database",
        "oid UINTEGER, datname VARCHAR, datdba UINTEGER, encoding INTEGER, datlocprovider VARCHAR, datistemplate BOOLEAN, datallowconn BOOLEAN, datconnlimit INTEGER, datlastsysoid UINTEGER, datfrozenxid BIGINT, datminmxid BIGINT, dattablespace UINTEGER, datcollate VARCHAR, datctype VARCHAR, daticulocale VARCHAR, datcollversion VARCHAR, datacl VARCHAR",
    ),
    (
        "pg_description",
        "objoid UINTEGER, classoid UINTEGER, objsubid INTEGER, description VARCHAR",
    ),
    (
        "pg_shdescription",
        "objoid UINTEGER, classoid UINTEGER, description VARCHAR",
    ),
    (
        "pg_index",
        "indexrelid UINTEGER, indrelid UINTEGER, indnatts SMALLINT, indnkeyatts SMALLINT, indisunique BOOLEAN, indnullsnotdistinct BOOLEAN, indisprimary BOOLEAN, indisexclusion BOOLEAN, indimmediate BOOLEAN, indisclustered BOOLEAN, indisvalid BOOLEAN, indcheckxmin BOOLEAN, indisready BOOLEAN, indislive BOOLEAN, indisreplident BOOLEAN, indkey VARCHAR, indcollation VARCHAR, indclass VARCHAR, indoption VARCHAR, indexprs VARCHAR, indpred VARCHAR",
    ),
    (
        "pg_constraint",
        "oid UINTEGER, conname VARCHAR, connamespace UINTEGER, contype VARCHAR, condeferrable BOOLEAN, condeferred BOOLEAN, convalidated BOOLEAN, conrelid UINTEGER, contypid UINTEGER, conindid UINTEGER, conparentid UINTEGER, confrelid UINTEGER, confupdtype VARCHAR, confdeltype VARCHAR, confmatchtype VARCHAR, conislocal BOOLEAN, coninhcount INTEGER, connoinherit BOOLEAN, conkey SMALLINT[], confkey SMALLINT[], conpfeqop UINTEGER[], conppeqop UINTEGER[], conffeqop UINTEGER[], confdelsetcols SMALLINT[], conexclop UINTEGER[], conbin VARCHAR",
    ),
    (
        "pg_attrdef",
        "oid UINTEGER, adrelid UINTEGER, adnum SMALLINT, adbin VARCHAR",
    ),
    (
        "pg_inherits",
        "inhrelid UINTEGER, inhparent UINTEGER, inhseqno INTEGER, inhdetachpending BOOLEAN",
    ),
    (
        "pg_proc",
        "oid UINTEGER, proname VARCHAR, pronamespace UINTEGER, proowner UINTEGER, prolang UINTEGER, procost REAL, prorows REAL, provariadic UINTEGER, prosupport VARCHAR, prokind VARCHAR, prosecdef BOOLEAN, proleakproof BOOLEAN, proisstrict BOOLEAN, proretset BOOLEAN, provolatile VARCHAR, proparallel VARCHAR, pronargs SMALLINT, pronargdefaults SMALLINT, prorettype UINTEGER, proargtypes VARCHAR, proallargtypes UINTEGER[], proargmodes VARCHAR[], proargnames VARCHAR[], proargdefaults VARCHAR, protrftypes UINTEGER[], prosrc VARCHAR, probin VARCHAR, prosqlbody VARCHAR, proconfig VARCHAR[], proacl VARCHAR, proisagg BOOLEAN, proiswindow BOOLEAN",
    ),
    (
        "pg_trigger",
        "oid UINTEGER, tgrelid UINTEGER, tgparentid UINTEGER, tgname VARCHAR, tgfoid UINTEGER, tgtype SMALLINT, tgenabled VARCHAR, tgisinternal BOOLEAN, tgconstrrelid UINTEGER, tgconstrindid UINTEGER, tgconstraint UINTEGER, tgdeferrable BOOLEAN, tginitdeferred BOOLEAN, tgnargs SMALLINT, tgattr VARCHAR, tgargs VARCHAR, tgqual VARCHAR, tgoldtable VARCHAR, tgnewtable VARCHAR",
    ),
    (
        "pg_rewrite",
        "oid UINTEGER, rulename VARCHAR, ev_class UINTEGER, ev_type VARCHAR, ev_enabled VARCHAR, is_instead BOOLEAN, ev_qual VARCHAR, ev_action VARCHAR",
    ),
    (
        "pg_policy",
        "oid UINTEGER, polname VARCHAR, polrelid UINTEGER, polcmd VARCHAR, polpermissive BOOLEAN, polroles UINTEGER[], polqual VARCHAR, polwithcheck VARCHAR",
    ),
    (
        "pg_am",
        "oid UINTEGER, amname VARCHAR, amhandler VARCHAR, amtype VARCHAR",
    ),
    (
        "pg_tablespace",
        "oid UINTEGER, spcname VARCHAR, spcowner UINTEGER, spcacl VARCHAR, spcoptions VARCHAR[]",
    ),
    (
        "pg_enum",
        "oid UINTEGER, enumtypid UINTEGER, enumsortorder REAL, enumlabel VARCHAR",
    ),
    (
        "pg_range",
        "rngtypid UINTEGER, rngsubtype UINTEGER, rngmultitypid UINTEGER, rngcollation UINTEGER, rngsubopc UINTEGER, rngcanonical VARCHAR, rngsubdiff VARCHAR",
    ),
    (
        "pg_collation",
        "oid UINTEGER, collname VARCHAR, collnamespace UINTEGER, collowner UINTEGER, collprovider VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER, collcollate VARCHAR, collctype VARCHAR, colliculocale VARCHAR, collicurules VARCHAR, collversion VARCHAR",
    ),
    (
        "pg_extension",
        "oid UINTEGER, extname VARCHAR, extowner UINTEGER, extnamespace UINTEGER, extrelocatable BOOLEAN, extversion VARCHAR, extconfig UINTEGER[], extcondition VARCHAR[]",
    ),
    (
        "pg_statistic_ext",
        "oid UINTEGER, stxrelid UINTEGER, stxname VARCHAR, stxnamespace UINTEGER, stxowner UINTEGER, stxstattarget INTEGER, stxkeys VARCHAR, stxkind VARCHAR[], stxexprs VARCHAR",
    ),
    (
        "pg_partitioned_table",
        "partrelid UINTEGER, partstrat VARCHAR, partnatts SMALLINT, partdefid UINTEGER, partattrs VARCHAR, partclass VARCHAR, partcollation VARCHAR, partexprs VARCHAR",
    ),
    (
        "pg_foreign_table",
        "ftrelid UINTEGER, ftserver UINTEGER, ftoptions VARCHAR[]",
    ),
    (
        "pg_foreign_server",
        "oid UINTEGER, srvname VARCHAR, srvowner UINTEGER, srvfdw UINTEGER, srvtype VARCHAR, srvversion VARCHAR, srvacl VARCHAR, srvoptions VARCHAR[]",
    ),
    (
        "pg_foreign_data_wrapper",
        "oid UINTEGER, fdwname VARCHAR, fdwowner UINTEGER, fdwhandler UINTEGER, fdwvalidator UINTEGER, fdwacl VARCHAR, fdwoptions VARCHAR[]",
    ),
    (
        "pg_sequence",
        "seqrelid UINTEGER, seqtypid UINTEGER, seqstart BIGINT, seqincrement BIGINT, seqmax BIGINT, seqmin BIGINT, seqcache BIGINT, seqcycle BOOLEAN",
    ),
    (
        "pg_event_trigger",
        "oid UINTEGER, evtname VARCHAR, evtevent VARCHAR, evtowner UINTEGER, evtfoid UINTEGER, evtenabled VARCHAR, evttags VARCHAR[]",
    ),
    (
        "pg_publication",
        "oid UINTEGER, pubname VARCHAR, pubowner UINTEGER, puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    ),
    (
        "pg_publication_namespace",
        "oid UINTEGER, pnpubid UINTEGER, pnnspid UINTEGER",
    ),
    (
        "pg_publication_rel",
        "oid UINTEGER, prpubid UINTEGER, prrelid UINTEGER, prqual VARCHAR, prattrs VARCHAR",
    ),
    (
        "pg_subscription",
        "oid UINTEGER, subdbid UINTEGER, subname VARCHAR, subowner UINTEGER, subenabled BOOLEAN",
    ),
    (
        "pg_depend",
        "classid UINTEGER, objid UINTEGER, objsubid INTEGER, refclassid UINTEGER, refobjid UINTEGER, refobjsubid INTEGER, deptype VARCHAR",
    ),
    (
        "pg_cast",
        "oid UINTEGER, castsource UINTEGER, casttarget UINTEGER, castfunc UINTEGER, castcontext VARCHAR, castmethod VARCHAR",
    ),
    (
        "pg_operator",
        "oid UINTEGER, oprname VARCHAR, oprnamespace UINTEGER, oprowner UINTEGER, oprkind VARCHAR, oprcanmerge BOOLEAN, oprcanhash BOOLEAN, oprleft UINTEGER, oprright UINTEGER, oprresult UINTEGER, oprcom UINTEGER, oprnegate UINTEGER, oprcode VARCHAR, oprrest VARCHAR, oprjoin VARCHAR",
    ),
    (
        "pg_opclass",
        "oid UINTEGER, opcmethod UINTEGER, opcname VARCHAR, opcnamespace UINTEGER, opcowner UINTEGER, opcfamily UINTEGER, opcintype UINTEGER, opcdefault BOOLEAN, opckeytype UINTEGER",
    ),
    (
        "pg_language",
        "oid UINTEGER, lanname VARCHAR, lanowner UINTEGER, lanispl BOOLEAN, lanpltrusted BOOLEAN, lanplcallfoid UINTEGER, laninline UINTEGER, lanvalidator UINTEGER, lanacl VARCHAR",
    ),
    (
        "pg_auth_members",
        "oid UINTEGER, roleid UINTEGER, member UINTEGER, grantor UINTEGER, admin_option BOOLEAN",
    ),
    (
        "pg_db_role_setting",
        "setdatabase UINTEGER, setrole UINTEGER, setconfig VARCHAR[]",
    ),
    (
        "pg_locks",
        "locktype VARCHAR, database UINTEGER, relation UINTEGER, pid INTEGER, mode VARCHAR, granted BOOLEAN",
    ),
    (
        "pg_statistic",
        "starelid UINTEGER, staattnum SMALLINT, stainherit BOOLEAN, stanullfrac REAL, stawidth INTEGER, stadistinct REAL",
    ),
    (
        "pg_settings",
        "name VARCHAR, setting VARCHAR, unit VARCHAR, category VARCHAR, short_desc VARCHAR, extra_desc VARCHAR, context VARCHAR, vartype VARCHAR, source VARCHAR, min_val VARCHAR, max_val VARCHAR, enumvals VARCHAR[], boot_val VARCHAR, reset_val VARCHAR, sourcefile VARCHAR, sourceline INTEGER, pending_restart BOOLEAN",
    ),
    (
        "pg_timezone_names",
        "name VARCHAR, abbrev VARCHAR, utc_offset INTERVAL, is_dst BOOLEAN",
    ),
    (
        "pg_available_extensions",
        "name VARCHAR, default_version VARCHAR, installed_version VARCHAR, comment VARCHAR",
    ),
    (
        "pg_matviews",
        "schemaname VARCHAR, matviewname VARCHAR, matviewowner VARCHAR, tablespace VARCHAR, hasindexes BOOLEAN, ispopulated BOOLEAN, definition VARCHAR",
    ),
    (
        "pg_views",
        "schemaname VARCHAR, viewname VARCHAR, viewowner VARCHAR, definition VARCHAR",
    ),
    (
        "pg_indexes",
        "schemaname VARCHAR, tablename VARCHAR, indexname VARCHAR, tablespace VARCHAR, indexdef VARCHAR",
    ),
    (
        "pg_sequences",
        "schemaname VARCHAR, sequencename VARCHAR, sequenceowner VARCHAR, data_type VARCHAR, start_value BIGINT, min_value BIGINT, max_value BIGINT, increment_by BIGINT, cycle BOOLEAN, cache_size BIGINT, last_value BIGINT",
    ),
    (
        "pg_prepared_statements",
        "name VARCHAR, statement VARCHAR, prepare_time TIMESTAMP, parameter_types VARCHAR[], from_sql BOOLEAN",
    ),
    (
        "pg_cursors",
        "name VARCHAR, statement VARCHAR, is_holdable BOOLEAN, is_binary BOOLEAN, is_scrollable BOOLEAN, creation_time TIMESTAMP",
    ),
];

/// information_schema tables that are always empty here.
const ISC_EMPTY: &[(&str, &str)] = &[
    (
        "views",
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, view_definition VARCHAR, check_option VARCHAR, is_updatable VARCHAR, is_insertable_into VARCHAR, is_trigger_updatable VARCHAR, is_trigger_deletable VARCHAR, is_trigger_insertable_into VARCHAR",
    ),
    (
        "routines",
        "specific_catalog VARCHAR, specific_schema VARCHAR, specific_name VARCHAR, routine_catalog VARCHAR, routine_schema VARCHAR, routine_name VARCHAR, routine_type VARCHAR, data_type VARCHAR, type_udt_name VARCHAR, routine_definition VARCHAR, external_language VARCHAR",
    ),
    (
        "parameters",
        "specific_catalog VARCHAR, specific_schema VARCHAR, specific_name VARCHAR, ordinal_position INTEGER, parameter_mode VARCHAR, parameter_name VARCHAR, data_type VARCHAR, udt_name VARCHAR",
    ),
    (
        "table_constraints",
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, constraint_type VARCHAR, is_deferrable VARCHAR, initially_deferred VARCHAR, enforced VARCHAR, nulls_distinct VARCHAR",
    ),
    (
        "key_column_usage",
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, ordinal_position INTEGER, position_in_unique_constraint INTEGER",
    ),
    (
        "referential_constraints",
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, unique_constraint_catalog VARCHAR, unique_constraint_schema VARCHAR, unique_constraint_name VARCHAR, match_option VARCHAR, update_rule VARCHAR, delete_rule VARCHAR",
    ),
    (
        "constraint_column_usage",
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR",
    ),
    (
        "check_constraints",
        "constraint_catalog VARCHAR, constraint_schema VARCHAR, constraint_name VARCHAR, check_clause VARCHAR",
    ),
    (
        "sequences",
        "sequence_catalog VARCHAR, sequence_schema VARCHAR, sequence_name VARCHAR, data_type VARCHAR",
    ),
    (
        "triggers",
        "trigger_catalog VARCHAR, trigger_schema VARCHAR, trigger_name VARCHAR, event_manipulation VARCHAR, event_object_schema VARCHAR, event_object_table VARCHAR",
    ),
    (
        "table_privileges",
        "grantor VARCHAR, grantee VARCHAR, table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, privilege_type VARCHAR, is_grantable VARCHAR, with_hierarchy VARCHAR",
    ),
    (
        "column_privileges",
        "grantor VARCHAR, grantee VARCHAR, table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, privilege_type VARCHAR, is_grantable VARCHAR",
    ),
    ("enabled_roles", "role_name VARCHAR"),
    (
        "character_sets",
        "character_set_catalog VARCHAR, character_set_schema VARCHAR, character_set_name VARCHAR, character_repertoire VARCHAR, form_of_use VARCHAR, default_collate_catalog VARCHAR, default_collate_schema VARCHAR, default_collate_name VARCHAR",
    ),
];

/// Catalog functions BI tools call, as DuckDB macros in schema `pgc`.
/// Every name here is also what `pg_catalog.<name>` is rewritten to.
const MACROS: &[(&str, &str)] = &[
    ("version", "() AS getvariable('accord_version')"),
    ("current_schema", "() AS 'public'"),
    (
        "current_schemas",
        "(b) AS CASE WHEN b THEN ['pg_catalog', 'public'] ELSE ['public'] END",
    ),
    ("current_database", "() AS getvariable('accord_db')"),
    ("pg_table_is_visible", "(o) AS true"),
    ("pg_type_is_visible", "(o) AS true"),
    ("pg_function_is_visible", "(o) AS true"),
    (
        "pg_get_expr",
        "(a, b) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR",
    ),
    (
        "pg_get_constraintdef",
        "(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR",
    ),
    (
        "pg_get_indexdef",
        "(o) AS NULL::VARCHAR, (o, c, p) AS NULL::VARCHAR",
    ),
    (
        "pg_get_viewdef",
        "(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR",
    ),
    (
        "pg_get_triggerdef",
        "(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR",
    ),
    (
        "pg_get_ruledef",
        "(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR",
    ),
    ("pg_get_functiondef", "(o) AS NULL::VARCHAR"),
    ("pg_get_function_arguments", "(o) AS NULL::VARCHAR"),
    ("pg_get_function_identity_arguments", "(o) AS NULL::VARCHAR"),
    ("pg_get_function_result", "(o) AS NULL::VARCHAR"),
    ("pg_get_partkeydef", "(o) AS NULL::VARCHAR"),
    ("pg_get_serial_sequence", "(t, c) AS NULL::VARCHAR"),
    ("pg_get_statisticsobjdef_columns", "(o) AS NULL::VARCHAR"),
    ("pg_get_userbyid", "(o) AS 'accord'"),
    ("pg_encoding_to_char", "(i) AS 'UTF8'"),
    ("pg_char_to_encoding", "(s) AS 6"),
    ("has_table_privilege", "(a, b) AS true, (a, b, c) AS true"),
    ("has_schema_privilege", "(a, b) AS true, (a, b, c) AS true"),
    (
        "has_database_privilege",
        "(a, b) AS true, (a, b, c) AS true",
    ),
    (
        "has_column_privilege",
        "(a, b, c) AS true, (a, b, c, d) AS true",
    ),
    (
        "has_any_column_privilege",
        "(a, b) AS true, (a, b, c) AS true",
    ),
    (
        "has_function_privilege",
        "(a, b) AS true, (a, b, c) AS true",
    ),
    (
        "has_sequence_privilege",
        "(a, b) AS false, (a, b, c) AS false",
    ),
    ("pg_has_role", "(a, b) AS true, (a, b, c) AS true"),
    (
        "obj_description",
        "(o) AS (SELECT max(d.description) FROM pgc.pg_description d WHERE d.objoid = o AND d.objsubid = 0), (o, c) AS (SELECT max(d.description) FROM pgc.pg_description d WHERE d.objoid = o AND d.objsubid = 0)",
    ),
    (
        "col_description",
        "(o, n) AS (SELECT max(d.description) FROM pgc.pg_description d WHERE d.objoid = o AND d.objsubid = n)",
    ),
    ("shobj_description", "(o, c) AS NULL::VARCHAR"),
    ("set_config", "(n, v, l) AS v"),
    (
        "current_setting",
        "(n) AS (SELECT max(s.setting) FROM pgc.pg_settings s WHERE lower(s.name) = lower(n)), (n, m) AS (SELECT max(s.setting) FROM pgc.pg_settings s WHERE lower(s.name) = lower(n))",
    ),
    ("pg_relation_size", "(o) AS 0::BIGINT, (o, f) AS 0::BIGINT"),
    ("pg_total_relation_size", "(o) AS 0::BIGINT"),
    ("pg_table_size", "(o) AS 0::BIGINT"),
    ("pg_indexes_size", "(o) AS 0::BIGINT"),
    ("pg_database_size", "(o) AS 0::BIGINT"),
    ("pg_size_pretty", "(n) AS n::VARCHAR || ' bytes'"),
    ("pg_backend_pid", "() AS getvariable('accord_pid')"),
    (
        "pg_postmaster_start_time",
        "() AS getvariable('accord_started')",
    ),
    ("pg_conf_load_time", "() AS getvariable('accord_started')"),
    ("pg_is_in_recovery", "() AS false"),
    ("txid_current", "() AS 1::BIGINT"),
    ("pg_current_xact_id", "() AS 1::BIGINT"),
    ("inet_server_addr", "() AS '127.0.0.1'"),
    ("inet_server_port", "() AS 5432"),
    ("inet_client_addr", "() AS '127.0.0.1'"),
    ("pg_tablespace_location", "(o) AS ''"),
    ("pg_column_is_updatable", "(o, n, c) AS false"),
    ("pg_relation_is_updatable", "(o, c) AS 0"),
    (
        "quote_ident",
        "(s) AS CASE WHEN regexp_matches(s, '^[a-z_][a-z0-9_]*$') THEN s ELSE '\"' || replace(s, '\"', '\"\"') || '\"' END",
    ),
    (
        "quote_literal",
        r#"(s) AS CASE WHEN s IS NULL THEN NULL WHEN contains(s::VARCHAR, '\') THEN 'E''' || replace(replace(s::VARCHAR, '\', '\\'), '''', '''''') || '''' ELSE '''' || replace(s::VARCHAR, '''', '''''') || '''' END"#,
    ),
    // A qualified name split into its parts: quoted parts kept (doubled
    // quotes undone), unquoted ones folded to lower case.
    (
        "parse_ident",
        r#"(s) AS list_transform(regexp_extract_all(s, '("(?:[^"]|"")*"|[^."]+)'), x -> CASE WHEN starts_with(x, '"') THEN replace(substr(x, 2, length(x) - 2), '""', '"') ELSE lower(trim(x)) END), (s, strict) AS list_transform(regexp_extract_all(s, '("(?:[^"]|"")*"|[^."]+)'), x -> CASE WHEN starts_with(x, '"') THEN replace(substr(x, 2, length(x) - 2), '""', '"') ELSE lower(trim(x)) END)"#,
    ),
    (
        "array_lower",
        "(a, d) AS CASE WHEN len(a) > 0 THEN 1 ELSE NULL END",
    ),
    (
        "array_upper",
        "(a, d) AS CASE WHEN len(a) > 0 THEN len(a) ELSE NULL END",
    ),
    (
        "regclass_oid",
        "(t) AS (SELECT max(c.oid) FROM pgc.pg_class c WHERE c.relname = regexp_replace(regexp_replace(t, '^(\"?public\"?|\"?pg_catalog\"?)\\.', ''), '\"', '', 'g'))",
    ),
    ("pg_relation_is_publishable", "(o) AS false"),
    // Only reached for identity columns, which accord's tables have none of.
    (
        "json_build_object",
        "(a, b) AS NULL::VARCHAR, (a, b, c, d) AS NULL::VARCHAR, (a, b, c, d, e, f) AS NULL::VARCHAR, (a, b, c, d, e, f, g, h) AS NULL::VARCHAR, (a, b, c, d, e, f, g, h, i, j, k, l, m, n) AS NULL::VARCHAR",
    ),
    (
        "regclass_name",
        "(o) AS coalesce((SELECT max(c.relname) FROM pgc.pg_class c WHERE c.oid = o), o::VARCHAR)",
    ),
    (
        "to_regclass",
        "(t) AS (SELECT max(c.oid) FROM pgc.pg_class c WHERE c.relname = regexp_replace(regexp_replace(t, '^(\"?public\"?|\"?pg_catalog\"?)\\.', ''), '\"', '', 'g'))",
    ),
    (
        "regtype_oid",
        "(t) AS (SELECT max(y.oid) FROM pgc.pg_type y LEFT JOIN pgc.accord_type_names f ON f.oid = y.oid WHERE y.typname = lower(t) OR f.name = lower(t))",
    ),
    (
        "to_regtype",
        "(t) AS (SELECT max(y.oid) FROM pgc.pg_type y LEFT JOIN pgc.accord_type_names f ON f.oid = y.oid WHERE y.typname = lower(t) OR f.name = lower(t))",
    ),
    (
        "format_type",
        "(t, m) AS (SELECT max(f.name) FROM pgc.accord_type_names f WHERE f.oid = t)",
    ),
    ("age", "(x) AS 0"),
];

/// Macro names, for rewriting `pg_catalog.<f>(…)`.
pub fn is_macro(name: &str) -> bool {
    MACROS.iter().any(|(n, _)| *n == name)
}

/// The DuckDB script that builds one caller's catalog.
pub fn build_sql(exposed: &Exposed, descriptions: bool) -> String {
    let mut s = String::new();
    // Never fetch extensions: the catalog is self-contained.
    s.push_str(
        "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false;\n",
    );
    s.push_str("CREATE SCHEMA public; CREATE SCHEMA pgc; CREATE SCHEMA isc;\n");
    s.push_str("CREATE TABLE pgc.accord_type_names (oid UINTEGER, name VARCHAR);\n");
    for (oid, name, ..) in TYPES {
        s.push_str(&format!(
            "INSERT INTO pgc.accord_type_names VALUES ({oid}, {});\n",
            q(format_name(name))
        ));
    }
    for (name, cols) in PG_TABLES {
        s.push_str(&format!("CREATE TABLE pgc.{name} ({cols});\n"));
    }
    for (name, cols) in ISC_EMPTY {
        s.push_str(&format!("CREATE TABLE isc.{name} ({cols});\n"));
    }
    for (name, body) in MACROS {
        if *name == "current_setting" {
            // A CASE over the settings rather than a lookup in
            // pg_settings: DuckDB refuses subqueries inside a table
            // function's arguments (Grafana's `generate_series(…
            // current_setting('search_path') …)`).
            let cases: String = SETTINGS
                .iter()
                .map(|(n, v)| format!(" WHEN {} THEN {}", q(n), q(v)))
                .collect();
            s.push_str(&format!(
                "CREATE MACRO pgc.current_setting(n) AS CASE lower(n){cases} END, (n, m) AS CASE lower(n){cases} END;\n"
            ));
            continue;
        }
        s.push_str(&format!("CREATE MACRO pgc.{name}{body};\n"));
    }
    // Namespaces, database, access method, tablespace, types.
    s.push_str(&format!(
        "INSERT INTO pgc.pg_namespace VALUES ({PG_CATALOG_OID}, 'pg_catalog', 10, NULL), ({PUBLIC_OID}, 'public', 10, NULL), ({INFORMATION_SCHEMA_OID}, 'information_schema', 10, NULL);\n"
    ));
    s.push_str("INSERT INTO pgc.pg_am VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i');\n");
    s.push_str("INSERT INTO pgc.pg_tablespace VALUES (1663, 'pg_default', 10, NULL, NULL), (1664, 'pg_global', 10, NULL, NULL);\n");
    s.push_str("INSERT INTO pgc.pg_language VALUES (12, 'internal', 10, false, false, 0, 0, 0, NULL), (13, 'c', 10, false, false, 0, 0, 0, NULL), (14, 'sql', 10, false, true, 0, 0, 0, NULL);\n");
    s.push_str(&format!("INSERT INTO pgc.pg_extension VALUES (13500, 'plpgsql', 10, {PG_CATALOG_OID}, false, '1.0', NULL, NULL);\n"));
    for (oid, name, len, cat, array) in TYPES {
        let byval = matches!(*len, 1 | 2 | 4 | 8);
        s.push_str(&format!(
            "INSERT INTO pgc.pg_type VALUES ({oid}, {}, {PG_CATALOG_OID}, 10, {len}, {byval}, '{}', '{cat}', false, true, ',', 0, NULL, 0, {array}, '{name}in', '{name}out', '{name}recv', '{name}send', NULL, NULL, NULL, '{}', 'p', false, 0, -1, 0, {}, NULL, NULL, NULL);\n",
            q(name),
            if *cat == "P" { "p" } else { "b" },
            if *len == 8 { "d" } else if *len == 4 { "i" } else { "c" },
            if *cat == "S" { 100 } else { 0 },
        ));
        if *array != 0 {
            s.push_str(&format!(
                "INSERT INTO pgc.pg_type VALUES ({array}, {}, {PG_CATALOG_OID}, 10, -1, false, 'b', 'A', false, true, ',', 0, 'array_subscript_handler', {oid}, 0, 'array_in', 'array_out', 'array_recv', 'array_send', NULL, NULL, NULL, 'i', 'x', false, 0, -1, 0, 0, NULL, NULL, NULL);\n",
                q(&format!("_{name}"))
            ));
        }
    }
    // Models: empty tables, pg_class / pg_attribute / descriptions,
    // information_schema.tables / columns.
    s.push_str("CREATE TABLE isc.schemata (catalog_name VARCHAR, schema_name VARCHAR, schema_owner VARCHAR, default_character_set_catalog VARCHAR, default_character_set_schema VARCHAR, default_character_set_name VARCHAR, sql_path VARCHAR);\n");
    s.push_str("INSERT INTO isc.schemata VALUES ('accord', 'public', 'accord', NULL, NULL, NULL, NULL), ('accord', 'pg_catalog', 'accord', NULL, NULL, NULL, NULL), ('accord', 'information_schema', 'accord', NULL, NULL, NULL, NULL);\n");
    s.push_str("CREATE TABLE isc.tables (table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR, self_referencing_column_name VARCHAR, reference_generation VARCHAR, user_defined_type_catalog VARCHAR, user_defined_type_schema VARCHAR, user_defined_type_name VARCHAR, is_insertable_into VARCHAR, is_typed VARCHAR, commit_action VARCHAR);\n");
    s.push_str("CREATE TABLE isc.columns (table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, ordinal_position INTEGER, column_default VARCHAR, is_nullable VARCHAR, data_type VARCHAR, character_maximum_length INTEGER, character_octet_length INTEGER, numeric_precision INTEGER, numeric_precision_radix INTEGER, numeric_scale INTEGER, datetime_precision INTEGER, interval_type VARCHAR, interval_precision INTEGER, character_set_catalog VARCHAR, character_set_schema VARCHAR, character_set_name VARCHAR, collation_catalog VARCHAR, collation_schema VARCHAR, collation_name VARCHAR, domain_catalog VARCHAR, domain_schema VARCHAR, domain_name VARCHAR, udt_catalog VARCHAR, udt_schema VARCHAR, udt_name VARCHAR, scope_catalog VARCHAR, scope_schema VARCHAR, scope_name VARCHAR, maximum_cardinality INTEGER, dtd_identifier VARCHAR, is_self_referencing VARCHAR, is_identity VARCHAR, identity_generation VARCHAR, identity_start VARCHAR, identity_increment VARCHAR, identity_maximum VARCHAR, identity_minimum VARCHAR, identity_cycle VARCHAR, is_generated VARCHAR, generation_expression VARCHAR, is_updatable VARCHAR);\n");
    for (i, t) in exposed.tables.iter().enumerate() {
        let oid = table_oid(i);
        let reltype = oid + 1;
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} {}", qi(&c.name), duck_type(c.ty)))
            .collect();
        s.push_str(&format!(
            "CREATE TABLE public.{} ({});\n",
            qi(&t.name),
            if cols.is_empty() {
                "\"?\" VARCHAR".to_string()
            } else {
                cols.join(", ")
            }
        ));
        s.push_str(&format!(
            "INSERT INTO pgc.pg_class VALUES ({oid}, {}, {PUBLIC_OID}, {reltype}, 0, 10, 2, {oid}, 0, 0, -1, 0, 0, false, false, 'p', 'r', {}, 0, false, false, false, false, false, false, true, 'd', false, 0, 0, 0, NULL, NULL, NULL, 1);\n",
            q(&t.name),
            t.columns.len()
        ));
        s.push_str(&format!(
            "INSERT INTO pgc.pg_type VALUES ({reltype}, {}, {PUBLIC_OID}, 10, -1, false, 'c', 'C', false, true, ',', {oid}, NULL, 0, 0, 'record_in', 'record_out', 'record_recv', 'record_send', NULL, NULL, NULL, 'd', 'x', false, 0, -1, 0, 0, NULL, NULL, NULL);\n",
            q(&t.name)
        ));
        s.push_str(&format!(
            "INSERT INTO isc.tables VALUES ('accord', 'public', {}, 'BASE TABLE', NULL, NULL, NULL, NULL, NULL, 'NO', 'NO', NULL);\n",
            q(&t.name)
        ));
        if descriptions && t.description.is_some() {
            s.push_str(&format!(
                "INSERT INTO pgc.pg_description VALUES ({oid}, 1259, 0, {});\n",
                opt(&t.description)
            ));
        }
        for (n, c) in t.columns.iter().enumerate() {
            let typ = type_oid(c.ty);
            let (len, byval, align) = match c.ty {
                ColumnType::Integer | ColumnType::Float | ColumnType::Timestamp => (8, true, "d"),
                ColumnType::Boolean => (1, true, "c"),
                ColumnType::Date => (4, true, "i"),
                _ => (-1, false, "i"),
            };
            let collation = if typ == 25 { 100 } else { 0 };
            s.push_str(&format!(
                "INSERT INTO pgc.pg_attribute VALUES ({oid}, {}, {typ}, -1, {len}, {}, 0, -1, -1, {byval}, '{align}', '{}', '', false, false, false, '', '', false, true, 0, {collation}, NULL, NULL, NULL, NULL);\n",
                q(&c.name),
                n + 1,
                if len == -1 { "x" } else { "p" }
            ));
            if descriptions && c.description.is_some() {
                s.push_str(&format!(
                    "INSERT INTO pgc.pg_description VALUES ({oid}, 1259, {}, {});\n",
                    n + 1,
                    opt(&c.description)
                ));
            }
            let (data_type, udt, prec, radix, scale, dt_prec) = match c.ty {
                ColumnType::Integer => ("bigint", "int8", "64", "2", "0", "NULL"),
                ColumnType::Decimal => ("numeric", "numeric", "NULL", "10", "NULL", "NULL"),
                ColumnType::Float => ("double precision", "float8", "53", "2", "NULL", "NULL"),
                ColumnType::Boolean => ("boolean", "bool", "NULL", "NULL", "NULL", "NULL"),
                ColumnType::Date => ("date", "date", "NULL", "NULL", "NULL", "0"),
                ColumnType::Timestamp => (
                    "timestamp without time zone",
                    "timestamp",
                    "NULL",
                    "NULL",
                    "NULL",
                    "6",
                ),
                _ => ("text", "text", "NULL", "NULL", "NULL", "NULL"),
            };
            s.push_str(&format!(
                "INSERT INTO isc.columns VALUES ('accord', 'public', {}, {}, {}, NULL, 'YES', '{data_type}', NULL, {}, {prec}, {radix}, {scale}, {dt_prec}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'accord', 'pg_catalog', '{udt}', NULL, NULL, NULL, NULL, '{}', 'NO', 'NO', NULL, NULL, NULL, NULL, NULL, 'NO', 'NEVER', NULL, 'NO');\n",
                q(&t.name),
                q(&c.name),
                n + 1,
                if typ == 25 { "1073741824" } else { "NULL" },
                n + 1
            ));
        }
    }
    // Views over the tables above, as PostgreSQL has them.
    s.push_str("CREATE VIEW pgc.pg_tables AS SELECT n.nspname AS schemaname, c.relname AS tablename, 'accord' AS tableowner, NULL::VARCHAR AS tablespace, false AS hasindexes, false AS hasrules, false AS hastriggers, false AS rowsecurity FROM pgc.pg_class c JOIN pgc.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r';\n");
    s.push_str("CREATE VIEW pgc.pg_roles AS SELECT 10::UINTEGER AS oid, getvariable('accord_user') AS rolname, false AS rolsuper, true AS rolinherit, false AS rolcreaterole, false AS rolcreatedb, true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit, '********' AS rolpassword, NULL::TIMESTAMP AS rolvaliduntil, false AS rolbypassrls, NULL::VARCHAR[] AS rolconfig;\n");
    s.push_str("CREATE VIEW pgc.pg_user AS SELECT getvariable('accord_user') AS usename, 10::UINTEGER AS usesysid, false AS usecreatedb, false AS usesuper, false AS userepl, false AS usebypassrls, '********' AS passwd, NULL::TIMESTAMP AS valuntil, NULL::VARCHAR[] AS useconfig;\n");
    s.push_str("CREATE VIEW pgc.pg_authid AS SELECT oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, NULL::VARCHAR AS rolpassword, rolvaliduntil FROM pgc.pg_roles;\n");
    s.push_str(&format!("CREATE VIEW pgc.pg_database_view AS SELECT {DATABASE_OID}::UINTEGER AS oid, getvariable('accord_db') AS datname, 10::UINTEGER AS datdba, 6 AS encoding, 'c' AS datlocprovider, false AS datistemplate, true AS datallowconn, -1 AS datconnlimit, 0::UINTEGER AS datlastsysoid, 0::BIGINT AS datfrozenxid, 0::BIGINT AS datminmxid, 1663::UINTEGER AS dattablespace, 'C.UTF-8' AS datcollate, 'C.UTF-8' AS datctype, NULL::VARCHAR AS daticulocale, NULL::VARCHAR AS datcollversion, NULL::VARCHAR AS datacl;\n"));
    s.push_str(
        "DROP TABLE pgc.pg_database; ALTER VIEW pgc.pg_database_view RENAME TO pg_database;\n",
    );
    s.push_str("CREATE VIEW pgc.pg_stat_activity AS SELECT 16384::UINTEGER AS datid, getvariable('accord_db') AS datname, getvariable('accord_pid') AS pid, 10::UINTEGER AS usesysid, getvariable('accord_user') AS usename, getvariable('accord_app') AS application_name, '127.0.0.1' AS client_addr, NULL::VARCHAR AS client_hostname, 0 AS client_port, NULL::TIMESTAMP AS backend_start, NULL::TIMESTAMP AS xact_start, NULL::TIMESTAMP AS query_start, NULL::TIMESTAMP AS state_change, NULL::VARCHAR AS wait_event_type, NULL::VARCHAR AS wait_event, 'active' AS state, NULL::BIGINT AS backend_xid, NULL::BIGINT AS backend_xmin, '' AS query, 'client backend' AS backend_type;\n");
    s.push_str("CREATE VIEW pgc.pg_stat_user_tables AS SELECT c.oid AS relid, 'public' AS schemaname, c.relname, 0::BIGINT AS seq_scan, 0::BIGINT AS seq_tup_read, 0::BIGINT AS idx_scan, 0::BIGINT AS idx_tup_fetch, 0::BIGINT AS n_tup_ins, 0::BIGINT AS n_tup_upd, 0::BIGINT AS n_tup_del, 0::BIGINT AS n_live_tup, 0::BIGINT AS n_dead_tup FROM pgc.pg_class c WHERE c.relkind = 'r';\n");
    s.push_str("CREATE VIEW pgc.pg_stat_all_tables AS SELECT * FROM pgc.pg_stat_user_tables;\n");
    s.push_str("CREATE VIEW pgc.pg_statio_user_tables AS SELECT c.oid AS relid, 'public' AS schemaname, c.relname, 0::BIGINT AS heap_blks_read, 0::BIGINT AS heap_blks_hit FROM pgc.pg_class c WHERE c.relkind = 'r';\n");
    s.push_str(
        "CREATE VIEW isc.enabled_roles_view AS SELECT getvariable('accord_user') AS role_name;\n",
    );
    // Settings PostgreSQL reports; SHOW and current_setting read them.
    for (name, value) in SETTINGS {
        s.push_str(&format!(
            "INSERT INTO pgc.pg_settings VALUES ({}, {}, NULL, 'accord', NULL, NULL, 'user', 'string', 'default', NULL, NULL, NULL, {}, {}, NULL, NULL, false);\n",
            q(name),
            q(value),
            q(value),
            q(value)
        ));
    }
    s
}

/// Settings a session starts with (also the answers of `SHOW`).
pub const SETTINGS: &[(&str, &str)] = &[
    ("server_version", super::auth::SERVER_VERSION),
    ("server_version_num", "160006"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("datestyle", "ISO, MDY"),
    ("timezone", "UTC"),
    ("intervalstyle", "postgres"),
    ("search_path", "\"$user\", public"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("max_identifier_length", "63"),
    ("transaction_isolation", "read committed"),
    ("default_transaction_isolation", "read committed"),
    ("transaction_read_only", "on"),
    ("default_transaction_read_only", "on"),
    ("is_superuser", "off"),
    ("lc_collate", "C.UTF-8"),
    ("lc_ctype", "C.UTF-8"),
    ("lc_messages", "C.UTF-8"),
    ("lc_monetary", "C.UTF-8"),
    ("lc_numeric", "C.UTF-8"),
    ("lc_time", "C.UTF-8"),
    ("max_index_keys", "32"),
    ("block_size", "8192"),
    ("application_name", ""),
    ("extra_float_digits", "1"),
    ("statement_timeout", "0"),
    ("lock_timeout", "0"),
    ("idle_in_transaction_session_timeout", "0"),
    ("bytea_output", "hex"),
    ("client_min_messages", "notice"),
    ("row_security", "on"),
    ("max_connections", "100"),
    ("ssl", "off"),
    ("data_directory_mode", "0700"),
];

/// Functions in FROM. A set-returning function with an alias and no column
/// list names its one column after the alias in PostgreSQL
/// (`generate_series(1, 3) s` has column `s`). A scalar function in FROM
/// (Grafana's `string_to_array(current_setting('search_path'), ',') s`)
/// is one row holding its value in PostgreSQL; DuckDB only takes table
/// functions there, so it becomes `(SELECT f(…) AS s) AS s`.
struct FunctionAliases;

/// Scalar (array-valued) functions tools put in FROM.
const SCALAR_IN_FROM: &[&str] = &[
    "string_to_array",
    "regexp_split_to_array",
    "current_schemas",
    "parse_ident",
];

impl sp::VisitorMut for FunctionAliases {
    type Break = ();

    fn pre_visit_table_factor(&mut self, t: &mut sp::TableFactor) -> ControlFlow<()> {
        if let sp::TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = t
        {
            let fname = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default();
            if SCALAR_IN_FROM.contains(&fname.as_str()) {
                let column = alias
                    .as_ref()
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| ident(&fname));
                let call = sp::Expr::Function(sp::Function {
                    name: name.clone(),
                    uses_odbc_syntax: false,
                    parameters: sp::FunctionArguments::None,
                    args: sp::FunctionArguments::List(sp::FunctionArgumentList {
                        duplicate_treatment: None,
                        args: args.args.clone(),
                        clauses: vec![],
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                });
                let sql = format!("SELECT {call} AS {column}");
                if let Ok(mut parsed) = sqlparser::parser::Parser::parse_sql(
                    &sqlparser::dialect::PostgreSqlDialect {},
                    &sql,
                ) && let Some(sp::Statement::Query(subquery)) = parsed.pop()
                {
                    *t = sp::TableFactor::Derived {
                        lateral: false,
                        subquery,
                        alias: Some(sp::TableAlias {
                            explicit: true,
                            name: column,
                            columns: vec![],
                            at: None,
                        }),
                        sample: None,
                    };
                }
                return ControlFlow::Continue(());
            }
            if let Some(alias) = alias
                && alias.columns.is_empty()
            {
                alias.columns = vec![sp::TableAliasColumnDef::from_name(alias.name.value.clone())];
            }
        }
        ControlFlow::Continue(())
    }
}

/// PostgreSQL's `format(fmt, args…)` as a concatenation DuckDB runs: `%s`
/// (NULL is empty), `%I` (quote_ident; NULL is an error), `%L`
/// (quote_literal; NULL is `NULL`), `%%`, and positions (`%2$s`). Widths
/// and flags, and a format that is not a literal, become an error at run
/// time saying so, never DuckDB's own `format` (another syntax).
fn pg_format(args: &[sp::Expr]) -> sp::Expr {
    let refuse = |why: &str| {
        call_plain(
            "error",
            vec![lit(&format!(
                "format(): {why}; accord's catalog supports %s, %I, %L, %% and positions like %1$s"
            ))],
        )
    };
    let Some(fmt) = args.first().and_then(string_lit) else {
        return refuse("the format string must be a literal");
    };
    let values = &args[1..];
    let mut pieces: Vec<sp::Expr> = Vec::new();
    let mut text = String::new();
    let mut next = 0usize;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            text.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            text.push('%');
            continue;
        }
        // Optional `n$` position.
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let index = if digits.is_empty() {
            next
        } else if chars.peek() == Some(&'$') {
            chars.next();
            match digits.parse::<usize>() {
                Ok(n) if n >= 1 => n - 1,
                _ => return refuse("positions start at 1"),
            }
        } else {
            return refuse("widths are not supported");
        };
        let Some(value) = values.get(index) else {
            return refuse("too few arguments for the format");
        };
        next = index + 1;
        if !text.is_empty() {
            pieces.push(lit(&std::mem::take(&mut text)));
        }
        let as_text = cast(value.clone(), "VARCHAR");
        let is_null = sp::Expr::IsNull(Box::new(value.clone()));
        let piece = match chars.next() {
            Some('s') => call_plain("coalesce", vec![as_text, lit("")]),
            Some('I') => case(
                is_null,
                call_plain(
                    "error",
                    vec![lit("null values cannot be formatted as an SQL identifier")],
                ),
                call("quote_ident", vec![as_text]),
            ),
            Some('L') => case(is_null, lit("NULL"), call("quote_literal", vec![as_text])),
            Some(other) => {
                return refuse(&format!("unrecognized format() type specifier \"{other}\""));
            }
            None => return refuse("unterminated format() type specifier"),
        };
        pieces.push(piece);
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(lit(&text));
    }
    call_plain("concat", pieces)
}

fn case(condition: sp::Expr, then: sp::Expr, otherwise: sp::Expr) -> sp::Expr {
    sp::Expr::Case {
        case_token: sp::helpers::attached_token::AttachedToken::empty(),
        end_token: sp::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![sp::CaseWhen {
            condition,
            result: then,
        }],
        else_result: Some(Box::new(otherwise)),
    }
}

/// Whether an expression is text (so `::regclass` names a relation rather
/// than turning an oid into its name).
fn is_text_expr(e: &sp::Expr) -> bool {
    match e {
        sp::Expr::Nested(inner) => is_text_expr(inner),
        sp::Expr::BinaryOp {
            op: sp::BinaryOperator::StringConcat,
            ..
        } => true,
        sp::Expr::Cast {
            data_type: sp::DataType::Text | sp::DataType::Varchar(_),
            ..
        } => true,
        sp::Expr::Function(f) => {
            let name = f
                .name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default();
            matches!(
                name.as_str(),
                "concat"
                    | "format"
                    | "quote_ident"
                    | "lower"
                    | "upper"
                    | "replace"
                    | "trim"
                    | "btrim"
            )
        }
        _ => string_lit(e).is_some(),
    }
}

/// Rewrites PostgreSQL's catalog spelling into the DuckDB catalog's.
pub fn rewrite(stmt: &mut sp::Statement, session: &SessionInfo) {
    let _ = sp::VisitMut::visit(stmt, &mut FunctionAliases);
    let _ = sp::visit_relations_mut(stmt, |name| {
        rewrite_relation(name);
        ControlFlow::<()>::Continue(())
    });
    let _ = sp::visit_expressions_mut(stmt, |e| {
        rewrite_expr(e, session);
        ControlFlow::<()>::Continue(())
    });
}

/// Relations the catalog database has in schema `pgc`.
fn is_catalog_table(name: &str) -> bool {
    PG_TABLES.iter().any(|(n, _)| *n == name)
        || matches!(
            name,
            "pg_tables"
                | "pg_roles"
                | "pg_user"
                | "pg_authid"
                | "pg_database"
                | "pg_stat_activity"
                | "pg_stat_user_tables"
                | "pg_stat_all_tables"
                | "pg_statio_user_tables"
        )
}

/// Whether the catalog database has relation `schema.name` (lower case):
/// what a catalog query may read besides its CTEs and the caller's empty
/// model tables.
pub fn has_catalog_relation(schema: &str, name: &str) -> bool {
    match schema {
        "pgc" => is_catalog_table(name) || name == "accord_type_names",
        "isc" => {
            ISC_EMPTY.iter().any(|(n, _)| *n == name)
                || matches!(
                    name,
                    "schemata" | "tables" | "columns" | "enabled_roles_view"
                )
        }
        _ => false,
    }
}

fn ident(s: &str) -> sp::Ident {
    sp::Ident::new(s)
}

fn rewrite_relation(name: &mut sp::ObjectName) {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| {
            p.as_ident()
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect();
    let replaced: Option<Vec<&str>> = match parts
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_, "pg_catalog", t] | ["pg_catalog", t] if is_catalog_table(t) => Some(vec!["pgc", t]),
        [_, "pg_catalog", t] | ["pg_catalog", t] => Some(vec![t]),
        [_, "information_schema", t] | ["information_schema", t] => Some(vec![
            "isc",
            if *t == "enabled_roles" {
                "enabled_roles_view"
            } else {
                t
            },
        ]),
        [t] if is_catalog_table(t) => Some(vec!["pgc", t]),
        [_, "public", t] => Some(vec!["public", t]),
        _ => None,
    };
    if let Some(r) = replaced {
        *name = sp::ObjectName::from(r.into_iter().map(ident).collect::<Vec<_>>());
    }
}

fn string_lit(e: &sp::Expr) -> Option<String> {
    match e {
        sp::Expr::Value(v) => match &v.value {
            sp::Value::SingleQuotedString(s) | sp::Value::EscapedStringLiteral(s) => {
                Some(s.clone())
            }
            _ => None,
        },
        sp::Expr::Nested(inner) => string_lit(inner),
        sp::Expr::Cast {
            expr,
            data_type: sp::DataType::Text | sp::DataType::Varchar(_),
            ..
        } => string_lit(expr),
        _ => None,
    }
}

fn call(name: &str, args: Vec<sp::Expr>) -> sp::Expr {
    sp::Expr::Function(sp::Function {
        name: sp::ObjectName::from(vec![ident("pgc"), ident(name)]),
        uses_odbc_syntax: false,
        parameters: sp::FunctionArguments::None,
        args: sp::FunctionArguments::List(sp::FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// A call of a DuckDB function by its own (unqualified) name.
fn call_plain(name: &str, args: Vec<sp::Expr>) -> sp::Expr {
    let mut c = call(name, args);
    if let sp::Expr::Function(f) = &mut c {
        f.name = sp::ObjectName::from(vec![ident(name)]);
    }
    c
}

fn lit(s: &str) -> sp::Expr {
    sp::Expr::Value(sp::Value::SingleQuotedString(s.to_string()).into())
}

fn cast(e: sp::Expr, ty: &str) -> sp::Expr {
    sp::Expr::Cast {
        kind: sp::CastKind::Cast,
        expr: Box::new(sp::Expr::Nested(Box::new(e))),
        data_type: sp::DataType::Custom(sp::ObjectName::from(vec![ident(ty)]), vec![]),
        format: None,
    }
}

fn custom_type_name(t: &sp::DataType) -> Option<String> {
    match t {
        sp::DataType::Custom(name, _) => name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_ascii_lowercase()),
        sp::DataType::Regclass => Some("regclass".into()),
        sp::DataType::Char(_) | sp::DataType::Character(_) => None,
        _ => None,
    }
}

/// `pg_catalog.int2`, `int2[]`, `name`: types DuckDB knows by other names.
fn fix_type(t: &mut sp::DataType) {
    match t {
        sp::DataType::Array(
            sp::ArrayElemTypeDef::SquareBracket(inner, _)
            | sp::ArrayElemTypeDef::AngleBracket(inner)
            | sp::ArrayElemTypeDef::Parenthesis(inner),
        ) => fix_type(inner),
        sp::DataType::Custom(name, _) => {
            let last = name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .map(|i| i.value.to_ascii_lowercase())
                .unwrap_or_default();
            *t = match last.as_str() {
                "text" | "varchar" | "name" | "char" | "bpchar" | "regproc" | "regtype"
                | "regclass" | "int2vector" | "oidvector" | "aclitem" | "pg_node_tree" => {
                    sp::DataType::Varchar(None)
                }
                "int2" => sp::DataType::SmallInt(None),
                "int4" => sp::DataType::Int(None),
                "int8" => sp::DataType::BigInt(None),
                "oid" | "xid" | "cid" => {
                    sp::DataType::Custom(sp::ObjectName::from(vec![ident("UINTEGER")]), vec![])
                }
                "bool" => sp::DataType::Boolean,
                "float4" => sp::DataType::Real,
                "float8" => sp::DataType::Double(sp::ExactNumberInfo::None),
                _ if name.0.len() > 1 => {
                    sp::DataType::Custom(sp::ObjectName::from(vec![ident(&last)]), vec![])
                }
                _ => return,
            };
        }
        _ => {}
    }
}

fn rewrite_expr(e: &mut sp::Expr, session: &SessionInfo) {
    match e {
        // `user`, `current_user`, … are keywords, not columns, in PostgreSQL.
        sp::Expr::Identifier(i) if i.quote_style.is_none() => {
            match i.value.to_ascii_lowercase().as_str() {
                "current_user" | "session_user" | "user" | "current_role" => {
                    *e = lit(&session.user);
                }
                "current_catalog" => *e = lit(&session.database),
                "current_schema" => *e = lit("public"),
                _ => {}
            }
        }
        sp::Expr::CompoundIdentifier(parts) if parts.len() >= 3 => {
            let first = parts[0].value.to_ascii_lowercase();
            if first == "pg_catalog" {
                parts[0] = ident("pgc");
            } else if first == "information_schema" {
                parts[0] = ident("isc");
            }
        }
        sp::Expr::Function(f) => {
            let parts: Vec<String> = f
                .name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.to_ascii_lowercase()))
                .collect();
            let fname = parts.last().cloned().unwrap_or_default();
            if matches!(f.args, sp::FunctionArguments::None) {
                let replacement = match fname.as_str() {
                    "current_user" | "session_user" | "user" | "current_role" => {
                        Some(lit(&session.user))
                    }
                    "current_catalog" => Some(lit(&session.database)),
                    "current_schema" => Some(lit("public")),
                    _ => None,
                };
                if let Some(r) = replacement {
                    *e = r;
                    return;
                }
            }
            if fname == "format"
                && (parts.len() == 1 || parts[0] == "pg_catalog")
                && let sp::FunctionArguments::List(list) = &f.args
            {
                let args: Option<Vec<sp::Expr>> = list
                    .args
                    .iter()
                    .map(|a| match a {
                        sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(x)) => Some(x.clone()),
                        _ => None,
                    })
                    .collect();
                if let Some(args) = args {
                    *e = pg_format(&args);
                    return;
                }
            }
            if is_macro(&fname) {
                f.name = sp::ObjectName::from(vec![ident("pgc"), ident(&fname)]);
            } else if parts.len() == 2 && parts[0] == "pg_catalog" {
                f.name = sp::ObjectName::from(vec![ident(&fname)]);
            }
        }
        sp::Expr::Cast {
            expr, data_type, ..
        } => {
            let inner = std::mem::replace(expr.as_mut(), sp::Expr::value(sp::Value::Null));
            let tname = custom_type_name(data_type);
            let replacement = match tname.as_deref() {
                // A literal names the object (its oid results); an oid
                // shows as its name, as PostgreSQL prints these types.
                Some("regclass") => Some(match string_lit(&inner) {
                    Some(s) => call("regclass_oid", vec![lit(&s)]),
                    None if is_text_expr(&inner) => call("regclass_oid", vec![inner.clone()]),
                    None => call("regclass_name", vec![inner.clone()]),
                }),
                Some("regtype") => Some(match string_lit(&inner) {
                    Some(s) => call("regtype_oid", vec![lit(&s)]),
                    None => call(
                        "format_type",
                        vec![inner.clone(), sp::Expr::value(sp::Value::Null)],
                    ),
                }),
                Some(
                    "regproc" | "regprocedure" | "regnamespace" | "regrole" | "regoper"
                    | "regoperator" | "regconfig" | "regdictionary",
                ) => Some(match string_lit(&inner) {
                    Some(_) => sp::Expr::value(sp::Value::Number("0".into(), false)),
                    None => inner.clone(),
                }),
                Some("oid" | "xid" | "cid" | "xid8") => Some(cast(inner.clone(), "UINTEGER")),
                Some(
                    "name" | "char" | "\"char\"" | "int2vector" | "oidvector" | "aclitem"
                    | "pg_node_tree" | "bpchar" | "citext" | "pg_lsn",
                ) => Some(cast(inner.clone(), "VARCHAR")),
                _ => None,
            };
            match replacement {
                Some(r) => *e = r,
                None => {
                    // `'{a,b}'::text[]`: PostgreSQL's array literal.
                    if let sp::DataType::Array(_) = data_type
                        && let Some(s) = string_lit(&inner)
                        && s.starts_with('{')
                        && s.ends_with('}')
                    {
                        let items: Vec<sp::Expr> = s[1..s.len() - 1]
                            .split(',')
                            .map(str::trim)
                            .filter(|x| !x.is_empty())
                            .map(|x| lit(x.trim_matches('"')))
                            .collect();
                        *e = sp::Expr::Array(sp::Array {
                            elem: items,
                            named: true,
                        });
                        return;
                    }
                    **expr = inner;
                    fix_type(data_type);
                }
            }
        }
        sp::Expr::BinaryOp { op, left, right } => {
            if let sp::BinaryOperator::PGCustomBinaryOperator(parts) = op {
                let last = parts.last().cloned().unwrap_or_default();
                *op = match last.as_str() {
                    "~" => sp::BinaryOperator::PGRegexMatch,
                    "~*" => sp::BinaryOperator::PGRegexIMatch,
                    "!~" => sp::BinaryOperator::PGRegexNotMatch,
                    "!~*" => sp::BinaryOperator::PGRegexNotIMatch,
                    "=" => sp::BinaryOperator::Eq,
                    "<>" => sp::BinaryOperator::NotEq,
                    "<" => sp::BinaryOperator::Lt,
                    ">" => sp::BinaryOperator::Gt,
                    "<=" => sp::BinaryOperator::LtEq,
                    ">=" => sp::BinaryOperator::GtEq,
                    "~~" => sp::BinaryOperator::PGLikeMatch,
                    "~~*" => sp::BinaryOperator::PGILikeMatch,
                    _ => return,
                };
            }
            let case_insensitive = matches!(
                op,
                sp::BinaryOperator::PGRegexIMatch | sp::BinaryOperator::PGRegexNotIMatch
            );
            if case_insensitive {
                let negated = matches!(op, sp::BinaryOperator::PGRegexNotIMatch);
                let m = sp::Expr::Function(sp::Function {
                    name: sp::ObjectName::from(vec![ident("regexp_matches")]),
                    uses_odbc_syntax: false,
                    parameters: sp::FunctionArguments::None,
                    args: sp::FunctionArguments::List(sp::FunctionArgumentList {
                        duplicate_treatment: None,
                        args: vec![
                            sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr((**left).clone())),
                            sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr((**right).clone())),
                            sp::FunctionArg::Unnamed(sp::FunctionArgExpr::Expr(lit("i"))),
                        ],
                        clauses: vec![],
                    }),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                });
                *e = if negated {
                    sp::Expr::UnaryOp {
                        op: sp::UnaryOperator::Not,
                        expr: Box::new(m),
                    }
                } else {
                    m
                };
            }
        }
        sp::Expr::Collate { expr, .. } => {
            let inner = std::mem::replace(expr.as_mut(), sp::Expr::value(sp::Value::Null));
            *e = inner;
        }
        _ => {}
    }
}

/// Rewrites that apply to text the SQL parser could not read.
pub fn rewrite_text(sql: &str) -> String {
    let mut out = sql.to_string();
    for (from, to) in [
        ("pg_catalog.", "pgc."),
        ("PG_CATALOG.", "pgc."),
        ("information_schema.", "isc."),
        ("INFORMATION_SCHEMA.", "isc."),
        ("OPERATOR(pgc.~)", "~"),
        (" COLLATE pgc.default", ""),
        ("::regclass", "::VARCHAR"),
        ("::regtype", "::VARCHAR"),
        ("::regproc", "::VARCHAR"),
        ("::oid", "::UINTEGER"),
        ("::name", "::VARCHAR"),
    ] {
        out = out.replace(from, to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_catalog_spelling() {
        let info = SessionInfo {
            user: "u".into(),
            database: "d".into(),
            application_name: String::new(),
            pid: 1,
        };
        let mut stmts = sqlparser::parser::Parser::parse_sql(
            &sqlparser::dialect::PostgreSqlDialect {},
            "SELECT typname, oid::regtype::text AS r FROM pg_catalog.pg_type WHERE oid = 'orders'::regclass AND typname OPERATOR(pg_catalog.~) '^x$' COLLATE pg_catalog.default",
        )
        .unwrap();
        rewrite(&mut stmts[0], &info);
        let sql = stmts[0].to_string();
        assert!(!sql.contains("regtype"), "{sql}");
        assert!(!sql.contains("pg_catalog"), "{sql}");
        assert!(sql.contains("pgc.regclass_oid('orders')"), "{sql}");
    }
}

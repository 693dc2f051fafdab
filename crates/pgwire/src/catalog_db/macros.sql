-- Catalog functions BI tools call, as DuckDB macros in schema pgc (see
-- catalog_db/script.rs). Every name here is also what pg_catalog.<name>
-- is rewritten to. current_setting is generated from the settings
-- (pg_settings.rs). One statement a line.

CREATE MACRO pgc.version() AS getvariable('accord_version');
CREATE MACRO pgc.current_schema() AS 'public';
CREATE MACRO pgc.current_schemas(b) AS CASE WHEN b THEN ['pg_catalog', 'public'] ELSE ['public'] END;
CREATE MACRO pgc.current_database() AS getvariable('accord_db');
CREATE MACRO pgc.pg_table_is_visible(o) AS true;
CREATE MACRO pgc.pg_type_is_visible(o) AS true;
CREATE MACRO pgc.pg_function_is_visible(o) AS true;
CREATE MACRO pgc.pg_get_expr(a, b) AS NULL::VARCHAR, (a, b, c) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_constraintdef(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_indexdef(o) AS NULL::VARCHAR, (o, c, p) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_viewdef(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_triggerdef(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_ruledef(o) AS NULL::VARCHAR, (o, p) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_functiondef(o) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_function_arguments(o) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_function_identity_arguments(o) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_function_result(o) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_partkeydef(o) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_serial_sequence(t, c) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_statisticsobjdef_columns(o) AS NULL::VARCHAR;
CREATE MACRO pgc.pg_get_userbyid(o) AS 'accord';
CREATE MACRO pgc.pg_encoding_to_char(i) AS 'UTF8';
CREATE MACRO pgc.pg_char_to_encoding(s) AS 6;
CREATE MACRO pgc.has_table_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pgc.has_schema_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pgc.has_database_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pgc.has_column_privilege(a, b, c) AS true, (a, b, c, d) AS true;
CREATE MACRO pgc.has_any_column_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pgc.has_function_privilege(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pgc.has_sequence_privilege(a, b) AS false, (a, b, c) AS false;
CREATE MACRO pgc.pg_has_role(a, b) AS true, (a, b, c) AS true;
CREATE MACRO pgc.obj_description(o) AS (SELECT max(d.description) FROM pgc.pg_description d WHERE d.objoid = o AND d.objsubid = 0), (o, c) AS (SELECT max(d.description) FROM pgc.pg_description d WHERE d.objoid = o AND d.objsubid = 0);
CREATE MACRO pgc.col_description(o, n) AS (SELECT max(d.description) FROM pgc.pg_description d WHERE d.objoid = o AND d.objsubid = n);
CREATE MACRO pgc.shobj_description(o, c) AS NULL::VARCHAR;
CREATE MACRO pgc.set_config(n, v, l) AS v;
CREATE MACRO pgc.pg_relation_size(o) AS 0::BIGINT, (o, f) AS 0::BIGINT;
CREATE MACRO pgc.pg_total_relation_size(o) AS 0::BIGINT;
CREATE MACRO pgc.pg_table_size(o) AS 0::BIGINT;
CREATE MACRO pgc.pg_indexes_size(o) AS 0::BIGINT;
CREATE MACRO pgc.pg_database_size(o) AS 0::BIGINT;
CREATE MACRO pgc.pg_size_pretty(n) AS n::VARCHAR || ' bytes';
CREATE MACRO pgc.pg_backend_pid() AS getvariable('accord_pid');
CREATE MACRO pgc.pg_postmaster_start_time() AS getvariable('accord_started');
CREATE MACRO pgc.pg_conf_load_time() AS getvariable('accord_started');
CREATE MACRO pgc.pg_is_in_recovery() AS false;
CREATE MACRO pgc.txid_current() AS 1::BIGINT;
CREATE MACRO pgc.pg_current_xact_id() AS 1::BIGINT;
CREATE MACRO pgc.inet_server_addr() AS '127.0.0.1';
CREATE MACRO pgc.inet_server_port() AS 5432;
CREATE MACRO pgc.inet_client_addr() AS '127.0.0.1';
CREATE MACRO pgc.pg_tablespace_location(o) AS '';
CREATE MACRO pgc.pg_column_is_updatable(o, n, c) AS false;
CREATE MACRO pgc.pg_relation_is_updatable(o, c) AS 0;
CREATE MACRO pgc.quote_ident(s) AS CASE WHEN regexp_matches(s, '^[a-z_][a-z0-9_]*$') THEN s ELSE '"' || replace(s, '"', '""') || '"' END;
CREATE MACRO pgc.quote_literal(s) AS CASE WHEN s IS NULL THEN NULL WHEN contains(s::VARCHAR, '\') THEN 'E''' || replace(replace(s::VARCHAR, '\', '\\'), '''', '''''') || '''' ELSE '''' || replace(s::VARCHAR, '''', '''''') || '''' END;
-- A qualified name split into its parts: quoted parts kept (doubled
-- quotes undone), unquoted ones folded to lower case.
CREATE MACRO pgc.parse_ident(s) AS list_transform(regexp_extract_all(s, '("(?:[^"]|"")*"|[^."]+)'), x -> CASE WHEN starts_with(x, '"') THEN replace(substr(x, 2, length(x) - 2), '""', '"') ELSE lower(trim(x)) END), (s, strict) AS list_transform(regexp_extract_all(s, '("(?:[^"]|"")*"|[^."]+)'), x -> CASE WHEN starts_with(x, '"') THEN replace(substr(x, 2, length(x) - 2), '""', '"') ELSE lower(trim(x)) END);
CREATE MACRO pgc.array_lower(a, d) AS CASE WHEN len(a) > 0 THEN 1 ELSE NULL END;
CREATE MACRO pgc.array_upper(a, d) AS CASE WHEN len(a) > 0 THEN len(a) ELSE NULL END;
CREATE MACRO pgc.regclass_oid(t) AS (SELECT max(c.oid) FROM pgc.pg_class c WHERE c.relname = regexp_replace(regexp_replace(t, '^("?public"?|"?pg_catalog"?)\.', ''), '"', '', 'g'));
CREATE MACRO pgc.pg_relation_is_publishable(o) AS false;
-- Only reached for identity columns, which accord's tables have none of.
CREATE MACRO pgc.json_build_object(a, b) AS NULL::VARCHAR, (a, b, c, d) AS NULL::VARCHAR, (a, b, c, d, e, f) AS NULL::VARCHAR, (a, b, c, d, e, f, g, h) AS NULL::VARCHAR, (a, b, c, d, e, f, g, h, i, j, k, l, m, n) AS NULL::VARCHAR;
CREATE MACRO pgc.regclass_name(o) AS coalesce((SELECT max(c.relname) FROM pgc.pg_class c WHERE c.oid = o), o::VARCHAR);
CREATE MACRO pgc.to_regclass(t) AS (SELECT max(c.oid) FROM pgc.pg_class c WHERE c.relname = regexp_replace(regexp_replace(t, '^("?public"?|"?pg_catalog"?)\.', ''), '"', '', 'g'));
CREATE MACRO pgc.regtype_oid(t) AS (SELECT max(y.oid) FROM pgc.pg_type y LEFT JOIN pgc.accord_type_names f ON f.oid = y.oid WHERE y.typname = lower(t) OR f.name = lower(t));
CREATE MACRO pgc.to_regtype(t) AS (SELECT max(y.oid) FROM pgc.pg_type y LEFT JOIN pgc.accord_type_names f ON f.oid = y.oid WHERE y.typname = lower(t) OR f.name = lower(t));
CREATE MACRO pgc.format_type(t, m) AS (SELECT max(f.name) FROM pgc.accord_type_names f WHERE f.oid = t);
CREATE MACRO pgc.age(x) AS 0;

//! `pg_settings`: the settings a session starts with, which `SHOW` and
//! `current_setting` answer from.

use super::script::{Script, q};
use super::{Relation, pgc_table};

pub(super) const RELATIONS: &[Relation] = &[pgc_table(
    "pg_settings",
    "name VARCHAR, setting VARCHAR, unit VARCHAR, category VARCHAR, short_desc VARCHAR, extra_desc VARCHAR, context VARCHAR, vartype VARCHAR, source VARCHAR, min_val VARCHAR, max_val VARCHAR, enumvals VARCHAR[], boot_val VARCHAR, reset_val VARCHAR, sourcefile VARCHAR, sourceline INTEGER, pending_restart BOOLEAN",
)];

/// Settings a session starts with (also the answers of `SHOW`).
pub const SETTINGS: &[(&str, &str)] = &[
    ("server_version", crate::auth::SERVER_VERSION),
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

pub(super) fn rows(s: &mut Script<'_>) {
    for (name, value) in SETTINGS {
        s.push(&format!(
            "INSERT INTO pgc.pg_settings VALUES ({}, {}, NULL, 'accord', NULL, NULL, 'user', 'string', 'default', NULL, NULL, NULL, {}, {}, NULL, NULL, false)",
            q(name),
            q(value),
            q(value),
            q(value)
        ));
    }
}

/// `current_setting(name [, missing_ok])` as a CASE over the settings
/// rather than a lookup in `pg_settings`: DuckDB refuses subqueries inside
/// a table function's arguments (Grafana's `generate_series(…
/// current_setting('search_path') …)`).
pub(super) fn current_setting_macro() -> String {
    let cases: String = SETTINGS
        .iter()
        .map(|(n, v)| format!(" WHEN {} THEN {}", q(n), q(v)))
        .collect();
    format!(
        "CREATE MACRO pgc.current_setting(n) AS CASE lower(n){cases} END, (n, m) AS CASE lower(n){cases} END"
    )
}

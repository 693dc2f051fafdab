//! PostgreSQL's types as accord reports them: the facts `pg_type` is
//! filled from, the names `format_type` answers with (table
//! `pgc.accord_type_names`, read by the macros), and the types of the
//! columns accord exposes.

use super::script::{Script, q};
use crate::warehouse::ColumnType;

/// The table of `format_type` names: readable by catalog queries, never
/// reached from a `pg_catalog.` name.
pub(super) const NAMES_TABLE: &str = "accord_type_names";

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

/// The DuckDB type of a model table's column.
pub(super) fn duck_type(t: ColumnType) -> &'static str {
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

pub(super) fn create(s: &mut Script<'_>) {
    s.push(&format!(
        "CREATE TABLE pgc.{NAMES_TABLE} (oid UINTEGER, name VARCHAR)"
    ));
}

pub(super) fn rows(s: &mut Script<'_>) {
    for (oid, name, ..) in TYPES {
        s.push(&format!(
            "INSERT INTO pgc.{NAMES_TABLE} VALUES ({oid}, {})",
            q(format_name(name))
        ));
    }
}

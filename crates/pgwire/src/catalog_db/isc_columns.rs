//! `information_schema.columns`: the columns of every exposed table.

use super::script::{Script, q};
use super::{Relation, isc_table};
use crate::warehouse::ColumnType;

pub(super) const RELATIONS: &[Relation] = &[isc_table(
    "columns",
    "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, ordinal_position INTEGER, column_default VARCHAR, is_nullable VARCHAR, data_type VARCHAR, character_maximum_length INTEGER, character_octet_length INTEGER, numeric_precision INTEGER, numeric_precision_radix INTEGER, numeric_scale INTEGER, datetime_precision INTEGER, interval_type VARCHAR, interval_precision INTEGER, character_set_catalog VARCHAR, character_set_schema VARCHAR, character_set_name VARCHAR, collation_catalog VARCHAR, collation_schema VARCHAR, collation_name VARCHAR, domain_catalog VARCHAR, domain_schema VARCHAR, domain_name VARCHAR, udt_catalog VARCHAR, udt_schema VARCHAR, udt_name VARCHAR, scope_catalog VARCHAR, scope_schema VARCHAR, scope_name VARCHAR, maximum_cardinality INTEGER, dtd_identifier VARCHAR, is_self_referencing VARCHAR, is_identity VARCHAR, identity_generation VARCHAR, identity_start VARCHAR, identity_increment VARCHAR, identity_maximum VARCHAR, identity_minimum VARCHAR, identity_cycle VARCHAR, is_generated VARCHAR, generation_expression VARCHAR, is_updatable VARCHAR",
)];

/// `data_type`, `udt_name`, numeric precision, radix and scale, and
/// datetime precision of a column type, as SQL text.
fn facts(
    ty: ColumnType,
) -> (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
) {
    match ty {
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
    }
}

pub(super) fn rows(s: &mut Script<'_>) {
    for t in &s.exposed.tables {
        for (n, c) in t.columns.iter().enumerate() {
            let (data_type, udt, prec, radix, scale, dt_prec) = facts(c.ty);
            let text = super::types::type_oid(c.ty) == 25;
            s.push(&format!(
                "INSERT INTO isc.columns VALUES ('accord', 'public', {}, {}, {}, NULL, 'YES', '{data_type}', NULL, {}, {prec}, {radix}, {scale}, {dt_prec}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'accord', 'pg_catalog', '{udt}', NULL, NULL, NULL, NULL, '{}', 'NO', 'NO', NULL, NULL, NULL, NULL, NULL, 'NO', 'NEVER', NULL, 'NO')",
                q(&t.name),
                q(&c.name),
                n + 1,
                if text { "1073741824" } else { "NULL" },
                n + 1
            ));
        }
    }
}

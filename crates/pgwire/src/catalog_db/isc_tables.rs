//! `information_schema.schemata` and `information_schema.tables`: the
//! three schemas, and one base table per exposed table.

use super::script::{Script, q};
use super::{Relation, isc_table};

pub(super) const RELATIONS: &[Relation] = &[
    isc_table(
        "schemata",
        "catalog_name VARCHAR, schema_name VARCHAR, schema_owner VARCHAR, default_character_set_catalog VARCHAR, default_character_set_schema VARCHAR, default_character_set_name VARCHAR, sql_path VARCHAR",
    ),
    isc_table(
        "tables",
        "table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR, self_referencing_column_name VARCHAR, reference_generation VARCHAR, user_defined_type_catalog VARCHAR, user_defined_type_schema VARCHAR, user_defined_type_name VARCHAR, is_insertable_into VARCHAR, is_typed VARCHAR, commit_action VARCHAR",
    ),
];

pub(super) fn rows(s: &mut Script<'_>) {
    s.push("INSERT INTO isc.schemata VALUES ('accord', 'public', 'accord', NULL, NULL, NULL, NULL), ('accord', 'pg_catalog', 'accord', NULL, NULL, NULL, NULL), ('accord', 'information_schema', 'accord', NULL, NULL, NULL, NULL)");
    for t in &s.exposed.tables {
        s.push(&format!(
            "INSERT INTO isc.tables VALUES ('accord', 'public', {}, 'BASE TABLE', NULL, NULL, NULL, NULL, NULL, 'NO', 'NO', NULL)",
            q(&t.name)
        ));
    }
}

//! The registry of emulated relations: each module declares its own
//! [`Relation`]s; the script creates them and the rewrite and the guard ask
//! here which exist.

use super::{
    isc_columns, isc_empty, isc_tables, pg_attribute, pg_class, pg_constraints, pg_database,
    pg_description, pg_foreign, pg_namespace, pg_routines, pg_settings, pg_stat, pg_system_views,
    pg_tables, pg_type, roles, script, server_objects, types,
};

/// The two schemas the catalog database emulates PostgreSQL's in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Schema {
    /// `pg_catalog`.
    Pgc,
    /// `information_schema`.
    Isc,
}

impl Schema {
    pub(super) fn name(self) -> &'static str {
        match self {
            Schema::Pgc => "pgc",
            Schema::Isc => "isc",
        }
    }
}

#[derive(Debug)]
pub(super) enum Shape {
    /// A table with these columns (DuckDB types), filled by its module.
    Table(&'static str),
    /// A view with this body, over the tables.
    View(&'static str),
}

/// One emulated catalog relation.
#[derive(Debug)]
pub(super) struct Relation {
    pub(super) schema: Schema,
    pub(super) name: &'static str,
    pub(super) shape: Shape,
}

pub(super) const fn pgc_table(name: &'static str, columns: &'static str) -> Relation {
    Relation {
        schema: Schema::Pgc,
        name,
        shape: Shape::Table(columns),
    }
}

pub(super) const fn pgc_view(name: &'static str, select: &'static str) -> Relation {
    Relation {
        schema: Schema::Pgc,
        name,
        shape: Shape::View(select),
    }
}

pub(super) const fn isc_table(name: &'static str, columns: &'static str) -> Relation {
    Relation {
        schema: Schema::Isc,
        name,
        shape: Shape::Table(columns),
    }
}

pub(super) const fn isc_view(name: &'static str, select: &'static str) -> Relation {
    Relation {
        schema: Schema::Isc,
        name,
        shape: Shape::View(select),
    }
}

/// Every emulated relation, by module, in creation order (a view after
/// the views it reads).
const FAMILIES: &[&[Relation]] = &[
    pg_namespace::RELATIONS,
    pg_class::RELATIONS,
    pg_attribute::RELATIONS,
    pg_type::RELATIONS,
    pg_database::RELATIONS,
    pg_description::RELATIONS,
    server_objects::RELATIONS,
    pg_settings::RELATIONS,
    pg_constraints::RELATIONS,
    pg_routines::RELATIONS,
    pg_foreign::RELATIONS,
    pg_system_views::RELATIONS,
    pg_tables::RELATIONS,
    roles::RELATIONS,
    pg_stat::RELATIONS,
    isc_tables::RELATIONS,
    isc_columns::RELATIONS,
    isc_empty::RELATIONS,
];

pub(super) fn relations() -> impl Iterator<Item = &'static Relation> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// Macro names, for rewriting `pg_catalog.<f>(…)`.
pub fn is_macro(name: &str) -> bool {
    script::macro_names().any(|n| n == name)
}

/// Relations the catalog database has in schema `pgc`.
pub(super) fn is_catalog_table(name: &str) -> bool {
    relations().any(|r| r.schema == Schema::Pgc && r.name == name)
}

/// Whether the catalog database has relation `schema.name` (lower case):
/// what a catalog query may read besides its CTEs and the caller's empty
/// model tables.
pub fn has_catalog_relation(schema: &str, name: &str) -> bool {
    match schema {
        "pgc" => is_catalog_table(name) || name == types::NAMES_TABLE,
        "isc" => relations().any(|r| r.schema == Schema::Isc && r.name == name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_relation_is_named_once() {
        let mut seen = std::collections::BTreeSet::new();
        for r in relations() {
            assert!(seen.insert((r.schema.name(), r.name)), "{}", r.name);
        }
        for name in ["pg_class", "pg_database", "pg_stat_activity", "pg_roles"] {
            assert!(has_catalog_relation("pgc", name), "{name}");
        }
        for name in [
            "tables",
            "columns",
            "schemata",
            "enabled_roles_view",
            "views",
        ] {
            assert!(has_catalog_relation("isc", name), "{name}");
        }
        assert!(has_catalog_relation("pgc", "accord_type_names"));
        assert!(!is_catalog_table("accord_type_names"));
    }

    #[test]
    fn macros_are_known_by_name() {
        for name in [
            "version",
            "format_type",
            "quote_literal",
            "current_setting",
            "age",
        ] {
            assert!(is_macro(name), "{name}");
        }
        assert!(!is_macro("pg_sleep"));
    }
}

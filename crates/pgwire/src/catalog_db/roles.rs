//! The one role a session has (`getvariable('accord_user')`, set per
//! session): `pg_roles`, `pg_user`, `pg_authid` and
//! `information_schema.enabled_roles` (read as `enabled_roles_view`).

use super::{Relation, isc_view, pgc_view};

pub(super) const RELATIONS: &[Relation] = &[
    pgc_view(
        "pg_roles",
        "SELECT 10::UINTEGER AS oid, getvariable('accord_user') AS rolname, false AS rolsuper, true AS rolinherit, false AS rolcreaterole, false AS rolcreatedb, true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit, '********' AS rolpassword, NULL::TIMESTAMP AS rolvaliduntil, false AS rolbypassrls, NULL::VARCHAR[] AS rolconfig",
    ),
    pgc_view(
        "pg_user",
        "SELECT getvariable('accord_user') AS usename, 10::UINTEGER AS usesysid, false AS usecreatedb, false AS usesuper, false AS userepl, false AS usebypassrls, '********' AS passwd, NULL::TIMESTAMP AS valuntil, NULL::VARCHAR[] AS useconfig",
    ),
    pgc_view(
        "pg_authid",
        "SELECT oid, rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls, rolconnlimit, NULL::VARCHAR AS rolpassword, rolvaliduntil FROM pgc.pg_roles",
    ),
    isc_view(
        "enabled_roles_view",
        "SELECT getvariable('accord_user') AS role_name",
    ),
];

//! Functions, operators, casts and the types built on them: the catalog functions BI tools call are DuckDB macros (`macros.sql`), never listed here, so these are always empty.

use super::{Relation, pgc_table};

pub(super) const RELATIONS: &[Relation] = &[
    pgc_table(
        "pg_proc",
        "oid UINTEGER, proname VARCHAR, pronamespace UINTEGER, proowner UINTEGER, prolang UINTEGER, procost REAL, prorows REAL, provariadic UINTEGER, prosupport VARCHAR, prokind VARCHAR, prosecdef BOOLEAN, proleakproof BOOLEAN, proisstrict BOOLEAN, proretset BOOLEAN, provolatile VARCHAR, proparallel VARCHAR, pronargs SMALLINT, pronargdefaults SMALLINT, prorettype UINTEGER, proargtypes VARCHAR, proallargtypes UINTEGER[], proargmodes VARCHAR[], proargnames VARCHAR[], proargdefaults VARCHAR, protrftypes UINTEGER[], prosrc VARCHAR, probin VARCHAR, prosqlbody VARCHAR, proconfig VARCHAR[], proacl VARCHAR, proisagg BOOLEAN, proiswindow BOOLEAN",
    ),
    pgc_table(
        "pg_operator",
        "oid UINTEGER, oprname VARCHAR, oprnamespace UINTEGER, oprowner UINTEGER, oprkind VARCHAR, oprcanmerge BOOLEAN, oprcanhash BOOLEAN, oprleft UINTEGER, oprright UINTEGER, oprresult UINTEGER, oprcom UINTEGER, oprnegate UINTEGER, oprcode VARCHAR, oprrest VARCHAR, oprjoin VARCHAR",
    ),
    pgc_table(
        "pg_opclass",
        "oid UINTEGER, opcmethod UINTEGER, opcname VARCHAR, opcnamespace UINTEGER, opcowner UINTEGER, opcfamily UINTEGER, opcintype UINTEGER, opcdefault BOOLEAN, opckeytype UINTEGER",
    ),
    pgc_table(
        "pg_cast",
        "oid UINTEGER, castsource UINTEGER, casttarget UINTEGER, castfunc UINTEGER, castcontext VARCHAR, castmethod VARCHAR",
    ),
    pgc_table(
        "pg_enum",
        "oid UINTEGER, enumtypid UINTEGER, enumsortorder REAL, enumlabel VARCHAR",
    ),
    pgc_table(
        "pg_range",
        "rngtypid UINTEGER, rngsubtype UINTEGER, rngmultitypid UINTEGER, rngcollation UINTEGER, rngsubopc UINTEGER, rngcanonical VARCHAR, rngsubdiff VARCHAR",
    ),
    pgc_table(
        "pg_collation",
        "oid UINTEGER, collname VARCHAR, collnamespace UINTEGER, collowner UINTEGER, collprovider VARCHAR, collisdeterministic BOOLEAN, collencoding INTEGER, collcollate VARCHAR, collctype VARCHAR, colliculocale VARCHAR, collicurules VARCHAR, collversion VARCHAR",
    ),
];

//! Foreign data, replication and event triggers: none exist, always empty.

use super::{Relation, pgc_table};

pub(super) const RELATIONS: &[Relation] = &[
    pgc_table(
        "pg_foreign_table",
        "ftrelid UINTEGER, ftserver UINTEGER, ftoptions VARCHAR[]",
    ),
    pgc_table(
        "pg_foreign_server",
        "oid UINTEGER, srvname VARCHAR, srvowner UINTEGER, srvfdw UINTEGER, srvtype VARCHAR, srvversion VARCHAR, srvacl VARCHAR, srvoptions VARCHAR[]",
    ),
    pgc_table(
        "pg_foreign_data_wrapper",
        "oid UINTEGER, fdwname VARCHAR, fdwowner UINTEGER, fdwhandler UINTEGER, fdwvalidator UINTEGER, fdwacl VARCHAR, fdwoptions VARCHAR[]",
    ),
    pgc_table(
        "pg_publication",
        "oid UINTEGER, pubname VARCHAR, pubowner UINTEGER, puballtables BOOLEAN, pubinsert BOOLEAN, pubupdate BOOLEAN, pubdelete BOOLEAN, pubtruncate BOOLEAN, pubviaroot BOOLEAN",
    ),
    pgc_table(
        "pg_publication_namespace",
        "oid UINTEGER, pnpubid UINTEGER, pnnspid UINTEGER",
    ),
    pgc_table(
        "pg_publication_rel",
        "oid UINTEGER, prpubid UINTEGER, prrelid UINTEGER, prqual VARCHAR, prattrs VARCHAR",
    ),
    pgc_table(
        "pg_subscription",
        "oid UINTEGER, subdbid UINTEGER, subname VARCHAR, subowner UINTEGER, subenabled BOOLEAN",
    ),
    pgc_table(
        "pg_event_trigger",
        "oid UINTEGER, evtname VARCHAR, evtevent VARCHAR, evtowner UINTEGER, evtfoid UINTEGER, evtenabled VARCHAR, evttags VARCHAR[]",
    ),
];

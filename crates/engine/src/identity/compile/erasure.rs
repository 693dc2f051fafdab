//! Erasure: the erased subjects' canonical ids (`erased_keys`), every
//! cluster holding one (`erased`) and its identifiers (`erased_ids`).

use super::super::normalized;
use super::super::sql::{ColType, Statement, TableDef, fresh, insert};
use super::Compiler;
use crate::planner::stitch::{model_source, qualified};
use crate::sql::ast::{Expr, Query};
use crate::sql::build::{as_text, column, eq, inner_join, is_null, named, select_from, table};

use ColType::{BigInt, Key};

impl Compiler<'_> {
    pub(super) fn erasure(&self) -> Vec<Statement> {
        let n = &self.names;
        let nodes = n.work("nodes");
        let fin = n.work("final");
        let nd = "n";
        let keys = TableDef {
            indexes: vec![&["identifier"]],
            name: n.work("erased_keys"),
            columns: vec![("identifier", Key)],
        };
        let mut out = fresh(keys.clone());
        if let Some((model, key)) = &self.identity.erasure {
            let mut q = select_from(
                vec![named(
                    normalized(self.identity.canonical_type(), as_text(qualified(key, "e"))),
                    "identifier",
                )],
                model_source(self.catalog, *model, "e"),
            );
            q.selection = Some(is_null(qualified(key, "e"), true));
            out.push(insert(&keys, Query::select(q)));
        }
        let erased = TableDef {
            indexes: vec![&["label"]],
            name: n.work("erased"),
            columns: vec![("label", BigInt)],
        };
        out.extend(fresh(erased.clone()));
        let mut el = select_from(vec![named(column("f", "label"), "label")], table(&fin, "f"));
        el.joins = vec![
            inner_join(
                table(&nodes, nd),
                vec![eq(column(nd, "node_id"), column("f", "node_id"))],
            ),
            inner_join(
                table(&keys.name, "k"),
                vec![eq(column("k", "identifier"), column(nd, "identifier"))],
            ),
        ];
        el.selection = Some(eq(
            column(nd, "identifier_type"),
            Expr::string(&self.identity.canonical_type().name),
        ));
        el.group_by = vec![1];
        out.push(insert(&erased, Query::select(el)));
        let erased_ids = TableDef {
            indexes: vec![&["identifier_type", "identifier"]],
            name: n.work("erased_ids"),
            columns: vec![("identifier_type", Key), ("identifier", Key)],
        };
        out.extend(fresh(erased_ids.clone()));
        let mut ei = select_from(
            vec![
                named(column(nd, "identifier_type"), "identifier_type"),
                named(column(nd, "identifier"), "identifier"),
            ],
            table(&fin, "f"),
        );
        ei.joins = vec![
            inner_join(
                table(&nodes, nd),
                vec![eq(column(nd, "node_id"), column("f", "node_id"))],
            ),
            inner_join(
                table(&erased.name, "x"),
                vec![eq(column("x", "label"), column("f", "label"))],
            ),
        ];
        out.push(insert(&erased_ids, Query::select(ei)));
        out
    }
}

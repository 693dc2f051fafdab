//! Shared helpers for integration tests.
#![allow(dead_code)]

pub mod warehouses;

use std::path::PathBuf;
use std::sync::Arc;

use accord::catalog::Catalog;
use accord::query::SemanticQuery;

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The demo definitions shipped in `metric_defs/`.
pub fn demo_catalog() -> Arc<Catalog> {
    match accord::definitions::load_dir(&repo_path("metric_defs")) {
        Ok(c) => c,
        Err(d) => panic!("demo definitions do not validate:\n{d}"),
    }
}

/// A query from JSON, the way REST clients send it.
pub fn q(v: serde_json::Value) -> SemanticQuery {
    serde_json::from_value(v).expect("test query JSON is a valid SemanticQuery")
}

//! The validated identity definition.

use crate::catalog::ModelId;
use crate::diagnostics::SourcePos;
use crate::sql::ast::Expr;

/// How many label-propagation rounds a build may take unless configured.
pub const DEFAULT_MAX_ITERATIONS: u32 = 30;
pub const DEFAULT_TABLE_PREFIX: &str = "accord_identity";

#[derive(Debug, Clone)]
pub struct Identity {
    /// The stitched entity (`customer`).
    pub entity: String,
    /// Index into `types` of the identifier whose values are entity keys.
    pub canonical: usize,
    pub rule_version: u32,
    pub max_iterations: u32,
    pub tables: Tables,
    /// Sorted by priority, highest (1) first: a node's rank in this list is
    /// the first key of the order that picks canonical ids.
    pub types: Vec<IdentifierType>,
    pub limits: Vec<Limit>,
    pub sources: Vec<EdgeSource>,
    /// Model and its key column (of the stitched entity) listing subjects
    /// whose identifiers must leave the map.
    pub erasure: Option<(ModelId, Expr)>,
    pub pos: SourcePos,
}

impl Identity {
    pub fn type_index(&self, name: &str) -> Option<usize> {
        self.types.iter().position(|t| t.name == name)
    }

    pub fn canonical_type(&self) -> &IdentifierType {
        &self.types[self.canonical]
    }

    /// The edge source reading `model`, if any.
    pub fn source_of(&self, model: ModelId) -> Option<&EdgeSource> {
        self.sources.iter().find(|s| s.model == model)
    }
}

/// The tables a build writes, all named from one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub prefix: String,
}

impl Tables {
    pub fn name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }
    pub fn map(&self) -> String {
        self.name("map")
    }
    pub fn ledger(&self) -> String {
        self.name("ledger")
    }
    pub fn runs(&self) -> String {
        self.name("runs")
    }
    pub fn exclusions(&self) -> String {
        self.name("exclusions")
    }
    pub fn fingerprints(&self) -> String {
        self.name("fingerprints")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IdentifierType {
    pub name: String,
    pub priority: u32,
    pub trim: bool,
    pub lower: bool,
    /// Already in normalised form (validated).
    pub blocked_values: Vec<String>,
    pub blocked_patterns: Vec<String>,
}

/// A node of type `identifier` may link to at most `max` distinct nodes of
/// type `linked`. A node over the limit loses all its edges (it stays in the
/// map as its own cluster) and is reported by the build and the health
/// report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub identifier: usize,
    pub linked: usize,
    pub max: u32,
}

#[derive(Debug, Clone)]
pub struct EdgeSource {
    pub model: ModelId,
    /// Unqualified expression of the evidence time.
    pub time: Expr,
    /// (identifier type index, unqualified column expression).
    pub columns: Vec<(usize, Expr)>,
    /// Pairs of indexes into `columns`.
    pub pairs: Vec<(usize, usize)>,
    /// Index into `columns`: the identifier a row is stitched by.
    pub stitch_by: usize,
}

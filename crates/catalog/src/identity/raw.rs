//! The `identity:` definitions section as written (serde shapes with
//! positions). Validation lives in `definitions/validate_identity.rs`.

use serde::Deserialize;

use crate::definitions::raw::S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentity {
    /// The entity whose keys are canonical identities (`customer`).
    pub entity: S<String>,
    /// The identifier type whose values are that entity's keys.
    pub canonical: S<String>,
    /// Bumped by the steward whenever the rules change; stored on every map
    /// row and ledger entry.
    pub rule_version: S<u32>,
    #[serde(default)]
    pub max_iterations: Option<S<u32>>,
    /// Prefix of the tables accord writes (`<prefix>_map`, `_ledger`, ...).
    #[serde(default)]
    pub table_prefix: Option<S<String>>,
    pub identifiers: Vec<S<RawIdentifierType>>,
    pub sources: Vec<S<RawEdgeSource>>,
    #[serde(default)]
    pub limits: Vec<S<RawLimit>>,
    /// A model listing subjects (by the canonical entity) to erase.
    #[serde(default)]
    pub erasure: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdentifierType {
    pub name: S<String>,
    /// 1 is the highest priority; the canonical identity of a cluster is its
    /// highest-priority identifier's smallest value.
    pub priority: S<u32>,
    /// `trim` and/or `lower`.
    #[serde(default)]
    pub normalize: Vec<S<String>>,
    /// Values (after normalisation) that never identify anyone.
    #[serde(default)]
    pub blocked_values: Vec<S<String>>,
    /// SQL LIKE patterns (`%`, `_`) of blocked values.
    #[serde(default)]
    pub blocked_patterns: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    pub identifier: S<String>,
    pub linked: S<String>,
    pub max: S<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdgeSource {
    pub model: S<String>,
    /// A time dimension of the model: when the evidence was seen.
    pub time: S<String>,
    pub identifiers: Vec<S<RawSourceIdentifier>>,
    /// Pairs of identifier types (listed above) that link when both are set.
    #[serde(default)]
    pub pairs: Vec<S<Vec<S<String>>>>,
    /// The identifier a row of this model is stitched by (default: the
    /// first listed).
    #[serde(default)]
    pub stitch_by: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSourceIdentifier {
    /// The identifier type.
    pub identifier: S<String>,
    /// Column expression of the model; defaults to a column named like the
    /// identifier type.
    #[serde(default)]
    pub expr: Option<S<String>>,
}

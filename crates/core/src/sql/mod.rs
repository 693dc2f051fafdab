//! accord's SQL: the AST the planner builds ([`ast`]) and constructors for
//! trees built step by step ([`build`]), the bridge from
//! sqlparser's AST for expressions written in definitions and filters
//! ([`convert`]), the bounds on what sqlparser reads ([`guard`]), and the
//! per-dialect renderer ([`render`]); [`relations`] lists the tables a
//! statement reads.

pub mod ast;
pub mod build;
pub mod convert;
pub mod guard;
pub mod relations;
pub mod render;

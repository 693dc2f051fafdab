//! accord's SQL: the AST the planner builds ([`ast`]), the bridge from
//! sqlparser's AST for expressions written in definitions and filters
//! ([`convert`]), and the per-dialect renderer ([`render`]).

pub mod ast;
pub mod convert;
pub mod render;

//! How large and how deep anything a caller sends may be, and the stack the
//! threads that parse, plan and render it get. Every recursive pass over a
//! request (sqlparser's Clone and Drop, accord's conversion, planner,
//! renderer) is bounded by [`MAX_DEPTH`] plus the height of a balanced
//! AND/OR tree of at most [`MAX_TOKENS`] terms, checked right after parsing
//! by [`crate::sql::guard`]; the stack below is sized from those bounds with
//! headroom measured in a debug build (tests/abort_canary.rs).

/// Most levels of nesting an expression or statement may have: operators,
/// function calls, parentheses, CASE, subqueries and set operations each
/// count one. AND and OR chains count nothing (they are rebalanced), so a
/// filter of 1,000 alternatives is fine.
pub const MAX_DEPTH: usize = 64;

/// sqlparser's own recursion limit, kept equal to [`MAX_DEPTH`] so the
/// parser refuses what the depth check would refuse anyway.
pub const PARSER_RECURSION_LIMIT: usize = MAX_DEPTH;

/// Most tokens one statement or `where` expression may have. It bounds the
/// trees the parser builds before any check can run: a chain the parser
/// builds in a loop (`1 - 1 - 1 …`) is at most half this deep, and
/// dropping it (recursive) costs about 130 bytes of stack per level in a
/// debug build.
pub const MAX_TOKENS: usize = 32_768;

/// Most bytes of SQL text in one statement or expression.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// Stack of every runtime thread (tokio workers and its blocking pool).
/// The deepest and largest inputs the limits accept, and the longest chain
/// the parser builds before failing, need between 1 and 2 MiB in a debug
/// build (measured by tests/abort_canary.rs, which runs them on a quarter
/// of this): 8x headroom, and virtual memory only until touched.
pub const THREAD_STACK_BYTES: usize = 16 << 20;

/// The multi-threaded runtime every command and the server run on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build()
}

/// How definition files are read: serde-saphyr's budget (node, alias and
/// size caps) with the nesting depth made explicit. Expressions inside them
/// go through [`crate::sql::guard`] like a request's.
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_depth: MAX_DEPTH },
    }
}

/// The message of every depth or size refusal.
pub fn too_complex(what: &str) -> String {
    format!(
        "{what} is too complex: at most {MAX_DEPTH} levels of nesting (AND/OR chains aside), \
         {MAX_TOKENS} tokens and {MAX_SQL_BYTES} bytes"
    )
}

//! accord-core: what every layer shares and nothing else. Diagnostics and
//! limits, the shared vocabulary ([`vocab`]), the one query type
//! ([`query::SemanticQuery`]), the one error type ([`error::PlanError`]),
//! the SQL AST with its parser front ([`sql`]) and renderer, the dialects,
//! and the mask key. No module here knows the catalog.

/// `println!` for command output that ends quietly when the reader goes
/// away (`accord compile | head`) instead of panicking on a broken pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
        }
    }};
}

pub mod clock;
pub mod diagnostics;
pub mod dialect;
pub mod error;
pub mod limits;
pub mod masking;
pub mod query;
pub mod sql;
pub mod vocab;

/// accord's version (the workspace's).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

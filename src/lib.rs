//! accord: a semantic metric layer. Definitions (YAML) are validated into a
//! [`catalog::Catalog`]; a [`query::SemanticQuery`] is planned against it
//! ([`planner`]) into a SQL AST ([`sql`]) and rendered for a warehouse
//! [`dialect`]. See ARCHITECTURE.md for the map.

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

pub mod access;
pub mod attribution;
pub mod auth;
pub mod catalog;
pub mod checks;
pub mod cli;
pub mod definitions;
pub mod demo;
pub mod diagnostics;
pub mod dialect;
pub mod encode;
pub mod execute;
pub mod governance;
pub mod graphql;
pub mod identity;
pub mod limits;
pub mod masking;
pub mod pgwire;
pub mod planner;
pub mod query;
pub mod server;
pub mod sql;
pub mod warehouse;

pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

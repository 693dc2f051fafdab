//! A deterministic demo warehouse: a year (2025) of a web shop's customer
//! journeys — anonymous visits on several devices, signups, logins, marketing
//! touches, orders with refunds and cancellations, consent changes, support
//! tickets and GDPR erasure requests, plus junk and shared-browser identity
//! links that identity stitching must not fall for — generated in memory
//! from a seed and
//! bulk-loaded into DuckDB, PostgreSQL, MariaDB or SQLite.
//!
//! [`generate`] is pure: the same [`DemoConfig`] always yields identical
//! [`DemoData`], whose rows tests can aggregate directly to know what a metric
//! must return. Scale 1 is about 10,000 events, scale 1000 about 10 million.

mod catalog;
pub mod ddl;
pub mod faults;
pub mod generate;
pub mod load;
pub mod model;

use serde::{Deserialize, Serialize};

pub use ddl::{Engine, create_table_sql, index_sqls, schema_sql};
pub use generate::{generate, time_range};
#[cfg(feature = "duckdb")]
pub use load::load_duckdb;
pub use load::{DemoError, LoadStats, LoadStep, load_mysql, load_postgres, load_sqlite};
pub use model::{
    Account, AnonymousId, AnonymousTruth, ColumnSpec, ColumnType, ConsentEvent, Customer, DemoData,
    Device, DeviceId, DeviceTruth, ErasureRequest, Event, IdentityLink, LinkAnonymousId, LinkNoise,
    MarketingTouch, NoiseKind, Order, OrderItem, Product, Row, RowSource, Session, SessionId,
    SupportTicket, TableSpec, Value, table_specs,
};

/// What to generate: `scale` 1 ≈ 10k events (scale 0 counts as 1); the seed
/// alone determines the content.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DemoConfig {
    pub scale: u32,
    pub seed: u64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig { scale: 1, seed: 42 }
    }
}

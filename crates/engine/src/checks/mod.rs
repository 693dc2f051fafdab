//! Running data quality checks (definitions: accord-catalog's `checks`):
//!
//! - [`compile`] turns every check of one model into a single SELECT (one
//!   pass over the model), and a metric anomaly check into a semantic query;
//! - [`stats`] holds median/MAD and the band rule, pure and hand-testable;
//! - [`run`] executes against a warehouse as of a stated `now` and judges;
//! - [`report`] prints text, JSON and JUnit XML.
//!
//! The server's schedule, history and gauges are accord-service's `monitor`.

pub use accord_catalog::checks::*;

pub mod compile;
pub mod report;
pub mod run;
pub mod stats;

pub use run::{CheckOutcome, CheckRun, Status, run_checks};

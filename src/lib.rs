//! docspace-compliance-operator: turns ONLYOFFICE DocSpace's audit trail into scheduled,
//! compliance-grade reports.
//!
//! Flow runs one way: the CLI (and later the operator) call [`run`], which uses [`schedule`],
//! [`docspace`] and [`report`]; [`spec`] holds the resource types they share. [`sim`] is the
//! DocSpace simulator used by tests, benchmarks and the demo.

pub mod docspace;
pub mod integrity;
pub mod logging;
pub mod operator;
pub mod report;
pub mod run;
pub mod schedule;
pub mod sim;
pub mod spec;
pub mod text;

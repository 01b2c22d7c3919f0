//! docspace-compliance-operator: turns ONLYOFFICE DocSpace's audit trail into scheduled,
//! compliance-grade reports.
//!
//! Flow runs one way: the CLI's `report` and `demo` and the [`operator`]'s reconciler call
//! [`cycle::execute`], which reads the period through [`docspace`] (the HTTP client of the
//! portal's API), renders it with [`report`] (txt, csv, ndjson, md, xlsx), seals it with
//! [`integrity`] (the manifest, its signature and the hash chain) and uploads it. [`schedule`]
//! turns a cron schedule into scheduled instants and periods; [`spec`] holds the
//! `ComplianceReport` resource they share. The DocSpace simulator of the tests, benchmarks and
//! the demo is a crate of its own (`crates/docspace-sim`), not part of this library.

pub mod cycle;
pub mod docspace;
pub mod integrity;
pub mod logging;
pub mod operator;
pub mod report;
pub mod schedule;
pub mod spec;
pub mod text;

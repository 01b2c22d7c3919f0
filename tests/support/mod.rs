//! Helpers shared by the integration tests, each in one place, so that the tests read as
//! scenarios. Every test binary compiles its own copy (`mod support;`) and uses part of it.
#![allow(dead_code)]

pub mod cluster;
pub mod conditions;
pub mod cycle;
pub mod files;
pub mod fixtures;
pub mod http;
pub mod json;
pub mod kube;
pub mod sim;
pub mod tools;

//! Integration tests of `bouture-core`: baselines against Python's configparser
//! (scans of real node layouts are tested through the CLI).

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod graft_plan;
mod support;

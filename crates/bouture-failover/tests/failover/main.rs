//! Integration tests of `bouture-failover`: a run driven in-process, and
//! `configure` against Python's configparser.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod configure;
mod run;
mod support;

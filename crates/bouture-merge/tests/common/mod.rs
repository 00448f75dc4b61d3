//! Shared helpers of the merge tests: fixtures, the Ganeti verifier, copies.

#![allow(
    unreachable_pub,
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers: failing loudly is their job"
)]

use std::path::{Path, PathBuf};

/// A fixture of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The 3.0 fixture's text.
pub fn fixture_30() -> String {
    bouture_test_support::ganeti_config::FIXTURE_30.to_owned()
}

#[allow(
    unused_imports,
    reason = "each test binary of this package uses some of them"
)]
pub use bouture_test_support::{
    ganeti::{assert_ganeti_valid, ganeti_verify},
    ganeti_config::{first, generator, mutate, renamed_copy},
};

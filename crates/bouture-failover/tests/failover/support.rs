//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The directory of this crate's test fixtures.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub(crate) use bouture_test_support::python::python;

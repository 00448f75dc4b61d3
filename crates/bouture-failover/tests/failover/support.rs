//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

/// The directory of this crate's test fixtures.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[path = "../../../../tests/support/python.rs"]
mod python;
pub(crate) use python::python;

//! The bundled demo node (`examples/demo-node`), copied into a test's own
//! directory with its `slapos.cfg` written, as `examples/demo.sh` does.

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// The repository's `examples/demo-node`.
///
/// # Panics
///
/// When it is not found above this crate.
pub fn demo_node_source() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    loop {
        let candidate = dir.join("examples/demo-node");
        if candidate.is_dir() {
            return candidate;
        }
        assert!(
            dir.pop(),
            "examples/demo-node not found above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
}

/// Copy the demo node into `dest` and write `dest/slapos.cfg`; returns its path.
///
/// # Panics
///
/// When the copy fails.
pub fn materialize_demo_node(dest: &Path) -> PathBuf {
    copy_tree(&demo_node_source(), dest);
    let template = dest.join("slapos.cfg.template");
    let text = fs::read_to_string(&template).unwrap();
    fs::remove_file(&template).unwrap();
    let cfg = dest.join("slapos.cfg");
    fs::write(&cfg, text.replace("@ROOT@", dest.to_str().unwrap())).unwrap();
    cfg
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

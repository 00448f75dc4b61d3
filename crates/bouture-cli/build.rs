//! Tells `bouture --version` where it comes from: the git commit and the
//! target triple, as `BOUTURE_GIT_COMMIT` and `BOUTURE_TARGET`.
//!
//! The commit is, in order: `BOUTURE_GIT_COMMIT` from the environment (what
//! `scripts/package` sets, with `-dirty` when the tree has uncommitted
//! changes; also the way to name the commit when building from a tarball),
//! else `git rev-parse` of the checkout, else `unknown` (a tarball without
//! `.git`, or no `git` installed). The script reruns when HEAD or the branch
//! it points to moves, not on every edit, so only the environment variable
//! can say `-dirty` reliably.

// A build script talks to cargo on stdout.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BOUTURE_GIT_COMMIT");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_string());
    println!("cargo:rustc-env=BOUTURE_TARGET={target}");

    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = std::env::var("BOUTURE_GIT_COMMIT")
        .ok()
        .filter(|commit| !commit.trim().is_empty())
        .or_else(|| git_commit(&manifest_dir))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BOUTURE_GIT_COMMIT={}", commit.trim());
}

/// The abbreviated commit of HEAD, and the files whose change moves it.
fn git_commit(dir: &Path) -> Option<String> {
    // Only our own checkout: an unpacked tarball inside some other
    // repository (a distribution's packaging, say) is not that commit.
    git(
        dir,
        &["ls-files", "--full-name", "--error-unmatch", "build.rs"],
    )?;
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    // HEAD itself, the branch it points to (loose), and the packed refs.
    let mut watched = vec![git(dir, &["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.extend(git(dir, &["rev-parse", "--git-path", &branch]));
    }
    watched.extend(git(dir, &["rev-parse", "--git-path", "packed-refs"]));
    for path in watched {
        let path = dir.join(path);
        // A missing file would make cargo rerun this script on every build.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(commit)
}

/// `git ARGS` run in `dir`: its first line of output, if it succeeded.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let line = text.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
}

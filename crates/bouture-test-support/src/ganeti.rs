//! Ganeti's own Python code as the oracle of the Ganeti tests: its verifier
//! for merged configurations (every file loaded with Ganeti 3.0's offline
//! `ConfigWriter` and checked with its `VerifyConfig()`, `ganeti_verify.py`)
//! and its ssconf reader for node-setup's data directories
//! (`ganeti_ssconf.py`). Both scripts find Ganeti's library through
//! `ganeti_lib.py` and run with Debian's `/usr/bin/python3` ([`run_script`];
//! see the peers tagged ganeti in `scripts/peers`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::missing_panics_doc,
    reason = "test helpers: failing loudly is their job"
)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// What Ganeti's verifier said about one file.
#[derive(Debug)]
pub struct Verdict {
    /// The file.
    pub path: String,
    /// A load failure.
    pub load_error: Option<String>,
    /// The verifier's errors.
    pub errors: Vec<String>,
}

/// Run `script`, one of this crate's Python scripts over Ganeti's library
/// (`ganeti_verify.py`, `ganeti_ssconf.py`; they import `ganeti_lib.py`),
/// with `args`, by Debian's `/usr/bin/python3` or `BOUTURE_GANETI_PYTHON`.
///
/// Fails the test, saying how to install what is missing, when the
/// interpreter cannot run or Ganeti's library cannot be imported (the
/// scripts' exit status 3); any other status is the caller's to judge.
pub fn run_script<I, S>(script: &str, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let python = ganeti_python();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let output = Command::new(&python)
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} for {script} ({e}): run `source scripts/setup.d/peers.sh ganeti` as root \
                 (it installs Debian's package ganeti with /usr/bin/python3), or set BOUTURE_GANETI_PYTHON",
                python.to_string_lossy()
            )
        });
    assert!(
        output.status.code() != Some(3),
        "Ganeti 3.0's Python library is missing: {}\n\
         run `source scripts/setup.d/peers.sh ganeti` as root (apt-get install --no-install-recommends ganeti), \
         or point BOUTURE_GANETI_LIBDIR at /usr/share/ganeti/3.0",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The interpreter Ganeti's own tools run on: Debian's `/usr/bin/python3`,
/// or `BOUTURE_GANETI_PYTHON` (the peers tagged ganeti in `scripts/peers`).
/// The verifier scripts run on it, and so do the simulated clusters' fake
/// Ganeti commands (`cluster_sim`).
pub fn ganeti_python() -> PathBuf {
    std::env::var_os("BOUTURE_GANETI_PYTHON")
        .map_or_else(|| PathBuf::from("/usr/bin/python3"), PathBuf::from)
}

/// Load every file with Ganeti 3.0's own `ConfigWriter` and run `VerifyConfig`.
pub fn ganeti_verify(paths: &[&Path]) -> Vec<Verdict> {
    let output = run_script("ganeti_verify.py", paths);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let verdicts: Vec<Verdict> = stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("verifier printed {line:?} ({e}); stderr: {stderr}"));
            Verdict {
                path: v["path"].as_str().unwrap().to_owned(),
                load_error: v["load_error"].as_str().map(str::to_owned),
                errors: v["errors"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e.as_str().unwrap().to_owned())
                    .collect(),
            }
        })
        .collect();
    assert_eq!(
        verdicts.len(),
        paths.len(),
        "verifier output: {stdout}\nstderr: {stderr}"
    );
    verdicts
}

/// Fail unless Ganeti loads every file and its verifier finds nothing.
pub fn assert_ganeti_valid(paths: &[&Path]) {
    for verdict in ganeti_verify(paths) {
        assert!(
            verdict.load_error.is_none() && verdict.errors.is_empty(),
            "Ganeti rejects {}: load error {:?}, verifier errors {:#?}",
            verdict.path,
            verdict.load_error,
            verdict.errors
        );
    }
}

/// What Ganeti 3.0's own `ssconf.SimpleStore` reads from the data directory
/// `dir` (`ReadAll()`, plus `cluster_name_getter` and, when `dir` has a
/// `client.pem`, `client_pem_check`: "ok" when node-daemon-setup's own
/// certificate check accepts it, else its error; see `ganeti_ssconf.py`).
pub fn ganeti_ssconf(dir: &Path) -> Value {
    let output = run_script("ganeti_ssconf.py", [dir]);
    assert!(
        output.status.success(),
        "Ganeti's ssconf reader failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

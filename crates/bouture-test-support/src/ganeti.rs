//! Ganeti's own verifier, as the oracle of merged configurations: every
//! file is loaded with Ganeti 3.0's offline `ConfigWriter` and checked with
//! its `VerifyConfig()` (the script `ganeti_verify.py` of this crate, run
//! with Debian's `/usr/bin/python3`; see `scripts/setup.d/20-ganeti.sh`).

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::missing_panics_doc,
    reason = "test helpers: failing loudly is their job"
)]

use std::path::Path;
use std::process::Command;

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

/// Load every file with Ganeti 3.0's own `ConfigWriter` and run `VerifyConfig`.
pub fn ganeti_verify(paths: &[&Path]) -> Vec<Verdict> {
    let python =
        std::env::var_os("BOUTURE_GANETI_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ganeti_verify.py");
    let output = Command::new(&python)
        .arg(&script)
        .args(paths)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} for Ganeti's verifier ({e}): run scripts/setup.d/20-ganeti.sh as root \
                 (it installs Debian's package ganeti with /usr/bin/python3), or set BOUTURE_GANETI_PYTHON",
                python.to_string_lossy()
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code() != Some(3),
        "Ganeti 3.0's Python library is missing: {stderr}\n\
         run scripts/setup.d/20-ganeti.sh as root (apt-get install --no-install-recommends ganeti), \
         or point BOUTURE_GANETI_LIBDIR at /usr/share/ganeti/3.0"
    );
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

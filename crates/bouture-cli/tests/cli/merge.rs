//! `bouture merge` end to end, in process: reports, refusals, exit codes
//! (its `--help` is snapshotted with every command's, in `cli/help.rs`).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};

#[path = "../../bouture-merge/tests/common/mod.rs"]
mod common;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bouture-merge/tests/fixtures/cluster_config_3.0.json")
}

/// Run `bouture ARGS`; returns (exit code, stdout, stderr).
fn bouture(args: &[&str]) -> (u8, String, String) {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = bouture_cli::run(
        std::iter::once("bouture").chain(args.iter().copied()),
        &mut bouture_cli::Streams {
            stdout: &mut stdout,
            stderr: &mut stderr,
        },
    );
    (
        code,
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// Run `bouture merge --config OURS --merge THEIRS --output OUTPUT EXTRA...`.
fn merge(ours: &str, theirs: &str, output: &str, extra: &[&str]) -> (u8, String, String) {
    let args = [
        "merge", "--config", ours, "--merge", theirs, "--output", output,
    ];
    bouture(&[&args[..], extra].concat())
}

/// The fixture and a copy with other names, UUIDs and addresses.
fn inputs(dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let ours = dir.join("ours.data");
    std::fs::write(&ours, &text).unwrap();
    let theirs = dir.join("theirs.data");
    std::fs::write(&theirs, common::renamed_copy(&text, "b0b0")).unwrap();
    (ours.display().to_string(), theirs.display().to_string())
}

#[test]
fn dry_run_prints_json_report_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = inputs(dir.path());
    let output = dir.path().join("merged.data");
    let (code, stdout, stderr) = merge(
        &ours,
        &theirs,
        output.to_str().unwrap(),
        &[
            "--groups",
            "rename",
            "--port-range",
            "11000-65535",
            "--dry-run",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!output.exists());
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["port_changes"][0]["new"], 32104);
}

#[test]
fn merge_writes_the_output_and_a_text_report() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = inputs(dir.path());
    let output = dir.path().join("merged.data");
    let (code, stdout, stderr) = merge(
        &ours,
        &theirs,
        output.to_str().unwrap(),
        &["--groups", "merge", "--port-range", "11000-65535"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Ports reallocated: 1"), "{stdout}");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(merged["nodes"].as_object().unwrap().len(), 6);
}

#[test]
fn conflicts_exit_1_and_list_every_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = inputs(dir.path());
    let output = dir.path().join("merged.data");
    let (code, _, stderr) = merge(&ours, &theirs, output.to_str().unwrap(), &[]);
    assert_eq!(code, 1);
    assert!(!output.exists());
    assert!(
        stderr.starts_with("error: merge refused, nothing was written: 2 conflicts\n"),
        "{stderr}"
    );
    assert!(stderr.contains("node group 'default' exists"), "{stderr}");
    assert!(stderr.contains("node group 'another' exists"), "{stderr}");
}

#[test]
fn output_equal_to_input_and_bad_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = inputs(dir.path());
    let (code, _, stderr) = merge(&ours, &theirs, &ours, &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is the same file as the input"), "{stderr}");
    let (code, _, stderr) = merge(&ours, &theirs, "x", &["--port-range", "15000-14000"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid port range"), "{stderr}");
}

/// The generated clusters of the merge crate's tests (25 ports to reallocate).
fn generated(dir: &Path) -> (String, String) {
    let write = |index: u32| {
        let path = dir.join(format!("c{index}.data"));
        let spec = common::generator::Spec::new(index, 6, 30);
        std::fs::write(&path, common::generator::generate(&spec)).unwrap();
        path.display().to_string()
    };
    (write(1), write(2))
}

#[test]
fn quiet_prints_nothing_verbose_every_port_and_the_phases() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = generated(dir.path());
    let output = dir.path().join("merged.data");
    let output = output.to_str().unwrap();
    let args = [
        "merge", "--config", &ours, "--merge", &theirs, "--output", output, "--groups", "rename",
    ];
    let (code, normal, _) = bouture(&args);
    assert_eq!(code, 0);
    assert!(
        normal.contains("Ports reallocated: 25 (15 DRBD, 10 console)"),
        "{normal}"
    );
    assert!(
        normal.contains("... and 15 more (-v or --format json lists every one)"),
        "{normal}"
    );
    let (code, quiet, quiet_err) = bouture(&[&["-q"][..], &args[..]].concat());
    assert_eq!(code, 0);
    assert_eq!(quiet, "");
    assert_eq!(quiet_err, "");
    let (code, verbose, phases) = bouture(&[&["-v"][..], &args[..]].concat());
    assert_eq!(code, 0);
    let listed = verbose
        .lines()
        .filter(|l| l.starts_with("  c2.example.com/"))
        .count();
    assert_eq!(listed, 25, "{verbose}");
    for phase in ["read", "parse", "check", "plan", "apply", "write", "fsync"] {
        assert!(
            phases.contains(&format!(" {phase} ")),
            "{phase} missing: {phases}"
        );
    }
}

#[test]
fn not_enough_ports_says_how_many_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = generated(dir.path());
    let output = dir.path().join("merged.data");
    let (code, stdout, stderr) = merge(
        &ours,
        &theirs,
        output.to_str().unwrap(),
        &[
            "--groups",
            "rename",
            "--port-range",
            "11000-11030",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(!output.exists());
    let body: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(body["needed"], 25);
    assert_eq!(body["available"], 6);
    assert_eq!(body["range"], "11000-11030");
    assert!(
        stderr.contains("not enough free ports: 25 needed"),
        "{stderr}"
    );
}

#[test]
fn unreadable_inputs_and_outputs_exit_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = generated(dir.path());
    let missing_dir = dir.path().join("nowhere/merged.data");
    let (code, _, stderr) = merge(
        &ours,
        &theirs,
        missing_dir.to_str().unwrap(),
        &["--groups", "rename", "--dry-run"],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot write the output") && stderr.contains("its directory"),
        "{stderr}"
    );
    let (code, _, stderr) = merge(&ours, "/dev/zero", "/dev/null", &["--groups", "rename"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("/dev/null: it is a character device"),
        "{stderr}"
    );
    let output = dir.path().join("merged.data");
    let (code, _, stderr) = merge(
        &ours,
        &theirs,
        output.to_str().unwrap(),
        &["--groups", "rename", "--max-input-size", "1K"],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is larger than 1024 bytes") && stderr.contains("raise --max-input-size"),
        "{stderr}"
    );
    assert!(!output.exists());
}

//! `bouture merge` end to end, in process: help, reports, refusals, exit codes.

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
fn help_has_examples() {
    let (code, stdout, _) = bouture(&["merge", "--help"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("merge_help", stdout);
}

#[test]
fn dry_run_prints_json_report_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = inputs(dir.path());
    let output = dir.path().join("merged.data");
    let (code, stdout, stderr) = bouture(&[
        "merge",
        "--config",
        &ours,
        "--merge",
        &theirs,
        "--output",
        output.to_str().unwrap(),
        "--groups",
        "rename",
        "--dry-run",
        "--format",
        "json",
    ]);
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
    let (code, stdout, stderr) = bouture(&[
        "merge",
        "--config",
        &ours,
        "--merge",
        &theirs,
        "--output",
        output.to_str().unwrap(),
        "--groups",
        "merge",
    ]);
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
    let (code, _, stderr) = bouture(&[
        "merge",
        "--config",
        &ours,
        "--merge",
        &theirs,
        "--output",
        output.to_str().unwrap(),
    ]);
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
    let (code, _, stderr) = bouture(&[
        "merge", "--config", &ours, "--merge", &theirs, "--output", &ours,
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("is the same file as the input"), "{stderr}");
    let (code, _, stderr) = bouture(&[
        "merge",
        "--config",
        &ours,
        "--merge",
        &theirs,
        "--output",
        "x",
        "--port-range",
        "15000-14000",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid port range"), "{stderr}");
}

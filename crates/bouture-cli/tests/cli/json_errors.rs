//! One JSON error document for every command with `--format json` (issue
//! 23): `{"error": {"kind", "message", "causes", "details"}}` on stdout,
//! written where the exit code is chosen, the error in the log as well.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::support::bouture;

/// Run `args` with `--format json`: it fails with `code`; its stdout is the
/// error document, snapshotted as `name` with the run's stderr.
fn check(name: &str, args: &[&str], root: &Path, code: i32, kind: &str) -> Value {
    let args = [args, &["--format", "json"]].concat();
    let run = bouture(&args, root);
    assert_eq!(run.code, code, "{name}: {}", run.stderr);
    let document: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{name}: {e}: {:?}", run.stdout));
    let error = document.as_object().unwrap();
    assert_eq!(error.len(), 1, "{name}: only `error`: {document}");
    let error = &document["error"];
    assert_eq!(error["kind"], kind, "{name}: {document}");
    assert!(error["message"].is_string(), "{name}: {document}");
    assert!(error["causes"].is_array(), "{name}: {document}");
    assert!(error["details"].is_object(), "{name}: {document}");
    // The log says it too.
    let message = error["message"].as_str().unwrap();
    assert!(
        run.stderr.contains(message.lines().next().unwrap()),
        "{name}: {message:?} not in the log: {}",
        run.stderr
    );
    insta::assert_snapshot!(name, run.snapshot_logged());
    document
}

#[test]
#[allow(clippy::too_many_lines, reason = "one failure per command")]
fn every_command_fails_with_the_same_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let path = |name: &str| root.join(name).to_str().unwrap().to_owned();
    let missing = path("missing.cfg");

    check(
        "inventory",
        &["inventory", "--cfg", &missing],
        root,
        1,
        "configuration",
    );
    check(
        "graft",
        &[
            "graft",
            "--cfg",
            &missing,
            "--new-master-url",
            "http://127.0.0.1:9",
        ],
        root,
        1,
        "configuration",
    );
    check(
        "status",
        &["status", "--cfg", &missing, "--switchfile", &path("switch")],
        root,
        1,
        "configuration",
    );

    // merge: the conflicts in the details; an invalid input's place.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bouture-merge/tests/fixtures/cluster_config_3.0.json");
    let text = fs::read_to_string(fixture).unwrap();
    fs::write(path("ours.data"), &text).unwrap();
    fs::write(
        path("theirs.data"),
        crate::merge_common::renamed_copy(&text, "b0b0"),
    )
    .unwrap();
    let merge = |theirs: &str| {
        [
            "merge",
            "--config",
            &path("ours.data"),
            "--merge",
            &path(theirs),
            "--output",
            &path("merged.data"),
        ]
        .map(ToOwned::to_owned)
    };
    let conflicts = check(
        "merge_conflicts",
        &merge("theirs.data").each_ref().map(String::as_str),
        root,
        1,
        "failed",
    );
    assert!(
        !conflicts["error"]["details"]["conflicts"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{conflicts}"
    );
    fs::write(
        path("invalid.data"),
        "{\"version\": 3000000, \"version\": 1}",
    )
    .unwrap();
    let invalid = check(
        "merge_invalid",
        &merge("invalid.data").each_ref().map(String::as_str),
        root,
        1,
        "configuration",
    );
    assert!(
        invalid["error"]["details"].get("path").is_some(),
        "{invalid}"
    );

    check(
        "cluster_merge",
        &["cluster-merge", "--resume", "--state-dir", &path("state")],
        root,
        1,
        "failed",
    );

    // node-setup: stdin is empty; whether anything was written.
    fs::create_dir(path("ganeti")).unwrap();
    let setup = check(
        "node_setup",
        &["node-setup", "--data-dir", &path("ganeti")],
        root,
        1,
        "failed",
    );
    assert_eq!(setup["error"]["details"]["nothing_written"], true);

    // deploy: every validation error in the details.
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../bouture-multiboot/tests/fixtures");
    let invalid = fixtures.join("provision.invalid.json");
    let plan = check(
        "deploy_plan",
        &["deploy", "plan", "--provision", invalid.to_str().unwrap()],
        root,
        1,
        "configuration",
    );
    assert_eq!(
        plan["error"]["details"]["errors"].as_array().unwrap().len(),
        7
    );
    let valid = fixtures.join("provision.shared-common.json");
    check(
        "deploy_build",
        &[
            "deploy",
            "build",
            "--provision",
            valid.to_str().unwrap(),
            "--image",
            &format!("centos={}", path("no-such-tree")),
            "--output",
            &path("node.img"),
        ],
        root,
        1,
        "failed",
    );

    check(
        "boot_list",
        &["boot", "list", "--disk", &path("no-disk.img")],
        root,
        1,
        "failed",
    );
    check(
        "boot_next",
        &["boot", "next", "ubuntu", "--multiboot-dir", &path("no-dir")],
        root,
        1,
        "failed",
    );
}

//! The diff and the files, without a master: cases a proxy makes hard to
//! produce (child instances, typed parameters, an instance requested then
//! destroyed), the files' shape, and hostile files.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::fs::PermissionsExt;

use bouture_master_client::InstanceState;
use bouture_offline_changes::{
    ChangeKind, InstanceSnapshot, MasterSnapshot, Return, SharedSnapshot, acknowledge,
    changes_path, diff, grafted_path, parameters, read_changes, read_grafted, record_return,
    write_grafted,
};
use serde_json::json;

const SR: &str = "https://lab.example.com/sr.cfg";

fn snapshot(instances: Vec<InstanceSnapshot>) -> MasterSnapshot {
    MasterSnapshot::new("http://10.0.0.2:4000", "COMP-1", instances)
}

fn main_instance() -> InstanceSnapshot {
    let mut main = InstanceSnapshot::new("slappart0", "Main", SR, "core", InstanceState::Started);
    main.parameters = parameters(&[("_", "{}")]);
    main.shared_instances.push(SharedSnapshot::new(
        "SIM 1",
        "core",
        parameters(&[("_", r#"{"imsi": "1"}"#)]),
    ));
    main
}

#[test]
fn child_instances_and_typed_parameters_get_a_note_instead_of_a_command() {
    let mut child = InstanceSnapshot::new("slappart1", "child", SR, "x", InstanceState::Started);
    child.root_instance_title = "Main".into();
    let grafted = snapshot(vec![main_instance(), child.clone()]);
    let mut main = main_instance();
    main.shared_instances[0].parameters = serde_json::from_value(json!({"n": 2})).unwrap();
    child.parameters = parameters(&[("a", "b")]);
    let changes = diff(&grafted, &snapshot(vec![main, child]));
    assert_eq!(changes.len(), 2, "{changes:#?}");
    let shared = &changes[0];
    assert_eq!(shared.kind, ChangeKind::SharedInstanceParametersChanged);
    assert!(shared.command.is_none());
    assert!(shared.note.as_deref().unwrap().contains("not a string"));
    let child = &changes[1];
    assert_eq!(child.kind, ChangeKind::ParametersChanged);
    assert!(child.command.is_none());
    assert!(
        child
            .note
            .as_deref()
            .unwrap()
            .contains("requested by another instance")
    );
}

#[test]
fn requested_then_destroyed_is_no_change_and_gone_is_destroyed() {
    let grafted = snapshot(vec![main_instance()]);
    let ghost = InstanceSnapshot::new("slappart2", "ghost", SR, "x", InstanceState::Destroyed);
    let changes = diff(&grafted, &snapshot(vec![ghost]));
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].kind, ChangeKind::InstanceDestroyed);
    assert!(changes[0].note.as_deref().unwrap().contains("gone"));
    assert_eq!(
        changes[0].command_line.as_deref(),
        Some("slapos request Main https://lab.example.com/sr.cfg --type core --state destroyed")
    );
}

#[test]
fn the_log_line_is_bounded_and_names_the_command() {
    let grafted = snapshot(vec![main_instance()]);
    let mut main = main_instance();
    main.parameters = parameters(&[("_", &"x".repeat(100_000))]);
    let changes = diff(&grafted, &snapshot(vec![main]));
    let line = changes[0].to_string();
    assert!(line.len() < 1_000, "{} bytes", line.len());
    assert!(
        line.starts_with("parameters changed: instance \"Main\" (slappart0): "),
        "{line}"
    );
    assert!(
        line.contains("; on the original master: slapos request Main"),
        "{line}"
    );
}

#[test]
fn the_changes_file_shape() {
    let dir = tempfile::tempdir().unwrap();
    let switchfile = dir.path().join("switch");
    let grafted = snapshot(vec![main_instance()]);
    let mut main = main_instance();
    main.state = Some(InstanceState::Stopped);
    main.shared_instances.clear();
    let changes = diff(&grafted, &snapshot(vec![main]));
    let entry = Return::new(
        Some("2026-11-23T15:04:05Z".into()),
        "2026-11-23T16:00:00Z",
        "http://10.0.0.2:4000",
        "COMP-1",
        changes,
    );
    record_return(&switchfile, entry.clone()).unwrap();
    record_return(&switchfile, entry).unwrap();
    let text = std::fs::read_to_string(changes_path(&switchfile)).unwrap();
    let file = read_changes(&switchfile).unwrap().unwrap();
    assert_eq!(file.returns.len(), 2);
    assert_eq!(file.len(), 4);
    insta::assert_snapshot!(text);
    let mode = std::fs::metadata(changes_path(&switchfile))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn hostile_files_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let switchfile = dir.path().join("switch");
    // Duplicate keys.
    let changes = changes_path(&switchfile);
    std::fs::write(&changes, r#"{"version": 1, "returns": [], "returns": []}"#).unwrap();
    let error = read_changes(&switchfile).unwrap_err();
    assert!(
        matches!(error, bouture_offline_changes::Error::Invalid { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("duplicate key"), "{error}");
    // Not acknowledged away: look at it first.
    assert!(acknowledge(&switchfile).is_err());
    assert!(changes.exists());
    // Nor replaced by a new return.
    let grafted = snapshot(vec![main_instance()]);
    let entry = Return::new(None, "t", "u", "c", diff(&grafted, &snapshot(vec![])));
    assert!(record_return(&switchfile, entry).is_err());
    assert_eq!(
        std::fs::read_to_string(&changes).unwrap(),
        r#"{"version": 1, "returns": [], "returns": []}"#
    );
    // A symbolic link is neither followed nor replaced.
    std::fs::remove_file(&changes).unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, grafted_path(&switchfile)).unwrap();
    assert!(matches!(
        read_grafted(&switchfile),
        Err(bouture_offline_changes::Error::Read(_))
    ));
    assert!(write_grafted(&switchfile, &grafted).is_err());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // Unknown fields are refused (a record from a newer bouture, or not ours).
    std::fs::remove_file(grafted_path(&switchfile)).unwrap();
    let mut value = serde_json::to_value(&grafted).unwrap();
    value["extra"] = json!(1);
    std::fs::write(grafted_path(&switchfile), value.to_string()).unwrap();
    assert!(matches!(
        read_grafted(&switchfile),
        Err(bouture_offline_changes::Error::Invalid { .. })
    ));
}

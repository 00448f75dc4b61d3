//! End to end against real slapproxies and the real `slapos` commands: graft
//! a node onto a local master, record it, change things there as people
//! (`slapos request`) and instances (`slapos.slap`) do, then find every
//! change, and check that the `slapos request` command lines found make a
//! second master (standing for the original one) hold the same.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use std::collections::BTreeMap;

use bouture_core::{Inventory, NodeConfig};
use bouture_graft::GraftPlan;
use bouture_master_client::{
    ComputerRegistration, MasterClient, PartitionAddress, PartitionRegistration,
};
use bouture_offline_changes::{
    ChangeKind, MasterSnapshot, Return, acknowledge, diff, read_changes, read_grafted,
    record_return, write_grafted,
};
use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TEST_SOFTWARE_URL, WrittenNode};
use bouture_test_support::offline_changes::essence;
use serde_json::{Value, json};

const COMPUTER: &str = "COMP-RET";

/// The four partitions of the scene.
fn node(root: &std::path::Path) -> WrittenNode {
    bouture_test_support::offline_changes::node(root, COMPUTER, 4)
}

fn plan(node: &WrittenNode) -> GraftPlan {
    let config = NodeConfig::load(&node.cfg).unwrap();
    GraftPlan::build(
        &Inventory::scan(&config).unwrap(),
        &bouture_graft::Options::default(),
    )
}

/// Graft the node onto `proxy` and read back what it holds.
fn graft(node: &WrittenNode, proxy: &SlapProxy) -> MasterSnapshot {
    let client = MasterClient::new(proxy.url()).unwrap();
    let report = bouture_graft::apply(&plan(node), &client, &mut ()).unwrap();
    assert_eq!(report.totals.grafted, 4, "{report:?}");
    MasterSnapshot::read(&client, COMPUTER).unwrap()
}

/// While offline, change the local master as people and instances do.
#[rustfmt::skip]
fn change_things_offline(local: &SlapProxy) {
    let sr = TEST_SOFTWARE_URL;
    let node = format!("computer_guid={COMPUTER}");
    // People, with `slapos request`...
    let requests: [&[&str]; 7] = [
        &["Main A", "--state", "started", "--parameters", r#"_={"n": 0, "cells": ["a", "b"]}"#],
        &["SIM 3", "--slave", "--node", &node, "instance_guid=slappart0",
          "--parameters", r#"_={"imsi": "003"}"#],
        &["SIM 2", "--slave", "--state", "destroyed"],
        &["SIM 1", "--slave", "--parameters", r#"_={"imsi": "001", "k": "it's"}"#],
        &["Main B", "--state", "stopped", "--parameters", r#"_={"n": 1}"#],
        &["Main C", "--state", "started", "--parameters", r#"_={"n": 2}"#],
        &["Main D", "--state", "destroyed"],
    ];
    for request in requests {
        let (title, rest) = request.split_first().unwrap();
        let mut args = vec!["request", title, sr, "--type", "default"];
        args.extend(rest);
        local.slapos_client_ok(&args);
    }
    // ... and the node and its instances do their part: D's partition is
    // freed once destroyed, a new instance takes it, A publishes its
    // connection parameters.
    local.report_destroyed(COMPUTER, "slappart3");
    local.slapos_client_ok(&[
        "request", "New E", sr, "--type", "default", "--node", &node,
        "--parameters", "_={}", "mode=offline & \"quoted\"",
    ]);
    local.publish_connection_parameters(
        COMPUTER,
        "slappart0",
        &json!({"url": "https://[2001:db8::1]:9443/", "password": "s3cret"}),
    );
    // A hosts SIM 1 (the proxy's reference `_SIM 1`) and publishes its
    // connection parameters too.
    local.publish_shared_connection_parameters(
        COMPUTER,
        "slappart0",
        "_SIM 1",
        &json!({"sim-url": "https://[2001:db8::1]:9443/sim/001"}),
    );
}

/// What the real `slapos service info TITLE` shows of the local master: its
/// JSON document (the client prints log lines around it).
fn service_info(local: &SlapProxy, title: &str) -> Value {
    let out = local.slapos_client(&["service", "info", title]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "slapos service info {title:?} failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = text
        .find('{')
        .unwrap_or_else(|| panic!("no JSON in {text}"));
    let end = text.rfind('}').unwrap();
    serde_json::from_str(&text[start..=end]).unwrap()
}

/// Paste the command lines into a shell against a second master.
fn carry_back(
    node: &WrittenNode,
    changes: &[bouture_offline_changes::Change],
    now: &MasterSnapshot,
    grafted_essence: &BTreeMap<String, Value>,
) {
    // The command lines, pasted into a shell against a second master that
    // holds the grafted node (the original master, as it was before the
    // outage, plus a free partition as a real master has), make it hold what
    // the local master holds.
    let original = SlapProxy::start(COMPUTER).unwrap();
    assert_eq!(&essence(&graft(node, &original)), grafted_essence);
    // The grafted partitions as they are (registering keeps their
    // instances), plus a free one.
    let mut computer = ComputerRegistration::new(COMPUTER);
    for partition in &node.partitions {
        let mut registration = PartitionRegistration::new(partition.id());
        registration.tap_name.clone_from(&partition.tap);
        registration.addresses = partition
            .addresses
            .iter()
            .map(|(addr, netmask)| {
                PartitionAddress::new(addr.parse().unwrap(), netmask.parse().unwrap())
            })
            .collect();
        computer.partitions.push(registration);
    }
    computer
        .partitions
        .push(PartitionRegistration::new("slappart9"));
    MasterClient::new(original.url())
        .unwrap()
        .load_computer_configuration(&computer)
        .unwrap();
    let original_client = MasterClient::new(original.url()).unwrap();
    for round in 0..2 {
        for change in changes {
            let Some(line) = &change.command_line else {
                continue;
            };
            let out = original.shell_with_slapos(line);
            assert!(
                out.status.success(),
                "{line} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Run twice: the second round changes nothing more.
        let carried = MasterSnapshot::read(&original_client, COMPUTER).unwrap();
        assert_eq!(essence(&carried), essence(now), "round {round}");
    }
}

#[test]
fn every_change_made_on_the_local_master_is_found_and_carried_back() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    let local = SlapProxy::start(COMPUTER).unwrap();
    let switchfile = dir.path().join("bouture-switch");

    // At graft time: the record.
    let grafted = graft(&node, &local);
    write_grafted(&switchfile, &grafted).unwrap();
    assert_eq!(read_grafted(&switchfile).unwrap().as_ref(), Some(&grafted));
    let grafted_essence = essence(&grafted);

    change_things_offline(&local);

    // The original master returns: what changed?
    let client = MasterClient::new(local.url()).unwrap();
    let now = MasterSnapshot::read(&client, COMPUTER).unwrap();
    let changes = diff(&grafted, &now);
    let found: Vec<(ChangeKind, Option<&str>, Option<&str>)> = changes
        .iter()
        .map(|c| (c.kind, c.instance.as_deref(), c.shared_instance.as_deref()))
        .collect();
    assert_eq!(
        found,
        [
            (ChangeKind::ParametersChanged, Some("Main A"), None),
            (
                ChangeKind::ConnectionParametersPublished,
                Some("Main A"),
                None
            ),
            (
                ChangeKind::SharedInstanceAdded,
                Some("Main A"),
                Some("SIM 3")
            ),
            (
                ChangeKind::SharedInstanceRemoved,
                Some("Main A"),
                Some("SIM 2")
            ),
            (
                ChangeKind::SharedInstanceParametersChanged,
                Some("Main A"),
                Some("SIM 1")
            ),
            (
                ChangeKind::SharedConnectionParametersPublished,
                Some("Main A"),
                Some("SIM 1")
            ),
            (ChangeKind::InstanceStopped, Some("Main B"), None),
            (ChangeKind::InstanceStarted, Some("Main C"), None),
            (ChangeKind::InstanceDestroyed, Some("Main D"), None),
            (ChangeKind::InstanceRequested, Some("New E"), None),
        ]
        .map(|(k, i, s)| (k, i, s))
        .to_vec(),
        "{changes:#?}"
    );
    let by_kind = |kind| changes.iter().find(|c| c.kind == kind).unwrap();
    // Old and new values.
    let params = by_kind(ChangeKind::ParametersChanged);
    assert_eq!(params.old, json!({"_": "{\"n\": 0}"}));
    assert_eq!(
        params.new,
        json!({"_": "{\"n\": 0, \"cells\": [\"a\", \"b\"]}"})
    );
    let published = by_kind(ChangeKind::ConnectionParametersPublished);
    assert_eq!(published.old, json!({}));
    assert_eq!(
        published.new,
        json!({"url": "https://[2001:db8::1]:9443/", "password": "s3cret"})
    );
    assert!(published.command.is_none() && published.note.is_some());
    let shared_published = by_kind(ChangeKind::SharedConnectionParametersPublished);
    assert_eq!(shared_published.old, json!({}));
    assert_eq!(
        shared_published.new,
        json!({"sim-url": "https://[2001:db8::1]:9443/sim/001"})
    );
    assert!(shared_published.command.is_none() && shared_published.note.is_some());
    // The real `slapos service` shows the same on the local master.
    let sim1 = service_info(&local, "SIM 1");
    assert_eq!(sim1["shared"], json!(true));
    assert_eq!(sim1["connection-parameters"], shared_published.new);
    // `slapos service info` shows the `_` parameter (serialised JSON) decoded.
    let decoded = |parameters: &Value| json!({"_": serde_json::from_str::<Value>(parameters["_"].as_str().unwrap()).unwrap()});
    assert_eq!(
        sim1["instance-parameters"],
        decoded(&by_kind(ChangeKind::SharedInstanceParametersChanged).new)
    );
    let main_a = service_info(&local, "Main A");
    assert_eq!(main_a["connection-parameters"], published.new);
    assert_eq!(main_a["instance-parameters"], decoded(&params.new));
    let list = local.slapos_client(&["service", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "slapos service list: {listed}");
    for title in ["Main A", "New E", "SIM 1", "SIM 3"] {
        assert!(
            listed.contains(&format!("\"{title}\"")),
            "{title} in {listed}"
        );
    }
    assert!(!listed.contains("\"SIM 2\""), "SIM 2 destroyed: {listed}");
    assert_eq!(by_kind(ChangeKind::InstanceStopped).old, json!("started"));
    assert_eq!(by_kind(ChangeKind::InstanceStopped).new, json!("stopped"));
    assert_eq!(by_kind(ChangeKind::InstanceStarted).old, json!("stopped"));
    let requested = by_kind(ChangeKind::InstanceRequested);
    assert_eq!(requested.partition.as_deref(), Some("slappart3"));
    assert_eq!(
        requested.command_line.as_deref(),
        Some(
            "slapos request 'New E' https://lab.example.invalid/software/test/software.cfg \
             --type default --state started --node computer_guid=COMP-RET \
             --parameters '_={}' 'mode=offline & \"quoted\"'"
        )
    );
    assert_eq!(
        by_kind(ChangeKind::SharedInstanceRemoved)
            .command_line
            .as_deref(),
        Some(
            "slapos request 'SIM 2' https://lab.example.invalid/software/test/software.cfg \
             --type default --state destroyed --slave"
        )
    );

    // Recorded next to the switchfile, listed until acknowledged.
    let entry = Return::new(
        None,
        "2026-11-23T16:00:00Z",
        local.url(),
        COMPUTER,
        changes.clone(),
    );
    record_return(&switchfile, entry).unwrap();
    let listed = read_changes(&switchfile).unwrap().unwrap();
    assert_eq!(listed.returns[0].changes, changes);

    carry_back(&node, &changes, &now, &grafted_essence);

    // Acknowledged: gone, and a second acknowledgement finds nothing.
    assert_eq!(
        acknowledge(&switchfile).unwrap().unwrap().len(),
        changes.len()
    );
    assert!(read_changes(&switchfile).unwrap().is_none());
    assert!(acknowledge(&switchfile).unwrap().is_none());
}

#[test]
fn nothing_changed_means_no_change_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path());
    let local = SlapProxy::start(COMPUTER).unwrap();
    let grafted = graft(&node, &local);
    // Re-requesting with identical data is not a change.
    local.slapos_client_ok(&[
        "request",
        "Main B",
        TEST_SOFTWARE_URL,
        "--type",
        "default",
        "--state",
        "started",
        "--parameters",
        r#"_={"n": 1}"#,
    ]);
    let now = MasterSnapshot::read(&MasterClient::new(local.url()).unwrap(), COMPUTER).unwrap();
    let changes = diff(&grafted, &now);
    assert!(changes.is_empty(), "{changes:#?}");
    let switchfile = dir.path().join("switch");
    let entry = Return::new(None, "t", local.url(), COMPUTER, changes);
    assert!(record_return(&switchfile, entry).unwrap().is_none());
    assert!(!bouture_offline_changes::changes_path(&switchfile).exists());
}

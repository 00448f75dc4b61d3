//! After a graft, the master holds exactly what the node says: partitions,
//! addresses, instances, parameters, states, shared instances.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use bouture_graft::{PartitionStatus, Placement};
use bouture_test_support::SlapProxy;
use bouture_test_support::master::MasterState;
use bouture_test_support::node::{
    TEST_SOFTWARE_URL, TestNode, TestPartition, WrittenNode, bouture_json,
};
use serde_json::{Value, json};

use crate::{graft, master_state};

/// Parameters with every character that needs escaping somewhere on the way.
fn tricky_config(number: u32) -> Value {
    let inner = json!({
        "n": number,
        "text": "a & b < c > d \"quoted\" 'single' caf\u{e9} \u{65e5}\u{672c}\nsecond line\ttab",
        "long": "x".repeat(5000),
        "ratio": 3500.0,
        "flag": true,
    });
    json!({ "_": bouture_json::dumps(&inner) })
}

/// Plain keys (not the single `_` convention), with typed values.
fn plain_config(number: u32) -> Value {
    json!({
        "title": format!("plain <{number}> & \"co\""),
        "port": 8000 + number,
        "enabled": false,
        "note": "multi\nline é",
    })
}

/// A node of `count` opted-in partitions, numbered with gaps, mixing
/// states, address families, taps, parameters and shared instances, plus
/// partitions that are not opted in.
fn mixed_node(root: &Path, computer_id: &str, count: u32) -> WrittenNode {
    let mut node = TestNode::new(root, computer_id).address("10.255.0.1", "255.255.0.0");
    let states = ["started", "stopped", "started", "destroyed"];
    for index in 0..count {
        // Gaps: 0, 2, 10, 11, 13, 15, ...
        let number = match index {
            0 => 0,
            1 => 2,
            2 => 10,
            n => 8 + n * 2 - n % 2,
        };
        let mut partition = TestPartition::new(number);
        if index % 3 == 1 {
            partition = partition.ipv6_only();
        }
        if index % 5 == 4 {
            partition = partition.without_tap();
        }
        let config = if index % 2 == 0 {
            tricky_config(number)
        } else {
            plain_config(number)
        };
        let shared: Vec<(String, Value)> = (0..index % 3)
            .map(|s| {
                let title = if s == 0 {
                    format!("_SIM {number}-{s}")
                } else {
                    format!("SIM {number}-{s}")
                };
                (
                    title,
                    json!({"_": format!("{{\"imsi\": \"{number:03}{s:03}\", \"k\": \"&<>\"}}")}),
                )
            })
            .collect();
        let shared_refs: Vec<(&str, Value)> = shared
            .iter()
            .map(|(t, p)| (t.as_str(), p.clone()))
            .collect();
        let mut value = bouture_json(
            &format!("Instance {number} ({computer_id})"),
            states[usize::try_from(index).unwrap() % states.len()],
            &config,
            &shared_refs,
        );
        // A proxy-produced entry: title equal to reference, with a leading `_`.
        if let Some(first) = value["shared-list"].get_mut(0) {
            let title = first["slave-title"].clone();
            first["slave-reference"] = title;
        }
        if index % 4 == 3 {
            value["software-url"] = json!(format!("{TEST_SOFTWARE_URL}?variant=2"));
        }
        node = node.partition(partition.bouture_value(&value));
        // A partition that is not opted in, after every third one.
        if index % 3 == 2 {
            node = node.partition(TestPartition::new(number + 1000));
        }
    }
    node.write()
}

/// What Python's `str()` makes of a JSON scalar (how the proxy stores parameters).
fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        Value::Number(n) if n.is_f64() => bouture_json::float_repr(n.as_f64().unwrap()),
        Value::Number(n) => n.to_string(),
        other => panic!("the test parameters hold only scalars, not {other}"),
    }
}

/// Check every grafted partition of `node` against the master.
fn assert_master_matches_node(proxy: &SlapProxy, node: &WrittenNode, since: f64) {
    let state = master_state(proxy, &node.computer_id);
    assert_eq!(
        state.computer_address,
        (
            Some("10.255.0.1".to_string()),
            Some("255.255.0.0".to_string())
        )
    );
    let opted_in: Vec<_> = node
        .partitions
        .iter()
        .filter(|p| p.bouture.is_some())
        .collect();
    let ids: Vec<String> = opted_in.iter().map(|p| p.id()).collect();
    let mut master_ids: Vec<String> = state.partitions.keys().cloned().collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    master_ids.sort();
    assert_eq!(
        master_ids, sorted_ids,
        "the master holds exactly the grafted partitions"
    );

    let mut software: Vec<String> = Vec::new();
    for partition in &opted_in {
        let url = assert_partition_matches(&state, partition);
        if !software.contains(&url) {
            software.push(url);
        }
    }
    software.sort();
    assert_eq!(state.software_releases, software);

    let client = bouture_master_client::MasterClient::new(proxy.url()).unwrap();
    let stamps = bouture_test_support::master::MasterState::timestamps(&client, &node.computer_id);
    for id in &ids {
        assert!(
            stamps[id] >= since - 1.0,
            "{id} has a fresh timestamp: {} < {since}",
            stamps[id]
        );
    }
}

/// Check one grafted partition against the master; returns its software release.
fn assert_partition_matches(state: &MasterState, partition: &TestPartition) -> String {
    let file: Value = serde_json::from_slice(partition.bouture.as_ref().unwrap()).unwrap();
    let on_master = &state.partitions[&partition.id()];
    let url = file["software-url"].as_str().unwrap().to_string();
    assert_eq!(on_master.title, file["instance-title"]);
    assert_eq!(on_master.software_release, url);
    assert_eq!(on_master.software_type, file["software-type"]);
    assert_eq!(
        on_master.state,
        file["instance-state"],
        "{}",
        partition.id()
    );

    let expected: serde_json::Map<String, Value> = file["config"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(python_str(v))))
        .collect();
    let stored: Value = serde_json::from_str(&on_master.parameters).unwrap();
    assert_eq!(
        stored,
        Value::Object(expected),
        "parameters of {}",
        partition.id()
    );

    let interface = if partition.tap.is_empty() {
        partition.id()
    } else {
        partition.tap.clone()
    };
    let mut addresses: Vec<(String, String, String)> = partition
        .addresses
        .iter()
        .map(|(addr, netmask)| {
            let canonical: std::net::IpAddr = addr.parse().unwrap();
            (interface.clone(), canonical.to_string(), netmask.clone())
        })
        .collect();
    addresses.sort();
    assert_eq!(
        on_master.addresses,
        addresses,
        "addresses of {}",
        partition.id()
    );

    let mut shared: Vec<(String, String, String, Value)> = file["shared-list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let title = entry["slave-title"].as_str().unwrap();
            let plain = if entry["slave-reference"] == entry["slave-title"] {
                title.strip_prefix('_').unwrap_or(title)
            } else {
                title
            };
            // A user request on a proxy: reference and title both `_<title>`.
            let stored = format!("_{plain}");
            (
                stored.clone(),
                stored,
                entry["slap-software-type"].as_str().unwrap().to_string(),
                entry["parameter-list"].clone(),
            )
        })
        .collect();
    shared.sort_by(|a, b| a.0.cmp(&b.0));
    let on_master_shared: Vec<(String, String, String, Value)> = on_master
        .shared_instances
        .iter()
        .map(|(t, r, ty, p)| {
            (
                t.clone(),
                r.clone(),
                ty.clone(),
                serde_json::from_str(p).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        on_master_shared,
        shared,
        "shared instances of {}",
        partition.id()
    );

    let title = file["instance-title"].as_str().unwrap();
    let (rpc_partition, rpc_state, rpc_url) = &state.json_rpc_instances[title];
    assert_eq!(
        (rpc_partition.as_str(), rpc_state.as_str(), rpc_url.as_str()),
        (
            partition.id().as_str(),
            file["instance-state"].as_str().unwrap(),
            url.as_str()
        )
    );
    assert_eq!(state.json_rpc_hosted[title].len(), shared.len());
    url
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn graft_and_check(count: u32) {
    let dir = tempfile::tempdir().unwrap();
    let computer_id = format!("COMP-MIXED-{count}");
    let node = mixed_node(dir.path(), &computer_id, count);
    let proxy = SlapProxy::start(&computer_id).unwrap();
    let since = now();
    let report = graft(&node, &proxy);
    assert_eq!(
        report.totals.grafted,
        usize::try_from(count).unwrap(),
        "{report:#?}"
    );
    assert_eq!((report.totals.skipped, report.totals.failed), (0, 0));
    assert_eq!(report.placement, Placement::SingleRegistration);
    assert_master_matches_node(&proxy, &node, since);

    // Grafted partitions lose their timestamp; the others keep it.
    for partition in &node.partitions {
        let stamp = node.instance_root.join(partition.id()).join(".timestamp");
        assert_eq!(
            stamp.exists(),
            partition.bouture.is_none(),
            "{}",
            stamp.display()
        );
    }
}

#[test]
fn graft_of_one_partition() {
    graft_and_check(1);
}

#[test]
fn graft_of_three_partitions_with_gaps() {
    graft_and_check(3);
}

#[test]
fn graft_of_twenty_five_partitions() {
    graft_and_check(25);
}

#[test]
fn grafting_twice_gives_the_same_master_state() {
    let dir = tempfile::tempdir().unwrap();
    let node = mixed_node(dir.path(), "COMP-TWICE", 7);
    let proxy = SlapProxy::start("COMP-TWICE").unwrap();
    graft(&node, &proxy);
    let first = master_state(&proxy, "COMP-TWICE");
    let report = graft(&node, &proxy);
    assert_eq!(report.totals.grafted, 7);
    assert_eq!(master_state(&proxy, "COMP-TWICE"), first);
}

#[test]
fn invalid_partitions_are_skipped_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let good = |number: u32, title: &str| TestPartition::new(number).instance(title, "started");
    let node = TestNode::new(dir.path(), "COMP-SKIP")
        .address("10.255.0.1", "255.255.0.0")
        .partition(good(0, "kept"))
        .partition(TestPartition::new(1).bouture_bytes(b"{not json"))
        .partition(TestPartition::new(2).bouture_value(&json!({"instance-title": "x"})))
        .partition(good(3, "same title"))
        .partition(good(4, "same title"))
        .partition(good(5, "no resource").without_resource())
        .partition(TestPartition::new(6).bouture_value(&bouture_json(
            "bad state",
            "running",
            &json!({}),
            &[],
        )))
        .partition(good(7, "also kept"))
        .write();
    std::os::unix::fs::symlink("/etc/hostname", node.instance_root.join("slappart8")).ok();
    let proxy = SlapProxy::start("COMP-SKIP").unwrap();
    let report = graft(&node, &proxy);
    let status: BTreeMap<&str, PartitionStatus> = report
        .partitions
        .iter()
        .map(|p| (p.id.as_str(), p.status))
        .collect();
    assert_eq!(status["slappart0"], PartitionStatus::Grafted);
    assert_eq!(status["slappart7"], PartitionStatus::Grafted);
    for skipped in [
        "slappart1",
        "slappart2",
        "slappart3",
        "slappart4",
        "slappart5",
        "slappart6",
        "slappart8",
    ] {
        assert_eq!(status[skipped], PartitionStatus::Skipped, "{skipped}");
        let stamp = node.instance_root.join(skipped).join(".timestamp");
        assert!(
            skipped == "slappart8" || stamp.exists(),
            "{skipped} keeps its timestamp"
        );
    }
    let state = master_state(&proxy, "COMP-SKIP");
    assert_eq!(
        state.partitions.keys().collect::<Vec<_>>(),
        ["slappart0", "slappart7"]
    );
    let reasons: Vec<String> = report
        .partitions
        .iter()
        .filter_map(|p| Some(format!("{}: {}", p.id, p.reason.as_ref()?)))
        .map(|line| line.replace(dir.path().to_str().unwrap(), "[ROOT]"))
        .collect();
    insta::assert_debug_snapshot!(reasons);
}

//! Merges checked by Ganeti 3.0's own configuration loader and verifier, and
//! every conflict the merge must refuse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "tests and their helpers fail loudly; case tables are long"
)]

mod common;

use std::path::{Path, PathBuf};

use bouture_merge::{
    ConflictKind, Error, GroupStrategy, Options, ParameterPolicy, PortRange, Report, merge_files,
};
use common::generator::{Spec, generate, uuid};
use common::{assert_ganeti_valid, first, fixture, fixture_30, mutate, renamed_copy};
use serde_json::{Value, json};

/// Inputs written in a temporary directory, and where the output goes.
struct Case {
    dir: tempfile::TempDir,
    ours: PathBuf,
    theirs: Vec<PathBuf>,
    output: PathBuf,
}

impl Case {
    fn new(ours: &str, theirs: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ours_path = dir.path().join("ours.data");
        std::fs::write(&ours_path, ours).unwrap();
        let theirs = theirs
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let path = dir.path().join(format!("theirs{i}.data"));
                std::fs::write(&path, text).unwrap();
                path
            })
            .collect();
        let output = dir.path().join("merged.data");
        Self {
            dir,
            ours: ours_path,
            theirs,
            output,
        }
    }

    fn merge(&self, options: &Options) -> Result<Report, Error> {
        let theirs: Vec<&Path> = self.theirs.iter().map(PathBuf::as_path).collect();
        merge_files(&self.ours, &theirs, Some(&self.output), options)
    }

    fn merged(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.output).unwrap()).unwrap()
    }

    /// Merge must be refused; returns the conflicts and checks nothing was written.
    fn refused(&self, options: &Options) -> Error {
        let error = self.merge(options).expect_err("the merge must be refused");
        assert!(!self.output.exists(), "nothing may be written when refused");
        let leftovers: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(".bouture"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        error
    }
}

fn options(groups: Option<GroupStrategy>) -> Options {
    Options {
        groups,
        now: Some(1_800_000_000.5),
        ..Options::default()
    }
}

/// The upstream fixture's pool (32101-32105) is outside Ganeti's default
/// range; ports outside `--port-range` are never handed out.
fn fixture_options(groups: Option<GroupStrategy>) -> Options {
    Options {
        port_range: "11000-65535".parse::<PortRange>().unwrap(),
        ..options(groups)
    }
}

/// Give the object `old` (its key, uuid and every reference to it) the uuid `new`.
fn rename_uuid(v: &mut Value, old: &str, new: &str) {
    *v = serde_json::from_str(&v.to_string().replace(old, new)).unwrap();
}

/// The key of the first object of a section.
fn first_key(v: &Value, section: &str) -> String {
    v[section]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone()
}

fn conflicts(error: &Error) -> Vec<(ConflictKind, String)> {
    match error {
        Error::Conflicts { conflicts } => conflicts
            .iter()
            .map(|c| (c.kind, c.message.clone()))
            .collect(),
        other => panic!("expected conflicts, got {other}"),
    }
}

fn assert_conflict(error: &Error, kind: ConflictKind, needle: &str) {
    let found = conflicts(error);
    assert!(
        found
            .iter()
            .any(|(k, message)| *k == kind && message.contains(needle)),
        "no {kind:?} conflict mentioning {needle:?} in {found:#?}"
    );
}

fn small(index: u32) -> String {
    generate(&Spec::new(index, 6, 30))
}

// ---------------------------------------------------------------------------
// Merges that Ganeti must accept.

#[test]
fn fixture_merged_with_renamed_copy_is_valid_for_ganeti() {
    let ours = fixture_30();
    let theirs = renamed_copy(&ours, "c0de");
    for strategy in [GroupStrategy::Rename, GroupStrategy::Merge] {
        let case = Case::new(&ours, &[&theirs]);
        let report = case.merge(&fixture_options(Some(strategy))).unwrap();
        assert_eq!(report.merged[0].nodes_added.len(), 3);
        assert_eq!(report.merged[0].instances_added.len(), 3);
        assert_eq!(report.merged[0].disks_added.len(), 3);
        assert_eq!(report.merged[0].networks_added, ["copied network"]);
        // The copy's one DRBD disk gets the head of our pool.
        assert_eq!(report.port_changes.len(), 1);
        assert_eq!(report.port_changes[0].old, 32100);
        assert_eq!(report.port_changes[0].new, 32104);
        let merged = case.merged();
        assert_eq!(merged["nodes"].as_object().unwrap().len(), 6);
        assert_eq!(merged["instances"].as_object().unwrap().len(), 6);
        assert_eq!(merged["disks"].as_object().unwrap().len(), 6);
        assert_eq!(merged["networks"].as_object().unwrap().len(), 2);
        assert_eq!(
            merged["cluster"]["tcpudp_port_pool"],
            json!([32105, 32101, 32102, 32103])
        );
        assert_eq!(merged["cluster"]["highest_used_port"], json!(32105));
        let groups = merged["nodegroups"].as_object().unwrap().len();
        assert_eq!(
            groups,
            if strategy == GroupStrategy::Rename {
                4
            } else {
                2
            }
        );
        assert_ganeti_valid(&[&case.output]);
    }
}

#[test]
fn generated_clusters_with_overlapping_ports_are_valid_for_ganeti() {
    let a = generate(&Spec::new(1, 40, 400));
    let b = generate(&Spec::new(2, 30, 300));
    let mut outputs = Vec::new();
    for strategy in [GroupStrategy::Rename, GroupStrategy::Merge] {
        let case = Case::new(&a, &[&b]);
        let report = case.merge(&options(Some(strategy))).unwrap();
        // 150 DRBD disks and 100 consoles in B, all reallocated above A's ports.
        assert_eq!(report.port_changes.len(), 250);
        let merged = case.merged();
        assert_eq!(merged["nodes"].as_object().unwrap().len(), 70);
        assert_eq!(merged["instances"].as_object().unwrap().len(), 700);
        let hup = merged["cluster"]["highest_used_port"].as_u64().unwrap();
        let a_hup = 11_000 + 200 + 134 - 1;
        assert_eq!(hup, a_hup + 250);
        // B's nodes are offline non-candidates.
        let b_node = &merged["nodes"][uuid(2, 1, 0)];
        assert_eq!(b_node["offline"], json!(true));
        assert_eq!(b_node["master_candidate"], json!(false));
        assert_eq!(b_node["drained"], json!(false));
        assert_eq!(b_node["serial_no"], json!(1));
        if strategy == GroupStrategy::Merge {
            assert_eq!(b_node["group"], json!(uuid(1, 2, 0)));
            let group = &merged["nodegroups"][uuid(1, 2, 0)];
            assert!(
                group["networks"].get(uuid(2, 6, 0)).is_some(),
                "group gains B's network"
            );
            assert!(group["networks"].get(uuid(1, 6, 0)).is_some());
        } else {
            assert_eq!(
                merged["nodegroups"][uuid(2, 2, 0)]["name"],
                json!("default-c2.example.com")
            );
        }
        outputs.push(case);
    }
    let paths: Vec<&Path> = outputs.iter().map(|c| c.output.as_path()).collect();
    assert_ganeti_valid(&paths);
}

#[test]
fn three_clusters_merge_and_are_valid_for_ganeti() {
    let a = generate(&Spec::new(1, 8, 60));
    let b = generate(&Spec::new(2, 8, 60));
    let c = generate(&Spec::new(3, 8, 60));
    let case = Case::new(&a, &[&b, &c]);
    let report = case.merge(&options(Some(GroupStrategy::Merge))).unwrap();
    assert_eq!(report.merged.len(), 2);
    let merged = case.merged();
    assert_eq!(merged["nodegroups"].as_object().unwrap().len(), 1);
    assert_eq!(merged["networks"].as_object().unwrap().len(), 3);
    assert_ganeti_valid(&[&case.output]);
}

#[test]
fn drbd_only_clusters_fill_the_default_range_exactly() {
    // A: 2,000 DRBD ports; B: 2,000 more: exactly Ganeti's 4,000 ports.
    let spec = |index| Spec {
        drbd_every: 1,
        console_every: 0,
        ..Spec::new(index, 20, 2000)
    };
    let case = Case::new(&generate(&spec(1)), &[&generate(&spec(2))]);
    case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    assert_eq!(case.merged()["cluster"]["highest_used_port"], json!(14_999));
    assert_ganeti_valid(&[&case.output]);
}

#[test]
fn widened_port_range_lets_large_merges_through() {
    let spec = |index| Spec {
        drbd_every: 1,
        console_every: 0,
        ..Spec::new(index, 20, 3000)
    };
    let case = Case::new(&generate(&spec(1)), &[&generate(&spec(2))]);
    let error = case.refused(&options(Some(GroupStrategy::Rename)));
    match &error {
        Error::PortsExhausted {
            needed, available, ..
        } => {
            assert_eq!((*needed, *available), (3000, 1000));
        }
        other => panic!("expected PortsExhausted, got {other}"),
    }
    assert!(error.to_string().contains("3000 needed"), "{error}");
    let wide = Options {
        port_range: "11000-20000".parse::<PortRange>().unwrap(),
        ..options(Some(GroupStrategy::Rename))
    };
    case.merge(&wide).unwrap();
    assert_eq!(case.merged()["cluster"]["highest_used_port"], json!(16_999));
    assert_ganeti_valid(&[&case.output]);
}

#[test]
fn unknown_fields_survive_and_our_objects_are_kept_verbatim() {
    let ours = mutate(&small(1), |v| {
        first(v, "nodes")["future_field"] = json!({"from": "ganeti 3.9"});
        v["cluster"]["future_cluster_field"] = json!([1, 2]);
        v["future_section"] = json!({"x": 1});
    });
    let theirs = mutate(&small(2), |v| {
        first(v, "instances")["future_field"] = json!("kept");
        first(v, "disks")["future_disk_field"] = json!(1.5);
    });
    let case = Case::new(&ours, &[&theirs]);
    case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    let text = std::fs::read_to_string(&case.output).unwrap();
    let merged: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(merged["future_section"], json!({"x": 1}));
    assert_eq!(merged["cluster"]["future_cluster_field"], json!([1, 2]));
    assert_eq!(
        merged["nodes"][uuid(1, 1, 0)]["future_field"],
        json!({"from": "ganeti 3.9"})
    );
    assert_eq!(
        merged["instances"][uuid(2, 3, 0)]["future_field"],
        json!("kept")
    );
    assert_eq!(
        merged["disks"][uuid(2, 4, 0)]["future_disk_field"],
        json!(1.5)
    );
    // Every object of ours appears in the output byte for byte.
    let ours_value: Value = serde_json::from_str(&ours).unwrap();
    for section in ["nodes", "instances", "disks", "networks"] {
        for (key, object) in ours_value[section].as_object().unwrap() {
            let raw = serde_json::to_string(object).unwrap();
            assert!(text.contains(&raw), "{section}/{key} changed");
            assert_eq!(&merged[section][key], object);
        }
    }
    // Only the serial numbers and times Ganeti bumps changed in our cluster.
    let mut cluster = merged["cluster"].clone();
    let mut original = ours_value["cluster"].clone();
    assert_eq!(
        cluster["serial_no"],
        json!(original["serial_no"].as_u64().unwrap() + 1)
    );
    assert_eq!(
        merged["serial_no"],
        json!(ours_value["serial_no"].as_u64().unwrap() + 1)
    );
    for key in [
        "serial_no",
        "mtime",
        "highest_used_port",
        "tcpudp_port_pool",
    ] {
        cluster.as_object_mut().unwrap().remove(key);
        original.as_object_mut().unwrap().remove(key);
    }
    assert_eq!(cluster, original);
}

#[test]
fn inputs_are_never_modified_and_output_has_mode_0640() {
    use std::os::unix::fs::PermissionsExt;
    let (a, b) = (small(1), small(2));
    let case = Case::new(&a, &[&b]);
    case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    assert_eq!(std::fs::read_to_string(&case.ours).unwrap(), a);
    assert_eq!(std::fs::read_to_string(&case.theirs[0]).unwrap(), b);
    let mode = std::fs::metadata(&case.output)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn dry_run_writes_nothing() {
    let case = Case::new(&small(1), &[&small(2)]);
    let theirs: Vec<&Path> = case.theirs.iter().map(PathBuf::as_path).collect();
    let report = merge_files(
        &case.ours,
        &theirs,
        None,
        &options(Some(GroupStrategy::Rename)),
    )
    .unwrap();
    assert!(report.dry_run);
    assert!(!case.output.exists());
}

// ---------------------------------------------------------------------------
// Refusals: every conflict, found together, nothing written.

#[test]
fn output_equal_to_an_input_is_refused() {
    let case = Case::new(&small(1), &[&small(2)]);
    for output in [
        case.ours.clone(),
        case.dir.path().join(".").join("theirs0.data"),
    ] {
        let theirs: Vec<&Path> = case.theirs.iter().map(PathBuf::as_path).collect();
        let error = merge_files(
            &case.ours,
            &theirs,
            Some(&output),
            &options(Some(GroupStrategy::Rename)),
        )
        .expect_err("refused");
        assert!(matches!(error, Error::OutputIsInput { .. }), "{error}");
    }
    let link = case.dir.path().join("hardlink.data");
    std::fs::hard_link(&case.ours, &link).unwrap();
    let theirs: Vec<&Path> = case.theirs.iter().map(PathBuf::as_path).collect();
    let error = merge_files(&case.ours, &theirs, Some(&link), &options(None)).expect_err("refused");
    assert!(matches!(error, Error::OutputIsInput { .. }), "{error}");
}

#[test]
fn other_versions_are_refused_naming_both_versions() {
    for (name, found) in [
        ("cluster_config_3.1.json", "3010000 (Ganeti 3.1)"),
        ("cluster_config_2.16.json", "2160000 (Ganeti 2.16)"),
    ] {
        let other = std::fs::read_to_string(fixture(name)).unwrap();
        let case = Case::new(&fixture_30(), &[&other]);
        let error = case.refused(&options(None));
        let message = error.to_string();
        assert!(
            matches!(error, Error::UnsupportedVersion { .. }),
            "{message}"
        );
        assert!(
            message.contains(found) && message.contains("3000000 (Ganeti 3.0)"),
            "{message}"
        );
    }
}

#[test]
fn merging_a_cluster_with_itself_is_refused() {
    let case = Case::new(&fixture_30(), &[&fixture_30()]);
    let error = case.refused(&options(Some(GroupStrategy::Rename)));
    assert_conflict(
        &error,
        ConflictKind::ClusterName,
        "both are named 'cluster.name.example.com'",
    );
}

/// Each mutation of B (or of A) must be refused with a conflict of that kind
/// whose message contains the given text.
#[test]
fn every_clash_is_refused_with_its_message() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation, ConflictKind, String)> = vec![
        (
            "node uuid",
            Box::new(move |v: &mut Value| rename_uuid(v, &uuid(2, 1, 5), &uuid(1, 1, 5))),
            ConflictKind::Uuid,
            format!(
                "UUID {} is used by node 'node5.c1.example.com'",
                uuid(1, 1, 5)
            ),
        ),
        (
            "instance uuid",
            Box::new(|v: &mut Value| {
                rename_uuid(v, &first_key(v, "instances"), &uuid(1, 3, 7));
            }),
            ConflictKind::Uuid,
            "instance 'inst7.c1.example.com'".to_owned(),
        ),
        (
            "disk uuid",
            Box::new(|v: &mut Value| {
                rename_uuid(v, &first_key(v, "disks"), &uuid(1, 4, 3));
            }),
            ConflictKind::Uuid,
            "disk 'disk/0'".to_owned(),
        ),
        (
            "node group uuid",
            Box::new(|v: &mut Value| {
                rename_uuid(v, &first_key(v, "nodegroups"), &uuid(1, 2, 0));
            }),
            ConflictKind::Uuid,
            format!("UUID {}", uuid(1, 2, 0)),
        ),
        (
            "network uuid",
            Box::new(|v: &mut Value| {
                rename_uuid(v, &first_key(v, "networks"), &uuid(1, 6, 0));
            }),
            ConflictKind::Uuid,
            "network 'net1'".to_owned(),
        ),
        (
            "nic uuid",
            Box::new(|v: &mut Value| {
                first(v, "instances")["nics"][0]["uuid"] = json!(uuid(1, 5, 4));
            }),
            ConflictKind::Uuid,
            "NIC 'inst4.c1.example.com/nic 0'".to_owned(),
        ),
        (
            "cluster uuid",
            Box::new(|v: &mut Value| {
                v["cluster"]["uuid"] = json!(uuid(1, 7, 0));
            }),
            ConflictKind::Uuid,
            "cluster 'c1.example.com'".to_owned(),
        ),
        (
            "lv name",
            Box::new(|v: &mut Value| {
                v["disks"][uuid(2, 4, 1)]["logical_id"] =
                    json!(["xenvg", format!("{}.disk0", uuid(1, 4, 1))]);
            }),
            ConflictKind::Uuid,
            format!("LV name xenvg/{}.disk0", uuid(1, 4, 1)),
        ),
        (
            "node name",
            Box::new(|v: &mut Value| {
                first(v, "nodes")["name"] = json!("node3.c1.example.com");
            }),
            ConflictKind::NodeName,
            "node name node3.c1.example.com".to_owned(),
        ),
        (
            "instance name",
            Box::new(|v: &mut Value| {
                first(v, "instances")["name"] = json!("inst9.c1.example.com");
            }),
            ConflictKind::InstanceName,
            "instance name inst9.c1.example.com".to_owned(),
        ),
        (
            "master ip",
            Box::new(|v: &mut Value| {
                v["cluster"]["master_ip"] = json!("10.1.255.254");
            }),
            ConflictKind::Ip,
            "IP address 10.1.255.254 is used by the master IP of cluster 'c1.example.com'"
                .to_owned(),
        ),
        (
            "node primary ip",
            Box::new(|v: &mut Value| {
                first(v, "nodes")["primary_ip"] = json!("10.1.0.2");
            }),
            ConflictKind::Ip,
            "IP address 10.1.0.2 is used by node 'node1.c1.example.com'".to_owned(),
        ),
        (
            "node secondary ip",
            Box::new(|v: &mut Value| {
                first(v, "nodes")["secondary_ip"] = json!("100.1.0.3");
            }),
            ConflictKind::Ip,
            "IP address 100.1.0.3".to_owned(),
        ),
        (
            "nic ip same link and network",
            Box::new(|v: &mut Value| {
                let nic = &mut first(v, "instances")["nics"][0];
                nic["ip"] = json!("192.168.7.7");
                nic["network"] = Value::Null;
                nic["nicparams"] = json!({});
            }),
            ConflictKind::Ip,
            "bridge:br974/192.168.7.7/None".to_owned(),
        ),
        (
            "mac",
            Box::new(|v: &mut Value| {
                first(v, "instances")["nics"][0]["mac"] = json!("AA:00:01:00:00:05");
            }),
            ConflictKind::Mac,
            "MAC address aa:00:01:00:00:05".to_owned(),
        ),
        (
            "network name",
            Box::new(|v: &mut Value| {
                first(v, "networks")["name"] = json!("net1");
            }),
            ConflictKind::NetworkName,
            "network name net1".to_owned(),
        ),
    ];
    for (what, change, kind, needle) in cases {
        let a = mutate(&small(1), |v| {
            // A NIC without network on the default link, for the NIC IP case.
            let nic = &mut first(v, "instances")["nics"][0];
            nic["ip"] = json!("192.168.7.7");
            nic["network"] = Value::Null;
            nic["nicparams"] = json!({});
        });
        let b = mutate(&small(2), |v| change(v));
        let case = Case::new(&a, &[&b]);
        let error = case.refused(&options(Some(GroupStrategy::Rename)));
        assert!(
            conflicts(&error)
                .iter()
                .any(|(k, m)| *k == kind && m.contains(&needle)),
            "{what}: no {kind:?} conflict mentioning {needle:?} in {error:?}"
        );
    }
}

#[test]
fn nic_ips_on_different_links_do_not_clash() {
    let set_ip = |link: &str| {
        let link = link.to_owned();
        move |v: &mut Value| {
            let nic = &mut first(v, "instances")["nics"][0];
            nic["ip"] = json!("192.168.7.7");
            nic["network"] = Value::Null;
            nic["nicparams"] = json!({"mode": "bridged", "link": link});
        }
    };
    let case = Case::new(
        &mutate(&small(1), set_ip("br1")),
        &[&mutate(&small(2), set_ip("br2"))],
    );
    case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    assert_ganeti_valid(&[&case.output]);
}

#[test]
fn node_group_name_clash_needs_a_strategy() {
    let case = Case::new(&small(1), &[&small(2)]);
    let error = case.refused(&options(None));
    assert_conflict(
        &error,
        ConflictKind::NodeGroupName,
        "node group 'default' exists in cluster 'c1.example.com' and in cluster 'c2.example.com'; choose a node group strategy",
    );
}

#[test]
fn renamed_group_clashing_with_an_existing_name_is_refused() {
    let a = mutate(&small(1), |v| {
        let mut group = first(v, "nodegroups").clone();
        group["uuid"] = json!(uuid(1, 2, 1));
        group["name"] = json!("default-c2.example.com");
        group["networks"] = json!({});
        v["nodegroups"][uuid(1, 2, 1)] = group;
    });
    let case = Case::new(&a, &[&small(2)]);
    let error = case.refused(&options(Some(GroupStrategy::Rename)));
    assert_conflict(
        &error,
        ConflictKind::NodeGroupName,
        "would be renamed 'default-c2.example.com'",
    );
}

#[test]
fn all_conflicts_are_reported_together() {
    let b = mutate(&small(2), |v| {
        first(v, "nodes")["name"] = json!("node3.c1.example.com");
        first(v, "instances")["name"] = json!("inst9.c1.example.com");
        first(v, "instances")["nics"][0]["mac"] = json!("aa:00:01:00:00:05");
        v["cluster"]["volume_group_name"] = json!("othervg");
    });
    let case = Case::new(&small(1), &[&b]);
    let error = case.refused(&options(None));
    let kinds: Vec<ConflictKind> = conflicts(&error).into_iter().map(|(k, _)| k).collect();
    for kind in [
        ConflictKind::NodeName,
        ConflictKind::InstanceName,
        ConflictKind::Mac,
        ConflictKind::NodeGroupName,
        ConflictKind::Parameter,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} missing from {kinds:?}");
    }
}

#[test]
fn cluster_parameters_follow_ganetis_lists() {
    // Always errors, even with the warn policy.
    for (parameter, value) in [
        ("volume_group_name", json!("othervg")),
        ("enabled_hypervisors", json!(["xen-pvm"])),
        ("shared_file_storage_dir", json!("/srv/other")),
    ] {
        let b = mutate(&small(2), |v| v["cluster"][parameter] = value.clone());
        let case = Case::new(&small(1), &[&b]);
        let warn = Options {
            parameter_conflicts: ParameterPolicy::Warn,
            ..options(Some(GroupStrategy::Rename))
        };
        let error = case.refused(&warn);
        assert_conflict(
            &error,
            ConflictKind::Parameter,
            &format!("cluster parameter '{parameter}' differs"),
        );
    }
    // Strict-only: an error by default, a warning with the warn policy.
    for (parameter, value) in [
        ("beparams", json!({"default": {"vcpus": 4}})),
        ("master_netdev", json!("eth9")),
        ("tags", json!(["other"])),
        ("uid_pool", json!([[1000, 1010]])),
    ] {
        let b = mutate(&small(2), |v| v["cluster"][parameter] = value.clone());
        let case = Case::new(&small(1), &[&b]);
        let error = case.refused(&options(Some(GroupStrategy::Rename)));
        assert_conflict(
            &error,
            ConflictKind::Parameter,
            &format!("cluster parameter '{parameter}' differs"),
        );
        let warn = Options {
            parameter_conflicts: ParameterPolicy::Warn,
            ..options(Some(GroupStrategy::Rename))
        };
        let report = case.merge(&warn).unwrap();
        assert!(
            report.warnings.iter().any(|w| w.parameter == parameter),
            "{:?}",
            report.warnings
        );
        assert_ganeti_valid(&[&case.output]);
    }
    // hvparams of an enabled hypervisor are strict too.
    let b = mutate(&small(2), |v| {
        v["cluster"]["hvparams"]["kvm"]["acpi"] = json!(false);
    });
    let case = Case::new(&small(1), &[&b]);
    assert_conflict(
        &case.refused(&options(Some(GroupStrategy::Rename))),
        ConflictKind::Parameter,
        "hvparams.kvm.acpi",
    );
    // Warnings only, and merged values.
    let b = mutate(&small(2), |v| {
        v["cluster"]["modify_etc_hosts"] = json!(false);
        v["cluster"]["enabled_hypervisors"] = json!(["kvm", "xen-pvm"]);
        v["cluster"]["reserved_lvs"] = json!(["xenvg/keep"]);
        v["cluster"]["prealloc_wipe_disks"] = json!(true);
        v["cluster"]["osparams"] = json!({"debootstrap": {"dhcp": "yes"}});
    });
    let case = Case::new(&small(1), &[&b]);
    let report = case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    let warned: Vec<&str> = report
        .warnings
        .iter()
        .map(|w| w.parameter.as_str())
        .collect();
    assert!(
        warned.contains(&"modify_etc_hosts") && warned.contains(&"enabled_hypervisors"),
        "{warned:?}"
    );
    let merged = case.merged();
    assert_eq!(merged["cluster"]["reserved_lvs"], json!(["xenvg/keep"]));
    assert_eq!(merged["cluster"]["prealloc_wipe_disks"], json!(true));
    assert_eq!(
        merged["cluster"]["osparams"]["debootstrap"],
        json!({"dhcp": "yes"})
    );
    assert_eq!(merged["cluster"]["modify_etc_hosts"], json!(true));
    assert_ganeti_valid(&[&case.output]);
}

#[test]
fn ganeti_verifier_rejects_a_merge_without_console_port_reallocation() {
    // The harness is a real check: undo the reallocation of one console
    // port (what Ganeti's own tool does) and Ganeti's verifier objects.
    let case = Case::new(&small(1), &[&small(2)]);
    case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    let mut merged = case.merged();
    merged["instances"][uuid(2, 3, 0)]["network_port"] = json!(11001);
    let naive = case.dir.path().join("naive.data");
    std::fs::write(&naive, serde_json::to_string(&merged).unwrap()).unwrap();
    let verdict = common::ganeti_verify(&[&naive]).remove(0);
    assert!(verdict.load_error.is_none(), "{verdict:?}");
    assert!(
        verdict
            .errors
            .iter()
            .any(|e| e.starts_with("tcp/udp port 11001 has duplicates")),
        "{verdict:?}"
    );
}

// ---------------------------------------------------------------------------
// Reports (snapshots).

fn planned_report(ours: &str, theirs: &[&str], options: &Options) -> Report {
    let ours = bouture_merge::ConfigFile::parse(ours, "ours.data").unwrap();
    let theirs: Vec<_> = theirs
        .iter()
        .enumerate()
        .map(|(i, text)| bouture_merge::ConfigFile::parse(text, format!("theirs{i}.data")).unwrap())
        .collect();
    let plan = bouture_merge::plan(&ours, &theirs, options).unwrap();
    Report::new(&ours, &theirs, &plan, Some(PathBuf::from("merged.data")))
}

#[test]
fn report_of_the_fixture_and_its_copy() {
    let ours = fixture_30();
    let theirs = renamed_copy(&ours, "c0de");
    let report = planned_report(
        &ours,
        &[&theirs],
        &fixture_options(Some(GroupStrategy::Rename)),
    );
    // Its text is the `bouture` command's (issue 23: renderers live in the
    // CLI), snapshotted by bouture-cli's merge tests.
    insta::assert_json_snapshot!("fixture_rename_json", report);
}

#[test]
fn report_of_generated_clusters_with_merged_groups_and_warnings() {
    let a = generate(&Spec::new(1, 3, 6));
    let b = mutate(&generate(&Spec::new(2, 3, 6)), |v| {
        v["cluster"]["master_netdev"] = json!("eth9");
        v["cluster"]["reserved_lvs"] = json!(["xenvg/keep"]);
        v["filters"] = json!({"f1": {"uuid": "f1", "priority": 1}});
    });
    let warn = Options {
        parameter_conflicts: ParameterPolicy::Warn,
        ..options(Some(GroupStrategy::Merge))
    };
    let report = planned_report(&a, &[&b], &warn);
    // The text is bouture-cli's (its merge tests snapshot it); the facts the
    // text showed, here.
    insta::assert_json_snapshot!("generated_merge_json", report);
}

#[test]
fn conflicts_of_a_cluster_merged_with_itself() {
    let ours = bouture_merge::ConfigFile::parse(&fixture_30(), "ours.data").unwrap();
    let theirs = vec![bouture_merge::ConfigFile::parse(&fixture_30(), "theirs.data").unwrap()];
    let outcome = bouture_merge::check(&ours, &theirs, &options(None));
    insta::assert_json_snapshot!("self_merge_conflicts", outcome.conflicts);
}

#[test]
fn drbd_disk_attached_to_no_instance_still_gets_a_port() {
    // Instance 0 of B keeps its console port but loses its DRBD disk, which
    // stays in the top-level disks (a detached disk).
    let b = mutate(&small(2), |v| {
        v["instances"][uuid(2, 3, 0)]["disks"] = json!([]);
    });
    let case = Case::new(&small(1), &[&b]);
    let report = case.merge(&options(Some(GroupStrategy::Rename))).unwrap();
    let detached: Vec<_> = report
        .port_changes
        .iter()
        .filter(|c| c.instance.is_none())
        .collect();
    assert_eq!(detached.len(), 1, "{:#?}", report.port_changes);
    assert_eq!(detached[0].old, 11000);
    let merged = case.merged();
    assert_eq!(
        merged["disks"][uuid(2, 4, 0)]["logical_id"][2],
        json!(detached[0].new)
    );
    // Every port in the merged file is unique and below highest_used_port.
    let mut ports: Vec<u64> = merged["disks"]
        .as_object()
        .unwrap()
        .values()
        .filter(|d| d["dev_type"] == "drbd")
        .map(|d| d["logical_id"][2].as_u64().unwrap())
        .chain(
            merged["instances"]
                .as_object()
                .unwrap()
                .values()
                .filter_map(|i| i["network_port"].as_u64()),
        )
        .collect();
    let count = ports.len();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), count, "duplicate ports");
    assert!(*ports.last().unwrap() <= merged["cluster"]["highest_used_port"].as_u64().unwrap());
}

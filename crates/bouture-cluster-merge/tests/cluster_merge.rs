//! The whole orchestration on simulated clusters (see `sim/fake.py`): the
//! real executor runs the fake `ssh`, `gnt-*` and `daemon-util`, which act on
//! one directory per host; every host's resulting state is checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is their job"
)]

mod sim;

use std::panic::AssertUnwindSafe;

use bouture_cluster_merge::{
    Action, Cmd, CmdOutput, Error, ExecError, Executor, Journal, Quiet, Status, StepKind,
    SystemExecutor,
};
use bouture_test_support::ganeti::assert_ganeti_valid;
use serde_json::json;
use sim::{B, C, OURS, Sim, differences};

fn merge(sim: &Sim) -> bouture_cluster_merge::Outcome {
    let mut executor = sim.executor();
    bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap()
}

/// The DRBD shared secrets of every cluster's disks.
fn drbd_secrets(sim: &Sim) -> Vec<String> {
    let mut secrets = Vec::new();
    for bytes in sim.configs.values() {
        let config: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        for disk in config["disks"].as_object().unwrap().values() {
            if disk["dev_type"] == "drbd" {
                secrets.push(disk["logical_id"][5].as_str().unwrap().to_owned());
            }
        }
    }
    assert!(!secrets.is_empty());
    secrets
}

/// Nothing secret may be left in the state directory or its log.
fn assert_no_secrets(sim: &Sim) {
    for entry in std::fs::read_dir(sim.state_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert!(path.is_file(), "left in the state directory: {}", path.display());
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for secret in ["PRIVATE KEY", "fake-key-of"]
            .into_iter()
            .map(str::to_owned)
            .chain(drbd_secrets(sim))
        {
            assert!(!text.contains(&secret), "{} holds {secret}", path.display());
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("bouture-cluster-merge-keys."))
        .filter(|e| {
            std::fs::read_dir(e.path())
                .map(|entries| {
                    entries.filter_map(Result::ok).any(|k| {
                        std::fs::read_to_string(k.path())
                            .is_ok_and(|t| t.contains(&sim.root.display().to_string()))
                    })
                })
                .unwrap_or(false)
        })
        .collect();
    assert!(leftovers.is_empty());
}

/// The state of every host once B and C are merged into ours.
fn assert_merged(sim: &Sim) {
    let our_master = sim.master(OURS).to_owned();
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sim.our_config()).unwrap()).unwrap();
    let mut nodes: Vec<(String, bool)> = config["nodes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| (n["name"].as_str().unwrap().to_owned(), n["offline"].as_bool().unwrap()))
        .collect();
    nodes.sort();
    let mut expected: Vec<(String, bool)> = [OURS, B, C]
        .iter()
        .flat_map(|c| sim.nodes(c).iter().map(|n| (n.clone(), false)))
        .collect();
    expected.sort();
    assert_eq!(nodes, expected, "every node is in the merged cluster, online");
    assert_eq!(config["instances"].as_object().unwrap().len(), 9);
    assert_ganeti_valid(&[&sim.our_config()]);

    // Our master runs normally; the instances that ran before run again,
    // the one that was down stays down.
    assert_eq!(sim.state(&our_master, "daemons.json"), json!({"master": "running", "node": "running"}));
    let states = sim.state(&our_master, "instances.json");
    for cluster in ["b", "c"] {
        assert_eq!(states[format!("instance1.{cluster}.example.com")], "running");
        assert_eq!(states[format!("instance2.{cluster}.example.com")], "running");
        // Never started on our cluster (gnt-instance list shows ADMIN_down).
        assert!(states.get(format!("instance3.{cluster}.example.com")).is_none());
    }
    assert!(!sim.host(&our_master).join("var/lib/ganeti/watcher.pause").exists());
    // The merged nodes follow our master, their daemons run, and they carry
    // no authorized_keys backup.
    for cluster in [B, C] {
        for node in sim.nodes(cluster) {
            let home = sim.host(node);
            assert_eq!(
                std::fs::read_to_string(home.join("var/lib/ganeti/ssconf_master_node")).unwrap(),
                format!("{our_master}\n")
            );
            assert_eq!(sim.state(node, "daemons.json")["node"], "running");
            assert!(!home.join("root/.ssh/authorized_keys.bouture-cluster-merge").exists());
            let keys = std::fs::read_to_string(home.join("root/.ssh/authorized_keys")).unwrap();
            assert!(keys.contains("FAKE-cluster.name.example.com "), "{node}: {keys}");
            assert!(keys.lines().all(|l| l.starts_with("ssh-")), "{node}: {keys}");
        }
        // Their old masters no longer answer to the cluster name.
        let master = sim.master(cluster);
        assert_eq!(std::fs::read_to_string(sim.host(master).join("state/master_ip")).unwrap(), "down\n");
    }
    // The backup of our config.data is the original, with its mode.
    let backups: Vec<_> = std::fs::read_dir(sim.host(&our_master).join("var/lib/ganeti"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("config.data.bouture-cluster-merge-"))
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read(backups[0].path()).unwrap(), sim.configs[OURS]);
    let mode = |p: &std::path::Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&backups[0].path()), 0o640);
    assert_eq!(mode(&sim.our_config()), 0o640);
}

#[test]
fn two_clusters_merge_into_ours() {
    let sim = Sim::new();
    let outcome = merge(&sim);
    assert_eq!(outcome.status, Status::Complete, "{outcome:#?}\n{}", sim.calls());
    assert!(outcome.failure.is_none());
    assert!(outcome.merge.is_some());
    assert_merged(&sim);
    assert_no_secrets(&sim);
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::Complete);
    assert!(journal.steps.iter().all(|s| s.done == journal.plan.steps[journal.steps.iter().position(|r| r == s).unwrap()].actions.len()));
    // Every command is in the log, with its exit status.
    let log = std::fs::read_to_string(&outcome.log).unwrap();
    assert!(log.contains("gnt-node add --readd --no-ssh-key-check node1.b.example.com"), "{log}");
    assert!(log.contains("  exit: 0"));
    assert!(log.contains("secret: not logged"));
}

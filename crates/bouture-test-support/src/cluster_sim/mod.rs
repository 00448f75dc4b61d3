//! A simulation of three Ganeti clusters (ours and two merging ones) for
//! the cluster-merge orchestration tests (bouture-cluster-merge's and the
//! CLI's): one directory per host, operated on by the fake `ssh`, `gnt-*`
//! and `daemon-util` of `fake.py`. Behind the `cluster-sim` feature (it
//! depends on bouture-cluster-merge for its [`Options`] and executor).
//!
//! The fakes stand for a fault no real cluster can be made to produce on
//! demand (a command failing at one chosen call, a node down mid-run); the
//! real Ganeti tests are the CLI's `ganeti_lab`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::missing_panics_doc,
    clippy::must_use_candidate,
    clippy::new_without_default,
    reason = "test helpers: failing loudly is their job"
)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bouture_cluster_merge::{
    GanetiPaths, GroupStrategy, Options, Restart, SshOptions, SystemExecutor,
};
use serde_json::{Value, json};

use crate::ganeti::ganeti_python;

/// The fixtures: ours, and the two merging clusters.
pub const OURS: &str = "cluster.name.example.com";
/// The first merging cluster.
pub const B: &str = "cluster.name.b.example.com";
/// The second merging cluster.
pub const C: &str = "cluster.name.c.example.com";

/// A fixture's bytes: bouture-cluster-merge's `tests/fixtures` (made by
/// its `make-merging.py`), included so that every package's tests use the
/// same clusters.
fn fixture(name: &str) -> &'static [u8] {
    match name {
        "ours.config.data" => {
            include_bytes!("../../../bouture-cluster-merge/tests/fixtures/ours.config.data")
        }
        "b.config.data" => {
            include_bytes!("../../../bouture-cluster-merge/tests/fixtures/b.config.data")
        }
        "c.config.data" => {
            include_bytes!("../../../bouture-cluster-merge/tests/fixtures/c.config.data")
        }
        other => panic!("no fixture {other}"),
    }
}

/// The fake programs (one script, see its header).
const FAKE: &[u8] = include_bytes!("fake.py");

/// The fake programs as installed: `fake.py` run directly by the
/// interpreter Ganeti's own tools run on ([`ganeti_python`]), isolated and
/// without `site` (`-IS`: it needs only the standard library). Through
/// `#!/usr/bin/env python3` a merge's hundred-odd fake calls would each
/// start whatever `python3` comes first on `PATH`: a version manager's shim
/// (pyenv's runs a dozen shell scripts before Python) made them cost a
/// minute of CPU per merge.
///
/// Panics, saying how to get it, when that interpreter cannot run the fake.
fn fake_script() -> Vec<u8> {
    let python = ganeti_python();
    let shown = python.display();
    // The kernel reads a `#!` line up to its first blank as the interpreter.
    assert!(
        python.is_absolute() && !shown.to_string().contains(char::is_whitespace),
        "BOUTURE_GANETI_PYTHON must be an absolute path without blanks, not {shown:?}"
    );
    let probe = std::process::Command::new(&python)
        .args(["-IS", "-c", "import json, os, shlex, subprocess, sys"])
        .output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "the simulated clusters' fake Ganeti commands run on {shown} ({probe:?}): run \
         `source scripts/setup.d/peers.sh ganeti` as root (apt-get install python3), or point \
         BOUTURE_GANETI_PYTHON at a Python 3 interpreter"
    );
    let body = FAKE
        .strip_prefix(b"#!/usr/bin/env python3\n".as_slice())
        .expect("fake.py starts with its #! line");
    let mut script = format!("#!{shown} -IS\n").into_bytes();
    script.extend_from_slice(body);
    script
}

/// The fake private key of a cluster, and its public key line.
pub fn private_key(cluster: &str) -> String {
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nfake-key-of:{cluster}\n-----END OPENSSH PRIVATE KEY-----\n"
    )
}
/// The public key line of `cluster`'s root on `master`.
pub fn public_key(cluster: &str, master: &str) -> String {
    format!("ssh-ed25519 FAKE-{cluster} root@{master}")
}

/// One simulated world.
pub struct Sim {
    _dir: tempfile::TempDir,
    /// The world's root directory (hosts, fake programs, state).
    pub root: PathBuf,
    /// cluster name -> (master, nodes).
    pub clusters: BTreeMap<String, (String, Vec<String>)>,
    /// The original config.data of each cluster.
    pub configs: BTreeMap<String, Vec<u8>>,
}

/// Every file under the hosts: relative path -> (mode, bytes); directories
/// as (mode, None).
pub type Snapshot = BTreeMap<String, (u32, Option<Vec<u8>>)>;

impl Sim {
    /// A fresh world: the fake programs, the three clusters' hosts and
    /// the operator's SSH access to the merging ones.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let script = fake_script();
        for name in [
            "ssh",
            "gnt-cluster",
            "gnt-node",
            "gnt-instance",
            "daemon-util",
        ] {
            let path = bin.join(name);
            std::fs::write(&path, &script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::create_dir_all(root.join("aliases")).unwrap();
        let mut sim = Self {
            _dir: dir,
            root,
            clusters: BTreeMap::new(),
            configs: BTreeMap::new(),
        };
        let our_master = sim.add_cluster("ours.config.data");
        sim.add_cluster("b.config.data");
        sim.add_cluster("c.config.data");
        std::fs::write(bin.join("local-host"), format!("{our_master}\n")).unwrap();
        std::fs::write(bin.join("operator"), format!("{OURS}\n")).unwrap();
        // The operator (root on our master) can log into the merging masters.
        for cluster in [B, C] {
            let master = sim.master(cluster).to_owned();
            let keys = sim.host(&master).join("root/.ssh/authorized_keys");
            let mut text = std::fs::read_to_string(&keys).unwrap();
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&public_key(OURS, &our_master));
            text.push('\n');
            std::fs::write(keys, text).unwrap();
        }
        // One instance of each merging cluster is down before the merge.
        for cluster in [B, C] {
            let master = sim.master(cluster).to_owned();
            let path = sim.host(&master).join("state/instances.json");
            let mut states: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let name = format!("instance3{}", &cluster["cluster.name".len()..]);
            states[name] = json!("ADMIN_down");
            write_json(&path, &states);
        }
        std::fs::write(sim.root.join("inject.json"), "[]\n").unwrap();
        sim
    }

    /// Create the hosts of one cluster from its fixture; returns its master.
    fn add_cluster(&mut self, fixture_name: &str) -> String {
        let bytes = fixture(fixture_name).to_vec();
        let config: Value = serde_json::from_slice(&bytes).unwrap();
        let cluster = config["cluster"]["cluster_name"]
            .as_str()
            .unwrap()
            .to_owned();
        let master_uuid = config["cluster"]["master_node"].as_str().unwrap();
        let master = config["nodes"][master_uuid]["name"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut nodes: Vec<String> = config["nodes"]
            .as_object()
            .unwrap()
            .values()
            .map(|n| n["name"].as_str().unwrap().to_owned())
            .collect();
        nodes.sort();
        for node in &nodes {
            let home = self.host(node);
            let gdir = home.join("var/lib/ganeti");
            std::fs::create_dir_all(&gdir).unwrap();
            std::fs::create_dir_all(home.join("root/.ssh")).unwrap();
            std::fs::create_dir_all(home.join("state")).unwrap();
            std::fs::write(gdir.join("ssconf_cluster_name"), format!("{cluster}\n")).unwrap();
            std::fs::write(gdir.join("ssconf_master_node"), format!("{master}\n")).unwrap();
            let ssh = home.join("root/.ssh");
            std::fs::write(ssh.join("id_rsa"), private_key(&cluster)).unwrap();
            std::fs::set_permissions(ssh.join("id_rsa"), std::fs::Permissions::from_mode(0o600))
                .unwrap();
            std::fs::write(
                ssh.join("id_rsa.pub"),
                format!("{}\n", public_key(&cluster, &master)),
            )
            .unwrap();
            // Some authorized_keys lack the final newline, as hand-edited files do.
            let mut keys = format!(
                "ssh-rsa AAAAB3admin admin@{node}\n{}",
                public_key(&cluster, &master)
            );
            if node.starts_with("node2") {
                keys.push('\n');
            }
            std::fs::write(ssh.join("authorized_keys"), keys).unwrap();
            std::fs::set_permissions(
                ssh.join("authorized_keys"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            if *node == master {
                let data = gdir.join("config.data");
                std::fs::write(&data, &bytes).unwrap();
                std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o640)).unwrap();
                write_json(
                    &home.join("state/daemons.json"),
                    &json!({"master": "running", "node": "running"}),
                );
                std::fs::write(home.join("state/master_ip"), "up\n").unwrap();
                let states: serde_json::Map<String, Value> = config["instances"]
                    .as_object()
                    .unwrap()
                    .values()
                    .map(|i| (i["name"].as_str().unwrap().to_owned(), json!("running")))
                    .collect();
                write_json(&home.join("state/instances.json"), &Value::Object(states));
            } else {
                write_json(
                    &home.join("state/daemons.json"),
                    &json!({"node": "running"}),
                );
            }
        }
        std::fs::write(
            self.root.join("aliases").join(&cluster),
            format!("{master}\n"),
        )
        .unwrap();
        self.clusters
            .insert(cluster.clone(), (master.clone(), nodes));
        self.configs.insert(cluster, bytes);
        master
    }

    /// The directory standing for `node`'s root filesystem.
    pub fn host(&self, node: &str) -> PathBuf {
        self.root.join("hosts").join(node)
    }

    /// `cluster`'s master node.
    pub fn master(&self, cluster: &str) -> &str {
        &self.clusters[cluster].0
    }

    /// `cluster`'s nodes.
    pub fn nodes(&self, cluster: &str) -> &[String] {
        &self.clusters[cluster].1
    }

    /// The fake programs' directory.
    pub fn bin(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// The merge's state directory (not created).
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("state")
    }

    /// Our master's config.data.
    pub fn our_config(&self) -> PathBuf {
        self.host(self.master(OURS))
            .join("var/lib/ganeti/config.data")
    }

    /// Options for merging `clusters` into ours, with `--groups merge` and
    /// `--restart up`.
    pub fn settings(&self, clusters: &[&str]) -> Options {
        let our_master = self.host(self.master(OURS));
        let mut settings = Options::new(
            clusters.iter().map(|c| (*c).to_owned()).collect(),
            self.state_dir(),
        );
        settings.groups = Some(GroupStrategy::Merge);
        settings.restart = Restart::Up;
        settings.local = GanetiPaths {
            sbin: self.bin(),
            data_dir: our_master.join("var/lib/ganeti"),
            daemon_util: self.bin().join("daemon-util"),
            root_ssh_dir: our_master.join("root/.ssh"),
        };
        settings.our_public_key = our_master.join("root/.ssh/id_rsa.pub");
        settings
    }

    /// The real executor, with the fake `ssh`.
    pub fn executor(&self) -> SystemExecutor {
        SystemExecutor::new(SshOptions {
            program: self.bin().join("ssh"),
            ..SshOptions::default()
        })
    }

    /// Every file and directory of every host, with its mode.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = Snapshot::new();
        walk(&self.root.join("hosts"), &self.root.join("hosts"), &mut out);
        out
    }

    /// Add an injected fault (see fake.py).
    pub fn inject(&self, fault: Value) {
        let path = self.root.join("inject.json");
        let mut faults: Vec<Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        faults.push(fault);
        write_json(&path, &Value::Array(faults));
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        std::fs::write(self.root.join("inject.json"), "[]\n").unwrap();
    }

    /// Make a host unreachable.
    pub fn down(&self, node: &str) {
        std::fs::write(self.host(node).join("state/down"), "").unwrap();
    }

    /// A host's JSON state file.
    pub fn state(&self, node: &str, name: &str) -> Value {
        serde_json::from_slice(&std::fs::read(self.host(node).join("state").join(name)).unwrap())
            .unwrap()
    }

    /// Every call the fake programs received.
    pub fn calls(&self) -> String {
        std::fs::read_to_string(self.root.join("calls.log")).unwrap_or_default()
    }

    /// Replace the simulation's root directory by `[SIM]` in `text`.
    pub fn redact(&self, text: &str) -> String {
        text.replace(self.root.to_str().unwrap(), "[SIM]")
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Snapshot) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let key = path.strip_prefix(base).unwrap().display().to_string();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            out.insert(key, (mode, None));
            walk(base, &path, out);
        } else {
            out.insert(key, (mode, Some(std::fs::read(&path).unwrap())));
        }
    }
}

/// The differences between two snapshots, one line each (empty: identical).
pub fn differences(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (path, value) in before {
        match after.get(path) {
            None => out.push(format!("removed: {path}")),
            Some(other) if other.0 != value.0 => {
                out.push(format!("mode of {path}: {:o} -> {:o}", value.0, other.0));
            }
            Some(other) if other.1 != value.1 => out.push(format!(
                "changed: {path}: {:?} -> {:?}",
                value
                    .1
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()),
                other
                    .1
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned())
            )),
            Some(_) => {}
        }
    }
    for path in after.keys() {
        if !before.contains_key(path) {
            out.push(format!("added: {path}"));
        }
    }
    out
}

/// Write JSON as fake.py does (`json.dumps(sort_keys=True, indent=1)`), so
/// that a state file rewritten unchanged keeps its bytes.
fn write_json(path: &Path, value: &Value) {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&sorted(value), &mut serializer).unwrap();
    out.push(b'\n');
    std::fs::write(path, out).unwrap();
}

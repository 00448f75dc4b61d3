//! `bouture cluster-merge` and `bouture node-setup` against real Ganeti 3.0
//! clusters (the lab of `bouture-ganeti-lab`): bouture runs inside the
//! master's namespaces, exactly as an operator runs it on the master.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests: failing loudly is their job; timings are printed for the CI log"
)]

use std::collections::BTreeMap;
use std::time::Instant;

use bouture_ganeti_lab::{ClusterSpec, Lab};
use bouture_test_support::ganeti::assert_ganeti_valid;

/// The `bouture` binary under test (visible inside the nodes: they share the
/// host's file system outside their own bind mounts).
const BOUTURE: &str = env!("CARGO_BIN_EXE_bouture");

fn build(specs: &[ClusterSpec]) -> Lab {
    let lab = Lab::build(specs).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "lab up: nodes {:.1} s, clusters {:.1} s",
        lab.times.nodes, lab.times.clusters
    );
    lab
}

fn ok(lab: &Lab, node: &str, script: &str) -> String {
    lab.run_ok(node, script).unwrap_or_else(|e| panic!("{e}"))
}

/// `gnt-instance list` as name → status.
fn instance_states(lab: &Lab, master: &str) -> BTreeMap<String, String> {
    ok(
        lab,
        master,
        "gnt-instance list --no-headers -o name,status --separator=,",
    )
    .lines()
    .filter_map(|l| l.split_once(','))
    .map(|(n, s)| (n.to_owned(), s.to_owned()))
    .collect()
}

/// `gnt-node list` as name → (offline, role).
fn node_list(lab: &Lab, master: &str) -> BTreeMap<String, (String, String)> {
    ok(
        lab,
        master,
        "gnt-node list --no-headers -o name,offline,role --separator=,",
    )
    .lines()
    .filter_map(|l| {
        let mut parts = l.split(',');
        Some((
            parts.next()?.to_owned(),
            (parts.next()?.to_owned(), parts.next()?.to_owned()),
        ))
    })
    .collect()
}

/// The operator's preparation on our master (docs/cluster-merge.md, step 1):
/// our root key in the merging master's `authorized_keys`, and the merging
/// nodes' host keys in our `known_hosts`.
fn prepare_access(lab: &Lab, ours: &str, theirs: &str) {
    let our_master = lab.cluster(ours).unwrap().master().to_owned();
    let their = lab.cluster(theirs).unwrap().clone();
    let key = std::fs::read_to_string(
        lab.node(&our_master)
            .unwrap()
            .root_home()
            .join(".ssh/id_rsa.pub"),
    )
    .unwrap();
    lab.authorize(their.master(), &key).unwrap();
    let mut hosts = vec![their.name.clone()];
    hosts.extend(their.nodes.iter().cloned());
    ok(
        lab,
        &our_master,
        &format!(
            "ssh-keyscan -t rsa,ecdsa,ed25519 {} >> /root/.ssh/known_hosts 2>/dev/null
             ssh -o BatchMode=yes {} true",
            hosts.join(" "),
            their.name
        ),
    );
}

/// What `--restart` (bouture's default) promises: the merged instances that
/// ran before the merge run again; the others stay down.
fn promised_state(was_running: bool) -> &'static str {
    if was_running { "running" } else { "ADMIN_down" }
}

fn merge_two_clusters(groups: &str) {
    let total = Instant::now();
    let lab = build(&[
        ClusterSpec::new("alpha", 2).with_standard_instances(),
        ClusterSpec::new("beta", 2).with_standard_instances(),
    ]);
    let alpha = lab.cluster("alpha").unwrap().clone();
    let beta = lab.cluster("beta").unwrap().clone();
    let master = alpha.master().to_owned();
    let before_alpha = instance_states(&lab, &master);
    let before_beta = instance_states(&lab, beta.master());
    assert_eq!(before_beta.len(), 3, "{before_beta:?}");
    prepare_access(&lab, "alpha", "beta");

    let start = Instant::now();
    let run = lab
        .run(
            &master,
            &format!(
                "{BOUTURE} cluster-merge {} --groups {groups} -v",
                beta.name
            ),
        )
        .unwrap();
    eprintln!(
        "bouture cluster-merge --groups {groups}: exit {} in {:.1} s\n--- stdout\n{}\n--- stderr\n{}",
        run.code,
        start.elapsed().as_secs_f64(),
        run.stdout,
        run.stderr
    );
    assert_eq!(run.code, 0, "the merge succeeds");

    // Ganeti's own verify, on the merged cluster, exits 0.
    lab.verify(&master).unwrap_or_else(|e| panic!("{e}"));

    // Every node, online; only our master is a master.
    let nodes = node_list(&lab, &master);
    let mut expected: Vec<String> = alpha.nodes.iter().chain(&beta.nodes).cloned().collect();
    expected.sort();
    assert_eq!(nodes.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, (offline, role)) in &nodes {
        assert_eq!(offline, "N", "{name} is online");
        assert_eq!(role == "M", *name == master, "{name}: role {role}");
    }
    // The former master runs no master daemon and follows our master.
    let former = beta.master();
    assert_eq!(
        ok(&lab, former, "cat /var/lib/ganeti/ssconf_master_node").trim(),
        master
    );
    assert_eq!(
        ok(&lab, former, "cat /var/lib/ganeti/ssconf_cluster_name").trim(),
        alpha.name
    );
    let masterd = lab
        .run(former, "pgrep -x ganeti-wconfd; pgrep -x ganeti-luxid")
        .unwrap();
    assert!(
        masterd.stdout.trim().is_empty(),
        "no master daemon on {former}: {}",
        masterd.stdout
    );
    // Our master runs with voting again (restarted normally after the re-add).
    let wconfd = ok(
        &lab,
        &master,
        "tr '\\0' ' ' < /proc/$(pgrep -x ganeti-wconfd)/cmdline",
    );
    assert!(!wconfd.contains("--no-voting"), "wconfd: {wconfd}");

    // Every instance, in the state promised.
    let after = instance_states(&lab, &master);
    let mut expected = BTreeMap::new();
    for (name, state) in before_alpha.iter().chain(&before_beta) {
        expected.insert(
            name.clone(),
            promised_state(state == "running").to_owned(),
        );
    }
    assert_eq!(after, expected);

    // Node groups as asked.
    let groups_now = ok(&lab, &master, "gnt-group list --no-headers -o name");
    let mut groups_now: Vec<&str> = groups_now.lines().map(str::trim).collect();
    groups_now.sort_unstable();
    match groups {
        "merge" => assert_eq!(groups_now, ["default"]),
        _ => assert_eq!(groups_now, ["default", "default-beta.lab.test"]),
    }

    // Ganeti's own offline verifier accepts the merged config.data.
    let config = lab.node(&master).unwrap().data_dir().join("config.data");
    assert_ganeti_valid(&[&config]);

    // The journal says done; nothing secret is left.
    let journal = ok(
        &lab,
        &master,
        "cat /var/lib/bouture/cluster-merge/journal.json",
    );
    let journal: serde_json::Value = serde_json::from_str(&journal).unwrap();
    assert_eq!(journal["status"], "complete", "{journal:#}");
    let leftovers = ok(
        &lab,
        &master,
        "ls -d /var/lib/bouture/cluster-merge/work-* /tmp/bouture-cluster-merge-keys.* 2>/dev/null; \
         grep -rl 'PRIVATE KEY' /var/lib/bouture 2>/dev/null; true",
    );
    assert_eq!(leftovers.trim(), "", "no key or fetched config is left");
    for node in &beta.nodes {
        let backups = ok(
            &lab,
            node,
            "ls /root/.ssh/authorized_keys.bouture* 2>/dev/null; true",
        );
        assert_eq!(backups.trim(), "", "{node}: authorized_keys backup removed");
    }

    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("test total {:.1} s", total.elapsed().as_secs_f64());
}

#[test]
fn merge_groups_merge() {
    merge_two_clusters("merge");
}

#[test]
fn merge_groups_rename() {
    merge_two_clusters("rename");
}

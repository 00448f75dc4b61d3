//! `bouture cluster-merge` and `bouture node-setup` against real Ganeti 3.0
//! clusters (the lab of `bouture-ganeti-lab`): bouture runs inside the
//! master's namespaces, exactly as an operator runs it on the master.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
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

/// What `--restart up` (passed explicitly: the default is `all`, which starts
/// every instance) promises: the merged instances that ran before the merge
/// run again; the others stay down.
fn promised_state(was_running: bool) -> &'static str {
    if was_running { "running" } else { "ADMIN_down" }
}

/// What the merge of `theirs` into `ours` must be checked against, taken
/// before it.
struct Before {
    ours: String,
    theirs: String,
    instances: BTreeMap<String, String>,
}

fn before_merge(lab: &Lab, ours: &str, theirs: &str) -> Before {
    let our = lab.cluster(ours).unwrap();
    let their = lab.cluster(theirs).unwrap();
    let mut instances = instance_states(lab, our.master());
    let theirs_before = instance_states(lab, their.master());
    assert_eq!(theirs_before.len(), 3, "{theirs_before:?}");
    instances.extend(theirs_before);
    prepare_access(lab, ours, theirs);
    Before {
        ours: ours.to_owned(),
        theirs: theirs.to_owned(),
        instances,
    }
}

/// `bouture cluster-merge THEIRS --groups GROUPS --restart up -v` on our master, as an
/// operator runs it.
fn run_merge(lab: &Lab, before: &Before, groups: &str) -> (i32, String, f64) {
    let master = lab.cluster(&before.ours).unwrap().master().to_owned();
    let theirs = lab.cluster(&before.theirs).unwrap().name.clone();
    let start = Instant::now();
    let run = lab
        .run(
            &master,
            &format!("{BOUTURE} cluster-merge {theirs} --groups {groups} --restart up -v"),
        )
        .unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let text = format!(
        "bouture cluster-merge {theirs} --groups {groups} --restart up: exit {} in {seconds:.1} s\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
    (run.code, text, seconds)
}

/// Everything issue 22 asks of a merge of two real clusters.
fn check_merged(lab: &Lab, before: &Before, groups: &str) {
    let ours = lab.cluster(&before.ours).unwrap().clone();
    let theirs = lab.cluster(&before.theirs).unwrap().clone();
    let master = ours.master().to_owned();

    // Ganeti's own verify, on the merged cluster, exits 0.
    lab.verify(&master).unwrap_or_else(|e| panic!("{e}"));

    // Every node, online; only our master is a master.
    let nodes = node_list(lab, &master);
    let mut expected: Vec<String> = ours.nodes.iter().chain(&theirs.nodes).cloned().collect();
    expected.sort();
    assert_eq!(nodes.keys().cloned().collect::<Vec<_>>(), expected);
    for (name, (offline, role)) in &nodes {
        assert_eq!(offline, "N", "{name} is online");
        assert_eq!(role == "M", *name == master, "{name}: role {role}");
    }
    // The former master runs no master daemon and follows our master.
    let former = theirs.master();
    assert_eq!(
        ok(lab, former, "cat /var/lib/ganeti/ssconf_master_node").trim(),
        master
    );
    assert_eq!(
        ok(lab, former, "cat /var/lib/ganeti/ssconf_cluster_name").trim(),
        ours.name
    );
    let masterd = lab
        .run(former, "pgrep -x ganeti-wconfd; pgrep -x ganeti-luxid")
        .unwrap();
    assert!(
        masterd.stdout.trim().is_empty(),
        "no master daemon on {former}: {}",
        masterd.stdout
    );
    // Our master runs with voting again (restarted normally after the
    // re-add); the log of the run shows it started without voting before.
    for daemon in ["ganeti-wconfd", "ganeti-luxid"] {
        let cmdline = ok(
            lab,
            &master,
            &format!("tr '\\0' ' ' < /proc/$(pgrep -x {daemon})/cmdline"),
        );
        assert!(!cmdline.contains("--no-voting"), "{daemon}: {cmdline}");
    }

    // Every instance, in the state promised.
    let after = instance_states(lab, &master);
    let expected: BTreeMap<String, String> = before
        .instances
        .iter()
        .map(|(name, state)| (name.clone(), promised_state(state == "running").to_owned()))
        .collect();
    assert_eq!(after, expected);

    // Node groups as asked.
    let groups_now = ok(lab, &master, "gnt-group list --no-headers -o name");
    let mut groups_now: Vec<&str> = groups_now.lines().map(str::trim).collect();
    groups_now.sort_unstable();
    if groups == "merge" {
        assert_eq!(groups_now, ["default"]);
    } else {
        assert_eq!(
            groups_now,
            ["default".to_owned(), format!("default-{}", theirs.name)]
        );
    }

    // Ganeti's own offline verifier accepts the merged config.data.
    let config = lab.node(&master).unwrap().data_dir().join("config.data");
    assert_ganeti_valid(&[&config]);

    // The journal says done; nothing secret is left, on any node.
    let journal = ok(
        lab,
        &master,
        "cat /var/lib/bouture/cluster-merge/journal.json",
    );
    let journal: serde_json::Value = serde_json::from_str(&journal).unwrap();
    assert_eq!(journal["status"], "complete", "{journal:#}");
    let log = ok(lab, &master, "cat /var/lib/bouture/cluster-merge/*.log");
    assert!(
        log.contains("daemon-util start ganeti-wconfd --no-voting --yes-do-it"),
        "{log}"
    );
    let leftovers = ok(
        lab,
        &master,
        "ls -d /var/lib/bouture/cluster-merge/work-* /tmp/bouture-cluster-merge-keys.* 2>/dev/null; \
         grep -rl 'PRIVATE KEY' /var/lib/bouture 2>/dev/null; true",
    );
    assert_eq!(leftovers.trim(), "", "no key or fetched config is left");
    for node in &theirs.nodes {
        let backups = ok(
            lab,
            node,
            "ls /root/.ssh/authorized_keys.bouture* /tmp/bouture* 2>/dev/null; true",
        );
        assert_eq!(backups.trim(), "", "{node}: nothing of the merge is left");
    }
}

/// Two merges side by side in one lab of four clusters: beta into alpha
/// with `--groups merge`, delta into gamma with `--groups rename`.
#[test]
fn merges_of_real_clusters_groups_merge_and_rename() {
    let total = Instant::now();
    let lab = build(&[
        ClusterSpec::new("alpha", 2).with_standard_instances(),
        ClusterSpec::new("beta", 2).with_standard_instances(),
        ClusterSpec::new("gamma", 2).with_standard_instances(),
        ClusterSpec::new("delta", 2).with_standard_instances(),
    ]);
    let pairs = [("alpha", "beta", "merge"), ("gamma", "delta", "rename")];
    let befores: Vec<Before> = pairs
        .iter()
        .map(|(ours, theirs, _)| before_merge(&lab, ours, theirs))
        .collect();
    let runs: Vec<(i32, String, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .iter()
            .zip(&befores)
            .map(|((_, _, groups), before)| {
                let lab = &lab;
                scope.spawn(move || run_merge(lab, before, groups))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((code, text, _), (_, _, groups)) in runs.iter().zip(&pairs) {
        eprintln!("{text}");
        assert_eq!(*code, 0, "the merge with --groups {groups} succeeds");
    }
    for (before, (_, _, groups)) in befores.iter().zip(&pairs) {
        check_merged(&lab, before, groups);
    }
    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "merges {:.1} s and {:.1} s; test total {:.1} s",
        runs[0].2,
        runs[1].2,
        total.elapsed().as_secs_f64()
    );
}

/// The names, modes and contents of the files of a node's data directory
/// (not followed into subdirectories' symbolic links).
fn data_dir_snapshot(lab: &Lab, node: &str) -> BTreeMap<String, (u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = lab.node(node).unwrap().data_dir();
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.clone()];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(&dir).unwrap().display().to_string();
            let bytes = if meta.is_file() {
                std::fs::read(&path).unwrap()
            } else {
                Vec::new()
            };
            if meta.is_dir() {
                stack.push(path);
            }
            out.insert(name, (meta.mode(), bytes));
        }
    }
    out
}

/// `/usr/lib/ganeti/node-daemon-setup` replaced, inside `node`'s mount
/// namespace only, by a wrapper that records its arguments and runs
/// `bouture node-setup` with them.
fn install_node_setup_wrapper(lab: &Lab, node: &str) {
    let wrapper = lab.node(node).unwrap().dir.join("srv/node-daemon-setup");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$@\" >> /root/node-daemon-setup.args\nexec {BOUTURE} node-setup \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    ok(
        lab,
        node,
        "mount -n --bind /srv/node-daemon-setup /usr/lib/ganeti/node-daemon-setup",
    );
}

/// Ganeti's master joins a node whose node-daemon-setup is bouture; a node
/// of another cluster is refused and left as it was.
#[test]
fn gnt_node_add_runs_bouture_node_setup() {
    let total = Instant::now();
    let lab = build(&[
        ClusterSpec::new("alpha", 1).spare(1),
        ClusterSpec::new("beta", 1),
    ]);
    let alpha = lab.cluster("alpha").unwrap().clone();
    let master = alpha.master().to_owned();
    let joining = alpha.spare[0].clone();
    install_node_setup_wrapper(&lab, &joining);

    // What Ganeti passes (--debug --verbose) is accepted.
    let start = Instant::now();
    let add = lab
        .run(
            &master,
            &format!("gnt-node add --no-ssh-key-check --debug --verbose {joining} 2>&1"),
        )
        .unwrap();
    eprintln!(
        "gnt-node add {joining}: exit {} in {:.1} s\n{}",
        add.code,
        start.elapsed().as_secs_f64(),
        add.stdout
    );
    assert_eq!(add.code, 0, "gnt-node add succeeds");
    let args = ok(&lab, &joining, "cat /root/node-daemon-setup.args");
    assert!(
        args.contains("--debug") && args.contains("--verbose"),
        "Ganeti ran bouture with: {args}"
    );
    lab.verify(&master).unwrap_or_else(|e| panic!("{e}"));
    let nodes = node_list(&lab, &master);
    assert_eq!(nodes.get(&joining).map(|n| n.0.as_str()), Some("N"));

    // The node's ssconf files and server.pem are the master's.
    let ours = data_dir_snapshot(&lab, &master);
    let theirs = data_dir_snapshot(&lab, &joining);
    let ssconf: Vec<&String> = ours.keys().filter(|k| k.starts_with("ssconf_")).collect();
    assert!(ssconf.len() > 20, "{ssconf:?}");
    for name in ssconf
        .iter()
        .copied()
        .chain(std::iter::once(&"server.pem".to_owned()))
    {
        assert_eq!(
            theirs.get(name).map(|f| &f.1),
            ours.get(name).map(|f| &f.1),
            "{name} on {joining} is the master's"
        );
    }

    // A node of another cluster: gnt-node add fails, its data directory is
    // unchanged byte for byte. (Ganeti 3.0 runs prepare-node-join first, and
    // it already refuses the other cluster's name: "Current cluster name is
    // 'beta.lab.test'"; node-daemon-setup is not reached.)
    let other = lab.cluster("beta").unwrap().master().to_owned();
    install_node_setup_wrapper(&lab, &other);
    let key = std::fs::read_to_string(
        lab.node(&master)
            .unwrap()
            .root_home()
            .join(".ssh/id_rsa.pub"),
    )
    .unwrap();
    lab.authorize(&other, &key).unwrap();
    let before = data_dir_snapshot(&lab, &other);
    let add = lab
        .run(
            &master,
            &format!("gnt-node add --no-ssh-key-check --debug --verbose {other} 2>&1"),
        )
        .unwrap();
    eprintln!("gnt-node add {other}: exit {}\n{}", add.code, add.stdout);
    assert_ne!(add.code, 0, "a node of another cluster is refused");
    assert!(
        add.stdout.contains("beta.lab.test"),
        "the refusal names the node's cluster: {}",
        add.stdout
    );
    assert_eq!(
        data_dir_snapshot(&lab, &other),
        before,
        "{other}'s data directory is unchanged"
    );
    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("test total {:.1} s", total.elapsed().as_secs_f64());
}

/// `bouture cluster-merge THEIRS --groups merge -v` on our master, every
/// line of its progress stamped when it arrives: (exit code, per step
/// seconds, downtime seconds, total seconds).
fn timed_merge(lab: &Lab, before: &Before) -> (i32, Vec<(String, f64)>, f64, f64) {
    let master = lab.cluster(&before.ours).unwrap().master().to_owned();
    let theirs = lab.cluster(&before.theirs).unwrap().name.clone();
    let run = lab
        .run(
            &master,
            &format!(
                "start=$EPOCHREALTIME
                 {BOUTURE} cluster-merge {theirs} --groups merge -v 2>&1 >/dev/null \
                   | while IFS= read -r line; do
                       case \"$line\" in '['*) echo \"$EPOCHREALTIME $line\";; esac
                     done
                 code=${{PIPESTATUS[0]}}
                 echo \"$EPOCHREALTIME [end]\"
                 echo \"start $start\"
                 exit $code"
            ),
        )
        .unwrap();
    let mut start = 0.0;
    let mut marks: Vec<(String, f64)> = Vec::new();
    for line in run.stdout.lines() {
        if let Some(t) = line.strip_prefix("start ") {
            start = t.parse().unwrap();
        } else if let Some((t, rest)) = line.split_once(' ') {
            let name = rest
                .split_once(' ')
                .map_or(rest, |(_, title)| title.split(':').next().unwrap_or(title));
            marks.push((name.to_owned(), t.parse().unwrap()));
        }
    }
    let steps: Vec<(String, f64)> = marks
        .windows(2)
        .map(|w| (w[0].0.clone(), w[1].1 - w[0].1))
        .collect();
    let at = |name: &str| marks.iter().find(|m| m.0 == name).map_or(0.0, |m| m.1);
    // From the shutdown of the merging instances to the end of their start.
    let downtime = at("verify-merged") - at("stop-instances");
    let total = marks.last().map_or(0.0, |m| m.1) - start;
    (run.code, steps, downtime, total)
}

/// The benchmark of BENCHMARKS.md ("cluster-merge on real clusters"): run
/// with `cargo nextest run -p bouture-cli --test ganeti_lab --run-ignored
/// only bench --no-capture`.
#[test]
#[ignore = "a benchmark (minutes): BENCHMARKS.md says how to run it"]
fn bench_cluster_merge_on_real_clusters() {
    let many = |short: &str| {
        let mut spec = ClusterSpec::new(short, 2);
        for i in 0..50 {
            spec = spec.instance(bouture_ganeti_lab::InstanceSpec::new(
                &format!("i{i}.{short}.lab.test"),
                bouture_ganeti_lab::Template::Diskless,
                i % 5 != 4,
                i % 2,
            ));
        }
        spec
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap();
    let lab = build(&[
        ClusterSpec::new("alpha", 2).with_standard_instances(),
        ClusterSpec::new("beta", 2).with_standard_instances(),
        many("gamma"),
        many("delta"),
    ]);
    for (ours, theirs, label) in [
        ("alpha", "beta", "2+2 nodes, 3 instances per cluster"),
        ("gamma", "delta", "2+2 nodes, 50 instances per cluster"),
    ] {
        let our = lab.cluster(ours).unwrap();
        let mut instances = instance_states(&lab, our.master());
        instances.extend(instance_states(&lab, lab.cluster(theirs).unwrap().master()));
        prepare_access(&lab, ours, theirs);
        let before = Before {
            ours: ours.to_owned(),
            theirs: theirs.to_owned(),
            instances,
        };
        let load_before = std::fs::read_to_string("/proc/loadavg").unwrap();
        let (code, steps, downtime, total) = timed_merge(&lab, &before);
        let load_after = std::fs::read_to_string("/proc/loadavg").unwrap();
        eprintln!(
            "BENCH {label}: exit {code}, total {total:.1} s, downtime {downtime:.1} s; \
             load {} -> {}",
            load_before.trim(),
            load_after.trim()
        );
        for (step, seconds) in &steps {
            eprintln!("BENCH   {step}: {seconds:.1} s");
        }
        assert_eq!(code, 0);
        check_merged(&lab, &before, "merge");
    }
    eprintln!("BENCH load at the start {}", load.trim());
    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
}

/// Ganeti's own `tools/cluster-merge` on the same kind of lab, for
/// docs/cluster-merge.md ("Ganeti's tool on the same clusters"): where it
/// stops, and why. Run with `cargo nextest run -p bouture-cli --test
/// ganeti_lab --run-ignored only ganeti_tool --no-capture`.
#[test]
#[ignore = "documents Ganeti's tool, not bouture: docs/cluster-merge.md says how to run it"]
fn ganeti_tool_cluster_merge_on_real_clusters() {
    let lab = build(&[
        ClusterSpec::new("alpha", 1).with_standard_instances(),
        ClusterSpec::new("beta", 1).with_standard_instances(),
    ]);
    prepare_access(&lab, "alpha", "beta");
    let master = lab.cluster("alpha").unwrap().master().to_owned();
    let theirs = lab.cluster("beta").unwrap().clone();
    let tool = "/usr/lib/ganeti/tools/cluster-merge";
    // As it is: Ganeti 3.0 made RSA keys; the tool copies root's id_dsa.
    let first = lab
        .run(
            &master,
            &format!("{tool} --groups merge {} 2>&1", theirs.name),
        )
        .unwrap();
    eprintln!("TOOL run 1: exit {}\n{}", first.code, first.stdout);
    // With an id_dsa where it looks (a copy of the RSA key).
    ok(
        &lab,
        theirs.master(),
        "cp -p /root/.ssh/id_rsa /root/.ssh/id_dsa",
    );
    let second = lab
        .run(
            &master,
            &format!("{tool} --groups merge {} 2>&1", theirs.name),
        )
        .unwrap();
    eprintln!("TOOL run 2: exit {}\n{}", second.code, second.stdout);
    let after = instance_states(&lab, &master);
    eprintln!("TOOL our instances after: {after:?}");
    let theirs_after = lab
        .run(
            theirs.master(),
            "gnt-instance list --no-headers -o name,status 2>&1; gnt-cluster watcher info 2>&1",
        )
        .unwrap();
    eprintln!("TOOL their cluster after: {}", theirs_after.stdout);
    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
}

//! `bouture cluster-merge` and `bouture node-setup` against real Ganeti 3.0
//! clusters (the lab of `bouture-ganeti-lab`): bouture runs inside the
//! master's namespaces, exactly as an operator runs it on the master.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr,
    clippy::too_many_lines,
    reason = "tests: failing loudly is their job; timings are printed for the CI log; \
              a chain of scenarios on one lab reads best in order"
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

/// bouture's state directory on our master (the default).
const STATE: &str = "/var/lib/bouture/cluster-merge";

/// The load average, for the times printed.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// How long one scenario of the lab test took, for the CI log.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    eprintln!(
        "SCENARIO {what}: {:.1} s (load {})",
        start.elapsed().as_secs_f64(),
        load()
    );
    out
}

/// Removes `serial_no` and `mtime` at any depth: the fields Ganeti itself
/// rewrites in `config.data` when an instance is shut down and started
/// again, or a master IP deactivated and activated again. Fractional
/// numbers (the `ctime` stamps) are compared to the microsecond: when
/// Ganeti's daemons rewrite `config.data` they may print a stamp's last
/// digit differently (seen in CI: an untouched, stopped instance's `ctime`
/// `1796697435.422228` before a scenario and `1796697435.4222283` after
/// its restarted daemons rewrote the file).
fn without_ganeti_stamps(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("serial_no");
            map.remove("mtime");
            for v in map.values_mut() {
                without_ganeti_stamps(v);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_ganeti_stamps),
        serde_json::Value::Number(number) if number.is_f64() => {
            if let Some(micros) = number
                .as_f64()
                .and_then(|f| serde_json::Number::from_f64((f * 1e6).round() / 1e6))
            {
                *number = micros;
            }
        }
        _ => {}
    }
}

/// What a failure before the point of no return must leave as it was, on
/// every node of one cluster.
#[derive(Debug, PartialEq)]
struct ClusterState {
    /// `gnt-node list`: name → (offline, role).
    nodes: BTreeMap<String, (String, String)>,
    /// `gnt-instance list`: name → status.
    instances: BTreeMap<String, String>,
    /// Per node: `ssconf_master_node`, `ssconf_cluster_name`, the master
    /// daemons running (wconfd, luxid) and whether eth0 holds the master IP.
    roles: BTreeMap<String, String>,
    /// `gnt-cluster watcher info`.
    watcher: String,
    /// Per node: root's `authorized_keys`, byte for byte.
    authorized_keys: BTreeMap<String, Vec<u8>>,
    /// The master's `config.data` without Ganeti's own stamps.
    config: serde_json::Value,
}

/// The cluster as it is now; `gnt-cluster verify` must exit 0. Also its
/// master's `config.data`, byte for byte.
fn capture(lab: &Lab, short: &str) -> (ClusterState, Vec<u8>) {
    let cluster = lab.cluster(short).unwrap().clone();
    let master = cluster.master();
    lab.verify(master)
        .unwrap_or_else(|e| panic!("{}: {e}", cluster.name));
    let mut roles = BTreeMap::new();
    let mut authorized_keys = BTreeMap::new();
    for node in &cluster.nodes {
        let role = ok(
            lab,
            node,
            &format!(
                "cat /var/lib/ganeti/ssconf_master_node /var/lib/ganeti/ssconf_cluster_name
                 for d in ganeti-wconfd ganeti-luxid; do pgrep -x $d >/dev/null && echo $d; done
                 ip -o addr show dev eth0 | grep -qw {} && echo master-ip; true",
                cluster.ip
            ),
        );
        roles.insert(node.clone(), role);
        let keys = lab
            .node(node)
            .unwrap()
            .root_home()
            .join(".ssh/authorized_keys");
        authorized_keys.insert(node.clone(), std::fs::read(keys).unwrap_or_default());
    }
    let bytes = std::fs::read(lab.node(master).unwrap().data_dir().join("config.data")).unwrap();
    let mut config: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    without_ganeti_stamps(&mut config);
    let state = ClusterState {
        nodes: node_list(lab, master),
        instances: instance_states(lab, master),
        roles,
        watcher: ok(lab, master, "gnt-cluster watcher info"),
        authorized_keys,
        config,
    };
    (state, bytes)
}

/// Both clusters are as `before`: verify exits 0 on each, and every field
/// of [`ClusterState`] is equal. When `same_bytes` (no instance was
/// stopped and started again, no master IP moved), each master's
/// `config.data` is also the same bytes as in `last` (the capture that
/// ended the previous scenario: Ganeti's stamps of earlier scenarios
/// differ from `before`'s). `last` becomes this capture.
fn assert_as_before(
    lab: &Lab,
    before: &[(&str, (ClusterState, Vec<u8>))],
    last: &mut Vec<Vec<u8>>,
    same_bytes: bool,
    what: &str,
) {
    let mut now_all = Vec::new();
    for ((short, (state, _)), last_bytes) in before.iter().zip(last.iter()) {
        let (now, now_bytes) = capture(lab, short);
        assert_eq!(&now, state, "{what}: {short} is not as before");
        if same_bytes {
            assert!(
                &now_bytes == last_bytes,
                "{what}: {short}'s config.data is not the same bytes"
            );
        }
        now_all.push(now_bytes);
    }
    *last = now_all;
}

/// No copied key, fetched configuration or work directory is left on our
/// master (`keys.*` allowed only after a SIGKILL).
fn assert_no_scratch(lab: &Lab, master: &str, keys_allowed: bool, what: &str) {
    let left = ok(
        lab,
        master,
        &format!(
            "ls -d {STATE}/work-* {STATE}/keys.* {STATE}/bouture-cluster-merge-check.* \
             /tmp/bouture-cluster-merge-keys.* 2>/dev/null; true"
        ),
    );
    let left: Vec<&str> = left
        .lines()
        .filter(|l| !(keys_allowed && l.starts_with(&format!("{STATE}/keys."))))
        .collect();
    assert!(left.is_empty(), "{what}: left behind: {left:?}");
}

/// `bouture cluster-merge ARGS`, started on `master` (as an operator runs
/// it there), with its host PID for signals.
struct Running {
    child: std::process::Child,
    pid: u32,
    master: String,
}

fn start(lab: &Lab, master: &str, args: &str) -> Running {
    let child = lab
        .spawn(master, &format!("exec {BOUTURE} cluster-merge {args}"))
        .unwrap();
    let pid = Lab::spawned_pid(&child, "bouture").unwrap();
    Running {
        child,
        pid,
        master: master.to_owned(),
    }
}

struct Ended {
    /// `None` when killed by a signal.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ended {
    fn text(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn finish(running: Running) -> Ended {
    let output = running.child.wait_with_output().unwrap();
    Ended {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Prints the run's output for the CI log, checks its exit code and that
/// its standard output says each of `says`; returns the output.
fn ended_with(ended: &Ended, what: &str, code: Option<i32>, says: &[&str]) -> String {
    let text = ended.text();
    eprintln!("{what}: {text}");
    assert_eq!(ended.code, code, "{what}: {text}");
    for said in says {
        assert!(ended.stdout.contains(said), "{what}: {said}\n{text}");
    }
    text
}

/// Waits until this run's journal says `step` has started (the run is
/// `running`), polling every 20 ms.
fn wait_for_step(lab: &Lab, running: &mut Running, step: &str) {
    let path = lab
        .node_path(&running.master, &format!("{STATE}/journal.json"))
        .unwrap();
    let deadline = Instant::now() + std::time::Duration::from_mins(15);
    loop {
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(journal) = serde_json::from_str::<serde_json::Value>(&text)
            && journal["status"] == "running"
            && journal["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["step"] == step && s["state"] == "started")
        {
            return;
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!("bouture ended ({status}) before step {step} started");
        }
        assert!(Instant::now() < deadline, "step {step} never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn signal(running: &Running, name: &str) {
    let status = std::process::Command::new("/bin/kill")
        .args(["-s", name, &running.pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -s {name} {}", running.pid);
}

fn journal_status(lab: &Lab, master: &str) -> String {
    let text = ok(lab, master, &format!("cat {STATE}/journal.json"));
    let journal: serde_json::Value = serde_json::from_str(&text).unwrap();
    journal["status"].as_str().unwrap_or_default().to_owned()
}

/// Issue 22's test 2 on real daemons, then the rename merge, on gamma
/// (ours) and delta (theirs): each failure before the point of no return
/// exits 1 and leaves both clusters as they were; the clusters then serve
/// the next scenario.
fn failures_then_rename_merge(lab: &Lab, before: &Before) {
    let master = lab.cluster("gamma").unwrap().master().to_owned();
    let delta = lab.cluster("delta").unwrap().clone();
    let args = "delta.lab.test --groups rename --restart up -v";
    let initial = vec![
        ("gamma", capture(lab, "gamma")),
        ("delta", capture(lab, "delta")),
    ];
    let mut last: Vec<Vec<u8>> = initial.iter().map(|(_, (_, b))| b.clone()).collect();
    // Exit 1, everything undone, the output says `says`, nothing secret
    // left, both clusters as before.
    let mut rolled_back = |ended: &Ended, what: &str, says: &[&str], same_bytes: bool| {
        let mut all = vec!["everything done was undone"];
        all.extend_from_slice(says);
        let text = ended_with(ended, what, Some(1), &all);
        assert!(!ended.stdout.contains("Merged into"), "{what}: {text}");
        // The report names no path that no longer exists: the copied keys
        // are removed when it is printed.
        assert!(
            !ended.stdout.contains("/keys.")
                && !ended.stdout.contains("bouture-cluster-merge-keys"),
            "{what}: the report names a removed key copy: {text}"
        );
        assert_no_scratch(lab, &master, false, what);
        assert_as_before(lab, &initial, &mut last, same_bytes, what);
    };

    // A merging node's sshd stopped after discovery: the key step reaches
    // n1.delta, not n2.delta; n1.delta's authorized_keys is put back.
    timed("sshd of n2.delta stopped after discovery", || {
        let mut running = start(lab, &master, args);
        wait_for_step(lab, &mut running, "verify-ours");
        ok(lab, &delta.nodes[1], "kill $(cat /run/sshd.pid)");
        let ended = finish(running);
        ok(lab, &delta.nodes[1], "/usr/sbin/sshd");
        let failed = format!("Failed at step authorize-key: [{}]", delta.nodes[1]);
        rolled_back(&ended, "sshd stopped", &[&failed], true);
    });

    // A gnt-* command refused by the real daemons: a pre-hook on delta's
    // master refuses to stop file.delta (Ganeti's "hooks execution
    // failed"), after run.delta was stopped: the undo starts it again.
    timed("gnt-instance shutdown refused by a Ganeti hook", || {
        let hooks = lab
            .node(delta.master())
            .unwrap()
            .dir
            .join("etc-ganeti/hooks/instance-stop-pre.d");
        std::fs::create_dir_all(&hooks).unwrap();
        let hook = hooks.join("refuse-file");
        std::fs::write(
            &hook,
            "#!/bin/sh\nif [ \"$GANETI_INSTANCE_NAME\" = file.delta.lab.test ]; then\n  \
             echo 'the lab refuses to stop file.delta' >&2\n  exit 1\nfi\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let ended = finish(start(lab, &master, args));
        std::fs::remove_file(&hook).unwrap();
        rolled_back(
            &ended,
            "hook refusal",
            &[
                "Failed at step stop-instances",
                "hooks execution failed",
                "gnt-instance startup --force-multiple",
            ],
            false,
        );
    });

    // A file the next step needs made unreadable: our known_hosts (the
    // key step's ssh reads it), over which a file that root cannot read
    // (a write-only sysctl: EACCES even for root) is bind-mounted inside
    // our master's mount namespace once discovery is done.
    timed("known_hosts made unreadable after discovery", || {
        let mut running = start(lab, &master, args);
        wait_for_step(lab, &mut running, "verify-ours");
        ok(
            lab,
            &master,
            "mount -n --bind /proc/sys/vm/compact_memory /root/.ssh/known_hosts
             ! cat /root/.ssh/known_hosts 2>/dev/null",
        );
        let ended = finish(running);
        ok(lab, &master, "umount -n /root/.ssh/known_hosts");
        rolled_back(
            &ended,
            "known_hosts unreadable",
            &["Failed at step authorize-key"],
            true,
        );
    });

    // SIGINT before the point of no return, while delta's instances are
    // being shut down: the running command is stopped, everything undone.
    timed("SIGINT during stop-instances", || {
        let mut running = start(lab, &master, args);
        wait_for_step(lab, &mut running, "stop-instances");
        signal(&running, "INT");
        let ended = finish(running);
        rolled_back(
            &ended,
            "SIGINT before the point of no return",
            &["SIGINT"],
            false,
        );
    });

    timed("merge with --groups rename", || {
        let (code, text, _) = run_merge(lab, before, "rename");
        eprintln!("{text}");
        assert_eq!(code, 0, "the merge with --groups rename succeeds");
        check_merged(lab, before, "rename");
    });
}

/// Issue 22's tests 3 and 4 on real daemons, on alpha (ours) and beta
/// (theirs): an undo that fails, then a merge killed and resumed until it
/// completes.
fn undo_failure_then_killed_merge(lab: &Lab, before: &Before) {
    let master = lab.cluster("alpha").unwrap().master().to_owned();
    let args = "beta.lab.test --groups merge --restart up -v";
    let config = lab.node(&master).unwrap().data_dir().join("config.data");
    let config_path = config.display().to_string();
    let initial = vec![
        ("alpha", capture(lab, "alpha")),
        ("beta", capture(lab, "beta")),
    ];
    let mut last: Vec<Vec<u8>> = initial.iter().map(|(_, (_, b))| b.clone()).collect();

    // Our config.data immutable (chattr +i): installing the merged one
    // fails, and so does putting the backup back. The rollback stops
    // there, keeps the backup, stays resumable and lists what is left.
    timed(
        "undo fails on an immutable config.data, then --resume",
        || {
            let chattr = |flag: &str| {
                let status = std::process::Command::new("chattr")
                    .args([flag, &config_path])
                    .status()
                    .unwrap();
                assert!(status.success(), "chattr {flag} {config_path}");
            };
            chattr("+i");
            let ended = finish(start(lab, &master, args));
            chattr("-i");
            let text = ended_with(
                &ended,
                "undo fails",
                Some(1),
                &[
                    "an undo FAILED: the rollback stopped there",
                    "Failed at step merge-config",
                ],
            );
            let left = ended
                .stdout
                .split_once("Left to undo, in order")
                .map_or_else(|| panic!("no undo left listed: {text}"), |(_, rest)| rest);
            let first = left.lines().nth(1).unwrap_or_default();
            assert!(
                first.contains("cp -p") && first.contains("config.data.bouture-cluster-merge-"),
                "the failed restore is listed first: {first}\n{text}"
            );
            for later in [
                "daemon-util start-master",
                "start-all",
                "activate-master-ip",
            ] {
                assert!(left.contains(later), "{later} is left: {text}");
            }
            let backup = ended
                .stdout
                .lines()
                .find_map(|l| l.strip_prefix("Backup of our config.data: "))
                .unwrap_or_else(|| panic!("the backup is named: {text}"))
                .to_owned();
            let backup_on_host = lab
                .node(&master)
                .unwrap()
                .data_dir()
                .join(std::path::Path::new(&backup).file_name().unwrap());
            assert_eq!(
                std::fs::read(&backup_on_host).unwrap(),
                initial[0].1.1,
                "the backup is kept and holds our config.data"
            );
            assert_eq!(journal_status(lab, &master), "rolling-back");
            assert_no_scratch(lab, &master, false, "undo fails");

            let ended = finish(start(lab, &master, "--resume -v"));
            ended_with(
                &ended,
                "resumed undo",
                Some(1),
                &["everything done was undone"],
            );
            assert_eq!(journal_status(lab, &master), "rolled-back");
            assert!(!backup_on_host.exists(), "the backup goes with the undo");
            assert_no_scratch(lab, &master, false, "resumed undo");
            assert_as_before(lab, &initial, &mut last, false, "undo resumed");
        },
    );

    // SIGKILL while the merging daemons stop (before the point of no
    // return): nothing runs any more; the copied keys are left only in
    // the state directory, until the next invocation.
    timed("SIGKILL during stop-daemons", || {
        let mut running = start(lab, &master, args);
        wait_for_step(lab, &mut running, "stop-daemons");
        signal(&running, "KILL");
        let ended = finish(running);
        assert_eq!(ended.code, None, "killed: {}", ended.text());
        assert_no_scratch(lab, &master, true, "SIGKILL");
        // The command bouture was running (its ssh) ends on its own.
        let deadline = Instant::now() + std::time::Duration::from_mins(3);
        while !ok(lab, &master, "pgrep -x ssh; true").trim().is_empty() {
            assert!(Instant::now() < deadline, "the orphaned ssh never ended");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });

    // --resume, then SIGTERM after the point of no return (while the
    // merged nodes are re-added): the run stops and lists what is left.
    timed("--resume, SIGTERM during readd-nodes", || {
        let mut running = start(lab, &master, "--resume -v");
        wait_for_step(lab, &mut running, "readd-nodes");
        signal(&running, "TERM");
        let ended = finish(running);
        ended_with(
            &ended,
            "SIGTERM after the point of no return",
            Some(1),
            &[
                "STOPPED after the point of no return",
                "SIGTERM",
                "Commands left, in order",
                "gnt-cluster redist-conf",
            ],
        );
        assert_eq!(journal_status(lab, &master), "stopped");
        assert_no_scratch(lab, &master, false, "SIGTERM");
    });

    timed("--resume completes the merge", || {
        let ended = finish(start(lab, &master, "--resume -v"));
        ended_with(
            &ended,
            "resume to the end",
            Some(0),
            &["merge complete and verified"],
        );
        check_merged(lab, before, "merge");
    });
}

/// One lab of four real clusters for every scenario, two chains side by
/// side: on gamma and delta, failures before the point of no return (a
/// node's sshd stopped, a command refused by Ganeti, a file made
/// unreadable, SIGINT) then the merge with `--groups rename`; on alpha and
/// beta, an undo that fails then a merge killed (SIGKILL, SIGTERM) and
/// resumed until it completes with `--groups merge`. Each failure leaves
/// the clusters as they were, so the same clusters serve the next scenario.
#[test]
fn merges_and_failures_on_real_clusters() {
    let total = Instant::now();
    let lab = build(&[
        ClusterSpec::new("alpha", 2).with_standard_instances(),
        ClusterSpec::new("beta", 2).with_standard_instances(),
        ClusterSpec::new("gamma", 2).with_standard_instances(),
        ClusterSpec::new("delta", 2).with_standard_instances(),
    ]);
    // The lab itself: every cluster verified clean, its two nodes online,
    // its instances as built.
    for cluster in lab.clusters() {
        lab.verify(cluster.master())
            .unwrap_or_else(|e| panic!("{e}"));
        let nodes = node_list(&lab, cluster.master());
        assert_eq!(nodes.len(), 2, "{nodes:?}");
        assert!(
            nodes.values().all(|(offline, _)| offline == "N"),
            "{nodes:?}"
        );
        let short = cluster.name.trim_end_matches(".lab.test");
        let expected: BTreeMap<String, String> = [
            (format!("file.{short}.lab.test"), "running"),
            (format!("run.{short}.lab.test"), "running"),
            (format!("stopped.{short}.lab.test"), "ADMIN_down"),
        ]
        .into_iter()
        .map(|(n, s)| (n, s.to_owned()))
        .collect();
        assert_eq!(instance_states(&lab, cluster.master()), expected);
    }
    // Each other's names over the lab network (prepare_access's ssh).
    let ab = before_merge(&lab, "alpha", "beta");
    let gd = before_merge(&lab, "gamma", "delta");
    std::thread::scope(|scope| {
        let lab = &lab;
        let (ab, gd) = (&ab, &gd);
        let first = scope.spawn(move || undo_failure_then_killed_merge(lab, ab));
        let second = scope.spawn(move || failures_then_rename_merge(lab, gd));
        // Each chain's failure again at the very end of the output (a CI
        // page may show only the end), both when both failed.
        let failures: Vec<String> = [("alpha/beta", first.join()), ("gamma/delta", second.join())]
            .into_iter()
            .filter_map(|(chain, result)| {
                let panic = result.err()?;
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "(no message)".to_owned());
                // Its start: the assertion, before the run's output.
                let start: String = message.chars().take(1500).collect();
                Some(format!("the {chain} chain failed: {start}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    });
    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "test total {:.1} s (load {})",
        total.elapsed().as_secs_f64(),
        load()
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

/// `bouture cluster-merge THEIRS --groups merge --restart up -v` on our master, every
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
                 {BOUTURE} cluster-merge {theirs} --groups merge --restart up -v 2>&1 >/dev/null \
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

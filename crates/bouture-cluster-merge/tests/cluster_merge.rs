//! The whole orchestration on simulated clusters (bouture-test-support's `cluster_sim`, see its `fake.py`): the
//! real executor runs the fake `ssh`, `gnt-*` and `daemon-util`, which act on
//! one directory per host; every host's resulting state is checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests: failing loudly is their job"
)]

use std::panic::AssertUnwindSafe;

use bouture_cluster_merge::{
    Action, Cmd, CmdOutput, Error, ExecError, Executor, Journal, Outcome, Prepared, Quiet, Report,
    Status, StepKind, SystemExecutor,
};
use bouture_test_support::cluster_sim::{B, C, OURS, Sim, differences};
use bouture_test_support::ganeti::assert_ganeti_valid;
use serde_json::json;

/// The report of a merge that ran (not a dry run).
fn ran(outcome: Outcome) -> Report {
    let Outcome::Ran(report) = outcome else {
        panic!("a merge that ran was expected, not {outcome:?}");
    };
    report
}

/// A dry run (`Options::dry_run`) of merging B and C.
fn dry_run(sim: &Sim, executor: &mut SystemExecutor) -> Prepared {
    let mut settings = sim.settings(&[B, C]);
    settings.dry_run = true;
    let outcome = bouture_cluster_merge::run(&settings, executor, &mut Quiet).unwrap();
    let Outcome::Planned(prepared) = outcome else {
        panic!("a dry run was expected, not {outcome:?}");
    };
    prepared
}

fn merge(sim: &Sim) -> Report {
    let mut executor = sim.executor();
    let outcome =
        ran(bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap());
    if outcome.status != Status::Running && outcome.status != Status::RollingBack {
        assert!(executor.key_dir().is_none(), "the copied keys are removed");
    }
    outcome
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
        assert!(
            path.is_file(),
            "left in the state directory: {}",
            path.display()
        );
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for secret in ["PRIVATE KEY", "fake-key-of"]
            .into_iter()
            .map(str::to_owned)
            .chain(drbd_secrets(sim))
        {
            assert!(!text.contains(&secret), "{} holds {secret}", path.display());
        }
    }
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
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_owned(),
                n["offline"].as_bool().unwrap(),
            )
        })
        .collect();
    nodes.sort();
    let mut expected: Vec<(String, bool)> = [OURS, B, C]
        .iter()
        .flat_map(|c| sim.nodes(c).iter().map(|n| (n.clone(), false)))
        .collect();
    expected.sort();
    assert_eq!(
        nodes, expected,
        "every node is in the merged cluster, online"
    );
    assert_eq!(config["instances"].as_object().unwrap().len(), 9);
    assert_ganeti_valid(&[&sim.our_config()]);

    // Our master runs normally; the instances that ran before run again,
    // the one that was down stays down.
    assert_eq!(
        sim.state(&our_master, "daemons.json"),
        json!({"master": "running", "node": "running"})
    );
    let states = sim.state(&our_master, "instances.json");
    for cluster in ["b", "c"] {
        assert_eq!(
            states[format!("instance1.{cluster}.example.com")],
            "running"
        );
        assert_eq!(
            states[format!("instance2.{cluster}.example.com")],
            "running"
        );
        // Never started on our cluster (gnt-instance list shows ADMIN_down).
        assert!(
            states
                .get(format!("instance3.{cluster}.example.com"))
                .is_none()
        );
    }
    assert!(
        !sim.host(&our_master)
            .join("var/lib/ganeti/watcher.pause")
            .exists()
    );
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
            assert!(
                !home
                    .join("root/.ssh/authorized_keys.bouture-cluster-merge")
                    .exists()
            );
            let keys = std::fs::read_to_string(home.join("root/.ssh/authorized_keys")).unwrap();
            assert!(
                keys.contains("FAKE-cluster.name.example.com "),
                "{node}: {keys}"
            );
            assert!(
                keys.lines().all(|l| l.starts_with("ssh-")),
                "{node}: {keys}"
            );
        }
        // Their old masters no longer answer to the cluster name.
        let master = sim.master(cluster);
        assert_eq!(
            std::fs::read_to_string(sim.host(master).join("state/master_ip")).unwrap(),
            "down\n"
        );
    }
    // The backup of our config.data is the original, with its mode.
    let backups: Vec<_> = std::fs::read_dir(sim.host(&our_master).join("var/lib/ganeti"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("config.data.bouture-cluster-merge-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(std::fs::read(backups[0].path()).unwrap(), sim.configs[OURS]);
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&backups[0].path()), 0o640);
    assert_eq!(mode(&sim.our_config()), 0o640);
}

#[test]
fn two_clusters_merge_into_ours() {
    let sim = Sim::new();
    let outcome = merge(&sim);
    assert_eq!(
        outcome.status,
        Status::Complete,
        "{outcome:#?}\n{}",
        sim.calls()
    );
    assert!(outcome.failure.is_none());
    assert!(outcome.merge.is_some());
    assert_merged(&sim);
    assert_no_secrets(&sim);
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::Complete);
    assert!(journal.steps.iter().all(|s| {
        s.done
            == journal.plan.steps[journal.steps.iter().position(|r| r == s).unwrap()]
                .actions
                .len()
    }));
    // Every command is in the log, with its exit status.
    let log = std::fs::read_to_string(&outcome.log).unwrap();
    assert!(
        log.contains("gnt-node add --readd --no-ssh-key-check node1.b.example.com"),
        "{log}"
    );
    assert!(log.contains("  exit: 0"));
    assert!(log.contains("secret: not logged"));
}

// ---------------------------------------------------------------------------
// A failure before the point of no return: everything is undone.

/// Inject `fault`, run, and check that the merge failed at `step` and that
/// every host is exactly as before (byte for byte, modes included), apart
/// from `changed` files (relative to the hosts directory) changed by the
/// fault itself.
fn fails_and_undoes(
    sim: &Sim,
    step: StepKind,
    faults: &[serde_json::Value],
    changed: &[(&str, Vec<u8>)],
) {
    let mut before = sim.snapshot();
    for (path, bytes) in changed {
        before.get_mut(*path).unwrap().1 = Some(bytes.clone());
    }
    for fault in faults {
        sim.inject(fault.clone());
    }
    let outcome = merge(sim);
    assert_eq!(outcome.status, Status::RolledBack, "{outcome:#?}");
    let failure = outcome.failure.as_ref().unwrap();
    assert_eq!(failure.step, step.name(), "{outcome:#?}");
    assert!(outcome.undo_failures.is_empty(), "{outcome:#?}");
    assert!(outcome.remaining.is_empty());
    assert!(outcome.backup.is_none());
    let diff = differences(&before, &sim.snapshot());
    assert!(
        diff.is_empty(),
        "after undoing {}: {diff:#?}\n{outcome:#?}",
        step.name()
    );
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::RolledBack);
    assert_no_secrets(sim);
}

fn fault(host: &str, matching: &str) -> serde_json::Value {
    json!({"host": host, "match": matching, "action": "fail"})
}

#[test]
fn failure_verifying_our_cluster_changes_nothing() {
    let sim = Sim::new();
    let fault = fault(sim.master(OURS), "gnt-cluster verify");
    fails_and_undoes(&sim, StepKind::VerifyOurs, &[fault], &[]);
}

#[test]
fn failure_authorizing_our_key_is_undone() {
    let sim = Sim::new();
    // The last node: every other node got our key and gets its file back.
    let mut fault = fault("node3.c.example.com", "authorized_keys");
    fault["times"] = json!(1);
    fails_and_undoes(&sim, StepKind::AuthorizeKey, &[fault], &[]);
}

#[test]
fn failure_stopping_instances_restarts_them() {
    let sim = Sim::new();
    let fault = fault(sim.master(C), "gnt-instance shutdown");
    fails_and_undoes(&sim, StepKind::StopInstances, &[fault], &[]);
}

#[test]
fn failure_pausing_watchers_resumes_them() {
    let sim = Sim::new();
    let fault = fault(sim.master(C), "watcher pause");
    fails_and_undoes(&sim, StepKind::PauseWatchers, &[fault], &[]);
}

#[test]
fn failure_fetching_configs_is_undone() {
    let sim = Sim::new();
    // The second `cat config.data` on C: the first one is discovery's.
    let mut fault = fault(sim.master(C), "cat /var/lib/ganeti/config.data");
    fault["skip"] = json!(1);
    fails_and_undoes(&sim, StepKind::FetchConfigs, &[fault], &[]);
}

#[test]
fn failure_deactivating_master_ips_reactivates_them() {
    let sim = Sim::new();
    let fault = fault(sim.master(C), "deactivate-master-ip");
    fails_and_undoes(&sim, StepKind::DeactivateMasterIps, &[fault], &[]);
}

#[test]
fn failure_stopping_daemons_restarts_them() {
    let sim = Sim::new();
    fails_and_undoes(
        &sim,
        StepKind::StopDaemons,
        &[fault("node3.c.example.com", "daemon-util stop-all")],
        &[],
    );
}

#[test]
fn failure_stopping_our_master_is_undone() {
    let sim = Sim::new();
    let mut fault = fault(sim.master(OURS), "daemon-util stop-master");
    fault["times"] = json!(1);
    fails_and_undoes(&sim, StepKind::StopOurMaster, &[fault], &[]);
}

#[test]
fn a_backup_path_in_the_way_stops_before_the_merge_and_everything_is_undone() {
    let sim = Sim::new();
    // Something already sits where the backup goes (the path names the
    // run, which is the time: block the next two minutes).
    let data = sim.host(sim.master(OURS)).join("var/lib/ganeti");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for second in now..now + 120 {
        // The run identifier: the time as `YYYYMMDDTHHMMSSZ`.
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(second);
        let id = humantime::format_rfc3339_seconds(time)
            .to_string()
            .replace(['-', ':'], "");
        std::fs::create_dir(data.join(format!("config.data.bouture-cluster-merge-{id}"))).unwrap();
    }
    fails_and_undoes(&sim, StepKind::BackupConfig, &[], &[]);
}

#[test]
fn a_config_that_changed_into_an_unmergeable_one_is_refused_and_everything_is_undone() {
    let sim = Sim::new();
    // Someone downgrades C's config.data while bouture stops the cluster:
    // the merge refuses it, and everything is undone.
    let downgraded = String::from_utf8(sim.configs[C].clone())
        .unwrap()
        .replace("\"version\": 3000000", "\"version\": 2160000");
    assert_ne!(downgraded.as_bytes(), sim.configs[C].as_slice());
    let master = sim.master(C).to_owned();
    let fault = json!({
        "host": master, "match": "watcher pause", "action": "replace",
        "file": "var/lib/ganeti/config.data", "content": downgraded,
    });
    let file = format!("{master}/var/lib/ganeti/config.data");
    fails_and_undoes(
        &sim,
        StepKind::MergeConfig,
        &[fault],
        &[(&file, downgraded.clone().into_bytes())],
    );
}

#[test]
fn failure_starting_our_master_without_voting_restores_our_config() {
    let sim = Sim::new();
    // wconfd and rapi start; luxid, the last of the master role, fails: the
    // two are stopped again, our config.data restored, the master restarted.
    let mut fault = fault(sim.master(OURS), "daemon-util start ganeti-luxid");
    fault["times"] = json!(1);
    fails_and_undoes(&sim, StepKind::StartMasterNoVoting, &[fault], &[]);
}

#[test]
fn every_step_before_the_point_of_no_return_is_covered_above() {
    let sim = Sim::new();
    let mut executor = sim.executor();
    let prepared = dry_run(&sim, &mut executor);
    let ponr = prepared.plan.point_of_no_return().unwrap();
    let kinds: Vec<StepKind> = prepared.plan.steps[..=ponr]
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            StepKind::VerifyOurs,
            StepKind::AuthorizeKey,
            StepKind::StopInstances,
            StepKind::PauseWatchers,
            StepKind::DeactivateMasterIps,
            StepKind::StopDaemons,
            StepKind::FetchConfigs,
            StepKind::StopOurMaster,
            StepKind::BackupConfig,
            StepKind::MergeConfig,
            StepKind::StartMasterNoVoting,
        ]
    );
    // Every action before it has an undo, except checks that change nothing.
    for step in &prepared.plan.steps[..=ponr] {
        for planned in &step.actions {
            let read_only = matches!(planned.action, Action::ExpectStopped(_))
                || step.kind == StepKind::VerifyOurs;
            assert_eq!(planned.undo.is_empty(), read_only, "{:?}", planned.action);
        }
    }
    // And none after it.
    assert!(
        prepared.plan.steps[ponr + 1..]
            .iter()
            .all(|s| s.actions.iter().all(|a| a.undo.is_empty()))
    );
}

// ---------------------------------------------------------------------------
// A failure after the point of no return: stop, print what is left, resume.

#[test]
fn failure_after_the_point_of_no_return_stops_with_the_exact_commands_left_then_resumes() {
    let sim = Sim::new();
    let our_master = sim.master(OURS).to_owned();
    let mut fault = fault(
        &our_master,
        "gnt-node add --readd --no-ssh-key-check node2.c.example.com",
    );
    fault["times"] = json!(1);
    sim.inject(fault);
    let outcome = merge(&sim);
    assert_eq!(outcome.status, Status::Stopped, "{outcome:#?}");
    assert_eq!(outcome.failure.as_ref().unwrap().step, "readd-nodes");
    assert!(
        outcome.undone.is_empty(),
        "nothing is undone after the point of no return"
    );
    assert!(outcome.backup.as_ref().unwrap().exists());
    let bin = sim.bin().display().to_string();
    let remaining: Vec<String> = outcome.remaining.iter().map(|l| sim.redact(l)).collect();
    insta::assert_snapshot!("remaining_after_readd_failure", remaining.join("\n"));
    assert_eq!(
        outcome.remaining[0],
        format!("{bin}/gnt-node add --readd --no-ssh-key-check node2.c.example.com")
    );
    // The merged config.data is installed, and Ganeti accepts it.
    assert_ganeti_valid(&[&sim.our_config()]);
    assert_eq!(
        sim.state(&our_master, "daemons.json")["master"],
        "running-no-voting"
    );
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::Stopped);
    assert_no_secrets(&sim);

    // A new run is refused; --resume finishes the merge.
    let mut executor = sim.executor();
    let error =
        bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap_err();
    assert!(matches!(error, Error::Unfinished { .. }), "{error}");
    let outcome =
        bouture_cluster_merge::resume(&sim.settings(&[]), &mut executor, &mut Quiet).unwrap();
    assert_eq!(outcome.status, Status::Complete, "{outcome:#?}");
    assert_merged(&sim);
    assert_no_secrets(&sim);
}

// ---------------------------------------------------------------------------
// A crash, then --resume.

/// The real executor, dying (as a killed process would) before its
/// `crash_at`-th command.
struct Crashing {
    inner: SystemExecutor,
    crash_at: usize,
    count: usize,
}

impl Executor for Crashing {
    fn run(&mut self, cmd: &Cmd) -> Result<CmdOutput, ExecError> {
        self.count += 1;
        assert!(self.count != self.crash_at, "simulated crash before {cmd}");
        self.inner.run(cmd)
    }
    fn add_cluster_key(&mut self, cluster: &str, key: &[u8]) -> Result<(), ExecError> {
        self.inner.add_cluster_key(cluster, key)
    }
    fn remove_keys(&mut self) -> Result<(), ExecError> {
        self.inner.remove_keys()
    }
    fn describe(&self, cmd: &Cmd) -> String {
        self.inner.describe(cmd)
    }
}

fn crash(sim: &Sim, crash_at: usize) {
    let settings = sim.settings(&[B, C]);
    let mut executor = Crashing {
        inner: sim.executor(),
        crash_at,
        count: 0,
    };
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        bouture_cluster_merge::run(&settings, &mut executor, &mut Quiet)
    }));
    assert!(result.is_err(), "the run was expected to crash");
}

#[test]
fn a_crash_while_stopping_daemons_resumes_after_the_last_completed_action() {
    let sim = Sim::new();
    // 23 discovery commands (17, and every merging node asked its
    // cluster's name), then 1 verify, 6 authorize, 4 instance commands, 3
    // watcher pauses, 2 master IPs: the 42nd command is the 3rd daemon stop
    // (the configurations are fetched after the daemons stop).
    crash(&sim, 42);
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::Running);
    let stop = journal
        .steps
        .iter()
        .find(|s| s.step == "stop-daemons")
        .unwrap();
    assert_eq!(
        (stop.state, stop.done),
        (bouture_cluster_merge::StepState::Started, 2)
    );
    let calls_before = sim.calls().lines().count();

    let mut executor = sim.executor();
    let outcome =
        bouture_cluster_merge::resume(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap();
    assert_eq!(outcome.status, Status::Complete, "{outcome:#?}");
    assert_merged(&sim);
    assert_no_secrets(&sim);
    // The resumed run did not repeat the daemon stops already done.
    let calls = sim.calls();
    let resumed: Vec<&str> = calls.lines().skip(calls_before).collect();
    let stops = resumed
        .iter()
        .filter(|l| l.contains("daemon-util stop-all"))
        .count();
    assert_eq!(stops, 4, "{resumed:#?}");
}

#[test]
fn a_crash_while_undoing_resumes_the_undo() {
    let sim = Sim::new();
    let before = sim.snapshot();
    let mut fault = fault(sim.master(OURS), "daemon-util stop-master");
    fault["times"] = json!(1);
    sim.inject(fault);
    // Discovery 23, then 1 + 6 + 4 + 3 + 2 + 2 + 6 = 47 commands, the
    // failing stop-master is the 48th; undoing starts at the 49th.
    crash(&sim, 51);
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::RollingBack);
    let mut executor = sim.executor();
    let outcome =
        bouture_cluster_merge::resume(&sim.settings(&[]), &mut executor, &mut Quiet).unwrap();
    assert_eq!(outcome.status, Status::RolledBack, "{outcome:#?}");
    let diff = differences(&before, &sim.snapshot());
    assert!(diff.is_empty(), "{diff:#?}");
}

// ---------------------------------------------------------------------------
// Dry run, refusals.

#[test]
fn a_resume_is_never_a_dry_run() {
    let sim = Sim::new();
    let mut settings = sim.settings(&[]);
    settings.dry_run = true;
    let mut executor = sim.executor();
    let error = bouture_cluster_merge::resume(&settings, &mut executor, &mut Quiet).unwrap_err();
    assert!(matches!(error, Error::DryRunResume), "{error}");
    assert!(!sim.state_dir().exists(), "nothing was written");
}

#[test]
fn dry_run_prints_the_plan_that_then_runs_and_changes_nothing() {
    let sim = Sim::new();
    let before = sim.snapshot();
    let mut executor = sim.executor();
    let prepared = dry_run(&sim, &mut executor);
    assert!(differences(&before, &sim.snapshot()).is_empty());
    assert!(!sim.state_dir().exists(), "a dry run writes no state");
    // Its text (the CLI renders the plan) is snapshot-tested with the
    // `bouture` binary: bouture-cli's `cluster_merge_dry_run_prints_the_plan`.
    assert_eq!(prepared.merge.merged.len(), 2);

    // The real run runs exactly the planned commands, in order.
    let planned: Vec<String> = prepared
        .plan
        .steps
        .iter()
        .flat_map(|s| s.actions.iter())
        .flat_map(|a| a.action.commands())
        .map(ToString::to_string)
        .collect();
    let outcome = merge(&sim);
    assert_eq!(outcome.status, Status::Complete);
    let log = std::fs::read_to_string(&outcome.log).unwrap();
    let ran: Vec<&str> = log
        .split_once(" started: merge ")
        .unwrap()
        .1
        .lines()
        .filter_map(|l| l.split_once("Z run [").map(|(_, cmd)| cmd))
        .collect();
    let planned: Vec<&str> = planned.iter().map(|c| &c[1..]).collect();
    assert_eq!(ran, planned);
}

#[test]
fn an_unreachable_cluster_at_the_start_changes_nothing() {
    let sim = Sim::new();
    let before = sim.snapshot();
    sim.down(sim.master(C));
    let before_down = sim.snapshot();
    let mut executor = sim.executor();
    let error =
        bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap_err();
    assert!(
        matches!(&error, Error::Exec { source: ExecError::Unreachable { host, .. }, .. } if host == C),
        "{error}"
    );
    assert!(differences(&before_down, &sim.snapshot()).is_empty());
    assert!(
        Journal::load(&sim.state_dir()).unwrap().is_none(),
        "no journal: nothing was done"
    );
    assert!(before.len() < before_down.len());
}

#[test]
fn a_merging_node_down_or_running_instances_are_found_before_any_change() {
    let sim = Sim::new();
    sim.down("node3.c.example.com");
    let before = sim.snapshot();
    let mut executor = sim.executor();
    let error =
        bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap_err();
    assert!(
        matches!(&error, Error::Exec { source: ExecError::Unreachable { host, .. }, .. } if host == "node3.c.example.com"),
        "{error}"
    );
    assert!(differences(&before, &sim.snapshot()).is_empty());
    assert!(Journal::load(&sim.state_dir()).unwrap().is_none());

    // Every node up; instances run and are not to be stopped.
    std::fs::remove_file(sim.host("node3.c.example.com").join("state/down")).unwrap();
    let before = sim.snapshot();
    let mut settings = sim.settings(&[B, C]);
    settings.stop_instances = false;
    let error = bouture_cluster_merge::run(&settings, &mut executor, &mut Quiet).unwrap_err();
    assert!(
        matches!(&error, Error::InstancesRunning { cluster, instances } if cluster == B && instances.contains("instance1.b.example.com")),
        "{error}"
    );
    assert!(differences(&before, &sim.snapshot()).is_empty());
    assert!(Journal::load(&sim.state_dir()).unwrap().is_none());
    assert!(!sim.calls().contains("authorized_keys"));
}

#[test]
fn merging_a_cluster_with_itself_or_twice_is_refused() {
    let sim = Sim::new();
    let before = sim.snapshot();
    let mut executor = sim.executor();
    let mut run = |clusters: &[&str]| {
        bouture_cluster_merge::run(&sim.settings(clusters), &mut executor, &mut Quiet).unwrap_err()
    };
    assert!(matches!(run(&[OURS]), Error::SelfMerge { .. }));
    assert!(matches!(
        run(&[B, sim.master(OURS)]),
        Error::SelfMerge { .. }
    ));
    assert!(matches!(
        run(&[B, "CLUSTER.name.b.example.com."]),
        Error::Duplicate { .. }
    ));
    // Two names of one cluster: found once both are asked their name.
    let error = run(&[B, sim.master(B)]);
    assert!(matches!(error, Error::Duplicate { .. }), "{error}");
    assert!(matches!(run(&[]), Error::NoClusters));
    assert!(differences(&before, &sim.snapshot()).is_empty());
    assert!(Journal::load(&sim.state_dir()).unwrap().is_none());
}

#[test]
fn a_second_run_at_the_same_time_is_refused() {
    let sim = Sim::new();
    std::fs::create_dir_all(sim.state_dir()).unwrap();
    let _held = bouture_fs::PidLock::acquire(&sim.state_dir().join("lock")).unwrap();
    let mut executor = sim.executor();
    let error =
        bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap_err();
    let held = Some(std::process::id());
    assert!(
        matches!(&error, Error::Busy(bouture_fs::LockError::Busy { pid, .. }) if *pid == held),
        "{error}"
    );
    let error =
        bouture_cluster_merge::resume(&sim.settings(&[]), &mut executor, &mut Quiet).unwrap_err();
    assert!(
        matches!(&error, Error::Busy(bouture_fs::LockError::Busy { pid, .. }) if *pid == held),
        "{error}"
    );
    assert!(sim.calls().is_empty(), "nothing ran");
}

// ---------------------------------------------------------------------------
// An undo that fails; state written earlier is input.

/// Clears a file's immutable flag when dropped, even when the test panics.
struct Immutable(std::path::PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn an_undo_that_fails_stops_the_rollback_keeps_the_backup_and_resumes() {
    let sim = Sim::new();
    let before = sim.snapshot();
    let our_master = sim.master(OURS).to_owned();
    let flag = Immutable(sim.our_config());
    // What Ganeti 3.0's daemon-util leaves under systemd when `systemctl
    // start` fails: the one-time arguments, read by every later start of
    // the unit. The undo removes it (the snapshot above has no such file).
    let onetime = sim
        .our_config()
        .with_file_name("ganeti-wconfd.onetime.conf");
    std::fs::write(&onetime, "ONETIME_ARGS=--no-voting --yes-do-it\n").unwrap();
    // Starting our master without voting fails, and our config.data can no
    // longer be replaced (chattr +i): restoring it, the undo of the merge
    // step, fails.
    sim.inject(json!({
        "host": our_master, "match": "daemon-util start ganeti-wconfd --no-voting", "times": 1,
        "action": "immutable", "file": "var/lib/ganeti/config.data",
    }));
    let outcome = merge(&sim);
    assert_eq!(outcome.status, Status::RollingBack, "{outcome:#?}");
    assert_eq!(
        outcome.failure.as_ref().unwrap().step,
        StepKind::StartMasterNoVoting.name()
    );
    // Only the undo of the failed step ran (the daemon stopped, the one-time
    // arguments file a failed start leaves under systemd removed); the
    // failed restore stopped the rollback: the backup (the only copy of our
    // config.data) is kept.
    assert_eq!(outcome.undone.len(), 2, "{outcome:#?}");
    assert!(
        outcome.undone[0].ends_with("daemon-util stop ganeti-wconfd"),
        "{outcome:#?}"
    );
    assert!(
        outcome.undone[1].ends_with("/var/lib/ganeti/ganeti-wconfd.onetime.conf"),
        "{outcome:#?}"
    );
    assert!(!onetime.exists(), "the one-time arguments are gone");
    assert_eq!(outcome.undo_failures.len(), 1, "{outcome:#?}");
    let backup = outcome.backup.clone().expect("the backup is kept");
    assert_eq!(std::fs::read(&backup).unwrap(), sim.configs[OURS]);
    // What is left: the failed restore first, then every older undo, the
    // removal of the backup after the restore.
    let restore = format!("cp -p {} {}", backup.display(), sim.our_config().display());
    assert_eq!(outcome.remaining[0], restore, "{outcome:#?}");
    assert!(outcome.undo_failures[0].starts_with(&restore));
    let removal = outcome
        .remaining
        .iter()
        .position(|l| *l == format!("rm -f {}", backup.display()))
        .unwrap();
    assert!(removal > 0);
    assert!(
        outcome
            .remaining
            .last()
            .unwrap()
            .contains("authorized_keys"),
        "{outcome:#?}"
    );
    let journal = Journal::load(&sim.state_dir()).unwrap().unwrap();
    assert_eq!(journal.status, Status::RollingBack);
    assert_no_secrets(&sim);

    // The cause fixed, --resume finishes the undo: everything as before.
    drop(flag);
    let mut executor = sim.executor();
    let outcome =
        bouture_cluster_merge::resume(&sim.settings(&[]), &mut executor, &mut Quiet).unwrap();
    assert_eq!(outcome.status, Status::RolledBack, "{outcome:#?}");
    assert!(outcome.undo_failures.is_empty());
    assert!(outcome.backup.is_none());
    let diff = differences(&before, &sim.snapshot());
    assert!(diff.is_empty(), "{diff:#?}");
    assert_no_secrets(&sim);
}

#[test]
fn a_failed_command_says_what_it_printed_on_stdout() {
    let sim = Sim::new();
    let mut fault = fault(sim.master(OURS), "gnt-cluster verify");
    fault["stdout"] = json!("ERROR: node node1: ENODESETUP: the verify finding\n");
    sim.inject(fault);
    let outcome = merge(&sim);
    assert_eq!(outcome.status, Status::RolledBack);
    let message = &outcome.failure.unwrap().message;
    assert!(
        message.contains("stdout: ERROR: node node1: ENODESETUP: the verify finding"),
        "{message}"
    );
    assert!(message.contains("injected failure"), "{message}");
}

#[test]
fn restart_all_starts_every_instance_as_ganeti_does() {
    let sim = Sim::new();
    let mut settings = sim.settings(&[B, C]);
    settings.restart = bouture_cluster_merge::Restart::All;
    let mut executor = sim.executor();
    let outcome = ran(bouture_cluster_merge::run(&settings, &mut executor, &mut Quiet).unwrap());
    assert_eq!(outcome.status, Status::Complete, "{outcome:#?}");
    let states = sim.state(sim.master(OURS), "instances.json");
    for cluster in ["b", "c"] {
        for number in 1..=3 {
            assert_eq!(
                states[format!("instance{number}.{cluster}.example.com")],
                "running",
                "{states:#}"
            );
        }
    }
}

/// A journal planned (by a dry run) and saved, as a run saves it.
fn planned_journal(sim: &Sim) -> Journal {
    let mut executor = sim.executor();
    let prepared = dry_run(sim, &mut executor);
    std::fs::create_dir(sim.state_dir()).unwrap();
    std::fs::set_permissions(
        sim.state_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let journal = Journal::new(prepared.plan);
    journal.save(&sim.state_dir()).unwrap();
    assert_eq!(Journal::load(&sim.state_dir()).unwrap().unwrap(), journal);
    journal
}

#[test]
fn an_edited_journal_is_refused_and_nothing_it_says_runs() {
    let sim = Sim::new();
    let journal = planned_journal(&sim);
    let path = Journal::path(&sim.state_dir());
    let original = std::fs::read_to_string(&path).unwrap();
    let calls = sim.calls().lines().count();
    let refused = |text: &str, why: &str| {
        std::fs::write(&path, text).unwrap();
        let error = Journal::load(&sim.state_dir()).unwrap_err().to_string();
        assert!(error.contains(why), "{error}");
        let mut executor = sim.executor();
        let error = bouture_cluster_merge::resume(&sim.settings(&[]), &mut executor, &mut Quiet)
            .unwrap_err()
            .to_string();
        assert!(error.contains(why), "{error}");
    };
    // A command replaced: it is not the one the recorded facts make.
    let mut edited: serde_json::Value = serde_json::from_str(&original).unwrap();
    let argv = &mut edited["plan"]["steps"][0]["actions"][0]["action"]["run"]["argv"];
    assert!(argv[1] == "verify", "{argv}");
    *argv = json!(["sh", "-c", "touch /tmp/bouture-edited-journal"]);
    refused(&edited.to_string(), "was it edited?");
    // A key twice: serde would keep the last, another reader the first.
    refused(
        &original.replacen(
            "\"status\": \"running\"",
            "\"status\": \"running\", \"status\": \"rolled-back\"",
            1,
        ),
        "appears twice",
    );
    // A run id that leads out of the state directory (the log's name).
    refused(
        &original.replace(&journal.plan.run_id, "../../tmp/evil"),
        "not a plain name",
    );
    // A name that is not a host name, in the recorded facts.
    refused(
        &original.replacen("node1.b.example.com", "node1.b.example.com;reboot", 1),
        "not a valid name",
    );
    // Writable by others, or owned by someone else.
    std::fs::write(&path, &original).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o622)).unwrap();
    let error = Journal::load(&sim.state_dir()).unwrap_err().to_string();
    assert!(error.contains("lets group or others write it"), "{error}");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
    let error = Journal::load(&sim.state_dir()).unwrap_err().to_string();
    assert!(error.contains("belongs to uid 65534"), "{error}");
    std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    assert!(Journal::load(&sim.state_dir()).unwrap().is_some());
    // A state directory writable by others is refused before anything.
    std::fs::set_permissions(
        sim.state_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let mut executor = sim.executor();
    let error =
        bouture_cluster_merge::resume(&sim.settings(&[]), &mut executor, &mut Quiet).unwrap_err();
    assert!(matches!(error, Error::StateDir { .. }), "{error}");
    let error =
        bouture_cluster_merge::run(&sim.settings(&[B, C]), &mut executor, &mut Quiet).unwrap_err();
    assert!(matches!(error, Error::StateDir { .. }), "{error}");
    // Another program directory than the caller's is refused too.
    std::fs::set_permissions(
        sim.state_dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let mut settings = sim.settings(&[]);
    settings.local.sbin = std::path::PathBuf::from("/tmp");
    let error = bouture_cluster_merge::resume(&settings, &mut executor, &mut Quiet)
        .unwrap_err()
        .to_string();
    assert!(error.contains("local Ganeti paths"), "{error}");
    // Nothing ran.
    assert_eq!(sim.calls().lines().count(), calls);
}

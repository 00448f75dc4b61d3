//! `bouture status --replay` end to end: a real proxy as the local master, a second real
//! proxy as the original master, changes made offline with the real `slapos request`,
//! carried back by bouture with the real `slapos request`; a replay killed half-way with
//! SIGKILL, run again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bouture_core::{Inventory, NodeConfig};
use bouture_graft::{GraftPlan, Options};
use bouture_master_client::MasterClient;
use bouture_offline_changes::{MasterSnapshot, Return, diff, read_changes, record_return};
use bouture_test_support::node::{TEST_SOFTWARE_URL, WrittenNode};
use bouture_test_support::{SlapProxy, SlaposEnv};
use serde_json::Value;

use crate::support::bouture;

const COMPUTER: &str = "COMP-REPLAY";

fn node(root: &Path) -> WrittenNode {
    bouture_test_support::offline_changes::node(root, COMPUTER, 3)
}

fn graft(node: &WrittenNode, proxy: &SlapProxy) -> MasterSnapshot {
    let config = NodeConfig::load(&node.cfg).unwrap();
    let plan = GraftPlan::build(&Inventory::scan(&config).unwrap(), &Options::default());
    let client = MasterClient::new(proxy.url()).unwrap();
    let report = bouture_graft::apply(&plan, &client, &mut ()).unwrap();
    assert_eq!(report.totals.grafted, 3, "{report:?}");
    MasterSnapshot::read(&client, COMPUTER).unwrap()
}

/// What an instance is, without where it lives or what it published.
fn essence(proxy: &SlapProxy) -> BTreeMap<String, Value> {
    let client = MasterClient::new(proxy.url()).unwrap();
    bouture_test_support::offline_changes::essence(
        &MasterSnapshot::read(&client, COMPUTER).unwrap(),
    )
}

/// Both masters hold the grafted node; the local one is changed offline with the real
/// `slapos request`, and the changes are recorded next to the switchfile.
struct Scene {
    dir: tempfile::TempDir,
    local: SlapProxy,
    original: SlapProxy,
    changes: usize,
}

impl Scene {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path());
        let local = SlapProxy::start(COMPUTER).unwrap();
        let original = SlapProxy::start(COMPUTER).unwrap();
        let grafted = graft(&node, &local);
        graft(&node, &original);
        assert_eq!(essence(&local), essence(&original));
        let sr = TEST_SOFTWARE_URL;
        let node_filter = format!("computer_guid={COMPUTER}");
        #[rustfmt::skip]
        let requests: [&[&str]; 5] = [
            &["Main A", "--state", "started", "--parameters", r#"_={"n": 0, "cells": ["a", "b"]}"#],
            &["SIM 3", "--slave", "--node", &node_filter, "instance_guid=slappart0",
              "--parameters", r#"_={"imsi": "003"}"#],
            &["SIM 2", "--slave", "--state", "destroyed"],
            &["Main B", "--state", "stopped", "--parameters", r#"_={"n": 1, "k": "it's"}"#],
            &["Main C", "--state", "started", "--parameters", r#"_={"n": 2}"#],
        ];
        for request in requests {
            let (title, rest) = request.split_first().unwrap();
            let mut args = vec!["request", title, sr, "--type", "default"];
            args.extend(rest);
            local.slapos_client_ok(&args);
        }
        let now = MasterSnapshot::read(&MasterClient::new(local.url()).unwrap(), COMPUTER).unwrap();
        let changes = diff(&grafted, &now);
        let with_command = changes.iter().filter(|c| c.command.is_some()).count();
        assert!(with_command >= 5, "{changes:#?}");
        let scene = Self {
            dir,
            local,
            original,
            changes: with_command,
        };
        record_return(
            &scene.switchfile(),
            Return::new(
                None,
                "2026-12-07T20:00:00Z",
                scene.local.url(),
                COMPUTER,
                changes,
            ),
        )
        .unwrap();
        assert_ne!(essence(&scene.local), essence(&scene.original));
        scene
    }

    fn switchfile(&self) -> std::path::PathBuf {
        self.dir.path().join("bouture-switch")
    }

    fn replay_args(&self, extra: &[&str]) -> Vec<String> {
        self.replay_args_with(&self.original.client_config(), extra)
    }

    fn replay_args_with(&self, client_cfg: &Path, extra: &[&str]) -> Vec<String> {
        let env = SlaposEnv::get().unwrap();
        let mut args: Vec<String> = [
            "status",
            "--switchfile",
            self.switchfile().to_str().unwrap(),
            "--replay",
            "--client-cfg",
            client_cfg.to_str().unwrap(),
            "--slapos-command",
            env.slapos_bin.to_str().unwrap(),
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(extra.iter().map(ToString::to_string));
        args
    }

    fn replay(&self, extra: &[&str]) -> crate::support::Run {
        self.run(&self.replay_args(extra))
    }

    fn run(&self, args: &[String]) -> crate::support::Run {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bouture(&args, self.dir.path())
    }

    /// The positions of the acknowledged changes in the changes file.
    fn acknowledged(&self) -> BTreeSet<(usize, usize)> {
        let file = read_changes(&self.switchfile()).unwrap().unwrap();
        let mut out = BTreeSet::new();
        for (r, back) in file.returns.iter().enumerate() {
            for (c, change) in back.changes.iter().enumerate() {
                if change.replay.as_ref().is_some_and(|replayed| {
                    replayed.outcome == bouture_offline_changes::replay::ReplayOutcome::Acknowledged
                }) {
                    out.insert((r, c));
                }
            }
        }
        out
    }
}

#[test]
fn a_dry_run_runs_nothing_and_a_replay_carries_every_change_back_once() {
    let scene = Scene::new();
    let before = essence(&scene.original);

    let dry = scene.replay(&["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(
        dry.stdout.matches("would run: ").count(),
        scene.changes,
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("--cfg [ROOT]/") || dry.stdout.contains(" --cfg /"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        essence(&scene.original),
        before,
        "a dry run changes nothing"
    );
    assert!(scene.acknowledged().is_empty());

    let run = scene.replay(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches("      acknowledged\n").count(),
        scene.changes,
        "{}",
        run.stdout
    );
    assert_eq!(essence(&scene.original), essence(&scene.local));
    assert_eq!(scene.acknowledged().len(), scene.changes);

    // Again: nothing left to run.
    let again = scene.replay(&[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        again.stdout.matches("already acknowledged: ").count(),
        scene.changes
    );
    assert!(!again.stdout.contains("running: "), "{}", again.stdout);
}

#[test]
fn a_replay_killed_half_way_then_run_again_acknowledges_every_change_once() {
    let scene = Scene::new();
    let args = scene.replay_args(&[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_bouture"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once it acknowledged a change and is running the next one's `slapos`.
    let deadline = Instant::now() + Duration::from_mins(2);
    loop {
        assert!(Instant::now() < deadline, "the replay never got half-way");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the replay ended before the kill"
        );
        let has_child =
            std::fs::read_to_string(format!("/proc/{}/task/{}/children", child.id(), child.id()))
                .is_ok_and(|children| !children.trim().is_empty());
        if !scene.acknowledged().is_empty() && has_child {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let acknowledged_before = scene.acknowledged();
    assert!(acknowledged_before.len() < scene.changes, "killed half-way");
    // The orphaned `slapos request` may still be running: let it end.
    std::thread::sleep(Duration::from_secs(3));

    let run = scene.replay(&[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // Each change acknowledged once: the second run ran exactly those the first did not
    // acknowledge, and skipped the others.
    assert_eq!(
        run.stdout.matches("already acknowledged: ").count(),
        acknowledged_before.len(),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("      acknowledged\n").count(),
        scene.changes - acknowledged_before.len(),
        "{}",
        run.stdout
    );
    assert_eq!(scene.acknowledged().len(), scene.changes);
    assert_eq!(essence(&scene.original), essence(&scene.local));
}

#[test]
fn a_failing_change_stays_with_the_answer_and_a_tampered_file_runs_nothing() {
    let scene = Scene::new();
    // The original master does not answer: every request fails, and stays to replay.
    let dead = scene.dir.path().join("dead-client.cfg");
    std::fs::write(&dead, "[slapos]\nmaster_url = http://127.0.0.1:9\n").unwrap();
    let run = scene.run(&scene.replay_args_with(&dead, &[]));
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("FAILED (exit 1), kept to replay"),
        "{}",
        run.stdout
    );
    assert!(scene.acknowledged().is_empty());
    let file = read_changes(&scene.switchfile()).unwrap().unwrap();
    let failed = file.returns[0]
        .changes
        .iter()
        .filter_map(|c| c.replay.as_ref())
        .map(|r| match &r.outcome {
            bouture_offline_changes::replay::ReplayOutcome::Failed { answer, .. } => answer.clone(),
            other => panic!("{other:?}"),
        })
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), scene.changes);
    assert!(failed.iter().all(|answer| answer.chars().count() <= 2001));
    assert!(
        failed
            .iter()
            .all(|a| a.contains("onnection") || a.contains("127.0.0.1")),
        "{failed:?}"
    );
    assert_eq!(essence(&scene.local).len(), 3);

    // A command that bouture did not write is refused before anything runs.
    let path = bouture_offline_changes::changes_path(&scene.switchfile());
    let text = std::fs::read_to_string(&path).unwrap();
    let tampered = text.replacen("\"request\",", "\"request\", \"--cfg\", \"/tmp/evil\",", 1);
    assert_ne!(text, tampered);
    std::fs::write(&path, tampered).unwrap();
    let run = scene.replay(&[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("is not a valid changes file"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("running: "), "{}", run.stdout);

    // A changes file others may write is refused.
    std::fs::write(&path, &text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let run = scene.replay(&[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("lets others write it"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_second_replay_at_once_is_refused_naming_the_first() {
    let scene = Scene::new();
    let mut first = Command::new(env!("CARGO_BIN_EXE_bouture"))
        .args(scene.replay_args(&[]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = bouture_offline_changes::replay::replay_lock_path(&scene.switchfile());
    let deadline = Instant::now() + Duration::from_mins(1);
    while std::fs::read_to_string(&lock).map_or(true, |pid| pid.trim().is_empty()) {
        assert!(
            Instant::now() < deadline,
            "the first replay never took its lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = scene.replay(&[]);
    let first_ended = first.wait().unwrap();
    assert!(first_ended.success());
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!(
            "another replay of these changes is running (pid {})",
            first.id()
        )),
        "{}",
        second.stderr
    );
    // The first one carried everything back, once.
    assert_eq!(scene.acknowledged().len(), scene.changes);
    assert_eq!(essence(&scene.original), essence(&scene.local));
}

//! `bouture graft` as operators run it: the real binary against a real slapproxy.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bouture_master_client::MasterClient;
use bouture_test_support::SlapProxy;
use bouture_test_support::SlaposEnv;
use bouture_test_support::master::MasterState;
use bouture_test_support::node::{TestNode, TestPartition, WrittenNode};

use crate::demo_node::materialize_demo_node;
use crate::support::{Run, bouture, closed_port_url, stable};

/// `bouture graft --cfg CFG --new-master-url URL EXTRA...`.
fn graft(cfg: &str, url: &str, extra: &[&str], root: &std::path::Path) -> Run {
    let mut args = vec!["graft", "--cfg", cfg, "--new-master-url", url];
    args.extend_from_slice(extra);
    bouture(&args, root)
}

/// Replace the proxy's URL, which changes every run, and the time and pid of
/// the log lines.
fn without_url(run: &Run, url: &str) -> String {
    stable(&run.snapshot().replace(url, "[MASTER]"))
}

fn master_state(proxy: &SlapProxy, computer_id: &str) -> MasterState {
    let env = SlaposEnv::get().unwrap();
    let python = env.python.clone().unwrap_or_else(|| "python3".into());
    let client = MasterClient::new(proxy.url()).unwrap();
    MasterState::read(&client, computer_id, &proxy.database_path(), &python)
}

#[test]
fn dry_run_of_the_demo_node_prints_the_plan_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let cfg = cfg.to_str().unwrap();
    // The proxy's own computer is another one, so it does not know COMP-DEMO.
    let proxy = SlapProxy::start("COMP-PROXY").unwrap();

    let text = graft(cfg, proxy.url(), &["--dry-run"], dir.path());
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("demo_plan_text", without_url(&text, proxy.url()));
    let json = graft(
        cfg,
        proxy.url(),
        &["--dry-run", "--format", "json"],
        dir.path(),
    );
    assert_eq!(json.code, 0);
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("demo_plan_json", plan);

    // Nothing was sent (the proxy does not know the computer) and the timestamps are still there.
    let client = MasterClient::new(proxy.url()).unwrap();
    assert_eq!(
        client
            .full_computer_information("COMP-DEMO")
            .unwrap_err()
            .status(),
        Some(500)
    );
    assert!(
        dir.path()
            .join("srv/slapgrid/slappart0/.timestamp")
            .exists()
    );
}

#[test]
fn graft_of_the_demo_node_reports_and_the_master_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let cfg = cfg.to_str().unwrap();
    let proxy = SlapProxy::start("COMP-DEMO").unwrap();
    let monitor = ["--new-monitor-url", "https://[2001:db8::1]:4001/"];

    let text = graft(cfg, proxy.url(), &monitor, dir.path());
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("demo_report_text", without_url(&text, proxy.url()));
    let state = master_state(&proxy, "COMP-DEMO");
    insta::assert_json_snapshot!("demo_master_state", state);
    assert!(
        !dir.path()
            .join("srv/slapgrid/slappart0/.timestamp")
            .exists()
    );

    let json = graft(
        cfg,
        proxy.url(),
        &[&["--format", "json"][..], &monitor].concat(),
        dir.path(),
    );
    assert_eq!(json.code, 0, "{}", json.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&json.stdout.replace(proxy.url(), "[MASTER]")).unwrap();
    insta::assert_json_snapshot!("demo_report_json", report);
    // Grafting again left the master as it was.
    assert_eq!(master_state(&proxy, "COMP-DEMO"), state);
}

#[test]
fn skipped_partitions_make_graft_exit_1_and_say_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-CLI-SKIP")
        .partition(TestPartition::new(0).instance("fine", "started"))
        .partition(TestPartition::new(1).bouture_bytes(b"\xff not utf-8"))
        .write();
    let proxy = SlapProxy::start("COMP-CLI-SKIP").unwrap();
    let run = graft(node.cfg.to_str().unwrap(), proxy.url(), &[], dir.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!("skipped_report", without_url(&run, proxy.url()));
}

#[test]
fn an_unreachable_master_exits_1_quickly_with_the_url_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-CLI-DOWN")
        .partition(TestPartition::new(0).instance("a", "started"))
        .write();
    let url = closed_port_url();
    let started = Instant::now();
    let run = graft(node.cfg.to_str().unwrap(), &url, &[], dir.path());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty());
    insta::assert_snapshot!("unreachable", stable(&run.stderr));
    assert!(node.instance_root.join("slappart0/.timestamp").exists());
}

/// A node of `count` partitions, each with one shared instance.
fn big_node(root: &std::path::Path, computer_id: &str, count: u32) -> WrittenNode {
    let mut node = TestNode::new(root, computer_id).address("10.1.0.1", "255.255.0.0");
    for number in 0..count {
        let value = bouture_test_support::node::bouture_json(
            &format!("instance {number}"),
            if number % 2 == 0 {
                "started"
            } else {
                "stopped"
            },
            &serde_json::json!({"_": format!("{{\"n\": {number}}}")}),
            &[(&format!("shared {number}"), serde_json::json!({"k": "v"}))],
        );
        node = node.partition(TestPartition::new(number).bouture_value(&value));
    }
    node.write()
}

/// The master state after an uninterrupted graft of `big_node` (25 partitions).
fn uninterrupted_graft(root: &std::path::Path, computer_id: &str) -> MasterState {
    let node = big_node(&root.join("reference"), computer_id, 25);
    let proxy = SlapProxy::start(computer_id).unwrap();
    let cfg = node.cfg.to_str().unwrap();
    let run = graft(cfg, proxy.url(), &[], root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    master_state(&proxy, computer_id)
}

/// Wait until the master holds `instances` instances of the computer, or the
/// graft process ended, or a minute passed.
fn wait_for_instances(
    proxy: &SlapProxy,
    computer_id: &str,
    instances: usize,
    graft: &mut std::process::Child,
) {
    let client = MasterClient::new(proxy.url()).unwrap();
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let placed = client
            .json_rpc()
            .compute_node_instance_list(computer_id)
            .map_or(0, |list| list.len());
        if placed >= instances || Instant::now() > deadline || graft.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Start `bouture graft` of the node onto `url` in the background, its output piped.
fn spawn_graft(node: &WrittenNode, url: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_bouture"))
        .args([
            "graft",
            "--cfg",
            node.cfg.to_str().unwrap(),
            "--new-master-url",
            url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Start `bouture graft` and SIGKILL it once the master holds `instances` instances.
fn kill_graft_after(node: &WrittenNode, proxy: &SlapProxy, instances: usize) {
    let mut child = spawn_graft(node, proxy.url());
    wait_for_instances(proxy, &node.computer_id, instances, &mut child);
    let _ = child.kill();
    child.wait().unwrap();
}

#[test]
fn a_killed_graft_converges_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let expected = uninterrupted_graft(dir.path(), "COMP-KILL");

    for (attempt, kill_at) in [1, 12, 24].into_iter().enumerate() {
        let node = big_node(&dir.path().join(format!("node{attempt}")), "COMP-KILL", 25);
        let proxy = SlapProxy::start("COMP-KILL").unwrap();
        kill_graft_after(&node, &proxy, kill_at);
        let interrupted = master_state(&proxy, "COMP-KILL");
        let run = graft(node.cfg.to_str().unwrap(), proxy.url(), &[], dir.path());
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(
            master_state(&proxy, "COMP-KILL"),
            expected,
            "after a kill at {kill_at} instances (state then: {} partitions)",
            interrupted.partitions.len()
        );
        for number in 0..25 {
            assert!(
                !node
                    .instance_root
                    .join(format!("slappart{number}/.timestamp"))
                    .exists()
            );
        }
    }
}

#[test]
fn a_graft_cut_by_a_proxy_restart_converges_when_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let expected = uninterrupted_graft(dir.path(), "COMP-RESTART");

    let node = big_node(&dir.path().join("node"), "COMP-RESTART", 25);
    let mut proxy = SlapProxy::start("COMP-RESTART").unwrap();
    let mut background = spawn_graft(&node, proxy.url());
    wait_for_instances(&proxy, "COMP-RESTART", 8, &mut background);
    // The master goes away in the middle of the graft, and comes back.
    proxy.restart().unwrap();
    let cut = background.wait_with_output().unwrap();
    assert_eq!(
        cut.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&cut.stdout)
    );

    let run = graft(node.cfg.to_str().unwrap(), proxy.url(), &[], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(master_state(&proxy, "COMP-RESTART"), expected);
}

#[test]
fn a_node_with_no_opted_in_partition_exits_0_and_leaves_the_master_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-NONE")
        .partition(TestPartition::new(0))
        .partition(TestPartition::new(1))
        .write();
    let proxy = SlapProxy::start("COMP-NONE").unwrap();
    // The master holds a computer of its own already: it must stay as it is.
    let other = TestNode::new(&dir.path().join("other"), "COMP-NONE")
        .partition(TestPartition::new(0).instance("Already there", "started"))
        .write();
    let seeded = graft(other.cfg.to_str().unwrap(), proxy.url(), &[], dir.path());
    assert_eq!(seeded.code, 0, "{}", seeded.stderr);
    let before = master_state(&proxy, "COMP-NONE");
    let requests = |proxy: &SlapProxy| {
        proxy
            .log_tail()
            .iter()
            .filter(|line| line.contains("\"GET ") || line.contains("\"POST "))
            .count()
    };
    let requests_before = requests(&proxy);

    let run = graft(node.cfg.to_str().unwrap(), proxy.url(), &[], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("INFO No bouture partitions found on this node: no partition of "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert_eq!(requests(&proxy), requests_before, "not one request sent");
    let after = master_state(&proxy, "COMP-NONE");
    assert_eq!(
        format!("{after:?}"),
        format!("{before:?}"),
        "the master is untouched"
    );
    assert!(format!("{after:?}").contains("Already there"));
}

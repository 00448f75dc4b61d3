//! The failover state machine, run through the real `bouture` binary with a
//! fake `slapos` program whose exit codes are scripted, and a real slapproxy
//! as the new master wherever a graft must succeed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition, WrittenNode};
use serde_json::Value;

use crate::support::{Run, stable};

/// A throw-away node with a fake `slapos` and the failover's files.
pub(crate) struct Scene {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) node: WrittenNode,
}

impl Scene {
    /// A node with two opted-in partitions and one that is not.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let node = TestNode::new(dir.path(), "COMP-FO")
            .partition(TestPartition::new(0).instance("Main", "started"))
            .partition(TestPartition::new(1))
            .partition(TestPartition::new(2).instance("Second", "stopped"))
            .write();
        // Comments the new configuration must keep, and a client certificate it must drop.
        let cfg = fs::read_to_string(&node.cfg).unwrap();
        let cfg = cfg.replace(
            "[slapos]\n",
            "# operator note: keep me\n[slapos]\nkey_file = /etc/opt/slapos/ssl/computer.key\ncert_file = /etc/opt/slapos/ssl/computer.crt\n",
        );
        fs::write(&node.cfg, cfg).unwrap();
        let scene = Self { dir, node };
        scene.write_fake_slapos();
        scene
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `fake-slapos`: logs its arguments to `calls`, exits with the first
    /// line of `codes` (removing it). `sleep N` sleeps N seconds then exits
    /// 0; `kill` dies of SIGKILL; no line left exits 99.
    fn write_fake_slapos(&self) {
        let script = format!(
            "#!/bin/sh\n\
             dir='{}'\n\
             echo \"$*\" >> \"$dir/calls\"\n\
             code=$(head -n 1 \"$dir/codes\" 2>/dev/null)\n\
             sed -i 1d \"$dir/codes\" 2>/dev/null\n\
             case \"$code\" in\n\
             sleep*) sleep \"${{code#sleep }}\"; exit 0;;\n\
             kill) kill -9 $$;;\n\
             '') echo \"fake slapos: no exit code scripted\" >&2; exit 99;;\n\
             esac\n\
             echo \"fake slapos: $* -> exit $code\" >&2\n\
             exit \"$code\"\n",
            self.dir.path().display()
        );
        let path = self.path("fake-slapos");
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Script the next exit codes of the fake `slapos`.
    pub(crate) fn codes(&self, codes: &[&str]) {
        let mut text = codes.join("\n");
        text.push('\n');
        fs::write(self.path("codes"), text).unwrap();
        let _ = fs::remove_file(self.path("calls"));
    }

    /// The `--cfg` argument of every call of the fake `slapos` since [`Scene::codes`].
    pub(crate) fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.path("calls"))
            .unwrap_or_default()
            .lines()
            .map(|line| line.replace(self.dir.path().to_str().unwrap(), "[ROOT]"))
            .collect()
    }

    pub(crate) fn switchfile(&self) -> PathBuf {
        self.path("switch")
    }

    pub(crate) fn new_cfg(&self) -> PathBuf {
        self.path("slapos-bouture.cfg")
    }

    /// `bouture failover` with the scene's files and `url` as new master.
    pub(crate) fn failover(&self, url: &str, extra: &[&str]) -> Run {
        let args = self.failover_args(url, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::support::bouture(&args, self.dir.path())
    }

    /// The arguments of `bouture failover` with the scene's files.
    pub(crate) fn failover_args(&self, url: &str, extra: &[&str]) -> Vec<String> {
        let mut args = vec![
            "failover".to_string(),
            "--cfg".into(),
            self.node.cfg.to_str().unwrap().into(),
            "--new-master-url".into(),
            url.into(),
            "--new-node-cfg".into(),
            self.new_cfg().to_str().unwrap().into(),
            "--pidfile".into(),
            self.path("failover.pid").to_str().unwrap().into(),
            "--switchfile".into(),
            self.switchfile().to_str().unwrap().into(),
            "--slapos-command".into(),
            self.path("fake-slapos").to_str().unwrap().into(),
        ];
        args.extend(extra.iter().map(ToString::to_string));
        args
    }

    /// Set `pidfile_instance` in the node configuration.
    pub(crate) fn set_pidfile_instance(&self, path: &std::path::Path) {
        let cfg = fs::read_to_string(&self.node.cfg).unwrap().replace(
            "[slapos]\n",
            &format!("[slapos]\npidfile_instance = {}\n", path.display()),
        );
        fs::write(&self.node.cfg, cfg).unwrap();
    }

    pub(crate) fn switch_record(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.switchfile()).unwrap()).unwrap()
    }
}

/// A URL where nothing listens.
const DEAD_MASTER: &str = "http://127.0.0.1:9/";

fn snapshot(run: &Run) -> String {
    format!(
        "exit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
        run.code,
        stable(&run.stdout),
        stable(&run.stderr)
    )
}

#[test]
fn online_changes_nothing() {
    let scene = Scene::new();
    scene.codes(&["0"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        scene.calls(),
        ["node instance --cfg [ROOT]/slapos.cfg"],
        "processed once, with the original master"
    );
    assert!(!scene.switchfile().exists());
    assert!(!scene.new_cfg().exists(), "nothing configured");
    insta::assert_snapshot!("online", snapshot(&run));

    scene.codes(&["2"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 0, "promise failures still mean online");
    assert!(
        run.stderr
            .contains("exit 2 (processed, but promises failed)")
    );
}

/// Offline for the first time: configure, graft, switch, then process from
/// the new master; then stay offline without grafting again; then come back.
#[test]
fn first_offline_switches_then_stays_then_comes_back() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-FO").unwrap();
    let url = proxy.url().to_string();
    let node_cfg_before = fs::read(&scene.node.cfg).unwrap();

    scene.codes(&["3", "0"]);
    let run = scene.failover(&url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        scene.calls(),
        [
            "node instance --cfg [ROOT]/slapos.cfg",
            "node instance --cfg [ROOT]/slapos-bouture.cfg"
        ]
    );
    insta::assert_snapshot!("first_offline", snapshot(&run));
    // configure: the new configuration points at the proxy, without client TLS.
    let new_cfg = fs::read_to_string(scene.new_cfg()).unwrap();
    assert!(
        new_cfg.contains(&format!("master_url = {url}")),
        "{new_cfg}"
    );
    assert!(new_cfg.contains("# operator note: keep me"));
    assert!(!new_cfg.contains("key_file") && !new_cfg.contains("cert_file"));
    assert_eq!(fs::read(&scene.node.cfg).unwrap(), node_cfg_before);
    // graft: the proxy holds both instances in their partitions.
    let record = scene.switch_record();
    assert_eq!(record["version"], 1);
    assert_eq!(record["new_master_url"], url.as_str());
    assert_eq!(record["original_master_url"], "http://master.invalid/");
    assert_eq!(record["offline_runs"], 1);
    let grafted: Vec<&str> = record["grafted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["partition"].as_str().unwrap())
        .collect();
    assert_eq!(grafted, ["slappart0", "slappart2"]);
    let client = bouture_master_client::MasterClient::new(&url).unwrap();
    let computer = client.full_computer_information("COMP-FO").unwrap();
    let placed: Vec<(String, String)> = computer
        .partitions
        .iter()
        .filter_map(|p| Some((p.partition_id.clone(), p.instance.as_ref()?.title.clone())))
        .collect();
    assert_eq!(
        placed,
        [
            ("slappart0".to_string(), "Main".to_string()),
            ("slappart2".to_string(), "Second".to_string())
        ]
    );

    // Status while switched.
    let status = crate::support::bouture(
        &[
            "status",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
        ],
        scene.dir.path(),
    );
    assert_eq!(status.code, 0);
    insta::assert_snapshot!("status_switched", snapshot(&status));

    // Still offline: processed from the new master, no second graft.
    let switched_at = record["switched_at"].clone();
    proxy.stop(); // a second graft would now fail
    scene.codes(&["3", "0"]);
    let run = scene.failover(&url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(scene.calls().len(), 2);
    assert!(!run.stderr.contains("grafting this node"), "{}", run.stderr);
    assert_eq!(scene.switch_record()["switched_at"], switched_at);
    insta::assert_snapshot!("staying_offline", snapshot(&run));

    // Back online: the switchfile goes.
    scene.codes(&["0"]);
    let run = scene.failover(&url, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(scene.calls(), ["node instance --cfg [ROOT]/slapos.cfg"]);
    assert!(!scene.switchfile().exists());
    insta::assert_snapshot!("back_online", snapshot(&run));
}

#[test]
fn ambiguous_exits_change_nothing() {
    let scene = Scene::new();
    for (switched, code) in [(false, "1"), (false, "10"), (true, "1"), (true, "kill")] {
        if switched {
            fs::write(scene.switchfile(), "").unwrap();
        }
        scene.codes(&[code]);
        let run = scene.failover(DEAD_MASTER, &[]);
        assert_eq!(run.code, 75, "{code}: {}", run.stderr);
        assert_eq!(scene.calls().len(), 1, "only the original run");
        assert!(run.stderr.contains("ambiguous"), "{}", run.stderr);
        assert_eq!(scene.switchfile().exists(), switched);
        if switched {
            assert_eq!(fs::read_to_string(scene.switchfile()).unwrap(), "");
        }
        assert!(!scene.new_cfg().exists());
        if code == "kill" {
            assert!(
                run.stderr.contains("killed by SIGKILL (signal 9)"),
                "{}",
                run.stderr
            );
            assert!(run.stderr.contains("(returned -9)"), "{}", run.stderr);
        }
    }
    scene.codes(&["10"]);
    fs::remove_file(scene.switchfile()).unwrap();
    insta::assert_snapshot!("ambiguous", snapshot(&scene.failover(DEAD_MASTER, &[])));
}

#[test]
fn graft_failure_creates_no_switch() {
    let scene = Scene::new();
    scene.codes(&["3"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        scene.calls(),
        ["node instance --cfg [ROOT]/slapos.cfg"],
        "not processed from the new master"
    );
    assert!(!scene.switchfile().exists());
    assert!(scene.new_cfg().exists(), "configure ran before the graft");
    insta::assert_snapshot!("graft_failure", snapshot(&run));
    // The next offline run tries again at once.
    scene.codes(&["3"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("2 run(s) in a row"), "{}", run.stderr);
}

/// `bouture failover` with the scene's files but `new_cfg` as `NEW_CFG`.
fn failover_with_new_cfg(scene: &Scene, new_cfg: &std::path::Path) -> crate::support::Run {
    crate::support::bouture(
        &[
            "failover",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--new-master-url",
            DEAD_MASTER,
            "--new-node-cfg",
            new_cfg.to_str().unwrap(),
            "--pidfile",
            scene.path("failover.pid").to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
            "--slapos-command",
            scene.path("fake-slapos").to_str().unwrap(),
        ],
        scene.dir.path(),
    )
}

#[test]
fn configure_failure_creates_no_switch_and_skips_the_graft() {
    let scene = Scene::new();
    scene.codes(&["3"]);
    // NEW_CFG is a directory: configure refuses to replace it.
    let new_cfg = scene.path("new-cfg-dir");
    fs::create_dir(&new_cfg).unwrap();
    let run = failover_with_new_cfg(&scene, &new_cfg);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("configure failed"), "{}", run.stderr);
    assert!(!run.stderr.contains("Grafting this node"), "{}", run.stderr);
    assert!(!scene.switchfile().exists());
}

#[test]
fn an_unwritable_directory_warns_online_and_fails_loudly_offline() {
    let scene = Scene::new();
    let new_cfg = scene.path("no-such-dir/new.cfg");
    // Online: processed, with a warning naming the option, at every run.
    // Offline: an error before configure, no switch.
    let mut run = None;
    for (code, exit, level) in [("0", 0, "WARNING"), ("3", 1, "ERROR")] {
        scene.codes(&[code]);
        let this = failover_with_new_cfg(&scene, &new_cfg);
        assert_eq!(this.code, exit, "{}", this.stderr);
        let expected = format!(" {level} --new-node-cfg [ROOT]/no-such-dir/new.cfg: its directory");
        assert!(this.stderr.contains(&expected), "{}", this.stderr);
        run = Some(this);
    }
    let run = run.unwrap();
    assert!(run.stderr.contains("cannot switch"), "{}", run.stderr);
    assert!(!run.stderr.contains("Grafting this node"), "{}", run.stderr);
    assert!(!scene.switchfile().exists());
    assert!(!scene.path("no-such-dir").exists());
    // The switchfile's directory missing: the same, naming --switchfile.
    scene.codes(&["3"]);
    let run = crate::support::bouture(
        &scene
            .failover_args(DEAD_MASTER, &[])
            .iter()
            .map(|a| a.replace("/switch", "/gone/switch"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        scene.dir.path(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(" ERROR --switchfile [ROOT]/gone/switch: its directory"),
        "{}",
        run.stderr
    );
    assert!(!scene.new_cfg().exists(), "not configured");
}

#[test]
fn a_flapping_master_needs_n_offline_runs_in_a_row() {
    let scene = Scene::new();
    let n = ["--switch-after", "3"];
    for code in ["3", "3", "0", "3", "3"] {
        scene.codes(&[code]);
        let run = scene.failover(DEAD_MASTER, &n);
        let expected = if code == "3" { 75 } else { 0 };
        assert_eq!(run.code, expected, "{}", run.stderr);
        assert!(!scene.switchfile().exists());
        assert!(!scene.new_cfg().exists(), "no configure, no graft");
    }
    let status = crate::support::bouture(
        &[
            "status",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
        ],
        scene.dir.path(),
    );
    assert!(
        status.stdout.contains("offline runs in a row so far: 2"),
        "{}",
        status.stdout
    );
    // The third in a row switches (here the graft fails: the master is dead).
    scene.codes(&["3"]);
    let run = scene.failover(DEAD_MASTER, &n);
    assert!(
        run.stderr
            .contains("3 run(s) in a row (3 required): switching"),
        "{}",
        run.stderr
    );
    assert!(scene.new_cfg().exists());
}

#[test]
fn a_second_concurrent_run_exits_at_once() {
    let scene = Scene::new();
    scene.codes(&["sleep 3"]);
    let args = scene.failover_args(DEAD_MASTER, &[]);
    let mut first = Command::new(env!("CARGO_BIN_EXE_bouture"))
        .args(&args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run holds the lock and runs the inner command.
    let deadline = Instant::now() + Duration::from_secs(20);
    while scene.calls().is_empty() {
        assert!(Instant::now() < deadline, "the first run never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    let second = crate::support::bouture(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        scene.dir.path(),
    );
    assert!(started.elapsed() < Duration::from_secs(2), "did not wait");
    assert_eq!(second.code, 10, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("another bouture failover is running"),
        "{}",
        second.stderr
    );
    assert_eq!(scene.calls().len(), 1, "the second run ran nothing");
    assert!(first.wait().unwrap().success());
    // The lock is free again.
    scene.codes(&["0"]);
    assert_eq!(scene.failover(DEAD_MASTER, &[]).code, 0);
}

#[test]
fn a_pidfile_equal_to_pidfile_instance_is_refused_up_front() {
    let scene = Scene::new();
    let pidfile = scene.path("slapgrid-cp.pid");
    scene.set_pidfile_instance(&pidfile);
    scene.codes(&["0"]);
    let run = crate::support::bouture(
        &[
            "failover",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--new-master-url",
            DEAD_MASTER,
            "--new-node-cfg",
            scene.new_cfg().to_str().unwrap(),
            "--pidfile",
            pidfile.to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
            "--slapos-command",
            scene.path("fake-slapos").to_str().unwrap(),
        ],
        scene.dir.path(),
    );
    assert_eq!(run.code, 1);
    assert!(scene.calls().is_empty(), "nothing ran");
    assert!(!pidfile.exists(), "the pidfile was not even created");
    insta::assert_snapshot!("pidfile_conflict", snapshot(&run));
}

#[test]
fn an_empty_switchfile_from_the_python_tool_counts_as_switched() {
    let scene = Scene::new();
    fs::write(scene.switchfile(), "").unwrap();
    fs::write(scene.new_cfg(), "[slapos]\n").unwrap();
    scene.codes(&["3", "0"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(scene.calls().len(), 2);
    assert!(!run.stderr.contains("grafting this node"));
    let status = crate::support::bouture(
        &[
            "status",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
            "--format",
            "json",
        ],
        scene.dir.path(),
    );
    insta::assert_snapshot!("status_legacy_json", status.snapshot());
    scene.codes(&["0"]);
    assert_eq!(scene.failover(DEAD_MASTER, &[]).code, 0);
    assert!(!scene.switchfile().exists());
}

#[test]
fn a_missing_new_configuration_is_written_again_without_grafting() {
    let scene = Scene::new();
    fs::write(scene.switchfile(), "").unwrap();
    scene.codes(&["3", "0"]);
    let run = scene.failover("http://127.0.0.1:4000", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("is missing: writing it again"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("grafting this node"));
    let new_cfg = fs::read_to_string(scene.new_cfg()).unwrap();
    assert!(
        new_cfg.contains("master_url = http://127.0.0.1:4000"),
        "{new_cfg}"
    );
    assert_eq!(scene.calls().len(), 2);
}

#[test]
fn the_new_master_run_failing_is_reported() {
    let scene = Scene::new();
    fs::write(scene.switchfile(), "").unwrap();
    scene.codes(&["3", "1"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 75, "{}", run.stderr);
    assert!(run.stderr.contains("did not succeed"), "{}", run.stderr);
}

#[test]
fn a_missing_program_is_a_clear_failure() {
    let scene = Scene::new();
    let run = crate::support::bouture(
        &[
            "failover",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--new-master-url",
            DEAD_MASTER,
            "--new-node-cfg",
            scene.new_cfg().to_str().unwrap(),
            "--pidfile",
            scene.path("failover.pid").to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
            "--slapos-command",
            "/nonexistent/slapos",
        ],
        scene.dir.path(),
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("cannot run `/nonexistent/slapos`"),
        "{}",
        run.stderr
    );
}

#[test]
fn status_of_a_node_on_its_original_master() {
    let scene = Scene::new();
    let status = crate::support::bouture(
        &[
            "status",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
        ],
        scene.dir.path(),
    );
    assert_eq!(status.code, 0);
    insta::assert_snapshot!("status_original", status.snapshot());
}

/// The fake program is found on PATH by name too (the default is `slapos`).
#[test]
fn the_program_is_looked_up_on_path() {
    let scene = Scene::new();
    let bin = scene.path("bin");
    fs::create_dir(&bin).unwrap();
    fs::copy(scene.path("fake-slapos"), bin.join("slapos")).unwrap();
    scene.codes(&["0"]);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let output = Command::new(env!("CARGO_BIN_EXE_bouture"))
        .args([
            "failover",
            "--cfg",
            scene.node.cfg.to_str().unwrap(),
            "--new-master-url",
            DEAD_MASTER,
            "--new-node-cfg",
            scene.new_cfg().to_str().unwrap(),
            "--pidfile",
            scene.path("failover.pid").to_str().unwrap(),
            "--switchfile",
            scene.switchfile().to_str().unwrap(),
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(scene.calls().len(), 1);
}

/// A graft that skipped invalid partitions but grafted the others succeeded.
#[test]
fn skipped_invalid_partitions_are_logged_and_the_switch_happens() {
    let scene = Scene::new();
    let invalid = scene.node.instance_root.join("slappart3");
    fs::create_dir_all(&invalid).unwrap();
    fs::write(invalid.join("bouture.json"), "{not json").unwrap();
    let proxy = SlapProxy::start("COMP-FO").unwrap();
    scene.codes(&["3", "0"]);
    let run = scene.failover(proxy.url(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("WARNING graft skipped invalid partition slappart3"),
        "{}",
        run.stderr
    );
    let record = scene.switch_record();
    assert_eq!(record["grafted"].as_array().unwrap().len(), 2);
    assert_eq!(record["skipped"][0]["partition"], "slappart3");
}

/// A valid partition that fails on the new master (here its title already
/// lives on another computer of that master) means no switch.
#[test]
fn a_valid_partition_failing_on_the_new_master_means_no_switch() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-FO").unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let other = TestNode::new(other_dir.path(), "COMP-OTHER")
        .partition(TestPartition::new(0).instance("Main", "started"))
        .write();
    let graft = crate::support::bouture(
        &[
            "graft",
            "--cfg",
            other.cfg.to_str().unwrap(),
            "--new-master-url",
            proxy.url(),
        ],
        other_dir.path(),
    );
    assert_eq!(graft.code, 0, "{}", graft.stderr);
    scene.codes(&["3", "0"]);
    let run = scene.failover(proxy.url(), &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("ERROR graft of slappart0 failed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("graft failed, not switching"),
        "{}",
        run.stderr
    );
    assert!(!scene.switchfile().exists());
    assert_eq!(scene.calls().len(), 1, "not processed from the new master");
}

/// The exit status of each case, next to the Python `slapos bouture failover`'s (read from
/// its code, commit b126a1ee6, and cliff's): the Python tool exits 0 for an ambiguous run
/// and for a failed run on the new master, 1 on any exception (configure or graft failure,
/// configuration error, no `slapos`), 2 on a usage error, 10 on a live pidfile. docs/failover.md
/// has the same table.
#[test]
#[allow(clippy::too_many_lines)] // one case after the other, as the table
fn exit_status_per_case_next_to_the_python_tool() {
    struct Case {
        name: &'static str,
        python: i32,
        bouture: i32,
    }
    let mut seen = Vec::new();
    let mut check = |case: Case, run: &Run| {
        assert_eq!(
            run.code, case.bouture,
            "{} (Python: {}): {}",
            case.name, case.python, run.stderr
        );
        seen.push((case.name, case.python, run.code));
    };
    // Online: 0 and 2 (promises failed).
    for code in ["0", "2"] {
        let scene = Scene::new();
        scene.codes(&[code]);
        check(
            Case {
                name: "online",
                python: 0,
                bouture: 0,
            },
            &scene.failover(DEAD_MASTER, &[]),
        );
    }
    // Ambiguous run of the original master: nothing changed.
    let scene = Scene::new();
    scene.codes(&["1"]);
    check(
        Case {
            name: "ambiguous",
            python: 0,
            bouture: 75,
        },
        &scene.failover(DEAD_MASTER, &[]),
    );
    // Switched, offline, and the run from the new master failed.
    let scene = Scene::new();
    fs::write(scene.switchfile(), "").unwrap();
    scene.codes(&["3", "1"]);
    check(
        Case {
            name: "new master run failed",
            python: 0,
            bouture: 75,
        },
        &scene.failover(DEAD_MASTER, &[]),
    );
    // Graft failure (the new master does not answer).
    let scene = Scene::new();
    scene.codes(&["3"]);
    check(
        Case {
            name: "graft failed",
            python: 1,
            bouture: 1,
        },
        &scene.failover(DEAD_MASTER, &[]),
    );
    // Configure failure (NEW_CFG is a directory).
    let scene = Scene::new();
    scene.codes(&["3"]);
    let new_cfg = scene.path("new-cfg-dir");
    fs::create_dir(&new_cfg).unwrap();
    check(
        Case {
            name: "configure failed",
            python: 1,
            bouture: 1,
        },
        &failover_with_new_cfg(&scene, &new_cfg),
    );
    // Configuration error: no node configuration.
    let scene = Scene::new();
    fs::remove_file(&scene.node.cfg).unwrap();
    check(
        Case {
            name: "configuration error",
            python: 1,
            bouture: 1,
        },
        &scene.failover(DEAD_MASTER, &[]),
    );
    // No `slapos` to run.
    let scene = Scene::new();
    let mut args = scene.failover_args(DEAD_MASTER, &[]);
    let last = args.len() - 1;
    args[last] = "/nonexistent/slapos".into();
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    check(
        Case {
            name: "no slapos",
            python: 1,
            bouture: 1,
        },
        &crate::support::bouture(&args_ref, scene.dir.path()),
    );
    // Usage error.
    let scene = Scene::new();
    check(
        Case {
            name: "usage error",
            python: 2,
            bouture: 2,
        },
        &scene.failover(DEAD_MASTER, &["--no-such-flag"]),
    );
    // A live `slapos` process named in the pidfile (as the Python tool leaves it).
    let scene = Scene::new();
    scene.codes(&["0"]);
    let mut holder = Command::new("sleep");
    std::os::unix::process::CommandExt::arg0(&mut holder, "slapos-bouture-failover");
    let mut holder = holder
        .arg("10")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    fs::write(scene.path("failover.pid"), format!("{}\n", holder.id())).unwrap();
    let run = scene.failover(DEAD_MASTER, &[]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    check(
        Case {
            name: "live pidfile",
            python: 10,
            bouture: 10,
        },
        &run,
    );
    assert!(scene.calls().is_empty(), "nothing ran");
    assert_eq!(seen.len(), 10);
}

//! `-q`, `-v` and `--log-time` on the SlapOS commands, each level on each
//! command, against a real slapproxy: what `-v` adds (the requests sent to
//! the master, the decisions, the time of each phase), what `-q` removes
//! (everything but warnings and errors).

use std::fs;

use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition, WrittenNode};

use crate::failover::Scene;
use crate::support::{Run, bouture, closed_port_url, stable_detail};

/// A node with a valid opted-in partition, an invalid one and one not opted in.
fn node(root: &std::path::Path, computer_id: &str) -> WrittenNode {
    TestNode::new(root, computer_id)
        .partition(TestPartition::new(0).instance("Main", "started"))
        .partition(TestPartition::new(1).bouture_bytes(b"{\"not\": \"a bouture.json\"}"))
        .partition(TestPartition::new(2))
        .write()
}

fn snapshot(run: &Run, url: &str) -> String {
    stable_detail(&run.snapshot().replace(url, "[MASTER]"))
}

#[test]
fn graft_at_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-LEVELS");
    let cfg = node.cfg.to_str().unwrap();
    let proxy = SlapProxy::start("COMP-LEVELS").unwrap();
    let url = proxy.url();
    let graft = |level: &[&str]| {
        let mut args = level.to_vec();
        args.extend(["graft", "--cfg", cfg, "--new-master-url", url]);
        bouture(&args, dir.path())
    };

    // -q: no report; the skipped partition as a WARNING; nothing else.
    let quiet = graft(&["-q"]);
    assert_eq!(quiet.code, 1, "{}", quiet.stderr);
    insta::assert_snapshot!("graft_quiet", snapshot(&quiet, url));
    // -qq: errors only (a skipped partition is a warning).
    let quieter = graft(&["-qq"]);
    assert_eq!(
        (
            quieter.code,
            quieter.stdout.as_str(),
            quieter.stderr.as_str()
        ),
        (1, "", "")
    );
    // Default: the report, INFO and WARNING lines.
    let normal = graft(&[]);
    insta::assert_snapshot!("graft_normal", snapshot(&normal, url));
    // -v: every request with its status, the decisions, the phases.
    let verbose = graft(&["-v"]);
    assert_eq!(verbose.code, 1, "{}", verbose.stderr);
    insta::assert_snapshot!("graft_verbose", snapshot(&verbose, url));
    assert_eq!(verbose.stdout, normal.stdout, "-v changes only the log");
    // --debug is -v, as in slapos.
    let debug = graft(&["--debug"]);
    assert_eq!(stable_detail(&debug.stderr), stable_detail(&verbose.stderr));
    // The requests logged are the requests sent: the report counts them.
    let requests = verbose.stderr.matches(" DEBUG request ").count();
    assert!(
        verbose
            .stdout
            .contains(&format!("; {requests} HTTP requests (")),
        "{requests} logged: {}",
        verbose.stdout
    );
}

#[test]
fn graft_errors_keep_the_log_prefix_and_survive_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-LEVELS-DOWN");
    let url = closed_port_url();
    let cfg = node.cfg.to_str().unwrap();
    let run = bouture(
        &["-qq", "graft", "--cfg", cfg, "--new-master-url", &url],
        dir.path(),
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("graft_error_quietest", stable_detail(&run.stderr));
    let run = bouture(
        &["graft", "-v", "--cfg", cfg, "--new-master-url", &url],
        dir.path(),
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("graft_error_verbose", stable_detail(&run.stderr));
}

#[test]
fn inventory_at_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-INV-LEVELS");
    let cfg = node.cfg.to_str().unwrap();
    let inventory = |level: &[&str]| {
        let mut args = vec!["inventory", "--cfg", cfg];
        args.extend_from_slice(level);
        bouture(&args, dir.path())
    };
    let normal = inventory(&[]);
    assert_eq!(normal.code, 0, "{}", normal.stderr);
    insta::assert_snapshot!("inventory_normal", stable_detail(&normal.snapshot()));
    let quiet = inventory(&["-q"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    insta::assert_snapshot!("inventory_quiet", stable_detail(&quiet.snapshot()));
    let verbose = inventory(&["-v"]);
    assert_eq!(verbose.stdout, normal.stdout, "-v changes only the log");
    insta::assert_snapshot!("inventory_verbose", stable_detail(&verbose.snapshot()));
    // The JSON document is the result: -q does not remove it.
    let json = inventory(&["-q", "--format", "json"]);
    assert!(json.stdout.starts_with('{'), "{}", json.stdout);
}

#[test]
fn failover_verbose_logs_the_graft_requests() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-FO").unwrap();
    scene.codes(&["3", "0"]);
    let run = scene.failover(proxy.url(), &["-v"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = stable_detail(&run.stderr);
    for expected in [
        "bouture DEBUG request GET /getRunId: 200, [N] bytes in [N] ms",
        "bouture DEBUG request POST /loadComputerConfigurationFromXML: 200, [N] bytes in [N] ms",
        "bouture DEBUG request POST /requestComputerPartition: 200, [N] bytes in [N] ms",
        "bouture DEBUG phase the health check (getRunId): [N] ms",
        "bouture DEBUG phase reading the master's state back: [N] ms",
    ] {
        assert!(log.contains(expected), "{expected:?} in:\n{log}");
    }
    // Without -v, none of it on stderr.
    scene.codes(&["0"]);
    let quiet = scene.failover(proxy.url(), &["-q"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(
        !quiet.stderr.contains(" DEBUG ") && !quiet.stderr.contains(" INFO "),
        "{}",
        quiet.stderr
    );
}

#[test]
fn log_time_removes_the_time_from_stderr_as_in_slapos_and_the_file_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-LOG-TIME");
    let cfg = node.cfg.to_str().unwrap();
    let log_file = dir.path().join("bouture.log");
    let log_file = log_file.to_str().unwrap();
    let proxy = SlapProxy::start("COMP-LOG-TIME").unwrap();
    let args = [
        "graft",
        "--log-time",
        "--log-file",
        log_file,
        "--cfg",
        cfg,
        "--new-master-url",
        proxy.url(),
    ];
    let run = bouture(&args, dir.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    let pid_prefix = "bouture[";
    assert!(!run.stderr.is_empty());
    for line in run.stderr.lines() {
        assert!(line.starts_with(pid_prefix), "no time on stderr: {line:?}");
    }
    let logged = fs::read_to_string(log_file).unwrap();
    assert!(
        logged.lines().count() > run.stderr.lines().count(),
        "DEBUG lines too:\n{logged}"
    );
    for line in logged.lines() {
        let (stamp, rest) = line.split_at(19);
        assert!(
            jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", stamp).is_ok(),
            "the file keeps the time: {line:?}"
        );
        assert!(rest.starts_with(" bouture["), "{line:?}");
    }
    // Without --log-time, stderr has the time (slapos's default).
    let run = bouture(
        &args[..1]
            .iter()
            .chain(&args[4..])
            .copied()
            .collect::<Vec<_>>(),
        dir.path(),
    );
    for line in run.stderr.lines() {
        assert!(
            jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &line[..19]).is_ok(),
            "{line:?}"
        );
    }
}

#[test]
fn configure_at_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-CONF-LEVELS");
    let cfg = node.cfg.to_str().unwrap();
    let new_cfg = dir.path().join("new.cfg");
    let new_cfg = new_cfg.to_str().unwrap();
    let configure = |level: &str| {
        let args = [
            "configure",
            level,
            "--cfg",
            cfg,
            "--new-master-url",
            "http://10.0.0.2:4000",
            "--new-node-cfg",
            new_cfg,
        ];
        bouture(&args, dir.path())
    };
    let quiet = configure("-q");
    assert_eq!(
        (quiet.code, quiet.stdout.as_str(), quiet.stderr.as_str()),
        (0, "", "")
    );
    assert!(
        fs::read_to_string(new_cfg)
            .unwrap()
            .contains("master_url = http://10.0.0.2:4000")
    );
    let normal = configure("--log-color");
    assert_eq!(normal.code, 0, "{}", normal.stderr);
    assert!(
        normal.stdout.starts_with("wrote [ROOT]/new.cfg"),
        "{}",
        normal.stdout
    );
    assert!(
        !normal.stdout.contains("\n+master_url"),
        "{}",
        normal.stdout
    );
    let verbose = configure("-v");
    assert!(
        verbose.stdout.starts_with(&normal.stdout),
        "{}",
        verbose.stdout
    );
    assert!(
        verbose
            .stdout
            .contains("\n+master_url = http://10.0.0.2:4000"),
        "{}",
        verbose.stdout
    );
}

#[test]
fn status_at_each_level() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-STATUS");
    let cfg = node.cfg.to_str().unwrap();
    let switchfile = dir.path().join("switch");
    let status = |level: &[&str]| {
        let mut args = level.to_vec();
        args.extend(["status", "--cfg", cfg, "--switchfile"]);
        args.push(switchfile.to_str().unwrap());
        bouture(&args, dir.path())
    };

    // Following the original master, nothing to say: -q prints nothing.
    let quiet = status(&["-q"]);
    assert_eq!(
        (quiet.code, quiet.stdout.as_str(), quiet.stderr.as_str()),
        (0, "", "")
    );
    let default = status(&[]);
    assert_eq!(default.code, 0, "{}", default.stderr);
    assert!(default.stdout.starts_with("following the original master"));
    assert_eq!(default.stderr, "");
    // -v: the same report, and what was read as DEBUG lines.
    let verbose = status(&["-v"]);
    assert_eq!(verbose.stdout, default.stdout);
    let debug: Vec<&str> = verbose
        .stderr
        .lines()
        .filter(|l| l.contains(" DEBUG read the "))
        .collect();
    assert_eq!(debug.len(), 3, "{}", verbose.stderr);
    assert!(debug[1].contains("absent, the node follows its original master"));

    // A switchfile whose record cannot be read: the node follows the new
    // master; -q says so as a WARNING instead of the report, -qq not at all.
    fs::create_dir(&switchfile).unwrap();
    let quiet = status(&["-q"]);
    assert_eq!(
        (quiet.code, quiet.stdout.as_str()),
        (0, ""),
        "{}",
        quiet.stderr
    );
    assert!(
        quiet
            .stderr
            .contains(" WARNING the switchfile [ROOT]/switch exists but its record cannot be read"),
        "{}",
        quiet.stderr
    );
    let silent = status(&["-qq"]);
    assert_eq!(
        (silent.code, silent.stdout.as_str(), silent.stderr.as_str()),
        (0, "", "")
    );
    let default = status(&[]);
    assert!(
        default.stdout.starts_with("following the new master"),
        "{}",
        default.stdout
    );
}

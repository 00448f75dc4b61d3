//! `bouture` as a drop-in for `slapos bouture` cron lines (the global
//! options of `slapos`, its messages, local time), the failover's files in
//! bad shape, and the changes made on the new master listed on return.

use std::fs;

use bouture_test_support::SlapProxy;
use bouture_test_support::node::TEST_SOFTWARE_URL;

use crate::failover::Scene;
use crate::support::{bouture, bouture_env};

/// A URL where nothing listens.
const DEAD_MASTER: &str = "http://127.0.0.1:9/";

/// The levels of the log lines of `stderr`, in order.
fn levels(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|line| line.split(" bouture[").nth(1))
        .filter_map(|rest| rest.split(' ').nth(1))
        .collect()
}

#[test]
fn slapos_global_options_are_accepted_before_and_after_the_subcommand() {
    let scene = Scene::new();
    let log = scene.path("failover.log");
    let args = scene.failover_args(DEAD_MASTER, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for (before, after) in [
        (vec!["--log-file", log.to_str().unwrap()], vec![]),
        (
            vec![],
            vec!["--logfile", log.to_str().unwrap(), "--log-color"],
        ),
        (
            vec!["--log-time", "--debug"],
            vec!["--log_file", log.to_str().unwrap()],
        ),
    ] {
        scene.codes(&["0"]);
        let mut all = before.clone();
        all.extend(&args);
        all.extend(&after);
        let run = bouture(&all, scene.dir.path());
        assert_eq!(run.code, 0, "{all:?}: {}", run.stderr);
        assert_eq!(scene.calls().len(), 1, "the node was processed");
    }
    // Every line went to the file too, DEBUG included, three runs appended.
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("INFO Process node with original (pre-bouture) master")
            .count(),
        3,
        "{text}"
    );
    assert!(
        text.contains(" DEBUG node instance (exit 0 (success)) took "),
        "{text}"
    );
    // The log file is never a symbolic link followed.
    let link = scene.path("link.log");
    std::os::unix::fs::symlink(scene.path("elsewhere.log"), &link).unwrap();
    scene.codes(&["0"]);
    let mut all = vec!["--log-file", link.to_str().unwrap()];
    all.extend(&args);
    let run = bouture(&all, scene.dir.path());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("--log-file [ROOT]/link.log"),
        "{}",
        run.stderr
    );
    assert!(!scene.path("elsewhere.log").exists());
    assert!(scene.calls().is_empty(), "nothing ran");
}

#[test]
fn verbosity_levels() {
    let scene = Scene::new();
    let args = scene.failover_args(DEAD_MASTER, &[]);
    let run_with = |flags: &[&str]| {
        // exit 1 from the original run: ambiguous, one WARNING-free run;
        // a switchfile that is a directory adds a WARNING.
        scene.codes(&["1"]);
        let mut all: Vec<&str> = flags.to_vec();
        all.extend(args.iter().map(String::as_str));
        bouture(&all, scene.dir.path())
    };
    fs::create_dir(scene.switchfile()).unwrap();
    let normal = run_with(&[]);
    assert_eq!(normal.code, 75, "{}", normal.stderr);
    let normal_levels = levels(&normal.stderr);
    assert!(normal_levels.contains(&"INFO") && normal_levels.contains(&"WARNING"));
    assert!(!normal_levels.contains(&"DEBUG"), "{}", normal.stderr);
    let quiet = run_with(&["-q"]);
    assert!(
        levels(&quiet.stderr).iter().all(|l| *l == "WARNING"),
        "{}",
        quiet.stderr
    );
    assert!(!levels(&quiet.stderr).is_empty());
    let quieter = run_with(&["-qq"]);
    assert!(levels(&quieter.stderr).is_empty(), "{}", quieter.stderr);
    // The inner command's own output is its own: never filtered.
    assert!(
        quieter.stderr.contains("fake slapos:"),
        "{}",
        quieter.stderr
    );
    for flags in [["-v"].as_slice(), &["--verbose"], &["--debug"], &["-vv"]] {
        let verbose = run_with(flags);
        let verbose_levels = levels(&verbose.stderr);
        assert!(
            verbose_levels.contains(&"DEBUG"),
            "{flags:?}: {}",
            verbose.stderr
        );
        assert_eq!(
            verbose_levels.iter().filter(|l| **l != "DEBUG").count(),
            normal_levels.len(),
            "-v only adds"
        );
    }
    // As with slapos, -v and -q exclude each other.
    let both = run_with(&["-v", "-q"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
}

#[test]
fn log_lines_are_in_local_time_like_slapos() {
    let scene = Scene::new();
    let args = scene.failover_args(DEAD_MASTER, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    scene.codes(&["0"]);
    // A POSIX zone five hours and a half east of UTC (no tz database needed).
    let run = bouture_env(&args, scene.dir.path(), &[("TZ", "IST-5:30")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run.stderr.lines().next().unwrap();
    let stamp = jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &line[..19]).unwrap();
    let utc_now = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .datetime();
    let ahead = stamp.duration_since(utc_now).as_secs();
    assert!(
        (5 * 3600 + 30 * 60 - 120..=5 * 3600 + 30 * 60 + 5).contains(&ahead),
        "{line} is {ahead} s ahead of UTC"
    );
    assert!(line[19..].starts_with(" bouture["), "{line}");
}

#[test]
fn configure_accepts_and_ignores_new_monitor_url_like_the_original() {
    let scene = Scene::new();
    let cfg = scene.node.cfg.to_str().unwrap().to_string();
    let out = scene.path("new.cfg");
    let mut written = Vec::new();
    for monitor in [
        &["--new-monitor-url", "https://[2001:db8::2]:4001"][..],
        &[],
    ] {
        let mut args = vec!["configure", "--cfg", &cfg, "--new-master-url"];
        args.extend([
            "http://10.0.0.2:4000",
            "--new-node-cfg",
            out.to_str().unwrap(),
        ]);
        args.extend(monitor);
        let run = bouture(&args, scene.dir.path());
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        written.push(fs::read_to_string(&out).unwrap());
        fs::remove_file(&out).unwrap();
    }
    assert_eq!(written[0], written[1], "ignored");
    assert!(!written[0].contains("2001:db8::2"));
}

#[test]
fn a_switchfile_that_cannot_be_read_still_counts_and_the_node_is_processed() {
    let scene = Scene::new();
    fs::create_dir(scene.switchfile()).unwrap();
    // Offline and switched (a directory exists there): processed from the
    // new master, no graft.
    fs::write(scene.new_cfg(), fs::read(&scene.node.cfg).unwrap()).unwrap();
    scene.codes(&["3", "0"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(scene.calls().len(), 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(" WARNING --switchfile [ROOT]/switch: its content cannot be read"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("it still counts as switched"),
        "{}",
        run.stderr
    );
    // Online: processed; the directory cannot be removed, which is an error
    // naming the switchfile.
    scene.codes(&["0"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(scene.calls().len(), 1);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("[ROOT]/switch"), "{}", run.stderr);
}

#[test]
fn a_pidfile_that_is_a_symbolic_link_is_refused() {
    let scene = Scene::new();
    // A link to the node's pidfile_instance, which does not exist yet.
    let instance_pid = scene.path("slapgrid-cp.pid");
    scene.set_pidfile_instance(&instance_pid);
    let link = scene.path("failover.pid");
    std::os::unix::fs::symlink(&instance_pid, &link).unwrap();
    scene.codes(&["0"]);
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("pidfile_instance"), "{}", run.stderr);
    assert!(!instance_pid.exists(), "never created through the link");
    assert!(scene.calls().is_empty());
    // A link elsewhere is refused too.
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(scene.path("other.pid"), &link).unwrap();
    let run = scene.failover(DEAD_MASTER, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(!scene.path("other.pid").exists());
}

#[test]
fn status_prints_absolute_paths() {
    let scene = Scene::new();
    fs::write(scene.switchfile(), "").unwrap();
    let run = bouture_env(
        &["status", "--cfg", "slapos.cfg", "--switchfile", "switch"],
        scene.dir.path(),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("  switchfile       [ROOT]/switch\n"),
        "{}",
        run.stdout
    );
}

/// Switch onto a real proxy, change things there with the real `slapos
/// request`, come back: every change is in the log and in SWITCHFILE.changes,
/// `status` lists them, `status --ack` clears them.
#[test]
#[allow(clippy::too_many_lines)]
fn changes_made_on_the_new_master_are_listed_on_return_until_acknowledged() {
    let scene = Scene::new();
    let proxy = SlapProxy::start("COMP-FO").unwrap();
    scene.codes(&["3", "0"]);
    let run = scene.failover(proxy.url(), &["-v"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(" DEBUG recorded what the new master holds"),
        "{}",
        run.stderr
    );
    let grafted = bouture_offline_changes::read_grafted(&scene.switchfile())
        .unwrap()
        .unwrap();
    assert_eq!(grafted.instances.len(), 2);

    // While offline: "Second" is started with other parameters, a shared
    // instance is added to "Main".
    for args in [
        vec![
            "request",
            "Second",
            TEST_SOFTWARE_URL,
            "--type",
            "default",
            "--state",
            "started",
            "--parameters",
            "_={\"n\": 22}",
        ],
        vec![
            "request",
            "SIM 9",
            TEST_SOFTWARE_URL,
            "--type",
            "default",
            "--slave",
            "--node",
            "computer_guid=COMP-FO",
            "instance_guid=slappart0",
            "--parameters",
            "_={\"imsi\": \"9\"}",
        ],
    ] {
        let out = proxy.slapos_client(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // Back online.
    scene.codes(&["0"]);
    let run = scene.failover(proxy.url(), &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!scene.switchfile().exists());
    assert!(!bouture_offline_changes::grafted_path(&scene.switchfile()).exists());
    let logged: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(" WARNING offline change: "))
        .collect();
    assert_eq!(logged.len(), 3, "{}", run.stderr);
    for expected in [
        "shared instance added: shared instance \"SIM 9\" on \"Main\" (slappart0): null -> ",
        "instance started: instance \"Second\" (slappart2): \"stopped\" -> \"started\"; on \
         the original master: slapos request Second",
        "parameters changed: instance \"Second\" (slappart2): {\"_\":\"{\\\"n\\\": 2}\"} -> ",
    ] {
        assert!(
            logged.iter().any(|l| l.contains(expected)),
            "{expected}\n{}",
            run.stderr
        );
    }
    let file = bouture_offline_changes::read_changes(&scene.switchfile())
        .unwrap()
        .unwrap();
    assert_eq!(file.len(), 3);

    // status lists them with their commands; --ack clears them.
    let switchfile = scene.switchfile();
    let status_args = [
        "status",
        "--cfg",
        scene.node.cfg.to_str().unwrap(),
        "--switchfile",
        switchfile.to_str().unwrap(),
    ];
    let status = bouture(&status_args, scene.dir.path());
    assert_eq!(status.code, 0, "{}", status.stderr);
    insta::assert_snapshot!(
        "status_with_changes",
        status
            .stdout
            .lines()
            .map(|l| if l.contains(" back at ") {
                "    original master back at [TIME] (switched at [TIME]), new master [URL]:"
            } else {
                l
            })
            .collect::<Vec<_>>()
            .join("\n")
    );
    let json = bouture(
        &[&status_args[..], &["--format", "json"]].concat(),
        scene.dir.path(),
    );
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        value["changes"]["returns"][0]["changes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(value["acknowledged"], false);
    // -q: no report, one WARNING saying how many wait and how to see them.
    let quiet = bouture(&[&["-q"], &status_args[..]].concat(), scene.dir.path());
    assert_eq!(
        (quiet.code, quiet.stdout.as_str()),
        (0, ""),
        "{}",
        quiet.stderr
    );
    let warnings: Vec<&str> = quiet.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{}", quiet.stderr);
    assert!(
        warnings[0].contains(" WARNING 3 change(s) made on the new master are not acknowledged"),
        "{}",
        quiet.stderr
    );
    let ack = bouture(&[&status_args[..], &["--ack"]].concat(), scene.dir.path());
    assert_eq!(ack.code, 0, "{}", ack.stderr);
    assert!(
        ack.stdout.contains(
            "3 change(s) made on the new master while the node followed it, now acknowledged"
        ),
        "{}",
        ack.stdout
    );
    let after = bouture(&status_args, scene.dir.path());
    assert!(
        after
            .stdout
            .contains("no change made on the new master is waiting"),
        "{}",
        after.stdout
    );
}

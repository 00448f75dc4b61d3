//! The real `bouture cluster-merge` binary, on the simulated clusters of
//! bouture-cluster-merge's tests, killed with real signals at several
//! steps, then resumed.
//!
//! The binary runs as an operator runs it on our master: in a private
//! mount namespace (`unshare -m`), the simulation's `gnt-*`, `daemon-util`
//! and our master's data directory are bind-mounted over Ganeti's paths
//! (nothing changes outside the namespace).

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cluster_sim::{B, C, OURS, Sim, differences};

/// `bouture cluster-merge ARGS` on our simulated master, started.
fn start(sim: &Sim, args: &[&str]) -> Child {
    let bin = sim.bin();
    let data = sim.host(sim.master(OURS)).join("var/lib/ganeti");
    let mut script = String::from("set -e\n");
    for program in ["gnt-cluster", "gnt-node", "gnt-instance"] {
        let _ = writeln!(
            script,
            "mount --bind '{}/{program}' /usr/sbin/{program}",
            bin.display()
        );
    }
    let _ = write!(
        script,
        "mount --bind '{}/daemon-util' /usr/lib/ganeti/daemon-util\n\
         mount --bind '{}' /var/lib/ganeti\n\
         exec \"$0\" \"$@\"\n",
        bin.display(),
        data.display()
    );
    let public_key = sim
        .host(sim.master(OURS))
        .join("root/.ssh/id_rsa.pub")
        .display()
        .to_string();
    let state = sim.state_dir().display().to_string();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_bouture"))
        .arg("cluster-merge")
        .args(args)
        .args(["--state-dir", &state, "--our-public-key", &public_key])
        .env("PATH", path)
        .env("BOUTURE_SIM_BIN", &bin)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) runs bouture in a private mount namespace")
}

struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn wait(child: Child) -> Ended {
    let output = child.wait_with_output().unwrap();
    Ended {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Wait until the simulated call matching the injected "wait" fault is
/// reached, then send `signal` to bouture.
fn signal_when_reached(sim: &Sim, child: &Child, signal: &str) {
    let reached = sim.root.join("reached");
    let deadline = Instant::now() + Duration::from_mins(10);
    while !reached.exists() {
        assert!(Instant::now() < deadline, "the call was never reached");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Slow down the calls on `host` matching `matching` (the first `times`).
fn slow(sim: &Sim, host: &str, matching: &str) {
    sim.inject(json!({
        "host": host, "match": matching, "action": "wait", "seconds": 4, "times": 1,
    }));
}

/// Nothing but files in the state directory (no key directory, no work
/// directory), and no private key or fetched configuration anywhere in it.
fn assert_no_secrets_left(sim: &Sim) {
    let mut secrets = vec!["PRIVATE KEY".to_owned(), "fake-key-of".to_owned()];
    for bytes in sim.configs.values() {
        let config: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        for disk in config["disks"].as_object().unwrap().values() {
            if disk["dev_type"] == "drbd" {
                secrets.push(disk["logical_id"][5].as_str().unwrap().to_owned());
            }
        }
    }
    assert!(secrets.len() > 2);
    for entry in std::fs::read_dir(sim.state_dir()).unwrap() {
        let path = entry.unwrap().path();
        assert!(path.is_file(), "left behind: {}", path.display());
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for secret in &secrets {
            assert!(!text.contains(secret), "{} holds {secret}", path.display());
        }
    }
}

fn resume(sim: &Sim) -> Ended {
    sim.clear_faults();
    wait(start(sim, &["--resume"]))
}

#[test]
fn sigterm_before_the_point_of_no_return_rolls_back() {
    let sim = Sim::new();
    let before = sim.snapshot();
    slow(&sim, "node2.c.example.com", "daemon-util stop-all");
    let child = start(&sim, &[B, C, "--groups", "merge", "--restart", "up"]);
    signal_when_reached(&sim, &child, "TERM");
    let ended = wait(child);
    assert_eq!(ended.code, Some(1), "{}\n{}", ended.stdout, ended.stderr);
    assert!(
        ended.stdout.contains("everything done was undone"),
        "{}",
        ended.stdout
    );
    assert!(ended.stdout.contains("SIGTERM"), "{}", ended.stdout);
    assert!(!ended.stdout.contains("Merged into"), "{}", ended.stdout);
    let diff = differences(&before, &sim.snapshot());
    assert!(diff.is_empty(), "{diff:#?}\n{}", ended.stdout);
    assert_no_secrets_left(&sim);
}

#[test]
fn sigint_after_the_point_of_no_return_lists_what_is_left_then_resume_completes() {
    let sim = Sim::new();
    let our_master = sim.master(OURS).to_owned();
    slow(&sim, &our_master, "gnt-node add --readd");
    let child = start(&sim, &[B, C, "--groups", "merge", "--restart", "up"]);
    signal_when_reached(&sim, &child, "INT");
    let ended = wait(child);
    assert_eq!(ended.code, Some(1), "{}\n{}", ended.stdout, ended.stderr);
    assert!(
        ended
            .stdout
            .contains("STOPPED after the point of no return")
    );
    assert!(ended.stdout.contains("SIGINT"), "{}", ended.stdout);
    assert!(
        ended.stdout.contains("Commands left, in order")
            && ended
                .stdout
                .contains("gnt-node add --readd --no-ssh-key-check"),
        "{}",
        ended.stdout
    );
    assert_no_secrets_left(&sim);

    let ended = resume(&sim);
    assert_eq!(ended.code, Some(0), "{}\n{}", ended.stdout, ended.stderr);
    assert!(ended.stdout.contains("merge complete and verified"));
    assert_eq!(
        sim.state(&our_master, "daemons.json"),
        json!({"master": "running", "node": "running"})
    );
    assert_no_secrets_left(&sim);
}

#[test]
fn sigkill_leaves_no_secret_past_the_resume_which_completes_the_merge() {
    let sim = Sim::new();
    let our_master = sim.master(OURS).to_owned();
    slow(&sim, sim.master(C), "deactivate-master-ip");
    let child = start(&sim, &[B, C, "--groups", "merge", "--restart", "up"]);
    signal_when_reached(&sim, &child, "KILL");
    let ended = wait(child);
    assert_eq!(ended.code, None, "killed");
    // Killed: the copied keys are still in the state directory (only
    // there), until the next run.
    let left: Vec<String> = std::fs::read_dir(sim.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("keys.") || n.starts_with("work-"))
        .collect();
    assert!(left.iter().any(|n| n.starts_with("keys.")), "{left:?}");
    // The simulated command bouture was waiting for ends on its own.
    std::thread::sleep(Duration::from_secs(5));

    let ended = resume(&sim);
    assert_eq!(ended.code, Some(0), "{}\n{}", ended.stdout, ended.stderr);
    assert!(ended.stdout.contains("merge complete and verified"));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sim.our_config()).unwrap()).unwrap();
    assert_eq!(config["instances"].as_object().unwrap().len(), 9);
    assert_eq!(sim.state(&our_master, "daemons.json")["master"], "running");
    assert_no_secrets_left(&sim);
}

/// `--dry-run` prints the plan, rendered by the CLI: every step (the flags
/// that chose a step named in its title), check, exact command line and
/// undo, the config merge as the `bouture merge` command doing the same,
/// then what the merge will bring; nothing is changed.
#[test]
fn cluster_merge_dry_run_prints_the_plan() {
    let sim = Sim::new();
    let before = sim.snapshot();
    let ended = wait(start(
        &sim,
        &[B, C, "--groups", "merge", "--restart", "up", "--dry-run"],
    ));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(differences(&before, &sim.snapshot()).is_empty());
    assert!(!sim.state_dir().exists(), "a dry run writes no state");
    let run_id = ended
        .stdout
        .strip_prefix("Plan ")
        .and_then(|rest| rest.split_once(':'))
        .map(|(id, _)| id.to_owned())
        .expect("the plan's first line names its run");
    let text = sim.redact(&ended.stdout).replace(&run_id, "[RUN]");
    // The merge report names the checked copies, in a private temporary
    // directory of a random name (removed by then).
    let prefix = "bouture-cluster-merge-check.";
    let mut parts = text.split(prefix);
    let mut redacted = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        redacted.push_str(prefix);
        redacted.push_str("XXXXXX");
        redacted.push_str(part.get(6..).unwrap_or_default());
    }
    let text = redacted;
    insta::assert_snapshot!("dry_run_plan", text);
}

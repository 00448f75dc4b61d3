//! `bouture node-setup`: exit codes, messages, reports, dry run, start
//! command, and a write failing midway (a real file size limit).

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::node_setup_common::{Pair, document, pki, snapshot};
use crate::support::Run;

/// Run `sh -c SCRIPT bouture DIR ARGS...` (SCRIPT ends by exec'ing
/// `"$0" node-setup --data-dir "$1" ...`) with `input` on stdin.
fn run_sh(script: &str, dir: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_bouture"))
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The command may refuse before reading everything.
    let _ = stdin.write_all(input);
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let root = dir.to_str().unwrap();
    let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(root, "[DATA_DIR]");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
    }
}

/// `bouture node-setup --data-dir DIR ARGS...` with `input` on stdin.
fn node_setup(dir: &Path, args: &[&str], input: &Value) -> Run {
    run_sh(
        r#"exec "$0" node-setup --data-dir "$@""#,
        dir,
        args,
        input.to_string().as_bytes(),
    )
}

fn joined(pair: &Pair) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let run = node_setup(dir.path(), &[], &document(&pair.pem()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    dir
}

/// PEM sizes vary with the keys made for the test; backup names with the time.
fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match (line.find("client.pem.backup-"), line.find(" (")) {
            (Some(start), Some(end)) if start < end => {
                out.push_str(&line[..start]);
                out.push_str("client.pem.backup-[TIME].[RANDOM]");
                out.push_str(&line[end..]);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[test]
fn joins_then_joins_again_with_text_reports() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let run = node_setup(dir.path(), &[], &document(&pair.pem()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("node_setup_joined", run.snapshot());

    let run = node_setup(dir.path(), &["--dry-run"], &document(&pair.pem()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("node_setup_dry_run_joined", stable(&run.snapshot()));

    let mut again = document(&pair.pem());
    again["start_node_daemon"] = json!(true);
    let run = node_setup(
        dir.path(),
        &["--start-command", "echo restarted", "-q"],
        &again,
    );
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", "")
    );

    // Another data directory and the default start command (the system's
    // daemons): refused, unless asked for, and then said.
    let before = snapshot(dir.path());
    let run = node_setup(dir.path(), &["--format", "json", "--dry-run"], &again);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the default start command restarts the system's Ganeti daemons"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(dir.path()), before);
    let run = node_setup(
        dir.path(),
        &["--format", "json", "--dry-run", "--restart-system-daemons"],
        &again,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["start"],
        json!({"outcome": "would_run", "command": "/usr/lib/ganeti/daemon-util stop-all; /usr/lib/ganeti/daemon-util start ganeti-noded; /usr/lib/ganeti/daemon-util start ganeti-mond"})
    );
    assert_eq!(report["restarts_system_daemons"], json!(true));
    let run = node_setup(
        dir.path(),
        &["--dry-run", "--restart-system-daemons"],
        &again,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "Note: the start command restarts the system's Ganeti daemons, which read /var/lib/ganeti, not [DATA_DIR]."
        ),
        "{}",
        run.stdout
    );
    let names: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["path"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(names.len(), 11);
    assert!(names[9].starts_with("client.pem.backup-"), "{names:?}");
    assert_eq!(names[10], "client.pem");
}

#[test]
fn dry_run_writes_nothing_and_runs_nothing() {
    let pair = pki().pair("p256");
    let dir = tempfile::tempdir().unwrap();
    let mut input = document(&pair.pem());
    input["start_node_daemon"] = json!(true);
    let marker = dir.path().join("started");
    let command = format!("touch {}", marker.display());
    let run = node_setup(
        dir.path(),
        &["--dry-run", "--start-command", &command, "-v"],
        &input,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(snapshot(dir.path()).is_empty());
    // PEM sizes vary with the test's keys, gnt-masterd's ids with the machine.
    let filters = vec![
        (r"pem \(0440, \d+ bytes", "pem (0440, [PEM SIZE] bytes"),
        (r"owner \d+:\d+", "owner [gnt-masterd]"),
    ];
    insta::with_settings!({filters => filters}, {
        insta::assert_snapshot!("node_setup_dry_run_verbose", run.snapshot());
    });
}

#[test]
fn refusals_exit_1_or_2_with_the_reason_and_write_nothing() {
    let pair = pki().rsa();
    let dir = joined(&pair);
    let before = snapshot(dir.path());
    let mut too_large = document(&pair.pem());
    too_large["ssconf"]["instance_list"] = json!("i".repeat(200_000));
    let mut other = document(&pki().pair("other").pem());
    other["ssconf"]["bogus"] = json!("x");
    let mut listed = document(&pair.pem());
    listed["ssconf"]["node_list"] = json!(["a", "b"]);
    for (input, code, message) in [
        (
            too_large,
            2,
            "error: Value 'instance_list' has a length of 200001 bytes, but only up to 131072 are allowed (input key 'ssconf.instance_list') (nothing was written)\n",
        ),
        (
            document(&pki().mismatched().pem()),
            1,
            "error: (stdin) Certificate is not signed with given key: the private key does not match the certificate's public key (nothing was written)\n",
        ),
        (
            document(&pki().pair("other").pem()),
            1,
            "error: Given cluster certificate does not match local key ([DATA_DIR]/server.pem) (nothing was written)\n",
        ),
        (
            other,
            1,
            "error: Given cluster certificate does not match local key ([DATA_DIR]/server.pem) (nothing was written)\n",
        ),
        (
            listed,
            1,
            "error: input key 'ssconf.node_list' must be a string, not an array (nothing was written)\n",
        ),
        (
            json!("just a string"),
            1,
            "error: Can't parse input data: the input must be a JSON object, not a string (nothing was written)\n",
        ),
    ] {
        let run = node_setup(dir.path(), &[], &input);
        assert_eq!(
            (run.code, run.stderr.as_str(), run.stdout.as_str()),
            (code, message, "")
        );
        assert_eq!(snapshot(dir.path()), before);
    }
    let run = node_setup(dir.path(), &["--format", "json"], &json!([1]));
    assert_eq!(run.code, 1);
    let body: Value = serde_json::from_str(&run.stdout).unwrap();
    // The JSON error document (issue 23): the message in `error.message`.
    assert_eq!(
        body["error"]["message"],
        "Can't parse input data: the input must be a JSON object, not an array (nothing was written)"
    );

    // Usage errors: 2, as Ganeti's optparse.
    let run = node_setup(dir.path(), &["positional"], &json!({}));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_concurrent_run_is_refused() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let lock = File::open(dir.path()).unwrap();
    lock.try_lock().unwrap();
    let run = node_setup(dir.path(), &[], &document(&pair.pem()));
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        "error: [DATA_DIR]: another node setup is running on this data directory (it holds its lock) (nothing was written)\n"
    );
    assert!(snapshot(dir.path()).is_empty());
}

#[test]
fn a_failed_start_command_exits_1_with_the_command_and_its_output() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let mut input = document(&pair.pem());
    input["start_node_daemon"] = json!(true);
    let run = node_setup(
        dir.path(),
        &[
            "--start-command",
            "echo stopping all; echo 'ganeti-noded: address in use' >&2; exit 4",
        ],
        &input,
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("node_setup_start_failed", run.snapshot());
    // The files stay written: the node is set up, its daemons are not running.
    assert_eq!(snapshot(dir.path()).len(), 10);
}

#[test]
fn a_write_failing_midway_leaves_the_data_dir_byte_for_byte_as_it_was() {
    let pair = pki().rsa();
    let dir = joined(&pair);
    // Modes and contents the setup would change, to see them put back.
    fs::write(dir.path().join("hmac.key"), "previous hmac").unwrap();
    fs::write(dir.path().join("ssconf_master_ip"), "203.0.113.1\n").unwrap();
    let before = snapshot(dir.path());
    // ssconf_cluster_name and ssconf_master_node are replaced, then
    // ssconf_instance_list (larger than the file size limit) fails.
    let input = json!({
        "cluster_name": "cluster.example.com",
        "node_daemon_certificate": pair.pem(),
        "hmac_key": "another hmac key",
        "ssconf": {
            "cluster_name": "cluster.example.com",
            "master_node": "node9.example.com",
            "instance_list": "i".repeat(120_000),
            "master_ip": "192.0.2.9",
        },
        "node_name": "node2.example.com",
    });
    // bouture ignores SIGXFSZ itself (as Python does; no `trap` here): a
    // write past the limit fails with EFBIG instead of killing the process.
    // The limit (in blocks of 512 or 1024 bytes) is above every file but
    // the large one.
    let run = run_sh(
        r#"ulimit -f 64 && exec "$0" node-setup --data-dir "$1""#,
        dir.path(),
        &[],
        input.to_string().as_bytes(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: cannot write [DATA_DIR]/ssconf_instance_list: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.ends_with("the 2 file(s) already written were put back as they were, the data directory is unchanged\n"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(dir.path()), before);
}

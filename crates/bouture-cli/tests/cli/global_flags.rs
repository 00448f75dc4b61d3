//! The global options mean the same for every command (issue 23): each
//! command is run with `--log-file F`, `-v`, `--debug`, `-q`, `-qq` and
//! `--log-time`, and its stderr is checked against the lines F got.
//!
//! - `--log-file F`: F gets every line, DEBUG included, each
//!   `YYYY-MM-DD HH:MM:SS bouture[PID] LEVEL message`, for every command;
//! - stderr shows INFO and above by default, DEBUG too with `-v` or
//!   `--debug`, WARNING and ERROR with `-q`, ERROR with `-qq`;
//! - the SlapOS commands' stderr lines are F's (`--log-time` drops their
//!   date and time, as in `slapos`); the others' are the message alone,
//!   `warning: ` or `error: ` first (`--log-time` adds the date and time).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use bouture_test_support::node::{TestNode, TestPartition};

use crate::failover::Scene;
use crate::node_setup_common::{document, pki};
use crate::support::Run;

/// How a command's lines look on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// `[DATE TIME ]bouture[PID] LEVEL message`.
    Slapos,
    /// `[DATE TIME ]message`, `warning: message`, `error: message`.
    Plain,
}

/// One command as the table runs it.
struct Case {
    name: &'static str,
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    style: Style,
    /// The exit code of every run.
    code: i32,
    /// Run before each run (the fake `slapos`'s exit codes).
    before: Box<dyn Fn()>,
}

impl Case {
    fn new(name: &'static str, style: Style, code: i32, args: &[&str]) -> Self {
        Self {
            name,
            args: args.iter().map(ToString::to_string).collect(),
            stdin: None,
            style,
            code,
            before: Box::new(|| {}),
        }
    }

    /// Run `bouture GLOBAL... ARGS...`, `--log-file log` added when given.
    fn run(&self, global: &[&str], log: Option<&Path>) -> Run {
        (self.before)();
        let mut command = Command::new(env!("CARGO_BIN_EXE_bouture"));
        command.args(global);
        if let Some(log) = log {
            let _ = fs::remove_file(log);
            command.arg("--log-file").arg(log);
        }
        command
            .args(&self.args)
            .env_remove("SLAPOS_CONFIGURATION")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(input) = &self.stdin {
            stdin.write_all(input).unwrap();
        }
        drop(stdin);
        let output = child.wait_with_output().unwrap();
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert_eq!(
            run.code, self.code,
            "{} {global:?}: {}",
            self.name, run.stderr
        );
        run
    }
}

/// A line of the log file: its level and message.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    level: String,
    message: String,
}

/// `YYYY-MM-DD HH:MM:SS ` at the start of `line`, removed.
fn strip_stamp(line: &str) -> Option<&str> {
    let stamp = line.get(..19)?;
    jiff::civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", stamp).ok()?;
    line.get(19..)?.strip_prefix(' ')
}

/// `bouture[PID] LEVEL message` parsed.
fn slapos_line(line: &str) -> Option<Entry> {
    let rest = line.strip_prefix("bouture[")?;
    let (pid, rest) = rest.split_once("] ")?;
    pid.parse::<u32>().ok()?;
    let (level, message) = rest.split_once(' ')?;
    Some(Entry {
        level: level.to_owned(),
        message: message.to_owned(),
    })
}

/// The entries of the log file; every line must be one.
fn file_entries(case: &Case, log: &Path) -> Vec<Entry> {
    let text = fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("{}: --log-file {}: {e}", case.name, log.display()));
    text.lines()
        .map(|line| {
            strip_stamp(line)
                .and_then(slapos_line)
                .unwrap_or_else(|| panic!("{}: not a dated log line: {line:?}", case.name))
        })
        .collect()
}

/// stderr's lines as entries (a plain INFO or DEBUG line has no level:
/// `None`), checking that each is dated exactly when `stamped`. Lines of
/// the fake `slapos` failover runs are left out.
fn stderr_entries(case: &Case, stderr: &str, stamped: bool) -> Vec<(Option<String>, String)> {
    stderr
        .lines()
        .filter(|line| !line.starts_with("fake slapos:"))
        .map(|line| {
            let rest = match strip_stamp(line) {
                Some(rest) if stamped => rest,
                None if !stamped => line,
                _ => panic!("{}: dated: {stamped}, but got {line:?}", case.name),
            };
            match case.style {
                Style::Slapos => {
                    let entry = slapos_line(rest)
                        .unwrap_or_else(|| panic!("{}: not a log line: {line:?}", case.name));
                    (Some(entry.level), entry.message)
                }
                Style::Plain => {
                    if let Some(message) = rest.strip_prefix("error: ") {
                        (Some("ERROR".to_owned()), message.to_owned())
                    } else if let Some(message) = rest.strip_prefix("warning: ") {
                        (Some("WARNING".to_owned()), message.to_owned())
                    } else {
                        (None, rest.to_owned())
                    }
                }
            }
        })
        .collect()
}

/// Every stderr line is an entry of the file at one of `levels` (a plain
/// line without a level at INFO or DEBUG).
fn assert_levels(
    case: &Case,
    what: &str,
    shown: &[(Option<String>, String)],
    file: &[Entry],
    levels: &[&str],
) {
    for (level, message) in shown {
        let found = file.iter().any(|entry| {
            entry.message == *message
                && levels.contains(&entry.level.as_str())
                && level.as_ref().is_none_or(|level| *level == entry.level)
        });
        assert!(
            found,
            "{} {what}: {level:?} {message:?} on stderr is not a {levels:?} line of the log file {file:#?}",
            case.name
        );
    }
}

fn debug_messages(file: &[Entry]) -> Vec<&str> {
    file.iter()
        .filter(|entry| entry.level == "DEBUG")
        .map(|entry| entry.message.as_str())
        .collect()
}

/// The table's checks on one command.
fn check(case: &Case, dir: &Path) {
    let log = dir.join(format!("{}.log", case.name));
    let stamped = case.style == Style::Slapos;

    // --log-file: every level into the file; INFO and above on stderr.
    let default = case.run(&[], Some(&log));
    let file = file_entries(case, &log);
    assert!(
        !debug_messages(&file).is_empty(),
        "{}: the log file has DEBUG lines too: {file:#?}",
        case.name
    );
    let shown = stderr_entries(case, &default.stderr, stamped);
    assert_levels(
        case,
        "default",
        &shown,
        &file,
        &["INFO", "WARNING", "ERROR"],
    );

    // -v and --debug: the DEBUG lines on stderr as well.
    for flag in ["-v", "--debug"] {
        let verbose = case.run(&[flag], Some(&log));
        let file = file_entries(case, &log);
        let shown = stderr_entries(case, &verbose.stderr, stamped);
        assert_levels(
            case,
            flag,
            &shown,
            &file,
            &["DEBUG", "INFO", "WARNING", "ERROR"],
        );
        for message in debug_messages(&file) {
            assert!(
                shown.iter().any(|(_, shown)| shown == message),
                "{} {flag}: DEBUG {message:?} not on stderr:\n{}",
                case.name,
                verbose.stderr
            );
        }
        assert!(
            shown.len() > stderr_entries(case, &default.stderr, stamped).len(),
            "{} {flag} adds lines:\n{}",
            case.name,
            verbose.stderr
        );
    }

    // -q: WARNING and ERROR only, and no more than without it; -qq: ERROR.
    let quiet = case.run(&["-q"], Some(&log));
    let file = file_entries(case, &log);
    assert_levels(
        case,
        "-q",
        &stderr_entries(case, &quiet.stderr, stamped),
        &file,
        &["WARNING", "ERROR"],
    );
    assert!(
        quiet.stdout.len() + quiet.stderr.len() <= default.stdout.len() + default.stderr.len(),
        "{}: -q prints more",
        case.name
    );
    let quieter = case.run(&["-qq"], Some(&log));
    let file = file_entries(case, &log);
    assert_levels(
        case,
        "-qq",
        &stderr_entries(case, &quieter.stderr, stamped),
        &file,
        &["ERROR"],
    );

    // --log-time: the date and time toggled on stderr (checked line by
    // line by stderr_entries), never in the file.
    let timed = case.run(&["-v", "--log-time"], Some(&log));
    let shown = stderr_entries(case, &timed.stderr, !stamped);
    assert!(!shown.is_empty(), "{}: -v prints DEBUG lines", case.name);
    file_entries(case, &log);
}

/// An image tree `NAME=DIR` with a kernel and an initrd.
fn tree(dir: &Path, name: &str) -> String {
    bouture_test_support::multiboot::small_tree(dir, name, None)
}

#[test]
#[allow(clippy::too_many_lines, reason = "the table: one entry per command")]
fn every_global_flag_works_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let path = |name: &str| root.join(name).to_str().unwrap().to_owned();

    // SlapOS: a node with an opted-in partition and one that is not.
    fs::create_dir(path("node")).unwrap();
    let node = TestNode::new(&root.join("node"), "COMP-FLAGS")
        .partition(TestPartition::new(0).instance("Main", "started"))
        .partition(TestPartition::new(1))
        .write();
    let cfg = node.cfg.to_str().unwrap().to_owned();
    let scene = std::rc::Rc::new(Scene::new());
    let failover_args = scene.failover_args("http://127.0.0.1:9", &[]);
    let failover_args: Vec<&str> = failover_args.iter().map(String::as_str).collect();

    // Ganeti: the merge crate's fixture and a renamed copy; a setup document.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../bouture-merge/tests/fixtures/cluster_config_3.0.json");
    let text = fs::read_to_string(fixture).unwrap();
    fs::write(path("ours.data"), &text).unwrap();
    fs::write(
        path("theirs.data"),
        crate::merge_common::renamed_copy(&text, "b0b0"),
    )
    .unwrap();
    fs::create_dir(path("ganeti")).unwrap();

    // Disks: a document, two trees, and a disk built once for `boot`.
    fs::write(
        path("provision.json"),
        bouture_test_support::multiboot::SMALL_DOCUMENT,
    )
    .unwrap();
    let centos = tree(root, "centos");
    let ubuntu = tree(root, "ubuntu");
    let build = Case::new(
        "deploy build",
        Style::Plain,
        0,
        &[
            "deploy",
            "build",
            "--provision",
            &path("provision.json"),
            "--image",
            &centos,
            "--image",
            &ubuntu,
            "--output",
            &path("node.img"),
            "--uuid-seed",
            "flags",
        ],
    );
    build.run(&[], None);

    let mut node_setup = Case::new(
        "node-setup",
        Style::Plain,
        0,
        &["node-setup", "--dry-run", "--data-dir", &path("ganeti")],
    );
    node_setup.stdin = Some(document(&pki().rsa().pem()).to_string().into_bytes());
    let mut failover = Case::new("failover", Style::Slapos, 0, &failover_args);
    let codes = std::rc::Rc::clone(&scene);
    failover.before = Box::new(move || codes.codes(&["0"]));

    let cases = [
        Case::new("inventory", Style::Slapos, 0, &["inventory", "--cfg", &cfg]),
        Case::new(
            "graft",
            Style::Slapos,
            0,
            &[
                "graft",
                "--cfg",
                &cfg,
                "--new-master-url",
                "http://127.0.0.1:9",
                "--dry-run",
            ],
        ),
        Case::new(
            "configure",
            Style::Slapos,
            0,
            &[
                "configure",
                "--cfg",
                &cfg,
                "--new-master-url",
                "http://10.0.0.2:4000",
                "--new-node-cfg",
                &path("new.cfg"),
            ],
        ),
        failover,
        Case::new(
            "status",
            Style::Slapos,
            0,
            &["status", "--cfg", &cfg, "--switchfile", &path("switch")],
        ),
        Case::new(
            "merge",
            Style::Plain,
            0,
            &[
                "merge",
                "--config",
                &path("ours.data"),
                "--merge",
                &path("theirs.data"),
                "--output",
                &path("merged.data"),
                "--groups",
                "rename",
                "--port-range",
                "11000-65535",
                "--dry-run",
            ],
        ),
        // Nothing to resume: the error, in the log file too.
        Case::new(
            "cluster-merge",
            Style::Plain,
            1,
            &["cluster-merge", "--resume", "--state-dir", &path("state")],
        ),
        node_setup,
        Case::new(
            "deploy plan",
            Style::Plain,
            0,
            &["deploy", "plan", "--provision", &path("provision.json")],
        ),
        build,
        Case::new(
            "boot list",
            Style::Plain,
            0,
            &["boot", "list", "--disk", &path("node.img")],
        ),
        Case::new(
            "boot next",
            Style::Plain,
            0,
            &[
                "boot",
                "next",
                "ubuntu",
                "--disk",
                &path("node.img"),
                "--dry-run",
            ],
        ),
        Case::new("completions", Style::Plain, 0, &["completions", "bash"]),
    ];
    for case in &cases {
        check(case, root);
    }
}

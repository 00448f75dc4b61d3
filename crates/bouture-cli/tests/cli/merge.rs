//! `bouture merge` end to end, in process through `bouture_cli::run` (as an
//! embedder calls it): reports, refusals, exit codes (its `--help` is
//! snapshotted with every command's, in `help.rs`).

use std::path::Path;

use crate::merge_common;

/// Run `bouture ARGS` in process; returns (exit code, stdout, stderr).
fn bouture(args: &[&str]) -> (u8, String, String) {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = bouture_cli::run(
        std::iter::once("bouture").chain(args.iter().copied()),
        &mut bouture_cli::Streams {
            stdout: &mut stdout,
            stderr: &mut stderr,
        },
    );
    (
        code,
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// `merge --config OURS --merge THEIRS --output OUTPUT` and the words of
/// `extra` (split on white space: no argument of these tests has any).
fn merge_args<'a>(ours: &'a str, theirs: &'a str, output: &'a str, extra: &'a str) -> Vec<&'a str> {
    let mut args = vec![
        "merge", "--config", ours, "--merge", theirs, "--output", output,
    ];
    args.extend(extra.split_whitespace());
    args
}

/// Run `bouture merge --config OURS --merge THEIRS --output OUTPUT EXTRA...`.
fn merge(ours: &str, theirs: &str, output: &str, extra: &str) -> (u8, String, String) {
    bouture(&merge_args(ours, theirs, output, extra))
}

/// Two inputs and an output path in a temporary directory.
struct Case {
    dir: tempfile::TempDir,
    ours: String,
    theirs: String,
    /// `merged.data` in the directory (not created).
    output: String,
}

impl Case {
    fn new(write: impl Fn(&Path) -> (String, String)) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let (ours, theirs) = write(dir.path());
        let output = dir.path().join("merged.data").display().to_string();
        Case {
            dir,
            ours,
            theirs,
            output,
        }
    }

    /// The merge crate's 3.0 fixture and a copy with other names, UUIDs and
    /// addresses.
    fn fixture() -> Case {
        Case::new(|dir| {
            let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../bouture-merge/tests/fixtures/cluster_config_3.0.json");
            let text = std::fs::read_to_string(fixture).unwrap();
            let ours = dir.join("ours.data");
            std::fs::write(&ours, &text).unwrap();
            let theirs = dir.join("theirs.data");
            std::fs::write(&theirs, merge_common::renamed_copy(&text, "b0b0")).unwrap();
            (ours.display().to_string(), theirs.display().to_string())
        })
    }

    /// The generated clusters of the merge crate's tests (25 ports to
    /// reallocate).
    fn generated() -> Case {
        Case::new(|dir| {
            let write = |index: u32| {
                let path = dir.join(format!("c{index}.data"));
                let spec = merge_common::generator::Spec::new(index, 6, 30);
                std::fs::write(&path, merge_common::generator::generate(&spec)).unwrap();
                path.display().to_string()
            };
            (write(1), write(2))
        })
    }

    /// Merge the two inputs into [`Case::output`] with `extra`.
    fn merge(&self, extra: &str) -> (u8, String, String) {
        merge(&self.ours, &self.theirs, &self.output, extra)
    }

    fn output_exists(&self) -> bool {
        Path::new(&self.output).exists()
    }
}

#[test]
fn dry_run_prints_json_report_and_writes_nothing() {
    let case = Case::fixture();
    let (code, stdout, stderr) =
        case.merge("--groups rename --port-range 11000-65535 --dry-run --format json");
    assert_eq!(code, 0, "{stderr}");
    assert!(!case.output_exists());
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["port_changes"][0]["new"], 32104);
}

#[test]
fn merge_writes_the_output_and_a_text_report() {
    let case = Case::fixture();
    let (code, stdout, stderr) = case.merge("--groups merge --port-range 11000-65535");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Ports reallocated: 1"), "{stdout}");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&case.output).unwrap()).unwrap();
    assert_eq!(merged["nodes"].as_object().unwrap().len(), 6);
}

#[test]
fn conflicts_exit_1_and_list_every_conflict() {
    let case = Case::fixture();
    let (code, _, stderr) = case.merge("");
    assert_eq!(code, 1);
    assert!(!case.output_exists());
    assert!(
        stderr.starts_with("error: merge refused, nothing was written: 2 conflicts\n"),
        "{stderr}"
    );
    assert!(stderr.contains("node group 'default' exists"), "{stderr}");
    assert!(stderr.contains("node group 'another' exists"), "{stderr}");
}

#[test]
fn output_equal_to_input_and_bad_range_are_refused() {
    let case = Case::fixture();
    let (code, _, stderr) = merge(&case.ours, &case.theirs, &case.ours, "");
    assert_eq!(code, 1);
    assert!(stderr.contains("is the same file as the input"), "{stderr}");
    let (code, _, stderr) = merge(&case.ours, &case.theirs, "x", "--port-range 15000-14000");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("invalid port range"), "{stderr}");
}

#[test]
fn quiet_prints_nothing_verbose_every_port_and_the_phases() {
    let case = Case::generated();
    let args = merge_args(&case.ours, &case.theirs, &case.output, "--groups rename");
    let (code, normal, _) = bouture(&args);
    assert_eq!(code, 0);
    assert!(
        normal.contains("Ports reallocated: 25 (15 DRBD, 10 console)"),
        "{normal}"
    );
    assert!(
        normal.contains("... and 15 more (-v or --format json lists every one)"),
        "{normal}"
    );
    // 30 instances and disks added: 10 named, and how many more.
    let named = |report: &str, title: &str| -> usize {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("  {title} (30): ")))
            .unwrap_or_else(|| panic!("no {title} line in {report}"));
        line.matches(".c2.example.com").count() + line.matches("00000002-0004-").count()
    };
    assert_eq!(named(&normal, "instances added"), 10, "{normal}");
    assert_eq!(named(&normal, "disks added"), 10, "{normal}");
    assert!(
        normal.contains(", ... and 20 more (-v or --format json lists every one)"),
        "{normal}"
    );
    let (code, quiet, quiet_err) = bouture(&[&["-q"][..], &args[..]].concat());
    assert_eq!(code, 0);
    assert_eq!(quiet, "");
    assert_eq!(quiet_err, "");
    let (code, verbose, phases) = bouture(&[&["-v"][..], &args[..]].concat());
    assert_eq!(code, 0);
    let listed = verbose
        .lines()
        .filter(|l| l.starts_with("  c2.example.com/"))
        .count();
    assert_eq!(listed, 25, "{verbose}");
    assert_eq!(named(&verbose, "instances added"), 30, "{verbose}");
    assert_eq!(named(&verbose, "disks added"), 30, "{verbose}");
    for phase in [
        "read", "parse", "check", "plan", "apply", "write", "fsync", "report", "free", "render",
    ] {
        assert!(
            phases.contains(&format!(" {phase} ")),
            "{phase} missing: {phases}"
        );
    }
}

#[test]
fn not_enough_ports_says_how_many_in_json() {
    let case = Case::generated();
    let (code, stdout, stderr) =
        case.merge("--groups rename --port-range 11000-11030 --format json");
    assert_eq!(code, 1, "{stderr}");
    assert!(!case.output_exists());
    let body: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    // The JSON error document (issue 23): the error's fields in `details`.
    let body = &body["error"]["details"];
    assert_eq!(body["needed"], 25);
    assert_eq!(body["available"], 6);
    assert_eq!(body["range"], "11000-11030");
    assert!(
        stderr.contains("not enough free ports: 25 needed"),
        "{stderr}"
    );
}

#[test]
fn unreadable_inputs_and_outputs_exit_1_naming_the_file() {
    let case = Case::generated();
    let missing_dir = case.dir.path().join("nowhere/merged.data");
    let (code, _, stderr) = merge(
        &case.ours,
        &case.theirs,
        missing_dir.to_str().unwrap(),
        "--groups rename --dry-run",
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot write the output") && stderr.contains("its directory"),
        "{stderr}"
    );
    let (code, _, stderr) = merge(&case.ours, "/dev/zero", "/dev/null", "--groups rename");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("/dev/null: it is a character device"),
        "{stderr}"
    );
    // A bound above what bouture can merge is a usage error, not a silent cap.
    let (code, _, stderr) = case.merge("--groups rename --max-input-size 2G");
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("at most 2147483647 bytes (2 GiB - 1)"),
        "{stderr}"
    );
    let (code, _, stderr) = case.merge("--groups rename --max-input-size 1K");
    assert_eq!(code, 1);
    assert!(
        stderr.contains("is larger than 1024 bytes") && stderr.contains("raise --max-input-size"),
        "{stderr}"
    );
    assert!(!case.output_exists());
}

/// The text report of two merges, as `bouture merge` prints it:
/// its renderer is the CLI's (issue 23; these were the merge crate's
/// `to_text` snapshots).
#[test]
fn text_reports_of_the_fixture_and_of_generated_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let output = root.join("merged.data").display().to_string();
    let stable = |text: &str| text.replace(root.to_str().unwrap(), "[ROOT]");

    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../bouture-merge/tests/fixtures/cluster_config_3.0.json"),
    )
    .unwrap();
    let ours = write("ours.data", &fixture);
    let theirs = write("theirs.data", &merge_common::renamed_copy(&fixture, "c0de"));
    let (code, stdout, stderr) = merge(
        &ours,
        &theirs,
        &output,
        "--groups rename --port-range 11000-65535",
    );
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("fixture_rename_text", stable(&stdout));

    let spec = merge_common::generator::Spec::new;
    let a = write("a.data", &merge_common::generator::generate(&spec(1, 3, 6)));
    let b = merge_common::mutate(&merge_common::generator::generate(&spec(2, 3, 6)), |v| {
        v["cluster"]["master_netdev"] = serde_json::json!("eth9");
        v["cluster"]["reserved_lvs"] = serde_json::json!(["xenvg/keep"]);
        v["filters"] = serde_json::json!({"f1": {"uuid": "f1", "priority": 1}});
    });
    let b = write("b.data", &b);
    let (code, stdout, stderr) =
        merge(&a, &b, &output, "--groups merge --parameter-conflicts warn");
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("generated_merge_text", stable(&stdout));
}

//! `configure` on tricky node configurations, checked against Python's
//! configparser: the written file must read back as the original options
//! minus the removed ones, with the new `master_url`, and keep every comment.

use std::fs;
use std::path::PathBuf;

use bouture_failover::configure::{ConfigureOptions, configure_text, unified_diff};
use serde_json::{Map, Value};

use crate::support::{fixtures, python};

/// A URL with a `%` to check that it is escaped as `%%`.
const URL: &str = "http://127.0.0.1:4000/~node%2Fone";

fn configure_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<_> = fs::read_dir(fixtures().join("configure"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "cfg"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the configure fixtures");
    files
}

/// The comment lines of a text, in order.
fn comment_lines(text: &str) -> Vec<&str> {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|line| line.starts_with('#') || line.starts_with(';'))
        .collect()
}

#[test]
fn written_files_read_back_in_python_as_intended() {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![URL.to_string()];
    for file in configure_fixtures() {
        let text = fs::read_to_string(&file).unwrap();
        let edit = configure_text(&text, URL).unwrap();
        let written = out.path().join(file.file_name().unwrap());
        fs::write(&written, &edit.text).unwrap();
        args.push(file.to_str().unwrap().to_string());
        args.push(written.to_str().unwrap().to_string());
    }
    let output = python()
        .arg(fixtures().join("../python/configure_expected.py"))
        .args(&args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "configure_expected.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Map<String, Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result.len(), configure_fixtures().len());
    let mut mismatches = Vec::new();
    for (file, pair) in &result {
        // As text, so that the order of options matters too.
        let expected = serde_json::to_string(&pair["expected"]).unwrap();
        let written = serde_json::to_string(&pair["written"]).unwrap();
        if expected != written {
            mismatches.push(format!(
                "{file}:\n  python expects: {expected}\n  bouture wrote:  {written}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_comment_and_the_newline_style_survive() {
    for file in configure_fixtures() {
        let text = fs::read_to_string(&file).unwrap();
        let edit = configure_text(&text, URL).unwrap();
        // Comments of removed multi-line values go with them; there are none
        // in the fixtures, so every comment line must still be there, in order.
        let before = comment_lines(&text);
        let after = comment_lines(&edit.text);
        assert_eq!(before, after, "{}", file.display());
        assert_eq!(
            text.contains("\r\n"),
            edit.text.contains("\r\n"),
            "{}",
            file.display()
        );
        assert_eq!(
            text.ends_with('\n'),
            edit.text.ends_with('\n'),
            "{}",
            file.display()
        );
    }
}

#[test]
fn diffs_of_every_fixture() {
    for file in configure_fixtures() {
        let text = fs::read_to_string(&file).unwrap();
        let edit = configure_text(&text, URL).unwrap();
        let name = file.file_stem().unwrap().to_str().unwrap().to_string();
        let changes: Vec<String> = edit.changes.iter().map(ToString::to_string).collect();
        let report = format!(
            "{}\n\n{}",
            changes.join("\n"),
            unified_diff(&text, &edit.text, "NODE_CFG", "NEW_CFG")
        );
        insta::assert_snapshot!(format!("configure_{name}"), report);
    }
}

/// The Python reference `configure` rewrote the whole file through
/// `ConfigParser` (comments lost, TABs in continuation lines); bouture keeps the
/// text but must mean exactly the same to configparser.
#[test]
fn same_options_as_the_reference_output() {
    let out = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(fixtures().join("node-slapos.cfg.example")).unwrap();
    let edit = configure_text(&text, "http://127.0.0.1:18091").unwrap();
    let ours = out.path().join("ours.cfg");
    fs::write(&ours, &edit.text).unwrap();
    let reference = fixtures().join("node-slapos-bouture.cfg.reference-output");
    let output = python()
        .arg(fixtures().join("../../../bouture-ini/tests/python/configparser_dump.py"))
        .arg(&ours)
        .arg(&reference)
        .output()
        .unwrap();
    assert!(output.status.success());
    let dumps: Map<String, Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        dumps[ours.to_str().unwrap()],
        dumps[reference.to_str().unwrap()]
    );
    // The only textual differences are the reference's own rewriting.
    assert!(
        edit.text
            .contains("  https://lab.nexedi.com/nexedi/slapos/raw/master\n")
    );
}

/// Two at once: `configure` writes (and reads back) the new configuration
/// holding the lock of its directory, so a second writer there waits for the
/// first instead of interleaving with it.
#[test]
fn configure_waits_while_another_process_writes_in_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let node_cfg = dir.path().join("slapos.cfg");
    fs::copy(fixtures().join("node-slapos.cfg.example"), &node_cfg).unwrap();
    let new_cfg = dir.path().join("slapos-bouture.cfg");

    let held = bouture_fs::FileLock::directory(dir.path(), bouture_fs::Wait::NO).unwrap();
    let (node, new) = (node_cfg.clone(), new_cfg.clone());
    let writer = std::thread::spawn(move || {
        bouture_failover::configure::configure(&ConfigureOptions::new(&node, &new, URL))
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(!writer.is_finished(), "configure did not wait for the lock");
    assert!(
        !new_cfg.exists(),
        "configure wrote while the directory was locked"
    );
    // A dry run writes nothing and takes no lock.
    let dry = bouture_failover::configure::configure(&ConfigureOptions {
        dry_run: true,
        ..ConfigureOptions::new(&node_cfg, &new_cfg, URL)
    })
    .unwrap();
    assert!(!dry.written);
    drop(held);
    let report = writer.join().unwrap().unwrap();
    assert!(report.written);
    assert_eq!(fs::read_to_string(&new_cfg).unwrap(), report.after);
}

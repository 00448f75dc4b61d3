//! `bouture configure` through the real binary, on the demo node.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use std::path::Path;

use crate::demo_node::materialize_demo_node;
use crate::support::{Run, bouture};

/// `bouture configure --cfg CFG --new-master-url URL --new-node-cfg NEW_CFG EXTRA...`.
fn configure(cfg: &Path, url: &str, new_cfg: &Path, extra: &[&str], root: &Path) -> Run {
    let mut args = vec![
        "configure",
        "--cfg",
        cfg.to_str().unwrap(),
        "--new-master-url",
        url,
        "--new-node-cfg",
        new_cfg.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    bouture(&args, root)
}

#[test]
fn writes_the_new_configuration_and_never_touches_the_node_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o640)).unwrap();
    // As root, NEW_CFG gets NODE_CFG's owner and group (the tests run as root in CI).
    let chowned = std::process::Command::new("chown")
        .args(["nobody:nogroup", cfg.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    let before = fs::read(&cfg).unwrap();
    let new_cfg = dir.path().join("slapos-bouture.cfg");
    // An existing, wider NEW_CFG does not keep its mode.
    fs::write(&new_cfg, "old").unwrap();
    fs::set_permissions(&new_cfg, fs::Permissions::from_mode(0o666)).unwrap();
    let run = configure(&cfg, "http://127.0.0.1:4000", &new_cfg, &[], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("configure_demo", run.snapshot());
    assert_eq!(
        fs::read(&cfg).unwrap(),
        before,
        "NODE_CFG is never modified"
    );
    let written = fs::read_to_string(&new_cfg).unwrap();
    insta::assert_snapshot!(
        "configure_demo_written",
        written.replace(dir.path().to_str().unwrap(), "[ROOT]")
    );
    assert_eq!(fs::metadata(&new_cfg).unwrap().mode() & 0o7777, 0o640);
    let (new_meta, node_meta) = (fs::metadata(&new_cfg).unwrap(), fs::metadata(&cfg).unwrap());
    assert_eq!(
        (new_meta.uid(), new_meta.gid()),
        (node_meta.uid(), node_meta.gid())
    );
    if chowned {
        assert_ne!(new_meta.uid(), 0, "the owner was carried over");
    }
}

#[test]
fn dry_run_prints_the_diff_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let new_cfg = dir.path().join("slapos-bouture.cfg");
    let run = configure(
        &cfg,
        "http://127.0.0.1:4000",
        &new_cfg,
        &["--dry-run"],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!new_cfg.exists());
    insta::assert_snapshot!("configure_dry_run", run.snapshot());
}

#[test]
fn the_node_configuration_itself_is_refused_under_any_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let before = fs::read(&cfg).unwrap();
    let symlink = dir.path().join("link.cfg");
    std::os::unix::fs::symlink(&cfg, &symlink).unwrap();
    let hardlink = dir.path().join("hard.cfg");
    fs::hard_link(&cfg, &hardlink).unwrap();
    let dotted = dir.path().join("./slapos.cfg");
    for target in [&cfg, &symlink, &hardlink, &dotted] {
        let run = configure(&cfg, "http://127.0.0.1:4000", target, &[], dir.path());
        assert_eq!(run.code, 1, "{}", target.display());
        assert!(run.stderr.contains("(same file)"), "{}", run.stderr);
        assert_eq!(fs::read(&cfg).unwrap(), before);
        assert!(
            fs::symlink_metadata(&symlink)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
    let run = configure(&cfg, "http://127.0.0.1:4000", &symlink, &[], dir.path());
    insta::assert_snapshot!("configure_same_file", run.snapshot_logged());
}

#[test]
fn bad_input_is_refused_with_the_file_and_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("slapos.cfg");
    let new_cfg = dir.path().join("new.cfg");
    fs::write(&cfg, "[slapos]\nmaster_url = x\nMaster_URL = y\n").unwrap();
    let run_with = |url: &str| configure(&cfg, url, &new_cfg, &[], dir.path());
    let duplicate = run_with("http://127.0.0.1:4000");
    assert_eq!(duplicate.code, 1);
    fs::write(&cfg, "[slapformat]\nx = 1\n").unwrap();
    let no_slapos = run_with("http://127.0.0.1:4000");
    fs::write(&cfg, "[slapos]\ncomputer_id = C\n").unwrap();
    let bad_url = run_with("ftp://127.0.0.1");
    let missing = configure(
        Path::new("/nonexistent/slapos.cfg"),
        "http://127.0.0.1:4000",
        &new_cfg,
        &[],
        dir.path(),
    );
    assert!(!new_cfg.exists());
    insta::assert_snapshot!(
        "configure_bad_input",
        [duplicate, no_slapos, bad_url, missing]
            .iter()
            .map(crate::support::Run::snapshot_logged)
            .collect::<Vec<_>>()
            .join("\n=====\n")
    );
}

//! `bouture inventory` on the demo node and on every kind of bad input.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use crate::demo_node::materialize_demo_node;
use crate::support::{bouture, stable};

#[test]
fn demo_node_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let cfg = cfg.to_str().unwrap();

    let text = bouture(&["inventory", "--cfg", cfg], dir.path());
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("demo_text", text.snapshot());

    let json = bouture(&["inventory", "--cfg", cfg, "--format", "json"], dir.path());
    assert_eq!(json.code, 0, "{}", json.stderr);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("demo_json", value);
}

#[test]
fn cfg_defaults_to_slapos_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_bouture"))
        .arg("inventory")
        .env("SLAPOS_CONFIGURATION", &cfg)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("computer COMP-DEMO\n"));
}

#[test]
fn a_leading_tilde_in_cfg_and_slapos_configuration_is_the_home_directory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = materialize_demo_node(dir.path());
    let name = cfg.file_name().unwrap().to_str().unwrap().to_string();
    let tilde = format!("~/{name}");
    for (args, env) in [
        (vec!["inventory", "--cfg", tilde.as_str()], None),
        (vec!["inventory"], Some(tilde.as_str())),
    ] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_bouture"));
        command.args(&args).env("HOME", dir.path());
        match env {
            Some(value) => command.env("SLAPOS_CONFIGURATION", value),
            None => command.env_remove("SLAPOS_CONFIGURATION"),
        };
        let output = command.output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?} {env:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("computer COMP-DEMO\n"));
    }
}

/// Run inventory on a configuration file with this content; returns (code, stderr).
fn with_cfg(dir: &Path, content: &[u8]) -> (i32, String) {
    let cfg = dir.join("slapos.cfg");
    fs::write(&cfg, content).unwrap();
    let run = bouture(&["inventory", "--cfg", cfg.to_str().unwrap()], dir);
    assert!(
        run.stdout.is_empty(),
        "nothing on stdout on error: {}",
        run.stdout
    );
    (run.code, stable(&run.stderr))
}

#[test]
fn unusable_node_configurations_exit_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let srv = root.join("srv");
    fs::create_dir(&srv).unwrap();

    let run = bouture(&["inventory", "--cfg", "/nonexistent/slapos.cfg"], root);
    assert_eq!(
        (run.code, stable(&run.stderr).as_str()),
        (
            1,
            "bouture ERROR node configuration /nonexistent/slapos.cfg: cannot be read (No such file or directory (os error 2)); check that it exists and its permissions\n"
        )
    );

    let run = bouture(&["inventory", "--cfg", srv.to_str().unwrap()], root);
    assert_eq!(
        (run.code, stable(&run.stderr).as_str()),
        (
            1,
            "bouture ERROR node configuration [ROOT]/srv: is a directory, not a regular file\n"
        )
    );

    let fifo = root.join("fifo.cfg");
    bouture_test_support::mkfifo(&fifo).unwrap();
    let run = bouture(&["inventory", "--cfg", fifo.to_str().unwrap()], root);
    assert_eq!(
        (run.code, stable(&run.stderr).as_str()),
        (
            1,
            "bouture ERROR node configuration [ROOT]/fifo.cfg: is a FIFO, not a regular file\n"
        )
    );

    let cases: [(&[u8], &str); 6] = [
        (
            b"[slapos]\ninstance_root = /srv\n",
            "bouture ERROR node configuration [ROOT]/slapos.cfg: option `computer_id` is missing or empty in [slapos]; set it (e.g. `computer_id = COMP-1234`)\n",
        ),
        (
            b"[slapos]\ncomputer_id =\ninstance_root = /srv\n",
            "bouture ERROR node configuration [ROOT]/slapos.cfg: option `computer_id` is missing or empty in [slapos]; set it (e.g. `computer_id = COMP-1234`)\n",
        ),
        (
            b"[slapformat]\ncomputer_id = X\n",
            "bouture ERROR node configuration [ROOT]/slapos.cfg: there is no [slapos] section; add it\n",
        ),
        (
            b"[slapos]\ncomputer_id = A\nComputer_Id = B\n",
            "bouture ERROR node configuration [ROOT]/slapos.cfg: line 3: option `computer_id` appears a second time in section [slapos]; keep only one\n",
        ),
        (
            b"[slapos]\ncomputer_id = \xff\xfe\n",
            "bouture ERROR node configuration [ROOT]/slapos.cfg: is not valid UTF-8 (invalid byte at offset 23); write it as UTF-8\n",
        ),
        (
            b"[slapos]\ncomputer_id = C\ninstance_root = /srv/100%\n",
            "bouture ERROR node configuration [ROOT]/slapos.cfg: option `instance_root` in section [slapos]: `%` must be followed by `%` or `(`, found `%`; write a literal `%` as `%%`\n",
        ),
    ];
    for (content, expected) in cases {
        assert_eq!(with_cfg(root, content), (1, expected.to_string()));
    }

    let missing_root = format!(
        "[slapos]\ncomputer_id = C\ninstance_root = {}/nowhere\n",
        root.display()
    );
    assert_eq!(
        with_cfg(root, missing_root.as_bytes()),
        (1, "bouture ERROR cannot list the partitions in instance_root [ROOT]/nowhere (No such file or directory (os error 2)); check `instance_root` in the node configuration\n".to_string())
    );
}

/// A node with one partition for each kind of bad `bouture.json` or
/// `.slapos-resource`, next to a valid one.
fn bad_node(root: &Path) -> std::path::PathBuf {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bouture-core/tests/fixtures");
    let good_json = fs::read(fixtures.join("bouture.json.example")).unwrap();
    let good_resource = fs::read(fixtures.join("slapos-resource.example")).unwrap();
    let srv = root.join("srv");
    let partition = |n: u32, bouture: Option<&[u8]>| {
        let dir = srv.join(format!("slappart{n}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".slapos-resource"), &good_resource).unwrap();
        if let Some(content) = bouture {
            fs::write(dir.join("bouture.json"), content).unwrap();
        }
        dir
    };
    let mut doc: serde_json::Value = serde_json::from_slice(&good_json).unwrap();
    partition(0, Some(&good_json));
    partition(1, Some(b"{\"software-url\": "));
    doc.as_object_mut().unwrap().remove("instance-title");
    partition(2, Some(doc.to_string().as_bytes()));
    let mut doc: serde_json::Value = serde_json::from_slice(&good_json).unwrap();
    doc["config"] = "not an object".into();
    partition(3, Some(doc.to_string().as_bytes()));
    let dir = partition(4, None);
    fs::write(root.join("secret"), b"root only").unwrap();
    symlink(root.join("secret"), dir.join("bouture.json")).unwrap();
    partition(5, Some(&vec![b' '; 1024 * 1024 + 1]));
    partition(6, Some(b"{\"software-url\": \"caf\xe9\"}"));
    let dir = partition(7, None);
    bouture_test_support::mkfifo(&dir.join("bouture.json")).unwrap();
    let dir = partition(8, None);
    fs::create_dir(dir.join("bouture.json")).unwrap();
    let dir = partition(9, Some(&good_json));
    fs::remove_file(dir.join(".slapos-resource")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_slice(&good_json).unwrap();
    doc["instance-state"] = "running".into();
    partition(10, Some(doc.to_string().as_bytes()));
    let dir = partition(12, Some(&good_json));
    fs::remove_file(dir.join(".slapos-resource")).unwrap();
    symlink(
        fixtures.join("slapos-resource.example"),
        dir.join(".slapos-resource"),
    )
    .unwrap();
    fs::create_dir_all(root.join("elsewhere")).unwrap();
    symlink(root.join("elsewhere"), srv.join("slappart11")).unwrap();
    // Not partitions: ignored.
    fs::create_dir_all(srv.join("slappartX")).unwrap();
    fs::create_dir_all(srv.join("other3")).unwrap();
    let cfg = root.join("slapos.cfg");
    fs::write(
        &cfg,
        format!(
            "[slapos]\ncomputer_id = COMP-BAD\ninstance_root = {}\n",
            srv.display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn bad_partitions_are_listed_with_their_reason_and_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = bad_node(dir.path());
    let run = bouture(&["inventory", "--cfg", cfg.to_str().unwrap()], dir.path());
    assert_eq!(run.code, 0, "{}", run.stderr);
    for expected in [
        "slappart1/bouture.json: is not valid JSON: EOF while parsing a value at line 1, column 17",
        "slappart2/bouture.json: field `instance-title` is missing",
        "slappart3/bouture.json: field `config` must be an object, found a string",
        "slappart4/bouture.json: is a symbolic link; bouture does not follow links in partitions",
        "slappart5/bouture.json: is larger than 1048576 bytes",
        "slappart6/bouture.json: is not valid UTF-8 (invalid byte at offset 21)",
        "slappart7/bouture.json: is a FIFO, not a regular file",
        "slappart8/bouture.json: is a directory, not a regular file",
        "slappart10/bouture.json: field `instance-state` is `running`; expected `started`, `stopped` or `destroyed`",
        "slappart11: is a symbolic link, not a partition directory",
        "slappart12/.slapos-resource: is a symbolic link",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in:\n{}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("slappartX") && !run.stdout.contains("other3"));
    insta::assert_snapshot!("bad_node_text", run.snapshot());

    let json = bouture(
        &[
            "inventory",
            "--cfg",
            cfg.to_str().unwrap(),
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(json.code, 0);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    insta::assert_json_snapshot!("bad_node_json", value);
}

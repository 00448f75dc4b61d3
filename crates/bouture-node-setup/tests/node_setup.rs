//! The library against real certificates (made by `openssl`), real data
//! directories, and Ganeti's own ssconf reader.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bouture_test_support::node_setup as common;

use std::fs;
use std::path::Path;

use bouture_node_setup::{
    Error, FileKind, Options, SetupInput, StartOutcome, check, setup, ssconf_contents,
};
use bouture_test_support::ganeti::ganeti_ssconf;
use common::{CLUSTER, HMAC, NODE, Pair, document, pki, snapshot};
use serde_json::{Value, json};

fn options(dir: &Path) -> Options {
    Options {
        data_dir: dir.to_path_buf(),
        ..Options::default()
    }
}

fn input(document: &Value) -> SetupInput {
    SetupInput::from_json(document.to_string().as_bytes()).unwrap()
}

fn run(dir: &Path, document: &Value) -> Result<bouture_node_setup::Report, Error> {
    let input = SetupInput::from_json(document.to_string().as_bytes())?;
    setup(&input, &options(dir))
}

/// A data directory where the node already joined with `pair`.
fn joined(pair: &Pair) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &document(&pair.pem())).unwrap();
    dir
}

/// The secrets of a document never appear in `text`.
fn assert_no_secret(text: &str, pair: &Pair) {
    assert!(!text.contains(HMAC), "hmac key in {text}");
    for line in pair.key.lines().filter(|line| !line.starts_with("-----")) {
        assert!(!text.contains(line), "private key in {text}");
    }
}

#[test]
fn joins_an_empty_data_dir_and_ganeti_reads_the_ssconf_values_sent() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let sent = document(&pair.pem());
    let report = run(dir.path(), &sent).unwrap();
    assert!(!report.dry_run);
    assert_eq!(report.start, StartOutcome::NotRequested);
    assert!(report.files.iter().all(|file| !file.replaces));

    let files = snapshot(dir.path());
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "client.pem",
            "hmac.key",
            "server.pem",
            "ssconf_cluster_name",
            "ssconf_hvparams_fake",
            "ssconf_master_ip",
            "ssconf_master_node",
            "ssconf_node_list",
            "ssconf_offline_nodes",
            "ssconf_release_version",
        ]
    );
    for (name, entry) in &files {
        let mode = if name.starts_with("ssconf_") {
            0o444
        } else {
            0o440
        };
        assert_eq!(entry.mode, mode, "{name}");
    }
    // Ganeti's writer format: a newline added when missing, none for "".
    assert_eq!(
        files["ssconf_node_list"].contents,
        b"node1.example.com\nnode2.example.com\n"
    );
    assert_eq!(
        files["ssconf_hvparams_fake"].contents,
        b"migration_mode=live\n"
    );
    assert_eq!(files["ssconf_offline_nodes"].contents, b"");
    assert_eq!(files["hmac.key"].contents, HMAC.as_bytes());
    assert_eq!(files["server.pem"].contents, pair.pem().as_bytes());

    // Ganeti's own reader gives back the values sent (it strips trailing newlines).
    let read = ganeti_ssconf(dir.path());
    for (name, value) in sent["ssconf"].as_object().unwrap() {
        assert_eq!(
            read[name],
            value.as_str().unwrap().trim_end_matches('\n'),
            "{name}"
        );
    }
    assert_eq!(read["cluster_name_getter"], CLUSTER);
    // And Ganeti's own certificate check accepts the client.pem bouture made.
    assert_eq!(read["client_pem_check"], "ok");
    assert_eq!(read.as_object().unwrap().len(), 9);

    common::assert_client_certificate(dir.path(), NODE);
}

#[test]
fn ec_cluster_certificates_and_traditional_key_encodings_sign_the_client_certificate() {
    for pair in [
        pki().pair("p256"),
        pki().pair("p384"),
        pki().rsa_pkcs1(),
        pki().p384_sec1(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        run(dir.path(), &document(&pair.pem())).unwrap();
        common::assert_client_certificate(dir.path(), NODE);
        assert_eq!(ganeti_ssconf(dir.path())["client_pem_check"], "ok");
        assert_eq!(
            fs::read_to_string(dir.path().join("server.pem")).unwrap(),
            pair.pem()
        );
    }
}

#[test]
fn joins_again_an_already_joined_node_keeping_the_previous_client_certificate() {
    let pair = pki().rsa();
    let dir = joined(&pair);
    let before = snapshot(dir.path());
    let report = run(dir.path(), &document(&pair.pem())).unwrap();
    let after = snapshot(dir.path());

    let backups: Vec<&String> = after
        .keys()
        .filter(|name| name.starts_with("client.pem.backup-"))
        .collect();
    assert_eq!(backups.len(), 1, "{:?}", after.keys());
    let backup = &after[backups[0]];
    assert_eq!(backup.contents, before["client.pem"].contents);
    assert_eq!(backup.mode, 0o600);
    assert_ne!(after["client.pem"].contents, before["client.pem"].contents);
    for (name, entry) in &before {
        if name != "client.pem" {
            assert_eq!(&after[name], entry, "{name}");
        }
    }
    let kinds: Vec<(FileKind, bool)> = report.files.iter().map(|f| (f.kind, f.replaces)).collect();
    assert_eq!(
        kinds[kinds.len() - 2],
        (FileKind::ClientCertificateBackup, false)
    );
    assert_eq!(kinds[kinds.len() - 1], (FileKind::ClientCertificate, true));
    assert!(
        kinds[..kinds.len() - 2]
            .iter()
            .all(|(_, replaces)| *replaces)
    );
    common::assert_client_certificate(dir.path(), NODE);
}

#[test]
fn dry_run_checks_everything_and_writes_nothing() {
    let pair = pki().rsa();
    for dir in [tempfile::tempdir().unwrap(), joined(&pair)] {
        let before = snapshot(dir.path());
        let mut sent = document(&pair.pem());
        sent["start_node_daemon"] = json!(true);
        let options = Options {
            dry_run: true,
            start_command: vec![format!("touch {}/started", dir.path().display())],
            ..options(dir.path())
        };
        let report = setup(&input(&sent), &options).unwrap();
        assert!(report.dry_run);
        assert_eq!(
            report.start,
            StartOutcome::WouldRun {
                command: options.start_command[0].clone()
            }
        );
        assert_eq!(snapshot(dir.path()), before);

        // And a dry run is refused like the real run.
        sent["cluster_name"] = json!("other.example.com");
        sent["ssconf"]["cluster_name"] = json!("other.example.com");
        let refused = setup(&input(&sent), &options);
        if before.is_empty() {
            refused.unwrap();
        } else {
            assert!(matches!(refused, Err(Error::ClusterNameMismatch { .. })));
        }
        assert_eq!(snapshot(dir.path()), before);
    }
}

/// One refused document: the message it must give.
struct Refusal {
    what: &'static str,
    document: Value,
    message: &'static str,
    on_joined_node: bool,
}

#[allow(clippy::too_many_lines, reason = "one table of cases")]
fn refusals(pair: &Pair) -> Vec<Refusal> {
    let base = document(&pair.pem());
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut doc = base.clone();
        edit(&mut doc);
        doc
    };
    let without = |key: &str| {
        let mut doc = base.clone();
        doc.as_object_mut().unwrap().remove(key);
        doc
    };
    let fresh = |what, document, message| Refusal {
        what,
        document,
        message,
        on_joined_node: false,
    };
    let joined = |what, document, message| Refusal {
        what,
        document,
        message,
        on_joined_node: true,
    };
    let other_cluster = with(&|d| {
        d["cluster_name"] = json!("other.example.com");
        d["ssconf"]["cluster_name"] = json!("other.example.com");
    });
    vec![
        fresh(
            "array",
            json!([1, 2]),
            "Can't parse input data: the input must be a JSON object, not an array",
        ),
        fresh(
            "unknown key",
            with(&|d| d["bogus"] = json!(1)),
            "unknown input key 'bogus'",
        ),
        fresh(
            "wrong type",
            with(&|d| d["start_node_daemon"] = json!("yes")),
            "input key 'start_node_daemon' must be a boolean, not a string",
        ),
        fresh(
            "ssconf list",
            with(&|d| d["ssconf"]["node_list"] = json!(["a", "b"])),
            "input key 'ssconf.node_list' must be a string, not an array",
        ),
        fresh(
            "ssconf not object",
            with(&|d| d["ssconf"] = json!("x")),
            "input key 'ssconf' must be an object of ssconf names to strings, not a string",
        ),
        fresh(
            "missing cluster_name",
            without("cluster_name"),
            "Cluster name must be specified (input key 'cluster_name')",
        ),
        joined(
            "other cluster",
            other_cluster,
            "Current cluster name is 'cluster.example.com'",
        ),
        fresh(
            "missing certificate",
            without("node_daemon_certificate"),
            "Node daemon certificate must be specified",
        ),
        fresh(
            "certificate only",
            with(&|d| d["node_daemon_certificate"] = json!(pair.cert)),
            "(stdin) Unable to load private key: no private key block found",
        ),
        fresh(
            "key only",
            with(&|d| d["node_daemon_certificate"] = json!(pair.key)),
            "(stdin) Unable to load certificate: no CERTIFICATE block found",
        ),
        fresh(
            "mismatched pair",
            with(&|d| d["node_daemon_certificate"] = json!(pki().mismatched().pem())),
            "(stdin) Certificate is not signed with given key",
        ),
        joined(
            "other cluster certificate",
            with(&|d| d["node_daemon_certificate"] = json!(pki().pair("other").pem())),
            "Given cluster certificate does not match local key",
        ),
        fresh(
            "missing hmac",
            with(&|d| d["hmac_key"] = json!("")),
            "Hmac key must be provided (input key 'hmac_key')",
        ),
        fresh(
            "missing ssconf",
            without("ssconf"),
            "Ssconf values must be specified (input key 'ssconf')",
        ),
        fresh(
            "empty ssconf",
            with(&|d| d["ssconf"] = json!({})),
            "Ssconf values must be specified",
        ),
        fresh(
            "invalid ssconf keys",
            with(&|d| {
                d["ssconf"]["../../etc/passwd"] = json!("x");
                d["ssconf"]["bogus_key"] = json!("y");
            }),
            "Invalid ssconf keys: ../../etc/passwd, bogus_key",
        ),
        fresh(
            "ssconf cluster name",
            with(&|d| d["ssconf"]["cluster_name"] = json!("x")),
            "Cluster name in ssconf does not match",
        ),
        fresh(
            "no ssconf cluster name",
            with(&|d| {
                d["ssconf"].as_object_mut().unwrap().remove("cluster_name");
            }),
            "Cluster name in ssconf does not match",
        ),
        fresh(
            "value too large",
            with(&|d| d["ssconf"]["instance_list"] = json!("i".repeat(131_073))),
            "Value 'instance_list' has a length of 131074 bytes, but only up to 131072 are allowed",
        ),
        fresh(
            "missing node name",
            without("node_name"),
            "No hostname found: input key 'node_name' must be specified",
        ),
        fresh(
            "node name with a space",
            with(&|d| d["node_name"] = json!("a b")),
            "input key 'node_name': 'a b' is not a host name",
        ),
    ]
}

#[test]
fn every_check_refuses_before_anything_is_written() {
    let pair = pki().rsa();
    let joined_dir = joined(&pair);
    for refusal in refusals(&pair) {
        let empty = tempfile::tempdir().unwrap();
        let dir = if refusal.on_joined_node {
            joined_dir.path()
        } else {
            empty.path()
        };
        let before = snapshot(dir);
        let error = run(dir, &refusal.document).expect_err(refusal.what);
        let message = error.to_string();
        assert!(
            message.starts_with(refusal.message),
            "{}: {message:?} does not start with {:?}",
            refusal.what,
            refusal.message
        );
        assert_no_secret(&message, &pair);
        assert_eq!(
            snapshot(dir),
            before,
            "{}: the data directory changed",
            refusal.what
        );
        assert_eq!(
            matches!(error, Error::ValueTooLarge { .. }),
            refusal.what == "value too large"
        );
    }
}

#[test]
fn duplicate_keys_and_invalid_json_are_refused_naming_the_key() {
    let pair = pki().rsa();
    let text = document(&pair.pem()).to_string();
    let top = text.replacen(
        "{\"cluster_name\"",
        "{\"node_name\":\"evil\",\"cluster_name\"",
        1,
    );
    let nested = text.replacen(
        "\"ssconf\":{",
        "\"ssconf\":{\"master_ip\":\"203.0.113.9\",",
        1,
    );
    for (document, key) in [(top, "node_name"), (nested, "master_ip")] {
        let message = SetupInput::from_json(document.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&format!("duplicate key '{key}'")),
            "{message}"
        );
    }
    let message = SetupInput::from_json(b"{not json").unwrap_err().to_string();
    assert!(
        message.starts_with("Can't parse input data: key must be a string"),
        "{message}"
    );
    let message = SetupInput::read(&b"{not json"[..]).unwrap_err().to_string();
    assert!(message.starts_with("Can't parse input data"), "{message}");
}

#[test]
fn files_in_the_way_are_refused_before_anything_is_written() {
    let pair = pki().rsa();
    let dir = joined(&pair);
    let target = dir.path().join("target");
    fs::write(&target, "elsewhere").unwrap();
    fs::remove_file(dir.path().join("ssconf_master_ip")).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("ssconf_master_ip")).unwrap();
    fs::remove_file(dir.path().join("hmac.key")).unwrap();
    let before = snapshot(dir.path());
    let message = run(dir.path(), &document(&pair.pem()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("ssconf_master_ip: it is a symbolic link"),
        "{message}"
    );
    assert_eq!(snapshot(dir.path()), before);

    fs::remove_file(dir.path().join("ssconf_master_ip")).unwrap();
    fs::create_dir(dir.path().join("hmac.key")).unwrap();
    let before = snapshot(dir.path());
    let message = run(dir.path(), &document(&pair.pem()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("hmac.key: it is a directory, not a regular file"),
        "{message}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_local_server_pem_without_a_usable_key_is_refused() {
    let pair = pki().rsa();
    let dir = joined(&pair);
    fs::write(dir.path().join("server.pem"), &pair.cert).unwrap();
    let before = snapshot(dir.path());
    let error = run(dir.path(), &document(&pair.pem())).unwrap_err();
    assert!(matches!(error, Error::LocalKey { .. }), "{error}");
    assert!(
        error.to_string().ends_with("server.pem: cannot load the local key: no private key block found (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"),
        "{error}"
    );
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn a_missing_data_dir_or_a_concurrent_run_is_refused() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let message = run(&dir.path().join("missing"), &document(&pair.pem()))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("missing: data directory cannot be used"),
        "{message}"
    );

    let lock = bouture_node_setup::DataDirLock::acquire(dir.path()).unwrap();
    let error = run(dir.path(), &document(&pair.pem())).unwrap_err();
    assert!(matches!(error, Error::Busy { .. }), "{error}");
    assert!(snapshot(dir.path()).is_empty());
    drop(lock);
    run(dir.path(), &document(&pair.pem())).unwrap();
}

#[test]
fn a_write_failure_midway_puts_back_what_was_written() {
    // Between the checks and the writes (as a concurrent change would), a
    // directory takes the place of server.pem: the ssconf files and
    // hmac.key are already replaced when its write fails. (The CLI tests
    // make a write fail with a file size limit instead.)
    let pair = pki().rsa();
    let dir = joined(&pair);
    let before = snapshot(dir.path());
    let mut sent = document(&pair.pem());
    sent["ssconf"]["master_ip"] = json!("192.0.2.99");
    let plan = check(&input(&sent), &options(dir.path())).unwrap();
    fs::remove_file(dir.path().join("server.pem")).unwrap();
    fs::create_dir(dir.path().join("server.pem")).unwrap();
    let error = plan.apply().unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("server.pem: it is a directory"),
        "{message}"
    );
    assert!(
        message.contains("were put back as they were, the data directory is unchanged"),
        "{message}"
    );
    fs::remove_dir(dir.path().join("server.pem")).unwrap();
    let mut after = snapshot(dir.path());
    after.insert("server.pem".to_owned(), before["server.pem"].clone());
    assert_eq!(after, before);
    assert_no_secret(&message, &pair);
}

#[test]
fn the_start_command_runs_with_sh_and_its_failure_is_reported_with_its_output() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let mut sent = document(&pair.pem());
    sent["start_node_daemon"] = json!(true);
    let marker = dir.path().join("started");
    let options = Options {
        start_command: vec![format!(
            "test -f {}/server.pem && touch {}",
            dir.path().display(),
            marker.display()
        )],
        ..options(dir.path())
    };
    let report = setup(&input(&sent), &options).unwrap();
    assert!(
        matches!(report.start, StartOutcome::Started { .. }),
        "{:?}",
        report.start
    );
    assert!(marker.exists());
    fs::remove_file(&marker).unwrap();

    let options = Options {
        start_command: vec!["echo stopping; echo 'noded: cannot bind' >&2; head -c 100000 /dev/zero | tr '\\0' x; echo; echo last words >&2; exit 3".to_owned()],
        ..options
    };
    let report = setup(&input(&sent), &options).unwrap();
    let StartOutcome::Failed {
        command,
        status,
        output,
        ..
    } = &report.start
    else {
        panic!("{:?}", report.start);
    };
    assert_eq!(command, &options.start_command[0]);
    assert_eq!(
        status,
        &format!("`{}`: exit status: 3", options.start_command[0])
    );
    assert!(output.ends_with("x\nlast words"), "{output}");
    assert!(output.len() <= 4096);
    assert!(report.start.failed());
}

#[test]
fn every_part_of_the_start_command_runs_and_each_status_is_reported() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let mut sent = document(&pair.pem());
    sent["start_node_daemon"] = json!(true);
    let marker = dir.path().join("last-part-ran");
    // The middle part fails, the last one succeeds: the outcome is still a
    // failure, naming the failed part (a single `sh -c 'a; b; c'` would
    // report only c's status).
    let options = Options {
        start_command: vec![
            "true".to_owned(),
            "echo noded cannot bind >&2; exit 7".to_owned(),
            format!("touch {}", marker.display()),
        ],
        ..options(dir.path())
    };
    let report = setup(&input(&sent), &options).unwrap();
    assert!(marker.exists(), "every part runs");
    let StartOutcome::Failed {
        status,
        output,
        parts,
        ..
    } = &report.start
    else {
        panic!("{:?}", report.start);
    };
    assert_eq!(
        status,
        "`echo noded cannot bind >&2; exit 7`: exit status: 7"
    );
    assert_eq!(output, "noded cannot bind");
    let statuses: Vec<(&str, bool)> = parts
        .iter()
        .map(|p| (p.status.as_str(), p.success))
        .collect();
    assert_eq!(
        statuses,
        [
            ("exit status: 0", true),
            ("exit status: 7", false),
            ("exit status: 0", true)
        ]
    );
}

#[test]
fn the_default_start_command_with_another_data_dir_is_refused_unless_asked() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let mut sent = document(&pair.pem());
    sent["start_node_daemon"] = json!(true);
    let before = snapshot(dir.path());
    let error = setup(&input(&sent), &options(dir.path())).unwrap_err();
    assert!(matches!(error, Error::SystemDaemons { .. }), "{error}");
    assert!(
        error
            .to_string()
            .contains("restarts the system's Ganeti daemons, which read /var/lib/ganeti"),
        "{error}"
    );
    assert_eq!(snapshot(dir.path()), before);
    // Asked for (dry run: the system's daemons are not touched here), the
    // report says so.
    let asked = Options {
        dry_run: true,
        restart_system_daemons: true,
        ..options(dir.path())
    };
    let report = setup(&input(&sent), &asked).unwrap();
    assert!(report.restarts_system_daemons);
    // Not asked to start the daemons: nothing to refuse.
    sent["start_node_daemon"] = json!(false);
    assert!(setup(&input(&sent), &options(dir.path())).is_ok());
}

#[test]
fn any_reader_gives_the_document_and_the_defaults_are_the_clis() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let text = document(&pair.pem()).to_string();
    let report =
        bouture_node_setup::setup_from_reader(text.as_bytes(), &options(dir.path())).unwrap();
    assert!(!report.dry_run);
    let defaults = Options::default();
    assert_eq!(
        defaults.cluster_file_owner,
        bouture_node_setup::masterd_owner(Path::new("/etc"))
    );
    assert_eq!(
        defaults.start_command,
        bouture_node_setup::default_start_command()
    );
    let owner = |name: &str| {
        let meta = fs::metadata(dir.path().join(name)).unwrap();
        Some((
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta),
        ))
    };
    if let Some(expected) = defaults.cluster_file_owner {
        assert_eq!(owner("hmac.key"), Some(expected));
        assert_eq!(owner("server.pem"), Some(expected));
    }
}

#[test]
fn debug_output_never_shows_secrets() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    let input = input(&document(&pair.pem()));
    let plan = check(&input, &options(dir.path())).unwrap();
    let debug = format!(
        "{input:?} {plan:?} {:?}",
        setup(&input, &options(dir.path())).unwrap()
    );
    assert_no_secret(&debug, &pair);
    let client = fs::read_to_string(dir.path().join("client.pem")).unwrap();
    for line in client
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .take(3)
    {
        assert!(!debug.contains(line));
    }
}

#[test]
fn ssconf_contents_are_ganetis() {
    assert_eq!(ssconf_contents(""), "");
    assert_eq!(ssconf_contents("a"), "a\n");
    assert_eq!(ssconf_contents("a\n"), "a\n");
    assert_eq!(ssconf_contents("a\n\n"), "a\n\n");
}

#[test]
fn the_report_is_stable() {
    let pair = pki().rsa();
    let dir = tempfile::tempdir().unwrap();
    // The process's own owner: gnt-masterd's ids differ between machines.
    let options = Options {
        cluster_file_owner: None,
        ..options(dir.path())
    };
    let report = setup(&input(&document(&pair.pem())), &options).unwrap();
    let root = dir.path().to_str().unwrap();
    // Its text is the `bouture` command's (issue 23: renderers live in the
    // CLI), snapshotted by bouture-cli's node_setup tests.
    let mut json = serde_json::to_value(&report).unwrap();
    // PEM sizes vary with the keys made for the test.
    for file in json["files"].as_array_mut().unwrap() {
        if file["kind"] == "server_certificate" || file["kind"] == "client_certificate" {
            assert!(file["bytes"].as_u64().unwrap() > 1500);
            file["bytes"] = json!("[PEM SIZE]");
        }
    }
    insta::with_settings!({filters => vec![(root, "[DATA_DIR]")]}, {
        insta::assert_json_snapshot!("report_json", json);
    });
}

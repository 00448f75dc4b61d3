//! The toolkit as an embedder uses it: through the `bouture` facade crate.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use bouture_test_support::demo_node;

use bouture::node::{BoutureStatus, InstanceState, Inventory, NodeConfig};

#[test]
fn scans_the_demo_node_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_node::materialize_demo_node(dir.path());

    let config = NodeConfig::load(&cfg).unwrap();
    assert_eq!(config.computer_id.as_str(), "COMP-DEMO");
    // [networkcache] is not merged into the node options, [slapformat] is; a
    // multi-line value starting on its key line keeps that empty first line.
    assert_eq!(config.option("tap_base_name"), Some("slaptap"));
    assert_eq!(
        config
            .document
            .get_raw("networkcache", "download-from-binary-cache-url-blacklist"),
        Some("\nhttps://lab.nexedi.com/nexedi/slapos/raw/master\n/")
    );

    let inventory = Inventory::scan(&config).unwrap();
    let ids: Vec<&str> = inventory.partitions.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["slappart0", "slappart1", "slappart2", "slappart10"]);
    assert_eq!(
        inventory.computer.address,
        Some("10.0.100.1".parse().unwrap())
    );

    let totals = inventory.totals();
    assert_eq!(
        (totals.valid, totals.invalid, totals.not_opted_in),
        (3, 0, 1)
    );

    let BoutureStatus::Valid(monitor) = &inventory.partitions[3].bouture else {
        panic!("slappart10 should be valid");
    };
    assert_eq!(monitor.instance_state, InstanceState::Started);
    assert_eq!(monitor.config["port"], 8080);
    assert_eq!(monitor.config["note"], "line one\nline two");
    assert_eq!(inventory.partitions[3].interface(), Some("slappart10"));
    assert_eq!(inventory.partitions[2].addresses().len(), 1);
}

#[test]
fn plans_a_multiboot_disk_through_the_facade() {
    use bouture::multiboot::{Plan, PlanOptions, Provision};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provision.json");
    std::fs::write(
        &path,
        include_str!("../../crates/bouture-multiboot/tests/fixtures/provision.two-disks.json"),
    )
    .unwrap();
    let provision = Provision::read(&path).unwrap();
    let options = PlanOptions {
        uuid_seed: Some("facade".into()),
    };
    let plan = Plan::resolve(&provision, &options).unwrap();
    assert!(plan.multiboot);
    assert_eq!(plan.disks.len(), 2);
    assert_eq!(plan.images.len(), 2);

    // An unreadable document is a read error naming the file, not a finding.
    let missing = dir.path().join("missing.json");
    match Provision::read(&missing) {
        Err(bouture::multiboot::Error::Read(error)) => assert_eq!(error.path(), missing),
        other => panic!("expected a read error, got {other:?}"),
    }
    std::fs::write(&path, b"{\"images\": [], \"images\": []}").unwrap();
    assert!(matches!(
        Provision::read(&path),
        Err(bouture::multiboot::Error::Invalid(_))
    ));
}

#[test]
fn a_cluster_merge_naming_one_cluster_twice_is_refused_before_anything_runs() {
    use bouture::cluster_merge::{Error, Options, Quiet, SshOptions, SystemExecutor};
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Options::new(
        vec!["b.example.com".to_owned(), "B.example.com.".to_owned()],
        dir.path().join("state"),
    );
    settings.dry_run = true;
    let mut executor = SystemExecutor::new(SshOptions::default());
    let error = bouture::cluster_merge::run(&settings, &mut executor, &mut Quiet).unwrap_err();
    assert!(matches!(error, Error::Duplicate { .. }), "{error}");
    assert!(
        !dir.path().join("state").exists(),
        "a dry run writes nothing"
    );
}

#[test]
fn reads_no_offline_changes_through_the_facade() {
    let dir = tempfile::tempdir().unwrap();
    let switchfile = dir.path().join("SWITCHFILE");
    assert_eq!(
        bouture::offline_changes::changes_path(&switchfile),
        dir.path().join("SWITCHFILE.changes")
    );
    assert!(
        bouture::offline_changes::read_changes(&switchfile)
            .unwrap()
            .is_none(),
        "no changes file, no changes"
    );
}

#[path = "../../examples/graft.rs"]
#[allow(unreachable_pub)]
mod graft_example;

#[path = "../../examples/status.rs"]
#[allow(unreachable_pub)]
mod status_example;

#[test]
fn the_graft_example_grafts_the_node_onto_a_real_proxy_holding_the_lock() {
    use bouture_test_support::SlapProxy;
    use bouture_test_support::node::{TestNode, TestPartition};
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-EXAMPLE")
        .partition(TestPartition::new(0).instance("Main", "started"))
        .partition(TestPartition::new(1))
        .write();
    let proxy = SlapProxy::start("COMP-EXAMPLE").unwrap();
    // Another graft of the node holds the lock: the example waits for it.
    let lock = bouture::graft::NodeLock::acquire(
        &node.instance_root,
        std::time::Duration::ZERO,
        &mut |_, _| {},
    )
    .unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(lock);
    });
    let started = std::time::Instant::now();
    assert_eq!(graft_example::run(&node.cfg, proxy.url()).unwrap(), 1);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(500),
        "it waited for the lock"
    );
    releaser.join().unwrap();
}

#[test]
fn the_status_example_reads_what_bouture_status_reports() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = demo_node::materialize_demo_node(dir.path());
    let line = status_example::run(&cfg, &dir.path().join("bouture-switch")).unwrap();
    assert!(line.starts_with("following the original master "), "{line}");
    assert!(line.ends_with("; 0 change(s) to carry back"), "{line}");
}

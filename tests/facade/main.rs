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

//! bouture-core against real files: the node configuration, ids, a partition's
//! `.slapos-resource` and `bouture.json`, and the scan of an instance root,
//! with the inputs a node may hold by mistake or malice (links, FIFOs,
//! oversized files, duplicate keys, invalid text).

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use bouture_core::{
    BOUTURE_FILE_SIZE_LIMIT, BoutureFile, BoutureStatus, ComputerAddress, ComputerId, Error,
    FileError, FileErrorKind, InstanceState, Inventory, InventoryTotals, NODE_CONFIG_SIZE_LIMIT,
    NodeConfig, NodeConfigError, PartitionId, PartitionResource, RESOURCE_FILE_SIZE_LIMIT,
    ResourceStatus, ScanError,
};
use bouture_test_support::mkfifo;

const BOUTURE_EXAMPLE: &[u8] = include_bytes!("fixtures/bouture.json.example");
const RESOURCE_EXAMPLE: &[u8] = include_bytes!("fixtures/slapos-resource.example");

/// Run `f` in a thread and fail if it does not return within 10 s: a read that
/// blocks on a FIFO fails the test instead of hanging it.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("{what} blocked (a FIFO must never be opened for reading)"))
}

/// A file of `len` bytes (sparse: its size is what matters).
fn oversized(path: &Path, len: u64) {
    fs::File::create(path).unwrap().set_len(len).unwrap();
}

// ---------------------------------------------------------------------------
// The node configuration

fn parse(text: &str) -> Result<NodeConfig, NodeConfigError> {
    NodeConfig::parse("/etc/opt/slapos/slapos.cfg", text)
}

#[test]
fn node_config_merges_slapformat_and_slapos_as_slapos_does() {
    let config = parse(
        "[DEFAULT]\nroot = /srv\n\n\
         [slapformat]\ncomputer_json = %(root)s/computer.json\npartition_base_name = part\n\
         master_url = http://format.invalid\n\n\
         [slapos]\ncomputer_id = COMP-42\ninstance_root = %(root)s/slapgrid\n\
         Master_URL = https://master.invalid\n",
    )
    .unwrap();
    assert_eq!(config.computer_id.as_str(), "COMP-42");
    // [DEFAULT] is inherited and interpolated.
    assert_eq!(config.instance_root, Path::new("/srv/slapgrid"));
    assert_eq!(
        config.computer_json,
        Some(PathBuf::from("/srv/computer.json"))
    );
    assert_eq!(config.partition_base_name, "part");
    // [slapos] wins over [slapformat]; option names are case-insensitive.
    assert_eq!(config.master_url.as_deref(), Some("https://master.invalid"));
    assert_eq!(config.option("MASTER_URL"), Some("https://master.invalid"));
    assert_eq!(config.option("root"), Some("/srv"));
    assert_eq!(config.option("nothing"), None);
}

#[test]
fn node_config_defaults_and_computer_json_only_from_slapformat() {
    let config = parse(
        "[slapos]\ncomputer_id = COMP-1\ninstance_root = /srv/slapgrid\n\
         computer_json = /elsewhere.json\n",
    )
    .unwrap();
    assert_eq!(config.partition_base_name, "slappart");
    assert_eq!(config.master_url, None);
    // `slapos node format` reads computer_json from [slapformat] only.
    assert_eq!(config.computer_json, None);
    assert_eq!(
        config.computer_address().unwrap(),
        ComputerAddress::default()
    );
}

#[test]
fn node_config_says_what_is_missing_or_wrong() {
    let message = |text: &str| parse(text).unwrap_err().to_string();
    assert_eq!(
        message("[slapformat]\ncomputer_id = C\n"),
        "node configuration /etc/opt/slapos/slapos.cfg: there is no [slapos] section; add it"
    );
    assert_eq!(
        message("[slapos]\ninstance_root = /srv/slapgrid\n"),
        "node configuration /etc/opt/slapos/slapos.cfg: option `computer_id` is missing or empty \
         in [slapos]; set it (e.g. `computer_id = COMP-1234`)"
    );
    // An empty value counts as missing, as for slapos.
    assert!(
        message("[slapos]\ncomputer_id =\ninstance_root = /srv/slapgrid\n")
            .contains("option `computer_id` is missing or empty")
    );
    assert!(message("[slapos]\ncomputer_id = C\n").contains("option `instance_root` is missing"),);
    assert!(matches!(
        parse("[slapos]\ncomputer_id = C\ninstance_root = /s\npartition_base_name = a/b\n"),
        Err(NodeConfigError::InvalidOption {
            option: "partition_base_name",
            ..
        })
    ));
    assert!(matches!(
        parse("[slapos]\ncomputer_id = C\ncomputer_id = D\ninstance_root = /s\n"),
        Err(NodeConfigError::Syntax { .. })
    ));
    assert!(matches!(
        parse("not an ini file"),
        Err(NodeConfigError::Syntax { .. })
    ));
}

#[test]
fn node_config_load_follows_a_link_but_reads_only_a_bounded_regular_utf8_file() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.cfg");
    fs::write(
        &real,
        "[slapos]\ncomputer_id = COMP-L\ninstance_root = /srv\n",
    )
    .unwrap();
    // The node's administrator may link it (e.g. from /etc): followed.
    let link = dir.path().join("slapos.cfg");
    symlink(&real, &link).unwrap();
    let config = NodeConfig::load(&link).unwrap();
    assert_eq!(config.computer_id.as_str(), "COMP-L");
    assert_eq!(config.path, link);

    let read_kind = |path: PathBuf| match within("loading the node configuration", move || {
        NodeConfig::load(path)
    }) {
        Err(NodeConfigError::Read(FileError { kind, .. })) => kind,
        other => panic!("expected a read error, got {other:?}"),
    };
    let fifo = dir.path().join("fifo.cfg");
    mkfifo(&fifo).unwrap();
    assert!(matches!(read_kind(fifo), FileErrorKind::NotRegular { .. }));
    assert!(matches!(
        read_kind(dir.path().to_path_buf()),
        FileErrorKind::NotRegular { .. }
    ));
    let big = dir.path().join("big.cfg");
    oversized(&big, NODE_CONFIG_SIZE_LIMIT + 1);
    assert!(matches!(
        read_kind(big),
        FileErrorKind::TooLarge { limit } if limit == NODE_CONFIG_SIZE_LIMIT
    ));
    let latin1 = dir.path().join("latin1.cfg");
    fs::write(&latin1, b"[slapos]\ncomputer_id = caf\xe9\n").unwrap();
    assert!(matches!(
        read_kind(latin1),
        FileErrorKind::NotUtf8 { offset: 26 }
    ));
    let missing = read_kind(dir.path().join("missing.cfg"));
    assert!(matches!(missing, FileErrorKind::Io { .. }), "{missing:?}");
}

fn config_with_computer_json(dir: &Path, json: Option<&[u8]>) -> NodeConfig {
    let path = dir.join("computer.json");
    if let Some(json) = json {
        fs::write(&path, json).unwrap();
    }
    parse(&format!(
        "[slapformat]\ncomputer_json = {}\n[slapos]\ncomputer_id = C\ninstance_root = {}\n",
        path.display(),
        dir.display()
    ))
    .unwrap()
}

#[test]
fn computer_json_gives_the_address_and_refuses_what_it_cannot_read_one_way() {
    let dir = tempfile::tempdir().unwrap();
    // Named but not written yet (before the first `slapos node format`): no address.
    let config = config_with_computer_json(dir.path(), None);
    assert_eq!(
        config.computer_address().unwrap(),
        ComputerAddress::default()
    );

    let config = config_with_computer_json(
        dir.path(),
        Some(br#"{"address": "10.0.0.5", "netmask": "255.255.255.0", "partition_list": []}"#),
    );
    let address = config.computer_address().unwrap();
    assert_eq!(address.address, Some("10.0.0.5".parse().unwrap()));
    assert_eq!(address.netmask, Some("255.255.255.0".parse().unwrap()));

    let problem = |json: &[u8]| {
        config_with_computer_json(dir.path(), Some(json))
            .computer_address()
            .unwrap_err()
            .to_string()
    };
    assert!(
        problem(br#"{"address": "10.0.0.500"}"#)
            .ends_with("field `address` is `10.0.0.500`, not an IPv4 or IPv6 address"),
    );
    // The same key twice: serde would keep the first, Python the last.
    let duplicate = problem(br#"{"address": "10.0.0.5", "address": "10.0.0.6"}"#);
    assert!(
        duplicate.contains("is not valid JSON: duplicate key \"address\" at line 1"),
        "{duplicate}"
    );
}

// ---------------------------------------------------------------------------
// Ids

#[test]
fn computer_ids_are_never_empty() {
    assert_eq!(
        "COMP-1".parse::<ComputerId>().unwrap().to_string(),
        "COMP-1"
    );
    for bad in ["", "  \t"] {
        let error = bad.parse::<ComputerId>().unwrap_err();
        assert_eq!(error.what, "computer id");
        assert_eq!(error.problem, "it is empty");
    }
    // Deserialising checks too.
    assert!(serde_json::from_str::<ComputerId>("\"\"").is_err());
    let id: ComputerId = serde_json::from_str("\"COMP-9\"").unwrap();
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"COMP-9\"");
}

#[test]
fn partition_ids_are_a_base_and_a_number_and_sort_by_number() {
    let id: PartitionId = "slappart10".parse().unwrap();
    assert_eq!((id.as_str(), id.number()), ("slappart10", 10));
    let mut ids: Vec<PartitionId> = ["slappart10", "slappart2", "slappart0", "slappart02"]
        .iter()
        .map(|name| name.parse().unwrap())
        .collect();
    ids.sort();
    let names: Vec<&str> = ids.iter().map(PartitionId::as_str).collect();
    assert_eq!(
        names,
        ["slappart0", "slappart02", "slappart2", "slappart10"]
    );

    assert_eq!(
        "slappart".parse::<PartitionId>().unwrap_err().to_string(),
        "`slappart` is not a valid partition id: it must end with a number"
    );
    for bad in [
        "",
        "12",
        "a/b1",
        "slappart1/",
        "slappart99999999999999999999999",
    ] {
        assert!(bad.parse::<PartitionId>().is_err(), "{bad}");
    }
    assert_eq!(
        PartitionId::with_base("slappart3", "slappart")
            .unwrap()
            .number(),
        3
    );
    for name in [
        "slappart",
        "slappartx",
        "part3",
        "slappart+3",
        "slappart 3",
        "slappart٣",
    ] {
        assert!(PartitionId::with_base(name, "slappart").is_none(), "{name}");
    }
    assert!(serde_json::from_str::<PartitionId>("\"nonumber\"").is_err());
}

// ---------------------------------------------------------------------------
// A partition's files

fn load_kind<T: std::fmt::Debug + Send + 'static>(
    what: &str,
    load: fn(&Path) -> Result<T, FileError>,
    path: PathBuf,
) -> FileErrorKind {
    let result = within(what, move || load(&path));
    result.unwrap_err().kind
}

fn load_resource(path: &Path) -> Result<PartitionResource, FileError> {
    PartitionResource::load(path)
}

fn load_bouture(path: &Path) -> Result<BoutureFile, FileError> {
    BoutureFile::load(path)
}

/// The same hostile files for both per-partition files: a link (to a valid
/// file), a FIFO, a directory, an oversized file, invalid UTF-8.
fn refuses_hostile_files<T: std::fmt::Debug + Send + 'static>(
    what: &str,
    load: fn(&Path) -> Result<T, FileError>,
    valid: &[u8],
    limit: u64,
) {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    fs::write(&real, valid).unwrap();
    load(&real).unwrap();
    let link = dir.path().join("link");
    symlink(&real, &link).unwrap();
    assert!(matches!(
        load_kind(what, load, link),
        FileErrorKind::Symlink
    ));
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo).unwrap();
    let kind = load_kind(what, load, fifo);
    assert_eq!(kind.to_string(), "is a FIFO, not a regular file");
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    assert!(matches!(
        load_kind(what, load, sub),
        FileErrorKind::NotRegular { .. }
    ));
    let big = dir.path().join("big");
    oversized(&big, limit + 1);
    assert!(matches!(
        load_kind(what, load, big),
        FileErrorKind::TooLarge { limit: l } if l == limit
    ));
    let latin1 = dir.path().join("latin1");
    fs::write(&latin1, b"{\"caf\xe9\": 1}").unwrap();
    assert!(matches!(
        load_kind(what, load, latin1),
        FileErrorKind::NotUtf8 { offset: 5 }
    ));
}

#[test]
fn slapos_resource_refuses_links_fifos_directories_oversized_and_invalid_text() {
    refuses_hostile_files(
        ".slapos-resource",
        load_resource,
        RESOURCE_EXAMPLE,
        RESOURCE_FILE_SIZE_LIMIT,
    );
}

#[test]
fn bouture_json_refuses_links_fifos_directories_oversized_and_invalid_text() {
    refuses_hostile_files(
        "bouture.json",
        load_bouture,
        BOUTURE_EXAMPLE,
        BOUTURE_FILE_SIZE_LIMIT,
    );
}

#[test]
fn slapos_resource_tap_and_address_fields() {
    let parse = |json: &str| PartitionResource::parse(json.as_bytes());
    let resource = parse(r#"{"address_list": [], "tap": null}"#).unwrap();
    assert_eq!((resource.addresses.len(), resource.tap_name), (0, None));
    assert_eq!(
        parse(r#"{"address_list": [], "tap": {"name": ""}}"#)
            .unwrap()
            .tap_name,
        None
    );
    let problem = |json: &str| parse(json).unwrap_err().to_string();
    assert_eq!(problem("{}"), "field `address_list` is missing");
    assert_eq!(
        problem(r#"{"address_list": [], "tap": "slaptap0"}"#),
        "field `tap` must be an object or null"
    );
    assert_eq!(
        problem(r#"{"address_list": [], "tap": {"name": 3}}"#),
        "field `tap.name` must be a string"
    );
    assert_eq!(
        problem(
            r#"{"address_list": [{"addr": "10.0.0.1", "addr": "10.0.0.2", "netmask": "255.0.0.0"}]}"#
        ),
        "is not valid JSON: duplicate key \"addr\" at line 1, column 45"
    );
}

#[test]
fn bouture_json_refuses_a_duplicate_key_at_any_depth() {
    let problem = |json: &str| BoutureFile::parse(json.as_bytes()).unwrap_err();
    let example = std::str::from_utf8(BOUTURE_EXAMPLE).unwrap();
    // At the top level: the instance would be requested with one state by
    // bouture and read with the other by Python.
    let top = example.replacen(
        "\"instance-state\": \"started\"",
        "\"instance-state\": \"started\", \"instance-state\": \"destroyed\"",
        1,
    );
    assert_ne!(top, example, "the fixture has an instance-state");
    let kind = problem(&top);
    assert!(
        matches!(&kind, FileErrorKind::InvalidJson { message, .. }
            if message == "duplicate key \"instance-state\""),
        "{kind:?}"
    );
    // Inside the instance parameters and inside a shared instance.
    assert!(
        problem(r#"{"config": {"_": "a", "_": "b"}}"#)
            .to_string()
            .contains("duplicate key \"_\"")
    );
    assert!(
        problem(r#"{"shared-list": [{"slave-title": "a", "slave-title": "b"}]}"#)
            .to_string()
            .contains("duplicate key \"slave-title\"")
    );
    // The key is echoed bounded.
    let long = "k".repeat(100_000);
    let message = problem(&format!("{{\"{long}\": 1, \"{long}\": 2}}")).to_string();
    assert!(message.len() < 300, "{} bytes", message.len());
    assert!(message.contains("duplicate key \"kkkk"), "{message}");
}

#[test]
fn bouture_json_keeps_unknown_keys_and_the_parameters_as_written() {
    let file = BoutureFile::parse(
        br#"{"software-url": "https://sr.invalid/software.cfg", "software-type": "",
            "instance-title": "T", "instance-state": "stopped", "config": {"b": 1, "a": {"z": [1.50]}},
            "shared-list": [], "future-key": {"x": null}}"#,
    )
    .unwrap();
    assert_eq!(file.instance_state, InstanceState::Stopped);
    assert_eq!(file.software_type, "");
    assert_eq!(
        serde_json::to_string(&file.config).unwrap(),
        r#"{"b":1,"a":{"z":[1.5]}}"#
    );
    assert_eq!(
        serde_json::to_string(&file.other_keys).unwrap(),
        r#"{"future-key":{"x":null}}"#
    );
    let problem = |json: &str| BoutureFile::parse(json.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        problem(
            r#"{"software-url": "", "software-type": "", "instance-title": "T",
                "instance-state": "started", "config": {}, "shared-list": []}"#
        ),
        "field `software-url` is empty"
    );
}

// ---------------------------------------------------------------------------
// The scan

fn write_partition(root: &Path, name: &str, resource: Option<&[u8]>, bouture: Option<&[u8]>) {
    let dir = root.join(name);
    fs::create_dir(&dir).unwrap();
    if let Some(resource) = resource {
        fs::write(dir.join(".slapos-resource"), resource).unwrap();
    }
    if let Some(bouture) = bouture {
        fs::write(dir.join("bouture.json"), bouture).unwrap();
    }
}

fn node(root: &Path) -> NodeConfig {
    parse(&format!(
        "[slapos]\ncomputer_id = COMP-SCAN\ninstance_root = {}\n",
        root.display()
    ))
    .unwrap()
}

// One instance root with every kind of partition, checked entry by entry.
#[allow(clippy::too_many_lines)]
#[test]
fn scan_lists_every_partition_in_number_order_with_what_is_wrong_with_each() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let elsewhere = tempfile::tempdir().unwrap();
    write_partition(
        root,
        "slappart0",
        Some(RESOURCE_EXAMPLE),
        Some(BOUTURE_EXAMPLE),
    );
    write_partition(root, "slappart1", Some(RESOURCE_EXAMPLE), None);
    write_partition(root, "slappart2", None, Some(br#"{"a": 1, "a": 2}"#));
    write_partition(root, "slappart10", Some(b"{}"), Some(BOUTURE_EXAMPLE));
    // A partition whose bouture.json is a link to a valid file elsewhere, one
    // whose bouture.json is a FIFO nobody writes to.
    write_partition(root, "slappart4", Some(RESOURCE_EXAMPLE), None);
    fs::write(elsewhere.path().join("bouture.json"), BOUTURE_EXAMPLE).unwrap();
    symlink(
        elsewhere.path().join("bouture.json"),
        root.join("slappart4/bouture.json"),
    )
    .unwrap();
    write_partition(root, "slappart5", Some(RESOURCE_EXAMPLE), None);
    mkfifo(&root.join("slappart5/bouture.json")).unwrap();
    // A partition that is a file, one that is a link to a directory.
    fs::write(root.join("slappart3"), b"").unwrap();
    write_partition(
        elsewhere.path(),
        "slappart6",
        Some(RESOURCE_EXAMPLE),
        Some(BOUTURE_EXAMPLE),
    );
    symlink(elsewhere.path().join("slappart6"), root.join("slappart6")).unwrap();
    // Not partitions: ignored.
    write_partition(root, "other", None, Some(b"not json"));
    write_partition(root, "slappartx", None, Some(b"not json"));

    let config = node(root);
    let inventory = within("the scan", move || Inventory::scan(&config)).unwrap();
    let names: Vec<&str> = inventory.partitions.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        names,
        [
            "slappart0",
            "slappart1",
            "slappart2",
            "slappart3",
            "slappart4",
            "slappart5",
            "slappart6",
            "slappart10"
        ]
    );
    assert_eq!(inventory.computer.computer_id.as_str(), "COMP-SCAN");
    let by_name = |name: &str| {
        inventory
            .partitions
            .iter()
            .find(|p| p.id.as_str() == name)
            .unwrap()
    };
    let bouture_problem = |name: &str| match &by_name(name).bouture {
        BoutureStatus::Invalid(error) => error.kind.to_string(),
        other => panic!("{name}: {other:?}"),
    };

    let p0 = by_name("slappart0");
    assert!(
        matches!(&p0.bouture, BoutureStatus::Valid(f) if f.instance_title == "ORS Core Network")
    );
    assert_eq!(p0.interface(), Some("slaptap3"));
    assert_eq!(p0.addresses().len(), 2);
    assert!(p0.is_opted_in());

    let p1 = by_name("slappart1");
    assert!(matches!(p1.bouture, BoutureStatus::NotOptedIn));
    assert!(!p1.is_opted_in());

    let p2 = by_name("slappart2");
    assert!(
        matches!(&p2.resource, ResourceStatus::Missing { path } if path.ends_with("slappart2/.slapos-resource"))
    );
    assert_eq!(p2.interface(), None);
    assert!(bouture_problem("slappart2").contains("duplicate key \"a\""));

    assert!(bouture_problem("slappart3").contains("not a partition directory"));
    assert!(matches!(
        by_name("slappart3").resource,
        ResourceStatus::Invalid(_)
    ));
    assert!(bouture_problem("slappart4").starts_with("is a symbolic link"));
    assert_eq!(
        bouture_problem("slappart5"),
        "is a FIFO, not a regular file"
    );
    assert_eq!(
        bouture_problem("slappart6"),
        "is a symbolic link, not a partition directory"
    );
    let p10 = by_name("slappart10");
    assert!(
        matches!(&p10.resource, ResourceStatus::Invalid(e) if e.kind.to_string() == "field `address_list` is missing")
    );
    assert!(matches!(p10.bouture, BoutureStatus::Valid(_)));

    let InventoryTotals {
        partitions,
        valid,
        invalid,
        not_opted_in,
        ..
    } = inventory.totals();
    assert_eq!((partitions, valid, invalid, not_opted_in), (8, 2, 5, 1));
}

#[test]
fn scan_of_an_unreadable_instance_root_says_which_option_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = node(&dir.path().join("missing"));
    let error = Inventory::scan(&config).unwrap_err();
    assert!(matches!(error, Error::Scan(ScanError::InstanceRoot { .. })));
    assert!(
        error
            .to_string()
            .ends_with("check `instance_root` in the node configuration"),
        "{error}"
    );
}

#[test]
fn scan_as_json_is_the_inventory_shape() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_partition(
        root,
        "slappart0",
        Some(RESOURCE_EXAMPLE),
        Some(BOUTURE_EXAMPLE),
    );
    write_partition(root, "slappart1", None, Some(b"[]"));
    let json = serde_json::to_string_pretty(&Inventory::scan(&node(root)).unwrap()).unwrap();
    let json = json.replace(root.to_str().unwrap(), "[root]");
    insta::assert_snapshot!(json);
}

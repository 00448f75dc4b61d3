//! Throw-away SlapOS nodes for tests: an instance root with partitions, each
//! with a `.slapos-resource` and, when opted in, a `bouture.json`.
//!
//! ```no_run
//! use bouture_test_support::node::{TestNode, TestPartition};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let node = TestNode::new(dir.path(), "COMP-T")
//!     .partition(TestPartition::new(0).dual_stack().instance("main", "started"))
//!     .partition(TestPartition::new(2).ipv6_only())
//!     .write();
//! assert!(node.cfg.exists());
//! ```

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The software release the test instances use unless told otherwise.
pub const TEST_SOFTWARE_URL: &str = "https://lab.example.invalid/software/test/software.cfg";

/// A node being built.
#[derive(Debug, Clone)]
pub struct TestNode {
    root: PathBuf,
    computer_id: String,
    address: Option<(String, String)>,
    partitions: Vec<TestPartition>,
}

/// One partition of a [`TestNode`].
#[derive(Debug, Clone)]
pub struct TestPartition {
    /// Its number (`slappart<number>`).
    pub number: u32,
    /// `(addr, netmask)` pairs of its `.slapos-resource`.
    pub addresses: Vec<(String, String)>,
    /// Its tap name (empty: none).
    pub tap: String,
    /// Its `bouture.json`, as raw bytes (`None`: not opted in).
    pub bouture: Option<Vec<u8>>,
    /// Whether it has a `.timestamp` file.
    pub timestamp: bool,
    /// Whether it has a `.slapos-resource`.
    pub resource: bool,
}

/// A node written to disk.
#[derive(Debug, Clone)]
pub struct WrittenNode {
    /// The node configuration file.
    pub cfg: PathBuf,
    /// The instance root.
    pub instance_root: PathBuf,
    /// The computer id.
    pub computer_id: String,
    /// The partitions as built.
    pub partitions: Vec<TestPartition>,
}

impl TestNode {
    /// A node under `root` with this computer id.
    pub fn new(root: &Path, computer_id: &str) -> Self {
        Self {
            root: root.to_path_buf(),
            computer_id: computer_id.to_string(),
            address: None,
            partitions: Vec::new(),
        }
    }

    /// Record the computer's own address in a `computer_json` file.
    #[must_use]
    pub fn address(mut self, addr: &str, netmask: &str) -> Self {
        self.address = Some((addr.to_string(), netmask.to_string()));
        self
    }

    /// Add a partition.
    #[must_use]
    pub fn partition(mut self, partition: TestPartition) -> Self {
        self.partitions.push(partition);
        self
    }

    /// Write the node: `<root>/slapos.cfg`, `<root>/srv/slappart<N>/…`.
    ///
    /// # Panics
    ///
    /// When a file cannot be written (this is test code).
    pub fn write(self) -> WrittenNode {
        let instance_root = self.root.join("srv");
        fs::create_dir_all(&instance_root).expect("create the instance root");
        let mut cfg = format!(
            "[slapos]\ncomputer_id = {}\nmaster_url = http://master.invalid/\ninstance_root = {}\n\n[slapformat]\npartition_base_name = slappart\n",
            self.computer_id,
            instance_root.display()
        );
        if let Some((addr, netmask)) = &self.address {
            let path = self.root.join("computer.json");
            let body = json!({"reference": self.computer_id, "address": addr, "netmask": netmask});
            fs::write(&path, body.to_string()).expect("write computer.json");
            let _ = writeln!(cfg, "computer_json = {}", path.display());
        }
        for partition in &self.partitions {
            partition.write(&instance_root);
        }
        let cfg_path = self.root.join("slapos.cfg");
        fs::write(&cfg_path, cfg).expect("write slapos.cfg");
        WrittenNode {
            cfg: cfg_path,
            instance_root,
            computer_id: self.computer_id,
            partitions: self.partitions,
        }
    }
}

impl TestPartition {
    /// `slappart<number>` with one IPv4 and one IPv6 address and tap `slaptap<number>`, not opted in.
    pub fn new(number: u32) -> Self {
        Self {
            number,
            addresses: Vec::new(),
            tap: format!("slaptap{number}"),
            bouture: None,
            timestamp: true,
            resource: true,
        }
        .dual_stack()
    }

    /// The partition id.
    pub fn id(&self) -> String {
        format!("slappart{}", self.number)
    }

    /// One IPv4 (`/24`) and one IPv6 (`/64`) address.
    #[must_use]
    pub fn dual_stack(mut self) -> Self {
        let n = self.number;
        self.addresses = vec![
            (
                format!("10.0.{}.{}", n / 200, n % 200 + 10),
                "255.255.255.0".into(),
            ),
            (
                format!("2001:db8:{n:x}::{:x}", n + 10),
                "ffff:ffff:ffff:ffff::".into(),
            ),
        ];
        self
    }

    /// Only an IPv6 address.
    #[must_use]
    pub fn ipv6_only(mut self) -> Self {
        let n = self.number;
        self.addresses = vec![(
            format!("2001:db8:{n:x}::{:x}", n + 10),
            "ffff:ffff:ffff:ffff::".into(),
        )];
        self
    }

    /// No tap interface (the master records the partition id as interface).
    #[must_use]
    pub fn without_tap(mut self) -> Self {
        self.tap = String::new();
        self
    }

    /// Without a `.slapos-resource`.
    #[must_use]
    pub fn without_resource(mut self) -> Self {
        self.resource = false;
        self
    }

    /// Opt in with an instance of this title and state, parameters `{"_": "{\"n\": <number>}"}`.
    #[must_use]
    pub fn instance(self, title: &str, state: &str) -> Self {
        let config = json!({"_": format!("{{\"n\": {}}}", self.number)});
        self.bouture_value(&bouture_json(title, state, &config, &[]))
    }

    /// Opt in with this `bouture.json` value.
    #[must_use]
    pub fn bouture_value(mut self, value: &Value) -> Self {
        self.bouture = Some(value.to_string().into_bytes());
        self
    }

    /// Opt in with these raw `bouture.json` bytes.
    #[must_use]
    pub fn bouture_bytes(mut self, bytes: &[u8]) -> Self {
        self.bouture = Some(bytes.to_vec());
        self
    }

    fn write(&self, instance_root: &Path) {
        let dir = instance_root.join(self.id());
        fs::create_dir_all(&dir).expect("create the partition");
        if self.resource {
            let resource = json!({
                "address_list": self.addresses.iter().map(|(addr, netmask)| json!({"addr": addr, "netmask": netmask})).collect::<Vec<_>>(),
                "reference": self.id(),
                "tap": {"name": self.tap, "ipv4_addr": "", "ipv6_addr": ""},
                "tun": null,
            });
            fs::write(dir.join(".slapos-resource"), resource.to_string())
                .expect("write .slapos-resource");
        }
        if let Some(bytes) = &self.bouture {
            fs::write(dir.join("bouture.json"), bytes).expect("write bouture.json");
        }
        if self.timestamp {
            fs::write(dir.join(".timestamp"), "1700000000.0").expect("write .timestamp");
        }
    }
}

/// A `bouture.json` value: `shared` are `(title, parameters)` pairs.
pub fn bouture_json(title: &str, state: &str, config: &Value, shared: &[(&str, Value)]) -> Value {
    json!({
        "software-url": TEST_SOFTWARE_URL,
        "software-type": "default",
        "instance-title": title,
        "instance-state": state,
        "config": config,
        "shared-list": shared.iter().map(|(shared_title, parameters)| json!({
            "slave-title": shared_title,
            "slave-reference": format!("SOFTINST-{shared_title}"),
            "parameter-list": parameters,
            "slap-software-type": "default",
        })).collect::<Vec<_>>(),
        "ipv4-random": "",
    })
}

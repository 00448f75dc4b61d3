//! The full state a master holds for one computer, read back through both
//! APIs and the proxy's database, in a form that compares and snapshots well.
//!
//! Timestamps are left out of [`MasterState`] (they change on every request)
//! and returned separately by [`MasterState::timestamps`].

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use bouture_master_client::MasterClient;
use serde_json::Value;

/// One partition of the master, as `getFullComputerInformation` and JSON-RPC show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MasterPartition {
    /// Partition id.
    pub id: String,
    /// Instance title (empty for a free partition).
    pub title: String,
    /// Software release.
    pub software_release: String,
    /// Software type.
    pub software_type: String,
    /// Requested state.
    pub state: String,
    /// Instance parameters as stored, as JSON text (the proxy keeps strings).
    pub parameters: String,
    /// `(interface, address, netmask)` of each address, sorted.
    pub addresses: Vec<(String, String, String)>,
    /// Shared instances: `(title, reference, software type, parameters as JSON text)`, sorted.
    pub shared_instances: Vec<(String, String, String, String)>,
}

/// Everything a master holds for a computer (timestamps excluded).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MasterState {
    /// The computer's own `(address, netmask)` in the proxy's database.
    pub computer_address: (Option<String>, Option<String>),
    /// Software releases supplied to the computer, sorted.
    pub software_releases: Vec<String>,
    /// Partitions, by id.
    pub partitions: BTreeMap<String, MasterPartition>,
    /// JSON-RPC `compute_node_instance_list`: title -> (partition, state, software release).
    pub json_rpc_instances: BTreeMap<String, (String, String, String)>,
    /// JSON-RPC `instance_node_instance_list` of each instance: title -> shared titles, sorted.
    pub json_rpc_hosted: BTreeMap<String, Vec<String>>,
}

impl MasterState {
    /// Read the state of `computer_id` from the master at `client` (a proxy
    /// whose database is `database`, read with `python`'s sqlite3 for the
    /// netmasks and the computer address, which no API returns).
    ///
    /// # Panics
    ///
    /// When the master cannot be read (this is test code).
    pub fn read(client: &MasterClient, computer_id: &str, database: &Path, python: &Path) -> Self {
        let info = client
            .full_computer_information(computer_id)
            .expect("getFullComputerInformation");
        let db = read_database(python, database, computer_id);
        let netmask_of = |address: &str| -> String {
            db["netmasks"]
                .get(address)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string()
        };
        let mut partitions = BTreeMap::new();
        for partition in &info.partitions {
            let mut entry = MasterPartition {
                id: partition.partition_id.clone(),
                title: String::new(),
                software_release: String::new(),
                software_type: String::new(),
                state: partition
                    .requested_state
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                parameters: String::new(),
                addresses: Vec::new(),
                shared_instances: Vec::new(),
            };
            if let Some(instance) = &partition.instance {
                entry.title.clone_from(&instance.title);
                entry
                    .software_release
                    .clone_from(&instance.software_release_url);
                entry.software_type.clone_from(&instance.software_type);
                entry.parameters = Value::Object(instance.parameters.clone()).to_string();
                entry.addresses = instance
                    .ip_list
                    .iter()
                    .map(|ip| {
                        let address = ip.address.to_string();
                        let netmask = netmask_of(&address);
                        (ip.interface.clone(), address, netmask)
                    })
                    .collect();
                entry.addresses.sort();
                entry.shared_instances = instance
                    .shared_instances
                    .iter()
                    .map(|shared| {
                        (
                            shared.title.clone(),
                            shared.reference.clone(),
                            shared.software_type.clone(),
                            Value::Object(shared.parameters.clone()).to_string(),
                        )
                    })
                    .collect();
                entry.shared_instances.sort();
            }
            partitions.insert(entry.id.clone(), entry);
        }
        let mut software_releases: Vec<String> = info
            .software_releases
            .iter()
            .map(|sr| sr.url.clone())
            .collect();
        software_releases.sort();

        let rpc = client.json_rpc();
        let instances = rpc
            .compute_node_instance_list(computer_id)
            .unwrap_or_default();
        let mut json_rpc_instances = BTreeMap::new();
        let mut json_rpc_hosted = BTreeMap::new();
        for instance in instances {
            let mut hosted: Vec<String> = rpc
                .instance_node_instance_list(&instance.instance_guid)
                .expect("instance_node_instance_list")
                .into_iter()
                .map(|shared| shared.title)
                .collect();
            hosted.sort();
            json_rpc_hosted.insert(instance.title.clone(), hosted);
            json_rpc_instances.insert(
                instance.title,
                (
                    instance.compute_partition_id,
                    instance.state.as_str().to_string(),
                    instance.software_release_uri,
                ),
            );
        }
        let text = |key: &str| db["computer"][key].as_str().map(str::to_string);
        Self {
            computer_address: (text("address"), text("netmask")),
            software_releases,
            partitions,
            json_rpc_instances,
            json_rpc_hosted,
        }
    }

    /// The master's timestamp of each busy partition's instance.
    ///
    /// # Panics
    ///
    /// When the master cannot be read.
    pub fn timestamps(client: &MasterClient, computer_id: &str) -> BTreeMap<String, f64> {
        client
            .full_computer_information(computer_id)
            .expect("getFullComputerInformation")
            .partitions
            .iter()
            .filter_map(|p| {
                let stamp = p.instance.as_ref()?.timestamp.as_ref()?;
                Some((p.partition_id.clone(), stamp.parse().ok()?))
            })
            .collect()
    }
}

fn read_database(python: &Path, database: &Path, computer_id: &str) -> Value {
    let script = "import json, sqlite3, sys\n\
        db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)\n\
        row = db.execute('SELECT address, netmask FROM computer18 WHERE reference = ?', (sys.argv[2],)).fetchone()\n\
        nets = db.execute('SELECT address, netmask FROM partition_network18 WHERE computer_reference = ?', (sys.argv[2],)).fetchall()\n\
        print(json.dumps({'computer': {'address': row[0] if row else None, 'netmask': row[1] if row else None},\n\
                          'netmasks': {address: netmask for address, netmask in nets}}))";
    let output = Command::new(python)
        .args(["-c", script])
        .arg(database)
        .arg(computer_id)
        .output()
        .expect("run python to read the proxy database");
    assert!(
        output.status.success(),
        "reading {}: {}",
        database.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the database dump is JSON")
}

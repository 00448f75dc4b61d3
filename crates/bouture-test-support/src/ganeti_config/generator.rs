//! Generator of Ganeti-valid 3.0 `config.data` files for tests and benchmarks.
//!
//! The cluster section comes from the upstream 3.0 fixture. Everything that
//! must be unique (UUIDs, names, IPs, MACs) is derived from the cluster
//! index, so two generated clusters with different indexes can be merged;
//! ports always start at 11000, so their DRBD and console ports overlap, and
//! their node groups share the name `default`.

#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    reason = "test and benchmark helper: a bad spec is a bug in the caller"
)]

use serde_json::{Map, Value, json};

use super::FIXTURE_30 as FIXTURE;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Cluster index, 1-250: makes every identifier of the cluster unique.
    pub index: u32,
    /// Number of nodes (at least 2).
    pub nodes: usize,
    /// Number of instances.
    pub instances: usize,
    /// Every `drbd_every`-th instance has a DRBD disk, the others a plain one (0: none).
    pub drbd_every: usize,
    /// Every `console_every`-th instance is a kvm instance with a console port (0: none).
    pub console_every: usize,
    /// When set, this percentage of the instances (spread evenly) has a DRBD
    /// disk, instead of every `drbd_every`-th.
    pub drbd_percent: Option<usize>,
    /// When set, this percentage of the instances (spread evenly) has a
    /// console port, instead of every `console_every`-th.
    pub console_percent: Option<usize>,
    /// Whether the cluster has a network, with NICs of the first instances on it.
    pub network: bool,
    /// The name of the node group holding every node.
    pub group_name: String,
}

impl Spec {
    /// A cluster with the given index and sizes, half DRBD, a third with consoles, a network.
    pub fn new(index: u32, nodes: usize, instances: usize) -> Self {
        Self {
            index,
            nodes,
            instances,
            drbd_every: 2,
            console_every: 3,
            drbd_percent: None,
            console_percent: None,
            network: true,
            group_name: "default".to_owned(),
        }
    }
}

/// A UUID-shaped identifier unique per (cluster, kind, number).
pub fn uuid(index: u32, kind: u16, number: usize) -> String {
    format!("{index:08x}-{kind:04x}-4000-8000-{number:012x}")
}

const NODE: u16 = 1;
const GROUP: u16 = 2;
const INSTANCE: u16 = 3;
const DISK: u16 = 4;
const NIC: u16 = 5;
const NETWORK: u16 = 6;
const CLUSTER: u16 = 7;

/// The IPv4 address `a.b.x.y` for host number `n` (1-based within a /16).
fn host_ip(a: u32, b: u32, n: usize) -> String {
    format!("{a}.{b}.{}.{}", n / 250, n % 250 + 1)
}

/// Whether instance `i` is one of every `every`-th, or of `percent` % spread evenly.
fn picked(i: usize, every: usize, percent: Option<usize>) -> bool {
    match percent {
        Some(percent) => (i + 1) * percent / 100 != i * percent / 100,
        None => every != 0 && i.is_multiple_of(every),
    }
}

/// Generate the text of a `config.data`.
pub fn generate(spec: &Spec) -> String {
    assert!(spec.nodes >= 2, "need two nodes for DRBD");
    assert!((1..=250).contains(&spec.index), "cluster index 1-250");
    let fixture: Value = serde_json::from_str(FIXTURE).expect("fixture parses");
    let idx = spec.index;
    let now = 1_700_000_000.0 + f64::from(idx);

    let group_uuid = uuid(idx, GROUP, 0);
    let network_uuid = uuid(idx, NETWORK, 0);

    let mut nodes = Map::new();
    for n in 0..spec.nodes {
        let id = uuid(idx, NODE, n);
        nodes.insert(
            id.clone(),
            json!({
                "ctime": now, "drained": false, "group": group_uuid,
                "master_candidate": n < 10, "master_capable": true, "mtime": now,
                "name": format!("node{n}.c{idx}.example.com"), "ndparams": {},
                "offline": false, "powered": true,
                "primary_ip": host_ip(10, idx, n), "secondary_ip": host_ip(100, idx, n),
                "serial_no": 1, "tags": [], "uuid": id, "vm_capable": true
            }),
        );
    }

    let mut next_port = 11_000_u64;
    let mut minors = vec![0_u64; spec.nodes];
    let mut instances = Map::new();
    let mut disks = Map::new();
    for i in 0..spec.instances {
        let id = uuid(idx, INSTANCE, i);
        let disk_id = uuid(idx, DISK, i);
        let pnode = i % spec.nodes;
        let snode = (i + 1) % spec.nodes;
        let (puuid, suuid) = (uuid(idx, NODE, pnode), uuid(idx, NODE, snode));
        let drbd = picked(i, spec.drbd_every, spec.drbd_percent);
        let disk = if drbd {
            let port = next_port;
            next_port += 1;
            let (ma, mb) = (minors[pnode], minors[snode]);
            minors[pnode] += 1;
            minors[snode] += 1;
            let child = |suffix: &str, size: u64| {
                json!({
                    "ctime": now, "dev_type": "plain",
                    "logical_id": ["xenvg", format!("{disk_id}.disk0_{suffix}")],
                    "mtime": now, "nodes": [puuid, suuid], "params": {}, "serial_no": 1,
                    "size": size
                })
            };
            json!({
                "children": [child("data", 1024), child("meta", 128)],
                "ctime": now, "dev_type": "drbd", "iv_name": "disk/0",
                "logical_id": [puuid, suuid, port, ma, mb, format!("{:040x}", (u64::from(idx) << 32) | i as u64)],
                "mode": "rw", "mtime": now, "nodes": [puuid, suuid], "params": {},
                "serial_no": 1, "size": 1024, "uuid": disk_id
            })
        } else {
            json!({
                "ctime": now, "dev_type": "plain", "iv_name": "disk/0",
                "logical_id": ["xenvg", format!("{disk_id}.disk0")],
                "mode": "rw", "mtime": now, "nodes": [puuid], "params": {},
                "serial_no": 1, "size": 1024, "uuid": disk_id
            })
        };
        disks.insert(disk_id.clone(), disk);

        let mut nic = json!({
            "mac": format!("aa:00:{idx:02x}:{:02x}:{:02x}:{:02x}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
            "nicparams": {}, "uuid": uuid(idx, NIC, i)
        });
        if spec.network && i < 200 {
            nic["network"] = json!(network_uuid);
            nic["ip"] = json!(format!("203.0.113.{}", i + 2));
            nic["nicparams"] =
                json!({"mode": "bridged", "link": format!("br-net{idx}"), "vlan": ""});
        }
        let console = picked(i, spec.console_every, spec.console_percent);
        let mut instance = json!({
            "admin_state": "up", "admin_state_source": "admin", "beparams": {},
            "ctime": now, "disks": [disk_id], "disks_active": true, "hvparams": {},
            "hypervisor": if console { "kvm" } else { "xen-pvm" }, "mtime": now,
            "name": format!("inst{i}.c{idx}.example.com"), "nics": [nic],
            "os": "debian-image", "osparams": {}, "osparams_private": {},
            "primary_node": puuid, "serial_no": 1, "tags": [], "uuid": id
        });
        if console {
            instance["network_port"] = json!(next_port);
            next_port += 1;
        }
        instances.insert(id, instance);
    }

    let mut group_networks = Map::new();
    let mut networks = Map::new();
    if spec.network {
        group_networks.insert(
            network_uuid.clone(),
            json!({"mode": "bridged", "link": format!("br-net{idx}"), "vlan": ""}),
        );
        networks.insert(
            network_uuid.clone(),
            json!({
                "ext_reservations": format!("1{}1", "0".repeat(254)),
                "name": format!("net{idx}"), "network": "203.0.113.0/24",
                "reservations": "0".repeat(256), "serial_no": 1, "uuid": network_uuid
            }),
        );
    }
    let mut nodegroups = Map::new();
    nodegroups.insert(
        group_uuid.clone(),
        json!({
            "alloc_policy": "preferred", "diskparams": {}, "ipolicy": {}, "mtime": now,
            "ctime": now, "name": spec.group_name, "ndparams": {}, "networks": group_networks,
            "serial_no": 1, "tags": [], "uuid": group_uuid
        }),
    );

    let mut cluster = fixture["cluster"].clone();
    cluster["cluster_name"] = json!(format!("c{idx}.example.com"));
    cluster["uuid"] = json!(uuid(idx, CLUSTER, 0));
    cluster["master_node"] = json!(uuid(idx, NODE, 0));
    cluster["master_ip"] = json!(format!("10.{idx}.255.254"));
    cluster["highest_used_port"] = json!(next_port - 1);
    cluster["tcpudp_port_pool"] = json!([]);
    cluster["enabled_hypervisors"] = json!(["xen-pvm", "kvm"]);
    cluster["candidate_certs"] = json!({});
    cluster["serial_no"] = json!(1);
    cluster["ctime"] = json!(now);
    cluster["mtime"] = json!(now);

    let config = json!({
        "version": 3_000_000, "cluster": cluster, "nodes": nodes, "nodegroups": nodegroups,
        "instances": instances, "networks": networks, "disks": disks, "filters": {},
        "serial_no": 1, "ctime": now, "mtime": now
    });
    let mut text = serde_json::to_string(&config).expect("serialises");
    text.push('\n');
    text
}

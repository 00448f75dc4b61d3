//! A Ganeti 3.0 `config.data`, parsed just enough to merge it.
//!
//! Every object keeps its raw JSON text; bouture reads only the fields it
//! checks or changes (UUIDs, names, addresses, ports, references). Fields it
//! does not know are never parsed and are written back verbatim.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, SUPPORTED_VERSION};
use crate::raw::RawObject;

/// The sections of `config.data` that hold objects keyed by UUID.
pub const SECTIONS: [&str; 6] = [
    "nodes",
    "nodegroups",
    "instances",
    "networks",
    "disks",
    "filters",
];

/// One parsed `config.data`.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it was read from (used in messages).
    pub path: PathBuf,
    /// The format version (`3000000` for Ganeti 3.0).
    pub version: u64,
    /// The configuration's serial number.
    pub serial_no: u64,
    /// The top-level members, in file order, with the object sections as read.
    pub top: RawObject,
    /// The cluster object.
    pub cluster: Cluster,
    /// The nodes, in file order.
    pub nodes: Vec<Node>,
    /// The node groups, in file order.
    pub nodegroups: Vec<NodeGroup>,
    /// The instances, in file order.
    pub instances: Vec<Instance>,
    /// The networks, in file order.
    pub networks: Vec<Network>,
    /// The top-level disks, in file order.
    pub disks: Vec<Disk>,
    /// The number of job filters.
    pub filters: usize,
}

/// The cluster object: its members as raw text, plus the fields bouture reads.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// All members.
    pub raw: RawObject,
    /// `cluster_name`.
    pub name: String,
    /// `uuid`.
    pub uuid: Option<String>,
    /// `master_ip`.
    pub master_ip: Option<String>,
    /// `highest_used_port`.
    pub highest_used_port: u64,
    /// `tcpudp_port_pool`, in file order.
    pub tcpudp_port_pool: Vec<u64>,
    /// `nicparams.default.mode` (Ganeti's default: `bridged`).
    pub default_nic_mode: String,
    /// `nicparams.default.link`.
    pub default_nic_link: String,
    /// `serial_no`.
    pub serial_no: u64,
}

/// A node.
#[derive(Debug, Clone)]
pub struct Node {
    /// The key under which it is stored (normally its UUID).
    pub key: String,
    /// `uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// `primary_ip`.
    pub primary_ip: Option<String>,
    /// `secondary_ip`.
    pub secondary_ip: Option<String>,
    /// `group` (a node group UUID).
    pub group: Option<String>,
    /// The whole object.
    pub raw: Box<RawValue>,
}

/// A node group.
#[derive(Debug, Clone)]
pub struct NodeGroup {
    /// Storage key.
    pub key: String,
    /// `uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// The keys of its `networks` map (network UUIDs).
    pub networks: Vec<String>,
    /// The whole object.
    pub raw: Box<RawValue>,
}

/// A network.
#[derive(Debug, Clone)]
pub struct Network {
    /// Storage key.
    pub key: String,
    /// `uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// The whole object.
    pub raw: Box<RawValue>,
}

/// An instance network interface.
#[derive(Debug, Clone, Deserialize)]
pub struct Nic {
    /// `uuid`.
    #[serde(default)]
    pub uuid: Option<String>,
    /// `mac`.
    #[serde(default)]
    pub mac: Option<String>,
    /// `ip`.
    #[serde(default)]
    pub ip: Option<String>,
    /// `network` (a network UUID).
    #[serde(default)]
    pub network: Option<String>,
    /// `nicparams` (only mode and link are read).
    #[serde(default)]
    pub nicparams: NicParams,
}

/// The NIC parameters bouture reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NicParams {
    /// `mode`: bridged, routed or openvswitch.
    #[serde(default)]
    pub mode: Option<String>,
    /// `link`.
    #[serde(default)]
    pub link: Option<String>,
}

/// An instance.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Storage key.
    pub key: String,
    /// `uuid`.
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// `network_port` (console port), when set.
    pub network_port: Option<u64>,
    /// `nics`.
    pub nics: Vec<Nic>,
    /// `disks` (disk UUIDs, in order).
    pub disks: Vec<String>,
    /// The whole object.
    pub raw: Box<RawValue>,
}

/// A top-level disk.
#[derive(Debug, Clone)]
pub struct Disk {
    /// Storage key.
    pub key: String,
    /// `uuid`.
    pub uuid: String,
    /// `iv_name` (`disk/N`), if any.
    pub iv_name: Option<String>,
    /// The DRBD port (`logical_id[2]`), for DRBD disks.
    pub drbd_port: Option<u64>,
    /// The `vg/lv` names of this disk and its children.
    pub lvs: Vec<String>,
    /// UUIDs of child disks that have one.
    pub child_uuids: Vec<String>,
    /// The whole object.
    pub raw: Box<RawValue>,
}

#[derive(Deserialize)]
struct NodeFields {
    uuid: Option<String>,
    name: String,
    #[serde(default)]
    primary_ip: Option<String>,
    #[serde(default)]
    secondary_ip: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

#[derive(Deserialize)]
struct NamedFields {
    uuid: Option<String>,
    name: String,
}

#[derive(Deserialize)]
struct GroupFields {
    uuid: Option<String>,
    name: String,
    #[serde(default)]
    networks: Option<RawObject>,
}

#[derive(Deserialize)]
struct InstanceFields {
    uuid: Option<String>,
    name: String,
    #[serde(default)]
    network_port: Option<u64>,
    #[serde(default)]
    nics: Vec<Nic>,
    #[serde(default)]
    disks: Vec<String>,
}

#[derive(Deserialize)]
struct DiskFields {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    dev_type: Option<String>,
    #[serde(default)]
    iv_name: Option<String>,
    #[serde(default)]
    logical_id: Vec<serde_json::Value>,
    #[serde(default)]
    children: Vec<DiskFields>,
}

/// Whether a `dev_type` is DRBD (`drbd`, or the legacy `drbd8`).
pub fn is_drbd(dev_type: &str) -> bool {
    dev_type == "drbd" || dev_type == "drbd8"
}

fn is_plain(dev_type: &str) -> bool {
    dev_type == "plain" || dev_type == "lvm"
}

impl DiskFields {
    fn collect_lvs(&self, lvs: &mut Vec<String>, child_uuids: &mut Vec<String>) {
        if self.dev_type.as_deref().is_some_and(is_plain)
            && let [
                serde_json::Value::String(vg),
                serde_json::Value::String(lv),
                ..,
            ] = self.logical_id.as_slice()
        {
            lvs.push(format!("{vg}/{lv}"));
        }
        for child in &self.children {
            if let Some(uuid) = &child.uuid {
                child_uuids.push(uuid.clone());
            }
            child.collect_lvs(lvs, child_uuids);
        }
    }
}

#[derive(Deserialize)]
struct ClusterFields {
    cluster_name: String,
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    master_ip: Option<String>,
    #[serde(default)]
    highest_used_port: u64,
    #[serde(default)]
    tcpudp_port_pool: Vec<u64>,
    #[serde(default)]
    nicparams: Option<ClusterNicParams>,
    #[serde(default)]
    serial_no: u64,
}

#[derive(Deserialize)]
struct ClusterNicParams {
    #[serde(default)]
    default: NicParams,
}

struct Context<'a> {
    path: &'a Path,
}

impl Context<'_> {
    fn malformed(&self, what: impl Into<String>, source: Option<serde_json::Error>) -> Error {
        Error::Malformed {
            path: self.path.to_owned(),
            what: what.into(),
            source,
        }
    }

    fn section(&self, top: &RawObject, name: &str) -> Result<Vec<(String, Box<RawValue>)>, Error> {
        match top.get(name) {
            None => Ok(Vec::new()),
            Some(raw) => RawObject::parse(raw.get())
                .map(RawObject::into_entries)
                .map_err(|e| self.malformed(format!("section '{name}'"), Some(e))),
        }
    }

    fn object<'de, T: Deserialize<'de>>(
        &self,
        section: &str,
        key: &str,
        raw: &'de RawValue,
    ) -> Result<T, Error> {
        serde_json::from_str(raw.get())
            .map_err(|e| self.malformed(format!("{section} entry '{key}'"), Some(e)))
    }
}

impl ConfigFile {
    /// Read and parse `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Read`], [`Error::Json`], [`Error::UnsupportedVersion`] or
    /// [`Error::Malformed`], naming the file and the object.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parse the text of a `config.data`; `path` is only used in messages.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), except for I/O.
    #[allow(clippy::too_many_lines, reason = "one loop per section")]
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let cx = Context { path };
        let top = RawObject::parse(text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        let version: u64 = top
            .get_as("version")
            .map_err(|e| cx.malformed("'version'", Some(e)))?
            .ok_or_else(|| cx.malformed("'version'", None))?;
        if version != SUPPORTED_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
            });
        }
        let serial_no: u64 = top
            .get_as("serial_no")
            .map_err(|e| cx.malformed("'serial_no'", Some(e)))?
            .ok_or_else(|| cx.malformed("'serial_no'", None))?;
        let cluster = Self::parse_cluster(&cx, &top)?;

        let mut nodes = Vec::new();
        for (key, raw) in cx.section(&top, "nodes")? {
            let f: NodeFields = cx.object("nodes", &key, &raw)?;
            nodes.push(Node {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                primary_ip: f.primary_ip,
                secondary_ip: f.secondary_ip,
                group: f.group,
                raw,
            });
        }
        let mut nodegroups = Vec::new();
        for (key, raw) in cx.section(&top, "nodegroups")? {
            let f: GroupFields = cx.object("nodegroups", &key, &raw)?;
            nodegroups.push(NodeGroup {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                networks: f
                    .networks
                    .map(|n| n.iter().map(|(k, _)| k.to_owned()).collect())
                    .unwrap_or_default(),
                raw,
            });
        }
        let mut instances = Vec::new();
        for (key, raw) in cx.section(&top, "instances")? {
            let f: InstanceFields = cx.object("instances", &key, &raw)?;
            instances.push(Instance {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                network_port: f.network_port,
                nics: f.nics,
                disks: f.disks,
                raw,
            });
        }
        let mut networks = Vec::new();
        for (key, raw) in cx.section(&top, "networks")? {
            let f: NamedFields = cx.object("networks", &key, &raw)?;
            networks.push(Network {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                raw,
            });
        }
        let mut disks = Vec::new();
        for (key, raw) in cx.section(&top, "disks")? {
            let f: DiskFields = cx.object("disks", &key, &raw)?;
            let drbd_port = if f.dev_type.as_deref().is_some_and(is_drbd) {
                let port = f
                    .logical_id
                    .get(2)
                    .and_then(serde_json::Value::as_u64)
                    .ok_or_else(|| {
                        cx.malformed(format!("DRBD disk '{key}': logical_id[2] (the port)"), None)
                    })?;
                Some(port)
            } else {
                None
            };
            let mut lvs = Vec::new();
            let mut child_uuids = Vec::new();
            f.collect_lvs(&mut lvs, &mut child_uuids);
            disks.push(Disk {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                iv_name: f.iv_name,
                drbd_port,
                lvs,
                child_uuids,
                raw,
            });
        }
        let filters = cx.section(&top, "filters")?.len();

        Ok(Self {
            path: path.to_owned(),
            version,
            serial_no,
            top,
            cluster,
            nodes,
            nodegroups,
            instances,
            networks,
            disks,
            filters,
        })
    }

    fn parse_cluster(cx: &Context<'_>, top: &RawObject) -> Result<Cluster, Error> {
        let raw_cluster = top
            .get("cluster")
            .ok_or_else(|| cx.malformed("'cluster'", None))?;
        let raw =
            RawObject::parse(raw_cluster.get()).map_err(|e| cx.malformed("'cluster'", Some(e)))?;
        let f: ClusterFields = serde_json::from_str(raw_cluster.get())
            .map_err(|e| cx.malformed("'cluster'", Some(e)))?;
        let default_nic = f.nicparams.map(|n| n.default).unwrap_or_default();
        Ok(Cluster {
            raw,
            name: f.cluster_name,
            uuid: f.uuid,
            master_ip: f.master_ip,
            highest_used_port: f.highest_used_port,
            tcpudp_port_pool: f.tcpudp_port_pool,
            default_nic_mode: default_nic.mode.unwrap_or_else(|| "bridged".to_owned()),
            default_nic_link: default_nic.link.unwrap_or_default(),
            serial_no: f.serial_no,
        })
    }

    /// The cluster's name (`cluster.cluster_name`).
    pub fn name(&self) -> &str {
        &self.cluster.name
    }
}

//! A Ganeti 3.0 `config.data`, parsed just enough to merge it.
//!
//! Every object keeps its raw JSON text; bouture reads only the fields it
//! checks or changes (UUIDs, names, addresses, ports, references). Fields it
//! does not know are never parsed and are written back verbatim.

use std::ops::Range;
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
///
/// The file's text is kept whole; objects refer to their text by byte range,
/// so nothing bouture does not change is ever copied or re-encoded.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it was read from (used in messages).
    pub path: PathBuf,
    /// The whole text of the file.
    pub text: String,
    /// The format version (`3000000` for Ganeti 3.0).
    pub version: u64,
    /// The configuration's serial number.
    pub serial_no: u64,
    /// The top-level members, in file order. The object sections (nodes,
    /// node groups, instances, networks, disks) are `{}` placeholders here:
    /// their objects are in the fields below. Everything else (`filters`,
    /// members a newer Ganeti added) is kept as read.
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
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
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
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
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
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
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
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
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
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
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
struct DiskFields<'a> {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    dev_type: Option<String>,
    #[serde(default)]
    iv_name: Option<String>,
    #[serde(default, borrow)]
    logical_id: Vec<&'a RawValue>,
    #[serde(default, borrow)]
    children: Vec<DiskFields<'a>>,
}

/// Whether a `dev_type` is DRBD (`drbd`, or the legacy `drbd8`).
pub fn is_drbd(dev_type: &str) -> bool {
    dev_type == "drbd" || dev_type == "drbd8"
}

fn is_plain(dev_type: &str) -> bool {
    dev_type == "plain" || dev_type == "lvm"
}

impl DiskFields<'_> {
    /// `logical_id[index]` parsed as `T`, if present and of that type.
    fn logical_id_part<'de, T: Deserialize<'de>>(&'de self, index: usize) -> Option<T> {
        self.logical_id
            .get(index)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    fn collect_lvs(&self, lvs: &mut Vec<String>, child_uuids: &mut Vec<String>) {
        if self.dev_type.as_deref().is_some_and(is_plain)
            && let (Some(vg), Some(lv)) = (
                self.logical_id_part::<String>(0),
                self.logical_id_part::<String>(1),
            )
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

/// The sections parsed in the same pass as the top level (the others,
/// `filters` and unknown ones, stay raw).
const OBJECT_SECTIONS: [&str; 5] = ["nodes", "nodegroups", "instances", "networks", "disks"];

/// The top level read in one pass: object sections are split into their
/// members right away, everything else is kept raw. In `top`, object
/// sections hold an empty placeholder (they are rebuilt on output).
struct TopLevel<'t> {
    top: RawObject,
    sections: Vec<(String, Section<'t>)>,
}

/// The members of one object section, their text borrowed from the file.
#[derive(Default)]
struct Section<'t>(Vec<(String, &'t RawValue)>);

impl<'de> Deserialize<'de> for Section<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SectionVisitor;

        impl<'de> serde::de::Visitor<'de> for SectionVisitor {
            type Value = Section<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("an object of objects keyed by UUID")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Section<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(1024));
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push(entry);
                }
                Ok(Section(entries))
            }
        }

        deserializer.deserialize_map(SectionVisitor)
    }
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TopVisitor;

        impl<'de> serde::de::Visitor<'de> for TopVisitor {
            type Value = TopLevel<'de>;

            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("a Ganeti config.data object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<TopLevel<'de>, A::Error> {
                let mut entries = Vec::new();
                let mut sections = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if OBJECT_SECTIONS.contains(&key.as_str()) {
                        let section: Section<'de> = map.next_value()?;
                        let placeholder = RawValue::from_string("{}".to_owned())
                            .map_err(serde::de::Error::custom)?;
                        entries.push((key.clone(), placeholder));
                        sections.push((key, section));
                    } else {
                        entries.push((key, map.next_value::<Box<RawValue>>()?));
                    }
                }
                Ok(TopLevel {
                    top: RawObject::from_entries(entries),
                    sections,
                })
            }
        }

        deserializer.deserialize_map(TopVisitor)
    }
}

impl<'t> TopLevel<'t> {
    fn take(&mut self, name: &str) -> Vec<(String, &'t RawValue)> {
        self.sections
            .iter_mut()
            .find(|(key, _)| key == name)
            .map(|(_, section)| std::mem::take(section).0)
            .unwrap_or_default()
    }
}

/// The byte range of `part` (a slice of `whole`) within `whole`.
fn span(whole: &str, part: &RawValue) -> Range<usize> {
    let start = (part.get().as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.get().len()
}

/// Everything [`ConfigFile`] holds but its path and text.
struct Parts {
    version: u64,
    serial_no: u64,
    top: RawObject,
    cluster: Cluster,
    nodes: Vec<Node>,
    nodegroups: Vec<NodeGroup>,
    instances: Vec<Instance>,
    networks: Vec<Network>,
    disks: Vec<Disk>,
    filters: usize,
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
        Self::from_string(text, path)
    }

    /// Parse the text of a `config.data`; `path` is only used in messages.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), except for I/O.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::from_string(text.to_owned(), path)
    }

    /// Parse the text of a `config.data`, taking ownership of it; `path` is
    /// only used in messages.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), except for I/O.
    pub fn from_string(text: String, path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let parts = Self::parse_parts(&text, path)?;
        Ok(Self {
            path: path.to_owned(),
            text,
            version: parts.version,
            serial_no: parts.serial_no,
            top: parts.top,
            cluster: parts.cluster,
            nodes: parts.nodes,
            nodegroups: parts.nodegroups,
            instances: parts.instances,
            networks: parts.networks,
            disks: parts.disks,
            filters: parts.filters,
        })
    }

    /// The JSON text of an object, from its `raw` range.
    pub fn raw(&self, range: &Range<usize>) -> &str {
        self.text.get(range.clone()).unwrap_or("{}")
    }

    #[allow(clippy::too_many_lines, reason = "one loop per section")]
    fn parse_parts(text: &str, path: &Path) -> Result<Parts, Error> {
        let cx = Context { path };
        let mut parsed: TopLevel = serde_json::from_str(text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        let top = std::mem::take(&mut parsed.top);
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
        for (key, raw) in parsed.take("nodes") {
            let f: NodeFields = cx.object("nodes", &key, raw)?;
            nodes.push(Node {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                primary_ip: f.primary_ip,
                secondary_ip: f.secondary_ip,
                group: f.group,
                raw: span(text, raw),
            });
        }
        let mut nodegroups = Vec::new();
        for (key, raw) in parsed.take("nodegroups") {
            let f: GroupFields = cx.object("nodegroups", &key, raw)?;
            nodegroups.push(NodeGroup {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                networks: f
                    .networks
                    .map(|n| n.iter().map(|(k, _)| k.to_owned()).collect())
                    .unwrap_or_default(),
                raw: span(text, raw),
            });
        }
        let mut instances = Vec::new();
        for (key, raw) in parsed.take("instances") {
            let f: InstanceFields = cx.object("instances", &key, raw)?;
            instances.push(Instance {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                network_port: f.network_port,
                nics: f.nics,
                disks: f.disks,
                raw: span(text, raw),
            });
        }
        let mut networks = Vec::new();
        for (key, raw) in parsed.take("networks") {
            let f: NamedFields = cx.object("networks", &key, raw)?;
            networks.push(Network {
                uuid: f.uuid.unwrap_or_else(|| key.clone()),
                key,
                name: f.name,
                raw: span(text, raw),
            });
        }
        let mut disks = Vec::new();
        for (key, raw) in parsed.take("disks") {
            let f: DiskFields = cx.object("disks", &key, raw)?;
            let drbd_port = if f.dev_type.as_deref().is_some_and(is_drbd) {
                let port = f.logical_id_part::<u64>(2).ok_or_else(|| {
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
                raw: span(text, raw),
            });
        }
        let filters = match top.get("filters") {
            Some(raw) => RawObject::parse(raw.get())
                .map_err(|e| cx.malformed("section 'filters'", Some(e)))?
                .len(),
            None => 0,
        };

        Ok(Parts {
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

    /// Read and parse several files, each in its own thread (they are
    /// independent; on a multi-core machine this halves the wall time of a
    /// two-cluster merge). The result is in the order of `paths`.
    ///
    /// # Errors
    ///
    /// The first error, in the order of `paths`, of [`read`](Self::read).
    pub fn read_all(paths: &[&Path]) -> Result<Vec<Self>, Error> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = paths
                .iter()
                .map(|path| scope.spawn(move || Self::read(path)))
                .collect();
            handles
                .into_iter()
                .zip(paths)
                .map(|(handle, path)| {
                    handle.join().unwrap_or_else(|_| {
                        Err(Error::Read {
                            path: path.to_path_buf(),
                            source: std::io::Error::other("the thread parsing this file failed"),
                        })
                    })
                })
                .collect()
        })
    }

    /// The cluster's name (`cluster.cluster_name`).
    pub fn name(&self) -> &str {
        &self.cluster.name
    }
}

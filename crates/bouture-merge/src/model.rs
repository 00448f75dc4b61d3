//! A Ganeti 3.0 `config.data`, read in one pass and trusting nothing.
//!
//! The file is read once by a validating scanner ([`crate::json`]): every
//! value is checked, duplicate keys are refused at any depth, and the
//! fields bouture checks or changes (UUIDs, names, addresses, ports,
//! references) are taken as it goes. Objects keep their place in the file's
//! text; fields bouture does not know are written back verbatim.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;

use crate::error::Error;
use crate::json::{Scan, ScanError, Scanner, line_column};
use crate::raw::RawObject;

/// The `config.data` format version bouture merges: Ganeti 3.0.
pub const SUPPORTED_VERSION: u64 = 3_000_000;

/// `3000000` → `"3.0"`, `2160000` → `"2.16"`, `3000002` → `"3.0.2"`.
pub fn version_name(version: u64) -> String {
    let major = version / 1_000_000;
    let minor = version / 10_000 % 100;
    let revision = version % 10_000;
    if revision == 0 {
        format!("{major}.{minor}")
    } else {
        format!("{major}.{minor}.{revision}")
    }
}

/// The largest input read unless the caller raises it: 256 MiB, more than
/// twice the size of a generated cluster of 100,000 instances.
pub const DEFAULT_MAX_INPUT_SIZE: u64 = 256 << 20;

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
#[non_exhaustive]
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
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Cluster {
    /// All members.
    pub raw: RawObject,
    /// `cluster_name`.
    pub name: String,
    /// `uuid`.
    pub uuid: Option<String>,
    /// `master_node` (a node UUID).
    pub master_node: Option<String>,
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
    /// Where the object starts in the file.
    pub offset: usize,
}

/// Members of an object that the merge may replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// `serial_no`.
    SerialNo,
    /// `ctime`.
    Ctime,
    /// `mtime`.
    Mtime,
    /// A node's `master_candidate`.
    MasterCandidate,
    /// A node's `drained`.
    Drained,
    /// A node's `offline`.
    Offline,
    /// A node's `group`.
    Group,
    /// An instance's `network_port`.
    NetworkPort,
    /// A DRBD disk's `logical_id[2]`.
    DrbdPort,
}

impl Field {
    const COUNT: usize = 9;

    /// The member's name (for `DrbdPort`, the member holding it).
    pub fn name(self) -> &'static str {
        match self {
            Self::SerialNo => "serial_no",
            Self::Ctime => "ctime",
            Self::Mtime => "mtime",
            Self::MasterCandidate => "master_candidate",
            Self::Drained => "drained",
            Self::Offline => "offline",
            Self::Group => "group",
            Self::NetworkPort => "network_port",
            Self::DrbdPort => "logical_id",
        }
    }
}

/// Where an object's replaceable members are in the file, so that the merge
/// can write the object with a few values replaced without reading it again.
#[derive(Debug, Clone, Copy, Default)]
pub struct Members([(u32, u32); Field::COUNT]);

impl Members {
    fn set(&mut self, field: Field, span: &Range<usize>) {
        if let (Some(slot), Ok(start), Ok(end)) = (
            self.0.get_mut(field as usize),
            u32::try_from(span.start),
            u32::try_from(span.end),
        ) {
            *slot = (start, end);
        }
    }

    /// The byte range of a member's value, if the object has that member.
    pub fn get(&self, field: Field) -> Option<Range<usize>> {
        // A value never starts at offset 0 (the document's own brace is there).
        self.0
            .get(field as usize)
            .filter(|(start, _)| *start > 0)
            .map(|&(start, end)| start as usize..end as usize)
    }
}

/// A node.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Node {
    /// `uuid` (also its key in the file: they must be equal).
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
    /// Where its replaceable members are.
    pub members: Members,
}

/// A node group.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NodeGroup {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// The keys of its `networks` map (network UUIDs).
    pub networks: Vec<String>,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
}

/// A network.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Network {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
}

/// An instance network interface.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Nic {
    /// `uuid`.
    pub uuid: Option<String>,
    /// `mac`.
    pub mac: Option<String>,
    /// `ip`.
    pub ip: Option<String>,
    /// `network` (a network UUID).
    pub network: Option<String>,
    /// `nicparams` (only mode and link are read).
    pub nicparams: NicParams,
}

/// The NIC parameters bouture reads.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NicParams {
    /// `mode`: bridged, routed or openvswitch.
    pub mode: Option<String>,
    /// `link`.
    pub link: Option<String>,
}

/// An instance.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Instance {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: String,
    /// `name`.
    pub name: String,
    /// `primary_node` (a node UUID).
    pub primary_node: Option<String>,
    /// `network_port` (console port), when set.
    pub network_port: Option<u64>,
    /// `nics`.
    pub nics: Vec<Nic>,
    /// `disks` (disk UUIDs, in order).
    pub disks: Vec<String>,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
    /// Where its replaceable members are.
    pub members: Members,
}

/// A top-level disk.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Disk {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: String,
    /// `iv_name` (`disk/N`), if any.
    pub iv_name: Option<String>,
    /// The DRBD port (`logical_id[2]`), for DRBD disks.
    pub drbd_port: Option<u64>,
    /// The two nodes of a DRBD disk (`logical_id[0]` and `[1]`).
    pub drbd_nodes: Vec<String>,
    /// The `vg/lv` names of this disk and its children.
    pub lvs: Vec<String>,
    /// UUIDs of child disks that have one.
    pub child_uuids: Vec<String>,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
    /// Where its replaceable members are.
    pub members: Members,
}

/// Whether a `dev_type` is DRBD (`drbd`, or the legacy `drbd8`).
pub fn is_drbd(dev_type: &str) -> bool {
    dev_type == "drbd" || dev_type == "drbd8"
}

fn is_plain(dev_type: &str) -> bool {
    dev_type == "plain" || dev_type == "lvm"
}

fn owned(text: Cow<'_, str>) -> String {
    text.into_owned()
}

/// An object of a section while it is read: its `uuid` must equal its key.
fn check_uuid(
    scanner: &Scanner<'_>,
    section: &str,
    key: &str,
    uuid: Option<String>,
    start: usize,
) -> Scan<String> {
    match uuid {
        Some(uuid) if uuid == key => Ok(uuid),
        Some(uuid) => Err(scanner.error_at(
            start,
            format!(
                "is stored under the key '{key}' but its uuid is '{uuid}'; the key of every object in '{section}' must be its uuid (Ganeti would index it by the key)"
            ),
        )),
        None => Err(scanner.error_at(start, format!("has no uuid (every object in '{section}' needs one, equal to its key)"))),
    }
}

fn required(
    scanner: &Scanner<'_>,
    value: Option<String>,
    what: &str,
    start: usize,
) -> Scan<String> {
    value.ok_or_else(|| scanner.error_at(start, format!("has no {what}")))
}

/// Record the span of the value read by `read` as `field`.
fn record(scanner: &mut Scanner<'_>, members: &mut Members, field: Field) -> Scan<()> {
    let span = scanner.value()?;
    members.set(field, &span);
    Ok(())
}

fn stamp_member(scanner: &mut Scanner<'_>, members: &mut Members, name: &str) -> Scan<bool> {
    let field = match name {
        "serial_no" => Field::SerialNo,
        "ctime" => Field::Ctime,
        "mtime" => Field::Mtime,
        _ => return Ok(false),
    };
    record(scanner, members, field)?;
    Ok(true)
}

fn node(scanner: &mut Scanner<'_>, key: &str) -> Scan<Node> {
    let start = scanner.offset();
    let mut node = Node::default();
    let mut uuid = None;
    let mut name = None;
    let mut members = Members::default();
    node.raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(owned(s.text()?)),
            "name" => name = Some(owned(s.text()?)),
            "primary_ip" => node.primary_ip = s.opt_text()?.map(owned),
            "secondary_ip" => node.secondary_ip = s.opt_text()?.map(owned),
            "group" => {
                let (group, span) = s.spanned(Scanner::opt_text)?;
                node.group = group.map(owned);
                members.set(Field::Group, &span);
            }
            "master_candidate" => record(s, &mut members, Field::MasterCandidate)?,
            "drained" => record(s, &mut members, Field::Drained)?,
            "offline" => record(s, &mut members, Field::Offline)?,
            other => {
                if !stamp_member(s, &mut members, other)? {
                    s.value()?;
                }
            }
        }
        Ok(())
    })?;
    node.uuid = check_uuid(scanner, "nodes", key, uuid, start)?;
    node.name = required(scanner, name, "name", start)?;
    node.members = members;
    Ok(node)
}

fn nodegroup(scanner: &mut Scanner<'_>, key: &str) -> Scan<NodeGroup> {
    let start = scanner.offset();
    let mut group = NodeGroup::default();
    let mut uuid = None;
    let mut name = None;
    group.raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(owned(s.text()?)),
            "name" => name = Some(owned(s.text()?)),
            "networks" if s.peek_is(b'{') => {
                s.object(|s, network| {
                    group.networks.push(network.to_owned());
                    s.value().map(drop)
                })?;
            }
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    group.uuid = check_uuid(scanner, "nodegroups", key, uuid, start)?;
    group.name = required(scanner, name, "name", start)?;
    Ok(group)
}

fn network(scanner: &mut Scanner<'_>, key: &str) -> Scan<Network> {
    let start = scanner.offset();
    let mut uuid = None;
    let mut name = None;
    let raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(owned(s.text()?)),
            "name" => name = Some(owned(s.text()?)),
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(Network {
        uuid: check_uuid(scanner, "networks", key, uuid, start)?,
        name: required(scanner, name, "name", start)?,
        raw,
    })
}

fn nic(scanner: &mut Scanner<'_>) -> Scan<Nic> {
    let mut nic = Nic::default();
    scanner.object(|s, member| {
        match member {
            "uuid" => nic.uuid = s.opt_text()?.map(owned),
            "mac" => nic.mac = s.opt_text()?.map(owned),
            "ip" => nic.ip = s.opt_text()?.map(owned),
            "network" => nic.network = s.opt_text()?.map(owned),
            "nicparams" if s.peek_is(b'{') => nic.nicparams = nic_params(s)?,
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(nic)
}

fn nic_params(scanner: &mut Scanner<'_>) -> Scan<NicParams> {
    let mut params = NicParams::default();
    scanner.object(|s, member| {
        match member {
            "mode" => params.mode = s.opt_text()?.map(owned),
            "link" => params.link = s.opt_text()?.map(owned),
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(params)
}

fn instance(scanner: &mut Scanner<'_>, key: &str) -> Scan<Instance> {
    let start = scanner.offset();
    let mut instance = Instance::default();
    let mut uuid = None;
    let mut name = None;
    let mut members = Members::default();
    instance.raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(owned(s.text()?)),
            "name" => name = Some(owned(s.text()?)),
            "primary_node" => instance.primary_node = s.opt_text()?.map(owned),
            "network_port" => {
                let (port, span) = s.spanned(Scanner::opt_u64)?;
                instance.network_port = port;
                members.set(Field::NetworkPort, &span);
            }
            "nics" => {
                // Most instances have one NIC and one disk: no reallocation then.
                instance.nics.reserve_exact(1);
                s.array(|s, _| {
                    instance.nics.push(nic(s)?);
                    Ok(())
                })?;
            }
            "disks" => {
                instance.disks.reserve_exact(1);
                s.array(|s, _| {
                    instance.disks.push(owned(s.text()?));
                    Ok(())
                })?;
            }
            other => {
                if !stamp_member(s, &mut members, other)? {
                    s.value()?;
                }
            }
        }
        Ok(())
    })?;
    instance.nics.shrink_to_fit();
    instance.disks.shrink_to_fit();
    instance.uuid = check_uuid(scanner, "instances", key, uuid, start)?;
    instance.name = required(scanner, name, "name", start)?;
    instance.members = members;
    Ok(instance)
}

/// What a disk (or a child disk) says about itself, borrowed from the
/// text: only what the [`Disk`] keeps is copied.
#[derive(Default)]
struct DiskParts<'t> {
    uuid: Option<Cow<'t, str>>,
    dev_type: Option<Cow<'t, str>>,
    iv_name: Option<Cow<'t, str>>,
    /// `logical_id` entries 0 to 2: strings (nodes, VG, LV) or the port.
    logical_id: [LogicalIdPart<'t>; 3],
    port_span: Option<Range<usize>>,
}

#[derive(Default)]
enum LogicalIdPart<'t> {
    Text(Cow<'t, str>),
    Number(Option<u64>),
    #[default]
    Other,
}

/// Read a disk object; its children add their LVs and UUIDs to `lvs` and `child_uuids`.
fn disk_parts<'t>(
    scanner: &mut Scanner<'t>,
    members: &mut Members,
    lvs: &mut Vec<String>,
    child_uuids: &mut Vec<String>,
) -> Scan<(DiskParts<'t>, Range<usize>)> {
    let mut parts = DiskParts::default();
    let span = scanner.object(|s, member| {
        match member {
            "uuid" => parts.uuid = s.opt_text()?,
            "dev_type" => parts.dev_type = s.opt_text()?,
            "iv_name" => parts.iv_name = s.opt_text()?,
            "logical_id" if s.peek_is(b'[') => {
                s.array(|s, index| {
                    let (part, span) = s.spanned(|s| {
                        Ok(if index > 2 {
                            s.value()?;
                            LogicalIdPart::Other
                        } else if s.peek_is(b'"') {
                            LogicalIdPart::Text(s.text()?)
                        } else if s.peek_is_digit() {
                            let value = s.value()?;
                            LogicalIdPart::Number(s.text_at(value).parse().ok())
                        } else {
                            s.value()?;
                            LogicalIdPart::Other
                        })
                    })?;
                    if index == 2 {
                        parts.port_span = Some(span);
                    }
                    if let Some(slot) = parts.logical_id.get_mut(index) {
                        *slot = part;
                    }
                    Ok(())
                })?;
            }
            "children" if s.peek_is(b'[') => {
                s.array(|s, _| {
                    let (child, _) = disk_parts(s, &mut Members::default(), lvs, child_uuids)?;
                    if let Some(uuid) = &child.uuid {
                        child_uuids.push(uuid.as_ref().to_owned());
                    }
                    child.collect_lv(lvs);
                    Ok(())
                })?;
            }
            other => {
                if !stamp_member(s, members, other)? {
                    s.value()?;
                }
            }
        }
        Ok(())
    })?;
    Ok((parts, span))
}

impl DiskParts<'_> {
    fn text(&self, index: usize) -> Option<&str> {
        match self.logical_id.get(index) {
            Some(LogicalIdPart::Text(text)) => Some(text),
            _ => None,
        }
    }

    fn collect_lv(&self, lvs: &mut Vec<String>) {
        if self.dev_type.as_deref().is_some_and(is_plain)
            && let (Some(vg), Some(lv)) = (self.text(0), self.text(1))
        {
            let mut name = String::with_capacity(vg.len() + 1 + lv.len());
            name.push_str(vg);
            name.push('/');
            name.push_str(lv);
            lvs.push(name);
        }
    }
}

fn disk(scanner: &mut Scanner<'_>, key: &str) -> Scan<Disk> {
    let start = scanner.offset();
    let mut disk = Disk::default();
    let mut members = Members::default();
    let (parts, raw) = disk_parts(scanner, &mut members, &mut disk.lvs, &mut disk.child_uuids)?;
    parts.collect_lv(&mut disk.lvs);
    if parts.dev_type.as_deref().is_some_and(is_drbd) {
        match parts.logical_id.get(2) {
            Some(LogicalIdPart::Number(Some(port))) => disk.drbd_port = Some(*port),
            _ => {
                return Err(scanner.error_at(
                    start,
                    "is a DRBD disk whose logical_id[2] (its port) is not a non-negative integer",
                ));
            }
        }
        if let Some(span) = &parts.port_span {
            members.set(Field::DrbdPort, span);
        }
        disk.drbd_nodes.reserve_exact(2);
        for index in 0..2 {
            let node = parts.text(index).ok_or_else(|| {
                scanner.error_at(
                    start,
                    format!(
                        "is a DRBD disk whose logical_id[{index}] (a node UUID) is not a string"
                    ),
                )
            })?;
            disk.drbd_nodes.push(node.to_owned());
        }
    }
    disk.lvs.shrink_to_fit();
    disk.child_uuids.shrink_to_fit();
    disk.uuid = check_uuid(scanner, "disks", key, parts.uuid.map(owned), start)?;
    disk.iv_name = parts.iv_name.map(owned);
    disk.raw = raw;
    disk.members = members;
    Ok(disk)
}

fn filter(scanner: &mut Scanner<'_>, key: &str) -> Scan<()> {
    let start = scanner.offset();
    let mut uuid = None;
    scanner.object(|s, member| {
        if member == "uuid" {
            uuid = Some(owned(s.text()?));
        } else {
            s.value()?;
        }
        Ok(())
    })?;
    check_uuid(scanner, "filters", key, uuid, start).map(drop)
}

/// Read a section: an object of objects keyed by UUID.
fn section<T>(
    scanner: &mut Scanner<'_>,
    mut read: impl FnMut(&mut Scanner<'_>, &str) -> Scan<T>,
) -> Scan<Vec<T>> {
    let mut out = Vec::new();
    scanner.object(|s, key| {
        out.push(read(s, key)?);
        Ok(())
    })?;
    out.shrink_to_fit();
    Ok(out)
}

fn cluster(scanner: &mut Scanner<'_>) -> Scan<Cluster> {
    let mut cluster = Cluster {
        offset: scanner.offset(),
        ..Cluster::default()
    };
    let mut name = None;
    let mut entries = Vec::with_capacity(80);
    let mut mode = None;
    let mut link = None;
    scanner.object(|s, member| {
        let ((), span) = s.spanned(|s| {
            match member {
                "cluster_name" => name = Some(owned(s.text()?)),
                "uuid" => cluster.uuid = s.opt_text()?.map(owned),
                "master_node" => cluster.master_node = s.opt_text()?.map(owned),
                "master_ip" => cluster.master_ip = s.opt_text()?.map(owned),
                "highest_used_port" => cluster.highest_used_port = s.u64()?,
                "serial_no" => cluster.serial_no = s.u64()?,
                "tcpudp_port_pool" => {
                    s.array(|s, _| {
                        cluster.tcpudp_port_pool.push(s.u64()?);
                        Ok(())
                    })?;
                }
                "nicparams" if s.peek_is(b'{') => {
                    s.object(|s, group| {
                        if group == "default" && s.peek_is(b'{') {
                            let params = nic_params(s)?;
                            mode = params.mode;
                            link = params.link;
                        } else {
                            s.value()?;
                        }
                        Ok(())
                    })?;
                }
                _ => {
                    s.value()?;
                }
            }
            Ok(())
        })?;
        entries.push((member.to_owned(), raw_value(s, span)?));
        Ok(())
    })?;
    cluster.name = required(scanner, name, "cluster_name", cluster.offset)?;
    cluster.default_nic_mode = mode.unwrap_or_else(|| "bridged".to_owned());
    cluster.default_nic_link = link.unwrap_or_default();
    cluster.raw = RawObject::from_entries(entries);
    Ok(cluster)
}

fn raw_value(scanner: &Scanner<'_>, span: Range<usize>) -> Scan<Box<RawValue>> {
    let start = span.start;
    RawValue::from_string(scanner.text_at(span).to_owned())
        .map_err(|e| scanner.error_at(start, e.to_string()))
}

/// Everything [`ConfigFile`] holds but its path and text.
#[derive(Default)]
struct Parts {
    version: Option<u64>,
    serial_no: Option<u64>,
    top: Vec<(String, Box<RawValue>)>,
    cluster: Option<Cluster>,
    nodes: Vec<Node>,
    nodegroups: Vec<NodeGroup>,
    instances: Vec<Instance>,
    networks: Vec<Network>,
    disks: Vec<Disk>,
    filters: usize,
}

fn parse_parts(text: &str) -> Scan<Parts> {
    let mut scanner = Scanner::new(text);
    let mut parts = Parts::default();
    scanner.object(|s, member| {
        let placeholder = || RawValue::from_string("{}".to_owned());
        match member {
            "version" | "serial_no" | "cluster" => {
                let (value, span) = s.spanned(|s| match member {
                    "cluster" => cluster(s).map(Some),
                    _ => s.u64().map(|n| {
                        if member == "version" {
                            parts.version = Some(n);
                        } else {
                            parts.serial_no = Some(n);
                        }
                        None
                    }),
                })?;
                if let Some(value) = value {
                    parts.cluster = Some(value);
                }
                parts.top.push((member.to_owned(), raw_value(s, span)?));
                return Ok(());
            }
            "nodes" => parts.nodes = section(s, node)?,
            "nodegroups" => parts.nodegroups = section(s, nodegroup)?,
            "instances" => parts.instances = section(s, instance)?,
            "networks" => parts.networks = section(s, network)?,
            "disks" => parts.disks = section(s, disk)?,
            "filters" => {
                let span = s.spanned(|s| section(s, filter))?;
                parts.filters = span.0.len();
                parts.top.push((member.to_owned(), raw_value(s, span.1)?));
                return Ok(());
            }
            _ => {
                let span = s.value()?;
                parts.top.push((member.to_owned(), raw_value(s, span)?));
                return Ok(());
            }
        }
        let start = s.offset();
        parts.top.push((
            member.to_owned(),
            placeholder().map_err(|e| s.error_at(start, e.to_string()))?,
        ));
        Ok(())
    })?;
    scanner.end()?;
    Ok(parts)
}

impl ConfigFile {
    /// Read and parse `path`, refusing anything but a regular file of at most
    /// `max_size` bytes (see [`bouture_fs::read_bounded`]; a FIFO or a
    /// device is refused without blocking or reading).
    ///
    /// # Errors
    ///
    /// [`Error::Read`], [`Error::Invalid`] (naming the file, the position,
    /// the object and the rule) or [`Error::UnsupportedVersion`].
    pub fn read(path: impl AsRef<Path>, max_size: u64) -> Result<Self, Error> {
        let path = path.as_ref();
        Self::from_string(read_text(path, max_size)?, path)
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
        let parts = parse_parts(&text).map_err(|e| scan_error(path, &text, e))?;
        let missing = |what: &str| {
            invalid(
                path,
                &text,
                0,
                String::new(),
                format!("has no top-level '{what}'"),
            )
        };
        let version = parts.version.ok_or_else(|| missing("version"))?;
        if version != SUPPORTED_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_owned(),
                found: version,
            });
        }
        let serial_no = parts.serial_no.ok_or_else(|| missing("serial_no"))?;
        let cluster = parts.cluster.ok_or_else(|| missing("cluster"))?;
        Ok(Self {
            path: path.to_owned(),
            text,
            version,
            serial_no,
            top: RawObject::from_entries(parts.top),
            cluster,
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

    /// The cluster's name (`cluster.cluster_name`).
    pub fn name(&self) -> &str {
        &self.cluster.name
    }

    /// An [`Error::Invalid`] about the object starting at byte `offset`.
    pub(crate) fn invalid(&self, offset: usize, object: String, rule: String) -> Error {
        invalid(&self.path, &self.text, offset, object, rule)
    }
}

/// Read a file as UTF-8 text: a regular file of at most `max_size` bytes.
pub(crate) fn read_text(path: &Path, max_size: u64) -> Result<String, Error> {
    // Offsets are kept in 32 bits.
    let limit = max_size.min(u64::from(u32::MAX));
    let bytes = bouture_fs::read_bounded(path, limit, bouture_fs::Links::Follow)?;
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes());
        invalid(
            path,
            &text,
            offset,
            String::new(),
            "is not UTF-8 text".to_owned(),
        )
    })
}

fn invalid(path: &Path, text: &str, offset: usize, object: String, rule: String) -> Error {
    let (line, column) = line_column(text, offset);
    Error::Invalid {
        path: path.to_owned(),
        line,
        column,
        object,
        rule,
    }
}

fn scan_error(path: &Path, text: &str, error: ScanError) -> Error {
    invalid(path, text, error.offset, error.path, error.message)
}

//! A Ganeti 3.0 `config.data`, read in one pass and trusting nothing.
//!
//! The file is read once by a validating scanner ([`crate::json`]): every
//! value is checked, duplicate keys are refused at any depth, and the
//! fields bouture checks or changes (UUIDs, names, addresses, ports,
//! references) are taken as it goes. Objects keep their place in the file's
//! text; fields bouture does not know are written back verbatim.

use std::borrow::Cow;
use std::num::NonZeroU32;
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

/// The largest text a [`ConfigFile`] can hold: 2 GiB - 1 (positions are
/// kept in 31 bits, see [`Str`]).
pub const MAX_TEXT_SIZE: usize = (1 << 31) - 1;

/// A string of a parsed [`ConfigFile`]; [`ConfigFile::str`] gives its text.
///
/// Parsed objects do not copy their strings: a `Str` is where the string is
/// in the file's text (8 bytes, no allocation), or, for a string written
/// with escapes (`"\u0061"`), where its decoded text is in the strings the
/// file keeps aside. It has no equality of its own: two strings are equal
/// when their texts are, whatever their positions.
///
/// ```
/// use bouture_merge::ConfigFile;
///
/// let config = ConfigFile::read("tests/fixtures/cluster_config_3.0.json", 1 << 20)?;
/// let node = &config.nodes[0];
/// assert_eq!(config.str(node.uuid).len(), 36);
/// # Ok::<(), bouture_merge::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Str {
    /// The first byte's offset, [`Str::DECODED`] set for a decoded string;
    /// never 0 (offset 0 of the text is the document's brace, and the
    /// decoded strings start with an unused byte).
    start: NonZeroU32,
    len: u32,
}

impl Str {
    const DECODED: u32 = 1 << 31;

    /// A string at `start..start + len` of the text.
    pub(crate) fn in_text(start: usize, len: usize) -> Option<Self> {
        Self::at(start, len, 0)
    }

    /// A string at `start..start + len` of the decoded strings.
    pub(crate) fn decoded(start: usize, len: usize) -> Option<Self> {
        Self::at(start, len, Self::DECODED)
    }

    fn at(start: usize, len: usize, flag: u32) -> Option<Self> {
        let start = u32::try_from(start)
            .ok()
            .filter(|s| s & Self::DECODED == 0)?;
        Some(Self {
            start: NonZeroU32::new(start | flag)?,
            len: u32::try_from(len).ok()?,
        })
    }

    /// Its text, given the file's text and decoded strings (empty if it is
    /// not in them, which a `Str` of this file never is).
    pub(crate) fn resolve<'a>(self, text: &'a str, decoded: &'a str) -> &'a str {
        let start = self.start.get();
        let (from, start) = if start & Self::DECODED == 0 {
            (text, start)
        } else {
            (decoded, start & !Self::DECODED)
        };
        let start = start as usize;
        from.get(start..start + self.len as usize)
            .unwrap_or_default()
    }

    /// Its length in bytes.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether it is the empty string.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

/// Where an object's list (an instance's NICs or disks, a disk's LVs or
/// child UUIDs) is in its file's arrays: one array per file and kind
/// instead of a vector per object (8 bytes here and no allocation per
/// object; see [`ConfigFile::nics`] and the like).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct List {
    start: u32,
    len: u32,
}

impl List {
    /// Its number of elements.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether it has none.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// Its elements in `all`.
    fn of<T>(self, all: &[T]) -> &[T] {
        let start = self.start as usize;
        all.get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// The elements pushed onto `all` since it had `start` elements, as a
/// [`List`] (`None` past 2^32 elements).
fn list_since<T>(all: &[T], start: usize) -> Option<List> {
    Some(List {
        start: u32::try_from(start).ok()?,
        len: u32::try_from(all.len().checked_sub(start)?).ok()?,
    })
}

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
    /// The decoded text of the strings written with escapes (see [`Str`]).
    decoded: String,
    /// The objects' lists (see [`List`]).
    lists: Lists,
}

/// The lists of all the objects of a file, one array per kind.
#[derive(Debug, Clone, Default)]
struct Lists {
    nics: Vec<Nic>,
    instance_disks: Vec<Str>,
    lvs: Vec<Lv>,
    child_uuids: Vec<Str>,
}

impl Lists {
    fn shrink_to_fit(&mut self) {
        self.nics.shrink_to_fit();
        self.instance_disks.shrink_to_fit();
        self.lvs.shrink_to_fit();
        self.child_uuids.shrink_to_fit();
    }
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
    /// Its place in [`Members`]: the stamps first, then the members of
    /// one kind of object (the port of an instance or a disk, the flags
    /// and group of a node), so four places hold an instance's or a
    /// disk's and seven a node's.
    #[inline]
    fn slot(self) -> usize {
        match self {
            Self::SerialNo => 0,
            Self::Ctime => 1,
            Self::Mtime => 2,
            Self::NetworkPort | Self::DrbdPort | Self::MasterCandidate => 3,
            Self::Drained => 4,
            Self::Offline => 5,
            Self::Group => 6,
        }
    }

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
///
/// It has `N` places, each field its own (the stamps, then the members of
/// one kind of object): instances and disks need four (`serial_no`,
/// `ctime`, `mtime` and their port), nodes seven. 36 bytes for four instead
/// of a place for every field (72): 13 MB less at 100,000 instances and
/// disks per cluster.
#[derive(Debug, Clone, Copy)]
pub struct Members<const N: usize = 4> {
    spans: [(u32, u32); N],
    fields: [Option<Field>; N],
}

impl<const N: usize> Default for Members<N> {
    fn default() -> Self {
        Self {
            spans: [(0, 0); N],
            fields: [None; N],
        }
    }
}

impl<const N: usize> Members<N> {
    /// Record the span of `field`; false when its place is beyond `N` or
    /// holds another field (a field this kind of object does not have).
    #[must_use]
    #[inline]
    fn set(&mut self, field: Field, span: &Range<usize>) -> bool {
        let (Ok(start), Ok(end)) = (u32::try_from(span.start), u32::try_from(span.end)) else {
            return false;
        };
        let i = field.slot();
        match (self.spans.get_mut(i), self.fields.get_mut(i)) {
            (Some(span), Some(slot_field)) if slot_field.is_none_or(|f| f == field) => {
                *span = (start, end);
                *slot_field = Some(field);
                true
            }
            _ => false,
        }
    }

    /// The byte range of a member's value, if the object has that member.
    pub fn get(&self, field: Field) -> Option<Range<usize>> {
        let i = field.slot();
        if self.fields.get(i).copied().flatten() != Some(field) {
            return None;
        }
        self.spans
            .get(i)
            .map(|&(start, end)| start as usize..end as usize)
    }
}

/// A node.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Node {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: Str,
    /// `name`.
    pub name: Str,
    /// `primary_ip`.
    pub primary_ip: Option<Str>,
    /// `secondary_ip`.
    pub secondary_ip: Option<Str>,
    /// `group` (a node group UUID).
    pub group: Option<Str>,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
    /// Where its replaceable members are.
    pub members: Members<7>,
}

/// A node group.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeGroup {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: Str,
    /// `name`.
    pub name: Str,
    /// The keys of its `networks` map (network UUIDs).
    pub networks: Vec<Str>,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
}

/// A network.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Network {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: Str,
    /// `name`.
    pub name: Str,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
}

/// An instance network interface.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Nic {
    /// `uuid`.
    pub uuid: Option<Str>,
    /// `mac`.
    pub mac: Option<Str>,
    /// `ip`.
    pub ip: Option<Str>,
    /// `network` (a network UUID).
    pub network: Option<Str>,
    /// `nicparams` (only mode and link are read).
    pub nicparams: NicParams,
}

/// The NIC parameters bouture reads.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct NicParams {
    /// `mode`: bridged, routed or openvswitch.
    pub mode: Option<Str>,
    /// `link`.
    pub link: Option<Str>,
}

/// An instance.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Instance {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: Str,
    /// `name`.
    pub name: Str,
    /// `primary_node` (a node UUID).
    pub primary_node: Option<Str>,
    /// `network_port` (console port), when set.
    pub network_port: Option<u64>,
    /// `nics` ([`ConfigFile::nics`] gives them).
    pub nics: List,
    /// `disks`, disk UUIDs in order ([`ConfigFile::instance_disks`] gives them).
    pub disks: List,
    /// Where the object's JSON text is in [`ConfigFile::text`] (see [`ConfigFile::raw`]).
    pub raw: Range<usize>,
    /// Where its replaceable members are.
    pub members: Members,
}

/// A logical volume of a plain disk (its `logical_id`, `[vg, lv]`);
/// [`ConfigFile::lv_name`] gives its `vg/lv` name.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Lv {
    /// The volume group.
    pub vg: Str,
    /// The logical volume.
    pub lv: Str,
}

/// A top-level disk.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Disk {
    /// `uuid` (also its key in the file: they must be equal).
    pub uuid: Str,
    /// `iv_name` (`disk/N`), if any.
    pub iv_name: Option<Str>,
    /// The DRBD port (`logical_id[2]`), for DRBD disks.
    pub drbd_port: Option<u64>,
    /// The two nodes of a DRBD disk (`logical_id[0]` and `[1]`).
    pub drbd_nodes: Option<[Str; 2]>,
    /// The logical volumes of this disk and its children ([`ConfigFile::lvs`] gives them).
    pub lvs: List,
    /// UUIDs of child disks that have one ([`ConfigFile::child_uuids`] gives them).
    pub child_uuids: List,
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
    uuid: Option<Str>,
    start: usize,
) -> Scan<Str> {
    match uuid {
        Some(uuid) if scanner.resolve(uuid) == key => Ok(uuid),
        Some(uuid) => Err(scanner.error_at(
            start,
            format!(
                "is stored under the key '{key}' but its uuid is '{}'; the key of every object in '{section}' must be its uuid (Ganeti would index it by the key)",
                scanner.resolve(uuid)
            ),
        )),
        None => Err(scanner.error_at(start, format!("has no uuid (every object in '{section}' needs one, equal to its key)"))),
    }
}

fn required(scanner: &Scanner<'_>, value: Option<Str>, what: &str, start: usize) -> Scan<Str> {
    value.ok_or_else(|| scanner.error_at(start, format!("has no {what}")))
}

/// Record `span` as where `field` is.
#[inline]
fn put<const N: usize>(
    scanner: &Scanner<'_>,
    members: &mut Members<N>,
    field: Field,
    span: &Range<usize>,
) -> Scan<()> {
    if members.set(field, span) {
        Ok(())
    } else {
        Err(scanner.error_at(
            span.start,
            format!("has no room to record its '{}' member", field.name()),
        ))
    }
}

/// Record the span of the value read by `read` as `field`.
#[inline]
fn record<const N: usize>(
    scanner: &mut Scanner<'_>,
    members: &mut Members<N>,
    field: Field,
) -> Scan<()> {
    let span = scanner.value()?;
    put(scanner, members, field, &span)
}

#[inline(always)]
#[allow(
    clippy::inline_always,
    reason = "called for most members of every object; left out of line it cost 2M instructions at 1k (callgrind)"
)]
fn stamp_member<const N: usize>(
    scanner: &mut Scanner<'_>,
    members: &mut Members<N>,
    name: &str,
) -> Scan<bool> {
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
    let (mut uuid, mut name) = (None, None);
    let (mut primary_ip, mut secondary_ip, mut group) = (None, None, None);
    let mut members = Members::<7>::default();
    let raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(s.str()?),
            "name" => name = Some(s.str()?),
            "primary_ip" => primary_ip = s.opt_str()?,
            "secondary_ip" => secondary_ip = s.opt_str()?,
            "group" => {
                let (value, span) = s.spanned(Scanner::opt_str)?;
                group = value;
                put(s, &mut members, Field::Group, &span)?;
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
    Ok(Node {
        uuid: check_uuid(scanner, "nodes", key, uuid, start)?,
        name: required(scanner, name, "name", start)?,
        primary_ip,
        secondary_ip,
        group,
        raw,
        members,
    })
}

fn nodegroup(scanner: &mut Scanner<'_>, key: &str) -> Scan<NodeGroup> {
    let start = scanner.offset();
    let (mut uuid, mut name) = (None, None);
    let mut networks = Vec::new();
    let raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(s.str()?),
            "name" => name = Some(s.str()?),
            "networks" if s.peek_is(b'{') => {
                s.object(|s, network| {
                    networks.push(s.store(network)?);
                    s.value().map(drop)
                })?;
            }
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(NodeGroup {
        uuid: check_uuid(scanner, "nodegroups", key, uuid, start)?,
        name: required(scanner, name, "name", start)?,
        networks,
        raw,
    })
}

fn network(scanner: &mut Scanner<'_>, key: &str) -> Scan<Network> {
    let start = scanner.offset();
    let (mut uuid, mut name) = (None, None);
    let raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(s.str()?),
            "name" => name = Some(s.str()?),
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
            "uuid" => nic.uuid = s.opt_str()?,
            "mac" => nic.mac = s.opt_str()?,
            "ip" => nic.ip = s.opt_str()?,
            "network" => nic.network = s.opt_str()?,
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
            "mode" => params.mode = s.opt_str()?,
            "link" => params.link = s.opt_str()?,
            _ => {
                s.value()?;
            }
        }
        Ok(())
    })?;
    Ok(params)
}

/// A list pushed onto `all` since `start`, or an error at `offset`.
fn list<T>(scanner: &Scanner<'_>, all: &[T], start: usize, offset: usize) -> Scan<List> {
    list_since(all, start)
        .ok_or_else(|| scanner.error_at(offset, "more than 2^32 list elements in one file"))
}

fn instance(scanner: &mut Scanner<'_>, key: &str, lists: &mut Lists) -> Scan<Instance> {
    let start = scanner.offset();
    let (mut uuid, mut name, mut primary_node, mut network_port) = (None, None, None, None);
    let (nics_start, disks_start) = (lists.nics.len(), lists.instance_disks.len());
    let mut members = Members::default();
    let raw = scanner.object(|s, member| {
        match member {
            "uuid" => uuid = Some(s.str()?),
            "name" => name = Some(s.str()?),
            "primary_node" => primary_node = s.opt_str()?,
            "network_port" => {
                let (port, span) = s.spanned(Scanner::opt_u64)?;
                network_port = port;
                put(s, &mut members, Field::NetworkPort, &span)?;
            }
            // Duplicate keys are refused, so each list is read once and
            // its elements are contiguous in the file's array.
            "nics" => {
                s.array(|s, _| {
                    lists.nics.push(nic(s)?);
                    Ok(())
                })?;
            }
            "disks" => {
                s.array(|s, _| {
                    lists.instance_disks.push(s.str()?);
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
    Ok(Instance {
        uuid: check_uuid(scanner, "instances", key, uuid, start)?,
        name: required(scanner, name, "name", start)?,
        primary_node,
        network_port,
        nics: list(scanner, &lists.nics, nics_start, start)?,
        disks: list(scanner, &lists.instance_disks, disks_start, start)?,
        raw,
        members,
    })
}

/// What a disk (or a child disk) says about itself, as it is read.
#[derive(Default)]
struct DiskParts<'t> {
    uuid: Option<Str>,
    dev_type: Option<Cow<'t, str>>,
    iv_name: Option<Str>,
    /// `logical_id` entries 0 to 2: strings (nodes, VG, LV) or the port.
    logical_id: [LogicalIdPart; 3],
    port_span: Option<Range<usize>>,
}

#[derive(Default, Clone, Copy)]
enum LogicalIdPart {
    Text(Str),
    Number(Option<u64>),
    #[default]
    Other,
}

/// Read a disk object; its children add their LVs and UUIDs to `lvs` and `child_uuids`.
fn disk_parts<'t>(
    scanner: &mut Scanner<'t>,
    members: &mut Members,
    lvs: &mut Vec<Lv>,
    child_uuids: &mut Vec<Str>,
) -> Scan<(DiskParts<'t>, Range<usize>)> {
    let mut parts = DiskParts::default();
    let span = scanner.object(|s, member| {
        match member {
            "uuid" => parts.uuid = s.opt_str()?,
            "dev_type" => parts.dev_type = s.opt_text()?,
            "iv_name" => parts.iv_name = s.opt_str()?,
            "logical_id" if s.peek_is(b'[') => {
                s.array(|s, index| {
                    let (part, span) = s.spanned(|s| {
                        Ok(if index > 2 {
                            s.value()?;
                            LogicalIdPart::Other
                        } else if s.peek_is(b'"') {
                            LogicalIdPart::Text(s.str()?)
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
                    if let Some(uuid) = child.uuid {
                        child_uuids.push(uuid);
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
    fn text(&self, index: usize) -> Option<Str> {
        match self.logical_id.get(index) {
            Some(LogicalIdPart::Text(text)) => Some(*text),
            _ => None,
        }
    }

    fn collect_lv(&self, lvs: &mut Vec<Lv>) {
        if self.dev_type.as_deref().is_some_and(is_plain)
            && let (Some(vg), Some(lv)) = (self.text(0), self.text(1))
        {
            lvs.push(Lv { vg, lv });
        }
    }
}

fn disk(scanner: &mut Scanner<'_>, key: &str, lists: &mut Lists) -> Scan<Disk> {
    let start = scanner.offset();
    let mut members = Members::default();
    let (lvs_start, children_start) = (lists.lvs.len(), lists.child_uuids.len());
    let (parts, raw) = disk_parts(
        scanner,
        &mut members,
        &mut lists.lvs,
        &mut lists.child_uuids,
    )?;
    parts.collect_lv(&mut lists.lvs);
    let (mut drbd_port, mut drbd_nodes) = (None, None);
    if parts.dev_type.as_deref().is_some_and(is_drbd) {
        match parts.logical_id.get(2) {
            Some(LogicalIdPart::Number(Some(port))) => drbd_port = Some(*port),
            _ => {
                return Err(scanner.error_at(
                    start,
                    "is a DRBD disk whose logical_id[2] (its port) is not a non-negative integer",
                ));
            }
        }
        if let Some(span) = &parts.port_span {
            put(scanner, &mut members, Field::DrbdPort, span)?;
        }
        let node = |index: usize| {
            parts.text(index).ok_or_else(|| {
                scanner.error_at(
                    start,
                    format!(
                        "is a DRBD disk whose logical_id[{index}] (a node UUID) is not a string"
                    ),
                )
            })
        };
        drbd_nodes = Some([node(0)?, node(1)?]);
    }
    Ok(Disk {
        uuid: check_uuid(scanner, "disks", key, parts.uuid, start)?,
        iv_name: parts.iv_name,
        drbd_port,
        drbd_nodes,
        lvs: list(scanner, &lists.lvs, lvs_start, start)?,
        child_uuids: list(scanner, &lists.child_uuids, children_start, start)?,
        raw,
        members,
    })
}

fn filter(scanner: &mut Scanner<'_>, key: &str) -> Scan<()> {
    let start = scanner.offset();
    let mut uuid = None;
    scanner.object(|s, member| {
        if member == "uuid" {
            uuid = Some(s.str()?);
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
                            mode = params.mode.map(|m| s.resolve(m).to_owned());
                            link = params.link.map(|l| s.resolve(l).to_owned());
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
    cluster.name = name.ok_or_else(|| scanner.error_at(cluster.offset, "has no cluster_name"))?;
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
    decoded: String,
    lists: Lists,
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
            "instances" => {
                parts.instances = section(s, |s, key| instance(s, key, &mut parts.lists))?;
            }
            "networks" => parts.networks = section(s, network)?,
            "disks" => parts.disks = section(s, |s, key| disk(s, key, &mut parts.lists))?,
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
    parts.decoded = scanner.into_decoded();
    parts.lists.shrink_to_fit();
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
        if text.len() > MAX_TEXT_SIZE {
            return Err(invalid(
                path,
                "",
                0,
                String::new(),
                format!(
                    "is {} bytes long; bouture reads configurations of at most {MAX_TEXT_SIZE} bytes",
                    text.len()
                ),
            ));
        }
        let parts = parse_parts(&text).map_err(|e| scan_error(path, &text, *e))?;
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
            decoded: parts.decoded,
            lists: parts.lists,
        })
    }

    /// The text of one of this file's strings (a [`Str`] of another file
    /// names a place in that file: use each with its own file).
    pub fn str(&self, value: Str) -> &str {
        value.resolve(&self.text, &self.decoded)
    }

    /// An instance's NICs (`instance` must be one of this file's).
    pub fn nics(&self, instance: &Instance) -> &[Nic] {
        instance.nics.of(&self.lists.nics)
    }

    /// An instance's disk UUIDs, in order (`instance` must be one of this file's).
    pub fn instance_disks(&self, instance: &Instance) -> &[Str] {
        instance.disks.of(&self.lists.instance_disks)
    }

    /// The logical volumes of a disk and its children (`disk` must be one of this file's).
    pub fn lvs(&self, disk: &Disk) -> &[Lv] {
        disk.lvs.of(&self.lists.lvs)
    }

    /// The UUIDs of a disk's children that have one (`disk` must be one of this file's).
    pub fn child_uuids(&self, disk: &Disk) -> &[Str] {
        disk.child_uuids.of(&self.lists.child_uuids)
    }

    /// The text of one of this file's strings, if there is one.
    pub fn opt_str(&self, value: Option<Str>) -> Option<&str> {
        value.map(|value| self.str(value))
    }

    /// A logical volume's `vg/lv` name.
    pub fn lv_name(&self, lv: Lv) -> String {
        let (vg, name) = (self.str(lv.vg), self.str(lv.lv));
        let mut out = String::with_capacity(vg.len() + 1 + name.len());
        out.push_str(vg);
        out.push('/');
        out.push_str(name);
        out
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
    // Offsets are kept in 31 bits (see `Str`).
    let limit = max_size.min(MAX_TEXT_SIZE as u64);
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

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "tests fail loudly"
    )]

    use super::*;

    #[test]
    fn members_keep_one_span_per_field_and_say_when_full() {
        let mut members = Members::<4>::default();
        assert_eq!(members.get(Field::Ctime), None);
        assert!(members.set(Field::Ctime, &(5..9)));
        assert!(members.set(Field::NetworkPort, &(12..20)));
        assert!(members.set(Field::Ctime, &(30..31)));
        // The port's place is taken; a node's flags have no place in four.
        assert!(!members.set(Field::DrbdPort, &(40..41)));
        assert!(!members.set(Field::Drained, &(40..41)));
        assert_eq!(members.get(Field::Ctime), Some(30..31));
        assert_eq!(members.get(Field::NetworkPort), Some(12..20));
        assert_eq!(members.get(Field::DrbdPort), None);
        assert_eq!(members.get(Field::SerialNo), None);
        assert_eq!(members.get(Field::Group), None);
    }

    /// Every node's, instance's and disk's replaceable members are where
    /// their text is.
    #[test]
    fn members_of_each_kind_are_all_recorded() {
        let text = std::fs::read_to_string("tests/fixtures/cluster_config_3.0.json").unwrap();
        let config = ConfigFile::parse(&text, "f").unwrap();
        let check = |members: &dyn Fn(Field) -> Option<Range<usize>>, fields: &[Field]| {
            for field in fields {
                let span = members(*field).unwrap();
                assert!(!text[span].is_empty(), "{field:?}");
            }
        };
        let stamps = [Field::SerialNo, Field::Ctime, Field::Mtime];
        for node in &config.nodes {
            check(&|f| node.members.get(f), &stamps);
            check(
                &|f| node.members.get(f),
                &[
                    Field::MasterCandidate,
                    Field::Drained,
                    Field::Offline,
                    Field::Group,
                ],
            );
        }
        for instance in &config.instances {
            check(&|f| instance.members.get(f), &stamps);
        }
        for disk in &config.disks {
            check(&|f| disk.members.get(f), &stamps);
            if disk.drbd_port.is_some() {
                let span = disk.members.get(Field::DrbdPort).unwrap();
                assert_eq!(text[span].parse::<u64>().ok(), disk.drbd_port);
            }
        }
    }

    /// Every instance's and disk's lists, read through the file's shared
    /// arrays, are what `serde_json` reads in the same object.
    #[test]
    fn lists_in_shared_arrays_are_each_objects_own() {
        let text = r#"{"version": 3000000, "serial_no": 1,
            "cluster": {"cluster_name": "c"},
            "instances": {
              "i1": {"uuid": "i1", "name": "a", "nics": [{"mac": "m1"}, {"mac": "m2"}], "disks": ["d1", "d2"]},
              "i2": {"uuid": "i2", "name": "b", "nics": [], "disks": []},
              "i3": {"uuid": "i3", "name": "c", "disks": ["d3"], "nics": [{"mac": "m3", "uuid": "n3"}]}
            },
            "disks": {
              "d1": {"uuid": "d1", "dev_type": "drbd", "logical_id": ["n1", "n2", 11000, 0, 0, "s"],
                     "children": [{"uuid": "c1", "dev_type": "plain", "logical_id": ["vg", "data"]},
                                  {"dev_type": "plain", "logical_id": ["vg", "meta"]}]},
              "d2": {"uuid": "d2", "dev_type": "plain", "logical_id": ["vg", "d2"]},
              "d3": {"uuid": "d3", "dev_type": "file", "logical_id": ["loop", "/x"]}
            }}"#;
        let config = ConfigFile::parse(text, "t.data").unwrap();
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        for instance in &config.instances {
            let json = &value["instances"][config.str(instance.uuid)];
            let macs: Vec<&str> = config
                .nics(instance)
                .iter()
                .map(|n| config.opt_str(n.mac).unwrap())
                .collect();
            let expected: Vec<&str> = json["nics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["mac"].as_str().unwrap())
                .collect();
            assert_eq!(macs, expected);
            let disks: Vec<&str> = config
                .instance_disks(instance)
                .iter()
                .map(|d| config.str(*d))
                .collect();
            assert_eq!(
                disks,
                json["disks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap())
                    .collect::<Vec<_>>()
            );
        }
        let lvs: Vec<Vec<String>> = config
            .disks
            .iter()
            .map(|d| config.lvs(d).iter().map(|lv| config.lv_name(*lv)).collect())
            .collect();
        assert_eq!(lvs, [vec!["vg/data", "vg/meta"], vec!["vg/d2"], vec![]]);
        let children: Vec<Vec<&str>> = config
            .disks
            .iter()
            .map(|d| {
                config
                    .child_uuids(d)
                    .iter()
                    .map(|u| config.str(*u))
                    .collect()
            })
            .collect();
        assert_eq!(children, [vec!["c1"], vec![], vec![]]);
        assert_eq!(config.instances[1].nics.len(), 0);
        assert!(config.instances[1].disks.is_empty());
    }
}

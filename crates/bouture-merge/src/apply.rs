//! Building the merged `config.data` from the inputs and a [`MergePlan`].
//!
//! Our objects are copied as text, untouched (except the cluster object, the
//! config's serial number and time, and a node group that gains the networks
//! of a group merged into it). The merging clusters' objects are split one
//! level deep: only the members bouture changes are replaced, every other
//! member keeps its text. The output is written directly, without building a
//! JSON tree.

use std::collections::HashMap;
use std::io::{self, Write};
use std::ops::Range;

use serde_json::value::RawValue;

use crate::error::Error;
use crate::groups::GroupAction;
use crate::model::{ConfigFile, Field, Members, SECTIONS};
use crate::plan::MergePlan;
use crate::raw::{PatchObject, RawObject, SetMember};

/// Entries of a node group's `networks` map.
type NetworkMap = Vec<(String, Box<RawValue>)>;

/// One object of the output: text from an input, text made by the merge, or
/// an input object with some members replaced.
enum Piece<'a> {
    Text(&'a str),
    Owned(Box<RawValue>),
    Patched(PatchObject<'a>),
}

type Entries<'a> = Vec<(&'a str, Piece<'a>)>;

/// A node group on its way to the output, with where it comes from.
struct GroupOut<'a> {
    cluster: usize,
    key: &'a str,
    uuid: &'a str,
    piece: Piece<'a>,
}

fn ser(error: serde_json::Error) -> Error {
    Error::Serialize { source: error }
}

/// Parse an object one level deep into an owned [`RawObject`].
fn open(config: &ConfigFile, what: &str, text: &str) -> Result<RawObject, Error> {
    RawObject::parse(text).map_err(|e| config.invalid(0, what.to_owned(), e.to_string()))
}

/// Split an object of a merging cluster into members, borrowing their text.
fn patch<'c>(
    config: &ConfigFile,
    text: &'c str,
    what: impl FnOnce() -> String,
) -> Result<PatchObject<'c>, Error> {
    PatchObject::parse(text).map_err(|e| config.invalid(0, what(), e.to_string()))
}

/// `serial_no = 1`, `ctime = mtime = now`: what Ganeti's Add* calls do.
fn stamp(object: &mut PatchObject<'_>, now: f64) -> Result<(), Error> {
    object.set("serial_no", &1).map_err(ser)?;
    object.set("ctime", &now).map_err(ser)?;
    object.set("mtime", &now).map_err(ser)
}

/// Build the merged `config.data` text (a newline-terminated JSON document).
///
/// # Errors
///
/// [`Error::Invalid`] if an object of a merging cluster is not a JSON
/// object (which [`ConfigFile::parse`] already rules out), or
/// [`Error::Serialize`].
pub fn apply(ours: &ConfigFile, theirs: &[ConfigFile], plan: &MergePlan) -> Result<Vec<u8>, Error> {
    let merged = Merged::new(ours, theirs, plan)?;
    let capacity = ours.text.len() + theirs.iter().map(|t| t.text.len()).sum::<usize>();
    let mut out = Vec::with_capacity(capacity + capacity / 8 + 4096);
    merged.write(&mut out).map_err(|e| Error::Serialize {
        source: serde_json::Error::io(e),
    })?;
    Ok(out)
}

/// The merged configuration, ready to be written: the few objects the merge
/// builds (cluster, node groups, networks) are made; everything else is
/// written straight from the inputs' text by [`Merged::write`].
pub struct Merged<'a> {
    ours: &'a ConfigFile,
    theirs: &'a [ConfigFile],
    plan: &'a MergePlan,
    cluster: Box<RawValue>,
    serial: String,
    now: String,
    groups: Vec<GroupOut<'a>>,
    networks: Vec<Entries<'a>>,
}

impl<'a> Merged<'a> {
    /// Prepare the merge of `theirs` into `ours` as `plan` says.
    ///
    /// # Errors
    ///
    /// As [`apply`].
    pub fn new(
        ours: &'a ConfigFile,
        theirs: &'a [ConfigFile],
        plan: &'a MergePlan,
    ) -> Result<Self, Error> {
        let now = plan.now;
        let mut groups: Vec<GroupOut<'_>> = ours
            .nodegroups
            .iter()
            .map(|g| GroupOut {
                cluster: 0,
                key: ours.str(g.uuid),
                uuid: ours.str(g.uuid),
                piece: Piece::Text(ours.raw(&g.raw)),
            })
            .collect();
        // Networks gained by existing groups through the merge strategy:
        // (cluster index, group uuid) → network map entries.
        let mut gained: HashMap<(usize, &str), NetworkMap> = HashMap::new();
        let mut networks = Vec::with_capacity(theirs.len());
        for (index, other) in theirs.iter().enumerate() {
            add_groups(other, index, plan, &mut groups, &mut gained)?;
            networks.push(their_networks(other, now)?);
        }
        extend_group_networks(ours, theirs, now, &mut groups, gained)?;
        Ok(Self {
            ours,
            theirs,
            plan,
            cluster: merged_cluster(ours, plan)?,
            serial: (ours.serial_no + 1).to_string(),
            now: serde_json::to_string(&now).map_err(ser)?,
            groups,
            networks,
        })
    }

    /// Write the merged configuration to `out`.
    ///
    /// # Errors
    ///
    /// The writer's errors.
    pub fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let ours = self.ours;
        out.write_all(b"{")?;
        let mut first = true;
        let mut written = [false; SECTIONS.len()];
        for (key, raw) in ours.top.iter() {
            member(out, &mut first, key)?;
            match key {
                "cluster" => out.write_all(self.cluster.get().as_bytes())?,
                "serial_no" => out.write_all(self.serial.as_bytes())?,
                "mtime" => out.write_all(self.now.as_bytes())?,
                _ => match SECTIONS.iter().position(|s| *s == key) {
                    Some(i) if key != "filters" => {
                        if let Some(done) = written.get_mut(i) {
                            *done = true;
                        }
                        self.section(out, key)?;
                    }
                    _ => out.write_all(raw.get().as_bytes())?,
                },
            }
        }
        for (i, name) in SECTIONS.iter().enumerate() {
            if *name != "filters" && !written.get(i).copied().unwrap_or(true) && self.has(name) {
                member(out, &mut first, name)?;
                self.section(out, name)?;
            }
        }
        if ours.top.get("mtime").is_none() {
            member(out, &mut first, "mtime")?;
            out.write_all(self.now.as_bytes())?;
        }
        out.write_all(b"}\n")
    }

    /// Whether a section has any object in the merged configuration.
    fn has(&self, name: &str) -> bool {
        let count = |c: &ConfigFile| match name {
            "nodes" => c.nodes.len(),
            "nodegroups" => c.nodegroups.len(),
            "instances" => c.instances.len(),
            "networks" => c.networks.len(),
            "disks" => c.disks.len(),
            _ => 0,
        };
        std::iter::once(self.ours)
            .chain(self.theirs)
            .any(|c| count(c) > 0)
    }

    fn section(&self, out: &mut dyn Write, name: &str) -> io::Result<()> {
        let ours = self.ours;
        let plan = self.plan;
        let mut writer = SectionWriter::new(out)?;
        match name {
            "nodegroups" => {
                for group in &self.groups {
                    writer.entry(group.key)?;
                    write_piece(writer.out, &group.piece)?;
                }
            }
            "networks" => {
                for network in &ours.networks {
                    writer.text(ours.str(network.uuid), ours.raw(&network.raw))?;
                }
                for entries in &self.networks {
                    for (key, piece) in entries {
                        writer.entry(key)?;
                        write_piece(writer.out, piece)?;
                    }
                }
            }
            "nodes" => {
                for node in &ours.nodes {
                    writer.text(ours.str(node.uuid), ours.raw(&node.raw))?;
                }
                for (index, other) in self.theirs.iter().enumerate() {
                    for node in &other.nodes {
                        let group = other.opt_str(node.group).and_then(|g| {
                            match plan.groups.action(index, g) {
                                Some(GroupAction::MergeInto { target_uuid, .. }) => {
                                    Some(quoted(target_uuid))
                                }
                                _ => None,
                            }
                        });
                        let mut edits = vec![
                            (Field::MasterCandidate, "false"),
                            (Field::Drained, "false"),
                            (Field::Offline, "true"),
                        ];
                        if let Some(group) = &group {
                            edits.push((Field::Group, group.as_str()));
                        }
                        self.stamped(&mut edits);
                        writer.patched(
                            other.str(node.uuid),
                            other,
                            &node.raw,
                            &node.members,
                            &edits,
                        )?;
                    }
                }
            }
            "instances" => {
                for instance in &ours.instances {
                    writer.text(ours.str(instance.uuid), ours.raw(&instance.raw))?;
                }
                for (index, other) in self.theirs.iter().enumerate() {
                    let ports = plan.instance_ports.get(index);
                    for (at, instance) in other.instances.iter().enumerate() {
                        let port = ports.and_then(|p| p.get(at).copied().flatten());
                        self.stamped_with(
                            &mut writer,
                            other,
                            other.str(instance.uuid),
                            &instance.raw,
                            &instance.members,
                            Field::NetworkPort,
                            port,
                        )?;
                    }
                }
            }
            "disks" => {
                for disk in &ours.disks {
                    writer.text(ours.str(disk.uuid), ours.raw(&disk.raw))?;
                }
                for (index, other) in self.theirs.iter().enumerate() {
                    let ports = plan.disk_ports.get(index);
                    for (at, disk) in other.disks.iter().enumerate() {
                        let port = ports.and_then(|p| p.get(at).copied().flatten());
                        self.stamped_with(
                            &mut writer,
                            other,
                            other.str(disk.uuid),
                            &disk.raw,
                            &disk.members,
                            Field::DrbdPort,
                            port,
                        )?;
                    }
                }
            }
            _ => {}
        }
        writer.out.write_all(b"}")
    }

    /// Write an object stamped as new, with `field` set to `port` if given.
    #[allow(
        clippy::too_many_arguments,
        reason = "one object's place and its edits"
    )]
    fn stamped_with(
        &self,
        writer: &mut SectionWriter<'_>,
        config: &ConfigFile,
        key: &str,
        raw: &Range<usize>,
        members: &Members,
        field: Field,
        port: Option<u64>,
    ) -> io::Result<()> {
        let mut digits = [0u8; 20];
        let port_text = port.map_or("", |p| format_u64(p, &mut digits));
        let all = [
            (field, port_text),
            (Field::SerialNo, "1"),
            (Field::Ctime, self.now.as_str()),
            (Field::Mtime, self.now.as_str()),
        ];
        let edits = if port.is_some() {
            all.as_slice()
        } else {
            all.get(1..).unwrap_or_default()
        };
        writer.patched(key, config, raw, members, edits)
    }

    /// `serial_no = 1`, `ctime = mtime = now`: what Ganeti's Add* calls do.
    fn stamped<'s>(&'s self, edits: &mut Vec<(Field, &'s str)>) {
        edits.push((Field::SerialNo, "1"));
        edits.push((Field::Ctime, &self.now));
        edits.push((Field::Mtime, &self.now));
    }
}

/// `value` in decimal, written into `buf`.
fn format_u64(mut value: u64, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        if let Some(slot) = buf.get_mut(start) {
            *slot = b'0' + u8::try_from(value % 10).unwrap_or(0);
        }
        value /= 10;
        if value == 0 || start == 0 {
            break;
        }
    }
    buf.get(start..)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .unwrap_or_default()
}

fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

fn member(out: &mut dyn Write, first: &mut bool, key: &str) -> io::Result<()> {
    if !*first {
        out.write_all(b", ")?;
    }
    *first = false;
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        // Nothing to escape (every UUID): written as it is.
        out.write_all(b"\"")?;
        out.write_all(key.as_bytes())?;
        out.write_all(b"\": ")
    } else {
        serde_json::to_writer(&mut *out, key)?;
        out.write_all(b": ")
    }
}

fn write_piece(out: &mut dyn Write, piece: &Piece<'_>) -> io::Result<()> {
    match piece {
        Piece::Text(text) => out.write_all(text.as_bytes()),
        Piece::Owned(raw) => out.write_all(raw.get().as_bytes()),
        Piece::Patched(object) => Ok(serde_json::to_writer(&mut *out, object)?),
    }
}

/// Writes the members of one section object.
struct SectionWriter<'w> {
    out: &'w mut dyn Write,
    first: bool,
    replacements: Vec<(usize, usize, usize)>,
}

impl<'w> SectionWriter<'w> {
    fn new(out: &'w mut dyn Write) -> io::Result<Self> {
        out.write_all(b"{")?;
        Ok(Self {
            out,
            first: true,
            replacements: Vec::with_capacity(16),
        })
    }

    fn entry(&mut self, key: &str) -> io::Result<()> {
        member(self.out, &mut self.first, key)
    }

    fn text(&mut self, key: &str, text: &str) -> io::Result<()> {
        self.entry(key)?;
        self.out.write_all(text.as_bytes())
    }

    /// Write an object of `config` with the members of `edits` replaced
    /// (or added, before its closing brace, when it lacks them).
    fn patched<const N: usize>(
        &mut self,
        key: &str,
        config: &ConfigFile,
        raw: &Range<usize>,
        members: &Members<N>,
        edits: &[(Field, &str)],
    ) -> io::Result<()> {
        self.entry(key)?;
        let text = config.text.as_str();
        let piece = |range: Range<usize>| text.get(range).unwrap_or_default().as_bytes();
        self.replacements.clear();
        for (i, (field, _)) in edits.iter().enumerate() {
            if let Some(span) = members.get(*field) {
                self.replacements.push((span.start, span.end, i));
            }
        }
        self.replacements.sort_unstable();
        let close = raw.end.saturating_sub(1);
        let mut cursor = raw.start;
        for &(start, end, i) in &self.replacements {
            self.out.write_all(piece(cursor..start))?;
            if let Some((_, value)) = edits.get(i) {
                self.out.write_all(value.as_bytes())?;
            }
            cursor = end;
        }
        self.out.write_all(piece(cursor..close))?;
        for (field, value) in edits {
            if *field != Field::DrbdPort && members.get(*field).is_none() {
                write!(self.out, ", \"{}\": {value}", field.name())?;
            }
        }
        self.out.write_all(b"}")
    }
}

/// The merging cluster's node groups: added, renamed, or dropped (their
/// networks then go to the group their nodes join).
fn add_groups<'c>(
    other: &'c ConfigFile,
    index: usize,
    plan: &'c MergePlan,
    groups: &mut Vec<GroupOut<'c>>,
    gained: &mut HashMap<(usize, &'c str), NetworkMap>,
) -> Result<(), Error> {
    for group in &other.nodegroups {
        let (name, uuid) = (other.str(group.name), other.str(group.uuid));
        let action = plan.groups.action(index, uuid).unwrap_or(&GroupAction::Add);
        let mut object = patch(other, other.raw(&group.raw), || {
            format!("node group '{name}'")
        })?;
        match action {
            GroupAction::MergeInto {
                target_uuid,
                target_cluster,
            } => {
                if let Some(networks) = object.get("networks") {
                    let what = format!("node group '{name}' networks");
                    let networks = open(other, &what, networks.get())?;
                    gained
                        .entry((*target_cluster, target_uuid.as_str()))
                        .or_default()
                        .extend(networks.into_entries());
                }
                continue;
            }
            GroupAction::Rename { new_name } => {
                object.set("name", new_name).map_err(ser)?;
            }
            GroupAction::Add => {}
        }
        stamp(&mut object, plan.now)?;
        groups.push(GroupOut {
            cluster: index + 1,
            key: uuid,
            uuid,
            piece: Piece::Patched(object),
        });
    }
    Ok(())
}

/// Add the networks of merged groups to the groups their nodes joined.
fn extend_group_networks<'c>(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    now: f64,
    groups: &mut [GroupOut<'c>],
    mut gained: HashMap<(usize, &'c str), NetworkMap>,
) -> Result<(), Error> {
    for group in groups.iter_mut() {
        let Some(networks) = gained.remove(&(group.cluster, group.uuid)) else {
            continue;
        };
        let config = group
            .cluster
            .checked_sub(1)
            .and_then(|i| theirs.get(i))
            .unwrap_or(ours);
        let key = group.key;
        let malformed =
            |what: String, source: serde_json::Error| config.invalid(0, what, source.to_string());
        let text = match &group.piece {
            Piece::Text(text) => (*text).to_owned(),
            Piece::Owned(raw) => raw.get().to_owned(),
            Piece::Patched(object) => serde_json::to_string(object).map_err(ser)?,
        };
        let mut object =
            RawObject::parse(&text).map_err(|e| malformed(format!("node group '{key}'"), e))?;
        let mut map = match object.get("networks") {
            Some(existing) => RawObject::parse(existing.get())
                .map_err(|e| malformed(format!("node group '{key}' networks"), e))?,
            None => RawObject::default(),
        };
        for (network, params) in networks {
            map.set_raw(&network, params);
        }
        object.set("networks", &map).map_err(ser)?;
        if group.cluster == 0 {
            let serial: u64 = object.get_as("serial_no").ok().flatten().unwrap_or(0);
            object.set("serial_no", &(serial + 1)).map_err(ser)?;
            object.set("mtime", &now).map_err(ser)?;
        }
        group.piece = Piece::Owned(object.to_raw_value().map_err(ser)?);
    }
    Ok(())
}

/// The merging cluster's networks, added as new.
fn their_networks(other: &ConfigFile, now: f64) -> Result<Entries<'_>, Error> {
    let mut out = Vec::with_capacity(other.networks.len());
    for network in &other.networks {
        let mut object = patch(other, other.raw(&network.raw), || {
            format!("network '{}'", other.str(network.name))
        })?;
        stamp(&mut object, now)?;
        out.push((other.str(network.uuid), Piece::Patched(object)));
    }
    Ok(out)
}

fn merged_cluster(ours: &ConfigFile, plan: &MergePlan) -> Result<Box<RawValue>, Error> {
    let mut cluster = ours.cluster.raw.clone();
    cluster
        .set("serial_no", &(ours.cluster.serial_no + 1))
        .map_err(ser)?;
    cluster.set("mtime", &plan.now).map_err(ser)?;
    cluster
        .set("highest_used_port", &plan.highest_used_port)
        .map_err(ser)?;
    cluster
        .set("tcpudp_port_pool", &plan.tcpudp_port_pool)
        .map_err(ser)?;
    if let Some(reserved) = &plan.params.reserved_lvs {
        cluster.set("reserved_lvs", reserved).map_err(ser)?;
    }
    if let Some(wipe) = plan.params.prealloc_wipe_disks {
        cluster.set("prealloc_wipe_disks", &wipe).map_err(ser)?;
    }
    if !plan.params.osparams_added.is_empty() {
        let mut osparams = match cluster.get("osparams") {
            Some(raw) => open(ours, "cluster.osparams", raw.get())?,
            None => RawObject::default(),
        };
        for (os, params) in &plan.params.osparams_added {
            osparams.set(os, params).map_err(ser)?;
        }
        cluster.set("osparams", &osparams).map_err(ser)?;
    }
    cluster.to_raw_value().map_err(ser)
}

//! Building the merged `config.data` from the inputs and a [`MergePlan`].
//!
//! Our objects are copied as text, untouched (except the cluster object, the
//! config's serial number and time, and a node group that gains the networks
//! of a group merged into it). The merging clusters' objects are split one
//! level deep: only the members bouture changes are replaced, every other
//! member keeps its text. The output is written directly, without building a
//! JSON tree.

use std::collections::HashMap;

use serde_json::value::RawValue;

use crate::error::Error;
use crate::groups::GroupAction;
use crate::model::{ConfigFile, SECTIONS};
use crate::plan::MergePlan;
use crate::raw::{PatchObject, RawObject};

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
    RawObject::parse(text).map_err(|source| Error::Malformed {
        path: config.path.clone(),
        what: what.to_owned(),
        source: Some(source),
    })
}

/// Split an object of a merging cluster into members, borrowing their text.
fn patch<'c>(
    config: &ConfigFile,
    text: &'c str,
    what: impl FnOnce() -> String,
) -> Result<PatchObject<'c>, Error> {
    PatchObject::parse(text).map_err(|source| Error::Malformed {
        path: config.path.clone(),
        what: what(),
        source: Some(source),
    })
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
/// [`Error::Malformed`] if an object of a merging cluster is not a JSON
/// object (which [`ConfigFile::parse`] already rules out), or
/// [`Error::Serialize`].
pub fn apply(ours: &ConfigFile, theirs: &[ConfigFile], plan: &MergePlan) -> Result<Vec<u8>, Error> {
    let now = plan.now;
    let mut sections: HashMap<&str, Entries<'_>> = HashMap::new();
    sections.insert(
        "nodes",
        our_section(ours, &ours.nodes, |o| (&o.key, &o.raw)),
    );
    sections.insert(
        "instances",
        our_section(ours, &ours.instances, |o| (&o.key, &o.raw)),
    );
    sections.insert(
        "networks",
        our_section(ours, &ours.networks, |o| (&o.key, &o.raw)),
    );
    sections.insert(
        "disks",
        our_section(ours, &ours.disks, |o| (&o.key, &o.raw)),
    );
    let mut groups: Vec<GroupOut<'_>> = ours
        .nodegroups
        .iter()
        .map(|g| GroupOut {
            cluster: 0,
            key: &g.key,
            uuid: &g.uuid,
            piece: Piece::Text(ours.raw(&g.raw)),
        })
        .collect();
    // Networks gained by existing groups through the merge strategy:
    // (cluster index, group uuid) → network map entries.
    let mut gained: HashMap<(usize, &str), NetworkMap> = HashMap::new();

    for (index, other) in theirs.iter().enumerate() {
        add_groups(other, index, plan, &mut groups, &mut gained)?;
        // Disks in a second thread: they are the biggest objects.
        let (nodes, instances, disks) = std::thread::scope(|scope| {
            let disks = scope.spawn(|| their_disks(other, index, plan));
            let nodes = their_nodes(other, index, plan);
            let instances = their_instances(other, index, plan);
            let disks = disks.join().unwrap_or_else(|_| {
                Err(Error::Malformed {
                    path: other.path.clone(),
                    what: "disks (the thread rewriting them failed)".to_owned(),
                    source: None,
                })
            });
            (nodes, instances, disks)
        });
        sections.entry("nodes").or_default().extend(nodes?);
        sections.entry("instances").or_default().extend(instances?);
        sections.entry("disks").or_default().extend(disks?);
        let networks = their_networks(other, now)?;
        sections.entry("networks").or_default().extend(networks);
    }
    extend_group_networks(ours, theirs, now, &mut groups, gained)?;
    sections.insert(
        "nodegroups",
        groups.into_iter().map(|g| (g.key, g.piece)).collect(),
    );

    let cluster = merged_cluster(ours, plan)?;
    let serial = serde_json::value::to_raw_value(&(ours.serial_no + 1)).map_err(ser)?;
    let mtime = serde_json::value::to_raw_value(&now).map_err(ser)?;

    let capacity = ours.text.len() + theirs.iter().map(|t| t.text.len()).sum::<usize>();
    let mut out = Vec::with_capacity(capacity + capacity / 8 + 4096);
    out.push(b'{');
    let mut first = true;
    let mut member = |out: &mut Vec<u8>, key: &str| -> Result<(), Error> {
        if !first {
            out.extend_from_slice(b", ");
        }
        first = false;
        serde_json::to_writer(&mut *out, key).map_err(ser)?;
        out.extend_from_slice(b": ");
        Ok(())
    };
    for (key, raw) in ours.top.iter() {
        member(&mut out, key)?;
        match key {
            "cluster" => out.extend_from_slice(cluster.get().as_bytes()),
            "serial_no" => out.extend_from_slice(serial.get().as_bytes()),
            "mtime" => out.extend_from_slice(mtime.get().as_bytes()),
            _ => match sections.remove(key) {
                Some(entries) => write_section(&mut out, &entries)?,
                None => out.extend_from_slice(raw.get().as_bytes()),
            },
        }
    }
    for name in SECTIONS {
        if let Some(entries) = sections.remove(name)
            && !entries.is_empty()
        {
            member(&mut out, name)?;
            write_section(&mut out, &entries)?;
        }
    }
    if ours.top.get("mtime").is_none() {
        member(&mut out, "mtime")?;
        out.extend_from_slice(mtime.get().as_bytes());
    }
    out.extend_from_slice(b"}\n");
    Ok(out)
}

/// Our objects of one section, as text.
fn our_section<'c, T>(
    ours: &'c ConfigFile,
    objects: &'c [T],
    fields: impl Fn(&'c T) -> (&'c String, &'c std::ops::Range<usize>),
) -> Entries<'c> {
    objects
        .iter()
        .map(|object| {
            let (key, range) = fields(object);
            (key.as_str(), Piece::Text(ours.raw(range)))
        })
        .collect()
}

fn write_section(out: &mut Vec<u8>, entries: &Entries<'_>) -> Result<(), Error> {
    out.push(b'{');
    for (i, (key, piece)) in entries.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        serde_json::to_writer(&mut *out, key).map_err(ser)?;
        out.extend_from_slice(b": ");
        match piece {
            Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
            Piece::Owned(raw) => out.extend_from_slice(raw.get().as_bytes()),
            Piece::Patched(object) => serde_json::to_writer(&mut *out, object).map_err(ser)?,
        }
    }
    out.push(b'}');
    Ok(())
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
        let action = plan
            .groups
            .action(index, &group.uuid)
            .unwrap_or(&GroupAction::Add);
        let mut object = patch(other, other.raw(&group.raw), || {
            format!("node group '{}'", group.name)
        })?;
        match action {
            GroupAction::MergeInto {
                target_uuid,
                target_cluster,
            } => {
                if let Some(networks) = object.get("networks") {
                    let what = format!("node group '{}' networks", group.name);
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
            key: &group.key,
            uuid: &group.uuid,
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
        let path = group
            .cluster
            .checked_sub(1)
            .and_then(|i| theirs.get(i))
            .map_or(&ours.path, |c| &c.path);
        let key = group.key;
        let malformed = |what: String, source| Error::Malformed {
            path: path.clone(),
            what,
            source: Some(source),
        };
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
            format!("network '{}'", network.name)
        })?;
        stamp(&mut object, now)?;
        out.push((network.key.as_str(), Piece::Patched(object)));
    }
    Ok(out)
}

/// The merging cluster's nodes: offline, not candidates, maybe in another group.
fn their_nodes<'c>(
    other: &'c ConfigFile,
    index: usize,
    plan: &'c MergePlan,
) -> Result<Entries<'c>, Error> {
    let mut out = Vec::with_capacity(other.nodes.len());
    for node in &other.nodes {
        let mut object = patch(other, other.raw(&node.raw), || {
            format!("node '{}'", node.name)
        })?;
        object.set("master_candidate", &false).map_err(ser)?;
        object.set("drained", &false).map_err(ser)?;
        object.set("offline", &true).map_err(ser)?;
        if let Some(group) = &node.group
            && let Some(GroupAction::MergeInto { target_uuid, .. }) =
                plan.groups.action(index, group)
        {
            object.set("group", target_uuid).map_err(ser)?;
        }
        stamp(&mut object, plan.now)?;
        out.push((node.key.as_str(), Piece::Patched(object)));
    }
    Ok(out)
}

/// The merging cluster's instances, with their new console ports.
fn their_instances<'c>(
    other: &'c ConfigFile,
    index: usize,
    plan: &'c MergePlan,
) -> Result<Entries<'c>, Error> {
    let ports = plan.instance_ports.get(index);
    let mut out = Vec::with_capacity(other.instances.len());
    for instance in &other.instances {
        let mut object = patch(other, other.raw(&instance.raw), || {
            format!("instance '{}'", instance.name)
        })?;
        if let Some(port) = ports.and_then(|p| p.get(&instance.uuid)) {
            object.set("network_port", port).map_err(ser)?;
        }
        stamp(&mut object, plan.now)?;
        out.push((instance.key.as_str(), Piece::Patched(object)));
    }
    Ok(out)
}

/// The merging cluster's top-level disks, with their new DRBD ports.
fn their_disks<'c>(
    other: &'c ConfigFile,
    index: usize,
    plan: &'c MergePlan,
) -> Result<Entries<'c>, Error> {
    let ports = plan.disk_ports.get(index);
    let mut out = Vec::with_capacity(other.disks.len());
    for disk in &other.disks {
        let what = || format!("disk '{}'", disk.uuid);
        let mut object = patch(other, other.raw(&disk.raw), what)?;
        if let Some(port) = ports.and_then(|p| p.get(&disk.uuid)) {
            let malformed = |detail: &str, source| Error::Malformed {
                path: other.path.clone(),
                what: format!("{}: {detail}", what()),
                source,
            };
            let new_port = serde_json::value::to_raw_value(port).map_err(ser)?;
            let mut logical_id: Vec<&RawValue> = match object.get("logical_id") {
                Some(raw) => {
                    serde_json::from_str(raw.get()).map_err(|e| malformed("logical_id", Some(e)))?
                }
                None => Vec::new(),
            };
            let slot = logical_id
                .get_mut(2)
                .ok_or_else(|| malformed("logical_id[2] (the DRBD port)", None))?;
            *slot = &new_port;
            let new_logical_id = serde_json::value::to_raw_value(&logical_id).map_err(ser)?;
            object.set_raw("logical_id", new_logical_id);
        }
        stamp(&mut object, plan.now)?;
        out.push((disk.key.as_str(), Piece::Patched(object)));
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

//! Building the merged `config.data` from the inputs and a [`MergePlan`].
//!
//! Our objects are copied as raw text, untouched (except the cluster object,
//! the config's serial number and time, and a node group that gains the
//! networks of a group merged into it). The merging clusters' objects are
//! re-serialised one level deep: only the members bouture changes are
//! replaced, every other member keeps its text.

use std::collections::HashMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::error::Error;
use crate::groups::GroupAction;
use crate::model::{ConfigFile, SECTIONS};
use crate::plan::MergePlan;
use crate::raw::RawObject;

/// Entries of a node group's `networks` map.
type NetworkMap = Vec<(String, Box<RawValue>)>;

type Entries<'a> = Vec<(&'a str, RawRef<'a>)>;

/// A raw value either borrowed from an input or produced by the merge.
enum RawRef<'a> {
    Borrowed(&'a RawValue),
    Owned(Box<RawValue>),
}

impl Serialize for RawRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Borrowed(raw) => raw.serialize(serializer),
            Self::Owned(raw) => raw.serialize(serializer),
        }
    }
}

struct Section<'a>(Entries<'a>);

impl Serialize for Section<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

enum TopValue<'a> {
    Raw(RawRef<'a>),
    Section(Section<'a>),
}

struct Document<'a>(Vec<(&'a str, TopValue<'a>)>);

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            match value {
                TopValue::Raw(raw) => map.serialize_entry(key, raw)?,
                TopValue::Section(section) => map.serialize_entry(key, section)?,
            }
        }
        map.end()
    }
}

fn ser(error: serde_json::Error) -> Error {
    Error::Serialize { source: error }
}

/// Parse an object of a merging cluster one level deep.
fn open(config: &ConfigFile, what: &str, raw: &RawValue) -> Result<RawObject, Error> {
    RawObject::parse(raw.get()).map_err(|source| Error::Malformed {
        path: config.path.clone(),
        what: what.to_owned(),
        source: Some(source),
    })
}

/// `serial_no = 1`, `ctime = mtime = now`: what Ganeti's Add* calls do.
fn stamp_new(object: &mut RawObject, now: f64) -> Result<(), Error> {
    object.set("serial_no", &1).map_err(ser)?;
    object.set("ctime", &now).map_err(ser)?;
    object.set("mtime", &now).map_err(ser)
}

fn close(object: &RawObject) -> Result<Box<RawValue>, Error> {
    object.to_raw_value().map_err(ser)
}

/// Our objects of one section, as raw text.
fn section_of<'c>(config: &'c ConfigFile, name: &str) -> Vec<(&'c str, &'c RawValue)> {
    match name {
        "nodes" => config
            .nodes
            .iter()
            .map(|o| (o.key.as_str(), &*o.raw))
            .collect(),
        "instances" => config
            .instances
            .iter()
            .map(|o| (o.key.as_str(), &*o.raw))
            .collect(),
        "networks" => config
            .networks
            .iter()
            .map(|o| (o.key.as_str(), &*o.raw))
            .collect(),
        "disks" => config
            .disks
            .iter()
            .map(|o| (o.key.as_str(), &*o.raw))
            .collect(),
        _ => Vec::new(),
    }
}

/// Build the merged `config.data` text (a newline-terminated JSON document).
///
/// # Errors
///
/// [`Error::Malformed`] if an object of a merging cluster is not a JSON
/// object (which [`ConfigFile::parse`] already rules out), or
/// [`Error::Serialize`].
#[allow(
    clippy::too_many_lines,
    reason = "one pass per section, in file order; splitting it would only move the borrows around"
)]
pub fn apply(ours: &ConfigFile, theirs: &[ConfigFile], plan: &MergePlan) -> Result<Vec<u8>, Error> {
    let now = plan.now;
    let mut sections: HashMap<&str, Entries<'_>> = HashMap::new();

    // Our objects, untouched.
    let mut groups_all: Vec<(usize, &str, &str, RawRef<'_>)> = ours
        .nodegroups
        .iter()
        .map(|g| (0, g.key.as_str(), g.uuid.as_str(), RawRef::Borrowed(&g.raw)))
        .collect();
    for name in ["nodes", "instances", "networks", "disks"] {
        let entries = section_of(ours, name)
            .into_iter()
            .map(|(key, raw)| (key, RawRef::Borrowed(raw)))
            .collect();
        sections.insert(name, entries);
    }

    // Networks gained by existing groups through --groups merge:
    // (cluster index, group uuid) → network map entries.
    let mut gained: HashMap<(usize, &str), NetworkMap> = HashMap::new();

    for (index, other) in theirs.iter().enumerate() {
        for group in &other.nodegroups {
            let action = plan
                .groups
                .action(index, &group.uuid)
                .unwrap_or(&GroupAction::Add);
            let mut object = open(other, &format!("node group '{}'", group.name), &group.raw)?;
            match action {
                GroupAction::MergeInto {
                    target_uuid,
                    target_cluster,
                } => {
                    if let Some(networks) = object.get("networks") {
                        let networks = open(
                            other,
                            &format!("node group '{}' networks", group.name),
                            networks,
                        )?;
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
            stamp_new(&mut object, now)?;
            groups_all.push((
                index + 1,
                group.key.as_str(),
                group.uuid.as_str(),
                RawRef::Owned(close(&object)?),
            ));
        }

        let mut nodes_out: Entries<'_> = Vec::with_capacity(other.nodes.len());
        for node in &other.nodes {
            let mut object = open(other, &format!("node '{}'", node.name), &node.raw)?;
            object.set("master_candidate", &false).map_err(ser)?;
            object.set("drained", &false).map_err(ser)?;
            object.set("offline", &true).map_err(ser)?;
            if let Some(group) = &node.group
                && let Some(GroupAction::MergeInto { target_uuid, .. }) =
                    plan.groups.action(index, group)
            {
                object.set("group", target_uuid).map_err(ser)?;
            }
            stamp_new(&mut object, now)?;
            nodes_out.push((node.key.as_str(), RawRef::Owned(close(&object)?)));
        }
        sections.entry("nodes").or_default().extend(nodes_out);

        let empty = HashMap::new();
        let instance_ports = plan.instance_ports.get(index).unwrap_or(&empty);
        let mut instances_out: Entries<'_> = Vec::with_capacity(other.instances.len());
        for instance in &other.instances {
            let mut object = open(
                other,
                &format!("instance '{}'", instance.name),
                &instance.raw,
            )?;
            if let Some(port) = instance_ports.get(&instance.uuid) {
                object.set("network_port", port).map_err(ser)?;
            }
            stamp_new(&mut object, now)?;
            instances_out.push((instance.key.as_str(), RawRef::Owned(close(&object)?)));
        }
        sections
            .entry("instances")
            .or_default()
            .extend(instances_out);

        let disk_ports = plan.disk_ports.get(index).unwrap_or(&empty);
        let mut disks_out: Entries<'_> = Vec::with_capacity(other.disks.len());
        for disk in &other.disks {
            let what = format!("disk '{}'", disk.uuid);
            let mut object = open(other, &what, &disk.raw)?;
            if let Some(port) = disk_ports.get(&disk.uuid) {
                let mut logical_id: Vec<Box<RawValue>> = object
                    .get_as("logical_id")
                    .map_err(|source| Error::Malformed {
                        path: other.path.clone(),
                        what: format!("{what}: logical_id"),
                        source: Some(source),
                    })?
                    .unwrap_or_default();
                let slot = logical_id.get_mut(2).ok_or_else(|| Error::Malformed {
                    path: other.path.clone(),
                    what: format!("{what}: logical_id[2] (the DRBD port)"),
                    source: None,
                })?;
                *slot = serde_json::value::to_raw_value(port).map_err(ser)?;
                object.set("logical_id", &logical_id).map_err(ser)?;
            }
            stamp_new(&mut object, now)?;
            disks_out.push((disk.key.as_str(), RawRef::Owned(close(&object)?)));
        }
        sections.entry("disks").or_default().extend(disks_out);

        let mut networks_out: Entries<'_> = Vec::with_capacity(other.networks.len());
        for network in &other.networks {
            let mut object = open(other, &format!("network '{}'", network.name), &network.raw)?;
            stamp_new(&mut object, now)?;
            networks_out.push((network.key.as_str(), RawRef::Owned(close(&object)?)));
        }
        sections.entry("networks").or_default().extend(networks_out);
    }

    // Groups that gained networks: ours, or groups added from an earlier merging cluster.
    for (cluster, key, uuid, value) in &mut groups_all {
        let Some(networks) = gained.remove(&(*cluster, *uuid)) else {
            continue;
        };
        let path = cluster
            .checked_sub(1)
            .and_then(|i| theirs.get(i))
            .map_or(&ours.path, |c| &c.path);
        let malformed = |what: String, source| Error::Malformed {
            path: path.clone(),
            what,
            source: Some(source),
        };
        let raw = match value {
            RawRef::Borrowed(raw) => raw.get().to_owned(),
            RawRef::Owned(raw) => raw.get().to_owned(),
        };
        let mut object =
            RawObject::parse(&raw).map_err(|e| malformed(format!("node group '{key}'"), e))?;
        let mut map = match object.get("networks") {
            Some(existing) => RawObject::parse(existing.get())
                .map_err(|e| malformed(format!("node group '{key}' networks"), e))?,
            None => RawObject::default(),
        };
        for (network, params) in networks {
            map.set_raw(&network, params);
        }
        object.set("networks", &map).map_err(ser)?;
        if *cluster == 0 {
            let serial: u64 = object.get_as("serial_no").ok().flatten().unwrap_or(0);
            object.set("serial_no", &(serial + 1)).map_err(ser)?;
            object.set("mtime", &now).map_err(ser)?;
        }
        *value = RawRef::Owned(close(&object)?);
    }
    sections.insert(
        "nodegroups",
        groups_all
            .into_iter()
            .map(|(_, key, _, value)| (key, value))
            .collect(),
    );

    let cluster = merged_cluster(ours, plan)?;

    let mut document: Vec<(&str, TopValue<'_>)> = Vec::with_capacity(ours.top.len() + 2);
    let mut seen_sections = Vec::new();
    for (key, raw) in ours.top.iter() {
        let value = match key {
            "cluster" => TopValue::Raw(RawRef::Owned(cluster.clone())),
            "serial_no" => TopValue::Raw(RawRef::Owned(
                serde_json::value::to_raw_value(&(ours.serial_no + 1)).map_err(ser)?,
            )),
            "mtime" => TopValue::Raw(RawRef::Owned(
                serde_json::value::to_raw_value(&now).map_err(ser)?,
            )),
            _ => match sections.remove(key) {
                Some(entries) => {
                    seen_sections.push(key);
                    TopValue::Section(Section(entries))
                }
                None => TopValue::Raw(RawRef::Borrowed(raw)),
            },
        };
        document.push((key, value));
    }
    for name in SECTIONS {
        if let Some(entries) = sections.remove(name)
            && !entries.is_empty()
        {
            document.push((name, TopValue::Section(Section(entries))));
        }
    }
    if ours.top.get("mtime").is_none() {
        document.push((
            "mtime",
            TopValue::Raw(RawRef::Owned(
                serde_json::value::to_raw_value(&now).map_err(ser)?,
            )),
        ));
    }

    let mut out =
        Vec::with_capacity(ours_size(ours) + theirs.iter().map(ours_size).sum::<usize>() + 1024);
    serde_json::to_writer(&mut out, &Document(document)).map_err(ser)?;
    out.push(b'\n');
    Ok(out)
}

fn ours_size(config: &ConfigFile) -> usize {
    config.top.iter().map(|(_, raw)| raw.get().len()).sum()
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
            Some(raw) => RawObject::parse(raw.get()).map_err(|source| Error::Malformed {
                path: ours.path.clone(),
                what: "cluster.osparams".to_owned(),
                source: Some(source),
            })?,
            None => RawObject::default(),
        };
        for (os, params) in &plan.params.osparams_added {
            osparams.set(os, params).map_err(ser)?;
        }
        cluster.set("osparams", &osparams).map_err(ser)?;
    }
    close(&cluster)
}

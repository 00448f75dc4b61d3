//! The references inside one configuration that Ganeti's loader and
//! verifier rely on, checked before merging: a file that breaks one is
//! refused, naming the object and the reference.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::Error;
use crate::model::ConfigFile;

/// Check the references of one configuration.
///
/// - the cluster's `master_node` is one of its nodes;
/// - every node's `group` is one of its node groups;
/// - every instance has a `primary_node` that is one of its nodes;
/// - every disk an instance names is in `disks`, and no disk is named by
///   two instances (or twice by one);
/// - both nodes of every DRBD disk are nodes of the cluster.
///
/// # Errors
///
/// [`Error::Invalid`] for the first broken reference, with the position of
/// the object holding it.
pub fn check_references(config: &ConfigFile) -> Result<(), Error> {
    let text = |value| config.str(value);
    let nodes: FxHashSet<&str> = config.nodes.iter().map(|n| text(n.uuid)).collect();
    let groups: FxHashSet<&str> = config.nodegroups.iter().map(|g| text(g.uuid)).collect();
    let cluster = &config.cluster;
    let cluster_ref = || format!("cluster '{}'", cluster.name);
    match &cluster.master_node {
        None => {
            return Err(config.invalid(
                cluster.offset,
                cluster_ref(),
                "has no master_node".to_owned(),
            ));
        }
        Some(master) if !nodes.contains(master.as_str()) => {
            return Err(config.invalid(
                cluster.offset,
                cluster_ref(),
                format!("its master_node '{master}' is not one of its nodes (Ganeti cannot load such a file)"),
            ));
        }
        Some(_) => {}
    }
    for node in &config.nodes {
        if let Some(group) = config.opt_str(node.group)
            && !groups.contains(group)
        {
            return Err(config.invalid(
                node.raw.start,
                format!("node '{}' (uuid {})", text(node.name), text(node.uuid)),
                format!("its group '{group}' is not one of the node groups (Ganeti cannot load such a file)"),
            ));
        }
    }
    // Every disk, and the instance naming it once one does.
    let mut attached: FxHashMap<&str, Option<&str>> = FxHashMap::default();
    attached.reserve(config.disks.len());
    attached.extend(config.disks.iter().map(|d| (text(d.uuid), None)));
    for instance in &config.instances {
        let name = text(instance.name);
        let me = || format!("instance '{name}' (uuid {})", text(instance.uuid));
        let refuse = |rule: String| config.invalid(instance.raw.start, me(), rule);
        match config.opt_str(instance.primary_node) {
            None => return Err(refuse("has no primary_node".to_owned())),
            Some(node) if !nodes.contains(node) => {
                return Err(refuse(format!(
                    "its primary_node '{node}' is not one of the nodes"
                )));
            }
            Some(_) => {}
        }
        for uuid in config.instance_disks(instance).iter().map(|d| text(*d)) {
            let Some(owner) = attached.get_mut(uuid) else {
                return Err(refuse(format!(
                    "names the disk '{uuid}', which is not in 'disks' (Ganeti cannot load such a file)"
                )));
            };
            if let Some(first) = owner.replace(name) {
                return Err(refuse(if first == name {
                    format!("names the disk '{uuid}' twice")
                } else {
                    format!(
                        "names the disk '{uuid}', which instance '{first}' names too: a disk belongs to one instance"
                    )
                }));
            }
        }
    }
    for disk in &config.disks {
        for node in disk.drbd_nodes.iter().flatten().map(|n| text(*n)) {
            if !nodes.contains(node) {
                let uuid = text(disk.uuid);
                let owner = attached
                    .get(uuid)
                    .copied()
                    .flatten()
                    .map_or(String::new(), |i| format!(" of instance '{i}'"));
                return Err(config.invalid(
                    disk.raw.start,
                    format!("DRBD disk '{uuid}'{owner}"),
                    format!(
                        "its logical_id names the node '{node}', which is not one of the nodes"
                    ),
                ));
            }
        }
    }
    Ok(())
}

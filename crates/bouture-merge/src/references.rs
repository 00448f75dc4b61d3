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
    let nodes: FxHashSet<&str> = config.nodes.iter().map(|n| n.uuid.as_str()).collect();
    let groups: FxHashSet<&str> = config.nodegroups.iter().map(|g| g.uuid.as_str()).collect();
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
        if let Some(group) = &node.group
            && !groups.contains(group.as_str())
        {
            return Err(config.invalid(
                node.raw.start,
                format!("node '{}' (uuid {})", node.name, node.uuid),
                format!("its group '{group}' is not one of the node groups (Ganeti cannot load such a file)"),
            ));
        }
    }
    let disks: FxHashMap<&str, usize> = config
        .disks
        .iter()
        .enumerate()
        .map(|(i, d)| (d.uuid.as_str(), i))
        .collect();
    let mut attached: FxHashMap<&str, &str> = FxHashMap::default();
    attached.reserve(config.disks.len());
    for instance in &config.instances {
        let me = || format!("instance '{}' (uuid {})", instance.name, instance.uuid);
        let refuse = |rule: String| config.invalid(instance.raw.start, me(), rule);
        match &instance.primary_node {
            None => return Err(refuse("has no primary_node".to_owned())),
            Some(node) if !nodes.contains(node.as_str()) => {
                return Err(refuse(format!(
                    "its primary_node '{node}' is not one of the nodes"
                )));
            }
            Some(_) => {}
        }
        for uuid in &instance.disks {
            if !disks.contains_key(uuid.as_str()) {
                return Err(refuse(format!(
                    "names the disk '{uuid}', which is not in 'disks' (Ganeti cannot load such a file)"
                )));
            }
            if let Some(first) = attached.insert(uuid.as_str(), instance.name.as_str()) {
                return Err(refuse(if first == instance.name {
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
        for node in &disk.drbd_nodes {
            if !nodes.contains(node.as_str()) {
                let owner = attached
                    .get(disk.uuid.as_str())
                    .map_or(String::new(), |i| format!(" of instance '{i}'"));
                return Err(config.invalid(
                    disk.raw.start,
                    format!("DRBD disk '{}'{owner}", disk.uuid),
                    format!(
                        "its logical_id names the node '{node}', which is not one of the nodes"
                    ),
                ));
            }
        }
    }
    Ok(())
}

//! Checking the inputs and deciding everything the merge will change.
//!
//! [`check`] finds every conflict and warning; [`plan`] also decides the
//! node groups' fate and allocates every port. A plan is complete: applying
//! it cannot fail on the inputs any more, so nothing is written unless the
//! whole merge can be done.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::conflicts::find_conflicts;
use crate::error::{Conflict, Error};
use crate::groups::{GroupPlan, GroupStrategy, plan_groups};
use crate::model::ConfigFile;
use crate::params::{ParamOutcome, ParameterPolicy, Warning, check_parameters};
use crate::ports::{PortAllocator, PortRange};

/// How to merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// What to do with node groups whose name exists in several clusters
    /// (`None`: such a clash is a conflict).
    pub groups: Option<GroupStrategy>,
    /// Whether "strict" cluster parameter differences are errors or warnings.
    pub parameter_conflicts: ParameterPolicy,
    /// The ports the merged cluster may allocate (Ganeti's 11000-14999 by default).
    pub port_range: PortRange,
    /// The time stamp (seconds since the epoch) for `ctime`/`mtime`; `None`: now.
    pub now: Option<f64>,
}

/// The result of [`check`]: conflicts refuse the merge, warnings do not.
#[derive(Debug, Clone, Default)]
pub struct CheckOutcome {
    /// Every conflict found, in a stable order.
    pub conflicts: Vec<Conflict>,
    /// Every warning.
    pub warnings: Vec<Warning>,
}

/// What kind of port a [`PortChange`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortKind {
    /// A DRBD disk's `logical_id[2]`.
    Drbd,
    /// An instance's `network_port` (VNC/SPICE console).
    Console,
}

/// One reallocated port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortChange {
    /// The merging cluster.
    pub cluster: String,
    /// The instance (`None` for a disk attached to no instance).
    pub instance: Option<String>,
    /// The disk (`disk/N` and UUID) for DRBD ports, `None` for console ports.
    pub disk: Option<String>,
    /// Which port.
    pub kind: PortKind,
    /// The port in the merging cluster.
    pub old: u64,
    /// The port in the merged cluster.
    pub new: u64,
}

/// Everything the merge will do, decided before anything is written.
#[derive(Debug, Clone)]
pub struct MergePlan {
    /// The time stamp given to new and changed objects.
    pub now: f64,
    /// The options used.
    pub options: MergeOptions,
    /// The node groups' fate.
    pub groups: GroupPlan,
    /// Cluster parameter results (merged values; conflicts are empty here).
    pub params: ParamOutcome,
    /// Warnings (parameters, things not copied).
    pub warnings: Vec<Warning>,
    /// Every reallocated port, in allocation order.
    pub port_changes: Vec<PortChange>,
    /// For merging cluster `i`: disk UUID → new DRBD port.
    pub disk_ports: Vec<HashMap<String, u64>>,
    /// For merging cluster `i`: instance UUID → new console port.
    pub instance_ports: Vec<HashMap<String, u64>>,
    /// `cluster.highest_used_port` of the merged cluster.
    pub highest_used_port: u64,
    /// `cluster.tcpudp_port_pool` of the merged cluster.
    pub tcpudp_port_pool: Vec<u64>,
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn check_with_groups(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    options: &MergeOptions,
) -> (CheckOutcome, GroupPlan, ParamOutcome) {
    let (groups, mut conflicts) = plan_groups(ours, theirs, options.groups);
    let mut found = find_conflicts(ours, theirs, &groups);
    found.append(&mut conflicts);
    let mut params = check_parameters(ours, theirs, options.parameter_conflicts);
    found.append(&mut params.conflicts);
    let mut warnings = std::mem::take(&mut params.warnings);
    for other in theirs {
        if other.filters > 0 {
            warnings.push(Warning {
                cluster: other.name().to_owned(),
                parameter: "filters".to_owned(),
                message: format!(
                    "cluster '{}' has {} job filter(s); they are not copied (recreate them with gnt-filter if needed)",
                    other.name(),
                    other.filters
                ),
            });
        }
    }
    (
        CheckOutcome {
            conflicts: found,
            warnings,
        },
        groups,
        params,
    )
}

/// Find every conflict and warning between our configuration and the merging ones.
pub fn check(ours: &ConfigFile, theirs: &[ConfigFile], options: &MergeOptions) -> CheckOutcome {
    check_with_groups(ours, theirs, options).0
}

/// Check the inputs, decide the node groups' fate and allocate every port.
///
/// # Errors
///
/// [`Error::Conflicts`] with every conflict found; [`Error::PortsExhausted`]
/// when the port range cannot hold the reallocated ports.
#[allow(
    clippy::too_many_lines,
    reason = "port allocation order is easiest to follow in one place"
)]
pub fn plan(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    options: &MergeOptions,
) -> Result<MergePlan, Error> {
    let (outcome, groups, params) = check_with_groups(ours, theirs, options);
    if !outcome.conflicts.is_empty() {
        return Err(Error::Conflicts {
            conflicts: outcome.conflicts,
        });
    }

    let mut allocator = PortAllocator::new(
        ours.cluster.tcpudp_port_pool.clone(),
        ours.cluster.highest_used_port,
        options.port_range,
    );
    let needed: usize = theirs
        .iter()
        .map(|other| {
            other.disks.iter().filter(|d| d.drbd_port.is_some()).count()
                + other
                    .instances
                    .iter()
                    .filter(|i| i.network_port.is_some())
                    .count()
        })
        .sum();
    let available = allocator.available();
    if needed > available {
        return Err(Error::PortsExhausted {
            needed,
            available,
            range: options.port_range,
            highest_used_port: ours.cluster.highest_used_port,
        });
    }

    let mut port_changes = Vec::with_capacity(needed);
    let mut disk_ports = Vec::with_capacity(theirs.len());
    let mut instance_ports = Vec::with_capacity(theirs.len());
    for other in theirs {
        let disks: rustc_hash::FxHashMap<&str, &crate::model::Disk> =
            other.disks.iter().map(|d| (d.uuid.as_str(), d)).collect();
        let mut new_disk_ports = HashMap::with_capacity(other.disks.len());
        let mut new_instance_ports = HashMap::with_capacity(other.instances.len());
        let mut allocate = || {
            allocator.allocate().ok_or(Error::PortsExhausted {
                needed,
                available,
                range: options.port_range,
                highest_used_port: ours.cluster.highest_used_port,
            })
        };
        for instance in &other.instances {
            for uuid in &instance.disks {
                let Some(disk) = disks.get(uuid.as_str()) else {
                    continue;
                };
                let Some(old) = disk.drbd_port else { continue };
                if new_disk_ports.contains_key(uuid) {
                    continue;
                }
                let new = allocate()?;
                new_disk_ports.insert(uuid.clone(), new);
                port_changes.push(PortChange {
                    cluster: other.name().to_owned(),
                    instance: Some(instance.name.clone()),
                    disk: Some(disk_label(disk)),
                    kind: PortKind::Drbd,
                    old,
                    new,
                });
            }
            if let Some(old) = instance.network_port {
                let new = allocate()?;
                new_instance_ports.insert(instance.uuid.clone(), new);
                port_changes.push(PortChange {
                    cluster: other.name().to_owned(),
                    instance: Some(instance.name.clone()),
                    disk: None,
                    kind: PortKind::Console,
                    old,
                    new,
                });
            }
        }
        // DRBD disks attached to no instance still hold a port.
        for disk in &other.disks {
            let Some(old) = disk.drbd_port else { continue };
            if new_disk_ports.contains_key(&disk.uuid) {
                continue;
            }
            let new = allocate()?;
            new_disk_ports.insert(disk.uuid.clone(), new);
            port_changes.push(PortChange {
                cluster: other.name().to_owned(),
                instance: None,
                disk: Some(disk_label(disk)),
                kind: PortKind::Drbd,
                old,
                new,
            });
        }
        disk_ports.push(new_disk_ports);
        instance_ports.push(new_instance_ports);
    }

    Ok(MergePlan {
        now: options.now.unwrap_or_else(now_seconds),
        options: options.clone(),
        groups,
        params,
        warnings: outcome.warnings,
        port_changes,
        disk_ports,
        instance_ports,
        highest_used_port: allocator.highest_used_port(),
        tcpudp_port_pool: allocator.pool(),
    })
}

fn disk_label(disk: &crate::model::Disk) -> String {
    match &disk.iv_name {
        Some(name) => format!("{name} ({})", disk.uuid),
        None => disk.uuid.clone(),
    }
}

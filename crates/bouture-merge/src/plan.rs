//! Checking the inputs and deciding everything the merge will change.
//!
//! [`check`] finds every conflict and warning; [`plan`] also decides the
//! node groups' fate and allocates every port. A plan is complete: applying
//! it cannot fail on the inputs any more, so nothing is written unless the
//! whole merge can be done.

use rustc_hash::FxHashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::conflicts::Conflict;
use crate::conflicts::find_conflicts;
use crate::error::Error;
use crate::groups::{GroupPlan, GroupStrategy, plan_groups};
use crate::model::{ConfigFile, DEFAULT_MAX_INPUT_SIZE, Disk, Instance};
use crate::params::{ParamReport, ParameterPolicy, Warning, check_parameters};
use crate::ports::{PortAllocator, PortRange};
use crate::references::check_references;
use crate::report::Phases;

/// How to merge.
#[derive(Debug, Clone)]
pub struct Options {
    /// What to do with node groups whose name exists in several clusters
    /// (`None`: such a clash is a conflict).
    pub groups: Option<GroupStrategy>,
    /// Whether "strict" cluster parameter differences are errors or warnings.
    pub parameter_conflicts: ParameterPolicy,
    /// The ports the merged cluster may allocate (Ganeti's 11000-14999 by default).
    pub port_range: PortRange,
    /// The time stamp (seconds since the epoch) for `ctime`/`mtime`; `None`: now.
    pub now: Option<f64>,
    /// The largest input file read, in bytes ([`DEFAULT_MAX_INPUT_SIZE`] by default).
    pub max_input_size: u64,
    /// Check everything, output path included, but write nothing.
    pub dry_run: bool,
    /// How long to wait for another merge writing in the output's directory
    /// ([`OUTPUT_LOCK_WAIT`](crate::OUTPUT_LOCK_WAIT) by default).
    pub lock_wait: std::time::Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            groups: None,
            parameter_conflicts: ParameterPolicy::default(),
            port_range: PortRange::default(),
            now: None,
            max_input_size: DEFAULT_MAX_INPUT_SIZE,
            dry_run: false,
            lock_wait: crate::write::OUTPUT_LOCK_WAIT,
        }
    }
}

/// The result of [`check`]: conflicts refuse the merge, warnings do not.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CheckReport {
    /// Every conflict found, in a stable order.
    pub conflicts: Vec<Conflict>,
    /// Every warning.
    pub warnings: Vec<Warning>,
}

/// What kind of port a [`PortChange`] moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PortKind {
    /// A DRBD disk's `logical_id[2]`.
    Drbd,
    /// An instance's `network_port` (VNC/SPICE console).
    Console,
}

/// One reallocated port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
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
#[non_exhaustive]
pub struct MergePlan {
    /// The time stamp given to new and changed objects.
    pub now: f64,
    /// The options used.
    pub options: Options,
    /// The node groups' fate.
    pub groups: GroupPlan,
    /// Cluster parameter results (merged values; conflicts are empty here).
    pub params: ParamReport,
    /// Warnings (parameters, things not copied).
    pub warnings: Vec<Warning>,
    /// Every reallocated port, in allocation order.
    pub port_changes: Vec<PortChange>,
    /// For merging cluster `i`, disk `d` (in file order): its new DRBD port.
    pub disk_ports: Vec<Vec<Option<u64>>>,
    /// For merging cluster `i`, instance `n` (in file order): its new console port.
    pub instance_ports: Vec<Vec<Option<u64>>>,
    /// `cluster.highest_used_port` of the merged cluster.
    pub highest_used_port: u64,
    /// `cluster.tcpudp_port_pool` of the merged cluster.
    pub tcpudp_port_pool: Vec<u64>,
    /// Repairs of our port bookkeeping.
    pub repairs: Vec<Repair>,
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn check_with_groups(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    options: &Options,
) -> (CheckReport, GroupPlan, ParamReport) {
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
        CheckReport {
            conflicts: found,
            warnings,
        },
        groups,
        params,
    )
}

/// Find every conflict and warning between our configuration and the merging ones.
pub fn check(ours: &ConfigFile, theirs: &[ConfigFile], options: &Options) -> CheckReport {
    check_with_groups(ours, theirs, options).0
}

/// Check the inputs, decide the node groups' fate and allocate every port.
///
/// # Errors
///
/// [`Error::Invalid`] when an input breaks a reference Ganeti relies on
/// (see [`check_references`]) or our cluster uses one port twice;
/// [`Error::Conflicts`] with every conflict found; [`Error::PortsExhausted`]
/// when the port range cannot hold the reallocated ports.
pub fn plan(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    options: &Options,
) -> Result<MergePlan, Error> {
    plan_timed(ours, theirs, options, &mut Phases::default())
}

/// [`plan`], recording how long the checks and the planning took.
pub(crate) fn plan_timed(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    options: &Options,
    phases: &mut Phases,
) -> Result<MergePlan, Error> {
    let start = Instant::now();
    for config in std::iter::once(ours).chain(theirs) {
        check_references(config)?;
    }
    let (outcome, groups, params) = check_with_groups(ours, theirs, options);
    phases.check = start.elapsed();
    let start = Instant::now();
    let result = plan_ports(ours, theirs, options, outcome, groups, params);
    phases.plan = start.elapsed();
    result
}

#[allow(
    clippy::too_many_lines,
    reason = "port allocation order is easiest to follow in one place"
)]
fn plan_ports(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    options: &Options,
    outcome: CheckReport,
    groups: GroupPlan,
    params: ParamReport,
) -> Result<MergePlan, Error> {
    if !outcome.conflicts.is_empty() {
        return Err(Error::Conflicts {
            conflicts: outcome.conflicts,
        });
    }

    let bookkeeping = our_ports(ours, options.port_range)?;
    let mut allocator = PortAllocator::new(
        bookkeeping.usable_pool,
        bookkeeping.highest_used_port,
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
            highest_used_port: bookkeeping.highest_used_port,
        });
    }

    let mut port_changes = Vec::with_capacity(needed);
    let mut disk_ports = Vec::with_capacity(theirs.len());
    let mut instance_ports = Vec::with_capacity(theirs.len());
    for other in theirs {
        let disks: FxHashMap<&str, usize> = other
            .disks
            .iter()
            .enumerate()
            .map(|(i, d)| (other.str(d.uuid), i))
            .collect();
        let mut new_disk_ports: Vec<Option<u64>> = vec![None; other.disks.len()];
        let mut new_instance_ports: Vec<Option<u64>> = vec![None; other.instances.len()];
        let mut allocate = || {
            allocator.allocate().ok_or(Error::PortsExhausted {
                needed,
                available,
                range: options.port_range,
                highest_used_port: bookkeeping.highest_used_port,
            })
        };
        for (instance_index, instance) in other.instances.iter().enumerate() {
            let name = other.str(instance.name);
            for uuid in other.instance_disks(instance) {
                let Some(&at) = disks.get(other.str(*uuid)) else {
                    continue;
                };
                let (Some(disk), Some(slot)) = (other.disks.get(at), new_disk_ports.get_mut(at))
                else {
                    continue;
                };
                let drbd = DrbdDisk {
                    config: other,
                    instance: Some(name),
                    disk,
                };
                drbd.renumber(slot, &mut allocate, &mut port_changes)?;
            }
            if let Some(old) = instance.network_port {
                let new = allocate()?;
                if let Some(slot) = new_instance_ports.get_mut(instance_index) {
                    *slot = Some(new);
                }
                port_changes.push(PortChange {
                    cluster: other.name().to_owned(),
                    instance: Some(name.to_owned()),
                    disk: None,
                    kind: PortKind::Console,
                    old,
                    new,
                });
            }
        }
        // DRBD disks attached to no instance still hold a port.
        for (disk, slot) in other.disks.iter().zip(new_disk_ports.iter_mut()) {
            let drbd = DrbdDisk {
                config: other,
                instance: None,
                disk,
            };
            drbd.renumber(slot, &mut allocate, &mut port_changes)?;
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
        repairs: bookkeeping.repairs,
    })
}

/// What uses a port of our cluster (named in messages only).
#[derive(Clone, Copy)]
enum PortOwner<'a> {
    /// A DRBD disk of an instance.
    Drbd(&'a Instance, &'a Disk),
    /// An instance's console.
    Console(&'a Instance),
    /// A DRBD disk attached to no instance.
    Unattached(&'a Disk),
}

impl PortOwner<'_> {
    /// How it is named in messages.
    fn describe(self, config: &ConfigFile) -> String {
        match self {
            Self::Drbd(instance, disk) => format!(
                "instance '{}' DRBD disk {}",
                config.str(instance.name),
                disk_label(config, disk, true)
            ),
            Self::Console(instance) => {
                format!("instance '{}' (console)", config.str(instance.name))
            }
            Self::Unattached(disk) => format!("DRBD disk {}", disk_label(config, disk, false)),
        }
    }
}

/// How a disk is named in port changes: `disk/0 (uuid)` for a disk of an
/// instance, `uuid (attached to no instance)` otherwise.
/// A disk of another cluster, seen from the instance that lists it (or from
/// none: a DRBD disk attached to no instance still holds a port).
struct DrbdDisk<'c> {
    config: &'c ConfigFile,
    instance: Option<&'c str>,
    disk: &'c Disk,
}

impl DrbdDisk<'_> {
    /// Give the disk a new DRBD port, once: `slot` is its entry in the
    /// cluster's new disk ports, already set when an instance listed the
    /// disk before. A disk without a DRBD port is left alone.
    fn renumber(
        &self,
        slot: &mut Option<u64>,
        allocate: &mut impl FnMut() -> Result<u64, Error>,
        port_changes: &mut Vec<PortChange>,
    ) -> Result<(), Error> {
        let Some(old) = self.disk.drbd_port else {
            return Ok(());
        };
        if slot.is_some() {
            return Ok(());
        }
        let new = allocate()?;
        *slot = Some(new);
        port_changes.push(PortChange {
            cluster: self.config.name().to_owned(),
            instance: self.instance.map(str::to_owned),
            disk: Some(disk_label(self.config, self.disk, self.instance.is_some())),
            kind: PortKind::Drbd,
            old,
            new,
        });
        Ok(())
    }
}

fn disk_label(config: &ConfigFile, disk: &Disk, attached: bool) -> String {
    let uuid = config.str(disk.uuid);
    match (config.opt_str(disk.iv_name), attached) {
        (Some(name), true) => format!("{name} ({uuid})"),
        (None, true) => uuid.to_owned(),
        (_, false) => format!("{uuid} (attached to no instance)"),
    }
}

/// A change bouture makes to our cluster's port bookkeeping so that it
/// agrees with the ports our own objects use (reported, never silent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Repair {
    /// The member of our cluster object repaired (`highest_used_port`, `tcpudp_port_pool`).
    pub field: String,
    /// The ports concerned.
    pub ports: Vec<u64>,
    /// What was wrong and what bouture did.
    pub message: String,
}

/// Our port bookkeeping, checked against the ports our objects use.
struct Bookkeeping {
    /// Pool ports the allocator may hand out (in the range, free, once each).
    usable_pool: Vec<u64>,
    /// `highest_used_port`, raised to the highest port in use or kept in the pool.
    highest_used_port: u64,
    repairs: Vec<Repair>,
}

/// Derive the ports our objects use (DRBD disks, consoles); refuse a port
/// used twice; repair a pool or a `highest_used_port` that contradict them.
#[allow(
    clippy::too_many_lines,
    reason = "the ports in use, then each repair, in one readable order"
)]
fn our_ports<'c>(ours: &'c ConfigFile, range: PortRange) -> Result<Bookkeeping, Error> {
    // The owner of each port, named only if another object claims it too.
    let mut in_use: FxHashMap<u64, PortOwner<'c>> = FxHashMap::default();
    in_use.reserve(ours.disks.len() + ours.instances.len());
    let disks: FxHashMap<&str, &Disk> = ours.disks.iter().map(|d| (ours.str(d.uuid), d)).collect();
    let mut claim = |port: u64, owner: PortOwner<'c>, offset: usize| -> Result<(), Error> {
        match in_use.entry(port) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(owner);
                Ok(())
            }
            std::collections::hash_map::Entry::Occupied(slot) => Err(ours.invalid(
                offset,
                owner.describe(ours),
                format!(
                    "uses port {port}, which {} uses too; Ganeti's verifier refuses a port with two owners, and bouture cannot tell which one is right",
                    slot.get().describe(ours)
                ),
            )),
        }
    };
    let mut attached = rustc_hash::FxHashSet::default();
    for instance in &ours.instances {
        for uuid in ours.instance_disks(instance).iter().map(|d| ours.str(*d)) {
            if let Some(disk) = disks.get(uuid)
                && let Some(port) = disk.drbd_port
            {
                attached.insert(uuid);
                claim(port, PortOwner::Drbd(instance, disk), disk.raw.start)?;
            }
        }
        if let Some(port) = instance.network_port {
            claim(port, PortOwner::Console(instance), instance.raw.start)?;
        }
    }
    for disk in &ours.disks {
        if let Some(port) = disk.drbd_port
            && !attached.contains(ours.str(disk.uuid))
        {
            claim(port, PortOwner::Unattached(disk), disk.raw.start)?;
        }
    }

    let mut repairs = Vec::new();
    let mut seen = rustc_hash::FxHashSet::default();
    let (mut duplicates, mut used, mut outside) = (Vec::new(), Vec::new(), Vec::new());
    let mut usable_pool = Vec::new();
    for &port in &ours.cluster.tcpudp_port_pool {
        if !seen.insert(port) {
            duplicates.push(port);
        } else if in_use.contains_key(&port) {
            used.push(port);
        } else if port < u64::from(range.first) || port > u64::from(range.last) {
            outside.push(port);
        } else {
            usable_pool.push(port);
        }
    }
    let mut repair = |ports: Vec<u64>, field: &str, message: String| {
        if !ports.is_empty() {
            repairs.push(Repair {
                field: field.to_owned(),
                ports,
                message,
            });
        }
    };
    repair(
        duplicates,
        "tcpudp_port_pool",
        "repaired: ports listed more than once in our tcpudp_port_pool are kept once".to_owned(),
    );
    repair(
        used,
        "tcpudp_port_pool",
        "repaired: ports of our tcpudp_port_pool that our own disks or consoles use are removed from it (never handed out)".to_owned(),
    );
    repair(
        outside,
        "tcpudp_port_pool",
        format!(
            "repaired: ports of our tcpudp_port_pool outside the port range {range} are removed from it (never handed out)"
        ),
    );
    let before = ours.cluster.highest_used_port;
    let highest = in_use
        .keys()
        .chain(usable_pool.iter())
        .copied()
        .max()
        .unwrap_or(0);
    let highest_used_port = if highest > before {
        repair(
            vec![highest],
            "highest_used_port",
            format!(
                "repaired: our highest_used_port {before} is below port {highest}, which our cluster uses or lists; raised to {highest} so that no port in use is handed out"
            ),
        );
        highest
    } else {
        before
    };
    Ok(Bookkeeping {
        usable_pool,
        highest_used_port,
        repairs,
    })
}

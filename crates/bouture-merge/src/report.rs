//! What a merge did (or, with a dry run, would do), as data (the `bouture`
//! command renders it as text).

use std::path::PathBuf;

use serde::Serialize;

use crate::groups::GroupAction;
use crate::model::version_name;
use crate::model::{ConfigFile, Str};
use crate::params::Warning;
use crate::plan::{MergePlan, PortChange, Repair};
use std::time::Duration;

/// How long each phase of [`crate::merge_files`] took (not in the JSON
/// report: it changes from run to run).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Phases {
    /// Reading the input files.
    pub read: Duration,
    /// Scanning and parsing them (duplicates, keys, shapes included).
    pub parse: Duration,
    /// References, conflicts and cluster parameters.
    pub check: Duration,
    /// Node groups' fate, port bookkeeping and allocation.
    pub plan: Duration,
    /// Building the few objects the merge makes (cluster, groups, networks).
    pub apply: Duration,
    /// Serialising the output into the temporary file.
    pub write: Duration,
    /// Flushing it, fsync, rename and fsync of the directory.
    pub fsync: Duration,
    /// Building the report.
    pub report: Duration,
    /// Freeing the inputs.
    pub free: Duration,
}

impl Phases {
    /// The phases with their names, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Duration)> {
        [
            ("read", self.read),
            ("parse", self.parse),
            ("check", self.check),
            ("plan", self.plan),
            ("apply", self.apply),
            ("write", self.write),
            ("fsync", self.fsync),
            ("report", self.report),
            ("free", self.free),
        ]
        .into_iter()
    }
}

/// The report of a merge; its JSON form is what `bouture merge --format json` prints.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Our cluster's name.
    pub cluster: String,
    /// The format version of the files (`3.0`).
    pub version: String,
    /// The output file, or `None` for a dry run.
    pub output: Option<PathBuf>,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// One entry per merging cluster.
    pub merged: Vec<MergedCluster>,
    /// Every reallocated port.
    pub port_changes: Vec<PortChange>,
    /// Our port bookkeeping before and after.
    pub ports: PortSummary,
    /// Repairs of our port bookkeeping (pool or highest used port
    /// contradicting the ports our objects use).
    pub repairs: Vec<Repair>,
    /// Cluster parameters whose merged value changed.
    pub parameters_merged: Vec<String>,
    /// Warnings.
    pub warnings: Vec<Warning>,
    /// How long each phase took.
    #[serde(skip)]
    pub phases: Phases,
}

/// What one merging cluster brought.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MergedCluster {
    /// Its name.
    pub name: String,
    /// Its file.
    pub path: PathBuf,
    /// Names of the nodes added (offline, not master candidates).
    pub nodes_added: Vec<String>,
    /// Its node groups and what happened to them.
    pub groups: Vec<GroupReport>,
    /// Names of the instances added.
    pub instances_added: Vec<String>,
    /// UUIDs of the top-level disks added.
    pub disks_added: Vec<String>,
    /// Names of the networks added.
    pub networks_added: Vec<String>,
}

/// The fate of one node group.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct GroupReport {
    /// Its name in the merging cluster.
    pub name: String,
    /// Its UUID.
    pub uuid: String,
    /// What happened to it.
    #[serde(flatten)]
    pub action: GroupAction,
    /// For a merged group: the name of the group its nodes joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined: Option<String>,
}

/// The merged cluster's port bookkeeping.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PortSummary {
    /// The range fresh ports were drawn from.
    pub range: String,
    /// `highest_used_port` before the merge.
    pub highest_used_port_before: u64,
    /// `highest_used_port` after the merge.
    pub highest_used_port_after: u64,
    /// Size of `tcpudp_port_pool` before.
    pub pool_before: usize,
    /// Size of `tcpudp_port_pool` after.
    pub pool_after: usize,
}

/// The texts of `strings`, copied.
fn owned(config: &ConfigFile, strings: impl ExactSizeIterator<Item = Str>) -> Vec<String> {
    let mut out = Vec::with_capacity(strings.len());
    out.extend(strings.map(|s| config.str(s).to_owned()));
    out
}

impl Report {
    /// The report of `plan` applied to these inputs; `output` is `None` for a dry run.
    pub fn new(
        ours: &ConfigFile,
        theirs: &[ConfigFile],
        plan: &MergePlan,
        output: Option<PathBuf>,
    ) -> Self {
        let group_names: std::collections::HashMap<&str, &str> = std::iter::once(ours)
            .chain(theirs.iter())
            .flat_map(|c| c.nodegroups.iter().map(|g| (c.str(g.uuid), c.str(g.name))))
            .collect();
        let merged = theirs
            .iter()
            .enumerate()
            .map(|(index, other)| MergedCluster {
                name: other.name().to_owned(),
                path: other.path.clone(),
                nodes_added: owned(other, other.nodes.iter().map(|n| n.name)),
                groups: other
                    .nodegroups
                    .iter()
                    .map(|g| {
                        let action = plan
                            .groups
                            .action(index, other.str(g.uuid))
                            .cloned()
                            .unwrap_or(GroupAction::Add);
                        let joined = match &action {
                            GroupAction::MergeInto { target_uuid, .. } => group_names
                                .get(target_uuid.as_str())
                                .map(|n| (*n).to_owned()),
                            _ => None,
                        };
                        GroupReport {
                            name: other.str(g.name).to_owned(),
                            uuid: other.str(g.uuid).to_owned(),
                            action,
                            joined,
                        }
                    })
                    .collect(),
                instances_added: owned(other, other.instances.iter().map(|i| i.name)),
                disks_added: owned(other, other.disks.iter().map(|d| d.uuid)),
                networks_added: owned(other, other.networks.iter().map(|n| n.name)),
            })
            .collect();
        let mut parameters_merged = Vec::new();
        if plan.params.reserved_lvs.is_some() {
            parameters_merged.push("reserved_lvs".to_owned());
        }
        if plan.params.prealloc_wipe_disks.is_some() {
            parameters_merged.push("prealloc_wipe_disks".to_owned());
        }
        for (os, _) in &plan.params.osparams_added {
            parameters_merged.push(format!("osparams.{os}"));
        }
        Self {
            cluster: ours.name().to_owned(),
            version: version_name(ours.version),
            dry_run: output.is_none(),
            output,
            merged,
            port_changes: plan.port_changes.clone(),
            ports: PortSummary {
                range: plan.options.port_range.to_string(),
                highest_used_port_before: ours.cluster.highest_used_port,
                highest_used_port_after: plan.highest_used_port,
                pool_before: ours.cluster.tcpudp_port_pool.len(),
                pool_after: plan.tcpudp_port_pool.len(),
            },
            parameters_merged,
            repairs: plan.repairs.clone(),
            warnings: plan.warnings.clone(),
            phases: Phases::default(),
        }
    }
}

//! What a node setup did (or would do), as serde data (the `bouture`
//! command renders it as text).

use std::path::PathBuf;

use serde::Serialize;

use crate::plan::{Plan, PlannedWrite};
use crate::start::StartOutcome;

/// The result of a node setup that passed every check.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Whether this was a dry run (nothing written, nothing run).
    pub dry_run: bool,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The cluster joined.
    pub cluster_name: String,
    /// The node (CN of its new client certificate).
    pub node_name: String,
    /// The subject of the cluster certificate.
    pub certificate_subject: String,
    /// The files written (or that would be), in order.
    pub files: Vec<PlannedWrite>,
    /// The node daemons.
    pub start: StartOutcome,
    /// Whether the start command restarts the system's Ganeti daemons
    /// (the default command with another data directory).
    pub restarts_system_daemons: bool,
}

impl Report {
    /// The report of a plan and what became of the start command.
    pub fn new(plan: &Plan, dry_run: bool, start: StartOutcome) -> Self {
        Self {
            dry_run,
            data_dir: plan.data_dir.clone(),
            cluster_name: plan.cluster_name.clone(),
            node_name: plan.node_name.clone(),
            certificate_subject: plan.certificate_subject.clone(),
            files: plan.writes.clone(),
            start,
            restarts_system_daemons: plan.restarts_system_daemons,
        }
    }
}

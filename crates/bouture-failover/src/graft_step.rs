//! The graft step of a switch, on the graft library ([`bouture_graft::apply`],
//! as `bouture graft` uses it), holding the node-wide graft lock
//! ([`bouture_graft::NodeLock`]) as `bouture graft` does.

use bouture_core::{Inventory, NodeConfig};
use bouture_graft::{
    DEFAULT_LOCK_WAIT, GraftOutcome, GraftPlan, LockError, NodeLock, PartitionStatus,
};
use std::sync::Arc;

use bouture_graft::{GraftEvent, GraftNarration, GraftObserver};
use bouture_master_client::{MasterClient, RequestTrace};

use crate::run::{FailoverLog, Level, Options};
use crate::switchfile::{GraftedPartition, SkippedPartitionNote};

/// The graft's detail (requests sent, decisions, phase times) as DEBUG lines
/// of the failover log.
struct Narrated<'a> {
    log: &'a mut dyn FailoverLog,
    narration: GraftNarration,
}

impl GraftObserver for Narrated<'_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        for line in self.narration.lines(event) {
            self.log.log(Level::Debug, &line);
        }
    }
}

/// [`bouture_graft::apply`], its detail logged at DEBUG by [`Narrated`].
fn apply_narrated(
    plan: &GraftPlan,
    client: MasterClient,
    log: &mut dyn FailoverLog,
) -> Result<bouture_graft::GraftReport, bouture_graft::Error> {
    let trace = RequestTrace::default();
    let client = client.observed_by(Arc::new(trace.clone()));
    let mut narrated = Narrated {
        log: &mut *log,
        narration: GraftNarration::new(trace),
    };
    let report = bouture_graft::apply(plan, &client, &mut narrated);
    for line in narrated.narration.rest() {
        log.log(Level::Debug, &line);
    }
    report
}

/// What the graft step of a switch did.
#[derive(Debug, Clone, Default)]
pub(crate) struct GraftSummary {
    pub(crate) grafted: Vec<GraftedPartition>,
    pub(crate) skipped: Vec<SkippedPartitionNote>,
}

/// Why the graft step of a switch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraftStepError {
    /// The node-wide graft lock cannot be taken (another graft of the node
    /// held it longer than the bounded wait, or its file is unusable).
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The node's partitions cannot be listed.
    #[error(transparent)]
    Scan(#[from] bouture_core::Error),
    /// No client for the new master (a bad URL, unusable TLS files).
    #[error(transparent)]
    Client(#[from] bouture_master_client::Error),
    /// The new master cannot be reached.
    #[error("the new master cannot be reached")]
    Unreachable(#[source] bouture_graft::Error),
    /// The graft stopped at a step that concerns the whole computer.
    #[error(transparent)]
    Graft(bouture_graft::Error),
    /// Some valid partitions failed on the new master, or the master did
    /// not hold what was sent when read back (each is logged).
    #[error(
        "{failed} valid partition(s) failed on the new master, {mismatches} difference(s) read back"
    )]
    PartitionsFailed {
        /// How many partitions failed.
        failed: usize,
        /// How many differences the read-back found.
        mismatches: usize,
    },
}

/// Graft the node onto the new master. Succeeds when every valid opted-in
/// partition was grafted (invalid ones may have been skipped).
pub(crate) fn graft(
    config: &NodeConfig,
    options: &Options,
    log: &mut dyn FailoverLog,
) -> Result<GraftSummary, GraftStepError> {
    let new_master_url = &options.new_master_url;
    let _lock = NodeLock::acquire(
        &config.instance_root,
        DEFAULT_LOCK_WAIT,
        &mut |path, pid| {
            log.log(
                Level::Info,
                &format!(
                    "another graft of this node{} holds {}: waiting up to {} s for it to finish",
                    pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
                    path.display(),
                    DEFAULT_LOCK_WAIT.as_secs()
                ),
            );
        },
    )?;
    let inventory = Inventory::scan(config)?;
    let mut graft_options = bouture_graft::Options::default();
    graft_options
        .new_monitor_url
        .clone_from(&options.new_monitor_url);
    let plan = GraftPlan::build(&inventory, &graft_options);
    let mut summary = GraftSummary {
        skipped: plan
            .skipped
            .iter()
            .map(|skipped| SkippedPartitionNote {
                partition: skipped.id.clone(),
                reason: skipped.reason.to_string(),
            })
            .collect(),
        ..GraftSummary::default()
    };
    if plan.partitions.is_empty() {
        log.log(
            Level::Info,
            &format!(
                "no valid opted-in partition on this node ({} skipped): nothing to send to {new_master_url}",
                plan.skipped.len()
            ),
        );
        return Ok(summary);
    }
    let client = MasterClient::with_options(new_master_url, &options.master_client)?;
    let report = apply_narrated(&plan, client, log).map_err(|error| {
        if error.is_unreachable() {
            GraftStepError::Unreachable(error)
        } else {
            GraftStepError::Graft(error)
        }
    })?;
    for partition in &report.partitions {
        match partition.status {
            PartitionStatus::Grafted => {
                log.log(
                    Level::Info,
                    &format!(
                        "grafted {} ({})",
                        partition.id,
                        partition.instance_title.as_deref().unwrap_or("?")
                    ),
                );
                summary.grafted.push(GraftedPartition {
                    partition: partition.id.clone(),
                    instance_title: partition.instance_title.clone(),
                    shared_instances: partition.shared_instances,
                });
            }
            PartitionStatus::Failed => log.log(
                Level::Error,
                &format!(
                    "graft of {} failed: {}",
                    partition.id,
                    partition.reason.as_deref().unwrap_or("unknown reason")
                ),
            ),
            // Skipped: already in the summary.
            _ => {}
        }
        if let Some(warning) = &partition.warning {
            log.log(Level::Warning, &format!("{}: {warning}", partition.id));
        }
    }
    for warning in &report.warnings {
        log.log(Level::Warning, warning);
    }
    for mismatch in &report.mismatches {
        log.log(
            Level::Error,
            &format!("read back from the new master: {mismatch}"),
        );
    }
    match report.outcome() {
        GraftOutcome::Complete | GraftOutcome::SkippedInvalid => Ok(summary),
        // Failed (or an outcome this version does not know): not a success.
        _ => Err(GraftStepError::PartitionsFailed {
            failed: report.totals.failed,
            mismatches: report.mismatches.len(),
        }),
    }
}

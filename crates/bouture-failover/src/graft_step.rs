//! The graft step of a switch: [`bouture_graft::graft_node`] (as `bouture graft` calls
//! it: the node-wide graft lock, scan, plan, apply, read-back), its events in the failover
//! log.

use bouture_core::NodeConfig;
use bouture_graft::{
    GraftEvent, GraftObserver, GraftOutcome, NodeError, NodeOptions, PartitionStatus,
};

use bouture_text::Level;

use crate::run::{FailoverLog, Options};
use crate::switchfile::{GraftedPartition, SkippedPartitionNote};

/// The graft's events as failover log lines: its operator lines at INFO, skipped
/// partitions at WARNING (listed again in the summary), its detail at DEBUG.
struct Logged<'a> {
    log: &'a mut dyn FailoverLog,
}

impl GraftObserver for Logged<'_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        match event {
            GraftEvent::Detail { line } => self.log.log(Level::Debug, line),
            // Logged with the summary, once the switch is decided.
            GraftEvent::Skipped { .. } => {}
            _ => {
                if let Some(message) = event.message() {
                    self.log.log(Level::Info, &message);
                }
            }
        }
    }
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
    /// The new master cannot be reached.
    #[error("the new master cannot be reached")]
    Unreachable(#[source] NodeError),
    /// The graft could not be made: the node's lock (another graft of the node held it
    /// longer than the bounded wait, or its file is unusable), the scan of the node, the
    /// client (a bad URL, unusable TLS files), or a step of the whole computer.
    #[error(transparent)]
    Graft(NodeError),
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
    let mut graft_options = NodeOptions {
        client: options.master_client.clone(),
        ..NodeOptions::default()
    };
    graft_options
        .plan
        .new_monitor_url
        .clone_from(&options.new_monitor_url);
    let graft = bouture_graft::graft_node(
        config,
        &options.new_master_url,
        &graft_options,
        &mut Logged { log: &mut *log },
    )
    .map_err(|error| {
        if error.is_unreachable() {
            GraftStepError::Unreachable(error)
        } else {
            GraftStepError::Graft(error)
        }
    })?;
    let summary = GraftSummary {
        skipped: graft
            .plan
            .skipped
            .iter()
            .map(|skipped| SkippedPartitionNote {
                partition: skipped.id.clone(),
                reason: skipped.reason.to_string(),
            })
            .collect(),
        ..GraftSummary::default()
    };
    let Some(report) = &graft.report else {
        // Nothing to send (said by the graft's own line): the new master was not contacted.
        return Ok(summary);
    };
    let mut summary = summary;
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

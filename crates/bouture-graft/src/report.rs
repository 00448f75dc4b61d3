//! What a graft did, partition by partition: the report the CLI prints and
//! `failover` records.

use bouture_core::{ComputerId, PartitionId};

use crate::plan::GraftPlan;

/// The result of a graft.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GraftReport {
    /// The new master.
    pub master_url: String,
    /// The computer grafted onto it.
    pub computer_id: ComputerId,
    /// One entry per opted-in partition, in numeric order.
    pub partitions: Vec<PartitionReport>,
    /// The software releases supplied to the computer.
    pub software_releases: Vec<String>,
    /// How partitions were placed on the master.
    pub placement: Placement,
    /// HTTP requests sent to the master.
    pub http_requests: u64,
    /// Counts by status.
    pub totals: GraftTotals,
}

/// How the graft made each instance land in its own partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Placement {
    /// Every partition registered at once, in request order (the fast path).
    SingleRegistration,
    /// The master placed an instance elsewhere; from that partition on, the
    /// graft registered partitions one at a time (the reference's method).
    IncrementalFallback {
        /// The first partition whose instance landed elsewhere.
        from: PartitionId,
        /// Where the master had put it.
        misplaced_into: String,
    },
    /// Nothing was grafted.
    Nothing,
}

/// What happened to one opted-in partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct PartitionReport {
    /// The partition.
    pub id: PartitionId,
    /// Grafted, skipped (invalid on the node) or failed (refused or failed on the master).
    pub status: PartitionStatus,
    /// The instance's title, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_title: Option<String>,
    /// The number of shared instances attached (or that would have been).
    pub shared_instances: usize,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Something that went wrong without failing the partition (e.g. its
    /// `.timestamp` could not be removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// The fate of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PartitionStatus {
    /// On the new master with its instance and shared instances.
    Grafted,
    /// Not sent: its files on the node are invalid.
    Skipped,
    /// Sent but refused or failed on the master; not left on the master.
    Failed,
}

/// Counts of partitions by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GraftTotals {
    /// Grafted partitions.
    pub grafted: usize,
    /// Skipped partitions.
    pub skipped: usize,
    /// Failed partitions.
    pub failed: usize,
    /// Shared instances attached to grafted partitions.
    pub shared_instances: usize,
}

/// The overall outcome, for exit codes and `failover`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GraftOutcome {
    /// Every opted-in partition was grafted.
    Complete,
    /// Every valid partition was grafted; some invalid ones were skipped.
    SkippedInvalid,
    /// At least one valid partition failed on the master.
    Failed,
}

impl GraftReport {
    /// A report for a plan before anything is sent: skipped partitions filled in.
    pub(crate) fn start(plan: &GraftPlan, master_url: &str) -> Self {
        let partitions = plan
            .skipped
            .iter()
            .map(|skipped| PartitionReport {
                id: skipped.id.clone(),
                status: PartitionStatus::Skipped,
                instance_title: None,
                shared_instances: 0,
                reason: Some(skipped.reason.to_string()),
                warning: None,
            })
            .collect();
        Self {
            master_url: master_url.to_string(),
            computer_id: plan.computer_id.clone(),
            partitions,
            software_releases: Vec::new(),
            placement: Placement::Nothing,
            http_requests: 0,
            totals: GraftTotals::default(),
        }
    }

    /// Sort the entries and count them.
    pub(crate) fn finish(&mut self, http_requests: u64) {
        self.partitions.sort_by(|a, b| a.id.cmp(&b.id));
        let mut totals = GraftTotals::default();
        for partition in &self.partitions {
            match partition.status {
                PartitionStatus::Grafted => {
                    totals.grafted += 1;
                    totals.shared_instances += partition.shared_instances;
                }
                PartitionStatus::Skipped => totals.skipped += 1,
                PartitionStatus::Failed => totals.failed += 1,
            }
        }
        self.totals = totals;
        self.http_requests = http_requests;
    }

    /// Complete, skipped some invalid partitions, or failed.
    pub fn outcome(&self) -> GraftOutcome {
        if self.totals.failed > 0 {
            GraftOutcome::Failed
        } else if self.totals.skipped > 0 {
            GraftOutcome::SkippedInvalid
        } else {
            GraftOutcome::Complete
        }
    }
}

#![doc = include_str!("../README.md")]

// Without the `internals` feature, the few items it exports stay `pub` in
// this private module, unreachable.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))]
mod apply;
mod lock;
mod narrate;
mod node;
mod plan;
mod readback;
mod report;

pub use apply::{BANG_MESSAGE, Error, GraftEvent, GraftObserver, apply};
/// Internals for the crate's own benchmark and tests (feature `internals`,
/// not a stable API).
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use apply::{
    PlacementTuning, apply_tuned, computer_registration, instance_request, shared_instance_request,
};
pub use lock::{DEFAULT_LOCK_WAIT, LOCK_FILE_NAME, LockError, NodeLock};
pub use narrate::GraftNarration;
pub use node::{NodeError, NodeOptions, NodeReport, graft_node};
pub use plan::{
    GraftPlan, MONITOR_URL_KEY, MonitorUrlError, Options, PlannedInstance, PlannedPartition,
    PlannedSharedInstance, SkipReason, SkippedPartition, TIMESTAMP_FILE_NAME, with_monitor_url,
};
pub use report::{
    GraftOutcome, GraftReport, GraftTotals, PartitionReport, PartitionStatus, Placement,
};

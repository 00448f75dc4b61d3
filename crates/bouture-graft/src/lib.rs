//! Graft a SlapOS node's opted-in partitions onto a new master.
//!
//! A node whose master may go offline keeps a second, local master (a
//! slapproxy). Grafting copies the node's computer, its opted-in partitions
//! (those holding a `bouture.json`) with their ids and addresses, and the
//! instances and shared instances they hold into that master, so that
//! `slapos node instance` can keep processing them from there.
//!
//! The job has two steps, usable separately:
//!
//! 1. plan, without any I/O beyond reading the node:
//!    [`GraftPlan::build`] from an
//!    [`Inventory`](bouture_core::Inventory);
//! 2. [`apply`] the plan to a [`MasterClient`](bouture_master_client::MasterClient),
//!    which returns a [`GraftReport`].
//!
//! ```no_run
//! use bouture_core::{Inventory, NodeConfig};
//! use bouture_graft::{GraftOptions, GraftPlan};
//! use bouture_master_client::MasterClient;
//!
//! let config = NodeConfig::load("/etc/opt/slapos/slapos.cfg")?;
//! let plan = GraftPlan::build(&Inventory::scan(&config)?, &GraftOptions::default());
//! let client = MasterClient::new("http://10.0.0.1:4000")?;
//! let report = bouture_graft::apply(&plan, &client, &mut ())?;
//! println!("{} partitions grafted", report.totals.grafted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Without the `internals` feature, the few items it exports stay `pub` in
// this private module, unreachable.
#[cfg_attr(not(feature = "internals"), allow(unreachable_pub))]
mod apply;
mod plan;
mod report;

pub use apply::{BANG_MESSAGE, GraftError, GraftEvent, GraftObserver, apply};
/// Internals for the crate's own benchmark and tests (feature `internals`,
/// not a stable API).
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use apply::{
    PlacementTuning, apply_tuned, computer_registration, instance_request, shared_instance_request,
};
pub use plan::{
    GraftOptions, GraftPlan, MONITOR_URL_KEY, MonitorUrlError, PlannedInstance, PlannedPartition,
    PlannedSharedInstance, SkipReason, SkippedPartition, TIMESTAMP_FILE_NAME, with_monitor_url,
};
pub use report::{
    GraftOutcome, GraftReport, GraftTotals, PartitionReport, PartitionStatus, Placement,
};

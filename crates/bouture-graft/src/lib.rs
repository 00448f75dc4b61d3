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
//!    [`GraftPlan::build`](bouture_core::GraftPlan::build) from an
//!    [`Inventory`](bouture_core::Inventory);
//! 2. [`apply`] the plan to a [`MasterClient`](bouture_master_client::MasterClient),
//!    which returns a [`GraftReport`]; after its last request it reads the master's state
//!    back and fails every partition the master does not hold as sent.
//!
//! Hold the node's [`NodeLock`] around both steps: two grafts of one node at once would
//! interleave on the master.
//!
//! ```no_run
//! use bouture_core::{GraftOptions, GraftPlan, Inventory, NodeConfig};
//! use bouture_master_client::MasterClient;
//!
//! let config = NodeConfig::load("/etc/opt/slapos/slapos.cfg")?;
//! let _lock = bouture_graft::NodeLock::acquire(
//!     &config.instance_root,
//!     bouture_graft::DEFAULT_LOCK_WAIT,
//!     &mut |path, pid| eprintln!("waiting for the graft {pid:?} holding {}", path.display()),
//! )?;
//! let plan = GraftPlan::build(&Inventory::scan(&config)?, &GraftOptions::default());
//! let client = MasterClient::new("http://10.0.0.1:4000")?;
//! let report = bouture_graft::apply(&plan, &client, &mut ())?;
//! println!("{} partitions grafted", report.totals.grafted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod apply;
mod lock;
mod readback;
mod report;

pub use apply::{
    BANG_MESSAGE, GraftError, GraftEvent, GraftObserver, apply, computer_registration,
    instance_request, shared_instance_request,
};
#[doc(hidden)]
pub use apply::{PlacementTuning, apply_tuned};
pub use lock::{DEFAULT_LOCK_WAIT, LOCK_FILE_NAME, LockError, NodeLock};
pub use report::{
    GraftOutcome, GraftReport, GraftTotals, PartitionReport, PartitionStatus, Placement,
};

//! Keep a SlapOS node processed while its master is offline.
//!
//! - [`Failover`]: one failover run ([`run`] explains it), over the inner
//!   `slapos node instance` given as a [`SlaposNode`] ([`SlaposCommand`] for
//!   the real program), reporting to a [`FailoverLog`], returning a
//!   [`FailoverOutcome`] or a [`FailoverError`];
//! - [`configure`]: the node configuration pointed at a new master, edited
//!   line by line so that comments and layout survive
//!   ([`bouture_ini::IniEditor`]), written atomically
//!   ([`bouture_fs::write_like`]);
//! - [`decision`]: the failover state machine, as a pure function;
//! - [`switchfile`]: its state on disk (the switchfile and the offline-run
//!   counter);
//! - [`pidfile`]: the lock held for a whole run.

pub mod configure;
pub mod decision;
mod graft_step;
mod offline;
pub mod pidfile;
pub mod run;
pub mod switchfile;

pub use graft_step::GraftStepError;
pub use run::{
    DEFAULT_MASTER_TIMEOUT, DEFAULT_PIDFILE_INSTANCE, Failover, FailoverError, FailoverLog,
    FailoverOptions, FailoverOutcome, FileRole, Level, Master, NotProcessed, SlaposCommand,
    SlaposNode,
};

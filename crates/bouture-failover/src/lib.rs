//! Keep a SlapOS node processed while its master is offline.
//!
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
pub mod pidfile;
pub mod switchfile;

//! The exit codes of `bouture`, documented in one place.

/// Exit codes of the `bouture` command.
///
/// Unknown or unexpected failures always exit with [`BoutureExitCode::FAILURE`].
///
/// `bouture failover` tells cron or monitoring whether the node was
/// processed: [`BoutureExitCode::OK`] when it was (by the original master,
/// `slapos node instance` exiting 0 or 2, or by the new master, likewise),
/// [`BoutureExitCode::FAILURE`] when bouture could not do its part (bad
/// configuration or arguments, PIDFILE equal to `pidfile_instance`, the
/// inner program could not be started, configure or graft failed so the node
/// was not switched, the switchfile could not be written),
/// [`BoutureExitCode::FAILOVER_BUSY`] and
/// [`BoutureExitCode::FAILOVER_NOT_PROCESSED`] otherwise.
#[derive(Debug)]
pub enum BoutureExitCode {}

impl BoutureExitCode {
    /// The command did what it was asked.
    pub const OK: u8 = 0;
    /// The operation failed, wholly or partly, or its input could not be read.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (unknown flag, missing argument, bad value).
    pub const USAGE: u8 = 2;
    /// `bouture node-setup`: the input holds an ssconf value larger than
    /// Ganeti's reader accepts (Ganeti's `ConfigurationError`, which its
    /// `node-daemon-setup` exits with 2, like a usage error).
    pub const NODE_SETUP_CONFIGURATION: u8 = 2;
    /// `bouture failover`: another `bouture failover` holds the lock on
    /// PIDFILE; this run did nothing (the same code as `slapos node instance`
    /// uses when another run holds its pidfile).
    pub const FAILOVER_BUSY: u8 = 10;
    /// `bouture failover`: the node was not processed in this run, by design:
    /// the run with the original master ended ambiguously (neither 0, 2 nor
    /// 3: nothing was changed), or the original master is offline but not
    /// for enough runs in a row yet (`--switch-after`), or the run from the
    /// new master did not succeed (exit neither 0 nor 2). The next run may
    /// do better; the log says which case it was.
    pub const FAILOVER_NOT_PROCESSED: u8 = 75;
}

//! The exit codes of `bouture`, documented in one place.

/// Exit codes of the `bouture` command.
///
/// Unknown or unexpected failures always exit with [`BoutureExitCode::FAILURE`].
#[derive(Debug)]
pub enum BoutureExitCode {}

impl BoutureExitCode {
    /// The command did what it was asked.
    pub const OK: u8 = 0;
    /// The operation failed, wholly or partly, or its input could not be read.
    pub const FAILURE: u8 = 1;
    /// The command line was wrong (unknown flag, missing argument, bad value).
    pub const USAGE: u8 = 2;
}

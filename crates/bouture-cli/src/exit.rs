//! One way to fail: what a command returns, and the one function that turns
//! it into a message and an exit code.
//!
//! Every command module has `pub(crate) fn run(args, cx) -> CommandResult`
//! (`cx`: the run's [`Context`], its report stream and its log). It renders
//! its report itself and returns what happened:
//!
//! - `Ok(`[`Outcome`]`)`: the command ran to its end; the outcome says
//!   whether it did all it was asked ([`Outcome::Done`]), only part of it
//!   ([`Outcome::Incomplete`]: some partitions skipped or failed), or a
//!   command-specific result
//!   (`bouture failover`'s [`Outcome::FailoverBusy`],
//!   [`Outcome::FailoverNotProcessed`]);
//! - `Err(`[`CommandError`]`)`: it could not do its job. Wrap the library
//!   error, typed, with [`CommandError::config`] when it is about the
//!   configuration the command reads (the node configuration, an input
//!   file's content), [`CommandError::failed`] otherwise,
//!   [`CommandError::Output`] when the report cannot be written, or
//!   [`CommandError::Reported`] when the command has already said why (as
//!   `bouture failover` does in its log). A command that keeps a peer's
//!   documented code for an error has its own variant
//!   (`bouture node-setup`'s [`CommandError::NodeSetupConfiguration`]).
//!
//! [`finish`] is the only place that prints the error and chooses the exit
//! code; a command never returns a number. A new command adds a variant to
//! [`Outcome`] only for a result that needs its own documented code (and
//! adds that code to [`BoutureExitCode`]).
//!
//! Configuration errors exit 1 ([`BoutureExitCode::FAILURE`]), like any
//! failed operation: 2 ([`BoutureExitCode::USAGE`]) is only for a command
//! line that clap rejects, so that a script can tell "fix the command" from
//! "fix the system". The one exception is `bouture node-setup`, which stands
//! in for Ganeti's `node-daemon-setup` and keeps its codes: 2 also for a
//! configuration error ([`BoutureExitCode::NODE_SETUP_CONFIGURATION`]).

use std::error::Error;
use std::io::{self, Write};

use serde_json::{Map, Value};

use crate::context::Context;
use crate::output::{OutputFormat, error_causes, error_chain, write_json};

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
    /// The operation failed, wholly or partly, or its input (the node
    /// configuration included) could not be read or used.
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

/// What a command that ran to its end did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything asked was done.
    Done,
    /// Part of it was not done (the report says what): partitions skipped or
    /// failed, a cluster merge rolled back or stopped after its point of no
    /// return. (A refused merge is a [`CommandError`]: nothing was done.)
    Incomplete,
    /// `bouture failover`: another run holds the lock; nothing done.
    FailoverBusy,
    /// `bouture failover`: the node was not processed in this run, by design.
    FailoverNotProcessed,
}

/// An error that ends a command, and the facts a script may act on, for
/// the `details` of the JSON error document ([`finish`]).
#[derive(Debug)]
pub(crate) struct Failure {
    /// The error, its sources the causes.
    pub(crate) error: Box<dyn Error>,
    /// Command-specific fields (merge's conflicts, deploy's validation
    /// errors, ...); empty for most errors.
    pub(crate) details: Map<String, Value>,
}

/// Why a command could not do its job.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// The configuration the command reads cannot be used (missing,
    /// unreadable, invalid).
    Config(Failure),
    /// The operation failed.
    Failed(Failure),
    /// The report could not be written (a closed pipe is not a failure).
    Output(io::Error),
    /// The command has already said why (in its log or its report).
    Reported,
    /// `bouture node-setup`: the input holds a value Ganeti's configuration
    /// refuses (Ganeti's `ConfigurationError`, exit
    /// [`BoutureExitCode::NODE_SETUP_CONFIGURATION`]).
    NodeSetupConfiguration(Failure),
    /// clap rejected the command line, or printed the help or the version.
    Usage(clap::Error),
}

impl CommandError {
    /// A configuration error.
    pub(crate) fn config(error: impl Error + 'static) -> Self {
        Self::Config(Failure::new(error))
    }

    /// A failed operation.
    pub(crate) fn failed(error: impl Error + 'static) -> Self {
        Self::Failed(Failure::new(error))
    }

    /// `bouture node-setup`'s Ganeti configuration error.
    pub(crate) fn node_setup_configuration(error: impl Error + 'static) -> Self {
        Self::NodeSetupConfiguration(Failure::new(error))
    }

    /// The error with `details` for the JSON error document (an error
    /// without a [`Failure`] is returned as it is).
    pub(crate) fn with_details(mut self, details: Map<String, Value>) -> Self {
        if let Self::Config(failure)
        | Self::Failed(failure)
        | Self::NodeSetupConfiguration(failure) = &mut self
        {
            failure.details = details;
        }
        self
    }
}

impl Failure {
    fn new(error: impl Error + 'static) -> Self {
        Self {
            error: Box::new(error),
            details: Map::new(),
        }
    }
}

/// The JSON error document: what `--format json` prints on stdout when a
/// command fails, in place of its report (the README's "JSON error
/// document").
#[derive(Debug, serde::Serialize)]
struct ErrorDocument<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, serde::Serialize)]
struct ErrorBody<'a> {
    /// `configuration` (what the command reads cannot be used) or `failed`
    /// (the operation failed).
    kind: &'static str,
    /// The error, as the first line of its log message says it.
    message: String,
    /// Its causes, outermost first (those its message already says left
    /// out), as the rest of the log message.
    causes: Vec<String>,
    /// Command-specific fields.
    details: &'a Map<String, Value>,
}

/// Write the JSON error document of `failure` on stdout when the command
/// was asked for JSON. A closed stdout loses nothing: the log has the
/// error too.
fn write_error_document(kind: &'static str, failure: &Failure, cx: &mut Context<'_>) {
    if cx.format != OutputFormat::Json {
        return;
    }
    let (message, causes) = error_causes(failure.error.as_ref());
    let document = ErrorDocument {
        error: ErrorBody {
            kind,
            message,
            causes,
            details: &failure.details,
        },
    };
    let _ = write_json(cx.stdout, &document);
}

/// What every command returns.
pub(crate) type CommandResult = Result<Outcome, CommandError>;

/// The one place where a command's result becomes messages and an exit code.
/// The error goes through the run's log (stderr in the command's style, and
/// `--log-file`), at ERROR, and, when the command was asked for
/// `--format json`, as the JSON error document on stdout.
pub(crate) fn finish(result: CommandResult, cx: &mut Context<'_>) -> u8 {
    let error = match result {
        Ok(Outcome::Done) => return BoutureExitCode::OK,
        Ok(Outcome::Incomplete) => return BoutureExitCode::FAILURE,
        Ok(Outcome::FailoverBusy) => return BoutureExitCode::FAILOVER_BUSY,
        Ok(Outcome::FailoverNotProcessed) => return BoutureExitCode::FAILOVER_NOT_PROCESSED,
        Err(error) => error,
    };
    match error {
        CommandError::Usage(error) => {
            let (target, code): (&mut dyn Write, u8) = if error.use_stderr() {
                (cx.log.stream(), BoutureExitCode::USAGE)
            } else {
                (&mut *cx.stdout, BoutureExitCode::OK)
            };
            let _ = write!(target, "{}", error.render());
            code
        }
        CommandError::Config(failure) => {
            write_error_document("configuration", &failure, cx);
            cx.log.error(&error_chain(failure.error.as_ref()));
            BoutureExitCode::FAILURE
        }
        CommandError::Failed(failure) => {
            write_error_document("failed", &failure, cx);
            cx.log.error(&error_chain(failure.error.as_ref()));
            BoutureExitCode::FAILURE
        }
        CommandError::NodeSetupConfiguration(failure) => {
            write_error_document("configuration", &failure, cx);
            cx.log.error(&error_chain(failure.error.as_ref()));
            BoutureExitCode::NODE_SETUP_CONFIGURATION
        }
        CommandError::Output(error) if error.kind() == io::ErrorKind::BrokenPipe => {
            BoutureExitCode::OK
        }
        CommandError::Output(error) => {
            cx.log.error(&format!("cannot write the report: {error}"));
            BoutureExitCode::FAILURE
        }
        CommandError::Reported => BoutureExitCode::FAILURE,
    }
}

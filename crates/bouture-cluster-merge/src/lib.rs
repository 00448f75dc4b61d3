#![doc = include_str!("../README.md")]

mod command;
mod error;
mod exec;
mod facts;
mod journal;
mod plan;
mod run;
mod ssh;
mod state;

pub use command::{Capture, Cmd, Identity, Target, is_valid_name, quote};
pub use error::Error;
pub use exec::{
    CmdOutput, EXCERPT, ExecError, Executor, STDERR_LIMIT, StopRequest, excerpt, signal_name,
};
pub use facts::{ClusterFacts, Facts, InstanceFacts, NodeFacts, OurFacts};
pub use journal::{
    FailureRecord, JOURNAL_FILE, JOURNAL_FORMAT, Journal, Status, StepRecord, StepState,
};
pub use plan::{
    AUTHORIZED_KEYS_BACKUP, Action, Check, GanetiPaths, Groups, Options, ParameterConflicts, Plan,
    Planned, Restart, Step, StepKind,
};
pub use run::{Event, Observer, Prepared, Quiet, Report, dry_run, resume, run};
pub use ssh::{HostKeyPolicy, KEY_LIMIT, OUTPUT_LIMIT, SshOptions, SystemExecutor};

/// An error and its sources, `: `-separated, for messages recorded in the journal.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

#![doc = include_str!("../README.md")]

mod command;
mod discover;
mod error;
mod exec;
mod facts;
mod journal;
mod plan;
mod query;
mod run;
mod ssh;
mod state;

/// The merge's choices for node groups and cluster parameters, as
/// [`Options`] records them: bouture-merge's own types.
pub use bouture_merge::{GroupStrategy, ParameterPolicy};
pub use command::{Capture, Cmd, Identity, Target, is_valid_name};
pub use error::Error;
pub use exec::{CmdOutput, EXCERPT, ExecError, Executor, STDERR_LIMIT, StopRequest, signal_name};
pub use facts::{ClusterFacts, Facts, InstanceFacts, NodeFacts, OurFacts};
pub use journal::{
    FailureRecord, JOURNAL_FILE, JOURNAL_FORMAT, Journal, Status, StepRecord, StepState,
};
pub use plan::{
    AUTHORIZED_KEYS_BACKUP, Action, Check, GanetiPaths, MergeConfig, Options, Plan, Planned,
    Restart, Step, StepKind,
};
pub use run::{Event, Note, Observer, Outcome, Prepared, Quiet, Report, resume, run};
pub use ssh::{
    DEFAULT_COMMAND_DEADLINE, HostKeyPolicy, KEY_LIMIT, OUTPUT_LIMIT, SshOptions, SystemExecutor,
};

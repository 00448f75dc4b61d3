//! Why a cluster merge could not start, or could not keep its records.
//!
//! A merge that started and failed is not an error: it is an
//! [`Report`](crate::Report) saying what failed, what was undone and what
//! is left.

use std::path::PathBuf;

use crate::exec::ExecError;

/// Why a merge could not start (nothing was changed on any host), or why
/// its journal could not be kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No merging cluster was given.
    #[error("no cluster to merge was given")]
    NoClusters,
    /// A name is not a valid host or cluster name.
    #[error(
        "{what} {name:?} is not a valid host name (letters, digits, '-', '.', '_'; not starting with '-' or '.')"
    )]
    InvalidName {
        /// What the name is (cluster, node, instance).
        what: &'static str,
        /// The name (bounded).
        name: String,
    },
    /// A merging cluster is our own cluster.
    #[error("cannot merge cluster {cluster} with itself (our cluster is {ours})")]
    SelfMerge {
        /// The cluster given.
        cluster: String,
        /// Our cluster's name.
        ours: String,
    },
    /// A cluster is given twice (by the same name, or by two names of one cluster).
    #[error("cluster {cluster} is given twice ({first} and {second})")]
    Duplicate {
        /// The cluster.
        cluster: String,
        /// The first name given for it.
        first: String,
        /// The second.
        second: String,
    },
    /// A local file could not be read (the error names it).
    #[error(transparent)]
    Read(#[from] bouture_fs::ReadError),
    /// A file could not be written (the error names it).
    #[error(transparent)]
    Write(#[from] bouture_fs::WriteError),
    /// Our public key is not a single OpenSSH public key line.
    #[error("{}: not a single OpenSSH public key line ({reason})", path.display())]
    BadPublicKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// A command could not be run (unreachable host, refused host key...).
    #[error("{cmd}: {source}")]
    Exec {
        /// The command, `[place] line`.
        cmd: String,
        /// Why.
        #[source]
        source: ExecError,
    },
    /// A command failed.
    #[error("{cmd} exited with {}: {output}", code.map_or_else(|| "a signal".to_owned(), |c| format!("status {c}")))]
    CommandFailed {
        /// The command, `[place] line`.
        cmd: String,
        /// Its exit code.
        code: Option<i32>,
        /// The end of its standard error and (unless secret) output.
        output: String,
    },
    /// A command's output is not what Ganeti prints.
    #[error("{cmd}: unexpected output: {what}")]
    Unexpected {
        /// The command, `[place] line`.
        cmd: String,
        /// What is wrong (bounded).
        what: String,
    },
    /// The configurations cannot be merged (checked before anything is changed).
    #[error("the configurations cannot be merged; nothing was changed")]
    Merge {
        /// bouture-merge's refusal.
        #[source]
        source: bouture_merge::Error,
    },
    /// The state directory cannot be used.
    #[error("state directory {}: {reason}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The state directory's lock cannot be taken: another run holds it
    /// ([`bouture_fs::LockError::Busy`], with its pid), or the lock file is
    /// not a regular file or cannot be written.
    #[error(transparent)]
    Busy(#[from] bouture_fs::LockError),
    /// The journal cannot be read or understood.
    #[error("journal {}: {reason}", path.display())]
    Journal {
        /// The journal.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An unfinished merge is recorded: it must be resumed, not started again.
    #[error(
        "an unfinished merge (run {run_id}, {status}) is recorded in {}: it must be resumed, not started again (nothing was done now)",
        journal.display()
    )]
    Unfinished {
        /// The journal.
        journal: PathBuf,
        /// Its run.
        run_id: String,
        /// Its status.
        status: String,
    },
    /// Instances of a merging cluster run, and the settings say not to stop
    /// them ([`crate::Options::stop_instances`] false).
    #[error(
        "{cluster}: instances are running ({instances}) and the merge was asked not to stop them; stop them first (nothing was changed)"
    )]
    InstancesRunning {
        /// The merging cluster.
        cluster: String,
        /// The running instances (bounded).
        instances: String,
    },
    /// A signal asked to stop during discovery (nothing was changed).
    #[error("stopped: bouture received {} while looking at the clusters; nothing was changed", crate::exec::signal_name(*signal))]
    Interrupted {
        /// The signal.
        signal: i32,
    },
    /// Resuming without an unfinished merge.
    #[error("nothing to resume: {reason}")]
    NothingToResume {
        /// Why.
        reason: String,
    },
    /// Resuming was asked as a dry run ([`crate::Options::dry_run`]).
    #[error("a recorded merge is resumed, never planned again: a resume cannot be a dry run")]
    DryRunResume,
    /// Resuming with clusters other than the recorded ones.
    #[error("the recorded merge is of {recorded}, not of {given}")]
    ResumeMismatch {
        /// The recorded clusters.
        recorded: String,
        /// The clusters given.
        given: String,
    },
}

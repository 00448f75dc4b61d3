//! The errors of this crate.

use std::path::PathBuf;

/// Why the changes could not be read, recorded or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The local master could not be read.
    #[error("cannot read what the master {url} holds for computer {computer_id}: {source}")]
    Master {
        /// The master.
        url: String,
        /// The computer.
        computer_id: String,
        /// The master client's error.
        #[source]
        source: Box<bouture_master_client::Error>,
    },
    /// A file of this crate cannot be read (the error names it).
    #[error(transparent)]
    Read(#[from] bouture_fs::ReadError),
    /// A file of this crate holds something else than what this crate writes.
    #[error("{} is not a valid {what}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// What is wrong (bounded excerpt).
        reason: String,
    },
    /// A file of this crate cannot be written or removed (the error names
    /// it and says which).
    #[error(transparent)]
    Write(#[from] bouture_fs::WriteError),
    /// What was written is not what reading it back gives.
    #[error("{} does not hold what was just written to it ({detail}); another program changed it, or the disk lies", path.display())]
    ReadBack {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// The lock next to the changes file cannot be taken: another process
    /// held it for the whole [`LOCK_TIMEOUT`](crate::LOCK_TIMEOUT), or it is
    /// not a regular file, or the system's error.
    #[error(transparent)]
    Lock(bouture_fs::LockError),
    /// Another replay of these changes is running.
    #[error(
        "another replay of these changes is running{} (it holds {}): wait for it to finish",
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        path.display()
    )]
    ReplayBusy {
        /// The replay lock file.
        path: PathBuf,
        /// The holder's pid, when readable.
        pid: Option<u32>,
    },
    /// The changes file is not one this user wrote: owned by another user, or writable
    /// by others (its commands would be run).
    #[error("{} is not trusted: {reason}; it must belong to this user (or root) and be writable by its owner only", path.display())]
    Untrusted {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The client configuration given to `slapos request` cannot be used.
    #[error("the slapos client configuration {}: {reason}", path.display())]
    ClientConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The changes file changed under the replay (cleared or rewritten by someone else).
    #[error("{} changed while the replay ran ({detail}); run the replay again", path.display())]
    ChangedMeanwhile {
        /// The file.
        path: PathBuf,
        /// What changed.
        detail: String,
    },
    /// `slapos` cannot be started.
    #[error("cannot run `{program}` (give its path in replay::Options::slapos): {source}")]
    Slapos {
        /// The program.
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

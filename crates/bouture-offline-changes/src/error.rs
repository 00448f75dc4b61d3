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
}

//! Everything that can stop a merge.

use std::path::PathBuf;

use crate::conflicts::Conflict;
use crate::model::{SUPPORTED_VERSION, version_name};
use crate::ports::PortRange;

/// Everything that can stop a merge. Nothing is ever written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file could not be read: missing, not a regular file
    /// (a FIFO, a device, a directory), larger than the bound, unreadable.
    /// The error names the file.
    #[error(transparent)]
    Read(#[from] bouture_fs::ReadError),
    /// A configuration file breaks a rule: not JSON, a duplicate key, a key
    /// that is not its object's uuid, a missing or mistyped field, a
    /// reference to an object that does not exist, too deep a nesting.
    #[error("{}:{line}:{column}: {}{rule}", path.display(), if object.is_empty() { String::new() } else { format!("{object}: ") })]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (from 1) in the file.
        line: usize,
        /// The column (from 1, in characters) in the line.
        column: usize,
        /// The object or value concerned (`instance 'web1' (uuid …)`,
        /// `disks["…"].logical_id`), empty for the document itself.
        object: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The file's format version is not Ganeti 3.0's.
    #[error("{}: config.data version {found} (Ganeti {}) is not supported; bouture merges version {SUPPORTED_VERSION} (Ganeti 3.0) only: {}",
        path.display(), version_name(*found), version_advice(*found))]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
    },
    /// The configurations conflict; every conflict found is listed.
    #[error("{} conflict{} between the configurations, nothing was written; first: {}",
        conflicts.len(), if conflicts.len() == 1 { "" } else { "s" },
        conflicts.first().map_or("", |c| c.message.as_str()))]
    Conflicts {
        /// All the conflicts, in a stable order.
        conflicts: Vec<Conflict>,
    },
    /// The merged cluster's port range cannot hold every port to reallocate.
    #[error(
        "not enough free ports: {needed} needed (DRBD disks and console ports of the merging clusters), {available} available in {range} (the usable port pool plus the range above highest_used_port {highest_used_port}); widen the range"
    )]
    PortsExhausted {
        /// Ports the merge has to allocate.
        needed: usize,
        /// Ports the allocator could hand out.
        available: usize,
        /// The usable range.
        range: PortRange,
        /// Our cluster's `highest_used_port` (after repair, see [`crate::Repair`]).
        highest_used_port: u64,
    },
    /// The output file is one of the inputs.
    #[error("the output {} is the same file as the input {}; write the merged config elsewhere", output.display(), input.display())]
    OutputIsInput {
        /// The output path.
        output: PathBuf,
        /// The input it designates.
        input: PathBuf,
    },
    /// The output cannot be written there (checked before anything else,
    /// dry run included).
    #[error("cannot write the output {}: {problem}", path.display())]
    Output {
        /// The output path.
        path: PathBuf,
        /// Why (not a regular file, no such directory).
        problem: String,
    },
    /// Writing the output failed (the output is left as it was). The error
    /// names the file.
    #[error(transparent)]
    Write(#[from] bouture_fs::WriteError),
    /// Another merge kept the output's directory locked for the whole
    /// wait; nothing was written.
    #[error(transparent)]
    Lock(#[from] bouture_fs::LockError),
    /// Serialising a replaced value failed (cannot happen with finite numbers).
    #[error("cannot serialise the merged configuration")]
    Serialize {
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// What to do with a file of another version.
fn version_advice(found: u64) -> &'static str {
    if found > SUPPORTED_VERSION {
        "this file is from a newer Ganeti; downgrade it to 3.0 with that Ganeti's `cfgupgrade --downgrade` first"
    } else {
        "upgrade the file with Ganeti 3.0's cfgupgrade first"
    }
}

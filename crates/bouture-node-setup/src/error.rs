//! Why a node setup was refused or failed.
//!
//! The messages are Ganeti's where Ganeti has one (so operators and scripts
//! that know `node-daemon-setup` recognise them), with the path or key
//! added. No message ever contains the private key or the HMAC key.

use std::path::PathBuf;

use bouture_fs::{ReadError, WriteError};

/// Why a node setup was refused (nothing written) or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input could not be read (a read error, or more than
    /// [`MAX_INPUT_BYTES`](crate::MAX_INPUT_BYTES)).
    #[error("Can't read input data: {source}")]
    ReadInput {
        /// The read error.
        #[source]
        source: ReadError,
    },
    /// The input is not a JSON object of the declared schema: the message
    /// names the key.
    #[error("{message}")]
    Input {
        /// What is wrong, naming the key.
        message: String,
    },
    /// `cluster_name` is missing or empty.
    #[error("Cluster name must be specified (input key 'cluster_name')")]
    MissingClusterName,
    /// The node already belongs to another cluster.
    #[error("Current cluster name is '{local}' ({path}), not '{given}'")]
    ClusterNameMismatch {
        /// The local `ssconf_cluster_name` file.
        path: PathBuf,
        /// Its value (an excerpt).
        local: String,
        /// The `cluster_name` given.
        given: String,
    },
    /// `node_daemon_certificate` is missing or empty.
    #[error("Node daemon certificate must be specified (input key 'node_daemon_certificate')")]
    MissingCertificate,
    /// `node_daemon_certificate` holds no loadable certificate.
    #[error("(stdin) Unable to load certificate: {reason}")]
    Certificate {
        /// Why (never an excerpt of the input).
        reason: String,
    },
    /// `node_daemon_certificate` holds no loadable private key.
    #[error("(stdin) Unable to load private key: {reason}")]
    PrivateKey {
        /// Why (never an excerpt of the input).
        reason: String,
    },
    /// The private key given is not the certificate's.
    #[error(
        "(stdin) Certificate is not signed with given key: the private key does not match the certificate's public key"
    )]
    KeyMismatch,
    /// The local `server.pem` cannot be used to check the given certificate.
    #[error("{path}: cannot load the local key: {reason}")]
    LocalKey {
        /// The local `server.pem`.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The node already has another cluster's key.
    #[error("Given cluster certificate does not match local key ({path})")]
    LocalKeyMismatch {
        /// The local `server.pem`.
        path: PathBuf,
    },
    /// `hmac_key` is missing or empty.
    #[error("Hmac key must be provided (input key 'hmac_key')")]
    MissingHmac,
    /// `ssconf` is missing or empty.
    #[error("Ssconf values must be specified (input key 'ssconf')")]
    MissingSsconf,
    /// `ssconf` names files Ganeti does not know.
    #[error("Invalid ssconf keys: {}", keys.join(", "))]
    InvalidSsconfKeys {
        /// The unknown names, sorted (excerpts).
        keys: Vec<String>,
    },
    /// `ssconf.cluster_name` is missing or differs from `cluster_name`.
    #[error(
        "Cluster name in ssconf does not match (input keys 'ssconf.cluster_name' and 'cluster_name')"
    )]
    SsconfClusterName,
    /// An ssconf value is larger than Ganeti reads (a configuration error,
    /// exit 2 in Ganeti).
    #[error(
        "Value '{name}' has a length of {length} bytes, but only up to {max} are allowed (input key 'ssconf.{name}')"
    )]
    ValueTooLarge {
        /// The ssconf name.
        name: String,
        /// The size of the file it would make, in bytes.
        length: usize,
        /// The most Ganeti's reader accepts.
        max: usize,
    },
    /// `node_name` is missing or empty (Ganeti finds it only after writing).
    #[error("No hostname found: input key 'node_name' must be specified")]
    MissingNodeName,
    /// The data directory is missing or not a directory.
    #[error("{path}: data directory {reason}")]
    DataDir {
        /// The data directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The input asks to start the node daemons, the start command is the
    /// default one (the system's daemons, reading the default data
    /// directory) and the data directory is another one: refused unless
    /// [`crate::Options::restart_system_daemons`].
    #[error(
        "{}: the default start command restarts the system's Ganeti daemons, which read {}, not this data directory; refused unless restarting them is asked for (or give a start command for this data directory)",
        data_dir.display(),
        crate::DEFAULT_DATA_DIR
    )]
    SystemDaemons {
        /// The data directory given.
        data_dir: PathBuf,
    },
    /// Another run holds the data directory's lock.
    #[error("{path}: another node setup is running on this data directory (it holds its lock)")]
    Busy {
        /// The data directory.
        path: PathBuf,
    },
    /// A file to read or replace is in the way (not a regular file, a
    /// symbolic link, too large to keep a copy of, unreadable); the error
    /// names it.
    #[error(transparent)]
    Existing(ReadError),
    /// The new client certificate could not be made.
    #[error("cannot generate the client certificate: {reason}")]
    ClientCertificate {
        /// Why.
        reason: String,
    },
    /// A write failed; the files already replaced were restored (or the
    /// message lists those that could not be).
    #[error("{source}; {}", restore_text(restored, unrestored))]
    Write {
        /// The write error, naming the file whose write failed (it is as it
        /// was).
        #[source]
        source: WriteError,
        /// Files replaced or created before the failure and put back.
        restored: Vec<PathBuf>,
        /// Files that could not be put back, with why: what remains.
        unrestored: Vec<(PathBuf, String)>,
    },
    /// A file read back after writing is not what was written.
    #[error("{path}: read back after writing, {reason}")]
    ReadBack {
        /// The file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
}

fn restore_text(restored: &[PathBuf], unrestored: &[(PathBuf, String)]) -> String {
    if unrestored.is_empty() {
        return format!(
            "the {} file(s) already written were put back as they were, the data directory is unchanged",
            restored.len()
        );
    }
    let left: Vec<String> = unrestored
        .iter()
        .map(|(path, why)| format!("{} ({why})", path.display()))
        .collect();
    format!(
        "{} file(s) put back, but these could not be and remain as written: {}",
        restored.len(),
        left.join(", ")
    )
}

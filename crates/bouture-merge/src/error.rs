//! Errors of the merge, and the conflicts that make a merge refuse to run.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::ports::PortRange;

/// The `config.data` format version bouture merges: Ganeti 3.0.
pub const SUPPORTED_VERSION: u64 = 3_000_000;

/// Everything that can stop a merge. Nothing is ever written when one is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file is not valid JSON.
    #[error("{} is not a valid Ganeti config.data (JSON)", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (with line and column).
        #[source]
        source: serde_json::Error,
    },
    /// The file's format version is not Ganeti 3.0's.
    #[error(
        "{}: config.data version {found} (Ganeti {}) is not supported; bouture merges version {SUPPORTED_VERSION} (Ganeti 3.0) only: convert the file with Ganeti 3.0's cfgupgrade first",
        path.display(), version_name(*found)
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
    },
    /// A required part of the configuration is missing or has the wrong shape.
    #[error("{}: {what} is missing or malformed", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// Which part (for example `instance 'web1' (uuid …)` or `cluster.tcpudp_port_pool`).
        what: String,
        /// The underlying error, if any.
        #[source]
        source: Option<serde_json::Error>,
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
        "not enough free ports: {needed} needed (DRBD disks and console ports of the merging clusters), {available} available in {range} (the port pool plus the range above highest_used_port {highest_used_port}); widen the range"
    )]
    PortsExhausted {
        /// Ports the merge has to allocate.
        needed: usize,
        /// Ports the allocator could hand out.
        available: usize,
        /// The usable range.
        range: PortRange,
        /// Our cluster's `highest_used_port`.
        highest_used_port: u64,
    },
    /// A port range is invalid (empty, or outside 1-65535).
    #[error("invalid port range {text:?}: expected FIRST-LAST with 1 <= FIRST <= LAST <= 65535")]
    InvalidPortRange {
        /// The text given.
        text: String,
    },
    /// The output file is one of the inputs.
    #[error("the output {} is the same file as the input {}; write the merged config elsewhere", output.display(), input.display())]
    OutputIsInput {
        /// The output path.
        output: PathBuf,
        /// The input it designates.
        input: PathBuf,
    },
    /// Writing the output failed (the output is left as it was).
    #[error("cannot write {}", path.display())]
    Write {
        /// The output file.
        path: PathBuf,
        /// Why.
        #[source]
        source: bouture_fs::WriteError,
    },
    /// Serialising the merged configuration failed.
    #[error("cannot serialise the merged configuration")]
    Serialize {
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
}

/// `3000000` → `"3.0"`, `2160000` → `"2.16"`, `3000002` → `"3.0.2"`.
pub fn version_name(version: u64) -> String {
    let major = version / 1_000_000;
    let minor = version / 10_000 % 100;
    let revision = version % 10_000;
    if revision == 0 {
        format!("{major}.{minor}")
    } else {
        format!("{major}.{minor}.{revision}")
    }
}

/// The kinds of objects in a Ganeti configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectKind {
    /// The cluster object itself.
    Cluster,
    /// A node.
    Node,
    /// A node group.
    NodeGroup,
    /// An instance.
    Instance,
    /// A disk (top-level, or a child of one).
    Disk,
    /// A network.
    Network,
    /// An instance's network interface.
    Nic,
    /// A logical volume (`vg/lv`) of a plain disk.
    LogicalVolume,
    /// A cluster parameter.
    Parameter,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cluster => "cluster",
            Self::Node => "node",
            Self::NodeGroup => "node group",
            Self::Instance => "instance",
            Self::Disk => "disk",
            Self::Network => "network",
            Self::Nic => "NIC",
            Self::LogicalVolume => "logical volume",
            Self::Parameter => "parameter",
        })
    }
}

/// One object of one cluster, as named in conflicts and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectRef {
    /// The name of the cluster the object belongs to.
    pub cluster: String,
    /// What the object is.
    pub kind: ObjectKind,
    /// Its name (or, for objects without one, a description such as `instance1/nic 0`).
    pub name: String,
    /// Its UUID, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ObjectKind::Cluster {
            return if self.name == self.cluster {
                write!(f, "cluster '{}'", self.cluster)
            } else {
                write!(f, "the {} of cluster '{}'", self.name, self.cluster)
            };
        }
        write!(f, "{} '{}'", self.kind, self.name)?;
        if let Some(uuid) = &self.uuid
            && uuid != &self.name
        {
            write!(f, " (uuid {uuid})")?;
        }
        write!(f, " of cluster '{}'", self.cluster)
    }
}

/// What two clusters clash on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictKind {
    /// Both clusters have the same name (merging a cluster with itself).
    ClusterName,
    /// A UUID (or LV name) is used in both clusters.
    Uuid,
    /// A node name is used in both clusters.
    NodeName,
    /// An instance name is used in both clusters.
    InstanceName,
    /// An IP address is used in both clusters (on the same link or network, for NICs).
    Ip,
    /// A MAC address is used in both clusters.
    Mac,
    /// A network name is used in both clusters.
    NetworkName,
    /// A node group name is used in both clusters and no group strategy was chosen.
    NodeGroupName,
    /// A cluster parameter differs in a way that the merge cannot accept.
    Parameter,
}

/// One reason the merge is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// What clashes.
    pub kind: ConflictKind,
    /// The clashing value (UUID, name, address, parameter name).
    pub value: String,
    /// The objects involved.
    pub owners: Vec<ObjectRef>,
    /// A sentence describing the conflict and, where there is one, the way out.
    pub message: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

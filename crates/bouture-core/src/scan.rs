//! Scanning a node: its computer and each partition's files, as an [`Inventory`].

use std::net::IpAddr;
use std::path::PathBuf;

use crate::bouture_file::{BOUTURE_FILE_NAME, BoutureFile};
use crate::error::{FileError, FileErrorKind, NodeConfigError, ScanError};
use crate::ids::{ComputerId, PartitionId};
use crate::node_config::{ComputerAddress, NodeConfig};
use crate::resource::{PartitionAddress, PartitionResource, RESOURCE_FILE_NAME};
use bouture_fs::describe;

/// The node as bouture sees it.
#[derive(Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Inventory {
    /// The compute node.
    pub computer: ComputeNode,
    /// Every partition, in numeric order (`slappart2` before `slappart10`).
    pub partitions: Vec<Partition>,
}

/// The compute node itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ComputeNode {
    /// The node's computer id.
    pub computer_id: ComputerId,
    /// The node configuration it was read from.
    pub config_path: PathBuf,
    /// Where its partitions are.
    pub instance_root: PathBuf,
    /// The partitions' base name (`slappart`).
    pub partition_base_name: String,
    /// The computer's own address, when the node records it.
    pub address: Option<IpAddr>,
    /// Its netmask, when the node records it.
    pub netmask: Option<IpAddr>,
}

/// One partition of the node, with the state of its two files.
#[derive(Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Partition {
    /// Its id (`slappart3`).
    pub id: PartitionId,
    /// Its directory.
    pub path: PathBuf,
    /// Its `.slapos-resource`: addresses and interface.
    pub resource: ResourceStatus,
    /// Its `bouture.json`: whether it is opted in.
    pub bouture: BoutureStatus,
}

impl Partition {
    /// The interface the master records for the partition's addresses: its
    /// tap name, or its id when it has no tap (as the proxy does).
    pub fn interface(&self) -> Option<&str> {
        match &self.resource {
            ResourceStatus::Valid(resource) => {
                Some(resource.tap_name.as_deref().unwrap_or(self.id.as_str()))
            }
            _ => None,
        }
    }

    /// The partition's addresses, when its `.slapos-resource` is valid.
    pub fn addresses(&self) -> &[PartitionAddress] {
        match &self.resource {
            ResourceStatus::Valid(resource) => &resource.addresses,
            _ => &[],
        }
    }

    /// Whether the partition holds a `bouture.json` (valid or not).
    pub fn is_opted_in(&self) -> bool {
        !matches!(self.bouture, BoutureStatus::NotOptedIn)
    }
}

/// The state of a partition's `.slapos-resource`.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ResourceStatus {
    /// Read and valid.
    Valid(PartitionResource),
    /// There is no `.slapos-resource` (the partition was not formatted by `slapos node format`).
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Present but unusable.
    Invalid(FileError),
}

/// The state of a partition's `bouture.json`.
#[derive(Debug, serde::Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BoutureStatus {
    /// No `bouture.json`: the partition does not take part.
    NotOptedIn,
    /// Opted in, and the file is valid.
    Valid(BoutureFile),
    /// Opted in, but the file is unusable.
    Invalid(FileError),
}

/// Counts of partitions by `bouture.json` status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct InventoryTotals {
    /// Every partition.
    pub partitions: usize,
    /// Opted in with a valid `bouture.json`.
    pub valid: usize,
    /// Opted in with an invalid `bouture.json`.
    pub invalid: usize,
    /// Without `bouture.json`.
    pub not_opted_in: usize,
}

impl Inventory {
    /// Scan the node described by `config`: read its computer description
    /// and every partition directory `<instance_root>/<base><digits>`.
    ///
    /// A partition whose files are invalid is listed with the error; only a
    /// node whose instance root cannot be listed, or whose `computer_json`
    /// is invalid, fails the scan.
    pub fn scan(config: &NodeConfig) -> Result<Self, Error> {
        let ComputerAddress { address, netmask } = config.computer_address()?;
        let computer = ComputeNode {
            computer_id: config.computer_id.clone(),
            config_path: config.path.clone(),
            instance_root: config.instance_root.clone(),
            partition_base_name: config.partition_base_name.clone(),
            address,
            netmask,
        };
        let root = &config.instance_root;
        let entries = std::fs::read_dir(root).map_err(|source| ScanError::InstanceRoot {
            path: root.clone(),
            source,
        })?;
        let mut partitions = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| ScanError::InstanceRoot {
                path: root.clone(),
                source,
            })?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let Some(id) = PartitionId::with_base(&name, &config.partition_base_name) else {
                continue;
            };
            partitions.push(scan_partition(id, entry.path()));
        }
        partitions.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Self {
            computer,
            partitions,
        })
    }

    /// How many partitions are valid, invalid and not opted in.
    pub fn totals(&self) -> InventoryTotals {
        let mut totals = InventoryTotals {
            partitions: self.partitions.len(),
            ..InventoryTotals::default()
        };
        for partition in &self.partitions {
            match partition.bouture {
                BoutureStatus::NotOptedIn => totals.not_opted_in += 1,
                BoutureStatus::Valid(_) => totals.valid += 1,
                BoutureStatus::Invalid(_) => totals.invalid += 1,
            }
        }
        totals
    }
}

/// Why a node could not be scanned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The computer description could not be read.
    #[error(transparent)]
    Config(#[from] NodeConfigError),
    /// The partitions could not be listed.
    #[error(transparent)]
    Scan(#[from] ScanError),
}

fn scan_partition(id: PartitionId, path: PathBuf) -> Partition {
    let problem = match std::fs::symlink_metadata(&path) {
        Ok(metadata) if metadata.is_dir() => None,
        Ok(metadata) => Some(move || FileErrorKind::NotADirectory {
            file_type: describe(metadata.file_type()),
        }),
        Err(_) => None,
    };
    if let Some(kind) = problem {
        return Partition {
            resource: ResourceStatus::Invalid(FileError::new(&path, kind())),
            bouture: BoutureStatus::Invalid(FileError::new(&path, kind())),
            id,
            path,
        };
    }
    let resource_path = path.join(RESOURCE_FILE_NAME);
    let resource = match PartitionResource::load(&resource_path) {
        Ok(resource) => ResourceStatus::Valid(resource),
        Err(FileError {
            kind: FileErrorKind::Io { source },
            ..
        }) if source.kind() == std::io::ErrorKind::NotFound => ResourceStatus::Missing {
            path: resource_path,
        },
        Err(error) => ResourceStatus::Invalid(error),
    };
    let bouture_path = path.join(BOUTURE_FILE_NAME);
    let bouture = match std::fs::symlink_metadata(&bouture_path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => BoutureStatus::NotOptedIn,
        _ => match BoutureFile::load(&bouture_path) {
            Ok(file) => BoutureStatus::Valid(file),
            Err(error) => BoutureStatus::Invalid(error),
        },
    };
    Partition {
        id,
        path,
        resource,
        bouture,
    }
}

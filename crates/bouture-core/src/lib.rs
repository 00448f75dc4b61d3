//! The SlapOS node as data.
//!
//! `bouture-core` reads a node the way SlapOS does and gives it types:
//!
//! - [`NodeConfig`]: `slapos.cfg`, read with Python `ConfigParser` semantics
//!   (with [`bouture_ini`]);
//! - [`Inventory`]: the compute node and each partition under
//!   `instance_root`, in numeric order, with its addresses
//!   ([`PartitionResource`], from `.slapos-resource`) and its opt-in file
//!   ([`BoutureFile`], from `bouture.json`).
//!
//! Files written by partition users are read without following symbolic
//! links, only when they are regular files, and only up to a size limit
//! (with [`bouture_fs::read_bounded`]). Every error names its file and field.
//!
//! ```no_run
//! use bouture_core::{BoutureStatus, Inventory, NodeConfig};
//!
//! let config = NodeConfig::load("/etc/opt/slapos/slapos.cfg")?;
//! let inventory = Inventory::scan(&config)?;
//! for partition in &inventory.partitions {
//!     if let BoutureStatus::Valid(file) = &partition.bouture {
//!         println!("{}: {} ({})", partition.id, file.instance_title, file.instance_state);
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bouture_file;
pub mod error;
pub mod ids;
mod json_fields;
pub mod node_config;
pub mod resource;
pub mod scan;

pub use bouture_file::{BoutureFile, InstanceState, SharedInstance};
pub use error::{FileError, FileErrorKind, NodeConfigError, ScanError};
pub use ids::{ComputerId, InvalidId, PartitionId};
pub use node_config::{ComputerAddress, NodeConfig, default_node_config_path};
pub use resource::{PartitionAddress, PartitionResource};
pub use scan::{
    BoutureStatus, ComputeNode, Inventory, InventoryError, InventoryTotals, Partition,
    ResourceStatus,
};

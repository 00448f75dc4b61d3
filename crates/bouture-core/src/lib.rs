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

// The modules are private: the crate is one topic, and its whole API is
// re-exported here, flat.
mod bouture_file;
mod error;
mod ids;
mod json_fields;
mod node_config;
mod resource;
mod scan;

pub use bouture_file::{
    BOUTURE_FILE_NAME, BOUTURE_FILE_SIZE_LIMIT, BoutureFile, InstanceState, SharedInstance,
};
pub use error::{FileError, FileErrorKind, NodeConfigError, ScanError};
pub use ids::{ComputerId, InvalidId, PartitionId};
pub use node_config::{
    COMPUTER_JSON_SIZE_LIMIT, ComputerAddress, DEFAULT_NODE_CONFIG_PATH,
    DEFAULT_PARTITION_BASE_NAME, NODE_CONFIG_ENV, NODE_CONFIG_SIZE_LIMIT, NodeConfig,
    default_node_config_path, read_node_config_text,
};
pub use resource::{
    PartitionAddress, PartitionResource, RESOURCE_FILE_NAME, RESOURCE_FILE_SIZE_LIMIT,
};
pub use scan::{
    BoutureStatus, ComputeNode, Inventory, InventoryError, InventoryTotals, Partition,
    ResourceStatus,
};

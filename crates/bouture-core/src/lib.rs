#![doc = include_str!("../README.md")]

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
    BOUTURE_FILE_NAME, BOUTURE_FILE_SIZE_LIMIT, BoutureFile, InstanceState, InvalidInstanceState,
    SharedInstance,
};
pub use error::{FileError, FileErrorKind, NodeConfigError, ScanError};
pub use ids::{ComputerId, InvalidId, PartitionId};
pub use node_config::{
    COMPUTER_JSON_SIZE_LIMIT, ComputerAddress, DEFAULT_NODE_CONFIG_PATH,
    DEFAULT_PARTITION_BASE_NAME, NODE_CONFIG_ENV, NODE_CONFIG_SIZE_LIMIT, NodeConfig,
    default_node_config_path, expand_user, read_node_config_text,
};
pub use resource::{
    PartitionAddress, PartitionResource, RESOURCE_FILE_NAME, RESOURCE_FILE_SIZE_LIMIT,
};
pub use scan::{
    BoutureStatus, ComputeNode, Error, Inventory, InventoryTotals, Partition, ResourceStatus,
};

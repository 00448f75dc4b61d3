#![doc = include_str!("../README.md")]

mod command;
mod diff;
mod error;
mod files;
pub mod replay;
mod snapshot;
mod strict_json;

pub use command::SLAPOS;
pub use diff::{Change, ChangeKind, diff, parameters};
pub use error::Error;
pub use files::{
    CHANGES_VERSION, ChangesFile, FILE_SIZE_LIMIT, LOCK_TIMEOUT, Return, acknowledge, changes_path,
    grafted_path, lock_path, read_changes, read_grafted, record_return, remove_grafted,
    write_grafted,
};
pub use snapshot::{InstanceSnapshot, MasterSnapshot, SNAPSHOT_VERSION, SharedSnapshot};

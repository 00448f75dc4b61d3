//! The bouture toolkit: move SlapOS nodes between masters and merge Ganeti
//! clusters, from Rust.
//!
//! This facade re-exports the library crates so that embedders depend on one
//! crate:
//!
//! - [`core`]: the node as data (node configuration, partitions, `bouture.json`, scan);
//! - [`master_client`]: the SlapOS master and slapproxy API;
//! - [`graft`]: grafting a node's partitions onto a new master;
//! - [`merge`]: Ganeti `config.data` merging.

pub use bouture_core as core;
pub use bouture_graft as graft;
pub use bouture_master_client as master_client;
pub use bouture_merge as merge;

//! The bouture toolkit: move SlapOS nodes between masters, merge Ganeti
//! clusters and build multiboot disks, from Rust.
//!
//! This facade re-exports the library crates, each under the name of its
//! job, so that embedders depend on one crate:
//!
//! - [`node`]: the SlapOS node as data (node configuration, ids, partitions,
//!   addresses, `bouture.json`, the scan) — `bouture-core`;
//! - [`ini`]: INI files read as Python's configparser reads them, and edited
//!   without losing a comment;
//! - [`fs`]: files owned by someone else (bounded reads, atomic writes,
//!   same-file checks);
//! - [`json`]: JSON as Python reads and writes it (duplicate keys refused,
//!   text as `json.dumps` writes it);
//! - [`master_client`]: the SlapOS master and slapproxy API;
//! - [`graft`]: grafting a node's partitions onto a new master;
//! - [`failover`]: keeping a node processed while its master is offline;
//! - [`offline_changes`]: what changed on the local master while the node
//!   followed it (snapshot, diff, the `slapos request` of each change, and
//!   its replay on the original master) —
//!   `bouture-offline-changes`;
//! - [`merge`]: Ganeti `config.data` merging;
//! - [`cluster_merge`]: merging live Ganeti clusters into ours over SSH
//!   (plan, journal, resume, rollback) — `bouture-cluster-merge`;
//! - [`node_setup`]: joining a node to a Ganeti cluster from the master's
//!   JSON document (Ganeti's `node-daemon-setup`);
//! - [`text`]: the small text rules of every message (bounded excerpts,
//!   shell quoting, error chains) and [`text::Level`], the level of a log
//!   line that failover reports through;
//! - [`multiboot`]: disks holding several bootable images (Bareon's
//!   provision.json planned and built into GPT disk images), and switching
//!   which image boots.
//!
//! ```no_run
//! use bouture::graft::{NodeOptions, graft_node};
//! use bouture::node::NodeConfig;
//!
//! let config = NodeConfig::load("/etc/opt/slapos/slapos.cfg")?;
//! // Takes the node's graft lock, scans, plans, grafts and reads the master back.
//! let graft = graft_node(&config, "http://10.0.0.1:4000", &NodeOptions::default(), &mut ())?;
//! if let Some(report) = &graft.report {
//!     println!("{} partitions grafted", report.totals.grafted);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use bouture_cluster_merge as cluster_merge;
pub use bouture_core as node;
pub use bouture_failover as failover;
pub use bouture_fs as fs;
pub use bouture_graft as graft;
pub use bouture_ini as ini;
pub use bouture_json as json;
pub use bouture_master_client as master_client;
pub use bouture_merge as merge;
pub use bouture_multiboot as multiboot;
pub use bouture_node_setup as node_setup;
pub use bouture_offline_changes as offline_changes;
pub use bouture_text as text;

/// The repository's README, whose Rust snippets are compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

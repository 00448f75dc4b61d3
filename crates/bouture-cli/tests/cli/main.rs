//! Tests of the real `bouture` binary.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod cluster_merge;
mod cluster_merge_signals;
mod configure;
mod dropin;
mod exit;
mod failover;
mod failover_e2e;
mod graft;
mod help;
mod inventory;
mod master_safety;
mod merge;
mod multiboot;
mod node_setup;
mod support;
mod verbosity;

#[path = "../../../../tests/support/demo_node.rs"]
mod demo_node;

#[path = "../../../bouture-cluster-merge/tests/sim/mod.rs"]
mod cluster_sim;

#[path = "../../../bouture-node-setup/tests/common/mod.rs"]
mod node_setup_common;

#[path = "../../../bouture-merge/tests/common/mod.rs"]
mod merge_common;

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
mod global_flags;
mod graft;
mod help;
mod inventory;
mod json_errors;
mod master_safety;
mod merge;
mod multiboot;
mod node_setup;
mod replay;
mod support;
mod verbosity;

use bouture_test_support::cluster_sim;
use bouture_test_support::demo_node;
use bouture_test_support::ganeti_config as merge_common;
use bouture_test_support::node_setup as node_setup_common;

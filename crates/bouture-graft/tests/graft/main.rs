//! Grafts against a real slapproxy, read back through both APIs and the
//! proxy's database, and compared with the node.

// Test code: panicking on an unexpected value is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod node_vs_master;
mod placement;
mod plan;
mod readback;
mod versions;

use std::path::Path;

use bouture_core::{Inventory, NodeConfig};
use bouture_graft::{GraftPlan, GraftReport, Options};
use bouture_master_client::MasterClient;
use bouture_test_support::master::MasterState;
use bouture_test_support::node::WrittenNode;
use bouture_test_support::{SlapProxy, SlaposEnv};

/// Plan the graft of a written node.
pub(crate) fn plan_of(node: &WrittenNode, options: &Options) -> GraftPlan {
    let config = NodeConfig::load(&node.cfg).unwrap();
    GraftPlan::build(&Inventory::scan(&config).unwrap(), options)
}

/// Graft the node onto the proxy with the library.
pub(crate) fn graft(node: &WrittenNode, proxy: &SlapProxy) -> GraftReport {
    let client = MasterClient::new(proxy.url()).unwrap();
    bouture_graft::apply(&plan_of(node, &Options::default()), &client, &mut ()).unwrap()
}

/// What the proxy holds for the node's computer.
pub(crate) fn master_state(proxy: &SlapProxy, computer_id: &str) -> MasterState {
    let env = SlaposEnv::get().unwrap();
    let python = env.python.as_deref().unwrap_or(Path::new("python3"));
    let client = MasterClient::new(proxy.url()).unwrap();
    MasterState::read(&client, computer_id, &proxy.database_path(), python)
}

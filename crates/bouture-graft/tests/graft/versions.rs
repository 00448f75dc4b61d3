//! The range of slapos.core versions a graft works with: the oldest supported release
//! (`peers::oldest_slapos_core`, pinned in `scripts/peers`, installed by
//! `scripts/setup.d/peers.sh`) and 1.26.1 (the harness's default, used by every other test). The oldest has no JSON-RPC API: the clash
//! check is skipped with a warning, everything else, the read-back included, works.

use bouture_graft::Options;
use bouture_graft::{GraftOutcome, PartitionStatus};
use bouture_master_client::MasterClient;
use bouture_test_support::node::{TestNode, TestPartition, bouture_json};
use bouture_test_support::{SlapProxy, SlaposEnv, peers};
use serde_json::json;

use crate::plan_of;

#[test]
fn graft_onto_the_oldest_supported_proxy() {
    let env = SlaposEnv::oldest().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-OLD")
        .partition(TestPartition::new(1).instance("first", "started"))
        .partition(TestPartition::new(3).bouture_value(&bouture_json(
            "core",
            "stopped",
            &json!({"_": "{\"x\": 1}"}),
            &[("SIM 1", json!({"_": "{\"imsi\": \"1\"}"}))],
        )))
        .write();
    let proxy = SlapProxy::start_with(&env, "COMP-OLD").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let report =
        bouture_graft::apply(&plan_of(&node, &Options::default()), &client, &mut ()).unwrap();
    assert_eq!(
        report.outcome(),
        GraftOutcome::Complete,
        "{}: {report:#?}",
        peers::oldest_slapos_core()
    );
    assert!(
        report
            .partitions
            .iter()
            .all(|p| p.status == PartitionStatus::Grafted)
    );
    assert_eq!(report.warnings.len(), 1, "{report:#?}");
    assert!(
        report.warnings[0].contains("instance_tree_list"),
        "{report:#?}"
    );
    let computer = client.full_computer_information("COMP-OLD").unwrap();
    let core = computer.partition("slappart3").unwrap();
    let instance = core.instance.as_ref().unwrap();
    assert_eq!(instance.title, "core");
    assert_eq!(instance.shared_instances.len(), 1);
}

#[test]
fn the_current_proxy_needs_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-NEW")
        .partition(TestPartition::new(1).instance("first", "started"))
        .write();
    let proxy = SlapProxy::start("COMP-NEW").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let report =
        bouture_graft::apply(&plan_of(&node, &Options::default()), &client, &mut ()).unwrap();
    assert_eq!(report.outcome(), GraftOutcome::Complete, "{report:#?}");
    assert!(report.warnings.is_empty(), "{report:#?}");
}

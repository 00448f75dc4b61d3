//! Placement: every instance must land in its own partition, and an instance
//! of the same title on another computer is never moved.

use bouture_graft::Options;
use bouture_graft::{PartitionStatus, Placement, PlacementTuning};
use bouture_master_client::MasterClient;
use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition};

use crate::{graft, master_state, plan_of};

#[test]
fn misplaced_instances_are_put_back_in_their_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = TestNode::new(dir.path(), "COMP-MISPLACED");
    for number in [1, 3, 4, 8, 9] {
        node = node.partition(
            TestPartition::new(number).instance(&format!("instance {number}"), "started"),
        );
    }
    let node = node.write();
    let proxy = SlapProxy::start("COMP-MISPLACED").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    // Registering in reverse order makes the proxy put the first instance in
    // the last partition: the graft must notice and recover.
    let report = bouture_graft::apply_tuned(
        &plan_of(&node, &Options::default()),
        &client,
        &mut (),
        PlacementTuning {
            register_in_reverse: true,
        },
    )
    .unwrap();
    assert_eq!(
        report.placement,
        Placement::IncrementalFallback {
            from: "slappart1".parse().unwrap(),
            misplaced_into: "slappart9".to_string(),
        }
    );
    assert_eq!(report.totals.grafted, 5, "{report:#?}");
    let state = master_state(&proxy, "COMP-MISPLACED");
    for number in [1, 3, 4, 8, 9] {
        let partition = &state.partitions[&format!("slappart{number}")];
        assert_eq!(partition.title, format!("instance {number}"));
    }
    assert_eq!(state.partitions.len(), 5);

    // The same master state as a graft that placed everything at once.
    let straight = SlapProxy::start("COMP-MISPLACED").unwrap();
    graft(&node, &straight);
    assert_eq!(master_state(&straight, "COMP-MISPLACED"), state);
}

#[test]
fn an_instance_of_another_computer_is_never_moved() {
    let dir = tempfile::tempdir().unwrap();
    let proxy = SlapProxy::start("COMP-OTHER").unwrap();
    let other = TestNode::new(&dir.path().join("other"), "COMP-OTHER")
        .partition(TestPartition::new(0).instance("shared title", "started"))
        .write();
    graft(&other, &proxy);
    let before = master_state(&proxy, "COMP-OTHER");

    let node = TestNode::new(&dir.path().join("node"), "COMP-MINE")
        .partition(TestPartition::new(0).instance("mine", "started"))
        .partition(TestPartition::new(1).instance("shared title", "stopped"))
        .write();
    let report = graft(&node, &proxy);
    assert_eq!(report.totals.grafted, 1);
    assert_eq!(report.totals.failed, 1);
    let refused = &report.partitions[1];
    assert_eq!(refused.status, PartitionStatus::Failed);
    assert_eq!(
        refused.reason.as_deref(),
        Some(
            "instance title \"shared title\" already lives on computer COMP-OTHER of this master; \
             bouture does not move it (destroy it there, or rename the instance)"
        )
    );
    // The other computer is untouched; ours holds only the grafted partition,
    // and the refused partition keeps its local timestamp.
    assert_eq!(master_state(&proxy, "COMP-OTHER"), before);
    let mine = master_state(&proxy, "COMP-MINE");
    assert_eq!(mine.partitions.keys().collect::<Vec<_>>(), ["slappart0"]);
    assert!(node.instance_root.join("slappart1/.timestamp").exists());
}

#[test]
fn an_unreachable_master_fails_fast_and_nothing_local_changes() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), "COMP-DOWN")
        .partition(TestPartition::new(0).instance("a", "started"))
        .write();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = MasterClient::new(format!("http://127.0.0.1:{port}")).unwrap();
    let started = std::time::Instant::now();
    let error =
        bouture_graft::apply(&plan_of(&node, &Options::default()), &client, &mut ()).unwrap_err();
    assert!(error.is_unreachable(), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let message = error.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(node.instance_root.join("slappart0/.timestamp").exists());
}

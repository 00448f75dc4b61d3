//! The read-back after the last request: a graft never reports success on a master that does
//! not hold what it sent. Another writer changes the real proxy between the graft's last
//! request and its read-back (through the observer's `ReadingBack` event), as a concurrent
//! graft or operator would.

use bouture_core::GraftOptions;
use bouture_graft::{GraftEvent, GraftObserver, GraftOutcome, PartitionStatus};
use bouture_master_client::{InstanceRequest, InstanceState, MasterClient, PartitionRegistration};
use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition};

use crate::plan_of;

/// Runs `tamper` on the master when the graft is about to read it back.
struct Tamper<F: FnMut()>(F);

impl<F: FnMut()> GraftObserver for Tamper<F> {
    fn event(&mut self, event: GraftEvent<'_>) {
        if event == GraftEvent::ReadingBack {
            (self.0)();
        }
    }
}

fn two_partition_node(
    dir: &std::path::Path,
    computer: &str,
) -> bouture_test_support::node::WrittenNode {
    TestNode::new(dir, computer)
        .partition(TestPartition::new(1).instance("first", "started"))
        .partition(TestPartition::new(2).instance("second", "stopped"))
        .write()
}

#[test]
fn an_untouched_master_reads_back_clean() {
    let dir = tempfile::tempdir().unwrap();
    let node = two_partition_node(dir.path(), "COMP-RB0");
    let proxy = SlapProxy::start("COMP-RB0").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let mut saw_read_back = false;
    let report = bouture_graft::apply(
        &plan_of(&node, &GraftOptions::default()),
        &client,
        &mut Tamper(|| saw_read_back = true),
    )
    .unwrap();
    assert!(saw_read_back);
    assert_eq!(report.outcome(), GraftOutcome::Complete, "{report:#?}");
    assert!(report.mismatches.is_empty());
}

#[test]
fn a_changed_instance_fails_its_partition() {
    let dir = tempfile::tempdir().unwrap();
    let node = two_partition_node(dir.path(), "COMP-RB1");
    let proxy = SlapProxy::start("COMP-RB1").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let plan = plan_of(&node, &GraftOptions::default());
    let other = MasterClient::new(proxy.url()).unwrap();
    let second = plan.partitions[1].instance.clone();
    let report = bouture_graft::apply(
        &plan,
        &client,
        &mut Tamper(|| {
            let mut request = InstanceRequest::new(
                "COMP-RB1",
                &second.software_url,
                &second.software_type,
                &second.title,
            );
            request.parameters.clone_from(&second.parameters);
            request.state = Some(InstanceState::Started);
            other.request_instance(&request).unwrap();
        }),
    )
    .unwrap();
    assert_eq!(report.outcome(), GraftOutcome::Failed, "{report:#?}");
    let first = &report.partitions[0];
    let changed = &report.partitions[1];
    assert_eq!(first.status, PartitionStatus::Grafted, "{report:#?}");
    assert_eq!(changed.status, PartitionStatus::Failed, "{report:#?}");
    let reason = changed.reason.as_deref().unwrap();
    assert!(reason.contains("requested state"), "{reason}");
    assert!(
        reason.contains("\"started\" on the master, \"stopped\" was sent"),
        "{reason}"
    );
}

#[test]
fn another_partition_on_the_master_fails_the_graft() {
    let dir = tempfile::tempdir().unwrap();
    let node = two_partition_node(dir.path(), "COMP-RB2");
    let proxy = SlapProxy::start("COMP-RB2").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let plan = plan_of(&node, &GraftOptions::default());
    let other = MasterClient::new(proxy.url()).unwrap();
    let report = bouture_graft::apply(
        &plan,
        &client,
        &mut Tamper(|| {
            // What a concurrent graft's registration does: the whole list, plus one.
            let mut computer = bouture_graft::computer_registration(
                &plan,
                &plan.partitions.iter().collect::<Vec<_>>(),
            );
            computer
                .partitions
                .push(PartitionRegistration::new("slappart9"));
            other.load_computer_configuration(&computer).unwrap();
        }),
    )
    .unwrap();
    assert_eq!(report.outcome(), GraftOutcome::Failed, "{report:#?}");
    assert_eq!(report.mismatches.len(), 1, "{report:#?}");
    assert!(report.mismatches[0].contains("slappart9"), "{report:#?}");
}

#[test]
fn changed_addresses_and_shared_instances_fail_their_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let node = two_partition_node(dir.path(), "COMP-RB3");
    let proxy = SlapProxy::start("COMP-RB3").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let plan = plan_of(&node, &GraftOptions::default());
    let other = MasterClient::new(proxy.url()).unwrap();
    let second = plan.partitions[1].instance.clone();
    let report = bouture_graft::apply(
        &plan,
        &client,
        &mut Tamper(|| {
            let mut computer = bouture_graft::computer_registration(
                &plan,
                &plan.partitions.iter().collect::<Vec<_>>(),
            );
            computer.partitions[0].addresses[0].addr = "10.99.99.99".parse().unwrap();
            other.load_computer_configuration(&computer).unwrap();
            let mut shared = bouture_master_client::SharedInstanceRequest::new(
                "COMP-RB3",
                &second.software_url,
                &second.software_type,
                "intruder",
            );
            shared.host_instance_guid = Some("COMP-RB3-slappart2".into());
            other.request_shared_instance(&shared).unwrap();
        }),
    )
    .unwrap();
    assert_eq!(report.outcome(), GraftOutcome::Failed, "{report:#?}");
    let addresses = report.partitions[0].reason.as_deref().unwrap();
    assert!(addresses.contains("10.99.99.99"), "{addresses}");
    let shared = report.partitions[1].reason.as_deref().unwrap();
    assert!(shared.contains("intruder"), "{shared}");
}

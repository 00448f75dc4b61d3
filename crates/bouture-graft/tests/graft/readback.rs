//! The read-back after the last request: a graft never reports success on a master that does
//! not hold what it sent. Another writer changes the real proxy between the graft's last
//! request and its read-back (through the observer's `ReadingBack` event), as a concurrent
//! graft or operator would.

use bouture_graft::{GraftEvent, GraftObserver, GraftOutcome, GraftReport, PartitionStatus};
use bouture_graft::{GraftPlan, Options};
use bouture_master_client::{
    InstanceRequest, InstanceState, MasterClient, PartitionRegistration, SharedInstanceRequest,
};
use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition};

use crate::plan_of;

/// Runs its closure on the master when the graft is about to read it back.
struct Tamper<'a>(&'a mut dyn FnMut());

impl GraftObserver for Tamper<'_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        if event == GraftEvent::ReadingBack {
            (self.0)();
        }
    }
}

/// Graft a node of two partitions ("first" started, "second" stopped) onto a real proxy,
/// letting `tamper` change the proxy through another client just before the read-back.
fn graft_with(computer: &str, tamper: &dyn Fn(&MasterClient, &GraftPlan)) -> GraftReport {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::new(dir.path(), computer)
        .partition(TestPartition::new(1).instance("first", "started"))
        .partition(TestPartition::new(2).instance("second", "stopped"))
        .write();
    let proxy = SlapProxy::start(computer).unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let other = MasterClient::new(proxy.url()).unwrap();
    let plan = plan_of(&node, &Options::default());
    bouture_graft::apply(&plan, &client, &mut Tamper(&mut || tamper(&other, &plan))).unwrap()
}

#[test]
fn an_untouched_master_reads_back_clean() {
    let seen = std::cell::Cell::new(false);
    let report = graft_with("COMP-RB0", &|_, _| seen.set(true));
    assert!(seen.get());
    assert_eq!(report.outcome(), GraftOutcome::Complete, "{report:#?}");
    assert!(report.mismatches.is_empty());
}

#[test]
fn a_changed_instance_fails_its_partition() {
    let report = graft_with("COMP-RB1", &|other, plan| {
        let second = &plan.partitions[1].instance;
        let mut request = InstanceRequest::new(
            "COMP-RB1",
            &second.software_url,
            &second.software_type,
            &second.title,
        );
        request.parameters.clone_from(&second.parameters);
        request.state = Some(InstanceState::Started);
        other.request_instance(&request).unwrap();
    });
    assert_eq!(report.outcome(), GraftOutcome::Failed, "{report:#?}");
    assert_eq!(report.partitions[0].status, PartitionStatus::Grafted);
    let changed = &report.partitions[1];
    assert_eq!(changed.status, PartitionStatus::Failed, "{report:#?}");
    let reason = changed.reason.as_deref().unwrap();
    assert!(
        reason.contains("the requested state is \"started\" on the master, \"stopped\" was sent"),
        "{reason}"
    );
}

#[test]
fn another_partition_on_the_master_fails_the_graft() {
    let report = graft_with("COMP-RB2", &|other, plan| {
        // What a concurrent graft's registration does: the whole list, plus one.
        let mut computer =
            bouture_graft::computer_registration(plan, &plan.partitions.iter().collect::<Vec<_>>());
        computer
            .partitions
            .push(PartitionRegistration::new("slappart9"));
        other.load_computer_configuration(&computer).unwrap();
    });
    assert_eq!(report.outcome(), GraftOutcome::Failed, "{report:#?}");
    assert_eq!(report.mismatches.len(), 1, "{report:#?}");
    assert!(report.mismatches[0].contains("slappart9"), "{report:#?}");
}

#[test]
fn changed_addresses_and_shared_instances_fail_their_partitions() {
    let report = graft_with("COMP-RB3", &|other, plan| {
        let mut computer =
            bouture_graft::computer_registration(plan, &plan.partitions.iter().collect::<Vec<_>>());
        computer.partitions[0].addresses[0].addr = "10.99.99.99".parse().unwrap();
        other.load_computer_configuration(&computer).unwrap();
        let second = &plan.partitions[1].instance;
        let mut shared = SharedInstanceRequest::new(
            "COMP-RB3",
            &second.software_url,
            &second.software_type,
            "intruder",
        );
        shared.host_instance_guid = Some("COMP-RB3-slappart2".into());
        other.request_shared_instance(&shared).unwrap();
    });
    assert_eq!(report.outcome(), GraftOutcome::Failed, "{report:#?}");
    let addresses = report.partitions[0].reason.as_deref().unwrap();
    assert!(addresses.contains("10.99.99.99"), "{addresses}");
    let shared = report.partitions[1].reason.as_deref().unwrap();
    assert!(shared.contains("intruder"), "{shared}");
}

//! The offline-changes tests' scene (bouture-offline-changes' return tests and
//! the CLI's replay tests): a node whose partitions are grafted, and what a
//! master holds of it, compared without where instances live.

use std::collections::BTreeMap;
use std::path::Path;

use bouture_offline_changes::MasterSnapshot;
use serde_json::{Value, json};

use crate::node::{TestNode, TestPartition, WrittenNode, bouture_json};

/// A shared instance: its title and parameters.
type Shared<'a> = (&'a str, Value);

/// The first `partitions` (at most four) of: "Main A" started with two shared
/// instances (SIM 1, SIM 2), "Main B" started, "Main C" stopped, "Main D"
/// started; each with the parameter `n`, its number.
pub fn node(root: &Path, computer: &str, partitions: u32) -> WrittenNode {
    let config = |n: u32| json!({"_": format!("{{\"n\": {n}}}")});
    let sim = |imsi: &str| json!({"_": format!("{{\"imsi\": \"{imsi}\"}}")});
    let sims = [("SIM 1", sim("001")), ("SIM 2", sim("002"))];
    let instances: [(&str, &str, &[Shared]); 4] = [
        ("Main A", "started", &sims),
        ("Main B", "started", &[]),
        ("Main C", "stopped", &[]),
        ("Main D", "started", &[]),
    ];
    let mut node = TestNode::new(root, computer);
    for (n, (title, state, shared)) in (0..partitions).zip(instances) {
        node = node.partition(TestPartition::new(n).bouture_value(&bouture_json(
            title,
            state,
            &config(n),
            shared,
        )));
    }
    node.write()
}

/// What each instance a master holds is, by title, without where it lives or
/// what it published: software release, type, state, parameters, shared
/// instances (destroyed ones left out).
pub fn essence(snapshot: &MasterSnapshot) -> BTreeMap<String, Value> {
    snapshot
        .instances
        .iter()
        .filter(|i| i.state != Some(bouture_master_client::InstanceState::Destroyed))
        .map(|i| {
            let mut shared: Vec<Value> = i
                .shared_instances
                .iter()
                .map(|s| json!([s.requested_title(), s.software_type, s.parameters]))
                .collect();
            shared.sort_by_key(ToString::to_string);
            (
                i.title.clone(),
                json!({
                    "software_release": i.software_release,
                    "software_type": i.software_type,
                    "state": i.state,
                    "parameters": i.parameters,
                    "shared": shared,
                }),
            )
        })
        .collect()
}

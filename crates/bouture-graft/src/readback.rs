//! After the last request: read the master's state back and compare it with the plan.
//!
//! A graft never reports success on a master that does not hold what it sent (another graft
//! interleaved, a master that answered "yes" without storing, a request that landed
//! elsewhere). One `getFullComputerInformation` (legacy API: every slapproxy has it) gives the
//! computer as the node will see it; it is compared with what was grafted:
//!
//! * **partitions**: exactly the grafted ones, no other;
//! * **addresses**: each grafted partition has exactly its planned addresses, on its interface
//!   (the tap name, or the partition id when there is none);
//! * **instances**: title, software release, software type (an empty one is stored as
//!   `default`), requested state, and every planned parameter whose value is a non-empty string
//!   (the proxy stores values as Python `str()` and an empty string as `None`, so for the
//!   others only the key is compared);
//! * **shared instances**: the planned titles, no other (a proxy stores a user request's title
//!   as `_<title>`);
//! * **software releases**: each supplied one is `available`.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::plan::PlannedPartition;
use bouture_master_client::ComputerInformation;

/// The differences between what was grafted and what the master holds: computer-level ones,
/// then one list per grafted partition (same order as `grafted`), empty when it matches.
pub(crate) struct Differences {
    pub(crate) computer: Vec<String>,
    pub(crate) partitions: Vec<Vec<String>>,
}

/// Compare the master's `state` with the `grafted` partitions and the supplied `software_releases`.
pub(crate) fn compare(
    state: &ComputerInformation,
    grafted: &[&PlannedPartition],
    software_releases: &[&str],
) -> Differences {
    let mut computer = Vec::new();
    let wanted: BTreeSet<&str> = grafted.iter().map(|p| p.id.as_str()).collect();
    let extra: Vec<&str> = state
        .partitions
        .iter()
        .map(|p| p.partition_id.as_str())
        .filter(|id| !wanted.contains(id))
        .collect();
    if !extra.is_empty() {
        computer.push(format!(
            "the master also holds partition(s) {} that this graft did not send (another graft of this computer at the same time?)",
            extra.join(", ")
        ));
    }
    for url in software_releases {
        let supplied = state.software_releases.iter().any(|sr| {
            sr.url == *url
                && sr
                    .requested_state
                    .as_deref()
                    .is_none_or(|s| s == "available")
        });
        if !supplied {
            computer.push(format!(
                "software release {url} is not supplied (available) on the master"
            ));
        }
    }
    let partitions = grafted
        .iter()
        .map(|partition| compare_partition(state, partition))
        .collect();
    Differences {
        computer,
        partitions,
    }
}

fn compare_partition(state: &ComputerInformation, planned: &PlannedPartition) -> Vec<String> {
    let mut differences = Vec::new();
    let Some(held) = state.partition(planned.id.as_str()) else {
        return vec!["the master does not hold this partition".to_owned()];
    };
    let Some(instance) = &held.instance else {
        return vec!["the partition is free on the master: it holds no instance".to_owned()];
    };
    let wanted = &planned.instance;
    let mut differ = |what: &str, sent: &str, held: &str| {
        if sent != held {
            differences.push(format!(
                "{what} is {held:?} on the master, {sent:?} was sent"
            ));
        }
    };
    differ("the instance title", &wanted.title, &instance.title);
    differ(
        "the software release",
        &wanted.software_url,
        &instance.software_release_url,
    );
    let software_type = if wanted.software_type.is_empty() {
        "default"
    } else {
        &wanted.software_type
    };
    differ("the software type", software_type, &instance.software_type);
    differ(
        "the requested state",
        wanted.state.as_str(),
        held.requested_state.map_or("", |s| s.as_str()),
    );
    for (key, value) in &wanted.parameters {
        match (value, instance.parameters.get(key)) {
            (_, None) => differences.push(format!("parameter {key:?} is missing on the master")),
            (serde_json::Value::String(sent), Some(serde_json::Value::String(held)))
                if !sent.is_empty() && sent != held =>
            {
                differences.push(format!(
                    "parameter {key:?} differs on the master ({} bytes held, {} sent)",
                    held.len(),
                    sent.len()
                ));
            }
            _ => {}
        }
    }
    let interface = planned
        .tap_name
        .as_deref()
        .filter(|tap| !tap.is_empty())
        .unwrap_or(planned.id.as_str());
    let sent: BTreeSet<(&str, IpAddr)> = planned
        .addresses
        .iter()
        .map(|a| (interface, a.addr))
        .collect();
    let held_addresses: BTreeSet<(&str, IpAddr)> = instance
        .ip_list
        .iter()
        .map(|a| (a.interface.as_str(), a.address))
        .collect();
    if sent != held_addresses {
        differences.push(format!(
            "its addresses are [{}] on the master, [{}] were sent",
            render(&held_addresses),
            render(&sent)
        ));
    }
    let sent_shared: BTreeSet<&str> = planned
        .shared_instances
        .iter()
        .map(|s| s.title.as_str())
        .collect();
    let held_shared: BTreeSet<&str> = instance
        .shared_instances
        .iter()
        .map(|s| {
            if s.title == s.reference {
                s.title.strip_prefix('_').unwrap_or(&s.title)
            } else {
                s.title.as_str()
            }
        })
        .collect();
    if sent_shared != held_shared {
        differences.push(format!(
            "its shared instances are {held_shared:?} on the master, {sent_shared:?} were sent"
        ));
    }
    differences
}

fn render(addresses: &BTreeSet<(&str, IpAddr)>) -> String {
    addresses
        .iter()
        .map(|(interface, addr)| format!("{interface} {addr}"))
        .collect::<Vec<_>>()
        .join(", ")
}

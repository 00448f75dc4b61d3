//! Graft benchmark against a real slapproxy: `scripts/bench-graft`.
//!
//! For each node size (default 10, 100 and 1000 partitions, one shared
//! instance each; `BOUTURE_BENCH_SIZES=10,100` to change), in one run:
//!
//! - **bouture**: the whole job (read the node, plan, apply) on a fresh proxy:
//!   wall time, HTTP requests, and the time spent waiting for the proxy (the
//!   sum of every request's round trip: the proxy's own cost);
//! - **reference sequence**: the request sequence of the original
//!   `slapos bouture graft` (wipe, then per partition: register all partitions
//!   so far, supply, request, shared instances, bang), sent with the same
//!   client to another fresh proxy, timed the same way.
//!
//! The reference sequence is O(N²) (it re-registers every partition so far
//! before each request): it runs only up to `BOUTURE_BENCH_REFERENCE_MAX`
//! partitions (default 100; 1000 would take hours).
//!
//! Prints a Markdown table for BENCHMARKS.md.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::time::{Duration, Instant};

use bouture_core::{Inventory, NodeConfig};
use bouture_graft::{GraftPlan, Options};
use bouture_master_client::{MasterClient, SupplyState};
use bouture_test_support::SlapProxy;
use bouture_test_support::node::{TestNode, TestPartition, WrittenNode, bouture_json};
use serde_json::json;

struct Measure {
    wall: Duration,
    requests: u64,
    waiting: Duration,
}

fn node(root: &std::path::Path, count: u32) -> WrittenNode {
    let mut node = TestNode::new(root, "COMP-BENCH").address("10.1.0.1", "255.255.0.0");
    for number in 0..count {
        let value = bouture_json(
            &format!("instance {number}"),
            "started",
            &json!({"_": format!("{{\"n\": {number}, \"text\": \"a & b < c\"}}")}),
            &[(
                &format!("shared {number}"),
                json!({"_": "{\"imsi\": \"001\"}"}),
            )],
        );
        node = node.partition(TestPartition::new(number).bouture_value(&value));
    }
    node.write()
}

fn bouture_graft(node: &WrittenNode, proxy: &SlapProxy) -> Measure {
    let client = MasterClient::new(proxy.url()).unwrap();
    let started = Instant::now();
    let config = NodeConfig::load(&node.cfg).unwrap();
    let plan = GraftPlan::build(&Inventory::scan(&config).unwrap(), &Options::default());
    let report = bouture_graft::apply(&plan, &client, &mut ()).unwrap();
    let wall = started.elapsed();
    assert_eq!(report.totals.failed, 0);
    Measure {
        wall,
        requests: client.request_count(),
        waiting: client.request_time(),
    }
}

/// The original tool's request sequence, with the same client.
fn reference_sequence(plan: &GraftPlan, proxy: &SlapProxy) -> Measure {
    let client = MasterClient::new(proxy.url()).unwrap();
    let computer = plan.computer_id.as_str();
    let started = Instant::now();
    client
        .load_computer_configuration(&bouture_graft::computer_registration(plan, &[]))
        .unwrap();
    let mut registered = Vec::new();
    for partition in &plan.partitions {
        registered.push(partition);
        client
            .load_computer_configuration(&bouture_graft::computer_registration(plan, &registered))
            .unwrap();
        client
            .supply(
                computer,
                &partition.instance.software_url,
                SupplyState::Available,
            )
            .unwrap();
        let placed = client
            .request_instance(&bouture_graft::instance_request(computer, partition))
            .unwrap();
        assert_eq!(placed.partition_id, partition.id.as_str());
        for shared in &partition.shared_instances {
            let request = bouture_graft::shared_instance_request(computer, partition, shared);
            client.request_shared_instance(&request).unwrap();
        }
        client
            .bang(computer, partition.id.as_str(), "Bouture")
            .unwrap();
    }
    Measure {
        wall: started.elapsed(),
        requests: client.request_count(),
        waiting: client.request_time(),
    }
}

fn main() {
    let sizes: Vec<u32> = std::env::var("BOUTURE_BENCH_SIZES")
        .unwrap_or_else(|_| "10,100,1000".to_string())
        .split(',')
        .map(|size| {
            size.trim()
                .parse()
                .expect("BOUTURE_BENCH_SIZES: numbers separated by commas")
        })
        .collect();
    let reference_max: u32 = std::env::var("BOUTURE_BENCH_REFERENCE_MAX")
        .ok()
        .and_then(|max| max.parse().ok())
        .unwrap_or(100);
    println!(
        "| partitions | bouture wall | requests | waiting for the proxy | wall / waiting | reference wall | reference requests | reference waiting |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for count in sizes {
        let dir = tempfile::tempdir().unwrap();
        let node = node(dir.path(), count);
        let config = NodeConfig::load(&node.cfg).unwrap();
        let plan = GraftPlan::build(&Inventory::scan(&config).unwrap(), &Options::default());
        let ours_proxy = SlapProxy::start("COMP-BENCH").unwrap();
        let ours = bouture_graft(&node, &ours_proxy);
        drop(ours_proxy);
        let reference = if count <= reference_max {
            let reference_proxy = SlapProxy::start("COMP-BENCH").unwrap();
            let reference = reference_sequence(&plan, &reference_proxy);
            format!(
                "{:.2} s | {} | {:.2} s",
                reference.wall.as_secs_f64(),
                reference.requests,
                reference.waiting.as_secs_f64()
            )
        } else {
            format!("not run (> {reference_max}) | {} | ", 2 + 5 * count)
        };
        println!(
            "| {count} | {:.2} s | {} | {:.2} s | {:.3} | {reference} |",
            ours.wall.as_secs_f64(),
            ours.requests,
            ours.waiting.as_secs_f64(),
            ours.wall.as_secs_f64() / ours.waiting.as_secs_f64(),
        );
    }
}

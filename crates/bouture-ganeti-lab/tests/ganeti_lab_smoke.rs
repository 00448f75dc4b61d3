//! The lab itself: two real two-node Ganeti clusters built side by side,
//! verified clean, torn down, and the host as before.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "tests: failing loudly is their job; the lab's build times are printed for the CI log"
)]

use bouture_ganeti_lab::{ClusterSpec, Lab};

#[test]
fn two_clusters_up_verified_and_gone() {
    let lab = Lab::build(&[
        ClusterSpec::new("alpha", 2).with_standard_instances(),
        ClusterSpec::new("beta", 2).with_standard_instances(),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "lab up: nodes {:.1} s, clusters {:.1} s",
        lab.times.nodes, lab.times.clusters
    );
    for cluster in lab.clusters() {
        let master = cluster.master();
        lab.verify(master).unwrap_or_else(|e| panic!("{e}"));
        let nodes = lab
            .run_ok(
                master,
                "gnt-node list --no-headers -o name,offline,master_candidate",
            )
            .unwrap();
        assert_eq!(nodes.lines().count(), 2, "{nodes}");
        assert!(nodes.lines().all(|l| l.contains(" N ")), "{nodes}");
        let instances = lab
            .run_ok(master, "gnt-instance list --no-headers -o name,status")
            .unwrap();
        let mut lines: Vec<&str> = instances.lines().map(str::trim).collect();
        lines.sort_unstable();
        let short = cluster.name.trim_end_matches(".lab.test");
        let mut expected = vec![
            format!("file.{short}.lab.test running"),
            format!("run.{short}.lab.test running"),
            format!("stopped.{short}.lab.test ADMIN_down"),
        ];
        expected.sort();
        let lines: Vec<String> = lines
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(lines, expected);
        // The other cluster is reachable over the lab network, not the host.
        let other = lab
            .clusters()
            .iter()
            .find(|c| c.name != cluster.name)
            .unwrap();
        lab.run_ok(
            master,
            &format!(
                "ping -c1 -W2 {} >/dev/null || getent hosts {}",
                other.ip, other.name
            ),
        )
        .unwrap();
    }
    lab.teardown().unwrap_or_else(|e| panic!("{e}"));
}

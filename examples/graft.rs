//! Embedding example: graft a node's opted-in partitions onto a new master (a slapproxy)
//! with the `bouture` crate, in one call that takes the node's graft lock itself.
//!
//! ```text
//! cargo run --example graft -- /etc/opt/slapos/slapos.cfg http://10.0.0.2:4000
//! ```

use std::path::Path;

use bouture::graft::{GraftEvent, GraftObserver, NodeOptions, graft_node};
use bouture::node::NodeConfig;

/// Prints the graft's operator lines as they come (the Python tool's among them).
struct Printed;

impl GraftObserver for Printed {
    fn event(&mut self, event: GraftEvent<'_>) {
        if let Some(line) = event.message() {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{line}");
            }
        }
    }
}

/// Graft the node of `cfg` onto `master_url`; returns how many partitions were grafted.
///
/// # Errors
///
/// The node configuration cannot be read, or the graft could not be made at all.
pub fn run(cfg: &Path, master_url: &str) -> Result<usize, Box<dyn std::error::Error>> {
    let config = NodeConfig::load(cfg)?;
    let graft = graft_node(&config, master_url, &NodeOptions::default(), &mut Printed)?;
    Ok(graft.report.map_or(0, |report| report.totals.grafted))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let cfg = args.next().ok_or("usage: graft NODE_CFG MASTER_URL")?;
    let url = args.next().ok_or("usage: graft NODE_CFG MASTER_URL")?;
    let grafted = run(Path::new(&cfg), &url.to_string_lossy())?;
    #[allow(clippy::print_stdout)]
    {
        println!("{grafted} partition(s) grafted");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, Instant};

    use bouture_test_support::SlapProxy;
    use bouture_test_support::node::{TestNode, TestPartition};

    #[test]
    fn grafts_the_node_onto_a_real_proxy_holding_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let node = TestNode::new(dir.path(), "COMP-EXAMPLE")
            .partition(TestPartition::new(0).instance("Main", "started"))
            .partition(TestPartition::new(1))
            .write();
        let proxy = SlapProxy::start("COMP-EXAMPLE").unwrap();
        // Another graft of the node holds the lock: the example waits for it.
        let lock =
            bouture::graft::NodeLock::acquire(&node.instance_root, Duration::ZERO, &mut |_, _| {})
                .unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            drop(lock);
        });
        let started = Instant::now();
        assert_eq!(super::run(&node.cfg, proxy.url()).unwrap(), 1);
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "it waited for the lock"
        );
        releaser.join().unwrap();
    }
}

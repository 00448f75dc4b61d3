//! Embedding example: which master a node follows after `bouture failover`, and the
//! changes made on the new master that wait to be carried back, with the `bouture` crate.
//!
//! ```text
//! cargo run --example status -- /etc/opt/slapos/slapos.cfg /etc/opt/slapos/bouture-switch
//! ```

use std::path::Path;

use bouture::failover::status;
use bouture::node::NodeConfig;

/// One line: the master the node follows and how many changes wait.
///
/// # Errors
///
/// The node configuration, the switchfile or its changes cannot be read.
pub fn run(cfg: &Path, switchfile: &Path) -> Result<String, Box<dyn std::error::Error>> {
    let config = NodeConfig::load(cfg)?;
    let report = status::read(&config, switchfile, false)?;
    Ok(format!(
        "following the {} master {}; {} change(s) to carry back",
        report.following,
        report.master_url.as_deref().unwrap_or("(unknown)"),
        report
            .changes
            .as_ref()
            .map_or(0, bouture::offline_changes::ChangesFile::len)
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let cfg = args.next().ok_or("usage: status NODE_CFG SWITCHFILE")?;
    let switchfile = args.next().ok_or("usage: status NODE_CFG SWITCHFILE")?;
    let line = run(Path::new(&cfg), Path::new(&switchfile))?;
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn reads_what_bouture_status_reports() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = bouture_test_support::demo_node::materialize_demo_node(dir.path());
        let line = super::run(&cfg, &dir.path().join("bouture-switch")).unwrap();
        assert!(line.starts_with("following the original master "), "{line}");
        assert!(line.ends_with("; 0 change(s) to carry back"), "{line}");
    }
}

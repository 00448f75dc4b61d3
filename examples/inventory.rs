//! Embedding example: list a node's opted-in partitions with the `bouture` crate.
//!
//! ```text
//! cargo run --example inventory -- /etc/opt/slapos/slapos.cfg
//! ```

use std::path::Path;

use bouture::node::{BoutureStatus, Inventory, NodeConfig};

/// One line per partition: its id and whether (and as what) it is grafted.
///
/// # Errors
///
/// The node configuration cannot be read, or the instance root cannot be scanned.
pub fn run(cfg: &Path) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let config = NodeConfig::load(cfg)?;
    let inventory = Inventory::scan(&config)?;
    Ok(inventory
        .partitions
        .iter()
        .map(|partition| {
            let status = match &partition.bouture {
                BoutureStatus::Valid(file) => format!("grafts \"{}\"", file.instance_title),
                BoutureStatus::Invalid(error) => format!("invalid: {error}"),
                BoutureStatus::NotOptedIn => "not opted in".to_string(),
                _ => "unknown".to_string(),
            };
            format!("{}: {status}", partition.id)
        })
        .collect())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(bouture::node::default_node_config_path, Into::into);
    for line in run(&path)? {
        #[allow(clippy::print_stdout)]
        {
            println!("{line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn lists_the_demo_nodes_partitions() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = bouture_test_support::demo_node::materialize_demo_node(dir.path());
        let lines = super::run(&cfg).unwrap();
        assert_eq!(
            lines,
            [
                "slappart0: grafts \"ORS Core Network\"",
                "slappart1: not opted in",
                "slappart2: grafts \"ORS gNB\"",
                "slappart10: grafts \"Node monitor\"",
            ]
        );
    }
}

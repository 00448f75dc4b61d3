//! Embedding example: list a node's opted-in partitions with the `bouture` crate.
//!
//! ```text
//! cargo run --example inventory -- /etc/opt/slapos/slapos.cfg
//! ```

use bouture::node::{BoutureStatus, Inventory, NodeConfig, default_node_config_path};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .map_or_else(default_node_config_path, Into::into);
    let config = NodeConfig::load(&path)?;
    let inventory = Inventory::scan(&config)?;
    for partition in &inventory.partitions {
        let status = match &partition.bouture {
            BoutureStatus::Valid(file) => format!("grafts \"{}\"", file.instance_title),
            BoutureStatus::Invalid(error) => format!("invalid: {error}"),
            BoutureStatus::NotOptedIn => "not opted in".to_string(),
            _ => "unknown".to_string(),
        };
        #[allow(clippy::print_stdout)]
        {
            println!("{}: {status}", partition.id);
        }
    }
    Ok(())
}

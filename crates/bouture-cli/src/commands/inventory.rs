//! `bouture inventory`: the node as bouture sees it.

use std::path::PathBuf;

use crate::Streams;
use crate::output::{Failure, OutputFormat};

/// Arguments of `bouture inventory`.
#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// The node configuration file.
    #[arg(
        long,
        value_name = "NODE_CFG",
        env = "SLAPOS_CONFIGURATION",
        default_value = "/etc/opt/slapos/slapos.cfg"
    )]
    pub cfg: PathBuf,
    /// How to print the inventory.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

pub(crate) fn run(_args: &InventoryArgs, _streams: &mut Streams<'_>) -> Result<u8, Failure> {
    Err(Failure {
        message: "inventory: not written yet".into(),
        code: 1,
    })
}

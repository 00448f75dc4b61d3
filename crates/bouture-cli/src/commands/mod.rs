//! One module per subcommand: its clap arguments and its `run` function.

pub(crate) mod boot;
pub(crate) mod cluster_merge;
pub(crate) mod completions;
pub(crate) mod configure;
pub(crate) mod deploy;
pub(crate) mod failover;
pub(crate) mod graft;
pub(crate) mod inventory;
pub(crate) mod master_args;
pub(crate) mod merge;
pub(crate) mod node_setup;
pub(crate) mod status;

use std::path::PathBuf;

use bouture_core::NodeConfig;

use crate::exit::CommandError;

/// `--cfg NODE_CFG`, shared by every SlapOS command.
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct NodeCfgArg {
    /// The node configuration file (never modified; a leading `~` is expanded, as slapos does).
    #[arg(
        long = "cfg",
        value_name = "NODE_CFG",
        env = "SLAPOS_CONFIGURATION",
        default_value = bouture_core::DEFAULT_NODE_CONFIG_PATH,
        value_parser = expanded_path
    )]
    pub cfg: PathBuf,
}

/// A path argument with a leading `~` expanded ([`bouture_core::expand_user`]),
/// as SlapOS expands `--cfg` and `$SLAPOS_CONFIGURATION`.
#[allow(clippy::unnecessary_wraps)] // clap's value parsers return a Result
pub(crate) fn expanded_path(value: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(bouture_core::expand_user(std::path::Path::new(value)))
}

impl NodeCfgArg {
    /// Read and check the node configuration (a configuration error when it
    /// cannot be used).
    pub(crate) fn load(&self) -> Result<NodeConfig, CommandError> {
        NodeConfig::load(&self.cfg).map_err(CommandError::config)
    }
}

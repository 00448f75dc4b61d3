//! One module per subcommand: its clap arguments and its `run` function.

pub(crate) mod configure;
pub(crate) mod failover;
pub(crate) mod graft;
mod graft_step;
pub(crate) mod inventory;
pub(crate) mod status;

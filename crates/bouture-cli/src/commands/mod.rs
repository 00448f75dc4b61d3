//! One module per subcommand: its clap arguments and its `run` function.

pub(crate) mod inventory;
pub(crate) mod merge;

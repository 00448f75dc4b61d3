//! The graft step of `bouture failover`, on the graft library.

use bouture_core::NodeConfig;

use super::failover::{GraftStep, GraftSummary};
use crate::log::Logger;

/// Grafts with the graft library onto the new master.
pub(crate) struct RealGraft;

impl GraftStep for RealGraft {
    fn graft(
        &self,
        _config: &NodeConfig,
        _new_master_url: &str,
        _new_monitor_url: Option<&str>,
        _log: &mut Logger<'_>,
    ) -> Result<GraftSummary, String> {
        Err("this build of bouture has no graft library yet".to_string())
    }
}

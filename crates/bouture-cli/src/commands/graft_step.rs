//! The graft step of `bouture failover`, on the graft library
//! ([`bouture_graft::apply`], as `bouture graft` uses it).

use bouture_core::switchfile::{GraftedPartition, SkippedPartitionNote};
use bouture_core::{GraftOptions, GraftPlan, Inventory, NodeConfig};
use bouture_graft::{GraftOutcome, PartitionStatus};
use bouture_master_client::{ClientOptions, MasterClient};

use super::failover::{GraftStep, GraftSummary};
use crate::log::Logger;
use crate::output::error_chain;

/// Grafts with the graft library onto the new master, with these client options, holding the
/// node-wide graft lock.
pub(crate) struct RealGraft(pub(crate) ClientOptions);

impl GraftStep for RealGraft {
    fn graft(
        &self,
        config: &NodeConfig,
        new_master_url: &str,
        new_monitor_url: Option<&str>,
        log: &mut Logger<'_>,
    ) -> Result<GraftSummary, String> {
        let _lock = super::master_args::lock_node(&config.instance_root, &mut |m| log.info(&m))
            .map_err(|error| error_chain(&error))?;
        let inventory = Inventory::scan(config).map_err(|error| error_chain(&error))?;
        let mut options = GraftOptions::default();
        options.new_monitor_url = new_monitor_url.map(str::to_string);
        let plan = GraftPlan::build(&inventory, &options);
        let mut summary = GraftSummary {
            skipped: plan
                .skipped
                .iter()
                .map(|skipped| SkippedPartitionNote {
                    partition: skipped.id.to_string(),
                    reason: skipped.reason.to_string(),
                })
                .collect(),
            ..GraftSummary::default()
        };
        if plan.partitions.is_empty() {
            log.info(&format!(
                "no valid opted-in partition on this node ({} skipped): nothing to send to {new_master_url}",
                plan.skipped.len()
            ));
            return Ok(summary);
        }
        let client = MasterClient::with_options(new_master_url, &self.0)
            .map_err(|error| error_chain(&error))?;
        let report = bouture_graft::apply(&plan, &client, &mut ()).map_err(|error| {
            if error.is_unreachable() {
                format!("the new master cannot be reached: {}", error_chain(&error))
            } else {
                error_chain(&error)
            }
        })?;
        for partition in &report.partitions {
            match partition.status {
                PartitionStatus::Grafted => {
                    log.info(&format!(
                        "grafted {} ({})",
                        partition.id,
                        partition.instance_title.as_deref().unwrap_or("?")
                    ));
                    summary.grafted.push(GraftedPartition {
                        partition: partition.id.to_string(),
                        instance_title: partition.instance_title.clone(),
                        shared_instances: partition.shared_instances,
                    });
                }
                PartitionStatus::Failed => log.error(&format!(
                    "graft of {} failed: {}",
                    partition.id,
                    partition.reason.as_deref().unwrap_or("unknown reason")
                )),
                PartitionStatus::Skipped => {}
            }
            if let Some(warning) = &partition.warning {
                log.warning(&format!("{}: {warning}", partition.id));
            }
        }
        for warning in &report.warnings {
            log.warning(warning);
        }
        for mismatch in &report.mismatches {
            log.error(&format!("read back from the new master: {mismatch}"));
        }
        match report.outcome() {
            GraftOutcome::Complete | GraftOutcome::SkippedInvalid => Ok(summary),
            GraftOutcome::Failed => Err(format!(
                "{} valid partition(s) failed on the new master",
                report.totals.failed
            )),
        }
    }
}

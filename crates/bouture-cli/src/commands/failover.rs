//! `bouture failover`: keep a node processed when its master is offline, and
//! come back when it returns.
//!
//! Each run (from cron or a timer, where `slapos node instance` runs today):
//!
//! 1. takes the lock on PIDFILE for the whole run (another run: exit 10);
//! 2. processes the node with its original master,
//!    `PROGRAM node instance --cfg NODE_CFG`;
//! 3. decides from that exit code and the switchfile
//!    ([`bouture_core::failover::decide`]) and logs the decision and its reason;
//! 4. on the first offline run (or the N-th in a row with `--switch-after N`):
//!    configure, then graft, and only when both succeeded create SWITCHFILE;
//!    then, while switched and offline, processes the node from the new
//!    master, `PROGRAM node instance --cfg NEW_CFG`;
//! 5. back online: removes SWITCHFILE.
//!
//! The inner command inherits bouture's standard output and error, so its
//! log reaches cron's mail or the journal as it is written, interleaved with
//! bouture's own log lines (on stderr, in the same format).

use std::ffi::OsString;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::Command;

use bouture_core::NodeConfig;
use bouture_core::configure;
use bouture_core::failover::{Action, FailoverState, InnerOutcome, decide};
use bouture_core::pidfile::{PidfileError, PidfileLock};
use bouture_core::switchfile::{
    self, GraftedPartition, OfflineRuns, SkippedPartitionNote, SwitchRecord,
};

use crate::commands::NodeCfgArg;
use crate::log::Logger;
use crate::output::{Failure, error_chain};
use crate::{BoutureExitCode, Streams};

/// Where `slapos node instance` keeps its own pidfile when the node
/// configuration does not say.
pub(crate) const DEFAULT_PIDFILE_INSTANCE: &str = "/opt/slapos/slapgrid-cp.pid";

/// Arguments of `bouture failover`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run it where `slapos node instance` runs today (cron or a timer), every few minutes.
Each run processes the node with its original master (PROGRAM node instance --cfg
NODE_CFG). Exit 3 (offline): the first time (or the N-th time in a row with
--switch-after N), write NEW_CFG (as `bouture configure`), graft the node onto the new
master, and only when both succeeded create SWITCHFILE; then process the node from the
new master (PROGRAM node instance --cfg NEW_CFG). Exit 0 or 2 (online): remove
SWITCHFILE. Any other exit: change nothing. Every decision is logged on stderr.

Examples:
  bouture failover --new-master-url http://10.0.0.2:4000 \\
      --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg \\
      --pidfile /run/bouture-failover.pid --switchfile /etc/opt/slapos/bouture-switch
  bouture failover --cfg /etc/opt/slapos/slapos.cfg \\
      --new-master-url http://10.0.0.2:4000 --new-monitor-url https://[2001:db8::2]:4001 \\
      --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg --pidfile /run/bouture-failover.pid \\
      --switchfile /etc/opt/slapos/bouture-switch --switch-after 3

Exit status: 0 the node was processed (by the original master, or by the new one);
1 bouture could not do its part (bad configuration or arguments, PIDFILE equal to
pidfile_instance, PROGRAM cannot be run, configure or graft failed: not switched);
2 usage error; 10 another failover holds PIDFILE (nothing done); 75 not processed in
this run: ambiguous exit of the original run (nothing changed), offline but fewer than
--switch-after runs in a row, or the run from the new master failed.")]
pub struct FailoverArgs {
    /// `--cfg NODE_CFG`: the node configuration.
    #[command(flatten)]
    pub node: NodeCfgArg,
    /// URL of the new master (a slapproxy) to fail over to.
    #[arg(long, value_name = "URL")]
    pub new_master_url: String,
    /// URL of the new monitor application, set as `monitor-interface-url` in
    /// the grafted instances' parameters.
    #[arg(long, value_name = "URL")]
    pub new_monitor_url: Option<String>,
    /// Where to write the node configuration pointing at the new master.
    #[arg(long, value_name = "NEW_CFG")]
    pub new_node_cfg: PathBuf,
    /// The lock file held for the whole run (must differ from the node's
    /// `pidfile_instance`).
    #[arg(long, value_name = "PIDFILE")]
    pub pidfile: PathBuf,
    /// The flag file: present while the node follows the new master.
    #[arg(long, value_name = "SWITCHFILE")]
    pub switchfile: PathBuf,
    /// The SlapOS command, a name looked up in PATH or a path; bouture
    /// appends `node instance --cfg CFG`.
    #[arg(long, value_name = "PROGRAM", default_value = "slapos")]
    pub slapos_command: OsString,
    /// Offline runs in a row required before switching, so that a master
    /// that blinks does not trigger a graft each time.
    #[arg(long, value_name = "N", default_value = "1")]
    pub switch_after: NonZeroU32,
    /// TLS and deadline of the new master (used by the graft).
    #[command(flatten)]
    pub master: super::master_args::MasterArgs,
}

/// What the graft step of a switch reports.
#[derive(Debug, Clone, Default)]
pub(crate) struct GraftSummary {
    pub(crate) grafted: Vec<GraftedPartition>,
    pub(crate) skipped: Vec<SkippedPartitionNote>,
}

/// The graft step of a switch. Succeeds when every valid opted-in partition
/// was grafted (invalid ones may have been skipped); fails, with the reason,
/// when the new master could not be reached or a valid partition failed.
pub(crate) trait GraftStep {
    fn graft(
        &self,
        config: &NodeConfig,
        new_master_url: &str,
        new_monitor_url: Option<&str>,
        log: &mut Logger<'_>,
    ) -> Result<GraftSummary, String>;
}

pub(crate) fn run(args: &FailoverArgs, streams: &mut Streams<'_>) -> Result<u8, Failure> {
    run_with(
        args,
        streams,
        &super::graft_step::RealGraft(args.master.client_options()),
    )
}

/// `bouture failover` with the graft step given (tests inject one).
pub(crate) fn run_with(
    args: &FailoverArgs,
    streams: &mut Streams<'_>,
    graft: &dyn GraftStep,
) -> Result<u8, Failure> {
    let config = args.node.load()?;
    configure::check_master_url(&args.new_master_url)
        .map_err(|error| Failure::operation(&error))?;
    check_paths(args, &config)?;
    let mut log = Logger::new(streams.stderr);
    let _lock = match PidfileLock::acquire(&args.pidfile) {
        Ok(lock) => lock,
        Err(error @ PidfileError::Busy { .. }) => {
            log.warning(&format!("another bouture failover is running: {error}"));
            return Ok(BoutureExitCode::FAILOVER_BUSY);
        }
        Err(error) => return Err(Failure::operation(&error)),
    };
    Failover {
        args,
        config: &config,
        graft,
        log,
    }
    .run()
}

struct Failover<'a, 'w> {
    args: &'a FailoverArgs,
    config: &'a NodeConfig,
    graft: &'a dyn GraftStep,
    log: Logger<'w>,
}

impl Failover<'_, '_> {
    fn run(&mut self) -> Result<u8, Failure> {
        let args = self.args;
        let status = switchfile::read_switchfile(&args.switchfile).map_err(|e| self.fail(&e))?;
        if let switchfile::SwitchStatus::Switched {
            problem: Some(problem),
            ..
        } = &status
        {
            self.log.warning(&format!(
                "switchfile {}: {problem}; it still counts as switched",
                args.switchfile.display()
            ));
        }
        let counter = switchfile::read_offline_runs(&args.switchfile).map_err(|e| self.fail(&e))?;
        let state = FailoverState {
            switched: status.is_switched(),
            offline_runs: counter.as_ref().map_or(0, |c| c.consecutive_offline_runs),
        };
        let original = self
            .config
            .master_url
            .clone()
            .unwrap_or_else(|| "(no master_url)".to_string());
        self.log.info(&format!(
            "processing the node with its original master {original}"
        ));
        let code = self.inner_run(&args.node.cfg)?;
        let outcome = InnerOutcome::from_exit_code(code);
        let decision = decide(state, outcome, args.switch_after);
        self.log.info(&format!("decision: {}", decision.reason));
        match decision.action {
            Action::StayOnOriginal => {
                self.clear_counter()?;
                Ok(BoutureExitCode::OK)
            }
            Action::SwitchBack => {
                self.clear_counter()?;
                switchfile::remove_switchfile(&args.switchfile).map_err(|e| self.fail(&e))?;
                self.log.info(&format!(
                    "removed the switchfile {}: the node follows its original master {original} again; \
                     the next outage will graft afresh",
                    args.switchfile.display()
                ));
                Ok(BoutureExitCode::OK)
            }
            Action::Wait => Ok(BoutureExitCode::FAILOVER_NOT_PROCESSED),
            Action::WaitForMoreOfflineRuns { offline_runs, .. } => {
                let first = counter.map(|c| c.first_offline_at);
                switchfile::write_offline_runs(
                    &args.switchfile,
                    &OfflineRuns::new(offline_runs, first),
                )
                .map_err(|e| self.fail(&e))?;
                Ok(BoutureExitCode::FAILOVER_NOT_PROCESSED)
            }
            Action::SwitchOver { offline_runs } => {
                let first = counter.map(|c| c.first_offline_at);
                if let Err(code) = self.switch_over(offline_runs, first, original) {
                    return Ok(code);
                }
                self.process_from_new_master()
            }
            Action::StayOnNewMaster => {
                if !args.new_node_cfg.exists() && !self.rewrite_new_cfg() {
                    return Ok(BoutureExitCode::FAILURE);
                }
                self.process_from_new_master()
            }
        }
    }

    /// Configure, then graft, and only when both succeeded create the switchfile.
    fn switch_over(
        &mut self,
        offline_runs: u32,
        first_offline_at: Option<String>,
        original: String,
    ) -> Result<(), u8> {
        let args = self.args;
        // Keep counting, so that the next run retries a failed switch at once.
        if let Err(error) = switchfile::write_offline_runs(
            &args.switchfile,
            &OfflineRuns::new(offline_runs, first_offline_at),
        ) {
            self.log.error(&error_chain(&error));
            return Err(BoutureExitCode::FAILURE);
        }
        self.log.info(&format!(
            "writing the configuration for the new master {} at {}",
            args.new_master_url,
            args.new_node_cfg.display()
        ));
        match configure::configure(
            &args.node.cfg,
            &args.new_node_cfg,
            &args.new_master_url,
            false,
        ) {
            Ok(outcome) => {
                for change in &outcome.changes {
                    self.log.info(&format!("configure: {change}"));
                }
            }
            Err(error) => {
                self.log.error(&format!(
                    "configure failed, not switching (no switchfile created, the node is not \
                     processed from the new master in this run): {}",
                    error_chain(&error)
                ));
                return Err(BoutureExitCode::FAILURE);
            }
        }
        self.log.info(&format!(
            "grafting this node onto the new master {}",
            args.new_master_url
        ));
        let summary = match self.graft.graft(
            self.config,
            &args.new_master_url,
            args.new_monitor_url.as_deref(),
            &mut self.log,
        ) {
            Ok(summary) => summary,
            Err(reason) => {
                self.log.error(&format!(
                    "graft failed, not switching (no switchfile created, the node is not \
                     processed from the new master in this run): {reason}"
                ));
                return Err(BoutureExitCode::FAILURE);
            }
        };
        for skipped in &summary.skipped {
            self.log.warning(&format!(
                "graft skipped invalid partition {}: {}",
                skipped.partition, skipped.reason
            ));
        }
        self.log.info(&format!(
            "graft succeeded: {} partition(s) grafted, {} invalid one(s) skipped",
            summary.grafted.len(),
            summary.skipped.len()
        ));
        let mut record = SwitchRecord::now(
            &args.new_master_url,
            (original != "(no master_url)").then_some(original),
            &args.node.cfg,
            &args.new_node_cfg,
            offline_runs,
        );
        record.grafted = summary.grafted;
        record.skipped = summary.skipped;
        if let Err(error) = switchfile::write_switchfile(&args.switchfile, &record) {
            self.log.error(&format!(
                "cannot create the switchfile, so the node is not switched: {}",
                error_chain(&error)
            ));
            return Err(BoutureExitCode::FAILURE);
        }
        let _ = switchfile::remove_offline_runs(&args.switchfile);
        self.log.info(&format!(
            "created the switchfile {}: the node follows the new master {} since {}",
            args.switchfile.display(),
            args.new_master_url,
            record.switched_at
        ));
        Ok(())
    }

    /// While switched, `NEW_CFG` went missing (removed by hand, or the switch
    /// was made by another tool): write it again, without grafting again.
    fn rewrite_new_cfg(&mut self) -> bool {
        let args = self.args;
        self.log.warning(&format!(
            "the new node configuration {} is missing: writing it again for {} (configure \
             only: the node stays grafted, no new graft)",
            args.new_node_cfg.display(),
            args.new_master_url
        ));
        match configure::configure(
            &args.node.cfg,
            &args.new_node_cfg,
            &args.new_master_url,
            false,
        ) {
            Ok(_) => true,
            Err(error) => {
                self.log.error(&format!(
                    "configure failed, the node is not processed from the new master in this \
                     run: {}",
                    error_chain(&error)
                ));
                false
            }
        }
    }

    fn process_from_new_master(&mut self) -> Result<u8, Failure> {
        let args = self.args;
        self.log.info(&format!(
            "processing the node from the new master {} with {}",
            args.new_master_url,
            args.new_node_cfg.display()
        ));
        let code = self.inner_run(&args.new_node_cfg)?;
        match InnerOutcome::from_exit_code(code) {
            outcome @ InnerOutcome::Online { .. } => {
                self.log.info(&format!(
                    "the node was processed from the new master ({outcome})"
                ));
                Ok(BoutureExitCode::OK)
            }
            outcome => {
                self.log.error(&format!(
                    "processing the node from the new master did not succeed ({outcome}); \
                     the next run tries again"
                ));
                Ok(BoutureExitCode::FAILOVER_NOT_PROCESSED)
            }
        }
    }

    /// Run `PROGRAM node instance --cfg CFG` with bouture's stdio; its exit
    /// code, `None` when killed by a signal.
    fn inner_run(&mut self, cfg: &Path) -> Result<Option<i32>, Failure> {
        let program = &self.args.slapos_command;
        self.log.info(&format!(
            "running {} node instance --cfg {}",
            Path::new(program).display(),
            cfg.display()
        ));
        let status = Command::new(program)
            .args(["node", "instance", "--cfg"])
            .arg(cfg)
            .status()
            .map_err(|error| {
                let failure = Failure {
                    message: format!(
                        "cannot run `{}` (give its path with --slapos-command): {error}",
                        Path::new(program).display()
                    ),
                    code: BoutureExitCode::FAILURE,
                };
                self.log.error(&failure.message);
                Failure {
                    message: String::new(),
                    code: failure.code,
                }
            })?;
        Ok(status.code())
    }

    fn clear_counter(&mut self) -> Result<(), Failure> {
        switchfile::remove_offline_runs(&self.args.switchfile).map_err(|e| self.fail(&e))?;
        Ok(())
    }

    /// Log an error and turn it into a silent failure (already logged).
    fn fail(&mut self, error: &(dyn std::error::Error + 'static)) -> Failure {
        self.log.error(&error_chain(error));
        Failure {
            message: String::new(),
            code: BoutureExitCode::FAILURE,
        }
    }
}

/// Refuse, before anything runs, a PIDFILE that would stop the inner run
/// (the node's `pidfile_instance`) or clash with the other files.
fn check_paths(args: &FailoverArgs, config: &NodeConfig) -> Result<(), Failure> {
    let pidfile_instance = PathBuf::from(
        config
            .option("pidfile_instance")
            .filter(|value| !value.is_empty())
            .unwrap_or(DEFAULT_PIDFILE_INSTANCE),
    );
    let refuse = |message: String| {
        Err(Failure {
            message,
            code: BoutureExitCode::FAILURE,
        })
    };
    if bouture_fs::same_file(&args.pidfile, &pidfile_instance) {
        return refuse(format!(
            "--pidfile {} is the node's pidfile_instance ({}): `slapos node instance` would \
             find it locked and refuse to run; choose another path, e.g. /run/bouture-failover.pid",
            args.pidfile.display(),
            pidfile_instance.display()
        ));
    }
    for (name, path) in [
        ("--switchfile", &args.switchfile),
        ("--cfg", &args.node.cfg),
        ("--new-node-cfg", &args.new_node_cfg),
    ] {
        if bouture_fs::same_file(&args.pidfile, path) {
            return refuse(format!(
                "--pidfile {} is also {name}; choose another path",
                args.pidfile.display()
            ));
        }
    }
    if bouture_fs::same_file(&args.switchfile, &args.node.cfg)
        || bouture_fs::same_file(&args.switchfile, &args.new_node_cfg)
    {
        return refuse(format!(
            "--switchfile {} is also a configuration file; choose another path",
            args.switchfile.display()
        ));
    }
    if bouture_fs::same_file(&args.node.cfg, &args.new_node_cfg) {
        return refuse(format!(
            "--new-node-cfg {} is the node configuration itself; choose another path: \
             the node configuration is never modified",
            args.new_node_cfg.display()
        ));
    }
    Ok(())
}

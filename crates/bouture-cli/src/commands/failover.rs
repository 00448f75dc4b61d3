//! `bouture failover`: keep a node processed when its master is offline, and
//! come back when it returns.
//!
//! The run is [`bouture_failover::Failover`]; this module turns the
//! arguments into its options, writes its log on stderr (interleaved with
//! the inner command's own output, in the same format) and turns its outcome
//! into an exit code.

use std::ffi::OsString;
use std::num::NonZeroU32;
use std::path::PathBuf;

use bouture_failover::{Failover, FailoverOutcome, FileRole, Name, SlaposCommand};

use crate::commands::NodeCfgArg;
use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};

/// Arguments of `bouture failover`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run it where `slapos node instance` runs today (cron or a timer), every few minutes.
Each run processes the node with its original master (PROGRAM node instance --cfg
NODE_CFG). Exit 3 (offline): the first time (with --switch-after N, the N-th with no
online run in between; other exits neither count nor reset), write NEW_CFG (as `bouture configure`), graft the node onto the new
master, and only when both succeeded create SWITCHFILE; then process the node from the
new master (PROGRAM node instance --cfg NEW_CFG). Exit 0 or 2 (online): list what
changed on the new master since the graft in SWITCHFILE.changes (see `bouture status`),
then remove SWITCHFILE. Any other exit: change nothing. Every decision is logged on
stderr, in slapos's format and local time, with the Python tool's messages; the global
options of `slapos` (--log-file, -v, -q, ...) are accepted before or after `failover`.

The Debian package installs two ways to run it every minute, both disabled and with
the same command line and paths: the commented cron example
/etc/cron.d/bouture-failover, and the systemd units bouture-failover.service and
bouture-failover.timer (/usr/lib/systemd/system; set the command with `systemctl edit
bouture-failover.service`, then `systemctl enable --now bouture-failover.timer`).
Use one of them, and remove the `slapos node instance` cron line.

Examples:
  bouture failover --new-master-url http://10.0.0.2:4000 \\
      --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg \\
      --pidfile /run/bouture-failover.pid --switchfile /etc/opt/slapos/bouture-switch
  bouture failover --cfg /etc/opt/slapos/slapos.cfg \\
      --new-master-url http://10.0.0.2:4000 --new-monitor-url https://[2001:db8::2]:4001 \\
      --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg --pidfile /run/bouture-failover.pid \\
      --switchfile /etc/opt/slapos/bouture-switch --switch-after 3
  bouture --log-file /opt/slapos/log/bouture.log failover -q --new-master-url \\
      http://10.0.0.2:4000 --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg \\
      --pidfile /run/bouture-failover.pid --switchfile /etc/opt/slapos/bouture-switch

Exit status: 0 the node was processed (by the original master, or by the new one);
1 bouture could not do its part (bad configuration or arguments, PIDFILE equal to
pidfile_instance, PROGRAM cannot be run, configure or graft failed: not switched);
2 usage error; 10 another failover holds PIDFILE (nothing done); 75 not processed in
this run: ambiguous exit of the original run (nothing changed), offline but fewer than
--switch-after runs in a row, or the run from the new master failed.")]
#[non_exhaustive]
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
    /// Offline runs (exit 3) required before switching, with no online run
    /// (exit 0 or 2) in between; other exits neither count nor reset the
    /// count. A master that blinks then does not trigger a graft each time.
    #[arg(long, value_name = "N", default_value = "1")]
    pub switch_after: NonZeroU32,
    /// TLS and deadline of the new master (used by the graft).
    #[command(flatten)]
    pub master: super::master_args::MasterArgs,
}

pub(crate) fn run(args: &FailoverArgs, cx: &mut Context<'_>) -> CommandResult {
    // Every line, errors included, goes through the log, with the prefix of
    // the other lines (and to --log-file).
    let log = &mut cx.log;
    let mut options = bouture_failover::Options::new(
        &args.node.cfg,
        &args.new_master_url,
        &args.new_node_cfg,
        &args.pidfile,
        &args.switchfile,
    );
    options.new_monitor_url.clone_from(&args.new_monitor_url);
    options.switch_after = args.switch_after;
    options.master_client = args.master.client_options();
    let failover = match Failover::new(options) {
        Ok(failover) => failover,
        Err(error) => {
            log.error(&describe(&error));
            return Err(CommandError::Reported);
        }
    };
    let mut slapos = SlaposCommand::new(&args.slapos_command);
    match failover.run(&mut slapos, log) {
        Ok(FailoverOutcome::Processed { .. }) => Ok(Outcome::Done),
        Ok(FailoverOutcome::Busy(busy)) => {
            log.warning(&format!("another bouture failover is running: {busy}"));
            Ok(Outcome::FailoverBusy)
        }
        Ok(_) => Ok(Outcome::FailoverNotProcessed),
        Err(error) => {
            log.error(&describe(&error));
            Err(CommandError::Reported)
        }
    }
}

/// How `bouture failover`'s lines name what the operator acts on: its
/// options, and the `bouture status` commands.
pub(crate) fn name(name: Name<'_>) -> String {
    match name {
        Name::File(FileRole::NodeCfg) => "--cfg".to_owned(),
        Name::File(FileRole::NewNodeCfg) => "--new-node-cfg".to_owned(),
        Name::File(FileRole::Pidfile) => "--pidfile".to_owned(),
        Name::File(FileRole::Switchfile) => "--switchfile".to_owned(),
        Name::Acknowledge { switchfile } => format!(
            "see `bouture status --switchfile {}`, then acknowledge with --ack",
            switchfile.display()
        ),
        Name::SlaposProgram => "give its path with --slapos-command".to_owned(),
        other => other.to_string(),
    }
}

/// The error and its sources on one line, its files named by their options.
fn describe(error: &bouture_failover::Error) -> String {
    crate::output::flags(
        bouture_text::error_chain_after(error.message(&name), error),
        error,
    )
}

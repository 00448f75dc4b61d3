//! `bouture configure`: write the node configuration pointed at a new master.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use bouture_failover::configure::{self, ConfigureError, ConfigureReport};

use crate::commands::NodeCfgArg;
use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;

/// Arguments of `bouture configure`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Writes NEW_CFG: NODE_CFG with [slapos] master_url set to the new master and the
client certificate options (key_file, cert_file, certificate_repository_path,
master_ca_file) removed, from [DEFAULT] too when they come from there. Comments,
blank lines, order, key case and every other option are kept as written. NODE_CFG
is never modified; NEW_CFG is replaced atomically and gets NODE_CFG's permissions.

Examples:
  bouture configure --new-master-url http://10.0.0.2:4000 \\
      --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg
  bouture configure --cfg /etc/opt/slapos/slapos.cfg --new-master-url http://10.0.0.2:4000 \\
      --new-node-cfg /etc/opt/slapos/slapos-bouture.cfg --dry-run

Exit status: 0 when NEW_CFG was written (or, with --dry-run, could be), 1 when
NODE_CFG cannot be read or used, NEW_CFG is NODE_CFG, or NEW_CFG cannot be
written (nothing is written then), 2 for usage errors.")]
#[non_exhaustive]
pub struct ConfigureArgs {
    /// `--cfg NODE_CFG`: the node configuration.
    #[command(flatten)]
    pub node: NodeCfgArg,
    /// URL of the new master (a slapproxy) the node will follow.
    #[arg(long, value_name = "URL")]
    pub new_master_url: String,
    /// Where to write the new node configuration.
    #[arg(long, value_name = "NEW_CFG")]
    pub new_node_cfg: PathBuf,
    /// Accepted and ignored, as `slapos bouture configure` does (it matters
    /// to `graft` and `failover` only), so that its command lines work as
    /// they are.
    #[arg(long, value_name = "URL")]
    pub new_monitor_url: Option<String>,
    /// Print the changes and the diff that would be applied; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The report goes to stdout; errors go through the log (stderr with the
/// prefix of slapos's lines, and `--log-file`). The verbosity (`-v` count
/// minus `-q` count): below 0 a written file is not reported (a dry run
/// still prints its diff: it is what was asked); above 0 the diff is
/// printed for a written file too.
pub(crate) fn run(args: &ConfigureArgs, cx: &mut Context<'_>) -> CommandResult {
    configure(args, &mut cx.log, cx.stdout)
}

fn configure(args: &ConfigureArgs, log: &mut Logger<'_>, stdout: &mut dyn Write) -> CommandResult {
    let verbosity = log.verbosity();
    let outcome = configure::configure(&configure::ConfigureOptions {
        dry_run: args.dry_run,
        ..configure::ConfigureOptions::new(&args.node.cfg, &args.new_node_cfg, &args.new_master_url)
    })
    .map_err(|error| match error {
        ConfigureError::Node(error) => CommandError::config(error),
        error => CommandError::failed(error),
    })?;
    log.debug(&format!(
        "{} {} from {}: {} change(s), {} bytes",
        if outcome.written {
            "wrote"
        } else {
            "would write"
        },
        outcome.new_cfg.display(),
        outcome.node_cfg.display(),
        outcome.changes.len(),
        outcome.after.len()
    ));
    if verbosity < 0 && outcome.written {
        return Ok(Outcome::Done);
    }
    stdout
        .write_all(render(&outcome, &args.new_master_url, verbosity > 0).as_bytes())
        .map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

/// The report: what was (or would be) written, each change, and for a dry
/// run (or with `with_diff`) the diff.
pub(crate) fn render(outcome: &ConfigureReport, url: &str, with_diff: bool) -> String {
    let mut out = String::new();
    let verb = if outcome.written {
        "wrote"
    } else {
        "would write (dry run, nothing written)"
    };
    let _ = writeln!(
        out,
        "{verb} {} for master {url}, from {}",
        outcome.new_cfg.display(),
        outcome.node_cfg.display()
    );
    for change in &outcome.changes {
        let _ = writeln!(out, "  {change}");
    }
    if !outcome.written || with_diff {
        out.push('\n');
        out.push_str(&configure::unified_diff(
            &outcome.before,
            &outcome.after,
            &outcome.node_cfg.display().to_string(),
            &outcome.new_cfg.display().to_string(),
        ));
    }
    out
}

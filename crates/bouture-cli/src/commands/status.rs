//! `bouture status`: which master the node follows, and since when.

use std::fmt::Write as _;
use std::path::PathBuf;

use bouture_failover::switchfile::{self, OfflineRuns, SwitchRecord, SwitchStatus};

use crate::Streams;
use crate::commands::NodeCfgArg;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture status`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads SWITCHFILE (written by `bouture failover`; an empty one, as the Python tool
writes, counts too) and the node configuration, and says which master the node
follows and since when.

Examples:
  bouture status --switchfile /etc/opt/slapos/bouture-switch
  bouture status --cfg /etc/opt/slapos/slapos.cfg \\
      --switchfile /etc/opt/slapos/bouture-switch --format json

Exit status: 0 when the state was read (whichever master), 1 when the node
configuration or SWITCHFILE cannot be read, 2 for usage errors.")]
#[non_exhaustive]
pub struct StatusArgs {
    /// `--cfg NODE_CFG`: the node configuration.
    #[command(flatten)]
    pub node: NodeCfgArg,
    /// The flag file `bouture failover` maintains.
    #[arg(long, value_name = "SWITCHFILE")]
    pub switchfile: PathBuf,
    /// How to print the status.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// The JSON document `bouture status --format json` prints.
#[derive(Debug, serde::Serialize)]
struct StatusReport {
    /// `original` or `new`.
    following: &'static str,
    /// The master the node follows, when known.
    master_url: Option<String>,
    /// Since when it follows the new master (RFC 3339 UTC), when known.
    since: Option<String>,
    /// The original master (from the node configuration).
    original_master_url: Option<String>,
    switchfile: PathBuf,
    /// The switch record, when the switchfile has one.
    switch: Option<SwitchRecord>,
    /// Why the switchfile's content could not be read, if so.
    switchfile_problem: Option<String>,
    /// Offline runs in a row counted so far without switching.
    offline_runs: Option<OfflineRuns>,
}

pub(crate) fn run(args: &StatusArgs, streams: &mut Streams<'_>) -> CommandResult {
    let config = args.node.load()?;
    let status = switchfile::read_switchfile(&args.switchfile).map_err(CommandError::failed)?;
    let offline_runs =
        switchfile::read_offline_runs(&args.switchfile).map_err(CommandError::failed)?;
    let original = config.master_url.clone();
    let report = match status {
        SwitchStatus::Switched { record, problem } => {
            let record = record.map(|record| *record);
            StatusReport {
                following: "new",
                master_url: record.as_ref().map(|r| r.new_master_url.clone()),
                since: record.as_ref().map(|r| r.switched_at.clone()),
                original_master_url: original,
                switchfile: args.switchfile.clone(),
                switch: record,
                switchfile_problem: problem,
                offline_runs: None,
            }
        }
        _ => StatusReport {
            following: "original",
            master_url: original.clone(),
            since: None,
            original_master_url: original,
            switchfile: args.switchfile.clone(),
            switch: None,
            switchfile_problem: None,
            offline_runs,
        },
    };
    let written = match args.format {
        OutputFormat::Json => write_json(streams.stdout, &report),
        OutputFormat::Text => streams.stdout.write_all(render_text(&report).as_bytes()),
    };
    written.map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

fn render_text(report: &StatusReport) -> String {
    let mut out = String::new();
    let unknown = "(unknown)".to_string();
    if report.following == "new" {
        if let Some(record) = &report.switch {
            let _ = writeln!(
                out,
                "following the new master {} since {} (after {} offline run(s) in a row)",
                record.new_master_url, record.switched_at, record.offline_runs
            );
            let _ = writeln!(
                out,
                "  original master  {}",
                report.original_master_url.as_ref().unwrap_or(&unknown)
            );
            let _ = writeln!(out, "  new node config  {}", record.new_node_cfg.display());
            let _ = writeln!(
                out,
                "  grafted          {} partition(s)",
                record.grafted.len()
            );
            for grafted in &record.grafted {
                let _ = writeln!(
                    out,
                    "    {}  {}, {} shared instance(s)",
                    grafted.partition,
                    grafted
                        .instance_title
                        .as_ref()
                        .map_or_else(|| unknown.clone(), |t| format!("\"{t}\"")),
                    grafted.shared_instances
                );
            }
            for skipped in &record.skipped {
                let _ = writeln!(
                    out,
                    "  skipped          {}: {}",
                    skipped.partition, skipped.reason
                );
            }
        } else {
            let _ = writeln!(
                out,
                "following the new master since an unknown time: the switchfile has no \
                     bouture record{}",
                report.switchfile_problem.as_ref().map_or_else(
                    || " (empty, as the Python tool writes it)".to_string(),
                    |p| format!(" ({p})")
                )
            );
            let _ = writeln!(
                out,
                "  original master  {}",
                report.original_master_url.as_ref().unwrap_or(&unknown)
            );
        }
    } else {
        let _ = writeln!(
            out,
            "following the original master {}",
            report.master_url.as_ref().unwrap_or(&unknown)
        );
        if let Some(runs) = &report.offline_runs {
            let _ = writeln!(
                out,
                "  offline runs in a row so far: {} (since {}), not switched yet",
                runs.consecutive_offline_runs, runs.first_offline_at
            );
        }
    }
    let _ = writeln!(out, "  switchfile       {}", report.switchfile.display());
    out
}

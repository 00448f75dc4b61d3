//! `bouture status`: which master the node follows, and since when.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use bouture_failover::Level;
use bouture_offline_changes::ChangesFile;

use bouture_failover::switchfile::{self, OfflineRuns, SwitchRecord, SwitchStatus};

use crate::commands::NodeCfgArg;
use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture status`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Reads SWITCHFILE (written by `bouture failover`; an empty one, as the Python tool
writes, counts too) and the node configuration, and says which master the node
follows and since when. It also lists the changes made on the new master while the
node followed it that are not acknowledged yet (SWITCHFILE.changes, written when the
original master returned), each with the `slapos request` command that makes it on
the original master; --ack clears them once handled.

Examples:
  bouture status --switchfile /etc/opt/slapos/bouture-switch
  bouture status --cfg /etc/opt/slapos/slapos.cfg \\
      --switchfile /etc/opt/slapos/bouture-switch --format json
  bouture status --switchfile /etc/opt/slapos/bouture-switch --ack

Exit status: 0 when the state was read (whichever master), 1 when the node
configuration, SWITCHFILE or its changes cannot be read (or, with --ack, cleared),
2 for usage errors.")]
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
    /// Acknowledge the changes listed: print them, then clear them (under a
    /// lock, so that a failover run adding new ones meanwhile waits).
    #[arg(long)]
    pub ack: bool,
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
    /// Changes made on the new master while the node followed it, not
    /// acknowledged before this command.
    changes: Option<ChangesFile>,
    /// Where they are kept.
    changes_file: PathBuf,
    /// Whether this command acknowledged (cleared) them.
    acknowledged: bool,
}

/// The report goes to stdout; errors go through the log (stderr with the
/// prefix of slapos's lines, and `--log-file`), as for the other SlapOS
/// commands. `-v` adds DEBUG lines naming what was read; `-q` drops the
/// text report and says only what needs the operator (a switchfile that
/// could not be read, changes not acknowledged) as WARNING lines.
pub(crate) fn run(args: &StatusArgs, cx: &mut Context<'_>) -> CommandResult {
    status(args, &mut cx.log, cx.stdout)
}

fn status(args: &StatusArgs, log: &mut Logger<'_>, stdout: &mut dyn Write) -> CommandResult {
    let config = args.node.load()?;
    let switchfile_path = absolute(&args.switchfile);
    let status = switchfile::read_switchfile(&args.switchfile).map_err(CommandError::failed)?;
    let offline_runs =
        switchfile::read_offline_runs(&args.switchfile).map_err(CommandError::failed)?;
    let changes = if args.ack {
        bouture_offline_changes::acknowledge(&args.switchfile)
    } else {
        bouture_offline_changes::read_changes(&args.switchfile)
    }
    .map_err(CommandError::failed)?;
    let original = config.master_url.clone();
    let mut report = match status {
        SwitchStatus::Switched { record, problem } => {
            let record = record.map(|mut record| {
                record.node_cfg = absolute(&record.node_cfg);
                record.new_node_cfg = absolute(&record.new_node_cfg);
                *record
            });
            StatusReport {
                following: "new",
                master_url: record.as_ref().map(|r| r.new_master_url.clone()),
                since: record.as_ref().map(|r| r.switched_at.clone()),
                original_master_url: original,
                switchfile: switchfile_path.clone(),
                switch: record,
                switchfile_problem: problem,
                offline_runs: None,
                changes: None,
                changes_file: PathBuf::new(),
                acknowledged: false,
            }
        }
        _ => StatusReport {
            following: "original",
            master_url: original.clone(),
            since: None,
            original_master_url: original,
            switchfile: switchfile_path.clone(),
            switch: None,
            switchfile_problem: None,
            offline_runs,
            changes: None,
            changes_file: PathBuf::new(),
            acknowledged: false,
        },
    };
    report.changes = changes;
    report.changes_file = bouture_offline_changes::changes_path(&switchfile_path);
    report.acknowledged = args.ack;
    log_status(&report, &config.path, log);
    let written = match args.format {
        OutputFormat::Json => write_json(stdout, &report),
        OutputFormat::Text if !log.shows(Level::Info) => Ok(()),
        OutputFormat::Text => stdout.write_all(render_text(&report).as_bytes()),
    };
    written.map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

/// At DEBUG (`-v`), what was read; with `-q`, which drops the text report,
/// what needs the operator as WARNING lines.
fn log_status(report: &StatusReport, node_cfg: &Path, log: &mut Logger<'_>) {
    let unknown = "(unknown)";
    log.debug(&format!(
        "read the node configuration {}: original master {}",
        absolute(node_cfg).display(),
        report.original_master_url.as_deref().unwrap_or(unknown)
    ));
    log.debug(&format!(
        "read the switchfile {}: {}",
        report.switchfile.display(),
        if report.following == "new" {
            "present, the node follows the new master"
        } else {
            "absent, the node follows its original master"
        }
    ));
    let pending = report.changes.as_ref().map_or(0, ChangesFile::len);
    log.debug(&format!(
        "read the changes file {}: {pending} change(s) not acknowledged before this run",
        report.changes_file.display()
    ));
    if log.shows(Level::Info) {
        return;
    }
    if let Some(problem) = &report.switchfile_problem {
        log.warning(&format!(
            "the switchfile {} exists but its record cannot be read ({problem}); the node follows the new master",
            report.switchfile.display()
        ));
    }
    if pending > 0 && !report.acknowledged {
        log.warning(&format!(
            "{pending} change(s) made on the new master are not acknowledged ({}); `bouture status` lists them, `bouture status --ack` clears them",
            report.changes_file.display()
        ));
    }
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
    render_changes(&mut out, report);
    out
}

/// The changes not acknowledged, each with its command, or that there are
/// none.
fn render_changes(out: &mut String, report: &StatusReport) {
    let Some(changes) = report.changes.as_ref().filter(|c| !c.is_empty()) else {
        let _ = writeln!(
            out,
            "  no change made on the new master is waiting to be acknowledged"
        );
        return;
    };
    let _ = writeln!(
        out,
        "  {} change(s) made on the new master while the node followed it{} ({}):",
        changes.len(),
        if report.acknowledged {
            ", now acknowledged"
        } else {
            ", not acknowledged"
        },
        report.changes_file.display()
    );
    for back in &changes.returns {
        let _ = writeln!(
            out,
            "    original master back at {} (switched at {}), new master {}:",
            back.returned_at,
            back.switched_at.as_deref().unwrap_or("an unknown time"),
            back.local_master_url
        );
        for change in &back.changes {
            let _ = writeln!(out, "      - {}", change.summary());
            if let Some(line) = &change.command_line {
                let _ = writeln!(out, "        on the original master: {line}");
            }
            if let Some(note) = &change.note {
                let _ = writeln!(out, "        note: {note}");
            }
        }
    }
    if !report.acknowledged {
        let _ = writeln!(
            out,
            "  once handled: bouture status --switchfile {} --ack",
            report.switchfile.display()
        );
    }
}

/// `path` made absolute against the current directory (as given when that
/// fails), so that what `status` prints can be used from anywhere.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

//! `bouture status`: which master the node follows, and since when.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use bouture_offline_changes::ChangesFile;
use bouture_text::Level;

use bouture_failover::status::Report as StatusReport;

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
  bouture status --switchfile /etc/opt/slapos/bouture-switch --replay \\
      --client-cfg ~/.slapos/slapos-client.cfg --dry-run

--replay runs each change's `slapos request --cfg CLIENT_CFG ...` (rebuilt from the
checked record, never run as written in the file), one at a time; one replay at a time.

Exit status: 0 when the state was read (whichever master), or every change replayed
was acknowledged; 1 when the node configuration, SWITCHFILE or its changes cannot be
read (or, with --ack, cleared), or a replayed change failed, or another replay runs;
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
    #[arg(long, conflicts_with = "replay")]
    pub ack: bool,
    /// Carry the changes back: run each change's `slapos request` against the original
    /// master, one at a time (with --client-cfg), and acknowledge each that succeeds;
    /// one that fails stays, with the master's answer.
    #[arg(long, requires = "client_cfg")]
    pub replay: bool,
    /// With --replay: the slapos client configuration naming the original master
    /// (`slapos request --cfg FILE`).
    #[arg(long, value_name = "FILE", value_parser = crate::commands::expanded_path)]
    pub client_cfg: Option<PathBuf>,
    /// With --replay: the `slapos` program (a name looked up in PATH, or a path).
    #[arg(long, value_name = "PROGRAM", default_value = "slapos")]
    pub slapos_command: std::ffi::OsString,
    /// With --replay: print what would run; run nothing, change nothing.
    #[arg(long, requires = "replay")]
    pub dry_run: bool,
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
    if args.replay {
        // The original master is the one the client configuration names.
        return replay(args, log, stdout);
    }
    let config = args.node.load()?;
    let report = bouture_failover::status::read(&config, &args.switchfile, args.ack)
        .map_err(CommandError::failed)?;
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

/// `--replay`: each change's command run on the original master, reported as it goes.
fn replay(args: &StatusArgs, log: &mut Logger<'_>, stdout: &mut dyn Write) -> CommandResult {
    use bouture_offline_changes::replay::{
        self, ChangeStatus, Options, ReplayEvent, ReplayOutcome,
    };

    struct Printed<'w> {
        out: &'w mut dyn Write,
        text: bool,
    }
    impl replay::ReplayObserver for Printed<'_> {
        fn event(&mut self, event: ReplayEvent<'_>) {
            if !self.text {
                return;
            }
            let line = match event {
                ReplayEvent::Running {
                    index,
                    total,
                    change,
                } => format!(
                    "[{}/{total}] {}\n      running: {}\n",
                    index + 1,
                    change.summary,
                    change.command_line.as_deref().unwrap_or("")
                ),
                ReplayEvent::Done { change } => match &change.status {
                    ChangeStatus::Ran(ReplayOutcome::Acknowledged) => {
                        "      acknowledged\n".to_string()
                    }
                    ChangeStatus::Ran(ReplayOutcome::Failed { exit_code, answer }) => format!(
                        "      FAILED ({}), kept to replay; the master answered:\n{}\n",
                        exit_code.map_or("killed".to_string(), |code| format!("exit {code}")),
                        answer
                            .lines()
                            .map(|line| format!("        {line}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ),
                    ChangeStatus::WouldRun => format!(
                        "would run: {}\n  for: {}\n",
                        change.command_line.as_deref().unwrap_or(""),
                        change.summary
                    ),
                    ChangeStatus::AlreadyAcknowledged => {
                        format!("already acknowledged: {}\n", change.summary)
                    }
                    ChangeStatus::NoCommand { note } => format!(
                        "not replayed (no command): {}{}\n",
                        change.summary,
                        note.as_deref()
                            .map(|n| format!("; {n}"))
                            .unwrap_or_default()
                    ),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            let _ = self.out.write_all(line.as_bytes());
            let _ = self.out.flush();
        }
    }

    let Some(client_cfg) = &args.client_cfg else {
        return Err(CommandError::config(std::io::Error::other(
            "--replay needs --client-cfg FILE",
        )));
    };
    let mut options = Options::new(client_cfg);
    options.slapos.clone_from(&args.slapos_command);
    options.dry_run = args.dry_run;
    let text = matches!(args.format, OutputFormat::Text) && log.shows(Level::Info);
    let report = replay::replay(
        &args.switchfile,
        &options,
        &mut Printed {
            out: &mut *stdout,
            text,
        },
    )
    .map_err(replay_failed)?;
    let Some(report) = report else {
        log.info(&format!(
            "no change to replay: {} does not exist",
            bouture_offline_changes::changes_path(&args.switchfile).display()
        ));
        return Ok(Outcome::Done);
    };
    if matches!(args.format, OutputFormat::Json) {
        write_json(stdout, &report).map_err(CommandError::Output)?;
    }
    let failed = report.failed();
    log.info(&format!(
        "replay{}: {} change(s) acknowledged now, {failed} failed, {} recorded",
        if args.dry_run { " (dry run)" } else { "" },
        report.acknowledged(),
        report.changes.len()
    ));
    Ok(if failed == 0 {
        Outcome::Done
    } else {
        Outcome::Incomplete
    })
}

/// The replay's error: the library names its option, the command line its flag.
fn replay_failed(error: bouture_offline_changes::Error) -> CommandError {
    match error {
        bouture_offline_changes::Error::Slapos { program, source } => {
            CommandError::failed(SlaposNotStarted { program, source })
        }
        other => CommandError::failed(other),
    }
}

/// `--slapos-command` cannot be started.
#[derive(Debug)]
struct SlaposNotStarted {
    program: String,
    source: std::io::Error,
}

impl std::fmt::Display for SlaposNotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot run `{}` (give its path with --slapos-command): {}",
            self.program, self.source
        )
    }
}

impl std::error::Error for SlaposNotStarted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

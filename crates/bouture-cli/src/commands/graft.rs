//! `bouture graft`: copy the node's opted-in partitions into a new master.

use std::fmt::Write as _;
use std::io::Write;

use bouture_core::PartitionAddress;
use bouture_graft::{
    GraftEvent, GraftObserver, GraftOutcome, GraftPlan, GraftReport, NodeOptions, PartitionStatus,
    Placement,
};
use bouture_text::Level;

use crate::commands::NodeCfgArg;
use crate::commands::master_args::MasterArgs;
use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture graft` (the flags of the original `slapos bouture graft`).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  bouture graft --new-master-url http://10.0.0.1:4000
  bouture graft --cfg /etc/opt/slapos/slapos.cfg --new-master-url http://10.0.0.1:4000 --dry-run
  bouture graft --new-master-url http://10.0.0.1:4000 --new-monitor-url https://[2001:db8::1]:4001 --format json
  bouture graft --new-master-url https://[2001:db8::1]:4000 --new-master-ca-file /etc/opt/slapos/slapproxy.crt

A partition takes part when it holds a bouture.json. Every opted-in partition is
checked before anything is sent; invalid ones are skipped and reported. One graft
of a node at a time (lock <instance_root>/.bouture-graft.lock; a second one waits
up to 5 minutes); the master's state is read back and compared at the end.

Exit status: 0 every opted-in partition was grafted; 1 some were skipped or
failed, the master could not be reached, or the node configuration cannot be
read; 2 usage error.")]
#[non_exhaustive]
pub struct GraftArgs {
    /// `--cfg NODE_CFG`: the node configuration.
    #[command(flatten)]
    pub node: NodeCfgArg,
    /// URL of the new SlapOS master onto which to graft (e.g. the node's local slapproxy).
    #[arg(long, value_name = "URL")]
    pub new_master_url: String,
    /// URL of the new monitor application, set as `monitor-interface-url` in every instance's parameters.
    #[arg(long, value_name = "URL")]
    pub new_monitor_url: Option<String>,
    /// Print the plan (what would be registered and requested) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to print the plan or the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// TLS and deadline of the new master.
    #[command(flatten)]
    pub master: MasterArgs,
}

/// A progress line is drawn when stderr is a terminal
/// ([`Context::stderr_is_terminal`]). Every line on stderr, errors included,
/// goes through the log ([`Logger`]), so that `-v`/`-q`/`--log-file`/`--log-time`
/// apply to them.
pub(crate) fn run(args: &GraftArgs, cx: &mut Context<'_>) -> CommandResult {
    let quiet = !cx.log.shows(Level::Info);
    let progress = cx.stderr_is_terminal && !quiet;
    graft(args, &mut cx.log, cx.stdout, progress, quiet)
}

fn graft(
    args: &GraftArgs,
    log: &mut Logger<'_>,
    stdout: &mut dyn Write,
    progress: bool,
    quiet: bool,
) -> CommandResult {
    let config = args.node.load()?;
    let mut options = NodeOptions {
        client: args.master.client_options(),
        dry_run: args.dry_run,
        ..NodeOptions::default()
    };
    options
        .plan
        .new_monitor_url
        .clone_from(&args.new_monitor_url);
    let mut view = GraftView::new(log, progress);
    let result = bouture_graft::graft_node(&config, &args.new_master_url, &options, &mut view);
    view.clear();
    let graft = result.map_err(CommandError::failed)?;
    let plan = &graft.plan;

    if args.dry_run {
        let written = match args.format {
            OutputFormat::Json => write_json(stdout, plan),
            OutputFormat::Text if quiet => Ok(()),
            OutputFormat::Text => {
                stdout.write_all(render_plan(plan, &args.new_master_url).as_bytes())
            }
        };
        written.map_err(CommandError::Output)?;
        return Ok(outcome_for_skipped(plan.skipped.len()));
    }
    let Some(report) = &graft.report else {
        // Nothing to send (said by the graft's own line): the master was not contacted.
        return Ok(outcome_for_skipped(plan.skipped.len()));
    };
    let written = match args.format {
        OutputFormat::Json => write_json(stdout, report),
        OutputFormat::Text if quiet => {
            log_problems(report, log);
            Ok(())
        }
        OutputFormat::Text => stdout.write_all(render_report(report).as_bytes()),
    };
    written.map_err(CommandError::Output)?;
    Ok(match report.outcome() {
        GraftOutcome::Complete => Outcome::Done,
        // Skipped, failed, or an outcome this version does not know.
        _ => Outcome::Incomplete,
    })
}

/// `-q`: what the text report holds besides successes, as log lines
/// (skipped partitions were logged before the graft).
fn log_problems(report: &GraftReport, log: &mut Logger<'_>) {
    for partition in &report.partitions {
        if partition.status == PartitionStatus::Failed {
            log.error(&format!(
                "{} FAILED: {}",
                partition.id,
                partition.reason.as_deref().unwrap_or("no reason given")
            ));
        }
        if let Some(warning) = &partition.warning {
            log.warning(&format!("{}: {warning}", partition.id));
        }
    }
    for mismatch in &report.mismatches {
        log.error(&format!("MISMATCH read back from the master: {mismatch}"));
    }
    for warning in &report.warnings {
        log.warning(warning);
    }
}

/// `1 partition`, `2 partitions`.
fn count(n: usize, singular: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {singular}s")
    }
}

/// A plan that skips partitions is not the whole job.
fn outcome_for_skipped(skipped: usize) -> Outcome {
    if skipped == 0 {
        Outcome::Done
    } else {
        Outcome::Incomplete
    }
}

/// How `bouture graft` shows a graft as it goes ([`bouture_graft::graft_node`]'s
/// observer): its operator lines at INFO, skipped partitions at WARNING, its detail
/// (requests, decisions, phase times) at DEBUG, and a one-line progress display on a
/// terminal, cleared before any log line.
struct GraftView<'l, 'w> {
    log: &'l mut Logger<'w>,
    progress: bool,
    total: usize,
    drawn: bool,
}

impl<'l, 'w> GraftView<'l, 'w> {
    /// `progress`: draw the progress line (stderr is a terminal).
    fn new(log: &'l mut Logger<'w>, progress: bool) -> Self {
        Self {
            log,
            progress,
            total: 0,
            drawn: false,
        }
    }

    /// Clear the progress line, if drawn.
    fn clear(&mut self) {
        if self.drawn {
            let out = self.log.stream();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.drawn = false;
        }
    }

    fn line(&mut self, level: Level, line: &str) {
        if self.log.shows(level) {
            self.clear();
        }
        match level {
            Level::Debug => self.log.debug(line),
            Level::Warning => self.log.warning(line),
            _ => self.log.info(line),
        }
    }
}

impl GraftObserver for GraftView<'_, '_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        match event {
            GraftEvent::Detail { line } => self.line(Level::Debug, line),
            GraftEvent::Skipped { id, reason } => {
                self.line(Level::Warning, &format!("skipped {id}: {reason}"));
            }
            GraftEvent::Planned {
                to_graft,
                skipped,
                shared_instances,
                partitions_on_node,
                instance_root,
                ..
            } => {
                self.line(
                    Level::Debug,
                    &format!(
                        "plan: {to_graft} of the {partitions_on_node} partitions of {} to graft, \
                         {skipped} skipped, {shared_instances} shared instances",
                        instance_root.display()
                    ),
                );
                if let Some(message) = event.message() {
                    self.line(Level::Info, &message);
                }
            }
            _ => {
                if let Some(message) = event.message() {
                    self.line(Level::Info, &message);
                }
            }
        }
        match event {
            GraftEvent::Registered { partitions } => self.total = partitions,
            GraftEvent::Partition { index, id, title } if self.progress => {
                let out = self.log.stream();
                let _ = write!(out, "\r\x1b[2K[{}/{}] {id}: {title}", index + 1, self.total);
                let _ = out.flush();
                self.drawn = true;
            }
            GraftEvent::Finished => self.clear(),
            _ => {}
        }
    }
}

/// The plan, as `--dry-run` prints it.
pub(crate) fn render_plan(plan: &GraftPlan, url: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dry run: nothing is sent to {url} and nothing on the node is changed."
    );
    let address = match (plan.address, plan.netmask) {
        (Some(addr), Some(netmask)) => format!(" (address {})", PartitionAddress { addr, netmask }),
        (Some(addr), None) => format!(" (address {addr})"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "\n1. Wipe computer {} on the master, then register it{address} with {} partitions:",
        plan.computer_id,
        plan.partitions.len()
    );
    for partition in &plan.partitions {
        let addresses: Vec<String> = partition
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(
            out,
            "   {:<12} interface {:<12} {}",
            partition.id.as_str(),
            partition.interface,
            addresses.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n2. Supply {} software releases:",
        plan.software_releases.len()
    );
    for url in &plan.software_releases {
        let _ = writeln!(out, "   {url}");
    }
    let _ = writeln!(
        out,
        "\n3. Request each instance in its partition, attach its shared instances, bang it:"
    );
    for partition in &plan.partitions {
        let instance = &partition.instance;
        let _ = writeln!(
            out,
            "   {:<12} \"{}\" ({}, {}) {}",
            partition.id.as_str(),
            instance.title,
            if instance.software_type.is_empty() {
                "default type"
            } else {
                &instance.software_type
            },
            instance.state,
            serde_json::to_string(&instance.parameters).unwrap_or_default()
        );
        for shared in &partition.shared_instances {
            let _ = writeln!(
                out,
                "   {:<12}   shared \"{}\" ({}) {}",
                "",
                shared.title,
                shared.software_type,
                serde_json::to_string(&shared.parameters).unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        out,
        "\n4. Remove the local timestamps so that the node reprocesses the partitions:"
    );
    for partition in &plan.partitions {
        let _ = writeln!(out, "   {}", partition.timestamp_file.display());
    }
    if !plan.skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped (invalid on the node, left untouched):");
        for skipped in &plan.skipped {
            let _ = writeln!(out, "   {}: {}", skipped.id, skipped.reason);
        }
    }
    let _ = writeln!(
        out,
        "\n{} partitions to graft, {} shared instances, {} skipped",
        plan.partitions.len(),
        plan.shared_instance_count(),
        plan.skipped.len()
    );
    out
}

/// The report of a graft, as text.
pub(crate) fn render_report(report: &GraftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Computer {} on {}:",
        report.computer_id, report.master_url
    );
    for partition in &report.partitions {
        let status = match partition.status {
            PartitionStatus::Grafted => "grafted",
            PartitionStatus::Skipped => "skipped",
            PartitionStatus::Failed => "FAILED",
            _ => "unknown",
        };
        let title = partition
            .instance_title
            .as_deref()
            .map(|title| format!(" \"{title}\""))
            .unwrap_or_default();
        let shared = match partition.shared_instances {
            0 => String::new(),
            1 => ", 1 shared instance".to_string(),
            n => format!(", {n} shared instances"),
        };
        let _ = writeln!(
            out,
            "  {:<12} {status:<8}{title}{shared}",
            partition.id.as_str()
        );
        if let Some(reason) = &partition.reason {
            let _ = writeln!(out, "  {:<12} {reason}", "");
        }
        if let Some(warning) = &partition.warning {
            let _ = writeln!(out, "  {:<12} warning: {warning}", "");
        }
    }
    let placement = match &report.placement {
        Placement::SingleRegistration => "one registration".to_string(),
        Placement::IncrementalFallback {
            from,
            misplaced_into,
        } => format!(
            "registration one partition at a time from {from} on (the master put its instance in {misplaced_into})"
        ),
        Placement::Nothing => "nothing registered".to_string(),
        _ => "unknown".to_string(),
    };
    let totals = &report.totals;
    let _ = writeln!(
        out,
        "{} grafted, {} skipped, {} failed; {}; {} supplied; {} ({placement})",
        totals.grafted,
        totals.skipped,
        totals.failed,
        count(totals.shared_instances, "shared instance"),
        count(report.software_releases.len(), "software release"),
        count(
            usize::try_from(report.http_requests).unwrap_or(usize::MAX),
            "HTTP request"
        ),
    );
    for mismatch in &report.mismatches {
        let _ = writeln!(out, "MISMATCH read back from the master: {mismatch}");
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    if totals.skipped > 0 {
        let verb = if totals.skipped == 1 { "was" } else { "were" };
        let _ = writeln!(
            out,
            "{} {verb} skipped: fix their files (see above) and graft again.",
            count(totals.skipped, "partition")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::log::{LogSettings, Style};

    fn draw(is_terminal: bool, settings: &LogSettings) -> String {
        let mut out = Vec::new();
        {
            let mut log = Logger::new(&mut out, settings, Style::Slapos).unwrap();
            let mut view = GraftView::new(&mut log, is_terminal);
            view.event(GraftEvent::Registered { partitions: 2 });
            view.event(GraftEvent::Partition {
                index: 0,
                id: "slappart0",
                title: "Main",
            });
            view.event(GraftEvent::Detail {
                line: "request POST /requestComputerPartition: 200",
            });
            view.event(GraftEvent::Finished);
        }
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn the_progress_line_is_drawn_only_on_a_terminal() {
        // -q: no INFO line, only the progress line.
        let settings = LogSettings {
            verbosity: -1,
            ..LogSettings::default()
        };
        assert_eq!(
            draw(true, &settings),
            "\r\x1b[2K[1/2] slappart0: Main\r\x1b[2K",
            "drawn, then cleared"
        );
        assert_eq!(draw(false, &settings), "", "nothing on a pipe or a file");
    }

    #[test]
    fn log_lines_clear_the_progress_line_first() {
        let settings = LogSettings {
            verbosity: 1,
            log_time: true,
            ..LogSettings::default()
        };
        let pid = std::process::id();
        assert_eq!(
            draw(true, &settings),
            format!(
                "bouture[{pid}] INFO Bouturing partition slappart0 -- number 1: instance \"Main\"\n\
                 \r\x1b[2K[1/2] slappart0: Main\r\x1b[2K\
                 bouture[{pid}] DEBUG request POST /requestComputerPartition: 200\n"
            )
        );
    }
}

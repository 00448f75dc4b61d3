//! `bouture graft`: copy the node's opted-in partitions into a new master.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use bouture_core::{Inventory, PartitionAddress};
use bouture_failover::Level;
use bouture_graft::{
    GraftEvent, GraftNarration, GraftObserver, GraftOutcome, GraftPlan, GraftReport,
    PartitionStatus, Placement,
};
use bouture_master_client::{MasterClient, RequestTrace};

use crate::commands::NodeCfgArg;
use crate::commands::master_args::{MasterArgs, lock_node_for};
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
    let started = Instant::now();
    let config = args.node.load()?;
    let _lock = (!args.dry_run)
        .then(|| lock_node_for(&config, log))
        .transpose()?;
    let inventory = Inventory::scan(&config).map_err(CommandError::failed)?;
    let mut options = bouture_graft::Options::default();
    options.new_monitor_url.clone_from(&args.new_monitor_url);
    let plan = GraftPlan::build(&inventory, &options);
    log.debug(&format!(
        "plan: {} of the {} partitions of {} to graft, {} skipped, {} shared instances",
        plan.partitions.len(),
        inventory.partitions.len(),
        config.instance_root.display(),
        plan.skipped.len(),
        plan.shared_instance_count()
    ));
    for skipped in &plan.skipped {
        log.warning(&format!("skipped {}: {}", skipped.id, skipped.reason));
    }

    if args.dry_run {
        let written = match args.format {
            OutputFormat::Json => write_json(stdout, &plan),
            OutputFormat::Text if quiet => Ok(()),
            OutputFormat::Text => {
                stdout.write_all(render_plan(&plan, &args.new_master_url).as_bytes())
            }
        };
        written.map_err(CommandError::Output)?;
        return Ok(outcome_for_skipped(plan.skipped.len()));
    }

    if plan.partitions.is_empty() {
        if plan.skipped.is_empty() {
            log.info(&format!(
                "No bouture partitions found on this node: no partition of {} holds a bouture.json; nothing was sent.",
                config.instance_root.display()
            ));
        } else {
            log.warning(&format!(
                "All {} opted-in partitions are invalid: nothing was sent to {}.",
                plan.skipped.len(),
                args.new_master_url
            ));
        }
        return Ok(outcome_for_skipped(plan.skipped.len()));
    }

    let trace = RequestTrace::default();
    let client = MasterClient::with_options(&args.new_master_url, &args.master.client_options())
        .map_err(CommandError::failed)?
        .observed_by(Arc::new(trace.clone()));
    log.info(&format!(
        "Grafting computer {} onto {} ({}, {} skipped)",
        plan.computer_id,
        args.new_master_url,
        count(plan.partitions.len(), "partition"),
        plan.skipped.len()
    ));
    let mut view = GraftView::new(log, GraftNarration::new(trace), progress);
    let report = bouture_graft::apply(&plan, &client, &mut view);
    view.finish();
    log.debug(&format!(
        "graft took {} ms: {}, {} ms of them waiting for the master",
        started.elapsed().as_millis(),
        count(
            usize::try_from(client.request_count()).unwrap_or(usize::MAX),
            "HTTP request"
        ),
        client.request_time().as_millis()
    ));
    let report = report.map_err(CommandError::failed)?;

    let written = match args.format {
        OutputFormat::Json => write_json(stdout, &report),
        OutputFormat::Text if quiet => {
            log_problems(&report, log);
            Ok(())
        }
        OutputFormat::Text => stdout.write_all(render_report(&report).as_bytes()),
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

/// What the graft shows as it goes: its detail (requests, decisions, phase
/// times) as DEBUG log lines, and a one-line progress display on a terminal.
struct GraftView<'l, 'w> {
    log: &'l mut Logger<'w>,
    narration: GraftNarration,
    progress: bool,
    total: usize,
    drawn: bool,
}

impl<'l, 'w> GraftView<'l, 'w> {
    /// `progress`: draw the progress line (stderr is a terminal).
    fn new(log: &'l mut Logger<'w>, narration: GraftNarration, progress: bool) -> Self {
        Self {
            log,
            narration,
            progress,
            total: 0,
            drawn: false,
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            let out = self.log.stream();
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
            self.drawn = false;
        }
    }

    fn detail(&mut self, lines: Vec<String>) {
        if lines.is_empty() {
            return;
        }
        if self.log.shows(Level::Debug) {
            self.clear();
        }
        for line in lines {
            self.log.debug(&line);
        }
    }

    /// After the graft, its last requests (a graft stopped by an error).
    fn finish(&mut self) {
        self.clear();
        let rest = self.narration.rest();
        self.detail(rest);
    }
}

impl GraftObserver for GraftView<'_, '_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        let lines = self.narration.lines(event);
        self.detail(lines);
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
            let mut view = GraftView::new(
                &mut log,
                GraftNarration::new(RequestTrace::default()),
                is_terminal,
            );
            view.event(GraftEvent::Registered { partitions: 2 });
            view.event(GraftEvent::Partition {
                index: 0,
                id: "slappart0",
                title: "Main",
            });
            view.event(GraftEvent::Finished);
        }
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn the_progress_line_is_drawn_only_on_a_terminal() {
        let settings = LogSettings::default();
        assert_eq!(
            draw(true, &settings),
            "\r\x1b[2K[1/2] slappart0: Main\r\x1b[2K",
            "drawn, then cleared"
        );
        assert_eq!(draw(false, &settings), "", "nothing on a pipe or a file");
    }

    #[test]
    fn debug_lines_clear_the_progress_line_first() {
        let settings = LogSettings {
            verbosity: 1,
            log_time: true,
            ..LogSettings::default()
        };
        let drawn = draw(true, &settings);
        let pid = std::process::id();
        // The phase's time varies: keep its digits out of the comparison.
        let (drawn, millis) = drawn.rsplit_once("(2): ").unwrap();
        assert!(
            millis.strip_suffix(" ms\n").unwrap().parse::<u64>().is_ok(),
            "{millis}"
        );
        assert_eq!(
            format!("{drawn}(2): 0 ms\n"),
            format!(
                "bouture[{pid}] DEBUG partition slappart0 (number 1): requesting \"Main\"\n\
                 \r\x1b[2K[1/2] slappart0: Main\r\x1b[2K\
                 bouture[{pid}] DEBUG phase the requests of the partitions (2): 0 ms\n"
            )
        );
    }
}

//! `bouture graft`: copy the node's opted-in partitions into a new master.

use std::fmt::Write as _;
use std::io::Write;

use bouture_core::{Inventory, PartitionAddress};
use bouture_graft::{
    GraftEvent, GraftObserver, GraftOptions, GraftOutcome, GraftPlan, GraftReport, PartitionStatus,
    Placement,
};
use bouture_master_client::{ClientOptions, MasterClient};

use crate::Streams;
use crate::commands::NodeCfgArg;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture graft` (the flags of the original `slapos bouture graft`).
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  bouture graft --new-master-url http://10.0.0.1:4000
  bouture graft --cfg /etc/opt/slapos/slapos.cfg --new-master-url http://10.0.0.1:4000 --dry-run
  bouture graft --new-master-url http://10.0.0.1:4000 --new-monitor-url https://[2001:db8::1]:4001 --format json

A partition takes part when it holds a bouture.json. Every opted-in partition is
checked before anything is sent; invalid ones are skipped and reported.

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
    /// Give up on a master call after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

/// `stderr_is_terminal`: whether `streams.stderr` is a terminal, where a
/// progress line may be drawn.
pub(crate) fn run(
    args: &GraftArgs,
    streams: &mut Streams<'_>,
    stderr_is_terminal: bool,
) -> CommandResult {
    let config = args.node.load()?;
    let inventory = Inventory::scan(&config).map_err(CommandError::failed)?;
    let mut options = GraftOptions::default();
    options.new_monitor_url.clone_from(&args.new_monitor_url);
    let plan = GraftPlan::build(&inventory, &options);

    if args.dry_run {
        let written = match args.format {
            OutputFormat::Json => write_json(streams.stdout, &plan),
            OutputFormat::Text => streams
                .stdout
                .write_all(render_plan(&plan, &args.new_master_url).as_bytes()),
        };
        written.map_err(CommandError::Output)?;
        return Ok(outcome_for_skipped(plan.skipped.len()));
    }

    if plan.partitions.is_empty() {
        if plan.skipped.is_empty() {
            let _ = writeln!(
                streams.stderr,
                "No bouture partitions found on this node: no partition of {} holds a bouture.json; nothing was sent.",
                config.instance_root.display()
            );
        } else {
            for skipped in &plan.skipped {
                let _ = writeln!(streams.stderr, "skipped {}: {}", skipped.id, skipped.reason);
            }
            let _ = writeln!(
                streams.stderr,
                "All {} opted-in partitions are invalid: nothing was sent to {}.",
                plan.skipped.len(),
                args.new_master_url
            );
        }
        return Ok(outcome_for_skipped(plan.skipped.len()));
    }

    let client = MasterClient::with_options(
        &args.new_master_url,
        &ClientOptions::default().timeout(std::time::Duration::from_secs(args.timeout)),
    )
    .map_err(CommandError::failed)?;
    let _ = writeln!(
        streams.stderr,
        "Grafting computer {} onto {} ({}, {} skipped)",
        plan.computer_id,
        args.new_master_url,
        count(plan.partitions.len(), "partition"),
        plan.skipped.len()
    );
    let mut progress = Progress::new(streams.stderr, stderr_is_terminal);
    let report = bouture_graft::apply(&plan, &client, &mut progress);
    progress.clear();
    let report = report.map_err(CommandError::failed)?;

    let written = match args.format {
        OutputFormat::Json => write_json(streams.stdout, &report),
        OutputFormat::Text => streams.stdout.write_all(render_report(&report).as_bytes()),
    };
    written.map_err(CommandError::Output)?;
    Ok(match report.outcome() {
        GraftOutcome::Complete => Outcome::Done,
        // Skipped, failed, or an outcome this version does not know.
        _ => Outcome::Incomplete,
    })
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

/// A one-line progress display on a terminal; silent otherwise.
struct Progress<'a> {
    out: &'a mut dyn Write,
    enabled: bool,
    total: usize,
    drawn: bool,
}

impl<'a> Progress<'a> {
    /// A progress line on `out`, drawn only when `out` is a terminal.
    fn new(out: &'a mut dyn Write, is_terminal: bool) -> Self {
        Self {
            out,
            enabled: is_terminal,
            total: 0,
            drawn: false,
        }
    }

    fn clear(&mut self) {
        if self.drawn {
            let _ = write!(self.out, "\r\x1b[2K");
            let _ = self.out.flush();
            self.drawn = false;
        }
    }
}

impl GraftObserver for Progress<'_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        if !self.enabled {
            return;
        }
        match event {
            GraftEvent::Registered { partitions } => self.total = partitions,
            GraftEvent::Partition { index, id, title } => {
                let _ = write!(
                    self.out,
                    "\r\x1b[2K[{}/{}] {id}: {title}",
                    index + 1,
                    self.total
                );
                let _ = self.out.flush();
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

    fn draw(is_terminal: bool) -> String {
        let mut out = Vec::new();
        let mut progress = Progress::new(&mut out, is_terminal);
        progress.event(GraftEvent::Registered { partitions: 2 });
        progress.event(GraftEvent::Partition {
            index: 0,
            id: "slappart0",
            title: "Main",
        });
        progress.event(GraftEvent::Finished);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn the_progress_line_is_drawn_only_on_a_terminal() {
        assert_eq!(
            draw(true),
            "\r\x1b[2K[1/2] slappart0: Main\r\x1b[2K",
            "drawn, then cleared"
        );
        assert_eq!(draw(false), "", "nothing on a pipe or a file");
    }
}

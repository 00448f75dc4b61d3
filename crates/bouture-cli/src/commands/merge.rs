//! `bouture merge`: merge Ganeti cluster configurations.

use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use bouture_merge::{
    DEFAULT_MAX_INPUT_SIZE, Error, GroupAction, GroupStrategy, MAX_TEXT_SIZE, ParameterPolicy,
    PortKind, PortRange, Report,
};

use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;
use crate::output::{OutputFormat, error_chain, write_json};

const EXAMPLES: &str = "\
Examples:
  # See what merging cluster B into ours would do; nothing is written
  bouture merge --config /var/lib/ganeti/config.data --merge b_config.data \\
      --output merged.data --groups rename --dry-run

  # Merge two clusters, joining node groups of the same name, as JSON
  bouture merge --config ours.data --merge b.data --merge c.data \\
      --output merged.data --groups merge --format json

  # Many DRBD disks: let the merged cluster use ports 11000-30999
  bouture merge --config ours.data --merge big.data --output merged.data \\
      --port-range 11000-30999 --parameter-conflicts warn

Output: a text report (objects added and port changes summarised, 10 of
each named; -v lists every one and prints the time of each phase on
stderr, -q prints only warnings), or --format json (every object added,
every port change, repairs, warnings).

Exit status: 0 merged (or dry run done), 1 refused (conflicts, not enough
ports, unsupported version, an input that breaks a rule, unreadable input
or output), 2 usage error. See docs/merge.md for what is checked and changed.";

/// Arguments of `bouture merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct MergeArgs {
    /// Our cluster's config.data (Ganeti 3.0); never modified.
    #[arg(long, value_name = "OURS")]
    pub config: PathBuf,
    /// A merging cluster's config.data (repeat for several clusters); never modified.
    #[arg(long = "merge", value_name = "THEIRS", required = true)]
    pub merge: Vec<PathBuf>,
    /// Where to write the merged config.data (mode 0640, written atomically; must not be an input).
    #[arg(long, value_name = "MERGED")]
    pub output: PathBuf,
    /// What to do with node groups whose name is in both clusters (default: refuse).
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub groups: Option<GroupStrategy>,
    /// Whether differing "strict" cluster parameters refuse the merge or only warn.
    #[arg(long, value_enum, default_value_t, value_name = "POLICY")]
    pub parameter_conflicts: ParameterPolicy,
    /// Ports the merged cluster may allocate for DRBD disks and consoles.
    #[arg(long, value_name = "FIRST-LAST", default_value = "11000-14999", value_parser = parse_range)]
    pub port_range: PortRange,
    /// Check everything (the output path too) and print the report; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The largest input file read (BYTES, or with a K, M or G suffix; at
    /// most 2G - 1 byte); larger files, like anything but a regular file,
    /// are refused unread.
    #[arg(long, value_name = "SIZE", default_value_t = DEFAULT_MAX_INPUT_SIZE, value_parser = parse_size)]
    pub max_input_size: u64,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

fn parse_range(text: &str) -> Result<PortRange, String> {
    text.parse::<PortRange>().map_err(|e| e.to_string())
}

/// `BYTES`, or a number with a `K`, `M` or `G` suffix (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let size = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            format!("invalid size {text:?}: expected BYTES, or a number followed by K, M or G")
        })?;
    let most = u64::try_from(MAX_TEXT_SIZE).unwrap_or(u64::MAX);
    if size > most {
        return Err(format!(
            "invalid size {text:?}: bouture merges configurations of at most {most} bytes (2 GiB - 1)"
        ));
    }
    Ok(size)
}

/// How much `bouture merge` prints besides its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verbosity {
    /// `-q`: no text report; warnings and repairs only, on stderr.
    Quiet,
    /// The text report, port changes summarised.
    Normal,
    /// `-v`: every port change, and the time of each phase on stderr.
    Verbose,
}

impl Verbosity {
    /// From the run's verbosity (`-v` count plus `--debug` minus `-q` count).
    fn new(verbosity: i16) -> Self {
        match verbosity {
            ..0 => Self::Quiet,
            0 => Self::Normal,
            _ => Self::Verbose,
        }
    }
}

/// Run `bouture merge`: a merged report is [`Outcome::Done`]; a refused merge
/// is a [`CommandError`] (exit 1, from [`crate::exit::finish`]), its message
/// written by [`Refused`].
/// The parsed inputs are not freed here but moved into `leftovers`, so that
/// the binary can leave them to the process exit.
pub(crate) fn run(
    args: &MergeArgs,
    cx: &mut Context<'_>,
    leftovers: &mut Option<bouture_merge::internals::Parsed>,
) -> CommandResult {
    let verbosity = Verbosity::new(cx.log.verbosity());
    let options = bouture_merge::Options {
        groups: args.groups,
        parameter_conflicts: args.parameter_conflicts,
        port_range: args.port_range,
        max_input_size: args.max_input_size,
        dry_run: args.dry_run,
        ..bouture_merge::Options::default()
    };
    let theirs: Vec<&Path> = args.merge.iter().map(PathBuf::as_path).collect();
    match bouture_merge::internals::merge_files_keeping(
        &args.config,
        &theirs,
        Some(&args.output),
        &options,
    ) {
        Ok((report, parsed)) => {
            *leftovers = Some(parsed);
            render(&report, args.format, verbosity, cx).map_err(CommandError::Output)?;
            Ok(Outcome::Done)
        }
        Err(error) => {
            let details = details(&error);
            Err(refusal(error).with_details(details))
        }
    }
}

/// What kind of failure a refused merge is: the inputs' content (unreadable,
/// breaking a rule, another version) is the configuration the command reads;
/// the rest (conflicts between valid inputs, ports, the output) is the
/// operation failing. Both exit 1.
fn refusal(error: Error) -> CommandError {
    match error {
        Error::Read(_) | Error::Invalid { .. } | Error::UnsupportedVersion { .. } => {
            CommandError::config(Refused(error))
        }
        _ => CommandError::failed(Refused(error)),
    }
}

fn render(
    report: &Report,
    format: OutputFormat,
    verbosity: Verbosity,
    cx: &mut Context<'_>,
) -> std::io::Result<()> {
    let start = Instant::now();
    match (format, verbosity) {
        // Through a buffer of its own: stdout is line-buffered, and a report
        // of thousands of port changes would cost a write per line; a
        // bounded buffer, not the whole report, because the parsed inputs
        // are still in memory here (left to the process exit).
        (OutputFormat::Json, _) => {
            let mut out = std::io::BufWriter::with_capacity(64 * 1024, &mut *cx.stdout);
            write_json(&mut out, report)?;
            std::io::Write::flush(&mut out)?;
        }
        (OutputFormat::Text, Verbosity::Quiet) => log_warnings(report, &mut cx.log),
        (OutputFormat::Text, _) => cx
            .stdout
            .write_all(render_report(report, verbosity == Verbosity::Verbose).as_bytes())?,
    }
    // The library's phases, then the rendering of the report here: a
    // DEBUG line (on stderr with -v, in --log-file always).
    let mut phases: Vec<(&str, Duration)> = report.phases.iter().collect();
    phases.push(("render", start.elapsed()));
    let total: Duration = phases.iter().map(|(_, d)| *d).sum();
    let mut line = format!("phases (total {:.1} ms):", total.as_secs_f64() * 1e3);
    for (name, duration) in phases {
        let share = if total.is_zero() {
            0.0
        } else {
            duration.as_secs_f64() / total.as_secs_f64() * 100.0
        };
        let _ = write!(
            line,
            " {name} {:.1} ms ({share:.0}%),",
            duration.as_secs_f64() * 1e3
        );
    }
    line.pop();
    cx.log.debug(&line);
    Ok(())
}

/// `-q`: the report's warnings and repairs as WARNING log lines (`-qq`:
/// none), the report itself not printed.
fn log_warnings(report: &Report, log: &mut Logger<'_>) {
    for warning in &report.warnings {
        log.warning(&warning.message);
    }
    for repair in &report.repairs {
        log.warning(&format!(
            "{} ({}: {:?})",
            repair.message, repair.field, repair.ports
        ));
    }
}

/// The `details` of a refusal's JSON error document: the error's own
/// fields where a script can act on them.
fn details(error: &Error) -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    let mut field = |name: &str, value: serde_json::Value| {
        body.insert(name.to_owned(), value);
    };
    match error {
        Error::Conflicts { conflicts } => field("conflicts", json!(conflicts)),
        Error::PortsExhausted {
            needed,
            available,
            range,
            highest_used_port,
        } => {
            field("needed", json!(needed));
            field("available", json!(available));
            field("range", json!(range.to_string()));
            field("highest_used_port", json!(highest_used_port));
        }
        Error::Invalid {
            path,
            line,
            column,
            object,
            rule,
        } => {
            field("path", json!(path));
            field("line", json!(line));
            field("column", json!(column));
            field("object", json!(object));
            field("rule", json!(rule));
        }
        _ => {}
    }
    body
}

/// A refused merge as `bouture merge` words it: conflicts one per line, a
/// hint for a file over `--max-input-size`, otherwise the library's message.
/// Its source is the library error's, so the chain printed is the same.
#[derive(Debug)]
struct Refused(Error);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Error::Conflicts { conflicts } => {
                write!(
                    f,
                    "merge refused, nothing was written: {} conflict{}",
                    conflicts.len(),
                    if conflicts.len() == 1 { "" } else { "s" }
                )?;
                for conflict in conflicts {
                    write!(f, "\n  - {}", conflict.message)?;
                }
                Ok(())
            }
            Error::Read(bouture_merge::ReadError::TooLarge { .. }) => write!(
                f,
                "{} (raise --max-input-size if the file is right)",
                error_chain(&self.0)
            ),
            error => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

/// How many port changes the text report lists without `-v`.
const PORTS_SHOWN: usize = 10;

/// How many nodes, instances, disks, ... added the text report names per
/// kind without `-v`.
const NAMES_SHOWN: usize = 10;

/// A merge report as text for people, with at most [`PORTS_SHOWN`]
/// port changes and [`NAMES_SHOWN`] names of each kind of object added
/// listed, and how many more there are; `every_port` (`-v`): every port
/// change and every object added.
#[allow(clippy::too_many_lines, reason = "the report's sections in order")]
pub(crate) fn render_report(report: &Report, every_port: bool) -> String {
    let mut out = String::new();
    let _ = if report.dry_run {
        writeln!(
            out,
            "Dry run: merging into cluster '{}' (Ganeti {}); nothing written.",
            report.cluster, report.version
        )
    } else {
        writeln!(
            out,
            "Merged into cluster '{}' (Ganeti {}), written to {}.",
            report.cluster,
            report.version,
            report
                .output
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string())
        )
    };
    for cluster in &report.merged {
        let _ = writeln!(
            out,
            "\nFrom cluster '{}' ({}):",
            cluster.name,
            cluster.path.display()
        );
        list(
            &mut out,
            "nodes added, offline and not candidates",
            &cluster.nodes_added,
            every_port,
        );
        let groups: Vec<String> = cluster
            .groups
            .iter()
            .map(|g| match &g.action {
                GroupAction::Add => format!("{} (added)", g.name),
                GroupAction::Rename { new_name } => format!("{} (added as {new_name})", g.name),
                GroupAction::MergeInto { target_uuid, .. } => format!(
                    "{} (nodes join group '{}', {target_uuid})",
                    g.name,
                    g.joined.as_deref().unwrap_or("?")
                ),
                _ => g.name.clone(),
            })
            .collect();
        list(&mut out, "node groups", &groups, every_port);
        list(
            &mut out,
            "instances added",
            &cluster.instances_added,
            every_port,
        );
        list(&mut out, "disks added", &cluster.disks_added, every_port);
        list(
            &mut out,
            "networks added",
            &cluster.networks_added,
            every_port,
        );
    }
    let drbd = report
        .port_changes
        .iter()
        .filter(|c| c.kind == PortKind::Drbd)
        .count();
    let _ = writeln!(
        out,
        "\nPorts reallocated: {} ({drbd} DRBD, {} console)",
        report.port_changes.len(),
        report.port_changes.len() - drbd
    );
    let shown = if every_port {
        report.port_changes.len()
    } else {
        PORTS_SHOWN
    };
    for change in report.port_changes.iter().take(shown) {
        let what = match change.kind {
            PortKind::Drbd => format!("drbd {}", change.disk.as_deref().unwrap_or("?")),
            _ => "console".to_owned(),
        };
        let _ = writeln!(
            out,
            "  {}/{}: {what}: {} -> {}",
            change.cluster,
            change.instance.as_deref().unwrap_or("(no instance)"),
            change.old,
            change.new
        );
    }
    if report.port_changes.len() > shown {
        let _ = writeln!(
            out,
            "  ... and {} more (-v or --format json lists every one)",
            report.port_changes.len() - shown
        );
    }
    for repair in &report.repairs {
        let _ = writeln!(
            out,
            "Port bookkeeping of cluster '{}': {} ({}: {})",
            report.cluster,
            repair.message,
            repair.field,
            summarize_ports(&repair.ports)
        );
    }
    let _ = writeln!(
        out,
        "Port range {}: highest_used_port {} -> {}, free pool {} -> {} ports",
        report.ports.range,
        report.ports.highest_used_port_before,
        report.ports.highest_used_port_after,
        report.ports.pool_before,
        report.ports.pool_after
    );
    if !report.parameters_merged.is_empty() {
        let _ = writeln!(
            out,
            "Cluster parameters merged: {}",
            report.parameters_merged.join(", ")
        );
    }
    if report.warnings.is_empty() {
        let _ = writeln!(out, "Warnings: none");
    } else {
        let _ = writeln!(out, "Warnings ({}):", report.warnings.len());
        for warning in &report.warnings {
            let _ = writeln!(out, "  - {}", warning.message);
        }
    }
    if !report.dry_run {
        let _ = writeln!(
            out,
            "\nNext: install the merged file as config.data on the master, start the master daemon, then `gnt-node add --readd` every merged node."
        );
    }
    out
}

/// At most ten ports, then how many more.
fn summarize_ports(ports: &[u64]) -> String {
    let mut text: Vec<String> = ports.iter().take(10).map(u64::to_string).collect();
    if ports.len() > 10 {
        text.push(format!("and {} more", ports.len() - 10));
    }
    text.join(", ")
}

/// One line naming `items`: all of them if `all`, else the first
/// [`NAMES_SHOWN`] and how many more there are.
fn list(out: &mut String, title: &str, items: &[String], all: bool) {
    if items.is_empty() {
        let _ = writeln!(out, "  {title}: none");
        return;
    }
    let shown = if all {
        items.len()
    } else {
        items.len().min(NAMES_SHOWN)
    };
    let _ = write!(out, "  {title} ({}): ", items.len());
    for (i, item) in items.iter().take(shown).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(item);
    }
    if shown < items.len() {
        let _ = write!(
            out,
            ", ... and {} more (-v or --format json lists every one)",
            items.len() - shown
        );
    }
    out.push('\n');
}

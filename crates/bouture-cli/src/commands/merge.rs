//! `bouture merge`: merge Ganeti cluster configurations.

use std::path::PathBuf;

use bouture_merge::{
    ConfigFile, Error, GroupStrategy, MergeOptions, ParameterPolicy, PortRange, Report,
};

use crate::Streams;
use crate::exit::BoutureExitCode;
use crate::output::{Failure, OutputFormat, error_chain, write_json};

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

Exit status: 0 merged (or dry run done), 1 refused (conflicts, not enough
ports, unsupported version, unreadable input), 2 usage error.
See docs/merge.md for what is checked and changed.";

/// Node group clash strategy on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupsArg {
    /// Members join our group of the same name (which gains their networks).
    Merge,
    /// Their group is renamed `<name>-<their cluster name>`.
    Rename,
}

/// Cluster parameter policy on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ParamsArg {
    /// Differences Ganeti's tool calls strict are errors.
    #[default]
    Strict,
    /// Those differences are warnings; our values are kept.
    Warn,
}

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
    pub groups: Option<GroupsArg>,
    /// Whether differing "strict" cluster parameters refuse the merge or only warn.
    #[arg(long, value_enum, default_value_t, value_name = "POLICY")]
    pub parameter_conflicts: ParamsArg,
    /// Ports the merged cluster may allocate for DRBD disks and consoles.
    #[arg(long, value_name = "FIRST-LAST", default_value = "11000-14999", value_parser = parse_range)]
    pub port_range: PortRange,
    /// Print the report, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

fn parse_range(text: &str) -> Result<PortRange, String> {
    text.parse::<PortRange>().map_err(|e| e.to_string())
}

pub(crate) fn run(args: &MergeArgs, streams: &mut Streams<'_>) -> Result<u8, Failure> {
    let options = MergeOptions {
        groups: args.groups.map(|g| match g {
            GroupsArg::Merge => GroupStrategy::Merge,
            GroupsArg::Rename => GroupStrategy::Rename,
        }),
        parameter_conflicts: match args.parameter_conflicts {
            ParamsArg::Strict => ParameterPolicy::Strict,
            ParamsArg::Warn => ParameterPolicy::Warn,
        },
        port_range: args.port_range,
        now: None,
    };
    let report = merge(args, &options).map_err(|error| refused(&error, args.format, streams))?;
    let written = match args.format {
        OutputFormat::Json => write_json(streams.stdout, &report),
        OutputFormat::Text => {
            std::io::Write::write_all(streams.stdout, report.to_text().as_bytes())
        }
    };
    if written.is_err() {
        // The merge is done; a closed stdout only loses the report.
        return Ok(BoutureExitCode::OK);
    }
    Ok(BoutureExitCode::OK)
}

fn merge(args: &MergeArgs, options: &MergeOptions) -> Result<Report, Error> {
    let inputs: Vec<&std::path::Path> = std::iter::once(args.config.as_path())
        .chain(args.merge.iter().map(PathBuf::as_path))
        .collect();
    // Refused even for a dry run: the real run would be refused too.
    bouture_merge::check_output_is_not_input(&args.output, &inputs)?;
    let mut theirs = ConfigFile::read_all(&inputs)?;
    let ours = theirs.remove(0);
    let plan = bouture_merge::plan(&ours, &theirs, options)?;
    if args.dry_run {
        return Ok(Report::new(&ours, &theirs, &plan, None));
    }
    let bytes = bouture_merge::apply(&ours, &theirs, &plan)?;
    bouture_merge::write_atomically(&args.output, &bytes)?;
    let report = Report::new(&ours, &theirs, &plan, Some(args.output.clone()));
    // The inputs and the output text are large and made of many small
    // allocations; the process ends right after printing the report, so
    // leave them to the operating system instead of freeing them one by one.
    std::mem::forget((ours, theirs, plan, bytes));
    Ok(report)
}

/// Turn a refusal into a failure; conflicts are listed one per line (and as
/// JSON on stdout with `--format json`).
fn refused(error: &Error, format: OutputFormat, streams: &mut Streams<'_>) -> Failure {
    if let Error::Conflicts { conflicts } = error {
        if format == OutputFormat::Json {
            let body = serde_json::json!({ "error": error.to_string(), "conflicts": conflicts });
            let _ = write_json(streams.stdout, &body);
        }
        let mut message = format!(
            "merge refused, nothing was written: {} conflict{}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" }
        );
        for conflict in conflicts {
            message.push_str("\n  - ");
            message.push_str(&conflict.message);
        }
        return Failure {
            message,
            code: BoutureExitCode::FAILURE,
        };
    }
    if format == OutputFormat::Json {
        let body = serde_json::json!({ "error": error_chain(error) });
        let _ = write_json(streams.stdout, &body);
    }
    Failure::operation(error)
}

//! The one output context of a run, built once from the global options and
//! handed to every command: where its report goes, and its log.

use std::io::Write;

use crate::commands::boot::BootAction;
use crate::commands::deploy::DeployAction;
use crate::log::{LogSettings, Logger, Style};
use crate::output::OutputFormat;
use crate::{Cli, Command, Streams};

/// What every command writes through: its report on `stdout`, every other
/// line through `log` (stderr and `--log-file`, at the levels `-v`, `-q`
/// and `--debug` ask for, see [`crate::log`]).
pub(crate) struct Context<'a> {
    /// The command's result (text or JSON report).
    pub(crate) stdout: &'a mut dyn Write,
    /// The log: stderr, and `--log-file`.
    pub(crate) log: Logger<'a>,
    /// Whether stderr is a terminal, where a progress line may be drawn.
    pub(crate) stderr_is_terminal: bool,
    /// The command's `--format` (text for a command without one): the
    /// error that ends the run is also a JSON document on stdout when JSON
    /// was asked for ([`crate::exit::finish`]).
    pub(crate) format: OutputFormat,
}

impl<'a> Context<'a> {
    /// The context the global options of `cli` ask for, its log in the
    /// style of `cli`'s command; fails when `--log-file` cannot be opened.
    pub(crate) fn new(
        cli: &Cli,
        streams: &'a mut Streams<'_>,
        stderr_is_terminal: bool,
    ) -> std::io::Result<Self> {
        let settings = LogSettings {
            verbosity: i16::from(cli.verbose) + i16::from(cli.debug) - i16::from(cli.quiet),
            file: cli.log_file.clone(),
            log_time: cli.log_time,
        };
        Ok(Self {
            stdout: &mut *streams.stdout,
            log: Logger::new(&mut *streams.stderr, &settings, style_of(&cli.command))?,
            stderr_is_terminal,
            format: format_of(&cli.command),
        })
    }

    /// The context of a run that has no command line to go by (clap
    /// refused it, or `--log-file` could not be opened): plain lines on
    /// stderr, no log file.
    pub(crate) fn bare(streams: &'a mut Streams<'_>) -> Self {
        Self {
            stdout: &mut *streams.stdout,
            log: Logger::bare(&mut *streams.stderr),
            stderr_is_terminal: false,
            format: OutputFormat::Text,
        }
    }
}

/// The commands that stand in for `slapos bouture` write slapos's log
/// lines; the others plain ones.
fn style_of(command: &Command) -> Style {
    match command {
        Command::Inventory(_)
        | Command::Graft(_)
        | Command::Configure(_)
        | Command::Failover(_)
        | Command::Status(_) => Style::Slapos,
        _ => Style::Plain,
    }
}

/// The `--format` of a command (text for configure, failover and
/// completions, which have none).
fn format_of(command: &Command) -> OutputFormat {
    match command {
        Command::Inventory(args) => args.format,
        Command::Graft(args) => args.format,
        Command::Status(args) => args.format,
        Command::Merge(args) => args.format,
        Command::ClusterMerge(args) => args.format,
        Command::NodeSetup(args) => args.format,
        Command::Deploy(args) => match &args.action {
            DeployAction::Plan(plan) => plan.provision.format,
            DeployAction::Build(build) => build.provision.format,
            DeployAction::Image(image) => image.format,
        },
        Command::Boot(args) => match &args.action {
            BootAction::List(show) | BootAction::Status(show) => show.format,
            BootAction::SetDefault(switch) | BootAction::Next(switch) => switch.format,
            BootAction::Confirm(confirm) => confirm.format,
        },
        Command::Configure(_) | Command::Failover(_) | Command::Completions(_) => {
            OutputFormat::Text
        }
    }
}

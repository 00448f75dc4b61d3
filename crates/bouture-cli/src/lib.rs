#![doc = include_str!("../README.md")]
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod assets;
mod commands;
mod context;
mod exit;
mod log;
mod output;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use context::Context;
use exit::CommandError;

pub use exit::BoutureExitCode;
pub use output::OutputFormat;

/// The git commit the binary was built from (12 hex digits, `-dirty` when
/// `scripts/package` built it from a modified tree), or `unknown` when it was
/// built outside a git checkout without `BOUTURE_GIT_COMMIT` (see `build.rs`).
pub const GIT_COMMIT: &str = env!("BOUTURE_GIT_COMMIT");

/// The target triple the binary was built for.
pub const BUILD_TARGET: &str = env!("BOUTURE_TARGET");

/// What `bouture --version` prints after the name: the version, the git
/// commit ([`GIT_COMMIT`]) and the target ([`BUILD_TARGET`]).
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BOUTURE_GIT_COMMIT"),
    ", target ",
    env!("BOUTURE_TARGET"),
    ")"
);

/// Move SlapOS nodes between masters and merge Ganeti clusters.
#[derive(Debug, Parser)]
#[command(name = "bouture", bin_name = "bouture", version, long_version = LONG_VERSION, about, long_about = None)]
#[command(after_help = "\
Run `bouture <COMMAND> --help` for the options and examples of a command.

Exit status: 0 done; 1 the operation failed or was incomplete, or its configuration
(the node configuration, an input file) is missing, unreadable or invalid; 2 the
command line is wrong. `bouture failover` adds 10 and 75, `bouture node-setup` keeps
Ganeti's 2 for a configuration error (see their --help).")]
#[non_exhaustive]
pub struct Cli {
    /// Print more detail, for every command: DEBUG log lines on stderr (what
    /// was read and written, requests sent, decisions, phase times), and the
    /// report's detail where it has some (configure: the diff; merge: every
    /// port change; cluster-merge: every command run).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Print only warnings and errors (`-qq`: only errors), for every
    /// command; a text report is dropped where its lines are not the result
    /// (graft, inventory, status, merge, deploy; configure once written).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// Also append every log line, DEBUG included, to FILE, dated, in the
    /// format of `slapos`'s lines, for every command.
    #[arg(
        long = "log-file",
        visible_aliases = ["logfile", "log_file"],
        global = true,
        value_name = "FILE"
    )]
    pub log_file: Option<PathBuf>,
    /// Accepted for `slapos` compatibility: bouture's lines have no colours.
    #[arg(long, global = true)]
    pub log_color: bool,
    /// Toggle the date and time on stderr's log lines: the SlapOS commands
    /// (inventory, graft, configure, failover, status) drop it, as in
    /// `slapos`; the others, whose lines have none, gain it. The log file
    /// always has it.
    #[arg(long, global = true)]
    pub log_time: bool,
    /// As `-v`, for every command (slapos: "show tracebacks on errors";
    /// bouture's errors always carry their whole cause). `-d` as in
    /// Ganeti's tools.
    #[arg(short = 'd', long, global = true)]
    pub debug: bool,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `bouture`.
#[derive(Debug, Subcommand)]
#[non_exhaustive]
pub enum Command {
    /// Show the node as bouture sees it: computer, partitions, addresses, bouture.json status.
    Inventory(commands::inventory::InventoryArgs),
    /// Graft the node's opted-in partitions onto a new master (e.g. a local slapproxy).
    Graft(commands::graft::GraftArgs),
    /// Write the node configuration pointed at a new master, keeping comments and layout.
    Configure(commands::configure::ConfigureArgs),
    /// Process the node with its master, or fail over to a new master while it is offline.
    Failover(commands::failover::FailoverArgs),
    /// Show which master the node follows (after `bouture failover`) and since when.
    Status(commands::status::StatusArgs),
    /// Merge Ganeti 3.0 cluster configurations, reallocating DRBD and console ports.
    Merge(commands::merge::MergeArgs),
    /// Merge live Ganeti clusters into ours: plan, journal, resume, rollback.
    ClusterMerge(commands::cluster_merge::ClusterMergeArgs),
    /// Join this node to a Ganeti cluster from the master's JSON document on stdin.
    NodeSetup(commands::node_setup::NodeSetupArgs),
    /// Plan or build a disk holding several bootable images (Bareon's provision.json).
    Deploy(commands::deploy::DeployArgs),
    /// List a multiboot disk's or node's images; set the default or the next boot.
    Boot(commands::boot::BootArgs),
    /// Print the shell completion script for bash, zsh or fish.
    Completions(commands::completions::CompletionsArgs),
}

/// Where a command writes: its report on `stdout`, everything human on `stderr`.
pub struct Streams<'a> {
    /// The command's result (text or JSON report).
    pub stdout: &'a mut dyn Write,
    /// Logs, warnings and errors.
    pub stderr: &'a mut dyn Write,
}

/// What a run leaves behind for the process exit to free: the parsed inputs
/// of `bouture merge` (tens of milliseconds to free at 10,000 instances per
/// cluster). Dropping it frees them; the binary's `main`, which exits next,
/// forgets it instead. Only [`main_impl`] hands it out: [`run`], for callers
/// embedding the CLI in a longer-lived process, frees everything itself.
#[must_use = "drop it to free the merge's inputs, or forget it only just before the process exits"]
#[derive(Debug, Default)]
pub struct Leftovers(Option<bouture_merge::internals::Parsed>);

/// Run the `bouture` command line with the process's arguments and streams,
/// for the binary's `main`: the exit code, and what is left to free
/// ([`Leftovers`]).
pub fn main_impl() -> (ExitCode, Leftovers) {
    // As Python does: a write past the file size limit (`ulimit -f`) fails
    // with EFBIG, which every command reports (and node-setup rolls back),
    // instead of the signal killing the process midway. The handler only
    // sets a flag nobody reads.
    let _ = signal_hook::flag::register(
        signal_hook::consts::SIGXFSZ,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    );
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    // The very stream the progress line would be drawn on.
    let stderr_is_terminal = err.is_terminal();
    let mut leftovers = Leftovers::default();
    let code = run_with(
        std::env::args_os(),
        &mut Streams {
            stdout: &mut out,
            stderr: &mut err,
        },
        stderr_is_terminal,
        &mut leftovers,
    );
    (ExitCode::from(code), leftovers)
}

/// Run the `bouture` command line with the given arguments (the first is the
/// program name) and streams; returns the process exit code.
///
/// The streams are taken as they are: no progress line or other terminal
/// control is ever written to them.
pub fn run<I, T>(args: I, streams: &mut Streams<'_>) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, streams, false, &mut Leftovers::default())
}

/// [`run`], drawing progress lines on `streams.stderr` when
/// `stderr_is_terminal` says it is a terminal, and leaving what the process
/// exit may free in `leftovers`.
fn run_with<I, T>(
    args: I,
    streams: &mut Streams<'_>,
    stderr_is_terminal: bool,
    leftovers: &mut Leftovers,
) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            return exit::finish(Err(CommandError::Usage(error)), &mut Context::bare(streams));
        }
    };
    let mut cx = match Context::new(&cli, streams, stderr_is_terminal) {
        Ok(cx) => cx,
        Err(error) => {
            return exit::finish(
                Err(CommandError::failed(error)),
                &mut Context::bare(streams),
            );
        }
    };
    let cx = &mut cx;
    let result = match &cli.command {
        Command::Inventory(args) => commands::inventory::run(args, cx),
        Command::Graft(args) => commands::graft::run(args, cx),
        Command::Configure(args) => commands::configure::run(args, cx),
        Command::Failover(args) => commands::failover::run(args, cx),
        Command::Status(args) => commands::status::run(args, cx),
        Command::Merge(args) => commands::merge::run(args, cx, &mut leftovers.0),
        Command::ClusterMerge(args) => commands::cluster_merge::run(args, cx),
        Command::Completions(args) => commands::completions::run(args, cx),
        Command::NodeSetup(args) => commands::node_setup::run(args, cx),
        Command::Deploy(args) => commands::deploy::run(args, cx),
        Command::Boot(args) => commands::boot::run(args, cx),
    };
    exit::finish(result, cx)
}

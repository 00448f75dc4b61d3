//! `bouture node-setup`: join this node to a Ganeti cluster from the JSON
//! document the master sends on standard input.

use std::path::PathBuf;

use bouture_node_setup::{
    DEFAULT_DATA_DIR, DEFAULT_START_COMMAND, Error, Options, Report, SetupInput, StartOutcome,
};

use crate::Streams;
use crate::exit::BoutureExitCode;
use crate::output::{OutputFormat, error_chain, write_json};

const EXAMPLES: &str = "\
Reads the JSON document Ganeti's master sends to node-daemon-setup on standard
input: cluster_name, node_daemon_certificate (key and certificate, PEM),
hmac_key, ssconf (name -> value), start_node_daemon, node_name. Every check
passes before the first byte is written; each file is replaced atomically, and
all are put back if one write fails.

Examples:
  # What the master runs over SSH on the new node
  ssh root@node2 bouture node-setup < setup.json

  # Check a document and see what would be written and run; nothing is written
  bouture node-setup --dry-run < setup.json

  # Another data directory, restarting the daemons with systemd, JSON report
  bouture node-setup --data-dir /srv/ganeti/lib \\
      --start-command 'systemctl restart ganeti-noded' --format json < setup.json

Exit status: 0 node set up (or dry run passed), 1 input refused or operation
failed (the message says what was left as it was), 2 configuration error (an
ssconf value larger than Ganeti reads) or usage error.
See docs/node-setup.md for the checks, files and modes.";

/// Arguments of `bouture node-setup`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct NodeSetupArgs {
    /// Ganeti's data directory, where the ssconf files, hmac.key, server.pem and client.pem go.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Run every check and print what would be written and run; write and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The shell command line (run with `sh -c`) restarting the node daemons when the input's
    /// `start_node_daemon` is true.
    #[arg(long, value_name = "CMD", default_value = DEFAULT_START_COMMAND)]
    pub start_command: String,
    /// How to print the report (-v adds sizes and owners to the text, -q prints it only on failure).
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Set the node up from standard input and print the report.
pub(crate) fn run(args: &NodeSetupArgs, verbose: u8, quiet: u8, streams: &mut Streams<'_>) -> u8 {
    let options = Options {
        data_dir: args.data_dir.clone(),
        dry_run: args.dry_run,
        start_command: args.start_command.clone(),
        cluster_file_owner: bouture_node_setup::masterd_owner("/etc".as_ref()),
        now: None,
    };
    let outcome = SetupInput::read(std::io::stdin().lock())
        .and_then(|input| bouture_node_setup::setup(&input, &options));
    render(&outcome, args.format, verbose > 0, quiet > 0, streams);
    exit_code(&outcome)
}

/// The exit code of every outcome, Ganeti's: 0 done, 1 refused or failed,
/// 2 for a configuration error.
fn exit_code(outcome: &Result<Report, Error>) -> u8 {
    match outcome {
        Ok(report) if report.start.failed() => BoutureExitCode::FAILURE,
        Ok(_) => BoutureExitCode::OK,
        Err(Error::ValueTooLarge { .. }) => BoutureExitCode::NODE_SETUP_CONFIGURATION,
        Err(_) => BoutureExitCode::FAILURE,
    }
}

fn render(
    outcome: &Result<Report, Error>,
    format: OutputFormat,
    verbose: bool,
    quiet: bool,
    streams: &mut Streams<'_>,
) {
    // A report that cannot be printed (closed stdout) changes nothing done.
    match outcome {
        Ok(report) => {
            match format {
                OutputFormat::Json => {
                    let _ = write_json(streams.stdout, report);
                }
                OutputFormat::Text if !quiet || report.start.failed() => {
                    let _ = streams.stdout.write_all(report.to_text(verbose).as_bytes());
                }
                OutputFormat::Text => {}
            }
            if let StartOutcome::Failed {
                command,
                status,
                output,
            } = &report.start
            {
                let _ = writeln!(
                    streams.stderr,
                    "error: Could not start the node daemons, command '{command}' failed: {status}"
                );
                if !output.is_empty() {
                    let _ = writeln!(streams.stderr, "its output ended with:\n{output}");
                }
            }
        }
        Err(error) => {
            let mut message = error_chain(error);
            if !matches!(error, Error::Write { .. } | Error::ReadBack { .. }) {
                message.push_str(" (nothing was written)");
            }
            if format == OutputFormat::Json {
                let _ = write_json(streams.stdout, &serde_json::json!({ "error": message }));
            }
            let _ = writeln!(streams.stderr, "error: {message}");
        }
    }
}

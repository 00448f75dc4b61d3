//! `bouture node-setup`: join this node to a Ganeti cluster from the JSON
//! document the master sends on standard input.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use bouture_node_setup::{
    DEFAULT_DATA_DIR, DEFAULT_START_COMMAND, Error, FileKind, Options, Report, SetupInput,
    StartOutcome,
};

use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
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
      --start-command 'systemctl restart ganeti-noded' \\
      --start-command 'systemctl restart ganeti-mond' --format json < setup.json

With another --data-dir, the default start command (which restarts the
system's daemons) is refused unless --restart-system-daemons is given.

Exit status: 0 node set up (or dry run passed), 1 input refused or operation
failed (the message says what was left as it was), 2 configuration error (an
ssconf value larger than Ganeti reads) or usage error.
See docs/node-setup.md for the checks, files and modes.";

/// Arguments of `bouture node-setup`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
#[non_exhaustive]
pub struct NodeSetupArgs {
    /// Ganeti's data directory, where the ssconf files, hmac.key, server.pem and client.pem go.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Run every check and print what would be written and run; write and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A shell command line (run with `sh -c`) restarting the node daemons when the input's
    /// `start_node_daemon` is true; repeat it for several parts, each run in order and its
    /// status reported (default: Ganeti's `daemon-util stop-all`, `start ganeti-noded`,
    /// `start ganeti-mond`).
    #[arg(long, value_name = "CMD", default_values = DEFAULT_START_COMMAND)]
    pub start_command: Vec<String>,
    /// With another --data-dir, allow the default start command, which restarts the system's
    /// Ganeti daemons (they read /var/lib/ganeti).
    #[arg(long)]
    pub restart_system_daemons: bool,
    /// How to print the report (-v adds sizes and owners to the text, -q prints it only on failure).
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Set the node up from standard input and print the report.
pub(crate) fn run(args: &NodeSetupArgs, cx: &mut Context<'_>) -> CommandResult {
    let mut options = Options::default();
    options.data_dir.clone_from(&args.data_dir);
    options.dry_run = args.dry_run;
    options.start_command.clone_from(&args.start_command);
    options.restart_system_daemons = args.restart_system_daemons;
    let outcome = SetupInput::read(std::io::stdin().lock()).and_then(|input| {
        cx.log.debug(&format!(
            "read the setup document from stdin: cluster {}, node {}, {} ssconf value(s), start the daemons: {}",
            input.cluster_name,
            input.node_name,
            input.ssconf.len(),
            input.start_node_daemon
        ));
        bouture_node_setup::setup(&input, &options)
    });
    match outcome {
        Ok(report) => {
            for file in &report.files {
                cx.log.debug(&format!(
                    "{} {} (mode {:o})",
                    if report.dry_run {
                        "would write"
                    } else {
                        "wrote"
                    },
                    file.path.display(),
                    file.mode
                ));
            }
            render(&report, args.format, cx)
        }
        Err(error) => Err(refused(error)),
    }
}

/// Print the report; a failed start command is an error (the files stay
/// written, the report says so).
fn render(report: &Report, format: OutputFormat, cx: &mut Context<'_>) -> CommandResult {
    let verbose = cx.log.verbosity() > 0;
    let quiet = cx.log.verbosity() < 0;
    // A report that cannot be printed (closed stdout) changes nothing done:
    // a failed start command is still the error to report.
    let printed = match format {
        OutputFormat::Json => write_json(cx.stdout, report),
        OutputFormat::Text if !quiet || report.start.failed() => {
            cx.stdout.write_all(render_text(report, verbose).as_bytes())
        }
        OutputFormat::Text => Ok(()),
    };
    if let StartOutcome::Failed {
        command,
        status,
        output,
        ..
    } = &report.start
    {
        return Err(CommandError::failed(StartFailed {
            command: command.clone(),
            status: status.clone(),
            output: output.clone(),
        }));
    }
    printed.map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

/// The report as text; `verbose` adds sizes and owners.
fn render_text(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let (would, create, replace) = if report.dry_run {
        ("would ", "would create", "would replace")
    } else {
        ("", "created", "replaced")
    };
    if report.dry_run {
        let _ = writeln!(
            out,
            "Dry run: every check passed, nothing was written or run."
        );
    }
    let _ = writeln!(
        out,
        "Node {} {}join{} cluster {} (data directory {}).",
        report.node_name,
        would,
        if report.dry_run { "" } else { "ed" },
        report.cluster_name,
        report.data_dir.display()
    );
    let _ = writeln!(out, "Cluster certificate: {}", report.certificate_subject);
    let _ = writeln!(out, "Files:");
    for file in &report.files {
        let name = file
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = write!(
            out,
            "  {:<13} {name} ({:04o}",
            if file.replaces { replace } else { create },
            file.mode
        );
        if verbose {
            let _ = write!(out, ", {} bytes", file.bytes);
            if let Some((uid, gid)) = file.owner {
                let _ = write!(out, ", owner {uid}:{gid}");
            }
        }
        out.push(')');
        match file.kind {
            FileKind::ClientCertificateBackup => {
                out.push_str(": copy of the previous client.pem");
            }
            FileKind::ClientCertificate => {
                let _ = write!(
                    out,
                    ": new key, CN={}, signed by the cluster certificate",
                    report.node_name
                );
            }
            _ => {}
        }
        out.push('\n');
    }
    match &report.start {
        StartOutcome::NotRequested => {
            out.push_str("Node daemons: not restarted (start_node_daemon is false).\n");
        }
        StartOutcome::WouldRun { command } => {
            let _ = writeln!(out, "Node daemons: would run (with sh -c): {command}");
        }
        StartOutcome::Started { command, .. } => {
            let _ = writeln!(out, "Node daemons: restarted (with sh -c): {command}");
        }
        StartOutcome::Failed { status, parts, .. } => {
            let _ = writeln!(
                out,
                "Node daemons: NOT started, the files above stay written; failed (run with sh -c): {status}"
            );
            for part in parts {
                let _ = writeln!(out, "  {}: {}", part.status, part.command);
            }
        }
        _ => {}
    }
    if report.restarts_system_daemons {
        let _ = writeln!(
            out,
            "Note: the start command restarts the system's Ganeti daemons, which read {}, not {}.",
            bouture_node_setup::DEFAULT_DATA_DIR,
            report.data_dir.display()
        );
    }
    out
}

/// The error of a refused or failed setup, saying in its JSON error
/// document's details whether anything was written; Ganeti's configuration
/// error keeps Ganeti's exit code.
fn refused(error: Error) -> CommandError {
    let nothing_written = !matches!(error, Error::Write { .. } | Error::ReadBack { .. });
    let configuration = matches!(error, Error::ValueTooLarge { .. });
    let error = SetupFailed {
        error,
        nothing_written,
    };
    let details = serde_json::Map::from_iter([(
        "nothing_written".to_owned(),
        serde_json::Value::Bool(nothing_written),
    )]);
    if configuration {
        CommandError::node_setup_configuration(error)
    } else {
        CommandError::failed(error)
    }
    .with_details(details)
}

/// A setup refused or failed, saying whether the data directory was left
/// untouched.
#[derive(Debug)]
struct SetupFailed {
    error: Error,
    nothing_written: bool,
}

impl fmt::Display for SetupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_chain(&self.error))?;
        if self.nothing_written {
            f.write_str(" (nothing was written)")?;
        }
        Ok(())
    }
}

impl std::error::Error for SetupFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The start command failed after every file was written.
#[derive(Debug)]
struct StartFailed {
    command: String,
    status: String,
    output: String,
}

impl fmt::Display for StartFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Could not start the node daemons, command '{}' failed: {}",
            self.command, self.status
        )?;
        if !self.output.is_empty() {
            write!(f, "\nits output ended with:\n{}", self.output)?;
        }
        Ok(())
    }
}

impl std::error::Error for StartFailed {}

//! Running the command that restarts the node daemons.

use std::process::Command;
use std::time::Duration;

use serde::Serialize;

/// The most of the command's output kept for the report (its end).
pub const MAX_OUTPUT_BYTES: usize = 4096;

/// What happened to the node daemons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StartOutcome {
    /// The input's `start_node_daemon` is false (or absent).
    NotRequested,
    /// Dry run: this command would have been run.
    WouldRun {
        /// The shell command line.
        command: String,
    },
    /// The command exited 0.
    Started {
        /// The shell command line.
        command: String,
    },
    /// The command could not be run or did not exit 0. The files stay
    /// written: the node is set up, its daemons are not running.
    Failed {
        /// The shell command line.
        command: String,
        /// How it ended (`exit status: 3`, `signal: 9`, or why it could not run).
        status: String,
        /// The end of its standard output and error, at most
        /// [`MAX_OUTPUT_BYTES`].
        output: String,
    },
}

impl StartOutcome {
    /// Whether the daemons were asked for and could not be started.
    pub fn failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// Run `command` with `sh -c` through bouture-proc: standard input empty,
/// standard output and error together, its last [`MAX_OUTPUT_BYTES`] kept,
/// killed with its process group after `deadline`. A daemon it leaves
/// running may keep the output open: reading stops shortly after the
/// command exits ([`bouture_proc::HELD_OPEN_GRACE`]).
pub(crate) fn run(command: &str, deadline: Duration) -> StartOutcome {
    let failed = |status: String, output: String| StartOutcome::Failed {
        command: command.to_owned(),
        status,
        output,
    };
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(command);
    let options = bouture_proc::Options {
        stdout: bouture_proc::Bound::end(MAX_OUTPUT_BYTES),
        stderr_to_stdout: true,
        ..bouture_proc::Options::new(deadline)
    };
    match bouture_proc::run(sh, None, &options) {
        Ok(output) if output.status.success() => StartOutcome::Started {
            command: command.to_owned(),
        },
        Ok(output) => failed(output.status.to_string(), printed(&output.stdout)),
        Err(bouture_proc::Error::Deadline { stdout, .. }) => failed(
            format!("killed after {} s", deadline.as_secs()),
            printed(&stdout),
        ),
        Err(error) => failed(
            format!("could not be run ({})", bouture_text::error_chain(&error)),
            String::new(),
        ),
    }
}

/// The end of the output kept, as text.
fn printed(output: &bouture_proc::Captured) -> String {
    String::from_utf8_lossy(&output.bytes).trim_end().to_owned()
}

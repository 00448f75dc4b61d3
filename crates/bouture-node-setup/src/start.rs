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
    /// Every part exited 0.
    Started {
        /// The parts, `; `-separated.
        command: String,
        /// Each part and how it ended.
        parts: Vec<StartPart>,
    },
    /// A part could not be run or did not exit 0 (every part ran). The
    /// files stay written: the node is set up, its daemons may not be
    /// running.
    Failed {
        /// The parts, `; `-separated.
        command: String,
        /// The failed parts and how each ended (`exit status: 3`,
        /// `signal: 9`, or why it could not run), `; `-separated.
        status: String,
        /// The end of the failed parts' standard output and error, at most
        /// [`MAX_OUTPUT_BYTES`].
        output: String,
        /// Each part and how it ended.
        parts: Vec<StartPart>,
    },
}

/// One part of the start command and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StartPart {
    /// The shell command line (run with `sh -c`).
    pub command: String,
    /// How it ended (`exit status: 0`...).
    pub status: String,
    /// Whether it exited 0.
    pub success: bool,
}

impl StartOutcome {
    /// Whether the daemons were asked for and could not be started.
    pub fn failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// Run each part with `sh -c`, in order, every one (as `a; b; c` would),
/// each killed with its process group after `deadline`, and report each
/// one's status.
pub(crate) fn run(parts: &[String], deadline: Duration) -> StartOutcome {
    let command = parts.join("; ");
    let mut results = Vec::new();
    let mut failed_output = String::new();
    for part in parts {
        let (status, success, output) = run_part(part, deadline);
        if !success && !output.is_empty() {
            failed_output.push_str(&output);
            failed_output.push('\n');
        }
        results.push(StartPart {
            command: part.clone(),
            status,
            success,
        });
    }
    let failures: Vec<String> = results
        .iter()
        .filter(|p| !p.success)
        .map(|p| format!("`{}`: {}", p.command, p.status))
        .collect();
    if failures.is_empty() {
        return StartOutcome::Started {
            command,
            parts: results,
        };
    }
    StartOutcome::Failed {
        command,
        status: failures.join("; "),
        output: bouture_text::tail(failed_output.as_bytes(), MAX_OUTPUT_BYTES - '…'.len_utf8()),
        parts: results,
    }
}

/// Run one part with `sh -c` through bouture-proc: standard input empty,
/// standard output and error together, its last [`MAX_OUTPUT_BYTES`] kept,
/// killed with its process group after `deadline`. A daemon it leaves
/// running may keep the output open: reading stops shortly after the part
/// exits ([`bouture_proc::HELD_OPEN_GRACE`]). How it ended, whether it
/// succeeded, and the end of its output.
fn run_part(command: &str, deadline: Duration) -> (String, bool, String) {
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(command);
    let options = bouture_proc::Options {
        stdout: bouture_proc::Bound::end(MAX_OUTPUT_BYTES),
        stderr_to_stdout: true,
        ..bouture_proc::Options::new(deadline)
    };
    match bouture_proc::run(sh, None, &options) {
        Ok(output) => (
            output.status.to_string(),
            output.status.success(),
            printed(&output.stdout),
        ),
        Err(bouture_proc::Error::Deadline { stdout, .. }) => (
            format!("killed after {} s", deadline.as_secs()),
            false,
            printed(&stdout),
        ),
        Err(error) => (
            format!("could not be run ({})", bouture_text::error_chain(&error)),
            false,
            String::new(),
        ),
    }
}

/// The end of the output kept, as text.
fn printed(output: &bouture_proc::Captured) -> String {
    String::from_utf8_lossy(&output.bytes).trim_end().to_owned()
}

//! Running the command that restarts the node daemons.

use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

/// The most of the command's output kept for the report (its end).
pub const MAX_OUTPUT_BYTES: u64 = 4096;

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
/// and report each one's status.
pub(crate) fn run(parts: &[String]) -> StartOutcome {
    let command = parts.join("; ");
    let mut results = Vec::new();
    let mut failed_output = String::new();
    for part in parts {
        let (status, success, output) = run_part(part);
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
    let trimmed = failed_output.trim_end();
    let mut start = trimmed
        .len()
        .saturating_sub(usize::try_from(MAX_OUTPUT_BYTES).unwrap_or(usize::MAX));
    while !trimmed.is_char_boundary(start) {
        start += 1;
    }
    StartOutcome::Failed {
        command,
        status: failures.join("; "),
        output: trimmed.get(start..).unwrap_or_default().to_owned(),
        parts: results,
    }
}

/// Run one part with `sh -c`, standard input empty, standard output and
/// error together in an anonymous temporary file (not a pipe: a daemon the
/// command leaves running may keep it open); how it ended, whether it
/// succeeded, and its last [`MAX_OUTPUT_BYTES`].
fn run_part(command: &str) -> (String, bool, String) {
    let spawn = || -> std::io::Result<(std::process::ExitStatus, std::fs::File)> {
        let mut log = tempfile::tempfile()?;
        let status = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .status()?;
        let length = log.seek(SeekFrom::End(0))?;
        log.seek(SeekFrom::Start(length.saturating_sub(MAX_OUTPUT_BYTES)))?;
        Ok((status, log))
    };
    match spawn() {
        Err(error) => (format!("could not be run ({error})"), false, String::new()),
        Ok((status, log)) => {
            let output = bouture_fs::read_to_limit(log, MAX_OUTPUT_BYTES, Path::new("output"))
                .map(|bytes| String::from_utf8_lossy(&bytes).trim_end().to_owned())
                .unwrap_or_default();
            (status.to_string(), status.success(), output)
        }
    }
}

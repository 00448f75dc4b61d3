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

/// Run `command` with `sh -c`, standard input empty, standard output and
/// error together in an anonymous temporary file (not a pipe: a daemon the
/// command leaves running may keep it open), and keep its last
/// [`MAX_OUTPUT_BYTES`].
pub(crate) fn run(command: &str) -> StartOutcome {
    let failed = |status: String, output: String| StartOutcome::Failed {
        command: command.to_owned(),
        status,
        output,
    };
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
        Err(error) => failed(format!("could not be run ({error})"), String::new()),
        Ok((status, log)) => {
            let output = bouture_fs::read_to_limit(log, MAX_OUTPUT_BYTES, Path::new("output"))
                .map(|bytes| String::from_utf8_lossy(&bytes).trim_end().to_owned())
                .unwrap_or_default();
            if status.success() {
                StartOutcome::Started {
                    command: command.to_owned(),
                }
            } else {
                failed(status.to_string(), output)
            }
        }
    }
}

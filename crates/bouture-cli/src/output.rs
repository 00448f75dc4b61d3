//! Output formats and the one place where failures become messages and exit codes.

use std::io::Write;

use clap::ValueEnum;

use crate::BoutureExitCode;

/// How a command prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, from the same serde types the libraries return.
    Json,
}

/// A command that could not do its job: the message to print and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl Failure {
    /// A failure of the operation (exit 1) with the error's full chain as message.
    pub(crate) fn operation(error: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            message: error_chain(error),
            code: BoutureExitCode::FAILURE,
        }
    }

    /// The report could not be written (a closed pipe is not a failure).
    pub(crate) fn output(error: &std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Self {
                message: String::new(),
                code: BoutureExitCode::OK,
            };
        }
        Self {
            message: format!("cannot write the report: {error}"),
            code: BoutureExitCode::FAILURE,
        }
    }

    /// Print the failure on `stderr` and return its exit code.
    pub(crate) fn report(&self, stderr: &mut dyn Write) -> u8 {
        if !self.message.is_empty() {
            let _ = writeln!(stderr, "error: {}", self.message);
        }
        self.code
    }
}

/// The error and its sources on one line, separated by `: `.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Write a serde value as pretty JSON followed by a newline.
pub(crate) fn write_json<T: serde::Serialize>(
    out: &mut dyn Write,
    value: &T,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)
}

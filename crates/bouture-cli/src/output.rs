//! Output formats, JSON output and error chains, shared by the commands.

use std::io::Write;

use clap::ValueEnum;

use crate::BoutureExitCode;
use crate::exit::{CommandError, CommandResult, Outcome};

/// How a command prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, from the same serde types the libraries return.
    Json,
}

/// The former shape of a command's failure (a message and an exit code),
/// kept only for `bouture merge` until it returns a [`CommandResult`];
/// [`Failure::into_result`] adapts it. Do not use it in a new command.
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

    /// The same result in the shape every command returns.
    pub(crate) fn into_result(result: Result<u8, Self>) -> CommandResult {
        match result {
            Ok(BoutureExitCode::OK) => Ok(Outcome::Done),
            Ok(_) => Ok(Outcome::Incomplete),
            Err(failure) if failure.code == BoutureExitCode::OK => Ok(Outcome::Done),
            Err(failure) if failure.message.is_empty() => Err(CommandError::Reported),
            Err(failure) => Err(CommandError::Failed(failure.message.into())),
        }
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

//! Output formats, JSON output and error chains, shared by the commands.

use std::io::Write;

use clap::ValueEnum;

/// How a command prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, from the same serde types the libraries return.
    Json,
}

/// The error and its sources on one line, separated by `: `.
pub(crate) use bouture_text::error_chain;

/// The error's message and its sources' messages, outermost first; a source
/// whose message the text so far already holds is left out (a wrapper that
/// words its cause into its own message).
pub(crate) fn error_causes(error: &(dyn std::error::Error + 'static)) -> (String, Vec<String>) {
    let message = error.to_string();
    let mut said = message.clone();
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !said.contains(&text) {
            said.push_str(": ");
            said.push_str(&text);
            causes.push(text);
        }
        source = cause.source();
    }
    (message, causes)
}

/// Write a serde value as pretty JSON followed by a newline. Generic over
/// the writer so that a caller rendering into a `Vec<u8>` gets a serializer
/// without a dynamic call per token.
pub(crate) fn write_json<T: serde::Serialize, W: Write + ?Sized>(
    out: &mut W,
    value: &T,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)
}

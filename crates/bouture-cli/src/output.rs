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

/// The error and its sources on one line, separated by `: `
/// ([`bouture_text::error_chain`], [`flags`] applied).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    flags(bouture_text::error_chain(error), error)
}

/// The CA file option a refused master certificate's hint names, as the
/// command line's flag: the library names `TlsOptions::ca_file`.
const CA_FILE_FLAG: &str = "--new-master-ca-file FILE";

/// `text` (the rendering of `error` and its sources) with what the
/// libraries name by their options' fields named by the command line's
/// flags: the hint of a refused master certificate found in the chain.
pub(crate) fn flags(mut text: String, error: &(dyn std::error::Error + 'static)) -> String {
    use bouture_master_client::Error as MasterError;
    let mut node = Some(error);
    while let Some(current) = node {
        let master = current.downcast_ref::<MasterError>().or_else(|| {
            current
                .downcast_ref::<Box<MasterError>>()
                .map(|boxed| &**boxed)
        });
        if let Some(MasterError::Certificate { rejection, .. }) = master {
            text = text.replace(&rejection.hint(), &rejection.hint_naming(CA_FILE_FLAG));
        }
        node = current.source();
    }
    text
}

/// The error's message and its sources' messages, outermost first; a source
/// whose message the text so far already holds is left out (a wrapper that
/// words its cause into its own message). Each is worded with [`flags`].
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
            causes.push(flags(text, error));
        }
        source = cause.source();
    }
    (flags(message, error), causes)
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

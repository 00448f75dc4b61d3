//! The one error type of the crate.
//!
//! Callers mostly need to know *which side* failed, which [`Error::kind`] tells:
//!
//! * [`ErrorKind::Unreachable`]: no whole answer: connection refused, DNS, timeout, TLS, a
//!   refused certificate ([`Error::Certificate`]), a body that stalled or was cut
//!   ([`Error::Incomplete`]). A failover treats this as "the master is down".
//! * [`ErrorKind::Status`]: the master answered with an HTTP error status; the error carries
//!   the status and the message of the body (the proxy's Flask page or JSON-RPC `title`).
//! * [`ErrorKind::Protocol`]: the master answered 200 but the body could not be understood.
//! * [`ErrorKind::Input`]: the request could not even be built (a string XML cannot carry, an
//!   unreadable certificate file, a bad URL, an `http://` URL whose port speaks TLS:
//!   [`Error::SpeaksTls`]).

use std::path::PathBuf;

/// A boxed source error (keeps `ureq` and other dependencies out of the public API).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which side of a call failed; see [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No answer: connection refused, DNS failure, timeout, TLS failure.
    Unreachable,
    /// The master answered with an HTTP error status.
    Status,
    /// The master answered, but the response could not be understood.
    Protocol,
    /// The request could not be built from the caller's input.
    Input,
}

/// Why the master could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnreachableReason {
    /// The TCP connection was refused (nothing listens on that port).
    ConnectionRefused,
    /// The host name does not resolve.
    Dns,
    /// No answer within the configured timeout.
    Timeout,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Another I/O error on the connection (reset, unreachable network, …).
    Io,
}

impl std::fmt::Display for UnreachableReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnreachableReason::ConnectionRefused => "connection refused",
            UnreachableReason::Dns => "host name does not resolve",
            UnreachableReason::Timeout => "timed out",
            UnreachableReason::Tls => "TLS failure",
            UnreachableReason::Io => "connection failed",
        })
    }
}

/// Why an answer's body did not arrive whole ([`Error::Incomplete`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncompleteReason {
    /// The deadline passed while the body was still coming (a slow drip or a stalled master).
    Stalled {
        /// Time from sending the request to giving up.
        waited: std::time::Duration,
    },
    /// The master closed (or reset) the connection before the end of the body.
    Cut,
}

impl std::fmt::Display for IncompleteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IncompleteReason::Stalled { waited } => write!(
                f,
                "the body was still coming when the deadline passed after {:.1} s (a slow or stalled master; raise the timeout only if the master is known to be slow)",
                waited.as_secs_f64()
            ),
            IncompleteReason::Cut => {
                f.write_str("the master closed the connection before the end of the body")
            }
        }
    }
}

/// How far an incomplete body got ([`Error::Incomplete`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncompleteBody {
    /// The HTTP status of the answer.
    pub status: u16,
    /// Bytes of the body received.
    pub received: u64,
    /// The `Content-Length` announced, if any.
    pub expected: Option<u64>,
    /// Slow or cut.
    pub reason: IncompleteReason,
}

/// Every error of the master client. Each variant says which master (`url`), which endpoint and
/// what the call was about (`context`, e.g. `computer COMP-1, partition slappart3`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The master could not be reached.
    #[error(
        "master {url} is unreachable ({reason}) calling {endpoint}{}: check the master URL, that the master runs, and the network",
        ctx(context)
    )]
    Unreachable {
        /// Base URL of the master.
        url: String,
        /// Endpoint called, e.g. `getRunId`.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// Why.
        reason: UnreachableReason,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
    /// The master's TLS certificate was refused (see [`crate::tls`]).
    #[error(
        "master {url} cannot be trusted, calling {endpoint}{}: {rejection}",
        ctx(context)
    )]
    Certificate {
        /// Base URL of the master.
        url: String,
        /// Endpoint called.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// What was wrong, the certificate's fingerprint and the fix.
        rejection: Box<crate::tls::CertificateRejection>,
    },
    /// An `http://` URL whose port speaks TLS.
    #[error(
        "master {url} speaks TLS on that port, not plain HTTP, calling {endpoint}{}: use {https_url}",
        ctx(context)
    )]
    SpeaksTls {
        /// The `http://` base URL given.
        url: String,
        /// Endpoint called.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// The same URL with `https://`.
        https_url: String,
    },
    /// The master started answering, but the body did not arrive whole.
    #[error(
        "master {url} answered {endpoint}{} with HTTP {}, but {}: {} bytes of the body received{}",
        ctx(context),
        body.status,
        body.reason,
        body.received,
        body.expected.map(|e| format!(" out of {e} announced")).unwrap_or_default()
    )]
    Incomplete {
        /// Base URL of the master.
        url: String,
        /// Endpoint called.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// How far the body got, and why it stopped.
        body: Box<IncompleteBody>,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The master answered with an HTTP error status.
    #[error(
        "master {url} answered {endpoint}{} with HTTP {status}: {message}",
        ctx(context)
    )]
    Status {
        /// Base URL of the master.
        url: String,
        /// Endpoint called.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// HTTP status code.
        status: u16,
        /// The message of the body (Flask's `<p>` text, JSON-RPC `title`, or the body itself,
        /// truncated).
        message: String,
    },
    /// The master answered, but the response could not be understood.
    #[error(
        "master {url} sent a response to {endpoint}{} that could not be understood: {detail}",
        ctx(context)
    )]
    Protocol {
        /// Base URL of the master.
        url: String,
        /// Endpoint called.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// What was wrong with it.
        detail: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// The request could not be built from the caller's input.
    #[error("cannot call {endpoint}{}: {detail}", ctx(context))]
    Input {
        /// Endpoint that would have been called.
        endpoint: String,
        /// What the call was about.
        context: String,
        /// What is wrong with the input.
        detail: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
    /// A TLS file (key, certificate, CA) could not be read: missing, not a
    /// regular file, too large (the error names the file).
    #[error("cannot use the {what}: {source}")]
    TlsRead {
        /// `key_file`, `cert_file` or `CA file`.
        what: &'static str,
        /// Why, naming the file.
        #[source]
        source: bouture_fs::ReadError,
    },
    /// A TLS file (key, certificate, CA) could not be used.
    #[error("cannot use the {what} {path}: {detail}")]
    TlsFile {
        /// `key_file`, `cert_file` or `CA file`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

fn ctx(context: &str) -> String {
    if context.is_empty() {
        String::new()
    } else {
        format!(" ({context})")
    }
}

impl Error {
    /// Which side failed.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unreachable { .. } | Error::Certificate { .. } | Error::Incomplete { .. } => {
                ErrorKind::Unreachable
            }
            Error::Status { .. } => ErrorKind::Status,
            Error::Protocol { .. } => ErrorKind::Protocol,
            Error::Input { .. }
            | Error::TlsFile { .. }
            | Error::TlsRead { .. }
            | Error::SpeaksTls { .. } => ErrorKind::Input,
        }
    }

    /// The HTTP status, for [`Error::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the master answered 404 (the proxy's "no free partition" / "no matching host").
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether the master could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        self.kind() == ErrorKind::Unreachable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_where_and_what() {
        let errors = [
            Error::Unreachable {
                url: "http://127.0.0.1:4000".into(),
                endpoint: "getRunId".into(),
                context: String::new(),
                reason: UnreachableReason::ConnectionRefused,
                source: "connection refused".into(),
            },
            Error::Status {
                url: "http://127.0.0.1:4000".into(),
                endpoint: "requestComputerPartition".into(),
                context: "instance \"ORS gNB\" on computer COMP-1".into(),
                status: 404,
                message: "No free computer partition found for: ORS gNB".into(),
            },
            Error::Protocol {
                url: "https://master.example.org".into(),
                endpoint: "getFullComputerInformation".into(),
                context: "computer COMP-1".into(),
                detail: "not well-formed XML: unexpected end of stream".into(),
                source: None,
            },
            Error::Input {
                endpoint: "requestComputerPartition".into(),
                context: "instance \"x\" on computer COMP-1".into(),
                detail: "string \"a\\0\" contains the character U+0000, which XML cannot carry: remove it".into(),
                source: None,
            },
            Error::TlsFile {
                what: "key_file",
                path: "/etc/opt/slapos/ssl/computer.key".into(),
                detail: "cannot read it: No such file or directory (os error 2)".into(),
                source: None,
            },
            Error::TlsRead {
                what: "CA file",
                source: bouture_fs::ReadError::NotRegular {
                    path: "/etc/ssl/certs".into(),
                    file_type: "a directory",
                },
            },
        ];
        let text: Vec<String> = errors
            .iter()
            .map(|e| format!("{:?}: {e}", e.kind()))
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }
}

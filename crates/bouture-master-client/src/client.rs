//! The HTTP side: [`MasterClient`], its [`Options`], and error mapping.
//!
//! Every call has a deadline ([`Options::timeout`], 60 s by default, and a connect timeout
//! of 10 s), error statuses are read (ureq's `http_status_as_error` is off, so the body's message
//! reaches the error) and each HTTP request is counted ([`MasterClient::request_count`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::io::Read as _;

use crate::error::{BoxError, Error, IncompleteBody, IncompleteReason, Result, UnreachableReason};
use crate::tls::TlsOptions;
use crate::trace::{RequestObserver, RequestRecord};

/// Default deadline of a whole call (connect, send, receive the body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(1);
/// Default deadline of the TCP connect (and TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on a response body (a 2,000-partition `getFullComputerInformation` is ~4 MB).
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;
/// Longest deadline accepted for a call (one day): longer ones are refused.
pub const MAX_TIMEOUT: Duration = Duration::from_hours(24);
/// At most this much of an error answer (HTTP status other than 2xx) is read; the rest is
/// dropped with the connection.
pub const ERROR_BODY_LIMIT: u64 = 64 * 1024;
/// Longest excerpt of an answer quoted in an error message, in characters.
pub const EXCERPT_CHARS: usize = 500;

/// Options of a [`MasterClient`]: timeouts and TLS.
///
/// ```
/// use std::time::Duration;
/// use bouture_master_client::{Options, TlsOptions};
///
/// let options = Options::default()
///     .timeout(Duration::from_secs(30))
///     .tls(TlsOptions::default().client_cert("/etc/opt/slapos/ssl/computer.key", "/etc/opt/slapos/ssl/computer.crt"));
/// assert_eq!(options.timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Deadline of a whole call.
    pub timeout: Duration,
    /// Deadline of the connect.
    pub connect_timeout: Duration,
    /// Largest response body accepted.
    pub max_body: u64,
    /// TLS settings (only used for `https://` masters).
    pub tls: TlsOptions,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            tls: TlsOptions::default(),
        }
    }
}

impl Options {
    /// Set the deadline of a whole call.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Set the deadline of the connect.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set the largest response body accepted.
    #[must_use]
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// Set the TLS options.
    #[must_use]
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = tls;
        self
    }

    /// Check the deadlines: each must be more than zero and at most [`MAX_TIMEOUT`].
    ///
    /// # Errors
    ///
    /// [`Error::Input`] naming the deadline that is out of range.
    pub fn check(&self) -> Result<()> {
        for (name, value) in [
            ("timeout", self.timeout),
            ("connect timeout", self.connect_timeout),
        ] {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(Error::Input {
                    endpoint: String::new(),
                    context: String::new(),
                    detail: format!(
                        "the {name} of {} s is out of range: give more than 0 and at most {} s",
                        value.as_secs_f64(),
                        MAX_TIMEOUT.as_secs()
                    ),
                    source: None,
                });
            }
        }
        Ok(())
    }

    /// Build the ureq agent these options describe: TCP, then TLS with bouture's verifier
    /// (see [`crate::tls`]) for `https://` masters.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a deadline out of range ([`Self::check`]), [`Error::TlsRead`] when a
    /// key, certificate or CA file cannot be read, [`Error::TlsFile`] when it cannot be used.
    pub fn build_agent(&self) -> Result<ureq::Agent> {
        use ureq::unversioned::transport::{ConnectProxyConnector, Connector as _, TcpConnector};
        self.check()?;
        let tls = self.tls.connector()?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout))
            .user_agent(concat!("bouture-master-client/", env!("CARGO_PKG_VERSION")))
            .build();
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(TcpConnector::default())
                .chain(tls);
        Ok(ureq::Agent::with_parts(
            config,
            connector,
            ureq::unversioned::resolver::DefaultResolver::default(),
        ))
    }
}

/// A client of one SlapOS master or slapproxy.
///
/// Cheap to clone: clones share the connection pool and the request counter.
///
/// ```no_run
/// use bouture_master_client::MasterClient;
///
/// let client = MasterClient::new("http://127.0.0.1:8080")?;
/// let run_id = client.run_id()?;
/// assert_eq!(client.request_count(), 1);
/// # Ok::<(), bouture_master_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MasterClient {
    base: String,
    agent: ureq::Agent,
    max_body: u64,
    connect_timeout: Duration,
    requests: Arc<AtomicU64>,
    waited_nanos: Arc<AtomicU64>,
    observer: Option<Observer>,
}

/// The [`RequestObserver`] of a client (shown by name only in `Debug`).
#[derive(Clone)]
struct Observer(Arc<dyn RequestObserver>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestObserver")
    }
}

/// What is known of an answer while it is read: for the [`RequestRecord`].
#[derive(Default)]
struct Received {
    status: Option<u16>,
    bytes: u64,
}

/// Body of a request.
pub(crate) enum Body<'a> {
    /// GET with a query string.
    Query(&'a [(&'a str, &'a str)]),
    /// POST `application/x-www-form-urlencoded`.
    Form(&'a [(&'a str, &'a str)]),
    /// POST `application/x-www-form-urlencoded` with an `Authorization` header.
    AuthForm(&'a [(&'a str, &'a str)], &'a str),
    /// POST `application/json`.
    Json(&'a serde_json::Value),
}

/// What the master answered (any status).
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl MasterClient {
    /// A client with the default [`Options`].
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `url` is not an `http://` or `https://` URL.
    pub fn new(url: impl Into<String>) -> Result<Self> {
        Self::with_options(url, &Options::default())
    }

    /// A client with the given options.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a bad URL, [`Error::TlsRead`] or [`Error::TlsFile`] for unreadable or
    /// unusable TLS files.
    pub fn with_options(url: impl Into<String>, options: &Options) -> Result<Self> {
        let mut client = Self::with_agent(url, options.build_agent()?)?;
        client.max_body = options.max_body;
        client.connect_timeout = options.connect_timeout;
        Ok(client)
    }

    /// A client over an agent the caller configured (TLS, proxy, timeouts).
    ///
    /// The agent should have `http_status_as_error(false)` so that error bodies are read;
    /// with the default `true`, error statuses still map to [`Error::Status`] but without the
    /// master's message.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `url` is not an `http://` or `https://` URL.
    pub fn with_agent(url: impl Into<String>, agent: ureq::Agent) -> Result<Self> {
        let url = url.into();
        if let Err(invalid) = crate::check_master_url(&url) {
            return Err(Error::Input {
                endpoint: String::new(),
                context: String::new(),
                detail: format!("{invalid} (e.g. http://127.0.0.1:8080)"),
                source: None,
            });
        }
        let base = url.trim_end_matches('/').to_owned();
        Ok(MasterClient {
            base,
            agent,
            max_body: DEFAULT_MAX_BODY,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            requests: Arc::new(AtomicU64::new(0)),
            waited_nanos: Arc::new(AtomicU64::new(0)),
            observer: None,
        })
    }

    /// This client, telling `observer` about every request it (and its clones made from now on)
    /// sends: method, path, status, bytes read and duration (see [`crate::trace`]). Replaces any
    /// observer set before.
    #[must_use]
    pub fn observed_by(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(Observer(observer));
        self
    }

    /// The master's base URL (without a trailing slash).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// Number of HTTP requests this client (and its clones) sent so far, failed ones included.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Time this client (and its clones) spent waiting for the master: from
    /// sending each request to having read its whole answer, summed. Against
    /// the wall time of a job, it tells the master's cost from the client's.
    pub fn request_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.waited_nanos.load(Ordering::Relaxed))
    }

    /// Send one request and read the whole answer, whatever its status, reading at most `cap` bytes of a successful answer (an answer known to
    /// be short, such as a run id, need not be read up to [`Options::max_body`]).
    pub(crate) fn send_capped(
        &self,
        endpoint: &str,
        context: &str,
        body: &Body<'_>,
        cap: u64,
    ) -> Result<Answer> {
        let started = std::time::Instant::now();
        let mut received = Received::default();
        let answer = self.send_untimed(
            endpoint,
            context,
            body,
            cap.min(self.max_body),
            &mut received,
        );
        let elapsed = started.elapsed();
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.waited_nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Some(Observer(observer)) = &self.observer {
            observer.request(&RequestRecord {
                method: match body {
                    Body::Query(_) => "GET",
                    _ => "POST",
                },
                path: format!("/{endpoint}"),
                status: received.status,
                bytes: received.bytes,
                duration: elapsed,
            });
        }
        answer
    }

    fn send_untimed(
        &self,
        endpoint: &str,
        context: &str,
        body: &Body<'_>,
        max_body: u64,
        received: &mut Received,
    ) -> Result<Answer> {
        let url = format!("{}/{endpoint}", self.base);
        self.requests.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let result = match body {
            Body::Query(query) => self
                .agent
                .get(&url)
                .query_pairs(query.iter().copied())
                .call(),
            Body::Form(form) => self.agent.post(&url).send_form(form.iter().copied()),
            Body::AuthForm(form, auth) => self
                .agent
                .post(&url)
                .header("Authorization", *auth)
                .send_form(form.iter().copied()),
            Body::Json(json) => {
                let bytes = serde_json::to_vec(json).map_err(|e| Error::Input {
                    endpoint: endpoint.to_owned(),
                    context: context.to_owned(),
                    detail: format!("cannot serialise the JSON body: {e}"),
                    source: Some(Box::new(e)),
                })?;
                self.agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(&bytes[..])
            }
        };
        let mut response = result.map_err(|e| self.transport_error(endpoint, context, e))?;
        let status = response.status().as_u16();
        received.status = Some(status);
        let expected = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let success = (200..300).contains(&status);
        let cap = if success { max_body } else { ERROR_BODY_LIMIT };
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut bytes = Vec::new();
        let mut chunk = vec![0_u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    received.bytes = received.bytes.saturating_add(n as u64);
                    n
                }
                Err(e) => {
                    return Err(Error::Incomplete {
                        url: self.base.clone(),
                        endpoint: endpoint.to_owned(),
                        context: context.to_owned(),
                        body: Box::new(IncompleteBody {
                            status,
                            received: bytes.len() as u64,
                            expected,
                            reason: incomplete_reason(&e, started.elapsed()),
                        }),
                        source: e,
                    });
                }
            };
            let room =
                usize::try_from(cap.saturating_sub(bytes.len() as u64)).unwrap_or(usize::MAX);
            bytes.extend_from_slice(chunk.get(..n.min(room)).unwrap_or_default());
            if n > room {
                if success {
                    return Err(Error::Protocol {
                        url: self.base.clone(),
                        endpoint: endpoint.to_owned(),
                        context: context.to_owned(),
                        detail: format!(
                            "the body is larger than {cap} bytes{} (raise Options::max_body if it is legitimate)",
                            expected
                                .map(|e| format!(" (Content-Length {e})"))
                                .unwrap_or_default()
                        ),
                        source: None,
                    });
                }
                // An error answer: its beginning says enough.
                break;
            }
        }
        let body = match String::from_utf8(bytes) {
            Ok(body) => body,
            Err(e) if !success => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            Err(e) => {
                return Err(Error::Protocol {
                    url: self.base.clone(),
                    endpoint: endpoint.to_owned(),
                    context: context.to_owned(),
                    detail: "the body is not UTF-8".to_owned(),
                    source: Some(Box::new(e)),
                });
            }
        };
        Ok(Answer { status, body })
    }

    /// [`Self::send_capped`] up to [`Options::max_body`], then turn an error status into
    /// [`Error::Status`].
    pub(crate) fn send_ok(&self, endpoint: &str, context: &str, body: &Body<'_>) -> Result<String> {
        self.send_ok_capped(endpoint, context, body, self.max_body)
    }

    /// [`Self::send_capped`], then turn an error status into [`Error::Status`].
    pub(crate) fn send_ok_capped(
        &self,
        endpoint: &str,
        context: &str,
        body: &Body<'_>,
        cap: u64,
    ) -> Result<String> {
        let answer = self.send_capped(endpoint, context, body, cap)?;
        if (200..300).contains(&answer.status) {
            Ok(answer.body)
        } else {
            Err(self.status_error(endpoint, context, answer.status, &answer.body))
        }
    }

    pub(crate) fn status_error(
        &self,
        endpoint: &str,
        context: &str,
        status: u16,
        body: &str,
    ) -> Error {
        Error::Status {
            url: self.base.clone(),
            endpoint: endpoint.to_owned(),
            context: context.to_owned(),
            status,
            message: error_message(body),
        }
    }

    /// An [`Error::Protocol`]; `detail` is cut to [`EXCERPT_CHARS`] characters (plus a short
    /// allowance for the description around a quoted answer).
    #[allow(clippy::needless_pass_by_value)] // callers build the detail with format!
    pub(crate) fn protocol_error(&self, endpoint: &str, context: &str, detail: String) -> Error {
        Error::Protocol {
            url: self.base.clone(),
            endpoint: endpoint.to_owned(),
            context: context.to_owned(),
            detail: bouture_text::truncate(&detail, EXCERPT_CHARS + 200),
            source: None,
        }
    }

    fn transport_error(&self, endpoint: &str, context: &str, e: ureq::Error) -> Error {
        if let ureq::Error::Io(io) = &e
            && let Some(rejection) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<crate::tls::CertificateRejection>())
        {
            return Error::Certificate {
                url: self.base.clone(),
                endpoint: endpoint.to_owned(),
                context: context.to_owned(),
                rejection: Box::new(rejection.clone()),
            };
        }
        let reason = match &e {
            ureq::Error::Timeout(_) => UnreachableReason::Timeout,
            ureq::Error::HostNotFound => UnreachableReason::Dns,
            ureq::Error::Tls(_) | ureq::Error::Pem(_) | ureq::Error::Rustls(_) => {
                UnreachableReason::Tls
            }
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => UnreachableReason::ConnectionRefused,
                std::io::ErrorKind::TimedOut => UnreachableReason::Timeout,
                // rustls reports certificate and handshake failures as InvalidData.
                std::io::ErrorKind::InvalidData => UnreachableReason::Tls,
                _ => UnreachableReason::Io,
            },
            ureq::Error::ConnectionFailed => UnreachableReason::Io,
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => {
                return Error::Input {
                    endpoint: endpoint.to_owned(),
                    context: context.to_owned(),
                    detail: format!("cannot build the request to {}: {e}", self.base),
                    source: Some(Box::new(e)),
                };
            }
            _ => {
                if let Some(https_url) =
                    crate::probe::https_instead(&self.base, self.connect_timeout)
                {
                    return Error::SpeaksTls {
                        url: self.base.clone(),
                        endpoint: endpoint.to_owned(),
                        context: context.to_owned(),
                        https_url,
                    };
                }
                return Error::Protocol {
                    url: self.base.clone(),
                    endpoint: endpoint.to_owned(),
                    context: context.to_owned(),
                    detail: bouture_text::truncate(&e.to_string(), EXCERPT_CHARS),
                    source: Some(Box::new(e)),
                };
            }
        };
        if !matches!(
            reason,
            UnreachableReason::Timeout
                | UnreachableReason::Dns
                | UnreachableReason::ConnectionRefused
        ) && let Some(https_url) = crate::probe::https_instead(&self.base, self.connect_timeout)
        {
            return Error::SpeaksTls {
                url: self.base.clone(),
                endpoint: endpoint.to_owned(),
                context: context.to_owned(),
                https_url,
            };
        }
        self.unreachable(endpoint, context, reason, Box::new(e))
    }

    fn unreachable(
        &self,
        endpoint: &str,
        context: &str,
        reason: UnreachableReason,
        source: BoxError,
    ) -> Error {
        Error::Unreachable {
            url: self.base.clone(),
            endpoint: endpoint.to_owned(),
            context: context.to_owned(),
            reason,
            source,
        }
    }
}

/// The useful message of an error body: the JSON-RPC `title`, the text of Flask's `<p>`, or the
/// body itself (whitespace collapsed, at most 500 characters).
pub(crate) fn error_message(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.starts_with('{')
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_str(trimmed)
        && let Some(serde_json::Value::String(title)) = map.get("title")
    {
        return bouture_text::truncate(title, EXCERPT_CHARS);
    }
    let text = if let (Some(start), Some(end)) = (trimmed.find("<p>"), trimmed.rfind("</p>")) {
        trimmed.get(start + 3..end).unwrap_or(trimmed)
    } else {
        trimmed
    };
    let text = unescape_html(text);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return "(empty body)".to_owned();
    }
    bouture_text::truncate(&collapsed, EXCERPT_CHARS)
}

/// Why reading a body failed: the deadline (a slow drip), or the connection ended early.
fn incomplete_reason(error: &std::io::Error, waited: Duration) -> IncompleteReason {
    let timed_out = error.kind() == std::io::ErrorKind::TimedOut
        || error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>())
            .is_some_and(|inner| matches!(inner, ureq::Error::Timeout(_)));
    if timed_out {
        IncompleteReason::Stalled { waited }
    } else {
        IncompleteReason::Cut
    }
}

fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_of_flask_page() {
        let body = "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>No free computer partition found for: NEW &amp; old</p>\n";
        assert_eq!(
            error_message(body),
            "No free computer partition found for: NEW & old"
        );
    }

    #[test]
    fn error_message_of_json_rpc() {
        let body = r#"{"status": 403, "type": "Forbidden", "title": "NOPE is not registered."}"#;
        assert_eq!(error_message(body), "NOPE is not registered.");
    }

    #[test]
    fn error_message_of_plain_text() {
        assert_eq!(error_message("  oops\n  bad  "), "oops bad");
        assert_eq!(error_message(""), "(empty body)");
        assert_eq!(error_message(&"x".repeat(600)).chars().count(), 501);
    }

    #[test]
    fn rejects_bad_urls() {
        for url in ["", "ftp://x", "127.0.0.1:80", "http://", "http://a b"] {
            let err = MasterClient::new(url).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Input, "{url}");
        }
        assert_eq!(
            MasterClient::new("http://h:1/").unwrap().url(),
            "http://h:1"
        );
    }
}

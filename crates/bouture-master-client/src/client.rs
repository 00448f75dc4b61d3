//! The HTTP side: [`MasterClient`], its [`ClientOptions`], and error mapping.
//!
//! Every call has a deadline ([`ClientOptions::timeout`], 60 s by default, and a connect timeout
//! of 10 s), error statuses are read (ureq's `http_status_as_error` is off, so the body's message
//! reaches the error) and each HTTP request is counted ([`MasterClient::request_count`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{BoxError, Error, Result, UnreachableReason};
use crate::tls::TlsOptions;

/// Default deadline of a whole call (connect, send, receive the body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(1);
/// Default deadline of the TCP connect (and TLS handshake).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default limit on a response body (a 2,000-partition `getFullComputerInformation` is ~4 MB).
pub const DEFAULT_MAX_BODY: u64 = 256 * 1024 * 1024;

/// Options of a [`MasterClient`]: timeouts and TLS.
///
/// ```
/// use std::time::Duration;
/// use bouture_master_client::{ClientOptions, TlsOptions};
///
/// let options = ClientOptions::default()
///     .timeout(Duration::from_secs(30))
///     .tls(TlsOptions::default().client_cert("/etc/opt/slapos/ssl/computer.key", "/etc/opt/slapos/ssl/computer.crt"));
/// assert_eq!(options.timeout, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Deadline of a whole call.
    pub timeout: Duration,
    /// Deadline of the connect.
    pub connect_timeout: Duration,
    /// Largest response body accepted.
    pub max_body: u64,
    /// TLS settings (only used for `https://` masters).
    pub tls: TlsOptions,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            tls: TlsOptions::default(),
        }
    }
}

impl ClientOptions {
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

    /// Build the ureq agent these options describe.
    ///
    /// # Errors
    ///
    /// [`Error::TlsFile`] when a key, certificate or CA file cannot be read or parsed.
    pub fn build_agent(&self) -> Result<ureq::Agent> {
        let tls = self.tls.build()?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(self.timeout))
            .timeout_connect(Some(self.connect_timeout))
            .user_agent(concat!("bouture-master-client/", env!("CARGO_PKG_VERSION")))
            .tls_config(tls)
            .build();
        Ok(config.into())
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
    requests: Arc<AtomicU64>,
    waited_nanos: Arc<AtomicU64>,
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
    /// A client with the default [`ClientOptions`].
    ///
    /// # Errors
    ///
    /// [`Error::Input`] when `url` is not an `http://` or `https://` URL.
    pub fn new(url: impl Into<String>) -> Result<Self> {
        Self::with_options(url, &ClientOptions::default())
    }

    /// A client with the given options.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] for a bad URL, [`Error::TlsFile`] for unusable TLS files.
    pub fn with_options(url: impl Into<String>, options: &ClientOptions) -> Result<Self> {
        let mut client = Self::with_agent(url, options.build_agent()?)?;
        client.max_body = options.max_body;
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
            requests: Arc::new(AtomicU64::new(0)),
            waited_nanos: Arc::new(AtomicU64::new(0)),
        })
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

    /// Send one request and read the whole answer, whatever its status.
    pub(crate) fn send(&self, endpoint: &str, context: &str, body: &Body<'_>) -> Result<Answer> {
        let started = std::time::Instant::now();
        let answer = self.send_untimed(endpoint, context, body);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.waited_nanos.fetch_add(nanos, Ordering::Relaxed);
        answer
    }

    fn send_untimed(&self, endpoint: &str, context: &str, body: &Body<'_>) -> Result<Answer> {
        let url = format!("{}/{endpoint}", self.base);
        self.requests.fetch_add(1, Ordering::Relaxed);
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
        let bytes = response
            .body_mut()
            .with_config()
            .limit(self.max_body)
            .read_to_vec()
            .map_err(|e| self.read_error(endpoint, context, e))?;
        let body = String::from_utf8(bytes).map_err(|e| Error::Protocol {
            url: self.base.clone(),
            endpoint: endpoint.to_owned(),
            context: context.to_owned(),
            detail: "the body is not UTF-8".to_owned(),
            source: Some(Box::new(e)),
        })?;
        Ok(Answer { status, body })
    }

    /// [`Self::send`], then turn an error status into [`Error::Status`].
    pub(crate) fn send_ok(&self, endpoint: &str, context: &str, body: &Body<'_>) -> Result<String> {
        let answer = self.send(endpoint, context, body)?;
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

    pub(crate) fn protocol_error(&self, endpoint: &str, context: &str, detail: String) -> Error {
        Error::Protocol {
            url: self.base.clone(),
            endpoint: endpoint.to_owned(),
            context: context.to_owned(),
            detail,
            source: None,
        }
    }

    fn read_error(&self, endpoint: &str, context: &str, e: ureq::Error) -> Error {
        match e {
            ureq::Error::BodyExceedsLimit(limit) => Error::Protocol {
                url: self.base.clone(),
                endpoint: endpoint.to_owned(),
                context: context.to_owned(),
                detail: format!(
                    "the body is larger than {limit} bytes (raise ClientOptions::max_body)"
                ),
                source: Some(Box::new(e)),
            },
            e => self.transport_error(endpoint, context, e),
        }
    }

    fn transport_error(&self, endpoint: &str, context: &str, e: ureq::Error) -> Error {
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
                return Error::Protocol {
                    url: self.base.clone(),
                    endpoint: endpoint.to_owned(),
                    context: context.to_owned(),
                    detail: e.to_string(),
                    source: Some(Box::new(e)),
                };
            }
        };
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
        return title.clone();
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
    if collapsed.chars().count() > 500 {
        let mut s: String = collapsed.chars().take(500).collect();
        s.push('…');
        s
    } else {
        collapsed
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

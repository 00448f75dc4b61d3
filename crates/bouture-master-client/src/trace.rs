//! What a [`MasterClient`](crate::MasterClient) sent, for callers that show it (`bouture graft -v`).
//!
//! The library never prints. A caller that wants the request log attaches a
//! [`RequestObserver`] with [`MasterClient::observed_by`](crate::MasterClient::observed_by): it
//! gets a [`RequestRecord`] after every HTTP request, answered or not. [`RequestTrace`] is the
//! observer most callers want: it keeps the records until the caller takes them, so that a
//! single-threaded caller can write them to its own log, in order with its own lines, between
//! two calls.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One HTTP request sent to the master and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestRecord {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The path below the master's URL, with a leading `/` (`/getRunId`, `/api/...`); the query
    /// string and the body are not kept (they may hold parameters the log should not copy).
    pub path: String,
    /// The HTTP status, or `None` when no answer came (connection refused, timeout, TLS).
    pub status: Option<u16>,
    /// Bytes of the answer's body read (an error answer is read up to
    /// [`ERROR_BODY_LIMIT`](crate::ERROR_BODY_LIMIT)).
    pub bytes: u64,
    /// From sending the request to having read its answer (or given up).
    pub duration: Duration,
}

impl fmt::Display for RequestRecord {
    /// `POST /requestComputerPartition: 200, 1234 bytes in 12 ms`, or
    /// `GET /getRunId: no answer after 3 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.duration.as_millis();
        match self.status {
            Some(status) => write!(
                f,
                "{} {}: {status}, {} bytes in {millis} ms",
                self.method, self.path, self.bytes
            ),
            None => write!(
                f,
                "{} {}: no answer after {millis} ms",
                self.method, self.path
            ),
        }
    }
}

/// Told about every request a [`MasterClient`](crate::MasterClient) (and its clones) sends.
///
/// Called on the thread that sent the request, after the answer was read; it must not block
/// for long (the next request waits for it).
pub trait RequestObserver: Send + Sync {
    /// One request was sent and answered (or not).
    fn request(&self, record: &RequestRecord);
}

/// A [`RequestObserver`] that keeps the records until [`RequestTrace::take`]; clones share them.
///
/// ```
/// use std::sync::Arc;
/// use bouture_master_client::{MasterClient, RequestTrace};
///
/// let trace = RequestTrace::default();
/// // Nothing listens on port 1: the request gets no answer, and is recorded all the same.
/// let client = MasterClient::new("http://127.0.0.1:1")?.observed_by(Arc::new(trace.clone()));
/// assert!(client.run_id().is_err());
/// let records = trace.take();
/// assert_eq!(records.len(), 1);
/// assert_eq!((records[0].method, records[0].path.as_str(), records[0].status), ("GET", "/getRunId", None));
/// assert!(trace.take().is_empty(), "taken once");
/// # Ok::<(), bouture_master_client::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestTrace {
    records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl RequestTrace {
    /// The records kept since the last call, oldest first.
    pub fn take(&self) -> Vec<RequestRecord> {
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *records)
    }
}

impl RequestObserver for RequestTrace {
    fn request(&self, record: &RequestRecord) {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(record.clone());
    }
}

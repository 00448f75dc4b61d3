//! A master that misbehaves, which the real proxy cannot be made to do: a small HTTP/1.1 server
//! whose answer to each request is chosen by the test (huge bodies, HTML where text is
//! expected, empty bodies, a body that drips or is cut). It speaks like the proxy where the
//! test relies on it: `Connection: close` on every answer, form or JSON bodies read whole.

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::expect_used, clippy::missing_panics_doc)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as the fake master received it.
#[derive(Debug, Clone)]
pub struct FakeRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path without the query, e.g. `/getRunId`.
    pub path: String,
    /// The body (form or JSON), as text.
    pub body: String,
}

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum FakeReply {
    /// A whole answer.
    Full {
        /// HTTP status.
        status: u16,
        /// `Content-Type`.
        content_type: &'static str,
        /// The body.
        body: Vec<u8>,
    },
    /// `len` bytes of `byte`, streamed (with `Content-Length`) without holding them in memory.
    Huge {
        /// HTTP status.
        status: u16,
        /// `Content-Type`.
        content_type: &'static str,
        /// What the body starts with.
        prefix: String,
        /// The byte repeated after it.
        byte: u8,
        /// Total length of the body.
        len: usize,
    },
    /// Announce `announced` bytes, then send one byte every `interval` (a slow drip).
    Drip {
        /// Announced `Content-Length`.
        announced: usize,
        /// Time between bytes.
        interval: Duration,
    },
    /// Announce `announced` bytes, send `sent`, and close the connection.
    Cut {
        /// Announced `Content-Length`.
        announced: usize,
        /// What is sent before closing.
        sent: Vec<u8>,
    },
}

impl FakeReply {
    /// `200 text/html` with this text (what the proxy's legacy endpoints answer).
    pub fn text(body: &str) -> Self {
        Self::Full {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: body.as_bytes().to_vec(),
        }
    }

    /// `200 application/json` with this value.
    pub fn json(value: &serde_json::Value) -> Self {
        Self::Full {
            status: 200,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }
}

type Handler = dyn Fn(&FakeRequest) -> FakeReply + Send + Sync;

/// The fake master; stopped on drop. Requests are recorded ([`Self::requests`]).
pub struct FakeMaster {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<FakeRequest>>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeMaster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeMaster")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl FakeMaster {
    /// Serve on a free port of 127.0.0.1, answering each request with `handler`.
    pub fn start(handler: impl Fn(&FakeRequest) -> FakeReply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake master");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let stop = Arc::clone(&stop);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let handler = Arc::clone(&handler);
                            let requests = Arc::clone(&requests);
                            std::thread::spawn(move || serve(stream, &*handler, &requests));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        FakeMaster {
            port,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for FakeMaster {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // the connection is owned by its thread
fn serve(stream: TcpStream, handler: &Handler, requests: &Mutex<Vec<FakeRequest>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut length = 0_usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0_u8; length];
    let _ = reader.read_exact(&mut body);
    let request = FakeRequest {
        method,
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let reply = handler(&request);
    requests.lock().expect("requests").push(request);
    let _ = answer(&stream, reply);
}

fn answer(mut stream: &TcpStream, reply: FakeReply) -> std::io::Result<()> {
    let head = |status: u16, content_type: &str, len: usize| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        )
    };
    match reply {
        FakeReply::Full {
            status,
            content_type,
            body,
        } => {
            stream.write_all(head(status, content_type, body.len()).as_bytes())?;
            stream.write_all(&body)?;
        }
        FakeReply::Huge {
            status,
            content_type,
            prefix,
            byte,
            len,
        } => {
            stream.write_all(head(status, content_type, len).as_bytes())?;
            stream.write_all(prefix.as_bytes())?;
            let chunk = vec![byte; 64 * 1024];
            let mut left = len.saturating_sub(prefix.len());
            while left > 0 {
                let n = left.min(chunk.len());
                stream.write_all(chunk.get(..n).unwrap_or_default())?;
                left -= n;
            }
        }
        FakeReply::Drip {
            announced,
            interval,
        } => {
            stream.write_all(head(200, "text/html", announced).as_bytes())?;
            for _ in 0..announced {
                stream.write_all(b"x")?;
                stream.flush()?;
                std::thread::sleep(interval);
            }
        }
        FakeReply::Cut { announced, sent } => {
            stream.write_all(head(200, "text/html", announced).as_bytes())?;
            stream.write_all(&sent)?;
        }
    }
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Both)
}

//! Test support for bouture: a **real** slapproxy per test.
//!
//! The proxy is the lightweight SlapOS master of the PyPI package `slapos.core`, plus
//! `slapos.libnetworkcache`, an undeclared dependency without which `slapos proxy start` does
//! not exist, both pinned in `scripts/peers` (the one list of test peers; [`peers`] reads it).
//! Tests get one with [`SlapProxy::start`]:
//!
//! ```no_run
//! use bouture_test_support::SlapProxy;
//!
//! let proxy = SlapProxy::start("COMP-TEST").unwrap();
//! // talk to proxy.url() (http://127.0.0.1:<port>), e.g. with bouture-master-client
//! drop(proxy); // kills the proxy (it is also killed when the test process dies)
//! ```
//!
//! # Where `slapos` comes from ([`SlaposEnv::get`])
//!
//! `BOUTURE_SLAPOS_BIN`, the `slapos` of the venv `target/slapos-venv` that
//! `scripts/setup.d/peers.sh` (the one installer, sourced by `scripts/test`) makes with the pins
//! of `scripts/peers` and exports. When it is not set, or the venv was made with other pins than
//! the list's, the harness fails and says to run the installer: it never finds a Python or
//! creates a venv by itself, so that there is one way to get the peer.
//!
//! # How a proxy runs
//!
//! Each [`SlapProxy`] has its own temporary directory with a generated `slapos.cfg` and
//! database, and is started as `slapos proxy start --cfg <cfg> --port 0`: Werkzeug binds a free
//! port and prints it on stderr, which a thread reads (and keeps draining, so the proxy never
//! blocks on a full pipe). The proxy is ready when `GET /getRunId` answers 200. It runs under a
//! small `sh` watchdog holding a pipe from the test process: when the test process exits for
//! any reason (even SIGKILL, when `Drop` never runs), the pipe closes and the watchdog kills the
//! proxy. Starting one takes about a second; tests may run in parallel (one proxy each).

pub mod client;
#[cfg(feature = "cluster-sim")]
pub mod cluster_sim;
pub mod demo_node;
pub mod ganeti;
pub mod ganeti_config;
pub mod master;
pub mod misbehaving;
pub mod multiboot;
pub mod node;
pub mod node_setup;
pub mod offline_changes;
pub mod peers;
pub mod python;
pub mod tls;

use std::collections::VecDeque;
use std::fmt;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a proxy may take to print its port and answer `getRunId`.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

const READY_MARKER: &str = ".bouture-ready";
const LOG_LINES: usize = 200;

/// Why the harness could not provide a proxy. Its `Debug` is its message, so
/// `SlapProxy::start(..).unwrap()` prints something readable.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// A variable the installer exports is not set.
    #[error(
        "{var} is not set: run `source scripts/setup.d/peers.sh slapproxy` (scripts/test does), which makes {what} and exports it"
    )]
    NotSet {
        /// The variable.
        var: &'static str,
        /// What the installer makes.
        what: String,
    },
    /// `BOUTURE_SLAPOS_BIN` (or `BOUTURE_SLAPOS_OLDEST_BIN`) points to nothing.
    #[error(
        "{0} does not exist: run `source scripts/setup.d/peers.sh slapproxy` (scripts/test does) to make the slapos venvs"
    )]
    SlaposBinMissing(PathBuf),
    /// The venv was made with other pins than those of `scripts/peers`.
    #[error(
        "{venv} was made with {found:?}, but scripts/peers pins {expected:?}: run `source scripts/setup.d/peers.sh slapproxy` to remake it"
    )]
    StaleVenv {
        /// The venv directory.
        venv: PathBuf,
        /// The pins its ready marker lists.
        found: Vec<String>,
        /// The pins of `scripts/peers`.
        expected: Vec<String>,
    },
    /// An earlier attempt of this process to locate `slapos` failed with this message.
    #[error("{0}")]
    Unavailable(String),
    /// An I/O error on a harness file.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The proxy did not start.
    #[error("slapproxy ({bin}) did not start: {why}\n--- its output (last lines) ---\n{log}")]
    Start {
        /// The `slapos` executable.
        bin: PathBuf,
        /// Why (exited, timed out).
        why: String,
        /// The last lines of its stderr.
        log: String,
    },
}

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HarnessError {
    let path = path.to_owned();
    move |source| HarnessError::Io { what, path, source }
}

/// The `slapos` installation the proxies run from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaposEnv {
    /// The `slapos` executable.
    pub slapos_bin: PathBuf,
    /// The Python of that installation (for `slapos.slap` scripts), if found next to it.
    pub python: Option<PathBuf>,
    /// Its version `(major, minor)`, if known.
    pub python_version: Option<(u32, u32)>,
}

impl SlaposEnv {
    /// The installation for this process: located (and the venv created) on first call.
    ///
    /// # Errors
    ///
    /// A [`HarnessError`] saying exactly what is missing.
    pub fn get() -> Result<&'static SlaposEnv, HarnessError> {
        static ENV: OnceLock<Result<SlaposEnv, String>> = OnceLock::new();
        // The error is stored as text so that every test of the process reports it.
        match ENV.get_or_init(|| Self::locate().map_err(|e| e.to_string())) {
            Ok(env) => Ok(env),
            Err(msg) => Err(HarnessError::Unavailable(msg.clone())),
        }
    }

    /// Locate `slapos` as described in the crate docs.
    ///
    /// # Errors
    ///
    /// A [`HarnessError`] saying exactly what is missing and how to get it.
    pub fn locate() -> Result<SlaposEnv, HarnessError> {
        Self::from_env("BOUTURE_SLAPOS_BIN", peers::SLAPOS_VENV)
    }

    /// The `slapos` named by `var`, which must be the one of the venv `venv` of
    /// `scripts/peers` when it is a venv the installer made (it has a ready marker).
    fn from_env(var: &'static str, venv: &str) -> Result<SlaposEnv, HarnessError> {
        let expected: Vec<String> = peers::venv_pins(venv)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let Some(bin) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
            return Err(HarnessError::NotSet {
                var,
                what: format!("target/{venv} with {}", expected.join(" ")),
            });
        };
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            return Err(HarnessError::SlaposBinMissing(bin));
        }
        if let Some(dir) = bin.parent().and_then(Path::parent) {
            let marker = dir.join(READY_MARKER);
            if let Ok(text) = std::fs::read_to_string(&marker) {
                let found: Vec<String> = text.lines().map(str::to_owned).collect();
                if found != expected {
                    return Err(HarnessError::StaleVenv {
                        venv: dir.to_owned(),
                        found,
                        expected,
                    });
                }
            }
        }
        Ok(Self::from_bin(bin))
    }

    fn from_bin(slapos_bin: PathBuf) -> SlaposEnv {
        let python = slapos_bin
            .parent()
            .map(|d| d.join("python"))
            .filter(|p| p.exists());
        let python_version = python.as_deref().and_then(python_version);
        SlaposEnv {
            slapos_bin,
            python,
            python_version,
        }
    }

    /// The installation of the oldest slapos.core bouture supports
    /// ([`peers::oldest_slapos_core`]): `BOUTURE_SLAPOS_OLDEST_BIN`, exported by
    /// `scripts/setup.d/peers.sh`.
    ///
    /// # Errors
    ///
    /// A [`HarnessError`] saying how to get it.
    pub fn oldest() -> Result<SlaposEnv, HarnessError> {
        Self::from_env("BOUTURE_SLAPOS_OLDEST_BIN", peers::SLAPOS_VENV_OLDEST)
    }

    /// Whether this installation can run `slapos node instance` (Python >= 3.12).
    pub fn supports_node_instance(&self) -> bool {
        self.python_version.is_some_and(|v| v >= (3, 12))
    }
}

/// Make a FIFO at `path` with the system's `mkfifo`, for the tests that check
/// that bouture never blocks on one (coreutils is on every machine the tests
/// run on).
///
/// # Errors
///
/// When `mkfifo` cannot be run or fails.
pub fn mkfifo(path: &Path) -> std::io::Result<()> {
    let status = std::process::Command::new("mkfifo").arg(path).status()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "mkfifo {} failed: {status}",
            path.display()
        )))
    }
}

/// The workspace's `target` directory (`CARGO_TARGET_DIR` at build time, else `<root>/target`).
pub fn target_dir() -> PathBuf {
    option_env!("CARGO_TARGET_DIR").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("..")
                .join("target")
        },
        PathBuf::from,
    )
}

fn python_version(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

fn parse_version(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

// ---------------------------------------------------------------------------------------------

/// The watchdog: runs the proxy, prints its pid, and kills it when our stdin closes (the test
/// process ended or dropped the proxy). `$1` = slapos, `$2` = configuration file.
const WATCHDOG: &str = r#"exec 3<&0 </dev/null
"$1" proxy start --cfg "$2" --port 0 >&2 &
p=$!
echo "$p"
(cat <&3 >/dev/null; kill "$p" 2>/dev/null) &
exec 3<&-
wait "$p"
"#;

/// A running slapproxy, killed on drop.
pub struct SlapProxy {
    url: String,
    computer_id: String,
    child: Child,
    stdin: Option<ChildStdin>,
    proxy_pid: Option<u32>,
    log: Arc<Mutex<VecDeque<String>>>,
    dir: tempfile::TempDir,
}

impl fmt::Debug for SlapProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlapProxy")
            .field("url", &self.url)
            .field("computer_id", &self.computer_id)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl SlapProxy {
    /// Start a proxy whose default computer is `computer_id`, with the [`SlaposEnv`] of this
    /// process.
    ///
    /// # Errors
    ///
    /// A [`HarnessError`] saying what is missing or how the proxy failed (with its output).
    pub fn start(computer_id: &str) -> Result<SlapProxy, HarnessError> {
        Self::start_with(SlaposEnv::get()?, computer_id)
    }

    /// Start a proxy from the given installation.
    ///
    /// # Errors
    ///
    /// As [`Self::start`].
    pub fn start_with(env: &SlaposEnv, computer_id: &str) -> Result<SlapProxy, HarnessError> {
        let dir = tempfile::Builder::new()
            .prefix("bouture-slapproxy-")
            .tempdir()
            .map_err(io_err(
                "cannot create a temporary directory in",
                &std::env::temp_dir(),
            ))?;
        let cfg = dir.path().join("slapos.cfg");
        let db = dir.path().join("proxy.db");
        std::fs::write(
            &cfg,
            format!(
                "[slapos]\ncomputer_id = {computer_id}\n\n[slapproxy]\nhost = 127.0.0.1\nport = 0\ndatabase_uri = {}\n",
                db.display()
            ),
        )
        .map_err(io_err("cannot write", &cfg))?;
        Self::launch(env, dir, computer_id)
    }

    /// Stop the proxy and start it again on the same configuration and
    /// database, as after a crash or a reboot of the master. It listens on a
    /// new port: read [`Self::url`] again.
    ///
    /// # Errors
    ///
    /// As [`Self::start`].
    pub fn restart(&mut self) -> Result<(), HarnessError> {
        let env = SlaposEnv::get()?;
        self.shutdown();
        let placeholder = tempfile::tempdir().map_err(io_err(
            "cannot create a temporary directory in",
            &std::env::temp_dir(),
        ))?;
        let dir = std::mem::replace(&mut self.dir, placeholder);
        *self = Self::launch(env, dir, &self.computer_id.clone())?;
        Ok(())
    }

    /// Start `slapos proxy start` on the configuration in `dir` and wait until it answers.
    fn launch(
        env: &SlaposEnv,
        dir: tempfile::TempDir,
        computer_id: &str,
    ) -> Result<SlapProxy, HarnessError> {
        let cfg = dir.path().join("slapos.cfg");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("bouture-slapproxy-watchdog")
            .arg(&env.slapos_bin)
            .arg(&cfg)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| HarnessError::Start {
                bin: env.slapos_bin.clone(),
                why: format!("cannot run sh: {e}"),
                log: String::new(),
            })?;
        let stdin = child.stdin.take();
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (url_tx, url_rx) = mpsc::channel();
        if let Some(stderr) = child.stderr.take() {
            let log = Arc::clone(&log);
            std::thread::spawn(move || drain_stderr(stderr, &log, &url_tx));
        }
        let proxy_pid = child.stdout.take().and_then(|mut out| {
            let mut line = String::new();
            let mut byte = [0u8; 1];
            while out.read(&mut byte).ok()? == 1 && byte != *b"\n" {
                line.push(char::from(byte[0]));
            }
            line.trim().parse().ok()
        });

        let mut proxy = SlapProxy {
            url: String::new(),
            computer_id: computer_id.to_owned(),
            child,
            stdin,
            proxy_pid,
            log,
            dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match url_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(url) => {
                    proxy.url = url;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(
                        proxy.start_error(env, "its stderr closed before it printed its URL")
                    );
                }
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                return Err(proxy.start_error(env, &format!("it exited ({status})")));
            }
            if Instant::now() > deadline {
                return Err(proxy.start_error(env, "it printed no `Running on` line within 30 s"));
            }
        }
        while !get_run_id_ok(&proxy.url) {
            if let Ok(Some(status)) = proxy.child.try_wait() {
                return Err(proxy.start_error(env, &format!("it exited ({status})")));
            }
            if Instant::now() > deadline {
                return Err(proxy.start_error(env, "GET /getRunId did not answer 200 within 30 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(proxy)
    }

    fn start_error(&self, env: &SlaposEnv, why: &str) -> HarnessError {
        // Give the stderr thread a moment to collect the last lines (e.g. a traceback).
        std::thread::sleep(Duration::from_millis(200));
        HarnessError::Start {
            bin: env.slapos_bin.clone(),
            why: why.to_owned(),
            log: self.log_tail().join("\n"),
        }
    }

    /// Base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The proxy's default computer id.
    pub fn computer_id(&self) -> &str {
        &self.computer_id
    }

    /// The proxy's temporary directory (configuration, database).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The generated proxy configuration.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("slapos.cfg")
    }

    /// The proxy's SQLite database.
    pub fn database_path(&self) -> PathBuf {
        self.dir.path().join("proxy.db")
    }

    /// The last lines the proxy wrote on stderr (Werkzeug logs every request there).
    pub fn log_tail(&self) -> Vec<String> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Stop the proxy now (also done on drop).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // Closing the pipe makes the watchdog kill the proxy (SIGTERM) and exit.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() > deadline => break,
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        if let Some(pid) = self.proxy_pid {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SlapProxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn drain_stderr(
    stderr: std::process::ChildStderr,
    log: &Mutex<VecDeque<String>>,
    url_tx: &mpsc::Sender<String>,
) {
    let mut sent = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if !sent && let Some(url) = running_on(&line) {
            sent = url_tx.send(url).is_ok();
        }
        if let Ok(mut log) = log.lock() {
            if log.len() == LOG_LINES {
                log.pop_front();
            }
            log.push_back(line);
        }
    }
}

/// The URL of Werkzeug's ` * Running on http://127.0.0.1:45917` line.
fn running_on(line: &str) -> Option<String> {
    let rest = line.split("Running on ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("http://")
        .then(|| url.trim_end_matches('/').to_owned())
}

/// One plain HTTP/1.0 `GET /getRunId` (no HTTP client dependency in the harness).
fn get_run_id_ok(url: &str) -> bool {
    let Some(hostport) = url.strip_prefix("http://") else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect(hostport) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if write!(stream, "GET /getRunId HTTP/1.0\r\nHost: {hostport}\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .lines()
        .next()
        .is_some_and(|status| status.split_whitespace().nth(1) == Some("200"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_werkzeug_running_line() {
        assert_eq!(
            running_on(" * Running on http://127.0.0.1:45917"),
            Some("http://127.0.0.1:45917".to_owned())
        );
        assert_eq!(
            running_on("2026-11-23 INFO * Running on http://127.0.0.1:1/ (Press CTRL+C)"),
            Some("http://127.0.0.1:1".to_owned())
        );
        assert_eq!(running_on("Press CTRL+C to quit"), None);
    }

    #[test]
    fn parses_python_versions() {
        assert_eq!(parse_version("3.12\n"), Some((3, 12)));
        assert_eq!(parse_version("garbage"), None);
    }
}

//! Test support for bouture: a **real** slapproxy per test.
//!
//! The proxy is the lightweight SlapOS master of the PyPI package `slapos.core` (pinned to
//! [`SLAPOS_CORE`]), plus `slapos.libnetworkcache` ([`LIBNETWORKCACHE`]), an undeclared
//! dependency without which `slapos proxy start` does not exist. Tests get one with
//! [`SlapProxy::start`]:
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
//! 1. `BOUTURE_SLAPOS_BIN`: the `slapos` executable to use. `scripts/test` sets it (through
//!    `scripts/setup.d/10-slapos-venv.sh`), so in CI a missing proxy is an error, never a skip.
//! 2. Otherwise the virtual environment `target/slapos-venv` (or `BOUTURE_SLAPOS_VENV`), created
//!    on first use with a Python found as `BOUTURE_PYTHON`, else on `PATH` (`python3.14` …
//!    `python3.12`, `python3`, `python3.11`; 3.12 or newer is preferred because
//!    `slapos node instance` needs it, the proxy alone runs on 3.11). Creation takes about a
//!    minute, needs PyPI, and is shared by concurrent test processes through a lock file.
//!    When no interpreter fits, the error lists every candidate and why it was refused.
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
pub mod ganeti;
pub mod master;
pub mod misbehaving;
pub mod node;
pub mod tls;

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The pinned `slapos.core` release.
pub const SLAPOS_CORE: &str = "slapos.core==1.26.1";
/// The oldest `slapos.core` release bouture is tested against (docs/master-client.md,
/// "Supported slapos.core versions"); `scripts/setup.d/15-slapos-oldest.sh` installs it.
pub const OLDEST_SLAPOS_CORE: &str = "slapos.core==1.4.28";
/// The pinned `slapos.libnetworkcache` release.
pub const LIBNETWORKCACHE: &str = "slapos.libnetworkcache==0.30";

/// How long a proxy may take to print its port and answer `getRunId`.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

const READY_MARKER: &str = ".bouture-ready";
const LOG_LINES: usize = 200;

/// Why the harness could not provide a proxy. Its `Debug` is its message, so
/// `SlapProxy::start(..).unwrap()` prints something readable.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// `BOUTURE_SLAPOS_BIN` points to nothing.
    #[error(
        "BOUTURE_SLAPOS_BIN={0} does not exist: run `source scripts/setup.d/10-slapos-venv.sh` (or unset it to let the harness create target/slapos-venv)"
    )]
    SlaposBinMissing(PathBuf),
    /// No usable Python interpreter.
    #[error(
        "no Python >= 3.11 with the venv and ensurepip modules was found to create the slapos venv; tried:\n{tried}\nInstall one (Debian: apt-get install python3 python3-venv; 3.12+ is needed for `slapos node instance`) or set BOUTURE_PYTHON=/path/to/python3.12"
    )]
    NoPython {
        /// Every candidate and why it was refused, one per line.
        tried: String,
    },
    /// Creating the virtual environment failed.
    #[error("cannot create the slapos venv at {venv}: {step} failed: {detail}")]
    Venv {
        /// The venv directory.
        venv: PathBuf,
        /// Which step (`python -m venv`, `pip install`, …).
        step: String,
        /// Output of the failed step (tail).
        detail: String,
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
    /// The lock that serialises venv creation cannot be taken.
    #[error(transparent)]
    Lock(#[from] bouture_fs::LockError),
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

    /// Locate `slapos` as described in the crate docs, creating the venv if needed.
    ///
    /// # Errors
    ///
    /// A [`HarnessError`] saying exactly what is missing.
    pub fn locate() -> Result<SlaposEnv, HarnessError> {
        if let Some(bin) = std::env::var_os("BOUTURE_SLAPOS_BIN").filter(|v| !v.is_empty()) {
            let bin = PathBuf::from(bin);
            if !bin.is_file() {
                return Err(HarnessError::SlaposBinMissing(bin));
            }
            return Ok(Self::from_bin(bin));
        }
        let venv = venv_dir();
        ensure_venv(&venv)?;
        Ok(Self::from_bin(venv.join("bin").join("slapos")))
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

    /// The installation of the oldest slapos.core bouture supports ([`OLDEST_SLAPOS_CORE`]):
    /// `BOUTURE_SLAPOS_OLDEST_BIN`, exported by `scripts/setup.d/15-slapos-oldest.sh`.
    ///
    /// # Errors
    ///
    /// [`HarnessError::Unavailable`] saying how to get it.
    pub fn oldest() -> Result<SlaposEnv, HarnessError> {
        let Some(bin) = std::env::var_os("BOUTURE_SLAPOS_OLDEST_BIN").filter(|v| !v.is_empty())
        else {
            return Err(HarnessError::Unavailable(format!(
                "BOUTURE_SLAPOS_OLDEST_BIN is not set: source scripts/setup.d/15-slapos-oldest.sh \
                 (it installs {OLDEST_SLAPOS_CORE} in target/slapos-venv-oldest and exports it)"
            )));
        };
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            return Err(HarnessError::SlaposBinMissing(bin));
        }
        Ok(Self::from_bin(bin))
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

/// The venv directory: `BOUTURE_SLAPOS_VENV`, else `target/slapos-venv`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("BOUTURE_SLAPOS_VENV")
        .filter(|v| !v.is_empty())
        .map_or_else(|| target_dir().join("slapos-venv"), PathBuf::from)
}

fn ready_marker_content() -> String {
    format!("{SLAPOS_CORE}\n{LIBNETWORKCACHE}\n")
}

fn venv_is_ready(venv: &Path) -> bool {
    std::fs::read_to_string(venv.join(READY_MARKER)).is_ok_and(|c| c == ready_marker_content())
        && venv.join("bin").join("slapos").is_file()
}

/// Create the venv at `venv` with the pinned packages unless it is already there. Safe to call
/// from concurrent processes (a lock file next to the venv serialises them).
///
/// # Errors
///
/// A [`HarnessError`] saying what is missing (no Python, pip failure, …).
pub fn ensure_venv(venv: &Path) -> Result<(), HarnessError> {
    if venv_is_ready(venv) {
        return Ok(());
    }
    let parent = venv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err("cannot create", parent))?;
    let lock_path = venv.with_extension("lock");
    // Held until the venv is made: another process may take minutes.
    let _lock = bouture_fs::FileLock::lock_file(&lock_path, bouture_fs::Wait::Forever)?;
    if venv_is_ready(venv) {
        return Ok(());
    }
    let (python, _) = find_python()?;
    if venv.exists() {
        // A half-made venv (interrupted creation): start again.
        std::fs::remove_dir_all(venv).map_err(io_err("cannot remove", venv))?;
    }
    note(&format!(
        "bouture-test-support: creating {} with {} ({SLAPOS_CORE}, {LIBNETWORKCACHE}); this takes about a minute",
        venv.display(),
        python.display()
    ));
    run_step(
        venv,
        "python -m venv",
        Command::new(&python).arg("-m").arg("venv").arg(venv),
    )?;
    run_step(
        venv,
        "pip install",
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args([SLAPOS_CORE, LIBNETWORKCACHE]),
    )?;
    // `slapos proxy start` only exists when slapos.libnetworkcache imports.
    run_step(
        venv,
        "checking `slapos proxy start --help`",
        Command::new(venv.join("bin").join("slapos")).args(["proxy", "start", "--help"]),
    )?;
    let marker = venv.join(READY_MARKER);
    std::fs::write(&marker, ready_marker_content()).map_err(io_err("cannot write", &marker))?;
    Ok(())
}

#[allow(clippy::print_stderr)] // A one-minute pause in a test run deserves a line on stderr.
fn note(msg: &str) {
    eprintln!("{msg}");
}

fn run_step(venv: &Path, step: &str, cmd: &mut Command) -> Result<(), HarnessError> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| HarnessError::Venv {
            venv: venv.to_owned(),
            step: step.to_owned(),
            detail: format!("cannot run {}: {e}", cmd.get_program().display()),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    Err(HarnessError::Venv {
        venv: venv.to_owned(),
        step: step.to_owned(),
        detail: format!(
            "{} (needs network access to PyPI)\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    })
}

/// The Python interpreters tried, in order, when `BOUTURE_PYTHON` is not set.
pub const PYTHON_CANDIDATES: &[&str] = &[
    "python3.14",
    "python3.13",
    "python3.12",
    "python3",
    "python3.11",
];

/// Find a Python able to create the venv: `BOUTURE_PYTHON` if set (it must work), else the
/// first of [`PYTHON_CANDIDATES`] on `PATH` that is >= 3.12, else one that is >= 3.11.
///
/// # Errors
///
/// [`HarnessError::NoPython`] listing every candidate and why it was refused.
pub fn find_python() -> Result<(PathBuf, (u32, u32)), HarnessError> {
    let mut tried = Vec::new();
    let candidates: Vec<OsString> =
        match std::env::var_os("BOUTURE_PYTHON").filter(|v| !v.is_empty()) {
            Some(p) => vec![p],
            None => PYTHON_CANDIDATES.iter().map(OsString::from).collect(),
        };
    let mut fallback = None;
    for candidate in candidates {
        let shown = PathBuf::from(&candidate);
        match probe_python(&candidate) {
            Ok(version) if version >= (3, 12) => return Ok((shown, version)),
            Ok(version) if version >= (3, 11) => {
                tried.push(format!(
                    "  {}: Python {}.{} (usable for the proxy; 3.12+ preferred)",
                    shown.display(),
                    version.0,
                    version.1
                ));
                if fallback.is_none() {
                    fallback = Some((shown, version));
                }
            }
            Ok(version) => tried.push(format!(
                "  {}: Python {}.{} is too old",
                shown.display(),
                version.0,
                version.1
            )),
            Err(why) => tried.push(format!("  {}: {why}", shown.display())),
        }
    }
    fallback.ok_or(HarnessError::NoPython {
        tried: tried.join("\n"),
    })
}

const PROBE: &str = "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])";

fn probe_python(python: &std::ffi::OsStr) -> Result<(u32, u32), String> {
    let out = Command::new(python)
        .args(["-c", PROBE])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("not runnable ({e})"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!("fails ({}): {last}", out.status));
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| "prints no version".to_owned())
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

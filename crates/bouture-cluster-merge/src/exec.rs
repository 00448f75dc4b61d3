//! The executor interface: how the plan's commands are run.

use std::io;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::command::Cmd;

/// What a command did: its exit status and (bounded) output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdOutput {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output (at most the executor's output limit).
    pub stdout: Vec<u8>,
    /// Standard error (at most [`STDERR_LIMIT`] bytes; the rest is dropped).
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Standard output as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The last lines of standard error, bounded to [`EXCERPT`] bytes, for a message.
    pub fn stderr_excerpt(&self) -> String {
        bouture_text::tail(&self.stderr, EXCERPT)
    }

    /// Why a command failed, for a message: the end of its standard error
    /// and, unless its output is secret, of its standard output (where
    /// tools such as `gnt-cluster verify` report), each bounded to
    /// [`EXCERPT`] bytes.
    pub fn failure_excerpt(&self, capture: crate::command::Capture) -> String {
        let stderr = bouture_text::tail(&self.stderr, EXCERPT);
        let stdout = match capture {
            crate::command::Capture::Secret => String::new(),
            crate::command::Capture::Log => bouture_text::tail(&self.stdout, EXCERPT),
        };
        match (stderr.is_empty(), stdout.is_empty()) {
            (_, true) => stderr,
            (true, false) => format!("stdout: {stdout}"),
            (false, false) => format!("{stderr} (stdout: {stdout})"),
        }
    }
}

/// The most bytes of standard error kept from one command.
pub const STDERR_LIMIT: u64 = 64 * 1024;
/// The most bytes of a command's output quoted in a message.
pub const EXCERPT: usize = 400;

/// A request to stop the run, made from a signal handler (the CLI
/// registers `SIGINT`, `SIGTERM` and `SIGHUP` with `signal-hook`, which
/// stores the signal's number) or by any thread: the running command's
/// process group is killed, and the run stops at the current action as a
/// failure would.
#[derive(Debug, Clone, Default)]
pub struct StopRequest(Arc<AtomicUsize>);

impl StopRequest {
    /// No stop requested yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The flag a signal handler sets to the signal's number
    /// (`signal_hook::flag::register_usize`).
    pub fn flag(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.0)
    }

    /// Ask to stop, as signal `signal` would.
    pub fn request(&self, signal: i32) {
        self.0.store(
            usize::try_from(signal).unwrap_or(1).max(1),
            Ordering::SeqCst,
        );
    }

    /// The signal that asked to stop, if any.
    pub fn requested(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(i32::try_from(signal).unwrap_or(i32::MAX)),
        }
    }

    /// The signal that asked to stop, if any; the request is cleared (a
    /// new signal makes a new one).
    pub fn take(&self) -> Option<i32> {
        match self.0.swap(0, Ordering::SeqCst) {
            0 => None,
            signal => Some(i32::try_from(signal).unwrap_or(i32::MAX)),
        }
    }
}

/// A signal's name for messages (`SIGTERM`), or its number.
pub fn signal_name(signal: i32) -> String {
    match signal {
        1 => "SIGHUP".to_owned(),
        2 => "SIGINT".to_owned(),
        9 => "SIGKILL".to_owned(),
        15 => "SIGTERM".to_owned(),
        other => format!("signal {other}"),
    }
}

/// Why a command could not be run at all (a command that ran and failed is
/// a [`CmdOutput`] with a non-zero code).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The program could not be started.
    #[error("cannot start {}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading the program's output or waiting for it failed.
    #[error("lost the output of {program}")]
    Wait {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The host's key is not in `known_hosts` and unknown keys are refused.
    #[error(
        "{host}: its host key is not known (not in known_hosts), so the connection was refused; \
         check the key's fingerprint with the host's administrator and add it \
         (ssh-keyscan {host} >> ~/.ssh/known_hosts)"
    )]
    HostKeyUnknown {
        /// The SSH host.
        host: String,
    },
    /// The host presented a key different from the one in `known_hosts`.
    #[error(
        "{host}: its host key CHANGED since it was recorded in known_hosts; the connection was refused \
         (this is never accepted automatically: find out why, then remove the old key with ssh-keygen -R {host})"
    )]
    HostKeyChanged {
        /// The SSH host.
        host: String,
    },
    /// The host could not be reached within the connection timeout.
    #[error("{host}: unreachable: {detail}")]
    Unreachable {
        /// The SSH host.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// The host refused every key offered (batch mode never asks for a password).
    #[error("{host}: authentication refused (batch mode, keys only): {detail}")]
    AuthenticationFailed {
        /// The SSH host.
        host: String,
        /// What ssh said.
        detail: String,
    },
    /// A command needs a merging cluster's key that was not fetched.
    #[error("no key for cluster {cluster}: it was not fetched in this run")]
    NoKey {
        /// The merging cluster.
        cluster: String,
    },
    /// A fetched private key does not look like one.
    #[error("the root key fetched from {cluster} is not an OpenSSH or PEM private key")]
    BadKey {
        /// The merging cluster.
        cluster: String,
    },
    /// The temporary key could not be written or removed.
    #[error("temporary key file {}", path.display())]
    KeyFile {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The temporary key could not be written (the error names the file).
    #[error("temporary key file: {0}")]
    WriteKey(#[source] bouture_fs::WriteError),
    /// The run was asked to stop (a signal) while the command ran: its
    /// process group was killed.
    #[error("{program} was stopped: bouture received {}", signal_name(*signal))]
    Interrupted {
        /// The program.
        program: String,
        /// The signal bouture received.
        signal: i32,
    },
    /// The program ran longer than its deadline; it was killed with its
    /// process group.
    #[error("{program} ran longer than {} s and was killed", deadline.as_secs())]
    Deadline {
        /// The program.
        program: String,
        /// The deadline ([`crate::SshOptions::command_deadline`]).
        deadline: Duration,
    },
    /// The output was larger than the executor accepts.
    #[error("{program} printed more than {limit} bytes, the most accepted")]
    OutputTooLarge {
        /// The program.
        program: String,
        /// The limit in bytes.
        limit: u64,
    },
}

/// Runs the plan's commands. [`crate::SystemExecutor`] is the real one
/// (local processes and the system `ssh` client); tests may supply others.
pub trait Executor {
    /// Run `cmd` and wait for it. A command that ran and failed is an
    /// `Ok` with a non-zero code; `Err` means it could not run.
    fn run(&mut self, cmd: &Cmd) -> Result<CmdOutput, ExecError>;

    /// Keep a merging cluster's root private key (fetched from it) for the
    /// commands whose identity is [`crate::Identity::ClusterKey`].
    fn add_cluster_key(&mut self, cluster: &str, key: &[u8]) -> Result<(), ExecError>;

    /// Remove every key kept by [`Executor::add_cluster_key`].
    fn remove_keys(&mut self) -> Result<(), ExecError>;

    /// Keep the keys added from now on in a private directory under `dir`
    /// (the state directory: a later run removes what a killed run left
    /// there). Executors that keep no key files ignore it.
    fn keep_keys_in(&mut self, dir: &std::path::Path) {
        let _ = dir;
    }

    /// The signal that asked the run to stop since the last call, if any
    /// (the request is cleared). Executors without a [`StopRequest`] never
    /// stop.
    fn take_stop_request(&mut self) -> Option<i32> {
        None
    }

    /// The exact program and arguments `cmd` is run with, as a shell line
    /// for the operator (the SSH options included).
    fn describe(&self, cmd: &Cmd) -> String;
}

/// Run a prepared process (bouture-proc: its own process group, killed at
/// `deadline`) with standard input closed, collecting at most `limit` bytes
/// of standard output (more is [`ExecError::OutputTooLarge`]) and the last
/// [`STDERR_LIMIT`] bytes of standard error. When `stop` is requested while
/// it runs, its process group gets `SIGTERM`, then `SIGKILL` after
/// [`bouture_proc::STOP_GRACE`] ([`ExecError::Interrupted`]).
pub(crate) fn run_process(
    command: Command,
    program: &str,
    limit: u64,
    deadline: Duration,
    stop: Option<&StopRequest>,
) -> Result<CmdOutput, ExecError> {
    let options = bouture_proc::Options {
        stdout: bouture_proc::Bound::start(usize::try_from(limit).unwrap_or(usize::MAX)),
        stderr: bouture_proc::Bound::end(usize::try_from(STDERR_LIMIT).unwrap_or(usize::MAX)),
        ..bouture_proc::Options::new(deadline)
    };
    let never = AtomicUsize::new(0);
    let flag = stop.map_or(&never, |stop| &*stop.0);
    let output = match bouture_proc::run_until_stopped(command, None, &options, flag) {
        Ok(output) => output,
        Err(bouture_proc::Error::Start { source, .. }) => {
            return Err(ExecError::Spawn {
                program: PathBuf::from(program),
                source,
            });
        }
        Err(bouture_proc::Error::Deadline { deadline, .. }) => {
            return Err(ExecError::Deadline {
                program: program.to_owned(),
                deadline,
            });
        }
        Err(bouture_proc::Error::Stopped { request, .. }) => {
            return Err(ExecError::Interrupted {
                program: program.to_owned(),
                signal: i32::try_from(request).unwrap_or(i32::MAX),
            });
        }
        Err(error) => {
            return Err(ExecError::Wait {
                program: program.to_owned(),
                source: io::Error::other(bouture_text::error_chain(&error)),
            });
        }
    };
    if output.stdout.is_cut() {
        return Err(ExecError::OutputTooLarge {
            program: program.to_owned(),
            limit,
        });
    }
    Ok(CmdOutput {
        code: output.status.code(),
        stdout: output.stdout.bytes,
        stderr: output.stderr.bytes,
    })
}

/// A temporary directory in `parent` only its owner can enter (0700): for
/// keys and fetched files.
pub(crate) fn private_tempdir(
    parent: &std::path::Path,
    prefix: &str,
) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir_in(parent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_bounded_and_the_child_never_blocks() {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; exit 3",
        ]);
        let error = run_process(command, "sh", 1000, Duration::from_mins(1), None).unwrap_err();
        assert!(matches!(
            error,
            ExecError::OutputTooLarge { limit: 1000, .. }
        ));
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; head -c 200000 /dev/zero >&2; exit 3"]);
        let output = run_process(command, "sh", 1000, Duration::from_mins(1), None).unwrap();
        assert_eq!(output.code, Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr.len() as u64, STDERR_LIMIT);
    }

    #[test]
    fn a_stop_request_kills_the_whole_process_group() {
        let stop = StopRequest::new();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("grandchild-survived");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("(sleep 2; touch {}) & sleep 30", marker.display()));
        let requester = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                stop.request(15);
            })
        };
        let started = std::time::Instant::now();
        let error =
            run_process(command, "sh", 1000, Duration::from_mins(1), Some(&stop)).unwrap_err();
        requester.join().unwrap();
        assert!(
            matches!(error, ExecError::Interrupted { signal: 15, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("SIGTERM"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            !marker.exists(),
            "the command's background child was killed too"
        );
        assert_eq!(stop.take(), Some(15));
        assert_eq!(stop.take(), None);
    }

    #[test]
    fn excerpts_keep_the_end() {
        let long = "x".repeat(1000) + "the error";
        let short = bouture_text::tail(long.as_bytes(), EXCERPT);
        assert!(short.ends_with("the error"));
        assert!(short.len() <= EXCERPT + 3);
    }
}

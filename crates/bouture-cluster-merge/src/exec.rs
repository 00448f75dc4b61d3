//! The executor interface: how the plan's commands are run.

use std::io::{self, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

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
        excerpt(&self.stderr)
    }
}

/// The most bytes of standard error kept from one command.
pub const STDERR_LIMIT: u64 = 64 * 1024;
/// The most bytes of a command's output quoted in a message.
pub const EXCERPT: usize = 400;

/// The end of `bytes` (where errors are), at most [`EXCERPT`] bytes, trimmed.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.len() <= EXCERPT {
        return text.to_owned();
    }
    let mut start = text.len() - EXCERPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", text.get(start..).unwrap_or_default())
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

    /// The exact program and arguments `cmd` is run with, as a shell line
    /// for the operator (the SSH options included).
    fn describe(&self, cmd: &Cmd) -> String;
}

/// Run a prepared process with standard input closed, collecting at most
/// `limit` bytes of standard output and [`STDERR_LIMIT`] of standard error.
/// Output beyond the limits is read and dropped, so the child never blocks.
pub(crate) fn run_process(
    mut command: Command,
    program: &str,
    limit: u64,
) -> Result<CmdOutput, ExecError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| ExecError::Spawn {
        program: PathBuf::from(program),
        source,
    })?;
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || match stderr {
        Some(stream) => read_capped(stream, STDERR_LIMIT),
        None => Ok((Vec::new(), false)),
    });
    let stdout = match child.stdout.take() {
        Some(stream) => read_capped(stream, limit),
        None => Ok((Vec::new(), false)),
    };
    let status = child.wait();
    let stderr = reader
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the stderr reader panicked")));
    let wait = |source| ExecError::Wait {
        program: program.to_owned(),
        source,
    };
    let status = status.map_err(wait)?;
    let (stdout, truncated) = stdout.map_err(wait)?;
    let (stderr, _) = stderr.map_err(wait)?;
    if truncated {
        return Err(ExecError::OutputTooLarge {
            program: program.to_owned(),
            limit,
        });
    }
    Ok(CmdOutput {
        code: status.code(),
        stdout,
        stderr,
    })
}

/// Read a stream to its end, keeping the first `limit` bytes; says whether
/// anything was dropped.
fn read_capped(mut stream: impl Read, limit: u64) -> io::Result<(Vec<u8>, bool)> {
    let mut kept = Vec::new();
    (&mut stream).take(limit).read_to_end(&mut kept)?;
    let dropped = io::copy(&mut stream, &mut io::sink())?;
    Ok((kept, dropped > 0))
}

/// A temporary directory only its owner can enter (0700): for keys and
/// fetched files.
pub(crate) fn private_tempdir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
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
        let error = run_process(command, "sh", 1000).unwrap_err();
        assert!(matches!(
            error,
            ExecError::OutputTooLarge { limit: 1000, .. }
        ));
        let mut command = Command::new("sh");
        command.args(["-c", "echo out; head -c 200000 /dev/zero >&2; exit 3"]);
        let output = run_process(command, "sh", 1000).unwrap();
        assert_eq!(output.code, Some(3));
        assert_eq!(output.stdout, b"out\n");
        assert_eq!(output.stderr.len() as u64, STDERR_LIMIT);
    }

    #[test]
    fn excerpts_keep_the_end() {
        let long = "x".repeat(1000) + "the error";
        let short = excerpt(long.as_bytes());
        assert!(short.ends_with("the error"));
        assert!(short.len() <= EXCERPT + 3);
    }
}

//! The real executor: local processes and the system `ssh` client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bouture_text::shell_quote;

use crate::command::{Cmd, Identity, Target};
use crate::exec::{
    CmdOutput, EXCERPT, ExecError, Executor, StopRequest, private_tempdir, run_process,
};

/// What `ssh` does with a host key it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyPolicy {
    /// Refuse it (`StrictHostKeyChecking=yes`): the default.
    #[default]
    Strict,
    /// Record it and connect (`StrictHostKeyChecking=accept-new`). A key
    /// that *changed* is still refused.
    AcceptNew,
}

/// How the system `ssh` client is called.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// The `ssh` program.
    pub program: PathBuf,
    /// The remote user.
    pub user: String,
    /// The port (`None`: ssh's default or its configuration's).
    pub port: Option<u16>,
    /// How long to wait for a connection (and the protocol banner).
    pub connect_timeout: Duration,
    /// Unknown host keys: refused or accepted.
    pub host_keys: HostKeyPolicy,
    /// The known-hosts file (`None`: ssh's default, `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// The ssh configuration file (`None`: ssh's default).
    pub config: Option<PathBuf>,
    /// The operator's identity for [`Identity::Operator`] (`None`: ssh's defaults).
    pub identity: Option<PathBuf>,
    /// How long one command (local, or remote with its connection) may run
    /// before it is killed with its process group:
    /// [`DEFAULT_COMMAND_DEADLINE`] unless set.
    pub command_deadline: Duration,
}

/// The default deadline of one command: 1 hour (a `gnt-instance` shutdown
/// or start-up of every instance of a cluster, a `config.data` of hundreds
/// of MiB copied between masters).
pub const DEFAULT_COMMAND_DEADLINE: Duration = Duration::from_hours(1);

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            program: PathBuf::from("ssh"),
            user: "root".to_owned(),
            port: None,
            connect_timeout: Duration::from_secs(10),
            host_keys: HostKeyPolicy::Strict,
            known_hosts: None,
            config: None,
            identity: None,
            command_deadline: DEFAULT_COMMAND_DEADLINE,
        }
    }
}

/// The most bytes read from a command's standard output (a config.data).
pub const OUTPUT_LIMIT: u64 = 512 * 1024 * 1024;
/// The largest private key accepted from a merging cluster.
pub const KEY_LIMIT: usize = 64 * 1024;

/// Runs [`Cmd`]s: [`Target::Local`] as local processes, [`Target::Remote`]
/// through the system `ssh` client, in batch mode (never a prompt), with
/// strict host key checking unless accepted otherwise, and a connection
/// timeout. Merging clusters' keys are kept in a private temporary directory
/// (mode 0700, keys 0600) outside the state directory, removed by
/// [`Executor::remove_keys`] and when the executor is dropped.
#[derive(Debug)]
pub struct SystemExecutor {
    options: SshOptions,
    key_dir: Option<tempfile::TempDir>,
    key_parent: Option<PathBuf>,
    keys: BTreeMap<String, PathBuf>,
    output_limit: u64,
    stop: Option<StopRequest>,
}

impl SystemExecutor {
    /// An executor using `options` for SSH.
    pub fn new(options: SshOptions) -> Self {
        Self {
            options,
            key_dir: None,
            key_parent: None,
            keys: BTreeMap::new(),
            output_limit: OUTPUT_LIMIT,
            stop: None,
        }
    }

    /// The same executor, stopping the running command (its whole process
    /// group) when `stop` is requested.
    #[must_use]
    pub fn with_stop(mut self, stop: StopRequest) -> Self {
        self.stop = Some(stop);
        self
    }

    /// The directory holding the temporary keys, while there is one (in the
    /// directory given to [`Executor::keep_keys_in`], else in the system's
    /// temporary directory).
    pub fn key_dir(&self) -> Option<&Path> {
        self.key_dir.as_ref().map(tempfile::TempDir::path)
    }

    /// The `ssh` arguments (without the program) for `cmd` on `host`.
    fn ssh_args(
        &self,
        host: &str,
        identity: &Identity,
        key: Option<&Path>,
        cmd: &Cmd,
    ) -> Vec<String> {
        let o = &self.options;
        let mut args: Vec<String> = vec!["-T".into()];
        let mut option = |value: String| {
            args.push("-o".into());
            args.push(value);
        };
        option("BatchMode=yes".into());
        option(format!(
            "StrictHostKeyChecking={}",
            match o.host_keys {
                HostKeyPolicy::Strict => "yes",
                HostKeyPolicy::AcceptNew => "accept-new",
            }
        ));
        option(format!(
            "ConnectTimeout={}",
            o.connect_timeout.as_secs().max(1)
        ));
        option("ServerAliveInterval=15".into());
        option("ServerAliveCountMax=4".into());
        if let Some(known) = &o.known_hosts {
            option(format!("UserKnownHostsFile={}", known.display()));
        }
        if let Identity::ClusterKey(_) = identity {
            option("IdentitiesOnly=yes".into());
        }
        if let Some(config) = &o.config {
            args.push("-F".into());
            args.push(config.display().to_string());
        }
        if let Some(port) = o.port {
            args.push("-p".into());
            args.push(port.to_string());
        }
        match (identity, key, &o.identity) {
            (Identity::ClusterKey(cluster), None, _) => {
                args.push("-i".into());
                args.push(format!("<temporary copy of {cluster}'s root key>"));
            }
            (Identity::ClusterKey(_), Some(key), _) => {
                args.push("-i".into());
                args.push(key.display().to_string());
            }
            (Identity::Operator, _, Some(key)) => {
                args.push("-i".into());
                args.push(key.display().to_string());
            }
            (Identity::Operator, _, None) => {}
        }
        args.push("-l".into());
        args.push(o.user.clone());
        args.push("--".into());
        args.push(host.to_owned());
        args.push(cmd.shell_line());
        args
    }

    fn run_remote(
        &self,
        host: &str,
        identity: &Identity,
        cmd: &Cmd,
    ) -> Result<CmdOutput, ExecError> {
        let key = match identity {
            Identity::ClusterKey(cluster) => Some(
                self.keys
                    .get(cluster)
                    .ok_or_else(|| ExecError::NoKey {
                        cluster: cluster.clone(),
                    })?
                    .as_path(),
            ),
            Identity::Operator => None,
        };
        let mut command = Command::new(&self.options.program);
        command.args(self.ssh_args(host, identity, key, cmd));
        let program = self.options.program.display().to_string();
        let output = run_process(
            command,
            &program,
            self.output_limit,
            self.options.command_deadline,
            self.stop.as_ref(),
        )?;
        if output.code == Some(255)
            && let Some(error) = classify_ssh_failure(host, &output.stderr)
        {
            return Err(error);
        }
        Ok(output)
    }
}

/// Recognise ssh's own failures (exit 255) from its messages.
fn classify_ssh_failure(host: &str, stderr: &[u8]) -> Option<ExecError> {
    let text = String::from_utf8_lossy(stderr);
    let host = host.to_owned();
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return Some(ExecError::HostKeyChanged { host });
    }
    if text.contains("Host key verification failed") || text.contains("host key is known for") {
        return Some(ExecError::HostKeyUnknown { host });
    }
    if text.contains("Permission denied") {
        return Some(ExecError::AuthenticationFailed {
            host,
            detail: bouture_text::tail(stderr, EXCERPT),
        });
    }
    let unreachable = [
        "Connection timed out",
        "timed out",
        "Connection refused",
        "No route to host",
        "Network is unreachable",
        "Could not resolve hostname",
        "Name or service not known",
        "Connection closed",
        "Connection reset",
    ];
    unreachable
        .iter()
        .any(|pattern| text.contains(pattern))
        .then(|| ExecError::Unreachable {
            host,
            detail: bouture_text::tail(stderr, EXCERPT),
        })
}

impl Executor for SystemExecutor {
    fn run(&mut self, cmd: &Cmd) -> Result<CmdOutput, ExecError> {
        match &cmd.target {
            Target::Local => {
                let Some((program, args)) = cmd.argv.split_first() else {
                    return Ok(CmdOutput {
                        code: Some(0),
                        stdout: Vec::new(),
                        stderr: Vec::new(),
                    });
                };
                let mut command = Command::new(program);
                command.args(args);
                command.envs(cmd.env.iter().map(|(k, v)| (k, v)));
                run_process(
                    command,
                    program,
                    self.output_limit,
                    self.options.command_deadline,
                    self.stop.as_ref(),
                )
            }
            Target::Remote { host, identity } => self.run_remote(host, identity, cmd),
        }
    }

    fn add_cluster_key(&mut self, cluster: &str, key: &[u8]) -> Result<(), ExecError> {
        let looks_like_key = key.len() <= KEY_LIMIT
            && key.starts_with(b"-----BEGIN ")
            && key.windows(9).any(|w| w == b"-----END ");
        if !looks_like_key {
            return Err(ExecError::BadKey {
                cluster: cluster.to_owned(),
            });
        }
        if self.key_dir.is_none() {
            let (parent, prefix) = match &self.key_parent {
                Some(parent) => (parent.clone(), "keys."),
                None => (std::env::temp_dir(), "bouture-cluster-merge-keys."),
            };
            let dir = private_tempdir(&parent, prefix).map_err(|source| ExecError::KeyFile {
                path: parent,
                source,
            })?;
            self.key_dir = Some(dir);
        }
        let Some(dir) = &self.key_dir else {
            return Err(ExecError::NoKey {
                cluster: cluster.to_owned(),
            });
        };
        let path = dir.path().join(format!("key-{}", self.keys.len()));
        let mut bytes = key.to_vec();
        if !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        bouture_fs::write_atomic(&path, &bytes, 0o600, None).map_err(ExecError::WriteKey)?;
        self.keys.insert(cluster.to_owned(), path);
        Ok(())
    }

    fn remove_keys(&mut self) -> Result<(), ExecError> {
        self.keys.clear();
        if let Some(dir) = self.key_dir.take() {
            let path = dir.path().to_owned();
            dir.close()
                .map_err(|source| ExecError::KeyFile { path, source })?;
        }
        Ok(())
    }

    fn keep_keys_in(&mut self, dir: &Path) {
        self.key_parent = Some(dir.to_owned());
    }

    fn take_stop_request(&mut self) -> Option<i32> {
        self.stop.as_ref().and_then(StopRequest::take)
    }

    /// The command as a shell line. A copied cluster key is named by what it
    /// is, never by its path: the copy is removed when the run ends, so a
    /// path would name a file that no longer exists in the journal and the
    /// report, which outlive it.
    fn describe(&self, cmd: &Cmd) -> String {
        match &cmd.target {
            Target::Local => cmd.shell_line(),
            Target::Remote { host, identity } => {
                let mut words = vec![shell_quote(&self.options.program.display().to_string())];
                words.extend(
                    self.ssh_args(host, identity, None, cmd)
                        .iter()
                        .map(|arg| shell_quote(arg)),
                );
                words.join(" ")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_failures_are_recognised() {
        assert!(matches!(
            classify_ssh_failure("h", b"Host key verification failed.\r\n"),
            Some(ExecError::HostKeyUnknown { .. })
        ));
        assert!(matches!(
            classify_ssh_failure(
                "h",
                b"@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.\n"
            ),
            Some(ExecError::HostKeyChanged { .. })
        ));
        assert!(matches!(
            classify_ssh_failure(
                "h",
                b"ssh: connect to host h port 22: Connection refused\r\n"
            ),
            Some(ExecError::Unreachable { .. })
        ));
        assert!(classify_ssh_failure("h", b"the remote command said 255").is_none());
    }

    #[test]
    fn keys_live_in_a_private_directory_and_are_removed() {
        use std::os::unix::fs::PermissionsExt;
        let mut executor = SystemExecutor::new(SshOptions::default());
        assert!(matches!(
            executor.add_cluster_key("c", b"not a key"),
            Err(ExecError::BadKey { .. })
        ));
        executor
            .add_cluster_key(
                "c",
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
            )
            .unwrap();
        let dir = executor.key_dir().unwrap().to_owned();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let key = dir.join("key-0");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let cmd = Cmd::remote("n1", Identity::ClusterKey("c".into()), ["true"]);
        // The copy is named by what it is, while it exists and after.
        let described = executor.describe(&cmd);
        assert!(!described.contains(&*dir.to_string_lossy()), "{described}");
        assert!(described.contains("'<temporary copy of c'\\''s root key>'"));
        executor.remove_keys().unwrap();
        assert!(!dir.exists());
        assert_eq!(executor.describe(&cmd), described);
    }
}

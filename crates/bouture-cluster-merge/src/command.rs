//! Commands: what runs where, and how it is shown to the operator.

use std::fmt;

use bouture_text::shell_quote;
use serde::{Deserialize, Serialize};

/// Which identity opens the SSH connection to a remote host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    /// The operator's own SSH setup (root's keys and `~/.ssh/config`).
    Operator,
    /// Only the temporary copy of this merging cluster's root key
    /// (`IdentitiesOnly=yes`): the key every node of that cluster accepts.
    ClusterKey(String),
}

/// Where a command runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// On this machine (our cluster's master), as a local process.
    Local,
    /// On a remote host, through the system `ssh` client.
    Remote {
        /// The SSH host name (a cluster name or a node name).
        host: String,
        /// The identity used to log in.
        identity: Identity,
    },
}

/// What is done with a command's standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Capture {
    /// Kept and logged (bounded).
    #[default]
    Log,
    /// Secret (a private key, a configuration with DRBD secrets): used,
    /// never logged nor echoed in a message.
    Secret,
}

/// One command: a program and its arguments (never a string that a local
/// shell would split), where it runs, and its environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Cmd {
    /// Where it runs.
    pub target: Target,
    /// Extra environment variables (`NAME`, `value`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<(String, String)>,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// What its standard output is used for.
    #[serde(default)]
    pub capture: Capture,
}

impl Cmd {
    /// A command run on this machine.
    pub fn local<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            target: Target::Local,
            env: Vec::new(),
            argv: argv.into_iter().map(Into::into).collect(),
            capture: Capture::Log,
        }
    }

    /// A command run on `host` through SSH, logged in with `identity`.
    pub fn remote<I, S>(host: &str, identity: Identity, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            target: Target::Remote {
                host: host.to_owned(),
                identity,
            },
            env: Vec::new(),
            argv: argv.into_iter().map(Into::into).collect(),
            capture: Capture::Log,
        }
    }

    /// The same command with an extra environment variable.
    #[must_use]
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The same command, its output secret.
    #[must_use]
    pub fn secret(mut self) -> Self {
        self.capture = Capture::Secret;
        self
    }

    /// The command line as a POSIX shell reads it: environment assignments,
    /// then every argument quoted when needed. This is the string sent to
    /// the remote shell by SSH.
    pub fn shell_line(&self) -> String {
        let mut words: Vec<String> = self
            .env
            .iter()
            .map(|(name, value)| format!("{name}={}", shell_quote(value)))
            .collect();
        words.extend(self.argv.iter().map(|arg| shell_quote(arg)));
        words.join(" ")
    }

    /// Where it runs, for messages: `local` or the host name.
    pub fn place(&self) -> &str {
        match &self.target {
            Target::Local => "local",
            Target::Remote { host, .. } => host,
        }
    }
}

impl fmt::Display for Cmd {
    /// `[place] command line`, as in the plan and the log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.place(), self.shell_line())
    }
}

/// Whether `name` is acceptable as a host, node, cluster or instance name
/// coming from a remote cluster: a DNS name (letters, digits, `-`, `.`,
/// `_`), not starting with `-` or `.`, at most 253 bytes. Such a name is
/// safe as an SSH host and as a shell word.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines() {
        let cmd = Cmd::local(["daemon-util", "start-master"])
            .with_env("EXTRA_MASTERD_ARGS", "--no-voting --yes-do-it");
        assert_eq!(
            cmd.shell_line(),
            "EXTRA_MASTERD_ARGS='--no-voting --yes-do-it' daemon-util start-master"
        );
        assert_eq!(
            cmd.to_string(),
            "[local] EXTRA_MASTERD_ARGS='--no-voting --yes-do-it' daemon-util start-master"
        );
        let remote = Cmd::remote("n1", Identity::Operator, ["sh", "-c", "echo 'a' $b"]);
        assert_eq!(remote.shell_line(), r"sh -c 'echo '\''a'\'' $b'");
    }

    #[test]
    fn names() {
        assert!(is_valid_name("node1.example.com"));
        assert!(!is_valid_name("-oProxyCommand=x"));
        assert!(!is_valid_name("a b"));
        assert!(!is_valid_name("a;b"));
        assert!(!is_valid_name(""));
    }
}

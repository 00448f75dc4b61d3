//! Typed queries: each is one command and the parser of its answer,
//! together, so that discovery reads as a list of questions and a resume
//! asks the same ones (the key copy) the same way.

use crate::command::{Cmd, Identity, is_valid_name};
use crate::error::Error;
use crate::exec::Executor;
use crate::facts::{InstanceFacts, NodeFacts, is_status};
use crate::plan::GanetiPaths;

/// One question asked of a host: the command, and what its standard
/// output means.
pub(crate) trait Query {
    /// The parsed answer.
    type Answer;

    /// The command that asks it.
    fn command(&self) -> Cmd;

    /// The answer, from the command's standard output (`cmd` names the
    /// command in errors).
    fn parse(&self, cmd: &Cmd, stdout: Vec<u8>) -> Result<Self::Answer, Error>;
}

/// Ask `query`: stop first if a signal asked to, run its command (it must
/// succeed), parse its answer.
pub(crate) fn ask<Q: Query>(exec: &mut dyn Executor, query: &Q) -> Result<Q::Answer, Error> {
    let cmd = query.command();
    if let Some(signal) = exec.take_stop_request() {
        return Err(Error::Interrupted { signal });
    }
    let output = exec.run(&cmd).map_err(|source| Error::Exec {
        cmd: cmd.to_string(),
        source,
    })?;
    if !output.success() {
        return Err(Error::CommandFailed {
            cmd: cmd.to_string(),
            code: output.code,
            output: output.failure_excerpt(cmd.capture),
        });
    }
    query.parse(&cmd, output.stdout)
}

/// Where a query runs: here, or on a host of a merging cluster with an
/// identity, and that host's Ganeti paths.
#[derive(Debug, Clone, Copy)]
pub(crate) struct On<'a> {
    host: Option<(&'a str, &'a Identity)>,
    paths: &'a GanetiPaths,
}

impl<'a> On<'a> {
    /// This machine (our master).
    pub(crate) fn here(paths: &'a GanetiPaths) -> Self {
        Self { host: None, paths }
    }

    /// `host`, logged in with `identity`.
    pub(crate) fn host(host: &'a str, identity: &'a Identity, paths: &'a GanetiPaths) -> Self {
        Self {
            host: Some((host, identity)),
            paths,
        }
    }

    fn cmd(&self, argv: &[&str]) -> Cmd {
        match self.host {
            None => Cmd::local(argv.iter().copied()),
            Some((host, identity)) => Cmd::remote(host, identity.clone(), argv.iter().copied()),
        }
    }
}

fn text(stdout: &[u8]) -> String {
    String::from_utf8_lossy(stdout).into_owned()
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn invalid(what: &'static str, name: &str, cmd: &Cmd) -> Error {
    Error::InvalidName {
        what,
        name: format!("{} (from {cmd})", bouture_text::truncate(name, 80)),
    }
}

/// `PROGRAM list -o FIELDS --no-headers --separator=,`: one `NAME,VALUE`
/// line per object.
fn listing(on: &On<'_>, program: &str, fields: &str) -> Cmd {
    let program = on.paths.gnt(program);
    on.cmd(&[
        &program,
        "list",
        "-o",
        fields,
        "--no-headers",
        "--separator=,",
    ])
}

/// `NAME,VALUE` lines.
fn pairs(cmd: &Cmd, text: &str) -> Result<Vec<(String, String)>, Error> {
    lines(text)
        .map(|line| {
            line.split_once(',')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| Error::Unexpected {
                    cmd: cmd.to_string(),
                    what: format!(
                        "expected NAME,VALUE, got {:?}",
                        bouture_text::truncate(line, 80)
                    ),
                })
        })
        .collect()
}

/// `cat DATA_DIR/ssconf_*`: one value, trimmed (checked by the caller:
/// a node's cluster name is compared, not validated).
pub(crate) struct Ssconf<'a> {
    pub on: On<'a>,
    /// `cluster_name` or `master_node`.
    pub key: &'static str,
}

impl Query for Ssconf<'_> {
    type Answer = String;

    fn command(&self) -> Cmd {
        let file = self.on.paths.data(&format!("ssconf_{}", self.key));
        self.on.cmd(&["cat", &file.display().to_string()])
    }

    fn parse(&self, _cmd: &Cmd, stdout: Vec<u8>) -> Result<String, Error> {
        Ok(text(&stdout).trim().to_owned())
    }
}

/// `gnt-node list -o name` or `gnt-instance list -o name` here: valid names.
pub(crate) struct Names<'a> {
    pub on: On<'a>,
    /// `node` or `instance`.
    pub what: &'static str,
}

impl Query for Names<'_> {
    type Answer = Vec<String>;

    fn command(&self) -> Cmd {
        let program = self.on.paths.gnt(&format!("gnt-{}", self.what));
        self.on
            .cmd(&[&program, "list", "-o", "name", "--no-headers"])
    }

    fn parse(&self, cmd: &Cmd, stdout: Vec<u8>) -> Result<Vec<String>, Error> {
        lines(&text(&stdout))
            .map(|name| {
                if is_valid_name(name) {
                    Ok(name.to_owned())
                } else {
                    Err(invalid(self.what, name, cmd))
                }
            })
            .collect()
    }
}

/// `gnt-node list -o name,offline`: every node and whether it is offline.
pub(crate) struct Nodes<'a> {
    pub on: On<'a>,
}

impl Query for Nodes<'_> {
    type Answer = Vec<NodeFacts>;

    fn command(&self) -> Cmd {
        listing(&self.on, "gnt-node", "name,offline")
    }

    fn parse(&self, cmd: &Cmd, stdout: Vec<u8>) -> Result<Vec<NodeFacts>, Error> {
        let mut nodes = Vec::new();
        for (name, offline) in pairs(cmd, &text(&stdout))? {
            if !is_valid_name(&name) {
                return Err(invalid("node", &name, cmd));
            }
            let offline = match offline.as_str() {
                "Y" => true,
                "N" => false,
                other => {
                    return Err(Error::Unexpected {
                        cmd: cmd.to_string(),
                        what: format!(
                            "offline flag {:?} is neither Y nor N",
                            bouture_text::truncate(other, 20)
                        ),
                    });
                }
            };
            nodes.push(NodeFacts { name, offline });
        }
        Ok(nodes)
    }
}

/// `gnt-instance list -o name,status`: every instance and its status.
pub(crate) struct Instances<'a> {
    pub on: On<'a>,
}

impl Query for Instances<'_> {
    type Answer = Vec<InstanceFacts>;

    fn command(&self) -> Cmd {
        listing(&self.on, "gnt-instance", "name,status")
    }

    fn parse(&self, cmd: &Cmd, stdout: Vec<u8>) -> Result<Vec<InstanceFacts>, Error> {
        pairs(cmd, &text(&stdout))?
            .into_iter()
            .map(|(name, status)| {
                if is_valid_name(&name) && is_status(&status) {
                    Ok(InstanceFacts { name, status })
                } else {
                    Err(invalid("instance", &format!("{name},{status}"), cmd))
                }
            })
            .collect()
    }
}

/// `gnt-cluster watcher info`: whether the watcher is paused.
pub(crate) struct WatcherPaused<'a> {
    pub on: On<'a>,
}

impl Query for WatcherPaused<'_> {
    type Answer = bool;

    fn command(&self) -> Cmd {
        let program = self.on.paths.gnt("gnt-cluster");
        self.on.cmd(&[&program, "watcher", "info"])
    }

    fn parse(&self, cmd: &Cmd, stdout: Vec<u8>) -> Result<bool, Error> {
        let text = text(&stdout);
        if text.contains("not paused") {
            Ok(false)
        } else if text.contains("paused") {
            Ok(true)
        } else {
            Err(Error::Unexpected {
                cmd: cmd.to_string(),
                what: format!(
                    "no watcher state in {:?}",
                    bouture_text::truncate(text.trim(), 120)
                ),
            })
        }
    }
}

/// `cat DATA_DIR/config.data`: the configuration's bytes (secret: it
/// holds the DRBD secrets).
pub(crate) struct ConfigData<'a> {
    pub on: On<'a>,
}

impl Query for ConfigData<'_> {
    type Answer = Vec<u8>;

    fn command(&self) -> Cmd {
        let file = self.on.paths.data("config.data");
        self.on.cmd(&["cat", &file.display().to_string()]).secret()
    }

    fn parse(&self, _cmd: &Cmd, stdout: Vec<u8>) -> Result<Vec<u8>, Error> {
        Ok(stdout)
    }
}

/// `cat` of a merging cluster's root private key, through the operator's
/// own SSH setup (secret): the key every node of that cluster accepts.
pub(crate) struct ClusterKey<'a> {
    /// The host asked (the cluster name, or after a resume its master).
    pub host: &'a str,
    /// The key's path on that host.
    pub path: &'a str,
}

impl Query for ClusterKey<'_> {
    type Answer = Vec<u8>;

    fn command(&self) -> Cmd {
        Cmd::remote(self.host, Identity::Operator, ["cat", self.path]).secret()
    }

    fn parse(&self, _cmd: &Cmd, stdout: Vec<u8>) -> Result<Vec<u8>, Error> {
        Ok(stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Target;

    #[test]
    fn queries_build_their_commands_and_parse_their_answers() {
        let paths = GanetiPaths::default();
        let here = On::here(&paths);
        let names = Names {
            on: here,
            what: "node",
        };
        let cmd = names.command();
        assert_eq!(cmd.target, Target::Local);
        assert_eq!(
            cmd.shell_line(),
            "/usr/sbin/gnt-node list -o name --no-headers"
        );
        assert_eq!(
            names.parse(&cmd, b"n1\n\n n2 \n".to_vec()).unwrap(),
            ["n1", "n2"]
        );
        assert!(matches!(
            names.parse(&cmd, b"n1;x\n".to_vec()),
            Err(Error::InvalidName { what: "node", .. })
        ));
        let identity = Identity::ClusterKey("b".to_owned());
        let nodes = Nodes {
            on: On::host("b", &identity, &paths),
        };
        let cmd = nodes.command();
        let parsed = nodes.parse(&cmd, b"n1,N\nn2,Y\n".to_vec()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert!(parsed[1].offline);
        assert!(matches!(
            nodes.parse(&cmd, b"n1,maybe\n".to_vec()),
            Err(Error::Unexpected { .. })
        ));
        let watcher = WatcherPaused { on: here };
        let cmd = watcher.command();
        assert!(
            !watcher
                .parse(&cmd, b"The watcher is not paused.\n".to_vec())
                .unwrap()
        );
        assert!(
            watcher
                .parse(&cmd, b"The watcher is paused until X.\n".to_vec())
                .unwrap()
        );
        assert!(watcher.parse(&cmd, b"?\n".to_vec()).is_err());
        let config = ConfigData {
            on: On::host("b", &identity, &paths),
        };
        assert_eq!(config.command().capture, crate::command::Capture::Secret);
    }
}

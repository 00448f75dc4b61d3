//! What is found on the clusters before anything is changed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::command::{Cmd, Identity, is_valid_name};
use crate::error::Error;
use crate::exec::{Executor, private_tempdir};
use crate::plan::Options;
use crate::run::{Event, Observer};

/// Our cluster, as found on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OurFacts {
    /// `ssconf_cluster_name`.
    pub cluster_name: String,
    /// `ssconf_master_node`.
    pub master: String,
    /// Every node (`gnt-node list`).
    pub nodes: Vec<String>,
    /// Every instance (`gnt-instance list`).
    pub instances: Vec<String>,
    /// Whether the watcher was already paused.
    pub watcher_paused: bool,
    /// Our root public key (one line).
    pub public_key: String,
}

/// A node of a merging cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NodeFacts {
    /// Its name (also its SSH host).
    pub name: String,
    /// Whether Ganeti marks it offline (then it is not contacted).
    pub offline: bool,
}

/// An instance of a merging cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceFacts {
    /// Its name.
    pub name: String,
    /// Its status before the merge (`running`, `ADMIN_down`, ...).
    pub status: String,
}

/// A merging cluster, as found through SSH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClusterFacts {
    /// The name given on the command line (the SSH host).
    pub host: String,
    /// `ssconf_cluster_name`.
    pub cluster_name: String,
    /// `ssconf_master_node`: commands go there once the master IP is down.
    pub master: String,
    /// Every node.
    pub nodes: Vec<NodeFacts>,
    /// Every instance.
    pub instances: Vec<InstanceFacts>,
    /// Whether its watcher was already paused.
    pub watcher_paused: bool,
}

impl ClusterFacts {
    /// The nodes that are not offline.
    pub fn online_nodes(&self) -> impl Iterator<Item = &str> {
        self.nodes
            .iter()
            .filter(|n| !n.offline)
            .map(|n| n.name.as_str())
    }

    /// The instances that were running (restarted by an undo, or after the merge).
    pub fn running_instances(&self) -> Vec<&str> {
        self.instances
            .iter()
            .filter(|i| i.status == "running")
            .map(|i| i.name.as_str())
            .collect()
    }
}

/// Everything found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Facts {
    /// Our cluster.
    pub ours: OurFacts,
    /// The merging clusters, in the order given.
    pub clusters: Vec<ClusterFacts>,
}

/// The most bytes read from an `ssconf_*` file or a public key.
const SMALL_FILE: u64 = 16 * 1024;
/// The most bytes read from a config.data.
pub(crate) const CONFIG_LIMIT: u64 = 512 * 1024 * 1024;

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Refuse an empty list, invalid names and duplicates.
pub(crate) fn check_cluster_names(clusters: &[String]) -> Result<(), Error> {
    if clusters.is_empty() {
        return Err(Error::NoClusters);
    }
    for (index, name) in clusters.iter().enumerate() {
        if !is_valid_name(name) {
            return Err(Error::InvalidName {
                what: "cluster",
                name: bouture_text::truncate(name, 80),
            });
        }
        if let Some(first) = clusters
            .iter()
            .take(index)
            .find(|other| normalize(other) == normalize(name))
        {
            return Err(Error::Duplicate {
                cluster: normalize(name),
                first: first.clone(),
                second: name.clone(),
            });
        }
    }
    Ok(())
}

fn read_line(path: &Path) -> Result<String, Error> {
    let bytes = bouture_fs::read_bounded(path, SMALL_FILE, bouture_fs::Links::Follow)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

fn read_public_key(path: &Path) -> Result<String, Error> {
    let key = read_line(path)?;
    check_public_key(&key).map_err(|reason| Error::BadPublicKey {
        path: path.to_owned(),
        reason,
    })?;
    Ok(key)
}

/// Whether `key` is one OpenSSH public key line that a shell keeps whole
/// between double quotes.
fn check_public_key(key: &str) -> Result<(), &'static str> {
    if key.contains('\n') {
        return Err("more than one line");
    }
    if !key.bytes().all(|b| (0x20..0x7f).contains(&b))
        || key.contains(['\'', '"', '$', '`', '\\'])
        || key.starts_with('-')
    {
        return Err("unexpected characters");
    }
    let kind = key.split(' ').next().unwrap_or_default();
    if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-"))
        || key.split(' ').nth(1).is_none()
    {
        return Err("it does not start with a key type and the key");
    }
    Ok(())
}

/// Check settings and facts read back from a journal as discovery checks
/// what it finds: every name a valid host name, the public key one safe
/// line, every path absolute.
pub(crate) fn check_recorded(settings: &Options, facts: &Facts) -> Result<(), String> {
    check_cluster_names(&settings.clusters).map_err(|e| e.to_string())?;
    let name = |what: &str, name: &str| {
        if is_valid_name(name) {
            Ok(())
        } else {
            Err(format!(
                "its {what} {:?} is not a valid name",
                bouture_text::truncate(name, 80)
            ))
        }
    };
    let ours = &facts.ours;
    name("cluster", &ours.cluster_name)?;
    name("master", &ours.master)?;
    ours.nodes.iter().try_for_each(|n| name("node", n))?;
    ours.instances
        .iter()
        .try_for_each(|i| name("instance", i))?;
    check_public_key(&ours.public_key).map_err(|why| format!("its public key: {why}"))?;
    if facts.clusters.len() != settings.clusters.len() {
        return Err("its facts do not cover the clusters of its settings".to_owned());
    }
    for (cluster, given) in facts.clusters.iter().zip(&settings.clusters) {
        if &cluster.host != given {
            return Err(format!(
                "its facts are of {:?}, not of {given}",
                bouture_text::truncate(&cluster.host, 80)
            ));
        }
        name("cluster", &cluster.cluster_name)?;
        name("master", &cluster.master)?;
        cluster
            .nodes
            .iter()
            .try_for_each(|n| name("node", &n.name))?;
        for instance in &cluster.instances {
            name("instance", &instance.name)?;
            if !is_status(&instance.status) {
                return Err(format!(
                    "its instance status {:?} is not one Ganeti prints",
                    bouture_text::truncate(&instance.status, 40)
                ));
            }
        }
    }
    let paths = [
        &settings.state_dir,
        &settings.our_public_key,
        &settings.local.sbin,
        &settings.local.data_dir,
        &settings.local.daemon_util,
        &settings.local.root_ssh_dir,
        &settings.remote.sbin,
        &settings.remote.data_dir,
        &settings.remote.daemon_util,
        &settings.remote.root_ssh_dir,
    ];
    if let Some(path) = paths.into_iter().find(|p| !p.is_absolute()) {
        return Err(format!("its path {} is not absolute", path.display()));
    }
    if !settings.their_private_key.starts_with('/') {
        return Err("the merging clusters' key path is not absolute".to_owned());
    }
    Ok(())
}

/// Whether `status` looks like an instance status Ganeti prints
/// (`running`, `ADMIN_down`, `ERROR_up`...).
fn is_status(status: &str) -> bool {
    !status.is_empty()
        && status.len() <= 40
        && status
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Run a command that must succeed; its standard output.
fn query_bytes(exec: &mut dyn Executor, cmd: &Cmd) -> Result<Vec<u8>, Error> {
    if let Some(signal) = exec.take_stop_request() {
        return Err(Error::Interrupted { signal });
    }
    let output = exec.run(cmd).map_err(|source| Error::Exec {
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
    Ok(output.stdout)
}

/// Run a command that must succeed; its standard output as text.
fn query(exec: &mut dyn Executor, cmd: &Cmd) -> Result<String, Error> {
    query_bytes(exec, cmd).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn names(cmd: &Cmd, text: &str, what: &'static str) -> Result<Vec<String>, Error> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|name| {
            if is_valid_name(name) {
                Ok(name.to_owned())
            } else {
                Err(Error::InvalidName {
                    what,
                    name: format!("{} (from {cmd})", bouture_text::truncate(name, 80)),
                })
            }
        })
        .collect()
}

fn pairs(cmd: &Cmd, text: &str) -> Result<Vec<(String, String)>, Error> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
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

/// Whether `gnt-cluster watcher info` says the watcher is paused.
fn watcher_paused(cmd: &Cmd, text: &str) -> Result<bool, Error> {
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

/// The command that copies a merging cluster's root key (its output is secret).
pub(crate) fn key_command(settings: &Options, host: &str) -> Cmd {
    Cmd::remote(
        host,
        Identity::Operator,
        ["cat", &settings.their_private_key],
    )
    .secret()
}

/// Find our cluster and every merging cluster, copy the merging clusters'
/// keys into the executor, and check that the configurations merge
/// (`bouture_merge::merge_files` without output, on copies fetched into a
/// private temporary directory that is removed before returning). Nothing
/// is changed anywhere.
#[allow(
    clippy::too_many_lines,
    reason = "discovery reads best in order, in one place"
)]
pub(crate) fn discover(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
    scratch: &Path,
) -> Result<(Facts, bouture_merge::Report), Error> {
    check_cluster_names(&settings.clusters)?;
    let local = &settings.local;
    let remote = &settings.remote;
    let cluster_name = read_line(&local.data("ssconf_cluster_name"))?;
    let master = read_line(&local.data("ssconf_master_node"))?;
    for (what, name) in [("our cluster", &cluster_name), ("our master", &master)] {
        if !is_valid_name(name) {
            return Err(Error::InvalidName {
                what,
                name: bouture_text::truncate(name, 80),
            });
        }
    }
    for given in &settings.clusters {
        if normalize(given) == normalize(&cluster_name) || normalize(given) == normalize(&master) {
            return Err(Error::SelfMerge {
                cluster: given.clone(),
                ours: cluster_name.clone(),
            });
        }
    }
    let public_key = read_public_key(&settings.our_public_key)?;

    observer.event(&Event::Discovering {
        cluster: cluster_name.clone(),
    });
    let cmd = Cmd::local([
        local.gnt("gnt-node"),
        "list".into(),
        "-o".into(),
        "name".into(),
        "--no-headers".into(),
    ]);
    let nodes = names(&cmd, &query(exec, &cmd)?, "node")?;
    let cmd = Cmd::local([
        local.gnt("gnt-instance"),
        "list".into(),
        "-o".into(),
        "name".into(),
        "--no-headers".into(),
    ]);
    let instances = names(&cmd, &query(exec, &cmd)?, "instance")?;
    let cmd = Cmd::local([local.gnt("gnt-cluster"), "watcher".into(), "info".into()]);
    let paused = watcher_paused(&cmd, &query(exec, &cmd)?)?;
    let ours = OurFacts {
        cluster_name,
        master,
        nodes,
        instances,
        watcher_paused: paused,
        public_key,
    };

    let fetched =
        private_tempdir(scratch, "bouture-cluster-merge-check.").map_err(|e| Error::StateDir {
            path: scratch.to_owned(),
            reason: format!("cannot create a private temporary directory: {e}"),
        })?;
    let mut clusters: Vec<ClusterFacts> = Vec::new();
    let mut configs: Vec<PathBuf> = Vec::new();
    for host in &settings.clusters {
        observer.event(&Event::Discovering {
            cluster: host.clone(),
        });
        let cmd = key_command(settings, host);
        let key = query_bytes(exec, &cmd)?;
        exec.add_cluster_key(host, &key)
            .map_err(|source| Error::Exec {
                cmd: cmd.to_string(),
                source,
            })?;
        let on = |argv: &[&str]| {
            Cmd::remote(
                host,
                Identity::ClusterKey(host.clone()),
                argv.iter().copied(),
            )
        };
        let name_cmd = on(&[
            "cat",
            &remote.data("ssconf_cluster_name").display().to_string(),
        ]);
        let their_name = query(exec, &name_cmd)?.trim().to_owned();
        let master_cmd = on(&[
            "cat",
            &remote.data("ssconf_master_node").display().to_string(),
        ]);
        let their_master = query(exec, &master_cmd)?.trim().to_owned();
        for (what, name, cmd) in [
            ("cluster", &their_name, &name_cmd),
            ("master node", &their_master, &master_cmd),
        ] {
            if !is_valid_name(name) {
                return Err(Error::InvalidName {
                    what,
                    name: format!("{} (from {cmd})", bouture_text::truncate(name, 80)),
                });
            }
        }
        if normalize(&their_name) == normalize(&ours.cluster_name) {
            return Err(Error::SelfMerge {
                cluster: host.clone(),
                ours: ours.cluster_name.clone(),
            });
        }
        if let Some(first) = clusters
            .iter()
            .find(|c| normalize(&c.cluster_name) == normalize(&their_name))
        {
            return Err(Error::Duplicate {
                cluster: their_name,
                first: first.host.clone(),
                second: host.clone(),
            });
        }
        let gnt_node = remote.gnt("gnt-node");
        let cmd = on(&[
            &gnt_node,
            "list",
            "-o",
            "name,offline",
            "--no-headers",
            "--separator=,",
        ]);
        let mut nodes = Vec::new();
        for (name, offline) in pairs(&cmd, &query(exec, &cmd)?)? {
            if !is_valid_name(&name) {
                return Err(Error::InvalidName {
                    what: "node",
                    name: format!("{} (from {cmd})", bouture_text::truncate(&name, 80)),
                });
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
        if !nodes.iter().any(|n| n.name == their_master && !n.offline) {
            return Err(Error::Unexpected {
                cmd: cmd.to_string(),
                what: format!("the master {their_master} is not an online node"),
            });
        }
        // Every online node must answer now, with the cluster's key, and
        // belong to that cluster: a node that is down is found before
        // anything is changed, not after authorized_keys was.
        let ssconf_name = remote.data("ssconf_cluster_name").display().to_string();
        for node in nodes.iter().filter(|n| !n.offline) {
            let cmd = Cmd::remote(
                &node.name,
                Identity::ClusterKey(host.clone()),
                ["cat", ssconf_name.as_str()],
            );
            let belongs = query(exec, &cmd)?.trim().to_owned();
            if normalize(&belongs) != normalize(&their_name) {
                return Err(Error::Unexpected {
                    cmd: cmd.to_string(),
                    what: format!(
                        "node {} belongs to cluster {:?}, not to {their_name}",
                        node.name,
                        bouture_text::truncate(&belongs, 80)
                    ),
                });
            }
        }
        if let Some(clash) = nodes.iter().find(|n| ours.nodes.contains(&n.name)) {
            return Err(Error::SelfMerge {
                cluster: format!("{host} (node {} is ours)", clash.name),
                ours: ours.cluster_name.clone(),
            });
        }
        let gnt_instance = remote.gnt("gnt-instance");
        let cmd = on(&[
            &gnt_instance,
            "list",
            "-o",
            "name,status",
            "--no-headers",
            "--separator=,",
        ]);
        let mut instances = Vec::new();
        for (name, status) in pairs(&cmd, &query(exec, &cmd)?)? {
            if !is_valid_name(&name) || !is_status(&status) {
                return Err(Error::InvalidName {
                    what: "instance",
                    name: format!(
                        "{} (from {cmd})",
                        bouture_text::truncate(&format!("{name},{status}"), 80)
                    ),
                });
            }
            instances.push(InstanceFacts { name, status });
        }
        if !settings.stop_instances {
            let running: Vec<&str> = instances
                .iter()
                .filter(|i| matches!(i.status.as_str(), "running" | "ERROR_up"))
                .map(|i| i.name.as_str())
                .collect();
            if !running.is_empty() {
                return Err(Error::InstancesRunning {
                    cluster: host.clone(),
                    instances: bouture_text::truncate(&running.join(", "), 400),
                });
            }
        }
        let cmd = on(&[&remote.gnt("gnt-cluster"), "watcher", "info"]);
        let paused = watcher_paused(&cmd, &query(exec, &cmd)?)?;
        let cmd = on(&["cat", &remote.data("config.data").display().to_string()]).secret();
        let config = query_bytes(exec, &cmd)?;
        let path = fetched
            .path()
            .join(format!("{}.config.data", configs.len()));
        bouture_fs::write_atomic(&path, &config, 0o600, None)?;
        configs.push(path);
        clusters.push(ClusterFacts {
            host: host.clone(),
            cluster_name: their_name,
            master: their_master,
            nodes,
            instances,
            watcher_paused: paused,
        });
    }
    let theirs: Vec<&Path> = configs.iter().map(PathBuf::as_path).collect();
    let report = bouture_merge::merge_files(
        &local.data("config.data"),
        &theirs,
        None,
        &settings.merge_options(),
    )
    .map_err(|source| Error::Merge { source })?;
    drop(fetched);
    Ok((Facts { ours, clusters }, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_lists_are_checked() {
        assert!(matches!(check_cluster_names(&[]), Err(Error::NoClusters)));
        let list = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(matches!(
            check_cluster_names(&list(&["a.example", "b.example", "A.example."])),
            Err(Error::Duplicate { .. })
        ));
        assert!(matches!(
            check_cluster_names(&list(&["-oProxyCommand=sh"])),
            Err(Error::InvalidName { .. })
        ));
        assert!(check_cluster_names(&list(&["a.example", "b.example"])).is_ok());
    }

    #[test]
    fn public_keys_are_one_safe_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.pub");
        std::fs::write(&path, "ssh-ed25519 AAAAC3Nza root@master\n").unwrap();
        assert_eq!(
            read_public_key(&path).unwrap(),
            "ssh-ed25519 AAAAC3Nza root@master"
        );
        std::fs::write(&path, "ssh-ed25519 AAAA 'quoted'\n").unwrap();
        assert!(read_public_key(&path).is_err());
        std::fs::write(&path, "ssh-ed25519 AAAA\nssh-rsa BBBB\n").unwrap();
        assert!(read_public_key(&path).is_err());
        std::fs::write(&path, "hello\n").unwrap();
        assert!(read_public_key(&path).is_err());
    }
}

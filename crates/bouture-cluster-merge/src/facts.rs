//! What is found on the clusters before anything is changed (found by
//! [`crate::discover`]), and the checks a journal's recorded facts go
//! through again.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::command::is_valid_name;
use crate::error::Error;
use crate::plan::Options;

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

pub(crate) fn normalize(name: &str) -> String {
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

pub(crate) fn read_line(path: &Path) -> Result<String, Error> {
    let bytes = bouture_fs::read_bounded(path, SMALL_FILE, bouture_fs::Links::Follow)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

pub(crate) fn read_public_key(path: &Path) -> Result<String, Error> {
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
pub(crate) fn is_status(status: &str) -> bool {
    !status.is_empty()
        && status.len() <= 40
        && status
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
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

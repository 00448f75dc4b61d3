//! Discovery: what is found on the clusters before anything is changed,
//! one pass of typed queries ([`crate::query`]), each answer checked as
//! it comes.

use std::path::{Path, PathBuf};

use crate::command::{Identity, is_valid_name};
use crate::error::Error;
use crate::exec::{Executor, private_tempdir};
use crate::facts::{
    ClusterFacts, Facts, InstanceFacts, NodeFacts, OurFacts, check_cluster_names, normalize,
    read_line, read_public_key,
};
use crate::plan::Options;
use crate::query::{
    ClusterKey, ConfigData, Instances, Names, Nodes, On, Query as _, Ssconf, WatcherPaused, ask,
};
use crate::run::{Event, Observer};

/// Find our cluster and every merging cluster, copy the merging clusters'
/// keys into the executor, and check that the configurations merge
/// (`bouture_merge::merge_files` without output, on copies fetched into a
/// private temporary directory that is removed before returning). Nothing
/// is changed anywhere.
pub(crate) fn discover(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
    scratch: &Path,
) -> Result<(Facts, bouture_merge::Report), Error> {
    check_cluster_names(&settings.clusters)?;
    let ours = our_cluster(settings, exec, observer)?;
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
        let found = Merging {
            settings,
            host,
            identity: Identity::ClusterKey(host.clone()),
        };
        found.copy_key(exec)?;
        let (cluster_name, master) = found.identify(exec, &ours, &clusters)?;
        let nodes = found.nodes(exec, &ours, &cluster_name, &master)?;
        let instances = found.instances(exec)?;
        let watcher_paused = ask(exec, &WatcherPaused { on: found.on(host) })?;
        let config = ask(exec, &ConfigData { on: found.on(host) })?;
        let path = fetched
            .path()
            .join(format!("{}.config.data", configs.len()));
        bouture_fs::write_atomic(&path, &config, 0o600, None)?;
        configs.push(path);
        clusters.push(ClusterFacts {
            host: host.clone(),
            cluster_name,
            master,
            nodes,
            instances,
            watcher_paused,
        });
    }
    let report = check_merge(settings, &configs)?;
    drop(fetched);
    Ok((Facts { ours, clusters }, report))
}

/// Our cluster: its names from ssconf (checked valid, and not given as a
/// merging cluster), our public key, its nodes, instances and watcher.
fn our_cluster(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
) -> Result<OurFacts, Error> {
    let local = &settings.local;
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
    let here = On::here(local);
    let nodes = ask(
        exec,
        &Names {
            on: here,
            what: "node",
        },
    )?;
    let instances = ask(
        exec,
        &Names {
            on: here,
            what: "instance",
        },
    )?;
    let watcher_paused = ask(exec, &WatcherPaused { on: here })?;
    Ok(OurFacts {
        cluster_name,
        master,
        nodes,
        instances,
        watcher_paused,
        public_key,
    })
}

/// One merging cluster, as given on the command line.
struct Merging<'a> {
    settings: &'a Options,
    /// The name given (the SSH host).
    host: &'a String,
    /// Its key, once copied.
    identity: Identity,
}

impl Merging<'_> {
    /// Queries on `host` (the cluster, or one of its nodes) with its key.
    fn on<'b>(&'b self, host: &'b str) -> On<'b> {
        On::host(host, &self.identity, &self.settings.remote)
    }

    /// Copy the cluster's root key into the executor (through the
    /// operator's own SSH setup): every later query uses it.
    fn copy_key(&self, exec: &mut dyn Executor) -> Result<(), Error> {
        let query = ClusterKey {
            host: self.host,
            path: &self.settings.their_private_key,
        };
        let key = ask(exec, &query)?;
        exec.add_cluster_key(self.host, &key)
            .map_err(|source| Error::Exec {
                cmd: query.command().to_string(),
                source,
            })
    }

    /// Its cluster name and master node: valid names, not ours, not a
    /// cluster already given under another name.
    fn identify(
        &self,
        exec: &mut dyn Executor,
        ours: &OurFacts,
        found: &[ClusterFacts],
    ) -> Result<(String, String), Error> {
        let name_query = Ssconf {
            on: self.on(self.host),
            key: "cluster_name",
        };
        let master_query = Ssconf {
            on: self.on(self.host),
            key: "master_node",
        };
        let name = ask(exec, &name_query)?;
        let master = ask(exec, &master_query)?;
        for (what, value, query) in [
            ("cluster", &name, &name_query),
            ("master node", &master, &master_query),
        ] {
            if !is_valid_name(value) {
                return Err(Error::InvalidName {
                    what,
                    name: format!(
                        "{} (from {})",
                        bouture_text::truncate(value, 80),
                        query.command()
                    ),
                });
            }
        }
        if normalize(&name) == normalize(&ours.cluster_name) {
            return Err(Error::SelfMerge {
                cluster: self.host.clone(),
                ours: ours.cluster_name.clone(),
            });
        }
        if let Some(first) = found
            .iter()
            .find(|c| normalize(&c.cluster_name) == normalize(&name))
        {
            return Err(Error::Duplicate {
                cluster: name,
                first: first.host.clone(),
                second: self.host.clone(),
            });
        }
        Ok((name, master))
    }

    /// Its nodes: the master online among them, every online node
    /// answering now with the cluster's key and belonging to that cluster
    /// (a node that is down is found before anything is changed, not
    /// after `authorized_keys` was), none of them ours.
    fn nodes(
        &self,
        exec: &mut dyn Executor,
        ours: &OurFacts,
        cluster_name: &str,
        master: &str,
    ) -> Result<Vec<NodeFacts>, Error> {
        let query = Nodes {
            on: self.on(self.host),
        };
        let nodes = ask(exec, &query)?;
        if !nodes.iter().any(|n| n.name == master && !n.offline) {
            return Err(Error::Unexpected {
                cmd: query.command().to_string(),
                what: format!("the master {master} is not an online node"),
            });
        }
        for node in nodes.iter().filter(|n| !n.offline) {
            let belongs_query = Ssconf {
                on: self.on(&node.name),
                key: "cluster_name",
            };
            let belongs = ask(exec, &belongs_query)?;
            if normalize(&belongs) != normalize(cluster_name) {
                return Err(Error::Unexpected {
                    cmd: belongs_query.command().to_string(),
                    what: format!(
                        "node {} belongs to cluster {:?}, not to {cluster_name}",
                        node.name,
                        bouture_text::truncate(&belongs, 80)
                    ),
                });
            }
        }
        if let Some(clash) = nodes.iter().find(|n| ours.nodes.contains(&n.name)) {
            return Err(Error::SelfMerge {
                cluster: format!("{} (node {} is ours)", self.host, clash.name),
                ours: ours.cluster_name.clone(),
            });
        }
        Ok(nodes)
    }

    /// Its instances; none may run when the settings say not to stop them.
    fn instances(&self, exec: &mut dyn Executor) -> Result<Vec<InstanceFacts>, Error> {
        let instances = ask(
            exec,
            &Instances {
                on: self.on(self.host),
            },
        )?;
        if !self.settings.stop_instances {
            let running: Vec<&str> = instances
                .iter()
                .filter(|i| matches!(i.status.as_str(), "running" | "ERROR_up"))
                .map(|i| i.name.as_str())
                .collect();
            if !running.is_empty() {
                return Err(Error::InstancesRunning {
                    cluster: self.host.clone(),
                    instances: bouture_text::truncate(&running.join(", "), 400),
                });
            }
        }
        Ok(instances)
    }
}

/// Whether our config.data and the fetched ones merge (nothing written).
fn check_merge(settings: &Options, configs: &[PathBuf]) -> Result<bouture_merge::Report, Error> {
    let theirs: Vec<&Path> = configs.iter().map(PathBuf::as_path).collect();
    bouture_merge::merge_files(
        &settings.local.data("config.data"),
        &theirs,
        None,
        &settings.merge_options(),
    )
    .map_err(|source| Error::Merge { source })
}

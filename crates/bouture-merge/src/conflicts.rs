//! Clashes between the clusters: UUIDs, names, addresses.
//!
//! Every value that must be unique in the merged cluster goes into one map
//! per namespace; a value already claimed by *another* cluster is a
//! conflict. Everything is collected, nothing stops at the first clash.
//! The maps are filled in a few passes over the clusters, a group of
//! namespaces at a time (see [`Pass`]), so that only one group's maps are in
//! memory at once; the conflicts are then put back in the order of a single
//! pass.
//! Duplicates inside one input are that input's business (Ganeti's verifier
//! reports those) and are not reported here.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::fmt;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::groups::{GroupAction, GroupPlan, cluster_name};
use crate::model::{ConfigFile, Str};

/// The kinds of objects in a Ganeti configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ObjectKind {
    /// The cluster object itself.
    Cluster,
    /// A node.
    Node,
    /// A node group.
    NodeGroup,
    /// An instance.
    Instance,
    /// A disk (top-level, or a child of one).
    Disk,
    /// A network.
    Network,
    /// An instance's network interface.
    Nic,
    /// A logical volume (`vg/lv`) of a plain disk.
    LogicalVolume,
    /// A cluster parameter.
    Parameter,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cluster => "cluster",
            Self::Node => "node",
            Self::NodeGroup => "node group",
            Self::Instance => "instance",
            Self::Disk => "disk",
            Self::Network => "network",
            Self::Nic => "NIC",
            Self::LogicalVolume => "logical volume",
            Self::Parameter => "parameter",
        })
    }
}

/// One object of one cluster, as named in conflicts and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ObjectRef {
    /// The name of the cluster the object belongs to.
    pub cluster: String,
    /// What the object is.
    pub kind: ObjectKind,
    /// Its name (or, for objects without one, a description such as `instance1/nic 0`).
    pub name: String,
    /// Its UUID, if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ObjectKind::Cluster {
            return if self.name == self.cluster {
                write!(f, "cluster '{}'", self.cluster)
            } else {
                write!(f, "the {} of cluster '{}'", self.name, self.cluster)
            };
        }
        write!(f, "{} '{}'", self.kind, self.name)?;
        if let Some(uuid) = &self.uuid
            && uuid != &self.name
        {
            write!(f, " (uuid {uuid})")?;
        }
        write!(f, " of cluster '{}'", self.cluster)
    }
}

/// What two clusters clash on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConflictKind {
    /// Both clusters have the same name (merging a cluster with itself).
    ClusterName,
    /// A UUID (or LV name) is used in both clusters.
    Uuid,
    /// A node name is used in both clusters.
    NodeName,
    /// An instance name is used in both clusters.
    InstanceName,
    /// An IP address is used in both clusters (on the same link or network, for NICs).
    Ip,
    /// A MAC address is used in both clusters.
    Mac,
    /// A network name is used in both clusters.
    NetworkName,
    /// A node group name is used in both clusters and no group strategy was chosen.
    NodeGroupName,
    /// A cluster parameter differs in a way that the merge cannot accept.
    Parameter,
}

/// One reason the merge is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Conflict {
    /// What clashes.
    pub kind: ConflictKind,
    /// The clashing value (UUID, name, address, parameter name).
    pub value: String,
    /// The objects involved.
    pub owners: Vec<ObjectRef>,
    /// A sentence describing the conflict and, where there is one, the way out.
    pub message: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Who claimed a value: an object of a cluster, by position (12 bytes, so
/// that the maps of large merges stay small; names are looked up only for
/// the message of a conflict).
#[derive(Clone, Copy)]
struct Owner {
    cluster: u16,
    kind: ObjectKind,
    /// Which part of the object: a NIC's index, a disk child's index + 1,
    /// an LV's index, 1 for the master IP of a cluster.
    sub: u16,
    /// The object's index in its section.
    index: u32,
}

impl Owner {
    fn new(cluster: usize, kind: ObjectKind, index: usize) -> Self {
        Self {
            cluster: u16::try_from(cluster).unwrap_or(u16::MAX),
            kind,
            sub: 0,
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    fn sub(self, sub: usize) -> Self {
        Self {
            sub: u16::try_from(sub).unwrap_or(u16::MAX),
            ..self
        }
    }
}

/// The passes over the clusters, each filling the maps of its namespaces
/// (freed at its end): at 100,000 instances per cluster the maps of all
/// namespaces at once took 57 MB, the largest pass's (UUIDs) about 21 MB.
/// Small merges make one pass ([`Pass::All`]): each pass costs a walk over
/// every object (at 1,000 instances per cluster, 2.4M instructions more for
/// four passes, for maps of about 1 MB).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Every namespace at once.
    All,
    /// Every UUID.
    Uuids,
    /// Logical volume names.
    Lvs,
    /// IP addresses.
    Ips,
    /// Names and MAC addresses.
    Names,
}

impl Pass {
    /// The passes of a large merge.
    const SPLIT: [Self; 4] = [Self::Uuids, Self::Lvs, Self::Ips, Self::Names];

    /// Whether this pass fills the maps of `namespace`'s pass.
    fn fills(self, namespace: Self) -> bool {
        self == Self::All || self == namespace
    }
}

/// Above this many values stored in all the maps, the conflicts are found
/// in [`Pass::SPLIT`] (about 10 MB of maps).
const SPLIT_ABOVE: usize = 256 * 1024;

/// The values of one kind that must be unique, and who claimed each.
struct Namespace<K> {
    kind: ConflictKind,
    what: &'static str,
    /// The pass that fills `claimed`; it is empty at any other time.
    pass: Pass,
    /// How many values at most are stored (reserved when its pass starts).
    capacity: usize,
    claimed: FxHashMap<K, Owner>,
}

impl<K: Eq + std::hash::Hash> Namespace<K> {
    /// Make room for the values of `pass` if it is this namespace's, or
    /// free them if it is not.
    fn start(&mut self, pass: Pass) {
        self.claimed = FxHashMap::default();
        if pass.fills(self.pass) {
            self.claimed.reserve(self.capacity);
        }
    }
}

/// A logical volume's name, `vg/lv`, kept as its two parts (no allocation).
#[derive(PartialEq, Eq, Hash)]
struct LvName<'a>(&'a str, &'a str);

impl fmt::Display for LvName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0, self.1)
    }
}

struct Finder<'a> {
    ours: &'a ConfigFile,
    theirs: &'a [ConfigFile],
    /// The pass running: claims of other namespaces are only counted.
    pass: Pass,
    /// Claims seen in this pass, of every namespace: the same number for
    /// the same claim in every pass, hence the order of a single pass.
    claims: u64,
    /// Each conflict with the number of the claim that found it.
    conflicts: Vec<(u64, Conflict)>,
}

impl<'a> Finder<'a> {
    fn object_ref(&self, owner: Owner) -> ObjectRef {
        let cluster = usize::from(owner.cluster);
        let config = if cluster == 0 {
            Some(self.ours)
        } else {
            self.theirs.get(cluster - 1)
        };
        let index = owner.index as usize;
        let sub = usize::from(owner.sub);
        let named = |c: &ConfigFile, name: Str, uuid: Str| {
            (c.str(name).to_owned(), Some(c.str(uuid).to_owned()))
        };
        let (name, uuid): (String, Option<String>) = match (config, owner.kind) {
            (Some(_), ObjectKind::Cluster) if sub == 1 => ("master IP".to_owned(), None),
            (Some(c), ObjectKind::Cluster) => (c.cluster.name.clone(), c.cluster.uuid.clone()),
            (Some(c), ObjectKind::Node) => c
                .nodes
                .get(index)
                .map(|n| named(c, n.name, n.uuid))
                .unwrap_or_default(),
            (Some(c), ObjectKind::NodeGroup) => c
                .nodegroups
                .get(index)
                .map(|g| named(c, g.name, g.uuid))
                .unwrap_or_default(),
            (Some(c), ObjectKind::Network) => c
                .networks
                .get(index)
                .map(|n| named(c, n.name, n.uuid))
                .unwrap_or_default(),
            (Some(c), ObjectKind::Instance) => c
                .instances
                .get(index)
                .map(|i| named(c, i.name, i.uuid))
                .unwrap_or_default(),
            (Some(c), ObjectKind::Nic) => c
                .instances
                .get(index)
                .map(|i| {
                    (
                        format!("{}/nic {sub}", c.str(i.name)),
                        c.nics(i)
                            .get(sub)
                            .and_then(|n| c.opt_str(n.uuid))
                            .map(str::to_owned),
                    )
                })
                .unwrap_or_default(),
            (Some(c), ObjectKind::Disk) => c
                .disks
                .get(index)
                .map(|d| {
                    let name = c.str(d.iv_name.unwrap_or(d.uuid)).to_owned();
                    let uuid = match sub.checked_sub(1) {
                        None => Some(d.uuid),
                        Some(child) => c.child_uuids(d).get(child).copied(),
                    };
                    (name, c.opt_str(uuid).map(str::to_owned))
                })
                .unwrap_or_default(),
            (Some(c), ObjectKind::LogicalVolume) => c
                .disks
                .get(index)
                .and_then(|d| c.lvs(d).get(sub))
                .map(|lv| (c.lv_name(*lv), None))
                .unwrap_or_default(),
            _ => (String::new(), None),
        };
        ObjectRef {
            cluster: cluster_name(self.ours, self.theirs, cluster).to_owned(),
            kind: owner.kind,
            name,
            uuid,
        }
    }

    fn claim(
        &mut self,
        namespace: &mut Namespace<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
        owner: Owner,
    ) {
        self.claim_with(namespace, || value.into(), owner);
    }

    /// Claim the value `make` makes, made only in the namespace's pass.
    fn claim_with<K: Eq + std::hash::Hash + fmt::Display>(
        &mut self,
        namespace: &mut Namespace<K>,
        make: impl FnOnce() -> K,
        owner: Owner,
    ) {
        self.claims += 1;
        if !self.pass.fills(namespace.pass) {
            return;
        }
        let value = make();
        // The last cluster's values are only looked up: nothing comes after
        // them to clash with (this halves the maps of a two-cluster merge).
        let (first, value) = if usize::from(owner.cluster) == self.theirs.len() {
            match namespace.claimed.get(&value) {
                Some(first) => (*first, value.to_string()),
                None => return,
            }
        } else {
            match namespace.claimed.entry(value) {
                Entry::Vacant(slot) => {
                    slot.insert(owner);
                    return;
                }
                Entry::Occupied(slot) => (*slot.get(), slot.key().to_string()),
            }
        };
        if first.cluster == owner.cluster {
            return;
        }
        let a = self.object_ref(first);
        let b = self.object_ref(owner);
        let what = namespace.what;
        let message = if namespace.kind == ConflictKind::ClusterName {
            format!(
                "{a} cannot be merged with {b}: both are named '{value}' (is it the same cluster?)"
            )
        } else {
            format!(
                "{what} {value} is used by {a} and by {b}; change it in one of the clusters before merging"
            )
        };
        self.conflicts.push((
            self.claims,
            Conflict {
                kind: namespace.kind,
                value,
                owners: vec![a, b],
                message,
            },
        ));
    }
}

fn namespace<K: Eq + std::hash::Hash>(
    kind: ConflictKind,
    what: &'static str,
    capacity: usize,
    pass: Pass,
) -> Namespace<K> {
    Namespace {
        kind,
        what,
        pass,
        capacity,
        claimed: FxHashMap::default(),
    }
}

fn nic_link_prefix(mode: &str) -> &str {
    match mode {
        "bridged" => "bridge",
        "routed" => "route",
        "openvswitch" => "ovs",
        other => other,
    }
}

/// Find every clash between `ours` and the merging clusters (and between the
/// merging clusters themselves). `groups` says which node groups are added.
pub fn find_conflicts<'a>(
    ours: &'a ConfigFile,
    theirs: &'a [ConfigFile],
    groups: &GroupPlan,
) -> Vec<Conflict> {
    find_conflicts_split(ours, theirs, groups, SPLIT_ABOVE)
}

/// [`find_conflicts`], in [`Pass::SPLIT`] when more than `split_above`
/// values are to be stored.
#[allow(
    clippy::too_many_lines,
    reason = "the maps of every namespace, then the passes"
)]
fn find_conflicts_split<'a>(
    ours: &'a ConfigFile,
    theirs: &'a [ConfigFile],
    groups: &GroupPlan,
    split_above: usize,
) -> Vec<Conflict> {
    let mut finder = Finder {
        ours,
        theirs,
        pass: Pass::All,
        claims: 0,
        conflicts: Vec::new(),
    };
    let all = || std::iter::once(ours).chain(theirs.iter());
    // The last cluster's values are not stored (see `claim`).
    let stored = theirs.len();
    let count = |f: fn(&ConfigFile) -> usize| all().take(stored).map(f).sum::<usize>();
    let nodes = count(|c| c.nodes.len());
    let instances = count(|c| c.instances.len());
    let nics = count(|c| c.instances.iter().map(|i| i.nics.len()).sum());
    let ids = count(|c| {
        c.nodes.len()
            + c.instances.len()
            + c.nodegroups.len()
            + c.networks.len()
            + c.disks
                .iter()
                .map(|d| 1 + d.child_uuids.len())
                .sum::<usize>()
            + 1
    }) + nics;
    let mut cluster_names = namespace(
        ConflictKind::ClusterName,
        "cluster name",
        theirs.len() + 1,
        Pass::Names,
    );
    let mut uuids = namespace(ConflictKind::Uuid, "UUID", ids, Pass::Uuids);
    let lv_count = count(|c| c.disks.iter().map(|d| d.lvs.len()).sum());
    // LV names share the conflict kind of UUIDs (both name storage objects).
    let mut lvs = namespace(ConflictKind::Uuid, "LV name", lv_count, Pass::Lvs);
    let mut node_names = namespace(ConflictKind::NodeName, "node name", nodes, Pass::Names);
    let mut instance_names = namespace(
        ConflictKind::InstanceName,
        "instance name",
        instances,
        Pass::Names,
    );
    let mut network_names = namespace(ConflictKind::NetworkName, "network name", 16, Pass::Names);
    let mut ips = namespace(
        ConflictKind::Ip,
        "IP address",
        2 * nodes + theirs.len() + 1 + nics,
        Pass::Ips,
    );
    let mut macs = namespace(ConflictKind::Mac, "MAC address", nics, Pass::Names);
    let values = ids + lv_count + nodes + instances + ips.capacity + nics;
    let passes: &[Pass] = if values > split_above {
        &Pass::SPLIT
    } else {
        &[Pass::All]
    };

    for &pass in passes {
        finder.pass = pass;
        finder.claims = 0;
        cluster_names.start(pass);
        uuids.start(pass);
        lvs.start(pass);
        node_names.start(pass);
        instance_names.start(pass);
        network_names.start(pass);
        ips.start(pass);
        macs.start(pass);
        for (index, config) in all().enumerate() {
            claim_all(
                &mut finder,
                index,
                config,
                groups,
                Namespaces {
                    cluster_names: &mut cluster_names,
                    uuids: &mut uuids,
                    lvs: &mut lvs,
                    node_names: &mut node_names,
                    instance_names: &mut instance_names,
                    network_names: &mut network_names,
                    ips: &mut ips,
                    macs: &mut macs,
                },
            );
        }
    }
    // Back to the order of one pass over the clusters (stable: claims found
    // by the same claim keep their order).
    finder.conflicts.sort_by_key(|(claim, _)| *claim);
    finder.conflicts.into_iter().map(|(_, c)| c).collect()
}

/// Every namespace, for [`claim_all`].
struct Namespaces<'n, 'a> {
    cluster_names: &'n mut Namespace<Cow<'a, str>>,
    uuids: &'n mut Namespace<Cow<'a, str>>,
    lvs: &'n mut Namespace<LvName<'a>>,
    node_names: &'n mut Namespace<Cow<'a, str>>,
    instance_names: &'n mut Namespace<Cow<'a, str>>,
    network_names: &'n mut Namespace<Cow<'a, str>>,
    ips: &'n mut Namespace<Cow<'a, str>>,
    macs: &'n mut Namespace<Cow<'a, str>>,
}

/// Claim every unique value of `config` (the `index`-th cluster) in the
/// namespaces of the finder's pass.
fn claim_all<'a>(
    finder: &mut Finder<'a>,
    index: usize,
    config: &'a ConfigFile,
    groups: &GroupPlan,
    ns: Namespaces<'_, 'a>,
) {
    let Namespaces {
        cluster_names,
        uuids,
        lvs,
        node_names,
        instance_names,
        network_names,
        ips,
        macs,
    } = ns;
    // NIC addresses are keyed as Ganeti's verifier keys them, with the
    // merged cluster's (our) default NIC parameters filled in.
    let default_mode = finder.ours.cluster.default_nic_mode.as_str();
    let default_link = finder.ours.cluster.default_nic_link.as_str();
    {
        let owner = |kind, at: usize| Owner::new(index, kind, at);
        let cluster = &config.cluster;
        let me = owner(ObjectKind::Cluster, 0);
        finder.claim(cluster_names, cluster.name.as_str(), me);
        if let Some(uuid) = &cluster.uuid {
            finder.claim(uuids, uuid.as_str(), me);
        }
        if let Some(ip) = &cluster.master_ip {
            finder.claim(ips, ip.as_str(), me.sub(1));
        }
        let text = |value: Str| config.str(value);
        for (at, node) in config.nodes.iter().enumerate() {
            let me = owner(ObjectKind::Node, at);
            finder.claim(uuids, text(node.uuid), me);
            finder.claim(node_names, text(node.name), me);
            let primary = config.opt_str(node.primary_ip);
            if let Some(ip) = primary {
                finder.claim(ips, ip, me);
            }
            if let Some(ip) = config.opt_str(node.secondary_ip)
                && primary != Some(ip)
            {
                finder.claim(ips, ip, me);
            }
        }
        for (at, group) in config.nodegroups.iter().enumerate() {
            let added = index == 0
                || !matches!(
                    groups.action(index - 1, text(group.uuid)),
                    Some(GroupAction::MergeInto { .. })
                );
            if added {
                finder.claim(uuids, text(group.uuid), owner(ObjectKind::NodeGroup, at));
            }
        }
        for (at, network) in config.networks.iter().enumerate() {
            let me = owner(ObjectKind::Network, at);
            finder.claim(uuids, text(network.uuid), me);
            finder.claim(network_names, text(network.name), me);
        }
        for (at, instance) in config.instances.iter().enumerate() {
            let me = owner(ObjectKind::Instance, at);
            finder.claim(uuids, text(instance.uuid), me);
            finder.claim(instance_names, text(instance.name), me);
            for (nic_index, nic) in config.nics(instance).iter().enumerate() {
                let nic_owner = owner(ObjectKind::Nic, at).sub(nic_index);
                if let Some(uuid) = config.opt_str(nic.uuid) {
                    finder.claim(uuids, uuid, nic_owner);
                }
                if let Some(mac) = config.opt_str(nic.mac) {
                    let mac = || -> Cow<'a, str> {
                        if mac.bytes().any(|b| b.is_ascii_uppercase()) {
                            Cow::Owned(mac.to_ascii_lowercase())
                        } else {
                            Cow::Borrowed(mac)
                        }
                    };
                    finder.claim_with(macs, mac, nic_owner);
                }
                if let Some(ip) = config.opt_str(nic.ip) {
                    let mode = config.opt_str(nic.nicparams.mode).unwrap_or(default_mode);
                    let link = config.opt_str(nic.nicparams.link).unwrap_or(default_link);
                    let network = config.opt_str(nic.network).unwrap_or("None");
                    let key =
                        || Cow::Owned(format!("{}:{link}/{ip}/{network}", nic_link_prefix(mode)));
                    finder.claim_with(ips, key, nic_owner);
                }
            }
        }
        for (at, disk) in config.disks.iter().enumerate() {
            let me = owner(ObjectKind::Disk, at);
            finder.claim(uuids, text(disk.uuid), me);
            for (child, uuid) in config.child_uuids(disk).iter().enumerate() {
                finder.claim(uuids, text(*uuid), me.sub(child + 1));
            }
            for (lv_index, lv) in config.lvs(disk).iter().enumerate() {
                finder.claim_with(
                    lvs,
                    || LvName(text(lv.vg), text(lv.lv)),
                    owner(ObjectKind::LogicalVolume, at).sub(lv_index),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::groups::plan_groups;

    #[test]
    fn split_passes_find_the_same_conflicts_in_the_same_order() {
        let text = include_str!("../tests/fixtures/cluster_config_3.0.json");
        let ours = ConfigFile::parse(text, "ours.data").unwrap();
        let theirs = vec![ConfigFile::parse(text, "theirs.data").unwrap()];
        let (groups, _) = plan_groups(&ours, &theirs, None);
        let one = find_conflicts_split(&ours, &theirs, &groups, usize::MAX);
        let split = find_conflicts_split(&ours, &theirs, &groups, 0);
        let kinds: std::collections::BTreeSet<String> =
            one.iter().map(|c| format!("{:?}", c.kind)).collect();
        assert!(kinds.len() >= 4, "{kinds:?}");
        assert_eq!(one, split);
    }
}

//! What happens to the merging clusters' node groups: kept, renamed or merged.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::conflicts::{Conflict, ConflictKind, ObjectKind, ObjectRef};
use crate::model::ConfigFile;

/// What to do when a node group name exists in more than one cluster.
///
/// With the `clap` feature it is a `clap::ValueEnum` (`merge`, `rename`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum GroupStrategy {
    /// The members join the existing group of that name, whose network map
    /// gains the merged group's networks; the merged group is dropped.
    #[cfg_attr(
        feature = "clap",
        value(help = "Members join our group of the same name (which gains their networks)")
    )]
    Merge,
    /// The merged group is renamed `<name>-<its cluster name>`.
    #[cfg_attr(
        feature = "clap",
        value(help = "Their group is renamed `<name>-<their cluster name>`")
    )]
    Rename,
}

impl GroupStrategy {
    /// Its name as the JSON documents and the command line spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Rename => "rename",
        }
    }
}

/// The fate of one node group of a merging cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
#[non_exhaustive]
pub enum GroupAction {
    /// Added as it is.
    Add,
    /// Added under a new name.
    Rename {
        /// The new name.
        new_name: String,
    },
    /// Dropped; its nodes join an existing group.
    MergeInto {
        /// The UUID of the group its members join.
        target_uuid: String,
        /// The index of the cluster owning that group (0 = ours, then the merging ones from 1).
        target_cluster: usize,
    },
}

/// The decisions for every node group of every merging cluster.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct GroupPlan {
    /// For merging cluster `i` (index into the merging list), group UUID → action.
    pub actions: Vec<HashMap<String, GroupAction>>,
}

impl GroupPlan {
    /// The action for group `uuid` of merging cluster `index`.
    pub fn action(&self, index: usize, uuid: &str) -> Option<&GroupAction> {
        self.actions.get(index).and_then(|map| map.get(uuid))
    }
}

/// Decide what happens to each merging group; name clashes that the strategy
/// does not resolve are returned as conflicts.
pub fn plan_groups(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    strategy: Option<GroupStrategy>,
) -> (GroupPlan, Vec<Conflict>) {
    // name → (cluster index, uuid, name of the owning cluster) of groups that will exist.
    let mut names: HashMap<String, (usize, String)> = HashMap::new();
    for group in &ours.nodegroups {
        names
            .entry(ours.str(group.name).to_owned())
            .or_insert((0, ours.str(group.uuid).to_owned()));
    }
    let mut conflicts = Vec::new();
    let mut plan = GroupPlan::default();
    for (index, other) in theirs.iter().enumerate() {
        let cluster_index = index + 1;
        let mut actions = HashMap::new();
        for group in &other.nodegroups {
            let (name, uuid) = (other.str(group.name), other.str(group.uuid));
            let action = match (names.get(name), strategy) {
                (None, _) => GroupAction::Add,
                (Some((owner, target)), Some(GroupStrategy::Merge)) => GroupAction::MergeInto {
                    target_uuid: target.clone(),
                    target_cluster: *owner,
                },
                (Some(_), Some(GroupStrategy::Rename)) => {
                    let new_name = format!("{name}-{}", other.name());
                    if let Some((owner, uuid)) = names.get(&new_name) {
                        let owner_cluster = cluster_name(ours, theirs, *owner);
                        conflicts.push(Conflict {
                            kind: ConflictKind::NodeGroupName,
                            value: new_name.clone(),
                            owners: vec![
                                group_ref(owner_cluster, &new_name, uuid),
                                group_ref(other.name(), name, uuid),
                            ],
                            message: format!(
                                "node group '{name}' of cluster '{}' would be renamed '{new_name}', but cluster '{owner_cluster}' already has a node group of that name; rename one of them first",
                                other.name()
                            ),
                        });
                    }
                    GroupAction::Rename { new_name }
                }
                (Some((owner, owner_uuid)), None) => {
                    let owner_cluster = cluster_name(ours, theirs, *owner);
                    conflicts.push(Conflict {
                        kind: ConflictKind::NodeGroupName,
                        value: name.to_owned(),
                        owners: vec![
                            group_ref(owner_cluster, name, owner_uuid),
                            group_ref(other.name(), name, uuid),
                        ],
                        message: format!(
                            "node group '{name}' exists in cluster '{owner_cluster}' and in cluster '{}'; choose a node group strategy: merge (its nodes join the existing group) or rename (it becomes '{name}-{}')",
                            other.name(),
                            other.name()
                        ),
                    });
                    GroupAction::Add
                }
            };
            match &action {
                GroupAction::Add => {
                    names
                        .entry(name.to_owned())
                        .or_insert((cluster_index, uuid.to_owned()));
                }
                GroupAction::Rename { new_name } => {
                    names
                        .entry(new_name.clone())
                        .or_insert((cluster_index, uuid.to_owned()));
                }
                GroupAction::MergeInto { .. } => {}
            }
            actions.insert(uuid.to_owned(), action);
        }
        plan.actions.push(actions);
    }
    (plan, conflicts)
}

/// The name of cluster `index` (0 = ours, then the merging ones).
pub(crate) fn cluster_name<'a>(
    ours: &'a ConfigFile,
    theirs: &'a [ConfigFile],
    index: usize,
) -> &'a str {
    if index == 0 {
        ours.name()
    } else {
        theirs.get(index - 1).map_or("?", ConfigFile::name)
    }
}

fn group_ref(cluster: &str, name: &str, uuid: &str) -> ObjectRef {
    ObjectRef {
        cluster: cluster.to_owned(),
        kind: ObjectKind::NodeGroup,
        name: name.to_owned(),
        uuid: Some(uuid.to_owned()),
    }
}

//! Planning a graft: which partitions go to the new master, with what, in
//! which order, and which are skipped and why. Pure: it only looks at an
//! [`Inventory`] already read from the node.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::Value;

use bouture_core::{
    BOUTURE_FILE_NAME, BoutureFile, BoutureStatus, ComputerId, FileError, InstanceState, Inventory,
    Partition, PartitionAddress, PartitionId, RESOURCE_FILE_NAME, ResourceStatus,
};

/// A JSON object, its keys in file order.
type JsonObject = serde_json::Map<String, Value>;

/// The parameter key `--new-monitor-url` sets.
pub const MONITOR_URL_KEY: &str = "monitor-interface-url";

/// The name of slapgrid's per-partition timestamp file, removed after a graft
/// so that the node reprocesses the partition.
pub const TIMESTAMP_FILE_NAME: &str = ".timestamp";

/// Options of a graft.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// `--new-monitor-url`: set as `monitor-interface-url` in every grafted
    /// instance's parameters.
    pub new_monitor_url: Option<String>,
}

impl Options {
    /// Options with a monitor URL.
    pub fn with_monitor_url(url: impl Into<String>) -> Self {
        Self {
            new_monitor_url: Some(url.into()),
        }
    }
}

/// Everything a graft will do, decided before anything is sent.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct GraftPlan {
    /// The node's computer id: the computer the new master will hold.
    pub computer_id: ComputerId,
    /// The computer's own address, when the node records it.
    pub address: Option<IpAddr>,
    /// Its netmask, when the node records it.
    pub netmask: Option<IpAddr>,
    /// The partitions to graft, in numeric order: the order in which they
    /// are registered and their instances requested.
    pub partitions: Vec<PlannedPartition>,
    /// Opted-in partitions that will not be grafted, with the reason.
    pub skipped: Vec<SkippedPartition>,
    /// The software releases to supply to the computer, each once, in
    /// order of first use.
    pub software_releases: Vec<String>,
}

/// A partition the graft will register, with the instance it holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PlannedPartition {
    /// The partition id, kept on the new master.
    pub id: PartitionId,
    /// The partition's directory on the node.
    pub path: PathBuf,
    /// Its addresses, each with its netmask.
    pub addresses: Vec<PartitionAddress>,
    /// Its tap interface, when it has one.
    pub tap_name: Option<String>,
    /// The interface the master records for its addresses (the tap name, or
    /// the partition id when there is no tap).
    pub interface: String,
    /// The instance to request on it.
    pub instance: PlannedInstance,
    /// The shared instances it hosts.
    pub shared_instances: Vec<PlannedSharedInstance>,
    /// slapgrid's timestamp file, removed once the partition is grafted.
    pub timestamp_file: PathBuf,
}

/// The instance of a grafted partition.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PlannedInstance {
    /// Its software release.
    pub software_url: String,
    /// Its software type.
    pub software_type: String,
    /// Its title.
    pub title: String,
    /// Its requested state.
    pub state: InstanceState,
    /// Its parameters, exactly as in `bouture.json` (plus the monitor URL
    /// when asked).
    pub parameters: JsonObject,
}

/// A shared instance to attach to a grafted partition's instance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct PlannedSharedInstance {
    /// Its title (without the leading `_` a proxy adds, see
    /// [`SharedInstance::request_title`](bouture_core::SharedInstance::request_title)).
    pub title: String,
    /// Its software type.
    pub software_type: String,
    /// Its parameters, exactly as in `bouture.json`.
    pub parameters: JsonObject,
}

/// An opted-in partition that will not be grafted.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct SkippedPartition {
    /// The partition id.
    pub id: PartitionId,
    /// Its directory.
    pub path: PathBuf,
    /// Why it is skipped.
    pub reason: SkipReason,
}

/// Why an opted-in partition is skipped.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Its `bouture.json` is unusable.
    #[error("{0}")]
    InvalidBoutureFile(FileError),
    /// It has no `.slapos-resource`, so its addresses are unknown.
    #[error(
        "{}: missing; the partition's addresses are unknown (was it formatted by `slapos node format`?)",
        path.display()
    )]
    MissingResource {
        /// Where the file was looked for.
        path: PathBuf,
    },
    /// Its `.slapos-resource` is unusable.
    #[error("{0}")]
    InvalidResource(FileError),
    /// Another opted-in partition claims the same instance title.
    #[error(
        "instance title \"{title}\" is also claimed by {}; a master holds one instance per title, fix the bouture.json files",
        others.iter().map(PartitionId::as_str).collect::<Vec<_>>().join(", ")
    )]
    DuplicateTitle {
        /// The title.
        title: String,
        /// The other partitions that claim it.
        others: Vec<PartitionId>,
    },
    /// Another opted-in partition hosts a shared instance of the same title.
    #[error(
        "shared instance title \"{title}\" is also used by {}; fix the bouture.json files",
        others.iter().map(PartitionId::as_str).collect::<Vec<_>>().join(", ")
    )]
    DuplicateSharedTitle {
        /// The title.
        title: String,
        /// The other partitions that use it.
        others: Vec<PartitionId>,
    },
    /// `--new-monitor-url` cannot be set in the parameters.
    #[error("{}: field `config._` {problem}, so the monitor URL cannot be set in it", path.display())]
    MonitorUrl {
        /// The `bouture.json`.
        path: PathBuf,
        /// What is wrong with the parameters.
        problem: String,
    },
}

impl GraftPlan {
    /// Decide the graft of `inventory`'s opted-in partitions.
    ///
    /// Every opted-in partition is either planned or skipped with its
    /// reason; partitions without `bouture.json` are left out entirely.
    pub fn build(inventory: &Inventory, options: &Options) -> Self {
        let mut partitions = Vec::new();
        let mut skipped = Vec::new();
        for partition in &inventory.partitions {
            match plan_partition(partition, options) {
                Ok(Some(planned)) => partitions.push(planned),
                Ok(None) => {}
                Err(reason) => skipped.push(SkippedPartition {
                    id: partition.id.clone(),
                    path: partition.path.clone(),
                    reason,
                }),
            }
        }
        let mut clashes = find_title_clashes(&partitions);
        partitions.retain(|planned| match clashes.remove(&planned.id) {
            Some(reason) => {
                skipped.push(SkippedPartition {
                    id: planned.id.clone(),
                    path: planned.path.clone(),
                    reason,
                });
                false
            }
            None => true,
        });
        skipped.sort_by(|a, b| a.id.cmp(&b.id));
        let mut software_releases: Vec<String> = Vec::new();
        for planned in &partitions {
            if !software_releases.contains(&planned.instance.software_url) {
                software_releases.push(planned.instance.software_url.clone());
            }
        }
        Self {
            computer_id: inventory.computer.computer_id.clone(),
            address: inventory.computer.address,
            netmask: inventory.computer.netmask,
            partitions,
            skipped,
            software_releases,
        }
    }

    /// The number of shared instances the plan attaches.
    pub fn shared_instance_count(&self) -> usize {
        self.partitions
            .iter()
            .map(|partition| partition.shared_instances.len())
            .sum()
    }
}

/// `Ok(None)` for a partition that is not opted in.
fn plan_partition(
    partition: &Partition,
    options: &Options,
) -> Result<Option<PlannedPartition>, SkipReason> {
    let file = match &partition.bouture {
        BoutureStatus::Valid(file) => file,
        BoutureStatus::Invalid(error) => {
            return Err(SkipReason::InvalidBoutureFile(error.clone()));
        }
        // `NotOptedIn`, or a status this version does not know: nothing to plan.
        _ => return Ok(None),
    };
    let resource = match &partition.resource {
        ResourceStatus::Valid(resource) => resource,
        ResourceStatus::Missing { path } => {
            return Err(SkipReason::MissingResource { path: path.clone() });
        }
        ResourceStatus::Invalid(error) => {
            return Err(SkipReason::InvalidResource(error.clone()));
        }
        // A status this version does not know: its addresses are unknown.
        _ => {
            return Err(SkipReason::MissingResource {
                path: partition.path.join(RESOURCE_FILE_NAME),
            });
        }
    };
    let parameters = match &options.new_monitor_url {
        Some(url) => {
            with_monitor_url(&file.config, url).map_err(|problem| SkipReason::MonitorUrl {
                path: partition.path.join(BOUTURE_FILE_NAME),
                problem: problem.to_string(),
            })?
        }
        None => file.config.clone(),
    };
    Ok(Some(PlannedPartition {
        id: partition.id.clone(),
        path: partition.path.clone(),
        addresses: resource.addresses.clone(),
        tap_name: resource.tap_name.clone(),
        interface: resource
            .tap_name
            .clone()
            .unwrap_or_else(|| partition.id.to_string()),
        instance: planned_instance(file, parameters),
        shared_instances: file
            .shared_list
            .iter()
            .map(|shared| PlannedSharedInstance {
                title: shared.request_title().to_string(),
                software_type: shared.slap_software_type.clone(),
                parameters: shared.parameter_list.clone(),
            })
            .collect(),
        timestamp_file: partition.path.join(TIMESTAMP_FILE_NAME),
    }))
}

fn planned_instance(file: &BoutureFile, parameters: JsonObject) -> PlannedInstance {
    PlannedInstance {
        software_url: file.software_url.clone(),
        software_type: file.software_type.clone(),
        title: file.instance_title.clone(),
        state: file.instance_state,
        parameters,
    }
}

/// Why `monitor-interface-url` cannot be set in an instance's parameters
/// (the `_` key the reference re-serialises is not what it should be).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MonitorUrlError {
    /// `_` is not a JSON document.
    #[error("is not a JSON document ({message})")]
    NotJson {
        /// The JSON parser's description.
        message: String,
    },
    /// `_` is JSON, but not an object.
    #[error("is not a JSON object")]
    NotObject,
    /// `_` is not a string.
    #[error("is not a string")]
    NotString,
}

/// Set `monitor-interface-url` as the reference does: inside the JSON string
/// when the parameters are a single `_` key (re-serialised as Python's
/// `json.dumps` would), else as a plain key.
///
/// ```
/// # use bouture_graft::with_monitor_url;
/// let config = serde_json::json!({"_": "{\"a\": 1.0}"});
/// let updated = with_monitor_url(config.as_object().unwrap(), "https://m").unwrap();
/// assert_eq!(updated["_"], "{\"a\": 1.0, \"monitor-interface-url\": \"https://m\"}");
/// ```
pub fn with_monitor_url(config: &JsonObject, url: &str) -> Result<JsonObject, MonitorUrlError> {
    let mut parameters = config.clone();
    if parameters.len() == 1
        && let Some(Value::String(inner)) = parameters.get("_")
    {
        let mut inner: Value =
            serde_json::from_str(inner).map_err(|error| MonitorUrlError::NotJson {
                message: error.to_string(),
            })?;
        let Value::Object(object) = &mut inner else {
            return Err(MonitorUrlError::NotObject);
        };
        object.insert(MONITOR_URL_KEY.to_string(), Value::String(url.to_string()));
        parameters.insert("_".to_string(), Value::String(bouture_json::dumps(&inner)));
    } else if parameters.len() == 1 && parameters.contains_key("_") {
        return Err(MonitorUrlError::NotString);
    } else {
        parameters.insert(MONITOR_URL_KEY.to_string(), Value::String(url.to_string()));
    }
    Ok(parameters)
}

/// Partitions whose instance title, or one of whose shared instance titles,
/// another planned partition also uses.
fn find_title_clashes(partitions: &[PlannedPartition]) -> BTreeMap<PartitionId, SkipReason> {
    let mut titles: BTreeMap<&str, Vec<&PartitionId>> = BTreeMap::new();
    let mut shared: BTreeMap<&str, Vec<&PartitionId>> = BTreeMap::new();
    for planned in partitions {
        titles
            .entry(&planned.instance.title)
            .or_default()
            .push(&planned.id);
        for instance in &planned.shared_instances {
            let users = shared.entry(&instance.title).or_default();
            if !users.contains(&&planned.id) {
                users.push(&planned.id);
            }
        }
    }
    let mut reasons = BTreeMap::new();
    let others = |ids: &[&PartitionId], me: &PartitionId| -> Vec<PartitionId> {
        ids.iter()
            .filter(|id| **id != me)
            .map(|id| (*id).clone())
            .collect()
    };
    for (title, ids) in shared.iter().filter(|(_, ids)| ids.len() > 1) {
        for id in ids {
            reasons.insert(
                (*id).clone(),
                SkipReason::DuplicateSharedTitle {
                    title: (*title).to_string(),
                    others: others(ids, id),
                },
            );
        }
    }
    for (title, ids) in titles.iter().filter(|(_, ids)| ids.len() > 1) {
        for id in ids {
            reasons.insert(
                (*id).clone(),
                SkipReason::DuplicateTitle {
                    title: (*title).to_string(),
                    others: others(ids, id),
                },
            );
        }
    }
    reasons
}

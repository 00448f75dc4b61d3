//! Cluster parameter compatibility, as Ganeti's `tools/cluster-merge` checks it.
//!
//! - Always errors: `volume_group_name`; `file_storage_dir` when either
//!   cluster enables file storage; `shared_file_storage_dir` when either
//!   enables sharedfile; the *set* of `enabled_hypervisors`.
//! - Errors with [`ParameterPolicy::Strict`], warnings with
//!   [`ParameterPolicy::Warn`]: `beparams`, `default_iallocator`,
//!   `drbd_usermode_helper`, `hidden_os`, `maintain_node_health`,
//!   `master_netdev`, `ndparams`, `nicparams`, `primary_ip_family`, `tags`,
//!   `uid_pool`, every `hvparams[hv][param]` of our enabled hypervisors,
//!   `os_hvp[os][hv]`, and an `osparams` entry both clusters have but differ on.
//! - Warnings only (our value wins): the default hypervisor,
//!   `modify_etc_hosts`, `modify_ssh_setup`.
//! - Merged into ours: `reserved_lvs` (union), `prealloc_wipe_disks` (true if
//!   they differ), `osparams` of an OS we do not have.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::conflicts::{Conflict, ConflictKind, ObjectKind, ObjectRef};
use crate::model::ConfigFile;

/// What a parameter difference that Ganeti's tool treats as "strict" becomes.
///
/// With the `clap` feature it is a `clap::ValueEnum` (`strict`, `warn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum ParameterPolicy {
    /// An error: the merge is refused.
    #[default]
    #[cfg_attr(
        feature = "clap",
        value(help = "Differences Ganeti's tool calls strict are errors")
    )]
    Strict,
    /// A warning in the report; our value is kept.
    #[cfg_attr(
        feature = "clap",
        value(help = "Those differences are warnings; our values are kept")
    )]
    Warn,
}

impl ParameterPolicy {
    /// Its name as the JSON documents and the command line spell it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Strict => "strict",
            Self::Warn => "warn",
        }
    }
}

/// Something the operator should know; the merge goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Warning {
    /// The merging cluster concerned.
    pub cluster: String,
    /// The parameter (or topic) concerned.
    pub parameter: String,
    /// What happened.
    pub message: String,
}

/// The outcome of comparing the clusters' parameters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ParamReport {
    /// Differences that refuse the merge.
    pub conflicts: Vec<Conflict>,
    /// Differences that are only reported.
    pub warnings: Vec<Warning>,
    /// The new `reserved_lvs`, when the union adds something.
    pub reserved_lvs: Option<Vec<Value>>,
    /// The new `prealloc_wipe_disks`, when it changes.
    pub prealloc_wipe_disks: Option<bool>,
    /// `osparams` entries copied from merging clusters (OS name, parameters).
    pub osparams_added: Vec<(String, Value)>,
}

const STRICT_PARAMETERS: [&str; 11] = [
    "beparams",
    "default_iallocator",
    "drbd_usermode_helper",
    "hidden_os",
    "maintain_node_health",
    "master_netdev",
    "ndparams",
    "nicparams",
    "primary_ip_family",
    "tags",
    "uid_pool",
];

/// The cluster's members parsed as JSON values (the cluster object is small).
fn values(config: &ConfigFile) -> Map<String, Value> {
    config
        .cluster
        .raw
        .iter()
        .filter_map(|(key, raw)| {
            serde_json::from_str(raw.get())
                .ok()
                .map(|value| (key.to_owned(), value))
        })
        .collect()
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 80 {
        let cut: String = text.chars().take(77).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn disk_template_enabled(values: &Map<String, Value>, template: &str) -> bool {
    values
        .get("enabled_disk_templates")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|t| t.as_str() == Some(template)))
}

fn hypervisors(values: &Map<String, Value>) -> Vec<String> {
    values
        .get("enabled_hypervisors")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

struct Checker<'a> {
    ours_name: &'a str,
    theirs_name: &'a str,
    policy: ParameterPolicy,
    outcome: &'a mut ParamReport,
}

impl Checker<'_> {
    fn error(&mut self, parameter: &str, ours: &Value, theirs: &Value, hint: &str) {
        let message = format!(
            "cluster parameter '{parameter}' differs: cluster '{}' has {}, cluster '{}' has {}; {hint}",
            self.ours_name,
            short(ours),
            self.theirs_name,
            short(theirs)
        );
        let owner = |cluster: &str| ObjectRef {
            cluster: cluster.to_owned(),
            kind: ObjectKind::Parameter,
            name: parameter.to_owned(),
            uuid: None,
        };
        self.outcome.conflicts.push(Conflict {
            kind: ConflictKind::Parameter,
            value: parameter.to_owned(),
            owners: vec![owner(self.ours_name), owner(self.theirs_name)],
            message,
        });
    }

    fn warn(&mut self, parameter: &str, message: String) {
        self.outcome.warnings.push(Warning {
            cluster: self.theirs_name.to_owned(),
            parameter: parameter.to_owned(),
            message,
        });
    }

    fn strict(&mut self, parameter: &str, ours: &Value, theirs: &Value) {
        if ours == theirs {
            return;
        }
        match self.policy {
            ParameterPolicy::Strict => self.error(
                parameter,
                ours,
                theirs,
                "make them equal, or accept ours with the warn parameter policy",
            ),
            ParameterPolicy::Warn => {
                let message = format!(
                    "cluster parameter '{parameter}' differs (cluster '{}' has {}); the merged cluster keeps {}",
                    self.theirs_name,
                    short(theirs),
                    short(ours)
                );
                self.warn(parameter, message);
            }
        }
    }
}

/// Compare our cluster's parameters with each merging cluster's.
#[allow(
    clippy::too_many_lines,
    reason = "the checks follow Ganeti's list one by one"
)]
pub fn check_parameters(
    ours: &ConfigFile,
    theirs: &[ConfigFile],
    policy: ParameterPolicy,
) -> ParamReport {
    let mut outcome = ParamReport::default();
    let mut mine = values(ours);
    let null = Value::Null;
    let empty = Map::new();
    let mut reserved_changed = false;
    let mut wipe_changed = false;
    for other in theirs {
        let their = values(other);
        let mut checker = Checker {
            ours_name: ours.name(),
            theirs_name: other.name(),
            policy,
            outcome: &mut outcome,
        };
        let get =
            |map: &Map<String, Value>, key: &str| map.get(key).cloned().unwrap_or(Value::Null);

        for parameter in STRICT_PARAMETERS {
            checker.strict(parameter, &get(&mine, parameter), &get(&their, parameter));
        }

        let (a, b) = (
            get(&mine, "volume_group_name"),
            get(&their, "volume_group_name"),
        );
        if a != b {
            checker.error(
                "volume_group_name",
                &a,
                &b,
                "the merged nodes' volumes must be in the same volume group",
            );
        }
        for (parameter, template) in [
            ("file_storage_dir", "file"),
            ("shared_file_storage_dir", "sharedfile"),
        ] {
            if disk_template_enabled(&mine, template) || disk_template_enabled(&their, template) {
                let (a, b) = (get(&mine, parameter), get(&their, parameter));
                if a != b {
                    checker.error(
                        parameter,
                        &a,
                        &b,
                        "the storage directories must be the same when that storage is enabled",
                    );
                }
            }
        }

        let (my_hvs, their_hvs) = (hypervisors(&mine), hypervisors(&their));
        if my_hvs.first() != their_hvs.first() {
            let message = format!(
                "default hypervisor differs (cluster '{}' uses {}); new instances will use {}",
                other.name(),
                their_hvs.first().map_or("none", String::as_str),
                my_hvs.first().map_or("none", String::as_str)
            );
            checker.warn("enabled_hypervisors", message);
        }
        let mut sorted_mine = my_hvs.clone();
        let mut sorted_theirs = their_hvs.clone();
        sorted_mine.sort();
        sorted_theirs.sort();
        if sorted_mine != sorted_theirs {
            checker.error(
                "enabled_hypervisors",
                &Value::from(my_hvs.clone()),
                &Value::from(their_hvs.clone()),
                "both clusters must enable the same hypervisors",
            );
        }

        let my_hvparams = mine
            .get("hvparams")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let their_hvparams = their
            .get("hvparams")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for hv in &my_hvs {
            let Some(params) = my_hvparams.get(hv).and_then(Value::as_object) else {
                continue;
            };
            let theirs_hv = their_hvparams.get(hv).and_then(Value::as_object);
            for (param, value) in params {
                let other_value = theirs_hv.and_then(|p| p.get(param)).unwrap_or(&null);
                checker.strict(&format!("hvparams.{hv}.{param}"), value, other_value);
            }
        }

        let my_os_hvp = mine
            .get("os_hvp")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let their_os_hvp = their
            .get("os_hvp")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut oses: Vec<&String> = my_os_hvp.keys().chain(their_os_hvp.keys()).collect();
        oses.sort();
        oses.dedup();
        for os in oses {
            for hv in &my_hvs {
                let a = my_os_hvp.get(os).and_then(|m| m.get(hv)).unwrap_or(&null);
                let b = their_os_hvp
                    .get(os)
                    .and_then(|m| m.get(hv))
                    .unwrap_or(&null);
                checker.strict(&format!("os_hvp.{os}.{hv}"), a, b);
            }
        }

        for parameter in ["modify_etc_hosts", "modify_ssh_setup"] {
            let (a, b) = (get(&mine, parameter), get(&their, parameter));
            if a != b {
                let message = format!(
                    "cluster parameter '{parameter}' differs (cluster '{}' has {}); the merged cluster keeps {}",
                    other.name(),
                    short(&b),
                    short(&a)
                );
                checker.warn(parameter, message);
            }
        }

        // Values merged into ours.
        let mut reserved = mine
            .get("reserved_lvs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for lv in their
            .get("reserved_lvs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !reserved.contains(lv) {
                reserved.push(lv.clone());
                reserved_changed = true;
            }
        }
        mine.insert("reserved_lvs".to_owned(), Value::Array(reserved));
        let (a, b) = (
            get(&mine, "prealloc_wipe_disks"),
            get(&their, "prealloc_wipe_disks"),
        );
        if a != b && b == Value::Bool(true) {
            mine.insert("prealloc_wipe_disks".to_owned(), Value::Bool(true));
            wipe_changed = true;
            let message = format!(
                "cluster '{}' wipes new disks (prealloc_wipe_disks); the merged cluster now does too",
                other.name()
            );
            checker.warn("prealloc_wipe_disks", message);
        }
        let their_osparams = their
            .get("osparams")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut my_osparams = mine
            .get("osparams")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (os, params) in their_osparams {
            match my_osparams.get(&os) {
                None => {
                    checker
                        .outcome
                        .osparams_added
                        .push((os.clone(), params.clone()));
                    my_osparams.insert(os, params);
                }
                Some(existing) => {
                    let existing = existing.clone();
                    checker.strict(&format!("osparams.{os}"), &existing, &params);
                }
            }
        }
        mine.insert("osparams".to_owned(), Value::Object(my_osparams));
    }
    if reserved_changed {
        outcome.reserved_lvs = mine.get("reserved_lvs").and_then(Value::as_array).cloned();
    }
    if wipe_changed {
        outcome.prealloc_wipe_disks = Some(true);
    }
    outcome
}

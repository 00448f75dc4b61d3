//! The differences between what was grafted onto the local master and what
//! it holds when the original master returns.

use std::fmt::{self, Write as _};

use bouture_master_client::{InstanceState, Parameters};
use serde_json::{Value, json};

use bouture_text::shell_line;

use crate::command::{Request, request_argv};
use crate::snapshot::{InstanceSnapshot, MasterSnapshot, SharedSnapshot};
use crate::strict_json::bounded;

/// What kind of change.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// An instance that was not grafted was requested.
    InstanceRequested,
    /// A grafted instance was destroyed (requested `destroyed`, or gone).
    InstanceDestroyed,
    /// A grafted instance was started.
    InstanceStarted,
    /// A grafted instance was stopped.
    InstanceStopped,
    /// Its software release changed.
    SoftwareReleaseChanged,
    /// Its software type changed.
    SoftwareTypeChanged,
    /// Its parameters changed.
    ParametersChanged,
    /// The instance published (other) connection parameters.
    ConnectionParametersPublished,
    /// A shared instance was added.
    SharedInstanceAdded,
    /// A shared instance was removed.
    SharedInstanceRemoved,
    /// A shared instance's parameters changed.
    SharedInstanceParametersChanged,
    /// The host published (other) connection parameters for a shared
    /// instance.
    SharedConnectionParametersPublished,
    /// The local master could not be read: what changed there is unknown.
    NotCollected,
}

impl ChangeKind {
    /// The kind in words, for log lines.
    pub fn describe(self) -> &'static str {
        match self {
            Self::InstanceRequested => "instance requested",
            Self::InstanceDestroyed => "instance destroyed",
            Self::InstanceStarted => "instance started",
            Self::InstanceStopped => "instance stopped",
            Self::SoftwareReleaseChanged => "software release changed",
            Self::SoftwareTypeChanged => "software type changed",
            Self::ParametersChanged => "parameters changed",
            Self::ConnectionParametersPublished => "connection parameters published",
            Self::SharedInstanceAdded => "shared instance added",
            Self::SharedInstanceRemoved => "shared instance removed",
            Self::SharedInstanceParametersChanged => "shared instance parameters changed",
            Self::SharedConnectionParametersPublished => {
                "shared instance connection parameters published"
            }
            Self::NotCollected => "changes not collected",
        }
    }
}

/// One difference, with what would carry it to the original master.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Change {
    /// What changed.
    pub kind: ChangeKind,
    /// The instance (for a shared instance: its host), if any.
    pub instance: Option<String>,
    /// The shared instance, for shared-instance changes (the title it is
    /// requested with).
    pub shared_instance: Option<String>,
    /// The partition holding the instance on the local master.
    pub partition: Option<String>,
    /// The value when grafted (`null`: none).
    pub old: Value,
    /// The value on the local master now (`null`: none).
    pub new: Value,
    /// `slapos request` arguments that make the same change on the original
    /// master, when one can.
    pub command: Option<Vec<String>>,
    /// The same, as one shell command line.
    pub command_line: Option<String>,
    /// Why there is no command, or what to know before running it.
    pub note: Option<String>,
    /// What the last replay of the command on the original master did
    /// (`bouture status --replay`); absent until one ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<crate::replay::Replayed>,
}

impl Change {
    fn new(kind: ChangeKind, instance: &InstanceSnapshot, old: Value, new: Value) -> Self {
        Self {
            kind,
            instance: Some(instance.title.clone()),
            shared_instance: None,
            partition: Some(instance.partition.clone()),
            old,
            new,
            command: None,
            command_line: None,
            note: None,
            replay: None,
        }
    }

    /// A change that says the local master could not be read.
    pub fn not_collected(reason: impl Into<String>) -> Self {
        Self {
            kind: ChangeKind::NotCollected,
            instance: None,
            shared_instance: None,
            partition: None,
            old: Value::Null,
            new: Value::Null,
            command: None,
            command_line: None,
            note: Some(reason.into()),
            replay: None,
        }
    }

    fn with_command(mut self, argv: Result<Vec<String>, String>) -> Self {
        match argv {
            Ok(argv) => {
                self.command_line = Some(shell_line(&argv));
                self.command = Some(argv);
            }
            Err(note) => self.note = Some(note),
        }
        self
    }

    fn with_note(mut self, note: &str) -> Self {
        self.note = Some(note.to_string());
        self
    }
}

impl Change {
    /// What, where, and the old and new values (each bounded), without the
    /// command: `parameters changed: instance "Main" (slappart0): {...} -> {...}`.
    pub fn summary(&self) -> String {
        let mut out = self.kind.describe().to_string();
        if let Some(shared) = &self.shared_instance {
            let _ = write!(out, ": shared instance {shared:?}");
            if let Some(host) = &self.instance {
                let _ = write!(out, " on {host:?}");
            }
        } else if let Some(instance) = &self.instance {
            let _ = write!(out, ": instance {instance:?}");
        }
        if let Some(partition) = &self.partition {
            let _ = write!(out, " ({partition})");
        }
        if !self.old.is_null() || !self.new.is_null() {
            let _ = write!(
                out,
                ": {} -> {}",
                bounded(&self.old.to_string()),
                bounded(&self.new.to_string())
            );
        }
        out
    }
}

impl fmt::Display for Change {
    /// One line: [`Change::summary`], then the command (bounded) or the note.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        match (&self.command_line, &self.note) {
            (Some(line), Some(note)) => write!(
                f,
                "; on the original master: {} ({})",
                bounded(line),
                bounded(note)
            ),
            (Some(line), None) => write!(f, "; on the original master: {}", bounded(line)),
            (None, Some(note)) => write!(f, "; {}", bounded(note)),
            (None, None) => Ok(()),
        }
    }
}

const CHILD_NOTE: &str = "requested by another instance, not by a person: its requester asks \
                          the original master for it when it runs there; `slapos request` \
                          cannot make that request";
const CONNECTION_NOTE: &str = "connection parameters are published by the instance itself; it \
                               publishes them to the original master when it runs there";
const SHARED_CONNECTION_NOTE: &str = "a shared instance's connection parameters are published by \
                                      its host instance; it publishes them to the original \
                                      master when it runs there";

/// Every difference between `grafted` (what the local master held right
/// after the graft) and `now` (what it holds when the original master
/// returns), in a stable order: instances by title, then kind.
///
/// `computer_id` goes into `--node computer_guid=...` of the commands for
/// instances the original master does not have yet.
pub fn diff(grafted: &MasterSnapshot, now: &MasterSnapshot) -> Vec<Change> {
    let computer_id = now.computer_id.as_str();
    let mut changes = Vec::new();
    for before in &grafted.instances {
        match now.instance(&before.title, &before.root_instance_title) {
            Some(after) if after.state != Some(InstanceState::Destroyed) => {
                changed_instance(before, after, computer_id, &mut changes);
            }
            after => {
                if before.state == Some(InstanceState::Destroyed) {
                    continue;
                }
                let request = Request {
                    state: Some(InstanceState::Destroyed.as_str()),
                    parameters: None,
                    computer_guid: None,
                    ..request_of(before)
                };
                let mut change = Change::new(
                    ChangeKind::InstanceDestroyed,
                    before,
                    state_value(before.state),
                    json!(InstanceState::Destroyed.as_str()),
                );
                change = if before.is_root() {
                    change.with_command(request_argv(&request))
                } else {
                    change.with_note(CHILD_NOTE)
                };
                if after.is_none() {
                    let note = change.note.take();
                    change.note = Some(match note {
                        Some(note) => format!("gone from the local master; {note}"),
                        None => "gone from the local master (its partition was freed)".into(),
                    });
                }
                changes.push(change);
            }
        }
    }
    for after in &now.instances {
        if grafted
            .instance(&after.title, &after.root_instance_title)
            .is_some()
            || after.state == Some(InstanceState::Destroyed)
        {
            continue;
        }
        let new = json!({
            "software_release": after.software_release,
            "software_type": after.software_type,
            "state": state_value(after.state),
            "parameters": after.parameters,
        });
        let change = Change::new(ChangeKind::InstanceRequested, after, Value::Null, new);
        changes.push(if after.is_root() {
            change.with_command(request_argv(&Request {
                computer_guid: Some(computer_id),
                ..request_of(after)
            }))
        } else {
            change.with_note(CHILD_NOTE)
        });
        if !after.connection_parameters.is_empty() {
            changes.push(
                Change::new(
                    ChangeKind::ConnectionParametersPublished,
                    after,
                    Value::Null,
                    Value::Object(after.connection_parameters.clone()),
                )
                .with_note(CONNECTION_NOTE),
            );
        }
        shared_changes(&[], after, computer_id, &mut changes);
    }
    changes.sort_by(|a, b| {
        (&a.instance, a.kind, &a.shared_instance).cmp(&(&b.instance, b.kind, &b.shared_instance))
    });
    changes
}

fn changed_instance(
    before: &InstanceSnapshot,
    after: &InstanceSnapshot,
    computer_id: &str,
    changes: &mut Vec<Change>,
) {
    let command = || {
        if after.is_root() {
            request_argv(&request_of(after))
        } else {
            Err(CHILD_NOTE.to_string())
        }
    };
    let mut push = |kind, old: Value, new: Value| {
        changes.push(Change::new(kind, after, old, new).with_command(command()));
    };
    if before.software_release != after.software_release {
        push(
            ChangeKind::SoftwareReleaseChanged,
            json!(before.software_release),
            json!(after.software_release),
        );
    }
    if before.software_type != after.software_type {
        push(
            ChangeKind::SoftwareTypeChanged,
            json!(before.software_type),
            json!(after.software_type),
        );
    }
    if before.state != after.state {
        let kind = match after.state {
            Some(InstanceState::Stopped) => ChangeKind::InstanceStopped,
            _ => ChangeKind::InstanceStarted,
        };
        push(kind, state_value(before.state), state_value(after.state));
    }
    if before.parameters != after.parameters {
        push(
            ChangeKind::ParametersChanged,
            Value::Object(before.parameters.clone()),
            Value::Object(after.parameters.clone()),
        );
    }
    if before.connection_parameters != after.connection_parameters {
        changes.push(
            Change::new(
                ChangeKind::ConnectionParametersPublished,
                after,
                Value::Object(before.connection_parameters.clone()),
                Value::Object(after.connection_parameters.clone()),
            )
            .with_note(CONNECTION_NOTE),
        );
    }
    shared_changes(&before.shared_instances, after, computer_id, changes);
}

/// Shared instances added to, removed from, or changed on `host`.
fn shared_changes(
    before: &[SharedSnapshot],
    host: &InstanceSnapshot,
    computer_id: &str,
    changes: &mut Vec<Change>,
) {
    let command = |shared: &SharedSnapshot, state, parameters, computer_guid| {
        if !shared.reference.starts_with('_') {
            return Err(CHILD_NOTE.to_string());
        }
        request_argv(&Request {
            title: shared.requested_title(),
            software_release: &host.software_release,
            software_type: &shared.software_type,
            state,
            shared: true,
            computer_guid,
            parameters,
        })
    };
    let change = |kind, shared: &SharedSnapshot, old, new| Change {
        shared_instance: Some(shared.requested_title().to_string()),
        ..Change::new(kind, host, old, new)
    };
    for old in before {
        match host
            .shared_instances
            .iter()
            .find(|s| s.reference == old.reference)
        {
            None => changes.push(
                change(
                    ChangeKind::SharedInstanceRemoved,
                    old,
                    Value::Object(old.parameters.clone()),
                    Value::Null,
                )
                .with_command(command(old, Some("destroyed"), None, None)),
            ),
            Some(new) if new.parameters != old.parameters => changes.push(
                change(
                    ChangeKind::SharedInstanceParametersChanged,
                    new,
                    Value::Object(old.parameters.clone()),
                    Value::Object(new.parameters.clone()),
                )
                .with_command(command(new, None, Some(&new.parameters), None)),
            ),
            Some(_) => {}
        }
    }
    for new in &host.shared_instances {
        let old = before.iter().find(|old| old.reference == new.reference);
        // Compared only when read both times (or the shared instance is new).
        let published = match (
            old.map(|o| o.connection_parameters.as_ref()),
            &new.connection_parameters,
        ) {
            (Some(Some(was)), Some(now)) if was != now => Some(Value::Object(was.clone())),
            (None, Some(now)) if !now.is_empty() => Some(Value::Null),
            _ => None,
        };
        if let (Some(was), Some(now)) = (published, &new.connection_parameters) {
            changes.push(
                change(
                    ChangeKind::SharedConnectionParametersPublished,
                    new,
                    was,
                    Value::Object(now.clone()),
                )
                .with_note(SHARED_CONNECTION_NOTE),
            );
        }
        if old.is_none() {
            changes.push(
                change(
                    ChangeKind::SharedInstanceAdded,
                    new,
                    Value::Null,
                    Value::Object(new.parameters.clone()),
                )
                .with_command(command(
                    new,
                    None,
                    Some(&new.parameters),
                    Some(computer_id),
                )),
            );
        }
    }
}

/// The request that makes an instance what `instance` is: every parameter
/// and the state.
fn request_of(instance: &InstanceSnapshot) -> Request<'_> {
    Request {
        title: &instance.title,
        software_release: &instance.software_release,
        software_type: &instance.software_type,
        state: instance.state.map(InstanceState::as_str),
        shared: false,
        computer_guid: None,
        parameters: Some(&instance.parameters),
    }
}

fn state_value(state: Option<InstanceState>) -> Value {
    state.map_or(Value::Null, |s| json!(s.as_str()))
}

/// Parameters as a JSON object value (for tests and callers building
/// snapshots by hand).
pub fn parameters(pairs: &[(&str, &str)]) -> Parameters {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect()
}

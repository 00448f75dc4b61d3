//! What a master holds for one computer, in a form that can be recorded and
//! compared: its instances, with their software release and type, state,
//! parameters, connection parameters and shared instances.

use std::time::{SystemTime, UNIX_EPOCH};

use bouture_master_client::{
    ComputerInformation, InstanceState, MasterClient, Parameters, PartitionInformation,
};

use crate::error::Error;

/// The version of the snapshot format this crate writes.
pub const SNAPSHOT_VERSION: u32 = 1;

/// What a master holds for one computer at one moment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MasterSnapshot {
    /// Format version ([`SNAPSHOT_VERSION`]).
    pub version: u32,
    /// The master it was read from.
    pub master_url: String,
    /// The computer.
    pub computer_id: String,
    /// When it was read, in seconds since the Unix epoch.
    pub taken_at_unix: u64,
    /// The instances of the computer's busy partitions, in the master's order.
    pub instances: Vec<InstanceSnapshot>,
}

/// One instance, as the master holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InstanceSnapshot {
    /// The partition holding it.
    pub partition: String,
    /// Its title.
    pub title: String,
    /// The title of the root of its instance tree: its own title for an
    /// instance a person requested, the requester's root for one an instance
    /// requested.
    pub root_instance_title: String,
    /// Software release URL.
    pub software_release: String,
    /// Software type.
    pub software_type: String,
    /// Requested state (`started`, `stopped`, `destroyed`), when the master
    /// says.
    pub state: Option<InstanceState>,
    /// Instance parameters as stored.
    pub parameters: Parameters,
    /// Connection parameters the instance published.
    pub connection_parameters: Parameters,
    /// Shared instances it hosts.
    pub shared_instances: Vec<SharedSnapshot>,
}

impl InstanceSnapshot {
    /// A root instance (requested by a person) with no parameters, no
    /// connection parameters and no shared instance.
    pub fn new(
        partition: impl Into<String>,
        title: impl Into<String>,
        software_release: impl Into<String>,
        software_type: impl Into<String>,
        state: InstanceState,
    ) -> Self {
        let title = title.into();
        Self {
            partition: partition.into(),
            root_instance_title: title.clone(),
            title,
            software_release: software_release.into(),
            software_type: software_type.into(),
            state: Some(state),
            parameters: Parameters::new(),
            connection_parameters: Parameters::new(),
            shared_instances: Vec::new(),
        }
    }

    /// Whether a person requested it (rather than another instance).
    pub fn is_root(&self) -> bool {
        self.root_instance_title == self.title
    }
}

/// A shared instance, as its host holds it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SharedSnapshot {
    /// Its title as the master stores it (`_<title>` on a slapproxy for a
    /// shared instance a person requested).
    pub title: String,
    /// Its reference as the master stores it.
    pub reference: String,
    /// Its software type.
    pub software_type: String,
    /// Its parameters.
    pub parameters: Parameters,
    /// The connection parameters its host published for it, read with the
    /// JSON-RPC call `slapos.get.v0.software_instance` (read-only on a
    /// slapproxy); `None` when they could not be read: a master without the
    /// JSON-RPC API (slapos.core before 1.23), a shared instance the call
    /// does not find, or a record written before bouture collected them.
    #[serde(default)]
    pub connection_parameters: Option<Parameters>,
}

impl SharedSnapshot {
    /// A shared instance a person requested on a slapproxy as `title`
    /// (stored as `_<title>`).
    pub fn new(title: &str, software_type: impl Into<String>, parameters: Parameters) -> Self {
        Self {
            title: format!("_{title}"),
            reference: format!("_{title}"),
            software_type: software_type.into(),
            parameters,
            connection_parameters: None,
        }
    }

    /// This shared instance, with the connection parameters its host
    /// published for it.
    #[must_use]
    pub fn with_connection_parameters(mut self, connection_parameters: Parameters) -> Self {
        self.connection_parameters = Some(connection_parameters);
        self
    }

    /// The JSON-RPC instance guid a slapproxy gives it: its reference is
    /// `<requested_by>_<title>` (split at the first `_`, as the proxy does),
    /// its guid `<title>___<requested_by>___1`.
    pub fn proxy_instance_guid(&self) -> String {
        let (requested_by, title) = self
            .reference
            .split_once('_')
            .unwrap_or(("", self.reference.as_str()));
        format!("{title}___{requested_by}___1")
    }

    /// The title a person requested it with: a slapproxy stores a person's
    /// shared instance `T` with title and reference `_T`; one leading `_` is
    /// dropped in that case (the rule `bouture graft` applies to
    /// `bouture.json`).
    pub fn requested_title(&self) -> &str {
        match self.title.strip_prefix('_') {
            Some(plain) if self.title == self.reference => plain,
            _ => &self.title,
        }
    }
}

impl MasterSnapshot {
    /// A snapshot of these instances, taken now.
    pub fn new(
        master_url: impl Into<String>,
        computer_id: impl Into<String>,
        instances: Vec<InstanceSnapshot>,
    ) -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            master_url: master_url.into(),
            computer_id: computer_id.into(),
            taken_at_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs()),
            instances,
        }
    }

    /// Build a snapshot from what `getFullComputerInformation` answered.
    pub fn from_computer(master_url: &str, computer: &ComputerInformation) -> Self {
        Self::new(
            master_url,
            computer.computer_id.clone(),
            computer.partitions.iter().filter_map(instance_of).collect(),
        )
    }

    /// Read what the master at `client` holds for `computer_id`.
    ///
    /// # Errors
    ///
    /// [`Error::Master`] when the master cannot be reached, answers
    /// with an error (an unknown computer is a 500 on a slapproxy) or with
    /// something that cannot be decoded.
    ///
    /// The connection parameters of shared instances are not in
    /// `getFullComputerInformation`; they are read one shared instance at a
    /// time with the read-only JSON-RPC call `slapos.get.v0.software_instance`
    /// (see [`SharedSnapshot::connection_parameters`]). A master without that
    /// API (404) or that does not find a shared instance (403) leaves them
    /// `None`.
    pub fn read(client: &MasterClient, computer_id: &str) -> Result<Self, Error> {
        let master_error = |source| Error::Master {
            url: client.url().to_string(),
            computer_id: computer_id.to_string(),
            source: Box::new(source),
        };
        let computer = client
            .full_computer_information(computer_id)
            .map_err(master_error)?;
        let mut snapshot = Self::from_computer(client.url(), &computer);
        'instances: for instance in &mut snapshot.instances {
            for shared in &mut instance.shared_instances {
                match client
                    .json_rpc()
                    .software_instance(&shared.proxy_instance_guid())
                {
                    Ok(record) if record.shared => {
                        shared.connection_parameters = Some(record.connection_parameters);
                    }
                    Ok(_) => {}
                    // No JSON-RPC API: no shared instance's can be read.
                    Err(error) if error.is_not_found() => break 'instances,
                    Err(error) if error.status() == Some(403) => {}
                    Err(error) => return Err(master_error(error)),
                }
            }
        }
        Ok(snapshot)
    }

    /// The instance with that title in that instance tree.
    pub fn instance(&self, title: &str, root_instance_title: &str) -> Option<&InstanceSnapshot> {
        self.instances
            .iter()
            .find(|i| i.title == title && i.root_instance_title == root_instance_title)
    }
}

fn instance_of(partition: &PartitionInformation) -> Option<InstanceSnapshot> {
    let instance = partition.instance.as_ref()?;
    Some(InstanceSnapshot {
        partition: partition.partition_id.clone(),
        title: instance.title.clone(),
        root_instance_title: instance.root_instance_title.clone(),
        software_release: instance.software_release_url.clone(),
        software_type: instance.software_type.clone(),
        state: partition.requested_state,
        parameters: instance.parameters.clone(),
        connection_parameters: instance.connection_parameters.clone(),
        shared_instances: instance
            .shared_instances
            .iter()
            .map(|shared| SharedSnapshot {
                title: shared.title.clone(),
                reference: shared.reference.clone(),
                software_type: shared.software_type.clone(),
                parameters: shared.parameters.clone(),
                connection_parameters: None,
            })
            .collect(),
    })
}

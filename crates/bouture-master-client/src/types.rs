//! Typed requests and results of the legacy SLAP API.
//!
//! Requests ([`ComputerRegistration`], [`InstanceRequest`], [`SharedInstanceRequest`]) are plain
//! structs with public fields and a `new` constructor for the required ones. Results
//! ([`RequestedInstance`], [`ComputerInformation`], [`PartitionInformation`]) are what the master
//! answered, decoded from the marshalled Python objects.
//!
//! Instance parameters are a [`Parameters`] map (ordered, JSON-typed values). They travel as
//! `xml_marshaller` values: string → `<string>`, integer → `<int>`, other number → `<float>`, bool
//! → `<bool>`, null → `<none/>`, array → `<list>`, object → `<dictionary>`. Beware that the proxy
//! stores parameters with `dict2xml` and gives **every value back as a string** (Python `str()`
//! of it): the SlapOS convention is a single key `"_"` holding a JSON string.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::marshal::Value;

/// Instance parameters: an ordered map of JSON-typed values (see the module docs for the
/// mapping onto the marshaller's types).
pub type Parameters = serde_json::Map<String, serde_json::Value>;

/// The state an instance is requested in (`started`, `stopped`, `destroyed`):
/// the node model's type, so that a `bouture.json` state goes on the wire as is.
pub use bouture_core::{InstanceState, PartitionAddress};

/// The state a software release is supplied in (`supplySupply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupplyState {
    /// `available`: install it.
    Available,
    /// `destroyed`: remove it.
    Destroyed,
}

impl SupplyState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SupplyState::Available => "available",
            SupplyState::Destroyed => "destroyed",
        }
    }
}

/// One partition of a [`ComputerRegistration`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRegistration {
    /// Partition id, e.g. `slappart3`.
    pub reference: String,
    /// Its addresses, in order.
    pub addresses: Vec<PartitionAddress>,
    /// Its tap interface name (`slaptap3`); empty = the proxy records the partition id as the
    /// interface of its addresses.
    pub tap_name: String,
}

impl PartitionRegistration {
    /// A partition with no address and no tap.
    pub fn new(reference: impl Into<String>) -> Self {
        PartitionRegistration {
            reference: reference.into(),
            addresses: Vec::new(),
            tap_name: String::new(),
        }
    }

    /// The `partition_list` entry `loadComputerConfigurationFromXML` takes.
    pub fn to_marshal(&self) -> Value {
        let addresses = self
            .addresses
            .iter()
            .map(|a| {
                Value::dict([
                    ("addr", Value::String(a.addr.to_string())),
                    ("netmask", Value::String(a.netmask.to_string())),
                ])
            })
            .collect();
        Value::dict([
            ("address_list", Value::List(addresses)),
            ("reference", Value::String(self.reference.clone())),
            (
                "tap",
                Value::dict([("name", Value::String(self.tap_name.clone()))]),
            ),
        ])
    }
}

/// A computer and its partitions, for `loadComputerConfigurationFromXML`.
///
/// Registering **replaces** the computer: partitions missing from the list are deleted (busy ones
/// too, with the shared instances they host) and every address is re-inserted; partitions that
/// already exist keep their state and instance. An empty `partitions` list wipes the computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputerRegistration {
    /// Computer id, e.g. `COMP-1234`.
    pub reference: String,
    /// Address of the computer (`None` is sent as `<none/>`).
    pub address: Option<IpAddr>,
    /// Netmask of the computer.
    pub netmask: Option<String>,
    /// Its partitions, in the order the proxy will allocate them.
    pub partitions: Vec<PartitionRegistration>,
}

impl ComputerRegistration {
    /// A computer with no address and no partition (registering it wipes the computer).
    pub fn new(reference: impl Into<String>) -> Self {
        ComputerRegistration {
            reference: reference.into(),
            address: None,
            netmask: None,
            partitions: Vec::new(),
        }
    }

    /// The marshalled dictionary `loadComputerConfigurationFromXML` takes.
    pub fn to_marshal(&self) -> Value {
        Value::dict([
            ("address", Value::from(self.address.map(|a| a.to_string()))),
            ("netmask", Value::from(self.netmask.clone())),
            (
                "partition_list",
                Value::List(
                    self.partitions
                        .iter()
                        .map(PartitionRegistration::to_marshal)
                        .collect(),
                ),
            ),
            ("reference", Value::String(self.reference.clone())),
        ])
    }
}

/// A normal (non-shared) instance request (`requestComputerPartition`).
///
/// The proxy puts a **new** instance in the first free partition of `computer_guid`; an instance
/// whose title already exists anywhere in the master is updated in place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceRequest {
    /// Software release URL.
    pub software_release: String,
    /// Software type (empty = `default` in the proxy).
    pub software_type: String,
    /// Instance title (`partition_reference`).
    pub title: String,
    /// Instance parameters.
    pub parameters: Parameters,
    /// Requested state; `None` keeps the stored state of an existing instance.
    pub state: Option<InstanceState>,
    /// The computer to allocate on; always sent in `filter_xml`.
    pub computer_guid: String,
}

impl InstanceRequest {
    /// A `started` instance with no parameters.
    pub fn new(
        computer_guid: impl Into<String>,
        software_release: impl Into<String>,
        software_type: impl Into<String>,
        title: impl Into<String>,
    ) -> Self {
        InstanceRequest {
            software_release: software_release.into(),
            software_type: software_type.into(),
            title: title.into(),
            parameters: Parameters::new(),
            state: Some(InstanceState::Started),
            computer_guid: computer_guid.into(),
        }
    }
}

/// A shared ("slave") instance request, hosted by an existing instance.
///
/// The host is the first partition of `computer_guid` with the same software release (and the
/// same software type when it is not empty), restricted to `host_partition` when it is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedInstanceRequest {
    /// Software release URL (must equal the host's).
    pub software_release: String,
    /// Software type (must equal the host's when not empty).
    pub software_type: String,
    /// Shared instance title.
    pub title: String,
    /// Its parameters.
    pub parameters: Parameters,
    /// Requested state: `Some(Destroyed)` removes it, anything else is ignored by the proxy.
    pub state: Option<InstanceState>,
    /// The computer of the host; always sent in `filter_xml`.
    pub computer_guid: String,
    /// The host partition's `instance_guid` filter (`COMP-1-slappart3` or `slappart3`).
    pub host_instance_guid: Option<String>,
}

impl SharedInstanceRequest {
    /// A shared instance with no parameters and no state, on any matching host.
    pub fn new(
        computer_guid: impl Into<String>,
        software_release: impl Into<String>,
        software_type: impl Into<String>,
        title: impl Into<String>,
    ) -> Self {
        SharedInstanceRequest {
            software_release: software_release.into(),
            software_type: software_type.into(),
            title: title.into(),
            parameters: Parameters::new(),
            state: None,
            computer_guid: computer_guid.into(),
            host_instance_guid: None,
        }
    }
}

/// One `(interface, address)` entry of an `ip_list`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InterfaceAddress {
    /// Interface name (the tap name, or the partition id).
    pub interface: String,
    /// The address.
    pub address: IpAddr,
}

/// What `requestComputerPartition` answered (a marshalled `SoftwareInstance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RequestedInstance {
    /// The computer of the partition (`slap_computer_id`).
    pub computer_id: String,
    /// The partition that holds (or, for a shared instance, hosts) the instance: check it.
    pub partition_id: String,
    /// `_instance_guid` (`COMP-1-slappart3`); `None` for a shared instance.
    pub instance_guid: Option<String>,
    /// `_requested_state`; `None` for a shared instance.
    pub requested_state: Option<InstanceState>,
    /// Software release URL.
    pub software_release_url: String,
    /// Software type.
    pub software_type: String,
    /// Instance parameters as stored (strings), without `timestamp`.
    pub parameters: Parameters,
    /// The instance's `timestamp` parameter, if any.
    pub timestamp: Option<String>,
    /// Connection parameters published by the instance.
    pub connection_parameters: Parameters,
    /// Addresses of the partition.
    pub ip_list: Vec<InterfaceAddress>,
}

/// A shared instance hosted by a partition, as the master reports it (a
/// `slave_instance_list` entry; named after it so as not to be confused with
/// `bouture_core::SharedInstance`, a `shared-list` entry of `bouture.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SlaveInstance {
    /// `slave_reference` (`_<title>` for a user request on a proxy).
    pub reference: String,
    /// `slave_title` (`_<title>` on a proxy, the plain title on a real master).
    pub title: String,
    /// `slap_software_type`.
    pub software_type: String,
    /// Its parameters, with their types.
    pub parameters: Parameters,
}

/// The instance a busy partition holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartitionInstance {
    /// `instance_title`.
    pub title: String,
    /// `root_instance_title`.
    pub root_instance_title: String,
    /// Software release URL.
    pub software_release_url: String,
    /// Software type.
    pub software_type: String,
    /// Instance parameters as stored (strings), without the `slap_*`, `ip_list`,
    /// `instance_title`, … entries the master adds.
    pub parameters: Parameters,
    /// Connection parameters published by the instance.
    pub connection_parameters: Parameters,
    /// Addresses of the partition.
    pub ip_list: Vec<InterfaceAddress>,
    /// Shared instances it hosts.
    pub shared_instances: Vec<SlaveInstance>,
    /// The master's timestamp of the instance.
    pub timestamp: Option<String>,
}

/// One partition of `getFullComputerInformation` / `registerComputerPartition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartitionInformation {
    /// Computer id.
    pub computer_id: String,
    /// Partition id.
    pub partition_id: String,
    /// `_instance_guid` (`COMP-1-slappart3`).
    pub instance_guid: Option<String>,
    /// `_requested_state` (`destroyed` for a free partition).
    pub requested_state: Option<InstanceState>,
    /// `_need_modification`.
    pub need_modification: bool,
    /// The instance, `None` for a free partition.
    pub instance: Option<PartitionInstance>,
}

impl PartitionInformation {
    /// Whether the partition holds no instance.
    pub fn is_free(&self) -> bool {
        self.instance.is_none()
    }
}

/// A software release supplied to a computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SoftwareReleaseInformation {
    /// Software release URL.
    pub url: String,
    /// `_requested_state` (`available`, `destroyed`), if sent.
    pub requested_state: Option<String>,
}

/// What `getFullComputerInformation` answered (a marshalled `Computer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ComputerInformation {
    /// Computer id.
    pub computer_id: String,
    /// Its partitions, in the master's order.
    pub partitions: Vec<PartitionInformation>,
    /// Software releases supplied to it.
    pub software_releases: Vec<SoftwareReleaseInformation>,
}

impl ComputerInformation {
    /// The partition with that id.
    pub fn partition(&self, partition_id: &str) -> Option<&PartitionInformation> {
        self.partitions
            .iter()
            .find(|p| p.partition_id == partition_id)
    }
}

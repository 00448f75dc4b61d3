//! The JSON-RPC v0 API of the proxy (`POST /slapos.<verb>.v0.<name>`, `application/json`).
//!
//! Used to read the master's state back (and for the writes that exist there). Reach it with
//! [`MasterClient::json_rpc`]:
//!
//! ```no_run
//! use bouture_master_client::MasterClient;
//!
//! let client = MasterClient::new("http://127.0.0.1:8080")?;
//! for instance in client.json_rpc().compute_node_instance_list("COMP-1")? {
//!     println!("{} in {}", instance.title, instance.compute_partition_id);
//! }
//! # Ok::<(), bouture_master_client::Error>(())
//! ```
//!
//! The proxy validates each body against a JSON schema (HTTP 400 with the violation) and answers
//! errors as `{"status": 403, "type": "Forbidden", "title": "…"}`; the `title` becomes the
//! message of [`crate::Error::Status`]. Prefer the legacy call where one exists for the job: only
//! `loadComputerConfigurationFromXML` can set the computer's address and netmask.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Body, MasterClient};
use crate::error::Result;
use crate::types::{InstanceState, Parameters, SupplyState};

/// The JSON-RPC view of a [`MasterClient`] (shares its agent and request counter).
#[derive(Debug, Clone, Copy)]
pub struct JsonRpc<'a> {
    client: &'a MasterClient,
}

impl MasterClient {
    /// The JSON-RPC v0 API of this master.
    pub fn json_rpc(&self) -> JsonRpc<'_> {
        JsonRpc { client: self }
    }
}

/// A busy partition of a computer (`compute_node_instance_list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ComputeNodeInstance {
    /// Instance title.
    pub title: String,
    /// The proxy's instance guid, `"<title>___<requested_by>___<0|1>"`.
    pub instance_guid: String,
    /// Requested state.
    pub state: InstanceState,
    /// Partition id.
    pub compute_partition_id: String,
    /// Software release URL.
    pub software_release_uri: String,
}

/// A shared instance hosted by an instance (`instance_node_instance_list`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostedInstance {
    /// Shared instance title.
    pub title: String,
    /// Its instance guid (`"<title>______1"` for a user request).
    pub instance_guid: String,
    /// Software type.
    pub software_type: String,
    /// State.
    pub state: InstanceState,
    /// Its parameters.
    #[serde(default)]
    pub parameters: Parameters,
    /// The host partition.
    pub compute_partition_id: String,
}

/// A software instance in full (`software_instance`, `compute_partition`, and the answer of a
/// JSON-RPC request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SoftwareInstanceRecord {
    /// Instance title.
    pub title: String,
    /// Instance guid.
    pub instance_guid: String,
    /// Software release URL.
    pub software_release_uri: String,
    /// Software type.
    pub software_type: String,
    /// Requested state.
    pub state: InstanceState,
    /// Connection parameters.
    #[serde(default)]
    pub connection_parameters: Parameters,
    /// Instance parameters.
    #[serde(default)]
    pub parameters: Parameters,
    /// Whether it is a shared instance.
    #[serde(default)]
    pub shared: bool,
    /// Title of the root of its tree.
    #[serde(default)]
    pub root_instance_title: String,
    /// `(interface, address)` pairs of its partition.
    #[serde(default)]
    pub ip_list: Vec<(String, String)>,
    /// `full_ip_list` (empty on a proxy).
    #[serde(default)]
    pub full_ip_list: Vec<serde_json::Value>,
    /// SLA parameters.
    #[serde(default)]
    pub sla_parameters: Parameters,
    /// Computer.
    pub computer_guid: String,
    /// Partition.
    pub compute_partition_id: String,
    /// Processing timestamp (integer seconds).
    #[serde(default)]
    pub processing_timestamp: serde_json::Value,
    /// Access status message.
    #[serde(default)]
    pub access_status_message: String,
}

/// A software installation of a computer (`compute_node_software_installation_list`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SoftwareInstallation {
    /// Software release URL.
    pub software_release_uri: String,
    /// `available` or `destroyed`.
    pub state: String,
}

/// One IP address of a partition for [`JsonRpc::compute_node_format`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatIp {
    /// The address.
    #[serde(rename = "ip-address")]
    pub ip_address: String,
    /// Its netmask.
    pub netmask: String,
    /// Interface name (tap).
    #[serde(rename = "network-interface")]
    pub network_interface: String,
}

/// One partition for [`JsonRpc::compute_node_format`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatPartition {
    /// Partition id.
    pub partition_id: String,
    /// Its addresses.
    pub ip_list: Vec<FormatIp>,
}

/// A request for [`JsonRpc::request_software_instance`] (`slapos.post.v0.software_instance`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftwareInstancePost {
    /// Instance title.
    pub title: String,
    /// Software release URL.
    pub software_release_uri: String,
    /// Software type.
    pub software_type: String,
    /// Parameters.
    pub parameters: Parameters,
    /// Requested state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
    /// Shared instance?
    pub shared: bool,
    /// SLA (`computer_guid`, `instance_guid`), string values only.
    pub sla_parameters: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct ResultList<T> {
    result_list: Vec<T>,
}

#[derive(Deserialize)]
struct Title {
    title: String,
}

impl JsonRpc<'_> {
    /// Call `route` (e.g. `slapos.get.v0.software_instance`) with a JSON body and decode the
    /// answer.
    ///
    /// # Errors
    ///
    /// As the legacy calls: unreachable, error status (with the JSON `title`), or an answer
    /// that does not decode as `T`.
    pub fn call<T: DeserializeOwned>(
        &self,
        route: &str,
        context: &str,
        body: &serde_json::Value,
    ) -> Result<T> {
        let text = self.client.send_ok(route, context, &Body::Json(body))?;
        serde_json::from_str(&text).map_err(|e| {
            self.client
                .protocol_error(route, context, format!("unexpected JSON ({e}): {text}"))
        })
    }

    /// `slapos.allDocs.v0.compute_node_instance_list`: the busy partitions of a computer.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Status`] 403 for an unknown computer; see [`Self::call`].
    pub fn compute_node_instance_list(
        &self,
        computer_guid: &str,
    ) -> Result<Vec<ComputeNodeInstance>> {
        let list: ResultList<ComputeNodeInstance> = self.call(
            "slapos.allDocs.v0.compute_node_instance_list",
            &format!("computer {computer_guid}"),
            &json!({ "computer_guid": computer_guid }),
        )?;
        Ok(list.result_list)
    }

    /// `slapos.allDocs.v0.instance_node_instance_list`: the shared instances hosted by an
    /// instance (`instance_guid` as in [`ComputeNodeInstance::instance_guid`]).
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn instance_node_instance_list(&self, instance_guid: &str) -> Result<Vec<HostedInstance>> {
        let list: ResultList<HostedInstance> = self.call(
            "slapos.allDocs.v0.instance_node_instance_list",
            &format!("instance {instance_guid}"),
            &json!({ "instance_guid": instance_guid }),
        )?;
        Ok(list.result_list)
    }

    /// `slapos.get.v0.software_instance`: one instance in full.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Status`] 403 for an unknown instance; see [`Self::call`].
    pub fn software_instance(&self, instance_guid: &str) -> Result<SoftwareInstanceRecord> {
        self.call(
            "slapos.get.v0.software_instance",
            &format!("instance {instance_guid}"),
            &json!({ "instance_guid": instance_guid }),
        )
    }

    /// `slapos.get.v0.compute_partition`: the instance of a partition.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Status`] 403 when the partition holds no instance; see [`Self::call`].
    pub fn compute_partition(
        &self,
        computer_guid: &str,
        partition_id: &str,
    ) -> Result<SoftwareInstanceRecord> {
        self.call(
            "slapos.get.v0.compute_partition",
            &format!("computer {computer_guid}, partition {partition_id}"),
            &json!({ "computer_guid": computer_guid, "compute_partition_id": partition_id }),
        )
    }

    /// `slapos.allDocs.v0.compute_node_software_installation_list`.
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn compute_node_software_installation_list(
        &self,
        computer_guid: &str,
    ) -> Result<Vec<SoftwareInstallation>> {
        let list: ResultList<SoftwareInstallation> = self.call(
            "slapos.allDocs.v0.compute_node_software_installation_list",
            &format!("computer {computer_guid}"),
            &json!({ "computer_guid": computer_guid }),
        )?;
        Ok(list.result_list)
    }

    /// `slapos.allDocs.v0.instance_tree_list`: titles of all root instances (on every
    /// computer), e.g. to detect title clashes before a graft.
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn instance_tree_list(&self) -> Result<Vec<String>> {
        let list: ResultList<Title> =
            self.call("slapos.allDocs.v0.instance_tree_list", "", &json!({}))?;
        Ok(list.result_list.into_iter().map(|t| t.title).collect())
    }

    /// `slapos.put.v0.compute_node_format`: register a computer's partitions (same wipe/insert
    /// logic as the legacy call, but the computer's address and netmask become NULL: prefer
    /// [`MasterClient::load_computer_configuration`]).
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn compute_node_format(
        &self,
        computer_guid: &str,
        partitions: &[FormatPartition],
    ) -> Result<()> {
        self.success(
            "slapos.put.v0.compute_node_format",
            &format!("computer {computer_guid}"),
            &json!({ "computer_guid": computer_guid, "compute_partition_list": partitions }),
        )
    }

    /// `slapos.post.v0.software_installation`: supply a software release.
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn software_installation(
        &self,
        computer_guid: &str,
        software_release: &str,
        state: SupplyState,
    ) -> Result<()> {
        self.success(
            "slapos.post.v0.software_installation",
            &format!("computer {computer_guid}, software release {software_release}"),
            &json!({
                "computer_guid": computer_guid,
                "software_release_uri": software_release,
                "state": state.as_str(),
            }),
        )
    }

    /// `slapos.post.v0.software_instance`: request an instance (same allocation logic as the
    /// legacy request; no free partition → HTTP 403).
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn request_software_instance(
        &self,
        request: &SoftwareInstancePost,
    ) -> Result<SoftwareInstanceRecord> {
        let body = serde_json::to_value(request).map_err(|e| crate::Error::Input {
            endpoint: "slapos.post.v0.software_instance".to_owned(),
            context: format!("instance {:?}", request.title),
            detail: e.to_string(),
            source: Some(Box::new(e)),
        })?;
        self.call(
            "slapos.post.v0.software_instance",
            &format!("instance {:?}", request.title),
            &body,
        )
    }

    /// `slapos.put.v0.software_instance_bang` (refused with 403 for a shared instance).
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn software_instance_bang(&self, instance_guid: &str, message: &str) -> Result<()> {
        self.success(
            "slapos.put.v0.software_instance_bang",
            &format!("instance {instance_guid}"),
            &json!({ "instance_guid": instance_guid, "message": message }),
        )
    }

    /// `slapos.put.v0.software_instance_connection_parameter`: publish connection parameters
    /// for an instance (as the instance itself would).
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn software_instance_connection_parameter(
        &self,
        instance_guid: &str,
        connection_parameters: &Parameters,
    ) -> Result<()> {
        self.success(
            "slapos.put.v0.software_instance_connection_parameter",
            &format!("instance {instance_guid}"),
            &json!({
                "instance_guid": instance_guid,
                "connection_parameter_dict": connection_parameters,
            }),
        )
    }

    /// `slapos.put.v0.software_instance_reported_state`: report an instance's state (as the
    /// node would); `destroyed` frees its partition.
    ///
    /// # Errors
    ///
    /// See [`Self::call`].
    pub fn software_instance_reported_state(
        &self,
        instance_guid: &str,
        reported_state: InstanceState,
    ) -> Result<()> {
        self.success(
            "slapos.put.v0.software_instance_reported_state",
            &format!("instance {instance_guid}"),
            &json!({ "instance_guid": instance_guid, "reported_state": reported_state.as_str() }),
        )
    }

    fn success(self, route: &str, context: &str, body: &serde_json::Value) -> Result<()> {
        let answer: serde_json::Value = self.call(route, context, body)?;
        match answer.get("type").and_then(serde_json::Value::as_str) {
            Some("success") => Ok(()),
            _ => Err(self.client.protocol_error(
                route,
                context,
                format!("expected {{\"type\": \"success\", …}}, got {answer}"),
            )),
        }
    }
}

//! The legacy SLAP endpoints bouture needs (what slapgrid and `slapos node instance` speak).
//!
//! Bodies are form-encoded; structured fields are `xml_marshaller` documents
//! ([`crate::marshal`]). All methods are on [`MasterClient`].

use crate::client::{Body, MasterClient};
use crate::error::{Error, Result};
use crate::marshal::{self, Value};
use crate::params::parameters_to_marshal;
use crate::parse;
use crate::types::{
    ComputerInformation, ComputerRegistration, InstanceRequest, InstanceState,
    PartitionInformation, RequestedInstance, SharedInstanceRequest, SupplyState,
};

/// Most bytes read of an answer that is a short text (`done`, `OK`, `Supplied …`, a run id).
pub(crate) const SHORT_ANSWER: u64 = 64 * 1024;

/// Longest run id accepted (the proxy's are 32 characters).
pub const MAX_RUN_ID: usize = 128;

impl MasterClient {
    /// `GET /getRunId`: the master's run id (a health check).
    ///
    /// A run id is what the proxy answers: 1 to [`MAX_RUN_ID`] ASCII letters, digits, `-` or
    /// `_` (the proxy's are 32 letters and digits); anything else is refused.
    ///
    /// # Errors
    ///
    /// [`Error::Unreachable`] when nothing answers, [`Error::Status`] on an error status,
    /// [`Error::Protocol`] when the answer is not a run id.
    pub fn run_id(&self) -> Result<String> {
        let endpoint = "getRunId";
        let cap = u64::try_from(MAX_RUN_ID).unwrap_or(u64::MAX) + 2;
        let body = self.send_ok_capped(endpoint, "", &Body::Query(&[]), cap)?;
        let id = body.trim();
        if id.is_empty()
            || id.len() > MAX_RUN_ID
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(self.protocol_error(
                endpoint,
                "",
                format!(
                    "expected a run id (up to {MAX_RUN_ID} letters and digits), got {:?}",
                    bouture_text::truncate(&body, 200)
                ),
            ));
        }
        Ok(id.to_owned())
    }

    /// `POST /loadComputerConfigurationFromXML`: register (replace) a computer and its
    /// partitions, with the computer's address and netmask and each partition's addresses and
    /// tap name. An empty partition list wipes the computer.
    ///
    /// # Errors
    ///
    /// As [`Self::run_id`]; [`Error::Input`] when a string cannot be marshalled.
    pub fn load_computer_configuration(&self, computer: &ComputerRegistration) -> Result<()> {
        let endpoint = "loadComputerConfigurationFromXML";
        let context = format!(
            "computer {}, {} partitions",
            computer.reference,
            computer.partitions.len()
        );
        let xml = encode(endpoint, &context, &computer.to_marshal())?;
        let body = self.send_ok_capped(
            endpoint,
            &context,
            &Body::Form(&[("xml", &xml)]),
            SHORT_ANSWER,
        )?;
        self.expect_text(endpoint, &context, &body, "done")
    }

    /// `POST /supplySupply`: ask the computer to install (or remove) a software release.
    ///
    /// The answer must be the proxy's, `Supplied '<url>' to be <state>` (Python's `%r` of the
    /// URL): an HTML page or an empty body is not taken as success. Read the supply back with
    /// [`Self::full_computer_information`] (its software releases) where it matters.
    ///
    /// # Errors
    ///
    /// As [`Self::run_id`]; [`Error::Protocol`] for any other answer.
    pub fn supply(
        &self,
        computer_id: &str,
        software_release: &str,
        state: SupplyState,
    ) -> Result<()> {
        let endpoint = "supplySupply";
        let context = format!("computer {computer_id}, software release {software_release}");
        let body = self.send_ok_capped(
            endpoint,
            &context,
            &Body::Form(&[
                ("url", software_release),
                ("computer_id", computer_id),
                ("state", state.as_str()),
            ]),
            SHORT_ANSWER,
        )?;
        if is_supply_answer(body.trim(), software_release, state.as_str()) {
            Ok(())
        } else {
            Err(self.protocol_error(
                endpoint,
                &context,
                format!(
                    "expected \"Supplied '{software_release}' to be {}\", got {:?}",
                    state.as_str(),
                    bouture_text::truncate(&body, 200)
                ),
            ))
        }
    }

    /// `POST /requestComputerPartition` for a normal instance. Always sends
    /// `partition_parameter_xml`, `filter_xml` (with `computer_guid`), `state` and `shared_xml`.
    ///
    /// Check [`RequestedInstance::partition_id`]: a new instance lands in the *first free*
    /// partition of the computer.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] 404 when the computer has no free partition (see
    /// [`Error::is_not_found`]); otherwise as [`Self::run_id`].
    pub fn request_instance(&self, request: &InstanceRequest) -> Result<RequestedInstance> {
        let context = format!(
            "instance {:?} on computer {}",
            request.title, request.computer_guid
        );
        let filter = Value::dict([("computer_guid", Value::from(request.computer_guid.as_str()))]);
        self.request_partition(
            &context,
            &RequestFields {
                software_release: &request.software_release,
                software_type: &request.software_type,
                title: &request.title,
                parameters: parameters_to_marshal(&request.parameters),
                filter,
                state: request.state,
                shared: false,
            },
        )
    }

    /// `POST /requestComputerPartition` for a shared instance, hosted by the partition
    /// `host_instance_guid` when it is set. Always sends `computer_guid` in `filter_xml`.
    ///
    /// # Errors
    ///
    /// [`Error::Status`] 404 when no partition can host it; otherwise as [`Self::run_id`].
    pub fn request_shared_instance(
        &self,
        request: &SharedInstanceRequest,
    ) -> Result<RequestedInstance> {
        let context = format!(
            "shared instance {:?} on computer {}{}",
            request.title,
            request.computer_guid,
            request
                .host_instance_guid
                .as_deref()
                .map(|h| format!(", host {h}"))
                .unwrap_or_default()
        );
        let mut filter = vec![("computer_guid", Value::from(request.computer_guid.as_str()))];
        if let Some(host) = &request.host_instance_guid {
            filter.push(("instance_guid", Value::from(host.as_str())));
        }
        self.request_partition(
            &context,
            &RequestFields {
                software_release: &request.software_release,
                software_type: &request.software_type,
                title: &request.title,
                parameters: parameters_to_marshal(&request.parameters),
                filter: Value::dict(filter),
                state: request.state,
                shared: true,
            },
        )
    }

    fn request_partition(&self, context: &str, f: &RequestFields<'_>) -> Result<RequestedInstance> {
        let endpoint = "requestComputerPartition";
        let parameter_xml = encode(endpoint, context, &f.parameters)?;
        let filter_xml = encode(endpoint, context, &f.filter)?;
        let state_xml = encode(
            endpoint,
            context,
            &Value::from(f.state.map(InstanceState::as_str)),
        )?;
        let shared_xml = encode(endpoint, context, &Value::Bool(f.shared))?;
        self.send_parsed(
            endpoint,
            context,
            &Body::Form(&[
                ("software_release", f.software_release),
                ("partition_reference", f.title),
                ("partition_parameter_xml", &parameter_xml),
                ("filter_xml", &filter_xml),
                ("software_type", f.software_type),
                ("state", &state_xml),
                ("shared_xml", &shared_xml),
            ]),
            parse::requested_instance,
        )
    }

    /// `POST /softwareInstanceBang`: bump the timestamp of the partition's instance tree so the
    /// node reprocesses it. Sends the `X-SlapPartition` header like slapgrid.
    ///
    /// # Errors
    ///
    /// As [`Self::run_id`]. (The proxy answers `OK` even for an unknown partition.)
    pub fn bang(&self, computer_id: &str, partition_id: &str, message: &str) -> Result<()> {
        let endpoint = "softwareInstanceBang";
        let context = partition_context(computer_id, partition_id);
        let answer = self.send_with_partition_header(
            endpoint,
            &context,
            computer_id,
            partition_id,
            &[
                ("computer_id", computer_id),
                ("computer_partition_id", partition_id),
                ("message", message),
            ],
        )?;
        self.expect_text(endpoint, &context, &answer, "OK")
    }

    /// `GET /getFullComputerInformation`: the computer with all its partitions (what slapgrid
    /// processes).
    ///
    /// # Errors
    ///
    /// [`Error::Status`] 500 for a computer the proxy does not know; otherwise as
    /// [`Self::run_id`].
    pub fn full_computer_information(&self, computer_id: &str) -> Result<ComputerInformation> {
        self.send_parsed(
            "getFullComputerInformation",
            &format!("computer {computer_id}"),
            &Body::Query(&[("computer_id", computer_id)]),
            parse::computer_information,
        )
    }

    /// `GET /registerComputerPartition`: one partition, as in
    /// [`Self::full_computer_information`].
    ///
    /// # Errors
    ///
    /// [`Error::Status`] 500 for an unknown computer or partition; otherwise as
    /// [`Self::run_id`].
    pub fn register_computer_partition(
        &self,
        computer_id: &str,
        partition_id: &str,
    ) -> Result<PartitionInformation> {
        self.send_parsed(
            "registerComputerPartition",
            &partition_context(computer_id, partition_id),
            &Body::Query(&[
                ("computer_reference", computer_id),
                ("computer_partition_reference", partition_id),
            ]),
            parse::partition_information,
        )
    }

    /// Send `body` to `endpoint` (answers up to the client's `max_body`) and
    /// parse a successful answer with `parse`; an answer it refuses is an
    /// [`Error::Protocol`] naming the endpoint and `context`.
    fn send_parsed<T>(
        &self,
        endpoint: &str,
        context: &str,
        body: &Body<'_>,
        parse: fn(&str) -> std::result::Result<T, String>,
    ) -> Result<T> {
        let answer = self.send_ok(endpoint, context, body)?;
        parse(&answer).map_err(|detail| self.protocol_error(endpoint, context, detail))
    }

    fn send_with_partition_header(
        &self,
        endpoint: &str,
        context: &str,
        computer_id: &str,
        partition_id: &str,
        form: &[(&str, &str)],
    ) -> Result<String> {
        let header = format!(
            "X-SlapPartition computer_id={computer_id}, computer_partition_id={partition_id}"
        );
        self.send_ok_capped(
            endpoint,
            context,
            &Body::AuthForm(form, &header),
            SHORT_ANSWER,
        )
    }

    fn expect_text(&self, endpoint: &str, context: &str, body: &str, want: &str) -> Result<()> {
        if body.trim() == want {
            Ok(())
        } else {
            Err(self.protocol_error(
                endpoint,
                context,
                format!(
                    "expected {want:?}, got {:?}",
                    bouture_text::truncate(body, 200)
                ),
            ))
        }
    }
}

struct RequestFields<'a> {
    software_release: &'a str,
    software_type: &'a str,
    title: &'a str,
    parameters: Value,
    filter: Value,
    state: Option<InstanceState>,
    shared: bool,
}

/// The context of a request about one partition, in its errors.
fn partition_context(computer_id: &str, partition_id: &str) -> String {
    format!("computer {computer_id}, partition {partition_id}")
}

fn encode(endpoint: &str, context: &str, value: &Value) -> Result<String> {
    marshal::to_string(value).map_err(|e| Error::Input {
        endpoint: endpoint.to_owned(),
        context: context.to_owned(),
        detail: e.to_string(),
        source: Some(Box::new(e)),
    })
}

/// Whether `body` is the proxy's answer to a supply: `Supplied <Python repr of url> to be
/// <state>`. A URL without quotes, backslashes or control characters is quoted `'…'`; for
/// others only the quoting is checked.
fn is_supply_answer(body: &str, url: &str, state: &str) -> bool {
    let Some(quoted) = body
        .strip_prefix("Supplied ")
        .and_then(|rest| rest.strip_suffix(&format!(" to be {state}")))
    else {
        return false;
    };
    let plain =
        url.is_ascii() && !url.contains(['\'', '"', '\\']) && !url.chars().any(char::is_control);
    if plain {
        quoted.strip_prefix('\'').and_then(|q| q.strip_suffix('\'')) == Some(url)
    } else {
        quoted.len() >= 2
            && (quoted.starts_with('\'') && quoted.ends_with('\'')
                || quoted.starts_with('"') && quoted.ends_with('"'))
    }
}

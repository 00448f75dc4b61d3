//! Speak the SlapOS master / slapproxy API.
//!
//! `bouture` talks to a SlapOS master through this crate: a local slapproxy (the lightweight
//! master of the `slapos.core` Python package) is what a node fails over to, and later the real
//! master. It offers:
//!
//! * [`marshal`]: the `xml_marshaller` codec of the legacy SLAP API (byte-identical with
//!   Python's `slapos.util.dumps`);
//! * legacy SLAP calls on [`MasterClient`] ([`MasterClient::run_id`],
//!   [`MasterClient::load_computer_configuration`], [`MasterClient::supply`],
//!   [`MasterClient::request_instance`], [`MasterClient::request_shared_instance`],
//!   [`MasterClient::bang`], [`MasterClient::full_computer_information`],
//!   [`MasterClient::register_computer_partition`]) with typed requests and results
//!   ([`types`]);
//! * the JSON-RPC v0 API to read state back ([`MasterClient::json_rpc`], [`jsonrpc`]);
//! * one [`Error`] type whose [`Error::kind`] tells an unreachable master from an error answer
//!   and from an answer that could not be understood;
//! * timeouts on every call and client TLS ([`ClientOptions`], [`TlsOptions`]);
//! * a request counter ([`MasterClient::request_count`]).
//!
//! ```no_run
//! use std::net::IpAddr;
//! use bouture_master_client::{
//!     ComputerRegistration, InstanceRequest, MasterClient, PartitionAddress,
//!     PartitionRegistration, SupplyState,
//! };
//!
//! let client = MasterClient::new("http://127.0.0.1:8080")?;
//! let mut computer = ComputerRegistration::new("COMP-1");
//! let mut partition = PartitionRegistration::new("slappart0");
//! partition.tap_name = "slaptap0".into();
//! partition
//!     .addresses
//!     .push(PartitionAddress::new("10.0.0.10".parse::<IpAddr>().unwrap(), "255.255.255.0"));
//! computer.partitions.push(partition);
//! client.load_computer_configuration(&computer)?;
//!
//! let sr = "https://example.org/software.cfg";
//! client.supply("COMP-1", sr, SupplyState::Available)?;
//! let mut request = InstanceRequest::new("COMP-1", sr, "default", "My instance");
//! request.parameters.insert("_".into(), r#"{"a": 1}"#.into());
//! let instance = client.request_instance(&request)?;
//! assert_eq!(instance.partition_id, "slappart0");
//! client.bang("COMP-1", &instance.partition_id, "bouture")?;
//! # Ok::<(), bouture_master_client::Error>(())
//! ```

mod client;
pub mod error;
pub mod jsonrpc;
mod legacy;
pub mod marshal;
pub mod params;
pub mod parse;
mod probe;
pub mod tls;
pub mod types;

pub use client::{
    ClientOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT, ERROR_BODY_LIMIT,
    EXCERPT_CHARS, MAX_TIMEOUT, MasterClient,
};
pub use error::{Error, ErrorKind, IncompleteBody, IncompleteReason, Result, UnreachableReason};
pub use legacy::MAX_RUN_ID;
pub use tls::{CertificateProblem, CertificateRejection, TlsOptions, TrustSource};
pub use types::{
    ComputerInformation, ComputerRegistration, InstanceRequest, InstanceState, InterfaceAddress,
    Parameters, PartitionAddress, PartitionInformation, PartitionInstance, PartitionRegistration,
    RequestedInstance, SharedInstance, SharedInstanceRequest, SoftwareReleaseInformation,
    SupplyState,
};

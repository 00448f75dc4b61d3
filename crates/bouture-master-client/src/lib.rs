#![doc = include_str!("../README.md")]

mod client;
pub mod error;
pub mod jsonrpc;
mod legacy;
pub mod marshal;
pub mod params;
pub mod parse;
mod probe;
mod provider;
mod store;
pub mod tls;
pub mod trace;
pub mod types;
mod url;

pub use client::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT, ERROR_BODY_LIMIT, EXCERPT_CHARS,
    MAX_TIMEOUT, MasterClient, Options,
};
pub use error::{Error, ErrorKind, IncompleteBody, IncompleteReason, Result, UnreachableReason};
pub use legacy::MAX_RUN_ID;
pub use tls::{CertificateProblem, CertificateRejection, TlsOptions, TrustSource};
pub use trace::{RequestObserver, RequestRecord, RequestTrace};
pub use types::{
    ComputerInformation, ComputerRegistration, InstanceRequest, InstanceState, InterfaceAddress,
    Parameters, PartitionAddress, PartitionInformation, PartitionInstance, PartitionRegistration,
    RequestedInstance, SharedInstanceRequest, SlaveInstance, SoftwareReleaseInformation,
    SupplyState,
};
pub use url::{InvalidMasterUrl, check_master_url};

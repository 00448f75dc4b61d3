//! Decoding the marshalled objects of legacy responses into the typed results of [`crate::types`].
//!
//! These functions are public so that captured payloads (fixtures, logs) can be read without a
//! master; the client calls them on every response.

use std::net::IpAddr;

use crate::marshal::{self, Object, Value};
use crate::params::pairs_to_parameters;
use crate::types::{
    ComputerInformation, InstanceState, InterfaceAddress, Parameters, PartitionInformation,
    PartitionInstance, RequestedInstance, SlaveInstance, SoftwareReleaseInformation,
};

/// Keys the master adds to a partition's `_parameter_dict` next to the instance parameters.
pub const PARTITION_META_KEYS: &[&str] = &[
    "full_address_list",
    "instance_title",
    "ip_list",
    "root_instance_title",
    "slap_computer_id",
    "slap_computer_partition_id",
    "slap_software_release_url",
    "slap_software_type",
    "slave_instance_list",
    "timestamp",
];

const PARTITIONS: &str = "_computer_partition_list";
const RELEASES: &str = "_software_release_list";
const SHARED: &str = "slave_instance_list";

/// Decode a marshalled `SoftwareInstance` (the answer of `requestComputerPartition`).
///
/// # Errors
///
/// A description of what is missing or malformed.
pub fn requested_instance(xml: &str) -> Result<RequestedInstance, String> {
    let value = marshal::from_str(xml).map_err(|e| e.to_string())?;
    let obj = expect_object(&value, "SoftwareInstance")?;
    let params = obj
        .get("_parameter_dict")
        .map(|v| dict_params(v, "_parameter_dict"))
        .transpose()?
        .unwrap_or_default();
    let mut parameters = Parameters::new();
    let mut timestamp = None;
    for (k, v) in params {
        if k == "timestamp" {
            timestamp = Some(json_string(&v));
        } else {
            parameters.insert(k, v);
        }
    }
    Ok(RequestedInstance {
        computer_id: req_str(obj, "slap_computer_id")?,
        partition_id: req_str(obj, "slap_computer_partition_id")?,
        instance_guid: opt_str(obj.get("_instance_guid"), "_instance_guid")?,
        requested_state: opt_state(obj.get("_requested_state"))?,
        software_release_url: req_str(obj, "slap_software_release_url")?,
        software_type: opt_str(obj.get("slap_software_type"), "slap_software_type")?
            .unwrap_or_default(),
        parameters,
        timestamp,
        connection_parameters: obj
            .get("_connection_dict")
            .map(|v| dict_params(v, "_connection_dict"))
            .transpose()?
            .unwrap_or_default(),
        ip_list: obj
            .get("ip_list")
            .map(ip_list)
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Decode a marshalled `Computer` (the answer of `getFullComputerInformation`).
///
/// # Errors
///
/// A description of what is missing or malformed.
pub fn computer_information(xml: &str) -> Result<ComputerInformation, String> {
    let value = marshal::from_str(xml).map_err(|e| e.to_string())?;
    let obj = expect_object(&value, "Computer")?;
    let partitions = optional_list(obj.get(PARTITIONS), PARTITIONS, |v| {
        partition_object(expect_object(v, "ComputerPartition")?)
    })?;
    let software_releases = optional_list(obj.get(RELEASES), RELEASES, |v| {
        let sr = expect_object(v, "SoftwareRelease")?;
        Ok(SoftwareReleaseInformation {
            url: req_str(sr, "_software_release")?,
            requested_state: opt_str(sr.get("_requested_state"), "_requested_state")?,
        })
    })?;
    Ok(ComputerInformation {
        computer_id: req_str(obj, "_computer_id")?,
        partitions,
        software_releases,
    })
}

/// Decode a marshalled `ComputerPartition` (the answer of `registerComputerPartition`).
///
/// # Errors
///
/// A description of what is missing or malformed.
pub fn partition_information(xml: &str) -> Result<PartitionInformation, String> {
    let value = marshal::from_str(xml).map_err(|e| e.to_string())?;
    partition_object(expect_object(&value, "ComputerPartition")?)
}

/// The optional list `value` (the member `key`), each element decoded by
/// `item`; absent or `None` is an empty list.
fn optional_list<T>(
    value: Option<&Value>,
    key: &str,
    item: impl FnMut(&Value) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match value {
        None | Some(Value::None) => Ok(Vec::new()),
        Some(list) => list
            .as_seq()
            .ok_or_else(|| format!("{key} is not a list"))?
            .iter()
            .map(item)
            .collect(),
    }
}

fn partition_object(obj: &Object) -> Result<PartitionInformation, String> {
    let partition_id = req_str(obj, "_partition_id")?;
    let context = |e: String| format!("partition {partition_id}: {e}");
    let instance = match obj.get("_parameter_dict") {
        None | Some(Value::None) => None,
        Some(pd) => Some(partition_instance(obj, pd).map_err(context)?),
    };
    Ok(PartitionInformation {
        computer_id: req_str(obj, "_computer_id")?,
        instance_guid: opt_str(obj.get("_instance_guid"), "_instance_guid")?,
        requested_state: opt_state(obj.get("_requested_state")).map_err(context)?,
        need_modification: match obj.get("_need_modification") {
            Some(Value::Int(i)) => *i != 0,
            Some(Value::Bool(b)) => *b,
            _ => false,
        },
        instance,
        partition_id,
    })
}

fn partition_instance(obj: &Object, pd: &Value) -> Result<PartitionInstance, String> {
    let pairs = pd.as_dict().ok_or("_parameter_dict is not a dictionary")?;
    let mut parameters = Parameters::new();
    for (k, v) in pairs {
        if let Value::String(key) = k
            && PARTITION_META_KEYS.contains(&key.as_str())
        {
            continue;
        }
        parameters.extend(pairs_to_parameters(std::slice::from_ref(&(
            k.clone(),
            v.clone(),
        )))?);
    }
    let get = |key: &str| pd.get(key);
    let software_release_url = match get("slap_software_release_url") {
        Some(Value::String(s)) => s.clone(),
        _ => obj
            .get("_software_release_document")
            .and_then(Value::as_object)
            .and_then(|o| o.get("_software_release"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    let shared_instances = optional_list(get(SHARED), SHARED, shared_instance)?;
    Ok(PartitionInstance {
        title: opt_str(get("instance_title"), "instance_title")?.unwrap_or_default(),
        root_instance_title: opt_str(get("root_instance_title"), "root_instance_title")?
            .unwrap_or_default(),
        software_release_url,
        software_type: opt_str(get("slap_software_type"), "slap_software_type")?
            .unwrap_or_default(),
        parameters,
        connection_parameters: obj
            .get("_connection_dict")
            .map(|v| dict_params(v, "_connection_dict"))
            .transpose()?
            .unwrap_or_default(),
        ip_list: get("ip_list").map(ip_list).transpose()?.unwrap_or_default(),
        shared_instances,
        timestamp: get("timestamp").map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Float(f) => marshal::python_float_repr(*f),
            other => format!("{other:?}"),
        }),
    })
}

fn shared_instance(value: &Value) -> Result<SlaveInstance, String> {
    let pairs = value
        .as_dict()
        .ok_or("a slave_instance_list entry is not a dictionary")?;
    let mut parameters = Parameters::new();
    let mut reference = None;
    let mut title = None;
    let mut software_type = None;
    for (k, v) in pairs {
        match (k.as_str(), v) {
            (Some("slave_reference"), Value::String(s)) => reference = Some(s.clone()),
            (Some("slave_title"), Value::String(s)) => title = Some(s.clone()),
            (Some("slap_software_type"), Value::String(s)) => software_type = Some(s.clone()),
            _ => parameters.extend(pairs_to_parameters(std::slice::from_ref(&(
                k.clone(),
                v.clone(),
            )))?),
        }
    }
    let reference = reference.ok_or("a shared instance has no slave_reference")?;
    Ok(SlaveInstance {
        title: title.unwrap_or_else(|| reference.clone()),
        reference,
        software_type: software_type.unwrap_or_default(),
        parameters,
    })
}

fn ip_list(value: &Value) -> Result<Vec<InterfaceAddress>, String> {
    value
        .as_seq()
        .ok_or("ip_list is not a list")?
        .iter()
        .map(|entry| match entry.as_seq() {
            Some([Value::String(interface), Value::String(address), ..]) => {
                let address: IpAddr = address
                    .parse()
                    .map_err(|_| format!("ip_list holds {address:?}, not an IP address"))?;
                Ok(InterfaceAddress {
                    interface: interface.clone(),
                    address,
                })
            }
            _ => Err(format!(
                "an ip_list entry is {entry:?}, expected (interface, address)"
            )),
        })
        .collect()
}

fn expect_object<'a>(value: &'a Value, class: &str) -> Result<&'a Object, String> {
    match value {
        Value::Object(o) if o.class == class => Ok(o),
        Value::Object(o) => Err(format!("a {} object, expected a {class}", o.class)),
        other => Err(format!(
            "a {}, expected a {class} object",
            other.type_name()
        )),
    }
}

fn req_str(obj: &Object, key: &str) -> Result<String, String> {
    opt_str(obj.get(key), key)?.ok_or_else(|| format!("{} has no {key}", obj.class))
}

fn opt_str(value: Option<&Value>, key: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::None) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!(
            "{key} is a {}, expected a string",
            other.type_name()
        )),
    }
}

fn opt_state(value: Option<&Value>) -> Result<Option<InstanceState>, String> {
    opt_str(value, "_requested_state")?
        .map(|s| {
            s.parse()
                .map_err(|error: bouture_core::InvalidInstanceState| error.to_string())
        })
        .transpose()
}

fn dict_params(value: &Value, key: &str) -> Result<Parameters, String> {
    match value {
        Value::None => Ok(Parameters::new()),
        Value::Dict(pairs) => pairs_to_parameters(pairs),
        other => Err(format!(
            "{key} is a {}, expected a dictionary",
            other.type_name()
        )),
    }
}

fn json_string(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

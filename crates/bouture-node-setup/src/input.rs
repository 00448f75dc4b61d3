//! The JSON document the master sends: parsed strictly against Ganeti's
//! declared schema (which Ganeti itself never applies).

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::Error;

/// A value that must never be shown: [`fmt::Debug`] prints its length only.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for writing it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// The input of `node-setup`, as Ganeti's master builds it
/// (`bootstrap.SetupNodeDaemon`).
///
/// Build it from the JSON text with [`SetupInput::from_json`], which refuses
/// anything the declared schema does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupInput {
    /// `cluster_name`: the cluster the node joins.
    pub cluster_name: String,
    /// `node_daemon_certificate`: the cluster's private key and certificate
    /// (PEM, the master's `server.pem`).
    pub node_daemon_certificate: Secret,
    /// `hmac_key`: the cluster's HMAC key (`hmac.key`).
    pub hmac_key: Secret,
    /// `ssconf`: ssconf name to value, in the order given.
    pub ssconf: Vec<(String, String)>,
    /// `start_node_daemon`: restart the node daemons once the files are
    /// written (absent means `false`).
    pub start_node_daemon: bool,
    /// `node_name`: the common name of the node's new client certificate.
    pub node_name: String,
}

/// The top-level keys of the input, as Ganeti names them.
pub const INPUT_KEYS: [&str; 6] = [
    "cluster_name",
    "node_daemon_certificate",
    "hmac_key",
    "ssconf",
    "start_node_daemon",
    "node_name",
];

/// The most read from the input: every ssconf value at its largest, the
/// certificate and the key, with room for JSON escapes.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

impl SetupInput {
    /// Read the JSON document from a stream (standard input), at most
    /// [`MAX_INPUT_BYTES`], and parse it with [`SetupInput::from_json`].
    ///
    /// # Errors
    ///
    /// [`Error::ReadInput`] if the stream fails or is too long, otherwise as
    /// [`SetupInput::from_json`].
    pub fn read(reader: impl Read) -> Result<Self, Error> {
        let bytes = bouture_fs::read_to_limit(reader, MAX_INPUT_BYTES, Path::new("standard input"))
            .map_err(|source| Error::ReadInput { source })?;
        Self::from_json(&bytes)
    }

    /// Parse the JSON document.
    ///
    /// Refused, with a message naming the key: text that is not JSON, a
    /// document that is not an object, a duplicate key (at any depth), an
    /// unknown key, a value of the wrong type, a missing or empty
    /// `cluster_name`, `node_daemon_certificate`, `hmac_key`, `ssconf` or
    /// `node_name`. Secrets are never quoted in a message.
    ///
    /// # Errors
    ///
    /// [`Error::Input`] or the check that failed.
    pub fn from_json(text: &[u8]) -> Result<Self, Error> {
        // Objects keep their members in order (serde_json's `preserve_order`).
        let value = bouture_json::to_value(text, duplicate_key).map_err(|error| Error::Input {
            message: format!("Can't parse input data: {error}"),
        })?;
        let Value::Object(members) = value else {
            return Err(Error::Input {
                message: format!(
                    "Can't parse input data: the input must be a JSON object, not {}",
                    kind(&value)
                ),
            });
        };
        let mut fields = Fields::default();
        for (key, value) in members {
            match key.as_str() {
                "cluster_name" => fields.cluster_name = Some(string(&key, value)?),
                "node_daemon_certificate" => {
                    fields.certificate = Some(string(&key, value)?);
                }
                "hmac_key" => fields.hmac = Some(string(&key, value)?),
                "ssconf" => fields.ssconf = Some(ssconf(value)?),
                "start_node_daemon" => match value {
                    Value::Bool(flag) => fields.start = flag,
                    Value::Null => fields.start = false,
                    other => return Err(wrong_type(&key, "a boolean", &other)),
                },
                "node_name" => fields.node_name = Some(string(&key, value)?),
                _ => {
                    return Err(Error::Input {
                        message: format!(
                            "unknown input key '{}' (the keys are {})",
                            excerpt(&key),
                            INPUT_KEYS.join(", ")
                        ),
                    });
                }
            }
        }
        fields.finish()
    }
}

#[derive(Default)]
struct Fields {
    cluster_name: Option<String>,
    certificate: Option<String>,
    hmac: Option<String>,
    ssconf: Option<Vec<(String, String)>>,
    start: bool,
    node_name: Option<String>,
}

impl Fields {
    /// Check presence in Ganeti's order, with Ganeti's messages.
    fn finish(self) -> Result<SetupInput, Error> {
        let cluster_name = non_empty(self.cluster_name).ok_or(Error::MissingClusterName)?;
        let certificate = non_empty(self.certificate).ok_or(Error::MissingCertificate)?;
        let hmac = non_empty(self.hmac).ok_or(Error::MissingHmac)?;
        let ssconf = self
            .ssconf
            .filter(|values| !values.is_empty())
            .ok_or(Error::MissingSsconf)?;
        let node_name = non_empty(self.node_name).ok_or(Error::MissingNodeName)?;
        if node_name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(Error::Input {
                message: format!(
                    "input key 'node_name': '{}' is not a host name (it contains spaces or control characters)",
                    excerpt(&node_name)
                ),
            });
        }
        Ok(SetupInput {
            cluster_name,
            node_daemon_certificate: Secret(certificate),
            hmac_key: Secret(hmac),
            ssconf,
            start_node_daemon: self.start,
            node_name,
        })
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|text| !text.is_empty())
}

fn string(key: &str, value: Value) -> Result<String, Error> {
    match value {
        Value::String(text) => Ok(text),
        // Absent and null are the same to Ganeti: "must be specified" follows.
        Value::Null => Ok(String::new()),
        other => Err(wrong_type(key, "a string", &other)),
    }
}

fn ssconf(value: Value) -> Result<Vec<(String, String)>, Error> {
    match value {
        Value::Object(members) => members
            .into_iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok((name, text)),
                other => Err(wrong_type(
                    &format!("ssconf.{}", excerpt(&name)),
                    "a string",
                    &other,
                )),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(wrong_type(
            "ssconf",
            "an object of ssconf names to strings",
            &other,
        )),
    }
}

fn wrong_type(key: &str, expected: &str, value: &Value) -> Error {
    Error::Input {
        message: format!("input key '{key}' must be {expected}, not {}", kind(value)),
    }
}

/// A key or value echoed in a message: at most 64 characters, escaped.
pub(crate) fn excerpt(text: &str) -> String {
    bouture_text::escaped(text, 64)
}

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::Null => "null",
    }
}

/// The refusal of a key given twice (at any depth): serde keeps the first,
/// Python the last, the two would disagree.
fn duplicate_key(key: &str) -> String {
    format!(
        "duplicate key '{}' (refused: readers disagree on which value counts)",
        excerpt(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_not_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(7 bytes)");
    }

    #[test]
    fn excerpts_are_bounded_and_escaped() {
        assert_eq!(excerpt("a\nb"), "a\\nb");
        assert_eq!(excerpt(&"x".repeat(100)), format!("{}…", "x".repeat(64)));
    }
}

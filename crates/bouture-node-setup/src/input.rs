//! The JSON document the master sends: parsed strictly against Ganeti's
//! declared schema (which Ganeti itself never applies).

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

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
        let value: Strict = serde_json::from_slice(text).map_err(|error| Error::Input {
            message: format!("Can't parse input data: {error}"),
        })?;
        let Strict::Object(members) = value else {
            return Err(Error::Input {
                message: format!(
                    "Can't parse input data: the input must be a JSON object, not {}",
                    value.kind()
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
                    Strict::Bool(flag) => fields.start = flag,
                    Strict::Null => fields.start = false,
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

fn string(key: &str, value: Strict) -> Result<String, Error> {
    match value {
        Strict::String(text) => Ok(text),
        // Absent and null are the same to Ganeti: "must be specified" follows.
        Strict::Null => Ok(String::new()),
        other => Err(wrong_type(key, "a string", &other)),
    }
}

fn ssconf(value: Strict) -> Result<Vec<(String, String)>, Error> {
    match value {
        Strict::Object(members) => members
            .into_iter()
            .map(|(name, value)| match value {
                Strict::String(text) => Ok((name, text)),
                other => Err(wrong_type(
                    &format!("ssconf.{}", excerpt(&name)),
                    "a string",
                    &other,
                )),
            })
            .collect(),
        Strict::Null => Ok(Vec::new()),
        other => Err(wrong_type(
            "ssconf",
            "an object of ssconf names to strings",
            &other,
        )),
    }
}

fn wrong_type(key: &str, expected: &str, value: &Strict) -> Error {
    Error::Input {
        message: format!("input key '{key}' must be {expected}, not {}", value.kind()),
    }
}

/// A key or value echoed in a message: at most 64 characters, escaped.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    out
}

/// A JSON value whose objects keep every member in order, so that a
/// duplicate key is found instead of silently dropped (serde keeps the
/// first, Python the last: the two would disagree).
enum Strict {
    Object(Vec<(String, Strict)>),
    Array,
    String(String),
    Bool(bool),
    Number,
    Null,
}

impl Strict {
    fn kind(&self) -> &'static str {
        match self {
            Self::Object(_) => "an object",
            Self::Array => "an array",
            Self::String(_) => "a string",
            Self::Bool(_) => "a boolean",
            Self::Number => "a number",
            Self::Null => "null",
        }
    }
}

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Strict, E> {
        Ok(Strict::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict::Number)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict::Number)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict::Number)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Strict, E> {
        Ok(Strict::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Strict, E> {
        Ok(Strict::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Strict, E> {
        Ok(Strict::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        // Elements are checked for duplicate keys too, then dropped: an
        // array is never a valid value here.
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict::Array)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut members: Vec<(String, Strict)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key '{}' (refused: readers disagree on which value counts)",
                    excerpt(&key)
                )));
            }
            let value = map.next_value::<Strict>()?;
            members.push((key, value));
        }
        Ok(Strict::Object(members))
    }
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
        assert_eq!(excerpt(&"x".repeat(100)), format!("{}...", "x".repeat(64)));
    }
}

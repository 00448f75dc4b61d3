//! `bouture.json`: what a partition's instance asks to be grafted.
//!
//! The instance itself writes this file into its partition (the SlapOS
//! software release does, on every buildout run); its presence opts the
//! partition in.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::error::{FileError, FileErrorKind};
use crate::json_fields::{
    JsonObject, element_object, parse_json_object, required_array, required_non_empty_str,
    required_object, required_str,
};
use bouture_fs::Links;

/// The name of the file that opts a partition in.
pub const BOUTURE_FILE_NAME: &str = "bouture.json";

/// The most bytes bouture reads from a `bouture.json`.
pub const BOUTURE_FILE_SIZE_LIMIT: u64 = 1024 * 1024;

/// The requested state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// The instance runs.
    Started,
    /// The instance is deployed but stopped.
    Stopped,
    /// The instance is to be destroyed.
    Destroyed,
}

impl InstanceState {
    /// The state as SlapOS writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Stopped => "stopped",
            Self::Destroyed => "destroyed",
        }
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text that is not an instance state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is `{value}`; expected `started`, `stopped` or `destroyed`")]
#[non_exhaustive]
pub struct InvalidInstanceState {
    /// The text given.
    pub value: String,
}

impl std::str::FromStr for InstanceState {
    type Err = InvalidInstanceState;
    fn from_str(s: &str) -> Result<Self, InvalidInstanceState> {
        match s {
            "started" => Ok(Self::Started),
            "stopped" => Ok(Self::Stopped),
            "destroyed" => Ok(Self::Destroyed),
            other => Err(InvalidInstanceState {
                value: other.to_string(),
            }),
        }
    }
}

/// A shared (slave) instance hosted by the partition's instance.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct SharedInstance {
    /// `slave-title`: the shared instance's title.
    pub slave_title: String,
    /// `slave-reference`: its reference on the master (`SOFTINST-…`, or `_<title>` on a proxy).
    pub slave_reference: String,
    /// `parameter-list`: its parameters, exactly as written.
    pub parameter_list: JsonObject,
    /// `slap-software-type`: its software type.
    pub slap_software_type: String,
}

impl SharedInstance {
    /// The title to request on a new master: `slave-title`, without the
    /// leading `_` a proxy adds when the title equals the reference.
    ///
    /// ```
    /// # use bouture_core::BoutureFile;
    /// let file = BoutureFile::parse(br#"{"software-url": "u", "software-type": "t",
    ///   "instance-title": "i", "instance-state": "started", "config": {},
    ///   "shared-list": [{"slave-title": "_SIM", "slave-reference": "_SIM",
    ///                    "parameter-list": {}, "slap-software-type": "t"}]}"#).unwrap();
    /// assert_eq!(file.shared_list[0].request_title(), "SIM");
    /// ```
    pub fn request_title(&self) -> &str {
        if self.slave_title == self.slave_reference
            && let Some(stripped) = self.slave_title.strip_prefix('_')
        {
            return stripped;
        }
        &self.slave_title
    }
}

/// The content of a partition's `bouture.json`.
///
/// Unknown keys (such as `ipv4-random`) are accepted and kept in
/// [`other_keys`](Self::other_keys).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub struct BoutureFile {
    /// `software-url`: the software release of the instance.
    pub software_url: String,
    /// `software-type`: its software type (may be empty).
    pub software_type: String,
    /// `instance-title`: the instance's title on the master.
    pub instance_title: String,
    /// `instance-state`: the requested state.
    pub instance_state: InstanceState,
    /// `config`: the instance parameters, exactly as written (usually a
    /// single `_` key holding a JSON string).
    pub config: JsonObject,
    /// `shared-list`: the shared instances the instance hosts.
    pub shared_list: Vec<SharedInstance>,
    /// Keys bouture does not use, kept as written.
    #[serde(flatten)]
    pub other_keys: JsonObject,
}

impl BoutureFile {
    /// Read and check `<partition>/bouture.json`, refusing links and
    /// non-regular files and reading at most [`BOUTURE_FILE_SIZE_LIMIT`] bytes.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, FileError> {
        let path = path.as_ref();
        let bytes = bouture_fs::read_bounded(path, BOUTURE_FILE_SIZE_LIMIT, Links::Refuse)?;
        Self::parse(&bytes).map_err(|kind| FileError::new(path, kind))
    }

    /// Check the bytes of a `bouture.json`.
    pub fn parse(bytes: &[u8]) -> Result<Self, FileErrorKind> {
        let object = parse_json_object(bytes)?;
        let instance_state = required_str(&object, "", "instance-state")?
            .parse()
            .map_err(|problem: InvalidInstanceState| {
                FileErrorKind::field("instance-state", problem.to_string())
            })?;
        let shared_list = required_array(&object, "", "shared-list")?
            .iter()
            .enumerate()
            .map(|(index, value)| parse_shared(value, &format!("shared-list[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let known = [
            "software-url",
            "software-type",
            "instance-title",
            "instance-state",
            "config",
            "shared-list",
        ];
        let other_keys = object
            .iter()
            .filter(|(key, _)| !known.contains(&key.as_str()))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(Self {
            software_url: required_non_empty_str(&object, "", "software-url")?.to_string(),
            software_type: required_str(&object, "", "software-type")?.to_string(),
            instance_title: required_non_empty_str(&object, "", "instance-title")?.to_string(),
            instance_state,
            config: required_object(&object, "", "config")?.clone(),
            shared_list,
            other_keys,
        })
    }
}

fn parse_shared(value: &Value, path: &str) -> Result<SharedInstance, FileErrorKind> {
    let object = element_object(value, path)?;
    Ok(SharedInstance {
        slave_title: required_non_empty_str(object, path, "slave-title")?.to_string(),
        slave_reference: required_str(object, path, "slave-reference")?.to_string(),
        parameter_list: required_object(object, path, "parameter-list")?.clone(),
        slap_software_type: required_str(object, path, "slap-software-type")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &[u8] = include_bytes!("../tests/fixtures/bouture.json.example");

    #[test]
    fn parses_the_software_release_example() {
        let file = BoutureFile::parse(EXAMPLE).unwrap();
        assert_eq!(file.instance_title, "ORS Core Network");
        assert_eq!(file.instance_state, InstanceState::Started);
        assert_eq!(file.shared_list.len(), 2);
        assert_eq!(file.shared_list[1].request_title(), "SIM 2");
        assert!(file.other_keys.contains_key("ipv4-random"));
        // The config is kept exactly, key order included.
        let config = serde_json::to_string(&file.config).unwrap();
        assert!(
            config.starts_with(
                r#"{"_":"{\"cell1\": {\"tx_power_dbm\": 20, \"dl_frequency\": 3500.0}"#
            )
        );
    }

    fn problem(json: &str) -> String {
        BoutureFile::parse(json.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn names_the_bad_field() {
        let good: serde_json::Value = serde_json::from_slice(EXAMPLE).unwrap();
        let with = |path: &[&str], value: Option<serde_json::Value>| {
            let mut doc = good.clone();
            let (last, parents) = path.split_last().unwrap();
            let mut target = &mut doc;
            for key in parents {
                target = match key.parse::<usize>() {
                    Ok(index) => &mut target[index],
                    Err(_) => &mut target[*key],
                };
            }
            match value {
                Some(v) => target[*last] = v,
                None => {
                    target.as_object_mut().unwrap().remove(*last);
                }
            }
            doc.to_string()
        };
        assert_eq!(
            problem(&with(&["software-url"], None)),
            "field `software-url` is missing"
        );
        assert_eq!(
            problem(&with(&["instance-state"], Some("running".into()))),
            "field `instance-state` is `running`; expected `started`, `stopped` or `destroyed`"
        );
        assert_eq!(
            problem(&with(&["config"], Some("x".into()))),
            "field `config` must be an object, found a string"
        );
        assert_eq!(
            problem(&with(&["shared-list", "1", "slave-title"], Some(3.into()))),
            "field `shared-list[1].slave-title` must be a string, found a number"
        );
        assert_eq!(
            problem("[]"),
            "field `(top level)` must be a JSON object, found an array"
        );
        assert_eq!(
            problem("{\"a\": "),
            "is not valid JSON: EOF while parsing a value at line 1, column 6"
        );
    }
}

//! The node configuration, `slapos.cfg`, as SlapOS itself reads it.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::error::{FileError, FileErrorKind, NodeConfigError};
use crate::ids::ComputerId;
use crate::json_fields::{JsonObject, parse_json_object};
use bouture_fs::Links;
use bouture_ini::IniDocument;

/// Where the node configuration is when `--cfg` is not given and
/// `$SLAPOS_CONFIGURATION` is not set.
pub const DEFAULT_NODE_CONFIG_PATH: &str = "/etc/opt/slapos/slapos.cfg";

/// The environment variable SlapOS reads the node configuration path from.
pub const NODE_CONFIG_ENV: &str = "SLAPOS_CONFIGURATION";

/// The most bytes bouture reads from a node configuration file.
pub const NODE_CONFIG_SIZE_LIMIT: u64 = 4 * 1024 * 1024;

/// The most bytes bouture reads from the `computer_json` file.
pub const COMPUTER_JSON_SIZE_LIMIT: u64 = 16 * 1024 * 1024;

/// The partition base name SlapOS uses when `partition_base_name` is not set.
pub const DEFAULT_PARTITION_BASE_NAME: &str = "slappart";

/// The node configuration path SlapOS would use: `$SLAPOS_CONFIGURATION`
/// (a leading `~` expanded, [`expand_user`]), else
/// [`DEFAULT_NODE_CONFIG_PATH`].
pub fn default_node_config_path() -> PathBuf {
    std::env::var_os(NODE_CONFIG_ENV)
        .filter(|value| !value.is_empty())
        .map_or_else(
            || PathBuf::from(DEFAULT_NODE_CONFIG_PATH),
            |value| expand_user(Path::new(&value)),
        )
}

/// `path` with a leading `~` expanded as Python's `os.path.expanduser` does
/// (SlapOS expands `--cfg` and `$SLAPOS_CONFIGURATION` so): `~` and `~/...`
/// become `$HOME` (when set and not empty), `~user` and `~user/...` that
/// user's home directory from `/etc/passwd`; anything else, or a user
/// without an entry, is left as it is.
///
/// ```
/// use std::path::Path;
/// let expanded = bouture_core::expand_user(Path::new("/etc/opt/slapos/slapos.cfg"));
/// assert_eq!(expanded, Path::new("/etc/opt/slapos/slapos.cfg"));
/// ```
pub fn expand_user(path: &Path) -> PathBuf {
    expand_user_with(path, std::env::var_os("HOME").map(PathBuf::from), |user| {
        home_of(user, Path::new("/etc/passwd"))
    })
}

/// [`expand_user`] with the home directory and the user lookup given.
fn expand_user_with(
    path: &Path,
    home: Option<PathBuf>,
    home_of_user: impl Fn(&str) -> Option<PathBuf>,
) -> PathBuf {
    let Some(text) = path.to_str() else {
        return path.to_path_buf();
    };
    let Some(rest) = text.strip_prefix('~') else {
        return path.to_path_buf();
    };
    let (user, tail) = rest.split_once('/').map_or((rest, ""), |(u, t)| (u, t));
    let home = if user.is_empty() {
        home.filter(|home| !home.as_os_str().is_empty())
    } else {
        home_of_user(user)
    };
    match home {
        Some(home) if tail.is_empty() => home,
        Some(home) => home.join(tail),
        None => path.to_path_buf(),
    }
}

/// The home directory of `user` in the passwd file at `passwd` (bounded
/// read; `None` when it cannot be read or has no such user).
fn home_of(user: &str, passwd: &Path) -> Option<PathBuf> {
    let bytes = bouture_fs::read_bounded(passwd, 4 * 1024 * 1024, Links::Follow).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 7 && fields.first() == Some(&user))
        .and_then(|fields| fields.get(5).map(|home| PathBuf::from(*home)))
        .filter(|home| !home.as_os_str().is_empty())
}

/// The text of a node configuration file: a regular file (links followed:
/// it belongs to the node's administrator) of at most
/// [`NODE_CONFIG_SIZE_LIMIT`] bytes, in UTF-8.
pub fn read_node_config_text(path: &Path) -> Result<String, NodeConfigError> {
    let bytes = bouture_fs::read_bounded(path, NODE_CONFIG_SIZE_LIMIT, Links::Follow)
        .map_err(|error| NodeConfigError::Read(error.into()))?;
    String::from_utf8(bytes).map_err(|error| {
        NodeConfigError::Read(FileError::new(
            path,
            FileErrorKind::NotUtf8 {
                offset: error.utf8_error().valid_up_to(),
            },
        ))
    })
}

/// A node configuration, read with Python's `ConfigParser` semantics.
///
/// Node-wide options are `[slapformat]`'s merged with `[slapos]`'s, `[slapos]`
/// winning, each section inheriting `[DEFAULT]`, as the SlapOS node commands
/// read them.
///
/// ```
/// use bouture_core::NodeConfig;
///
/// let text = "[slapos]\ncomputer_id = COMP-1\ninstance_root = /srv/slapgrid\n";
/// let config = NodeConfig::parse("/etc/opt/slapos/slapos.cfg", text)?;
/// assert_eq!(config.computer_id.as_str(), "COMP-1");
/// assert_eq!(config.partition_base_name, "slappart");
/// # Ok::<(), bouture_core::NodeConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct NodeConfig {
    /// The file it was read from.
    pub path: PathBuf,
    /// `computer_id`: the node's reference on its master.
    pub computer_id: ComputerId,
    /// `instance_root`: where the partitions are.
    pub instance_root: PathBuf,
    /// `partition_base_name` (default `slappart`).
    pub partition_base_name: String,
    /// `master_url`, when set.
    pub master_url: Option<String>,
    /// `computer_json` of `[slapformat]`: the computer description `slapos node format` writes.
    pub computer_json: Option<PathBuf>,
    /// Every merged option (`[slapformat]` then `[slapos]`), interpolated.
    #[serde(skip)]
    pub options: Vec<(String, String)>,
    /// The parsed document, for callers that need other sections.
    #[serde(skip)]
    pub document: IniDocument,
}

impl NodeConfig {
    /// Read and check the node configuration at `path`.
    ///
    /// The file may be a symbolic link (it belongs to the node's
    /// administrator) but must be a regular file of at most
    /// [`NODE_CONFIG_SIZE_LIMIT`] bytes.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NodeConfigError> {
        let path = path.as_ref();
        Self::parse(path, &read_node_config_text(path)?)
    }

    /// Check a node configuration given as text; `path` is only used in messages.
    pub fn parse(path: impl AsRef<Path>, text: &str) -> Result<Self, NodeConfigError> {
        let path = path.as_ref().to_path_buf();
        let document = IniDocument::parse(text).map_err(|source| NodeConfigError::Syntax {
            path: path.clone(),
            source,
        })?;
        if !document.has_section("slapos") {
            return Err(NodeConfigError::MissingSection {
                path,
                section: "slapos",
            });
        }
        let mut options: Vec<(String, String)> = Vec::new();
        for section in ["slapformat", "slapos"] {
            if !document.has_section(section) {
                continue;
            }
            let items = document
                .items(section)
                .map_err(|source| NodeConfigError::Syntax {
                    path: path.clone(),
                    source,
                })?;
            for (name, value) in items {
                match options.iter_mut().find(|(n, _)| *n == name) {
                    Some(slot) => slot.1 = value,
                    None => options.push((name, value)),
                }
            }
        }
        let get = |name: &str| {
            options
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let required = |option: &'static str, example: &'static str| {
            get(option).ok_or_else(|| NodeConfigError::MissingOption {
                path: path.clone(),
                option,
                example,
            })
        };
        let computer_id = ComputerId::try_from(required("computer_id", "COMP-1234")?.to_string())
            .map_err(|error| NodeConfigError::InvalidOption {
            path: path.clone(),
            option: "computer_id",
            value: error.value.clone(),
            problem: error.problem.to_string(),
        })?;
        let instance_root = PathBuf::from(required("instance_root", "/srv/slapgrid")?);
        let partition_base_name = get("partition_base_name")
            .unwrap_or(DEFAULT_PARTITION_BASE_NAME)
            .to_string();
        if partition_base_name.contains('/') {
            return Err(NodeConfigError::InvalidOption {
                path,
                option: "partition_base_name",
                value: partition_base_name,
                problem: "must not contain `/`".to_string(),
            });
        }
        let master_url = get("master_url").map(str::to_string);
        let computer_json = document
            .get_raw("slapformat", "computer_json")
            .and(get("computer_json"))
            .map(PathBuf::from);
        Ok(Self {
            path,
            computer_id,
            instance_root,
            partition_base_name,
            master_url,
            computer_json,
            options,
            document,
        })
    }

    /// A merged node option (`[slapformat]` then `[slapos]`), interpolated.
    pub fn option(&self, name: &str) -> Option<&str> {
        let name = name.to_lowercase();
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The computer's own address and netmask, from the `computer_json` file
    /// when the configuration names one and it exists.
    pub fn computer_address(&self) -> Result<ComputerAddress, NodeConfigError> {
        let Some(path) = &self.computer_json else {
            return Ok(ComputerAddress::default());
        };
        let bytes = match bouture_fs::read_bounded(path, COMPUTER_JSON_SIZE_LIMIT, Links::Follow) {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => {
                return Ok(ComputerAddress::default());
            }
            Err(error) => {
                return Err(NodeConfigError::ComputerJson(error.into()));
            }
        };
        let parse = || -> Result<ComputerAddress, FileErrorKind> {
            let object = parse_json_object(&bytes)?;
            Ok(ComputerAddress {
                address: optional_ip(&object, "address")?,
                netmask: optional_ip(&object, "netmask")?,
            })
        };
        parse().map_err(|kind| NodeConfigError::ComputerJson(FileError::new(path, kind)))
    }
}

/// The computer's own address and netmask, when the node records them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ComputerAddress {
    /// The computer's address.
    pub address: Option<IpAddr>,
    /// Its netmask.
    pub netmask: Option<IpAddr>,
}

fn optional_ip(object: &JsonObject, field: &str) -> Result<Option<IpAddr>, FileErrorKind> {
    match object.get(field) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(text)) if text.is_empty() => Ok(None),
        Some(serde_json::Value::String(text)) => text.parse().map(Some).map_err(|_| {
            FileErrorKind::field(field, format!("is `{text}`, not an IPv4 or IPv6 address"))
        }),
        Some(_) => Err(FileErrorKind::field(field, "must be a string")),
    }
}

#[cfg(test)]
mod expand_user_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn expand(path: &str, home: Option<&str>) -> PathBuf {
        expand_user_with(Path::new(path), home.map(PathBuf::from), |user| {
            (user == "slapos").then(|| PathBuf::from("/opt/slapos-home"))
        })
    }

    #[test]
    fn a_leading_tilde_is_the_home_directory_as_python_expands_it() {
        let home = Some("/home/op");
        assert_eq!(expand("~", home), Path::new("/home/op"));
        assert_eq!(
            expand("~/slapos.cfg", home),
            Path::new("/home/op/slapos.cfg")
        );
        assert_eq!(
            expand("~slapos/etc/slapos.cfg", home),
            Path::new("/opt/slapos-home/etc/slapos.cfg")
        );
        assert_eq!(expand("~slapos", home), Path::new("/opt/slapos-home"));
        // Left alone: no home, an unknown user, a tilde elsewhere.
        assert_eq!(expand("~/slapos.cfg", None), Path::new("~/slapos.cfg"));
        assert_eq!(expand("~/slapos.cfg", Some("")), Path::new("~/slapos.cfg"));
        assert_eq!(expand("~nobody-here/x", home), Path::new("~nobody-here/x"));
        assert_eq!(expand("/etc/~/x", home), Path::new("/etc/~/x"));
        assert_eq!(expand("slapos.cfg", home), Path::new("slapos.cfg"));
    }

    #[test]
    fn a_user_is_looked_up_in_the_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/bash\nslapuser0:x:1000:1000::/srv/slapgrid/slappart0:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(home_of("root", &passwd), Some(PathBuf::from("/root")));
        assert_eq!(
            home_of("slapuser0", &passwd),
            Some(PathBuf::from("/srv/slapgrid/slappart0"))
        );
        assert_eq!(home_of("nobody-here", &passwd), None);
        assert_eq!(home_of("root", &dir.path().join("missing")), None);
    }
}

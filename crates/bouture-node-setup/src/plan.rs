//! Every check, and the list of files to write: nothing is written here.

use std::fmt;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bouture_fs::{Links, ReadError, read_bounded};
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::KeyAndCertificate;
use crate::error::Error;
use crate::input::{SetupInput, excerpt};

/// Ganeti's data directory (`pathutils.DATA_DIR`).
pub const DEFAULT_DATA_DIR: &str = "/var/lib/ganeti";

/// What Ganeti's `node-daemon-setup` runs to restart the node daemons
/// (`daemon-util stop-all`, then start `ganeti-noded` and `ganeti-mond`),
/// one part at a time: each part's status is reported.
pub const DEFAULT_START_COMMAND: [&str; 3] = [
    "/usr/lib/ganeti/daemon-util stop-all",
    "/usr/lib/ganeti/daemon-util start ganeti-noded",
    "/usr/lib/ganeti/daemon-util start ganeti-mond",
];

/// [`DEFAULT_START_COMMAND`] as owned parts.
pub fn default_start_command() -> Vec<String> {
    DEFAULT_START_COMMAND
        .iter()
        .map(|&p| p.to_owned())
        .collect()
}

/// The largest ssconf file Ganeti's reader accepts (`ssconf._MAX_SIZE`),
/// in bytes, newline included.
pub const SSCONF_MAX_BYTES: usize = 128 * 1024;

/// The most read from an existing file of the data directory (to compare
/// it, or to keep it for restoring): far above what Ganeti writes.
pub const MAX_EXISTING_BYTES: u64 = 1024 * 1024;

/// Ganeti's valid ssconf names (`constants.VALID_SS_KEYS`); each is the
/// file `ssconf_<name>` of the data directory, so no name can lead outside.
pub const VALID_SSCONF_KEYS: [&str; 34] = [
    "cluster_name",
    "cluster_tags",
    "enabled_user_shutdown",
    "file_storage_dir",
    "gluster_storage_dir",
    "hvparams_chroot",
    "hvparams_fake",
    "hvparams_kvm",
    "hvparams_lxc",
    "hvparams_xen-hvm",
    "hvparams_xen-pvm",
    "hypervisor_list",
    "instance_list",
    "maintain_node_health",
    "master_candidates",
    "master_candidates_certs",
    "master_candidates_ips",
    "master_ip",
    "master_netdev",
    "master_netmask",
    "master_node",
    "networks",
    "node_list",
    "node_primary_ips",
    "node_secondary_ips",
    "node_vm_capable",
    "nodegroups",
    "offline_nodes",
    "online_nodes",
    "primary_ip_family",
    "release_version",
    "shared_file_storage_dir",
    "ssh_ports",
    "uid_pool",
];

/// Mode of the ssconf files (`constants.SS_FILE_PERMS`).
pub const SSCONF_MODE: u32 = 0o444;
/// Mode of `hmac.key`, `server.pem` and `client.pem`
/// (`pathutils.NODED_CERT_MODE`).
pub const CERT_MODE: u32 = 0o440;
/// Mode of the backup of the previous `client.pem` (as `mkstemp` makes it).
pub const BACKUP_MODE: u32 = 0o600;

/// The default deadline of the start command: 5 minutes (Ganeti's init
/// script starts and waits for each node daemon).
pub const DEFAULT_START_DEADLINE: std::time::Duration = std::time::Duration::from_mins(5);

/// How to run a node setup. Built by the caller.
#[derive(Debug, Clone)]
pub struct Options {
    /// Ganeti's data directory (default [`DEFAULT_DATA_DIR`]).
    pub data_dir: PathBuf,
    /// Check everything and report what would be done; write nothing, run
    /// nothing.
    pub dry_run: bool,
    /// The shell command lines that restart the node daemons when the
    /// input asks for it: each run with `sh -c`, in order, every one even
    /// when one fails (as Ganeti's `a; b; c`), each one's status reported
    /// (default [`DEFAULT_START_COMMAND`]).
    pub start_command: Vec<String>,
    /// How long each part of the start command may run before it is killed
    /// with its process group (default [`DEFAULT_START_DEADLINE`]).
    pub start_deadline: std::time::Duration,
    /// Whether the default start command may run with another data
    /// directory than [`DEFAULT_DATA_DIR`]: it restarts the system's
    /// daemons, which read the default directory ([`Error::SystemDaemons`]).
    pub restart_system_daemons: bool,
    /// Owner and group of `hmac.key` and `server.pem` (Ganeti gives them to
    /// `gnt-masterd`; see [`masterd_owner`]). `None`: the process's own.
    pub cluster_file_owner: Option<(u32, u32)>,
    /// The time used for the client certificate and the backup name
    /// (`None`: now).
    pub now: Option<OffsetDateTime>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            dry_run: false,
            start_command: default_start_command(),
            start_deadline: DEFAULT_START_DEADLINE,
            restart_system_daemons: false,
            cluster_file_owner: masterd_owner(Path::new("/etc")),
            now: None,
        }
    }
}

/// The user and group `gnt-masterd` from `<etc>/passwd` and `<etc>/group`
/// (the accounts Ganeti's package creates), or `None` if either is missing.
pub fn masterd_owner(etc: &Path) -> Option<(u32, u32)> {
    let id = |file: &str, field: usize| -> Option<u32> {
        let text = read_bounded(&etc.join(file), MAX_EXISTING_BYTES * 4, Links::Follow).ok()?;
        String::from_utf8_lossy(&text).lines().find_map(|line| {
            let mut fields = line.split(':');
            if fields.next()? != "gnt-masterd" {
                return None;
            }
            fields.nth(field - 1)?.parse().ok()
        })
    };
    Some((id("passwd", 2)?, id("group", 2)?))
}

/// What a file of the plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FileKind {
    /// An `ssconf_<name>` file.
    Ssconf,
    /// `hmac.key`.
    HmacKey,
    /// `server.pem`: the cluster's key and certificate.
    ServerCertificate,
    /// A copy of the previous `client.pem`, kept as Ganeti keeps it.
    ClientCertificateBackup,
    /// `client.pem`: the node's new key and certificate.
    ClientCertificate,
}

/// A file as it was before the run, kept to put it back.
#[derive(Clone)]
pub(crate) struct Previous {
    pub(crate) contents: Vec<u8>,
    pub(crate) mode: u32,
    pub(crate) owner: (u32, u32),
}

/// One file the setup writes (atomically).
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct PlannedWrite {
    /// Where.
    pub path: PathBuf,
    /// What it is.
    pub kind: FileKind,
    /// Its permission bits.
    #[serde(serialize_with = "octal")]
    pub mode: u32,
    /// Its owner and group (`None`: the process's).
    pub owner: Option<(u32, u32)>,
    /// Its size in bytes.
    pub bytes: usize,
    /// Whether it replaces an existing file (else it is created).
    pub replaces: bool,
    /// Never shown (keys): see the `Debug` impl.
    #[serde(skip)]
    pub(crate) contents: Vec<u8>,
    #[serde(skip)]
    pub(crate) previous: Option<Previous>,
}

impl PlannedWrite {
    pub(crate) fn contents(&self) -> &[u8] {
        &self.contents
    }
}

impl fmt::Debug for PlannedWrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Contents (keys) are never shown.
        f.debug_struct("PlannedWrite")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("mode", &format_args!("{:04o}", self.mode))
            .field("owner", &self.owner)
            .field("bytes", &self.bytes)
            .field("replaces", &self.replaces)
            .finish_non_exhaustive()
    }
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with signature"
)]
pub(crate) fn octal<S: serde::Serializer>(mode: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{mode:04o}"))
}

/// Everything checked, and what the setup writes and runs, in order.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The cluster joined.
    pub cluster_name: String,
    /// The node's name (its client certificate's CN).
    pub node_name: String,
    /// The subject of the cluster certificate given.
    pub certificate_subject: String,
    /// The files, in the order they are written.
    pub writes: Vec<PlannedWrite>,
    /// The commands that restart the node daemons, if the input asks for it.
    pub start_command: Option<Vec<String>>,
    /// Whether they are the default ones with another data directory than
    /// the default: the system's daemons are restarted (allowed by
    /// [`Options::restart_system_daemons`]).
    pub restarts_system_daemons: bool,
}

/// Run every check of the input against the data directory and make the
/// plan (including the new client certificate). Reads, never writes.
///
/// In Ganeti's order: cluster name (and the local one), certificate and
/// key (and the local key), HMAC key, ssconf names, the ssconf cluster
/// name and value sizes, node name; then every file to replace must be a
/// regular file that can be read back to restore it.
///
/// # Errors
///
/// The first check that fails.
pub fn check(input: &SetupInput, options: &Options) -> Result<Plan, Error> {
    let dir = &options.data_dir;
    check_cluster_name(dir, &input.cluster_name)?;
    let cluster = KeyAndCertificate::from_input(&input.node_daemon_certificate)?;
    check_local_key(dir, &cluster)?;
    let ssconf = ssconf_files(input)?;
    let now = options.now.unwrap_or_else(OffsetDateTime::now_utc);

    let mut writes = Vec::new();
    for (name, contents) in ssconf {
        writes.push(planned(
            dir,
            &format!("ssconf_{name}"),
            FileKind::Ssconf,
            SSCONF_MODE,
            None,
            contents.into_bytes(),
        )?);
    }
    let owner = options.cluster_file_owner;
    writes.push(planned(
        dir,
        "hmac.key",
        FileKind::HmacKey,
        CERT_MODE,
        owner,
        input.hmac_key.expose().as_bytes().to_vec(),
    )?);
    writes.push(planned(
        dir,
        "server.pem",
        FileKind::ServerCertificate,
        CERT_MODE,
        owner,
        input.node_daemon_certificate.expose().as_bytes().to_vec(),
    )?);
    let client = cluster.sign_client_certificate(&input.node_name, now)?;
    let client = planned(
        dir,
        "client.pem",
        FileKind::ClientCertificate,
        CERT_MODE,
        None,
        client.expose().as_bytes().to_vec(),
    )?;
    if let Some(previous) = &client.previous {
        // A fresh name: the backup never replaces anything (8 random
        // characters; a clash is retried).
        let mut backup = None;
        for _ in 0..8 {
            let candidate = planned(
                dir,
                &backup_name(now)?,
                FileKind::ClientCertificateBackup,
                BACKUP_MODE,
                None,
                previous.contents.clone(),
            )?;
            if !candidate.replaces {
                backup = Some(candidate);
                break;
            }
        }
        let backup = backup.ok_or_else(|| Error::ClientCertificate {
            reason: "no free name for the backup of client.pem".to_owned(),
        })?;
        writes.push(backup);
    }
    writes.push(client);
    let start_command = input
        .start_node_daemon
        .then(|| options.start_command.clone());
    let restarts_system_daemons = start_command.is_some()
        && options.start_command == default_start_command()
        && dir.as_path() != Path::new(DEFAULT_DATA_DIR);
    if restarts_system_daemons && !options.restart_system_daemons {
        return Err(Error::SystemDaemons {
            data_dir: dir.clone(),
        });
    }
    Ok(Plan {
        data_dir: dir.clone(),
        cluster_name: input.cluster_name.clone(),
        node_name: input.node_name.clone(),
        certificate_subject: cluster.subject.clone(),
        writes,
        start_command,
        restarts_system_daemons,
    })
}

fn check_cluster_name(dir: &Path, given: &str) -> Result<(), Error> {
    let path = dir.join("ssconf_cluster_name");
    match read_bounded(&path, SSCONF_MAX_BYTES as u64, Links::Refuse) {
        Ok(bytes) => {
            let local = String::from_utf8_lossy(&bytes);
            let local = local.trim_end_matches('\n');
            if local == given {
                Ok(())
            } else {
                Err(Error::ClusterNameMismatch {
                    path,
                    local: excerpt(local),
                    given: excerpt(given),
                })
            }
        }
        Err(error) if error.is_not_found() => Ok(()),
        Err(error) => Err(Error::Existing(error)),
    }
}

fn check_local_key(dir: &Path, cluster: &KeyAndCertificate) -> Result<(), Error> {
    let path = dir.join("server.pem");
    match read_bounded(&path, MAX_EXISTING_BYTES, Links::Refuse) {
        Ok(local) => match cluster.matches_local_key(&local) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::LocalKeyMismatch { path }),
            Err(reason) => Err(Error::LocalKey { path, reason }),
        },
        Err(error) if error.is_not_found() => Ok(()),
        Err(error) => Err(Error::Existing(error)),
    }
}

/// The ssconf names checked, with each file's contents as Ganeti's writer
/// makes it: the value, plus a newline if it is not empty and lacks one.
fn ssconf_files(input: &SetupInput) -> Result<Vec<(String, String)>, Error> {
    let mut invalid: Vec<String> = input
        .ssconf
        .iter()
        .filter(|(name, _)| !VALID_SSCONF_KEYS.contains(&name.as_str()))
        .map(|(name, _)| excerpt(name))
        .collect();
    if !invalid.is_empty() {
        invalid.sort();
        return Err(Error::InvalidSsconfKeys { keys: invalid });
    }
    let cluster_name = input
        .ssconf
        .iter()
        .find(|(name, _)| name == "cluster_name")
        .map(|(_, value)| value.as_str());
    if cluster_name != Some(input.cluster_name.as_str()) {
        return Err(Error::SsconfClusterName);
    }
    input
        .ssconf
        .iter()
        .map(|(name, value)| {
            let contents = ssconf_contents(value);
            if contents.len() > SSCONF_MAX_BYTES {
                return Err(Error::ValueTooLarge {
                    name: name.clone(),
                    length: contents.len(),
                    max: SSCONF_MAX_BYTES,
                });
            }
            Ok((name.clone(), contents))
        })
        .collect()
}

/// An ssconf file's contents, as Ganeti's `SimpleStore.WriteFiles` writes
/// the value.
pub fn ssconf_contents(value: &str) -> String {
    let mut contents = value.to_owned();
    if !contents.is_empty() && !contents.ends_with('\n') {
        contents.push('\n');
    }
    contents
}

fn planned(
    dir: &Path,
    name: &str,
    kind: FileKind,
    mode: u32,
    owner: Option<(u32, u32)>,
    contents: Vec<u8>,
) -> Result<PlannedWrite, Error> {
    let path = dir.join(name);
    let previous = match read_bounded(&path, MAX_EXISTING_BYTES, Links::Refuse) {
        Ok(bytes) => {
            let metadata = fs::symlink_metadata(&path).map_err(|source| {
                Error::Existing(ReadError::Io {
                    path: path.clone(),
                    source,
                })
            })?;
            Some(Previous {
                contents: bytes,
                mode: metadata.mode() & 0o7777,
                owner: (metadata.uid(), metadata.gid()),
            })
        }
        Err(error) if error.is_not_found() => None,
        Err(error) => return Err(Error::Existing(error)),
    };
    Ok(PlannedWrite {
        bytes: contents.len(),
        replaces: previous.is_some(),
        path,
        kind,
        mode,
        owner,
        contents,
        previous,
    })
}

/// `client.pem.backup-<YYYY-mm-dd_HH_MM_SS>.<8 random characters>`, as
/// Ganeti's `utils.CreateBackup` names it (in UTC).
fn backup_name(now: OffsetDateTime) -> Result<String, Error> {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|error| Error::ClientCertificate {
        reason: format!("no randomness for the backup name ({error})"),
    })?;
    let suffix: String = random
        .iter()
        .map(|byte| {
            let index = usize::from(*byte) % CHARS.len();
            char::from(CHARS.get(index).copied().unwrap_or(b'_'))
        })
        .collect();
    Ok(format!(
        "client.pem.backup-{:04}-{:02}-{:02}_{:02}_{:02}_{:02}.{suffix}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    ))
}

//! The files next to the switchfile: the record of what was grafted
//! (`SWITCHFILE.grafted`) and the changes not yet acknowledged
//! (`SWITCHFILE.changes`), with the lock that serialises writers
//! (`SWITCHFILE.changes.lock`).
//!
//! Both files are JSON, written atomically with mode 0600 (they hold
//! instance parameters, which may hold secrets) and read back after
//! writing; they are read without following symbolic links, at most
//! [`FILE_SIZE_LIMIT`] bytes, refusing duplicate keys.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bouture_fs::{FileLock, Links, Wait};

use crate::diff::Change;
use crate::error::Error;
use crate::snapshot::MasterSnapshot;
use crate::strict_json;

/// The version of the changes file format.
pub const CHANGES_VERSION: u32 = 1;

/// The most bytes read from a record or changes file.
pub const FILE_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a writer waits for another to release the lock.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Mode of the files: they hold instance parameters.
const MODE: u32 = 0o600;

/// `SWITCHFILE` + `suffix`.
fn companion(switchfile: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(switchfile.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

/// Where the record of what was grafted is kept: `SWITCHFILE.grafted`.
pub fn grafted_path(switchfile: &Path) -> PathBuf {
    companion(switchfile, ".grafted")
}

/// Where the changes not yet acknowledged are kept: `SWITCHFILE.changes`.
pub fn changes_path(switchfile: &Path) -> PathBuf {
    companion(switchfile, ".changes")
}

/// The lock file of the changes: `SWITCHFILE.changes.lock`.
pub fn lock_path(switchfile: &Path) -> PathBuf {
    companion(switchfile, ".changes.lock")
}

/// The changes found at each return of the original master, until
/// acknowledged.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ChangesFile {
    /// Format version ([`CHANGES_VERSION`]).
    pub version: u32,
    /// One entry per return of the original master that found changes,
    /// oldest first.
    pub returns: Vec<Return>,
}

impl ChangesFile {
    /// How many changes are listed, all returns together.
    pub fn len(&self) -> usize {
        self.returns.iter().map(|r| r.changes.len()).sum()
    }

    /// Whether no change is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What changed on the local master during one outage of the original one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Return {
    /// When the node switched to the local master (RFC 3339 UTC), if known.
    pub switched_at: Option<String>,
    /// When the original master was found again (RFC 3339 UTC).
    pub returned_at: String,
    /// The local master that was read.
    pub local_master_url: String,
    /// The node's computer.
    pub computer_id: String,
    /// The changes, in [`diff`](crate::diff) order.
    pub changes: Vec<Change>,
}

impl Return {
    /// The changes found at one return.
    pub fn new(
        switched_at: Option<String>,
        returned_at: impl Into<String>,
        local_master_url: impl Into<String>,
        computer_id: impl Into<String>,
        changes: Vec<Change>,
    ) -> Self {
        Self {
            switched_at,
            returned_at: returned_at.into(),
            local_master_url: local_master_url.into(),
            computer_id: computer_id.into(),
            changes,
        }
    }
}

/// Record what the local master holds right after the graft.
///
/// # Errors
///
/// [`Error::Write`] or [`Error::ReadBack`].
pub fn write_grafted(switchfile: &Path, snapshot: &MasterSnapshot) -> Result<PathBuf, Error> {
    let path = grafted_path(switchfile);
    write_checked(&path, snapshot, "record of what was grafted")?;
    Ok(path)
}

/// The record of what was grafted, if there is one.
///
/// # Errors
///
/// [`Error::Read`] or [`Error::Invalid`].
pub fn read_grafted(switchfile: &Path) -> Result<Option<MasterSnapshot>, Error> {
    read_optional(&grafted_path(switchfile), "record of what was grafted")
}

/// Remove the record of what was grafted; returns whether it existed.
///
/// # Errors
///
/// [`Error::Write`].
pub fn remove_grafted(switchfile: &Path) -> Result<bool, Error> {
    remove_optional(&grafted_path(switchfile))
}

/// The changes not yet acknowledged, if any.
///
/// # Errors
///
/// [`Error::Read`] or [`Error::Invalid`].
pub fn read_changes(switchfile: &Path) -> Result<Option<ChangesFile>, Error> {
    read_optional(&changes_path(switchfile), "changes file")
}

/// Add the changes of one return to the changes file (created when
/// missing), under the lock; returns the whole file as written. A return
/// without changes writes nothing and returns `None`.
///
/// # Errors
///
/// [`Error::Lock`]; [`Error::Invalid`] when the existing
/// file is not a changes file (it is then left as it is);
/// [`Error::Write`] or [`Error::ReadBack`].
pub fn record_return(switchfile: &Path, entry: Return) -> Result<Option<ChangesFile>, Error> {
    if entry.changes.is_empty() {
        return Ok(None);
    }
    let _lock = lock_changes(switchfile)?;
    let path = changes_path(switchfile);
    let mut file = read_optional(&path, "changes file")?.unwrap_or(ChangesFile {
        version: CHANGES_VERSION,
        returns: Vec::new(),
    });
    file.returns.push(entry);
    write_checked(&path, &file, "changes file")?;
    Ok(Some(file))
}

/// Acknowledge every change listed: remove the changes file under the lock
/// and check it is gone; returns what was acknowledged (`None`: nothing
/// was listed).
///
/// # Errors
///
/// [`Error::Lock`], [`Error::Read`],
/// [`Error::Invalid`] (an invalid file is not removed: look at it
/// first), [`Error::Write`] or [`Error::ReadBack`].
pub fn acknowledge(switchfile: &Path) -> Result<Option<ChangesFile>, Error> {
    let _lock = lock_changes(switchfile)?;
    let path = changes_path(switchfile);
    let Some(file) = read_optional::<ChangesFile>(&path, "changes file")? else {
        return Ok(None);
    };
    remove_optional(&path)?;
    if std::fs::symlink_metadata(&path).is_ok() {
        return Err(Error::ReadBack {
            path,
            detail: "it still exists after removal".into(),
        });
    }
    Ok(Some(file))
}

pub(crate) fn read_optional<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<Option<T>, Error> {
    let bytes = match bouture_fs::read_bounded(path, FILE_SIZE_LIMIT, Links::Refuse) {
        Ok(bytes) => bytes,
        Err(error) if error.is_not_found() => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    strict_json::from_slice(&bytes)
        .map(Some)
        .map_err(|reason| Error::Invalid {
            path: path.to_path_buf(),
            what,
            reason,
        })
}

pub(crate) fn write_checked<T>(path: &Path, value: &T, what: &'static str) -> Result<(), Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq,
{
    bouture_fs::write_atomic_with(path, MODE, None, |out| {
        serde_json::to_writer_pretty(&mut *out, value)?;
        out.write_all(b"\n")
    })?;
    match read_optional::<T>(path, what) {
        Ok(Some(read)) if read == *value => Ok(()),
        Ok(Some(_)) => Err(Error::ReadBack {
            path: path.to_path_buf(),
            detail: "its content differs".into(),
        }),
        Ok(None) => Err(Error::ReadBack {
            path: path.to_path_buf(),
            detail: "it is missing".into(),
        }),
        Err(error) => Err(Error::ReadBack {
            path: path.to_path_buf(),
            detail: error.to_string(),
        }),
    }
}

fn remove_optional(path: &Path) -> Result<bool, Error> {
    Ok(bouture_fs::remove_if_exists(path)?)
}

/// Take the exclusive lock on `SWITCHFILE.changes.lock` (a [`FileLock`]:
/// never through a symbolic link, not inherited by programs started
/// meanwhile), held while the changes file is read and replaced; another
/// writer is waited for up to [`LOCK_TIMEOUT`].
pub(crate) fn lock_changes(switchfile: &Path) -> Result<FileLock, Error> {
    FileLock::lock_file(&lock_path(switchfile), Wait::UpTo(LOCK_TIMEOUT)).map_err(Error::Lock)
}

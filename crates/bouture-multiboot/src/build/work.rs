//! The build's work directory, beside the first output: locked while the
//! build runs and removed when it ends, whether it succeeds, fails or is
//! stopped by a signal (the caller's cancel flag). One left by a build that
//! was killed outright (SIGKILL, a power cut) is found by the next build in
//! the same directory (its lock is free) and removed, with the unfinished
//! outputs it lists.

use std::path::{Path, PathBuf};

use bouture_fs::{FileLock, Staged, Wait};

use crate::error::{Error, io};

/// Names of work directories in use.
const PREFIX: &str = ".bouture-build-";
/// Names of work directories being set up (not yet locked).
const NEW_PREFIX: &str = ".bouture-new-";
const LOCK: &str = "lock";
const STAGED: &str = "staged";
const STAGED_LIMIT: u64 = 1024 * 1024;

/// A locked work directory, removed on drop.
pub(super) struct Work {
    path: PathBuf,
    lock: Option<FileLock>,
}

impl Work {
    /// Create and lock a work directory in `parent`.
    pub(super) fn create(parent: &Path) -> Result<Self, Error> {
        let fresh = tempfile::Builder::new()
            .prefix(NEW_PREFIX)
            .tempdir_in(parent)
            .map_err(io(parent, "cannot create a work directory"))?;
        let lock = FileLock::lock_file(&fresh.path().join(LOCK), Wait::NO).map_err(|error| {
            io(fresh.path(), "cannot lock the work directory")(std::io::Error::other(
                error.to_string(),
            ))
        })?;
        let name = fresh
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().replacen(NEW_PREFIX, PREFIX, 1))
            .unwrap_or_default();
        let path = parent.join(name);
        std::fs::rename(fresh.path(), &path).map_err(io(&path, "cannot create"))?;
        // Renamed: the old name no longer exists.
        let _ = fresh.keep();
        Ok(Self {
            path,
            lock: Some(lock),
        })
    }

    /// The directory.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Make the unfinished outputs, beside each output, named after this
    /// work directory: their directories are recorded first, so that a
    /// later build finds and removes them if this one is killed, even
    /// between the record and the files.
    pub(super) fn stage(&self, outputs: &[&Path]) -> Result<Vec<Staged>, Error> {
        let mut text = String::new();
        for output in outputs {
            let dir = match output.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            let dir = dir.canonicalize().map_err(io(dir, "cannot resolve"))?;
            text.push_str(&dir.to_string_lossy());
            text.push('\n');
        }
        bouture_fs::write_atomic(&self.path.join(STAGED), text.as_bytes(), 0o600, None)?;
        let id = self.id();
        outputs
            .iter()
            .map(|output| Ok(Staged::tagged(output, &id)?))
            .collect()
    }

    /// What makes this directory's name unique.
    fn id(&self) -> String {
        id_of(&self.path)
    }

    /// Remove the work directories of builds killed before they could, in
    /// `parent` (ours excepted, and those of running builds, which hold
    /// their lock), and the unfinished outputs they list. Returns the
    /// directories removed.
    pub(super) fn clean_stale(&self, parent: &Path) -> Vec<PathBuf> {
        use std::os::unix::fs::MetadataExt;
        let Ok(ours) = std::fs::symlink_metadata(&self.path) else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            return Vec::new();
        };
        let mut removed = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path == self.path || !entry.file_name().to_string_lossy().starts_with(PREFIX) {
                continue;
            }
            // A real directory of ours, never a link to one.
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if !metadata.is_dir() || metadata.uid() != ours.uid() {
                continue;
            }
            // A running build holds its lock: only a free one is stale.
            let Ok(lock) = FileLock::lock_file(&path.join(LOCK), Wait::NO) else {
                continue;
            };
            remove_listed(&path.join(STAGED), &id_of(&path));
            if std::fs::remove_dir_all(&path).is_ok() {
                removed.push(path);
            }
            drop(lock);
        }
        removed
    }
}

/// The unique part of a work directory's name.
fn id_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().trim_start_matches(PREFIX).to_owned())
        .unwrap_or_default()
}

/// Remove the unfinished outputs of a stale work directory: in the
/// directories it lists, the hidden regular files named
/// `.<output>.<id>.<random>.tmp`, nothing else.
fn remove_listed(list: &Path, id: &str) {
    if id.is_empty() {
        return;
    }
    let Ok(text) = bouture_fs::read_bounded(list, STAGED_LIMIT, bouture_fs::Links::Refuse) else {
        return;
    };
    let tag = format!(".{id}.");
    for line in String::from_utf8_lossy(&text).lines() {
        let Ok(entries) = std::fs::read_dir(line) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.starts_with('.')
                && name.contains(&tag)
                && path.extension().is_some_and(|e| e == "tmp")
                && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            {
                let _ = bouture_fs::remove_if_exists(&path);
            }
        }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        drop(self.lock.take());
    }
}

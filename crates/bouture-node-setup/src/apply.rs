//! Writing the plan: each file atomically, everything put back if one
//! fails, then read back.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bouture_fs::{FileLock, Links, LockError, Wait, read_bounded, write_atomic};

use crate::error::Error;
use crate::plan::{Plan, PlannedWrite};

/// An exclusive lock on the data directory (a [`bouture_fs::FileLock`] on
/// the directory itself, so that nothing is created in it): two node setups
/// never run on the same directory at once. Released when dropped.
#[derive(Debug)]
pub struct DataDirLock {
    _lock: FileLock,
}

impl DataDirLock {
    /// Take the lock without waiting.
    ///
    /// # Errors
    ///
    /// [`Error::DataDir`] if `dir` is not a directory that can be opened,
    /// [`Error::Busy`] if another run holds the lock.
    pub fn acquire(dir: &Path) -> Result<Self, Error> {
        let data_dir = |reason: String| Error::DataDir {
            path: dir.to_path_buf(),
            reason,
        };
        match FileLock::directory(dir, Wait::NO) {
            Ok(lock) => Ok(Self { _lock: lock }),
            Err(LockError::Busy { .. }) => Err(Error::Busy {
                path: dir.to_path_buf(),
            }),
            Err(LockError::NotDirectory { .. }) => Err(data_dir("is not a directory".to_owned())),
            Err(LockError::Io { source, .. }) => {
                Err(data_dir(format!("cannot be used ({source})")))
            }
            Err(other) => Err(data_dir(format!("cannot be locked ({other})"))),
        }
    }
}

impl Plan {
    /// Write every file of the plan, in order, each atomically (temporary
    /// file in the same directory, flushed, renamed, directory flushed).
    ///
    /// If one fails, the files already written are put back as they were
    /// (previous contents, mode, owner; created files removed), so the
    /// directory is as before; the error says so, or lists what could not be
    /// put back. Then every file is read back and compared.
    ///
    /// # Errors
    ///
    /// [`Error::Write`] (after restoring), [`Error::ReadBack`].
    pub fn apply(&self) -> Result<(), Error> {
        let mut done: Vec<&PlannedWrite> = Vec::new();
        for write in &self.writes {
            if let Err(source) =
                write_atomic(&write.path, write.contents(), write.mode, write.owner)
            {
                let (restored, unrestored) = restore(&done);
                return Err(Error::Write {
                    source,
                    restored,
                    unrestored,
                });
            }
            done.push(write);
        }
        self.writes.iter().try_for_each(read_back)
    }
}

/// Put back what `done` changed, last first.
fn restore(done: &[&PlannedWrite]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut restored = Vec::new();
    let mut unrestored = Vec::new();
    for write in done.iter().rev() {
        let result = match &write.previous {
            Some(previous) => write_atomic(
                &write.path,
                &previous.contents,
                previous.mode,
                Some(previous.owner),
            )
            .map_err(|error| error.to_string()),
            None => remove(&write.path).map_err(|error| error.to_string()),
        };
        match result {
            Ok(()) => restored.push(write.path.clone()),
            Err(why) => unrestored.push((write.path.clone(), why)),
        }
    }
    (restored, unrestored)
}

fn remove(path: &Path) -> std::io::Result<()> {
    fs::remove_file(path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read_back(write: &PlannedWrite) -> Result<(), Error> {
    let fail = |reason: String| Error::ReadBack {
        path: write.path.clone(),
        reason,
    };
    let limit = u64::try_from(write.contents().len()).unwrap_or(u64::MAX);
    let bytes =
        read_bounded(&write.path, limit, Links::Refuse).map_err(|error| fail(error.to_string()))?;
    if bytes != write.contents() {
        return Err(fail("its contents differ from what was written".to_owned()));
    }
    let mode = fs::symlink_metadata(&write.path)
        .map_err(|error| fail(error.to_string()))?
        .mode()
        & 0o7777;
    if mode != write.mode {
        return Err(fail(format!(
            "its mode is {mode:04o}, not {:04o}",
            write.mode
        )));
    }
    Ok(())
}

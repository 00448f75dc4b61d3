//! A pidfile that holds a lock for as long as it is held.
//!
//! [`PidfileLock::acquire`] opens (or creates) the file, takes an exclusive,
//! non-blocking `flock` on it and writes the process id into it. A second
//! process gets [`PidfileError::Busy`] at once, with the holder's pid. The
//! lock is released when the [`PidfileLock`] is dropped or the process dies
//! (the kernel drops it): a stale pidfile never blocks a run. The file is
//! opened close-on-exec, so programs started meanwhile (and daemons they
//! leave behind) do not inherit the lock.
//!
//! The file is emptied, not removed, on release: removing a locked file lets
//! a waiting process lock the removed file while a third creates a new one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A held pidfile lock.
#[derive(Debug)]
pub struct PidfileLock {
    file: File,
    path: PathBuf,
}

/// Another process holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "another run holds the lock on {}{}; it is still running, so this run does nothing",
    path.display(),
    pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
)]
#[non_exhaustive]
pub struct Busy {
    /// The pidfile.
    pub path: PathBuf,
    /// The pid it holds, when readable.
    pub pid: Option<u32>,
}

/// The pidfile lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PidfileError {
    /// Another process holds the lock.
    #[error(transparent)]
    Busy(Busy),
    /// The file cannot be opened, locked or written.
    #[error("cannot use the pidfile {}: {source}; check its directory exists and is writable", path.display())]
    Io {
        /// The pidfile.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl PidfileLock {
    /// Take the lock on `path` and write our pid into it, or fail at once.
    pub fn acquire(path: &Path) -> Result<Self, PidfileError> {
        let io_error = |source| PidfileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(PidfileError::Busy(Busy {
                    path: path.to_path_buf(),
                    pid,
                }));
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io_error(error)),
        }
        file.set_len(0).map_err(io_error)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        writeln!(file, "{}", std::process::id()).map_err(io_error)?;
        file.flush().map_err(io_error)?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The pidfile.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidfileLock {
    fn drop(&mut self) {
        // Best effort: the kernel releases the lock anyway when the file closes.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.pid");
        let first = PidfileLock::acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        match PidfileLock::acquire(&path) {
            Err(PidfileError::Busy(busy)) => assert_eq!(busy.pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        PidfileLock::acquire(&path).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let error = PidfileLock::acquire(Path::new("/nonexistent-dir/x.pid")).unwrap_err();
        assert!(matches!(error, PidfileError::Io { .. }), "{error}");
    }
}

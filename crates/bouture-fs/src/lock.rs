//! A lock file that says who holds it.
//!
//! [`PidLock::acquire`] opens (or creates, mode 0600) the file without
//! following a symbolic link at its last component, without blocking (a FIFO
//! cannot hang it) and close-on-exec (programs started meanwhile do not
//! inherit the lock), refuses anything but a regular file, takes an
//! exclusive, non-blocking `flock` on it and writes the process id into it. A
//! second process gets [`LockError::Busy`] at once, with the holder's pid
//! when it can be read. The lock is released when the [`PidLock`] is dropped
//! or the process dies (the kernel drops it), so a stale file never blocks a
//! run.
//!
//! The file is emptied, not removed, on release: removing a locked file lets
//! a waiting process lock the removed file while a third creates a new one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The most read from a busy lock file to find its holder's pid.
const PID_LIMIT: u64 = 32;

/// A held lock; released (and the file emptied) on drop.
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds the lock.
    #[error(
        "another run holds the lock on {}{}; it is still running, so this run does nothing",
        path.display(),
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid, when the file names one.
        pid: Option<u32>,
    },
    /// The path exists and is not a regular file (a symbolic link, a FIFO, a
    /// directory...): it is not used, and not replaced.
    #[error("cannot use {} as a lock file: it is {kind}", path.display())]
    NotRegular {
        /// The lock file.
        path: PathBuf,
        /// What it is, as [`describe`](crate::describe) says.
        kind: &'static str,
    },
    /// The file cannot be opened, locked or written.
    #[error("cannot use the lock file {}: {source}; check its directory exists and is writable", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl PidLock {
    /// Take the lock on `path` and write our pid into it, or fail at once.
    ///
    /// ```
    /// use bouture_fs::{LockError, PidLock};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("lock");
    /// let held = PidLock::acquire(&path)?;
    /// // Busy while held (flock locks are per open file, so this holds within
    /// // one process too), with the holder's pid.
    /// let pid = std::process::id();
    /// assert!(matches!(PidLock::acquire(&path), Err(LockError::Busy { pid: Some(p), .. }) if p == pid));
    /// drop(held);
    /// PidLock::acquire(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acquire(path: &Path) -> Result<Self, LockError> {
        let io_error = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|source| {
                // O_NOFOLLOW fails with ELOOP on a link; a FIFO without a
                // reader with ENXIO; name what is there rather than errno.
                match std::fs::symlink_metadata(path) {
                    Ok(meta) if !meta.file_type().is_file() => LockError::NotRegular {
                        path: path.to_path_buf(),
                        kind: crate::describe(meta.file_type()),
                    },
                    _ => io_error(source),
                }
            })?;
        let kind = file.metadata().map_err(io_error)?.file_type();
        if !kind.is_file() {
            return Err(LockError::NotRegular {
                path: path.to_path_buf(),
                kind: crate::describe(kind),
            });
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(LockError::Busy {
                    path: path.to_path_buf(),
                    pid: holder(&file),
                });
            }
            Err(std::fs::TryLockError::Error(error)) => return Err(io_error(error)),
        }
        // Held from here: dropping `lock` empties the file and unlocks it.
        let mut lock = Self {
            file,
            path: path.to_path_buf(),
        };
        lock.write_pid().map_err(io_error)?;
        Ok(lock)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_pid(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        writeln!(self.file, "{}", std::process::id())?;
        self.file.flush()
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // A `PidLock` exists only while its lock is held. Best effort:
        // the kernel releases the lock anyway when the file closes.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The pid written in a lock file, read from its start, bounded.
fn holder(file: &File) -> Option<u32> {
    let mut text = String::new();
    let mut reader = file;
    reader.seek(SeekFrom::Start(0)).ok()?;
    reader.take(PID_LIMIT).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = PidLock::acquire(&path).unwrap();
        assert_eq!(first.path(), path);
        let pid = std::process::id().to_string();
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), pid);
        match PidLock::acquire(&path) {
            Err(LockError::Busy {
                pid: Some(held), ..
            }) => {
                assert_eq!(held, std::process::id());
            }
            other => panic!("{other:?}"),
        }
        // The refused attempt leaves the holder's pid in place.
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), pid);
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        let again = PidLock::acquire(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), pid);
        drop(again);
    }

    #[test]
    fn a_new_lock_file_is_private_and_a_stale_pid_is_replaced() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        drop(PidLock::acquire(&path).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A pid left by a process that died (its lock went with it).
        std::fs::write(&path, "999999999999 and garbage after\n").unwrap();
        let _held = PidLock::acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
    }

    #[test]
    fn a_busy_file_without_a_readable_pid_is_busy_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = PidLock::acquire(&path).unwrap();
        // The holder's pid is replaced by something that is not one.
        std::fs::write(&path, "x".repeat(1000)).unwrap();
        assert!(matches!(
            PidLock::acquire(&path),
            Err(LockError::Busy { pid: None, .. })
        ));
        drop(held);
    }

    #[test]
    fn links_fifos_and_directories_are_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "precious\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo (coreutils) is needed");
        for (path, kind) in [
            (&link, "a symbolic link"),
            (&fifo, "a FIFO"),
            (&dir.path().to_path_buf(), "a directory"),
        ] {
            match PidLock::acquire(path) {
                Err(LockError::NotRegular { kind: found, .. }) => assert_eq!(found, kind),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        // A dangling link is not followed to create its target either.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            PidLock::acquire(&dangling),
            Err(LockError::NotRegular { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let error = PidLock::acquire(Path::new("/nonexistent-dir/x.lock")).unwrap_err();
        assert!(matches!(error, LockError::Io { .. }), "{error}");
    }
}

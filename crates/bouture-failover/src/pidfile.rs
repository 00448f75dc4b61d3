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
//!
//! The Python `slapos bouture failover` takes no `flock`: it writes its pid
//! into the file and refuses to run while the file names a live process
//! whose command line contains `slapos`. [`PidfileLock::acquire`] honours
//! that too, so that both tools can share one PIDFILE while an operator
//! replaces one by the other: a run of either never overlaps a run of the
//! other.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
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
        // Never through a symbolic link: a link to a file that does not exist
        // yet (the node's `pidfile_instance`, say) would be created with our
        // pid in it, and `slapos node instance` would then refuse to run.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(|error| {
                if error.raw_os_error() == Some(libc::ELOOP) {
                    io_error(io::Error::other(
                        "it is a symbolic link, refused: give the file itself",
                    ))
                } else {
                    io_error(error)
                }
            })?;
        match file.metadata() {
            Ok(metadata) if !metadata.is_file() => {
                return Err(io_error(io::Error::other(format!(
                    "it is {}, not a regular file",
                    bouture_fs::describe(metadata.file_type())
                ))));
            }
            Ok(_) => {}
            Err(error) => return Err(io_error(error)),
        }
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
        if let Some(pid) = legacy_holder(&mut file) {
            return Err(PidfileError::Busy(Busy {
                path: path.to_path_buf(),
                pid: Some(pid),
            }));
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

/// The pid the file names, when it is another live process whose command
/// line contains `slapos` (how the Python tool tells that a run holds it).
fn legacy_holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    Read::by_ref(file).take(64).read_to_string(&mut text).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    if pid == std::process::id() || pid == 0 {
        return None;
    }
    let mut cmdline = Vec::new();
    File::open(format!("/proc/{pid}/cmdline"))
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut cmdline)
        .ok()?;
    cmdline
        .windows(b"slapos".len())
        .any(|window| window == b"slapos")
        .then_some(pid)
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
    fn a_live_python_run_named_in_the_file_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.pid");
        // A live process whose command line contains `slapos`, as the Python
        // tool's is, named in the file (the Python tool takes no flock).
        // (`read` is a builtin: the shell itself waits, no child.)
        let mut python = std::process::Command::new("sh")
            .args(["-c", "read line", "slapos-bouture-failover"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Its command line is readable once the shell has started.
        let cmdline = format!("/proc/{}/cmdline", python.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !std::fs::read(&cmdline)
            .unwrap_or_default()
            .windows(6)
            .any(|w| w == b"slapos")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the shell did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::write(&path, format!("{}\n", python.id())).unwrap();
        match PidfileLock::acquire(&path) {
            Err(PidfileError::Busy(busy)) => assert_eq!(busy.pid, Some(python.id())),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            python.id().to_string(),
            "left as it was"
        );
        python.kill().unwrap();
        python.wait().unwrap();
        // Gone: a stale pid does not hold it.
        PidfileLock::acquire(&path).unwrap();
        // Nor does a live process that is not slapos.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&path, format!("{}\n", other.id())).unwrap();
        PidfileLock::acquire(&path).unwrap();
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("slapgrid-cp.pid");
        let link = dir.path().join("failover.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = PidfileLock::acquire(&link).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(!target.exists());
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let error = PidfileLock::acquire(&dir.path().join("d")).unwrap_err();
        assert!(error.to_string().contains("a directory"), "{error}");
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let error = PidfileLock::acquire(Path::new("/nonexistent-dir/x.pid")).unwrap_err();
        assert!(matches!(error, PidfileError::Io { .. }), "{error}");
    }
}

//! The failover's pidfile: a [`bouture_fs::PidLock`] that also honours the
//! Python tool.
//!
//! [`acquire`] takes the lock on the file without waiting (a second run gets
//! [`PidfileError::Busy`] at once, with the holder's pid) and writes our pid
//! into it; the lock goes with the run (or the process), and the file is
//! emptied, not removed, on release. See [`bouture_fs::PidLock`] for how the
//! file is opened (never through a symbolic link: a link to a file that does
//! not exist yet, the node's `pidfile_instance` say, would be created with our
//! pid in it, and `slapos node instance` would then refuse to run).
//!
//! The Python `slapos bouture failover` takes no `flock`: it writes its pid
//! into the file and refuses to run while the file names a live process
//! whose command line contains `slapos`. [`acquire`] honours that too (the
//! check [`bouture_fs::PidLock::acquire_with`] runs once the lock is held and
//! before our pid replaces the one in the file), so that both tools can share
//! one PIDFILE while an operator replaces one by the other: a run of either
//! never overlaps a run of the other.

use std::path::{Path, PathBuf};

use bouture_fs::{Links, LockError, PidLock, Wait};

/// The most read of a process's command line to tell whether it is slapos.
const CMDLINE_LIMIT: u64 = 1024 * 1024;

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

/// The pidfile names a live `slapos` process: a run of the Python
/// `slapos bouture failover`, which takes no `flock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("it names pid {pid}, a running slapos process (the Python failover takes no lock)")]
#[non_exhaustive]
pub struct PythonRun {
    /// The Python run's pid.
    pub pid: u32,
}

/// The pidfile lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PidfileError {
    /// Another run (of bouture, or of the Python tool) holds the lock.
    #[error(transparent)]
    Busy(Busy),
    /// The file cannot be used: not a regular file, or it cannot be opened,
    /// created, locked or written (never [`LockError::Busy`] nor
    /// [`LockError::Refused`]: those are [`PidfileError::Busy`]).
    #[error(transparent)]
    Unusable(LockError<PythonRun>),
}

/// Take the lock on `path` and write our pid into it, or fail at once.
///
/// # Errors
///
/// [`PidfileError::Busy`] while another run holds it, with its pid;
/// [`PidfileError::Unusable`] otherwise.
pub fn acquire(path: &Path) -> Result<PidLock, PidfileError> {
    PidLock::acquire_with(path, Wait::NO, &mut |_| {}, python_run).map_err(|error| match error {
        LockError::Busy { path, pid, .. } => PidfileError::Busy(Busy { path, pid }),
        LockError::Refused { path, reason } => PidfileError::Busy(Busy {
            path,
            pid: Some(reason.pid),
        }),
        other => PidfileError::Unusable(other),
    })
}

/// Refuse when `previous` (the pid the file names) is another live process
/// whose command line contains `slapos` (how the Python tool tells that a
/// run holds it).
fn python_run(previous: Option<u32>) -> Result<(), PythonRun> {
    let Some(pid) = previous.filter(|&pid| pid != std::process::id() && pid != 0) else {
        return Ok(());
    };
    let cmdline = Path::new("/proc").join(pid.to_string()).join("cmdline");
    let Ok(cmdline) = bouture_fs::read_bounded(&cmdline, CMDLINE_LIMIT, Links::Refuse) else {
        return Ok(());
    };
    if cmdline
        .windows(b"slapos".len())
        .any(|window| window == b"slapos")
    {
        Err(PythonRun { pid })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failover.pid");
        let first = acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            std::process::id().to_string()
        );
        match acquire(&path) {
            Err(PidfileError::Busy(busy)) => assert_eq!(busy.pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        drop(first);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        acquire(&path).unwrap();
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
        match acquire(&path) {
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
        drop(acquire(&path).unwrap());
        // Nor does a live process that is not slapos.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&path, format!("{}\n", other.id())).unwrap();
        acquire(&path).unwrap();
        other.kill().unwrap();
        other.wait().unwrap();
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("slapgrid-cp.pid");
        let link = dir.path().join("failover.pid");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let error = acquire(&link).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert!(!target.exists());
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let error = acquire(&dir.path().join("d")).unwrap_err();
        assert!(error.to_string().contains("a directory"), "{error}");
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let error = acquire(Path::new("/nonexistent-dir/x.pid")).unwrap_err();
        assert!(
            matches!(error, PidfileError::Unusable(LockError::Io { .. })),
            "{error}"
        );
    }
}

//! The node-wide graft lock: one graft of a node at a time.
//!
//! Two grafts of the same node at once (two `bouture graft`, or one inside `bouture failover`)
//! interleave their wipes, registrations and requests on the master — which then holds
//! duplicated addresses or misplaced instances while both report success — and race on the
//! partitions' `.timestamp` files. So every graft holds an exclusive `flock` on
//! **`<instance_root>/.bouture-graft.lock`** ([`NodeLock::path_for`]) from before it reads the
//! node until after it has read the master's state back.
//!
//! The lock file lives in the instance root because that is what identifies a node's
//! partitions, whichever configuration file or master URL a graft is given; it is created with
//! mode 0600, never through a symbolic link, and holds the pid of the graft that has it. It is
//! emptied, not removed, on release (removing a locked file would let a third graft lock a new
//! file while a second waits on the old one). The kernel drops the lock when the process dies,
//! so a stale file never blocks a graft.
//!
//! A second graft **waits** for the lock, up to the bound its caller gives
//! ([`NodeLock::acquire`]; `bouture` waits [`DEFAULT_LOCK_WAIT`]), then gives up with
//! [`LockError::Busy`], which names the file and the holder's pid.

use std::convert::Infallible;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bouture_fs::{PidLock, Wait};

/// Name of the lock file in the instance root.
pub const LOCK_FILE_NAME: &str = ".bouture-graft.lock";

/// How long `bouture graft` and `bouture failover` wait for another graft of the node.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_mins(5);

/// The held lock (a [`bouture_fs::PidLock`] on the node's lock file);
/// released on drop (or when the process ends).
#[derive(Debug)]
pub struct NodeLock {
    lock: PidLock,
}

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another graft of this node held the lock for the whole wait.
    #[error(
        "another graft of this node is running{} (it holds the lock {}); waited {} s for it to finish: try again when it is done",
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
        path.display(),
        waited.as_secs()
    )]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// The pid of the graft holding it, when readable.
        pid: Option<u32>,
        /// How long this graft waited.
        waited: Duration,
    },
    /// The lock file cannot be opened, locked or written.
    #[error(
        "cannot use the graft lock {}: {source} (it must be a regular file, not a symbolic link, in a writable instance root)",
        path.display()
    )]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl NodeLock {
    /// The lock file of the node whose instance root is `instance_root`.
    pub fn path_for(instance_root: &Path) -> PathBuf {
        instance_root.join(LOCK_FILE_NAME)
    }

    /// Take the lock of the node whose instance root is `instance_root`, waiting up to `wait`
    /// for another graft to release it. `on_wait` is called once, with the holder's pid,
    /// when the lock is busy at first (to tell the user why nothing happens).
    pub fn acquire(
        instance_root: &Path,
        wait: Duration,
        on_wait: &mut dyn FnMut(&Path, Option<u32>),
    ) -> Result<Self, LockError> {
        let path = Self::path_for(instance_root);
        let on_busy = &mut |pid| on_wait(&path, pid);
        match PidLock::acquire_with(&path, Wait::UpTo(wait), on_busy, |_| {
            Ok::<(), Infallible>(())
        }) {
            Ok(lock) => Ok(Self { lock }),
            Err(bouture_fs::LockError::Busy { pid, waited, .. }) => {
                Err(LockError::Busy { path, pid, waited })
            }
            Err(bouture_fs::LockError::Io { source, .. }) => Err(LockError::Io { path, source }),
            Err(bouture_fs::LockError::NotRegular { kind, .. }) => Err(LockError::Io {
                path,
                source: io::Error::other(format!("it is {kind}")),
            }),
            Err(other) => Err(LockError::Io {
                path,
                source: io::Error::other(other.to_string()),
            }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_graft_waits_then_gives_up_naming_the_holder() {
        let root = tempfile::tempdir().unwrap();
        let first = NodeLock::acquire(root.path(), Duration::ZERO, &mut |_, _| {}).unwrap();
        let mut waited_for = None;
        let err = NodeLock::acquire(root.path(), Duration::from_millis(300), &mut |_, pid| {
            waited_for = Some(pid);
        })
        .unwrap_err();
        assert_eq!(waited_for, Some(Some(std::process::id())));
        let LockError::Busy { pid, waited, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*pid, Some(std::process::id()));
        assert!(*waited >= Duration::from_millis(300));
        let message = err.to_string();
        assert!(message.contains(".bouture-graft.lock"), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(first);
        NodeLock::acquire(root.path(), Duration::ZERO, &mut |_, _| {}).unwrap();
    }

    #[test]
    fn a_waiting_graft_gets_the_lock_when_released() {
        let root = tempfile::tempdir().unwrap();
        let first = NodeLock::acquire(root.path(), Duration::ZERO, &mut |_, _| {}).unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        NodeLock::acquire(root.path(), Duration::from_secs(10), &mut |_, _| {}).unwrap();
        releaser.join().unwrap();
    }

    #[test]
    fn a_symbolic_link_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("elsewhere");
        std::os::unix::fs::symlink(&target, NodeLock::path_for(root.path())).unwrap();
        let err = NodeLock::acquire(root.path(), Duration::ZERO, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
        assert!(!target.exists());
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let root = tempfile::tempdir().unwrap();
        bouture_test_support::mkfifo(&NodeLock::path_for(root.path())).unwrap();
        let err = NodeLock::acquire(root.path(), Duration::ZERO, &mut |_, _| {}).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let lock = NodeLock::acquire(root.path(), Duration::ZERO, &mut |_, _| {}).unwrap();
        let mode = std::fs::metadata(lock.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

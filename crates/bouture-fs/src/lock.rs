//! Locks: the one `flock` of every bouture command that changes state.
//!
//! [`FileLock`] holds an advisory `flock` on an open file or directory, and
//! gives the open handle to the holder. It is taken on:
//!
//! - a **lock file** ([`FileLock::lock_file`]): opened or created (mode 0600),
//!   exclusive, nothing written in it;
//! - an **existing regular file** changed or read in place
//!   ([`FileLock::existing`]): exclusive and read-write to change it, shared
//!   and read-only to read it;
//! - a **directory** ([`FileLock::directory`]): exclusive, so that nothing is
//!   created in it (the directory is the caller's own argument: a symbolic
//!   link to a directory is followed, as `cd` would).
//!
//! Files are opened without following a symbolic link at their last
//! component, without blocking (a FIFO cannot hang the open) and
//! close-on-exec (programs started meanwhile do not inherit the lock), and
//! refused unless they are regular files ([`LockError::NotRegular`]); nothing
//! that is there is replaced.
//!
//! [`PidLock`] is a lock file that says who holds it: the holder's pid is
//! written in it once locked, a refused process reads it back
//! ([`LockError::Busy`]`{ pid, .. }`), and the file is emptied, not removed,
//! on release (removing a locked file lets a waiting process lock the removed
//! file while a third creates a new one). [`PidLock::acquire_with`] runs a
//! check of the caller's between taking the lock and writing the pid, which
//! may refuse the lock with a typed reason ([`LockError::Refused`]).
//!
//! A lock that another process holds is waited for as [`Wait`] says: not at
//! all, up to a bound (tried again every 50 ms), or until it is released.
//! The kernel drops a lock when its holder dies, so a stale file never blocks
//! a run.

use std::convert::Infallible;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most read from a busy lock file to find its holder's pid.
const PID_LIMIT: u64 = 32;

/// How often a waiting process tries a busy lock again.
const POLL: Duration = Duration::from_millis(50);

/// How long to wait for a lock another process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Try again every 50 ms for up to this long, then give up with
    /// [`LockError::Busy`]. [`Wait::NO`] gives up at once.
    UpTo(Duration),
    /// Block until the holder releases the lock: only for locks that
    /// bouture's own processes hold for a short, bounded piece of work.
    Forever,
}

impl Wait {
    /// Do not wait: a busy lock is [`LockError::Busy`] at once.
    pub const NO: Self = Self::UpTo(Duration::ZERO);
}

/// Who else may hold the lock at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Other shared holders, no exclusive one (readers).
    Shared,
    /// No other holder (a writer).
    Exclusive,
}

/// A held `flock` on an open file or directory; released when dropped (or
/// when the process ends).
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

/// A held lock file with the holder's pid in it; emptied and released when
/// dropped.
#[derive(Debug)]
pub struct PidLock {
    lock: FileLock,
}

/// The lock could not be taken. `R` is the reason a [`PidLock::acquire_with`]
/// check gives to refuse it (none otherwise).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError<R = Infallible> {
    /// Another process holds the lock (and held it for the whole wait).
    #[error("{}", busy_message(path, *pid, *waited))]
    Busy {
        /// The locked file or directory.
        path: PathBuf,
        /// The holder's pid, when the lock file names one.
        pid: Option<u32>,
        /// How long this process waited for it (zero when it did not wait).
        waited: Duration,
    },
    /// The path is not a regular file (a symbolic link, a FIFO, a
    /// directory...): it is not used, and not replaced.
    #[error("cannot lock {}: it is {kind}, not a regular file", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is, as [`describe`](crate::describe) says.
        kind: &'static str,
    },
    /// The path given to [`FileLock::directory`] is not a directory.
    #[error("cannot lock {}: it is {kind}, not a directory", path.display())]
    NotDirectory {
        /// The path.
        path: PathBuf,
        /// What it is, as [`describe`](crate::describe) says.
        kind: &'static str,
    },
    /// The file cannot be opened, created, locked or written.
    #[error("cannot lock {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The check given to [`PidLock::acquire_with`] refused the lock (the
    /// file was left as it was).
    #[error("the lock on {} is refused: {reason}", path.display())]
    Refused {
        /// The lock file.
        path: PathBuf,
        /// The check's reason.
        reason: R,
    },
}

fn busy_message(path: &Path, pid: Option<u32>, waited: Duration) -> String {
    let pid = pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default();
    if waited.is_zero() {
        format!(
            "another run holds the lock on {}{pid}; it is still running, so this run does nothing",
            path.display()
        )
    } else {
        format!(
            "another run held the lock on {}{pid} for the {} s this run waited; try again when it is done",
            path.display(),
            waited.as_secs()
        )
    }
}

impl LockError {
    /// The same error, as one of a lock whose check refuses with `R`.
    fn widen<R>(self) -> LockError<R> {
        match self {
            Self::Busy { path, pid, waited } => LockError::Busy { path, pid, waited },
            Self::NotRegular { path, kind } => LockError::NotRegular { path, kind },
            Self::NotDirectory { path, kind } => LockError::NotDirectory { path, kind },
            Self::Io { path, source } => LockError::Io { path, source },
            Self::Refused { reason, .. } => match reason {},
        }
    }
}

/// What is opened to be locked.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// A lock file, created (mode 0600) if missing.
    LockFile,
    /// An existing regular file.
    Existing,
    /// An existing regular file or block device (a disk, or its image).
    Disk,
    /// A directory.
    Directory,
}

impl FileLock {
    /// Take an exclusive lock on the lock file `path`, created (mode 0600)
    /// if missing; nothing is written in it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use bouture_fs::{FileLock, LockError, Wait};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("changes.lock");
    /// let held = FileLock::lock_file(&path, Wait::NO)?;
    /// // Busy while held (flock locks are per open file, so this holds within
    /// // one process too), even after a wait.
    /// let busy = FileLock::lock_file(&path, Wait::UpTo(Duration::from_millis(100)));
    /// assert!(matches!(busy, Err(LockError::Busy { pid: None, .. })));
    /// drop(held);
    /// FileLock::lock_file(&path, Wait::NO)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LockError::Busy`], [`LockError::NotRegular`], [`LockError::Io`].
    pub fn lock_file(path: &Path, wait: Wait) -> Result<Self, LockError> {
        Self::take(
            path,
            Target::LockFile,
            Access::Exclusive,
            wait,
            &mut |_| {},
            |_| None,
        )
    }

    /// Lock the existing regular file `path` to work on it in place
    /// ([`FileLock::file`]): [`Access::Exclusive`] opens it for reading and
    /// writing, [`Access::Shared`] for reading only.
    ///
    /// # Errors
    ///
    /// [`LockError::Busy`], [`LockError::NotRegular`], [`LockError::Io`]
    /// (a missing file among others).
    pub fn existing(path: &Path, access: Access, wait: Wait) -> Result<Self, LockError> {
        Self::take(path, Target::Existing, access, wait, &mut |_| {}, |_| None)
    }

    /// Lock the existing disk `path` to work on it in place: a disk image
    /// (a regular file) or a block device such as `/dev/sda`, never through
    /// a symbolic link. [`Access`] as for [`FileLock::existing`]. Every
    /// bouture process changing the disk takes this lock, so they take turns.
    ///
    /// # Errors
    ///
    /// [`LockError::Busy`], [`LockError::NotRegular`] (anything but a
    /// regular file or block device), [`LockError::Io`].
    pub fn disk(path: &Path, access: Access, wait: Wait) -> Result<Self, LockError> {
        Self::take(path, Target::Disk, access, wait, &mut |_| {}, |_| None)
    }

    /// Take an exclusive lock on the directory `path` itself (nothing is
    /// created in it; a symbolic link to a directory is followed).
    ///
    /// ```
    /// use bouture_fs::{FileLock, LockError, Wait};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let held = FileLock::directory(dir.path(), Wait::NO)?;
    /// assert!(matches!(FileLock::directory(dir.path(), Wait::NO), Err(LockError::Busy { .. })));
    /// assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
    /// drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LockError::Busy`], [`LockError::NotDirectory`], [`LockError::Io`]
    /// (a missing directory among others).
    pub fn directory(path: &Path, wait: Wait) -> Result<Self, LockError> {
        Self::take(
            path,
            Target::Directory,
            Access::Exclusive,
            wait,
            &mut |_| {},
            |_| None,
        )
    }

    /// The open file (or directory) the lock is held on.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path locked.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Open `path` as `target` says, then lock it, waiting as `wait` says;
    /// `on_busy` is told once, with the pid `holder` reads, when the lock is
    /// busy at first.
    fn take(
        path: &Path,
        target: Target,
        access: Access,
        wait: Wait,
        on_busy: &mut dyn FnMut(Option<u32>),
        holder: fn(&File) -> Option<u32>,
    ) -> Result<Self, LockError> {
        let file = open(path, target, access)?;
        let io_error = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let started = Instant::now();
        let mut told = false;
        loop {
            let attempt = match access {
                Access::Exclusive => file.try_lock(),
                Access::Shared => file.try_lock_shared(),
            };
            match attempt {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(error)) => return Err(io_error(error)),
            }
            if !told {
                on_busy(holder(&file));
                told = true;
            }
            match wait {
                Wait::Forever => {
                    match access {
                        Access::Exclusive => file.lock(),
                        Access::Shared => file.lock_shared(),
                    }
                    .map_err(io_error)?;
                    break;
                }
                Wait::UpTo(bound) => {
                    let waited = started.elapsed();
                    if waited >= bound {
                        return Err(LockError::Busy {
                            path: path.to_path_buf(),
                            pid: holder(&file),
                            waited: if bound.is_zero() {
                                Duration::ZERO
                            } else {
                                waited
                            },
                        });
                    }
                    std::thread::sleep(POLL.min(bound.saturating_sub(waited)));
                }
            }
        }
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }
}

/// Open `path` for `target`, checking what it is.
fn open(path: &Path, target: Target, access: Access) -> Result<File, LockError> {
    let mut options = OpenOptions::new();
    options.read(true);
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    match target {
        Target::LockFile => {
            options.write(true).create(true).truncate(false).mode(0o600);
            flags |= libc::O_NOFOLLOW;
        }
        Target::Existing | Target::Disk => {
            options.write(access == Access::Exclusive);
            flags |= libc::O_NOFOLLOW;
        }
        Target::Directory => flags |= libc::O_DIRECTORY,
    }
    let wanted = |kind: std::fs::FileType| match target {
        Target::Directory => kind.is_dir(),
        Target::LockFile | Target::Existing => kind.is_file(),
        Target::Disk => kind.is_file() || kind.is_block_device(),
    };
    let wrong_kind = |kind| match target {
        Target::Directory => LockError::NotDirectory {
            path: path.to_path_buf(),
            kind,
        },
        Target::LockFile | Target::Existing | Target::Disk => LockError::NotRegular {
            path: path.to_path_buf(),
            kind,
        },
    };
    let file = options.custom_flags(flags).open(path).map_err(|source| {
        // O_NOFOLLOW fails with ELOOP on a link, a FIFO without a reader
        // with ENXIO, O_DIRECTORY with ENOTDIR: name what is there rather
        // than errno.
        let found = match target {
            Target::Directory => std::fs::metadata(path),
            Target::LockFile | Target::Existing | Target::Disk => std::fs::symlink_metadata(path),
        };
        match found {
            Ok(meta) if !wanted(meta.file_type()) => wrong_kind(crate::describe(meta.file_type())),
            _ => LockError::Io {
                path: path.to_path_buf(),
                source,
            },
        }
    })?;
    // Checked again on the open handle: a file swapped meanwhile is caught.
    let kind = file
        .metadata()
        .map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .file_type();
    if wanted(kind) {
        Ok(file)
    } else {
        Err(wrong_kind(crate::describe(kind)))
    }
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
    /// // Busy while held, with the holder's pid.
    /// let pid = std::process::id();
    /// assert!(matches!(PidLock::acquire(&path), Err(LockError::Busy { pid: Some(p), .. }) if p == pid));
    /// drop(held);
    /// PidLock::acquire(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LockError::Busy`], [`LockError::NotRegular`], [`LockError::Io`].
    pub fn acquire(path: &Path) -> Result<Self, LockError> {
        Self::acquire_with(path, Wait::NO, &mut |_| {}, |_| Ok(()))
    }

    /// Take the lock on `path`, waiting as `wait` says (`on_busy` is told
    /// once, with the holder's pid, when the lock is busy at first, to say
    /// why nothing happens); once it is held, run `check` with the pid the
    /// file names (a previous holder's, alive or not), and write our pid only
    /// if the check agrees.
    ///
    /// ```
    /// use bouture_fs::{LockError, PidLock, Wait};
    ///
    /// /// A holder that takes no lock, only writes its pid.
    /// #[derive(Debug, thiserror::Error)]
    /// #[error("pid {0} holds it without a lock")]
    /// struct Legacy(u32);
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("lock");
    /// std::fs::write(&path, "42\n")?;
    /// let refuse_42 = |pid| match pid {
    ///     Some(42) => Err(Legacy(42)),
    ///     _ => Ok(()),
    /// };
    /// let refused = PidLock::acquire_with(&path, Wait::NO, &mut |_| {}, refuse_42);
    /// assert!(matches!(refused, Err(LockError::Refused { reason: Legacy(42), .. })));
    /// // Left as it was.
    /// assert_eq!(std::fs::read_to_string(&path)?, "42\n");
    ///
    /// std::fs::write(&path, "")?;
    /// let held = PidLock::acquire_with(&path, Wait::NO, &mut |_| {}, refuse_42)?;
    /// assert_eq!(std::fs::read_to_string(&path)?.trim(), std::process::id().to_string());
    /// drop(held);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`LockError::Busy`] (after the wait), [`LockError::Refused`] (by the
    /// check), [`LockError::NotRegular`], [`LockError::Io`].
    pub fn acquire_with<R>(
        path: &Path,
        wait: Wait,
        on_busy: &mut dyn FnMut(Option<u32>),
        check: impl FnOnce(Option<u32>) -> Result<(), R>,
    ) -> Result<Self, LockError<R>> {
        let lock = FileLock::take(
            path,
            Target::LockFile,
            Access::Exclusive,
            wait,
            on_busy,
            holder,
        )
        .map_err(LockError::widen)?;
        // Held: a refusal drops the lock and leaves the file as it was.
        check(holder(&lock.file)).map_err(|reason| LockError::Refused {
            path: path.to_path_buf(),
            reason,
        })?;
        // From here, dropping `lock` empties the file and unlocks it.
        let mut lock = Self { lock };
        lock.write_pid().map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(lock)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }

    fn write_pid(&mut self) -> io::Result<()> {
        let file = &mut self.lock.file;
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        file.flush()
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // A `PidLock` exists only while its lock is held. Best effort:
        // the kernel releases the lock anyway when the file closes.
        let _ = self.lock.file.set_len(0);
        let _ = self.lock.file.unlock();
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
                pid: Some(held),
                waited,
                ..
            }) => {
                assert_eq!(held, std::process::id());
                assert_eq!(waited, Duration::ZERO);
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
    fn a_bounded_wait_tells_once_then_gives_up_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = PidLock::acquire(&path).unwrap();
        let mut told = Vec::new();
        let error = PidLock::acquire_with(
            &path,
            Wait::UpTo(Duration::from_millis(300)),
            &mut |pid| told.push(pid),
            |_| Ok::<(), Infallible>(()),
        )
        .unwrap_err();
        assert_eq!(told, [Some(std::process::id())]);
        let LockError::Busy { pid, waited, .. } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(*pid, Some(std::process::id()));
        assert!(*waited >= Duration::from_millis(300), "{waited:?}");
        assert!(error.to_string().contains("s this run waited"), "{error}");
        drop(held);
    }

    #[test]
    fn a_waiting_lock_is_taken_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        for wait in [Wait::UpTo(Duration::from_secs(30)), Wait::Forever] {
            let first = FileLock::lock_file(&path, Wait::NO).unwrap();
            let releaser = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                drop(first);
            });
            let started = Instant::now();
            FileLock::lock_file(&path, wait).unwrap();
            assert!(started.elapsed() >= Duration::from_millis(150), "{wait:?}");
            releaser.join().unwrap();
        }
    }

    #[test]
    fn shared_locks_coexist_and_exclude_an_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grubenv");
        std::fs::write(&path, "block").unwrap();
        let first = FileLock::existing(&path, Access::Shared, Wait::NO).unwrap();
        let second = FileLock::existing(&path, Access::Shared, Wait::NO).unwrap();
        assert!(matches!(
            FileLock::existing(&path, Access::Exclusive, Wait::NO),
            Err(LockError::Busy { pid: None, .. })
        ));
        drop((first, second));
        let writer = FileLock::existing(&path, Access::Exclusive, Wait::NO).unwrap();
        {
            use std::os::unix::fs::FileExt;
            writer.file().write_all_at(b"B", 0).unwrap();
        }
        assert!(matches!(
            FileLock::existing(&path, Access::Shared, Wait::NO),
            Err(LockError::Busy { .. })
        ));
        drop(writer);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "Block");
        // A shared lock is read-only; an existing file is never created.
        let reader = FileLock::existing(&path, Access::Shared, Wait::NO).unwrap();
        assert!(std::os::unix::fs::FileExt::write_all_at(reader.file(), b"x", 0).is_err());
        let missing = dir.path().join("missing");
        assert!(matches!(
            FileLock::existing(&missing, Access::Exclusive, Wait::NO),
            Err(LockError::Io { .. })
        ));
        assert!(!missing.exists());
    }

    #[test]
    fn a_check_refuses_with_its_reason_and_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        std::fs::write(&path, "4242\n").unwrap();
        let mut seen = None;
        let error = PidLock::acquire_with(&path, Wait::NO, &mut |_| {}, |pid| {
            seen = Some(pid);
            Err("a legacy holder")
        })
        .unwrap_err();
        assert_eq!(seen, Some(Some(4242)));
        assert!(
            matches!(
                error,
                LockError::Refused {
                    reason: "a legacy holder",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(
            error.to_string().ends_with("is refused: a legacy holder"),
            "{error}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "4242\n");
        // Not held after the refusal.
        drop(PidLock::acquire(&path).unwrap());
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
            for access in [Access::Shared, Access::Exclusive] {
                match FileLock::existing(path, access, Wait::Forever) {
                    Err(LockError::NotRegular { kind: found, .. }) => assert_eq!(found, kind),
                    other => panic!("{}: {other:?}", path.display()),
                }
            }
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        // A dangling link is not followed to create its target either.
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert!(matches!(
            FileLock::lock_file(&dangling, Wait::NO),
            Err(LockError::NotRegular { .. })
        ));
        assert!(!dir.path().join("nowhere").exists());
    }

    #[test]
    fn a_directory_lock_wants_a_directory_and_follows_a_link_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        match FileLock::directory(&file, Wait::NO) {
            Err(LockError::NotDirectory { kind, .. }) => assert_eq!(kind, "a regular file"),
            other => panic!("{other:?}"),
        }
        let missing = dir.path().join("missing");
        assert!(matches!(
            FileLock::directory(&missing, Wait::NO),
            Err(LockError::Io { .. })
        ));
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&data, &link).unwrap();
        let held = FileLock::directory(&link, Wait::NO).unwrap();
        assert!(matches!(
            FileLock::directory(&data, Wait::NO),
            Err(LockError::Busy { .. })
        ));
        drop(held);
        FileLock::directory(&data, Wait::NO).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let error = PidLock::acquire(Path::new("/nonexistent-dir/x.lock")).unwrap_err();
        assert!(matches!(error, LockError::Io { .. }), "{error}");
    }
}

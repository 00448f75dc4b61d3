//! Atomic replacement of a file.

use std::fs::{self, File, Metadata, Permissions};
use std::io::{self, Write};
use std::num::NonZeroU64;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::describe;

/// Why a file was not written (or removed): the file, what was attempted
/// and what was wrong, as one sentence ("cannot write `/x`: it is a
/// symbolic link, not a regular file; ...").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Something other than a regular file is in the way; it is never replaced.
    #[error(
        "cannot write {}: it is {file_type}, not a regular file; it is never replaced, choose another path",
        path.display()
    )]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is (see [`describe`](crate::describe)).
        file_type: &'static str,
    },
    /// The path has no file name (`/`, or ends with `..`).
    #[error("cannot write {}: it has no file name", path.display())]
    NoFileName {
        /// The path.
        path: PathBuf,
    },
    /// The operating system refused a step of the write (or the producer of
    /// the contents failed); the file is as it was.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's (or the producer's) error.
        #[source]
        source: io::Error,
    },
    /// Read back after it was renamed into place, `path` was not the file
    /// just written (another process replaced it at the same moment) or not
    /// all of it.
    #[error(
        "cannot write {}: read back after the rename, it is not the file just written ({problem}); another process may be writing it at the same time",
        path.display()
    )]
    Replaced {
        /// The file.
        path: PathBuf,
        /// What differs.
        problem: String,
    },
    /// The operating system refused to remove the file.
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl WriteError {
    /// The file that was not written or removed.
    pub fn path(&self) -> &Path {
        match self {
            Self::NotRegular { path, .. }
            | Self::NoFileName { path }
            | Self::Io { path, .. }
            | Self::Replaced { path, .. }
            | Self::Remove { path, .. } => path,
        }
    }
}

/// Atomically replace (or create) `path` with `contents`, with permission
/// bits `mode` (set-id and sticky bits dropped) and, when `owner` is given
/// and the process may (it runs as root), that `(uid, gid)`.
///
/// The temporary file (`.<name>.<random>.tmp`, in the same directory) has
/// its mode and owner before any byte is written, so the contents are never
/// readable more widely than the result; it is flushed, renamed over `path`,
/// then the directory is flushed, and `path` is read back: it must be the
/// file just written (same device and inode), of the length written. On
/// error the temporary file is removed and `path` is as it was (but for
/// [`WriteError::Replaced`], where another process wrote it too).
///
/// # Errors
///
/// [`WriteError::NotRegular`] if `path` exists and is not a regular file
/// (symbolic links included); [`WriteError::Io`] if a step fails. Both name
/// `path`.
pub fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), WriteError> {
    write_atomic_with(path, mode, owner, |out| out.write_all(contents))
}

/// [`write_atomic`] for contents produced piece by piece: `produce` writes
/// them to the (buffered) temporary file, so a large output never has to be
/// held in memory whole. If `produce` fails, the temporary file is removed
/// and `path` is as it was.
///
/// # Errors
///
/// As [`write_atomic`]; an error of `produce` is returned as [`WriteError::Io`].
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    owner: Option<(u32, u32)>,
    produce: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), WriteError> {
    let io_error = |source| WriteError::Io {
        path: path.to_owned(),
        source,
    };
    match fs::symlink_metadata(path) {
        Ok(existing) if !existing.file_type().is_file() => {
            return Err(WriteError::NotRegular {
                path: path.to_owned(),
                file_type: describe(existing.file_type()),
            });
        }
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(error)),
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| WriteError::NoFileName {
        path: path.to_owned(),
    })?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode & 0o600))
        .tempfile_in(dir)
        .map_err(io_error)?;
    if let Some((uid, gid)) = owner {
        // Only root may give a file away: elsewhere the file stays ours.
        match std::os::unix::fs::fchown(temp.as_file(), Some(uid), Some(gid)) {
            Err(error) if error.kind() != io::ErrorKind::PermissionDenied => {
                return Err(io_error(error));
            }
            _ => {}
        }
    }
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode & 0o777))
        .map_err(io_error)?;
    let written = {
        // 128 KiB: few system calls, and few pages to fault in (a fresh
        // page costs microseconds on a VM, a write of 128 KiB about as much).
        let mut out = io::BufWriter::with_capacity(
            128 << 10,
            Writeback {
                file: temp.as_file_mut(),
                written: 0,
                started: 0,
            },
        );
        produce(&mut out).map_err(io_error)?;
        out.flush().map_err(io_error)?;
        out.get_ref().written
    };
    temp.as_file().sync_all().map_err(io_error)?;
    let ours = temp.as_file().metadata().map_err(io_error)?;
    temp.persist(path).map_err(|error| io_error(error.error))?;
    File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error)?;
    check_in_place(path, &ours, written)
}

/// `path`, read back after the rename, is the file described by `ours`
/// (same device and inode) and `written` bytes long.
fn check_in_place(path: &Path, ours: &Metadata, written: u64) -> Result<(), WriteError> {
    let found = fs::symlink_metadata(path).map_err(|source| WriteError::Io {
        path: path.to_owned(),
        source,
    })?;
    let problem = if (found.dev(), found.ino()) != (ours.dev(), ours.ino()) {
        "another file is in its place".to_owned()
    } else if found.len() != written {
        format!("{} bytes long, {written} were written", found.len())
    } else {
        return Ok(());
    };
    Err(WriteError::Replaced {
        path: path.to_owned(),
        problem,
    })
}

/// How much is written before the kernel is asked to start writing it back.
const WRITEBACK_EVERY: u64 = 1 << 20;

/// A file being written that asks the kernel to start writing back every
/// [`WRITEBACK_EVERY`] bytes as they are written (`posix_fadvise`
/// `DONTNEED`, as `PostgreSQL` does where it lacks `sync_file_range`): the
/// disk then works while the rest is produced, and the final `fsync`
/// waits for the last part only (the 3 MB output of the 1k+1k merge
/// benchmark: fsync 2.4-3.1 ms before, 1.0-1.7 ms after). It is advice: it changes nothing of what is written, and only the
/// `fsync` makes the data durable; pages still being written back stay
/// cached.
struct Writeback<'f> {
    file: &'f mut File,
    written: u64,
    started: u64,
}

impl Write for Writeback<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_EVERY {
            // Advice only: an error here changes nothing of the result.
            let _ = rustix::fs::fadvise(
                &*self.file,
                self.started,
                NonZeroU64::new(self.written - self.started),
                rustix::fs::Advice::DontNeed,
            );
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// [`write_atomic`] with the permission bits, owner and group of `like`
/// (another file, usually the one the new file is derived from), so the
/// result is readable by no one who could not read `like`.
///
/// # Errors
///
/// As [`write_atomic`].
pub fn write_like(path: &Path, contents: &[u8], like: &Metadata) -> Result<(), WriteError> {
    write_atomic(path, contents, like.mode(), Some((like.uid(), like.gid())))
}

/// Write `bytes` at `offset` of an open file, in place (a block of a disk
/// image or of a device, such as GRUB's environment block), flush it to the
/// disk and read it back.
///
/// # Errors
///
/// [`WriteError::Io`] naming `path` when the write, the flush or the read
/// fails; [`WriteError::Replaced`] when what is read back differs.
pub fn write_at_verified(
    file: &File,
    path: &Path,
    offset: u64,
    bytes: &[u8],
) -> Result<(), WriteError> {
    use std::os::unix::fs::FileExt;
    let io_error = |source| WriteError::Io {
        path: path.to_owned(),
        source,
    };
    file.write_all_at(bytes, offset).map_err(io_error)?;
    file.sync_data().map_err(io_error)?;
    let mut back = vec![0u8; bytes.len()];
    file.read_exact_at(&mut back, offset).map_err(io_error)?;
    if back != bytes {
        return Err(WriteError::Replaced {
            path: path.to_owned(),
            problem: format!("the {} bytes at offset {offset} differ", bytes.len()),
        });
    }
    Ok(())
}

/// Remove the file at `path` if there is one; returns whether there was.
///
/// The name is unlinked, never followed (a symbolic link is removed, not its
/// target); a missing file is not an error.
///
/// # Errors
///
/// [`WriteError::Remove`] when the operating system refuses (a directory,
/// a read-only directory).
pub fn remove_if_exists(path: &Path) -> Result<bool, WriteError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(WriteError::Remove {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_replaced_or_cut_after_the_rename_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        fs::write(&path, "ours").unwrap();
        let ours = fs::metadata(&path).unwrap();
        check_in_place(&path, &ours, 4).unwrap();
        let short = check_in_place(&path, &ours, 5).unwrap_err();
        assert!(
            short.to_string().contains("4 bytes long, 5 were written"),
            "{short}"
        );
        let other = dir.path().join("other");
        fs::write(&other, "ours").unwrap();
        fs::rename(&other, &path).unwrap();
        let replaced = check_in_place(&path, &ours, 4).unwrap_err();
        assert!(matches!(replaced, WriteError::Replaced { .. }));
        assert!(
            replaced
                .to_string()
                .contains("another file is in its place"),
            "{replaced}"
        );
        assert_eq!(replaced.path(), path);
    }

    #[test]
    fn large_writes_asked_back_early_are_written_whole() {
        // Several WRITEBACK_EVERY steps, written in pieces of odd sizes.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let expected: Vec<u8> = (0..5 * WRITEBACK_EVERY + 12_345)
            .map(|i| u8::try_from(i % 251).unwrap())
            .collect();
        write_atomic_with(&path, 0o640, None, |out| {
            for piece in expected.chunks(70_001) {
                out.write_all(piece)?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), expected);
    }

    #[test]
    fn a_block_written_in_place_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        fs::write(&path, vec![0u8; 4096]).unwrap();
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        write_at_verified(&file, &path, 1024, &[7u8; 1024]).unwrap();
        let back = fs::read(&path).unwrap();
        assert_eq!(back.len(), 4096);
        assert!(back[1024..2048].iter().all(|&b| b == 7));
        assert!(back[..1024].iter().chain(&back[2048..]).all(|&b| b == 0));
        let read_only = File::open(&path).unwrap();
        let error = write_at_verified(&read_only, &path, 0, b"x").unwrap_err();
        assert!(matches!(error, WriteError::Io { .. }), "{error}");
        assert_eq!(error.path(), path);
    }

    #[test]
    fn removes_the_name_not_the_link_target_and_a_missing_file_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let link = dir.path().join("link");
        fs::write(&target, "x").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(remove_if_exists(&link).unwrap());
        assert!(target.exists(), "the target stays");
        assert!(!remove_if_exists(&link).unwrap());
        assert!(remove_if_exists(&target).unwrap());
        assert!(
            remove_if_exists(dir.path()).is_err(),
            "a directory is not a file"
        );
    }

    #[test]
    fn replaces_atomically_with_the_reference_mode() {
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("ref");
        fs::write(&reference, "r").unwrap();
        fs::set_permissions(&reference, Permissions::from_mode(0o640)).unwrap();
        let target = dir.path().join("out.cfg");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o666)).unwrap();
        write_like(&target, b"new", &fs::metadata(&reference).unwrap()).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        assert_eq!(fs::metadata(&target).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary left"
        );
    }

    #[test]
    fn never_replaces_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            write_atomic(&link, b"x", 0o600, None),
            Err(WriteError::NotRegular {
                file_type: "a symbolic link",
                ..
            })
        ));
        assert!(matches!(
            write_atomic(Path::new("/dev/null"), b"x", 0o600, None),
            Err(WriteError::NotRegular {
                file_type: "a character device",
                ..
            })
        ));
        assert!(matches!(
            write_atomic(dir.path(), b"x", 0o600, None),
            Err(WriteError::NotRegular { .. })
        ));
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_missing_directory_fails_without_leaving_anything() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing").join("out");
        let error = write_atomic(&target, b"x", 0o600, None).unwrap_err();
        assert!(matches!(error, WriteError::Io { .. }));
        assert_eq!(error.path(), target);
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot write {}: No such file", target.display())),
            "{error}"
        );
    }

    #[test]
    fn the_message_names_the_file_and_what_was_attempted() {
        let link = Path::new("/dev/null");
        assert_eq!(
            write_atomic(link, b"x", 0o600, None)
                .unwrap_err()
                .to_string(),
            "cannot write /dev/null: it is a character device, not a regular file; \
             it is never replaced, choose another path"
        );
        let dir = tempfile::tempdir().unwrap();
        let error = remove_if_exists(dir.path()).unwrap_err();
        assert!(matches!(error, WriteError::Remove { .. }));
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot remove {}: ", dir.path().display())),
            "{error}"
        );
    }

    #[test]
    fn a_region_is_written_in_place_zeros_included_and_never_past_its_end() {
        use std::os::unix::fs::FileExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        fs::write(&path, vec![0xff_u8; 64 * 1024]).unwrap();
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let mut region = RegionWriter::new(&file, &path, 8192, 32 * 1024, Zeros::Zero);
        region.write(&[7_u8; 4096]).unwrap();
        region.write(&[0_u8; 8192]).unwrap();
        region.write(&[9_u8; 4096]).unwrap();
        let past = region.write(&vec![1_u8; 16 * 1024 + 1]).unwrap_err();
        assert!(past.to_string().contains("past the end"), "{past}");
        assert_eq!(region.sync().unwrap(), 16 * 1024);
        let mut back = vec![0_u8; 64 * 1024];
        file.read_exact_at(&mut back, 0).unwrap();
        assert!(back[..8192].iter().all(|&b| b == 0xff));
        assert!(back[8192..12288].iter().all(|&b| b == 7));
        assert!(
            back[12288..20480].iter().all(|&b| b == 0),
            "zero blocks are zeroed"
        );
        assert!(back[20480..24576].iter().all(|&b| b == 9));
        assert!(
            back[24576..].iter().all(|&b| b == 0xff),
            "nothing past what was given"
        );
        // Skip: a region known to be zeros keeps what is there.
        let mut region = RegionWriter::new(&file, &path, 0, 8192, Zeros::Skip);
        region.write(&[0_u8; 8192]).unwrap();
        region.sync().unwrap();
        file.read_exact_at(&mut back, 0).unwrap();
        assert!(back[..8192].iter().all(|&b| b == 0xff));
    }
}

/// What becomes of the all-zero blocks written through a [`RegionWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Zeros {
    /// The region is known to hold zeros already (a new sparse file): zero
    /// blocks are skipped, nothing is written for them.
    Skip,
    /// The region holds old data: zero blocks are zeroed without writing
    /// them when the file system or device can (`fallocate`
    /// `FALLOC_FL_ZERO_RANGE`, which keeps the space allocated), else
    /// written as zeros. Either way the region reads back as the bytes given.
    Zero,
}

/// Writes a stream of bytes into a region of an open file or block device
/// (a partition of a disk image), in place, never past the region's end,
/// asking the kernel to start writing back each block as it is written (as
/// [`write_atomic_with`] does), so that the final flush waits for the last
/// part only. Used to put a filesystem image onto its partition.
#[derive(Debug)]
pub struct RegionWriter<'f> {
    file: &'f File,
    path: &'f Path,
    start: u64,
    end: u64,
    position: u64,
    zeros: Zeros,
}

impl<'f> RegionWriter<'f> {
    /// A writer of the `length` bytes at `offset` of `file` (named `path`
    /// in errors).
    #[must_use]
    pub fn new(file: &'f File, path: &'f Path, offset: u64, length: u64, zeros: Zeros) -> Self {
        Self {
            file,
            path,
            start: offset,
            end: offset.saturating_add(length),
            position: offset,
            zeros,
        }
    }

    fn error(&self, source: io::Error) -> WriteError {
        WriteError::Io {
            path: self.path.to_owned(),
            source,
        }
    }

    /// Write `bytes` after what was written so far.
    ///
    /// # Errors
    ///
    /// [`WriteError::Io`] when they would go past the region's end (nothing
    /// is written then) or the write fails.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        use std::os::unix::fs::FileExt;
        let length = bytes.len() as u64;
        if self.position.saturating_add(length) > self.end {
            return Err(self.error(io::Error::other(format!(
                "{length} more bytes at offset {} would go past the end of the {}-byte region at offset {}",
                self.position,
                self.end - self.start,
                self.start
            ))));
        }
        let zero = bytes.iter().all(|&b| b == 0);
        match (zero, self.zeros) {
            (true, Zeros::Skip) => {}
            (true, Zeros::Zero)
                if rustix::fs::fallocate(
                    self.file,
                    rustix::fs::FallocateFlags::ZERO_RANGE | rustix::fs::FallocateFlags::KEEP_SIZE,
                    self.position,
                    length,
                )
                .is_ok() => {}
            _ => {
                self.file
                    .write_all_at(bytes, self.position)
                    .map_err(|e| self.error(e))?;
                // Advice only: an error here changes nothing of the result.
                let _ = rustix::fs::fadvise(
                    self.file,
                    self.position,
                    NonZeroU64::new(length),
                    rustix::fs::Advice::DontNeed,
                );
            }
        }
        self.position += length;
        Ok(())
    }

    /// The bytes written (or zeroed, or skipped) so far.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.position - self.start
    }

    /// Flush what was written to the disk (`fsync`, as `dd conv=fsync`
    /// does); returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`WriteError::Io`] when the flush fails.
    pub fn sync(self) -> Result<u64, WriteError> {
        self.file.sync_all().map_err(|e| self.error(e))?;
        Ok(self.written())
    }
}

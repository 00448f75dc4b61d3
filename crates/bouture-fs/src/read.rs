//! Bounded reads of regular files that someone else may have written.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::describe;

/// Whether the last component of a path may be a symbolic link.
///
/// The rule: **who named the path decides.**
///
/// - [`Links::Follow`] for a path the operator named: given on the command
///   line, in an environment variable (`SSL_CERT_FILE`), or in a
///   configuration file only root can write (`slapos.cfg`'s `key_file`). The
///   operator chose it, and a link there is the operator's own choice (on
///   Debian every `/etc/ssl/certs/*.pem` is a link into
///   `/usr/share/ca-certificates`). Following it gives nobody anything the
///   operator could not already read. The file it leads to must still be a
///   regular file, bounded, opened without blocking.
/// - [`Links::Refuse`] for a path bouture found or composed itself inside a
///   directory that someone else can write (a partition's `bouture.json`,
///   a journal or lock in a state directory, a file in a data directory it
///   is about to replace): a link there may have been planted to make root
///   read, or echo, a file of its choosing.
///
/// Only the last component is concerned: directories on the way are the
/// operator's (see [`resolve`](crate::resolve) for where a path leads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Refuse a symbolic link (a name found in a directory others can write).
    Refuse,
    /// Follow a symbolic link (a path the operator named).
    Follow,
}

/// Why a file was not read: the file (or the stream's name) and what was
/// wrong, as one sentence ("cannot read `/x`: it is a FIFO, not a regular
/// file").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file is a symbolic link and links were refused.
    #[error("cannot read {}: it is a symbolic link, which is not followed here", path.display())]
    Symlink {
        /// The file.
        path: PathBuf,
    },
    /// The file is a directory, FIFO, socket or device.
    #[error("cannot read {}: it is {file_type}, not a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead (see [`describe`](crate::describe)).
        file_type: &'static str,
    },
    /// The file (or stream) is longer than the bound.
    #[error("cannot read {}: it is larger than {limit} bytes, the most read from it", path.display())]
    TooLarge {
        /// The file, or the stream's name.
        path: PathBuf,
        /// The bound, in bytes.
        limit: u64,
    },
    /// The operating system refused to open or read it.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file, or the stream's name.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    /// The file (or the stream's name) that was not read.
    pub fn path(&self) -> &Path {
        match self {
            Self::Symlink { path }
            | Self::NotRegular { path, .. }
            | Self::TooLarge { path, .. }
            | Self::Io { path, .. } => path,
        }
    }
}

/// Read a whole regular file of at most `limit` bytes.
///
/// The path is checked with `lstat` (or `stat` when links are followed)
/// before it is opened, opened with `O_NONBLOCK` (and `O_NOFOLLOW` when links
/// are refused), and checked again with `fstat` on the open handle. A file
/// that grows past `limit` while it is read is refused too.
///
/// # Errors
///
/// [`ReadError`], naming `path`: a link (when refused), not a regular file,
/// too large, or an operating system error.
pub fn read_bounded(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let io_error = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = match links {
        Links::Refuse => fs::symlink_metadata(path),
        Links::Follow => fs::metadata(path),
    }
    .map_err(io_error)?;
    check(path, &metadata, limit)?;

    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|source| {
            if source.raw_os_error() == Some(libc::ELOOP) && links == Links::Refuse {
                ReadError::Symlink {
                    path: path.to_owned(),
                }
            } else {
                io_error(source)
            }
        })?;
    let metadata = file.metadata().map_err(io_error)?;
    check(path, &metadata, limit)?;
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    read_to_limit_with_capacity(file, limit, capacity, path)
}

/// Read the first `len` bytes (fewer when it is shorter) of a regular file
/// or a block device: a filesystem's superblock, a format's header. Links
/// are followed (a device is often reached through one); anything but a
/// regular file or a block device is refused before it is opened and again
/// on the open handle, which is opened with `O_NONBLOCK` (a FIFO swapped in
/// between cannot hang the reader).
///
/// # Errors
///
/// [`ReadError`], naming `path`: not a regular file or block device, or an
/// operating system error.
pub fn read_head(path: &Path, len: u64) -> Result<Vec<u8>, ReadError> {
    use std::os::unix::fs::FileTypeExt as _;
    let io_error = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let usable = |metadata: &fs::Metadata| {
        let kind = metadata.file_type();
        if kind.is_file() || kind.is_block_device() {
            Ok(())
        } else {
            Err(ReadError::NotRegular {
                path: path.to_owned(),
                file_type: crate::describe(kind),
            })
        }
    };
    usable(&fs::metadata(path).map_err(io_error)?)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(io_error)?;
    usable(&file.metadata().map_err(io_error)?)?;
    let mut head = Vec::new();
    file.take(len).read_to_end(&mut head).map_err(io_error)?;
    Ok(head)
}

/// Read a stream (standard input, a pipe) to its end, refusing more than
/// `limit` bytes; `name` names the stream in the error ("standard input").
///
/// ```
/// use std::path::Path;
///
/// let bytes = bouture_fs::read_to_limit(&b"hello"[..], 5, Path::new("standard input"))?;
/// assert_eq!(bytes, b"hello");
/// let error = bouture_fs::read_to_limit(&b"hello"[..], 4, Path::new("standard input")).unwrap_err();
/// assert_eq!(error.to_string(), "cannot read standard input: it is larger than 4 bytes, the most read from it");
/// # Ok::<(), bouture_fs::ReadError>(())
/// ```
///
/// # Errors
///
/// [`ReadError::TooLarge`] past the limit, [`ReadError::Io`] on a read error.
pub fn read_to_limit(reader: impl Read, limit: u64, name: &Path) -> Result<Vec<u8>, ReadError> {
    read_to_limit_with_capacity(reader, limit, 0, name)
}

fn read_to_limit_with_capacity(
    reader: impl Read,
    limit: u64,
    capacity: usize,
    path: &Path,
) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(capacity.saturating_add(1));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_owned(),
            source,
        })?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

fn check(path: &Path, metadata: &fs::Metadata, limit: u64) -> Result<(), ReadError> {
    let file_type = metadata.file_type();
    let path = || path.to_owned();
    if file_type.is_symlink() {
        return Err(ReadError::Symlink { path: path() });
    }
    if !file_type.is_file() {
        return Err(ReadError::NotRegular {
            path: path(),
            file_type: describe(file_type),
        });
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            path: path(),
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_head_reads_files_and_devices_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_head(&file, 4).unwrap(), b"0123");
        assert_eq!(read_head(&file, 100).unwrap(), b"0123456789");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(
            matches!(
                read_head(&fifo, 4),
                Err(ReadError::NotRegular {
                    file_type: "a FIFO",
                    ..
                })
            ),
            "{:?}",
            read_head(&fifo, 4)
        );
        assert!(matches!(
            read_head(dir.path(), 4),
            Err(ReadError::NotRegular { .. })
        ));
    }

    #[test]
    fn refuses_links_fifos_directories_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_bounded(&link, 100, Links::Refuse),
            Err(ReadError::Symlink { .. })
        ));
        assert_eq!(read_bounded(&link, 100, Links::Follow).unwrap(), b"secret");
        assert!(matches!(
            read_bounded(&target, 3, Links::Refuse),
            Err(ReadError::TooLarge { limit: 3, .. })
        ));
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(matches!(
            read_bounded(&fifo, 100, Links::Refuse),
            Err(ReadError::NotRegular {
                file_type: "a FIFO",
                ..
            })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 100, Links::Follow),
            Err(ReadError::NotRegular {
                file_type: "a directory",
                ..
            })
        ));
        assert!(
            read_bounded(&dir.path().join("missing"), 1, Links::Follow)
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn character_devices_are_not_read() {
        assert!(matches!(
            read_bounded(Path::new("/dev/zero"), 100, Links::Follow),
            Err(ReadError::NotRegular {
                file_type: "a character device",
                ..
            })
        ));
    }

    #[test]
    fn the_message_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_bounded(dir.path(), 100, Links::Follow).unwrap_err();
        assert_eq!(error.path(), dir.path());
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read {}: it is a directory, not a regular file",
                dir.path().display()
            )
        );
        let missing = dir.path().join("missing");
        let error = read_bounded(&missing, 100, Links::Refuse).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot read {}: No such file", missing.display())),
            "{error}"
        );
    }
}

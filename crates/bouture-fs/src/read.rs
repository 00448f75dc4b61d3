//! Bounded reads of regular files that someone else may have written.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::describe;

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Refuse a symbolic link (files written by other users).
    Refuse,
    /// Follow a symbolic link (files owned by the administrator).
    Follow,
}

/// Why a file was not read. The messages are predicates, to be prefixed by
/// the file's path ("`/x`: is a FIFO, not a regular file").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file is a symbolic link and links were refused.
    #[error("is a symbolic link, which is not followed here")]
    Symlink,
    /// The file is a directory, FIFO, socket or device.
    #[error("is {file_type}, not a regular file")]
    NotRegular {
        /// What it is instead (see [`describe`](crate::describe)).
        file_type: &'static str,
    },
    /// The file (or stream) is longer than the bound.
    #[error("is larger than {limit} bytes, the most read from it")]
    TooLarge {
        /// The bound, in bytes.
        limit: u64,
    },
    /// The operating system refused to open or read it.
    #[error("cannot be read ({source})")]
    Io {
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

impl ReadError {
    /// Whether the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source } if source.kind() == io::ErrorKind::NotFound)
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
/// [`ReadError`]: a link (when refused), not a regular file, too large, or an
/// operating system error.
pub fn read_bounded(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, ReadError> {
    let metadata = match links {
        Links::Refuse => fs::symlink_metadata(path),
        Links::Follow => fs::metadata(path),
    }
    .map_err(|source| ReadError::Io { source })?;
    check(&metadata, limit)?;

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
                ReadError::Symlink
            } else {
                ReadError::Io { source }
            }
        })?;
    let metadata = file.metadata().map_err(|source| ReadError::Io { source })?;
    check(&metadata, limit)?;
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    read_to_limit_with_capacity(file, limit, capacity)
}

/// Read a stream (standard input, a pipe) to its end, refusing more than
/// `limit` bytes.
///
/// ```
/// let bytes = bouture_fs::read_to_limit(&b"hello"[..], 5)?;
/// assert_eq!(bytes, b"hello");
/// assert!(bouture_fs::read_to_limit(&b"hello"[..], 4).is_err());
/// # Ok::<(), bouture_fs::ReadError>(())
/// ```
///
/// # Errors
///
/// [`ReadError::TooLarge`] past the limit, [`ReadError::Io`] on a read error.
pub fn read_to_limit(reader: impl Read, limit: u64) -> Result<Vec<u8>, ReadError> {
    read_to_limit_with_capacity(reader, limit, 0)
}

fn read_to_limit_with_capacity(
    reader: impl Read,
    limit: u64,
    capacity: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::with_capacity(capacity.saturating_add(1));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io { source })?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(bytes)
}

fn check(metadata: &fs::Metadata, limit: u64) -> Result<(), ReadError> {
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        return Err(ReadError::Symlink);
    }
    if !file_type.is_file() {
        return Err(ReadError::NotRegular {
            file_type: describe(file_type),
        });
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge { limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_links_fifos_directories_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_bounded(&link, 100, Links::Refuse),
            Err(ReadError::Symlink)
        ));
        assert_eq!(read_bounded(&link, 100, Links::Follow).unwrap(), b"secret");
        assert!(matches!(
            read_bounded(&target, 3, Links::Refuse),
            Err(ReadError::TooLarge { limit: 3 })
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
                file_type: "a FIFO"
            })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 100, Links::Follow),
            Err(ReadError::NotRegular {
                file_type: "a directory"
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
                file_type: "a character device"
            })
        ));
    }
}

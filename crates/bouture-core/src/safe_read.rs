//! Reading files that unprivileged users may have written, as root, safely.
//!
//! bouture runs as root on nodes, while `bouture.json` and `.slapos-resource`
//! live in partition directories owned by the partition's user. A file there
//! could be a symbolic link to `/etc/shadow`, a FIFO that blocks forever, a
//! device, or gigabytes long. [`read_bounded`] refuses all of these: it never
//! follows a link at the last path component (when asked not to), opens
//! nothing but regular files, never blocks on open, and reads at most a limit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::error::FileErrorKind;

/// Whether the last component of a path may be a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Refuse a symbolic link (files written by partition users).
    Refuse,
    /// Follow a symbolic link (files owned by the node's administrator).
    Follow,
}

/// Read a whole regular file of at most `limit` bytes.
///
/// The file is checked with `lstat` (or `stat` when links are followed)
/// before it is opened, opened with `O_NONBLOCK` (and `O_NOFOLLOW` when links
/// are refused), and checked again with `fstat` on the open handle, so a file
/// swapped between the checks is caught too.
pub fn read_bounded(path: &Path, limit: u64, links: Links) -> Result<Vec<u8>, FileErrorKind> {
    let metadata = match links {
        Links::Refuse => fs::symlink_metadata(path),
        Links::Follow => fs::metadata(path),
    }
    .map_err(|source| FileErrorKind::Io { source })?;
    check_type(metadata.file_type(), metadata.len(), limit)?;

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
                FileErrorKind::Symlink
            } else {
                FileErrorKind::Io { source }
            }
        })?;
    let metadata = file
        .metadata()
        .map_err(|source| FileErrorKind::Io { source })?;
    check_type(metadata.file_type(), metadata.len(), limit)?;
    read_at_most(file, limit)
}

fn check_type(file_type: fs::FileType, len: u64, limit: u64) -> Result<(), FileErrorKind> {
    if file_type.is_symlink() {
        return Err(FileErrorKind::Symlink);
    }
    if !file_type.is_file() {
        return Err(FileErrorKind::NotRegular {
            file_type: describe(file_type),
        });
    }
    if len > limit {
        return Err(FileErrorKind::TooLarge { limit });
    }
    Ok(())
}

/// Read until end of file, failing if the file grows past `limit` meanwhile.
fn read_at_most(file: File, limit: u64) -> Result<Vec<u8>, FileErrorKind> {
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileErrorKind::Io { source })?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(FileErrorKind::TooLarge { limit });
    }
    Ok(bytes)
}

/// A short name for a file type, for error messages.
pub(crate) fn describe(file_type: fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

/// Whether an I/O error means the file does not exist.
pub(crate) fn is_not_found(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_links_fifos_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(matches!(
            read_bounded(&link, 100, Links::Refuse),
            Err(FileErrorKind::Symlink)
        ));
        assert_eq!(read_bounded(&link, 100, Links::Follow).unwrap(), b"secret");
        assert!(matches!(
            read_bounded(&target, 3, Links::Refuse),
            Err(FileErrorKind::TooLarge { limit: 3 })
        ));
        let fifo = dir.path().join("fifo");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        assert!(matches!(
            read_bounded(&fifo, 100, Links::Refuse),
            Err(FileErrorKind::NotRegular {
                file_type: "a FIFO"
            })
        ));
        assert!(matches!(
            read_bounded(dir.path(), 100, Links::Follow),
            Err(FileErrorKind::NotRegular {
                file_type: "a directory"
            })
        ));
    }
}

#![doc = include_str!("../README.md")]

mod identity;
mod lock;
mod read;
mod replace;
mod write;

pub use identity::{FileId, resolve, same_file};
pub use lock::{Access, FileLock, LockError, PidLock, Wait};
pub use read::{Links, ReadError, read_bounded, read_head, read_to_limit};
pub use replace::{Staged, replace_together};
pub use write::{
    RegionWriter, WriteError, Zeros, remove_if_exists, write_at_verified, write_atomic,
    write_atomic_with, write_like,
};

use std::fs::FileType;
use std::os::unix::fs::FileTypeExt;

/// A short name for a kind of file, for messages: "a directory", "a FIFO", ...
///
/// ```
/// let dir = std::env::temp_dir();
/// let kind = std::fs::symlink_metadata(&dir)?.file_type();
/// assert_eq!(bouture_fs::describe(kind), "a directory");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn describe(file_type: FileType) -> &'static str {
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

//! Writing files atomically, with no wider permissions than a reference file.
//!
//! [`write_like`] writes a temporary file in the destination's directory,
//! gives it the reference file's permission bits (and, when running as root,
//! its owner and group), flushes it to disk, renames it over the destination
//! and flushes the directory. Readers see the old file or the new one, never
//! a partial one, and a crash leaves at worst a stray temporary file.

use std::fs::{self, File, Metadata, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Whether `path` is the same file as the one `reference` describes (same
/// device and inode, following symbolic links). A missing `path` is not.
pub fn same_file(reference: &Metadata, path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.dev() == reference.dev() && m.ino() == reference.ino())
}

/// Atomically replace (or create) `path` with `contents`, with the
/// permission bits of `like` (set-id and sticky bits dropped) and, when the
/// process runs as root, `like`'s owner and group.
///
/// A symbolic link at `path` is replaced, not followed.
pub fn write_like(path: &Path, contents: &[u8], like: &Metadata) -> io::Result<()> {
    let mode = like.mode() & 0o777;
    write_with_mode(path, contents, mode, Some((like.uid(), like.gid())))
}

/// Atomically replace (or create) `path` with `contents` and permission bits
/// `mode`; when `owner` is given and the process may (it runs as root), give it
/// that `(uid, gid)`.
pub fn write_with_mode(
    path: &Path,
    contents: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path has no file name (it ends with `..` or `/`)",
        )
    })?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(mode & 0o600))
        .tempfile_in(dir)?;
    if let Some((uid, gid)) = owner {
        // Only root may give a file away: elsewhere the file stays ours.
        match std::os::unix::fs::fchown(temp.as_file(), Some(uid), Some(gid)) {
            Err(error) if error.kind() != io::ErrorKind::PermissionDenied => return Err(error),
            _ => {}
        }
    }
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode & 0o777))?;
    temp.write_all(contents)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 2, "no temporary file left behind");
    }

    #[test]
    fn same_file_sees_links() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a");
        fs::write(&file, "x").unwrap();
        let meta = fs::metadata(&file).unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("sym")).unwrap();
        fs::hard_link(&file, dir.path().join("hard")).unwrap();
        assert!(same_file(&meta, &file));
        assert!(same_file(&meta, &dir.path().join("sym")));
        assert!(same_file(&meta, &dir.path().join("hard")));
        assert!(!same_file(&meta, &dir.path().join("missing")));
    }
}

//! Whether two paths designate the same file.

use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// The identity of a file: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device holding the file.
    pub dev: u64,
    /// The file's inode on that device.
    pub ino: u64,
}

impl FileId {
    /// The identity of an already opened or inspected file.
    pub fn of_metadata(metadata: &Metadata) -> Self {
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    /// The identity of the file at `path`, following symbolic links.
    ///
    /// # Errors
    ///
    /// The operating system's error when `path` cannot be inspected.
    pub fn of(path: &Path) -> io::Result<Self> {
        fs::metadata(path).map(|metadata| Self::of_metadata(&metadata))
    }
}

/// The most symbolic links followed by [`resolve`], as the kernel's limit.
const MAX_LINKS: usize = 40;

/// The absolute path `path` designates once every symbolic link is followed,
/// including a last component that is a link to a file that does not exist
/// yet, and a last component that does not exist. `None` when a directory on
/// the way cannot be resolved or links loop.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let target = dir.path().canonicalize()?.join("not-yet");
/// std::os::unix::fs::symlink(&target, dir.path().join("link"))?;
/// assert_eq!(bouture_fs::resolve(&dir.path().join("link")), Some(target));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn resolve(path: &Path) -> Option<PathBuf> {
    let mut path = std::path::absolute(path).ok()?;
    for _ in 0..MAX_LINKS {
        if let Ok(resolved) = path.canonicalize() {
            return Some(resolved);
        }
        let name = match path.components().next_back()? {
            Component::Normal(name) => name.to_owned(),
            _ => return None,
        };
        let parent = path.parent()?.canonicalize().ok()?;
        let here = parent.join(&name);
        match fs::read_link(&here) {
            Ok(target) => path = parent.join(target),
            Err(_) => return Some(here),
        }
    }
    None
}

/// Whether `a` and `b` designate the same file: the same device and inode
/// (through hard and symbolic links), or, when either does not exist yet,
/// the same path once resolved (see [`resolve`]).
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let a = dir.path().join("a");
/// std::fs::write(&a, "x")?;
/// std::fs::hard_link(&a, dir.path().join("b"))?;
/// assert!(bouture_fs::same_file(&a, &dir.path().join("b")));
/// assert!(bouture_fs::same_file(&dir.path().join("new"), &dir.path().join(".").join("new")));
/// assert!(!bouture_fs::same_file(&a, &dir.path().join("new")));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(a), Ok(b)) = (FileId::of(a), FileId::of(b)) {
        return a == b;
    }
    match (resolve(a), resolve(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_paths_to_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a");
        fs::write(&file, "x").unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("sym")).unwrap();
        fs::hard_link(&file, dir.path().join("hard")).unwrap();
        assert!(same_file(&file, &dir.path().join("sym")));
        assert!(same_file(&file, &dir.path().join("hard")));
        assert!(same_file(&file, &dir.path().join(".").join("a")));
        assert!(!same_file(&file, &dir.path().join("missing")));
    }

    #[test]
    fn a_dangling_link_is_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("pid");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("pid", &link).unwrap();
        assert!(same_file(&link, &target));
        let chain = dir.path().join("chain");
        std::os::unix::fs::symlink(&link, &chain).unwrap();
        assert!(same_file(&chain, &target));
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink(&looped, &looped).unwrap();
        assert_eq!(resolve(&looped), None);
    }
}

//! Several files replaced together: each made beside its destination, all
//! put in place only once all are complete, or none.

use std::collections::BTreeSet;
use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::describe;
use crate::write::WriteError;

/// A file being made beside the file it will replace (or create), to be put
/// in place by [`replace_together`]: an empty hidden file
/// (`.<name>.<random>.tmp`, mode 0600) in the destination's own directory,
/// so the final rename never crosses filesystems. Tools write into
/// [`Staged::path`]. Dropped without being put in place, it is removed.
#[derive(Debug)]
pub struct Staged {
    temp: TempPath,
    target: PathBuf,
}

impl Staged {
    /// Check `target` (absent, or a regular file: never a symbolic link, a
    /// device or a directory) and create the empty file beside it.
    ///
    /// # Errors
    ///
    /// [`WriteError::NotRegular`] when `target` exists and is not a regular
    /// file, [`WriteError::NoFileName`] when it has no file name,
    /// [`WriteError::Io`] when its directory cannot be written.
    pub fn beside(target: &Path) -> Result<Self, WriteError> {
        Self::tagged(target, "")
    }

    /// [`Staged::beside`], the file named `.<name>.<tag>.<random>.tmp`: a
    /// caller that records `tag` first can find the file again after a
    /// crash, even one that came before the file was recorded.
    ///
    /// # Errors
    ///
    /// As [`Staged::beside`].
    pub fn tagged(target: &Path, tag: &str) -> Result<Self, WriteError> {
        check_target(target)?;
        let name = target.file_name().ok_or_else(|| WriteError::NoFileName {
            path: target.to_owned(),
        })?;
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        if !tag.is_empty() {
            prefix.push(tag);
            prefix.push(".");
        }
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".tmp")
            .permissions(Permissions::from_mode(0o600))
            .tempfile_in(directory_of(target))
            .map_err(|source| WriteError::Io {
                path: target.to_owned(),
                source,
            })?
            .into_temp_path();
        Ok(Self {
            temp,
            target: target.to_owned(),
        })
    }

    /// The file to write (beside the destination).
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// The destination.
    pub fn target(&self) -> &Path {
        &self.target
    }
}

/// Put every staged file in place, together or not at all.
///
/// Each staged file is flushed and given the permission bits of the file it
/// replaces (`mode` when it creates one); each destination is checked again
/// (absent or a regular file) and an existing one is kept under a hidden
/// name beside it; then each staged file is renamed over its destination and
/// the directories are flushed. If a rename fails, the destinations already
/// replaced get their old files back (or are removed when they did not
/// exist), so every destination is as it was. Afterwards each destination is
/// read back: it must be the staged file (same inode, same length).
///
/// # Errors
///
/// [`WriteError::NotRegular`] when a destination became something other
/// than a regular file, [`WriteError::Io`] naming the destination when a
/// step fails (nothing replaced), [`WriteError::Replaced`] when a
/// destination read back is not the staged file.
pub fn replace_together(staged: Vec<Staged>, mode: u32) -> Result<(), WriteError> {
    replace_with(staged, mode, |from, to| fs::rename(from, to))
}

/// [`replace_together`] with the rename step given (tests make it fail).
fn replace_with(
    staged: Vec<Staged>,
    mode: u32,
    mut rename: impl FnMut(&Path, &Path) -> io::Result<()>,
) -> Result<(), WriteError> {
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| WriteError::Io { path, source }
    };
    for (i, one) in staged.iter().enumerate() {
        if staged
            .iter()
            .skip(i + 1)
            .any(|other| other.target == one.target)
        {
            return Err(io_error(&one.target)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "staged twice",
            )));
        }
    }
    // Complete, durable and with their final mode before anything moves.
    let mut prepared = Vec::with_capacity(staged.len());
    for one in staged {
        let existing = check_target(&one.target)?;
        let bits = existing.as_ref().map_or(mode, MetadataExt::mode) & 0o777;
        let file = File::open(&one.temp).map_err(io_error(&one.target))?;
        file.set_permissions(Permissions::from_mode(bits))
            .map_err(io_error(&one.target))?;
        file.sync_all().map_err(io_error(&one.target))?;
        let ours = file.metadata().map_err(io_error(&one.target))?;
        let backup = match existing {
            Some(_) => {
                let mut name = one.temp.as_os_str().to_owned();
                name.push(".old");
                let backup = PathBuf::from(name);
                fs::hard_link(&one.target, &backup).map_err(io_error(&one.target))?;
                Some(Backup(backup))
            }
            None => None,
        };
        prepared.push(Prepared {
            staged: one,
            backup,
            ours,
        });
    }
    let mut done = 0;
    let mut failure = None;
    for one in &prepared {
        if let Err(source) = rename(&one.staged.temp, &one.staged.target) {
            failure = Some(WriteError::Io {
                path: one.staged.target.clone(),
                source,
            });
            break;
        }
        done += 1;
    }
    if let Some(failure) = failure {
        // Undo in reverse: the old file back, or no file where there was none.
        for one in prepared.iter().take(done).rev() {
            let _ = match &one.backup {
                Some(backup) => fs::rename(&backup.0, &one.staged.target),
                None => fs::remove_file(&one.staged.target),
            };
        }
        sync_directories(prepared.iter().map(|p| p.staged.target.as_path()));
        return Err(failure);
    }
    let dirs: BTreeSet<&Path> = prepared
        .iter()
        .map(|p| directory_of(&p.staged.target))
        .collect();
    for dir in dirs {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error(dir))?;
    }
    for one in prepared {
        let found =
            fs::symlink_metadata(&one.staged.target).map_err(io_error(&one.staged.target))?;
        let problem = if (found.dev(), found.ino()) != (one.ours.dev(), one.ours.ino()) {
            "another file is in its place".to_owned()
        } else if found.len() != one.ours.len() {
            format!(
                "{} bytes long, {} were written",
                found.len(),
                one.ours.len()
            )
        } else {
            // Renamed: the temporary name no longer exists.
            let _ = one.staged.temp.keep();
            continue;
        };
        return Err(WriteError::Replaced {
            path: one.staged.target,
            problem,
        });
    }
    Ok(())
}

/// A staged file with what it replaces.
struct Prepared {
    staged: Staged,
    backup: Option<Backup>,
    ours: fs::Metadata,
}

/// The old file's second name, removed when done with.
struct Backup(PathBuf);

impl Drop for Backup {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// The metadata of `target` if it is a regular file, `None` if absent.
fn check_target(target: &Path) -> Result<Option<fs::Metadata>, WriteError> {
    match fs::symlink_metadata(target) {
        Ok(existing) if !existing.file_type().is_file() => Err(WriteError::NotRegular {
            path: target.to_owned(),
            file_type: describe(existing.file_type()),
        }),
        Ok(existing) => Ok(Some(existing)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(WriteError::Io {
            path: target.to_owned(),
            source,
        }),
    }
}

fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Best effort, on the way out of an error.
fn sync_directories<'a>(paths: impl Iterator<Item = &'a Path>) {
    let dirs: BTreeSet<&Path> = paths.map(directory_of).collect();
    for dir in dirs {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_with(target: &Path, contents: &str) -> Staged {
        let staged = Staged::beside(target).unwrap();
        fs::write(staged.path(), contents).unwrap();
        staged
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn files_in_two_directories_are_replaced_together_keeping_modes() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let a = one.path().join("a.img");
        let b = two.path().join("b.img");
        fs::write(&a, "old a").unwrap();
        fs::set_permissions(&a, Permissions::from_mode(0o640)).unwrap();
        let staged = vec![staged_with(&a, "new a"), staged_with(&b, "new b")];
        assert_eq!(staged[0].target(), a);
        assert_eq!(staged[0].path().parent(), Some(one.path()));
        replace_together(staged, 0o644).unwrap();
        assert_eq!(fs::read_to_string(&a).unwrap(), "new a");
        assert_eq!(fs::read_to_string(&b).unwrap(), "new b");
        assert_eq!(fs::metadata(&a).unwrap().mode() & 0o7777, 0o640);
        assert_eq!(fs::metadata(&b).unwrap().mode() & 0o7777, 0o644);
        assert_eq!(names(one.path()), ["a.img"]);
        assert_eq!(names(two.path()), ["b.img"]);
    }

    #[test]
    fn a_failed_rename_puts_every_old_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        let c = dir.path().join("c");
        fs::write(&a, "old a").unwrap();
        fs::write(&c, "old c").unwrap();
        let staged = vec![
            staged_with(&a, "new a"),
            staged_with(&b, "new b"),
            staged_with(&c, "new c"),
        ];
        let mut calls = 0;
        let error = replace_with(staged, 0o644, |from, to| {
            calls += 1;
            if calls == 3 {
                return Err(io::Error::other("injected"));
            }
            fs::rename(from, to)
        })
        .unwrap_err();
        assert_eq!(error.path(), c);
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert!(!b.exists(), "b did not exist before");
        assert_eq!(fs::read_to_string(&c).unwrap(), "old c");
        assert_eq!(
            names(dir.path()),
            ["a", "c"],
            "no staged file or backup left"
        );
    }

    #[test]
    fn a_destination_that_is_not_a_regular_file_is_never_staged_nor_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(matches!(
            Staged::beside(&link),
            Err(WriteError::NotRegular { .. })
        ));
        assert!(matches!(
            Staged::beside(Path::new("/dev/null")),
            Err(WriteError::NotRegular { .. })
        ));
        // Became a directory after staging: nothing is replaced.
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "old a").unwrap();
        let staged = vec![staged_with(&a, "new a"), staged_with(&b, "new b")];
        fs::create_dir(&b).unwrap();
        assert!(matches!(
            replace_together(staged, 0o644),
            Err(WriteError::NotRegular { .. })
        ));
        assert_eq!(fs::read_to_string(&a).unwrap(), "old a");
        assert_eq!(names(dir.path()), ["a", "b", "link"]);
    }

    #[test]
    fn a_tagged_staged_file_carries_its_tag() {
        let dir = tempfile::tempdir().unwrap();
        let staged = Staged::tagged(&dir.path().join("out"), "job7").unwrap();
        let name = staged
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with(".out.job7."), "{name}");
        assert_eq!(staged.path().extension().unwrap(), "tmp");
    }

    #[test]
    fn dropped_unused_the_staged_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let staged = staged_with(&dir.path().join("out"), "x");
        let path = staged.path().to_owned();
        assert!(path.exists());
        drop(staged);
        assert!(!path.exists());
        assert!(names(dir.path()).is_empty());
    }
}

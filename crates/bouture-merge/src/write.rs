//! Writing the merged configuration: never over an input, always atomically.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The mode of the merged file, as Ganeti writes `config.data`.
pub const OUTPUT_MODE: u32 = 0o640;

/// Refuse an `output` that designates one of the `inputs`: the same path
/// after resolving symlinks and `..`, or the same file (device and inode,
/// which also catches hard links).
///
/// # Errors
///
/// [`Error::OutputIsInput`].
pub fn check_output_is_not_input(output: &Path, inputs: &[&Path]) -> Result<(), Error> {
    let output_identity = fs::metadata(output).ok().map(|m| (m.dev(), m.ino()));
    let output_resolved = resolve(output);
    for input in inputs {
        let same_file = match (output_identity, fs::metadata(input)) {
            (Some(identity), Ok(meta)) => identity == (meta.dev(), meta.ino()),
            _ => false,
        };
        let same_path = output_resolved.is_some() && output_resolved == resolve(input);
        if same_file || same_path {
            return Err(Error::OutputIsInput {
                output: output.to_owned(),
                input: (*input).to_owned(),
            });
        }
    }
    Ok(())
}

/// The canonical form of a path that may not exist yet (its parent must).
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = path.canonicalize() {
        return Some(path);
    }
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, written, set to mode 0640, fsynced, renamed over `path`, then
/// the directory fsynced. On error the previous `path`, if any, is intact.
///
/// # Errors
///
/// [`Error::Write`].
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let failed = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".bouture-merge.")
        .tempfile_in(dir)
        .map_err(failed)?;
    temp.write_all(bytes).map_err(failed)?;
    temp.as_file()
        .set_permissions(Permissions::from_mode(OUTPUT_MODE))
        .map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    temp.persist(path).map_err(|e| failed(e.error))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(failed)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_same_path_symlink_and_hard_link() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.data");
        fs::write(&input, "{}").unwrap();
        let inputs = [input.as_path()];
        assert!(check_output_is_not_input(&input, &inputs).is_err());
        let dotted = dir.path().join(".").join("in.data");
        assert!(check_output_is_not_input(&dotted, &inputs).is_err());
        let link = dir.path().join("hard.data");
        fs::hard_link(&input, &link).unwrap();
        assert!(check_output_is_not_input(&link, &inputs).is_err());
        let symlink = dir.path().join("sym.data");
        std::os::unix::fs::symlink(&input, &symlink).unwrap();
        assert!(check_output_is_not_input(&symlink, &inputs).is_err());
        let other = dir.path().join("out.data");
        assert!(check_output_is_not_input(&other, &inputs).is_ok());
    }

    #[test]
    fn writes_with_mode_0640_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.data");
        fs::write(&out, "old").unwrap();
        write_atomically(&out, b"new\n").unwrap();
        assert_eq!(fs::read_to_string(&out).unwrap(), "new\n");
        let mode = fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

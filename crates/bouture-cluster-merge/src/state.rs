//! The state directory is input: it must belong to the user running
//! bouture and be writable by nobody else; what killed runs left in it
//! (copied keys, fetched configurations) is removed.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::error::Error;

/// Names of the entries a run keeps only while it runs: the work
/// directory (`work-RUN`: fetched configurations, the staged merge), the
/// copied keys (`keys.*`) and discovery's checked copies (`bouture-cluster-merge-check.*`).
const SCRATCH_PREFIXES: [&str; 3] = ["work-", "keys.", "bouture-cluster-merge-check."];

/// The effective user id of this process.
pub(crate) fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Why `meta` (of a state directory or a file in it) is not private to
/// the user running bouture, if it is not.
pub(crate) fn not_private(meta: &std::fs::Metadata) -> Option<String> {
    let me = euid();
    if meta.uid() != me {
        return Some(format!(
            "it belongs to uid {}, not to uid {me} running bouture",
            meta.uid()
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Some(format!("its mode {mode:04o} lets group or others write it"));
    }
    None
}

/// Create the state directory (mode 0700) or check the existing one: a
/// directory (not a link), owned by us, writable by nobody else.
pub(crate) fn prepare(path: &Path) -> Result<(), Error> {
    let bad = |reason: String| Error::StateDir {
        path: path.to_owned(),
        reason,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => not_private(&meta).map_or(Ok(()), |why| Err(bad(why))),
        Ok(meta) => Err(bad(format!(
            "is {}, not a directory",
            bouture_fs::describe(meta.file_type())
        ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path).map_err(|e| bad(format!("cannot create it: {e}")))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| bad(format!("cannot make it private: {e}")))
        }
        Err(error) => Err(bad(error.to_string())),
    }
}

/// Remove the scratch entries of `state_dir` (see [`SCRATCH_PREFIXES`]),
/// ours or left by a killed run: directories we own, removed without
/// following any link. Returns what could not be removed.
pub(crate) fn remove_scratch(state_dir: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return errors;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !SCRATCH_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let path = entry.path();
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() && meta.uid() == euid() => {
                if let Err(error) = std::fs::remove_dir_all(&path) {
                    errors.push(format!("{}: {error}", path.display()));
                }
            }
            Ok(_) => errors.push(format!(
                "{}: not a directory of ours; left as it is",
                path.display()
            )),
            Err(error) => errors.push(format!("{}: {error}", path.display())),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_directory_writable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        prepare(&state).unwrap();
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = prepare(&state).unwrap_err().to_string();
        assert!(error.contains("lets group or others write it"), "{error}");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(prepare(&link).is_err());
    }

    #[test]
    fn scratch_left_by_killed_runs_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("work-1/x")).unwrap();
        std::fs::write(dir.path().join("work-1/x/secret"), "s").unwrap();
        std::fs::create_dir(dir.path().join("keys.abc")).unwrap();
        std::fs::write(dir.path().join("journal.json"), "{}").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(
            outside.path(),
            dir.path().join("bouture-cluster-merge-check.link"),
        )
        .unwrap();
        let errors = remove_scratch(dir.path());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(!dir.path().join("work-1").exists());
        assert!(!dir.path().join("keys.abc").exists());
        assert!(dir.path().join("journal.json").exists());
        assert!(outside.path().exists());
    }
}

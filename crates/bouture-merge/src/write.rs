//! Writing the merged configuration: never over an input, always atomically
//! (both through `bouture-fs`).

use std::path::Path;
use std::time::Duration;

use crate::error::Error;

/// The mode of the merged file, as Ganeti writes `config.data`.
pub const OUTPUT_MODE: u32 = 0o640;

/// Refuse an `output` that designates one of the `inputs` (see
/// [`bouture_fs::same_file`]: the same file through hard or symbolic links,
/// or the same path once resolved).
///
/// # Errors
///
/// [`Error::OutputIsInput`].
pub fn check_output_is_not_input(output: &Path, inputs: &[&Path]) -> Result<(), Error> {
    match inputs
        .iter()
        .find(|input| bouture_fs::same_file(output, input))
    {
        Some(input) => Err(Error::OutputIsInput {
            output: output.to_owned(),
            input: (*input).to_owned(),
        }),
        None => Ok(()),
    }
}

/// Check, before anything is read or written, that `output` can be
/// written: if it exists it is a regular file (never a FIFO, a device, a
/// directory or a symbolic link, which are not replaced), and its directory
/// exists.
///
/// # Errors
///
/// [`Error::Output`].
pub fn check_output(output: &Path) -> Result<(), Error> {
    let refuse = |problem: String| {
        Err(Error::Output {
            path: output.to_owned(),
            problem,
        })
    };
    match std::fs::symlink_metadata(output) {
        Ok(metadata) if !metadata.file_type().is_file() => {
            return refuse(format!(
                "it is {}, not a regular file; it is never replaced, choose another path",
                bouture_fs::describe(metadata.file_type())
            ));
        }
        Ok(_) => return Ok(()),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return refuse(error.to_string());
        }
        Err(_) => {}
    }
    let dir = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => refuse(format!("{} is not a directory", dir.display())),
        Err(error) => refuse(format!("its directory {}: {error}", dir.display())),
    }
}

/// How long a merge waits for another one writing in the same directory.
pub const OUTPUT_LOCK_WAIT: Duration = Duration::from_secs(30);

/// The lock of an output: its directory, locked (`flock`) while the output
/// is written and read back, so that two merges writing there at once (a
/// cron run and an operator) write one after the other and each checks
/// its own file. Nothing is created for it.
fn lock_output(path: &Path, wait: Duration) -> Result<bouture_fs::FileLock, Error> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    Ok(bouture_fs::FileLock::directory(
        dir,
        bouture_fs::Wait::UpTo(wait),
    )?)
}

/// Write what `produce` writes to `path` atomically with mode
/// [`OUTPUT_MODE`] (see [`bouture_fs::write_atomic_with`]), holding the
/// output's lock (waiting up to `wait` for it).
pub(crate) fn write_with(
    path: &Path,
    wait: Duration,
    produce: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let _lock = lock_output(path, wait)?;
    Ok(bouture_fs::write_atomic_with(
        path,
        OUTPUT_MODE,
        None,
        produce,
    )?)
}

/// Write `bytes` to `path` atomically with mode [`OUTPUT_MODE`] (see
/// [`bouture_fs::write_atomic`]). On error the previous `path`, if any, is
/// intact; something at `path` that is not a regular file is never replaced.
///
/// # Errors
///
/// [`Error::Write`].
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_with(path, OUTPUT_LOCK_WAIT, |out| out.write_all(bytes))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

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

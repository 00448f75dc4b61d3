//! Running the real binary and making its output stable for snapshots.

use std::path::Path;
use std::process::Command;

/// What one run of `bouture` did.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// The run in the snapshot format: exit code, stdout, stderr.
    pub(crate) fn snapshot(&self) -> String {
        format!(
            "exit_code: {}\n----- stdout -----\n{}\n----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Run `bouture` with `args`, with `$SLAPOS_CONFIGURATION` unset, replacing
/// `root` by `[ROOT]` in its output.
pub(crate) fn bouture(args: &[&str], root: &Path) -> Run {
    run_bouture(Command::new(env!("CARGO_BIN_EXE_bouture")).args(args), root)
}

/// [`bouture`] run in `root` (relative arguments are relative to it), with
/// extra environment variables.
pub(crate) fn bouture_env(args: &[&str], root: &Path, env: &[(&str, &str)]) -> Run {
    run_bouture(
        Command::new(env!("CARGO_BIN_EXE_bouture"))
            .args(args)
            .current_dir(root)
            .envs(env.iter().copied()),
        root,
    )
}

fn run_bouture(command: &mut Command, root: &Path) -> Run {
    let output = command
        .env_remove("SLAPOS_CONFIGURATION")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let clean =
        |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(root.to_str().unwrap(), "[ROOT]");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: clean(&output.stdout),
        stderr: clean(&output.stderr),
    }
}

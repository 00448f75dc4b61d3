//! External tools: found up front (with the Debian package to install when
//! missing), run through bouture-proc: bounded output, a deadline
//! ([`TOOL_DEADLINE`]), the whole process group stopped or killed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::error::{Error, MissingTool};

/// Where GRUB's BIOS modules and boot.img are (Debian's grub-pc-bin).
pub const GRUB_I386_PC: &str = "/usr/lib/grub/i386-pc";
/// Where GRUB's UEFI modules are (Debian's grub-efi-amd64-bin).
pub const GRUB_X86_64_EFI: &str = "/usr/lib/grub/x86_64-efi";

/// Find a program in `PATH`, then in the sbin directories (mkfs lives there).
pub(crate) fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| candidate.is_file())
}

/// The tools found, by name.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    found: Vec<(&'static str, PathBuf)>,
    /// Set non-zero (by a signal handler) to stop: the running tool is
    /// stopped with its process group.
    cancel: Option<Arc<AtomicUsize>>,
}

impl Tools {
    /// Look for every `(tool, package)`; all missing ones are reported at once.
    /// A tool given as an absolute path is a file that must exist.
    pub(crate) fn require(wanted: &[(&'static str, &'static str)]) -> Result<Self, Error> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for (tool, package) in wanted {
            let path = if tool.starts_with('/') {
                Some(PathBuf::from(tool)).filter(|p| p.is_file())
            } else {
                find(tool)
            };
            match path {
                Some(path) => found.push((*tool, path)),
                None => missing.push(MissingTool {
                    tool: (*tool).to_owned(),
                    package: (*package).to_owned(),
                }),
            }
        }
        if missing.is_empty() {
            Ok(Self {
                found,
                cancel: None,
            })
        } else {
            Err(Error::MissingTools(missing))
        }
    }

    /// Stop when `cancel` is set: [`Tools::run`] kills the running tool and
    /// [`Tools::check_cancel`] says so.
    pub(crate) fn cancelled_by(mut self, cancel: Option<Arc<AtomicUsize>>) -> Self {
        self.cancel = cancel;
        self
    }

    /// [`Error::Interrupted`] once cancelled.
    pub(crate) fn check_cancel(&self) -> Result<(), Error> {
        match &self.cancel {
            Some(flag) if flag.load(Ordering::SeqCst) != 0 => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }

    /// [`run`], stopping the tool when cancelled.
    pub(crate) fn run(&self, command: Command, input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
        self.check_cancel()?;
        match self.cancel.as_deref() {
            Some(cancel) => run_with(command, input, cancel),
            None => run(command, input),
        }
    }

    pub(crate) fn command(&self, tool: &str) -> Command {
        let path = self
            .found
            .iter()
            .find(|(name, _)| *name == tool)
            .map_or_else(|| PathBuf::from(tool), |(_, path)| path.clone());
        let mut command = Command::new(path);
        command.env("LC_ALL", "C");
        command
    }
}

/// Most bytes kept from a tool's standard output (more is an error).
pub(crate) const OUTPUT_LIMIT: usize = 4 * 1024 * 1024;
/// Most bytes kept from the start of a tool's standard error.
const STDERR_LIMIT: usize = 8192;
/// How long one tool may run before it is killed with its process group
/// (an `mke2fs -d` of a large tree, a `qemu-img convert` of a large disk).
pub const TOOL_DEADLINE: Duration = Duration::from_mins(30);

/// Run a command (with optional standard input), return its standard output
/// (at most `OUTPUT_LIMIT` bytes); a failure carries the start of stderr.
pub(crate) fn run(command: Command, input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    run_with(command, input, &AtomicUsize::new(0))
}

/// [`run`] through bouture-proc (its own process group, bounded output,
/// killed with its group at [`TOOL_DEADLINE`]), stopped as soon as `cancel`
/// is non-zero.
fn run_with(
    command: Command,
    input: Option<&[u8]>,
    cancel: &AtomicUsize,
) -> Result<Vec<u8>, Error> {
    let described = describe(&command);
    let failed = |status: String, stderr: String| Error::Tool {
        command: described.clone(),
        status,
        stderr,
    };
    let options = bouture_proc::Options {
        stdout: bouture_proc::Bound::start(OUTPUT_LIMIT),
        stderr: bouture_proc::Bound::start(STDERR_LIMIT),
        ..bouture_proc::Options::new(TOOL_DEADLINE)
    };
    let excerpt = |stderr: &bouture_proc::Captured| {
        bouture_text::truncate(String::from_utf8_lossy(&stderr.bytes).trim(), 2000)
    };
    let output = match bouture_proc::run_until_stopped(command, input, &options, cancel) {
        Ok(output) => output,
        Err(bouture_proc::Error::Stopped { .. }) => return Err(Error::Interrupted),
        Err(bouture_proc::Error::Start { source, .. }) => {
            return Err(failed("not started".into(), source.to_string()));
        }
        Err(bouture_proc::Error::Io { source, .. }) => {
            return Err(failed("not waited for".into(), source.to_string()));
        }
        Err(bouture_proc::Error::Deadline {
            deadline, stderr, ..
        }) => {
            return Err(failed(
                format!("ran longer than {} s and was killed", deadline.as_secs()),
                excerpt(&stderr),
            ));
        }
        Err(error) => return Err(failed("not run".into(), error.to_string())),
    };
    if output.stdout.is_cut() {
        return Err(failed(
            format!("output longer than {OUTPUT_LIMIT} bytes"),
            String::new(),
        ));
    }
    if !output.status.success() {
        return Err(failed(output.status.to_string(), excerpt(&output.stderr)));
    }
    Ok(output.stdout.bytes)
}

fn describe(command: &Command) -> String {
    let mut text = Path::new(command.get_program())
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    bouture_text::truncate(&text, 300)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Tools;

    #[test]
    fn missing_tools_are_all_named_with_their_package() {
        let error = Tools::require(&[
            ("sh", "dash"),
            ("bouture-no-such-tool", "bouture-pkg"),
            ("/nonexistent/grub/boot.img", "grub-pc-bin"),
        ])
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "missing tools: bouture-no-such-tool (apt-get install bouture-pkg), \
             /nonexistent/grub/boot.img (apt-get install grub-pc-bin)"
        );
    }
}

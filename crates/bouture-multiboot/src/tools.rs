//! External tools: found up front (with the Debian package to install when
//! missing), run with bounded output.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, MissingTool};

/// Where GRUB's BIOS modules and boot.img are (Debian's grub-pc-bin).
pub const GRUB_I386_PC: &str = "/usr/lib/grub/i386-pc";

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
            Ok(Self { found })
        } else {
            Err(Error::MissingTools(missing))
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

/// Most bytes kept from a tool's standard output.
pub(crate) const OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

/// How long one tool may run before it is killed with its process group:
/// 30 minutes (`mke2fs -d` of a large image tree, `qemu-img convert` of a
/// large disk on a slow device).
pub const TOOL_DEADLINE: std::time::Duration = std::time::Duration::from_mins(30);

/// Run a command (with optional standard input) through bouture-proc, within
/// [`TOOL_DEADLINE`]; return its standard output (at most `OUTPUT_LIMIT`
/// bytes); a failure carries the end of stderr.
pub(crate) fn run(command: Command, input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    let described = describe(&command);
    let options = bouture_proc::Options {
        stdout: bouture_proc::Bound::start(OUTPUT_LIMIT),
        stderr: bouture_proc::Bound::end(8192),
        ..bouture_proc::Options::new(TOOL_DEADLINE)
    };
    let tool_error = |status: String, stderr: String| Error::Tool {
        command: described.clone(),
        status,
        stderr,
    };
    let output = match bouture_proc::run(command, input, &options) {
        Ok(output) => output,
        Err(bouture_proc::Error::Start { source, .. }) => {
            return Err(tool_error("not started".into(), source.to_string()));
        }
        Err(bouture_proc::Error::Deadline { stderr, .. }) => {
            return Err(tool_error(
                format!("killed after {} s", TOOL_DEADLINE.as_secs()),
                stderr.excerpt(2000),
            ));
        }
        Err(error) => {
            return Err(tool_error(
                "not waited for".into(),
                bouture_text::error_chain(&error),
            ));
        }
    };
    if output.stdout.is_cut() {
        return Err(tool_error(
            format!("output longer than {OUTPUT_LIMIT} bytes"),
            String::new(),
        ));
    }
    if !output.status.success() {
        return Err(tool_error(
            output.status.to_string(),
            bouture_text::truncate(String::from_utf8_lossy(&output.stderr.bytes).trim(), 2000),
        ));
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

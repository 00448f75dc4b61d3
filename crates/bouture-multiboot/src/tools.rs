//! External tools: found up front (with the Debian package to install when
//! missing), run with bounded output.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Set (by a signal handler) to stop: the running tool is killed.
    cancel: Option<Arc<AtomicBool>>,
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
    pub(crate) fn cancelled_by(mut self, cancel: Option<Arc<AtomicBool>>) -> Self {
        self.cancel = cancel;
        self
    }

    /// [`Error::Interrupted`] once cancelled.
    pub(crate) fn check_cancel(&self) -> Result<(), Error> {
        match &self.cancel {
            Some(flag) if flag.load(Ordering::SeqCst) => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }

    /// [`run`], killing the tool when cancelled.
    pub(crate) fn run(&self, command: Command, input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
        self.check_cancel()?;
        run_with(command, input, self.cancel.as_deref())
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
pub(crate) const OUTPUT_LIMIT: u64 = 4 * 1024 * 1024;

/// Run a command (with optional standard input), return its standard output
/// (at most `OUTPUT_LIMIT` bytes); a failure carries the start of stderr.
pub(crate) fn run(command: Command, input: Option<&[u8]>) -> Result<Vec<u8>, Error> {
    run_with(command, input, None)
}

/// [`run`], killing the command as soon as `cancel` is set.
fn run_with(
    mut command: Command,
    input: Option<&[u8]>,
    cancel: Option<&AtomicBool>,
) -> Result<Vec<u8>, Error> {
    let described = describe(&command);
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|error| Error::Tool {
        command: described.clone(),
        status: "not started".into(),
        stderr: error.to_string(),
    })?;
    let stdin = child.stdin.take();
    let input = input.map(<[u8]>::to_vec);
    let writer = std::thread::spawn(move || {
        if let (Some(mut stdin), Some(input)) = (stdin, input) {
            let _ = stdin.write_all(&input);
        }
    });
    let stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut kept = Vec::new();
        if let Some(mut stderr) = stderr {
            let _ = stderr.by_ref().take(8192).read_to_end(&mut kept);
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
        }
        kept
    });
    let stdout = child.stdout.take();
    let overflow = Arc::new(AtomicBool::new(false));
    let overflowed = Arc::clone(&overflow);
    let out_reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut stdout) = stdout {
            let _ = stdout.by_ref().take(OUTPUT_LIMIT + 1).read_to_end(&mut out);
            if out.len() as u64 > OUTPUT_LIMIT {
                overflowed.store(true, Ordering::SeqCst);
            }
        }
        out
    });
    let mut interrupted = false;
    let mut too_long = false;
    let status = loop {
        let waited = child.try_wait().map_err(|error| Error::Tool {
            command: described.clone(),
            status: "not waited for".into(),
            stderr: error.to_string(),
        })?;
        if let Some(status) = waited {
            break status;
        }
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) && !interrupted {
            interrupted = true;
            let _ = child.kill();
        }
        if overflow.load(Ordering::SeqCst) && !too_long {
            too_long = true;
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let stderr = reader.join().unwrap_or_default();
    if interrupted {
        return Err(Error::Interrupted);
    }
    if out.len() as u64 > OUTPUT_LIMIT {
        return Err(Error::Tool {
            command: described,
            status: format!("output longer than {OUTPUT_LIMIT} bytes"),
            stderr: String::new(),
        });
    }
    if !status.success() {
        return Err(Error::Tool {
            command: described,
            status: status.to_string(),
            stderr: bouture_text::truncate(String::from_utf8_lossy(&stderr).trim(), 2000),
        });
    }
    Ok(out)
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

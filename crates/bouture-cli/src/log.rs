//! Log lines for long-running commands (`bouture failover`), on stderr, in
//! the format of `slapos node instance`'s own lines so that both read as one
//! log: `YYYY-MM-DD HH:MM:SS bouture[PID] LEVEL message`, in local time
//! (the zone of `TZ`, else `/etc/localtime`, as slapos's Python logging
//! does), without a zone marker, as slapos writes it.
//!
//! The global options of the `slapos` command decide what is written
//! ([`LogSettings`]):
//!
//! | option | stderr shows |
//! |---|---|
//! | `-qq` | ERROR |
//! | `-q` | WARNING, ERROR |
//! | (none) | INFO, WARNING, ERROR |
//! | `-v` (or more), `--debug` | DEBUG too: how long each step took, what was recorded |
//!
//! `--log-file FILE` appends every line, DEBUG included, to FILE as well
//! (as slapos's log file gets every level).
//!
//! `--log-time` does what it does in `slapos` (slapos.core's `entry.py`
//! declares it `store_false`, default on): it *removes* the date and time
//! from the lines on stderr (`bouture[PID] LEVEL message`); the lines in the
//! log file keep them, as slapos's log file always has them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bouture_failover::FailoverLog;
use bouture_text::Level;

use crate::Streams;
use crate::exit::{CommandError, CommandResult};
use crate::output::error_chain;

/// What the global options ask of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogSettings {
    /// `-v` count minus `-q` count (`--debug` counts as `-v`).
    pub(crate) verbosity: i16,
    /// `--log-file FILE`.
    pub(crate) file: Option<PathBuf>,
    /// `--log-time` (slapos's meaning): no date and time on stderr.
    pub(crate) no_time_on_stderr: bool,
}

impl LogSettings {
    /// Whether a line of `level` goes to stderr.
    pub(crate) fn shows(&self, level: Level) -> bool {
        let needed = match level {
            Level::Debug => 1,
            Level::Info => 0,
            Level::Warning => -1,
            _ => i16::MIN,
        };
        self.verbosity >= needed
    }
}

/// Writes log lines to a stream (and the log file); write errors are
/// ignored (a log that cannot be written must not change what the command
/// does).
pub(crate) struct Logger<'a> {
    out: &'a mut dyn Write,
    file: Option<File>,
    settings: LogSettings,
    pid: u32,
}

impl<'a> Logger<'a> {
    /// A logger on `out` and the settings' log file, opened for appending.
    pub(crate) fn new(out: &'a mut dyn Write, settings: &LogSettings) -> io::Result<Self> {
        let file = settings.file.as_deref().map(open_log_file).transpose()?;
        Ok(Self {
            out,
            file,
            settings: settings.clone(),
            pid: std::process::id(),
        })
    }

    pub(crate) fn log(&mut self, level: Level, message: &str) {
        let level_name = match level {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            _ => "ERROR",
        };
        let line = format!("bouture[{}] {level_name} {message}\n", self.pid);
        let stamp = local_stamp();
        if self.settings.shows(level) {
            if !self.settings.no_time_on_stderr {
                let _ = write!(self.out, "{stamp} ");
            }
            let _ = self.out.write_all(line.as_bytes());
            let _ = self.out.flush();
        }
        if let Some(file) = &mut self.file {
            let _ = file.write_all(format!("{stamp} {line}").as_bytes());
        }
    }

    /// Whether a line of `level` reaches stderr.
    pub(crate) fn shows(&self, level: Level) -> bool {
        self.settings.shows(level)
    }

    /// The stream the lines go to, for a progress line drawn between them.
    pub(crate) fn stream(&mut self) -> &mut dyn Write {
        self.out
    }

    pub(crate) fn info(&mut self, message: &str) {
        self.log(Level::Info, message);
    }

    pub(crate) fn debug(&mut self, message: &str) {
        self.log(Level::Debug, message);
    }

    pub(crate) fn warning(&mut self, message: &str) {
        self.log(Level::Warning, message);
    }

    pub(crate) fn error(&mut self, message: &str) {
        self.log(Level::Error, message);
    }
}

impl FailoverLog for Logger<'_> {
    fn log(&mut self, level: Level, message: &str) {
        Logger::log(self, level, message);
    }
}

/// The error path of every SlapOS command (inventory, graft, configure,
/// failover, status): a configuration or run error is logged at ERROR, with
/// the prefix of the other lines and into `--log-file`, and becomes
/// [`CommandError::Reported`] (exit 1, nothing printed again). Usage and
/// output errors are left to [`crate::exit::finish`].
pub(crate) fn log_errors(result: CommandResult, log: &mut Logger<'_>) -> CommandResult {
    match result {
        Err(CommandError::Config(error) | CommandError::Failed(error)) => {
            log.error(&error_chain(error.as_ref()));
            Err(CommandError::Reported)
        }
        other => other,
    }
}

/// Run a SlapOS command's body with its log on `streams.stderr` (and
/// `--log-file`) and its report on `streams.stdout`, its errors going
/// through [`log_errors`].
pub(crate) fn with_log(
    settings: &LogSettings,
    streams: &mut Streams<'_>,
    body: impl FnOnce(&mut Logger<'_>, &mut dyn Write) -> CommandResult,
) -> CommandResult {
    let mut log = Logger::new(streams.stderr, settings).map_err(CommandError::failed)?;
    let result = body(&mut log, streams.stdout);
    log_errors(result, &mut log)
}

/// Open the log file for appending: created (mode 0640) when missing,
/// never through a symbolic link, never a FIFO or a device.
fn open_log_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("--log-file {}: {error}", path.display()),
            )
        })?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::other(format!(
            "--log-file {} is not a regular file",
            path.display()
        )));
    }
    Ok(file)
}

/// Now in local time, as slapos's log lines show it:
/// `2026-11-23 16:04:05`.
pub(crate) fn local_stamp() -> String {
    jiff::Zoned::now().strftime("%Y-%m-%d %H:%M:%S").to_string()
}

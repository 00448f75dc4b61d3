//! The log of every command: its lines on stderr (and `--log-file`), at
//! the levels the global options ask for. One [`Logger`], built once from
//! the global options ([`LogSettings`]) and the command's [`Style`], is
//! handed to every command through [`crate::Context`]; the error that ends
//! a run is written through it too, by [`crate::exit::finish`].
//!
//! The global options mean the same for every command:
//!
//! | option | stderr shows |
//! |---|---|
//! | `-qq` | ERROR |
//! | `-q` | WARNING, ERROR |
//! | (none) | INFO, WARNING, ERROR |
//! | `-v` (or more), `--debug` | DEBUG too: what was read and written, how long each step took |
//!
//! `--log-file FILE` appends every line, DEBUG included, to FILE, in the
//! format of `slapos node instance`'s own lines, whatever the command:
//! `YYYY-MM-DD HH:MM:SS bouture[PID] LEVEL message`, in local time (the zone
//! of `TZ`, else `/etc/localtime`, as slapos's Python logging does), without
//! a zone marker, as slapos writes it.
//!
//! On stderr a line has its command's [`Style`]:
//!
//! - [`Style::Slapos`] (inventory, graft, configure, failover, status, the
//!   commands that stand in for `slapos bouture`): the log file's format,
//!   so that bouture's lines and slapos's read as one log;
//! - [`Style::Plain`] (merge, cluster-merge, node-setup, deploy, boot,
//!   completions): the message alone, `warning: ` or `error: ` before a
//!   warning or an error.
//!
//! `--log-time` toggles the date and time of stderr's lines away from the
//! style's default: a SlapOS line loses it, as in `slapos` (slapos.core's
//! `entry.py` declares the flag `store_false`, default on), and a plain
//! line gains it. The log file always has it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use bouture_failover::FailoverLog;
use bouture_text::Level;

/// What the global options ask of the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LogSettings {
    /// `-v` count plus `--debug` minus `-q` count.
    pub(crate) verbosity: i16,
    /// `--log-file FILE`.
    pub(crate) file: Option<PathBuf>,
    /// `--log-time`: stderr's lines without the date and time of their
    /// style's default ([`Style::Slapos`]), or with it ([`Style::Plain`]).
    pub(crate) log_time: bool,
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

/// How a command's lines look on stderr (the log file has one format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `YYYY-MM-DD HH:MM:SS bouture[PID] LEVEL message`, as `slapos`.
    Slapos,
    /// `message`, `warning: message`, `error: message`.
    Plain,
}

/// Writes log lines to a stream (and the log file); write errors are
/// ignored (a log that cannot be written must not change what the command
/// does).
pub(crate) struct Logger<'a> {
    out: &'a mut dyn Write,
    file: Option<File>,
    settings: LogSettings,
    style: Style,
    pid: u32,
}

impl<'a> Logger<'a> {
    /// A logger on `out` and the settings' log file, opened for appending.
    pub(crate) fn new(
        out: &'a mut dyn Write,
        settings: &LogSettings,
        style: Style,
    ) -> io::Result<Self> {
        let file = settings.file.as_deref().map(open_log_file).transpose()?;
        Ok(Self {
            out,
            file,
            settings: settings.clone(),
            style,
            pid: std::process::id(),
        })
    }

    /// Plain lines on `out` at the default level, no log file.
    pub(crate) fn bare(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            file: None,
            settings: LogSettings::default(),
            style: Style::Plain,
            pid: std::process::id(),
        }
    }

    /// Write `message` at `level`: on stderr if the level is shown, into
    /// the log file always.
    pub(crate) fn log(&mut self, level: Level, message: &str) {
        let level_name = match level {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            _ => "ERROR",
        };
        let line = format!("bouture[{}] {level_name} {message}\n", self.pid);
        // The local time only when a line shows it: finding the local time
        // zone reads the system's zone database, a few million instructions
        // that a quiet run (a merge's) need not spend.
        let mut stamp: Option<String> = None;
        if self.settings.shows(level) {
            let stamped = match self.style {
                Style::Slapos => !self.settings.log_time,
                Style::Plain => self.settings.log_time,
            };
            if stamped {
                let _ = write!(self.out, "{} ", stamp.get_or_insert_with(local_stamp));
            }
            let _ = match (self.style, level) {
                (Style::Slapos, _) => self.out.write_all(line.as_bytes()),
                (Style::Plain, Level::Debug | Level::Info) => writeln!(self.out, "{message}"),
                (Style::Plain, Level::Warning) => writeln!(self.out, "warning: {message}"),
                (Style::Plain, _) => writeln!(self.out, "error: {message}"),
            };
            let _ = self.out.flush();
        }
        if let Some(file) = &mut self.file {
            let stamp = stamp.get_or_insert_with(local_stamp);
            let _ = file.write_all(format!("{stamp} {line}").as_bytes());
        }
    }

    /// Whether a line of `level` reaches stderr.
    pub(crate) fn shows(&self, level: Level) -> bool {
        self.settings.shows(level)
    }

    /// `-v` count plus `--debug` minus `-q` count: how much a command
    /// prints besides its log (a report's detail, a report at all).
    pub(crate) fn verbosity(&self) -> i16 {
        self.settings.verbosity
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

    fn name(&self, name: bouture_failover::Name<'_>) -> String {
        crate::commands::failover::name(name)
    }
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

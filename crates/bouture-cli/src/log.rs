//! Log lines for long-running commands (`bouture failover`), on stderr, in
//! the format of `slapos node instance`'s own lines so that both read as one
//! log: `YYYY-MM-DD HH:MM:SS bouture[PID] LEVEL message` (UTC).

use std::io::Write;

use bouture_failover::{FailoverLog, Level};

/// Writes log lines to a stream; write errors are ignored (a log that
/// cannot be written must not change what the command does).
pub(crate) struct Logger<'a> {
    out: &'a mut dyn Write,
    pid: u32,
}

impl<'a> Logger<'a> {
    pub(crate) fn new(out: &'a mut dyn Write) -> Self {
        Self {
            out,
            pid: std::process::id(),
        }
    }

    pub(crate) fn log(&mut self, level: Level, message: &str) {
        let (stamp, _) = bouture_failover::switchfile::utc_now();
        // `2026-11-23T15:04:05Z` -> `2026-11-23 15:04:05`
        let stamp = stamp.replace('T', " ").replace('Z', "");
        let level = match level {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            _ => "ERROR",
        };
        let _ = writeln!(self.out, "{stamp} bouture[{}] {level} {message}", self.pid);
        let _ = self.out.flush();
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

#![doc = include_str!("../README.md")]

use std::io::{self, PipeReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, kill_process_group};

/// How long output is still read after the program exited, when a process
/// it left running (a daemon it started) holds its standard output or error
/// open: what that process prints later is not the program's.
pub const HELD_OPEN_GRACE: Duration = Duration::from_millis(200);

/// How long a program asked to stop ([`run_until_stopped`]) and its process
/// group have to exit after `SIGTERM`, before `SIGKILL`.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// How often a running program is checked for its exit while its output is
/// quiet, where no pidfd tells it at once (kernels before 5.3), and how
/// often the deadline and a stop request are looked at.
const TICK: Duration = Duration::from_millis(20);

/// The most bytes read from a pipe at once.
const CHUNK: usize = 64 * 1024;

/// Which part of an output too long for its bound is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The first bytes: output that is parsed.
    Start,
    /// The last bytes: output quoted in a message (where the error is).
    End,
}

/// The most bytes kept of one output, and which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The most bytes kept.
    pub limit: usize,
    /// The start or the end.
    pub keep: Keep,
}

impl Bound {
    /// The first `limit` bytes.
    pub fn start(limit: usize) -> Self {
        Self {
            limit,
            keep: Keep::Start,
        }
    }

    /// The last `limit` bytes.
    pub fn end(limit: usize) -> Self {
        Self {
            limit,
            keep: Keep::End,
        }
    }
}

/// How a program is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The program and its process group are killed when it runs longer.
    pub deadline: Duration,
    /// Standard output's bound.
    pub stdout: Bound,
    /// Standard error's bound; ignored with `stderr_to_stdout`.
    pub stderr: Bound,
    /// Standard error goes into standard output's pipe (one stream, in the
    /// order written, as a terminal would show it).
    pub stderr_to_stdout: bool,
}

impl Options {
    /// The default bounds ([`Options::DEFAULT_STDOUT`] of the start of
    /// standard output, [`Options::DEFAULT_STDERR`] of the end of standard
    /// error) and `deadline`.
    pub fn new(deadline: Duration) -> Self {
        Self {
            deadline,
            stdout: Bound::start(Self::DEFAULT_STDOUT),
            stderr: Bound::end(Self::DEFAULT_STDERR),
            stderr_to_stdout: false,
        }
    }

    /// Default bound of standard output: 4 MiB.
    pub const DEFAULT_STDOUT: usize = 4 * 1024 * 1024;
    /// Default bound of standard error: 64 KiB.
    pub const DEFAULT_STDERR: usize = 64 * 1024;
}

/// What was kept of one output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The bytes kept (at most the bound's limit).
    pub bytes: Vec<u8>,
    /// How many bytes were read and not kept (0: nothing was cut).
    pub cut: u64,
    keep_end: bool,
    limit: usize,
}

impl Captured {
    fn new(bound: Bound) -> Self {
        Self {
            bytes: Vec::new(),
            cut: 0,
            keep_end: bound.keep == Keep::End,
            limit: bound.limit,
        }
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.keep_end {
            self.bytes.extend_from_slice(chunk);
            // Shift now and then, not at every chunk.
            if self.bytes.len() > self.limit.saturating_mul(2).max(CHUNK) {
                self.trim_front();
            }
        } else {
            let room = self.limit.saturating_sub(self.bytes.len());
            let (kept, dropped) = chunk.split_at(room.min(chunk.len()));
            self.bytes.extend_from_slice(kept);
            self.cut += dropped.len() as u64;
        }
    }

    fn trim_front(&mut self) {
        let excess = self.bytes.len().saturating_sub(self.limit);
        if excess > 0 {
            self.bytes.drain(..excess);
            self.cut += excess as u64;
        }
    }

    fn finish(mut self) -> Self {
        if self.keep_end {
            self.trim_front();
        }
        self
    }

    /// Whether bytes were cut.
    pub fn is_cut(&self) -> bool {
        self.cut > 0
    }

    /// The bytes kept as trimmed text (`�` for what is not UTF-8), preceded
    /// by `…` when the start was cut, followed by it when the end was.
    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes);
        let text = text.trim();
        match (self.is_cut(), self.keep_end) {
            (false, _) => text.to_owned(),
            (true, true) => format!("…{text}"),
            (true, false) => format!("{text}…"),
        }
    }

    /// The end of the bytes kept, at most `max` bytes, for a message
    /// ([`bouture_text::tail`]).
    pub fn excerpt(&self, max: usize) -> String {
        let excerpt = bouture_text::tail(&self.bytes, max);
        if self.is_cut() && self.keep_end && !excerpt.starts_with('…') {
            format!("…{excerpt}")
        } else {
            excerpt
        }
    }
}

/// How a program that ran ended, and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output (with `stderr_to_stdout`, both).
    pub stdout: Captured,
    /// Its standard error (empty with `stderr_to_stdout`).
    pub stderr: Captured,
}

/// Why a program did not run to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The program could not be started (missing, not executable).
    #[error("cannot start {program}: {source}")]
    Start {
        /// The command line.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Its output could not be read, or it could not be waited for.
    #[error("lost track of {program}: {source}")]
    Io {
        /// The command line.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It ran longer than its deadline and was killed with its process group.
    #[error("{program} ran longer than {} s and was killed", deadline.as_secs_f64())]
    Deadline {
        /// The command line.
        program: String,
        /// The deadline.
        deadline: Duration,
        /// What it had printed on standard output.
        stdout: Box<Captured>,
        /// What it had printed on standard error.
        stderr: Box<Captured>,
    },
    /// The caller asked it to stop ([`run_until_stopped`]): its process
    /// group got `SIGTERM`, then `SIGKILL` after [`STOP_GRACE`].
    #[error("{program} was stopped (request {request})")]
    Stopped {
        /// The command line.
        program: String,
        /// The non-zero value that asked to stop (a signal's number when a
        /// signal handler set it).
        request: usize,
    },
}

/// `command`'s program and arguments as a shell line (for messages), at
/// most 300 characters.
pub fn describe(command: &Command) -> String {
    let words = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| word.to_string_lossy().into_owned());
    bouture_text::truncate(&bouture_text::shell_line(words), 300)
}

/// Run `command` to its end, or until `options.deadline`, feeding it
/// `input` (else standard input is empty), keeping its output within the
/// bounds. The command's standard streams and process group are set here;
/// its environment and directory are the caller's.
///
/// # Errors
///
/// [`Error::Start`] when it cannot start, [`Error::Deadline`] when it ran
/// too long (it and its process group are killed), [`Error::Io`] when its
/// output cannot be read. A program that ran and failed is an `Ok` whose
/// status says so.
pub fn run(command: Command, input: Option<&[u8]>, options: &Options) -> Result<Output, Error> {
    run_until_stopped(command, input, options, &AtomicUsize::new(0))
}

/// [`run`], and stop early when `stop` becomes non-zero (a signal handler
/// may store its signal's number there, as `signal_hook::flag::register_usize`
/// does): the process group gets `SIGTERM`, then `SIGKILL` after
/// [`STOP_GRACE`] if the program is still running; what is left of the group
/// once the program exited is killed. `stop` is read, never cleared.
///
/// # Errors
///
/// Those of [`run`], and [`Error::Stopped`] when a stop was requested
/// while the program ran (even if it then exited by itself).
pub fn run_until_stopped(
    mut command: Command,
    input: Option<&[u8]>,
    options: &Options,
    stop: &AtomicUsize,
) -> Result<Output, Error> {
    let program = describe(&command);
    let io_error = |source| Error::Io {
        program: program.clone(),
        source,
    };
    let (out_reader, out_writer) = io::pipe().map_err(io_error)?;
    let err_pipe = if options.stderr_to_stdout {
        command.stderr(out_writer.try_clone().map_err(io_error)?);
        None
    } else {
        let (reader, writer) = io::pipe().map_err(io_error)?;
        command.stderr(writer);
        Some(reader)
    };
    command
        .stdout(out_writer)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .process_group(0);
    let started = Instant::now();
    let mut child = command.spawn().map_err(|source| Error::Start {
        program: program.clone(),
        source,
    })?;
    // The write ends now belong to the child alone: dropping the command
    // closes ours, so the pipes end when the child (and what it started) does.
    drop(command);
    let writer = feed(&mut child, input);
    let mut stdout = Captured::new(options.stdout);
    let mut stderr = Captured::new(options.stderr);
    let read = read_until_exit(
        &mut child,
        [Some(out_reader), err_pipe],
        [&mut stdout, &mut stderr],
        started + options.deadline,
        stop,
    );
    if let Some(writer) = writer.filter(std::thread::JoinHandle::is_finished) {
        let _ = writer.join();
    }
    let status = match read {
        Ok(Ended::Exited(status)) => status,
        Ok(Ended::Stopped(request)) => {
            kill(&mut child);
            return Err(Error::Stopped { program, request });
        }
        Ok(Ended::Deadline) => {
            kill(&mut child);
            return Err(Error::Deadline {
                program,
                deadline: options.deadline,
                stdout: Box::new(stdout.finish()),
                stderr: Box::new(stderr.finish()),
            });
        }
        Err(error) => {
            kill(&mut child);
            return Err(io_error(error));
        }
    };
    Ok(Output {
        status,
        stdout: stdout.finish(),
        stderr: stderr.finish(),
    })
}

/// Write `input` to the child's standard input in a thread of its own, then
/// close it.
fn feed(child: &mut Child, input: Option<&[u8]>) -> Option<std::thread::JoinHandle<()>> {
    let mut stdin = child.stdin.take()?;
    let input = input?.to_vec();
    Some(std::thread::spawn(move || {
        // A program that exits without reading its input is not an error.
        let _ = stdin.write_all(&input);
    }))
}

/// Kill the child's process group, then the child (in case it left the
/// group), and reap it.
fn kill(child: &mut Child) {
    let _ = kill_process_group(Pid::from_child(child), Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// How [`read_until_exit`] ended.
enum Ended {
    /// The child exited.
    Exited(ExitStatus),
    /// The deadline passed.
    Deadline,
    /// A stop was requested (the value) and the child exited or
    /// [`STOP_GRACE`] passed.
    Stopped(usize),
}

/// Read both pipes until the child has exited and they are closed (or
/// [`HELD_OPEN_GRACE`] after its exit), the deadline passes, or a stop is
/// requested (the group gets `SIGTERM`, the child [`STOP_GRACE`] to exit).
fn read_until_exit(
    child: &mut Child,
    mut pipes: [Option<PipeReader>; 2],
    mut sinks: [&mut Captured; 2],
    deadline: Instant,
    stop: &AtomicUsize,
) -> io::Result<Ended> {
    let mut stopping: Option<(usize, Instant)> = None;
    let mut status = None;
    // Readable once the child has exited: its exit wakes the poll below at
    // once instead of at the next tick (a process closes its pipes before
    // it can be reaped). Without pidfds (before Linux 5.3), the tick.
    let exited = rustix::process::pidfd_open(Pid::from_child(child), PidfdFlags::empty()).ok();
    let mut stop_reading_at = None;
    let mut buffer = vec![0_u8; CHUNK];
    loop {
        let now = Instant::now();
        if status.is_none() {
            status = child.try_wait()?;
            if status.is_some() {
                stop_reading_at = Some(now + HELD_OPEN_GRACE);
            }
        }
        if stopping.is_none() {
            let request = stop.load(Ordering::SeqCst);
            if request != 0 && status.is_none() {
                let _ = kill_process_group(Pid::from_child(child), Signal::TERM);
                stopping = Some((request, now));
            }
        }
        if let Some((request, since)) = stopping
            && (status.is_some() || now >= since + STOP_GRACE)
        {
            return Ok(Ended::Stopped(request));
        }
        let open = pipes.iter().any(Option::is_some);
        match (status, open) {
            (Some(status), false) => return Ok(Ended::Exited(status)),
            (Some(status), true) if stop_reading_at.is_some_and(|at| now >= at) => {
                return Ok(Ended::Exited(status));
            }
            (None, _) if now >= deadline => return Ok(Ended::Deadline),
            _ => {}
        }
        let wait = deadline.saturating_duration_since(now).min(TICK);
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: i64::from(wait.subsec_nanos()),
        };
        let exit_fd = exited.as_ref().filter(|_| status.is_none());
        if !open {
            match exit_fd {
                Some(fd) => {
                    let mut polled = [PollFd::new(fd, PollFlags::IN)];
                    match poll(&mut polled, Some(&timeout)) {
                        Ok(_) | Err(rustix::io::Errno::INTR) => {}
                        Err(error) => return Err(error.into()),
                    }
                }
                None => std::thread::sleep(wait),
            }
            continue;
        }
        let indices: Vec<usize> = (0..pipes.len())
            .filter(|index| pipes.get(*index).is_some_and(Option::is_some))
            .collect();
        // The pipes first (their order is `indices`'), then the exit.
        let mut polled: Vec<PollFd<'_>> = pipes
            .iter()
            .flatten()
            .map(|pipe| PollFd::new(pipe, PollFlags::IN))
            .chain(exit_fd.map(|fd| PollFd::new(fd, PollFlags::IN)))
            .collect();
        match poll(&mut polled, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
        let ready: Vec<usize> = indices
            .into_iter()
            .zip(&polled)
            .filter(|(_, fd)| !fd.revents().is_empty())
            .map(|(index, _)| index)
            .collect();
        drop(polled);
        for index in ready {
            let (Some(pipe), Some(sink)) = (pipes.get_mut(index), sinks.get_mut(index)) else {
                continue;
            };
            let Some(reader) = pipe.as_mut() else {
                continue;
            };
            match reader.read(&mut buffer) {
                Ok(0) => *pipe = None,
                Ok(n) => sink.push(buffer.get(..n).unwrap_or_default()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn a_child_that_outlives_its_deadline_is_killed_with_its_group() {
        let dir = std::env::temp_dir().join(format!("bouture-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("grandchild-alive");
        // A grandchild in the same group that would write the marker later.
        let script = format!(
            "echo started; (sleep 2; touch {}) & sleep 30",
            marker.display()
        );
        let start = Instant::now();
        let error = run(sh(&script), None, &Options::new(Duration::from_millis(500))).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        let Error::Deadline {
            stdout, deadline, ..
        } = &error
        else {
            panic!("{error}")
        };
        assert_eq!(*deadline, Duration::from_millis(500));
        assert_eq!(stdout.bytes, b"started\n");
        assert!(
            error.to_string().contains("ran longer than 0.5 s"),
            "{error}"
        );
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "the grandchild survived the deadline");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn output_beyond_the_bound_is_cut_and_said_so() {
        let mut options = Options::new(Duration::from_secs(20));
        options.stdout = Bound::start(1000);
        options.stderr = Bound::end(100);
        let output = run(
            sh("head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; echo the end >&2; exit 3"),
            None,
            &options,
        )
        .unwrap();
        assert_eq!(output.status.code(), Some(3));
        assert_eq!(output.stdout.bytes.len(), 1000);
        assert_eq!(output.stdout.cut, 299_000);
        assert_eq!(output.stderr.bytes.len(), 100);
        assert_eq!(output.stderr.cut, 200_008 - 100);
        assert!(output.stderr.bytes.ends_with(b"the end\n"));
        assert!(output.stderr.text().starts_with('…'));
        assert!(output.stderr.excerpt(20).ends_with("the end"));
    }

    #[test]
    fn a_child_that_closes_its_output_and_keeps_running_meets_the_deadline() {
        let start = Instant::now();
        let error = run(
            sh("echo bye; exec >&- 2>&-; sleep 30"),
            None,
            &Options::new(Duration::from_millis(500)),
        )
        .unwrap_err();
        assert!(matches!(error, Error::Deadline { ref stdout, .. } if stdout.bytes == b"bye\n"));
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_daemon_left_holding_the_output_does_not_hold_the_caller() {
        // The child exits at once; what it started keeps stdout open.
        let start = Instant::now();
        let output = run(
            sh("echo started; setsid sleep 5 & exit 0"),
            None,
            &Options::new(Duration::from_secs(20)),
        )
        .unwrap();
        assert!(output.status.success());
        assert_eq!(output.stdout.bytes, b"started\n");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_missing_program_is_a_start_error() {
        let error = run(
            Command::new("/nonexistent/bouture-no-such-program"),
            None,
            &Options::new(Duration::from_secs(5)),
        )
        .unwrap_err();
        assert!(matches!(error, Error::Start { .. }), "{error}");
        assert!(
            error
                .to_string()
                .starts_with("cannot start /nonexistent/bouture-no-such-program: "),
            "{error}"
        );
    }

    #[test]
    fn input_is_fed_and_stderr_can_join_stdout() {
        let mut options = Options::new(Duration::from_secs(20));
        options.stderr_to_stdout = true;
        let output = run(sh("cat; echo err >&2"), Some(b"in\n"), &options).unwrap();
        assert_eq!(output.stdout.bytes, b"in\nerr\n");
        assert!(output.stderr.bytes.is_empty());
        // A program that does not read a large input does not block the caller.
        let big = vec![b'x'; 1 << 20];
        let output = run(sh("exit 0"), Some(&big), &options).unwrap();
        assert!(output.status.success());
    }

    #[test]
    fn a_stop_request_kills_the_group_with_sigterm() {
        let dir = std::env::temp_dir().join(format!("bouture-proc-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("grandchild-alive");
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let stop = std::sync::Arc::new(AtomicUsize::new(0));
        let requester = {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                stop.store(15, Ordering::SeqCst);
            })
        };
        let start = Instant::now();
        let error = run_until_stopped(
            sh(&script),
            None,
            &Options::new(Duration::from_mins(1)),
            &stop,
        )
        .unwrap_err();
        requester.join().unwrap();
        assert!(
            matches!(error, Error::Stopped { request: 15, .. }),
            "{error}"
        );
        assert!(start.elapsed() < STOP_GRACE, "{:?}", start.elapsed());
        // The request is read, not cleared.
        assert_eq!(stop.load(Ordering::SeqCst), 15);
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "the grandchild survived the stop");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_program_ignoring_sigterm_is_killed_after_the_grace() {
        // The stop comes once the shell has had time to ignore SIGTERM: a
        // stop already set at the spawn would reach it before its trap.
        let stop = AtomicUsize::new(0);
        let start = Instant::now();
        let error = std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(500));
                stop.store(2, Ordering::SeqCst);
            });
            run_until_stopped(
                sh("trap '' TERM; sleep 30"),
                None,
                &Options::new(Duration::from_mins(1)),
                &stop,
            )
        })
        .unwrap_err();
        assert!(
            matches!(error, Error::Stopped { request: 2, .. }),
            "{error}"
        );
        let elapsed = start.elapsed();
        assert!(
            elapsed >= STOP_GRACE && elapsed < STOP_GRACE * 3,
            "{elapsed:?}"
        );
    }

    #[test]
    fn commands_are_described_as_shell_lines() {
        let mut command = Command::new("gnt-node");
        command.args(["add", "it's"]);
        assert_eq!(describe(&command), r"gnt-node add 'it'\''s'");
    }
}

//! Carry the recorded changes back to the original master: each change's `slapos request`
//! run with the real `slapos` client, one at a time, against the master its client
//! configuration names.
//!
//! - The changes file is input: it must belong to this user (or root) and be writable by
//!   its owner only, and every command is read back into a typed request and rebuilt
//!   (`OwnedRequest`); the recorded words are never run, nor given to a shell. Every
//!   change is checked before the first one runs.
//! - A change whose command succeeds is acknowledged in the changes file (atomically, under
//!   the changes lock, read back) before the next one runs; one that fails keeps a bounded
//!   excerpt of the master's answer, and is run again by the next replay. A replay killed
//!   half-way leaves at most the change it was running unacknowledged: run again, it sends
//!   that request a second time (the same parameters: harmless) and acknowledges it once.
//! - Two replays at once: the second is refused at once, naming the first's pid
//!   ([`Error::ReplayBusy`]).

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bouture_fs::{Links, PidLock, Wait};

use bouture_text::shell_line;

use crate::command::OwnedRequest;
use crate::diff::Change;
use crate::error::Error;
use crate::files::{ChangesFile, changes_path, lock_changes, read_optional, write_checked};

/// How long one `slapos request` may run, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_mins(5);

/// The most bytes kept of what `slapos request` prints (the rest is read and dropped).
const OUTPUT_LIMIT: usize = 64 * 1024;

/// The most characters of the master's answer recorded for a failed change.
pub const ANSWER_EXCERPT: usize = 2000;

/// How to replay.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `slapos` client configuration (`slapos request --cfg FILE`): it names the
    /// original master and the operator's credentials.
    pub client_cfg: PathBuf,
    /// The `slapos` program: a name looked up in `PATH`, or a path.
    pub slapos: OsString,
    /// Print what would run; run nothing, change nothing.
    pub dry_run: bool,
    /// How long one `slapos request` may run ([`DEFAULT_TIMEOUT`]); it is killed after.
    pub timeout: Duration,
}

impl Options {
    /// Replay with `slapos` from `PATH` and the default timeout.
    pub fn new(client_cfg: impl Into<PathBuf>) -> Self {
        Self {
            client_cfg: client_cfg.into(),
            slapos: "slapos".into(),
            dry_run: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What the last replay did with a change, as recorded in the changes file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Replayed {
    /// When (seconds since the Unix epoch).
    pub at_unix: u64,
    /// How it ended.
    pub outcome: ReplayOutcome,
}

/// How the replay of one change ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ReplayOutcome {
    /// `slapos request` succeeded: the original master has the change.
    Acknowledged,
    /// `slapos request` failed; the change stays to replay.
    Failed {
        /// Its exit code (`None`: killed, by a signal or the timeout).
        exit_code: Option<i32>,
        /// What it printed (the master's answer), bounded to [`ANSWER_EXCERPT`] characters,
        /// its end kept.
        answer: String,
    },
}

/// One change, as a replay sees it.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ReplayedChange {
    /// Its position: the return, then the change in it (from 0).
    pub position: (usize, usize),
    /// [`Change::summary`].
    pub summary: String,
    /// What was (or would be) run, as one shell line (`--cfg` included).
    pub command_line: Option<String>,
    /// What happened.
    pub status: ChangeStatus,
}

/// What a replay did with one change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeStatus {
    /// Run now; [`ReplayOutcome`] says how it ended.
    Ran(ReplayOutcome),
    /// A dry run: it would run.
    WouldRun,
    /// Acknowledged by an earlier replay: not run again.
    AlreadyAcknowledged,
    /// No command carries it (the note says why): not run.
    NoCommand {
        /// The change's note.
        note: Option<String>,
    },
}

/// What [`replay`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Every change of the file, in order.
    pub changes: Vec<ReplayedChange>,
}

impl Report {
    /// How many changes failed in this run.
    pub fn failed(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.status, ChangeStatus::Ran(ReplayOutcome::Failed { .. })))
            .count()
    }

    /// How many changes this run acknowledged.
    pub fn acknowledged(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| c.status == ChangeStatus::Ran(ReplayOutcome::Acknowledged))
            .count()
    }
}

/// What a replay reports as it goes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ReplayEvent<'a> {
    /// A change's command is about to run (`index` from 0 among the `total` to run).
    Running {
        /// Its number among the commands to run, from 0.
        index: usize,
        /// How many commands this replay runs.
        total: usize,
        /// The change.
        change: &'a ReplayedChange,
    },
    /// A change was handled (run, or not run and why).
    Done {
        /// The change.
        change: &'a ReplayedChange,
    },
}

/// Receives [`ReplayEvent`]s. `()` ignores them.
pub trait ReplayObserver {
    /// Called for each event.
    fn event(&mut self, event: ReplayEvent<'_>);
}

impl ReplayObserver for () {
    fn event(&mut self, _event: ReplayEvent<'_>) {}
}

/// The replay lock file: `SWITCHFILE.changes.replay.lock`.
pub fn replay_lock_path(switchfile: &Path) -> PathBuf {
    let mut name = OsString::from(changes_path(switchfile).as_os_str());
    name.push(".replay.lock");
    PathBuf::from(name)
}

/// Replay the changes recorded next to `switchfile` against the original master (see the
/// module documentation). `Ok(None)`: no changes file.
///
/// # Errors
///
/// [`Error::ReplayBusy`] (another replay), [`Error::Untrusted`], [`Error::Invalid`] (a
/// change whose command cannot be read back: nothing is run), [`Error::ClientConfig`],
/// [`Error::Slapos`] (`slapos` cannot be started), the lock, read and write errors,
/// [`Error::ChangedMeanwhile`].
pub fn replay(
    switchfile: &Path,
    options: &Options,
    observer: &mut dyn ReplayObserver,
) -> Result<Option<Report>, Error> {
    let lock_path = replay_lock_path(switchfile);
    let _replay_lock = match PidLock::acquire_with(&lock_path, Wait::NO, &mut |_| {}, |_| {
        Ok::<(), std::convert::Infallible>(())
    }) {
        Ok(lock) => lock,
        Err(bouture_fs::LockError::Busy { pid, .. }) => {
            return Err(Error::ReplayBusy {
                path: lock_path,
                pid,
            });
        }
        Err(other) => return Err(Error::Lock(other)),
    };
    let owner = std::fs::metadata(&lock_path)
        .map(|metadata| metadata.uid())
        .map_err(|source| Error::Untrusted {
            path: lock_path.clone(),
            reason: format!("cannot read its owner: {source}"),
        })?;
    let Some(file) = read_trusted(switchfile, owner)? else {
        return Ok(None);
    };
    check_client_config(&options.client_cfg)?;
    let mut report = Report::default();
    let mut to_run: Vec<(usize, OwnedRequest, Change)> = Vec::new();
    for (r, back) in file.returns.iter().enumerate() {
        for (c, change) in back.changes.iter().enumerate() {
            let mut entry = ReplayedChange {
                position: (r, c),
                summary: change.summary(),
                command_line: None,
                status: ChangeStatus::WouldRun,
            };
            match (&change.command, &change.replay) {
                (None, _) => {
                    entry.status = ChangeStatus::NoCommand {
                        note: change.note.clone(),
                    };
                }
                (Some(argv), replayed) => {
                    let request = OwnedRequest::parse(argv).map_err(|reason| Error::Invalid {
                        path: changes_path(switchfile),
                        what: "changes file",
                        reason: format!("change {} of return {}: {reason}", c + 1, r + 1),
                    })?;
                    entry.command_line = Some(shell_line(&full_argv(&request, options)?));
                    if matches!(
                        replayed,
                        Some(Replayed {
                            outcome: ReplayOutcome::Acknowledged,
                            ..
                        })
                    ) {
                        entry.status = ChangeStatus::AlreadyAcknowledged;
                    } else {
                        to_run.push((report.changes.len(), request, change.clone()));
                    }
                }
            }
            report.changes.push(entry);
        }
    }
    let total = to_run.len();
    for (index, (at, request, change)) in to_run.into_iter().enumerate() {
        let Some(entry) = report.changes.get_mut(at) else {
            continue;
        };
        if options.dry_run {
            observer.event(ReplayEvent::Done { change: entry });
            continue;
        }
        observer.event(ReplayEvent::Running {
            index,
            total,
            change: entry,
        });
        let outcome = run(&request, options)?;
        acknowledge_one(switchfile, owner, entry.position, &change, &outcome)?;
        entry.status = ChangeStatus::Ran(outcome);
        observer.event(ReplayEvent::Done { change: entry });
    }
    for entry in &report.changes {
        if !matches!(entry.status, ChangeStatus::Ran(_) | ChangeStatus::WouldRun) {
            observer.event(ReplayEvent::Done { change: entry });
        }
    }
    Ok(Some(report))
}

/// The changes file, refused unless it belongs to `owner` (this user) or root and only its
/// owner may write it.
fn read_trusted(switchfile: &Path, owner: u32) -> Result<Option<ChangesFile>, Error> {
    let path = changes_path(switchfile);
    match std::fs::symlink_metadata(&path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(Error::Untrusted {
                path,
                reason: error.to_string(),
            });
        }
        Ok(metadata) => {
            let reason = if metadata.uid() != owner && metadata.uid() != 0 {
                Some(format!(
                    "it belongs to uid {}, not to this user (uid {owner})",
                    metadata.uid()
                ))
            } else if metadata.mode() & 0o022 != 0 {
                Some(format!(
                    "its mode {:o} lets others write it",
                    metadata.mode() & 0o7777
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(Error::Untrusted { path, reason });
            }
        }
    }
    read_optional(&path, "changes file")
}

/// The client configuration must be a readable regular file (read as the operator's own:
/// links followed), for a clear message before anything runs.
fn check_client_config(path: &Path) -> Result<(), Error> {
    bouture_fs::read_bounded(path, 4 * 1024 * 1024, Links::Follow)
        .map(drop)
        .map_err(|error| Error::ClientConfig {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
}

/// `slapos request --cfg CLIENT_CFG ...`, rebuilt from the typed request.
fn full_argv(request: &OwnedRequest, options: &Options) -> Result<Vec<String>, Error> {
    let argv = request.argv().map_err(|reason| Error::Invalid {
        path: PathBuf::new(),
        what: "change",
        reason,
    })?;
    let mut full = Vec::with_capacity(argv.len() + 2);
    let mut words = argv.into_iter();
    full.extend(words.by_ref().take(2));
    full.push("--cfg".to_string());
    full.push(options.client_cfg.display().to_string());
    full.extend(words);
    Ok(full)
}

/// Run one request with the real `slapos` through bouture-proc: its own
/// process group, bounded output (the start of each stream), killed with its
/// group at `options.timeout`.
fn run(request: &OwnedRequest, options: &Options) -> Result<ReplayOutcome, Error> {
    let argv = full_argv(request, options)?;
    let program = Path::new(&options.slapos).display().to_string();
    let mut command = Command::new(&options.slapos);
    command.args(argv.iter().skip(1));
    let bounds = bouture_proc::Options {
        stdout: bouture_proc::Bound::start(OUTPUT_LIMIT),
        stderr: bouture_proc::Bound::start(OUTPUT_LIMIT),
        ..bouture_proc::Options::new(options.timeout)
    };
    // What it printed: its error output first, then its output.
    let printed = |stdout: &bouture_proc::Captured, stderr: &bouture_proc::Captured| {
        let mut text = String::from_utf8_lossy(&stderr.bytes).into_owned();
        text.push_str(&String::from_utf8_lossy(&stdout.bytes));
        text
    };
    Ok(match bouture_proc::run(command, None, &bounds) {
        Ok(output) if output.status.success() => ReplayOutcome::Acknowledged,
        Ok(output) => ReplayOutcome::Failed {
            exit_code: output.status.code(),
            answer: tail(&printed(&output.stdout, &output.stderr)),
        },
        Err(bouture_proc::Error::Deadline { stdout, stderr, .. }) => ReplayOutcome::Failed {
            exit_code: None,
            answer: tail(&format!(
                "{}\n(killed after {} s)",
                printed(&stdout, &stderr),
                options.timeout.as_secs()
            )),
        },
        Err(bouture_proc::Error::Start { source, .. } | bouture_proc::Error::Io { source, .. }) => {
            return Err(Error::Slapos { program, source });
        }
        Err(other) => {
            return Err(Error::Slapos {
                program,
                source: std::io::Error::other(other.to_string()),
            });
        }
    })
}

/// The last [`ANSWER_EXCERPT`] characters of `text`, trimmed.
fn tail(text: &str) -> String {
    let text = text.trim();
    let count = text.chars().count();
    if count <= ANSWER_EXCERPT {
        return text.to_string();
    }
    let kept: String = text.chars().skip(count - ANSWER_EXCERPT).collect();
    format!("…{kept}")
}

/// Record how the change at `position` ended, under the changes lock, if it is still the
/// change that ran.
fn acknowledge_one(
    switchfile: &Path,
    owner: u32,
    position: (usize, usize),
    ran: &Change,
    outcome: &ReplayOutcome,
) -> Result<(), Error> {
    let _lock = lock_changes(switchfile)?;
    let path = changes_path(switchfile);
    let changed = |detail: &str| Error::ChangedMeanwhile {
        path: path.clone(),
        detail: detail.to_string(),
    };
    let mut file = read_trusted(switchfile, owner)?.ok_or_else(|| changed("it is gone"))?;
    let change = file
        .returns
        .get_mut(position.0)
        .and_then(|back| back.changes.get_mut(position.1))
        .ok_or_else(|| changed("the change is gone"))?;
    if change.command != ran.command || change.kind != ran.kind {
        return Err(changed("another change is at its place"));
    }
    change.replay = Some(Replayed {
        at_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()),
        outcome: outcome.clone(),
    });
    write_checked(&path, &file, "changes file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_keeps_its_end() {
        let long = format!("{}END", "x".repeat(5000));
        let cut = tail(&long);
        assert!(cut.ends_with("END"));
        assert_eq!(cut.chars().count(), ANSWER_EXCERPT + 1);
        assert_eq!(tail("  short\n"), "short");
    }
}

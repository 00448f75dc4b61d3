//! Running the plan: journal, log, undo, resume, cleanup.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::command::{Capture, Cmd, Identity};
use crate::discover::discover;
use crate::error::Error;
use crate::exec::{CmdOutput, ExecError, Executor};
use crate::facts::{CONFIG_LIMIT, Facts};
use crate::journal::{FailureRecord, Journal, Status, StepState};
use crate::plan::{Action, Check, MergeConfig, Options, Plan, Step};
use crate::query::{ClusterKey, Query as _};

/// What the run tells its caller as it goes (for progress output).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Looking at a cluster before anything is changed.
    Discovering {
        /// The cluster.
        cluster: String,
    },
    /// A step starts (or resumes).
    Step {
        /// Its number, from 1.
        number: usize,
        /// How many steps there are.
        total: usize,
        /// Its name.
        name: &'static str,
        /// What it does.
        title: String,
    },
    /// An action runs (its shell lines).
    Action(String),
    /// An action is undone (its shell lines).
    Undo(String),
    /// Something the operator should know.
    Note(Note),
}

/// What the run tells the operator as it goes, beyond steps and actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// The point of no return is passed: from now on a failure stops the
    /// merge and nothing is undone.
    PointOfNoReturnPassed,
    /// A step failed before the point of no return: everything done is
    /// undone, newest first.
    RollingBack,
    /// An undo failed: the rollback stops there and older steps are left
    /// as they are; once the cause is fixed, resuming continues the undo.
    UndoFailed,
}

/// Receives [`Event`]s.
pub trait Observer {
    /// One event.
    fn event(&mut self, event: &Event);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _event: &Event) {}
}

/// What [`run`] did: planned only ([`Options::dry_run`]), or ran.
#[derive(Debug)]
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per run, unpacked by the caller at once"
)]
pub enum Outcome {
    /// A dry run: what was found and would be done; nothing was changed.
    Planned(Prepared),
    /// A merge that started, and how it ended.
    Ran(Report),
}

/// What a dry run found and would do.
#[derive(Debug)]
#[non_exhaustive]
pub struct Prepared {
    /// The plan.
    pub plan: Plan,
    /// What the config merge will do (bouture-merge's report, no output written).
    pub merge: bouture_merge::Report,
}

/// How a merge ended.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The run.
    pub run_id: String,
    /// Where it is.
    pub status: Status,
    /// The journal.
    pub journal: PathBuf,
    /// The log of every command.
    pub log: PathBuf,
    /// The backup of our config.data (when it was taken and kept).
    pub backup: Option<PathBuf>,
    /// What failed.
    pub failure: Option<FailureRecord>,
    /// The actions undone, in order (shell lines).
    pub undone: Vec<String>,
    /// Undo actions that failed: to be done by hand.
    pub undo_failures: Vec<String>,
    /// What is left to do, in order: after the point of no return, the
    /// exact commands left ([`Status::Stopped`]); when an undo failed and
    /// the rollback stopped there ([`Status::RollingBack`]), the undo
    /// actions left, the failed one first.
    pub remaining: Vec<String>,
    /// What the config merge did, when it ran in this invocation and was
    /// not undone (its paths: the installed config.data and the merging
    /// clusters' own files).
    pub merge: Option<bouture_merge::Report>,
    /// Files that could not be cleaned up.
    pub cleanup_errors: Vec<String>,
}

/// The command log in the state directory: every command, its exit status
/// and output (bounded; secret output never written).
struct RunLog {
    path: PathBuf,
    text: String,
}

/// The most bytes of one stream written to the log per command.
const LOG_STREAM_LIMIT: usize = 16 * 1024;

impl RunLog {
    fn open(path: PathBuf) -> Result<Self, Error> {
        let text =
            match bouture_fs::read_bounded(&path, 256 * 1024 * 1024, bouture_fs::Links::Refuse) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(error) if error.is_not_found() => String::new(),
                Err(error) => return Err(error.into()),
            };
        Ok(Self { path, text })
    }

    fn line(&mut self, text: &str) {
        let _ = writeln!(self.text, "{} {text}", utc_now());
        self.flush();
    }

    fn command(&mut self, cmd: &Cmd, result: &Result<CmdOutput, ExecError>) {
        let mut entry = format!("run {cmd}\n");
        match result {
            Ok(output) => {
                let _ = writeln!(
                    entry,
                    "  exit: {}",
                    output
                        .code
                        .map_or_else(|| "killed by a signal".to_owned(), |c| c.to_string())
                );
                match cmd.capture {
                    Capture::Secret => drop(writeln!(
                        entry,
                        "  stdout: [{} bytes, secret: not logged]",
                        output.stdout.len()
                    )),
                    Capture::Log => push_stream(&mut entry, "stdout", &output.stdout),
                }
                push_stream(&mut entry, "stderr", &output.stderr);
            }
            Err(error) => drop(writeln!(entry, "  could not run: {error}")),
        }
        self.line(entry.trim_end());
    }

    fn flush(&self) {
        // A log that cannot be written must not change what the merge does;
        // the journal (whose write errors do stop the run) is the record.
        let _ = bouture_fs::write_atomic(&self.path, self.text.as_bytes(), 0o600, None);
    }
}

fn push_stream(entry: &mut String, name: &str, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(LOG_STREAM_LIMIT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let _ = writeln!(entry, "  {name}:");
    for line in text.get(..end).unwrap_or_default().lines() {
        let _ = writeln!(entry, "    | {line}");
    }
    if end < text.len() {
        let _ = writeln!(entry, "    [… {} more bytes not logged]", text.len() - end);
    }
}

/// Why an action failed, and whether it may have changed something (then
/// its own undo runs too).
struct ActionFailure {
    message: String,
    touched: bool,
}

impl ActionFailure {
    fn untouched(message: String) -> Self {
        Self {
            message,
            touched: false,
        }
    }
    fn touched(message: String) -> Self {
        Self {
            message,
            touched: true,
        }
    }
}

struct Runner<'a> {
    exec: &'a mut dyn Executor,
    observer: &'a mut dyn Observer,
    journal: Journal,
    log: RunLog,
    keys: BTreeSet<String>,
    merge: Option<bouture_merge::Report>,
}

/// The run identifier: the time, `YYYYMMDDTHHMMSSZ`.
fn run_id() -> String {
    utc_now().replace(['-', ':'], "")
}

/// Now, as RFC 3339 UTC to the second, e.g. `2026-11-23T15:04:05Z`.
fn utc_now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Discover and plan without changing anything anywhere (no state directory
/// is written either).
fn plan_only(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
) -> Result<Prepared, Error> {
    let result = discover(settings, exec, observer, &std::env::temp_dir());
    let removed = exec.remove_keys();
    let (facts, merge) = result?;
    removed.map_err(|source| Error::Exec {
        cmd: "remove the temporary keys".to_owned(),
        source,
    })?;
    Ok(Prepared {
        plan: Plan::build(&run_id(), settings, &facts),
        merge,
    })
}

fn lock(state_dir: &Path) -> Result<bouture_fs::PidLock, Error> {
    crate::state::prepare(state_dir)?;
    Ok(bouture_fs::PidLock::acquire(&state_dir.join("lock"))?)
}

/// Run a new merge: lock the state directory, refuse if an unfinished merge
/// is recorded there, discover (nothing changed on failure), write the
/// journal, run the steps, undo on failure before the point of no return,
/// stop after it, and clean up.
///
/// With [`Options::dry_run`], only discover and plan: nothing is changed
/// anywhere and no state directory is written ([`Outcome::Planned`]).
pub fn run(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
) -> Result<Outcome, Error> {
    if settings.dry_run {
        return plan_only(settings, exec, observer).map(Outcome::Planned);
    }
    start(settings, exec, observer).map(Outcome::Ran)
}

fn start(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
) -> Result<Report, Error> {
    crate::facts::check_cluster_names(&settings.clusters)?;
    let _lock = lock(&settings.state_dir)?;
    if let Some(journal) = Journal::load(&settings.state_dir)?
        && !journal.status.is_final()
    {
        return Err(Error::Unfinished {
            journal: Journal::path(&settings.state_dir),
            run_id: journal.plan.run_id,
            status: journal.status.name().to_owned(),
        });
    }
    // What a killed run left (keys, fetched configurations) goes first;
    // this run keeps its own keys in the state directory too, so that a
    // later run can remove them if this one is killed.
    let _ = crate::state::remove_scratch(&settings.state_dir);
    exec.keep_keys_in(&settings.state_dir);
    let discovered = discover(settings, exec, observer, &settings.state_dir);
    let (facts, _preview) = match discovered {
        Ok(found) => found,
        Err(error) => {
            let _ = exec.remove_keys();
            return Err(error);
        }
    };
    let plan = Plan::build(&run_id(), settings, &facts);
    let journal = Journal::new(plan);
    journal.save(&settings.state_dir)?;
    let log = RunLog::open(log_path(&journal))?;
    let keys = facts_hosts(&journal.plan.facts);
    let mut runner = Runner {
        exec,
        observer,
        journal,
        log,
        keys,
        merge: None,
    };
    runner.log.line(&format!(
        "run {} started: merge {} into {}",
        runner.journal.plan.run_id,
        settings.clusters.join(", "),
        runner.journal.plan.facts.ours.cluster_name
    ));
    runner.execute()
}

/// Continue the merge recorded in `settings.state_dir` after the last
/// completed action (or continue its undo).
///
/// The recorded run must be of `settings.clusters` (unless that is empty),
/// and have been planned with the same state directory, Ganeti paths and
/// keys as `settings` (the caller's, not the journal's: a journal never
/// chooses which programs run); the operator's other choices (groups,
/// restart...) are the recorded ones. The plan run is rebuilt from the
/// recorded settings and facts ([`Journal::load`]). A resume is never a
/// dry run ([`Error::DryRunResume`]).
pub fn resume(
    settings: &Options,
    exec: &mut dyn Executor,
    observer: &mut dyn Observer,
) -> Result<Report, Error> {
    if settings.dry_run {
        return Err(Error::DryRunResume);
    }
    let state_dir = settings.state_dir.as_path();
    let _lock = lock(state_dir)?;
    let Some(journal) = Journal::load(state_dir)? else {
        return Err(Error::NothingToResume {
            reason: format!("no journal in {}", state_dir.display()),
        });
    };
    if journal.status.is_final() {
        return Err(Error::NothingToResume {
            reason: format!(
                "run {} recorded in {} is {}",
                journal.plan.run_id,
                Journal::path(state_dir).display(),
                journal.status.name()
            ),
        });
    }
    let recorded = &journal.plan.settings;
    if !settings.clusters.is_empty() && settings.clusters != recorded.clusters {
        return Err(Error::ResumeMismatch {
            recorded: recorded.clusters.join(" "),
            given: settings.clusters.join(" "),
        });
    }
    let differing = [
        ("state directory", recorded.state_dir == settings.state_dir),
        ("local Ganeti paths", recorded.local == settings.local),
        ("remote Ganeti paths", recorded.remote == settings.remote),
        (
            "our public key",
            recorded.our_public_key == settings.our_public_key,
        ),
        (
            "the merging clusters' key",
            recorded.their_private_key == settings.their_private_key,
        ),
    ]
    .into_iter()
    .filter(|(_, same)| !same)
    .map(|(what, _)| what)
    .collect::<Vec<_>>();
    if !differing.is_empty() {
        return Err(Error::Journal {
            path: Journal::path(state_dir),
            reason: format!(
                "recorded with another {} than given now",
                differing.join(", ")
            ),
        });
    }
    let _ = crate::state::remove_scratch(state_dir);
    exec.keep_keys_in(state_dir);
    let log = RunLog::open(log_path(&journal))?;
    let mut runner = Runner {
        exec,
        observer,
        journal,
        log,
        keys: BTreeSet::new(),
        merge: None,
    };
    runner
        .log
        .line(&format!("run {} resumed", runner.journal.plan.run_id));
    runner.execute()
}

fn log_path(journal: &Journal) -> PathBuf {
    journal
        .plan
        .settings
        .state_dir
        .join(format!("{}.log", journal.plan.run_id))
}

fn facts_hosts(facts: &Facts) -> BTreeSet<String> {
    facts.clusters.iter().map(|c| c.host.clone()).collect()
}

impl Runner<'_> {
    fn state_dir(&self) -> PathBuf {
        self.journal.plan.settings.state_dir.clone()
    }

    fn save(&self) -> Result<(), Error> {
        self.journal.save(&self.state_dir())
    }

    fn lines(&self, action: &Action) -> String {
        let exec: &dyn Executor = &*self.exec;
        action.shell_lines(&|cmd| exec.describe(cmd)).join("\n")
    }

    /// Configurations fetched by an earlier invocation were removed when it
    /// ended: until the merge step is done, fetch them again.
    fn refetch_removed(&mut self) {
        let steps = &self.journal.plan.steps;
        let merged = steps.iter().enumerate().any(|(index, step)| {
            step.actions
                .iter()
                .any(|p| matches!(p.action, Action::MergeConfig(_)))
                && self
                    .journal
                    .steps
                    .get(index)
                    .is_some_and(|r| r.state == StepState::Done)
        });
        if merged {
            return;
        }
        for (index, step) in steps.iter().enumerate() {
            let Some(record) = self.journal.steps.get_mut(index) else {
                continue;
            };
            let missing = step.actions.iter().take(record.done).position(|p| {
                matches!(&p.action, Action::Fetch { to, .. } if std::fs::symlink_metadata(to).is_err())
            });
            if let Some(first) = missing {
                record.done = first;
                record.state = StepState::Started;
            }
        }
    }

    fn execute(&mut self) -> Result<Report, Error> {
        if self.journal.status == Status::Running || self.journal.status == Status::Stopped {
            self.refetch_removed();
            self.journal.status = Status::Running;
            self.journal.failure = None;
            self.save()?;
            self.forward()?;
        }
        if self.journal.status == Status::RollingBack {
            self.rollback()?;
        }
        Ok(self.finish())
    }

    fn forward(&mut self) -> Result<(), Error> {
        let total = self.journal.plan.steps.len();
        let ponr = self.journal.plan.point_of_no_return();
        for index in 0..total {
            let Some(step) = self.journal.plan.steps.get(index).cloned() else {
                break;
            };
            let record = self.record(index);
            if record.state == StepState::Done {
                continue;
            }
            self.observer.event(&Event::Step {
                number: index + 1,
                total,
                name: step.kind.name(),
                title: step.title.clone(),
            });
            if record.state == StepState::Pending
                && let Err(message) = check_all(&step)
            {
                self.log.line(&format!(
                    "step {} check failed: {message}",
                    step.kind.name()
                ));
                return self.failed(index, None, &ActionFailure::untouched(message), ponr);
            }
            self.set_state(index, StepState::Started)?;
            self.log.line(&format!("step {} started", step.kind.name()));
            let start = self.record(index).done;
            for (number, planned) in step.actions.iter().enumerate().skip(start) {
                if let Some(signal) = self.exec.take_stop_request() {
                    let message = format!(
                        "stopped: bouture received {} before this action",
                        crate::exec::signal_name(signal)
                    );
                    self.log
                        .line(&format!("step {} {message}", step.kind.name()));
                    return self.failed(
                        index,
                        Some(number),
                        &ActionFailure::untouched(message),
                        ponr,
                    );
                }
                self.observer
                    .event(&Event::Action(self.lines(&planned.action)));
                if let Err(failure) = self.perform(&planned.action) {
                    self.log.line(&format!(
                        "step {} action {} failed: {}",
                        step.kind.name(),
                        number + 1,
                        failure.message
                    ));
                    return self.failed(index, Some(number), &failure, ponr);
                }
                if let Some(record) = self.journal.steps.get_mut(index) {
                    record.done = number + 1;
                }
                self.save()?;
            }
            self.set_state(index, StepState::Done)?;
            self.log.line(&format!("step {} done", step.kind.name()));
            if step.point_of_no_return {
                self.observer
                    .event(&Event::Note(Note::PointOfNoReturnPassed));
            }
        }
        self.journal.status = Status::Complete;
        self.save()
    }

    fn record(&self, index: usize) -> crate::journal::StepRecord {
        self.journal
            .steps
            .get(index)
            .cloned()
            .unwrap_or(crate::journal::StepRecord {
                step: String::new(),
                state: StepState::Pending,
                done: 0,
                to_undo: 0,
            })
    }

    fn set_state(&mut self, index: usize, state: StepState) -> Result<(), Error> {
        if let Some(record) = self.journal.steps.get_mut(index) {
            record.state = state;
        }
        self.save()
    }

    fn failed(
        &mut self,
        index: usize,
        action: Option<usize>,
        failure: &ActionFailure,
        ponr: Option<usize>,
    ) -> Result<(), Error> {
        let name = self
            .journal
            .plan
            .steps
            .get(index)
            .map_or("", |s| s.kind.name())
            .to_owned();
        self.journal.failure = Some(FailureRecord {
            step: name,
            action,
            message: bouture_text::truncate(&failure.message, 2000),
        });
        // A stop request is answered by this failure: the undo runs (a new
        // signal stops it where it is).
        let _ = self.exec.take_stop_request();
        let reversible = ponr.is_none_or(|p| index <= p);
        if let Some(record) = self.journal.steps.get_mut(index) {
            record.state = StepState::Failed;
        }
        if !reversible {
            self.journal.status = Status::Stopped;
            return self.save();
        }
        // Everything done so far is undone, newest first; the failed action
        // too when it may have changed something.
        for (i, record) in self.journal.steps.iter_mut().enumerate() {
            record.to_undo = match i.cmp(&index) {
                std::cmp::Ordering::Less if record.state == StepState::Done => record.done,
                std::cmp::Ordering::Equal => {
                    record.done + usize::from(failure.touched && action.is_some())
                }
                _ => 0,
            };
        }
        self.journal.status = Status::RollingBack;
        self.save()
    }

    /// Undo, newest first. An undo that fails stops the rollback there:
    /// what is older stays as it is (the backup of our config.data among
    /// it), and the journal stays [`Status::RollingBack`] so that
    /// `--resume`, once the cause is fixed, retries the failed undo and
    /// goes on.
    fn rollback(&mut self) -> Result<(), Error> {
        self.observer.event(&Event::Note(Note::RollingBack));
        // Retried now: only the undo that fails in this run is the operator's.
        self.journal.undo_failures.clear();
        for index in (0..self.journal.steps.len()).rev() {
            let Some(step) = self.journal.plan.steps.get(index).cloned() else {
                continue;
            };
            while self.record(index).to_undo > 0 {
                let number = self.record(index).to_undo - 1;
                if let Some(planned) = step.actions.get(number) {
                    for undo in &planned.undo {
                        let lines = self.lines(undo);
                        self.observer.event(&Event::Undo(lines.clone()));
                        if let Err(failure) = self.perform(undo) {
                            self.log.line(&format!(
                                "undo failed, rollback stopped: {}",
                                failure.message
                            ));
                            self.journal.undo_failures.push(format!(
                                "{lines}\n  failed: {}",
                                bouture_text::truncate(&failure.message, 600)
                            ));
                            self.observer.event(&Event::Note(Note::UndoFailed));
                            return self.save();
                        }
                        self.journal.undone.push(lines);
                    }
                }
                if let Some(record) = self.journal.steps.get_mut(index) {
                    record.to_undo = number;
                    if number == 0 {
                        record.state = StepState::Undone;
                    }
                }
                self.save()?;
            }
        }
        self.journal.status = Status::RolledBack;
        self.save()
    }

    /// The undo actions left after a rollback stopped, in the order they
    /// run (the failed one first).
    fn undo_left(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (index, step) in self.journal.plan.steps.iter().enumerate().rev() {
            let left = self.record(index).to_undo;
            for planned in step.actions.iter().take(left).rev() {
                for undo in &planned.undo {
                    lines.push(self.lines(undo));
                }
            }
        }
        lines
    }

    /// The exact commands left after a stop: the failed action and every one after it.
    fn remaining(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (index, step) in self.journal.plan.steps.iter().enumerate() {
            let record = self.record(index);
            if record.state == StepState::Done {
                continue;
            }
            for planned in step.actions.iter().skip(record.done) {
                lines.push(self.lines(&planned.action));
            }
        }
        lines
    }

    fn finish(&mut self) -> Report {
        let status = self.journal.status;
        // Keys and fetched configurations never outlive the invocation,
        // whatever its end: a resumed run fetches them again.
        let mut cleanup_errors = self.cleanup();
        let remaining = match status {
            Status::Stopped => self.remaining(),
            Status::RollingBack => self.undo_left(),
            _ => Vec::new(),
        };
        // Read back what was recorded before reporting it.
        match Journal::load(&self.state_dir()) {
            Ok(Some(recorded)) if recorded == self.journal => {}
            Ok(_) => cleanup_errors.push(format!(
                "{} does not read back as written",
                Journal::path(&self.state_dir()).display()
            )),
            Err(error) => cleanup_errors.push(error.to_string()),
        }
        let backup = self.journal.plan.backup.clone();
        let backup_kept = status != Status::RolledBack && backup.exists();
        self.log.line(&format!(
            "run {} {}",
            self.journal.plan.run_id,
            status.name()
        ));
        Report {
            run_id: self.journal.plan.run_id.clone(),
            status,
            journal: Journal::path(&self.state_dir()),
            log: self.log.path.clone(),
            backup: backup_kept.then_some(backup),
            failure: self.journal.failure.clone(),
            undone: self.journal.undone.clone(),
            undo_failures: self.journal.undo_failures.clone(),
            remaining,
            merge: self
                .merge
                .take()
                .and_then(|report| self.settled(report, status)),
            cleanup_errors,
        }
    }

    /// The config merge's report as it stands once the run ends: none once
    /// undone; else naming the installed config.data and the merging
    /// clusters' own files, not the work files removed by then.
    fn settled(
        &self,
        mut report: bouture_merge::Report,
        status: Status,
    ) -> Option<bouture_merge::Report> {
        if !matches!(status, Status::Complete | Status::Stopped) {
            return None;
        }
        let settings = &self.journal.plan.settings;
        report.output = Some(settings.local.data("config.data"));
        for (merged, cluster) in report
            .merged
            .iter_mut()
            .zip(&self.journal.plan.facts.clusters)
        {
            merged.path = PathBuf::from(format!(
                "{}:{}",
                cluster.master,
                settings.remote.data("config.data").display()
            ));
        }
        Some(report)
    }

    /// Remove the temporary keys and the work directory (fetched configs,
    /// staged merge), and whatever a killed run left.
    fn cleanup(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Err(error) = self.exec.remove_keys() {
            errors.push(error.to_string());
        }
        self.keys.clear();
        errors.extend(crate::state::remove_scratch(&self.state_dir()));
        errors
    }

    /// Make sure the executor holds the key an identity needs; after a
    /// resume, the key is copied again from the cluster's master node.
    fn ensure_key(&mut self, cmd: &Cmd) -> Result<(), ActionFailure> {
        let crate::command::Target::Remote {
            identity: Identity::ClusterKey(cluster),
            ..
        } = &cmd.target
        else {
            return Ok(());
        };
        if self.keys.contains(cluster) {
            return Ok(());
        }
        let master = self
            .journal
            .plan
            .facts
            .clusters
            .iter()
            .find(|c| &c.host == cluster)
            .map_or_else(|| cluster.clone(), |c| c.master.clone());
        let fetch = ClusterKey {
            host: &master,
            path: &self.journal.plan.settings.their_private_key,
        }
        .command();
        let output = self.run_cmd(&fetch)?;
        self.exec
            .add_cluster_key(cluster, &output.stdout)
            .map_err(|e| ActionFailure::untouched(format!("{fetch}: {e}")))?;
        self.keys.insert(cluster.clone());
        Ok(())
    }

    /// Run a command that must exit 0 (logged).
    fn run_cmd(&mut self, cmd: &Cmd) -> Result<CmdOutput, ActionFailure> {
        let result = self.exec.run(cmd);
        self.log.command(cmd, &result);
        match result {
            Ok(output) if output.success() => Ok(output),
            Ok(output) => Err(ActionFailure::touched(format!(
                "{cmd} exited with {}: {}",
                output
                    .code
                    .map_or_else(|| "a signal".to_owned(), |c| format!("status {c}")),
                output.failure_excerpt(cmd.capture)
            ))),
            Err(error) => {
                // A connection that failed never ran the command.
                let touched = !matches!(
                    error,
                    ExecError::Spawn { .. }
                        | ExecError::HostKeyUnknown { .. }
                        | ExecError::HostKeyChanged { .. }
                        | ExecError::Unreachable { .. }
                        | ExecError::AuthenticationFailed { .. }
                        | ExecError::NoKey { .. }
                );
                Err(ActionFailure {
                    message: format!("{cmd}: {error}"),
                    touched,
                })
            }
        }
    }

    fn perform(&mut self, action: &Action) -> Result<(), ActionFailure> {
        for cmd in action.commands() {
            self.ensure_key(cmd)?;
        }
        match action {
            Action::Run(cmd) => self.run_cmd(cmd).map(drop),
            Action::ExpectStopped(cmd) => {
                let output = self.run_cmd(cmd)?;
                let running: Vec<String> = output
                    .stdout_text()
                    .lines()
                    .filter_map(|line| line.trim().split_once(','))
                    .filter(|(_, status)| matches!(*status, "running" | "ERROR_up"))
                    .map(|(name, _)| bouture_text::truncate(name, 80))
                    .collect();
                if running.is_empty() {
                    Ok(())
                } else {
                    Err(ActionFailure::untouched(format!(
                        "some instances are still running on {}: {}",
                        cmd.place(),
                        running.join(", ")
                    )))
                }
            }
            Action::Fetch { cmd, to } => {
                let output = self.run_cmd(cmd)?;
                self.make_work_dir()?;
                bouture_fs::write_atomic(to, &output.stdout, 0o600, None)
                    .map_err(|e| ActionFailure::touched(e.to_string()))
            }
            Action::Backup { from, to } => backup(from, to),
            Action::Restore { backup, to } => restore(backup, to),
            Action::Remove(path) => remove(path),
            Action::MergeConfig(merge) => {
                self.make_work_dir()?;
                let report = merge_config(merge)?;
                self.log.line(&format!(
                    "merged config.data installed at {} (staged at {})",
                    merge.install.display(),
                    merge.staged.display()
                ));
                self.merge = Some(report);
                Ok(())
            }
            Action::CompareLists {
                nodes,
                instances,
                expected_nodes,
                expected_instances,
            } => {
                let listed_nodes = self.run_cmd(nodes)?.stdout_text();
                let listed_instances = self.run_cmd(instances)?.stdout_text();
                let mut missing = Vec::new();
                for (listed, expected, what) in [
                    (&listed_nodes, expected_nodes, "node"),
                    (&listed_instances, expected_instances, "instance"),
                ] {
                    let listed: BTreeSet<&str> = listed.lines().map(str::trim).collect();
                    missing.extend(
                        expected
                            .iter()
                            .filter(|name| !listed.contains(name.as_str()))
                            .map(|name| format!("{what} {name}")),
                    );
                }
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(ActionFailure::untouched(format!(
                        "missing after the merge: {}",
                        missing.join(", ")
                    )))
                }
            }
        }
    }

    fn make_work_dir(&self) -> Result<(), ActionFailure> {
        let work = &self.journal.plan.work_dir;
        if std::fs::symlink_metadata(work).is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        std::fs::create_dir(work)
            .and_then(|()| std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o700)))
            .map_err(|e| ActionFailure::untouched(format!("{}: {e}", work.display())))
    }
}

fn check_all(step: &Step) -> Result<(), String> {
    for check in &step.checks {
        let ok = match check {
            Check::Absent(path) => std::fs::symlink_metadata(path).is_err(),
            Check::Present(paths) => paths
                .iter()
                .all(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())),
            Check::SameContent(a, b) => match (read_config(a), read_config(b)) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
        };
        if !ok {
            return Err(format!("precondition not met: {}", check.describe()));
        }
    }
    Ok(())
}

fn read_config(path: &Path) -> Result<Vec<u8>, String> {
    bouture_fs::read_bounded(path, CONFIG_LIMIT, bouture_fs::Links::Refuse)
        .map_err(|e| e.to_string())
}

fn backup(from: &Path, to: &Path) -> Result<(), ActionFailure> {
    let bytes = read_config(from).map_err(ActionFailure::untouched)?;
    match read_config(to) {
        Ok(existing) if existing == bytes => return Ok(()),
        Ok(_) => {
            return Err(ActionFailure::untouched(format!(
                "{} exists and differs from {}; it is not replaced",
                to.display(),
                from.display()
            )));
        }
        Err(_) if std::fs::symlink_metadata(to).is_ok() => {
            return Err(ActionFailure::untouched(format!(
                "{} exists and is not a readable regular file; it is not replaced",
                to.display()
            )));
        }
        Err(_) => {}
    }
    copy_like(from, &bytes, to)
}

fn restore(backup: &Path, to: &Path) -> Result<(), ActionFailure> {
    let bytes = read_config(backup).map_err(ActionFailure::untouched)?;
    copy_like(backup, &bytes, to)
}

/// Write `bytes` (read from `from`) to `to` atomically with `from`'s mode
/// and owner, and read it back.
fn copy_like(from: &Path, bytes: &[u8], to: &Path) -> Result<(), ActionFailure> {
    let meta = std::fs::metadata(from)
        .map_err(|e| ActionFailure::untouched(format!("{}: {e}", from.display())))?;
    bouture_fs::write_like(to, bytes, &meta).map_err(|e| ActionFailure::touched(e.to_string()))?;
    match read_config(to) {
        Ok(back) if back == bytes => Ok(()),
        _ => Err(ActionFailure::touched(format!(
            "{}: does not read back as {}",
            to.display(),
            from.display()
        ))),
    }
}

fn remove(path: &Path) -> Result<(), ActionFailure> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Ok(meta) if meta.is_file() => std::fs::remove_file(path)
            .map_err(|e| ActionFailure::touched(format!("{}: {e}", path.display()))),
        Ok(meta) => Err(ActionFailure::untouched(format!(
            "{} is {}; it is not removed",
            path.display(),
            bouture_fs::describe(meta.file_type())
        ))),
        Err(e) => Err(ActionFailure::untouched(format!("{}: {e}", path.display()))),
    }
}

/// Merge into `staged`, check it, install it over `install` atomically
/// (mode 0640, `install`'s owner), read it back.
fn merge_config(merge: &MergeConfig) -> Result<bouture_merge::Report, ActionFailure> {
    let MergeConfig {
        ours,
        staged,
        install,
        nodes,
        instances,
        ..
    } = merge;
    let options = merge.merge_options();
    let theirs: Vec<&Path> = merge.theirs.iter().map(PathBuf::as_path).collect();
    let report =
        bouture_merge::merge_files(ours, &theirs, Some(staged), &options).map_err(|e| {
            ActionFailure::untouched(format!("merge: {}", bouture_text::error_chain(&e)))
        })?;
    // Verify the merged file before it replaces ours: it must load again
    // (bouture-merge's reader and checks), hold every node and instance,
    // and have Ganeti's mode.
    let bytes = read_config(staged).map_err(ActionFailure::untouched)?;
    bouture_merge::merge_files(staged, &[], None, &options).map_err(|e| {
        ActionFailure::untouched(format!(
            "the merged {} does not load again: {}",
            staged.display(),
            bouture_text::error_chain(&e)
        ))
    })?;
    let missing = missing_names(&bytes, nodes, instances)
        .map_err(|e| ActionFailure::untouched(format!("{}: {e}", staged.display())))?;
    if !missing.is_empty() {
        return Err(ActionFailure::untouched(format!(
            "the merged {} lacks {}",
            staged.display(),
            missing.join(", ")
        )));
    }
    let meta = std::fs::metadata(install)
        .map_err(|e| ActionFailure::untouched(format!("{}: {e}", install.display())))?;
    bouture_fs::write_atomic(
        install,
        &bytes,
        bouture_merge::OUTPUT_MODE,
        Some((meta.uid(), meta.gid())),
    )
    .map_err(|e| ActionFailure::touched(e.to_string()))?;
    match read_config(install) {
        Ok(back) if back == bytes => Ok(report),
        _ => Err(ActionFailure::touched(format!(
            "{}: does not read back as the merged configuration",
            install.display()
        ))),
    }
}

/// The nodes and instances that `config` (a config.data) does not hold.
fn missing_names(
    config: &[u8],
    nodes: &[String],
    instances: &[String],
) -> Result<Vec<String>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| format!("not JSON: {e}"))?;
    let names = |section: &str| -> BTreeSet<String> {
        value
            .get(section)
            .and_then(serde_json::Value::as_object)
            .map(|objects| {
                objects
                    .values()
                    .filter_map(|o| o.get("name").and_then(serde_json::Value::as_str))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (have_nodes, have_instances) = (names("nodes"), names("instances"));
    let mut missing: Vec<String> = nodes
        .iter()
        .filter(|n| !have_nodes.contains(*n))
        .map(|n| format!("node {n}"))
        .collect();
    missing.extend(
        instances
            .iter()
            .filter(|i| !have_instances.contains(*i))
            .map(|i| format!("instance {i}")),
    );
    Ok(missing)
}

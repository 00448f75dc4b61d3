//! `bouture cluster-merge`: merge live Ganeti clusters into ours.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use bouture_cluster_merge::{
    Action, Cmd, Event, Executor, GroupStrategy, HostKeyPolicy, Note, Observer,
    Outcome as MergeOutcome, ParameterPolicy, Plan, Restart, SshOptions, Status, StepKind,
    StopRequest, SystemExecutor,
};
use bouture_text::shell_quote;
use clap::ValueEnum as _;

use crate::commands::merge::render_report;
use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;
use crate::output::{OutputFormat, write_json};

const EXAMPLES: &str = "\
Examples:
  # On our cluster's master: see every step and command, change nothing
  bouture cluster-merge cluster-b.example.com cluster-c.example.com \\
      --groups merge --dry-run

  # Merge them (a journal and a log go to the state directory)
  bouture cluster-merge cluster-b.example.com cluster-c.example.com --groups merge

  # After a crash, or once the cause of a stop after the point of no
  # return is fixed: continue where the journal says
  bouture cluster-merge --resume

  # Their nodes are not in root's known_hosts yet (check their keys!)
  bouture cluster-merge cluster-b.example.com --accept-new-host-keys

Before the point of no return (our master restarted without voting on the
merged configuration) a failure undoes every step done, newest first. After
it, bouture stops and prints the exact commands left; fix the cause, then run
them or --resume. See docs/cluster-merge.md.

SIGINT, SIGTERM and SIGHUP stop the merge at the current action (its command
and everything it started are killed), as a failure would: undone before the
point of no return, stopped with the commands left after it. The copied keys
and fetched configurations are removed at the end of every run; those of a
killed run (SIGKILL) by the next run or --resume.

Exit status: 0 merged and verified (or dry run done), 1 refused before
anything was changed, failed and rolled back, or stopped after the point of
no return, 2 usage error.";

/// Arguments of `bouture cluster-merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "each bool is a command-line flag of Ganeti's tool or of bouture"
)]
pub struct ClusterMergeArgs {
    /// The clusters to merge into ours (cluster names, used as SSH hosts).
    #[arg(value_name = "CLUSTER", required_unless_present = "resume")]
    pub clusters: Vec<String>,
    /// Seconds the watchers are paused for during the merge.
    #[arg(short = 'p', long, value_name = "SECONDS", default_value_t = 1800)]
    pub watcher_pause_period: u64,
    /// What to do with node groups whose name is in both clusters (default: refuse).
    #[arg(long, value_enum, value_name = "STRATEGY")]
    pub groups: Option<GroupStrategy>,
    /// Whether differing "strict" cluster parameters refuse the merge or only warn.
    #[arg(long, value_enum, default_value_t, value_name = "STRATEGY")]
    pub parameter_conflicts: ParameterPolicy,
    /// Which instances to start after the merge.
    #[arg(long, value_enum, default_value_t, value_name = "STRATEGY")]
    pub restart: Restart,
    /// Do not shut the merging clusters' instances down; only check that none runs.
    #[arg(long)]
    pub skip_stop_instances: bool,
    /// Where the journal, the command log and the work files go (mode 0700).
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/var/lib/bouture/cluster-merge"
    )]
    pub state_dir: PathBuf,
    /// Print the plan (every step, command and undo) and change nothing.
    #[arg(long, conflicts_with = "resume")]
    pub dry_run: bool,
    /// Continue the merge recorded in the state directory.
    #[arg(long)]
    pub resume: bool,
    /// Record unknown SSH host keys instead of refusing them (changed keys are always refused).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Give up connecting to a host after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub ssh_timeout: u64,
    /// Our root public key, added to every merging node's authorized keys.
    #[arg(long, value_name = "FILE", default_value = "/root/.ssh/id_rsa.pub")]
    pub our_public_key: PathBuf,
    /// The merging clusters' root private key (copied for the run only).
    #[arg(long, value_name = "PATH", default_value = "/root/.ssh/id_rsa")]
    pub their_private_key: String,
    /// How to print the plan or the outcome.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

impl ClusterMergeArgs {
    fn settings(&self) -> bouture_cluster_merge::Options {
        let mut settings =
            bouture_cluster_merge::Options::new(self.clusters.clone(), self.state_dir.clone());
        settings.watcher_pause_period = self.watcher_pause_period;
        settings.groups = self.groups;
        settings.parameter_conflicts = self.parameter_conflicts;
        settings.restart = self.restart;
        settings.stop_instances = !self.skip_stop_instances;
        settings.our_public_key.clone_from(&self.our_public_key);
        settings
            .their_private_key
            .clone_from(&self.their_private_key);
        settings.dry_run = self.dry_run;
        settings
    }

    fn executor(&self, stop: StopRequest) -> SystemExecutor {
        SystemExecutor::new(SshOptions {
            connect_timeout: Duration::from_secs(self.ssh_timeout.max(1)),
            host_keys: if self.accept_new_host_keys {
                HostKeyPolicy::AcceptNew
            } else {
                HostKeyPolicy::Strict
            },
            ..SshOptions::default()
        })
        .with_stop(stop)
    }
}

/// `SIGINT`, `SIGTERM` and `SIGHUP` set a [`StopRequest`] for as long as
/// this guard lives (the handler only stores the signal's number): the
/// merge stops at the current action, rolls back or lists what is left,
/// and removes its keys and fetched configurations.
struct StopOnSignals {
    ids: Vec<signal_hook::SigId>,
}

impl StopOnSignals {
    fn register(stop: &StopRequest) -> std::io::Result<Self> {
        let mut ids = Vec::new();
        for signal in [
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ] {
            let number = usize::try_from(signal).unwrap_or(1);
            ids.push(signal_hook::flag::register_usize(
                signal,
                stop.flag(),
                number,
            )?);
        }
        Ok(Self { ids })
    }
}

impl Drop for StopOnSignals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Progress in the log: steps and notes at INFO, commands and undos at
/// DEBUG (`-v`).
struct Progress<'l, 'w> {
    log: &'l mut Logger<'w>,
}

impl Observer for Progress<'_, '_> {
    fn event(&mut self, event: &Event) {
        match event {
            Event::Discovering { cluster } => self.log.info(&format!("looking at {cluster}")),
            Event::Step {
                number,
                total,
                name,
                title,
            } => self
                .log
                .info(&format!("[{number}/{total}] {name}: {title}")),
            Event::Action(line) => self.log.debug(&format!("  $ {line}")),
            Event::Undo(line) => self.log.debug(&format!("  undo $ {line}")),
            Event::Note(note) => self.log.info(&format!("note: {}", note_text(*note))),
            _ => {}
        }
    }
}

pub(crate) fn run(args: &ClusterMergeArgs, cx: &mut Context<'_>) -> CommandResult {
    let stop = StopRequest::new();
    let _signals = StopOnSignals::register(&stop).map_err(CommandError::failed)?;
    let mut executor = args.executor(stop);
    cx.log.debug(&format!(
        "state directory {}; {}",
        args.state_dir.display(),
        if args.resume {
            "resuming the merge it records".to_owned()
        } else {
            format!("merging {}", args.clusters.join(", "))
        }
    ));
    let stdout = &mut *cx.stdout;
    let mut progress = Progress { log: &mut cx.log };
    let outcome = if args.resume {
        bouture_cluster_merge::resume(&args.settings(), &mut executor, &mut progress)
            .map(MergeOutcome::Ran)
    } else {
        bouture_cluster_merge::run(&args.settings(), &mut executor, &mut progress)
    }
    .map_err(refused)?;
    let (written, status) = match outcome {
        MergeOutcome::Planned(prepared) => (
            match args.format {
                OutputFormat::Json => write_json(
                    stdout,
                    &serde_json::json!({ "plan": prepared.plan, "merge": prepared.merge }),
                ),
                OutputFormat::Text => {
                    let plan = render_plan(&prepared.plan, &|cmd| executor.describe(cmd));
                    write!(stdout, "{plan}\n{}", render_report(&prepared.merge, false))
                }
            },
            None,
        ),
        MergeOutcome::Ran(report) => (
            match args.format {
                OutputFormat::Json => write_json(stdout, &report),
                OutputFormat::Text => stdout.write_all(render(&report).as_bytes()),
            },
            Some(report.status),
        ),
        _ => {
            return Err(CommandError::failed(std::io::Error::other(
                "bouture-cluster-merge returned an outcome this bouture does not know",
            )));
        }
    };
    written.map_err(CommandError::Output)?;
    Ok(status.map_or(Outcome::Done, outcome_of))
}

/// What the run notes as it goes, in the CLI's words (with the flag to
/// pass where one is needed).
fn note_text(note: Note) -> &'static str {
    match note {
        Note::PointOfNoReturnPassed => {
            "point of no return passed: from now on a failure stops the merge and nothing is undone"
        }
        Note::RollingBack => {
            "a step failed before the point of no return: undoing everything done, newest first"
        }
        Note::UndoFailed => {
            "an undo failed: the rollback stops here and older steps are left as they are; fix the cause, then --resume continues the undo"
        }
        _ => "(a note this bouture does not know)",
    }
}

/// The plan as text: every step with its checks, the exact command lines
/// (`describe`: the executor's) and their undo.
fn render_plan(plan: &Plan, describe: &dyn Fn(&Cmd) -> String) -> String {
    let mut out = String::new();
    let names: Vec<&str> = plan
        .facts
        .clusters
        .iter()
        .map(|c| c.host.as_str())
        .collect();
    let _ = writeln!(
        out,
        "Plan {}: merge {} into {} (master {})",
        plan.run_id,
        names.join(", "),
        plan.facts.ours.cluster_name,
        plan.facts.ours.master
    );
    let _ = writeln!(
        out,
        "State directory: {}",
        plan.settings.state_dir.display()
    );
    let _ = writeln!(out, "Backup of our config.data: {}", plan.backup.display());
    for (index, step) in plan.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n{:>2}. {}: {}{}",
            index + 1,
            step.kind.name(),
            step.title,
            flag_of_step(plan, step.kind)
        );
        for check in &step.checks {
            let _ = writeln!(out, "    check: {}", check.describe());
        }
        if step.actions.is_empty() {
            out.push_str("    (nothing to do)\n");
        }
        for planned in &step.actions {
            for line in action_lines(&planned.action, describe) {
                let _ = writeln!(out, "    {line}");
            }
            for undo in &planned.undo {
                for line in action_lines(undo, describe) {
                    let _ = writeln!(out, "      undo: {line}");
                }
            }
        }
        if step.point_of_no_return {
            out.push_str(
                "\n    ---- point of no return: after this step nothing is undone; on failure bouture stops and prints what is left ----\n",
            );
        }
    }
    out
}

/// The flag that chose what a step does, as a suffix of its title.
fn flag_of_step(plan: &Plan, kind: StepKind) -> String {
    match kind {
        StepKind::StopInstances if !plan.settings.stop_instances => {
            " (--skip-stop-instances)".to_owned()
        }
        StepKind::StartInstances => plan
            .settings
            .restart
            .to_possible_value()
            .map(|value| format!(" (--restart {})", value.get_name()))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// An action as shell lines: the config merge as the `bouture merge`
/// command that does the same (its flags are the CLI's), every other
/// action as the library writes it.
fn action_lines(action: &Action, describe: &dyn Fn(&Cmd) -> String) -> Vec<String> {
    let Action::MergeConfig(merge) = action else {
        return action.shell_lines(describe);
    };
    let p = |path: &std::path::Path| shell_quote(&path.display().to_string());
    let mut line = format!("bouture merge --config {}", p(&merge.ours));
    for other in &merge.theirs {
        let _ = write!(line, " --merge {}", p(other));
    }
    let _ = write!(line, " --output {}", p(&merge.staged));
    if let Some(groups) = merge.groups {
        let _ = write!(line, " --groups {}", shell_quote(groups.name()));
    }
    let _ = write!(
        line,
        " --parameter-conflicts {}",
        shell_quote(merge.parameter_conflicts.name())
    );
    vec![line, merge.install_line()]
}

/// A merge that could not start or go on: the library states what is
/// wrong; the flag that addresses it, which only the CLI names, is added
/// ([`Hinted`]).
fn refused(error: bouture_cluster_merge::Error) -> CommandError {
    let hint = flag_hint(&error);
    CommandError::failed(Hinted { error, hint })
}

/// The flag of `bouture cluster-merge` that addresses `error`, if one does.
fn flag_hint(error: &bouture_cluster_merge::Error) -> Option<&'static str> {
    use bouture_cluster_merge::{Error, ExecError};
    match error {
        Error::Unfinished { .. } => Some("continue it with --resume"),
        Error::ResumeMismatch { .. } => Some("give the same clusters, or none, with --resume"),
        Error::Exec {
            source: ExecError::HostKeyUnknown { .. },
            ..
        } => Some("or accept unknown keys with --accept-new-host-keys"),
        _ => None,
    }
}

/// A cluster-merge error and the flag hint the CLI adds to its message; its
/// sources are the library error's.
#[derive(Debug)]
struct Hinted {
    error: bouture_cluster_merge::Error,
    hint: Option<&'static str>,
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        match self.hint {
            Some(hint) => write!(f, "; {hint}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// What a merge that started amounts to: only a complete merge is done; a
/// merge rolled back, stopped after the point of no return or interrupted
/// is incomplete (its report, already written, says what remains).
fn outcome_of(status: Status) -> Outcome {
    match status {
        Status::Complete => Outcome::Done,
        _ => Outcome::Incomplete,
    }
}

fn render(outcome: &bouture_cluster_merge::Report) -> String {
    let mut out = String::new();
    let headline = match outcome.status {
        Status::Complete => "merge complete and verified",
        Status::RolledBack => {
            "merge FAILED before the point of no return; everything done was undone"
        }
        Status::RollingBack => {
            "merge FAILED before the point of no return, and an undo FAILED: the rollback stopped there"
        }
        Status::Stopped => "merge STOPPED after the point of no return; nothing was undone",
        _ => "merge interrupted; continue it with --resume",
    };
    let _ = writeln!(out, "Run {}: {headline}", outcome.run_id);
    if let Some(failure) = &outcome.failure {
        let _ = writeln!(
            out,
            "\nFailed at step {}: {}",
            failure.step, failure.message
        );
    }
    if !outcome.undone.is_empty() {
        let _ = writeln!(out, "\nUndone, in this order:");
        for line in &outcome.undone {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !outcome.undo_failures.is_empty() {
        let _ = writeln!(out, "\nCould NOT be undone:");
        for line in &outcome.undo_failures {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !outcome.remaining.is_empty() {
        let intro = if outcome.status == Status::RollingBack {
            "Left to undo, in order (fix the cause first, then run `bouture cluster-merge --resume`, or run them by hand); older steps were left as they are:"
        } else {
            "Commands left, in order (fix the cause first; or run `bouture cluster-merge --resume`):"
        };
        let _ = writeln!(out, "\n{intro}");
        for line in &outcome.remaining {
            let _ = writeln!(out, "  {line}");
        }
    }
    if let Some(report) = &outcome.merge {
        let _ = write!(out, "\n{}", merge_summary(report));
    }
    if let Some(backup) = &outcome.backup {
        let _ = writeln!(out, "\nBackup of our config.data: {}", backup.display());
    }
    for error in &outcome.cleanup_errors {
        let _ = writeln!(out, "cleanup: {error}");
    }
    let _ = writeln!(
        out,
        "Journal: {}\nLog: {}",
        outcome.journal.display(),
        outcome.log.display()
    );
    out
}

/// What the config merge brought, without the `bouture merge` report's
/// file paths and next steps (the run did them).
fn merge_summary(report: &bouture_merge::Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Configuration merged into cluster '{}' (Ganeti {}):",
        report.cluster, report.version
    );
    for cluster in &report.merged {
        let _ = writeln!(
            out,
            "  from '{}': {} nodes, {} instances, {} disks, {} networks",
            cluster.name,
            cluster.nodes_added.len(),
            cluster.instances_added.len(),
            cluster.disks_added.len(),
            cluster.networks_added.len()
        );
    }
    let _ = writeln!(out, "  ports reallocated: {}", report.port_changes.len());
    for warning in &report.warnings {
        let _ = writeln!(out, "  warning: {}", warning.message);
    }
    out
}

#[cfg(test)]
mod tests {
    use bouture_cluster_merge::{Error, ExecError};

    use super::*;
    use crate::output::error_chain;

    #[test]
    fn the_cli_names_the_flag_the_library_states_the_fact() {
        let unknown = refused(Error::Exec {
            cmd: "[b.example.com] true".to_owned(),
            source: ExecError::HostKeyUnknown {
                host: "b.example.com".to_owned(),
            },
        });
        let CommandError::Failed(failure) = unknown else {
            panic!("{unknown:?}");
        };
        let message = error_chain(failure.error.as_ref());
        assert!(
            message.ends_with(
                "(ssh-keyscan b.example.com >> ~/.ssh/known_hosts); or accept unknown keys with --accept-new-host-keys"
            ),
            "{message}"
        );
        let mismatch = Error::ResumeMismatch {
            recorded: "b".to_owned(),
            given: "c".to_owned(),
        };
        assert!(!mismatch.to_string().contains("--"), "{mismatch}");
        let CommandError::Failed(failure) = refused(mismatch) else {
            panic!("failed");
        };
        assert_eq!(
            error_chain(failure.error.as_ref()),
            "the recorded merge is of b, not of c; give the same clusters, or none, with --resume"
        );
    }
}

//! The typed plan: every step, its precondition checks, its actions and,
//! until the point of no return, how each action is undone.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use bouture_merge::{GroupStrategy, ParameterPolicy};

use bouture_text::shell_quote;

use crate::command::Cmd;

mod steps;
use crate::facts::Facts;

/// Where Ganeti lives on a host (Debian's layout by default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GanetiPaths {
    /// The directory of `gnt-cluster`, `gnt-node`, `gnt-instance`.
    pub sbin: PathBuf,
    /// Ganeti's data directory (`config.data`, `ssconf_*`).
    pub data_dir: PathBuf,
    /// `daemon-util`.
    pub daemon_util: PathBuf,
    /// root's SSH directory (`authorized_keys`, keys).
    pub root_ssh_dir: PathBuf,
}

impl Default for GanetiPaths {
    fn default() -> Self {
        Self {
            sbin: PathBuf::from("/usr/sbin"),
            data_dir: PathBuf::from("/var/lib/ganeti"),
            daemon_util: PathBuf::from("/usr/lib/ganeti/daemon-util"),
            root_ssh_dir: PathBuf::from("/root/.ssh"),
        }
    }
}

impl GanetiPaths {
    /// A `gnt-*` program.
    pub fn gnt(&self, program: &str) -> String {
        self.sbin.join(program).display().to_string()
    }

    /// A file of the data directory.
    pub fn data(&self, name: &str) -> PathBuf {
        self.data_dir.join(name)
    }

    /// `daemon-util` as a string.
    pub fn daemon_util(&self) -> String {
        self.daemon_util.display().to_string()
    }

    /// A file of root's SSH directory, as a string.
    pub fn ssh(&self, name: &str) -> String {
        self.root_ssh_dir.join(name).display().to_string()
    }
}

/// The daemons of Ganeti 3.0's master role, in `daemon-util start-master`'s
/// order.
const MASTER_DAEMONS: [&str; 3] = ["ganeti-wconfd", "ganeti-rapi", "ganeti-luxid"];

/// Which instances are started after the merge (`--restart`, as Ganeti's
/// `tools/cluster-merge` defines it).
///
/// With the `clap` feature it is a `clap::ValueEnum` (`all`, `up`, `none`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Restart {
    /// Every instance of the merged cluster, ours and theirs, whatever
    /// its state before (Ganeti's `gnt-instance startup --all`).
    #[default]
    #[cfg_attr(
        feature = "clap",
        value(
            help = "Every instance of the merged cluster (as Ganeti's `gnt-instance startup --all`)"
        )
    )]
    All,
    /// The merged instances that were running before the merge (Ganeti
    /// names it and never implemented it).
    #[cfg_attr(
        feature = "clap",
        value(help = "The merged instances that were running before the merge")
    )]
    Up,
    /// None; the operator starts them.
    #[cfg_attr(feature = "clap", value(help = "None"))]
    None,
}

/// Everything the operator chose; recorded in the journal so that a resumed
/// run does exactly what the first one planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// The merging clusters, as given (cluster names, used as SSH hosts).
    pub clusters: Vec<String>,
    /// Seconds the watchers are paused for (`gnt-cluster watcher pause`).
    pub watcher_pause_period: u64,
    /// Node group name clashes.
    pub groups: Option<GroupStrategy>,
    /// Cluster parameter differences.
    pub parameter_conflicts: ParameterPolicy,
    /// Instances started afterwards.
    pub restart: Restart,
    /// Whether bouture shuts the merging clusters' instances down (else it
    /// only checks that none runs).
    pub stop_instances: bool,
    /// Where the journal, the log and the work files are.
    pub state_dir: PathBuf,
    /// Ganeti's paths on this machine (our master).
    pub local: GanetiPaths,
    /// Ganeti's paths on the merging clusters' nodes.
    pub remote: GanetiPaths,
    /// Our root public key, added to the merging nodes' `authorized_keys`.
    pub our_public_key: PathBuf,
    /// The merging clusters' root private key (copied for the run, then removed).
    pub their_private_key: String,
    /// Discover and plan only: nothing is changed anywhere, no state
    /// directory is written ([`crate::run`] returns
    /// [`crate::Outcome::Planned`]). Never recorded: a plan (and the
    /// journal that holds it) is of a run, whichever way it was asked for.
    #[serde(skip)]
    pub dry_run: bool,
}

impl Options {
    /// Ganeti's defaults (pause 1800 s, strict parameters, restart all,
    /// stop instances), Debian's paths, root's RSA key, for `clusters`.
    pub fn new(clusters: Vec<String>, state_dir: PathBuf) -> Self {
        Self {
            clusters,
            watcher_pause_period: 1800,
            groups: None,
            parameter_conflicts: ParameterPolicy::Strict,
            restart: Restart::All,
            stop_instances: true,
            state_dir,
            local: GanetiPaths::default(),
            remote: GanetiPaths::default(),
            our_public_key: PathBuf::from("/root/.ssh/id_rsa.pub"),
            their_private_key: "/root/.ssh/id_rsa".to_owned(),
            dry_run: false,
        }
    }

    /// The options given to `bouture_merge::merge_files`.
    pub fn merge_options(&self) -> bouture_merge::Options {
        bouture_merge::Options {
            groups: self.groups,
            parameter_conflicts: self.parameter_conflicts,
            ..bouture_merge::Options::default()
        }
    }
}

/// The steps, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StepKind {
    /// `gnt-cluster verify` on our cluster.
    VerifyOurs,
    /// Our root public key into every merging node's `authorized_keys`.
    AuthorizeKey,
    /// Shut the merging clusters' instances down, check none runs.
    StopInstances,
    /// Pause the watchers (ours and theirs).
    PauseWatchers,
    /// `gnt-cluster deactivate-master-ip` on the merging masters.
    DeactivateMasterIps,
    /// `daemon-util stop-all` on every merging node.
    StopDaemons,
    /// Copy the merging clusters' config.data (once their daemons are
    /// stopped, so that the copy cannot be stale).
    FetchConfigs,
    /// `daemon-util stop-master` here.
    StopOurMaster,
    /// Copy our config.data aside.
    BackupConfig,
    /// Merge, verify and install the merged config.data.
    MergeConfig,
    /// Start our master daemon without voting: the point of no return.
    StartMasterNoVoting,
    /// `gnt-node add --readd` every merged node.
    ReaddNodes,
    /// `gnt-cluster redist-conf`.
    RedistConfig,
    /// Restart the master daemon normally.
    RestartMaster,
    /// Start the instances `--restart` names.
    StartInstances,
    /// `gnt-cluster verify`, and node and instance lists against the expected ones.
    VerifyMerged,
    /// Let our watcher run again.
    ResumeWatcher,
    /// Remove the `authorized_keys` backups left on the merged nodes.
    CleanupNodes,
}

impl StepKind {
    /// The step's name, as in the plan and the journal.
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyOurs => "verify-ours",
            Self::AuthorizeKey => "authorize-key",
            Self::StopInstances => "stop-instances",
            Self::PauseWatchers => "pause-watchers",
            Self::DeactivateMasterIps => "deactivate-master-ips",
            Self::StopDaemons => "stop-daemons",
            Self::FetchConfigs => "fetch-configs",
            Self::StopOurMaster => "stop-our-master",
            Self::BackupConfig => "backup-config",
            Self::MergeConfig => "merge-config",
            Self::StartMasterNoVoting => "start-master-no-voting",
            Self::ReaddNodes => "readd-nodes",
            Self::RedistConfig => "redist-config",
            Self::RestartMaster => "restart-master",
            Self::StartInstances => "start-instances",
            Self::VerifyMerged => "verify-merged",
            Self::ResumeWatcher => "resume-watcher",
            Self::CleanupNodes => "cleanup-nodes",
        }
    }
}

/// A precondition, checked before a step starts (never on a resumed step
/// that had already started).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Check {
    /// Nothing may exist at this path.
    Absent(PathBuf),
    /// These regular files must exist.
    Present(Vec<PathBuf>),
    /// Two files must hold the same bytes.
    SameContent(PathBuf, PathBuf),
}

impl Check {
    /// The check as a sentence.
    pub fn describe(&self) -> String {
        match self {
            Self::Absent(path) => format!("nothing exists at {}", path.display()),
            Self::Present(paths) => format!(
                "present: {}",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Self::SameContent(a, b) => {
                format!("{} and {} hold the same bytes", a.display(), b.display())
            }
        }
    }
}

/// One action of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Run a command; it must exit 0.
    Run(Cmd),
    /// Run `gnt-instance list -o name,status`; no instance may be running
    /// (`running` or `ERROR_up`).
    ExpectStopped(Cmd),
    /// Run a command and save its (secret) output to a local file, mode 0600.
    Fetch {
        /// The command (`cat …/config.data`).
        cmd: Cmd,
        /// The local file.
        to: PathBuf,
    },
    /// Copy a local file, keeping its mode and owner; refuses an existing
    /// destination unless it already holds the same bytes.
    Backup {
        /// The original.
        from: PathBuf,
        /// The copy.
        to: PathBuf,
    },
    /// Put a backup back in place, atomically, with its mode and owner.
    Restore {
        /// The backup.
        backup: PathBuf,
        /// The file restored.
        to: PathBuf,
    },
    /// Remove a local regular file (nothing when it is missing).
    Remove(PathBuf),
    /// Merge the configurations, check the result and install it.
    MergeConfig(MergeConfig),
    /// Run node and instance listings; every expected name must be listed.
    CompareLists {
        /// `gnt-node list -o name --no-headers`.
        nodes: Cmd,
        /// `gnt-instance list -o name --no-headers`.
        instances: Cmd,
        /// Nodes expected (ours and theirs, from before the merge).
        expected_nodes: Vec<String>,
        /// Instances expected.
        expected_instances: Vec<String>,
    },
}

impl Action {
    /// The commands this action runs, if any.
    pub fn commands(&self) -> Vec<&Cmd> {
        match self {
            Self::Run(cmd) | Self::ExpectStopped(cmd) | Self::Fetch { cmd, .. } => vec![cmd],
            Self::CompareLists {
                nodes, instances, ..
            } => vec![nodes, instances],
            Self::Backup { .. } | Self::Restore { .. } | Self::Remove(_) | Self::MergeConfig(_) => {
                Vec::new()
            }
        }
    }

    /// The action as shell lines an operator could run by hand (the
    /// config merge, which is bouture-merge's, as a comment stating what
    /// it merges and how: [`MergeConfig`]); `describe` renders a command
    /// (the executor's exact command line).
    pub fn shell_lines(&self, describe: &dyn Fn(&Cmd) -> String) -> Vec<String> {
        let p = quote_path;
        match self {
            Self::Run(cmd) => vec![describe(cmd)],
            Self::ExpectStopped(cmd) => vec![format!(
                "{}  # no instance may be running or ERROR_up",
                describe(cmd)
            )],
            Self::Fetch { cmd, to } => vec![format!("{} > {}", describe(cmd), p(to))],
            Self::Backup { from, to } => vec![format!("cp -p {} {}", p(from), p(to))],
            Self::Restore { backup, to } => vec![format!("cp -p {} {}", p(backup), p(to))],
            Self::Remove(path) => vec![format!("rm -f {}", p(path))],
            Self::MergeConfig(merge) => merge.shell_lines(),
            Self::CompareLists {
                nodes,
                instances,
                expected_nodes,
                expected_instances,
            } => vec![
                format!(
                    "{}  # must list: {}",
                    describe(nodes),
                    expected_nodes.join(" ")
                ),
                format!(
                    "{}  # must list: {}",
                    describe(instances),
                    expected_instances.join(" ")
                ),
            ],
        }
    }
}

/// Merge `ours` with `theirs` into `staged` (bouture-merge), check the
/// result, then install it over `install` atomically (mode 0640, the owner
/// of `install`), and read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MergeConfig {
    /// Our config.data as it was (the backup).
    pub ours: PathBuf,
    /// The merging clusters' config.data.
    pub theirs: Vec<PathBuf>,
    /// Where the merged file is written first.
    pub staged: PathBuf,
    /// Our live config.data.
    pub install: PathBuf,
    /// Node names the merged file must hold.
    pub nodes: Vec<String>,
    /// Instance names the merged file must hold.
    pub instances: Vec<String>,
    /// What is done with node groups whose name clashes
    /// ([`Options::groups`]).
    pub groups: Option<GroupStrategy>,
    /// Whether differing strict parameters refuse the merge
    /// ([`Options::parameter_conflicts`]).
    pub parameter_conflicts: ParameterPolicy,
}

impl MergeConfig {
    /// The options given to `bouture_merge::merge_files`.
    pub fn merge_options(&self) -> bouture_merge::Options {
        bouture_merge::Options {
            groups: self.groups,
            parameter_conflicts: self.parameter_conflicts,
            ..bouture_merge::Options::default()
        }
    }

    /// The merge as shell lines: a comment stating what is merged into
    /// what and how (bouture-merge's job, no command of its own here),
    /// then the copy over our config.data.
    fn shell_lines(&self) -> Vec<String> {
        let theirs: Vec<String> = self.theirs.iter().map(|t| quote_path(t)).collect();
        vec![
            format!(
                "# merge {} {} into {} (node groups: {}; parameter conflicts: {}), then check it",
                quote_path(&self.ours),
                theirs.join(" "),
                quote_path(&self.staged),
                self.groups
                    .map_or("refused when their names clash", GroupStrategy::name),
                self.parameter_conflicts.name()
            ),
            self.install_line(),
        ]
    }

    /// `cp STAGED INSTALL`, the merged file installed.
    pub fn install_line(&self) -> String {
        format!(
            "cp {} {}",
            quote_path(&self.staged),
            quote_path(&self.install)
        )
    }
}

/// A path as one shell word.
fn quote_path(path: &Path) -> String {
    shell_quote(&path.display().to_string())
}

/// An action and how to undo it (empty after the point of no return, or
/// when there is nothing to undo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Planned {
    /// What is done.
    pub action: Action,
    /// How it is undone, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub undo: Vec<Action>,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// Which step.
    pub kind: StepKind,
    /// What it does, for the operator.
    pub title: String,
    /// Checked before it starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<Check>,
    /// What it does, in order.
    pub actions: Vec<Planned>,
    /// Once this step is done, nothing is undone any more.
    #[serde(default)]
    pub point_of_no_return: bool,
}

/// The whole plan, built from the settings and what was found on the
/// clusters before anything was changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The run's identifier (`YYYYMMDDTHHMMSSZ`), in file names.
    pub run_id: String,
    /// The operator's choices.
    pub settings: Options,
    /// What was found.
    pub facts: Facts,
    /// Where our config.data is backed up (next to it).
    pub backup: PathBuf,
    /// The private work directory (fetched configs, staged merge), removed at the end.
    pub work_dir: PathBuf,
    /// The steps.
    pub steps: Vec<Step>,
}

/// The file name left on merging nodes while `authorized_keys` is changed.
pub const AUTHORIZED_KEYS_BACKUP: &str = "authorized_keys.bouture-cluster-merge";

impl Plan {
    /// Build the plan: each step from the settings and the facts, in the
    /// order they run (one function per step, in `steps`).
    pub fn build(run_id: &str, settings: &Options, facts: &Facts) -> Self {
        let ctx = steps::Ctx::new(run_id, settings, facts);
        let steps = ctx.steps();
        let mut settings = settings.clone();
        settings.dry_run = false;
        Self {
            run_id: run_id.to_owned(),
            settings,
            facts: facts.clone(),
            backup: ctx.backup,
            work_dir: ctx.work_dir,
            steps,
        }
    }

    /// The index of the step whose success is the point of no return.
    pub fn point_of_no_return(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.point_of_no_return)
    }
}

//! The typed plan: every step, its precondition checks, its actions and,
//! until the point of no return, how each action is undone.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use bouture_merge::{GroupStrategy, ParameterPolicy};

use bouture_text::shell_quote;

use crate::command::{Cmd, Identity};
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
        }
    }

    /// [`Options::merge_options`] as `bouture merge` command-line flags.
    pub fn merge_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if let Some(groups) = self.groups {
            flags.push("--groups".to_owned());
            flags.push(groups.name().to_owned());
        }
        flags.push("--parameter-conflicts".to_owned());
        flags.push(self.parameter_conflicts.name().to_owned());
        flags
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
    /// Merge `ours` with `theirs` into `staged` (bouture-merge), check the
    /// result, then install it over `install` atomically (mode 0640, the
    /// owner of `install`), and read it back.
    MergeConfig {
        /// Our config.data as it was (the backup).
        ours: PathBuf,
        /// The merging clusters' config.data.
        theirs: Vec<PathBuf>,
        /// Where the merged file is written first.
        staged: PathBuf,
        /// Our live config.data.
        install: PathBuf,
        /// Node names the merged file must hold.
        nodes: Vec<String>,
        /// Instance names the merged file must hold.
        instances: Vec<String>,
        /// The settings' merge options as `bouture merge` flags (for the operator).
        flags: Vec<String>,
    },
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
            Self::Backup { .. }
            | Self::Restore { .. }
            | Self::Remove(_)
            | Self::MergeConfig { .. } => Vec::new(),
        }
    }

    /// The action as shell lines an operator could run by hand;
    /// `describe` renders a command (the executor's exact command line).
    pub fn shell_lines(&self, describe: &dyn Fn(&Cmd) -> String) -> Vec<String> {
        let p = |path: &Path| shell_quote(&path.display().to_string());
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
            Self::MergeConfig {
                ours,
                theirs,
                staged,
                install,
                flags,
                ..
            } => {
                let mut merge = format!("bouture merge --config {}", p(ours));
                for other in theirs {
                    let _ = write!(merge, " --merge {}", p(other));
                }
                let _ = write!(merge, " --output {}", p(staged));
                for flag in flags {
                    let _ = write!(merge, " {}", shell_quote(flag));
                }
                vec![merge, format!("cp {} {}", p(staged), p(install))]
            }
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
    /// Build the plan.
    #[allow(
        clippy::too_many_lines,
        reason = "the steps read best in order, in one place"
    )]
    pub fn build(run_id: &str, settings: &Options, facts: &Facts) -> Self {
        let work_dir = settings.state_dir.join(format!("work-{run_id}"));
        let local = &settings.local;
        let remote = &settings.remote;
        let config = local.data("config.data");
        let backup = local.data(&format!("config.data.bouture-cluster-merge-{run_id}"));
        let lcl = |argv: &[&str]| Cmd::local(argv.iter().copied());
        let key = |cluster: &str| Identity::ClusterKey(cluster.to_owned());
        let fetched: Vec<PathBuf> = facts
            .clusters
            .iter()
            .map(|c| work_dir.join(format!("{}.config.data", c.host)))
            .collect();
        let mut steps = Vec::new();

        steps.push(step(
            StepKind::VerifyOurs,
            "verify our cluster",
            vec![],
            vec![done(Action::Run(lcl(&[
                &local.gnt("gnt-cluster"),
                "verify",
            ])))],
        ));

        let (add, restore) = authorized_keys_scripts(remote, &facts.ours.public_key);
        let mut actions = Vec::new();
        for cluster in &facts.clusters {
            for node in cluster.online_nodes() {
                actions.push(Planned {
                    action: Action::Run(Cmd::remote(node, key(&cluster.host), ["sh", "-c", &add])),
                    undo: vec![Action::Run(Cmd::remote(
                        node,
                        key(&cluster.host),
                        ["sh", "-c", &restore],
                    ))],
                });
            }
        }
        steps.push(step(
            StepKind::AuthorizeKey,
            "add our root public key to every merging node's authorized_keys",
            vec![],
            actions,
        ));

        let mut actions = Vec::new();
        for cluster in &facts.clusters {
            let on_master = |argv: &[&str]| {
                Cmd::remote(&cluster.master, key(&cluster.host), argv.iter().copied())
            };
            if settings.stop_instances {
                let running = cluster.running_instances();
                let mut undo = Vec::new();
                if !running.is_empty() {
                    let mut argv = vec![
                        remote.gnt("gnt-instance"),
                        "startup".into(),
                        "--force-multiple".into(),
                    ];
                    argv.extend(running.iter().map(|s| (*s).to_owned()));
                    undo.push(Action::Run(Cmd::remote(
                        &cluster.master,
                        key(&cluster.host),
                        argv,
                    )));
                }
                actions.push(Planned {
                    action: Action::Run(on_master(&[
                        &remote.gnt("gnt-instance"),
                        "shutdown",
                        "--all",
                        "--force-multiple",
                    ])),
                    undo,
                });
            }
            actions.push(done(Action::ExpectStopped(on_master(&[
                &remote.gnt("gnt-instance"),
                "list",
                "-o",
                "name,status",
                "--no-headers",
                "--separator=,",
            ]))));
        }
        steps.push(step(
            StepKind::StopInstances,
            if settings.stop_instances {
                "shut the merging clusters' instances down"
            } else {
                "check that no merging instance runs (--skip-stop-instances)"
            },
            vec![],
            actions,
        ));

        let period = settings.watcher_pause_period.to_string();
        let mut actions = vec![Planned {
            action: Action::Run(lcl(&[
                &local.gnt("gnt-cluster"),
                "watcher",
                "pause",
                &period,
            ])),
            undo: if facts.ours.watcher_paused {
                vec![]
            } else {
                vec![Action::Run(lcl(&[
                    &local.gnt("gnt-cluster"),
                    "watcher",
                    "continue",
                ]))]
            },
        }];
        for cluster in &facts.clusters {
            let on_master = |argv: &[&str]| {
                Cmd::remote(&cluster.master, key(&cluster.host), argv.iter().copied())
            };
            actions.push(Planned {
                action: Action::Run(on_master(&[
                    &remote.gnt("gnt-cluster"),
                    "watcher",
                    "pause",
                    &period,
                ])),
                undo: if cluster.watcher_paused {
                    vec![]
                } else {
                    vec![Action::Run(on_master(&[
                        &remote.gnt("gnt-cluster"),
                        "watcher",
                        "continue",
                    ]))]
                },
            });
        }
        steps.push(step(
            StepKind::PauseWatchers,
            "pause the watchers",
            vec![],
            actions,
        ));

        let actions = facts
            .clusters
            .iter()
            .map(|cluster| {
                let on_master = |argv: &[&str]| {
                    Cmd::remote(&cluster.master, key(&cluster.host), argv.iter().copied())
                };
                Planned {
                    action: Action::Run(on_master(&[
                        &remote.gnt("gnt-cluster"),
                        "deactivate-master-ip",
                        "--yes",
                    ])),
                    undo: vec![Action::Run(on_master(&[
                        &remote.gnt("gnt-cluster"),
                        "activate-master-ip",
                    ]))],
                }
            })
            .collect();
        steps.push(step(
            StepKind::DeactivateMasterIps,
            "deactivate the merging clusters' master IPs",
            vec![],
            actions,
        ));

        let mut actions = Vec::new();
        for cluster in &facts.clusters {
            // The master first, so that undoing starts it last, once the
            // other nodes answer its vote.
            let mut nodes: Vec<&str> = vec![&cluster.master];
            nodes.extend(cluster.online_nodes().filter(|n| *n != cluster.master));
            for node in nodes {
                let daemon_util = |verb: &str| {
                    Cmd::remote(
                        node,
                        key(&cluster.host),
                        [remote.daemon_util(), verb.to_owned()],
                    )
                };
                actions.push(Planned {
                    action: Action::Run(daemon_util("stop-all")),
                    undo: vec![Action::Run(daemon_util("start-all"))],
                });
            }
        }
        steps.push(step(
            StepKind::StopDaemons,
            "stop Ganeti's daemons on every merging node",
            vec![],
            actions,
        ));

        let actions = facts
            .clusters
            .iter()
            .zip(&fetched)
            .map(|(cluster, to)| Planned {
                action: Action::Fetch {
                    cmd: Cmd::remote(
                        &cluster.master,
                        key(&cluster.host),
                        [
                            "cat".to_owned(),
                            remote.data("config.data").display().to_string(),
                        ],
                    )
                    .secret(),
                    to: to.clone(),
                },
                undo: vec![Action::Remove(to.clone())],
            })
            .collect();
        steps.push(step(
            StepKind::FetchConfigs,
            "copy the merging clusters' config.data",
            vec![],
            actions,
        ));

        steps.push(step(
            StepKind::StopOurMaster,
            "stop our master daemon",
            vec![],
            vec![Planned {
                action: Action::Run(lcl(&[&local.daemon_util(), "stop-master"])),
                undo: vec![Action::Run(lcl(&[&local.daemon_util(), "start-master"]))],
            }],
        ));

        steps.push(step(
            StepKind::BackupConfig,
            "back our config.data up",
            vec![Check::Absent(backup.clone())],
            vec![Planned {
                action: Action::Backup {
                    from: config.clone(),
                    to: backup.clone(),
                },
                undo: vec![Action::Remove(backup.clone())],
            }],
        ));

        let mut nodes = facts.ours.nodes.clone();
        let mut instances = facts.ours.instances.clone();
        for cluster in &facts.clusters {
            nodes.extend(cluster.nodes.iter().map(|n| n.name.clone()));
            instances.extend(cluster.instances.iter().map(|i| i.name.clone()));
        }
        let mut checks = vec![Check::Present(fetched.clone())];
        checks.push(Check::SameContent(config.clone(), backup.clone()));
        steps.push(step(
            StepKind::MergeConfig,
            "merge the configurations, verify the result and install it as our config.data",
            checks,
            vec![Planned {
                action: Action::MergeConfig {
                    ours: backup.clone(),
                    theirs: fetched.clone(),
                    staged: work_dir.join("merged.config.data"),
                    install: config.clone(),
                    nodes: nodes.clone(),
                    instances: instances.clone(),
                    flags: settings.merge_flags(),
                },
                undo: vec![Action::Restore {
                    backup: backup.clone(),
                    to: config.clone(),
                }],
            }],
        ));

        // Ganeti 3.0 has no masterd: the master role is wconfd, rapi and
        // luxid, and wconfd and luxid take `--no-voting --yes-do-it`.
        // `daemon-util start NAME ARGS...` hands ARGS to that daemon only,
        // for this start only: on its command line without systemd, and
        // through `DATA_DIR/NAME.onetime.conf` (`ONETIME_ARGS`, which Ganeti's
        // units read) under systemd, where the environment `daemon-util`
        // gets (`EXTRA_WCONFD_ARGS`, what Ganeti's own master failover sets)
        // never reaches the daemon. Under systemd, 3.0's `daemon-util`
        // removes that file only when `systemctl start` succeeded (it runs
        // under `set -e`): a failed start leaves `--no-voting --yes-do-it`
        // there for every later start of the unit, the undo's
        // `start-master` included. The undo removes it after the stop.
        let start_daemon = |daemon: &str, args: &[&str]| {
            let mut argv = vec![local.daemon_util(), "start".to_owned(), daemon.to_owned()];
            argv.extend(args.iter().map(|a| (*a).to_owned()));
            Planned {
                action: Action::Run(Cmd::local(argv)),
                undo: vec![
                    Action::Run(lcl(&[&local.daemon_util(), "stop", daemon])),
                    Action::Remove(local.data(&format!("{daemon}.onetime.conf"))),
                ],
            }
        };
        let no_voting = ["--no-voting", "--yes-do-it"];
        let mut last = step(
            StepKind::StartMasterNoVoting,
            "start our master daemons without voting, on the merged configuration",
            vec![],
            vec![
                start_daemon(MASTER_DAEMONS[0], &no_voting),
                start_daemon(MASTER_DAEMONS[1], &[]),
                start_daemon(MASTER_DAEMONS[2], &no_voting),
            ],
        );
        last.point_of_no_return = true;
        steps.push(last);

        // `gnt-node add --readd` refuses a node that still holds its old
        // cluster's name ("Current cluster name is ...") or certificate
        // ("Given cluster certificate does not match local key"): those two
        // files go first, and nothing else of the node's.
        let forget: Vec<String> = ["ssconf_cluster_name", "server.pem"]
            .iter()
            .map(|f| remote.data(f).display().to_string())
            .collect();
        let mut actions = Vec::new();
        for cluster in &facts.clusters {
            for node in cluster.online_nodes() {
                let mut argv = vec!["rm".to_owned(), "-f".to_owned()];
                argv.extend(forget.iter().cloned());
                actions.push(done(Action::Run(Cmd::remote(
                    node,
                    Identity::Operator,
                    argv,
                ))));
                actions.push(done(Action::Run(lcl(&[
                    &local.gnt("gnt-node"),
                    "add",
                    "--readd",
                    "--no-ssh-key-check",
                    node,
                ]))));
            }
        }
        steps.push(step(
            StepKind::ReaddNodes,
            "re-add every merged node",
            vec![],
            actions,
        ));

        steps.push(step(
            StepKind::RedistConfig,
            "redistribute the configuration",
            vec![],
            vec![done(Action::Run(lcl(&[
                &local.gnt("gnt-cluster"),
                "redist-conf",
            ])))],
        ));

        steps.push(step(
            StepKind::RestartMaster,
            "restart our master daemon normally",
            vec![],
            vec![
                done(Action::Run(lcl(&[&local.daemon_util(), "stop-master"]))),
                done(Action::Run(lcl(&[&local.daemon_util(), "start-master"]))),
            ],
        ));

        let to_start: Vec<String> = match settings.restart {
            Restart::All => instances.clone(),
            Restart::Up => facts
                .clusters
                .iter()
                .flat_map(|c| c.running_instances())
                .map(str::to_owned)
                .collect(),
            Restart::None => Vec::new(),
        };
        let actions = if to_start.is_empty() {
            Vec::new()
        } else {
            let mut argv = vec![
                local.gnt("gnt-instance"),
                "startup".into(),
                "--force-multiple".into(),
            ];
            argv.extend(to_start);
            vec![done(Action::Run(Cmd::local(argv)))]
        };
        steps.push(step(
            StepKind::StartInstances,
            match settings.restart {
                Restart::All => "start every instance of the merged cluster (--restart all)",
                Restart::Up => "start the merged instances that were running (--restart up)",
                Restart::None => "start no instance (--restart none)",
            },
            vec![],
            actions,
        ));

        steps.push(step(
            StepKind::VerifyMerged,
            "verify the merged cluster; every node and instance from before must be listed",
            vec![],
            vec![
                done(Action::Run(lcl(&[&local.gnt("gnt-cluster"), "verify"]))),
                done(Action::CompareLists {
                    nodes: lcl(&[&local.gnt("gnt-node"), "list", "-o", "name", "--no-headers"]),
                    instances: lcl(&[
                        &local.gnt("gnt-instance"),
                        "list",
                        "-o",
                        "name",
                        "--no-headers",
                    ]),
                    expected_nodes: nodes,
                    expected_instances: instances,
                }),
            ],
        ));

        let actions = if facts.ours.watcher_paused {
            Vec::new()
        } else {
            vec![done(Action::Run(lcl(&[
                &local.gnt("gnt-cluster"),
                "watcher",
                "continue",
            ])))]
        };
        steps.push(step(
            StepKind::ResumeWatcher,
            "let our watcher run again",
            vec![],
            actions,
        ));

        let backup_file = remote.ssh(AUTHORIZED_KEYS_BACKUP);
        let mut actions = Vec::new();
        for cluster in &facts.clusters {
            for node in cluster.online_nodes() {
                actions.push(done(Action::Run(Cmd::remote(
                    node,
                    Identity::Operator,
                    [
                        "rm".to_owned(),
                        "-f".to_owned(),
                        backup_file.clone(),
                        format!("{backup_file}.absent"),
                    ],
                ))));
            }
        }
        steps.push(step(
            StepKind::CleanupNodes,
            "remove the authorized_keys backups from the merged nodes",
            vec![],
            actions,
        ));

        Self {
            run_id: run_id.to_owned(),
            settings: settings.clone(),
            facts: facts.clone(),
            backup,
            work_dir,
            steps,
        }
    }

    /// The index of the step whose success is the point of no return.
    pub fn point_of_no_return(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.point_of_no_return)
    }

    /// The plan as text: every step with its checks, the exact command
    /// lines and their undo; `describe` renders a command.
    pub fn to_text(&self, describe: &dyn Fn(&Cmd) -> String) -> String {
        let mut out = String::new();
        let names: Vec<&str> = self
            .facts
            .clusters
            .iter()
            .map(|c| c.host.as_str())
            .collect();
        let _ = writeln!(
            out,
            "Plan {}: merge {} into {} (master {})",
            self.run_id,
            names.join(", "),
            self.facts.ours.cluster_name,
            self.facts.ours.master
        );
        let _ = writeln!(
            out,
            "State directory: {}",
            self.settings.state_dir.display()
        );
        let _ = writeln!(out, "Backup of our config.data: {}", self.backup.display());
        for (index, step) in self.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "\n{:>2}. {}: {}",
                index + 1,
                step.kind.name(),
                step.title
            );
            for check in &step.checks {
                let _ = writeln!(out, "    check: {}", check.describe());
            }
            if step.actions.is_empty() {
                out.push_str("    (nothing to do)\n");
            }
            for planned in &step.actions {
                for line in planned.action.shell_lines(describe) {
                    let _ = writeln!(out, "    {line}");
                }
                for undo in &planned.undo {
                    for line in undo.shell_lines(describe) {
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
}

fn step(kind: StepKind, title: &str, checks: Vec<Check>, actions: Vec<Planned>) -> Step {
    Step {
        kind,
        title: title.to_owned(),
        checks,
        actions,
        point_of_no_return: false,
    }
}

fn done(action: Action) -> Planned {
    Planned {
        action,
        undo: Vec::new(),
    }
}

/// The scripts that add `key` to root's `authorized_keys` (keeping a
/// byte-exact backup, once) and that put the backup back. Both can be run
/// again safely.
fn authorized_keys_scripts(paths: &GanetiPaths, key: &str) -> (String, String) {
    let dir = paths.root_ssh_dir.display().to_string();
    let file = paths.ssh("authorized_keys");
    let backup = paths.ssh(AUTHORIZED_KEYS_BACKUP);
    // `key` holds no quote, `$`, backquote or backslash (checked when it
    // was read), so double quotes keep it whole.
    let add = format!(
        "set -e; d={dir}; f={file}; b={backup}; k=\"{key}\"; \
         [ -d \"$d\" ] || {{ echo \"$d is missing\" >&2; exit 1; }}; \
         if [ ! -e \"$b\" ] && [ ! -e \"$b.absent\" ]; then \
         if [ -e \"$f\" ]; then cp -p \"$f\" \"$b\"; else : > \"$b.absent\"; fi; fi; \
         if ! grep -qxF \"$k\" \"$f\" 2>/dev/null; then \
         if [ -s \"$f\" ] && [ -n \"$(tail -c 1 \"$f\")\" ]; then echo >> \"$f\"; fi; \
         echo \"$k\" >> \"$f\"; fi",
        dir = shell_quote(&dir),
        file = shell_quote(&file),
        backup = shell_quote(&backup),
    );
    let restore = format!(
        "set -e; f={file}; b={backup}; \
         if [ -e \"$b\" ]; then mv -f \"$b\" \"$f\"; \
         elif [ -e \"$b.absent\" ]; then rm -f \"$f\" \"$b.absent\"; fi",
        file = shell_quote(&file),
        backup = shell_quote(&backup),
    );
    (add, restore)
}

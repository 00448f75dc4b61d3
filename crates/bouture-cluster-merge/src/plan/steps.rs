//! One function per step of the merge, in the order they run: each builds
//! its step (checks, actions, undo) from the settings and the facts.

use std::path::PathBuf;

use bouture_text::shell_quote;

use super::{
    AUTHORIZED_KEYS_BACKUP, Action, Check, GanetiPaths, MASTER_DAEMONS, MergeConfig, Options,
    Planned, Restart, Step, StepKind,
};
use crate::command::{Cmd, Identity};
use crate::facts::{ClusterFacts, Facts};

/// What every step is built from: the operator's choices, what was found,
/// and the paths of this run.
pub(super) struct Ctx<'a> {
    /// The operator's choices.
    pub settings: &'a Options,
    /// What was found.
    pub facts: &'a Facts,
    /// Our live config.data.
    pub config: PathBuf,
    /// Its backup.
    pub backup: PathBuf,
    /// The private work directory.
    pub work_dir: PathBuf,
    /// Where each merging cluster's config.data is fetched, in order.
    pub fetched: Vec<PathBuf>,
    /// Every node, ours then theirs (from before the merge).
    pub nodes: Vec<String>,
    /// Every instance, ours then theirs.
    pub instances: Vec<String>,
}

impl<'a> Ctx<'a> {
    pub(super) fn new(run_id: &str, settings: &'a Options, facts: &'a Facts) -> Self {
        let work_dir = settings.state_dir.join(format!("work-{run_id}"));
        let local = &settings.local;
        let fetched = facts
            .clusters
            .iter()
            .map(|c| work_dir.join(format!("{}.config.data", c.host)))
            .collect();
        let mut nodes = facts.ours.nodes.clone();
        let mut instances = facts.ours.instances.clone();
        for cluster in &facts.clusters {
            nodes.extend(cluster.nodes.iter().map(|n| n.name.clone()));
            instances.extend(cluster.instances.iter().map(|i| i.name.clone()));
        }
        Self {
            settings,
            facts,
            config: local.data("config.data"),
            backup: local.data(&format!("config.data.bouture-cluster-merge-{run_id}")),
            work_dir,
            fetched,
            nodes,
            instances,
        }
    }

    fn local(&self) -> &GanetiPaths {
        &self.settings.local
    }

    fn remote(&self) -> &GanetiPaths {
        &self.settings.remote
    }

    /// Every step, in the order they run.
    pub(super) fn steps(&self) -> Vec<Step> {
        vec![
            self.verify_ours(),
            self.authorize_key(),
            self.stop_instances(),
            self.pause_watchers(),
            self.deactivate_master_ips(),
            self.stop_daemons(),
            self.fetch_configs(),
            self.stop_our_master(),
            self.backup_config(),
            self.merge_config(),
            self.start_master_no_voting(),
            self.readd_nodes(),
            self.redist_config(),
            self.restart_master(),
            self.start_instances(),
            self.verify_merged(),
            self.resume_watcher(),
            self.cleanup_nodes(),
        ]
    }

    fn verify_ours(&self) -> Step {
        one_command(
            StepKind::VerifyOurs,
            "verify our cluster",
            lcl(&[&self.local().gnt("gnt-cluster"), "verify"]),
        )
    }

    fn authorize_key(&self) -> Step {
        let (add, restore) = authorized_keys_scripts(self.remote(), &self.facts.ours.public_key);
        let mut actions = Vec::new();
        for cluster in &self.facts.clusters {
            for node in cluster.online_nodes() {
                actions.push(Planned {
                    action: Action::Run(Cmd::remote(node, key(cluster), ["sh", "-c", &add])),
                    undo: vec![Action::Run(Cmd::remote(
                        node,
                        key(cluster),
                        ["sh", "-c", &restore],
                    ))],
                });
            }
        }
        step(
            StepKind::AuthorizeKey,
            "add our root public key to every merging node's authorized_keys",
            vec![],
            actions,
        )
    }

    fn stop_instances(&self) -> Step {
        let remote = self.remote();
        let stop = self.settings.stop_instances;
        let mut actions = Vec::new();
        for cluster in &self.facts.clusters {
            if stop {
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
                        key(cluster),
                        argv,
                    )));
                }
                actions.push(Planned {
                    action: Action::Run(on_master(
                        cluster,
                        &[
                            &remote.gnt("gnt-instance"),
                            "shutdown",
                            "--all",
                            "--force-multiple",
                        ],
                    )),
                    undo,
                });
            }
            actions.push(done(Action::ExpectStopped(on_master(
                cluster,
                &[
                    &remote.gnt("gnt-instance"),
                    "list",
                    "-o",
                    "name,status",
                    "--no-headers",
                    "--separator=,",
                ],
            ))));
        }
        step(
            StepKind::StopInstances,
            if stop {
                "shut the merging clusters' instances down"
            } else {
                "check that no merging instance runs"
            },
            vec![],
            actions,
        )
    }

    fn pause_watchers(&self) -> Step {
        let (local, remote) = (self.local(), self.remote());
        let period = self.settings.watcher_pause_period.to_string();
        let mut actions = vec![Planned {
            action: Action::Run(lcl(&[
                &local.gnt("gnt-cluster"),
                "watcher",
                "pause",
                &period,
            ])),
            undo: if self.facts.ours.watcher_paused {
                vec![]
            } else {
                vec![Action::Run(lcl(&[
                    &local.gnt("gnt-cluster"),
                    "watcher",
                    "continue",
                ]))]
            },
        }];
        for cluster in &self.facts.clusters {
            let gnt_cluster = remote.gnt("gnt-cluster");
            actions.push(Planned {
                action: Action::Run(on_master(
                    cluster,
                    &[&gnt_cluster, "watcher", "pause", &period],
                )),
                undo: if cluster.watcher_paused {
                    vec![]
                } else {
                    vec![Action::Run(on_master(
                        cluster,
                        &[&gnt_cluster, "watcher", "continue"],
                    ))]
                },
            });
        }
        step(
            StepKind::PauseWatchers,
            "pause the watchers",
            vec![],
            actions,
        )
    }

    fn deactivate_master_ips(&self) -> Step {
        let gnt_cluster = self.remote().gnt("gnt-cluster");
        let actions = self
            .facts
            .clusters
            .iter()
            .map(|cluster| Planned {
                action: Action::Run(on_master(
                    cluster,
                    &[&gnt_cluster, "deactivate-master-ip", "--yes"],
                )),
                undo: vec![Action::Run(on_master(
                    cluster,
                    &[&gnt_cluster, "activate-master-ip"],
                ))],
            })
            .collect();
        step(
            StepKind::DeactivateMasterIps,
            "deactivate the merging clusters' master IPs",
            vec![],
            actions,
        )
    }

    fn stop_daemons(&self) -> Step {
        let mut actions = Vec::new();
        for cluster in &self.facts.clusters {
            // The master first, so that undoing starts it last, once the
            // other nodes answer its vote.
            let mut nodes: Vec<&str> = vec![&cluster.master];
            nodes.extend(cluster.online_nodes().filter(|n| *n != cluster.master));
            for node in nodes {
                let daemon_util = |verb: &str| {
                    Cmd::remote(
                        node,
                        key(cluster),
                        [self.remote().daemon_util(), verb.to_owned()],
                    )
                };
                actions.push(Planned {
                    action: Action::Run(daemon_util("stop-all")),
                    undo: vec![Action::Run(daemon_util("start-all"))],
                });
            }
        }
        step(
            StepKind::StopDaemons,
            "stop Ganeti's daemons on every merging node",
            vec![],
            actions,
        )
    }

    fn fetch_configs(&self) -> Step {
        let config = self.remote().data("config.data").display().to_string();
        let actions = self
            .facts
            .clusters
            .iter()
            .zip(&self.fetched)
            .map(|(cluster, to)| Planned {
                action: Action::Fetch {
                    cmd: on_master(cluster, &["cat", &config]).secret(),
                    to: to.clone(),
                },
                undo: vec![Action::Remove(to.clone())],
            })
            .collect();
        step(
            StepKind::FetchConfigs,
            "copy the merging clusters' config.data",
            vec![],
            actions,
        )
    }

    fn stop_our_master(&self) -> Step {
        let daemon_util = self.local().daemon_util();
        step(
            StepKind::StopOurMaster,
            "stop our master daemon",
            vec![],
            vec![Planned {
                action: Action::Run(lcl(&[&daemon_util, "stop-master"])),
                undo: vec![Action::Run(lcl(&[&daemon_util, "start-master"]))],
            }],
        )
    }

    fn backup_config(&self) -> Step {
        step(
            StepKind::BackupConfig,
            "back our config.data up",
            vec![Check::Absent(self.backup.clone())],
            vec![Planned {
                action: Action::Backup {
                    from: self.config.clone(),
                    to: self.backup.clone(),
                },
                undo: vec![Action::Remove(self.backup.clone())],
            }],
        )
    }

    fn merge_config(&self) -> Step {
        step(
            StepKind::MergeConfig,
            "merge the configurations, verify the result and install it as our config.data",
            vec![
                Check::Present(self.fetched.clone()),
                Check::SameContent(self.config.clone(), self.backup.clone()),
            ],
            vec![Planned {
                action: Action::MergeConfig(MergeConfig {
                    ours: self.backup.clone(),
                    theirs: self.fetched.clone(),
                    staged: self.work_dir.join("merged.config.data"),
                    install: self.config.clone(),
                    nodes: self.nodes.clone(),
                    instances: self.instances.clone(),
                    groups: self.settings.groups,
                    parameter_conflicts: self.settings.parameter_conflicts,
                }),
                undo: vec![Action::Restore {
                    backup: self.backup.clone(),
                    to: self.config.clone(),
                }],
            }],
        )
    }

    /// The point of no return.
    ///
    /// Ganeti 3.0 has no masterd: the master role is wconfd, rapi and
    /// luxid, and wconfd and luxid take `--no-voting --yes-do-it`.
    /// `daemon-util start NAME ARGS...` hands ARGS to that daemon only, for
    /// this start only: on its command line without systemd, and through
    /// `DATA_DIR/NAME.onetime.conf` (`ONETIME_ARGS`, which Ganeti's units
    /// read) under systemd, where the environment `daemon-util` gets
    /// (`EXTRA_WCONFD_ARGS`, what Ganeti's own master failover sets) never
    /// reaches the daemon. Under systemd, 3.0's `daemon-util` removes that
    /// file only when `systemctl start` succeeded (it runs under `set -e`):
    /// a failed start leaves `--no-voting --yes-do-it` there for every later
    /// start of the unit, the undo's `start-master` included. The undo
    /// removes it after the stop.
    fn start_master_no_voting(&self) -> Step {
        let daemon_util = self.local().daemon_util();
        let start_daemon = |daemon: &str, args: &[&str]| {
            let mut argv = vec![daemon_util.clone(), "start".to_owned(), daemon.to_owned()];
            argv.extend(args.iter().map(|a| (*a).to_owned()));
            Planned {
                action: Action::Run(Cmd::local(argv)),
                undo: vec![
                    Action::Run(lcl(&[&daemon_util, "stop", daemon])),
                    Action::Remove(self.local().data(&format!("{daemon}.onetime.conf"))),
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
        last
    }

    /// `gnt-node add --readd` refuses a node that still holds its old
    /// cluster's name ("Current cluster name is ...") or certificate
    /// ("Given cluster certificate does not match local key"): those two
    /// files go first, and nothing else of the node's.
    fn readd_nodes(&self) -> Step {
        let forget: Vec<String> = ["ssconf_cluster_name", "server.pem"]
            .iter()
            .map(|f| self.remote().data(f).display().to_string())
            .collect();
        let gnt_node = self.local().gnt("gnt-node");
        let mut actions = Vec::new();
        for cluster in &self.facts.clusters {
            for node in cluster.online_nodes() {
                let mut argv = vec!["rm".to_owned(), "-f".to_owned()];
                argv.extend(forget.iter().cloned());
                actions.push(done(Action::Run(Cmd::remote(
                    node,
                    Identity::Operator,
                    argv,
                ))));
                actions.push(done(Action::Run(lcl(&[
                    &gnt_node,
                    "add",
                    "--readd",
                    "--no-ssh-key-check",
                    node,
                ]))));
            }
        }
        step(
            StepKind::ReaddNodes,
            "re-add every merged node",
            vec![],
            actions,
        )
    }

    fn redist_config(&self) -> Step {
        one_command(
            StepKind::RedistConfig,
            "redistribute the configuration",
            lcl(&[&self.local().gnt("gnt-cluster"), "redist-conf"]),
        )
    }

    fn restart_master(&self) -> Step {
        let daemon_util = self.local().daemon_util();
        step(
            StepKind::RestartMaster,
            "restart our master daemon normally",
            vec![],
            vec![
                done(Action::Run(lcl(&[&daemon_util, "stop-master"]))),
                done(Action::Run(lcl(&[&daemon_util, "start-master"]))),
            ],
        )
    }

    fn start_instances(&self) -> Step {
        let restart = self.settings.restart;
        let to_start: Vec<String> = match restart {
            Restart::All => self.instances.clone(),
            Restart::Up => self
                .facts
                .clusters
                .iter()
                .flat_map(ClusterFacts::running_instances)
                .map(str::to_owned)
                .collect(),
            Restart::None => Vec::new(),
        };
        let actions = if to_start.is_empty() {
            Vec::new()
        } else {
            let mut argv = vec![
                self.local().gnt("gnt-instance"),
                "startup".into(),
                "--force-multiple".into(),
            ];
            argv.extend(to_start);
            vec![done(Action::Run(Cmd::local(argv)))]
        };
        step(
            StepKind::StartInstances,
            match restart {
                Restart::All => "start every instance of the merged cluster",
                Restart::Up => "start the merged instances that were running",
                Restart::None => "start no instance",
            },
            vec![],
            actions,
        )
    }

    fn verify_merged(&self) -> Step {
        let local = self.local();
        step(
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
                    expected_nodes: self.nodes.clone(),
                    expected_instances: self.instances.clone(),
                }),
            ],
        )
    }

    fn resume_watcher(&self) -> Step {
        let actions = if self.facts.ours.watcher_paused {
            Vec::new()
        } else {
            vec![done(Action::Run(lcl(&[
                &self.local().gnt("gnt-cluster"),
                "watcher",
                "continue",
            ])))]
        };
        step(
            StepKind::ResumeWatcher,
            "let our watcher run again",
            vec![],
            actions,
        )
    }

    fn cleanup_nodes(&self) -> Step {
        let backup_file = self.remote().ssh(AUTHORIZED_KEYS_BACKUP);
        let mut actions = Vec::new();
        for cluster in &self.facts.clusters {
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
        step(
            StepKind::CleanupNodes,
            "remove the authorized_keys backups from the merged nodes",
            vec![],
            actions,
        )
    }
}

/// A command run here.
fn lcl(argv: &[&str]) -> Cmd {
    Cmd::local(argv.iter().copied())
}

/// The identity that opens `cluster`'s nodes: its own root key.
fn key(cluster: &ClusterFacts) -> Identity {
    Identity::ClusterKey(cluster.host.clone())
}

/// A command run on `cluster`'s master node, with its key.
fn on_master(cluster: &ClusterFacts, argv: &[&str]) -> Cmd {
    Cmd::remote(&cluster.master, key(cluster), argv.iter().copied())
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

/// A step of one command, with nothing to undo and no check.
fn one_command(kind: StepKind, title: &str, cmd: Cmd) -> Step {
    step(kind, title, vec![], vec![done(Action::Run(cmd))])
}

/// An action with nothing to undo.
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

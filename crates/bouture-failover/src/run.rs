//! One failover run (see the crate documentation for its steps).

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bouture_core::{NodeConfig, NodeConfigError};
use bouture_text::Level;

use crate::configure::{self, ConfigureError};
use crate::decision::{Action, FailoverState, InnerOutcome, decide};
use crate::graft_step::{GraftStepError, graft};
use crate::offline;
use crate::pidfile::{self, Busy, PidfileError};
use crate::switchfile::{self, OfflineRuns, SwitchRecord, SwitchStatus, SwitchfileError};

/// Where `slapos node instance` keeps its own pidfile when the node
/// configuration does not say.
pub const DEFAULT_PIDFILE_INSTANCE: &str = "/opt/slapos/slapgrid-cp.pid";

/// How long one call to the new master may take during a graft, by default.
pub const DEFAULT_MASTER_TIMEOUT: Duration = Duration::from_mins(1);

/// The inner `slapos node instance` that a failover run drives.
///
/// [`SlaposCommand`] runs the real program; tests and embedders may drive
/// the run with their own.
pub trait SlaposNode {
    /// How the log names the program (e.g. its path).
    fn program(&self) -> String;

    /// Process the node with the configuration `cfg` (`slapos node instance
    /// --cfg CFG`) to its end: its exit code, `None` when it was killed by a
    /// signal.
    fn node_instance(&mut self, cfg: &Path) -> io::Result<Option<i32>>;

    /// As [`Self::node_instance`], telling a kill by a signal apart (the
    /// default has no signal to tell).
    fn node_instance_outcome(&mut self, cfg: &Path) -> io::Result<InnerOutcome> {
        self.node_instance(cfg).map(InnerOutcome::from_exit_code)
    }
}

/// The real `slapos` program: `PROGRAM node instance --cfg CFG`, with the
/// calling process's standard input, output and error, so that its log
/// reaches cron's mail or the journal as it is written.
#[derive(Debug, Clone)]
pub struct SlaposCommand {
    program: OsString,
}

impl SlaposCommand {
    /// `program`: a name looked up in `PATH`, or a path.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            program: program.into(),
        }
    }
}

impl SlaposCommand {
    fn status(&self, cfg: &Path) -> io::Result<std::process::ExitStatus> {
        Command::new(&self.program)
            .args(["node", "instance", "--cfg"])
            .arg(cfg)
            .status()
    }
}

impl SlaposNode for SlaposCommand {
    fn program(&self) -> String {
        Path::new(&self.program).display().to_string()
    }

    fn node_instance(&mut self, cfg: &Path) -> io::Result<Option<i32>> {
        self.status(cfg).map(|status| status.code())
    }

    fn node_instance_outcome(&mut self, cfg: &Path) -> io::Result<InnerOutcome> {
        self.status(cfg).map(InnerOutcome::from_exit_status)
    }
}

/// Where a failover run reports each step as it happens.
pub trait FailoverLog {
    /// One line of the log.
    fn log(&mut self, level: Level, message: &str);

    /// How the lines name what their reader acts on (a file of the run, how
    /// to acknowledge the changes carried back): by default the library's
    /// wording ([`Name`]'s `Display`); a command line names its options.
    fn name(&self, name: Name<'_>) -> String {
        name.to_string()
    }
}

/// Keep the lines (for tests and embedders that show them later).
impl FailoverLog for Vec<(Level, String)> {
    fn log(&mut self, level: Level, message: &str) {
        self.push((level, message.to_string()));
    }
}

/// What a failover run needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// The node configuration (never modified).
    pub node_cfg: PathBuf,
    /// The new master (a slapproxy) to fail over to.
    pub new_master_url: String,
    /// The new monitor application, set as `monitor-interface-url` in the
    /// grafted instances' parameters.
    pub new_monitor_url: Option<String>,
    /// Where to write the node configuration pointing at the new master.
    pub new_node_cfg: PathBuf,
    /// The lock file held for the whole run (must differ from the node's
    /// `pidfile_instance`).
    pub pidfile: PathBuf,
    /// The flag file: present while the node follows the new master.
    pub switchfile: PathBuf,
    /// Offline runs in a row required before switching.
    pub switch_after: NonZeroU32,
    /// How the graft reaches the new master: its TLS trust and client
    /// certificate, how long one call may take (by default
    /// [`DEFAULT_MASTER_TIMEOUT`] and the system's trust store).
    pub master_client: bouture_master_client::Options,
}

impl Options {
    /// Options with the default threshold (switch at the first offline run)
    /// and master timeout.
    pub fn new(
        node_cfg: impl Into<PathBuf>,
        new_master_url: impl Into<String>,
        new_node_cfg: impl Into<PathBuf>,
        pidfile: impl Into<PathBuf>,
        switchfile: impl Into<PathBuf>,
    ) -> Self {
        Self {
            node_cfg: node_cfg.into(),
            new_master_url: new_master_url.into(),
            new_monitor_url: None,
            new_node_cfg: new_node_cfg.into(),
            pidfile: pidfile.into(),
            switchfile: switchfile.into(),
            switch_after: NonZeroU32::MIN,
            master_client: bouture_master_client::Options::default()
                .timeout(DEFAULT_MASTER_TIMEOUT),
        }
    }
}

/// Which master processed the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Master {
    /// The master named by the node configuration.
    Original,
    /// The new master (the node is switched).
    New,
}

/// Why a run did not process the node, by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotProcessed {
    /// The run with the original master ended ambiguously (neither 0, 2
    /// nor 3): nothing was changed.
    Ambiguous {
        /// How it ended.
        outcome: InnerOutcome,
    },
    /// The original master is offline, but not for enough runs in a row yet.
    WaitingForOfflineRuns {
        /// Offline runs in a row, this one included.
        offline_runs: u32,
        /// How many are required to switch.
        required: u32,
    },
    /// The run from the new master did not succeed (exit neither 0 nor 2).
    NewMasterRunFailed {
        /// How it ended.
        outcome: InnerOutcome,
    },
}

/// What a failover run did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailoverOutcome {
    /// The node was processed.
    Processed {
        /// By which master.
        by: Master,
    },
    /// Another run holds the lock: this run did nothing.
    Busy(Busy),
    /// The node was not processed in this run, by design; the next run may
    /// do better.
    NotProcessed(NotProcessed),
}

/// A file of the failover, by the [`Options`] field that gives it. A
/// message names it through its caller ([`FailoverLog::name`],
/// [`Error::message`]): by default as the field (`Options::pidfile`); the
/// command line names its option instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileRole {
    /// [`Options::node_cfg`].
    NodeCfg,
    /// [`Options::new_node_cfg`].
    NewNodeCfg,
    /// [`Options::pidfile`].
    Pidfile,
    /// [`Options::switchfile`].
    Switchfile,
}

impl fmt::Display for FileRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NodeCfg => "Options::node_cfg",
            Self::NewNodeCfg => "Options::new_node_cfg",
            Self::Pidfile => "Options::pidfile",
            Self::Switchfile => "Options::switchfile",
        })
    }
}

/// What a failover message names that its caller words: one of the run's
/// files, or how to list and acknowledge the changes carried back. Its
/// [`fmt::Display`] is the library's wording (the `Options` field, the
/// functions to call); a command line gives its own ([`FailoverLog::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Name<'a> {
    /// One of the run's files.
    File(FileRole),
    /// How to see the changes noted beside `switchfile` and acknowledge
    /// them once handled.
    Acknowledge {
        /// The switchfile the changes are noted beside.
        switchfile: &'a Path,
    },
    /// How to give the path of the `slapos` program that cannot be started.
    SlaposProgram,
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(role) => role.fmt(f),
            Self::Acknowledge { .. } => f.write_str(
                "see them with status::read, then acknowledge them with \
                 bouture_offline_changes::acknowledge",
            ),
            Self::SlaposProgram => f.write_str("give its path to SlaposCommand::new"),
        }
    }
}

/// The library's wording of a [`Name`].
fn own_name(name: Name<'_>) -> String {
    name.to_string()
}

/// A file the run may have to write that cannot be written (or replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unwritable {
    /// Which file.
    pub role: FileRole,
    /// Its path.
    pub path: PathBuf,
    /// Why it cannot be written.
    pub problem: String,
}

impl Unwritable {
    /// The problem, its file named by `name`.
    pub fn message(&self, name: &dyn Fn(Name<'_>) -> String) -> String {
        format!(
            "{} {}: {}",
            name(Name::File(self.role)),
            self.path.display(),
            self.problem
        )
    }
}

impl fmt::Display for Unwritable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(&own_name))
    }
}

/// Why bouture could not do its part of a failover run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The node configuration cannot be read or used.
    #[error(transparent)]
    Node(#[from] NodeConfigError),
    /// The new master URL cannot be used.
    #[error(transparent)]
    Url(ConfigureError),
    /// The pidfile is the node's `pidfile_instance`: `slapos node instance`
    /// would find it locked and refuse to run.
    #[error("{}", self.message(&own_name))]
    PidfileIsPidfileInstance {
        /// The pidfile given.
        pidfile: PathBuf,
        /// The node's `pidfile_instance`.
        pidfile_instance: PathBuf,
    },
    /// Two of the failover's files are the same file.
    #[error("{}", self.message(&own_name))]
    SameFile {
        /// The file.
        path: PathBuf,
        /// What it was given as.
        role: FileRole,
        /// What else it is.
        other: FileRole,
    },
    /// The pidfile cannot be used (busy is not an error:
    /// [`FailoverOutcome::Busy`]).
    #[error(transparent)]
    Pidfile(PidfileError),
    /// The switchfile or the offline-run counter cannot be read or written.
    #[error(transparent)]
    Switchfile(#[from] SwitchfileError),
    /// The original master is offline and the run must record it, but the
    /// files it writes cannot be written (each problem names its option).
    #[error("{}", self.message(&own_name))]
    NotWritable {
        /// What cannot be written, and why.
        problems: Vec<Unwritable>,
    },
    /// The inner program cannot be started.
    #[error("{}", self.message(&own_name))]
    Inner {
        /// The program, as [`SlaposNode::program`] names it.
        program: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Switching: the new configuration could not be written; not switched.
    #[error(
        "configure failed, not switching (no switchfile created, the node is not processed \
         from the new master in this run)"
    )]
    SwitchConfigure(#[source] ConfigureError),
    /// Switching: the graft failed; not switched.
    #[error(
        "graft failed, not switching (no switchfile created, the node is not processed \
         from the new master in this run)"
    )]
    SwitchGraft(#[source] GraftStepError),
    /// Switching: configure and graft succeeded but the switchfile could not
    /// be created; not switched.
    #[error("cannot create the switchfile, so the node is not switched")]
    SwitchfileNotCreated(#[source] SwitchfileError),
    /// Switched, the new configuration was missing and could not be written
    /// again; the node was not processed from the new master.
    #[error("configure failed, the node is not processed from the new master in this run")]
    RewriteNewConfig(#[source] ConfigureError),
}

impl Error {
    /// This error's own message (without its sources), the failover's files
    /// and hints named by `name` (its [`fmt::Display`] uses the library's
    /// wording; the command line passes its option names).
    pub fn message(&self, name: &dyn Fn(Name<'_>) -> String) -> String {
        match self {
            Self::PidfileIsPidfileInstance {
                pidfile,
                pidfile_instance,
            } => format!(
                "{} {} is the node's pidfile_instance ({}): `slapos node instance` would \
                 find it locked and refuse to run; choose another path, e.g. \
                 /run/bouture-failover.pid",
                name(Name::File(FileRole::Pidfile)),
                pidfile.display(),
                pidfile_instance.display()
            ),
            Self::SameFile { path, role, other } => {
                let clash = match (role, other) {
                    (FileRole::Switchfile, _) => {
                        "also a configuration file; choose another path".to_owned()
                    }
                    (FileRole::NewNodeCfg, FileRole::NodeCfg) => "the node configuration \
                        itself; choose another path: the node configuration is never modified"
                        .to_owned(),
                    (_, other) => {
                        format!("also {}; choose another path", name(Name::File(*other)))
                    }
                };
                format!("{} {} is {clash}", name(Name::File(*role)), path.display())
            }
            Self::NotWritable { problems } => format!(
                "the original master is offline but the failover's files cannot be written, \
                 so the node cannot switch to the new master: {}",
                problems
                    .iter()
                    .map(|problem| problem.message(name))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Self::Inner { program, .. } => {
                format!("cannot run `{program}` ({})", name(Name::SlaposProgram))
            }
            other => other.to_string(),
        }
    }
}

/// A failover whose node configuration and files were checked, ready to run.
#[derive(Debug)]
pub struct Failover {
    options: Options,
    config: NodeConfig,
}

impl Failover {
    /// Read the node configuration and check the new master URL and the
    /// files, before anything runs.
    pub fn new(options: Options) -> Result<Self, Error> {
        let config = NodeConfig::load(&options.node_cfg)?;
        configure::check_master_url(&options.new_master_url).map_err(Error::Url)?;
        check_paths(&options, &config)?;
        Ok(Self { options, config })
    }

    /// The node configuration read.
    pub fn node_config(&self) -> &NodeConfig {
        &self.config
    }

    /// One run: take the lock, process the node, switch or switch back.
    pub fn run(
        &self,
        slapos: &mut dyn SlaposNode,
        log: &mut dyn FailoverLog,
    ) -> Result<FailoverOutcome, Error> {
        let _lock = match pidfile::acquire(&self.options.pidfile) {
            Ok(lock) => lock,
            Err(PidfileError::Busy(busy)) => return Ok(FailoverOutcome::Busy(busy)),
            Err(error) => return Err(Error::Pidfile(error)),
        };
        Run {
            options: &self.options,
            config: &self.config,
            slapos,
            log,
        }
        .run()
    }
}

struct Run<'a> {
    options: &'a Options,
    config: &'a NodeConfig,
    slapos: &'a mut dyn SlaposNode,
    log: &'a mut dyn FailoverLog,
}

impl Run<'_> {
    fn info(&mut self, message: &str) {
        self.log.log(Level::Info, message);
    }

    fn original(&self) -> &str {
        self.config
            .master_url
            .as_deref()
            .unwrap_or("(no master_url)")
    }

    fn run(&mut self) -> Result<FailoverOutcome, Error> {
        let options = self.options;
        let status = switchfile::read_switchfile(&options.switchfile)?;
        if let SwitchStatus::Switched {
            problem: Some(problem),
            ..
        } = &status
        {
            self.log.log(
                Level::Warning,
                &format!(
                    "{} {}: {problem}; it still counts as switched (its existence \
                     decides, as with the Python tool)",
                    self.log.name(Name::File(FileRole::Switchfile)),
                    options.switchfile.display()
                ),
            );
        }
        let counter = switchfile::read_offline_runs(&options.switchfile)?;
        let state = FailoverState {
            switched: status.is_switched(),
            offline_runs: counter.as_ref().map_or(0, |c| c.consecutive_offline_runs),
        };
        let unwritable = offline::unwritable(options);
        self.info(&format!(
            "Process node with original (pre-bouture) master {}",
            self.original()
        ));
        let outcome = self.inner_run(&options.node_cfg)?;
        let decision = decide(state, outcome, options.switch_after);
        self.info(&format!(
            "{} -- {}",
            original_message(outcome),
            decision.reason
        ));
        self.check_writable(outcome, decision.action, unwritable)?;
        let first_offline_at = counter.map(|c| c.first_offline_at);
        match decision.action {
            Action::StayOnOriginal => {
                switchfile::remove_offline_runs(&options.switchfile)?;
                Ok(FailoverOutcome::Processed {
                    by: Master::Original,
                })
            }
            Action::SwitchBack => {
                offline::collect_changes(self.config, options, &status, self.log);
                switchfile::remove_offline_runs(&options.switchfile)?;
                switchfile::remove_switchfile(&options.switchfile)?;
                self.info(&format!(
                    "removed the switchfile {}: the node follows its original master {} again; \
                     the next outage will graft afresh",
                    options.switchfile.display(),
                    self.original()
                ));
                Ok(FailoverOutcome::Processed {
                    by: Master::Original,
                })
            }
            Action::Wait => Ok(FailoverOutcome::NotProcessed(NotProcessed::Ambiguous {
                outcome,
            })),
            Action::WaitForMoreOfflineRuns {
                offline_runs,
                required,
            } => {
                switchfile::write_offline_runs(
                    &options.switchfile,
                    &OfflineRuns::new(offline_runs, first_offline_at),
                )?;
                Ok(FailoverOutcome::NotProcessed(
                    NotProcessed::WaitingForOfflineRuns {
                        offline_runs,
                        required,
                    },
                ))
            }
            Action::SwitchOver { offline_runs } => {
                self.switch_over(offline_runs, first_offline_at)?;
                self.process_from_new_master()
            }
            Action::StayOnNewMaster => {
                if !options.new_node_cfg.exists() {
                    self.rewrite_new_cfg()?;
                }
                self.process_from_new_master()
            }
        }
    }

    /// Configure, then graft, and only when both succeeded create the switchfile.
    fn switch_over(
        &mut self,
        offline_runs: u32,
        first_offline_at: Option<String>,
    ) -> Result<(), Error> {
        let options = self.options;
        // Keep counting, so that the next run retries a failed switch at once.
        switchfile::write_offline_runs(
            &options.switchfile,
            &OfflineRuns::new(offline_runs, first_offline_at),
        )?;
        self.info(&format!(
            "Writing configuration for alternate master {} at {}",
            options.new_master_url,
            options.new_node_cfg.display()
        ));
        let started = Instant::now();
        let configured = configure::configure(&configure::ConfigureOptions::new(
            &options.node_cfg,
            &options.new_node_cfg,
            &options.new_master_url,
        ))
        .map_err(Error::SwitchConfigure)?;
        for change in &configured.changes {
            self.info(&format!("configure: {change}"));
        }
        self.debug_elapsed("configure", started);
        self.info(&format!(
            "Grafting this node onto alternate master at {}",
            options.new_master_url
        ));
        let started = Instant::now();
        let summary = graft(self.config, options, self.log).map_err(Error::SwitchGraft)?;
        self.debug_elapsed("graft", started);
        offline::record_grafted(self.config, options, self.log);
        for skipped in &summary.skipped {
            self.log.log(
                Level::Warning,
                &format!(
                    "graft skipped invalid partition {}: {}",
                    skipped.partition, skipped.reason
                ),
            );
        }
        self.info(&format!(
            "graft succeeded: {} partition(s) grafted, {} invalid one(s) skipped",
            summary.grafted.len(),
            summary.skipped.len()
        ));
        let mut record = SwitchRecord::now(
            &options.new_master_url,
            self.config.master_url.clone(),
            absolute(&options.node_cfg),
            absolute(&options.new_node_cfg),
            offline_runs,
        );
        record.grafted = summary.grafted;
        record.skipped = summary.skipped;
        switchfile::write_switchfile(&options.switchfile, &record)
            .map_err(Error::SwitchfileNotCreated)?;
        // The counter is stale once switched; a leftover one is harmless
        // (it is removed at the next online run).
        let _ = switchfile::remove_offline_runs(&options.switchfile);
        self.info(&format!(
            "created the switchfile {}: the node follows the new master {} since {}",
            options.switchfile.display(),
            options.new_master_url,
            record.switched_at
        ));
        Ok(())
    }

    /// While switched, the new configuration went missing (removed by hand,
    /// or the switch was made by another tool): write it again, without
    /// grafting again.
    fn rewrite_new_cfg(&mut self) -> Result<(), Error> {
        let options = self.options;
        self.log.log(
            Level::Warning,
            &format!(
                "the new node configuration {} is missing: writing it again for {} (configure \
                 only: the node stays grafted, no new graft)",
                options.new_node_cfg.display(),
                options.new_master_url
            ),
        );
        configure::configure(&configure::ConfigureOptions::new(
            &options.node_cfg,
            &options.new_node_cfg,
            &options.new_master_url,
        ))
        .map_err(Error::RewriteNewConfig)?;
        Ok(())
    }

    fn process_from_new_master(&mut self) -> Result<FailoverOutcome, Error> {
        let options = self.options;
        self.info(&format!(
            "Processing this node from alternate master at {} with {}",
            options.new_master_url,
            options.new_node_cfg.display()
        ));
        match self.inner_run(&options.new_node_cfg)? {
            outcome @ InnerOutcome::Online { .. } => {
                self.info(&format!(
                    "the node was processed from the new master ({outcome})"
                ));
                Ok(FailoverOutcome::Processed { by: Master::New })
            }
            outcome => {
                self.log.log(
                    Level::Error,
                    &format!(
                        "processing the node from the new master did not succeed ({outcome}); \
                         the next run tries again"
                    ),
                );
                Ok(FailoverOutcome::NotProcessed(
                    NotProcessed::NewMasterRunFailed { outcome },
                ))
            }
        }
    }

    /// Run the inner program with `cfg`.
    fn inner_run(&mut self, cfg: &Path) -> Result<InnerOutcome, Error> {
        let program = self.slapos.program();
        self.info(&format!(
            "running {program} node instance --cfg {}",
            cfg.display()
        ));
        let started = Instant::now();
        let outcome = self
            .slapos
            .node_instance_outcome(cfg)
            .map_err(|source| Error::Inner { program, source })?;
        self.debug_elapsed(&format!("node instance ({outcome})"), started);
        Ok(outcome)
    }

    fn debug_elapsed(&mut self, what: &str, started: Instant) {
        self.log.log(
            Level::Debug,
            &format!("{what} took {:.1} s", started.elapsed().as_secs_f64()),
        );
    }

    /// Say what cannot be written: a warning while the original master is
    /// online (nothing needs writing yet, but the next outage will), an
    /// error when it is offline, and no switch when the run must write.
    fn check_writable(
        &mut self,
        outcome: InnerOutcome,
        action: Action,
        problems: Vec<Unwritable>,
    ) -> Result<(), Error> {
        let offline = matches!(outcome, InnerOutcome::Offline);
        for problem in &problems {
            let problem = problem.message(&|name| self.log.name(name));
            if offline {
                self.log.log(Level::Error, &problem);
            } else {
                self.log.log(
                    Level::Warning,
                    &format!("{problem}; the next outage could not be recorded: fix it now"),
                );
            }
        }
        match action {
            Action::SwitchOver { .. } | Action::WaitForMoreOfflineRuns { .. }
                if !problems.is_empty() =>
            {
                Err(Error::NotWritable { problems })
            }
            _ => Ok(()),
        }
    }
}

/// `path` made absolute against the current directory (as given when that
/// fails), so that the switch record can be read from anywhere.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The message the Python `slapos bouture failover` logs for this outcome of
/// the run with the original master (operators grep for them).
fn original_message(outcome: InnerOutcome) -> String {
    match outcome {
        InnerOutcome::Online {
            promises_failed: false,
        } => "This node is able to reach its SlapOS master: slapos node instance succeeded".into(),
        InnerOutcome::Online {
            promises_failed: true,
        } => "This node is able to reach its SlapOS master: slapos node instance worked but \
              promises failed"
            .into(),
        InnerOutcome::Offline => "This node is unable to reach its SlapOS master".into(),
        InnerOutcome::Ambiguous { code } => {
            ambiguous_message(&code.map_or("None".into(), |c| c.to_string()))
        }
        // Python's subprocess returns minus the signal's number.
        InnerOutcome::Killed { signal } => ambiguous_message(&format!("-{signal}")),
    }
}

fn ambiguous_message(returned: &str) -> String {
    format!(
        "This node is in an ambiguous state: slapos node instance failed in an unexpected way \
         (returned {returned}). Let's wait until it stabilizes."
    )
}

/// Refuse, before anything runs, a pidfile that would stop the inner run
/// (the node's `pidfile_instance`) or clash with the other files.
fn check_paths(options: &Options, config: &NodeConfig) -> Result<(), Error> {
    let pidfile_instance = PathBuf::from(
        config
            .option("pidfile_instance")
            .filter(|value| !value.is_empty())
            .unwrap_or(DEFAULT_PIDFILE_INSTANCE),
    );
    if bouture_fs::same_file(&options.pidfile, &pidfile_instance) {
        return Err(Error::PidfileIsPidfileInstance {
            pidfile: options.pidfile.clone(),
            pidfile_instance,
        });
    }
    let clash = |path: &PathBuf, role, other| Error::SameFile {
        path: path.clone(),
        role,
        other,
    };
    for (other, path) in [
        (FileRole::Switchfile, &options.switchfile),
        (FileRole::NodeCfg, &options.node_cfg),
        (FileRole::NewNodeCfg, &options.new_node_cfg),
    ] {
        if bouture_fs::same_file(&options.pidfile, path) {
            return Err(clash(&options.pidfile, FileRole::Pidfile, other));
        }
    }
    for other in [
        (FileRole::NodeCfg, &options.node_cfg),
        (FileRole::NewNodeCfg, &options.new_node_cfg),
    ] {
        if bouture_fs::same_file(&options.switchfile, other.1) {
            return Err(clash(&options.switchfile, FileRole::Switchfile, other.0));
        }
    }
    if bouture_fs::same_file(&options.node_cfg, &options.new_node_cfg) {
        return Err(clash(
            &options.new_node_cfg,
            FileRole::NewNodeCfg,
            FileRole::NodeCfg,
        ));
    }
    Ok(())
}

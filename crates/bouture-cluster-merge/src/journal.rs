//! The journal: the plan and where each step is, written atomically after
//! every action so that a crash never leaves the operator guessing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::plan::Plan;

/// The journal's file name in the state directory.
pub const JOURNAL_FILE: &str = "journal.json";
/// The journal format written by this version. 2: the config merge action
/// holds its typed choices (`groups`, `parameter_conflicts`) instead of
/// command-line flags, and step titles name no flag (a journal of format 1
/// is refused, as any other format).
pub const JOURNAL_FORMAT: u32 = 2;
/// The largest journal read.
const JOURNAL_LIMIT: u64 = 64 * 1024 * 1024;

/// Where the whole merge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Status {
    /// Steps are being run (or the run crashed while running them).
    Running,
    /// A step failed before the point of no return; undoing.
    RollingBack,
    /// Everything done was undone (see the undo failures, if any).
    RolledBack,
    /// A step failed after the point of no return; the operator finishes by
    /// hand or with `--resume`.
    Stopped,
    /// The merge is complete and verified.
    Complete,
}

impl Status {
    /// Whether nothing more will be done by `--resume`.
    pub fn is_final(self) -> bool {
        matches!(self, Self::RolledBack | Self::Complete)
    }

    /// The status's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::RollingBack => "rolling back",
            Self::RolledBack => "rolled back",
            Self::Stopped => "stopped after the point of no return",
            Self::Complete => "complete",
        }
    }
}

/// Where one step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StepState {
    /// Not started.
    Pending,
    /// Started: `done` actions are complete.
    Started,
    /// Every action is complete.
    Done,
    /// An action failed.
    Failed,
    /// Undone (as far as `to_undo` says).
    Undone,
}

/// One step's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StepRecord {
    /// The step's name (checked against the plan).
    pub step: String,
    /// Where it is.
    pub state: StepState,
    /// How many of its actions are complete.
    pub done: usize,
    /// While rolling back: how many of its first actions remain to undo.
    #[serde(default)]
    pub to_undo: usize,
}

/// What failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FailureRecord {
    /// The step's name.
    pub step: String,
    /// The action's index in the step (`None`: a precondition check).
    pub action: Option<usize>,
    /// What happened (bounded).
    pub message: String,
}

/// The journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Journal {
    /// [`JOURNAL_FORMAT`].
    pub format: u32,
    /// Where the merge is.
    pub status: Status,
    /// The plan being run.
    pub plan: Plan,
    /// One record per step of the plan.
    pub steps: Vec<StepRecord>,
    /// What failed, if anything.
    #[serde(default)]
    pub failure: Option<FailureRecord>,
    /// Undo actions that failed (shell lines and why): the operator's to do.
    #[serde(default)]
    pub undo_failures: Vec<String>,
    /// Actions undone, in the order they were undone (shell lines).
    #[serde(default)]
    pub undone: Vec<String>,
}

/// Whether `id` is a run id as bouture makes them: a plain name (ASCII
/// letters and digits, at most 32), safe in file names.
pub(crate) fn is_run_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl Journal {
    /// A fresh journal for `plan`: every step pending.
    pub fn new(plan: Plan) -> Self {
        let steps = plan
            .steps
            .iter()
            .map(|s| StepRecord {
                step: s.kind.name().to_owned(),
                state: StepState::Pending,
                done: 0,
                to_undo: 0,
            })
            .collect();
        Self {
            format: JOURNAL_FORMAT,
            status: Status::Running,
            plan,
            steps,
            failure: None,
            undo_failures: Vec::new(),
            undone: Vec::new(),
        }
    }

    /// The journal's path in `state_dir`.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(JOURNAL_FILE)
    }

    /// Read the journal of `state_dir`; `None` when there is none.
    ///
    /// The journal is input: it must be a regular file owned by the user
    /// running bouture and writable by nobody else, hold no duplicate key,
    /// name its run plainly, and hold exactly the plan bouture builds from
    /// its recorded settings and facts (themselves checked as discovery
    /// checks them), so that no command is ever taken from its text.
    pub fn load(state_dir: &Path) -> Result<Option<Self>, Error> {
        let path = Self::path(state_dir);
        let bad = |reason: String| Error::Journal {
            path: path.clone(),
            reason,
        };
        match std::fs::symlink_metadata(&path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(bad(error.to_string())),
            Ok(meta) if !meta.is_file() => {
                return Err(bad(format!(
                    "is {}, not a regular file",
                    bouture_fs::describe(meta.file_type())
                )));
            }
            Ok(meta) => {
                if let Some(why) = crate::state::not_private(&meta) {
                    return Err(bad(why));
                }
            }
        }
        let bytes = match bouture_fs::read_bounded(&path, JOURNAL_LIMIT, bouture_fs::Links::Refuse)
        {
            Ok(bytes) => bytes,
            Err(error) if error.is_not_found() => return Ok(None),
            Err(error) => return Err(error.into()),
        };
        let journal: Self =
            bouture_json::from_slice(&bytes, |key| format!("the key {key:?} appears twice"))
                .map_err(|e| bad(format!("not a bouture journal: {e}")))?;
        if journal.format != JOURNAL_FORMAT {
            return Err(bad(format!(
                "format {} is not {JOURNAL_FORMAT}, the one this bouture reads",
                journal.format
            )));
        }
        journal.validate().map_err(bad)?;
        Ok(Some(journal))
    }

    /// Everything [`Journal::load`] checks once the text is parsed.
    fn validate(&self) -> Result<(), String> {
        let plan = &self.plan;
        if !is_run_id(&plan.run_id) {
            return Err(format!(
                "its run id {:?} is not a plain name (letters and digits)",
                bouture_text::truncate(&plan.run_id, 40)
            ));
        }
        crate::facts::check_recorded(&plan.settings, &plan.facts)?;
        let consistent = self.steps.len() == plan.steps.len()
            && self.steps.iter().zip(&plan.steps).all(|(record, step)| {
                record.step == step.kind.name()
                    && record.done <= step.actions.len()
                    && record.to_undo <= step.actions.len()
            });
        if !consistent {
            return Err("its step records do not match its plan".to_owned());
        }
        if Plan::build(&plan.run_id, &plan.settings, &plan.facts) != *plan {
            return Err(
                "its plan is not the one bouture builds from its recorded settings and facts (was it edited?)"
                    .to_owned(),
            );
        }
        Ok(())
    }

    /// Write the journal atomically (mode 0600) into `state_dir`.
    pub fn save(&self, state_dir: &Path) -> Result<(), Error> {
        let path = Self::path(state_dir);
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| Error::Journal {
            path: path.clone(),
            reason: format!("cannot serialize: {e}"),
        })?;
        bytes.push(b'\n');
        Ok(bouture_fs::write_atomic(&path, &bytes, 0o600, None)?)
    }
}

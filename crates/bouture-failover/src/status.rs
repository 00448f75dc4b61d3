//! Which master the node follows, since when, and the changes made on the new master that
//! are not acknowledged yet: what `bouture status` reports, for embedders too.
//!
//! ```
//! use bouture_failover::status;
//!
//! let dir = tempfile::tempdir()?;
//! let cfg = dir.path().join("slapos.cfg");
//! std::fs::write(
//!     &cfg,
//!     "[slapos]\ncomputer_id = COMP-1\nmaster_url = https://slap.example.org/\ninstance_root = /srv/slapgrid\n",
//! )?;
//! let config = bouture_core::NodeConfig::load(&cfg)?;
//! let report = status::read(&config, &dir.path().join("bouture-switch"), false)?;
//! assert_eq!(report.following, "original");
//! assert_eq!(report.master_url.as_deref(), Some("https://slap.example.org/"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use bouture_core::NodeConfig;
use bouture_offline_changes::ChangesFile;

use crate::switchfile::{self, OfflineRuns, SwitchRecord, SwitchStatus};

/// The state of a node's failover (the JSON document of `bouture status --format json`).
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// `original` or `new`.
    pub following: &'static str,
    /// The master the node follows, when known.
    pub master_url: Option<String>,
    /// Since when it follows the new master (RFC 3339 UTC), when known.
    pub since: Option<String>,
    /// The original master (from the node configuration).
    pub original_master_url: Option<String>,
    /// The switchfile read (absolute).
    pub switchfile: PathBuf,
    /// The switch record, when the switchfile has one.
    pub switch: Option<SwitchRecord>,
    /// Why the switchfile's content could not be read, if so.
    pub switchfile_problem: Option<String>,
    /// Offline runs in a row counted so far without switching.
    pub offline_runs: Option<OfflineRuns>,
    /// Changes made on the new master while the node followed it, not acknowledged before
    /// this read.
    pub changes: Option<ChangesFile>,
    /// Where they are kept.
    pub changes_file: PathBuf,
    /// Whether this read acknowledged (cleared) them.
    pub acknowledged: bool,
}

/// Why the state could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The switchfile or the offline-run counter cannot be read.
    #[error(transparent)]
    Switchfile(#[from] switchfile::SwitchfileError),
    /// The changes cannot be read (or, acknowledging, cleared).
    #[error(transparent)]
    Changes(#[from] bouture_offline_changes::Error),
}

/// Read the state of the node of `config` from `switchfile` and the files beside it;
/// with `acknowledge`, clear the changes listed (under their lock) and report them.
///
/// # Errors
///
/// [`StatusError`]: the switchfile, the counter or the changes cannot be read.
pub fn read(
    config: &NodeConfig,
    switchfile: &Path,
    acknowledge: bool,
) -> Result<Report, StatusError> {
    let switchfile_path = absolute(switchfile);
    let status = switchfile::read_switchfile(switchfile)?;
    let offline_runs = switchfile::read_offline_runs(switchfile)?;
    let changes = if acknowledge {
        bouture_offline_changes::acknowledge(switchfile)
    } else {
        bouture_offline_changes::read_changes(switchfile)
    }?;
    let original = config.master_url.clone();
    let changes_file = bouture_offline_changes::changes_path(&switchfile_path);
    Ok(match status {
        SwitchStatus::Switched { record, problem } => {
            let record = record.map(|mut record| {
                record.node_cfg = absolute(&record.node_cfg);
                record.new_node_cfg = absolute(&record.new_node_cfg);
                *record
            });
            Report {
                following: "new",
                master_url: record.as_ref().map(|r| r.new_master_url.clone()),
                since: record.as_ref().map(|r| r.switched_at.clone()),
                original_master_url: original,
                switchfile: switchfile_path,
                switch: record,
                switchfile_problem: problem,
                offline_runs: None,
                changes,
                changes_file,
                acknowledged: acknowledge,
            }
        }
        _ => Report {
            following: "original",
            master_url: original.clone(),
            since: None,
            original_master_url: original,
            switchfile: switchfile_path,
            switch: None,
            switchfile_problem: None,
            offline_runs,
            changes,
            changes_file,
            acknowledged: acknowledge,
        },
    })
}

/// `path` made absolute against the current directory (as given when that fails), so that
/// what is reported can be used from anywhere.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

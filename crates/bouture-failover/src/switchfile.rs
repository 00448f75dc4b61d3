//! The failover switchfile and the offline-run counter.
//!
//! The switchfile's **existence** is the flag: the node follows the new
//! master (compatible with the reference tool, which creates it empty). Its
//! content, written by bouture, records when and onto which master the node
//! switched and what was grafted ([`SwitchRecord`], JSON with
//! `"version": 1`). An empty file, as the reference tool writes, reads as
//! [`SwitchStatus::Switched`] with no record.
//!
//! When `failover` requires several offline runs in a row before switching,
//! the count so far is kept next to the switchfile, in
//! `SWITCHFILE.offline-runs` ([`OfflineRuns`]).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bouture_core::PartitionId;
use bouture_fs::Links;

/// The version of the switchfile and counter formats bouture writes.
pub const SWITCHFILE_VERSION: u32 = 1;

/// The most bytes read from a switchfile or counter file.
pub const SWITCHFILE_SIZE_LIMIT: u64 = 1024 * 1024;

/// What the switchfile records about a switch to the new master.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SwitchRecord {
    /// Format version ([`SWITCHFILE_VERSION`]).
    pub version: u32,
    /// When the switch happened, UTC, RFC 3339 (`2026-11-23T15:04:05Z`).
    pub switched_at: String,
    /// The same instant, in seconds since the Unix epoch.
    pub switched_at_unix: u64,
    /// The master the node follows now.
    pub new_master_url: String,
    /// The master it followed before, when the node configuration names one.
    pub original_master_url: Option<String>,
    /// The node configuration (pointing at the original master).
    pub node_cfg: PathBuf,
    /// The configuration pointing at the new master.
    pub new_node_cfg: PathBuf,
    /// Offline runs in a row that led to the switch.
    pub offline_runs: u32,
    /// Partitions grafted onto the new master.
    pub grafted: Vec<GraftedPartition>,
    /// Opted-in partitions that were skipped because their files are invalid.
    pub skipped: Vec<SkippedPartitionNote>,
}

impl SwitchRecord {
    /// A record of a switch happening now.
    pub fn now(
        new_master_url: impl Into<String>,
        original_master_url: Option<String>,
        node_cfg: impl Into<PathBuf>,
        new_node_cfg: impl Into<PathBuf>,
        offline_runs: u32,
    ) -> Self {
        let (switched_at, switched_at_unix) = utc_now();
        Self {
            version: SWITCHFILE_VERSION,
            switched_at,
            switched_at_unix,
            new_master_url: new_master_url.into(),
            original_master_url,
            node_cfg: node_cfg.into(),
            new_node_cfg: new_node_cfg.into(),
            offline_runs,
            grafted: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// A partition grafted onto the new master.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GraftedPartition {
    /// The partition, e.g. `slappart3`.
    pub partition: PartitionId,
    /// Its instance's title.
    pub instance_title: Option<String>,
    /// Shared instances attached to it.
    pub shared_instances: usize,
}

/// An opted-in partition that was not grafted because its files are invalid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SkippedPartitionNote {
    /// The partition.
    pub partition: PartitionId,
    /// Why it was skipped.
    pub reason: String,
}

/// What the switchfile says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SwitchStatus {
    /// No switchfile: the node follows its original master.
    Original,
    /// The switchfile exists: the node follows the new master.
    Switched {
        /// Its record; `None` for an empty file (the reference tool's).
        record: Option<Box<SwitchRecord>>,
        /// Why the content could not be read, if it could not (the file
        /// still counts as the flag).
        problem: Option<String>,
    },
}

impl SwitchStatus {
    /// Whether the node follows the new master.
    pub fn is_switched(&self) -> bool {
        matches!(self, Self::Switched { .. })
    }
}

/// The switchfile or the counter cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SwitchfileError {
    /// It cannot be read (the error names it).
    #[error(transparent)]
    Read(#[from] bouture_fs::ReadError),
    /// It cannot be written or removed: something in the way that is not a
    /// regular file, or the operating system's error (the error names it and
    /// says which).
    #[error(transparent)]
    Write(#[from] bouture_fs::WriteError),
}

/// Read the switchfile at `path`. A missing file is [`SwitchStatus::Original`];
/// an existing file is always [`SwitchStatus::Switched`], whatever its content.
///
/// As with the Python tool, existence alone decides: a switchfile that
/// exists but cannot be read (a directory, no permission, too large) is
/// [`SwitchStatus::Switched`] with the reason in `problem`.
pub fn read_switchfile(path: &Path) -> Result<SwitchStatus, SwitchfileError> {
    let bytes = match read_optional(path) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(SwitchStatus::Original),
        Err(error) if std::fs::symlink_metadata(path).is_ok() => {
            return Ok(SwitchStatus::Switched {
                record: None,
                problem: Some(format!("its content cannot be read ({error})")),
            });
        }
        Err(error) => return Err(error),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(SwitchStatus::Switched {
            record: None,
            problem: None,
        });
    }
    Ok(match serde_json::from_slice::<SwitchRecord>(&bytes) {
        Ok(record) => SwitchStatus::Switched {
            record: Some(Box::new(record)),
            problem: None,
        },
        Err(error) => SwitchStatus::Switched {
            record: None,
            problem: Some(format!(
                "its content is not a bouture switch record: {error}"
            )),
        },
    })
}

/// Create (or replace) the switchfile atomically with `record`, mode 0644.
pub fn write_switchfile(path: &Path, record: &SwitchRecord) -> Result<(), SwitchfileError> {
    write_json(path, record)
}

/// Remove the switchfile; returns whether it existed.
pub fn remove_switchfile(path: &Path) -> Result<bool, SwitchfileError> {
    remove_optional(path)
}

/// The count of offline runs in a row, kept while not yet switched.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct OfflineRuns {
    /// Format version ([`SWITCHFILE_VERSION`]).
    pub version: u32,
    /// Offline runs in a row so far.
    pub consecutive_offline_runs: u32,
    /// When the first of them happened (RFC 3339, UTC).
    pub first_offline_at: String,
}

impl OfflineRuns {
    /// A count of `runs`, the first of which happened at `first_offline_at`
    /// (now when `None`).
    pub fn new(runs: u32, first_offline_at: Option<String>) -> Self {
        Self {
            version: SWITCHFILE_VERSION,
            consecutive_offline_runs: runs,
            first_offline_at: first_offline_at.unwrap_or_else(|| utc_now().0),
        }
    }
}

/// Where the offline-run counter of `switchfile` is kept.
pub fn offline_runs_path(switchfile: &Path) -> PathBuf {
    let mut name = switchfile.as_os_str().to_os_string();
    name.push(".offline-runs");
    PathBuf::from(name)
}

/// Read the offline-run counter (`None` when absent; an unreadable content
/// counts as absent: the count restarts).
pub fn read_offline_runs(switchfile: &Path) -> Result<Option<OfflineRuns>, SwitchfileError> {
    let path = offline_runs_path(switchfile);
    Ok(read_optional(&path)?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Write the offline-run counter atomically.
pub fn write_offline_runs(switchfile: &Path, runs: &OfflineRuns) -> Result<(), SwitchfileError> {
    write_json(&offline_runs_path(switchfile), runs)
}

/// Remove the offline-run counter; returns whether it existed.
pub fn remove_offline_runs(switchfile: &Path) -> Result<bool, SwitchfileError> {
    remove_optional(&offline_runs_path(switchfile))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, SwitchfileError> {
    match bouture_fs::read_bounded(path, SWITCHFILE_SIZE_LIMIT, Links::Follow) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.is_not_found() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), SwitchfileError> {
    Ok(bouture_fs::write_atomic_with(path, 0o644, None, |out| {
        serde_json::to_writer_pretty(&mut *out, value)?;
        out.write_all(b"\n")
    })?)
}

fn remove_optional(path: &Path) -> Result<bool, SwitchfileError> {
    Ok(bouture_fs::remove_if_exists(path)?)
}

/// Now, as RFC 3339 UTC text and as seconds since the Unix epoch.
pub fn utc_now() -> (String, u64) {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    (format_utc(seconds), seconds)
}

/// Seconds since the Unix epoch as RFC 3339 UTC, e.g. `2026-11-23T15:04:05Z`.
pub fn format_utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(1_795_446_245), "2026-11-23T15:04:05Z");
    }

    #[test]
    fn an_empty_file_from_the_reference_tool_is_a_switch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switch");
        assert_eq!(read_switchfile(&path).unwrap(), SwitchStatus::Original);
        std::fs::write(&path, "").unwrap();
        assert_eq!(
            read_switchfile(&path).unwrap(),
            SwitchStatus::Switched {
                record: None,
                problem: None
            }
        );
        std::fs::write(&path, "garbage").unwrap();
        let status = read_switchfile(&path).unwrap();
        assert!(status.is_switched());
        assert!(matches!(
            status,
            SwitchStatus::Switched {
                problem: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switch");
        let mut record = SwitchRecord::now("http://p", Some("https://m".into()), "/a", "/b", 2);
        record.grafted.push(GraftedPartition {
            partition: "slappart0".parse().unwrap(),
            instance_title: Some("T".into()),
            shared_instances: 1,
        });
        write_switchfile(&path, &record).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");
        assert_eq!(
            read_switchfile(&path).unwrap(),
            SwitchStatus::Switched {
                record: Some(Box::new(record)),
                problem: None
            }
        );
        assert!(remove_switchfile(&path).unwrap());
        assert!(!remove_switchfile(&path).unwrap());
    }

    #[test]
    fn offline_counter_next_to_the_switchfile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switch");
        assert_eq!(read_offline_runs(&path).unwrap(), None);
        write_offline_runs(&path, &OfflineRuns::new(2, Some("t".into()))).unwrap();
        assert_eq!(
            read_offline_runs(&path)
                .unwrap()
                .unwrap()
                .consecutive_offline_runs,
            2
        );
        assert!(dir.path().join("switch.offline-runs").exists());
        assert!(remove_offline_runs(&path).unwrap());
    }
}

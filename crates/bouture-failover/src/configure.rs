//! `configure`: the node configuration pointed at a new master.
//!
//! From the node configuration (`NODE_CFG`), [`configure_text`] makes the
//! configuration `slapos node instance` needs to process the node from a new
//! master (a slapproxy): in `[slapos]`, `master_url` is set to the new URL and
//! the client-certificate options [`REMOVED_OPTIONS`] are removed (the proxy
//! does not do client TLS, slapos rejects empty values, a kept
//! `certificate_repository_path` makes slapgrid overwrite the partition
//! certificates with the proxy's empty ones, and slapos.core 1.26.1 refuses
//! any `master_ca_file`). When one of them reaches `[slapos]` through
//! `[DEFAULT]`, it is removed from `[DEFAULT]` too.
//!
//! Everything else is kept exactly, comments included (see
//! [`bouture_ini::IniEditor`]), and the result is checked: it must parse, with
//! Python's rules, to the original options minus the removed ones plus the
//! new `master_url`. [`configure`] reads `NODE_CFG` and writes `NEW_CFG`
//! atomically (see [`bouture_fs::write_like`]), holding a lock on `NEW_CFG`'s
//! directory while it writes and reads it back (two runs write one after the
//! other; [`LOCK_WAIT`]).
//!
//! ```
//! use bouture_failover::configure::{configure_text, ChangeAction};
//!
//! let edit = configure_text("[slapos]\n# my node\nmaster_url = https://m\nkey_file = /k\n", "http://127.0.0.1:4000")?;
//! assert_eq!(edit.text, "[slapos]\n# my node\nmaster_url = http://127.0.0.1:4000\n");
//! assert_eq!(edit.changes[1].action, ChangeAction::Removed);
//! # Ok::<(), bouture_failover::configure::ConfigureError>(())
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bouture_core::{FileError, FileErrorKind, NodeConfigError, read_node_config_text};
use bouture_ini::{DEFAULT_SECTION, IniDocument, IniEditor, SetOutcome};
use bouture_master_client::InvalidMasterUrl;

/// The `[slapos]` options that `configure` removes: the client certificate
/// (`key_file`, `cert_file`), the partition certificate directory, and the
/// master CA file.
pub const REMOVED_OPTIONS: [&str; 4] = [
    "key_file",
    "cert_file",
    "certificate_repository_path",
    "master_ca_file",
];

/// The section whose options are changed.
pub const SLAPOS_SECTION: &str = "slapos";

/// What was done to one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ChangeAction {
    /// `master_url` existed and its value was replaced in place.
    Replaced,
    /// `master_url` was missing from `[slapos]` and was added at its end.
    Added,
    /// The option was removed from `[slapos]`.
    Removed,
    /// The option was removed from `[DEFAULT]`, through which it reached
    /// `[slapos]` (it would have kept client TLS on); every section that
    /// inherited it loses it.
    RemovedFromDefault,
}

/// One change `configure` made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ConfigChange {
    /// The section changed (`slapos` or `DEFAULT`).
    pub section: String,
    /// The option, lower-cased.
    pub option: String,
    /// What was done.
    pub action: ChangeAction,
}

impl std::fmt::Display for ConfigChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            section, option, ..
        } = self;
        match self.action {
            ChangeAction::Replaced => write!(f, "[{section}] {option}: replaced"),
            ChangeAction::Added => write!(f, "[{section}] {option}: added"),
            ChangeAction::Removed => write!(f, "[{section}] {option}: removed"),
            ChangeAction::RemovedFromDefault => write!(
                f,
                "[{section}] {option}: removed (it reached [slapos] through [DEFAULT]; \
                 leaving it would keep client SSL on)"
            ),
        }
    }
}

/// The new configuration text and the changes that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigureEdit {
    /// The new configuration.
    pub text: String,
    /// The changes, in the order they were made.
    pub changes: Vec<ConfigChange>,
}

/// Why `configure` refused or failed. Nothing is written in any case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigureError {
    /// The node configuration cannot be read, or is not valid for Python's
    /// configparser.
    #[error(transparent)]
    Node(#[from] NodeConfigError),
    /// The node configuration has no `[slapos]` section.
    #[error("node configuration {}: there is no [slapos] section; is this a SlapOS node configuration?", path.display())]
    NoSlaposSection {
        /// The node configuration.
        path: PathBuf,
    },
    /// The new master URL cannot be written as `master_url`.
    #[error("new {0}")]
    InvalidUrl(#[source] InvalidMasterUrl),
    /// The new configuration would be the node configuration itself.
    #[error(
        "new node configuration {} is the node configuration {} itself (same file); \
         choose another path: the node configuration is never modified",
        new.display(), node.display()
    )]
    SameFile {
        /// The node configuration.
        node: PathBuf,
        /// The new configuration path given.
        new: PathBuf,
    },
    /// The result would not read back as expected (for example an option
    /// refers to a removed one with `%(name)s`).
    #[error("node configuration {}: the new configuration would not be valid: {problem}", path.display())]
    Check {
        /// The node configuration.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The new configuration cannot be written: something in the way that
    /// is not a regular file, or the operating system's error (the error
    /// names the file).
    #[error("new node configuration: {0}")]
    Write(#[source] bouture_fs::WriteError),
    /// The directory of the new configuration stayed locked by another
    /// process (another `configure` or failover writing there) for
    /// [`LOCK_WAIT`], or cannot be locked.
    #[error("new node configuration: {0}")]
    Lock(#[source] bouture_fs::LockError),
}

/// How long [`configure`] waits for another process writing in the new
/// configuration's directory.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// Check that `url` can be the new `master_url` (with
/// [`bouture_master_client::check_master_url`], the check every bouture
/// command applies to a master URL).
pub fn check_master_url(url: &str) -> Result<(), ConfigureError> {
    bouture_master_client::check_master_url(url).map_err(ConfigureError::InvalidUrl)
}

/// Make the new configuration from the node configuration's text.
///
/// `%` in the URL is written as `%%`, so that the value reads back as the URL.
pub fn configure_text(text: &str, new_master_url: &str) -> Result<ConfigureEdit, ConfigureError> {
    configure_text_at(Path::new("NODE_CFG"), text, new_master_url)
}

fn configure_text_at(
    path: &Path,
    text: &str,
    new_master_url: &str,
) -> Result<ConfigureEdit, ConfigureError> {
    check_master_url(new_master_url)?;
    let syntax = |source| {
        ConfigureError::Node(NodeConfigError::Syntax {
            path: path.to_path_buf(),
            source,
        })
    };
    let before = IniDocument::parse(text).map_err(syntax)?;
    if !before.has_section(SLAPOS_SECTION) {
        return Err(ConfigureError::NoSlaposSection {
            path: path.to_path_buf(),
        });
    }
    let mut editor = IniEditor::parse(text).map_err(syntax)?;
    let mut changes = Vec::new();
    let escaped = new_master_url.replace('%', "%%");
    let action = match editor.set(SLAPOS_SECTION, "master_url", &escaped) {
        SetOutcome::Replaced => ChangeAction::Replaced,
        _ => ChangeAction::Added,
    };
    changes.push(change(SLAPOS_SECTION, "master_url", action));
    for option in REMOVED_OPTIONS {
        if editor.remove(SLAPOS_SECTION, option) {
            changes.push(change(SLAPOS_SECTION, option, ChangeAction::Removed));
        }
        if editor.remove(DEFAULT_SECTION, option) {
            changes.push(change(
                DEFAULT_SECTION,
                option,
                ChangeAction::RemovedFromDefault,
            ));
        }
    }
    let text = editor.render();
    check_result(path, &before, &text, &escaped)?;
    Ok(ConfigureEdit { text, changes })
}

fn change(section: &str, option: &str, action: ChangeAction) -> ConfigChange {
    ConfigChange {
        section: section.to_string(),
        option: option.to_string(),
        action,
    }
}

/// The edited text must parse to the original options, minus the removed
/// ones, with the new `master_url` in `[slapos]`; and every section whose
/// values could be interpolated before still can.
fn check_result(
    path: &Path,
    before: &IniDocument,
    text: &str,
    master_url: &str,
) -> Result<(), ConfigureError> {
    let fail = |problem: String| ConfigureError::Check {
        path: path.to_path_buf(),
        problem,
    };
    let after = IniDocument::parse(text).map_err(|error| fail(error.to_string()))?;
    let keep = |options: &[(String, String)]| -> Vec<(String, String)> {
        options
            .iter()
            .filter(|(name, _)| !REMOVED_OPTIONS.contains(&name.as_str()))
            .cloned()
            .collect()
    };
    if after.defaults().options != keep(&before.defaults().options) {
        return Err(fail(
            "[DEFAULT] would change beyond the removed options".into(),
        ));
    }
    if after.sections().len() != before.sections().len() {
        return Err(fail("the sections would change".into()));
    }
    for (old, new) in before.sections().iter().zip(after.sections()) {
        let mut expected = if old.name == SLAPOS_SECTION {
            keep(&old.options)
        } else {
            old.options.clone()
        };
        if old.name == SLAPOS_SECTION {
            match expected.iter_mut().find(|(name, _)| name == "master_url") {
                Some(slot) => slot.1 = master_url.to_string(),
                None => expected.push(("master_url".to_string(), master_url.to_string())),
            }
        }
        if new.name != old.name || new.options != expected {
            return Err(fail(format!(
                "section [{}] would not read back as intended",
                old.name
            )));
        }
        if before.items(&old.name).is_ok()
            && let Err(error) = after.items(&old.name)
        {
            return Err(fail(format!(
                "{error} (an option refers to a removed one; remove that reference first)"
            )));
        }
    }
    Ok(())
}

/// A unified diff (3 lines of context) from `before` to `after`, with
/// `old_name` and `new_name` in its header. Carriage returns are shown as
/// `\r` and a missing final newline is marked, so that no change is invisible.
pub fn unified_diff(before: &str, after: &str, old_name: &str, new_name: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        let _ = writeln!(out, "{}", hunk.header());
        for change in hunk.iter_changes() {
            let sign = match change.tag() {
                similar::ChangeTag::Delete => '-',
                similar::ChangeTag::Insert => '+',
                similar::ChangeTag::Equal => ' ',
            };
            let value = change.value();
            let (line, ending) = if let Some(line) = value.strip_suffix("\r\n") {
                (line, "\\r")
            } else if let Some(line) = value.strip_suffix('\n') {
                (line, "")
            } else if let Some(line) = value.strip_suffix('\r') {
                (line, "\\r")
            } else {
                (value, "")
            };
            out.push(sign);
            out.push_str(&line.replace('\r', "\\r"));
            out.push_str(ending);
            out.push('\n');
            if !value.ends_with(['\n', '\r']) {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

/// What [`configure`] did (or, for a dry run, would do).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigureReport {
    /// The node configuration read.
    pub node_cfg: PathBuf,
    /// The new configuration (written unless this was a dry run).
    pub new_cfg: PathBuf,
    /// The node configuration's text.
    pub before: String,
    /// The new configuration's text.
    pub after: String,
    /// The changes.
    pub changes: Vec<ConfigChange>,
    /// Whether `new_cfg` was written.
    pub written: bool,
}

/// What [`configure`] is asked.
#[derive(Debug, Clone)]
pub struct ConfigureOptions {
    /// The node configuration read (never modified).
    pub node_cfg: PathBuf,
    /// Where the configuration for the new master is written.
    pub new_cfg: PathBuf,
    /// The new master's URL.
    pub new_master_url: String,
    /// Check and compute everything, write nothing.
    pub dry_run: bool,
}

impl ConfigureOptions {
    /// Write the configuration of `node_cfg` for `new_master_url` to `new_cfg`.
    pub fn new(
        node_cfg: impl Into<PathBuf>,
        new_cfg: impl Into<PathBuf>,
        new_master_url: impl Into<String>,
    ) -> Self {
        Self {
            node_cfg: node_cfg.into(),
            new_cfg: new_cfg.into(),
            new_master_url: new_master_url.into(),
            dry_run: false,
        }
    }
}

/// Read `node_cfg`, make the configuration for `new_master_url`, and, unless
/// `dry_run`, write it atomically to `new_cfg` with no wider permissions than
/// `node_cfg` (and, as root, its owner), holding the lock of `new_cfg`'s
/// directory (waiting up to [`LOCK_WAIT`] for another process).
///
/// Refuses a `new_cfg` that is the same file as `node_cfg` (same path, a
/// symbolic link or a hard link to it: device and inode are compared).
/// A symbolic link at `new_cfg` is replaced by the new file, not followed.
pub fn configure(options: &ConfigureOptions) -> Result<ConfigureReport, ConfigureError> {
    let ConfigureOptions {
        node_cfg,
        new_cfg,
        new_master_url,
        dry_run,
    } = options;
    let (node_cfg, new_cfg, dry_run) = (node_cfg.as_path(), new_cfg.as_path(), *dry_run);
    check_master_url(new_master_url)?;
    let node_metadata = std::fs::metadata(node_cfg).map_err(|source| {
        NodeConfigError::Read(FileError::new(node_cfg, FileErrorKind::Io { source }))
    })?;
    if bouture_fs::same_file(node_cfg, new_cfg) {
        return Err(ConfigureError::SameFile {
            node: node_cfg.to_path_buf(),
            new: new_cfg.to_path_buf(),
        });
    }
    let before = read_node_config_text(node_cfg)?;
    let edit = configure_text_at(node_cfg, &before, new_master_url)?;
    if !dry_run {
        // The directory, not a lock file: nothing is left next to the
        // configuration (as for `bouture merge`'s output).
        let dir = match new_cfg.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        let _lock = bouture_fs::FileLock::directory(dir, bouture_fs::Wait::UpTo(LOCK_WAIT))
            .map_err(ConfigureError::Lock)?;
        bouture_fs::write_like(new_cfg, edit.text.as_bytes(), &node_metadata)
            .map_err(ConfigureError::Write)?;
    }
    Ok(ConfigureReport {
        node_cfg: node_cfg.to_path_buf(),
        new_cfg: new_cfg.to_path_buf(),
        before,
        after: edit.text,
        changes: edit.changes,
        written: !dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check_master_url("http://127.0.0.1:4000").is_ok());
        assert!(check_master_url("https://[::1]:4000/x%20y").is_ok());
        for bad in ["", "ftp://x", "http://", "http://a b", "http://a\nb"] {
            assert!(check_master_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn percent_is_escaped_and_reads_back() {
        let edit = configure_text("[slapos]\nmaster_url = x\n", "http://h/a%20b").unwrap();
        assert_eq!(edit.text, "[slapos]\nmaster_url = http://h/a%%20b\n");
        let doc = IniDocument::parse(&edit.text).unwrap();
        assert_eq!(
            doc.items("slapos").unwrap(),
            [("master_url".to_string(), "http://h/a%20b".to_string())]
        );
    }

    #[test]
    fn default_options_are_removed_and_reported() {
        let edit = configure_text(
            "[DEFAULT]\ncert_file = /c\n[slapos]\nkey_file = /k\n[other]\nx = 1\n",
            "http://p",
        )
        .unwrap();
        assert_eq!(
            edit.text,
            "[DEFAULT]\n[slapos]\nmaster_url = http://p\n[other]\nx = 1\n"
        );
        let actions: Vec<_> = edit.changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            actions,
            [
                "[slapos] master_url: added",
                "[slapos] key_file: removed",
                "[DEFAULT] cert_file: removed (it reached [slapos] through [DEFAULT]; leaving it would keep client SSL on)",
            ]
        );
    }

    #[test]
    fn a_reference_to_a_removed_option_is_refused() {
        let error = configure_text(
            "[slapos]\nkey_file = /k\nother = %(key_file)s\n",
            "http://p",
        )
        .unwrap_err();
        assert!(matches!(error, ConfigureError::Check { .. }), "{error}");
    }

    #[test]
    fn no_slapos_section_is_refused() {
        let error = configure_text("[slapformat]\nx = 1\n", "http://p").unwrap_err();
        assert!(matches!(error, ConfigureError::NoSlaposSection { .. }));
    }
}

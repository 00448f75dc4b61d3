//! What a node setup did (or would do), as text or serde data.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::plan::{FileKind, Plan, PlannedWrite};
use crate::start::StartOutcome;

/// The result of a node setup that passed every check.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Whether this was a dry run (nothing written, nothing run).
    pub dry_run: bool,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The cluster joined.
    pub cluster_name: String,
    /// The node (CN of its new client certificate).
    pub node_name: String,
    /// The subject of the cluster certificate.
    pub certificate_subject: String,
    /// The files written (or that would be), in order.
    pub files: Vec<PlannedWrite>,
    /// The node daemons.
    pub start: StartOutcome,
    /// Whether the start command restarts the system's Ganeti daemons
    /// (the default command with another data directory).
    pub restarts_system_daemons: bool,
}

impl Report {
    /// The report of a plan and what became of the start command.
    pub fn new(plan: &Plan, dry_run: bool, start: StartOutcome) -> Self {
        Self {
            dry_run,
            data_dir: plan.data_dir.clone(),
            cluster_name: plan.cluster_name.clone(),
            node_name: plan.node_name.clone(),
            certificate_subject: plan.certificate_subject.clone(),
            files: plan.writes.clone(),
            start,
            restarts_system_daemons: plan.restarts_system_daemons,
        }
    }

    /// Human-readable text; `verbose` adds sizes and owners.
    pub fn to_text(&self, verbose: bool) -> String {
        let mut out = String::new();
        let (would, create, replace) = if self.dry_run {
            ("would ", "would create", "would replace")
        } else {
            ("", "created", "replaced")
        };
        if self.dry_run {
            let _ = writeln!(
                out,
                "Dry run: every check passed, nothing was written or run."
            );
        }
        let _ = writeln!(
            out,
            "Node {} {}join{} cluster {} (data directory {}).",
            self.node_name,
            would,
            if self.dry_run { "" } else { "ed" },
            self.cluster_name,
            self.data_dir.display()
        );
        let _ = writeln!(out, "Cluster certificate: {}", self.certificate_subject);
        let _ = writeln!(out, "Files:");
        for file in &self.files {
            let name = file
                .path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = write!(
                out,
                "  {:<13} {name} ({:04o}",
                if file.replaces { replace } else { create },
                file.mode
            );
            if verbose {
                let _ = write!(out, ", {} bytes", file.bytes);
                if let Some((uid, gid)) = file.owner {
                    let _ = write!(out, ", owner {uid}:{gid}");
                }
            }
            out.push(')');
            match file.kind {
                FileKind::ClientCertificateBackup => {
                    out.push_str(": copy of the previous client.pem");
                }
                FileKind::ClientCertificate => {
                    let _ = write!(
                        out,
                        ": new key, CN={}, signed by the cluster certificate",
                        self.node_name
                    );
                }
                _ => {}
            }
            out.push('\n');
        }
        match &self.start {
            StartOutcome::NotRequested => {
                out.push_str("Node daemons: not restarted (start_node_daemon is false).\n");
            }
            StartOutcome::WouldRun { command } => {
                let _ = writeln!(out, "Node daemons: would run (with sh -c): {command}");
            }
            StartOutcome::Started { command, .. } => {
                let _ = writeln!(out, "Node daemons: restarted (with sh -c): {command}");
            }
            StartOutcome::Failed { status, parts, .. } => {
                let _ = writeln!(
                    out,
                    "Node daemons: NOT started, the files above stay written; failed (run with sh -c): {status}"
                );
                for part in parts {
                    let _ = writeln!(out, "  {}: {}", part.status, part.command);
                }
            }
        }
        if self.restarts_system_daemons {
            let _ = writeln!(
                out,
                "Note: the start command restarts the system's Ganeti daemons, which read {}, not {}.",
                crate::DEFAULT_DATA_DIR,
                self.data_dir.display()
            );
        }
        out
    }
}

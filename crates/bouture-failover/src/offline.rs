//! What a failover run does for its files and for what happens on the new
//! master: the check, at every run, that its files can be written, the
//! record of what was grafted, and the changes found when the original
//! master returns ([`bouture_offline_changes`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use bouture_core::NodeConfig;
use bouture_master_client::MasterClient;
use bouture_offline_changes::{self as changes, Change, MasterSnapshot, Return};

use bouture_text::Level;

use crate::run::{FailoverLog, FileRole, Name, Options, Unwritable};
use crate::switchfile::{self, SwitchStatus};

/// The files a run may write next to the switchfile.
fn companions(switchfile: &Path) -> [PathBuf; 5] {
    [
        switchfile.to_path_buf(),
        switchfile::offline_runs_path(switchfile),
        changes::grafted_path(switchfile),
        changes::changes_path(switchfile),
        changes::lock_path(switchfile),
    ]
}

/// Why the run could not write what it may have to write: the switchfile
/// and its companions (`--switchfile`), the new configuration
/// (`--new-node-cfg`). Each problem names the option. Empty when all is
/// well.
///
/// A directory is checked by creating (and removing) a file in it, which
/// catches a missing directory, a read-only file system and missing
/// permissions alike.
pub(crate) fn unwritable(options: &Options) -> Vec<Unwritable> {
    let mut problems = Vec::new();
    for (role, path) in [
        (FileRole::Switchfile, &options.switchfile),
        (FileRole::NewNodeCfg, &options.new_node_cfg),
    ] {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let problem = match std::fs::metadata(dir) {
            Err(error) => Some(format!("its directory {}: {error}", dir.display())),
            Ok(metadata) if !metadata.is_dir() => {
                Some(format!("{} is not a directory", dir.display()))
            }
            Ok(_) => tempfile::Builder::new()
                .prefix(".bouture-write-check")
                .tempfile_in(dir)
                .err()
                .map(|error| format!("cannot create a file in {}: {error}", dir.display())),
        };
        if let Some(problem) = problem {
            problems.push(Unwritable {
                role,
                path: path.clone(),
                problem,
            });
        }
    }
    // Something that is not a regular file where a companion goes is never
    // replaced. (The switchfile itself only needs to exist.)
    for path in companions(&options.switchfile).iter().skip(1) {
        if let Ok(metadata) = std::fs::symlink_metadata(path)
            && !metadata.is_file()
        {
            problems.push(Unwritable {
                role: FileRole::Switchfile,
                path: options.switchfile.clone(),
                problem: format!(
                    "{} is {}, not a regular file, and is never replaced",
                    path.display(),
                    bouture_fs::describe(metadata.file_type())
                ),
            });
        }
    }
    problems
}

fn client(url: &str, options: &Options) -> Result<MasterClient, String> {
    // The new master, with the same TLS and timeout options as the graft.
    MasterClient::with_options(url, &options.master_client).map_err(|error| error.to_string())
}

/// Right after a graft: record what the new master holds for the node, so
/// that the return of the original master can tell what changed there. A
/// failure costs a warning (and removes an older record), never the switch.
pub(crate) fn record_grafted(config: &NodeConfig, options: &Options, log: &mut dyn FailoverLog) {
    let started = Instant::now();
    let recorded = client(&options.new_master_url, options)
        .and_then(|client| {
            MasterSnapshot::read(&client, config.computer_id.as_str()).map_err(|e| e.to_string())
        })
        .and_then(|snapshot| {
            changes::write_grafted(&options.switchfile, &snapshot)
                .map(|path| (path, snapshot.instances.len()))
                .map_err(|e| e.to_string())
        });
    match recorded {
        Ok((path, instances)) => log.log(
            Level::Debug,
            &format!(
                "recorded what the new master holds after the graft ({instances} instance(s)) \
                 in {} in {:.1} s",
                path.display(),
                started.elapsed().as_secs_f64()
            ),
        ),
        Err(reason) => {
            let _ = changes::remove_grafted(&options.switchfile);
            log.log(
                Level::Warning,
                &format!(
                    "cannot record what was grafted ({reason}): what changes on the new master \
                     will not be listed when the original master returns"
                ),
            );
        }
    }
}

/// The original master is back: list what changed on the new master since
/// the graft in `SWITCHFILE.changes`, one log line per change, and remove
/// the record. Never stops the switch back: a failure is a change of kind
/// `not_collected` (and a log line).
pub(crate) fn collect_changes(
    config: &NodeConfig,
    options: &Options,
    status: &SwitchStatus,
    log: &mut dyn FailoverLog,
) {
    let started = Instant::now();
    let (new_master_url, switched_at) = match status {
        SwitchStatus::Switched {
            record: Some(record),
            ..
        } => (
            record.new_master_url.clone(),
            Some(record.switched_at.clone()),
        ),
        _ => (options.new_master_url.clone(), None),
    };
    let computer_id = config.computer_id.as_str();
    let found = match changes::read_grafted(&options.switchfile) {
        Ok(Some(grafted)) => client(&new_master_url, options)
            .and_then(|client| {
                MasterSnapshot::read(&client, computer_id).map_err(|e| e.to_string())
            })
            .map_or_else(
                |reason| {
                    vec![Change::not_collected(format!(
                        "the new master could not be read, so what changed there is unknown: \
                         {reason}"
                    ))]
                },
                |now| changes::diff(&grafted, &now),
            ),
        Ok(None) => vec![Change::not_collected(
            "no record of what was grafted (the switch was made by another tool, or the record \
             could not be written): what changed on the new master is unknown",
        )],
        Err(error) => vec![Change::not_collected(format!(
            "the record of what was grafted cannot be used, so what changed on the new master \
             is unknown: {error}"
        ))],
    };
    for change in &found {
        log.log(Level::Warning, &format!("offline change: {change}"));
    }
    let collected = found
        .iter()
        .filter(|c| c.kind != changes::ChangeKind::NotCollected)
        .count();
    let entry = Return::new(
        switched_at,
        switchfile::utc_now().0,
        new_master_url,
        computer_id,
        found,
    );
    match changes::record_return(&options.switchfile, entry) {
        Ok(Some(_)) => log.log(
            Level::Warning,
            &format!(
                "{} in {}; {}",
                if collected == 0 {
                    "what changed while the node followed the new master could not be \
                     collected: noted"
                        .to_string()
                } else {
                    format!(
                        "{collected} change(s) made while the node followed the new master are \
                         listed, with the `slapos request` lines that make them on the original \
                         master,"
                    )
                },
                changes::changes_path(&options.switchfile).display(),
                log.name(Name::Acknowledge {
                    switchfile: &options.switchfile
                })
            ),
        ),
        Ok(None) => log.log(
            Level::Info,
            "nothing changed on the new master while the node followed it",
        ),
        Err(error) => log.log(
            Level::Error,
            &format!(
                "cannot write the changes file: {error}; the changes are only in the lines above"
            ),
        ),
    }
    if let Err(error) = changes::remove_grafted(&options.switchfile) {
        log.log(Level::Warning, &format!("{error}"));
    }
    log.log(
        Level::Debug,
        &format!(
            "collected the changes in {:.1} s",
            started.elapsed().as_secs_f64()
        ),
    );
}

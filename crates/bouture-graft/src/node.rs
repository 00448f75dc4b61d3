//! The whole graft of a node in one call: lock, scan, plan, client, apply, read-back, each
//! step reported to an observer. `bouture graft`, `bouture failover` and embedders call it;
//! they only render what it reports.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bouture_core::{Inventory, NodeConfig};
use bouture_master_client::{MasterClient, RequestTrace};

use crate::apply::{Error, GraftEvent, GraftObserver, apply};
use crate::lock::{DEFAULT_LOCK_WAIT, LockError, NodeLock};
use crate::narrate::GraftNarration;
use crate::plan::{GraftPlan, Options};
use crate::report::{GraftOutcome, GraftReport};

/// How to graft a node with [`graft_node`].
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// What the plan does with the node's instances (the monitor URL).
    pub plan: Options,
    /// How the new master is reached: TLS trust, client certificate, deadline.
    pub client: bouture_master_client::Options,
    /// How long to wait for another graft of the node to release the node's lock
    /// ([`DEFAULT_LOCK_WAIT`] by default).
    pub lock_wait: Duration,
    /// Plan only: no lock taken, nothing sent, nothing on the node changed.
    pub dry_run: bool,
}

impl Default for NodeOptions {
    fn default() -> Self {
        Self {
            plan: Options::default(),
            client: bouture_master_client::Options::default(),
            lock_wait: DEFAULT_LOCK_WAIT,
            dry_run: false,
        }
    }
}

/// What [`graft_node`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeReport {
    /// The plan, built from the node as it was under the lock.
    pub plan: GraftPlan,
    /// How many partitions the node has, opted in or not.
    pub partitions_on_node: usize,
    /// The report of the graft; `None` for a dry run, or when no valid opted-in partition
    /// was found (then nothing was sent: the master was not even contacted).
    pub report: Option<GraftReport>,
    /// HTTP requests sent to the master.
    pub http_requests: u64,
    /// Time spent waiting for the master.
    pub request_time: Duration,
}

impl NodeReport {
    /// The outcome: the report's, else (nothing sent) complete unless partitions were
    /// skipped.
    pub fn outcome(&self) -> GraftOutcome {
        match &self.report {
            Some(report) => report.outcome(),
            None if self.plan.skipped.is_empty() => GraftOutcome::Complete,
            None => GraftOutcome::SkippedInvalid,
        }
    }
}

/// Why [`graft_node`] could not graft at all (failures of single partitions are in the
/// report, not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The node's graft lock cannot be taken (another graft held it for the whole wait, or
    /// its file is unusable).
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The node's partitions cannot be listed.
    #[error(transparent)]
    Scan(#[from] bouture_core::Error),
    /// No client for the new master (a bad URL, unusable TLS files).
    #[error(transparent)]
    Client(#[from] bouture_master_client::Error),
    /// The graft stopped at a step that concerns the whole computer.
    #[error(transparent)]
    Graft(#[from] Error),
}

impl NodeError {
    /// Whether the master could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Graft(error) if error.is_unreachable())
    }
}

/// Graft the node of `config` onto the master at `new_master_url`: take the node's lock
/// ([`NodeLock`], waiting up to [`NodeOptions::lock_wait`]; not for a dry run), scan
/// the node, build the plan, and unless it is a dry run or there is nothing to send,
/// [`apply`] it and read the master back. Every step goes to `observer` as it happens,
/// the detail of the requests included ([`GraftEvent::Detail`]); the lock is held until
/// after the read-back.
///
/// # Errors
///
/// [`NodeError`]: the lock, the scan, the client, or a step of the whole computer.
pub fn graft_node(
    config: &NodeConfig,
    new_master_url: &str,
    options: &NodeOptions,
    observer: &mut dyn GraftObserver,
) -> Result<NodeReport, NodeError> {
    let started = Instant::now();
    let _lock = if options.dry_run {
        None
    } else {
        let wait = options.lock_wait;
        let lock = NodeLock::acquire(&config.instance_root, wait, &mut |path, pid| {
            observer.event(GraftEvent::LockBusy { path, pid, wait });
        })?;
        observer.event(GraftEvent::Detail {
            line: &format!("holding the node's graft lock {}", lock.path().display()),
        });
        Some(lock)
    };
    let inventory = Inventory::scan(config)?;
    let plan = GraftPlan::build(&inventory, &options.plan);
    let mut graft = NodeReport {
        partitions_on_node: inventory.partitions.len(),
        plan,
        report: None,
        http_requests: 0,
        request_time: Duration::ZERO,
    };
    let plan = &graft.plan;
    for skipped in &plan.skipped {
        observer.event(GraftEvent::Skipped {
            id: skipped.id.as_str(),
            reason: &skipped.reason.to_string(),
        });
    }
    observer.event(GraftEvent::Planned {
        computer_id: plan.computer_id.as_str(),
        to_graft: plan.partitions.len(),
        skipped: plan.skipped.len(),
        shared_instances: plan.shared_instance_count(),
        partitions_on_node: graft.partitions_on_node,
        instance_root: &config.instance_root,
        master_url: new_master_url,
        dry_run: options.dry_run,
    });
    if options.dry_run || plan.partitions.is_empty() {
        return Ok(graft);
    }
    let trace = RequestTrace::default();
    let client = MasterClient::with_options(new_master_url, &options.client)?
        .observed_by(Arc::new(trace.clone()));
    let mut narrated = Narrated {
        observer: &mut *observer,
        narration: GraftNarration::new(trace),
    };
    let report = apply(plan, &client, &mut narrated);
    narrated.rest();
    graft.http_requests = client.request_count();
    graft.request_time = client.request_time();
    observer.event(GraftEvent::Detail {
        line: &format!(
            "graft took {} ms: {} HTTP request(s), {} ms of them waiting for the master",
            started.elapsed().as_millis(),
            graft.http_requests,
            graft.request_time.as_millis()
        ),
    });
    graft.report = Some(report?);
    Ok(graft)
}

/// The observer, given the graft's detail lines ([`GraftNarration`]) as
/// [`GraftEvent::Detail`] before each event.
struct Narrated<'o> {
    observer: &'o mut dyn GraftObserver,
    narration: GraftNarration,
}

impl Narrated<'_> {
    /// The requests and the phase left after the graft (one that stopped with an error).
    fn rest(&mut self) {
        for line in self.narration.rest() {
            self.observer.event(GraftEvent::Detail { line: &line });
        }
    }
}

impl GraftObserver for Narrated<'_> {
    fn event(&mut self, event: GraftEvent<'_>) {
        for line in self.narration.lines(event) {
            self.observer.event(GraftEvent::Detail { line: &line });
        }
        self.observer.event(event);
    }
}

impl GraftEvent<'_> {
    /// The line an operator reads for this event, at the level of information (the
    /// Python tool's own lines, which operators grep for, first: "Bouturing partition
    /// P", "Grafting N shared instances", "Removed P's timestamp", "No bouture partitions
    /// found on this node"), or `None` for an event that is only detail or progress.
    /// [`GraftEvent::Skipped`] and [`GraftEvent::Detail`] are not included: the first is
    /// a warning, the second detail.
    pub fn message(&self) -> Option<String> {
        match *self {
            GraftEvent::LockBusy { path, pid, wait } => Some(format!(
                "another graft of this node{} holds {}: waiting up to {} s for it to finish",
                pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default(),
                path.display(),
                wait.as_secs()
            )),
            GraftEvent::Planned {
                to_graft: 0,
                skipped: 0,
                instance_root,
                ..
            } => Some(format!(
                "No bouture partitions found on this node: no partition of {} holds a \
                 bouture.json; nothing was sent",
                instance_root.display()
            )),
            GraftEvent::Planned {
                to_graft: 0,
                skipped,
                master_url,
                dry_run: false,
                ..
            } => Some(format!(
                "All {skipped} opted-in partitions are invalid: nothing was sent to {master_url}"
            )),
            GraftEvent::Planned {
                to_graft,
                skipped,
                master_url,
                dry_run: false,
                shared_instances,
                computer_id,
                ..
            } => Some(format!(
                "Grafting computer {computer_id} onto {master_url}: {to_graft} partition(s), \
                 {shared_instances} shared instance(s), {skipped} invalid partition(s) skipped"
            )),
            GraftEvent::Partition { index, id, title } => Some(format!(
                "Bouturing partition {id} -- number {}: instance \"{title}\"",
                index + 1
            )),
            GraftEvent::SharedInstances { id, count } => {
                Some(format!("Grafting {count} shared instances -- of {id}"))
            }
            GraftEvent::TimestampRemoved { id, path, existed } => Some(format!(
                "Removed {id}'s timestamp -- {} {}, so that the node reprocesses it",
                path.display(),
                if existed { "removed" } else { "was absent" }
            )),
            _ => None,
        }
    }
}

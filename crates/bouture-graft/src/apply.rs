//! Carrying out a [`GraftPlan`] against a master.
//!
//! The sequence, all over the legacy SLAP API except the read-only clash check:
//!
//! 1. `getRunId`: the master answers, or nothing is done at all;
//! 2. clash check (JSON-RPC): a planned instance title that already lives on
//!    another computer of the master would be updated *there* by a request,
//!    not moved; such partitions are refused;
//! 3. wipe the computer (register it with no partition), then register every
//!    partition to graft **once**, in request order, with the computer's
//!    address and each partition's addresses and interface;
//! 4. supply each software release once;
//! 5. per partition, in order: request its instance (always with
//!    `computer_guid`) and check the partition the master chose; attach its
//!    shared instances to it; bang it; remove its local `.timestamp`.
//!
//! The proxy gives a new instance the *first free* partition of the computer,
//! which with a single registration is the next partition in request order
//! (`SQLite` scans in insertion order). That is an implementation detail, so
//! every answer is checked: when an instance lands elsewhere, the graft falls
//! back to the reference's method for the rest, registering the placed
//! partitions plus only the next one before each request, so that exactly one
//! partition is free.
//!
//! A partition that fails on the master is removed from it at the end (a
//! final registration of the grafted partitions only), so that the master
//! holds exactly the grafted partitions. Starting with a wipe makes the graft
//! idempotent and lets an interrupted graft be re-run to the full result.
//!
//! 6. read the master's state back (`getFullComputerInformation`) and compare
//!    it with what was grafted (see [`crate::readback`]): a partition the
//!    master does not hold as sent is failed, and computer-level differences
//!    fail the graft ([`GraftReport::mismatches`]).
//!
//! Masters older than the JSON-RPC API (slapos.core before 1.23) cannot
//! answer the clash check: it is skipped with a warning in
//! [`GraftReport::warnings`].

use std::collections::BTreeSet;

use crate::plan::{GraftPlan, PlannedPartition, PlannedSharedInstance};
use bouture_master_client::{
    ComputerRegistration, Error as MasterError, InstanceRequest, MasterClient,
    PartitionRegistration, SharedInstanceRequest, SupplyState,
};

use crate::report::{GraftReport, PartitionReport, PartitionStatus, Placement};

/// The message sent with each bang.
pub const BANG_MESSAGE: &str = "Bouture";

/// A graft that could not be carried out at all. Failures of single
/// partitions are not errors: they are in the [`GraftReport`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The master failed a step that concerns the whole computer.
    #[error("graft onto {url} stopped at {step}: {source}")]
    Master {
        /// The new master's URL.
        url: String,
        /// What the graft was doing.
        step: &'static str,
        /// The master's error.
        #[source]
        source: Box<MasterError>,
    },
}

impl Error {
    /// Whether the master could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Master { source, .. } => source.is_unreachable(),
        }
    }
}

/// What a graft reports as it goes, for progress displays and logs.
///
/// The phases of a graft start with [`GraftEvent::Step`] (one per step concerning the whole
/// computer), then [`GraftEvent::Registered`] (the partitions' requests),
/// [`GraftEvent::ReadingBack`], and end with [`GraftEvent::Finished`]: the time between two of
/// them is the time of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraftEvent<'a> {
    /// [`crate::graft_node`]: another graft of the node holds its lock; this one waits.
    LockBusy {
        /// The lock file.
        path: &'a std::path::Path,
        /// The holder's pid, when readable.
        pid: Option<u32>,
        /// How long this graft waits at most.
        wait: std::time::Duration,
    },
    /// [`crate::graft_node`]: the node was scanned and the plan built.
    Planned {
        /// The node's computer.
        computer_id: &'a str,
        /// Partitions to graft.
        to_graft: usize,
        /// Opted-in partitions skipped (invalid; each follows as [`GraftEvent::Skipped`]).
        skipped: usize,
        /// Shared instances of the partitions to graft.
        shared_instances: usize,
        /// Partitions on the node, opted in or not.
        partitions_on_node: usize,
        /// Where the partitions are.
        instance_root: &'a std::path::Path,
        /// The new master.
        master_url: &'a str,
        /// Whether nothing will be sent.
        dry_run: bool,
    },
    /// [`crate::graft_node`]: an opted-in partition is invalid and is left out (a warning).
    Skipped {
        /// The partition.
        id: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// A detail line for whoever wants it (`-v`): a request sent, a decision, the time of a
    /// phase ([`crate::GraftNarration`]'s lines, which [`crate::graft_node`] sends).
    Detail {
        /// The line.
        line: &'a str,
    },
    /// A step concerning the whole computer starts (the health check, the title check, the
    /// wipe, the registration, the supply of the software releases).
    Step {
        /// What the step is, as errors name it (`the health check (getRunId)`).
        name: &'static str,
    },
    /// The graft decided something the report only shows as a result: a partition not sent
    /// because its title lives elsewhere, the fallback to one registration per partition,
    /// partitions left unsent because the master stopped answering, the failed partitions
    /// removed from the master.
    Decision {
        /// The decision, as a sentence.
        what: &'a str,
    },
    /// The computer is registered; `partitions` are about to be requested.
    Registered {
        /// How many partitions will be requested.
        partitions: usize,
    },
    /// A partition is being requested.
    Partition {
        /// Its position, from 0.
        index: usize,
        /// The partition.
        id: &'a str,
        /// Its instance's title.
        title: &'a str,
    },
    /// The partition's instance is placed; its shared instances are about to be requested
    /// (the Python tool's "Grafting N shared instances").
    SharedInstances {
        /// The partition.
        id: &'a str,
        /// How many shared instances it hosts.
        count: usize,
    },
    /// The partition was banged and its local `.timestamp` removed, so that the node
    /// reprocesses it (the Python tool's "Removed P's timestamp").
    TimestampRemoved {
        /// The partition.
        id: &'a str,
        /// The timestamp file.
        path: &'a std::path::Path,
        /// Whether it existed (a partition never processed has none).
        existed: bool,
    },
    /// Every request was sent; the master's state is about to be read back.
    ReadingBack,
    /// Every partition was handled.
    Finished,
}

/// Receives [`GraftEvent`]s. `()` ignores them.
pub trait GraftObserver {
    /// Called for each event.
    fn event(&mut self, event: GraftEvent<'_>);
}

impl GraftObserver for () {
    fn event(&mut self, _event: GraftEvent<'_>) {}
}

/// Knobs for tests of the placement check; not part of the stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PlacementTuning {
    /// Register partitions in the reverse of request order, so that the
    /// master misplaces instances and the fallback must recover.
    pub register_in_reverse: bool,
}

/// Carry out `plan` against `client`'s master and report what happened.
pub fn apply(
    plan: &GraftPlan,
    client: &MasterClient,
    observer: &mut dyn GraftObserver,
) -> Result<GraftReport, Error> {
    apply_tuned(plan, client, observer, PlacementTuning::default())
}

/// [`apply`] with placement knobs for tests.
#[doc(hidden)]
pub fn apply_tuned(
    plan: &GraftPlan,
    client: &MasterClient,
    observer: &mut dyn GraftObserver,
    tuning: PlacementTuning,
) -> Result<GraftReport, Error> {
    let first_request = client.request_count();
    let mut graft = Graft {
        plan,
        client,
        report: GraftReport::start(plan, client.url()),
    };
    let candidates = graft.check(observer)?;

    let software_releases = graft.register_and_supply(&candidates, tuning, observer)?;

    observer.event(GraftEvent::Registered {
        partitions: candidates.len(),
    });
    let mut grafted: Vec<&PlannedPartition> = Vec::new();
    let mut incremental = false;
    let mut master_gone: Option<String> = None;
    for (index, partition) in candidates.iter().enumerate() {
        observer.event(GraftEvent::Partition {
            index,
            id: partition.id.as_str(),
            title: &partition.instance.title,
        });
        if let Some(reason) = &master_gone {
            graft.fail(partition, reason.clone());
            continue;
        }
        let was_incremental = incremental;
        let result = graft.graft_partition(partition, &grafted, &mut incremental, observer);
        if incremental
            && !was_incremental
            && let Placement::IncrementalFallback {
                from,
                misplaced_into,
            } = &graft.report.placement
        {
            observer.event(GraftEvent::Decision {
                what: &format!(
                    "the master put {from}'s instance in {misplaced_into}: registering one partition at a time from {from} on"
                ),
            });
        }
        match result {
            Ok(warning) => {
                graft.succeed(partition, warning);
                grafted.push(partition);
            }
            Err(PartitionFailure {
                reason,
                unreachable,
            }) => {
                graft.fail(partition, reason.clone());
                if unreachable {
                    observer.event(GraftEvent::Decision {
                        what: &format!(
                            "the master stopped answering at {}: the remaining partitions are not sent",
                            partition.id
                        ),
                    });
                    master_gone =
                        Some(format!("not sent: the master stopped answering ({reason})"));
                }
            }
        }
    }
    let failed_on_master = graft
        .report
        .partitions
        .iter()
        .any(|p| p.status == PartitionStatus::Failed);
    if failed_on_master && master_gone.is_none() {
        // Leave exactly the grafted partitions on the master.
        let removal = "removing the failed partitions from the master";
        observer.event(GraftEvent::Decision {
            what: &format!(
                "some partitions failed: registering only the {} grafted ones, so that the master holds nothing else",
                grafted.len()
            ),
        });
        observer.event(GraftEvent::Step { name: removal });
        graft.register(removal, &grafted)?;
    }
    if master_gone.is_none() && !grafted.is_empty() {
        observer.event(GraftEvent::ReadingBack);
        graft.read_back(&grafted, &software_releases)?;
    }
    observer.event(GraftEvent::Finished);
    let requests = client.request_count() - first_request;
    graft.report.finish(requests);
    Ok(graft.report)
}

/// The step that looks for the plan's titles on other computers.
const TITLE_CHECK_STEP: &str = "the check for instance titles on other computers (JSON-RPC)";

struct Graft<'a> {
    plan: &'a GraftPlan,
    client: &'a MasterClient,
    report: GraftReport,
}

struct PartitionFailure {
    reason: String,
    unreachable: bool,
}

impl From<MasterError> for PartitionFailure {
    fn from(error: MasterError) -> Self {
        Self {
            unreachable: error.is_unreachable(),
            reason: error.to_string(),
        }
    }
}

impl<'a> Graft<'a> {
    /// The health check and the title check: the partitions that may be sent (the others
    /// are failed in the report, each with its reason).
    fn check(
        &mut self,
        observer: &mut dyn GraftObserver,
    ) -> Result<Vec<&'a PlannedPartition>, Error> {
        let plan = self.plan;
        let health_check = "the health check (getRunId)";
        observer.event(GraftEvent::Step { name: health_check });
        self.step(health_check, MasterClient::run_id)?;
        observer.event(GraftEvent::Step {
            name: TITLE_CHECK_STEP,
        });
        let clashes = self.find_title_clashes()?;
        let mut candidates = Vec::new();
        for partition in &plan.partitions {
            match clashes
                .iter()
                .find(|(title, _)| *title == partition.instance.title)
            {
                Some((_, computer)) => {
                    let reason = format!(
                        "instance title \"{}\" already lives on computer {computer} of this master; \
                         bouture does not move it (destroy it there, or rename the instance)",
                        partition.instance.title
                    );
                    observer.event(GraftEvent::Decision {
                        what: &format!("{} is not sent: {reason}", partition.id),
                    });
                    self.fail(partition, reason);
                }
                None => candidates.push(partition),
            }
        }
        Ok(candidates)
    }

    /// Wipe the computer, register the candidates, supply their software releases (returned).
    fn register_and_supply(
        &mut self,
        candidates: &[&'a PlannedPartition],
        tuning: PlacementTuning,
        observer: &mut dyn GraftObserver,
    ) -> Result<Vec<&'a str>, Error> {
        let wipe = "the wipe of the computer";
        observer.event(GraftEvent::Step { name: wipe });
        self.register(wipe, &[])?;
        if !candidates.is_empty() {
            let mut order = candidates.to_vec();
            if tuning.register_in_reverse {
                order.reverse();
            }
            let registration = "the registration of the partitions";
            observer.event(GraftEvent::Step { name: registration });
            self.register(registration, &order)?;
            self.report.placement = Placement::SingleRegistration;
        }
        let mut software_releases: Vec<&str> = Vec::new();
        for partition in candidates {
            let url = partition.instance.software_url.as_str();
            if !software_releases.contains(&url) {
                software_releases.push(url);
            }
        }
        let supply = "supplying the software releases";
        if !software_releases.is_empty() {
            observer.event(GraftEvent::Step { name: supply });
        }
        for url in &software_releases {
            self.step(supply, |client| {
                client.supply(self.plan.computer_id.as_str(), url, SupplyState::Available)
            })?;
        }
        self.report.software_releases = software_releases.iter().map(ToString::to_string).collect();
        Ok(software_releases)
    }

    fn step<T>(
        &self,
        step: &'static str,
        call: impl FnOnce(&MasterClient) -> Result<T, MasterError>,
    ) -> Result<T, Error> {
        call(self.client).map_err(|source| Error::Master {
            url: self.client.url().to_string(),
            step,
            source: Box::new(source),
        })
    }

    fn registration(&self, partitions: &[&PlannedPartition]) -> ComputerRegistration {
        computer_registration(self.plan, partitions)
    }

    fn register(&self, step: &'static str, partitions: &[&PlannedPartition]) -> Result<(), Error> {
        let computer = self.registration(partitions);
        self.step(step, |client| client.load_computer_configuration(&computer))
    }

    /// Read the master's state back and fail what it does not hold as sent.
    fn read_back(
        &mut self,
        grafted: &[&PlannedPartition],
        software_releases: &[&str],
    ) -> Result<(), Error> {
        let computer = self.plan.computer_id.as_str();
        let state = self.step("reading the master's state back", |client| {
            client.full_computer_information(computer)
        })?;
        let differences = crate::readback::compare(&state, grafted, software_releases);
        self.report.mismatches = differences.computer;
        for (partition, differences) in grafted.iter().zip(differences.partitions) {
            if differences.is_empty() {
                continue;
            }
            if let Some(entry) = self
                .report
                .partitions
                .iter_mut()
                .find(|entry| entry.id == partition.id)
            {
                entry.status = PartitionStatus::Failed;
                entry.reason = Some(format!(
                    "read back from the master, it does not hold what was sent (left there as it is): {}",
                    differences.join("; ")
                ));
            }
        }
        Ok(())
    }

    /// Titles of the plan that live on another computer of the master, with that computer.
    /// A master without the JSON-RPC API (slapos.core before 1.23) answers 404: the check is
    /// skipped with a warning.
    fn find_title_clashes(&mut self) -> Result<Vec<(String, String)>, Error> {
        let step = TITLE_CHECK_STEP;
        let all_titles: BTreeSet<String> = match self.client.json_rpc().instance_tree_list() {
            Ok(titles) => titles.into_iter().collect(),
            Err(error) if error.is_not_found() => {
                self.report.warnings.push(format!(
                        "the master does not offer the JSON-RPC route instance_tree_list (a slapproxy older than slapos.core 1.23): \
                         the check that no instance title to graft already lives on another computer of the master was not made ({error})"
                    ));
                return Ok(Vec::new());
            }
            Err(source) => {
                return Err(Error::Master {
                    url: self.client.url().to_string(),
                    step,
                    source: Box::new(source),
                });
            }
        };
        let planned: Vec<&str> = self
            .plan
            .partitions
            .iter()
            .map(|p| p.instance.title.as_str())
            .filter(|title| all_titles.contains(*title))
            .collect();
        if planned.is_empty() {
            return Ok(Vec::new());
        }
        let computer = self.plan.computer_id.as_str();
        let ours: BTreeSet<String> =
            match self.client.json_rpc().compute_node_instance_list(computer) {
                Ok(list) => list.into_iter().map(|instance| instance.title).collect(),
                // The proxy answers 403 for a computer it does not know.
                Err(error) if error.status() == Some(403) => BTreeSet::new(),
                Err(source) => {
                    return Err(Error::Master {
                        url: self.client.url().to_string(),
                        step,
                        source: Box::new(source),
                    });
                }
            };
        let mut clashes = Vec::new();
        for title in planned.into_iter().filter(|title| !ours.contains(*title)) {
            // A user request's guid on a proxy: "<title>___<requested_by>___0".
            let guid = format!("{title}______0");
            let elsewhere = self.client.json_rpc().software_instance(&guid).map_or_else(
                |_| "another computer".to_string(),
                |record| record.computer_guid,
            );
            clashes.push((title.to_string(), elsewhere));
        }
        Ok(clashes)
    }

    /// Request the partition's instance and shared instances, bang it and
    /// remove its timestamp. Returns a warning, if any.
    fn graft_partition(
        &mut self,
        partition: &PlannedPartition,
        grafted: &[&PlannedPartition],
        incremental: &mut bool,
        observer: &mut dyn GraftObserver,
    ) -> Result<Option<String>, PartitionFailure> {
        let computer = self.plan.computer_id.as_str();
        if *incremental {
            self.register_placed_plus(grafted, partition)?;
        }
        let mut answer = self
            .client
            .request_instance(&instance_request(computer, partition))?;
        if answer.computer_id != computer {
            return Err(PartitionFailure {
                reason: format!(
                    "the master put instance \"{}\" on computer {}, not {computer}",
                    partition.instance.title, answer.computer_id
                ),
                unreachable: false,
            });
        }
        if answer.partition_id != partition.id.as_str() {
            if *incremental {
                return Err(PartitionFailure {
                    reason: format!(
                        "the master put instance \"{}\" in {} although {} was the only free partition",
                        partition.instance.title, answer.partition_id, partition.id
                    ),
                    unreachable: false,
                });
            }
            // Fall back: drop the misplaced instance (its partition is not in
            // the new registration) and make this partition the only free one.
            *incremental = true;
            self.report.placement = Placement::IncrementalFallback {
                from: partition.id.clone(),
                misplaced_into: answer.partition_id.clone(),
            };
            self.register_placed_plus(grafted, partition)?;
            answer = self
                .client
                .request_instance(&instance_request(computer, partition))?;
            if answer.partition_id != partition.id.as_str() {
                return Err(PartitionFailure {
                    reason: format!(
                        "the master put instance \"{}\" in {} although {} was the only free partition",
                        partition.instance.title, answer.partition_id, partition.id
                    ),
                    unreachable: false,
                });
            }
        }
        observer.event(GraftEvent::SharedInstances {
            id: partition.id.as_str(),
            count: partition.shared_instances.len(),
        });
        for shared in &partition.shared_instances {
            let request = shared_instance_request(computer, partition, shared);
            let hosted = self.client.request_shared_instance(&request)?;
            if hosted.partition_id != partition.id.as_str() {
                return Err(PartitionFailure {
                    reason: format!(
                        "the master attached shared instance \"{}\" to {} instead of {}",
                        shared.title, hosted.partition_id, partition.id
                    ),
                    unreachable: false,
                });
            }
        }
        self.client
            .bang(computer, partition.id.as_str(), BANG_MESSAGE)?;
        let removed = remove_timestamp(partition);
        if let Ok(existed) = removed {
            observer.event(GraftEvent::TimestampRemoved {
                id: partition.id.as_str(),
                path: &partition.timestamp_file,
                existed,
            });
        }
        Ok(removed.err())
    }

    fn register_placed_plus(
        &self,
        grafted: &[&PlannedPartition],
        next: &PlannedPartition,
    ) -> Result<(), MasterError> {
        let mut partitions = grafted.to_vec();
        partitions.push(next);
        self.client
            .load_computer_configuration(&self.registration(&partitions))
    }

    fn succeed(&mut self, partition: &PlannedPartition, warning: Option<String>) {
        self.push(partition, PartitionStatus::Grafted, None, warning);
    }

    fn fail(&mut self, partition: &PlannedPartition, reason: String) {
        self.push(partition, PartitionStatus::Failed, Some(reason), None);
    }

    fn push(
        &mut self,
        partition: &PlannedPartition,
        status: PartitionStatus,
        reason: Option<String>,
        warning: Option<String>,
    ) {
        self.report.partitions.push(PartitionReport {
            id: partition.id.clone(),
            status,
            instance_title: Some(partition.instance.title.clone()),
            shared_instances: partition.shared_instances.len(),
            reason,
            warning,
        });
    }
}

/// The registration of the plan's computer (its address) with these
/// partitions (ids, addresses with netmasks, tap names), in this order.
pub fn computer_registration(
    plan: &GraftPlan,
    partitions: &[&PlannedPartition],
) -> ComputerRegistration {
    let mut computer = ComputerRegistration::new(plan.computer_id.as_str());
    computer.address = plan.address;
    computer.netmask = plan.netmask.map(|mask| mask.to_string());
    computer.partitions = partitions
        .iter()
        .map(|partition| {
            let mut registration = PartitionRegistration::new(partition.id.as_str());
            registration.tap_name = partition.tap_name.clone().unwrap_or_default();
            registration.addresses.clone_from(&partition.addresses);
            registration
        })
        .collect();
    computer
}

/// The request of the partition's instance, on `computer`, in its requested state.
pub fn instance_request(computer: &str, partition: &PlannedPartition) -> InstanceRequest {
    let instance = &partition.instance;
    let mut request = InstanceRequest::new(
        computer,
        &instance.software_url,
        &instance.software_type,
        &instance.title,
    );
    request.parameters.clone_from(&instance.parameters);
    request.state = Some(instance.state);
    request
}

/// The request of one of the partition's shared instances, hosted by that
/// partition's instance.
pub fn shared_instance_request(
    computer: &str,
    partition: &PlannedPartition,
    shared: &PlannedSharedInstance,
) -> SharedInstanceRequest {
    let mut request = SharedInstanceRequest::new(
        computer,
        &partition.instance.software_url,
        &shared.software_type,
        &shared.title,
    );
    request.parameters.clone_from(&shared.parameters);
    request.host_instance_guid = Some(format!("{computer}-{}", partition.id));
    request
}

/// Remove the partition's `.timestamp` so that the node reprocesses it. The
/// file is unlinked, never followed; a missing file is fine.
/// Whether the timestamp existed, or the warning saying it could not be removed.
fn remove_timestamp(partition: &PlannedPartition) -> Result<bool, String> {
    bouture_fs::remove_if_exists(&partition.timestamp_file).map_err(|error| {
        format!("{error}; remove it by hand so that the node reprocesses the partition")
    })
}

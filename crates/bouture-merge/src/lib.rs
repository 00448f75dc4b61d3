//! Merge Ganeti 3.0 cluster configurations (`config.data`), the job of
//! Ganeti's broken `tools/cluster-merge`, done completely.
//!
//! The merging clusters' nodes are added offline and as non-candidates,
//! their node groups, instances, disks and networks are added whole (UUIDs
//! and unknown fields kept), and every DRBD port and console port they use is
//! reallocated from our cluster's port pool. Every conflict (UUIDs, names,
//! addresses, incompatible cluster parameters) is found before anything is
//! written, and reported together.
//!
//! Inputs are trusted in nothing: only regular files of bounded size are
//! read; duplicate keys, keys that are not their object's uuid, broken
//! references and port bookkeeping that contradicts the objects are refused
//! (or, for our port bookkeeping, repaired and reported) before anything is
//! written.
//!
//! The steps are separate and usable on their own:
//!
//! 1. parse: [`ConfigFile::read`] / [`ConfigFile::parse`];
//! 2. check: [`check_references`], [`check`] (every conflict and warning);
//! 3. plan: [`plan`] (checks, decides the groups' fate, allocates ports);
//! 4. apply: [`apply`] or [`Merged`] (the merged text), then [`write_atomically`];
//! 5. report: [`Report`].
//!
//! [`merge_files`] does all of it.
//!
//! ```no_run
//! use bouture_merge::{merge_files, GroupStrategy, MergeOptions};
//!
//! # fn main() -> Result<(), bouture_merge::Error> {
//! let options = MergeOptions { groups: Some(GroupStrategy::Rename), ..MergeOptions::default() };
//! let report = merge_files(
//!     "/var/lib/ganeti/config.data".as_ref(),
//!     &["/root/other_config.data".as_ref()],
//!     Some("/root/merged_config.data".as_ref()),
//!     &options,
//! )?;
//! assert_eq!(report.merged.len(), 1);
//! # Ok(())
//! # }
//! ```

mod apply;
mod conflicts;
mod error;
mod groups;
mod json;
mod model;
mod params;
mod plan;
mod ports;
mod raw;
mod references;
mod report;
mod write;

use std::path::Path;
use std::time::Instant;

pub use apply::{Merged, apply};
pub use conflicts::{Conflict, ConflictKind, ObjectKind, ObjectRef, find_conflicts};
pub use error::Error;
pub use groups::{GroupAction, GroupPlan, GroupStrategy, plan_groups};
pub use model::{
    Cluster, ConfigFile, DEFAULT_MAX_INPUT_SIZE, Disk, Field, Instance, Members, Network, Nic,
    NicParams, Node, NodeGroup, SECTIONS, SUPPORTED_VERSION, is_drbd, version_name,
};
pub use params::{ParamOutcome, ParameterPolicy, Warning, check_parameters};
pub use plan::{CheckOutcome, MergeOptions, MergePlan, PortChange, PortKind, Repair, check, plan};
pub use ports::{GANETI_FIRST_PORT, GANETI_LAST_PORT, PortAllocator, PortRange, PortRangeError};
pub use raw::RawObject;
pub use references::check_references;
pub use report::{GroupOutcome, MergedCluster, Phases, PortSummary, Report};
pub use write::{OUTPUT_MODE, check_output, check_output_is_not_input, write_atomically};

/// Read `ours` and every file of `theirs`, merge them and, unless `output`
/// is `None` or `options.dry_run` is set, write the result atomically to
/// `output`. The output path is checked in a dry run too (not an input, a
/// regular file if it exists, in an existing directory).
///
/// # Errors
///
/// Any [`Error`]; nothing is written when one is returned.
pub fn merge_files(
    ours: &Path,
    theirs: &[&Path],
    output: Option<&Path>,
    options: &MergeOptions,
) -> Result<Report, Error> {
    let mut phases = Phases::default();
    let inputs: Vec<&Path> = std::iter::once(ours)
        .chain(theirs.iter().copied())
        .collect();
    if let Some(output) = output {
        check_output_is_not_input(output, &inputs)?;
        check_output(output)?;
    }
    let mut configs = Vec::with_capacity(inputs.len());
    for path in &inputs {
        let start = Instant::now();
        let text = model::read_text(path, options.max_input_size)?;
        phases.read += start.elapsed();
        let start = Instant::now();
        configs.push(ConfigFile::from_string(text, path)?);
        phases.parse += start.elapsed();
    }
    let their_configs = configs.split_off(1);
    let Some(our_config) = configs.pop() else {
        return Err(Error::Output {
            path: ours.to_owned(),
            problem: "no configuration was read".to_owned(),
        });
    };
    let plan = plan::plan_timed(&our_config, &their_configs, options, &mut phases)?;
    let write_to = output.filter(|_| !options.dry_run);
    if let Some(output) = write_to {
        let start = Instant::now();
        let merged = Merged::new(&our_config, &their_configs, &plan)?;
        phases.apply = start.elapsed();
        let start = Instant::now();
        let mut written = start;
        write::write_with(output, |out| {
            merged.write(out)?;
            written = Instant::now();
            Ok(())
        })?;
        phases.write = written - start;
        phases.fsync = written.elapsed();
    }
    let start = Instant::now();
    let mut report = Report::new(
        &our_config,
        &their_configs,
        &plan,
        output.map(Path::to_owned),
    );
    report.dry_run = write_to.is_none();
    phases.report = start.elapsed();
    let start = Instant::now();
    drop((our_config, their_configs, plan));
    phases.free = start.elapsed();
    report.phases = phases;
    Ok(report)
}

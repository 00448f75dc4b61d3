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
//! The steps are separate and usable on their own:
//!
//! 1. parse: [`ConfigFile::read`] / [`ConfigFile::parse`];
//! 2. check: [`check`] (every conflict and warning);
//! 3. plan: [`plan`] (checks, decides the groups' fate, allocates ports);
//! 4. apply: [`apply`] (the merged text), then [`write_atomically`];
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
mod model;
mod params;
mod plan;
mod ports;
mod raw;
mod report;
mod write;

use std::path::Path;

pub use apply::apply;
pub use conflicts::find_conflicts;
pub use error::{
    Conflict, ConflictKind, Error, ObjectKind, ObjectRef, SUPPORTED_VERSION, version_name,
};
pub use groups::{GroupAction, GroupPlan, GroupStrategy, plan_groups};
pub use model::{
    Cluster, ConfigFile, Disk, Instance, Network, Nic, NicParams, Node, NodeGroup, SECTIONS,
    is_drbd,
};
pub use params::{ParamOutcome, ParameterPolicy, Warning, check_parameters};
pub use plan::{CheckOutcome, MergeOptions, MergePlan, PortChange, PortKind, check, plan};
pub use ports::{GANETI_FIRST_PORT, GANETI_LAST_PORT, PortAllocator, PortRange};
pub use raw::RawObject;
pub use report::{GroupOutcome, MergedCluster, PortSummary, Report};
pub use write::{OUTPUT_MODE, check_output_is_not_input, write_atomically};

/// Read `ours` and every file of `theirs`, merge them and, unless `output`
/// is `None` (a dry run), write the result atomically to `output`.
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
    if let Some(output) = output {
        let inputs: Vec<&Path> = std::iter::once(ours)
            .chain(theirs.iter().copied())
            .collect();
        check_output_is_not_input(output, &inputs)?;
    }
    let paths: Vec<&Path> = std::iter::once(ours)
        .chain(theirs.iter().copied())
        .collect();
    let mut configs = ConfigFile::read_all(&paths)?;
    let their_configs = configs.split_off(1);
    let Some(our_config) = configs.pop() else {
        return Err(Error::Read {
            path: ours.to_owned(),
            source: std::io::Error::other("no configuration was read"),
        });
    };
    let plan = plan(&our_config, &their_configs, options)?;
    if let Some(output) = output {
        let bytes = apply(&our_config, &their_configs, &plan)?;
        write_atomically(output, &bytes)?;
    }
    Ok(Report::new(
        &our_config,
        &their_configs,
        &plan,
        output.map(Path::to_owned),
    ))
}

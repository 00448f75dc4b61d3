#![doc = include_str!("../README.md")]

mod apply;
mod conflicts;
mod error;
mod groups;
pub mod internals;
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
use std::time::{Duration, Instant};

pub use apply::{Merged, apply};
/// Why an input was not read (the source of [`Error::Read`]), so that a
/// caller can tell a file over the size bound from an unreadable one
/// without depending on `bouture-fs` itself.
pub use bouture_fs::ReadError;
pub use conflicts::{Conflict, ConflictKind, ObjectKind, ObjectRef, find_conflicts};
pub use error::Error;
pub use groups::{GroupAction, GroupPlan, GroupStrategy, plan_groups};
pub use model::{
    Cluster, ConfigFile, DEFAULT_MAX_INPUT_SIZE, Disk, Field, Instance, List, Lv, MAX_TEXT_SIZE,
    Members, Network, Nic, NicParams, Node, NodeGroup, SECTIONS, SUPPORTED_VERSION, Str, is_drbd,
    version_name,
};
pub use params::{ParamReport, ParameterPolicy, Warning, check_parameters};
pub use plan::{CheckReport, MergePlan, Options, PortChange, PortKind, Repair, check, plan};
pub use ports::{GANETI_FIRST_PORT, GANETI_LAST_PORT, PortAllocator, PortRange, PortRangeError};
pub use raw::{RawObject, SetMember};
pub use references::check_references;
pub use report::{GroupReport, MergedCluster, Phases, PortSummary, Report};
pub use write::{
    OUTPUT_LOCK_WAIT, OUTPUT_MODE, check_output, check_output_is_not_input, write_atomically,
};

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
    options: &Options,
) -> Result<Report, Error> {
    let (mut report, parsed) = internals::merge_files_keeping(ours, theirs, output, options)?;
    let start = Instant::now();
    drop(parsed);
    report.phases.free = start.elapsed();
    Ok(report)
}

/// Inputs smaller than this are read one after the other: a thread costs
/// more than it saves on them.
const PARALLEL_BYTES: u64 = 4 << 20;

/// Read and parse every input, each in its own thread when they are large.
/// `phases` gets the time the merge spent reading and parsing: the sum over
/// the inputs, or the longest of each when they were read in parallel.
pub(crate) fn read_inputs(
    paths: &[&Path],
    max_size: u64,
    phases: &mut Phases,
) -> Result<Vec<ConfigFile>, Error> {
    let one = |path: &Path| -> Result<(ConfigFile, Duration, Duration), Error> {
        let start = Instant::now();
        let text = model::read_text(path, max_size)?;
        let read = start.elapsed();
        let start = Instant::now();
        let config = ConfigFile::from_string(text, path)?;
        Ok((config, read, start.elapsed()))
    };
    let large = paths.len() > 1
        && paths
            .iter()
            .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() >= PARALLEL_BYTES))
            .count()
            > 1;
    let results: Vec<Result<(ConfigFile, Duration, Duration), Error>> = if large {
        std::thread::scope(|scope| {
            let handles: Vec<_> = paths
                .iter()
                .skip(1)
                .map(|path| scope.spawn(move || one(path)))
                .collect();
            let first = paths.first().map(|path| one(path));
            first
                .into_iter()
                .chain(
                    handles
                        .into_iter()
                        .zip(paths.iter().skip(1))
                        .map(|(handle, path)| {
                            handle.join().unwrap_or_else(|_| {
                                Err(Error::Output {
                                    path: path.to_path_buf(),
                                    problem: "the thread reading this input failed".to_owned(),
                                })
                            })
                        }),
                )
                .collect()
        })
    } else {
        paths.iter().map(|path| one(path)).collect()
    };
    let mut configs = Vec::with_capacity(paths.len());
    for result in results {
        let (config, read, parse) = result?;
        // Inputs read one after the other add up; read in parallel, the
        // longest is what the merge waited for.
        if large {
            phases.read = phases.read.max(read);
            phases.parse = phases.parse.max(parse);
        } else {
            phases.read += read;
            phases.parse += parse;
        }
        configs.push(config);
    }
    Ok(configs)
}

//! Public for the `bouture` binary's speed only, **not a stable API**: it
//! may change or go in any release. Embedders call [`crate::merge_files`].
//!
//! The binary's `main` leaves the parsed inputs of a merge to the process
//! exit instead of freeing them (tens of milliseconds at 10,000 instances per
//! cluster); [`merge_files_keeping`] and [`Parsed`] are what it needs.

use std::path::Path;
use std::time::Instant;

use crate::model::ConfigFile;
use crate::plan::MergePlan;
use crate::report::{Phases, Report};
use crate::write::{check_output, check_output_is_not_input};
use crate::{Error, Merged, Options};

/// The parsed inputs and the plan of a merge, handed back by
/// [`merge_files_keeping`]. Dropping it frees them, which takes time in
/// proportion to the number of objects (tens of milliseconds at 10,000
/// instances per cluster); a process about to exit can leave that to the
/// exit instead (the `bouture` binary does, in its `main` only).
#[must_use = "dropping it frees the parsed inputs; keep it only to leave them to the process exit"]
pub struct Parsed {
    _inputs: (ConfigFile, Vec<ConfigFile>, MergePlan),
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed").finish_non_exhaustive()
    }
}

/// [`merge_files`](crate::merge_files), handing the parsed inputs back instead of freeing them
/// ([`Parsed`]); the report's `phases.free` is then zero.
///
/// # Errors
///
/// Any [`Error`](crate::Error); nothing is written when one is returned.
pub fn merge_files_keeping(
    ours: &Path,
    theirs: &[&Path],
    output: Option<&Path>,
    options: &Options,
) -> Result<(Report, Parsed), Error> {
    let mut phases = Phases::default();
    let inputs: Vec<&Path> = std::iter::once(ours)
        .chain(theirs.iter().copied())
        .collect();
    if let Some(output) = output {
        check_output_is_not_input(output, &inputs)?;
        check_output(output)?;
    }
    let mut configs = crate::read_inputs(&inputs, options.max_input_size, &mut phases)?;
    let their_configs = configs.split_off(1);
    let Some(our_config) = configs.pop() else {
        return Err(Error::Output {
            path: ours.to_owned(),
            problem: "no configuration was read".to_owned(),
        });
    };
    let plan = crate::plan::plan_timed(&our_config, &their_configs, options, &mut phases)?;
    let write_to = output.filter(|_| !options.dry_run);
    if let Some(output) = write_to {
        let start = Instant::now();
        let merged = Merged::new(&our_config, &their_configs, &plan)?;
        phases.apply = start.elapsed();
        let start = Instant::now();
        let mut written = start;
        crate::write::write_with(output, options.lock_wait, |out| {
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
    report.phases = phases;
    let parsed = Parsed {
        _inputs: (our_config, their_configs, plan),
    };
    Ok((report, parsed))
}

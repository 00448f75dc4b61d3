#![doc = include_str!("../README.md")]

mod apply;
mod cert;
mod error;
mod input;
mod plan;
mod report;
mod start;

pub use apply::DataDirLock;
pub use cert::{CLIENT_CERT_VALIDITY_DAYS, CLIENT_KEY_BITS};
pub use error::Error;
pub use input::{INPUT_KEYS, MAX_INPUT_BYTES, Secret, SetupInput};
pub use plan::{
    BACKUP_MODE, CERT_MODE, DEFAULT_DATA_DIR, DEFAULT_START_COMMAND, DEFAULT_START_DEADLINE,
    FileKind, MAX_EXISTING_BYTES, Options, Plan, PlannedWrite, SSCONF_MAX_BYTES, SSCONF_MODE,
    VALID_SSCONF_KEYS, check, default_start_command, masterd_owner, ssconf_contents,
};
pub use report::Report;
pub use start::{MAX_OUTPUT_BYTES, StartOutcome, StartPart};

/// Read the master's JSON document from `reader` (at most
/// [`MAX_INPUT_BYTES`]) and [`setup`] the node with it: what the CLI does
/// with its standard input, for any reader.
///
/// # Errors
///
/// The document refused ([`SetupInput::read`]), or any error of [`setup`].
pub fn setup_from_reader(reader: impl std::io::Read, options: &Options) -> Result<Report, Error> {
    setup(&SetupInput::read(reader)?, options)
}

/// Set the node up: lock the data directory, run every [`check`], then
/// (unless [`Options::dry_run`]) [`Plan::apply`] the writes and, if the
/// input asks for it, run the start command.
///
/// A start command that fails is not an error: the files are written; the
/// report's [`Report::start`] says [`StartOutcome::Failed`].
///
/// # Errors
///
/// Any [`Error`]: the check that failed (nothing written), or a write that
/// failed (what was written put back).
pub fn setup(input: &SetupInput, options: &Options) -> Result<Report, Error> {
    let _lock = DataDirLock::acquire(&options.data_dir)?;
    let plan = check(input, options)?;
    if options.dry_run {
        let start = match &plan.start_command {
            Some(parts) => StartOutcome::WouldRun {
                command: parts.join("; "),
            },
            None => StartOutcome::NotRequested,
        };
        return Ok(Report::new(&plan, true, start));
    }
    plan.apply()?;
    let start = match &plan.start_command {
        Some(parts) => start::run(parts, options.start_deadline),
        None => StartOutcome::NotRequested,
    };
    Ok(Report::new(&plan, false, start))
}

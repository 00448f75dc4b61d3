//! Embedding example: merge Ganeti clusters' `config.data` files into ours with the
//! `bouture` crate (what `bouture merge` does).
//!
//! ```text
//! cargo run --example merge -- /var/lib/ganeti/config.data other.data merged.data
//! ```

use std::path::Path;

use bouture::merge::{GroupStrategy, Options, Report, merge_files};

/// Merge `theirs` into `ours` and write the result to `output` (atomically; nothing is
/// written when anything is refused). A node group of theirs named like one of ours is
/// renamed (`bouture merge --groups rename`); `options` says the rest (the DRBD port
/// range, the parameter policy).
///
/// # Errors
///
/// An input unreadable or invalid, conflicts between the clusters, or the output refused.
pub fn run(
    ours: &Path,
    theirs: &[&Path],
    output: &Path,
    mut options: Options,
) -> Result<Report, bouture::merge::Error> {
    options.groups = Some(GroupStrategy::Rename);
    merge_files(ours, theirs, Some(output), &options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<std::path::PathBuf> = std::env::args_os().skip(1).map(Into::into).collect();
    let [ours, theirs @ .., output] = args.as_slice() else {
        return Err("usage: merge OURS THEIRS... OUTPUT".into());
    };
    let theirs: Vec<&Path> = theirs.iter().map(std::path::PathBuf::as_path).collect();
    let report = run(ours, &theirs, output, Options::default())?;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "merged {} cluster(s) into {}; {} port(s) renumbered",
            report.merged.len(),
            report.cluster,
            report.port_changes.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bouture::merge::Options;
    use bouture_test_support::ganeti::assert_ganeti_valid;
    use bouture_test_support::ganeti_config::{FIXTURE_30, renamed_copy};

    #[test]
    fn merges_a_renamed_copy_into_a_file_ganeti_accepts() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("ours.data");
        let theirs = dir.path().join("theirs.data");
        let output = dir.path().join("merged.data");
        std::fs::write(&ours, FIXTURE_30).unwrap();
        std::fs::write(&theirs, renamed_copy(FIXTURE_30, "beef")).unwrap();

        // The fixture's DRBD ports are above Ganeti's default range.
        let options = || Options {
            port_range: "11000-65535".parse().unwrap(),
            ..Options::default()
        };
        let report = super::run(&ours, &[&theirs], &output, options()).unwrap();
        assert_eq!(report.merged.len(), 1);
        assert!(!report.dry_run);
        assert_ganeti_valid(&[&output]);

        // A cluster merged with itself conflicts everywhere: refused, nothing written.
        let again = dir.path().join("again.data");
        assert!(super::run(&ours, &[&ours], &again, options()).is_err());
        assert!(!again.exists());
    }
}

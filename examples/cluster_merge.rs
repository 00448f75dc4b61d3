//! Embedding example: plan a live Ganeti cluster merge with the `bouture` crate, without
//! changing anything (what `bouture cluster-merge --dry-run` does): discovery over SSH,
//! the merged configuration checked in memory, and the plan of every step.
//!
//! ```text
//! cargo run --example cluster_merge -- /var/lib/bouture-cluster-merge other.example.com
//! ```

use std::path::Path;

use bouture::cluster_merge::{
    Error, Options, Outcome, Quiet, SshOptions, SystemExecutor, run as merge,
};

/// The plan of merging (an [`Outcome::Planned`], `dry_run` being set) `clusters` (their master's names) into the cluster this node is
/// the master of; `state_dir` is where a real run would keep its journal (nothing is
/// written there).
///
/// # Errors
///
/// A cluster named twice or not a host name, a command over SSH failed, or the
/// clusters cannot be merged (conflicts, the merged configuration refused).
pub fn run(state_dir: &Path, clusters: Vec<String>) -> Result<Outcome, Error> {
    let mut options = Options::new(clusters, state_dir.to_path_buf());
    options.dry_run = true;
    let mut executor = SystemExecutor::new(SshOptions::default());
    merge(&options, &mut executor, &mut Quiet)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let state_dir = args
        .next()
        .ok_or("usage: cluster_merge STATE_DIR CLUSTER...")?;
    let Outcome::Planned(prepared) = run(Path::new(&state_dir), args.collect())? else {
        return Err("a dry run ran the merge".into());
    };
    #[allow(clippy::print_stdout)]
    {
        println!(
            "{} step(s) to merge {} cluster(s) into {}",
            prepared.plan.steps.len(),
            prepared.merge.merged.len(),
            prepared.merge.cluster
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bouture::cluster_merge::Error;

    /// Checked before anything runs (no cluster needed): a cluster named twice, under
    /// two spellings of one host name.
    #[test]
    fn a_cluster_named_twice_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let clusters = vec!["b.example.com".to_owned(), "B.example.com.".to_owned()];
        let error = super::run(&state, clusters).unwrap_err();
        assert!(matches!(error, Error::Duplicate { .. }), "{error}");
        assert!(!state.exists(), "a dry run writes nothing");
    }
}

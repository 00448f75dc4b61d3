//! `bouture cluster-merge` argument handling (the merge itself is tested on
//! simulated clusters in bouture-cluster-merge).

use crate::support::bouture;

#[test]
fn usage_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let state = root.join("state");
    let state = state.to_str().unwrap();

    // A cluster is needed unless resuming; --dry-run and --resume exclude each other.
    let run = bouture(&["cluster-merge", "--state-dir", state], root);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("<CLUSTER>"), "{}", run.stderr);
    let run = bouture(
        &[
            "cluster-merge",
            "--dry-run",
            "--resume",
            "--state-dir",
            state,
        ],
        root,
    );
    assert_eq!(run.code, 2, "{}", run.stderr);

    // Nothing to resume: exit 1, and the state directory is private.
    let run = bouture(&["cluster-merge", "--resume", "--state-dir", state], root);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("nothing to resume: no journal in [ROOT]/state"),
        "{}",
        run.stderr
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(root.join("state")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);

    // A cluster given twice is refused before anything is looked at.
    let run = bouture(
        &[
            "cluster-merge",
            "b.example.com",
            "B.example.com.",
            "--state-dir",
            state,
        ],
        root,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cluster b.example.com is given twice"),
        "{}",
        run.stderr
    );
}

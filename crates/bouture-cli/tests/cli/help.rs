//! `--help` of every command, so that help changes show up in review.

use crate::support::bouture;

#[test]
fn help_of_every_command() {
    let root = std::env::temp_dir();
    insta::assert_snapshot!("bouture", bouture(&["--help"], &root).snapshot());
    for command in [
        "inventory",
        "graft",
        "configure",
        "failover",
        "status",
        "cluster-merge",
    ] {
        let run = bouture(&[command, "--help"], &root);
        assert_eq!(run.code, 0);
        insta::assert_snapshot!(command, run.snapshot());
    }
}

#[test]
fn usage_errors_exit_2() {
    let root = std::env::temp_dir();
    let run = bouture(&["inventory", "--format", "yaml"], &root);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid value 'yaml' for '--format"),
        "{}",
        run.stderr
    );
    let run = bouture(&["no-such-command"], &root);
    assert_eq!(run.code, 2);
}

//! `--help` of every command, so that help changes show up in review.

use clap::CommandFactory;

use crate::support::bouture;

/// Every subcommand, from the clap definition itself (a new command gets a
/// help snapshot without anyone listing it).
fn subcommands() -> Vec<String> {
    bouture_cli::Cli::command()
        .get_subcommands()
        .map(|command| command.get_name().to_string())
        .collect()
}

#[test]
fn help_of_every_command() {
    let root = std::env::temp_dir();
    insta::assert_snapshot!("bouture", bouture(&["--help"], &root).snapshot());
    let commands = subcommands();
    assert!(commands.len() >= 6, "{commands:?}");
    for command in &commands {
        let command = command.as_str();
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

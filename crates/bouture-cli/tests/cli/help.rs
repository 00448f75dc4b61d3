//! `--help` of every command, so that help changes show up in review, and
//! `--version`.

use crate::support::bouture;

#[test]
fn help_of_every_command() {
    let root = std::env::temp_dir();
    insta::assert_snapshot!("bouture", bouture(&["--help"], &root).snapshot());
    // Every command clap knows, nested ones included, from the same list the
    // man pages are generated from (a new command gets a help snapshot, to be
    // reviewed, without anyone listing it).
    let commands = bouture_cli::assets::subcommands();
    assert!(commands.len() >= 7, "{commands:?}");
    for command in &commands {
        let run = bouture(&[command.as_str(), "--help"], &root);
        assert_eq!(run.code, 0);
        insta::assert_snapshot!(command.replace(' ', "-"), run.snapshot());
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

#[test]
fn version_names_the_commit_and_the_target() {
    let root = std::env::temp_dir();
    let run = bouture(&["--version"], &root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let line = run.stdout.trim_end();
    let (head, rest) = line
        .split_once(" (commit ")
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(head, concat!("bouture ", env!("CARGO_PKG_VERSION")));
    let (commit, target) = rest
        .strip_suffix(')')
        .and_then(|rest| rest.split_once(", target "))
        .unwrap_or_else(|| panic!("{line}"));
    let hex = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        commit == "unknown" || (hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit())),
        "{line}"
    );
    // This checkout is a git one: the commit is HEAD's unless the build was
    // told otherwise (BOUTURE_GIT_COMMIT, as scripts/package does).
    if std::env::var_os("BOUTURE_GIT_COMMIT").is_none() {
        let head = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert_eq!(hex, String::from_utf8_lossy(&head.stdout).trim(), "{line}");
    }
    assert_eq!(target, bouture_cli::BUILD_TARGET);
    assert!(target.contains("linux"), "{line}");
    // -V stays short.
    let short = bouture(&["-V"], &root);
    assert_eq!(
        short.stdout,
        concat!("bouture ", env!("CARGO_PKG_VERSION"), "\n")
    );
}

#[test]
fn completions_for_each_shell() {
    let root = std::env::temp_dir();
    for (shell, marker) in [
        ("bash", "complete -F _bouture"),
        ("zsh", "#compdef bouture"),
        ("fish", "complete -c bouture"),
    ] {
        let run = bouture(&["completions", shell], &root);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("graft"), "{shell}");
    }
    let run = bouture(&["completions", "tcsh"], &root);
    assert_eq!(run.code, 2);
}

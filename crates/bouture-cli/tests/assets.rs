//! The generated man pages and completion scripts (`bouture_cli::assets`),
//! in process: one page per command, every flag documented, the examples and
//! exit status of `--help` in their sections. `scripts/test-package` checks
//! the same pages once installed by the Debian package.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use bouture_cli::assets;

/// The page's text with roff's escaped dashes made plain.
fn text(page: &assets::ManPage) -> String {
    String::from_utf8(page.roff.clone())
        .unwrap()
        .replace("\\-", "-")
}

/// The clap command that `command` (`bouture graft`) names.
fn find(command: &str) -> clap::Command {
    let mut current = assets::command();
    for word in command.split(' ').skip(1) {
        current = current.find_subcommand(word).unwrap().clone();
    }
    current
}

#[test]
fn one_page_per_visible_command() {
    let pages = assets::man_pages().unwrap();
    let names: Vec<_> = pages.iter().map(|page| page.file_name.clone()).collect();
    let mut expected = vec!["bouture.1".to_string()];
    for sub in assets::subcommands() {
        expected.push(format!("bouture-{}.1", sub.replace(' ', "-")));
    }
    assert_eq!(names, expected);
    assert!(assets::subcommands().contains(&"completions".to_string()));
    assert!(!assets::subcommands().contains(&"help".to_string()));
}

#[test]
fn every_page_documents_every_flag_of_its_command() {
    for page in assets::man_pages().unwrap() {
        let command = find(&page.command);
        let roff = text(&page);
        let options = roff
            .split(".SH OPTIONS")
            .nth(1)
            .unwrap_or_else(|| panic!("{} has no OPTIONS", page.file_name));
        for arg in command.get_arguments().filter(|arg| !arg.is_hide_set()) {
            if let Some(long) = arg.get_long() {
                assert!(
                    options.contains(&format!("--{long}")),
                    "{} lacks --{long}",
                    page.file_name
                );
            }
            if let Some(short) = arg.get_short() {
                assert!(
                    options.contains(&format!("-{short}")),
                    "{} lacks -{short}",
                    page.file_name
                );
            }
        }
    }
}

#[test]
fn examples_and_exit_status_have_their_sections() {
    for page in assets::man_pages().unwrap() {
        if page.command == "bouture" {
            continue;
        }
        let command = find(&page.command);
        let after = command.get_after_help().unwrap().to_string();
        let roff = text(&page);
        assert!(
            after.lines().any(|line| line == "Examples:") && roff.contains(".SH EXAMPLES\n"),
            "{}: every command's --help has examples, and its page an EXAMPLES section",
            page.file_name
        );
        assert!(
            after.contains("Exit status:") && roff.contains(".SH \"EXIT STATUS\"\n"),
            "{}: every command's --help has its exit status, and its page an EXIT STATUS section",
            page.file_name
        );
        // A page names its parent's page: bouture(1), or bouture-deploy(1)
        // for `bouture deploy plan`.
        let parent = page
            .command
            .rsplit_once(' ')
            .map_or("bouture".to_owned(), |(parent, _)| parent.replace(' ', "-"));
        assert!(
            roff.contains(&format!(".SH \"SEE ALSO\"\n\\fB{parent}\\fR(1)")),
            "{}: SEE ALSO names {parent}(1)",
            page.file_name
        );
    }
}

#[test]
fn the_inventory_page() {
    let pages = assets::man_pages().unwrap();
    let page = pages
        .iter()
        .find(|page| page.file_name == "bouture-inventory.1")
        .unwrap();
    let roff = String::from_utf8(page.roff.clone()).unwrap();
    insta::with_settings!({filters => vec![(r"commit [0-9a-f]{12}(-dirty)?|commit unknown", "commit [COMMIT]")]}, {
        insta::assert_snapshot!(roff);
    });
}

#[test]
fn completion_scripts_know_every_subcommand() {
    for shell in assets::SHELLS {
        let script = String::from_utf8(assets::completion_script(shell)).unwrap();
        for sub in assets::subcommands() {
            // A nested command (`deploy plan`) is completed by its last word.
            let word = sub.rsplit(' ').next().unwrap_or(&sub);
            assert!(script.contains(word), "{shell} completion lacks {sub}");
        }
        assert!(
            script.contains("new-master-url"),
            "{shell} completion lacks flags"
        );
    }
}

#[test]
fn the_slapos_commands_pages_name_every_spelling_of_log_file() {
    let pages = assets::man_pages().unwrap();
    for name in ["bouture-graft.1", "bouture-failover.1", "bouture.1"] {
        let page = pages.iter().find(|page| page.file_name == name).unwrap();
        let roff = String::from_utf8_lossy(&page.roff);
        assert!(roff.contains("log\\-file"), "{name}: {roff}");
        assert!(
            roff.contains("[aliases: \\-\\-logfile, \\-\\-log_file]"),
            "{name}: {roff}"
        );
    }
}

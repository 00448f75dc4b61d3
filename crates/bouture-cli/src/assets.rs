//! Man pages and shell completion scripts, generated from the clap
//! definitions of [`Cli`]: never written by hand, so they cannot
//! drift from `--help`.
//!
//! `bouture completions SHELL` prints [`completion_script`]; the packaging
//! generator (`cargo xtask dist-assets`, run by `scripts/package`) writes
//! every [`man_pages`] page and every completion script for the Debian
//! package. Both derive the subcommands from [`command`], so a command added
//! to [`Command`](crate::Command) gets its page and its completions with no
//! other change.

use std::io;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::Cli;

/// The name of the installed program, as man pages and completions call it.
pub const BIN_NAME: &str = "bouture";

/// The man page section of every page (user commands).
pub const MAN_SECTION: &str = "1";

/// The shells whose completion scripts the package installs.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// One generated manual page.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManPage {
    /// The command it documents, as typed: `bouture` or `bouture graft`.
    pub command: String,
    /// Its file name: `bouture.1`, `bouture-graft.1`.
    pub file_name: String,
    /// The page, in roff (uncompressed).
    pub roff: Vec<u8>,
}

/// The `bouture` command as clap sees it, built (subcommands know their
/// `bin_name`, global options are propagated), without the `help`
/// subcommand, which gets no page of its own.
pub fn command() -> clap::Command {
    let mut command = Cli::command()
        .bin_name(BIN_NAME)
        .disable_help_subcommand(true);
    command.build();
    command
}

/// The subcommands that get a man page, as typed after `bouture`
/// (`["inventory", "graft", ...]`, nested ones as `"a b"`), hidden ones left
/// out, in definition order (a parent before its own subcommands).
pub fn subcommands() -> Vec<String> {
    fn walk(command: &clap::Command, prefix: &str, out: &mut Vec<String>) {
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            let name = if prefix.is_empty() {
                sub.get_name().to_string()
            } else {
                format!("{prefix} {}", sub.get_name())
            };
            out.push(name.clone());
            walk(sub, &name, out);
        }
    }
    let mut out = Vec::new();
    walk(&command(), "", &mut out);
    out
}

/// Every manual page: `bouture(1)` first, then one per visible subcommand
/// (`bouture-graft(1)`, ...), each with its synopsis, options, examples and
/// exit status as `--help` shows them.
pub fn man_pages() -> io::Result<Vec<ManPage>> {
    let root = command();
    // The pages are generated on the build host, maybe for another target:
    // they name the version and commit, not the target.
    let version = format!(
        "{} (commit {})",
        env!("CARGO_PKG_VERSION"),
        crate::GIT_COMMIT
    );
    let mut pages = vec![render_page(&root, &version, None)?];
    collect_subcommand_pages(&root, &version, &mut pages)?;
    Ok(pages)
}

fn collect_subcommand_pages(
    parent: &clap::Command,
    version: &str,
    pages: &mut Vec<ManPage>,
) -> io::Result<()> {
    let parent_page = parent
        .get_display_name()
        .unwrap_or_else(|| parent.get_name())
        .to_string();
    for sub in parent.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        pages.push(render_page(sub, version, Some(&parent_page))?);
        collect_subcommand_pages(sub, version, pages)?;
    }
    Ok(())
}

/// The completion script of `bouture` for `shell` (the `help` subcommand
/// included: it exists, it just has no page of its own).
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, BIN_NAME, &mut script);
    script
}

/// One page: `clap_mangen`'s sections, with the text after the options
/// (`after_help`) split into the description, EXAMPLES and EXIT STATUS, and
/// the parent command's page under SEE ALSO.
fn render_page(
    command: &clap::Command,
    version: &str,
    parent_page: Option<&str>,
) -> io::Result<ManPage> {
    let man = Man::new(with_aliases_in_help(command.clone()))
        .section(MAN_SECTION)
        .source(format!("{BIN_NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("bouture manual");
    let after = AfterHelp::parse(
        &command
            .get_after_long_help()
            .or_else(|| command.get_after_help())
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    let mut roff = Roff::new();
    for paragraph in &after.description {
        roff.control("PP", []);
        roff.text([roman(paragraph.join(" "))]);
    }
    roff.to_writer(&mut out)?;
    if command.get_arguments().any(|arg| !arg.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if command.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    let mut roff = Roff::new();
    if !after.examples.is_empty() {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        roff.control("RS", ["4"]);
        for line in &after.examples {
            roff.text([roman(line.clone())]);
        }
        roff.control("RE", []);
        roff.control("fi", []);
    }
    if !after.exit_status.is_empty() {
        roff.control("SH", ["EXIT STATUS"]);
        roff.text([roman(after.exit_status.join(" "))]);
    }
    // Subcommands have no version of their own: every page shows the binary's.
    roff.control("SH", ["VERSION"]);
    roff.text([roman(format!("{BIN_NAME} {version}"))]);
    if let Some(parent) = parent_page {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([bold(parent), roman(format!("({MAN_SECTION})"))]);
    }
    roff.to_writer(&mut out)?;
    let name = command
        .get_display_name()
        .unwrap_or_else(|| command.get_name());
    Ok(ManPage {
        command: command
            .get_bin_name()
            .unwrap_or_else(|| command.get_name())
            .to_string(),
        file_name: format!("{name}.{MAN_SECTION}"),
        roff: out,
    })
}

/// `command` with each option's visible aliases at the end of its help, as `--help` shows
/// them (`[aliases: --logfile, --log_file]`): `clap_mangen` leaves them out of the pages.
fn with_aliases_in_help(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| {
        let Some(aliases) = arg.get_visible_aliases().filter(|a| !a.is_empty()) else {
            return arg;
        };
        let aliases = aliases
            .iter()
            .map(|alias| format!("--{alias}"))
            .collect::<Vec<_>>()
            .join(", ");
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let long_help = arg.get_long_help().map(ToString::to_string);
        let arg = arg.help(format!("{help} [aliases: {aliases}]"));
        match long_help {
            Some(long) => arg.long_help(format!("{long} [aliases: {aliases}]")),
            None => arg,
        }
    })
}

/// A command's `after_help`, by the convention every command follows:
/// prose, an `Examples:` block of indented lines, and a paragraph starting
/// with `Exit status:`.
#[derive(Debug, Default, PartialEq, Eq)]
struct AfterHelp {
    /// Prose paragraphs (their lines), for the description.
    description: Vec<Vec<String>>,
    /// The example lines, unindented by two spaces, blank lines kept.
    examples: Vec<String>,
    /// The exit status paragraph's lines, without `Exit status:`.
    exit_status: Vec<String>,
}

impl AfterHelp {
    fn parse(text: &str) -> Self {
        #[derive(PartialEq)]
        enum Block {
            Prose,
            Examples,
            ExitStatus,
        }
        let mut parsed = Self::default();
        let mut block = Block::Prose;
        let mut paragraph_open = false;
        for line in text.lines() {
            let indented = line.starts_with(' ');
            if line.trim().is_empty() {
                if block == Block::Examples {
                    parsed.examples.push(String::new());
                } else {
                    block = Block::Prose;
                }
                paragraph_open = false;
                continue;
            }
            if !indented && line.trim_end() == "Examples:" {
                block = Block::Examples;
                continue;
            }
            if let Some(rest) = line.strip_prefix("Exit status:") {
                block = Block::ExitStatus;
                parsed.exit_status.push(rest.trim().to_string());
                continue;
            }
            match block {
                Block::Examples if indented => {
                    let line = line.strip_prefix("  ").unwrap_or(line);
                    parsed.examples.push(line.to_string());
                }
                Block::ExitStatus => parsed.exit_status.push(line.trim().to_string()),
                Block::Prose | Block::Examples => {
                    block = Block::Prose;
                    match parsed.description.last_mut() {
                        Some(paragraph) if paragraph_open => paragraph.push(line.to_string()),
                        _ => parsed.description.push(vec![line.to_string()]),
                    }
                    paragraph_open = true;
                }
            }
        }
        while parsed.examples.last().is_some_and(String::is_empty) {
            parsed.examples.pop();
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::AfterHelp;

    #[test]
    fn after_help_is_split_into_description_examples_and_exit_status() {
        let parsed = AfterHelp::parse(
            "Reads the file\nand says things.\n\nExamples:\n  bouture x \\\n      --y\n\n  # two\n  \
             bouture z\n\nExit status: 0 fine,\n1 not.\nSee docs/x.md.\n\nMore prose.",
        );
        assert_eq!(
            parsed,
            AfterHelp {
                description: vec![
                    vec!["Reads the file".into(), "and says things.".into()],
                    vec!["More prose.".into()],
                ],
                examples: vec![
                    "bouture x \\".into(),
                    "    --y".into(),
                    String::new(),
                    "# two".into(),
                    "bouture z".into(),
                ],
                exit_status: vec!["0 fine,".into(), "1 not.".into(), "See docs/x.md.".into()],
            }
        );
    }

    #[test]
    fn text_without_the_convention_is_description() {
        let parsed = AfterHelp::parse("Run `bouture <COMMAND> --help`.");
        assert_eq!(
            parsed.description,
            vec![vec!["Run `bouture <COMMAND> --help`.".to_string()]]
        );
        assert!(parsed.examples.is_empty() && parsed.exit_status.is_empty());
    }
}

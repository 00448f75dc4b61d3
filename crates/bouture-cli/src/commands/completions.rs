//! `bouture completions`: the shell completion script, generated from the
//! clap definitions (see [`crate::assets`]).

use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};

/// Arguments of `bouture completions`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints the completion script for SHELL on stdout: subcommands, options, their
values and file arguments. The Debian package installs the bash, zsh and fish
scripts already; this is for an install from source.

Examples:
  bouture completions bash > /usr/share/bash-completion/completions/bouture
  bouture completions zsh > /usr/local/share/zsh/site-functions/_bouture
  bouture completions fish > ~/.config/fish/completions/bouture.fish

Exit status: 0 when the script was printed, 1 when it could not be written,
2 for usage errors.")]
#[non_exhaustive]
pub struct CompletionsArgs {
    /// The shell to complete `bouture` in.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Print the completion script; the only way to fail is an unwritable stdout
/// (a closed pipe is not a failure: [`crate::exit::finish`] decides).
pub(crate) fn run(args: &CompletionsArgs, cx: &mut Context<'_>) -> CommandResult {
    let script = crate::assets::completion_script(args.shell);
    cx.log.debug(&format!(
        "the {} completion script: {} bytes",
        args.shell,
        script.len()
    ));
    cx.stdout.write_all(&script).map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

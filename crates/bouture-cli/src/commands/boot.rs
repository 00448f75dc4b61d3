//! `bouture boot list|status|set-default|next|confirm`: the images of a
//! multiboot disk or node, switching which one boots, and marking the
//! running one good.

use std::fmt::Write as _;
use std::path::PathBuf;

use bouture_multiboot::{BootStatus, BootTarget, Switch, SwitchOutcome};

use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture boot`.
#[derive(Debug, clap::Args)]
#[command(after_help = format!("\
Run `bouture boot <COMMAND> --help` for the options of each.

Examples:
  bouture boot list --disk node.img
  bouture boot set-default ubuntu --multiboot-dir /mnt/multiboot
  bouture boot next centos --disk node.img --dry-run
  bouture boot confirm --multiboot-dir /mnt/multiboot     # on the booted node

{EXIT} See docs/multiboot.md."))]
pub struct BootArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: BootAction,
}

/// Where the multiboot files are.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct TargetArgs {
    /// A raw disk image built by `bouture deploy build` (nothing is mounted).
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// Where the node's multiboot partition is mounted.
    #[arg(long, value_name = "DIR")]
    pub multiboot_dir: Option<PathBuf>,
}

impl TargetArgs {
    fn target(&self) -> BootTarget {
        match (&self.disk, &self.multiboot_dir) {
            (Some(disk), _) => BootTarget::Disk(disk.clone()),
            (None, Some(dir)) => BootTarget::Dir(dir.clone()),
            (None, None) => BootTarget::Dir(PathBuf::from(".")),
        }
    }
}

/// Arguments of `list` and `status`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// `--disk FILE` or `--multiboot-dir DIR`.
    #[command(flatten)]
    pub target: TargetArgs,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Arguments of `set-default` and `next`.
#[derive(Debug, clap::Args)]
pub struct SwitchArgs {
    /// The image: its name, or its `image_name` or `image_uuid` field.
    pub image: String,
    /// `--disk FILE` or `--multiboot-dir DIR`.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Say what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Arguments of `confirm`.
#[derive(Debug, clap::Args)]
pub struct ConfirmArgs {
    /// `--disk FILE` or `--multiboot-dir DIR`.
    #[command(flatten)]
    pub target: TargetArgs,
    /// The running system's kernel command line (tells which image runs).
    #[arg(long, value_name = "FILE", default_value = bouture_multiboot::PROC_CMDLINE)]
    pub cmdline: PathBuf,
    /// Say what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

const EXIT: &str = "Exit status: 0 when done (also when nothing needed to change), 1 when the
disk or directory is not a bouture multiboot layout, the image is unknown, or the
write could not be verified, 2 for usage errors.";

/// The `--help` epilogue of `list` and `status`, which take the same
/// arguments.
fn show_help(command: &str) -> String {
    format!(
        "\
Examples:
  bouture boot {command} --disk node.img
  bouture boot {command} --multiboot-dir /mnt/multiboot --format json

{EXIT}"
    )
}

/// `bouture boot` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BootAction {
    /// List the bootable images and which one is the default.
    #[command(after_help = show_help("list"))]
    List(ShowArgs),
    /// Show the default, a pending one-shot boot, and where grubenv is.
    #[command(after_help = show_help("status"))]
    Status(ShowArgs),
    /// Make an image the default, permanently (GRUB's `saved_entry`).
    #[command(after_help = format!("\
Rewrites GRUB's 1024-byte environment block in place (its size never changes),
under a lock, and reads it back. grub.cfg's `set default=N` is left as built.

Examples:
  bouture boot set-default ubuntu --disk node.img
  bouture boot set-default ubuntu --multiboot-dir /mnt/multiboot --dry-run

{EXIT}"))]
    SetDefault(SwitchArgs),
    /// Boot an image once at the next boot, then the default again (GRUB's `next_entry`).
    #[command(after_help = format!("\
GRUB clears next_entry before booting it, so the boot after is the default
again, even if the tried image does not come up.

Examples:
  bouture boot next ubuntu --disk node.img
  bouture boot next centos --multiboot-dir /mnt/multiboot

{EXIT}"))]
    Next(SwitchArgs),
    /// Mark the running image good: make it the default (run on the booted node).
    #[command(after_help = format!("\
The end of a trial boot (`bouture boot next IMAGE`, then a reboot): once the
new image works, confirm it, and it stays the default. Without a confirm,
the next reboot goes back to the previous default by itself. The running
image is the one the kernel command line names (bouture.image= and
root=UUID=, which every bouture menu entry carries); confirming the image
that is already the default does nothing and says so.

Examples:
  bouture boot confirm --multiboot-dir /mnt/multiboot
  bouture boot confirm --disk /dev/sda
  bouture boot confirm --disk node.img --cmdline saved-cmdline.txt --dry-run

{EXIT}"))]
    Confirm(ConfirmArgs),
}

/// What a boot command ended with.
enum Booted {
    Shown(Box<BootStatus>),
    Switched(SwitchOutcome),
}

/// Every failure is an error before anything is shown: a shown status or a
/// switch (done, already in place or dry run) is always [`Outcome::Done`].
pub(crate) fn run(args: &BootArgs, cx: &mut Context<'_>) -> CommandResult {
    let verbosity = cx.log.verbosity();
    let (booted, format, list) = match &args.action {
        BootAction::List(show) | BootAction::Status(show) => (
            Booted::Shown(Box::new(
                show.target
                    .target()
                    .status()
                    .map_err(super::deploy::failed)?,
            )),
            show.format,
            matches!(args.action, BootAction::List(_)),
        ),
        BootAction::SetDefault(switch) | BootAction::Next(switch) => {
            let kind = if matches!(args.action, BootAction::Next(_)) {
                Switch::Next
            } else {
                Switch::Default
            };
            let outcome = switch
                .target
                .target()
                .switch(
                    &switch.image,
                    kind,
                    &bouture_multiboot::SwitchOptions {
                        dry_run: switch.dry_run,
                    },
                )
                .map_err(super::deploy::failed)?;
            (Booted::Switched(outcome), switch.format, false)
        }
        BootAction::Confirm(confirm) => {
            let cmdline =
                bouture_multiboot::read_cmdline(&confirm.cmdline).map_err(super::deploy::failed)?;
            let outcome = confirm
                .target
                .target()
                .confirm(
                    &cmdline,
                    &bouture_multiboot::SwitchOptions {
                        dry_run: confirm.dry_run,
                    },
                )
                .map_err(super::deploy::failed)?;
            (Booted::Switched(outcome), confirm.format, false)
        }
    };
    match &booted {
        Booted::Shown(status) => cx.log.debug(&format!(
            "read the boot info and grubenv: {} at byte {}, {} image(s)",
            status.location.file.display(),
            status.location.offset,
            status.boot_info.elements.len()
        )),
        Booted::Switched(switched) => cx.log.debug(&format!("switch: {switched:?}")),
    }
    let stdout = &mut *cx.stdout;
    let written = match (&booted, format) {
        (Booted::Shown(status), OutputFormat::Json) if list => {
            write_json(stdout, &status.boot_info)
        }
        (Booted::Shown(status), OutputFormat::Json) => write_json(stdout, status),
        (Booted::Switched(switched), OutputFormat::Json) => write_json(stdout, switched),
        (Booted::Shown(status), OutputFormat::Text) => {
            for warning in &status.warnings {
                cx.log.warning(warning);
            }
            let text = if list {
                render_list(status)
            } else {
                render_status(status, verbosity)
            };
            stdout.write_all(text.as_bytes())
        }
        (Booted::Switched(switched), OutputFormat::Text) if verbosity >= 0 => {
            stdout.write_all(render_switch(switched).as_bytes())
        }
        _ => Ok(()),
    };
    written.map_err(CommandError::Output)?;
    Ok(Outcome::Done)
}

fn render_list(status: &BootStatus) -> String {
    let mut out = String::new();
    for element in &status.boot_info.elements {
        let mut marks = Vec::new();
        if status.default_image.as_deref() == Some(element.os_id.as_str()) {
            marks.push("default");
        }
        if status.next_image.as_deref() == Some(element.os_id.as_str()) {
            marks.push("next boot");
        }
        let marks = if marks.is_empty() {
            String::new()
        } else {
            format!("  [{}]", marks.join(", "))
        };
        let _ = writeln!(
            out,
            "{} {}  {}  root {}{marks}",
            element.grub_id, element.os_id, element.boot_name, element.root_uuid
        );
    }
    out
}

fn render_status(status: &BootStatus, verbosity: i16) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "default:   {}",
        status
            .default_image
            .as_deref()
            .unwrap_or("(none in grubenv)")
    );
    let _ = writeln!(
        out,
        "next boot: {}",
        status
            .next_image
            .as_deref()
            .or(status.default_image.as_deref())
            .unwrap_or("(grub.cfg default)")
    );
    let _ = writeln!(
        out,
        "images:    {}",
        status
            .boot_info
            .elements
            .iter()
            .map(|e| e.os_id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "multiboot partition {}",
        status.boot_info.multiboot_partition
    );
    if verbosity > 0 {
        let location = &status.location;
        let _ = writeln!(
            out,
            "grubenv:   {} at byte {}",
            location.file.display(),
            location.offset
        );
        for (name, value) in &status.grubenv.vars {
            let _ = writeln!(out, "  {name}={value}");
        }
    }
    out
}

fn render_switch(outcome: &SwitchOutcome) -> String {
    match outcome {
        SwitchOutcome::Changed {
            image,
            variable,
            before,
            after,
            dry_run,
        } => {
            let what = if variable == "next_entry" {
                if after.is_empty() {
                    format!("cancelled the pending one-shot boot: {image} is the default")
                } else {
                    format!("{image} boots once at the next boot, then the default again")
                }
            } else {
                format!("{image} is now the default")
            };
            let prefix = if *dry_run {
                "dry run, nothing written: "
            } else {
                ""
            };
            format!("{prefix}{what} ({variable}: '{before}' -> '{after}')\n")
        }
        SwitchOutcome::Unchanged { reason, .. } => format!("nothing to do: {reason}\n"),
        _ => String::new(),
    }
}

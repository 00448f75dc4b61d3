//! `bouture deploy plan|build|image`: Bareon-style multi-image disks, and
//! one image of such a disk updated in place (A/B).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use bouture_multiboot::{
    BuildOptions, BuildReport, DeployOptions, DeployReport, DiskFormat, ImageSource, Input,
    PartitionRole, Plan, PlanOptions, Provision, ValidationErrors,
};

use crate::context::Context;
use crate::exit::{CommandError, CommandResult, Outcome};
use crate::log::Logger;
use crate::output::{OutputFormat, write_json};

/// Arguments of `bouture deploy`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Run `bouture deploy <COMMAND> --help` for the options of each.

Examples:
  bouture deploy plan --provision provision.json
  bouture deploy build --provision provision.json \\
      --image centos=/srv/trees/centos --image ubuntu=ubuntu-rootfs.tar --output node.img
  bouture deploy image ubuntu --disk /dev/sda --image ubuntu-rootfs.tar

Exit status: 0 done; 1 the document is invalid or unreadable, a tool is
missing, or the build failed; 2 usage errors. See docs/multiboot.md.")]
pub struct DeployArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DeployAction,
}

/// `bouture deploy` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DeployAction {
    /// Validate provision.json and print the resolved layout.
    #[command(after_help = "\
Prints the disks, the partitions with their offsets and sizes (the implicit
24 MiB bios_grub on every disk and 100 MiB multiboot on the first), the
filesystems with their UUIDs, and which images own which mount points.
Every error of the document is reported at once, with its path, in Bareon's
format.

Examples:
  bouture deploy plan --provision provision.json
  bouture deploy plan --provision provision.json --uuid-seed lab --format json

Exit status: 0 when the document is valid, 1 when it is not (or cannot be
read), 2 for usage errors.")]
    Plan(PlanArgs),
    /// Build a bootable GPT disk image (one per disk) from provision.json and image trees.
    #[command(after_help = "\
Each image's filesystems are made with mkfs.ext4 -d from its tree (a directory
or a tar archive), or its '/' written from a raw or qcow2 ext2/3/4 filesystem
image (told by its first bytes; checked against the partition's size and the
document's type before anything is written, then given the planned UUID);
a SOURCE that is an http(s) URL is downloaded first (at most the image's
partitions, within --pull-timeout, its #sha256=/#sha384=/#sha512= fragment
verified), and --pull downloads the image_pull_url of each image given no
--image. Its /etc/fstab is generated from the partition-image mapping;
the multiboot partition gets grub.cfg, grubenv and GRUB's modules, and GRUB's
BIOS boot code is installed, so the disk boots. Nothing is mounted and no
loop device is used. Needs sfdisk (fdisk), mke2fs and debugfs (e2fsprogs),
grub-mkimage (grub-common), /usr/lib/grub/i386-pc (grub-pc-bin),
qemu-img (qemu-utils) for qcow2, mkfs.fat (dosfstools) and mtools for vfat,
mkfs.xfs (xfsprogs) for (empty) xfs volumes. Every output is checked before
anything is written; all appear together, only once complete. SIGTERM or
SIGINT stops the build and removes its work files; a killed build's are
removed by the next build in the same directory.

Examples:
  bouture deploy build --provision provision.json \\
      --image centos=/srv/trees/centos --image ubuntu=ubuntu-rootfs.tar \\
      --output node.img --boot-info boot-info.json
  bouture deploy build --provision two-disks.json --image centos=c --image ubuntu=u \\
      --output node.qcow2 --output-format qcow2      # node-vda.qcow2, node-vdb.qcow2
  bouture deploy build --provision provision.json --image centos=c --image ubuntu=u \\
      --output node.img --dry-run
  bouture deploy build --provision provision.json --image centos=centos-root.qcow2 \\
      --pull --output node.img        # ubuntu from its image_pull_url

Exit status: 0 when the disks were written (or, with --dry-run, could be), 1
when the document is invalid, a tool is missing, or the build failed (nothing
is left behind), 2 for usage errors.")]
    Build(BuildArgs),
    /// Put a new version of one image onto a multiboot disk (A/B update).
    #[command(after_help = "\
TARGET is a disk bouture built (an image file, or a block device such as
/dev/sda on the node itself); when the document's images span several disks,
--disk is given once per disk, in the document's order (each checked against
the layout record before anything is written). Only the partitions that belong to IMAGE alone
are remade (mkfs.ext4 -d from SOURCE, a directory or a tar archive, or SOURCE
written as is when it is a raw or qcow2 filesystem image of IMAGE's '/'; an
http(s) URL is downloaded first, its #sha256= fragment verified; the same
UUIDs either way); shared and keep_data partitions are kept byte for byte; the
multiboot partition gets IMAGE's new menu entry (the kernel may change), boot
info and layout record, and IMAGE's /etc/fstab is written. Every check comes
before the first byte is written: the disk's table and boot info are the ones
bouture wrote (its layout record), IMAGE exists, the source fits. The image
that runs (the kernel command line, --cmdline, tells) is never rewritten; the
default image only with --force. The mounted root's device (--mountinfo)
and its superblock's filesystem UUID tell which image runs too, beside the
kernel command line; when they disagree, nothing is written. Afterwards each rewritten filesystem is
checked with e2fsck -fn and the table, grubenv and boot info are read back.
The disk is locked: a `bouture boot` switch or another deploy waits.

Then: bouture boot next IMAGE, reboot; on the new image, bouture boot confirm.

Examples:
  bouture deploy image ubuntu --disk /dev/sda --image /srv/ubuntu-2.tar
  bouture deploy image ubuntu --disk node.img --image tree/ --dry-run
  bouture deploy image ubuntu --disk /dev/sda \\
      --image 'https://images.example.com/ubuntu-2.ext4#sha256=<64 hex digits>'
  bouture deploy image centos --disk node.img --image tree/ --force --format json

Exit status: 0 when written (or, with --dry-run, could be), 1 when refused
(running or default image, not a bouture disk, unknown image, source too
large: nothing was written) or when writing failed, 2 for usage errors.")]
    Image(ImageArgs),
}

/// Arguments of `bouture deploy image`.
#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    /// The image to update (its `name`).
    pub name: String,
    /// The multiboot disk: a disk image or a block device; once per disk of the document, in its order, when the image spans several.
    #[arg(long, value_name = "TARGET", required = true)]
    pub disk: Vec<PathBuf>,
    /// The image's new root: a directory, a tar archive, a raw or qcow2 filesystem image, or an http(s) URL of one.
    #[arg(long = "image", value_name = "SOURCE")]
    pub source: PathBuf,
    /// The deadline of the download when SOURCE is a URL, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub pull_timeout: u64,
    /// The running system's kernel command line (tells which image runs).
    #[arg(long, value_name = "FILE", default_value = bouture_multiboot::PROC_CMDLINE)]
    pub cmdline: PathBuf,
    /// The running system's mounts (the mounted root's device and filesystem UUID tell which image runs).
    #[arg(long, value_name = "FILE", default_value = bouture_multiboot::PROC_MOUNTINFO)]
    pub mountinfo: PathBuf,
    /// Also rewrite the default image.
    #[arg(long)]
    pub force: bool,
    /// Say what would be written where; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Options shared by plan and build.
#[derive(Debug, clap::Args)]
pub struct ProvisionArgs {
    /// The provisioning document (Bareon's provision.json).
    #[arg(long, value_name = "FILE")]
    pub provision: PathBuf,
    /// Derive every UUID from this seed (reproducible layouts); random by default.
    #[arg(long, value_name = "SEED")]
    pub uuid_seed: Option<String>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// Arguments of `bouture deploy plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The document and the report format.
    #[command(flatten)]
    pub provision: ProvisionArgs,
}

/// Arguments of `bouture deploy build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The document and the report format.
    #[command(flatten)]
    pub provision: ProvisionArgs,
    /// An image's content: NAME=DIR, NAME=ARCHIVE.tar, NAME=FILESYSTEM.img (raw or qcow2) or NAME=URL (once per image).
    #[arg(long = "image", value_name = "NAME=SOURCE", value_parser = parse_image, required_unless_present = "pull")]
    pub images: Vec<ImageSource>,
    /// Download the pull URL the document gives (http or https) for each image given no --image.
    #[arg(long)]
    pub pull: bool,
    /// The deadline of each download, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub pull_timeout: u64,
    /// The disk image to write; once per disk, or once (then NAME-DISK.EXT per disk).
    #[arg(long = "output", value_name = "DISK", required = true)]
    pub outputs: Vec<PathBuf>,
    /// raw or qcow2.
    #[arg(long, value_enum, default_value_t)]
    pub output_format: DiskFormat,
    /// Also write the boot info JSON (Bareon's boot-entries file) here.
    #[arg(long, value_name = "FILE")]
    pub boot_info: Option<PathBuf>,
    /// Check the document, the tools and the sources; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_image(text: &str) -> Result<ImageSource, String> {
    let (name, path) = text
        .split_once('=')
        .filter(|(name, path)| !name.is_empty() && !path.is_empty())
        .ok_or_else(|| format!("'{text}' is not NAME=SOURCE"))?;
    Ok(ImageSource {
        name: name.to_owned(),
        path: PathBuf::from(path),
    })
}

/// What a deploy command ended with.
enum Deployed {
    Planned(Box<Plan>),
    Built(Box<BuildReport>),
    Updated(Box<DeployReport>),
    Invalid(ValidationErrors),
}

/// The command's result for what it ended with, its report already written
/// (the one place deciding it): an invalid document is a configuration
/// error, its errors in the JSON error document's details
/// ([`crate::exit::finish`]).
fn command_result(deployed: Deployed) -> CommandResult {
    match deployed {
        Deployed::Planned(_) | Deployed::Built(_) | Deployed::Updated(_) => Ok(Outcome::Done),
        Deployed::Invalid(errors) => {
            let details = match serde_json::to_value(&errors) {
                Ok(serde_json::Value::Object(details)) => details,
                _ => serde_json::Map::new(),
            };
            Err(CommandError::config(errors).with_details(details))
        }
    }
}

pub(crate) fn run(args: &DeployArgs, cx: &mut Context<'_>) -> CommandResult {
    let log = &mut cx.log;
    let (deployed, format) = match &args.action {
        DeployAction::Plan(plan) => (plan_outcome(&plan.provision, log)?, plan.provision.format),
        DeployAction::Build(build) => (build_outcome(build, log)?, build.provision.format),
        DeployAction::Image(image) => (image_outcome(image)?, image.format),
    };
    if let Deployed::Built(report) = &deployed {
        for disk in &report.disks {
            log.debug(&format!(
                "{} {}: {} bytes",
                if report.dry_run {
                    "would write"
                } else {
                    "wrote"
                },
                disk.path.display(),
                disk.size_bytes
            ));
        }
    }
    let verbosity = log.verbosity();
    let stdout = &mut *cx.stdout;
    let written = match (&deployed, format) {
        (Deployed::Planned(plan), OutputFormat::Json) => write_json(stdout, plan),
        (Deployed::Built(report), OutputFormat::Json) => write_json(stdout, report),
        (Deployed::Updated(report), OutputFormat::Json) => write_json(stdout, report),
        (Deployed::Updated(report), OutputFormat::Text) if verbosity >= 0 => {
            stdout.write_all(render_image(report).as_bytes())
        }
        (Deployed::Planned(plan), OutputFormat::Text) if verbosity >= 0 => {
            stdout.write_all(render_plan(plan).as_bytes())
        }
        (Deployed::Built(report), OutputFormat::Text) if verbosity >= 0 => {
            stdout.write_all(render_build(report, verbosity).as_bytes())
        }
        _ => Ok(()),
    };
    written.map_err(CommandError::Output)?;
    command_result(deployed)
}

/// Read and resolve the document: an unreadable file is a configuration
/// error; an invalid one is returned for the report.
fn load(
    args: &ProvisionArgs,
    log: &mut Logger<'_>,
) -> Result<Result<Plan, ValidationErrors>, CommandError> {
    let options = PlanOptions {
        uuid_seed: args.uuid_seed.clone(),
    };
    let plan = Provision::read(&args.provision)
        .and_then(|provision| Ok(Plan::resolve(&provision, &options)?));
    match plan {
        Ok(plan) => {
            log.debug(&format!(
                "read {}: {} disk(s), {} image(s)",
                args.provision.display(),
                plan.disks.len(),
                plan.images.len()
            ));
            Ok(Ok(plan))
        }
        Err(bouture_multiboot::Error::Invalid(errors)) => Ok(Err(errors)),
        Err(error) => Err(CommandError::config(error)),
    }
}

fn plan_outcome(args: &ProvisionArgs, log: &mut Logger<'_>) -> Result<Deployed, CommandError> {
    // The plan refuses what the build cannot do, with the field named.
    Ok(
        match load(args, log)?.and_then(|plan| bouture_multiboot::buildable(&plan).map(|()| plan)) {
            Ok(plan) => Deployed::Planned(Box::new(plan)),
            Err(errors) => Deployed::Invalid(errors),
        },
    )
}

fn build_outcome(args: &BuildArgs, log: &mut Logger<'_>) -> Result<Deployed, CommandError> {
    let plan = match load(&args.provision, log)? {
        Ok(plan) => plan,
        Err(errors) => return Ok(Deployed::Invalid(errors)),
    };
    let mut options = BuildOptions::new(args.outputs.clone(), args.images.clone());
    options.format = args.output_format;
    options.boot_info.clone_from(&args.boot_info);
    options.dry_run = args.dry_run;
    options.provision = Some(args.provision.provision.clone());
    options.pull = args.pull;
    options.pull_deadline = std::time::Duration::from_secs(args.pull_timeout);
    // SIGTERM, SIGINT or SIGHUP stop the build: the running tool is stopped
    // with its process group, the work directory and the unfinished outputs
    // are removed.
    let stop = Arc::new(AtomicUsize::new(0));
    let handlers: Vec<signal_hook::SigId> = [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ]
    .into_iter()
    .filter_map(|signal| {
        let value = usize::try_from(signal).unwrap_or(usize::MAX);
        signal_hook::flag::register_usize(signal, Arc::clone(&stop), value).ok()
    })
    .collect();
    options.cancel = Some(stop);
    let built = bouture_multiboot::build_disks(&plan, &options);
    for handler in handlers {
        signal_hook::low_level::unregister(handler);
    }
    match built {
        Ok(report) => Ok(Deployed::Built(Box::new(report))),
        Err(bouture_multiboot::Error::Invalid(errors)) => Ok(Deployed::Invalid(errors)),
        Err(error) => {
            let details = match &error {
                bouture_multiboot::Error::MissingTools(tools) => serde_json::Map::from_iter([(
                    "missing_tools".to_owned(),
                    serde_json::json!(tools),
                )]),
                _ => serde_json::Map::new(),
            };
            Err(failed(error).with_details(details))
        }
    }
}

fn image_outcome(args: &ImageArgs) -> Result<Deployed, CommandError> {
    let cmdline = bouture_multiboot::read_cmdline(&args.cmdline).map_err(failed)?;
    let (first, more) = args.disk.split_first().ok_or_else(|| {
        CommandError::failed(bouture_multiboot::Error::Unsupported(
            "--disk is required".into(),
        ))
    })?;
    let mut options = DeployOptions::new(&args.name, first, &args.source, &cmdline);
    options.more_disks = more.to_vec();
    options.force = args.force;
    options.dry_run = args.dry_run;
    options.mountinfo.clone_from(&args.mountinfo);
    options.pull_deadline = std::time::Duration::from_secs(args.pull_timeout);
    bouture_multiboot::deploy_image(&options)
        .map(|report| Deployed::Updated(Box::new(report)))
        .map_err(failed)
}

/// How `bouture deploy` and `bouture boot` name what the operator acts on.
fn name(input: Input) -> String {
    match input {
        Input::Sources => "--image".to_owned(),
        Input::SourceForms => "--image NAME=DIR, NAME=ARCHIVE.tar, NAME=FILESYSTEM.img or NAME=URL, or --pull for its image_pull_url".to_owned(),
        Input::Outputs => "--output".to_owned(),
        Input::Force => "pass --force".to_owned(),
        Input::RawFormat => "bouture deploy build --output-format raw".to_owned(),
        Input::Disks => "--disk".to_owned(),
        other => other.to_string(),
    }
}

/// A multiboot error worded with the command line's flags, its sources kept.
#[derive(Debug)]
pub(crate) struct Worded {
    text: String,
    error: bouture_multiboot::Error,
}

impl std::fmt::Display for Worded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Worded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}

/// A failed `deploy` or `boot`, worded with the command line's flags.
pub(crate) fn failed(error: bouture_multiboot::Error) -> CommandError {
    CommandError::failed(Worded {
        text: error.message(&name),
        error,
    })
}

fn render_image(report: &DeployReport) -> String {
    let mut out = String::new();
    let verb = if report.dry_run {
        "would write (dry run, nothing written)"
    } else {
        "wrote"
    };
    let _ = writeln!(
        out,
        "image {} on {}: running {}, default {}",
        report.image,
        report.disk.display(),
        report
            .running
            .image
            .as_deref()
            .unwrap_or("none of its images"),
        report.default_image.as_deref().unwrap_or("-")
    );
    for p in &report.written {
        let _ = writeln!(
            out,
            "  {verb} partition {} ({}, {} {}): {} MiB at byte {}",
            p.number,
            p.name,
            p.fs_type,
            p.mount.as_deref().unwrap_or("-"),
            mib(p.size_bytes),
            p.offset_bytes
        );
    }
    for p in &report.kept {
        let _ = writeln!(
            out,
            "  kept partition {} ({}, {}): {}",
            p.number,
            p.name,
            p.mount.as_deref().unwrap_or("-"),
            p.kept_because.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "  {verb} on the multiboot partition: {} (kernel {}{})",
        report.multiboot_files.join(", "),
        report.boot_files.kernel,
        report
            .boot_files
            .initrd
            .as_deref()
            .map(|i| format!(", initrd {i}"))
            .unwrap_or_default()
    );
    if !report.dry_run {
        let _ = writeln!(
            out,
            "next: bouture boot next {} (then reboot; on it, bouture boot confirm)",
            report.image
        );
    }
    out
}

fn mib(bytes: u64) -> u64 {
    bytes >> 20
}

/// The layout as text.
pub(crate) fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} layout: {} image(s) with boot entries, {} disk(s)",
        if plan.multiboot {
            "multiboot"
        } else {
            "single-image"
        },
        plan.images.len(),
        plan.disks.len()
    );
    for disk in &plan.disks {
        let _ = writeln!(
            out,
            "\ndisk {} ({}), {} MiB, GPT {}",
            disk.id,
            disk.id_type,
            mib(disk.size_bytes),
            disk.disk_uuid
        );
        let _ = writeln!(
            out,
            "   #  name             start MiB  size MiB  fs    filesystem UUID                       mount (images)"
        );
        for p in &disk.partitions {
            let (fs, uuid, use_) = match (&p.role, &p.filesystem) {
                (PartitionRole::BiosGrub, _) => ("-".into(), "-".into(), "GRUB core.img".into()),
                (PartitionRole::Esp, _) => (
                    "vfat".into(),
                    "-".into(),
                    "EFI/BOOT/BOOTX64.EFI (GRUB for UEFI)".into(),
                ),
                (PartitionRole::Multiboot, Some(fs)) => (
                    fs.fs_type.clone(),
                    fs.uuid.to_string(),
                    "/boot/grub: grub.cfg, grubenv, boot info".into(),
                ),
                (_, Some(fs)) => (
                    fs.fs_type.clone(),
                    fs.uuid.to_string(),
                    format!(
                        "{} ({}){}",
                        fs.mount.as_deref().unwrap_or("-"),
                        fs.images.join(", "),
                        if fs.fstab_enabled {
                            ""
                        } else {
                            " not in fstab"
                        }
                    ),
                ),
                (_, None) => ("-".into(), "-".into(), String::new()),
            };
            let _ = writeln!(
                out,
                "  {:>2}  {:<16} {:>9} {:>9}  {:<5} {:<36}  {}",
                p.number,
                p.name,
                mib(p.offset_bytes),
                mib(p.size_bytes),
                fs,
                uuid,
                use_
            );
        }
    }
    if !plan.images.is_empty() {
        out.push_str("\nimages (boot entries):\n");
    }
    for image in &plan.images {
        let mounts: Vec<String> = image
            .mounts
            .iter()
            .map(|m| format!("{} on {}{}", m.mount, m.disk, m.partition))
            .collect();
        let _ = writeln!(
            out,
            "  {} {} [{}] root {}: {}",
            image.grub_id,
            image.name,
            image.grub_entry_id,
            image.root_uuid,
            mounts.join(", ")
        );
    }
    if let Some(image) = plan.boot_image() {
        let _ = writeln!(out, "default: {} (boot: true)", image.name);
    }
    out
}

fn render_build(report: &BuildReport, verbosity: i16) -> String {
    let mut out = String::new();
    let verb = if report.dry_run {
        "would write (dry run, nothing written)"
    } else {
        "wrote"
    };
    for disk in &report.disks {
        let _ = writeln!(
            out,
            "{verb} {} ({}, {} MiB) for disk {}",
            disk.path.display(),
            if disk.format == DiskFormat::Qcow2 {
                "qcow2"
            } else {
                "raw"
            },
            mib(disk.size_bytes),
            disk.disk
        );
    }
    let info = &report.boot_info;
    for (element, files) in info.elements.iter().zip(&report.boot_files) {
        let default = if element.grub_id == info.current_element {
            " (default)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  entry {}: {}{default}",
            element.grub_entry_id, element.boot_name
        );
        if verbosity > 0 {
            let _ = writeln!(
                out,
                "    kernel {} initrd {} root {}",
                files.kernel,
                files.initrd.as_deref().unwrap_or("-"),
                element.root_uuid
            );
        }
    }
    let _ = writeln!(out, "  multiboot partition {}", info.multiboot_partition);
    out
}

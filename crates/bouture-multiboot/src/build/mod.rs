//! `bouture deploy build`: real GPT disk images, without mounting anything
//! and without loop devices. Each filesystem is made with `mke2fs -d` and
//! the planned UUID straight into the disk file at its partition's offset
//! (`-E offset=` with the partition's size, so it cannot spill over);
//! GRUB's boot.img and core.img are written where grub-bios-setup would put
//! them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use serde::Serialize;

use crate::bootcfg::{BootFiles, BootInfo};
use crate::error::{Error, io};
use crate::plan::Plan;
use crate::tools::{self, GRUB_I386_PC, GRUB_X86_64_EFI};

mod content;
mod disk;
mod ext;
mod fat;
mod fsimage;
mod grub;
mod image;
mod inputs;

pub(crate) use fat::volume_id as fat_volume_id;
pub use inputs::buildable;
mod kernel;
mod verify;
mod work;
mod xfs;

pub use image::{DeployOptions, DeployReport, DeployedPartition, deploy_image};

use disk::build_disk;
use grub::{make_core_image, make_efi_image};
use inputs::{
    Source, check_grub_dir, check_grub_efi_dir, check_outputs, check_sources, output_paths,
    pull_sources, required_tools,
};
use kernel::{find_boot_files, pick_boot_files};
use verify::verify_disk;

/// `--image NAME=SOURCE`: a directory tree or a tar archive of the image's
/// root, or a raw or qcow2 filesystem image of its `/` (told by its first
/// bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    /// The image's `name`.
    pub name: String,
    /// The directory, tar archive or filesystem image.
    pub path: PathBuf,
}

/// The disk image format.
///
/// With the `clap` feature it is a `clap::ValueEnum` (`raw`, `qcow2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum DiskFormat {
    /// A raw disk image (sparse).
    #[default]
    #[cfg_attr(feature = "clap", value(help = "A sparse raw disk image"))]
    Raw,
    /// qcow2, converted with qemu-img.
    #[cfg_attr(feature = "clap", value(help = "qcow2 (converted with qemu-img)"))]
    Qcow2,
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// One output per disk, or one for all (then `<stem>-<disk>.<ext>`).
    pub outputs: Vec<PathBuf>,
    /// raw or qcow2.
    pub format: DiskFormat,
    /// The images' contents.
    pub sources: Vec<ImageSource>,
    /// Also write the boot info JSON here.
    pub boot_info: Option<PathBuf>,
    /// GRUB's i386-pc directory (boot.img, modules).
    pub grub_dir: PathBuf,
    /// GRUB's x86_64-efi directory (modules of the UEFI image).
    pub grub_efi_dir: PathBuf,
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// The provision document read, an input no output may replace.
    pub provision: Option<PathBuf>,
    /// Set non-zero (by a signal handler, e.g. to its signal's number with
    /// `signal_hook::flag::register_usize`) to stop: the running tool and its
    /// process group get `SIGTERM` (then `SIGKILL`), the work directory and
    /// the unfinished outputs are removed, and the build fails with
    /// [`Error::Interrupted`].
    pub cancel: Option<Arc<AtomicUsize>>,
    /// Download the `image_pull_url` (http or https) of each image given no
    /// source.
    pub pull: bool,
    /// The deadline of each http(s) download (a source given as a URL, or
    /// an image's `image_pull_url` when no source is given).
    pub pull_deadline: Duration,
}

impl BuildOptions {
    /// Options with Debian's GRUB directory and raw output.
    pub fn new(outputs: Vec<PathBuf>, sources: Vec<ImageSource>) -> Self {
        Self {
            outputs,
            format: DiskFormat::Raw,
            sources,
            boot_info: None,
            grub_dir: PathBuf::from(GRUB_I386_PC),
            grub_efi_dir: PathBuf::from(GRUB_X86_64_EFI),
            dry_run: false,
            provision: None,
            cancel: None,
            pull: false,
            pull_deadline: crate::pull::PULL_DEADLINE,
        }
    }
}

/// One disk written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BuiltDisk {
    /// The disk's id in the document.
    pub disk: String,
    /// The file written.
    pub path: PathBuf,
    /// Its format.
    pub format: DiskFormat,
    /// Its virtual size in bytes.
    pub size_bytes: u64,
}

/// What `bouture deploy build` did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BuildReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The disks.
    pub disks: Vec<BuiltDisk>,
    /// Kernel, initrd and title found for each image.
    pub boot_files: Vec<BootFiles>,
    /// The boot info written to the multiboot partition.
    pub boot_info: BootInfo,
}

/// Build the disks of a plan. Everything is checked before anything is
/// written; the outputs appear (renamed into place) only once complete and
/// read back.
pub fn build_disks(plan: &Plan, options: &BuildOptions) -> Result<BuildReport, Error> {
    let Some(multiboot_uuid) = plan.multiboot_uuid else {
        return Err(Error::Unsupported("a multiboot build needs at least two images owning filesystems (a multiboot layout); single-image documents are Bareon's single-boot path".into()));
    };
    buildable(plan)?;
    // Everything is checked before anything is written.
    let outputs = output_paths(plan, &options.outputs, options.format)?;
    let parent = outputs
        .first()
        .and_then(|p| p.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // URLs downloaded beside the outputs, removed when the build ends.
    let (given, _pulled) = pull_sources(plan, options, &parent)?;
    let sources = check_sources(plan, &given)?;
    check_outputs(plan, options, &outputs, &sources)?;
    let tools = required_tools(plan, options, &sources)?.cancelled_by(options.cancel.clone());
    check_grub_dir(&options.grub_dir).and(check_grub_efi_dir(&options.grub_efi_dir))?;
    // What each partition receives, tar archives listed, not extracted.
    let listed = content::check_content(plan, &sources, &tools)?;

    if options.dry_run {
        return dry_run(plan, options, &outputs, &sources, &listed, &tools);
    }

    let work = work::Work::create(&parent)?;
    work.clean_stale(&parent);
    // Each output is made beside itself (never across filesystems), all
    // created now (each directory proven writable before any work), and
    // put in place together once all are complete and read back.
    let targets: Vec<&Path> = outputs
        .iter()
        .chain(&options.boot_info)
        .map(PathBuf::as_path)
        .collect();
    let staged = work.stage(&targets)?;
    let work_dir = work.path().to_owned();
    let work_dir = work_dir.as_path();
    // Filesystem images checked against their partition (a qcow2 one
    // converted into the work directory); tar archives are unpacked (their
    // size was checked above); directories are read in place.
    let placed = fsimage::prepare_all(plan, &sources, &tools, work_dir, true)?;
    let (roots, files) = contents(plan, &sources, &placed, &tools, work_dir)?;
    let boot_info = plan.boot_info(&files);

    let core = make_core_image(
        &tools,
        work_dir,
        &options.grub_dir,
        &multiboot_uuid.to_string(),
    )?;
    make_efi_image(
        &tools,
        work_dir,
        &options.grub_efi_dir,
        &multiboot_uuid.to_string(),
    )?;
    for (n, (disk, target)) in plan.disks.iter().zip(&staged).enumerate() {
        tools.check_cancel()?;
        let raw = match options.format {
            DiskFormat::Raw => target.path().to_owned(),
            DiskFormat::Qcow2 => work_dir.join(format!("disk-{n}.img")),
        };
        let inputs = disk::Inputs {
            roots: &roots,
            placed: &placed,
            files: &files,
            boot_info: &boot_info,
            core: &core,
        };
        build_disk(&tools, plan, disk, &inputs, options, work_dir, &raw)?;
        verify_disk(&tools, disk, &raw)?;
        if options.format == DiskFormat::Qcow2 {
            let mut command = tools.command("qemu-img");
            command
                .args(["convert", "-q", "-f", "raw", "-O", "qcow2"])
                .arg(&raw)
                .arg(target.path());
            tools.run(command, None)?;
            std::fs::remove_file(&raw).map_err(io(&raw, "cannot remove"))?;
        }
    }
    if let (Some(path), Some(target)) = (&options.boot_info, staged.last()) {
        let mut text = serde_json::to_vec_pretty(&boot_info).unwrap_or_default();
        text.push(b'\n');
        std::fs::write(target.path(), &text).map_err(io(path, "cannot write"))?;
    }
    tools.check_cancel()?;
    bouture_fs::replace_together(staged, 0o644)?;
    drop(work);
    Ok(BuildReport {
        dry_run: false,
        disks: disk_list(plan, &outputs, options.format),
        boot_files: files,
        boot_info,
    })
}

/// Each image's root tree (a tar archive unpacked into the work
/// directory, an empty one for a filesystem image) and boot files.
fn contents(
    plan: &Plan,
    sources: &[Source],
    placed: &[Option<fsimage::Placed>],
    tools: &tools::Tools,
    work_dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<BootFiles>), Error> {
    let mut roots = Vec::new();
    for (image, source) in plan.images.iter().zip(sources) {
        roots.push(match source {
            Source::Dir(dir) => dir.clone(),
            Source::FsImage(_) => {
                let dir = work_dir.join(format!("src-{}", image.name));
                std::fs::create_dir(&dir).map_err(io(&dir, "cannot create"))?;
                dir
            }
            Source::Tar(archive) => {
                let dir = work_dir.join(format!("src-{}", image.name));
                std::fs::create_dir(&dir).map_err(io(&dir, "cannot create"))?;
                let mut command = tools.command("tar");
                command.arg("-x").arg("-f").arg(archive).arg("-C").arg(&dir);
                tools.run(command, None)?;
                dir
            }
        });
    }
    let files: Vec<BootFiles> = plan
        .images
        .iter()
        .zip(&roots)
        .zip(placed)
        .map(|((image, root), placed)| match placed {
            Some(placed) => Ok(placed.boot_files.clone()),
            None => find_boot_files(&image.name, root, &image.image_name),
        })
        .collect::<Result<_, _>>()?;
    Ok((roots, files))
}

/// What the build would write: the kernel found in each tree (or in each
/// archive's listing), nothing written.
fn dry_run(
    plan: &Plan,
    options: &BuildOptions,
    outputs: &[PathBuf],
    sources: &[Source],
    listed: &[content::BootNames],
    tools: &tools::Tools,
) -> Result<BuildReport, Error> {
    // A qcow2 image is converted to be read: into a private directory
    // removed before returning (no output is written).
    let scratch = tempfile::Builder::new()
        .prefix(".bouture-dry-run-")
        .tempdir()
        .map_err(io(&std::env::temp_dir(), "cannot create a work directory"))?;
    let placed = fsimage::prepare_all(plan, sources, tools, scratch.path(), false)?;
    let files: Vec<BootFiles> = plan
        .images
        .iter()
        .zip(sources)
        .zip(listed)
        .zip(&placed)
        .map(
            |(((image, source), listed), placed)| match (source, listed, placed) {
                (_, _, Some(placed)) => Ok(placed.boot_files.clone()),
                (Source::Tar(archive), Some(names), None) => {
                    pick_boot_files(&image.name, names, None, &image.image_name, archive)
                }
                (Source::Dir(dir) | Source::Tar(dir), _, None) => {
                    find_boot_files(&image.name, dir, &image.image_name)
                }
                (Source::FsImage(fs), _, None) => Err(Error::Source {
                    image: image.name.clone(),
                    message: format!("{} was not prepared", fs.path.display()),
                }),
            },
        )
        .collect::<Result<_, _>>()?;
    let boot_info = plan.boot_info(&files);
    Ok(BuildReport {
        dry_run: true,
        disks: disk_list(plan, outputs, options.format),
        boot_files: files,
        boot_info,
    })
}

fn disk_list(plan: &Plan, outputs: &[PathBuf], format: DiskFormat) -> Vec<BuiltDisk> {
    plan.disks
        .iter()
        .zip(outputs)
        .map(|(disk, path)| BuiltDisk {
            disk: disk.id.clone(),
            path: path.clone(),
            format,
            size_bytes: disk.size_bytes,
        })
        .collect()
}

//! `bouture deploy image`: put a new version of one image onto a multiboot
//! disk that bouture built, while another image runs (A/B update). Only
//! the partitions that belong to that image alone are remade; shared and
//! `keep_data` partitions are kept byte for byte; the multiboot partition
//! gets the image's new menu entry, boot info and layout record. Every
//! check happens before the first byte is written, under the disk's lock.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::content::check_content;
use super::ext::{Region, fill_filesystem};
use super::inputs::{Source, buildable, fs_image_tools};
use super::kernel::find_boot_files;
use super::verify::table_matches;
use crate::bootcfg::{BootFiles, BootInfo};
use crate::error::{Error, io};
use crate::layout::{LAYOUT_FORMAT, LAYOUT_LIMIT, LAYOUT_NAME, Layout};
use crate::plan::MULTIBOOT_NAME;
use crate::plan::{PartitionPlan, PartitionRole, Plan};
use crate::running::{Running, detect};
use crate::switch::{
    BOOT_INFO_NAME, GRUB_DIR, Opened, debugfs, device_spec, open_disk, read_disk, read_table,
};
use crate::tools::Tools;

/// What `bouture deploy image` is asked.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeployOptions {
    /// The image's `name`.
    pub image: String,
    /// The multiboot disk: an image file or a block device (the first
    /// disk given).
    pub disk: PathBuf,
    /// The document's other disks, when its images span several: with
    /// [`DeployOptions::disk`], one per disk in the document's order.
    pub more_disks: Vec<PathBuf>,
    /// The new content of the image's root: a directory, a tar archive, or
    /// a raw or qcow2 filesystem image of its `/`.
    pub source: PathBuf,
    /// The running system's kernel command line (tells which image runs).
    pub cmdline: String,
    /// The running system's mounts ([`crate::PROC_MOUNTINFO`]): the mounted
    /// root's device and its filesystem UUID tell which image runs too.
    pub mountinfo: PathBuf,
    /// Also rewrite the default image.
    pub force: bool,
    /// Check everything, write nothing.
    pub dry_run: bool,
    /// The deadline of the download when the source is an http(s) URL.
    pub pull_deadline: std::time::Duration,
}

impl DeployOptions {
    /// Deploy `source` into `image` on `disk`, `cmdline` telling what runs.
    pub fn new(image: &str, disk: &Path, source: &Path, cmdline: &str) -> Self {
        Self {
            image: image.to_owned(),
            disk: disk.to_owned(),
            more_disks: Vec::new(),
            source: source.to_owned(),
            cmdline: cmdline.to_owned(),
            mountinfo: PathBuf::from(crate::running::PROC_MOUNTINFO),
            force: false,
            dry_run: false,
            pull_deadline: crate::pull::PULL_DEADLINE,
        }
    }
}

/// One partition, rewritten or kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeployedPartition {
    /// The disk's id in the document.
    pub disk: String,
    /// Partition number.
    pub number: u32,
    /// GPT name.
    pub name: String,
    /// Mount point, if any.
    pub mount: Option<String>,
    /// Filesystem type.
    pub fs_type: String,
    /// Byte offset on the disk.
    pub offset_bytes: u64,
    /// Length in bytes.
    pub size_bytes: u64,
    /// Why it is kept (for kept partitions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_because: Option<String>,
}

/// What `bouture deploy image` did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DeployReport {
    /// Nothing was written.
    pub dry_run: bool,
    /// The image deployed.
    pub image: String,
    /// The disk holding the multiboot partition.
    pub disk: PathBuf,
    /// Every disk given, in the document's order.
    pub disks: Vec<PathBuf>,
    /// Which image runs, and how that was told.
    pub running: Running,
    /// The default image (grubenv's `saved_entry`, else grub.cfg's).
    pub default_image: Option<String>,
    /// The partitions remade from the source.
    pub written: Vec<DeployedPartition>,
    /// The image's partitions kept byte for byte (shared, `keep_data`, swap).
    pub kept: Vec<DeployedPartition>,
    /// The image's new kernel, initrd and title.
    pub boot_files: BootFiles,
    /// The multiboot partition's files rewritten.
    pub multiboot_files: Vec<String>,
    /// The boot info after the deploy.
    pub boot_info: BootInfo,
}

/// Put a new version of one image onto a multiboot disk (see the module).
#[allow(clippy::too_many_lines)] // the checks then the writes, in order
pub fn deploy_image(options: &DeployOptions) -> Result<DeployReport, Error> {
    let tools = Tools::require(BASE_TOOLS)?;
    let given: Vec<&PathBuf> = std::iter::once(&options.disk)
        .chain(&options.more_disks)
        .collect();
    let path = multiboot_disk(&tools, &given)?;
    let target = |message: String| Error::Target {
        path: path.clone(),
        message,
    };
    // The exclusive locks are held until the end: a boot switch or another
    // deploy waits (the multiboot disk is locked first, by every deploy).
    let mut opened = open_disk(path, !options.dry_run)?;
    let Some((table, mb_offset)) = opened.disk.clone() else {
        return Err(target("not a disk".into()));
    };
    let layout = read_layout(&tools, path, &opened, &table, mb_offset)?;
    let plan = &layout.plan;
    let Some((disk_plan, _)) = plan.multiboot_partition() else {
        return Err(target(format!(
            "{LAYOUT_NAME}: the plan has no multiboot partition"
        )));
    };
    buildable(plan)?;
    let index = plan
        .images
        .iter()
        .position(|i| i.name == options.image)
        .ok_or_else(|| Error::UnknownImage {
            image: bouture_text::truncate(&options.image, 80),
            valid: plan.images.iter().map(|i| i.name.clone()).collect(),
        })?;
    let image = plan
        .images
        .get(index)
        .ok_or_else(|| target("no such image".into()))?;
    let running = detect(&opened.info, &options.cmdline, &options.mountinfo)?;
    let default_image = default_of(&opened, plan);
    refuse_unsafe(
        plan,
        &image.name,
        &running,
        default_image.as_deref(),
        options.force,
    )?;
    let (paths, _locks) = other_disks(&tools, plan, &given, path, !options.dry_run)?;
    let (written, kept) = partitions_of(plan, &image.name, &paths)?;
    if written.is_empty() {
        return Err(target(format!(
            "image {} has no partition of its own to rewrite",
            image.name
        )));
    }
    // A URL is downloaded (bounded by the image's partitions, its checksum
    // verified) into a private directory removed when the deploy ends.
    let work_parent = work_parent(path)?;
    let pulled = match options.source.to_str().filter(|t| crate::pull::is_url(t)) {
        Some(url) => Some(crate::pull::pull(
            &image.name,
            url,
            plan.capacity_of(&image.name),
            options.pull_deadline,
            &work_parent,
            None,
        )?),
        None => None,
    };
    let local = pulled
        .as_ref()
        .map_or_else(|| options.source.clone(), |p| p.path().to_owned());
    let (tools, source) = tools_for(&image.name, &local)?;
    // The source must fit its partitions: measured as the build does (a tar
    // archive listed, not extracted, and stopped past the partitions' size).
    let mut only = plan.clone();
    only.images.retain(|i| i.name == image.name);
    check_content(&only, std::slice::from_ref(&source), &tools)?;
    let work = tempfile::Builder::new()
        .prefix(".bouture-deploy-")
        .tempdir_in(&work_parent)
        .map_err(io(&work_parent, "cannot create a work directory"))?;
    let work = work.path();
    // A filesystem image is checked (size, type, e2fsck) against its
    // partition, converted from qcow2 into the work directory, before any
    // byte is written.
    let placed = super::fsimage::prepare_all(
        &only,
        std::slice::from_ref(&source),
        &tools,
        work,
        !options.dry_run,
    )?
    .into_iter()
    .flatten()
    .next();
    if let Some(placed) = &placed
        && !written
            .iter()
            .any(|(d, p)| *d == placed.disk && p.number == placed.partition)
    {
        return Err(target(format!(
            "image {}'s '/' (partition {}) is kept (keep_data): a filesystem image cannot be written there",
            image.name, placed.partition
        )));
    }
    let root = if placed.is_some() {
        let dir = work.join("source");
        std::fs::create_dir(&dir).map_err(io(&dir, "cannot create"))?;
        dir
    } else if matches!(source, Source::Tar(_)) {
        let dir = work.join("source");
        std::fs::create_dir(&dir).map_err(io(&dir, "cannot create"))?;
        let mut command = tools.command("tar");
        command.arg("-x").arg("-f").arg(&local).arg("-C").arg(&dir);
        tools.run(command, None)?;
        dir
    } else {
        options.source.clone()
    };
    let boot_files = match &placed {
        Some(placed) => placed.boot_files.clone(),
        None => find_boot_files(&image.name, &root, &image.image_name)?,
    };
    let mut files = layout.boot_files.clone();
    if let Some(slot) = files.get_mut(index) {
        slot.clone_from(&boot_files);
    }
    let mut boot_info = plan.boot_info(&files);
    if let Some(default) = default_image
        .as_deref()
        .and_then(|d| boot_info.elements.iter().find(|e| e.os_id == d))
    {
        boot_info.current_element = default.grub_id;
    }
    let multiboot_files = vec![
        format!("{GRUB_DIR}/grub.cfg"),
        format!("{GRUB_DIR}/{BOOT_INFO_NAME}"),
        format!("{GRUB_DIR}/{LAYOUT_NAME}"),
    ];
    let report = |dry_run| DeployReport {
        dry_run,
        image: image.name.clone(),
        disk: path.clone(),
        disks: given.iter().map(|p| (*p).clone()).collect(),
        running: running.clone(),
        default_image: default_image.clone(),
        written: written
            .iter()
            .map(|(d, p)| describe(plan, *d, p, None))
            .collect(),
        kept: kept.clone(),
        boot_files: boot_files.clone(),
        multiboot_files: multiboot_files.clone(),
        boot_info: boot_info.clone(),
    };
    if options.dry_run {
        return Ok(report(true));
    }

    // Writing starts here. A pending one-shot boot of this image is
    // cancelled first, so no reboot tries it half-written.
    clear_next_entry(&mut opened, &image.grub_entry_id)?;
    let mut roots = vec![PathBuf::new(); plan.images.len()];
    if let Some(slot) = roots.get_mut(index) {
        *slot = root;
    }
    for (d, partition) in &written {
        let (Some(Some(disk_path)), Some(disk)) = (paths.get(*d), plan.disks.get(*d)) else {
            continue;
        };
        let region = Region {
            disk: disk_path,
            offset: partition.offset_bytes,
            size: partition.size_bytes,
        };
        match placed
            .as_ref()
            .filter(|p| p.disk == *d && p.partition == partition.number)
        {
            Some(placed) => {
                super::fsimage::write(&tools, plan, partition, placed, &region, false)?;
            }
            None => fill_filesystem(&tools, plan, disk, partition, &roots, work, &region)?,
        }
        fsck(&tools, disk_path, partition.offset_bytes)?;
    }
    let layout = Layout::new(plan, &files);
    let mut info_text = serde_json::to_vec_pretty(&boot_info).unwrap_or_default();
    info_text.push(b'\n');
    let contents: Vec<(&str, Vec<u8>)> = vec![
        (BOOT_INFO_NAME, info_text),
        (LAYOUT_NAME, layout.to_json()),
        ("grub.cfg", plan.grub_cfg(&files).into_bytes()),
    ];
    replace_multiboot_files(&tools, path, mb_offset, work, &contents)?;
    fsck(&tools, path, mb_offset)?;
    // Read back: the table, the grubenv (where it was) and the boot info.
    let back = read_disk(opened.lock, path)?;
    if back
        .disk
        .as_ref()
        .is_none_or(|(t, _)| !table_matches(t, disk_plan))
    {
        return Err(Error::ReadBack {
            path: path.clone(),
            what: "the partition table".into(),
        });
    }
    if back.info.elements != boot_info.elements {
        return Err(Error::ReadBack {
            path: path.clone(),
            what: BOOT_INFO_NAME.into(),
        });
    }
    for (d, other) in paths.iter().enumerate() {
        let (Some(other), Some(disk)) = (other, plan.disks.get(d)) else {
            continue;
        };
        if other != path && !table_matches(&read_table(&tools, other)?, disk) {
            return Err(Error::ReadBack {
                path: other.clone(),
                what: "the partition table".into(),
            });
        }
    }
    Ok(report(false))
}

/// The layout record, checked against the disk: its table and boot info
/// must be the ones bouture wrote.
fn read_layout(
    tools: &Tools,
    path: &Path,
    opened: &Opened,
    table: &crate::switch::SfdiskTable,
    mb_offset: u64,
) -> Result<Layout, Error> {
    let target = |message: String| Error::Target {
        path: path.to_owned(),
        message,
    };
    let text = debugfs(
        tools,
        path,
        mb_offset,
        &format!("cat {GRUB_DIR}/{LAYOUT_NAME}"),
    )?;
    if text.is_empty() {
        return Err(target(format!(
            "the multiboot partition has no {GRUB_DIR}/{LAYOUT_NAME}: the disk was built by an older bouture (rebuild it)"
        )));
    }
    if text.len() as u64 > LAYOUT_LIMIT {
        return Err(target(format!(
            "{LAYOUT_NAME} is larger than {LAYOUT_LIMIT} bytes"
        )));
    }
    let layout: Layout = crate::parse_strict(text.as_bytes())
        .and_then(serde_json::from_value)
        .map_err(|error| target(format!("{LAYOUT_NAME}: {error}")))?;
    if layout.format != LAYOUT_FORMAT {
        return Err(target(format!(
            "{LAYOUT_NAME} is format '{}', not {LAYOUT_FORMAT}",
            bouture_text::truncate(&layout.format, 60)
        )));
    }
    let plan = &layout.plan;
    if layout.boot_files.len() != plan.images.len() {
        return Err(target(format!(
            "{LAYOUT_NAME}: boot files do not match the images"
        )));
    }
    let Some((disk_plan, _)) = plan.multiboot_partition() else {
        return Err(target(format!(
            "{LAYOUT_NAME}: the plan has no multiboot partition"
        )));
    };
    // The disk is the one bouture wrote: its table, and its boot info.
    if !table_matches(table, disk_plan) {
        return Err(target(format!(
            "the partition table is not the one bouture wrote (GPT {} with {} partitions, as {LAYOUT_NAME} records): refusing to write",
            disk_plan.disk_uuid,
            disk_plan.partitions.len()
        )));
    }
    let recorded = plan.boot_info(&layout.boot_files);
    if recorded.elements != opened.info.elements
        || recorded.multiboot_partition != opened.info.multiboot_partition
    {
        return Err(target(format!(
            "{BOOT_INFO_NAME} does not match {LAYOUT_NAME}: refusing to write"
        )));
    }
    Ok(layout)
}

/// What reading the disk needs.
const BASE_TOOLS: &[(&str, &str)] = &[
    ("sfdisk", "fdisk"),
    ("mke2fs", "e2fsprogs"),
    ("debugfs", "e2fsprogs"),
    ("e2fsck", "e2fsprogs"),
    ("cp", "coreutils"),
];

/// The tools needed, and the source (a tree, a tar archive or a
/// filesystem image).
fn tools_for(image: &str, path: &Path) -> Result<(Tools, Source), Error> {
    let mut wanted = BASE_TOOLS.to_vec();
    let source = Source::open(image, path)?;
    match &source {
        Source::Tar(_) => wanted.push(("tar", "tar")),
        Source::FsImage(fs) => wanted.extend(fs_image_tools(fs.format)),
        Source::Dir(_) => {}
    }
    Ok((Tools::require(&wanted)?, source))
}

/// The running image is never rewritten, the default only with `force`;
/// the refusal names the images that are safe to update.
fn refuse_unsafe(
    plan: &Plan,
    image: &str,
    running: &Running,
    default_image: Option<&str>,
    force: bool,
) -> Result<(), Error> {
    let safe: Vec<&str> = plan
        .images
        .iter()
        .map(|i| i.name.as_str())
        .filter(|n| running.image.as_deref() != Some(*n) && default_image != Some(*n))
        .collect();
    let safe_text = if safe.is_empty() {
        "no image is safe to update: make another one the default first".to_owned()
    } else {
        format!("safe to update: {}", safe.join(", "))
    };
    if running.image.as_deref() == Some(image) {
        return Err(Error::Refused(format!(
            "image {} is running ({}): it is never rewritten; {safe_text}",
            image, running.evidence
        )));
    }
    if default_image == Some(image) && !force {
        return Err(Error::DefaultImage {
            image: image.to_owned(),
            safe: safe_text,
        });
    }
    Ok(())
}

/// The default image: grubenv's `saved_entry` when it names one, else the
/// image grub.cfg's `set default=N` boots (the `boot: true` one).
fn default_of(opened: &Opened, plan: &Plan) -> Option<String> {
    let saved = opened.env.get("saved_entry").unwrap_or_default();
    plan.images
        .iter()
        .find(|i| i.grub_entry_id == saved)
        .or_else(|| plan.boot_image())
        .map(|i| i.name.clone())
}

type Written<'a> = Vec<(usize, &'a PartitionPlan)>;

/// The image's partitions: those it owns alone (remade) and the others
/// (kept), each with its disk's index. A partition on a disk not given is
/// refused, naming the disks to give.
fn partitions_of<'a>(
    plan: &'a Plan,
    image: &str,
    paths: &[Option<PathBuf>],
) -> Result<(Written<'a>, Vec<DeployedPartition>), Error> {
    let mut written = Vec::new();
    let mut kept = Vec::new();
    for (d, disk) in plan.disks.iter().enumerate() {
        for partition in &disk.partitions {
            let Some(fs) = &partition.filesystem else {
                continue;
            };
            if partition.role == PartitionRole::Multiboot || !fs.images.iter().any(|i| i == image) {
                continue;
            }
            let kept_because = if fs.images.len() > 1 {
                Some(format!("shared with {}", fs.images.join(", ")))
            } else if fs.keep_data {
                Some("keep_data".to_owned())
            } else if fs.fs_type == "swap" {
                Some("swap (nothing to deploy)".to_owned())
            } else {
                None
            };
            if kept_because.is_none() && paths.get(d).is_none_or(Option::is_none) {
                return Err(Error::Disks {
                    path: None,
                    problem: format!("image {image} has partitions on disk {}", disk.id),
                    order: plan.disks.iter().map(|d| d.id.clone()).collect(),
                });
            }
            match kept_because {
                Some(reason) => kept.push(describe(plan, d, partition, Some(reason))),
                None => written.push((d, partition)),
            }
        }
    }
    Ok((written, kept))
}

/// The given disk holding the multiboot partition (the only one given,
/// else the one whose GPT has it). Two names of one disk are refused.
fn multiboot_disk<'a>(tools: &Tools, given: &[&'a PathBuf]) -> Result<&'a PathBuf, Error> {
    for (i, a) in given.iter().enumerate() {
        if given
            .iter()
            .skip(i + 1)
            .any(|b| bouture_fs::same_file(a, b))
        {
            return Err(Error::Disks {
                path: Some((*a).clone()),
                problem: "is given twice".into(),
                order: Vec::new(),
            });
        }
    }
    if let [only] = given {
        return Ok(only);
    }
    let mut found = Vec::new();
    for path in given {
        let table = read_table(tools, path)?;
        if table.partitions.iter().any(|p| p.name == MULTIBOOT_NAME) {
            found.push(*path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one),
        _ => Err(Error::Unsupported(format!(
            "{} of the {} disks given have a '{MULTIBOOT_NAME}' partition, not exactly one",
            found.len(),
            given.len()
        ))),
    }
}

/// The path of each of the plan's disks (in its order), every disk but the
/// multiboot one locked and its table checked against the layout record.
/// One disk given for a document of several: only the multiboot disk is
/// known. Several: exactly one per disk, in the document's order.
fn other_disks(
    tools: &Tools,
    plan: &Plan,
    given: &[&PathBuf],
    multiboot: &Path,
    write: bool,
) -> Result<(Vec<Option<PathBuf>>, Vec<bouture_fs::FileLock>), Error> {
    let order = || plan.disks.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
    let Some(mb_index) = plan.disks.iter().position(|d| {
        d.partitions
            .iter()
            .any(|p| p.role == PartitionRole::Multiboot)
    }) else {
        return Err(Error::Target {
            path: multiboot.to_owned(),
            message: format!("{LAYOUT_NAME}: the plan has no multiboot partition"),
        });
    };
    if let [_] = given {
        let mut paths = vec![None; plan.disks.len()];
        if let Some(slot) = paths.get_mut(mb_index) {
            *slot = Some(multiboot.to_owned());
        }
        return Ok((paths, Vec::new()));
    }
    if given.len() != plan.disks.len() {
        return Err(Error::Disks {
            path: None,
            problem: format!(
                "the layout has {} disk(s), {} given",
                plan.disks.len(),
                given.len()
            ),
            order: order(),
        });
    }
    let mut locks = Vec::new();
    for (d, (path, disk)) in given.iter().zip(&plan.disks).enumerate() {
        if d == mb_index {
            if path.as_path() != multiboot {
                return Err(Error::Disks {
                    path: Some((*path).clone()),
                    problem: format!(
                        "is given as disk {} but the multiboot partition is on {}",
                        disk.id,
                        multiboot.display()
                    ),
                    order: order(),
                });
            }
            continue;
        }
        locks.push(crate::switch::lock(path, write, true)?);
        if !table_matches(&read_table(tools, path)?, disk) {
            return Err(Error::Disks {
                path: Some((*path).clone()),
                problem: format!(
                    "is not disk {} of the layout (GPT {} with {} partitions)",
                    disk.id,
                    disk.disk_uuid,
                    disk.partitions.len()
                ),
                order: order(),
            });
        }
    }
    Ok((given.iter().map(|p| Some((*p).clone())).collect(), locks))
}

fn describe(
    plan: &Plan,
    disk: usize,
    partition: &PartitionPlan,
    kept_because: Option<String>,
) -> DeployedPartition {
    let fs = partition.filesystem.as_ref();
    DeployedPartition {
        disk: plan
            .disks
            .get(disk)
            .map(|d| d.id.clone())
            .unwrap_or_default(),
        number: partition.number,
        name: partition.name.clone(),
        mount: fs.and_then(|f| f.mount.clone()),
        fs_type: fs.map(|f| f.fs_type.clone()).unwrap_or_default(),
        offset_bytes: partition.offset_bytes,
        size_bytes: partition.size_bytes,
        kept_because,
    }
}

/// Where the work directory goes: beside a disk image, in the temporary
/// directory for a block device.
fn work_parent(disk: &Path) -> Result<PathBuf, Error> {
    let meta = std::fs::metadata(disk).map_err(io(disk, "cannot stat"))?;
    if meta.file_type().is_block_device() {
        return Ok(std::env::temp_dir());
    }
    Ok(disk
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf))
}

/// Cancel `next_entry` when it names `id` (the image about to be rewritten).
fn clear_next_entry(opened: &mut Opened, id: &str) -> Result<(), Error> {
    if opened.env.get("next_entry") != Some(id) {
        return Ok(());
    }
    opened.env.set("next_entry", "");
    let block = opened.env.encode().map_err(|source| Error::GrubEnv {
        path: opened.location.file.clone(),
        source,
    })?;
    crate::switch::write_verified(opened.lock.file(), &opened.location, &block)
}

/// `e2fsck -fn` on the filesystem at `offset`: must be clean.
fn fsck(tools: &Tools, disk: &Path, offset: u64) -> Result<(), Error> {
    let mut command = tools.command("e2fsck");
    command.arg("-fn").arg(device_spec(disk, offset)?);
    tools.run(command, None).map(drop)
}

/// Replace files in the multiboot partition's `/boot/grub` with debugfs
/// (the grubenv's block is not touched), then read each back.
fn replace_multiboot_files(
    tools: &Tools,
    disk: &Path,
    offset: u64,
    work: &Path,
    contents: &[(&str, Vec<u8>)],
) -> Result<(), Error> {
    use std::fmt::Write as _;
    let mut script = format!("cd {GRUB_DIR}\n");
    for (name, bytes) in contents {
        let local_text =
            super::ext::stage_for_debugfs(&work.join(format!("multiboot-{name}")), bytes)?;
        let _ = writeln!(
            script,
            "rm {name}\nwrite {local_text} {name}\nsif {name} mode 0100644"
        );
    }
    let mut command = tools.command("debugfs");
    command
        .args(["-w", "-f", "-"])
        .arg(device_spec(disk, offset)?);
    tools.run(command, Some(script.as_bytes()))?;
    // Read back, all in one debugfs run: each file dumped into the work
    // directory, then compared.
    let mut script = String::new();
    let mut dumped = Vec::new();
    for (name, bytes) in contents {
        let local = work.join(format!("back-{name}"));
        let _ = writeln!(
            script,
            "dump {GRUB_DIR}/{name} {}",
            crate::switch::debugfs_word(&local, "work")?
        );
        dumped.push((name, bytes, local));
    }
    let mut command = tools.command("debugfs");
    command.args(["-f", "-"]).arg(device_spec(disk, offset)?);
    tools.run(command, Some(script.as_bytes()))?;
    for (name, bytes, local) in dumped {
        let same = std::fs::metadata(&local).is_ok_and(|m| m.len() == bytes.len() as u64)
            && std::fs::read(&local).is_ok_and(|back| back == *bytes);
        if !same {
            return Err(Error::ReadBack {
                path: disk.to_owned(),
                what: format!("{GRUB_DIR}/{name} on the multiboot partition"),
            });
        }
    }
    Ok(())
}

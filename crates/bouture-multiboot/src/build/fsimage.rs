//! Filesystem images as image sources (Bareon's raw container, and
//! qcow2): the image's `/` filesystem as bytes, written at its partition's
//! offset. Everything is checked before the first byte reaches a disk: the
//! file's size and the filesystem's (read from its superblock) against the
//! partition's, its type against the document's, and `e2fsck -fn` on it.
//! A qcow2 image is converted to raw with `qemu-img` into the run's private
//! work directory (its virtual size checked first, so the copy is bounded
//! by the partition), removed whatever ends the run. Once written, the
//! filesystem gets the planned UUID and label (`tune2fs`) and the image's
//! generated fstab (`debugfs`), so menu entries and fstab find it as they
//! find a filesystem made from a tree.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ext::Region;
use super::kernel::{os_release_text, pick_boot_files};
use crate::bootcfg::BootFiles;
use crate::error::{Error, io};
use crate::plan::{PartitionPlan, Plan};
use crate::superblock::{Superblock, filesystem_type, read_head};
use crate::tools::Tools;

/// How a filesystem image is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FsFormat {
    /// The filesystem's bytes as they go on the partition.
    Raw,
    /// A qcow2 file holding them (converted with qemu-img).
    Qcow2,
}

/// A filesystem image given as an image's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FsImage {
    /// The file given.
    pub(super) path: PathBuf,
    /// Raw or qcow2.
    pub(super) format: FsFormat,
}

/// What a regular file given as a source is: `Some` for a filesystem
/// image (raw or qcow2), `None` for anything else (read as a tar archive).
pub(super) fn sniff(path: &Path) -> Result<Option<FsFormat>, Error> {
    let head = read_head(path)?;
    if head.starts_with(b"QFI\xfb") {
        return Ok(Some(FsFormat::Qcow2));
    }
    Ok(filesystem_type(&head).map(|_| FsFormat::Raw))
}

/// Where an image's filesystem image goes: the partition of its `/`, the
/// only filesystem it may own alone (a filesystem image fills one
/// filesystem; those it shares with other images are made from their
/// sources by a build and kept by `deploy image`, swap is made empty).
pub(super) fn target_partition<'a>(
    plan: &'a Plan,
    image: &str,
) -> Result<(usize, &'a PartitionPlan), Error> {
    let refuse = |message: String| Error::Source {
        image: image.to_owned(),
        message,
    };
    let mut root = None;
    for (d, disk) in plan.disks.iter().enumerate() {
        for partition in &disk.partitions {
            let Some(fs) = &partition.filesystem else {
                continue;
            };
            let shared = fs.images.len() > 1;
            if !fs.images.iter().any(|i| i == image) || fs.fs_type == "swap" || shared {
                continue;
            }
            match fs.mount.as_deref() {
                Some("/") => root = Some((d, partition)),
                Some(mount) => {
                    return Err(refuse(format!(
                        "a filesystem image fills the image's '/' only, but the image also owns {mount} (partition {} of disk {}): give a directory or a tar archive",
                        partition.number, disk.id
                    )));
                }
                None => {}
            }
        }
    }
    root.ok_or_else(|| refuse("the image has no '/' filesystem for a filesystem image".into()))
}

/// Check a filesystem image against the partition it goes to, converting
/// a qcow2 one to raw into `work`; nothing is written to any disk. The raw
/// bytes to write (the file given, or its conversion) and their superblock;
/// with `grow`, a filesystem smaller than its partition is grown to it
/// ([`grow_to`]).
pub(super) fn prepare(
    tools: &Tools,
    image: &str,
    source: &FsImage,
    partition: &PartitionPlan,
    work: &Path,
    grow: bool,
) -> Result<(PathBuf, Superblock), Error> {
    let refuse = |message: String| Error::Source {
        image: image.to_owned(),
        message,
    };
    let capacity = partition.size_bytes;
    let shown = source.path.display();
    let raw = match source.format {
        FsFormat::Raw => source.path.clone(),
        FsFormat::Qcow2 => {
            let virtual_size = qcow2_size(tools, &source.path)?;
            if virtual_size > capacity {
                return Err(refuse(format!(
                    "{shown} holds a {virtual_size}-byte filesystem, larger than its {capacity}-byte partition {}; nothing was written",
                    partition.number
                )));
            }
            let raw = work.join(format!("fsimage-{}.raw", super::inputs::sanitize(image)));
            let mut command = tools.command("qemu-img");
            command
                .args(["convert", "-q", "-f", "qcow2", "-O", "raw"])
                .arg(&source.path)
                .arg(&raw);
            tools.run(command, None)?;
            raw
        }
    };
    let length = std::fs::metadata(&raw)
        .map_err(io(&raw, "cannot read the image source"))?
        .len();
    if length > capacity {
        return Err(refuse(format!(
            "{shown} is {length} bytes, larger than its {capacity}-byte partition {}; nothing was written",
            partition.number
        )));
    }
    let head = read_head(&raw)?;
    let wanted = partition
        .filesystem
        .as_ref()
        .map(|f| f.fs_type.as_str())
        .unwrap_or_default();
    match filesystem_type(&head) {
        Some(found) if found == wanted => {}
        Some(found) => {
            return Err(refuse(format!(
                "{shown} is a {found} filesystem, but the document makes partition {} {wanted}",
                partition.number
            )));
        }
        None => {
            return Err(refuse(format!(
                "{shown} holds no filesystem bouture recognises (the document makes partition {} {wanted})",
                partition.number
            )));
        }
    }
    let superblock =
        Superblock::read(&head).ok_or_else(|| refuse(format!("{shown}: unreadable superblock")))?;
    let size = superblock.size;
    if size > length {
        return Err(refuse(format!(
            "{shown}: its superblock describes {size} bytes but the file has {length}: truncated"
        )));
    }
    // Clean before it goes anywhere (read only).
    let mut command = tools.command("e2fsck");
    command.arg("-fn").arg(crate::switch::device_spec(&raw, 0)?);
    tools.run(command, None).map_err(|error| {
        refuse(format!(
            "{shown} is not a clean filesystem (e2fsck -fn): {error}"
        ))
    })?;
    if !grow {
        return Ok((raw, superblock));
    }
    let usable = capacity - capacity % superblock.block_size;
    if superblock.size >= usable {
        return Ok((raw, superblock));
    }
    grow_to(tools, image, source, raw, &superblock, usable, work)
}

/// Grow a checked filesystem image smaller than its partition to `usable`
/// bytes (the partition, whole blocks), in the work directory (a qcow2
/// conversion in place, a raw file given copied first: the source is never
/// changed). resize2fs sizes a regular file to the filesystem it leaves, so
/// it cannot run on a partition inside a disk image file: the image grows
/// before it is written. `e2fsck -fp` first when the superblock is not
/// clean; `tune2fs -T now` records the `e2fsck -fn` just done, which
/// resize2fs asks for.
fn grow_to(
    tools: &Tools,
    image: &str,
    source: &FsImage,
    raw: PathBuf,
    superblock: &Superblock,
    usable: u64,
    work: &Path,
) -> Result<(PathBuf, Superblock), Error> {
    let grown = if raw == source.path {
        let copy = work.join(format!("fsimage-{}.grown", super::inputs::sanitize(image)));
        std::fs::copy(&raw, &copy).map_err(io(&copy, "cannot copy the image source to"))?;
        copy
    } else {
        raw
    };
    std::fs::OpenOptions::new()
        .write(true)
        .open(&grown)
        .and_then(|f| f.set_len(usable))
        .map_err(io(&grown, "cannot size"))?;
    let spec = crate::switch::device_spec(&grown, 0)?;
    if !superblock.clean {
        let mut command = tools.command("e2fsck");
        command.arg("-fp").arg(&spec);
        tools.run(command, None)?;
    }
    let mut command = tools.command("tune2fs");
    command.args(["-T", "now"]).arg(&spec);
    tools.run(command, None)?;
    let mut command = tools.command("resize2fs");
    command.arg(&spec).arg(format!("{}K", usable / 1024));
    tools.run(command, None)?;
    let superblock = Superblock::read(&read_head(&grown)?)
        .filter(|s| s.size == usable)
        .ok_or_else(|| Error::Source {
            image: image.to_owned(),
            message: format!(
                "{}: resize2fs did not grow it to {usable} bytes",
                source.path.display()
            ),
        })?;
    Ok((grown, superblock))
}

/// A prepared filesystem image and where it goes.
#[derive(Debug, Clone)]
pub(super) struct Placed {
    /// The image's name.
    pub(super) image: String,
    /// The disk's index in the plan.
    pub(super) disk: usize,
    /// The partition's number.
    pub(super) partition: u32,
    /// The raw bytes to write.
    pub(super) raw: PathBuf,
    /// Its kernel, initrd and title.
    pub(super) boot_files: BootFiles,
    /// Its `/etc`, where the generated fstab goes.
    pub(super) etc: Etc,
    /// Its superblock, as written.
    pub(super) superblock: Superblock,
}

/// A filesystem image's `/etc`, read before it is written, so the
/// generated fstab is written by one debugfs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Etc {
    /// No `/etc`: it is created.
    Missing,
    /// A directory, holding an `/etc/fstab` (replaced) or not.
    Directory {
        /// `/etc/fstab` exists.
        fstab: bool,
    },
}

/// [`prepare`] for every filesystem image source: one entry per image,
/// `None` for the images given as a tree or an archive. `grow`: grow
/// filesystems smaller than their partition (not for a dry run).
pub(super) fn prepare_all(
    plan: &Plan,
    sources: &[super::inputs::Source],
    tools: &Tools,
    work: &Path,
    grow: bool,
) -> Result<Vec<Option<Placed>>, Error> {
    plan.images
        .iter()
        .zip(sources)
        .map(|(image, source)| {
            let super::inputs::Source::FsImage(fs) = source else {
                return Ok(None);
            };
            let (disk, partition) = target_partition(plan, &image.name)?;
            let (raw, superblock) = prepare(tools, &image.name, fs, partition, work, grow)?;
            let (boot_files, etc) = inspect(tools, &image.name, &raw, &image.image_name)?;
            Ok(Some(Placed {
                image: image.name.clone(),
                disk,
                partition: partition.number,
                raw,
                boot_files,
                etc,
                superblock,
            }))
        })
        .collect()
}

/// The most read of `qemu-img info`'s answer.
const INFO_LIMIT: usize = 64 * 1024;

/// A qcow2 file's virtual size (`qemu-img info`); one with a backing file
/// (a reference to another file) is refused.
fn qcow2_size(tools: &Tools, path: &Path) -> Result<u64, Error> {
    let mut command = tools.command("qemu-img");
    command
        .args(["info", "--output=json", "-f", "qcow2"])
        .arg(path);
    let out = tools.run(command, None)?;
    let bad = |message: String| Error::Source {
        image: path.display().to_string(),
        message,
    };
    if out.len() > INFO_LIMIT {
        return Err(bad("qemu-img info answered too much".into()));
    }
    let value = crate::parse_strict(&out).map_err(|e| bad(format!("qemu-img info: {e}")))?;
    if value.get("backing-filename").is_some() {
        return Err(bad(
            "a qcow2 image with a backing file is refused: give a self-contained image (qemu-img convert)".into(),
        ));
    }
    value
        .get("virtual-size")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("qemu-img info gives no virtual-size".into()))
}

/// The requests of [`inspect`]'s one debugfs run, in order: the commands
/// whose output is parsed first, the files whose text is free last.
const INSPECT: [&str; 5] = [
    "stat /etc",
    "stat /etc/fstab",
    "ls -p /boot",
    "cat /etc/os-release",
    "cat /usr/lib/os-release",
];

/// Read from the filesystem image, in one debugfs run (read only): the
/// kernel, initrd and title (the regular files of `/boot`, os-release's
/// `PRETTY_NAME`), and what its `/etc` is (refused when it is not a
/// directory: the generated fstab could not be written).
pub(super) fn inspect(
    tools: &Tools,
    image: &str,
    raw: &Path,
    image_name: &str,
) -> Result<(BootFiles, Etc), Error> {
    let sections = crate::switch::debugfs_many(tools, raw, 0, &INSPECT)?;
    let [etc, fstab, listing, os_release, usr_os_release] = sections.as_slice() else {
        return Err(Error::Source {
            image: image.to_owned(),
            message: format!("{}: debugfs's answer is incomplete", raw.display()),
        });
    };
    let etc = if etc.trim().is_empty() {
        Etc::Missing
    } else if etc.contains("Type: directory") {
        Etc::Directory {
            fstab: !fstab.trim().is_empty(),
        }
    } else {
        return Err(Error::Source {
            image: image.to_owned(),
            message: "the filesystem image's /etc is not a directory: the generated /etc/fstab cannot be written".into(),
        });
    };
    // `/inode/mode/uid/gid/name/size/`: regular files have mode 100xxx.
    let files: Vec<String> = listing
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('/').collect();
            let mode = fields.get(2)?;
            let name = fields.get(5)?;
            (mode.starts_with("100") && !name.is_empty()).then(|| (*name).to_owned())
        })
        .collect();
    let title = os_release_text(os_release).or_else(|| os_release_text(usr_os_release));
    let boot_files = pick_boot_files(image, &files, title, image_name, &raw.join("boot"))?;
    Ok((boot_files, etc))
}

/// Write a prepared filesystem image into its partition, then give it the
/// planned UUID and label and write the image's fstab. `fresh`: the region is known to be zeros (a new disk file, flushed
/// when it is put in place), so zero blocks are skipped and nothing is
/// flushed here; otherwise (`deploy image`) every byte is written, as `dd`
/// would, and flushed.
///
/// The source was checked with `e2fsck -fn` ([`prepare`]) and these are
/// its bytes: `e2fsck -fp` runs first only when its superblock is not clean
/// (a journal to replay, errors recorded), and `tune2fs -T now` records
/// that check, which `tune2fs -U` asks for. Each tool runs only when it
/// changes something; the caller checks the result.
pub(super) fn write(
    tools: &Tools,
    plan: &Plan,
    partition: &PartitionPlan,
    placed: &Placed,
    region: &Region<'_>,
    fresh: bool,
) -> Result<(), Error> {
    let image = placed.image.as_str();
    let Some(fs) = &partition.filesystem else {
        return Ok(());
    };
    let disk = std::fs::OpenOptions::new()
        .write(true)
        .open(region.disk)
        .map_err(io(region.disk, "cannot open"))?;
    let zeros = if fresh {
        bouture_fs::Zeros::Skip
    } else {
        bouture_fs::Zeros::Zero
    };
    copy_into(&placed.raw, &disk, region, zeros, !fresh)?;
    drop(disk);
    let spec = crate::switch::device_spec(region.disk, region.offset)?;
    let superblock = &placed.superblock;
    if !superblock.clean {
        let mut command = tools.command("e2fsck");
        command.arg("-fp").arg(&spec);
        tools.run(command, None)?;
    }
    if superblock.uuid != fs.uuid || superblock.label != fs.label.as_bytes() {
        let mut command = tools.command("tune2fs");
        command
            .args(["-T", "now", "-U"])
            .arg(fs.uuid.to_string())
            .arg("-L")
            .arg(&fs.label)
            .arg(&spec);
        tools.run(command, None)?;
    }
    let fstab = plan.fstab(image);
    let mut script = String::new();
    match placed.etc {
        Etc::Missing => script.push_str("mkdir /etc\n"),
        Etc::Directory { fstab: true } => script.push_str("rm /etc/fstab\n"),
        Etc::Directory { fstab: false } => {}
    }
    write_fstab(tools, region, &mut script, &fstab)
}

fn write_fstab(
    tools: &Tools,
    region: &Region<'_>,
    script: &mut String,
    fstab: &str,
) -> Result<(), Error> {
    use std::fmt::Write as _;
    let work = tempfile::Builder::new()
        .prefix(".bouture-fstab-")
        .tempdir()
        .map_err(io(&std::env::temp_dir(), "cannot create a work directory"))?;
    let local_text = super::ext::stage_for_debugfs(&work.path().join("fstab"), fstab.as_bytes())?;
    let _ = writeln!(script, "write {local_text} /etc/fstab");
    super::ext::edit(tools, region, script, Some(fstab))
}

/// Copy `from` into the region through [`bouture_fs::RegionWriter`]: every
/// byte (zero blocks zeroed, or skipped in a region known to be zeros),
/// never past the region, flushed when `durable`.
pub(super) fn copy_into(
    from: &Path,
    disk: &File,
    region: &Region<'_>,
    zeros: bouture_fs::Zeros,
    durable: bool,
) -> Result<(), Error> {
    let mut input = File::open(from).map_err(io(from, "cannot open"))?;
    let length = input.metadata().map_err(io(from, "cannot stat"))?.len();
    if length > region.size {
        return Err(Error::Target {
            path: from.to_owned(),
            message: format!(
                "is {length} bytes, larger than its {}-byte partition",
                region.size
            ),
        });
    }
    let mut writer =
        bouture_fs::RegionWriter::new(disk, region.disk, region.offset, region.size, zeros);
    let mut buffer = vec![0u8; 4 << 20];
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            let n = input
                .read(buffer.get_mut(filled..).unwrap_or_default())
                .map_err(io(from, "cannot read"))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        writer.write(buffer.get(..filled).unwrap_or_default())?;
    }
    if durable {
        writer.sync()?;
    }
    Ok(())
}

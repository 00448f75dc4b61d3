//! `bouture deploy build`: real GPT disk images, without mounting anything
//! and without loop devices. Each filesystem is made with `mke2fs -d` and
//! the planned UUID straight into the disk file at its partition's offset
//! (`-E offset=` with the partition's size, so it cannot spill over);
//! GRUB's boot.img and core.img are written where grub-bios-setup would put
//! them.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bootcfg::{BootFiles, BootInfo};
use crate::error::{Error, io};
use crate::plan::{DiskPlan, ImagePlan, PartitionPlan, PartitionRole, Plan, SECTOR};
use crate::switch::{BOOT_INFO_NAME, BootTarget, GRUB_DIR, read_table};
use crate::tools::{GRUB_I386_PC, Tools, run};

/// `--image NAME=SOURCE`: a directory tree or a tar archive of the image's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSource {
    /// The image's `name`.
    pub name: String,
    /// The directory or tar archive.
    pub path: PathBuf,
}

/// The disk image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskFormat {
    /// A raw disk image (sparse).
    #[default]
    Raw,
    /// qcow2, converted with qemu-img.
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
    /// Check everything, write nothing.
    pub dry_run: bool,
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
            dry_run: false,
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
        return Err(Error::Unsupported("bouture deploy build needs at least two images owning filesystems (a multiboot layout); single-image documents are Bareon's single-boot path".into()));
    };
    check_filesystems(plan)?;
    // Everything is checked before anything is written.
    let sources = check_sources(plan, &options.sources)?;
    let outputs = output_paths(plan, &options.outputs, options.format)?;
    let tools = required_tools(plan, options, &sources)?;
    check_grub_dir(&options.grub_dir)?;
    let parent = outputs
        .first()
        .and_then(|p| p.parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);

    if options.dry_run {
        let files: Vec<BootFiles> = plan
            .images
            .iter()
            .zip(&sources)
            .map(|(image, source)| match source {
                Source::Dir(dir) => find_boot_files(&image.name, dir, &image.image_name),
                Source::Tar(_) => Ok(BootFiles::default_for(image)),
            })
            .collect::<Result<_, _>>()?;
        let boot_info = plan.boot_info(&files);
        return Ok(BuildReport {
            dry_run: true,
            disks: disk_list(plan, &outputs, options.format),
            boot_files: files,
            boot_info,
        });
    }

    let work = tempfile::Builder::new()
        .prefix(".bouture-build-")
        .tempdir_in(&parent)
        .map_err(io(&parent, "cannot create a work directory"))?;
    let work = work.path();
    // Tar archives are unpacked first; directories are read in place.
    let mut roots = Vec::new();
    for (image, source) in plan.images.iter().zip(&sources) {
        roots.push(match source {
            Source::Dir(dir) => dir.clone(),
            Source::Tar(archive) => {
                let dir = work.join(format!("src-{}", image.name));
                std::fs::create_dir(&dir).map_err(io(&dir, "cannot create"))?;
                let mut command = tools.command("tar");
                command.arg("-x").arg("-f").arg(archive).arg("-C").arg(&dir);
                run(command, None)?;
                dir
            }
        });
    }
    let files: Vec<BootFiles> = plan
        .images
        .iter()
        .zip(&roots)
        .map(|(image, root)| find_boot_files(&image.name, root, &image.image_name))
        .collect::<Result<_, _>>()?;
    let boot_info = plan.boot_info(&files);

    let core = make_core_image(&tools, work, &options.grub_dir, &multiboot_uuid.to_string())?;
    let mut temps = Vec::new();
    for (n, (disk, output)) in plan.disks.iter().zip(&outputs).enumerate() {
        let raw = work.join(format!("disk-{n}.img"));
        build_disk(
            &tools, plan, disk, &roots, &files, &boot_info, options, work, &raw, &core,
        )?;
        verify_disk(&tools, disk, &raw)?;
        let built = match options.format {
            DiskFormat::Raw => raw,
            DiskFormat::Qcow2 => {
                let qcow = work.join(format!("disk-{n}.qcow2"));
                let mut command = tools.command("qemu-img");
                command
                    .args(["convert", "-q", "-f", "raw", "-O", "qcow2"])
                    .arg(&raw)
                    .arg(&qcow);
                run(command, None)?;
                std::fs::remove_file(&raw).map_err(io(&raw, "cannot remove"))?;
                qcow
            }
        };
        temps.push((built, output.clone()));
    }
    // All disks are complete: move them into place.
    move_into_place(&temps)?;
    if let Some(path) = &options.boot_info {
        let mut text = serde_json::to_vec_pretty(&boot_info).unwrap_or_default();
        text.push(b'\n');
        bouture_fs::write_atomic(path, &text, 0o644, None)?;
    }
    Ok(BuildReport {
        dry_run: false,
        disks: disk_list(plan, &outputs, options.format),
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

/// GRUB's BIOS files (Debian's grub-pc-bin).
fn check_grub_dir(grub_dir: &Path) -> Result<(), Error> {
    let missing: Vec<crate::error::MissingTool> =
        ["boot.img", "kernel.img", "ext2.mod", "moddep.lst"]
            .iter()
            .map(|name| grub_dir.join(name))
            .filter(|path| !path.is_file())
            .map(|path| crate::error::MissingTool {
                tool: path.display().to_string(),
                package: "grub-pc-bin".into(),
            })
            .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingTools(missing))
    }
}

/// Rename each built disk over its output (keeping an existing output's
/// permissions) and flush the directory.
fn move_into_place(temps: &[(PathBuf, PathBuf)]) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    for (built, output) in temps {
        let mode = std::fs::symlink_metadata(output)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777);
        if let Some(mode) = mode {
            std::fs::set_permissions(built, std::fs::Permissions::from_mode(mode))
                .map_err(io(built, "cannot set permissions"))?;
        }
        std::fs::rename(built, output)
            .map_err(io(output, "cannot move the built disk into place"))?;
        if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir, "cannot flush the directory"))?;
        }
    }
    Ok(())
}

enum Source {
    Dir(PathBuf),
    Tar(PathBuf),
}

fn check_filesystems(plan: &Plan) -> Result<(), Error> {
    for disk in &plan.disks {
        for partition in &disk.partitions {
            let Some(fs) = &partition.filesystem else {
                continue;
            };
            if !matches!(fs.fs_type.as_str(), "ext2" | "ext3" | "ext4" | "swap") {
                return Err(Error::Unsupported(format!(
                    "disk {} partition {} ({}): bouture deploy build makes ext2, ext3, ext4 and swap, not {}",
                    disk.id, partition.number, partition.name, fs.fs_type
                )));
            }
            if fs.mount.as_deref() == Some("/") && fs.images.len() > 1 {
                return Err(Error::Unsupported(format!(
                    "disk {} partition {}: a '/' shared by images {} cannot hold one fstab per image",
                    disk.id,
                    partition.number,
                    fs.images.join(", ")
                )));
            }
        }
    }
    Ok(())
}

fn check_sources(plan: &Plan, given: &[ImageSource]) -> Result<Vec<Source>, Error> {
    let valid: Vec<String> = plan.images.iter().map(|i| i.name.clone()).collect();
    for (i, source) in given.iter().enumerate() {
        if !valid.contains(&source.name) {
            return Err(Error::UnknownImage {
                image: source.name.clone(),
                valid,
            });
        }
        if given
            .iter()
            .skip(i + 1)
            .any(|other| other.name == source.name)
        {
            return Err(Error::Source {
                image: source.name.clone(),
                message: "given twice with --image".into(),
            });
        }
    }
    plan.images
        .iter()
        .map(|image| {
            let source =
                given
                    .iter()
                    .find(|s| s.name == image.name)
                    .ok_or_else(|| Error::Source {
                        image: image.name.clone(),
                        message: "no content given (--image NAME=DIR or NAME=ARCHIVE.tar)".into(),
                    })?;
            let metadata = std::fs::metadata(&source.path)
                .map_err(io(&source.path, "cannot read the image source"))?;
            if metadata.is_dir() {
                Ok(Source::Dir(source.path.clone()))
            } else if metadata.is_file() {
                Ok(Source::Tar(source.path.clone()))
            } else {
                Err(Error::Source {
                    image: image.name.clone(),
                    message: format!(
                        "{} is {}, not a directory or a tar archive",
                        source.path.display(),
                        bouture_fs::describe(metadata.file_type())
                    ),
                })
            }
        })
        .collect()
}

fn output_paths(plan: &Plan, given: &[PathBuf], format: DiskFormat) -> Result<Vec<PathBuf>, Error> {
    let disks = plan.disks.len();
    let paths: Vec<PathBuf> = match given {
        [one] if disks > 1 => {
            let stem = one
                .file_stem()
                .map_or_else(|| "disk".into(), |s| s.to_string_lossy().into_owned());
            let ext = one.extension().map_or_else(
                || match format {
                    DiskFormat::Raw => "img".into(),
                    DiskFormat::Qcow2 => "qcow2".into(),
                },
                |e| e.to_string_lossy().into_owned(),
            );
            plan.disks
                .iter()
                .map(|d| one.with_file_name(format!("{stem}-{}.{ext}", sanitize(&d.id))))
                .collect()
        }
        many if many.len() == disks => many.to_vec(),
        _ => {
            return Err(Error::Unsupported(format!(
                "the document has {disks} disks: give --output once (names are derived) or once per disk, not {} times",
                given.len()
            )));
        }
    };
    for (i, path) in paths.iter().enumerate() {
        if paths.iter().skip(i + 1).any(|p| p == path) {
            return Err(Error::Unsupported(format!(
                "{} is given for two disks",
                path.display()
            )));
        }
        if let Ok(metadata) = std::fs::symlink_metadata(path)
            && !metadata.file_type().is_file()
        {
            return Err(Error::Target {
                path: path.clone(),
                message: format!(
                    "is {}, which is never replaced",
                    bouture_fs::describe(metadata.file_type())
                ),
            });
        }
    }
    Ok(paths)
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn required_tools(plan: &Plan, options: &BuildOptions, sources: &[Source]) -> Result<Tools, Error> {
    let mut wanted = vec![
        ("sfdisk", "fdisk"),
        ("mke2fs", "e2fsprogs"),
        ("debugfs", "e2fsprogs"),
        ("grub-mkimage", "grub-common"),
        ("cp", "coreutils"),
    ];
    if options.format == DiskFormat::Qcow2 {
        wanted.push(("qemu-img", "qemu-utils"));
    }
    if sources.iter().any(|s| matches!(s, Source::Tar(_))) {
        wanted.push(("tar", "tar"));
    }
    if plan
        .disks
        .iter()
        .flat_map(|d| &d.partitions)
        .any(|p| p.filesystem.as_ref().is_some_and(|f| f.fs_type == "swap"))
    {
        wanted.push(("mkswap", "util-linux"));
    }
    Tools::require(&wanted)
}

/// Kernel, initrd and menu title from an image tree's `/boot` and os-release.
fn find_boot_files(image: &str, root: &Path, image_name: &str) -> Result<BootFiles, Error> {
    let boot = root.join("boot");
    let mut kernels: Vec<String> = std::fs::read_dir(&boot)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| n.starts_with("vmlinuz-") || n.starts_with("vmlinux-"))
                .collect()
        })
        .unwrap_or_default();
    kernels.sort_by_key(|a| version_key(a));
    let Some(kernel) = kernels.pop() else {
        return Err(Error::Source {
            image: image.into(),
            message: format!("no kernel in {} (boot/vmlinuz-VERSION)", boot.display()),
        });
    };
    if !safe_file_name(&kernel) {
        return Err(Error::Source {
            image: image.into(),
            message: format!("kernel file name {kernel:?} cannot go into grub.cfg"),
        });
    }
    let version = &kernel[8..];
    let initrd = [
        format!("initrd.img-{version}"),
        format!("initramfs-{version}.img"),
    ]
    .into_iter()
    .find(|name| std::fs::symlink_metadata(boot.join(name)).is_ok_and(|m| m.is_file()))
    .map(|name| format!("/boot/{name}"));
    let title = os_release_name(root).unwrap_or_else(|| {
        if image_name.is_empty() {
            image.to_owned()
        } else {
            image_name.to_owned()
        }
    });
    Ok(BootFiles {
        title,
        kernel: format!("/boot/{kernel}"),
        initrd,
    })
}

fn safe_file_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._+-~".contains(&b))
}

fn version_key(name: &str) -> Vec<(u64, String)> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|part| (part.parse().unwrap_or(0), part.to_owned()))
        .collect()
}

fn os_release_name(root: &Path) -> Option<String> {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|rel| {
            let text =
                bouture_fs::read_bounded(&root.join(rel), 64 * 1024, bouture_fs::Links::Refuse)
                    .ok()?;
            let text = String::from_utf8_lossy(&text).into_owned();
            let value = text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))?;
            let value = value.trim().trim_matches('"').trim_matches('\'');
            let clean: String = value
                .chars()
                .filter(|c| !c.is_control() && !"'\"\\$".contains(*c))
                .collect();
            (!clean.is_empty()).then(|| crate::excerpt(&clean, 80))
        })
}

/// core.img for the BIOS: finds the multiboot filesystem by UUID, so disk
/// order does not matter.
fn make_core_image(
    tools: &Tools,
    work: &Path,
    grub_dir: &Path,
    multiboot_uuid: &str,
) -> Result<Vec<u8>, Error> {
    let early = work.join("early.cfg");
    std::fs::write(
        &early,
        format!("search.fs_uuid {multiboot_uuid} root\nset prefix=($root){GRUB_DIR}\n"),
    )
    .map_err(io(&early, "cannot write"))?;
    let core = work.join("core.img");
    let mut command = tools.command("grub-mkimage");
    command
        .args(["-O", "i386-pc", "-o"])
        .arg(&core)
        .arg("-d")
        .arg(grub_dir)
        .arg("-c")
        .arg(&early)
        .args(["-p", GRUB_DIR])
        .args([
            "biosdisk",
            "part_gpt",
            "ext2",
            "search",
            "search_fs_uuid",
            "normal",
            "configfile",
            "loadenv",
            "test",
            "echo",
            "linux",
            "serial",
            "terminal",
        ]);
    run(command, None)?;
    std::fs::read(&core).map_err(io(&core, "cannot read"))
}

#[allow(clippy::too_many_arguments)]
fn build_disk(
    tools: &Tools,
    plan: &Plan,
    disk: &DiskPlan,
    roots: &[PathBuf],
    files: &[BootFiles],
    boot_info: &BootInfo,
    options: &BuildOptions,
    work: &Path,
    raw: &Path,
    core: &[u8],
) -> Result<(), Error> {
    // The disk: a sparse file with the GPT, then each filesystem made in
    // place at its partition's offset (mke2fs -E offset= with the size
    // given, so it never writes past its partition), then the boot code.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(raw)
        .map_err(io(raw, "cannot create"))?;
    file.set_len(disk.size_bytes)
        .map_err(io(raw, "cannot size"))?;
    let mut command = tools.command("sfdisk");
    command
        .args(["-q", "--no-reread", "--no-tell-kernel", "--wipe", "never"])
        .arg(raw);
    run(command, Some(sfdisk_script(disk).as_bytes()))?;
    for partition in &disk.partitions {
        let Some(fs) = &partition.filesystem else {
            continue;
        };
        let region = Region {
            disk: raw,
            offset: partition.offset_bytes,
            size: partition.size_bytes,
        };
        match &partition.role {
            PartitionRole::Multiboot => {
                let stage = work.join("multiboot");
                stage_multiboot(plan, files, boot_info, &options.grub_dir, &stage)?;
                mkfs_ext(tools, fs, &stage, &region, Some(1024))?;
            }
            _ if fs.fs_type == "swap" => {
                // mkswap writes one header page: made apart, copied in.
                let swap = work.join(format!("swap-{}-{}", sanitize(&disk.id), partition.number));
                File::create(&swap)
                    .and_then(|f| f.set_len(partition.size_bytes))
                    .map_err(io(&swap, "cannot create"))?;
                let mut command = tools.command("mkswap");
                command
                    .arg("-L")
                    .arg(&fs.label)
                    .arg("-U")
                    .arg(fs.uuid.to_string())
                    .arg(&swap);
                run(command, None)?;
                copy_sparse(
                    &swap,
                    &file,
                    raw,
                    partition.offset_bytes,
                    partition.size_bytes,
                )?;
                std::fs::remove_file(&swap).map_err(io(&swap, "cannot remove"))?;
            }
            _ => fill_filesystem(tools, plan, disk, partition, roots, work, &region)?,
        }
    }
    install_boot_code(&file, raw, disk, core, &options.grub_dir)?;
    file.sync_all().map_err(io(raw, "cannot flush"))?;
    Ok(())
}

fn sfdisk_script(disk: &DiskPlan) -> String {
    use std::fmt::Write as _;
    let mut script = format!(
        "label: gpt\nlabel-id: {}\nfirst-lba: 2048\n",
        disk.disk_uuid
    );
    for p in &disk.partitions {
        let _ = writeln!(
            script,
            "start={}, size={}, type={}, uuid={}, name={}",
            p.start_sector, p.size_sectors, p.type_guid, p.partition_uuid, p.name
        );
    }
    script
}

/// A partition of a disk image, as e2fsprogs reaches it.
struct Region<'a> {
    disk: &'a Path,
    offset: u64,
    size: u64,
}

fn mkfs_ext(
    tools: &Tools,
    fs: &crate::plan::FilesystemPlan,
    content: &Path,
    region: &Region<'_>,
    block_size: Option<u32>,
) -> Result<(), Error> {
    let mut command = tools.command("mke2fs");
    command.args([
        "-q",
        "-F",
        "-t",
        &fs.fs_type,
        "-L",
        &fs.label,
        "-U",
        &fs.uuid.to_string(),
    ]);
    command
        .arg("-E")
        .arg(format!("root_owner=0:0,offset={}", region.offset));
    if let Some(size) = block_size {
        command.arg("-b").arg(size.to_string());
    }
    // The size is mandatory with an offset: without it mke2fs would use
    // the rest of the file and overwrite the partitions after this one.
    command
        .arg("-d")
        .arg(content)
        .arg(region.disk)
        .arg(format!("{}k", region.size / 1024));
    run(command, None).map(drop)
}

/// GRUB's files, grub.cfg, grubenv and the boot info, staged for mkfs -d.
fn stage_multiboot(
    plan: &Plan,
    files: &[BootFiles],
    boot_info: &BootInfo,
    grub_dir: &Path,
    stage: &Path,
) -> Result<(), Error> {
    let grub = stage.join(GRUB_DIR.trim_start_matches('/'));
    let modules = grub.join("i386-pc");
    std::fs::create_dir_all(&modules).map_err(io(&modules, "cannot create"))?;
    let entries = std::fs::read_dir(grub_dir).map_err(io(grub_dir, "cannot list"))?;
    for entry in entries {
        let entry = entry.map_err(io(grub_dir, "cannot list"))?;
        let name = entry.file_name();
        let name_text = name.to_string_lossy();
        if entry.file_type().is_ok_and(|t| t.is_file())
            && (name_text.ends_with(".mod") || name_text.ends_with(".lst"))
        {
            std::fs::copy(entry.path(), modules.join(&name))
                .map_err(io(entry.path(), "cannot copy"))?;
        }
    }
    let write = |name: &str, bytes: &[u8]| {
        let path = grub.join(name);
        std::fs::write(&path, bytes).map_err(io(&path, "cannot write"))
    };
    write("grub.cfg", plan.grub_cfg(files).as_bytes())?;
    write("grubenv", &plan.grubenv())?;
    let mut info = serde_json::to_vec_pretty(boot_info).unwrap_or_default();
    info.push(b'\n');
    write(BOOT_INFO_NAME, &info)
}

/// Make a volume's filesystem: the owners' trees (minus what other
/// filesystems mount below), the image's fstab on `/`, mount points created.
fn fill_filesystem(
    tools: &Tools,
    plan: &Plan,
    disk: &DiskPlan,
    partition: &PartitionPlan,
    roots: &[PathBuf],
    work: &Path,
    region: &Region<'_>,
) -> Result<(), Error> {
    let Some(fs) = &partition.filesystem else {
        return Ok(());
    };
    let mount = fs.mount.clone().unwrap_or_default();
    let owners: Vec<(usize, &ImagePlan)> = plan
        .images
        .iter()
        .enumerate()
        .filter(|(_, i)| fs.images.contains(&i.name))
        .collect();
    // Mount points of the owners strictly below this one, relative to it.
    let mut nested: Vec<String> = owners
        .iter()
        .flat_map(|(_, image)| image.mounts.iter().map(|m| m.mount.clone()))
        .filter(|m| m != &mount && (mount.is_empty() || below(m, &mount)))
        .map(|m| {
            m.strip_prefix(&mount)
                .unwrap_or(&m)
                .trim_start_matches('/')
                .to_owned()
        })
        .collect();
    nested.sort();
    nested.dedup();
    let mut sources = Vec::new();
    for (index, image) in &owners {
        let Some(root) = roots.get(*index) else {
            continue;
        };
        let dir =
            safe_join(root, mount.trim_start_matches('/')).map_err(|message| Error::Source {
                image: image.name.clone(),
                message,
            })?;
        if let Some(dir) = dir {
            sources.push(dir);
        }
    }
    let name = format!("{}-{}", sanitize(&disk.id), partition.number);
    let content = content_tree(tools, &sources, &nested, work, &name)?;
    mkfs_ext(tools, fs, &content, region, None)?;
    let spec = crate::switch::device_spec(region.disk, region.offset)?;
    let fstab = match owners.first() {
        Some((_, image)) if mount == "/" => Some(plan.fstab(&image.name)),
        _ => None,
    };
    let script = edit_script(&content, &nested, fstab.as_deref(), work, &name)?;
    if !script.is_empty() {
        let mut command = tools.command("debugfs");
        command.args(["-w", "-f", "-"]).arg(&spec);
        run(command, Some(script.as_bytes()))?;
    }
    if let Some(fstab) = fstab {
        let back = crate::switch::debugfs(tools, region.disk, region.offset, "cat /etc/fstab")?;
        if back != fstab {
            return Err(Error::ReadBack {
                path: region.disk.to_owned(),
                what: "/etc/fstab".into(),
            });
        }
    }
    Ok(())
}

/// The tree given to `mkfs -d`: the source itself when it can be used as is
/// (one owner, nothing below the nested mount points), else a staged merge
/// of the owners' trees (later images win, as Bareon's successive copies
/// do) with the nested mount points emptied.
fn content_tree(
    tools: &Tools,
    sources: &[PathBuf],
    nested: &[String],
    work: &Path,
    name: &str,
) -> Result<PathBuf, Error> {
    let has_nested_content = |dir: &Path| {
        nested
            .iter()
            .any(|n| std::fs::read_dir(dir.join(n)).is_ok_and(|mut e| e.next().is_some()))
    };
    match sources {
        [] => {
            let empty = work.join(format!("empty-{name}"));
            std::fs::create_dir(&empty).map_err(io(&empty, "cannot create"))?;
            Ok(empty)
        }
        [dir] if !has_nested_content(dir) => Ok(dir.clone()),
        _ => {
            let stage = work.join(format!("stage-{name}"));
            std::fs::create_dir(&stage).map_err(io(&stage, "cannot create"))?;
            for dir in sources {
                let mut command = tools.command("cp");
                command
                    .args(["-a", "--reflink=auto"])
                    .arg(dir.join("."))
                    .arg(&stage);
                run(command, None)?;
            }
            for n in nested {
                let Ok(Some(inner)) = safe_join(&stage, n) else {
                    continue;
                };
                let entries = std::fs::read_dir(&inner).map_err(io(&inner, "cannot list"))?;
                for entry in entries.flatten() {
                    let path = entry.path();
                    let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    removed.map_err(io(&path, "cannot remove from the staging tree"))?;
                }
            }
            Ok(stage)
        }
    }
}

/// debugfs commands creating the missing mount points and writing fstab.
/// debugfs's `mkdir` of an existing directory leaves an orphan inode, so
/// only what the tree the filesystem was made from lacks is created.
fn edit_script(
    content: &Path,
    nested: &[String],
    fstab: Option<&str>,
    work: &Path,
    name: &str,
) -> Result<String, Error> {
    use std::fmt::Write as _;
    let missing =
        |path: &str| std::fs::symlink_metadata(content.join(path.trim_start_matches('/'))).is_err();
    let mut script = String::new();
    for n in nested {
        let mut path = String::new();
        for part in n.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(part);
            let line = format!("mkdir {path}\n");
            if missing(&path) && !script.contains(&line) {
                script.push_str(&line);
            }
        }
    }
    let Some(fstab) = fstab else {
        return Ok(script);
    };
    if std::fs::symlink_metadata(content.join("etc")).is_ok_and(|m| !m.is_dir()) {
        return Err(Error::Target {
            path: content.join("etc"),
            message: "is not a directory: the generated /etc/fstab cannot be written".into(),
        });
    }
    let local = work.join(format!("fstab-{name}"));
    std::fs::write(&local, fstab).map_err(io(&local, "cannot write"))?;
    std::fs::set_permissions(&local, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(io(&local, "cannot set permissions"))?;
    let local_text = local
        .to_str()
        .filter(|t| !t.contains([' ', '"', '\n']))
        .ok_or_else(|| Error::Target {
            path: local.clone(),
            message: "work path unusable by debugfs".into(),
        })?;
    if missing("/etc") {
        script.push_str("mkdir /etc\n");
    }
    if !missing("/etc/fstab") {
        script.push_str("rm /etc/fstab\n");
    }
    let _ = writeln!(script, "write {local_text} /etc/fstab");
    Ok(script)
}

fn below(path: &str, mount: &str) -> bool {
    mount == "/"
        || path
            .strip_prefix(mount)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `root/relative` when every component is a real directory (never a
/// symbolic link, which could lead outside the tree); `None` when absent.
fn safe_join(root: &Path, relative: &str) -> Result<Option<PathBuf>, String> {
    let mut path = root.to_path_buf();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Err(_) => return Ok(None),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{} is a symbolic link: a mount point cannot go through it",
                    path.display()
                ));
            }
            Ok(m) if !m.is_dir() => return Err(format!("{} is not a directory", path.display())),
            Ok(_) => {}
        }
    }
    Ok(Some(path))
}

/// Copy a filesystem image into the disk at `offset`, skipping zero blocks
/// (the disk file is sparse and zero-filled).
fn copy_sparse(
    from: &Path,
    disk: &File,
    disk_path: &Path,
    offset: u64,
    size: u64,
) -> Result<(), Error> {
    let mut input = File::open(from).map_err(io(from, "cannot open"))?;
    let length = input.metadata().map_err(io(from, "cannot stat"))?.len();
    if length > size {
        return Err(Error::Target {
            path: from.to_owned(),
            message: format!("is {length} bytes, larger than its {size}-byte partition"),
        });
    }
    let mut buffer = vec![0u8; 1 << 20];
    let mut position = 0u64;
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
        let chunk = buffer.get(..filled).unwrap_or_default();
        if chunk.iter().any(|&b| b != 0) {
            disk.write_all_at(chunk, offset + position)
                .map_err(io(disk_path, "cannot write"))?;
        }
        position += filled as u64;
    }
    Ok(())
}

/// GRUB's BIOS boot code without grub-bios-setup (which needs a real
/// device): core.img into the `bios_grub` partition, its first sector's
/// blocklist pointing at the rest; boot.img into the MBR, pointing at
/// core.img, keeping the partition table and signature.
fn install_boot_code(
    disk: &File,
    path: &Path,
    plan: &DiskPlan,
    core: &[u8],
    grub_dir: &Path,
) -> Result<(), Error> {
    let bios = plan
        .partitions
        .iter()
        .find(|p| p.role == PartitionRole::BiosGrub)
        .ok_or_else(|| Error::Target {
            path: path.to_owned(),
            message: "no bios_grub partition".into(),
        })?;
    let bad = |message: &str| Error::Target {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    if core.len() < 512 || core.len() as u64 > bios.size_bytes {
        return Err(bad(
            "GRUB's core.img does not fit in the bios_grub partition",
        ));
    }
    let mut core = core.to_vec();
    let sectors = (core.len() as u64).div_ceil(SECTOR);
    // diskboot.img's blocklist: start sector (u64 LE) at 0x1F4, length at 0x1FC.
    let length = core
        .get(0x1FC..0x1FE)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(|b| u64::from(u16::from_le_bytes(b)));
    if length != Some(sectors - 1) {
        return Err(bad("GRUB's core.img has an unexpected diskboot blocklist"));
    }
    let start = bios.start_sector;
    if let Some(slot) = core.get_mut(0x1F4..0x1FC) {
        slot.copy_from_slice(&(start + 1).to_le_bytes());
    }
    disk.write_all_at(&core, bios.offset_bytes)
        .map_err(io(path, "cannot write core.img"))?;
    let boot_path = grub_dir.join("boot.img");
    let boot = bouture_fs::read_bounded(&boot_path, 512, bouture_fs::Links::Follow)?;
    if boot.len() != 512 {
        return Err(bad("GRUB's boot.img is not 512 bytes"));
    }
    let mut mbr = [0u8; 512];
    disk.read_exact_at(&mut mbr, 0)
        .map_err(io(path, "cannot read the MBR"))?;
    let old = mbr;
    // boot.img's code, keeping the old BPB (0x03..0x5A), the disk signature,
    // the protective partition entry and 0x55AA (0x1B8..0x200).
    let boot_code = boot
        .get(..0x1B8)
        .ok_or_else(|| bad("GRUB's boot.img is not 512 bytes"))?;
    mbr[..0x1B8].copy_from_slice(boot_code);
    mbr[0x03..0x5A].copy_from_slice(&old[0x03..0x5A]);
    mbr[0x5C..0x64].copy_from_slice(&start.to_le_bytes()); // kernel_sector
    mbr[0x64] = 0xFF; // boot_drive: the BIOS's
    mbr[0x66] = 0x90; // no floppy drive check
    mbr[0x67] = 0x90;
    disk.write_all_at(&mbr, 0)
        .map_err(io(path, "cannot write the MBR"))?;
    Ok(())
}

/// Read the disk back with sfdisk and compare with the plan.
fn verify_disk(tools: &Tools, disk: &DiskPlan, raw: &Path) -> Result<(), Error> {
    let table = read_table(tools, raw)?;
    let matches = table.label == "gpt"
        && table.id.eq_ignore_ascii_case(&disk.disk_uuid.to_string())
        && table.partitions.len() == disk.partitions.len()
        && table
            .partitions
            .iter()
            .zip(&disk.partitions)
            .all(|(found, planned)| {
                found.start == planned.start_sector
                    && found.size == planned.size_sectors
                    && found.name == planned.name
                    && found.type_guid.eq_ignore_ascii_case(&planned.type_guid)
                    && found
                        .uuid
                        .eq_ignore_ascii_case(&planned.partition_uuid.to_string())
            });
    if !matches {
        return Err(Error::ReadBack {
            path: raw.to_owned(),
            what: "the partition table".into(),
        });
    }
    if disk
        .partitions
        .iter()
        .any(|p| p.role == PartitionRole::Multiboot)
    {
        BootTarget::Disk(raw.to_owned()).status()?;
    }
    Ok(())
}

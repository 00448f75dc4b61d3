//! Everything checked before anything is written: filesystems the build
//! makes, image sources, outputs, tools, GRUB's files.

use std::path::{Path, PathBuf};

use super::fsimage::{FsFormat, FsImage};
use super::{BuildOptions, DiskFormat, ImageSource};
use crate::error::{Error, io};
use crate::model::{PartitionsPolicy, PathElement, ValidationError, ValidationErrors};
use crate::plan::{PartitionRole, Plan};
use crate::tools::Tools;

/// GRUB's BIOS files (Debian's grub-pc-bin).
pub(super) fn check_grub_dir(grub_dir: &Path) -> Result<(), Error> {
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

/// GRUB's UEFI files (Debian's grub-efi-amd64-bin).
pub(super) fn check_grub_efi_dir(dir: &Path) -> Result<(), Error> {
    let missing: Vec<crate::error::MissingTool> = ["kernel.img", "ext2.mod", "moddep.lst"]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| !path.is_file())
        .map(|path| crate::error::MissingTool {
            tool: path.display().to_string(),
            package: "grub-efi-amd64-bin".into(),
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::MissingTools(missing))
    }
}

pub(super) enum Source {
    Dir(PathBuf),
    Tar(PathBuf),
    /// A raw or qcow2 filesystem image of the image's `/`.
    FsImage(FsImage),
}

impl Source {
    /// What a source path is: a directory, a filesystem image (raw or
    /// qcow2, told by its first bytes) or else a tar archive.
    pub(super) fn open(image: &str, path: &Path) -> Result<Self, Error> {
        let metadata = std::fs::metadata(path).map_err(io(path, "cannot read the image source"))?;
        if metadata.is_dir() {
            Ok(Source::Dir(path.to_owned()))
        } else if metadata.is_file() {
            Ok(match super::fsimage::sniff(path)? {
                Some(format) => Source::FsImage(FsImage {
                    path: path.to_owned(),
                    format,
                }),
                None => Source::Tar(path.to_owned()),
            })
        } else {
            Err(Error::Source {
                image: image.to_owned(),
                message: format!(
                    "{} is {}, not a directory, a tar archive or a filesystem image",
                    path.display(),
                    bouture_fs::describe(metadata.file_type())
                ),
            })
        }
    }
}

/// The filesystems `build_disks` makes.
pub(super) const BUILT_FILESYSTEMS: &[&str] = &["ext2", "ext3", "ext4", "xfs", "vfat", "swap"];

/// What `build_disks` cannot honour, refused with the field named (every
/// finding at once): `bouture deploy plan` says the same before any build.
///
/// # Errors
///
/// Every finding, each at its path in the document.
pub fn buildable(plan: &Plan) -> Result<(), ValidationErrors> {
    let mut errors = Vec::new();
    let at = |path: &[&str], message: String| ValidationError {
        path: path
            .iter()
            .map(|p| match p.parse() {
                Ok(index) => PathElement::Index(index),
                Err(_) => PathElement::Key((*p).to_owned()),
            })
            .collect(),
        message,
    };
    match plan.partitions_policy {
        Some(PartitionsPolicy::Verify) => errors.push(at(
            &["partitions_policy"],
            "'verify' keeps the disk's partitions and installs no image (Bareon); a build writes a whole new disk: say 'clean' (or leave it out)".into(),
        )),
        Some(PartitionsPolicy::NailgunLegacy) => errors.push(at(
            &["partitions_policy"],
            "'nailgun_legacy' (Fuel's legacy partitioning) is not implemented by bouture: say 'clean' (or leave it out)".into(),
        )),
        _ => {}
    }
    if let Some(flags) = &plan.image_deploy_flags {
        let rsync_default = flags.len() == 1
            && flags.get("rsync_flags").and_then(serde_json::Value::as_str) == Some("-a -A -X");
        if !flags.is_empty() && !rsync_default {
            errors.push(at(
                &["image_deploy_flags"],
                "bouture copies each tree with mke2fs -d (owners, modes, links, extended attributes kept: Bareon's default rsync_flags '-a -A -X'); other flags cannot be honoured: remove the field".into(),
            ));
        }
    }
    for disk in &plan.disks {
        for partition in &disk.partitions {
            let (Some(fs), PartitionRole::Volume { source }) =
                (&partition.filesystem, &partition.role)
            else {
                continue;
            };
            let mut path: Vec<&str> = source.split(':').collect();
            if !BUILT_FILESYSTEMS.contains(&fs.fs_type.as_str()) {
                path.push("file_system");
                errors.push(at(
                    &path,
                    format!(
                        "'{}' cannot be built: a build makes {} (partition {} of disk {})",
                        bouture_text::truncate(&fs.fs_type, 40),
                        BUILT_FILESYSTEMS.join(", "),
                        partition.number,
                        disk.id
                    ),
                ));
            } else if fs.mount.as_deref() == Some("/") && fs.images.len() > 1 {
                path.push("images");
                errors.push(at(
                    &path,
                    format!(
                        "a '/' shared by images {} cannot hold one fstab per image",
                        fs.images.join(", ")
                    ),
                ));
            } else if fs.fs_type == "xfs" && fs.mount.as_deref() == Some("/") {
                path.push("file_system");
                errors.push(at(
                    &path,
                    "an xfs '/' would need its tree copied in without mounting, and mkfs.xfs -p drops sticky bits, extended attributes, file capabilities and hard links: use ext4 for '/' (xfs is built for data volumes, empty)".into(),
                ));
            } else if fs.fs_type == "xfs" && partition.size_bytes < super::xfs::XFS_MIN_BYTES {
                path.push("size");
                errors.push(at(
                    &path,
                    format!(
                        "{} MiB: mkfs.xfs makes no filesystem smaller than 300 MiB",
                        partition.size_bytes >> 20
                    ),
                ));
            } else if fs.fs_type == "vfat" && fs.mount.as_deref() == Some("/") {
                path.push("file_system");
                errors.push(at(
                    &path,
                    "a vfat '/' cannot hold a Linux system (no owners, modes or links): use ext4"
                        .into(),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors { errors })
    }
}

pub(super) fn check_sources(plan: &Plan, given: &[ImageSource]) -> Result<Vec<Source>, Error> {
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
            return Err(Error::SourceGivenTwice {
                image: source.name.clone(),
            });
        }
    }
    plan.images
        .iter()
        .map(|image| {
            let source = given.iter().find(|s| s.name == image.name).ok_or_else(|| {
                Error::SourceMissing {
                    image: image.name.clone(),
                }
            })?;
            Source::open(&image.name, &source.path)
        })
        .collect()
}

/// The sources given as http(s) URLs, and (with `pull`) the
/// `image_pull_url` of each image given none, downloaded into private directories in
/// `parent` (each bounded by the image's partitions, under the options'
/// deadline, its checksum verified): the sources with local paths, and the
/// downloads (removed when dropped).
pub(super) fn pull_sources(
    plan: &Plan,
    options: &BuildOptions,
    parent: &Path,
) -> Result<(Vec<ImageSource>, Vec<crate::pull::Pulled>), Error> {
    let mut given = options.sources.clone();
    for image in plan.images.iter().filter(|_| options.pull) {
        if !given.iter().any(|s| s.name == image.name) {
            if !crate::pull::is_url(&image.image_pull_url) {
                return Err(Error::NotDownloadable {
                    image: image.name.clone(),
                    url: crate::pull::shown(&image.image_pull_url),
                });
            }
            given.push(ImageSource {
                name: image.name.clone(),
                path: PathBuf::from(&image.image_pull_url),
            });
        }
    }
    let mut pulled = Vec::new();
    for source in &mut given {
        let Some(url) = source.path.to_str().filter(|t| crate::pull::is_url(t)) else {
            continue;
        };
        // Unknown names are refused by check_sources.
        if !plan.images.iter().any(|i| i.name == source.name) {
            continue;
        }
        let download = crate::pull::pull(
            &source.name,
            url,
            plan.capacity_of(&source.name),
            options.pull_deadline,
            parent,
            options.cancel.as_deref(),
        )?;
        download.path().clone_into(&mut source.path);
        pulled.push(download);
    }
    Ok((given, pulled))
}

pub(super) fn output_paths(
    plan: &Plan,
    given: &[PathBuf],
    format: DiskFormat,
) -> Result<Vec<PathBuf>, Error> {
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
            return Err(Error::OutputCount {
                disks,
                given: given.len(),
            });
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

pub(super) fn sanitize(id: &str) -> String {
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

pub(super) fn required_tools(
    plan: &Plan,
    options: &BuildOptions,
    sources: &[Source],
) -> Result<Tools, Error> {
    let mut wanted = vec![
        ("sfdisk", "fdisk"),
        ("mke2fs", "e2fsprogs"),
        ("debugfs", "e2fsprogs"),
        ("grub-mkimage", "grub-common"),
        ("cp", "coreutils"),
        ("mkfs.fat", "dosfstools"),
        ("mmd", "mtools"),
        ("mcopy", "mtools"),
        ("mtype", "mtools"),
    ];
    if options.format == DiskFormat::Qcow2 {
        wanted.push(("qemu-img", "qemu-utils"));
    }
    if sources.iter().any(|s| matches!(s, Source::Tar(_))) {
        wanted.push(("tar", "tar"));
    }
    for source in sources {
        if let Source::FsImage(image) = source {
            wanted.extend(fs_image_tools(image.format));
        }
    }
    let has = |fs_type: &str| {
        plan.disks
            .iter()
            .flat_map(|d| &d.partitions)
            .any(|p| p.filesystem.as_ref().is_some_and(|f| f.fs_type == fs_type))
    };
    if has("xfs") {
        wanted.push(("mkfs.xfs", "xfsprogs"));
    }
    if has("vfat") {
        wanted.push(("mkfs.fat", "dosfstools"));
        wanted.push(("mcopy", "mtools"));
        wanted.push(("mmd", "mtools"));
    }
    if has("swap") {
        wanted.push(("mkswap", "util-linux"));
    }
    Tools::require(&wanted)
}

/// Every output (the disks and the boot info) against every other and
/// every input, before anything is written: none may be an input (the
/// provision document, a tar source) or lie inside a source tree, none may
/// be two outputs at once, each must be a regular file or absent, in an
/// existing directory.
pub(super) fn check_outputs(
    plan: &Plan,
    options: &BuildOptions,
    disks: &[PathBuf],
    sources: &[Source],
) -> Result<(), Error> {
    let mut outputs: Vec<(&Path, &str)> = disks.iter().map(|p| (p.as_path(), "disk")).collect();
    if let Some(info) = &options.boot_info {
        outputs.push((info, "boot info"));
    }
    for (i, (output, what)) in outputs.iter().enumerate() {
        let refuse = |message: String| Error::Target {
            path: output.to_path_buf(),
            message,
        };
        if let Some((_, other)) = outputs
            .iter()
            .skip(i + 1)
            .find(|(p, _)| bouture_fs::same_file(output, p))
        {
            return Err(refuse(format!(
                "is both the {what} output and the {other} output"
            )));
        }
        if let Some(provision) = &options.provision
            && bouture_fs::same_file(output, provision)
        {
            return Err(refuse(format!(
                "is the provision document, an input: the {what} output would replace it"
            )));
        }
        for (image, source) in plan.images.iter().zip(sources) {
            match source {
                Source::Tar(archive) if bouture_fs::same_file(output, archive) => {
                    return Err(refuse(format!(
                        "is image {}'s tar archive, an input: the {what} output would replace it",
                        image.name
                    )));
                }
                Source::FsImage(fs) if bouture_fs::same_file(output, &fs.path) => {
                    return Err(refuse(format!(
                        "is image {}'s filesystem image, an input: the {what} output would replace it",
                        image.name
                    )));
                }
                Source::Dir(tree) if inside(output, tree) => {
                    return Err(refuse(format!(
                        "is inside image {}'s source tree {}: the {what} output and the build's work files would be copied into the image",
                        image.name,
                        tree.display()
                    )));
                }
                _ => {}
            }
        }
        match std::fs::symlink_metadata(output) {
            Ok(metadata) if !metadata.file_type().is_file() => {
                return Err(refuse(format!(
                    "is {}, which is never replaced",
                    bouture_fs::describe(metadata.file_type())
                )));
            }
            _ => {}
        }
        let dir = match output.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        if !std::fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
            return Err(refuse(format!(
                "cannot be written: its directory {} does not exist",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// The tools a filesystem image source needs.
pub(super) fn fs_image_tools(format: FsFormat) -> Vec<(&'static str, &'static str)> {
    let mut wanted = vec![
        ("e2fsck", "e2fsprogs"),
        ("tune2fs", "e2fsprogs"),
        ("resize2fs", "e2fsprogs"),
        ("debugfs", "e2fsprogs"),
    ];
    if format == FsFormat::Qcow2 {
        wanted.push(("qemu-img", "qemu-utils"));
    }
    wanted
}

/// Whether `path` (existing or not) resolves to a place inside `tree`.
fn inside(path: &Path, tree: &Path) -> bool {
    match (bouture_fs::resolve(path), tree.canonicalize()) {
        (Some(path), Ok(tree)) => path.starts_with(tree),
        _ => false,
    }
}

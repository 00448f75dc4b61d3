//! Everything checked before anything is written: filesystems the build
//! makes, image sources, outputs, tools, GRUB's files.

use std::path::{Path, PathBuf};

use super::{BuildOptions, DiskFormat, ImageSource};
use crate::error::{Error, io};
use crate::plan::Plan;
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
}

pub(super) fn check_filesystems(plan: &Plan) -> Result<(), Error> {
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

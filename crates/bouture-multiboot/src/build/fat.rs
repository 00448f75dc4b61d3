//! vfat filesystems (an EFI system partition, `/boot/efi`) made with
//! `mkfs.fat --offset` straight into the disk file, filled with mtools
//! (`mmd`, `mcopy -i DISK@@OFFSET`): nothing is mounted. FAT holds no
//! owners, modes or links: a tree with a symbolic link or a special file is
//! refused rather than copied differently.

use std::path::{Path, PathBuf};

use super::ext::Region;
use crate::error::Error;
use crate::plan::FilesystemPlan;
use crate::tools::Tools;

/// Partitions from this size get FAT32; smaller ones FAT16.
const FAT32_FROM: u64 = 512 * 1024 * 1024;

/// The FAT volume id of a planned filesystem: the first four bytes of its
/// UUID, which fstab names as `UUID=XXXX-XXXX`.
pub(crate) fn volume_id(uuid: &uuid::Uuid) -> u32 {
    let b = uuid.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Make the filesystem at the region and copy `content` into it, creating
/// the `nested` mount points.
pub(super) fn make_fat(
    tools: &Tools,
    fs: &FilesystemPlan,
    content: &Path,
    nested: &[String],
    region: &Region<'_>,
) -> Result<(), Error> {
    let entries = check_tree(content)?;
    let label: String = fs
        .label
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(11)
        .collect::<String>()
        .to_ascii_uppercase();
    let mut command = tools.command("mkfs.fat");
    // The FAT size from the region, never from the file: on a disk larger
    // than the partition mkfs.fat would otherwise pick FAT32 and refuse a
    // small partition ("too small or too large filesystem").
    let fat_bits = if region.size < FAT32_FROM { "16" } else { "32" };
    command
        .args(["-F", fat_bits])
        .args(["-i", &format!("{:08X}", volume_id(&fs.uuid))])
        .args(["-n", if label.is_empty() { "NO NAME" } else { &label }])
        .arg("--offset")
        .arg((region.offset / 512).to_string())
        .arg(region.disk)
        .arg((region.size / 1024).to_string());
    tools.run(command, None)?;
    let image = format!("{}@@{}", region.disk.display(), region.offset);
    let mtools = |tool: &str| {
        let mut command = tools.command(tool);
        command.env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(&image);
        command
    };
    let mut dirs: Vec<String> = Vec::new();
    for n in nested {
        let mut path = String::new();
        for part in n.split('/').filter(|p| !p.is_empty()) {
            path.push('/');
            path.push_str(part);
            if !dirs.contains(&path) && !content.join(path.trim_start_matches('/')).exists() {
                dirs.push(path.clone());
            }
        }
    }
    if !entries.is_empty() {
        let mut command = mtools("mcopy");
        command.args(["-s", "-p", "-Q"]).args(&entries).arg("::/");
        tools.run(command, None)?;
    }
    for dir in dirs {
        let mut command = mtools("mmd");
        command.arg(format!("::{dir}"));
        tools.run(command, None)?;
    }
    Ok(())
}

/// The top-level entries of `content`, once every file under it is known
/// to be a regular file or a directory.
fn check_tree(content: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut pending = vec![content.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let kind = std::fs::symlink_metadata(&path)
                .map_err(crate::error::io(&path, "cannot read"))?
                .file_type();
            if kind.is_dir() {
                pending.push(path);
            } else if !kind.is_file() {
                return Err(Error::Target {
                    path,
                    message: format!(
                        "is {}, which a vfat filesystem cannot hold: remove it from the tree",
                        bouture_fs::describe(kind)
                    ),
                });
            }
        }
    }
    let mut top: Vec<PathBuf> = std::fs::read_dir(content)
        .map_err(crate::error::io(content, "cannot list"))?
        .flatten()
        .map(|e| e.path())
        .collect();
    top.sort();
    Ok(top)
}

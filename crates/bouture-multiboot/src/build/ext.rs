//! ext2/3/4 filesystems made with `mke2fs -d` straight into the disk file
//! at their partition's offset, from the owners' trees, then edited with
//! debugfs (mount points, the image's fstab).

use std::path::{Path, PathBuf};

use super::inputs::sanitize;
use crate::error::{Error, io};
use crate::plan::{DiskPlan, ImagePlan, PartitionPlan, Plan};
use crate::tools::Tools;

/// A partition of a disk image, as e2fsprogs reaches it.
pub(super) struct Region<'a> {
    pub(super) disk: &'a Path,
    pub(super) offset: u64,
    pub(super) size: u64,
}

pub(super) fn mkfs_ext(
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
    tools.run(command, None).map(drop)
}

/// Make a volume's filesystem: the owners' trees (minus what other
/// filesystems mount below), the image's fstab on `/`, mount points created.
pub(super) fn fill_filesystem(
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
    match fs.fs_type.as_str() {
        "vfat" => return super::fat::make_fat(tools, fs, &content, &nested, region),
        "xfs" => return super::xfs::make_xfs(tools, fs, &nested, region, work, &name),
        _ => {}
    }
    mkfs_ext(tools, fs, &content, region, None)?;
    let fstab = match owners.first() {
        Some((_, image)) if mount == "/" => Some(plan.fstab(&image.name)),
        _ => None,
    };
    let script = edit_script(&content, &nested, fstab.as_deref(), work, &name)?;
    edit(tools, region, &script, fstab.as_deref())
}

/// Run a `debugfs -w` script on the region's filesystem (nothing when
/// empty), then check that `/etc/fstab` reads back as `fstab`.
pub(super) fn edit(
    tools: &Tools,
    region: &Region<'_>,
    script: &str,
    fstab: Option<&str>,
) -> Result<(), Error> {
    if !script.is_empty() {
        let spec = crate::switch::device_spec(region.disk, region.offset)?;
        let mut command = tools.command("debugfs");
        command.args(["-w", "-f", "-"]).arg(&spec);
        tools.run(command, Some(script.as_bytes()))?;
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

/// Write `bytes` to `local` (mode 0644) for a debugfs `write`: the path as
/// a debugfs script can name it (no space, quote or newline).
pub(super) fn stage_for_debugfs(local: &Path, bytes: &[u8]) -> Result<String, Error> {
    std::fs::write(local, bytes).map_err(io(local, "cannot write"))?;
    std::fs::set_permissions(local, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(io(local, "cannot set permissions"))?;
    crate::switch::debugfs_word(local, "work").map(str::to_owned)
}

/// The tree given to `mkfs -d`: the source itself when it can be used as is
/// (one owner, nothing below the nested mount points), else a staged merge
/// of the owners' trees (later images win, as Bareon's successive copies
/// do) with the nested mount points emptied.
pub(super) fn content_tree(
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
                tools.run(command, None)?;
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
pub(super) fn edit_script(
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
    let local_text = stage_for_debugfs(&work.join(format!("fstab-{name}")), fstab.as_bytes())?;
    if missing("/etc") {
        script.push_str("mkdir /etc\n");
    }
    if !missing("/etc/fstab") {
        script.push_str("rm /etc/fstab\n");
    }
    let _ = writeln!(script, "write {local_text} /etc/fstab");
    Ok(script)
}

pub(super) fn below(path: &str, mount: &str) -> bool {
    mount == "/"
        || path
            .strip_prefix(mount)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `root/relative` when every component is a real directory (never a
/// symbolic link, which could lead outside the tree); `None` when absent.
pub(super) fn safe_join(root: &Path, relative: &str) -> Result<Option<PathBuf>, String> {
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

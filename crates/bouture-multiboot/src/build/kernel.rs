//! Kernel discovery: the newest `boot/vmlinuz-VERSION` of an image tree,
//! its initrd, and the menu title from os-release.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::bootcfg::BootFiles;
use crate::error::Error;

/// Kernel, initrd and menu title from an image tree's `/boot` and os-release.
/// Links in the tree are resolved as the booted image sees them (inside the
/// tree), never out of it: `boot -> /elsewhere` is the tree's `/elsewhere`.
pub(super) fn find_boot_files(
    image: &str,
    root: &Path,
    image_name: &str,
) -> Result<BootFiles, Error> {
    let boot = resolve_in_tree(root, "boot")
        .filter(|dir| std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()));
    let files: Vec<String> = boot
        .as_ref()
        .and_then(|boot| std::fs::read_dir(boot).ok())
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let title = os_release_name(root);
    pick_boot_files(image, &files, title, image_name, &root.join("boot"))
}

/// Kernel and initrd among the regular files of `/boot` (`files`, their
/// names), the title from os-release when known, else `image_name`.
pub(super) fn pick_boot_files(
    image: &str,
    files: &[String],
    title: Option<String>,
    image_name: &str,
    shown: &Path,
) -> Result<BootFiles, Error> {
    let mut kernels: Vec<&String> = files
        .iter()
        .filter(|n| n.starts_with("vmlinuz-") || n.starts_with("vmlinux-"))
        .collect();
    kernels.sort_by_key(|a| version_key(a));
    let Some(kernel) = kernels.pop() else {
        return Err(Error::Source {
            image: image.into(),
            message: format!("no kernel in {} (boot/vmlinuz-VERSION)", shown.display()),
        });
    };
    if !safe_file_name(kernel) {
        return Err(Error::Source {
            image: image.into(),
            message: format!("kernel file name {kernel:?} cannot go into grub.cfg"),
        });
    }
    let version = kernel.get(8..).unwrap_or_default();
    let initrd = [
        format!("initrd.img-{version}"),
        format!("initramfs-{version}.img"),
    ]
    .into_iter()
    .find(|name| files.contains(name))
    .map(|name| format!("/boot/{name}"));
    let title = title.unwrap_or_else(|| {
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

/// `root/relative` with every symbolic link on the way resolved as inside
/// the tree (an absolute target starts at `root`, `..` stops at `root`), as
/// the image sees its own files once booted; `None` when a component is
/// missing or links loop.
pub(super) fn resolve_in_tree(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut pending: VecDeque<OsString> = Path::new(relative)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let mut here: PathBuf = root.to_path_buf();
        here.extend(&resolved);
        here.push(&part);
        let metadata = std::fs::symlink_metadata(&here).ok()?;
        if !metadata.file_type().is_symlink() {
            resolved.push(part);
            continue;
        }
        links += 1;
        if links > 40 {
            return None;
        }
        let target = std::fs::read_link(&here).ok()?;
        if target.is_absolute() {
            resolved.clear();
        }
        for component in target.components().rev() {
            match component {
                Component::Normal(n) => pending.push_front(n.to_owned()),
                Component::ParentDir => pending.push_front("..".into()),
                _ => {}
            }
        }
    }
    let mut path = root.to_path_buf();
    path.extend(&resolved);
    Some(path)
}

pub(super) fn safe_file_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._+-~".contains(&b))
}

pub(super) fn version_key(name: &str) -> Vec<(u64, String)> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .map(|part| (part.parse().unwrap_or(0), part.to_owned()))
        .collect()
}

pub(super) fn os_release_name(root: &Path) -> Option<String> {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|rel| {
            let path = resolve_in_tree(root, rel)?;
            let text =
                bouture_fs::read_bounded(&path, 64 * 1024, bouture_fs::Links::Refuse).ok()?;
            os_release_text(&String::from_utf8_lossy(&text))
        })
}

/// os-release's `PRETTY_NAME`, cleaned for a menu title (at most 80
/// characters, no quotes or control characters).
pub(super) fn os_release_text(text: &str) -> Option<String> {
    let value = text.lines().find_map(|l| l.strip_prefix("PRETTY_NAME="))?;
    let value = value.trim().trim_matches('"').trim_matches('\'');
    let clean: String = value
        .chars()
        .filter(|c| !c.is_control() && !"'\"\\$".contains(*c))
        .collect();
    (!clean.is_empty()).then(|| bouture_text::truncate(&clean, 80))
}

//! Kernel discovery: the newest `boot/vmlinuz-VERSION` of an image tree,
//! its initrd, and the menu title from os-release.

use std::path::Path;

use crate::bootcfg::BootFiles;
use crate::error::Error;

/// Kernel, initrd and menu title from an image tree's `/boot` and os-release.
pub(super) fn find_boot_files(
    image: &str,
    root: &Path,
    image_name: &str,
) -> Result<BootFiles, Error> {
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

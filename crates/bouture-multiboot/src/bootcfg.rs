//! The generated files: each image's fstab, grub.cfg, the first grubenv and
//! the boot info JSON, all from the plan, so they agree by construction.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::grubenv::{GRUBENV_SIZE, GrubEnv};
use crate::plan::{ImagePlan, Plan};

/// What GRUB boots for an image: found in its tree at build time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BootFiles {
    /// Menu title prefix (the image's `PRETTY_NAME`, or its `image_name`).
    pub title: String,
    /// Kernel path on the image's `/`.
    pub kernel: String,
    /// Initrd path on the image's `/`, if any.
    pub initrd: Option<String>,
}

impl BootFiles {
    /// Debian's `/vmlinuz` and `/initrd.img` links, titled by `image_name` (or name).
    pub fn default_for(image: &ImagePlan) -> Self {
        let title = if image.image_name.is_empty() {
            image.name.clone()
        } else {
            image.image_name.clone()
        };
        Self {
            title,
            kernel: "/vmlinuz".into(),
            initrd: Some("/initrd.img".into()),
        }
    }
}

/// One element of the boot info (Bareon's keys, plus `grub_entry_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BootElement {
    /// Position of the entry in grub.cfg.
    pub grub_id: usize,
    /// The image's `image_name`.
    pub image_name: String,
    /// The image's `name`.
    pub os_id: String,
    /// The image's `image_uuid`.
    pub image_uuid: String,
    /// The menu title.
    pub boot_name: String,
    /// UUID of the image's `/`.
    pub root_uuid: String,
    /// The entry's stable id (`image-<name>`), what grubenv stores.
    pub grub_entry_id: String,
}

/// Bareon's boot-entries document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BootInfo {
    /// The bootable images.
    pub elements: Vec<BootElement>,
    /// `grub_id` of the default image.
    pub current_element: usize,
    /// UUID of the multiboot filesystem.
    pub multiboot_partition: String,
}

/// Quote for GRUB's shell-like syntax: single quotes, `'` as `'\''`.
fn grub_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Seconds a panicking kernel waits before it reboots (`panic=`), unless
/// the document's kernel parameters say otherwise.
pub const PANIC_REBOOT_SECONDS: u32 = 10;

/// The id of grub.cfg's last entry, which reboots when no image could be
/// loaded (the end of every fallback list).
pub const REBOOT_ENTRY_ID: &str = "bouture-reboot";

/// GRUB's `fallback` list: `first`, then every other image, then the
/// reboot entry (at position `images`).
fn fallback_list(first: usize, images: usize) -> String {
    std::iter::once(first)
        .chain((0..images).filter(|&i| i != first))
        .chain(std::iter::once(images))
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn title(image: &ImagePlan, files: &BootFiles) -> String {
    format!("{} (image {})", files.title, image.name)
}

impl Plan {
    /// `/etc/fstab` of an image, Bareon's format, parents before what is
    /// mounted below them (`/`, then `/var`, then `/var/log`, whatever the
    /// document's order; swap last), the document's order otherwise.
    pub fn fstab(&self, image: &str) -> String {
        let mut lines = Vec::new();
        for disk in &self.disks {
            for partition in &disk.partitions {
                let Some(fs) = &partition.filesystem else {
                    continue;
                };
                if !fs.images.iter().any(|i| i == image) {
                    continue;
                }
                let depth = match fs.mount.as_deref() {
                    Some("/") => 0,
                    Some(mount) => mount.matches('/').count(),
                    None if fs.fs_type == "swap" => usize::MAX,
                    None => continue,
                };
                let mount = fs.mount.as_deref().unwrap_or("swap");
                // FAT has a 32-bit volume id, which fstab writes XXXX-XXXX.
                let uuid = if fs.fs_type == "vfat" {
                    let id = crate::build::fat_volume_id(&fs.uuid);
                    format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF)
                } else {
                    fs.uuid.to_string()
                };
                lines.push((
                    depth,
                    format!(
                        "{}UUID={uuid} {mount} {} {} 0 0\n",
                        if fs.fstab_enabled { "" } else { "#" },
                        fs.fs_type,
                        fs.fstab_options
                    ),
                ));
            }
        }
        // Stable: equal depths keep the document's order.
        lines.sort_by_key(|(depth, _)| *depth);
        let mut out = format!("# /etc/fstab of image {image}, written by bouture deploy\n");
        for (_, line) in lines {
            out.push_str(&line);
        }
        out
    }

    /// grub.cfg for the multiboot partition. `files` gives each image's
    /// kernel, initrd and title, in the order of [`Plan::images`].
    ///
    /// No failure path ends at a prompt: GRUB 2.06 takes only menu
    /// positions in `fallback`, so the position of the saved default is
    /// computed from its id; the one-shot `next_entry` is cleared and saved
    /// before its entry is tried; when an entry cannot be loaded, GRUB tries
    /// the saved default, then every other image, then a last entry that
    /// reboots. A kernel that panics reboots by itself (`panic=`, added to
    /// every entry unless the kernel parameters set it).
    pub fn grub_cfg(&self, files: &[BootFiles]) -> String {
        let default = self.boot_image().map_or(0, |i| i.grub_id);
        let mut out = String::new();
        out.push_str(
            "# Written by bouture deploy. Entries have stable ids (image-<name>).\n\
             # The default is grubenv's saved_entry (bouture boot set-default, confirm);\n\
             # a one-shot next_entry (bouture boot next) is cleared and saved before it\n\
             # boots, so whatever happens to it, the next boot is the saved default.\n\
             # An entry that cannot be loaded falls back to the saved default, then the\n\
             # other images, then a reboot: no failure waits at a prompt.\n\
             # `set default=N` is only used without a grubenv (Bareon-style tools edit it).\n",
        );
        let _ = writeln!(out, "set default={default}");
        out.push_str(
            "set timeout=1\n\
             serial --unit=0 --speed=115200\n\
             terminal_input serial console\n\
             terminal_output serial console\n\
             insmod part_gpt\n\
             insmod ext2\n\
             load_env\n\
             if [ -n \"${saved_entry}\" ]; then\n  set default=\"${saved_entry}\"\nfi\n\
             # fallback takes menu positions only: the saved default's, found by id.\n",
        );
        let _ = writeln!(
            out,
            "set fallback=\"{}\"",
            fallback_list(default, self.images.len())
        );
        for image in &self.images {
            let _ = writeln!(
                out,
                "if [ \"${{default}}\" = {} -o \"${{default}}\" = {} ]; then\n  set fallback=\"{}\"\nfi",
                grub_quote(&image.grub_entry_id),
                grub_quote(&image.grub_id.to_string()),
                fallback_list(image.grub_id, self.images.len())
            );
        }
        out.push_str(
            "if [ -n \"${next_entry}\" ]; then\n  set default=\"${next_entry}\"\n  set next_entry=\n  save_env next_entry\nfi\n",
        );
        let mut params = String::new();
        if !self.kernel_params.is_empty() {
            params.push(' ');
            params.push_str(&self.kernel_params);
        }
        if !self
            .kernel_params
            .split_whitespace()
            .any(|word| word.starts_with("panic="))
        {
            let _ = write!(params, " panic={PANIC_REBOOT_SECONDS}");
        }
        for (image, files) in self.images.iter().zip(files) {
            let _ = writeln!(
                out,
                "menuentry {} --id {} {{",
                grub_quote(&title(image, files)),
                grub_quote(&image.grub_entry_id)
            );
            let _ = writeln!(
                out,
                "  search --no-floppy --fs-uuid --set=root {}",
                image.root_uuid
            );
            let _ = writeln!(
                out,
                "  linux {} root=UUID={} ro{params} bouture.image={}",
                grub_quote(&files.kernel),
                image.root_uuid,
                image.name
            );
            if let Some(initrd) = &files.initrd {
                let _ = writeln!(out, "  initrd {}", grub_quote(initrd));
            }
            out.push_str("}\n");
        }
        let _ = writeln!(
            out,
            "menuentry 'No image could be loaded: reboot' --id {} {{\n  reboot\n}}",
            grub_quote(REBOOT_ENTRY_ID)
        );
        out
    }

    /// The first grubenv: `saved_entry` = the `boot: true` image.
    pub fn grubenv(&self) -> [u8; GRUBENV_SIZE] {
        let mut env = GrubEnv::default();
        if let Some(image) = self.boot_image() {
            env.set("saved_entry", &image.grub_entry_id);
        }
        // One short variable always fits in the block.
        env.encode().unwrap_or([b'#'; GRUBENV_SIZE])
    }

    /// The boot info (Bareon's boot-entries file).
    pub fn boot_info(&self, files: &[BootFiles]) -> BootInfo {
        BootInfo {
            elements: self
                .images
                .iter()
                .zip(files)
                .map(|(image, files)| BootElement {
                    grub_id: image.grub_id,
                    image_name: image.image_name.clone(),
                    os_id: image.name.clone(),
                    image_uuid: image.image_uuid.clone(),
                    boot_name: title(image, files),
                    root_uuid: image.root_uuid.to_string(),
                    grub_entry_id: image.grub_entry_id.clone(),
                })
                .collect(),
            current_element: self.boot_image().map_or(0, |i| i.grub_id),
            multiboot_partition: self
                .multiboot_uuid
                .map(|u| u.to_string())
                .unwrap_or_default(),
        }
    }

    /// [`BootFiles::default_for`] each image.
    pub fn default_boot_files(&self) -> Vec<BootFiles> {
        self.images.iter().map(BootFiles::default_for).collect()
    }
}

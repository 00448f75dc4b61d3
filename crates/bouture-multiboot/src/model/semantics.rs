//! The rules Bareon leaves implicit (or checks after its schema): unique
//! names usable as GRUB ids, one boot image, one `/` per image, one
//! `remaining` per disk, mount points, kernel parameters.

use std::collections::BTreeMap;

use super::schema::Checker;
use super::{PathElement, Provision, Volume, VolumeKind};
use crate::size::Size;

impl Checker {
    #[allow(clippy::too_many_lines)]
    pub(super) fn semantics(&mut self, provision: &Provision) {
        // Images: names unique and usable as GRUB ids, exactly one boot.
        if provision.images.is_empty() {
            self.key("images", |c| {
                c.error("[] is too short: at least one image is needed");
            });
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, image) in provision.images.iter().enumerate() {
            let path = [PathElement::Key("images".into()), PathElement::Index(i)];
            if let Some(first) = seen.insert(image.name.as_str(), i) {
                self.error_at(
                    &[
                        path[0].clone(),
                        path[1].clone(),
                        PathElement::Key("name".into()),
                    ],
                    format!(
                        "duplicate image name '{}' (also images:{first})",
                        image.name
                    ),
                );
            }
            if !valid_name(&image.name) {
                self.error_at(
                    &[path[0].clone(), path[1].clone(), PathElement::Key("name".into())],
                    format!(
                        "'{}' is not a usable image name (1 to 64 letters, digits, '.', '_', '+', '-'; it becomes the boot entry id image-<name>)",
                        bouture_text::truncate(&image.name, 80)
                    ),
                );
            }
            if image.target != "/" {
                self.error_at(
                    &[
                        path[0].clone(),
                        path[1].clone(),
                        PathElement::Key("target".into()),
                    ],
                    format!(
                        "'{}': only OS images (target '/') are supported, not utility images",
                        bouture_text::truncate(&image.target, 80)
                    ),
                );
            }
        }
        let booted: Vec<&str> = provision
            .images
            .iter()
            .filter(|i| i.boot)
            .map(|i| i.name.as_str())
            .collect();
        if booted.len() != 1 && !provision.images.is_empty() {
            self.key("images", |c| {
                c.error(format!(
                    "exactly one image must have boot: true, found {}{}",
                    booted.len(),
                    if booted.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", booted.join(", "))
                    }
                ));
            });
        }
        if !valid_kernel_params(&provision.kernel_params) {
            self.at(PathElement::Key("deploy_data".into()), |c| {
                c.key("kernel_params", |c| {
                    c.error("kernel parameters must be printable ASCII without quotes, backslashes, '$', ';', '{', '}', '#' or newlines (they go into grub.cfg)");
                });
            });
        }

        // Disks.
        if provision.disks.is_empty() {
            self.key("partitions", |c| {
                c.error("Invalid partition schema: You must specify at least one disk.");
            });
        }
        let mut disk_ids: BTreeMap<&str, usize> = BTreeMap::new();
        let vg_ids: Vec<&str> = provision
            .volume_groups
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        let mut vgs_with_pv: Vec<&str> = Vec::new();
        // (image, mount) -> first volume path
        let mut mounts: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut roots: BTreeMap<String, usize> = BTreeMap::new();
        for disk in &provision.disks {
            self.key("partitions", |c| {
                c.index(disk.index, |c| {
                    if let Some(first) = disk_ids.insert(disk.id.as_str(), disk.index) {
                        c.key("id", |c| {
                            c.error(format!(
                                "duplicate disk '{}' (also partitions:{first})",
                                bouture_text::truncate(&disk.id, 80)
                            ));
                        });
                    }
                    if !matches!(disk.size, Size::Bytes(_)) {
                        c.key("size", |c| {
                            c.error("a disk's size must be absolute (not '%' nor 'remaining')");
                        });
                    }
                    c.remaining(&disk.volumes, &format!("disk: {}", disk.id));
                    let boots: Vec<&Volume> = disk
                        .volumes
                        .iter()
                        .filter(|v| v.kind == VolumeKind::Boot)
                        .collect();
                    if boots.len() > 1 {
                        c.error(format!("Multiple bootable partitions on {}", disk.id));
                    }
                    for volume in &disk.volumes {
                        if volume.kind == VolumeKind::Pv
                            && let Some(vg) = &volume.vg
                        {
                            vgs_with_pv.push(vg.as_str());
                            if !vg_ids.contains(&vg.as_str()) {
                                c.key("volumes", |c| {
                                    c.index(volume.index, |c| {
                                        c.error(format!(
                                            "Following LVMpv refer to missing VG: \"{vg}\""
                                        ));
                                    });
                                });
                            }
                        }
                    }
                });
            });
        }
        let mut orphan: Vec<&str> = provision
            .volume_groups
            .iter()
            .map(|v| v.id.as_str())
            .filter(|id| !vgs_with_pv.contains(id))
            .collect();
        orphan.sort_unstable();
        if !orphan.is_empty() {
            self.key("partitions", |c| {
                c.error(format!(
                    "Following LVMvg have no any PV: \"{}\"",
                    orphan.join("\", \"")
                ));
            });
        }
        for vg in &provision.volume_groups {
            self.key("partitions", |c| {
                c.index(vg.index, |c| {
                    c.remaining(&vg.volumes, &format!("lvm-vg: {}", vg.id));
                });
            });
        }

        // Mount points: per image, unique, no separate /boot, one `/`.
        let spaces = provision.disks.iter().map(|d| (d.index, &d.volumes)).chain(
            provision
                .volume_groups
                .iter()
                .map(|v| (v.index, &v.volumes)),
        );
        for (space, volumes) in spaces {
            for volume in volumes {
                let here = format!("partitions:{space}:volumes:{}", volume.index);
                self.key("partitions", |c| {
                    c.index(space, |c| {
                        c.key("volumes", |c| {
                            c.index(volume.index, |c| {
                                c.volume_rules(provision, volume, &here, &mut mounts, &mut roots);
                            });
                        });
                    });
                });
            }
        }
        for (i, image) in provision.images.iter().enumerate() {
            if !roots.contains_key(&image.name) && image.target == "/" {
                self.key("images", |c| {
                    c.index(i, |c| {
                        c.error(format!(
                            "Error: device with / mountpoint has not been found (image '{}' owns no '/' filesystem)",
                            image.name
                        ));
                    });
                });
            }
        }
    }

    fn remaining(&mut self, volumes: &[Volume], owner: &str) {
        let remaining: Vec<String> = volumes
            .iter()
            .filter(|v| v.size == Size::Remaining)
            .map(|v| format!("volumes:{}", v.index))
            .collect();
        if remaining.len() > 1 {
            self.error(format!(
                "Multiple requests on \"remaining\" space. {owner}, volumes: {}",
                remaining.join(", ")
            ));
        }
    }

    fn volume_rules(
        &mut self,
        provision: &Provision,
        volume: &Volume,
        here: &str,
        mounts: &mut BTreeMap<(String, String), String>,
        roots: &mut BTreeMap<String, usize>,
    ) {
        if volume.kind == VolumeKind::Boot {
            self.error("a separate /boot is not supported: each image's kernel must be on its '/' (Bareon's boot volume type)");
        }
        if volume.size == Size::Bytes(0) {
            self.key("size", |c| c.error("'0' is not a usable size"));
        }
        if !valid_token(&volume.fstab_options) {
            self.key("fstab_options", |c| {
                c.error("fstab options must be one word of printable ASCII");
            });
        }
        if !volume
            .file_system
            .bytes()
            .all(|b| b.is_ascii_alphanumeric())
            || volume.file_system.is_empty()
        {
            self.key("file_system", |c| {
                c.error(format!(
                    "'{}' is not a filesystem type",
                    bouture_text::truncate(&volume.file_system, 40)
                ));
            });
        }
        if let Some(name) = &volume.name
            && !valid_name(name)
        {
            self.key("name", |c| c.error(format!("'{}' is not a usable partition name (1 to 64 letters, digits, '.', '_', '+', '-')", bouture_text::truncate(name, 80))));
        }
        let Some(mount) = &volume.mount else { return };
        let swap = volume.file_system == "swap";
        if swap {
            if mount != "swap" {
                self.key("mount", |c| {
                    c.error(format!(
                        "a swap volume's mount must be 'swap' or 'none', not '{}'",
                        bouture_text::truncate(mount, 80)
                    ));
                });
            }
            return;
        }
        if !valid_mount(mount) {
            self.key("mount", |c| {
                c.error(format!(
                    "'{}' is not a mount point (an absolute, normalised path of printable ASCII without spaces, or 'none')",
                    bouture_text::truncate(mount, 80)
                ));
            });
            return;
        }
        if mount == "/boot" || mount.starts_with("/boot/") {
            self.key("mount", |c| c.error(format!("a separate {mount} is not supported: each image's kernel must be on its '/' (os-prober and the boot entries look there)")));
        }
        let owners = provision.owners(volume);
        for owner in owners {
            if let Some(first) = mounts.insert((owner.to_owned(), mount.clone()), here.to_owned()) {
                self.key("mount", |c| {
                    c.error(format!(
                        "'{mount}' is already mounted for image '{owner}' by {first}"
                    ));
                });
            }
            if mount == "/" {
                *roots.entry(owner.to_owned()).or_default() += 1;
            }
        }
    }
}

/// Image and partition names: they become GRUB ids, labels and file names.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        && !name.starts_with(['.', '-'])
}

fn valid_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 1024
        && text.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

fn valid_mount(mount: &str) -> bool {
    mount.starts_with('/')
        && mount.len() <= 1024
        && mount
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\')
        && (mount == "/"
            || (!mount.ends_with('/')
                && mount
                    .split('/')
                    .skip(1)
                    .all(|part| !part.is_empty() && part != "." && part != "..")))
}

fn valid_kernel_params(params: &str) -> bool {
    params.len() <= 4096
        && params
            .bytes()
            .all(|b| (b.is_ascii_graphic() || b == b' ') && !b"'\"\\$;{}#".contains(&b))
}

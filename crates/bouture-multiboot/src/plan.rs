//! The resolved layout: disks, partitions with offsets and sizes, filesystems
//! with their UUIDs chosen up front, which images own which mount points.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{
    PartitionsPolicy, PathElement, Provision, ValidationError, ValidationErrors, VolumeKind,
};
use crate::size::Size;

/// 512-byte sectors, as in the GPT.
pub(crate) const SECTOR: u64 = 512;
const MIB: u64 = 1024 * 1024;
/// The `bios_grub` partition at the head of every disk (Bareon: 24 MiB).
pub(crate) const BIOS_GRUB_MIB: u64 = 24;
/// The EFI system partition after it on every disk (GRUB's EFI image).
pub(crate) const ESP_MIB: u64 = 16;
/// GPT name of the EFI system partition.
pub(crate) const ESP_NAME: &str = "grub_efi";
/// The `multiboot` partition after them on the first disk (Bareon: 100 MiB).
pub(crate) const MULTIBOOT_MIB: u64 = 100;
/// GPT name of the multiboot partition, which `bouture boot` looks for.
pub(crate) const MULTIBOOT_NAME: &str = "multiboot";
/// The longest GPT partition name, in UTF-16 code units.
const GPT_NAME_UNITS: usize = 36;
/// The partition entries of a GPT as sfdisk writes it.
const GPT_ENTRIES: usize = 128;

/// GPT type of a BIOS boot partition.
pub(crate) const TYPE_BIOS_GRUB: &str = "21686148-6449-6E6F-744E-656564454649";
/// GPT type of an EFI system partition.
pub(crate) const TYPE_ESP: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// GPT type of a Linux filesystem.
pub(crate) const TYPE_LINUX: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
/// GPT type of Linux swap.
pub(crate) const TYPE_SWAP: &str = "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F";
/// GPT type of a FAT filesystem (Microsoft basic data).
pub(crate) const TYPE_FAT: &str = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";

/// Where the UUIDs of the plan come from.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Derive every UUID from this seed (reproducible plans); `None` draws
    /// random ones.
    pub uuid_seed: Option<String>,
}

/// What a partition is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PartitionRole {
    /// GRUB's BIOS boot partition (holds core.img).
    BiosGrub,
    /// The EFI system partition (FAT, holds GRUB's `EFI/BOOT/BOOTX64.EFI`).
    Esp,
    /// The multiboot partition (GRUB's files, grub.cfg, grubenv, boot info).
    Multiboot,
    /// A volume of the document.
    Volume {
        /// `partitions:<disk>:volumes:<n>` in the document.
        source: String,
    },
}

/// A filesystem on a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FilesystemPlan {
    /// `ext4`, `swap`, ...
    pub fs_type: String,
    /// The filesystem UUID (given to mkfs, written in fstab and grub.cfg).
    pub uuid: Uuid,
    /// The filesystem label (at most 16 bytes).
    pub label: String,
    /// The mount point, if any.
    pub mount: Option<String>,
    /// The images this filesystem belongs to.
    pub images: Vec<String>,
    /// Whether fstab lines are active (`fstab_enabled`).
    pub fstab_enabled: bool,
    /// fstab options.
    pub fstab_options: String,
    /// `keep_data`: kept byte for byte by `bouture deploy image`.
    #[serde(default)]
    pub keep_data: bool,
}

/// One GPT partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PartitionPlan {
    /// 1-based partition number.
    pub number: u32,
    /// The GPT partition name.
    pub name: String,
    /// What it is for.
    pub role: PartitionRole,
    /// First sector.
    pub start_sector: u64,
    /// Length in sectors.
    pub size_sectors: u64,
    /// Offset in bytes from the start of the disk.
    pub offset_bytes: u64,
    /// Length in bytes.
    pub size_bytes: u64,
    /// GPT partition type GUID.
    pub type_guid: String,
    /// GPT unique partition GUID.
    pub partition_uuid: Uuid,
    /// Its filesystem (none for `bios_grub`).
    pub filesystem: Option<FilesystemPlan>,
}

/// One disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DiskPlan {
    /// `id.value` (e.g. `vda`).
    pub id: String,
    /// `id.type`.
    pub id_type: String,
    /// Size in bytes (whole MiB).
    pub size_bytes: u64,
    /// GPT disk GUID.
    pub disk_uuid: Uuid,
    /// Partitions in disk order.
    pub partitions: Vec<PartitionPlan>,
}

/// A mount point of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MountPlan {
    /// The mount point.
    pub mount: String,
    /// The filesystem mounted there.
    pub fs_uuid: Uuid,
    /// `ext4`, ...
    pub fs_type: String,
    /// Disk id and partition number.
    pub disk: String,
    /// Partition number on that disk.
    pub partition: u32,
}

/// One image and what it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImagePlan {
    /// `name` (Bareon's `os_id`).
    pub name: String,
    /// `image_name`.
    pub image_name: String,
    /// `image_uuid`.
    pub image_uuid: String,
    /// `image_pull_url`: downloaded by a build when it is http(s) and no
    /// other source is given.
    #[serde(default)]
    pub image_pull_url: String,
    /// `boot`.
    pub boot: bool,
    /// Its boot entry's position in grub.cfg (Bareon's `grub_id`).
    pub grub_id: usize,
    /// Its boot entry's stable id, `image-<name>`.
    pub grub_entry_id: String,
    /// UUID of its `/`.
    pub root_uuid: Uuid,
    /// Its mount points, in mount order (by depth).
    pub mounts: Vec<MountPlan>,
}

/// The whole layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// More than one image owns filesystems (Bareon's `is_multiboot`).
    pub multiboot: bool,
    /// UUID of the multiboot filesystem, when there is one.
    pub multiboot_uuid: Option<Uuid>,
    /// Kernel parameters added to every boot entry.
    pub kernel_params: String,
    /// The disks.
    pub disks: Vec<DiskPlan>,
    /// The images owning filesystems, in document order.
    pub images: Vec<ImagePlan>,
    /// The document's `partitions_policy` (`None` when absent).
    #[serde(skip)]
    pub partitions_policy: Option<PartitionsPolicy>,
    /// The document's `image_deploy_flags`, when given.
    #[serde(skip)]
    pub image_deploy_flags: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The entry id of an image in grub.cfg and grubenv.
pub fn entry_id(image: &str) -> String {
    format!("image-{image}")
}

struct Ids {
    seed: Option<Uuid>,
}

impl Ids {
    fn get(&self, what: &str) -> Uuid {
        match self.seed {
            Some(seed) => Uuid::new_v5(&seed, what.as_bytes()),
            None => Uuid::new_v4(),
        }
    }
}

impl Plan {
    /// Resolve a document's layout: sizes, offsets, implicit partitions,
    /// UUIDs. Every error is reported at once, with its path.
    #[allow(clippy::too_many_lines)] // one pass over the disks, kept together
    pub fn resolve(provision: &Provision, options: &PlanOptions) -> Result<Self, ValidationErrors> {
        let ids = Ids {
            seed: options.uuid_seed.as_ref().map(|seed| {
                Uuid::new_v5(
                    &Uuid::NAMESPACE_URL,
                    format!("bouture-multiboot:{seed}").as_bytes(),
                )
            }),
        };
        let mut errors = Vec::new();
        for vg in &provision.volume_groups {
            errors.push(ValidationError {
                path: vec![PathElement::Key("partitions".into()), PathElement::Index(vg.index)],
                message: format!("volume group '{}': LVM is validated but not laid out (no device-mapper is used)", vg.id),
            });
        }
        let owning: Vec<&str> = provision
            .images
            .iter()
            .map(|i| i.name.as_str())
            .filter(|name| {
                provision
                    .disks
                    .iter()
                    .flat_map(|d| &d.volumes)
                    .any(|v| v.mount.is_some() && provision.owners(v).contains(name))
            })
            .collect();
        let multiboot = owning.len() > 1;
        let multiboot_uuid = multiboot.then(|| ids.get("fs/multiboot"));
        let mut disks = Vec::new();
        for (n, disk) in provision.disks.iter().enumerate() {
            let at = |extra: &[PathElement]| {
                let mut path = vec![
                    PathElement::Key("partitions".into()),
                    PathElement::Index(disk.index),
                ];
                path.extend_from_slice(extra);
                path
            };
            let Size::Bytes(bytes) = disk.size else {
                continue;
            };
            let size_bytes = bytes / MIB * MIB;
            let disk_mib = size_bytes / MIB;
            // 1 MiB before the first partition, 1 MiB after the last (GPT copies).
            let mut next_mib = 1;
            let mut partitions = Vec::new();
            let mut number = 0u32;
            let mut push = |name: String,
                            role: PartitionRole,
                            start: u64,
                            mib: u64,
                            type_guid: &str,
                            filesystem: Option<FilesystemPlan>,
                            partitions: &mut Vec<PartitionPlan>| {
                number += 1;
                partitions.push(PartitionPlan {
                    number,
                    name,
                    role,
                    start_sector: start * MIB / SECTOR,
                    size_sectors: mib * MIB / SECTOR,
                    offset_bytes: start * MIB,
                    size_bytes: mib * MIB,
                    type_guid: type_guid.to_owned(),
                    partition_uuid: ids.get(&format!("disk/{}/part/{number}", disk.id)),
                    filesystem,
                });
            };
            push(
                "bios_grub".into(),
                PartitionRole::BiosGrub,
                next_mib,
                BIOS_GRUB_MIB,
                TYPE_BIOS_GRUB,
                None,
                &mut partitions,
            );
            next_mib += BIOS_GRUB_MIB;
            push(
                ESP_NAME.into(),
                PartitionRole::Esp,
                next_mib,
                ESP_MIB,
                TYPE_ESP,
                None,
                &mut partitions,
            );
            next_mib += ESP_MIB;
            if n == 0
                && let Some(uuid) = multiboot_uuid
            {
                let fs = FilesystemPlan {
                    fs_type: "ext4".into(),
                    uuid,
                    label: MULTIBOOT_NAME.into(),
                    mount: None,
                    images: Vec::new(),
                    fstab_enabled: false,
                    fstab_options: "defaults".into(),
                    keep_data: false,
                };
                push(
                    MULTIBOOT_NAME.into(),
                    PartitionRole::Multiboot,
                    next_mib,
                    MULTIBOOT_MIB,
                    TYPE_LINUX,
                    Some(fs),
                    &mut partitions,
                );
                next_mib += MULTIBOOT_MIB;
            }
            // Sizes of the volumes, `remaining` last.
            let mut sizes: Vec<Option<u64>> = Vec::new();
            for volume in &disk.volumes {
                if volume.kind != VolumeKind::Partition {
                    errors.push(ValidationError {
                        path: at(&[PathElement::Key("volumes".into()), PathElement::Index(volume.index)]),
                        message: format!("{} volumes are validated but not laid out (only 'partition': LVM and md RAID need device-mapper or md devices, which bouture never uses)", format!("{:?}", volume.kind).to_lowercase()),
                    });
                }
                sizes.push(match volume.size {
                    Size::Bytes(b) => Some(b.div_ceil(MIB)),
                    #[allow(
                        clippy::cast_precision_loss,
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss
                    )]
                    Size::Percent(p) => Some(((disk_mib as f64) * p / 100.0).floor() as u64),
                    Size::Remaining => None,
                });
            }
            let fixed: u64 = sizes.iter().flatten().sum();
            let available = disk_mib.saturating_sub(next_mib + 1);
            if fixed > available || disk_mib < next_mib + 1 {
                errors.push(ValidationError {
                    path: at(&[]),
                    message: format!(
                        "the volumes need {fixed} MiB but disk '{}' has {available} MiB left ({disk_mib} MiB, minus {} MiB of GPT and implicit partitions)",
                        disk.id,
                        disk_mib - available.min(disk_mib)
                    ),
                });
                continue;
            }
            for (volume, size) in disk.volumes.iter().zip(&sizes) {
                let mib = size.unwrap_or(available - fixed);
                if mib == 0 {
                    errors.push(ValidationError {
                        path: at(&[
                            PathElement::Key("volumes".into()),
                            PathElement::Index(volume.index),
                            PathElement::Key("size".into()),
                        ]),
                        message: "resolves to 0 MiB".into(),
                    });
                    continue;
                }
                let owners: Vec<String> = if volume.mount.is_some() || volume.file_system == "swap"
                {
                    provision
                        .owners(volume)
                        .into_iter()
                        .map(str::to_owned)
                        .collect()
                } else {
                    Vec::new()
                };
                let name = volume.name.clone().unwrap_or_else(|| {
                    default_name(volume.mount.as_deref(), &volume.file_system, &owners)
                });
                let type_guid = match volume.file_system.as_str() {
                    "swap" => TYPE_SWAP,
                    "vfat" | "fat" | "fat16" | "fat32" => TYPE_FAT,
                    _ => TYPE_LINUX,
                };
                let filesystem = FilesystemPlan {
                    fs_type: volume.file_system.clone(),
                    uuid: ids.get(&format!("fs/{}/{}", disk.id, volume.index)),
                    label: name.chars().take(16).collect(),
                    mount: volume.mount.clone(),
                    images: owners,
                    fstab_enabled: volume.fstab_enabled,
                    fstab_options: volume.fstab_options.clone(),
                    keep_data: volume.keep_data,
                };
                push(
                    name,
                    PartitionRole::Volume {
                        source: format!("partitions:{}:volumes:{}", disk.index, volume.index),
                    },
                    next_mib,
                    mib,
                    type_guid,
                    Some(filesystem),
                    &mut partitions,
                );
                next_mib += mib;
            }
            for partition in &partitions {
                let volume = disk.volumes.iter().find(|v| {
                    matches!(&partition.role, PartitionRole::Volume { source }
                        if source == &format!("partitions:{}:volumes:{}", disk.index, v.index))
                });
                let Some(volume) = volume else {
                    continue;
                };
                let path = at(&[
                    PathElement::Key("volumes".into()),
                    PathElement::Index(volume.index),
                ]);
                let units = partition.name.encode_utf16().count();
                if units > GPT_NAME_UNITS {
                    errors.push(ValidationError {
                        path: path.clone(),
                        message: format!(
                            "partition name '{}' is {units} UTF-16 units long; a GPT name holds at most {GPT_NAME_UNITS}",
                            bouture_text::truncate(&partition.name, 80)
                        ),
                    });
                }
                if partition.name == MULTIBOOT_NAME && multiboot {
                    errors.push(ValidationError {
                        path,
                        message: format!(
                            "partition name '{MULTIBOOT_NAME}' is reserved for the multiboot partition bouture adds (the boot switch finds it by that name); choose another disk_label or name"
                        ),
                    });
                }
            }
            if partitions.len() > GPT_ENTRIES {
                errors.push(ValidationError {
                    path: at(&[PathElement::Key("volumes".into())]),
                    message: format!(
                        "disk '{}' would have {} partitions (with the implicit ones); a GPT holds at most {GPT_ENTRIES}",
                        disk.id,
                        partitions.len()
                    ),
                });
            }
            disks.push(DiskPlan {
                id: disk.id.clone(),
                id_type: disk.id_type.clone(),
                size_bytes,
                disk_uuid: ids.get(&format!("disk/{}", disk.id)),
                partitions,
            });
        }
        if !errors.is_empty() {
            return Err(ValidationErrors { errors });
        }
        let mut images = Vec::new();
        for image in &provision.images {
            if !owning.contains(&image.name.as_str()) {
                continue;
            }
            let mut mounts: Vec<MountPlan> = disks
                .iter()
                .flat_map(|d| d.partitions.iter().map(move |p| (d, p)))
                .filter_map(|(d, p)| {
                    let fs = p.filesystem.as_ref()?;
                    let mount = fs.mount.clone()?;
                    fs.images.contains(&image.name).then(|| MountPlan {
                        mount,
                        fs_uuid: fs.uuid,
                        fs_type: fs.fs_type.clone(),
                        disk: d.id.clone(),
                        partition: p.number,
                    })
                })
                .collect();
            mounts.sort_by_key(|m| {
                if m.mount == "/" {
                    0
                } else {
                    m.mount.matches('/').count()
                }
            });
            let Some(root) = mounts.iter().find(|m| m.mount == "/") else {
                continue;
            };
            images.push(ImagePlan {
                name: image.name.clone(),
                image_name: image.image_name.clone(),
                image_uuid: image.image_uuid.clone(),
                image_pull_url: image.image_pull_url.clone(),
                boot: image.boot,
                grub_id: images.len(),
                grub_entry_id: entry_id(&image.name),
                root_uuid: root.fs_uuid,
                mounts,
            });
        }
        Ok(Plan {
            multiboot,
            multiboot_uuid,
            kernel_params: provision.kernel_params.clone(),
            disks,
            images,
            partitions_policy: provision.partitions_policy,
            image_deploy_flags: provision.image_deploy_flags.clone(),
        })
    }

    /// The bytes of all the partitions an image's filesystems are on (the
    /// most its content can be, whatever its form).
    pub fn capacity_of(&self, image: &str) -> u64 {
        self.disks
            .iter()
            .flat_map(|d| &d.partitions)
            .filter(|p| {
                p.filesystem
                    .as_ref()
                    .is_some_and(|f| f.images.iter().any(|i| i == image))
            })
            .map(|p| p.size_bytes)
            .sum()
    }

    /// The image booted by default (`boot: true`).
    pub fn boot_image(&self) -> Option<&ImagePlan> {
        self.images.iter().find(|i| i.boot)
    }

    /// The multiboot partition: its disk and the partition.
    pub fn multiboot_partition(&self) -> Option<(&DiskPlan, &PartitionPlan)> {
        self.disks.iter().find_map(|d| {
            d.partitions
                .iter()
                .find(|p| p.role == PartitionRole::Multiboot)
                .map(|p| (d, p))
        })
    }
}

fn default_name(mount: Option<&str>, fs: &str, owners: &[String]) -> String {
    let base = match mount {
        Some("/") => "root".to_owned(),
        Some(mount) => mount.rsplit('/').next().unwrap_or("data").to_owned(),
        None if fs == "swap" => "swap".to_owned(),
        None => "data".to_owned(),
    };
    let base: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match owners {
        [one] if mount == Some("/") => format!("{base}-{one}"),
        _ => base,
    }
}

//! One disk: a sparse file, its GPT written by sfdisk, each partition's
//! filesystem made in place, the boot code.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::BuildOptions;
use super::ext::{Region, fill_filesystem, mkfs_ext};
use super::fsimage::Placed;
use super::grub::{install_boot_code, make_esp, stage_multiboot};
use super::inputs::sanitize;
use crate::bootcfg::{BootFiles, BootInfo};
use crate::error::{Error, io};
use crate::plan::{DiskPlan, PartitionRole, Plan};
use crate::tools::Tools;

/// What a disk's partitions are made from.
pub(super) struct Inputs<'a> {
    /// Each image's root tree (an empty one for a filesystem image).
    pub(super) roots: &'a [PathBuf],
    /// Each image's filesystem image, when given one.
    pub(super) placed: &'a [Option<Placed>],
    /// Each image's kernel, initrd and title.
    pub(super) files: &'a [BootFiles],
    /// The boot info of the multiboot partition.
    pub(super) boot_info: &'a BootInfo,
    /// GRUB's core image.
    pub(super) core: &'a [u8],
}

pub(super) fn build_disk(
    tools: &Tools,
    plan: &Plan,
    disk: &DiskPlan,
    inputs: &Inputs<'_>,
    options: &BuildOptions,
    work: &Path,
    raw: &Path,
) -> Result<(), Error> {
    let Inputs {
        roots,
        placed,
        files,
        boot_info,
        core,
    } = *inputs;
    let disk_index = plan.disks.iter().position(|d| d.id == disk.id);
    // The disk: a sparse file with the GPT, then each filesystem made in
    // place at its partition's offset (mke2fs -E offset= with the size
    // given, so it never writes past its partition), then the boot code.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(raw)
        .map_err(io(raw, "cannot create"))?;
    file.set_len(disk.size_bytes)
        .map_err(io(raw, "cannot size"))?;
    let mut command = tools.command("sfdisk");
    command
        .args(["-q", "--no-reread", "--no-tell-kernel", "--wipe", "never"])
        .arg(raw);
    tools.run(command, Some(sfdisk_script(disk).as_bytes()))?;
    for partition in &disk.partitions {
        if partition.role == PartitionRole::Esp {
            make_esp(tools, raw, partition, work)?;
        }
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
                stage_multiboot(
                    plan,
                    files,
                    boot_info,
                    [&options.grub_dir, &options.grub_efi_dir],
                    &stage,
                )?;
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
                tools.run(command, None)?;
                copy_sparse(
                    &swap,
                    &file,
                    raw,
                    partition.offset_bytes,
                    partition.size_bytes,
                )?;
                std::fs::remove_file(&swap).map_err(io(&swap, "cannot remove"))?;
            }
            _ => match placed
                .iter()
                .flatten()
                .find(|p| Some(p.disk) == disk_index && p.partition == partition.number)
            {
                Some(image) => super::fsimage::write(tools, plan, partition, image, &region, true)?,
                None => fill_filesystem(tools, plan, disk, partition, roots, work, &region)?,
            },
        }
    }
    // Flushed when put in place (bouture_fs::replace_together).
    install_boot_code(&file, raw, disk, core, &options.grub_dir)
}

pub(super) fn sfdisk_script(disk: &DiskPlan) -> String {
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

/// Copy a filesystem image into the disk at `offset`, skipping zero blocks
/// (the disk file is sparse and zero-filled; flushed when put in place).
pub(super) fn copy_sparse(
    from: &Path,
    disk: &File,
    disk_path: &Path,
    offset: u64,
    size: u64,
) -> Result<(), Error> {
    let region = Region {
        disk: disk_path,
        offset,
        size,
    };
    super::fsimage::copy_into(from, disk, &region, bouture_fs::Zeros::Skip, false)
}

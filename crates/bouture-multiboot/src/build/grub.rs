//! GRUB for the BIOS without grub-install: core.img made with
//! grub-mkimage, byte-patched into the `bios_grub` partition and the MBR as
//! grub-bios-setup would; the multiboot partition's files staged.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::bootcfg::{BootFiles, BootInfo};
use crate::error::{Error, io};
use crate::layout::{LAYOUT_NAME, Layout};
use crate::plan::{DiskPlan, PartitionRole, Plan, SECTOR};
use crate::switch::{BOOT_INFO_NAME, GRUB_DIR};
use crate::tools::Tools;

/// The modules both GRUB images embed: find the multiboot filesystem by
/// UUID (without `search` the menu hangs at "Press any key to continue"),
/// read grub.cfg and grubenv, boot Linux, talk on the serial line.
const MODULES: [&str; 12] = [
    "part_gpt",
    "ext2",
    "search",
    "search_fs_uuid",
    "normal",
    "configfile",
    "loadenv",
    "test",
    "echo",
    "linux",
    "serial",
    "terminal",
];

/// `grub-mkimage -O format` into `work/output`, with an embedded config
/// that finds the multiboot filesystem by UUID (so disk order does not
/// matter) and the [`MODULES`] plus `extra`.
fn mkimage(
    tools: &Tools,
    work: &Path,
    (format, modules_dir, output): (&str, &Path, &str),
    multiboot_uuid: &str,
    extra: &[&str],
) -> Result<std::path::PathBuf, Error> {
    let early = work.join(format!("early-{format}.cfg"));
    std::fs::write(
        &early,
        format!("search.fs_uuid {multiboot_uuid} root\nset prefix=($root){GRUB_DIR}\n"),
    )
    .map_err(io(&early, "cannot write"))?;
    let image = work.join(output);
    let mut command = tools.command("grub-mkimage");
    command
        .args(["-O", format, "-o"])
        .arg(&image)
        .arg("-d")
        .arg(modules_dir)
        .arg("-c")
        .arg(&early)
        .args(["-p", GRUB_DIR])
        .args(extra)
        .args(MODULES);
    tools.run(command, None)?;
    Ok(image)
}

/// core.img for the BIOS.
pub(super) fn make_core_image(
    tools: &Tools,
    work: &Path,
    grub_dir: &Path,
    multiboot_uuid: &str,
) -> Result<Vec<u8>, Error> {
    let core = mkimage(
        tools,
        work,
        ("i386-pc", grub_dir, "core.img"),
        multiboot_uuid,
        &["biosdisk"],
    )?;
    std::fs::read(&core).map_err(io(&core, "cannot read"))
}

/// The UEFI image's file name in the work directory (and on the ESP, in
/// `EFI/BOOT/`: the removable-media path every firmware boots).
pub(super) const EFI_IMAGE: &str = "BOOTX64.EFI";

/// GRUB's UEFI image, `work/BOOTX64.EFI`, reading the same grub.cfg and
/// grubenv as core.img.
pub(super) fn make_efi_image(
    tools: &Tools,
    work: &Path,
    efi_dir: &Path,
    multiboot_uuid: &str,
) -> Result<(), Error> {
    mkimage(
        tools,
        work,
        ("x86_64-efi", efi_dir, EFI_IMAGE),
        multiboot_uuid,
        &["efi_gop", "all_video", "reboot"],
    )
    .map(drop)
}

/// The ESP without mounting: a FAT filesystem made like any vfat volume
/// ([`super::fat::make_fat`]: `mkfs.fat --offset`, mtools) holding GRUB's
/// UEFI image at `EFI/BOOT/BOOTX64.EFI`, read back with `mtype`.
pub(super) fn make_esp(
    tools: &Tools,
    disk: &Path,
    partition: &crate::plan::PartitionPlan,
    work: &Path,
) -> Result<(), Error> {
    let tree = work.join(format!("esp-{}", partition.partition_uuid));
    let boot = tree.join("EFI/BOOT");
    std::fs::create_dir_all(&boot).map_err(io(&boot, "cannot create"))?;
    let local = work.join(EFI_IMAGE);
    std::fs::copy(&local, boot.join(EFI_IMAGE)).map_err(io(&local, "cannot copy"))?;
    let fs = crate::plan::FilesystemPlan {
        fs_type: "vfat".into(),
        uuid: partition.partition_uuid,
        label: "ESP".into(),
        mount: None,
        images: Vec::new(),
        fstab_enabled: false,
        fstab_options: "defaults".into(),
        keep_data: false,
    };
    let region = super::ext::Region {
        disk,
        offset: partition.offset_bytes,
        size: partition.size_bytes,
    };
    super::fat::make_fat(tools, &fs, &tree, &[], &region)?;
    let mut command = tools.command("mtype");
    command
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@{}", disk.display(), partition.offset_bytes))
        .arg("::/EFI/BOOT/BOOTX64.EFI");
    let back = tools.run(command, None)?;
    let written = std::fs::read(&local).map_err(io(&local, "cannot read"))?;
    if back != written {
        return Err(Error::ReadBack {
            path: disk.to_owned(),
            what: "EFI/BOOT/BOOTX64.EFI on the ESP".into(),
        });
    }
    Ok(())
}

/// GRUB's files, grub.cfg, grubenv and the boot info, staged for mkfs -d.
pub(super) fn stage_multiboot(
    plan: &Plan,
    files: &[BootFiles],
    boot_info: &BootInfo,
    grub_dirs: [&Path; 2],
    stage: &Path,
) -> Result<(), Error> {
    let grub = stage.join(GRUB_DIR.trim_start_matches('/'));
    // The BIOS and the UEFI GRUB each load modules from $prefix/<platform>.
    for (grub_dir, platform) in grub_dirs.into_iter().zip(["i386-pc", "x86_64-efi"]) {
        let modules = grub.join(platform);
        std::fs::create_dir_all(&modules).map_err(io(&modules, "cannot create"))?;
        let entries = std::fs::read_dir(grub_dir).map_err(io(grub_dir, "cannot list"))?;
        for entry in entries {
            let entry = entry.map_err(io(grub_dir, "cannot list"))?;
            let name = entry.file_name();
            let name_text = name.to_string_lossy();
            if entry.file_type().is_ok_and(|t| t.is_file())
                && (name_text.ends_with(".mod") || name_text.ends_with(".lst"))
            {
                std::fs::copy(entry.path(), modules.join(&name))
                    .map_err(io(entry.path(), "cannot copy"))?;
            }
        }
    }
    let write = |name: &str, bytes: &[u8]| {
        let path = grub.join(name);
        std::fs::write(&path, bytes).map_err(io(&path, "cannot write"))
    };
    write("grub.cfg", plan.grub_cfg(files).as_bytes())?;
    write("grubenv", &plan.grubenv())?;
    let mut info = serde_json::to_vec_pretty(boot_info).unwrap_or_default();
    info.push(b'\n');
    write(BOOT_INFO_NAME, &info)?;
    write(LAYOUT_NAME, &Layout::new(plan, files).to_json())
}

/// GRUB's BIOS boot code without grub-bios-setup (which needs a real
/// device): core.img into the `bios_grub` partition, its first sector's
/// blocklist pointing at the rest; boot.img into the MBR, pointing at
/// core.img, keeping the partition table and signature.
pub(super) fn install_boot_code(
    disk: &File,
    path: &Path,
    plan: &DiskPlan,
    core: &[u8],
    grub_dir: &Path,
) -> Result<(), Error> {
    let bios = plan
        .partitions
        .iter()
        .find(|p| p.role == PartitionRole::BiosGrub)
        .ok_or_else(|| Error::Target {
            path: path.to_owned(),
            message: "no bios_grub partition".into(),
        })?;
    let bad = |message: &str| Error::Target {
        path: path.to_owned(),
        message: message.to_owned(),
    };
    if core.len() < 512 || core.len() as u64 > bios.size_bytes {
        return Err(bad(
            "GRUB's core.img does not fit in the bios_grub partition",
        ));
    }
    let mut core = core.to_vec();
    let sectors = (core.len() as u64).div_ceil(SECTOR);
    // diskboot.img's blocklist: start sector (u64 LE) at 0x1F4, length at 0x1FC.
    let length = core
        .get(0x1FC..0x1FE)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(|b| u64::from(u16::from_le_bytes(b)));
    if length != Some(sectors - 1) {
        return Err(bad("GRUB's core.img has an unexpected diskboot blocklist"));
    }
    let start = bios.start_sector;
    if let Some(slot) = core.get_mut(0x1F4..0x1FC) {
        slot.copy_from_slice(&(start + 1).to_le_bytes());
    }
    disk.write_all_at(&core, bios.offset_bytes)
        .map_err(io(path, "cannot write core.img"))?;
    let boot_path = grub_dir.join("boot.img");
    let boot = bouture_fs::read_bounded(&boot_path, 512, bouture_fs::Links::Follow)?;
    if boot.len() != 512 {
        return Err(bad("GRUB's boot.img is not 512 bytes"));
    }
    let mut mbr = [0u8; 512];
    disk.read_exact_at(&mut mbr, 0)
        .map_err(io(path, "cannot read the MBR"))?;
    let old = mbr;
    // boot.img's code, keeping the old BPB (0x03..0x5A), the disk signature,
    // the protective partition entry and 0x55AA (0x1B8..0x200).
    let boot_code = boot
        .get(..0x1B8)
        .ok_or_else(|| bad("GRUB's boot.img is not 512 bytes"))?;
    mbr[..0x1B8].copy_from_slice(boot_code);
    mbr[0x03..0x5A].copy_from_slice(&old[0x03..0x5A]);
    mbr[0x5C..0x64].copy_from_slice(&start.to_le_bytes()); // kernel_sector
    mbr[0x64] = 0xFF; // boot_drive: the BIOS's
    mbr[0x66] = 0x90; // no floppy drive check
    mbr[0x67] = 0x90;
    disk.write_all_at(&mbr, 0)
        .map_err(io(path, "cannot write the MBR"))?;
    Ok(())
}

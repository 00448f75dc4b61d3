//! GRUB for the BIOS without grub-install: core.img made with
//! grub-mkimage, byte-patched into the `bios_grub` partition and the MBR as
//! grub-bios-setup would; the multiboot partition's files staged.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::bootcfg::{BootFiles, BootInfo};
use crate::error::{Error, io};
use crate::plan::{DiskPlan, PartitionRole, Plan, SECTOR};
use crate::switch::{BOOT_INFO_NAME, GRUB_DIR};
use crate::tools::Tools;

/// core.img for the BIOS: finds the multiboot filesystem by UUID, so disk
/// order does not matter.
pub(super) fn make_core_image(
    tools: &Tools,
    work: &Path,
    grub_dir: &Path,
    multiboot_uuid: &str,
) -> Result<Vec<u8>, Error> {
    let early = work.join("early.cfg");
    std::fs::write(
        &early,
        format!("search.fs_uuid {multiboot_uuid} root\nset prefix=($root){GRUB_DIR}\n"),
    )
    .map_err(io(&early, "cannot write"))?;
    let core = work.join("core.img");
    let mut command = tools.command("grub-mkimage");
    command
        .args(["-O", "i386-pc", "-o"])
        .arg(&core)
        .arg("-d")
        .arg(grub_dir)
        .arg("-c")
        .arg(&early)
        .args(["-p", GRUB_DIR])
        .args([
            "biosdisk",
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
        ]);
    tools.run(command, None)?;
    std::fs::read(&core).map_err(io(&core, "cannot read"))
}

/// GRUB's files, grub.cfg, grubenv and the boot info, staged for mkfs -d.
pub(super) fn stage_multiboot(
    plan: &Plan,
    files: &[BootFiles],
    boot_info: &BootInfo,
    grub_dir: &Path,
    stage: &Path,
) -> Result<(), Error> {
    let grub = stage.join(GRUB_DIR.trim_start_matches('/'));
    let modules = grub.join("i386-pc");
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
    let write = |name: &str, bytes: &[u8]| {
        let path = grub.join(name);
        std::fs::write(&path, bytes).map_err(io(&path, "cannot write"))
    };
    write("grub.cfg", plan.grub_cfg(files).as_bytes())?;
    write("grubenv", &plan.grubenv())?;
    let mut info = serde_json::to_vec_pretty(boot_info).unwrap_or_default();
    info.push(b'\n');
    write(BOOT_INFO_NAME, &info)
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

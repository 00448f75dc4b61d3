//! `build_disks` and `BootTarget` on real disk images, read back with
//! independent tools (sfdisk, blkid, debugfs, e2fsck, grub-editenv).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod support;

use bouture_multiboot::SwitchOptions;
use bouture_multiboot::{BootTarget, BuildOptions, DiskFormat, Switch, SwitchOutcome, build_disks};
use support::*;

fn build(
    work: &std::path::Path,
    format: DiskFormat,
) -> (
    bouture_multiboot::Plan,
    std::path::PathBuf,
    bouture_multiboot::BuildReport,
) {
    let plan = plan(&document("console=ttyS0"));
    let centos = image_tree(
        work,
        "centos",
        "CentOS Linux 7 (Core)",
        b"kernel-c",
        b"initrd-c",
    );
    let ubuntu = image_tree(
        work,
        "ubuntu",
        "Ubuntu 14.04.3 LTS",
        b"kernel-u",
        b"initrd-u",
    );
    let out = work.join(if format == DiskFormat::Qcow2 {
        "disk.qcow2"
    } else {
        "disk.img"
    });
    let mut options = BuildOptions::new(
        vec![out.clone()],
        sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
    );
    options.format = format;
    options.boot_info = Some(work.join("boot-info.json"));
    let report = build_disks(&plan, &options).unwrap();
    (plan, out, report)
}

#[test]
fn built_disk_reads_back_with_independent_tools() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, disk, report) = build(dir.path(), DiskFormat::Raw);
    assert_eq!(std::fs::metadata(&disk).unwrap().len(), 256 << 20);

    // The partition table, as sfdisk reads it.
    let table: serde_json::Value = serde_json::from_str(&output(
        "sfdisk",
        "fdisk",
        &["--json", disk.to_str().unwrap()],
    ))
    .unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    let found: Vec<(u64, u64, &str, &str)> = parts
        .iter()
        .map(|p| {
            (
                p["start"].as_u64().unwrap(),
                p["size"].as_u64().unwrap(),
                p["name"].as_str().unwrap(),
                p["type"].as_str().unwrap(),
            )
        })
        .collect();
    let planned: Vec<(u64, u64, &str, &str)> = plan.disks[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.start_sector,
                p.size_sectors,
                p.name.as_str(),
                p.type_guid.as_str(),
            )
        })
        .collect();
    assert_eq!(found, planned);
    assert_eq!(found[0].3, "21686148-6449-6E6F-744E-656564454649");

    // Filesystem UUIDs and labels, as blkid probes them.
    for partition in plan.disks[0]
        .partitions
        .iter()
        .filter(|p| p.filesystem.is_some())
    {
        let fs = partition.filesystem.as_ref().unwrap();
        let probe = blkid(&disk, partition);
        assert!(probe.contains(&format!("UUID={}\n", fs.uuid)), "{probe}");
        assert!(probe.contains("TYPE=ext4\n"), "{probe}");
        assert!(probe.contains(&format!("LABEL={}\n", fs.label)), "{probe}");
    }

    // Each image's files and generated fstab on its own root.
    for image in ["centos", "ubuntu"] {
        let root = partition(&plan, &format!("root-{image}"));
        assert_eq!(
            debugfs_cat(&disk, root, &format!("/etc/{image}-only")),
            image
        );
        assert_eq!(debugfs_cat(&disk, root, "/etc/fstab"), plan.fstab(image));
        assert!(
            debugfs_cat(&disk, root, "/etc/fstab").contains(" /usr/share/common ext4 defaults 0 0")
        );
        // The shared directory is an empty mount point on the root...
        let listing = output(
            "debugfs",
            "e2fsprogs",
            &["-R", "ls -p /usr/share/common", &spec(&disk, root)],
        );
        assert!(!listing.contains("from-"), "{listing}");
    }
    // ...and its content, from both images, is on the shared filesystem.
    let common = partition(&plan, "common");
    assert_eq!(debugfs_cat(&disk, common, "/from-centos"), "centos");
    assert_eq!(debugfs_cat(&disk, common, "/from-ubuntu"), "ubuntu");

    // The multiboot partition: grub.cfg, grubenv, boot info, modules.
    let multiboot = partition(&plan, "multiboot");
    let grub_cfg = debugfs_cat(&disk, multiboot, "/boot/grub/grub.cfg");
    assert_eq!(grub_cfg, plan.grub_cfg(&report.boot_files));
    assert!(
        grub_cfg.contains("menuentry 'CentOS Linux 7 (Core) (image centos)' --id 'image-centos'"),
        "{grub_cfg}"
    );
    assert!(
        grub_cfg.contains("linux '/boot/vmlinuz-test' root=UUID="),
        "{grub_cfg}"
    );
    assert_eq!(
        grubenv_list(&disk, &plan, dir.path()),
        "saved_entry=image-centos\n"
    );
    let info: serde_json::Value =
        serde_json::from_str(&debugfs_cat(&disk, multiboot, "/boot/grub/boot-info.json")).unwrap();
    assert_eq!(info, serde_json::to_value(&report.boot_info).unwrap());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("boot-info.json")).unwrap()).unwrap();
    assert_eq!(written, info);
    assert_eq!(
        info["multiboot_partition"],
        plan.multiboot_uuid.unwrap().to_string()
    );
    assert!(debugfs_cat(&disk, multiboot, "/boot/grub/i386-pc/moddep.lst").contains("ext2"));

    // GRUB's boot code: MBR pointing at core.img in bios_grub.
    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(&bytes[0x1FE..0x200], &[0x55, 0xAA]);
    assert_eq!(
        u64::from_le_bytes(bytes[0x5C..0x64].try_into().unwrap()),
        2048
    );
    assert_eq!(bytes[0x64], 0xFF);
    let core = 2048 * 512;
    assert_eq!(
        u64::from_le_bytes(bytes[core + 0x1F4..core + 0x1FC].try_into().unwrap()),
        2049
    );

    // The ESP: FAT, GRUB's UEFI image at the removable-media path (mtools
    // reads it without mounting).
    let esp = partition(&plan, "grub_efi");
    let probe = blkid(&disk, esp);
    assert!(
        probe.contains("TYPE=vfat") && probe.contains("LABEL=ESP"),
        "{probe}"
    );
    let efi = std::process::Command::new(support::tool("mtype", "mtools"))
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@{}", disk.display(), esp.offset_bytes))
        .arg("::/EFI/BOOT/BOOTX64.EFI")
        .output()
        .unwrap();
    assert!(
        efi.status.success() && efi.stdout.starts_with(b"MZ"),
        "{}",
        String::from_utf8_lossy(&efi.stderr)
    );
    fsck_all(&disk, &plan, 0);
    // No work files left next to the output.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".bouture")),
        "{names:?}"
    );
}

#[test]
fn switching_on_a_disk_image() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, disk, _) = build(dir.path(), DiskFormat::Raw);
    let target = BootTarget::Disk(disk.clone());
    let status = target.status().unwrap();
    assert_eq!(status.default_image.as_deref(), Some("centos"));
    assert_eq!(status.next_image, None);

    let outcome = target
        .switch("ubuntu", Switch::Default, &SwitchOptions::default())
        .unwrap();
    assert!(
        matches!(outcome, SwitchOutcome::Changed { ref after, .. } if after == "image-ubuntu"),
        "{outcome:?}"
    );
    assert_eq!(
        grubenv_list(&disk, &plan, dir.path()),
        "saved_entry=image-ubuntu\n"
    );
    fsck_all(&disk, &plan, 0);

    // Switching to the current default is a no-op that says so.
    let outcome = target
        .switch("ubuntu", Switch::Default, &SwitchOptions::default())
        .unwrap();
    assert_eq!(
        outcome,
        SwitchOutcome::Unchanged {
            image: "ubuntu".into(),
            reason: "ubuntu is already the default".into()
        }
    );

    // A dry run writes nothing.
    let outcome = target
        .switch("centos", Switch::Next, &SwitchOptions { dry_run: true })
        .unwrap();
    assert!(
        matches!(outcome, SwitchOutcome::Changed { dry_run: true, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        grubenv_list(&disk, &plan, dir.path()),
        "saved_entry=image-ubuntu\n"
    );

    // One-shot, by image_name this time.
    target
        .switch("centos-7.1.1503", Switch::Next, &SwitchOptions::default())
        .unwrap();
    assert_eq!(
        grubenv_list(&disk, &plan, dir.path()),
        "saved_entry=image-ubuntu\nnext_entry=image-centos\n"
    );
    let status = target.status().unwrap();
    assert_eq!(
        (
            status.default_image.as_deref(),
            status.next_image.as_deref()
        ),
        (Some("ubuntu"), Some("centos"))
    );
    assert_eq!(status.boot_info.current_element, 1);
    fsck_all(&disk, &plan, 0);

    // Unknown images are refused with the list.
    let error = target
        .switch("debian", Switch::Default, &SwitchOptions::default())
        .unwrap_err();
    assert!(matches!(
        error,
        bouture_multiboot::Error::UnknownImage { .. }
    ));
    assert_eq!(
        error.to_string(),
        "unknown image 'debian': the images are centos, ubuntu"
    );
}

#[test]
fn concurrent_switches_never_corrupt_the_block() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, disk, _) = build(dir.path(), DiskFormat::Raw);
    let threads: Vec<_> = (0..4)
        .map(|n| {
            let disk = disk.clone();
            std::thread::spawn(move || {
                let target = BootTarget::Disk(disk);
                for i in 0..5 {
                    let image = if (n + i) % 2 == 0 { "centos" } else { "ubuntu" };
                    let switch = if i % 2 == 0 {
                        Switch::Default
                    } else {
                        Switch::Next
                    };
                    target
                        .switch(image, switch, &SwitchOptions::default())
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let list = grubenv_list(&disk, &plan, dir.path());
    assert!(list.starts_with("saved_entry=image-"), "{list}");
    assert!(
        BootTarget::Disk(disk.clone())
            .status()
            .unwrap()
            .warnings
            .is_empty()
    );
    fsck_all(&disk, &plan, 0);
}

#[test]
fn switching_in_a_mounted_multiboot_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, disk, _) = build(dir.path(), DiskFormat::Raw);
    // What a node sees where the multiboot partition is mounted.
    let mounted = dir.path().join("mnt");
    std::fs::create_dir(&mounted).unwrap();
    output(
        "debugfs",
        "e2fsprogs",
        &[
            "-R",
            &format!("rdump /boot {}", mounted.display()),
            &spec(&disk, partition(&plan, "multiboot")),
        ],
    );
    let target = BootTarget::Dir(mounted.clone());
    assert_eq!(
        target.status().unwrap().default_image.as_deref(),
        Some("centos")
    );
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    let env = mounted.join("boot/grub/grubenv");
    assert_eq!(std::fs::metadata(&env).unwrap().len(), 1024);
    assert_eq!(
        output(
            "grub-editenv",
            "grub2-common",
            &[env.to_str().unwrap(), "list"]
        ),
        "saved_entry=image-centos\nnext_entry=image-ubuntu\n"
    );
    // Asking for the default again cancels the pending one-shot.
    target
        .switch("centos", Switch::Next, &SwitchOptions::default())
        .unwrap();
    assert_eq!(
        output(
            "grub-editenv",
            "grub2-common",
            &[env.to_str().unwrap(), "list"]
        ),
        "saved_entry=image-centos\nnext_entry=\n"
    );
    // A symbolic link in place of grubenv is refused, not followed.
    std::fs::rename(&env, mounted.join("real")).unwrap();
    std::os::unix::fs::symlink(mounted.join("real"), &env).unwrap();
    assert!(
        target
            .switch("ubuntu", Switch::Default, &SwitchOptions::default())
            .is_err()
    );
}

#[test]
fn qcow2_output_and_tar_sources() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(&document("console=ttyS0"));
    let (centos, ubuntu) = support::two_trees(work, "CentOS", "Ubuntu");
    let tar = support::tar(&ubuntu, &work.join("ubuntu.tar"));
    let out = work.join("disk.qcow2");
    let mut options = BuildOptions::new(
        vec![out.clone()],
        sources(&[("centos", &centos), ("ubuntu", &tar)]),
    );
    options.format = DiskFormat::Qcow2;
    build_disks(&plan, &options).unwrap();
    let info: serde_json::Value = serde_json::from_str(&output(
        "qemu-img",
        "qemu-utils",
        &["info", "--output=json", out.to_str().unwrap()],
    ))
    .unwrap();
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"], 256u64 << 20);
    // Back to raw: the ubuntu root came from the archive.
    let raw = support::qemu_img_convert(&out, "raw", &work.join("back.img"));
    assert_eq!(
        debugfs_cat(&raw, partition(&plan, "root-ubuntu"), "/etc/ubuntu-only"),
        "ubuntu"
    );
    fsck_all(&raw, &plan, 0);
    // Switching refuses qcow2 with a way out.
    let error = BootTarget::Disk(out).status().unwrap_err().to_string();
    assert!(error.contains("is a qcow2 image"), "{error}");
}

#[test]
fn two_disks_build_one_file_per_disk() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let document = r#"{
      "images": [
        {"name": "centos", "boot": true, "target": "/", "image_pull_url": "http://x/c"},
        {"name": "ubuntu", "target": "/", "image_pull_url": "http://x/u"}
      ],
      "partitions": [
        {"type": "disk", "id": {"type": "name", "value": "vda"}, "size": "200", "volumes": [
          {"type": "partition", "mount": "/", "images": ["centos"], "file_system": "ext4", "size": "remaining"}]},
        {"type": "disk", "id": {"type": "name", "value": "vdb"}, "size": "80", "volumes": [
          {"type": "partition", "mount": "/", "images": ["ubuntu"], "file_system": "ext4", "size": "remaining"},
          {"type": "partition", "mount": "swap", "images": ["ubuntu"], "file_system": "swap", "size": "8"}]}
      ]
    }"#;
    let plan = plan(document);
    let (centos, ubuntu) = support::two_trees(work, "CentOS", "Ubuntu");
    let options = BuildOptions::new(
        vec![work.join("node.img")],
        sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
    );
    let report = build_disks(&plan, &options).unwrap();
    let paths: Vec<_> = report
        .disks
        .iter()
        .map(|d| d.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(paths, ["node-vda.img", "node-vdb.img"]);
    let vdb = work.join("node-vdb.img");
    let table = output("sfdisk", "fdisk", &["--json", vdb.to_str().unwrap()]);
    assert!(
        table.contains("\"name\":\"bios_grub\"") || table.contains("\"name\": \"bios_grub\""),
        "{table}"
    );
    assert!(!table.contains("multiboot"), "{table}");
    let root = &plan.disks[1].partitions[2];
    let fstab = debugfs_cat(&vdb, root, "/etc/fstab");
    assert_eq!(fstab, plan.fstab("ubuntu"));
    assert!(fstab.contains(" swap swap defaults 0 0"), "{fstab}");
    let swap = &plan.disks[1].partitions[3];
    let probe = blkid(&vdb, swap);
    assert!(probe.contains("TYPE=swap"), "{probe}");
    fsck_all(&work.join("node-vda.img"), &plan, 0);
    fsck_all(&vdb, &plan, 1);
    assert_eq!(
        BootTarget::Disk(work.join("node-vda.img"))
            .status()
            .unwrap()
            .default_image
            .as_deref(),
        Some("centos")
    );
}

#[test]
fn bad_sources_and_outputs_are_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(&document(""));
    let centos = image_tree(work, "centos", "CentOS", b"k", b"i");
    let out = work.join("disk.img");
    let only_centos = sources(&[("centos", &centos)]);
    let error = build_disks(&plan, &BuildOptions::new(vec![out.clone()], only_centos)).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("image ubuntu: no content given"),
        "{error}"
    );
    let unknown = sources(&[("centos", &centos), ("debian", &centos)]);
    let error = build_disks(&plan, &BuildOptions::new(vec![out.clone()], unknown)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown image 'debian': the images are centos, ubuntu"
    );
    // An output that is a symbolic link is never replaced.
    std::os::unix::fs::symlink(work.join("elsewhere"), &out).unwrap();
    let both = sources(&[("centos", &centos), ("ubuntu", &centos)]);
    let error = build_disks(&plan, &BuildOptions::new(vec![out.clone()], both)).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is a symbolic link, which is never replaced"),
        "{error}"
    );
    assert!(!work.join("elsewhere").exists());
    let left: Vec<_> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}"); // the tree and the link
}

#[test]
fn missing_grub_files_are_reported_with_their_package() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(&document(""));
    let centos = image_tree(work, "centos", "CentOS", b"k", b"i");
    let mut options = BuildOptions::new(
        vec![work.join("disk.img")],
        sources(&[("centos", &centos), ("ubuntu", &centos)]),
    );
    options.grub_dir = work.join("no-grub");
    let error = build_disks(&plan, &options).unwrap_err().to_string();
    assert!(error.starts_with("missing tools: "), "{error}");
    assert!(
        error.contains("no-grub/boot.img (apt-get install grub-pc-bin)"),
        "{error}"
    );
    assert!(!work.join("disk.img").exists());
}

/// On a disk much larger than the ESP, mkfs.fat is told the FAT size: left
/// to itself it sizes by the file and refuses the 16 MiB partition.
#[test]
fn the_esp_of_a_large_disk_is_fat16() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let document = document("").replace(r#""size": "256""#, r#""size": "1200""#);
    let plan = plan(&document);
    let (centos, ubuntu) = support::two_trees(work, "CentOS", "Ubuntu");
    let disk = work.join("disk.img");
    build_disks(
        &plan,
        &BuildOptions::new(
            vec![disk.clone()],
            sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
        ),
    )
    .unwrap();
    let probe = blkid(&disk, partition(&plan, "grub_efi"));
    assert!(
        probe.contains("TYPE=vfat") && probe.contains("VERSION=FAT16"),
        "{probe}"
    );
}

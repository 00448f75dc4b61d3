//! `deploy image`: one image of a built disk rewritten in place, everything
//! else kept byte for byte; every refusal leaves the disk unchanged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod support;

use std::path::Path;

use bouture_multiboot::SwitchOptions;
use bouture_multiboot::{BootTarget, DeployOptions, Error, PartitionPlan, Switch, deploy_image};
use support::{TwoImageDisk, debugfs_cat, fsck_all, partition, two_image_disk};

/// A copy of the disk (sparse), to compare with later.
fn snapshot(disk: &Path, name: &str) -> std::path::PathBuf {
    let copy = disk.with_file_name(name);
    let out = std::process::Command::new("cp")
        .args(["--sparse=always"])
        .arg(disk)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success());
    copy
}

/// `cmp` of the whole disks, or of one partition of each.
fn same(a: &Path, b: &Path, part: Option<&PartitionPlan>) -> bool {
    let mut command = std::process::Command::new(support::tool("cmp", "diffutils"));
    command.arg("-s");
    if let Some(p) = part {
        command
            .arg(format!("--ignore-initial={}", p.offset_bytes))
            .arg(format!("--bytes={}", p.size_bytes));
    }
    command.arg(a).arg(b).status().unwrap().success()
}

const NOT_ON_THIS_DISK: &str =
    "BOOT_IMAGE=/vmlinuz root=UUID=00000000-0000-0000-0000-000000000000 ro";

#[test]
fn deploy_rewrites_only_the_image_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let TwoImageDisk {
        plan, disk, ubuntu, ..
    } = two_image_disk(work);
    // The new ubuntu: another kernel version, another file.
    let new = work.join("ubuntu-2");
    std::fs::create_dir_all(new.join("boot")).unwrap();
    std::fs::create_dir_all(new.join("etc")).unwrap();
    std::fs::write(new.join("etc/os-release"), "PRETTY_NAME=\"Ubuntu 2\"\n").unwrap();
    std::fs::write(new.join("boot/vmlinuz-6.2.0-2"), b"kernel 2").unwrap();
    std::fs::write(new.join("boot/initrd.img-6.2.0-2"), b"initrd 2").unwrap();
    std::fs::write(new.join("etc/version"), "2\n").unwrap();

    let root_c = partition(&plan, "root-centos");
    let root_u = partition(&plan, "root-ubuntu");
    let common = partition(&plan, "common");
    let before = snapshot(&disk, "before.img");
    let refused = |options: &DeployOptions, expected: &str| {
        let error = deploy_image(options).unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
        assert!(same(&disk, &before, None), "a refusal changed the disk");
        error
    };
    // The running image is never rewritten, whatever --force says.
    let running = format!(
        "root=UUID={} ro bouture.image=ubuntu",
        plan.images[1].root_uuid
    );
    let mut options = DeployOptions::new("ubuntu", &disk, &new, &running);
    options.force = true;
    let error = refused(&options, "image ubuntu is running");
    assert!(matches!(error, Error::Refused(_)));
    assert!(
        error.to_string().contains("safe to update: none")
            || error.to_string().contains("no image is safe"),
        "{error}"
    );
    // The default only with --force; the message names the safe image.
    let options = DeployOptions::new("centos", &disk, &new, NOT_ON_THIS_DISK);
    let error = refused(&options, "image centos is the default");
    assert!(
        error.to_string().contains("safe to update: ubuntu"),
        "{error}"
    );
    refused(
        &DeployOptions::new("debian", &disk, &new, NOT_ON_THIS_DISK),
        "unknown image 'debian'",
    );
    // A source larger than the partition (48 MiB) is refused before writing.
    let big = work.join("big");
    std::fs::create_dir_all(big.join("boot")).unwrap();
    std::fs::write(big.join("boot/vmlinuz-1"), b"k").unwrap();
    std::fs::File::create(big.join("blob"))
        .unwrap()
        .set_len(60 << 20)
        .unwrap();
    refused(
        &DeployOptions::new("ubuntu", &disk, &big, NOT_ON_THIS_DISK),
        "the sources of image ubuntu put",
    );
    // A dry run says what would be written where, and writes nothing.
    let mut options = DeployOptions::new("ubuntu", &disk, &new, NOT_ON_THIS_DISK);
    options.dry_run = true;
    let report = deploy_image(&options).unwrap();
    assert!(report.dry_run);
    assert_eq!(report.written.len(), 1);
    assert_eq!(report.written[0].offset_bytes, root_u.offset_bytes);
    assert_eq!(report.written[0].size_bytes, root_u.size_bytes);
    assert_eq!(
        report.kept[0].kept_because.as_deref(),
        Some("shared with centos, ubuntu")
    );
    assert!(same(&disk, &before, None));

    // A pending one-shot of the image is cancelled by the deploy.
    let target = BootTarget::Disk(disk.clone());
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    let report =
        deploy_image(&DeployOptions::new("ubuntu", &disk, &new, NOT_ON_THIS_DISK)).unwrap();
    assert!(!report.dry_run);
    assert_eq!(report.boot_files.kernel, "/boot/vmlinuz-6.2.0-2");
    assert_eq!(report.default_image.as_deref(), Some("centos"));
    let status = target.status().unwrap();
    assert_eq!(status.next_image, None);
    assert_eq!(status.default_image.as_deref(), Some("centos"));
    // The other image and the shared volume are byte for byte the same.
    assert!(same(&disk, &before, Some(root_c)));
    assert!(same(&disk, &before, Some(common)));
    // The new content, with the same UUID and a fresh fstab.
    assert_eq!(debugfs_cat(&disk, root_u, "/etc/version"), "2\n");
    assert!(debugfs_cat(&disk, root_u, "/etc/ubuntu-only").is_empty());
    assert_eq!(
        debugfs_cat(&disk, root_u, "/etc/fstab"),
        plan.fstab("ubuntu")
    );
    let blkid = support::blkid(&disk, root_u);
    assert!(
        blkid.contains(&format!("UUID={}", plan.images[1].root_uuid)),
        "{blkid}"
    );
    // The menu entry boots the new kernel; the other entry is unchanged.
    let multiboot = partition(&plan, "multiboot");
    let grub_cfg = debugfs_cat(&disk, multiboot, "/boot/grub/grub.cfg");
    assert!(
        grub_cfg.contains("menuentry 'Ubuntu 2 (image ubuntu)' --id 'image-ubuntu'"),
        "{grub_cfg}"
    );
    assert!(
        grub_cfg.contains("linux '/boot/vmlinuz-6.2.0-2'"),
        "{grub_cfg}"
    );
    assert!(
        grub_cfg.contains("initrd '/boot/initrd.img-6.2.0-2'"),
        "{grub_cfg}"
    );
    assert!(
        grub_cfg.contains("menuentry 'CentOS Linux 7 (Core) (image centos)'"),
        "{grub_cfg}"
    );
    let info = debugfs_cat(&disk, multiboot, "/boot/grub/boot-info.json");
    assert!(info.contains("Ubuntu 2 (image ubuntu)"), "{info}");
    fsck_all(&disk, &plan, 0);
    // A second deploy works on the result (the record was rewritten).
    deploy_image(&DeployOptions::new(
        "ubuntu",
        &disk,
        &ubuntu,
        NOT_ON_THIS_DISK,
    ))
    .unwrap();
    assert!(debugfs_cat(&disk, root_u, "/etc/version").is_empty());
    assert_eq!(debugfs_cat(&disk, root_u, "/etc/ubuntu-only"), "ubuntu");
    // With --force, the default too.
    let mut options = DeployOptions::new("centos", &disk, &new, NOT_ON_THIS_DISK);
    options.force = true;
    deploy_image(&options).unwrap();
    assert_eq!(debugfs_cat(&disk, root_c, "/etc/version"), "2\n");
    assert!(same(&disk, &before, Some(common)));
    assert!(!same(&disk, &before, Some(root_c)));
    fsck_all(&disk, &plan, 0);
}

#[test]
fn a_disk_that_is_not_the_one_bouture_wrote_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let TwoImageDisk { disk, ubuntu, .. } = two_image_disk(work);
    // Another partition table: the last partition renamed.
    let out = std::process::Command::new(support::tool("sfdisk", "fdisk"))
        .args(["-q", "--part-label", disk.to_str().unwrap(), "5", "renamed"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let before = snapshot(&disk, "before.img");
    let error = deploy_image(&DeployOptions::new(
        "ubuntu",
        &disk,
        &ubuntu,
        NOT_ON_THIS_DISK,
    ))
    .unwrap_err();
    assert!(
        error.to_string().contains("not the one bouture wrote"),
        "{error}"
    );
    assert!(same(&disk, &before, None));
}

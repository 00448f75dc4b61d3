//! Raw and qcow2 filesystem images as image sources, for `deploy build`
//! and `deploy image`: made by the real mke2fs and qemu-img, checked against
//! their partition (size, type, superblock) before any byte is written,
//! given the planned UUID, label and fstab once written.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod support;

use std::path::{Path, PathBuf};

use bouture_multiboot::{BuildOptions, DeployOptions, build_disks, deploy_image};
use support::{
    NOT_ON_THIS_DISK, blkid, debugfs_cat, deploy_scene, document, ext_fs_size, fsck_all, make_fs,
    mounted_since_checked, output, partition, plan, same, sources,
};

/// `qemu-img convert -O qcow2` of a raw file.
fn to_qcow2(raw: &Path) -> PathBuf {
    support::qemu_img_convert(raw, "qcow2", &raw.with_extension("qcow2"))
}

#[test]
fn a_build_from_a_raw_and_a_qcow2_filesystem_image() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(&document("console=ttyS0"));
    let (centos_tree, ubuntu_tree) =
        support::two_trees(work, "CentOS Linux 7 (Core)", "Ubuntu 14.04.3 LTS");
    // centos: a raw ext4 image smaller than its 48 MiB partition; ubuntu: a
    // qcow2 one.
    let centos = make_fs(&centos_tree, "ext4", 32, &work.join("centos.raw"));
    let ubuntu = to_qcow2(&make_fs(&ubuntu_tree, "ext4", 48, &work.join("u.raw")));
    let centos_bytes = std::fs::read(&centos).unwrap();
    let disk = work.join("disk.img");
    let mut options = BuildOptions::new(
        vec![disk.clone()],
        sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
    );
    options.dry_run = true;
    let report = build_disks(&plan, &options).unwrap();
    assert_eq!(report.boot_files[0].kernel, "/boot/vmlinuz-test");
    assert_eq!(report.boot_files[1].title, "Ubuntu 14.04.3 LTS");
    assert!(!disk.exists(), "a dry run wrote the disk");
    options.dry_run = false;
    let report = build_disks(&plan, &options).unwrap();
    assert_eq!(report.boot_files[0].title, "CentOS Linux 7 (Core)");
    for (n, name) in [(0, "root-centos"), (1, "root-ubuntu")] {
        let part = partition(&plan, name);
        let found = blkid(&disk, part);
        assert!(
            found.contains(&format!("UUID={}", plan.images[n].root_uuid)),
            "{found}"
        );
        assert!(found.contains("TYPE=ext4"), "{found}");
        let image = &plan.images[n].name;
        assert_eq!(debugfs_cat(&disk, part, "/etc/fstab"), plan.fstab(image));
        assert_eq!(
            debugfs_cat(&disk, part, &format!("/etc/{image}-only")),
            *image
        );
    }
    // The shared volume is made from the tree-given images only (none
    // here): the filesystem images fill their '/' alone.
    let common = partition(&plan, "common");
    assert!(debugfs_cat(&disk, common, "/from-centos").is_empty());
    let multiboot = partition(&plan, "multiboot");
    let grub_cfg = debugfs_cat(&disk, multiboot, "/boot/grub/grub.cfg");
    assert!(
        grub_cfg.contains("menuentry 'CentOS Linux 7 (Core) (image centos)'"),
        "{grub_cfg}"
    );
    assert!(
        grub_cfg.contains("linux '/boot/vmlinuz-test'"),
        "{grub_cfg}"
    );
    fsck_all(&disk, &plan, 0);
    // The source was read, never changed.
    assert_eq!(std::fs::read(&centos).unwrap(), centos_bytes);
    // The 32 MiB filesystem was grown to its 48 MiB partition.
    let root_c = partition(&plan, "root-centos");
    assert_eq!(ext_fs_size(&disk, root_c), root_c.size_bytes);
}

#[test]
fn a_build_refuses_a_filesystem_image_that_does_not_fit_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(&document("console=ttyS0"));
    let (centos_tree, ubuntu_tree) = support::two_trees(work, "C", "U");
    let disk = work.join("disk.img");
    std::fs::write(&disk, b"the previous disk").unwrap();
    let build = |centos: &Path| {
        build_disks(
            &plan,
            &BuildOptions::new(
                vec![disk.clone()],
                sources(&[("centos", centos), ("ubuntu", &ubuntu_tree)]),
            ),
        )
        .unwrap_err()
        .to_string()
    };
    // Larger than the 48 MiB partition.
    let big = make_fs(&centos_tree, "ext4", 60, &work.join("big.raw"));
    let error = build(&big);
    assert!(
        error.contains("larger than its 50331648-byte partition"),
        "{error}"
    );
    // The same as qcow2: refused from its virtual size, never converted.
    let error = build(&to_qcow2(&big));
    assert!(
        error.contains("larger than its 50331648-byte partition"),
        "{error}"
    );
    // A qcow2 with a backing file (a reference to another file): refused.
    let base = make_fs(&centos_tree, "ext4", 16, &work.join("base.raw"));
    let overlay = work.join("overlay.qcow2");
    output(
        "qemu-img",
        "qemu-utils",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            base.to_str().unwrap(),
            "-F",
            "raw",
            overlay.to_str().unwrap(),
        ],
    );
    let error = build(&overlay);
    assert!(error.contains("with a backing file is refused"), "{error}");
    // Another filesystem type than the document's.
    let ext2 = make_fs(&centos_tree, "ext2", 16, &work.join("ext2.raw"));
    let error = build(&ext2);
    assert!(
        error.contains("is a ext2 filesystem, but the document makes partition 2 ext4")
            || error.contains("is a ext2 filesystem, but the document makes partition"),
        "{error}"
    );
    // Truncated: the superblock says more than the file holds.
    let cut = make_fs(&centos_tree, "ext4", 16, &work.join("cut.raw"));
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let error = build(&cut);
    assert!(error.contains("truncated"), "{error}");
    assert_eq!(std::fs::read(&disk).unwrap(), b"the previous disk");
}

#[test]
fn deploy_image_from_raw_and_qcow2_filesystem_images() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let scene = deploy_scene(work);
    let (plan, disk, ubuntu, new) = (&scene.plan, &scene.disk, &scene.ubuntu, &scene.new);
    let (before, root_c, root_u) = (&scene.before, &scene.root_c, &scene.root_u);
    let common = &scene.common;
    let unchanged = || std::fs::read(disk).unwrap() == std::fs::read(before).unwrap();

    // Refusals leave the disk unchanged byte for byte.
    let refused = |source: &Path, expected: &str| {
        let error = deploy_image(&DeployOptions::new(
            "ubuntu",
            disk,
            source,
            NOT_ON_THIS_DISK,
        ))
        .unwrap_err()
        .to_string();
        assert!(error.contains(expected), "{error}");
        assert!(unchanged(), "a refusal changed the disk");
    };
    let big = make_fs(new, "ext4", 60, &work.join("big.raw"));
    refused(&big, "larger than its 50331648-byte partition");
    refused(&to_qcow2(&big), "larger than its 50331648-byte partition");
    refused(
        &make_fs(new, "ext3", 16, &work.join("ext3.raw")),
        "is a ext3 filesystem, but the document makes partition",
    );

    // A raw image: written at the partition, every byte (the region held
    // the old filesystem), then the planned UUID and fstab.
    // It is smaller than the partition, and was mounted after its last
    // check: grown to the partition, the source unchanged.
    let raw = make_fs(new, "ext4", 40, &work.join("new.raw"));
    mounted_since_checked(&raw);
    let raw_bytes = std::fs::read(&raw).unwrap();
    let report = deploy_image(&DeployOptions::new("ubuntu", disk, &raw, NOT_ON_THIS_DISK)).unwrap();
    assert_eq!(ext_fs_size(disk, root_u), root_u.size_bytes);
    assert_eq!(std::fs::read(&raw).unwrap(), raw_bytes);
    assert_eq!(report.boot_files.kernel, "/boot/vmlinuz-6.2.0-2");
    assert_eq!(report.boot_files.title, "Ubuntu 2");
    assert_eq!(debugfs_cat(disk, root_u, "/etc/version"), "2\n");
    assert!(debugfs_cat(disk, root_u, "/etc/ubuntu-only").is_empty());
    assert_eq!(
        debugfs_cat(disk, root_u, "/etc/fstab"),
        plan.fstab("ubuntu")
    );
    let found = blkid(disk, root_u);
    assert!(
        found.contains(&format!("UUID={}", plan.images[1].root_uuid)),
        "{found}"
    );
    assert!(same(disk, before, Some(root_c)));
    assert!(same(disk, before, Some(common)));
    let multiboot = partition(plan, "multiboot");
    let grub_cfg = debugfs_cat(disk, multiboot, "/boot/grub/grub.cfg");
    assert!(
        grub_cfg.contains("menuentry 'Ubuntu 2 (image ubuntu)' --id 'image-ubuntu'"),
        "{grub_cfg}"
    );
    fsck_all(disk, plan, 0);

    // A qcow2 image, back to the first tree; mounted since its last check
    // and the partition's size: only given the planned UUID and label.
    let old = make_fs(ubuntu, "ext4", 48, &work.join("old.raw"));
    mounted_since_checked(&old);
    let qcow2 = to_qcow2(&old);
    deploy_image(&DeployOptions::new(
        "ubuntu",
        disk,
        &qcow2,
        NOT_ON_THIS_DISK,
    ))
    .unwrap();
    assert!(debugfs_cat(disk, root_u, "/etc/version").is_empty());
    assert_eq!(debugfs_cat(disk, root_u, "/etc/ubuntu-only"), "ubuntu");
    assert!(same(disk, before, Some(root_c)));
    fsck_all(disk, plan, 0);
    // No work file left beside the disk.
    let left: Vec<_> = std::fs::read_dir(work)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".bouture"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

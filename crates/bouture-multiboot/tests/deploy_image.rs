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

use bouture_multiboot::{BootTarget, DeployOptions, Error, Switch, SwitchOptions, deploy_image};
use support::{
    DeployScene, NOT_ON_THIS_DISK, TwoImageDisk, debugfs_cat, deploy_scene, fsck_all, partition,
    plan, same, snapshot, two_image_disk, two_image_disk_titled,
};

#[test]
fn deploy_rewrites_only_the_image_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // The new ubuntu: another kernel version, another file.
    let DeployScene {
        plan,
        disk,
        ubuntu,
        new,
        before,
        root_c,
        root_u,
        common,
    } = deploy_scene(work);
    let (root_c, root_u, common) = (&root_c, &root_u, &common);
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

/// The mounted root tells which image runs: a mountinfo whose `/` is a file
/// holding a real copy of one image's root filesystem (its superblock, its
/// UUID), as /proc/self/mountinfo names the booted root's device.
#[test]
fn the_mounted_root_tells_which_image_runs() {
    use std::io::{Read as _, Seek as _};
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let TwoImageDisk {
        plan, disk, ubuntu, ..
    } = two_image_disk_titled(work, "C", "U");
    // The booted root's "device": ubuntu's root partition, copied out.
    let root_u = partition(&plan, "root-ubuntu");
    let mut from = std::fs::File::open(&disk).unwrap();
    from.seek(std::io::SeekFrom::Start(root_u.offset_bytes))
        .unwrap();
    let mut bytes = Vec::new();
    from.take(1 << 20).read_to_end(&mut bytes).unwrap();
    let device = work.join("root device");
    std::fs::write(&device, &bytes).unwrap();
    let escaped = device.to_str().unwrap().replace(' ', "\\040");
    let mountinfo = work.join("mountinfo");
    std::fs::write(
        &mountinfo,
        format!(
            "21 1 0:20 / / rw - tmpfs tmpfs rw\n22 1 8:2 / / rw,relatime shared:1 - ext4 {escaped} rw\n25 22 0:5 / /dev rw - devtmpfs udev rw\n"
        ),
    )
    .unwrap();
    let before = snapshot(&disk, "before.img");
    let with = |cmdline: &str, mountinfo: &Path| {
        let mut options = DeployOptions::new("ubuntu", &disk, &ubuntu, cmdline);
        options.mountinfo = mountinfo.to_path_buf();
        options.dry_run = true;
        deploy_image(&options)
    };
    // The command line says nothing; the mounted root says ubuntu.
    let error = with(NOT_ON_THIS_DISK, &mountinfo).unwrap_err().to_string();
    assert!(
        error.contains("image ubuntu is running (the mounted root"),
        "{error}"
    );
    assert!(
        error.contains(&format!("filesystem UUID {}", plan.images[1].root_uuid)),
        "{error}"
    );
    // They disagree: nothing is guessed.
    let error = with("bouture.image=centos", &mountinfo)
        .unwrap_err()
        .to_string();
    assert!(error.contains("refusing to guess"), "{error}");
    assert!(same(&disk, &before, None));
    // A root device that cannot be read (a FIFO, never opened; a missing
    // /dev/root): the command line alone decides, and the report says why.
    let fifo = work.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for source in [fifo.to_str().unwrap(), "/dev/nonexistent-root"] {
        std::fs::write(&mountinfo, format!("22 1 8:2 / / rw - ext4 {source} rw\n")).unwrap();
        let report = with(NOT_ON_THIS_DISK, &mountinfo).unwrap();
        assert_eq!(report.running.image, None);
        assert!(
            report
                .running
                .evidence
                .contains("the mounted root's UUID is unknown"),
            "{}",
            report.running.evidence
        );
    }
    // The command line still counts when the root is another system's.
    std::fs::write(
        &mountinfo,
        format!("22 1 8:2 / / rw - ext4 {} rw\n", disk.display()),
    )
    .unwrap();
    let report = with(NOT_ON_THIS_DISK, &mountinfo).unwrap();
    assert!(
        report.running.evidence.contains("holds no ext filesystem"),
        "{}",
        report.running.evidence
    );
    assert!(same(&disk, &before, None));
}

/// Images spanning two disks: `deploy image` takes one disk per disk of the
/// document, in its order, and rewrites the image's partitions on each.
#[test]
fn an_image_spanning_two_disks_is_deployed_on_both() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(
        r#"{
  "images": [
    {"name": "centos", "boot": true, "target": "/", "image_pull_url": "http://x/c"},
    {"name": "ubuntu", "target": "/", "image_pull_url": "http://x/u"}
  ],
  "partitions": [
    {"type": "disk", "id": {"type": "name", "value": "vda"}, "size": "240", "volumes": [
      {"type": "partition", "mount": "/", "images": ["centos"], "file_system": "ext4", "size": "40"},
      {"type": "partition", "mount": "/", "images": ["ubuntu"], "file_system": "ext4", "size": "40"}]},
    {"type": "disk", "id": {"type": "name", "value": "vdb"}, "size": "120", "volumes": [
      {"type": "partition", "mount": "/srv", "images": ["centos"], "file_system": "ext4", "size": "32"},
      {"type": "partition", "mount": "/srv", "images": ["ubuntu"], "file_system": "ext4", "size": "32"}]}
  ]
}"#,
    );
    let (centos, ubuntu) = support::two_trees(work, "C", "U");
    std::fs::create_dir_all(ubuntu.join("srv")).unwrap();
    std::fs::write(ubuntu.join("srv/old"), "old").unwrap();
    let (vda, vdb) = (work.join("vda.img"), work.join("vdb.img"));
    bouture_multiboot::build_disks(
        &plan,
        &bouture_multiboot::BuildOptions::new(
            vec![vda.clone(), vdb.clone()],
            support::sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
        ),
    )
    .unwrap();
    let new = work.join("ubuntu-2");
    std::fs::create_dir_all(new.join("boot")).unwrap();
    std::fs::create_dir_all(new.join("srv")).unwrap();
    std::fs::write(new.join("boot/vmlinuz-2"), b"k2").unwrap();
    std::fs::write(new.join("srv/new"), "new").unwrap();
    let (before_a, before_b) = (snapshot(&vda, "a.before"), snapshot(&vdb, "b.before"));
    let deploy = |disks: &[&Path]| {
        let mut options = DeployOptions::new("ubuntu", disks[0], &new, NOT_ON_THIS_DISK);
        options.more_disks = disks[1..].iter().map(|p| p.to_path_buf()).collect();
        deploy_image(&options)
    };
    let unchanged = || same(&vda, &before_a, None) && same(&vdb, &before_b, None);
    // Worded as the command line words them (the library names its options).
    let worded = |error: bouture_multiboot::Error| {
        error.message(&|input| match input {
            bouture_multiboot::Input::Disks => "--disk".to_owned(),
            other => other.to_string(),
        })
    };
    // One disk given: ubuntu also lives on vdb.
    let error = deploy(&[&vda]).unwrap_err();
    assert!(
        error.to_string().contains(
            "has partitions on disk vdb: give DeployOptions::disk and more_disks once per disk of the document, in its order (vda, vdb)"
        ),
        "{error}"
    );
    let error = worded(error);
    assert!(
        error.contains("has partitions on disk vdb: give --disk once per disk of the document, in its order (vda, vdb)"),
        "{error}"
    );
    // The wrong order, or one disk twice.
    let error = worded(deploy(&[&vdb, &vda]).unwrap_err());
    assert!(
        error.contains("give --disk once per disk of the document, in its order (vda, vdb)"),
        "{error}"
    );
    let error = worded(deploy(&[&vda, &vda]).unwrap_err());
    assert!(
        error.contains("is given twice: give --disk once per disk of the document"),
        "{error}"
    );
    assert!(unchanged(), "a refusal changed a disk");
    // Both, in order: each disk gets ubuntu's partition rewritten.
    let report = deploy(&[&vda, &vdb]).unwrap();
    let written: Vec<(&str, Option<&str>)> = report
        .written
        .iter()
        .map(|p| (p.disk.as_str(), p.mount.as_deref()))
        .collect();
    assert_eq!(written, [("vda", Some("/")), ("vdb", Some("/srv"))]);
    let srv_u = plan.disks[1]
        .partitions
        .iter()
        .find(|p| {
            p.filesystem
                .as_ref()
                .is_some_and(|f| f.images == ["ubuntu"])
        })
        .unwrap();
    assert_eq!(debugfs_cat(&vdb, srv_u, "/new"), "new");
    assert!(debugfs_cat(&vdb, srv_u, "/old").is_empty());
    assert_eq!(report.boot_files.kernel, "/boot/vmlinuz-2");
    for (disk, before, index) in [(&vda, &before_a, 0), (&vdb, &before_b, 1)] {
        for p in &plan.disks[index].partitions {
            if p.filesystem
                .as_ref()
                .is_some_and(|f| f.images == ["centos"])
            {
                assert!(same(disk, before, Some(p)), "centos changed on {}", p.name);
            }
        }
        fsck_all(disk, &plan, index);
    }
}

//! Bareon's schema, further (issue 24): what the build cannot honour is
//! refused with the field named; vfat filesystems are built without
//! mounting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

mod support;

use bouture_multiboot::{BuildOptions, build_disks, buildable};
use serde_json::{Value, json};
use support::*;

fn base() -> Value {
    serde_json::from_str(&document("")).unwrap()
}

fn refusals(doc: &Value) -> Vec<String> {
    let plan = plan(&doc.to_string());
    match buildable(&plan) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn what_the_build_cannot_honour_is_refused_with_the_field_named() {
    assert_eq!(refusals(&base()), Vec::<String>::new());

    let mut doc = base();
    doc["partitions_policy"] = json!("verify");
    doc["image_deploy_flags"] = json!({"rsync_flags": "-a --delete"});
    doc["partitions"][0]["volumes"][2]["file_system"] = json!("btrfs");
    doc["partitions"][0]["volumes"][1]["file_system"] = json!("vfat");
    doc["partitions"][0]["volumes"][0]["file_system"] = json!("xfs");
    let found = refusals(&doc);
    assert_eq!(found.len(), 5, "{found:#?}");
    assert!(
        found[0].starts_with(
            "partitions_policy:'verify' keeps the disk's partitions and installs no image"
        ),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("image_deploy_flags:bouture copies each tree with mke2fs -d"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with(
            "partitions:0:volumes:0:file_system:an xfs '/' would need its tree copied in without mounting"
        ),
        "{found:#?}"
    );
    assert!(
        found[3].starts_with(
            "partitions:0:volumes:1:file_system:a vfat '/' cannot hold a Linux system"
        ),
        "{found:#?}"
    );
    assert_eq!(
        found[4],
        "partitions:0:volumes:2:file_system:'btrfs' cannot be built: a build makes ext2, ext3, ext4, xfs, vfat, swap (partition 6 of disk vda)"
    );

    let mut doc = base();
    doc["partitions_policy"] = json!("nailgun_legacy");
    assert!(refusals(&doc)[0].starts_with(
        "partitions_policy:'nailgun_legacy' (Fuel's legacy partitioning) is not implemented"
    ));

    // Accepted: no policy, Bareon's default rsync flags (what mke2fs -d
    // does), and keep_data (a new disk has nothing to keep).
    let mut doc = base();
    doc.as_object_mut().unwrap().remove("partitions_policy");
    doc["image_deploy_flags"] = json!({"rsync_flags": "-a -A -X"});
    doc["partitions"][0]["volumes"][2]["keep_data"] = json!(true);
    assert_eq!(refusals(&doc), Vec::<String>::new());

    // An xfs smaller than mkfs.xfs makes.
    let mut doc = base();
    doc["partitions"][0]["volumes"][2]["file_system"] = json!("xfs");
    assert_eq!(
        refusals(&doc),
        ["partitions:0:volumes:2:size:18 MiB: mkfs.xfs makes no filesystem smaller than 300 MiB"]
    );

    // The build refuses the same, before anything is written.
    let mut doc = base();
    doc["partitions"][0]["volumes"][2]["file_system"] = json!("btrfs");
    let dir = tempfile::tempdir().unwrap();
    let error = build_disks(
        &plan(&doc.to_string()),
        &BuildOptions::new(vec![dir.path().join("disk.img")], Vec::new()),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("partitions:0:volumes:2:file_system:'btrfs' cannot be built"),
        "{error}"
    );
    assert!(!dir.path().join("disk.img").exists());
}

#[test]
fn a_vfat_partition_is_built_without_mounting() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let mut doc = base();
    doc["partitions"][0]["size"] = json!("300");
    doc["partitions"][0]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "partition", "mount": "/efi", "images": ["centos"], "file_system": "vfat", "size": "40", "name": "esp"}));
    let plan = plan(&doc.to_string());
    let (centos, ubuntu) = support::two_trees(work, "CentOS", "Ubuntu");
    std::fs::create_dir_all(centos.join("efi/EFI/BOOT")).unwrap();
    std::fs::write(centos.join("efi/EFI/BOOT/BOOTX64.EFI"), "efi binary").unwrap();
    let disk = work.join("disk.img");
    build_disks(
        &plan,
        &BuildOptions::new(
            vec![disk.clone()],
            sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
        ),
    )
    .unwrap();
    let esp = partition(&plan, "esp");
    let fs = esp.filesystem.as_ref().unwrap();
    let bytes = fs.uuid.as_bytes();
    let fat_id = format!(
        "{:02X}{:02X}-{:02X}{:02X}",
        bytes[0], bytes[1], bytes[2], bytes[3]
    );
    let probe = blkid(&disk, esp);
    assert!(probe.contains("TYPE=vfat\n"), "{probe}");
    assert!(probe.contains(&format!("UUID={fat_id}\n")), "{probe}");
    assert!(probe.contains("LABEL=ESP\n"), "{probe}");
    assert_eq!(esp.type_guid, "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
    let image = format!("{}@@{}", disk.display(), esp.offset_bytes);
    let copied = std::process::Command::new(tool("mtype", "mtools"))
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-i", &image, "::/EFI/BOOT/BOOTX64.EFI"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&copied.stdout), "efi binary");
    // fstab names it as Linux does; the root holds an empty mount point.
    let root = partition(&plan, "root-centos");
    let fstab = debugfs_cat(&disk, root, "/etc/fstab");
    assert!(
        fstab.contains(&format!("UUID={fat_id} /efi vfat defaults 0 0\n")),
        "{fstab}"
    );
    let listing = output(
        "debugfs",
        "e2fsprogs",
        &["-R", "ls -p /efi", &spec(&disk, root)],
    );
    assert!(!listing.contains("EFI"), "{listing}");
    fsck_all(&disk, &plan, 0);
    // fsck.fat on a copy of the partition: clean.
    let copy = work.join("esp.copy");
    let mut raw = std::fs::read(&disk).unwrap();
    raw.drain(..usize::try_from(esp.offset_bytes).unwrap());
    raw.truncate(usize::try_from(esp.size_bytes).unwrap());
    std::fs::write(&copy, raw).unwrap();
    output("fsck.fat", "dosfstools", &["-n", copy.to_str().unwrap()]);

    // A link in a vfat tree cannot be kept: refused, not followed.
    std::os::unix::fs::symlink("/etc/hostname", centos.join("efi/link")).unwrap();
    let again = work.join("again.img");
    let error = build_disks(
        &plan,
        &BuildOptions::new(
            vec![again.clone()],
            sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
        ),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is a symbolic link, which a vfat filesystem cannot hold"),
        "{error}"
    );
    assert!(!again.exists());
}

#[test]
fn an_empty_xfs_data_volume_is_built_and_content_for_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let mut doc = base();
    doc["partitions"][0]["size"] = json!("600");
    doc["partitions"][0]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "partition", "mount": "/srv", "images": ["ubuntu"], "file_system": "xfs", "size": "320", "name": "srv"}));
    doc["partitions"][0]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "partition", "mount": "/srv/log", "images": ["ubuntu"], "file_system": "ext4", "size": "8", "name": "srvlog"}));
    let plan = plan(&doc.to_string());
    let (centos, ubuntu) = support::two_trees(work, "CentOS", "Ubuntu");
    let disk = work.join("disk.img");
    let options = BuildOptions::new(
        vec![disk.clone()],
        sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
    );
    build_disks(&plan, &options).unwrap();
    let srv = partition(&plan, "srv");
    let probe = blkid(&disk, srv);
    assert!(probe.contains("TYPE=xfs\n"), "{probe}");
    let uuid = srv.filesystem.as_ref().unwrap().uuid;
    assert!(probe.contains(&format!("UUID={uuid}\n")), "{probe}");
    // xfs_repair -n on a copy of the partition: clean, with /log in it.
    let copy = work.join("srv.copy");
    let mut raw = std::fs::read(&disk).unwrap();
    raw.drain(..usize::try_from(srv.offset_bytes).unwrap());
    raw.truncate(usize::try_from(srv.size_bytes).unwrap());
    std::fs::write(&copy, raw).unwrap();
    output(
        "xfs_repair",
        "xfsprogs",
        &["-n", "-f", copy.to_str().unwrap()],
    );
    let listing = output(
        "xfs_db",
        "xfsprogs",
        &["-r", "-c", "ls /", copy.to_str().unwrap()],
    );
    assert!(
        listing.contains(" log\n") || listing.contains(" log"),
        "{listing}"
    );
    let fstab = debugfs_cat(&disk, partition(&plan, "root-ubuntu"), "/etc/fstab");
    assert!(
        fstab.contains(&format!("UUID={uuid} /srv xfs defaults 0 0\n")),
        "{fstab}"
    );
    fsck_all(&disk, &plan, 0);

    // A file for /srv cannot go into the empty xfs: refused, even dry.
    std::fs::create_dir_all(ubuntu.join("srv")).unwrap();
    std::fs::write(ubuntu.join("srv/data"), "x").unwrap();
    let mut dry = options.clone();
    dry.dry_run = true;
    let error = build_disks(&plan, &dry).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("(/srv): an xfs volume is made empty"),
        "{error}"
    );
}

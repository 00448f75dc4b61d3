//! A build that never loses a disk (issue 24): outputs that are inputs,
//! unwritable outputs, outputs on two filesystems, compression bombs, links
//! out of a source tree, sources larger than their partitions, outputs
//! inside a source tree, stale work directories, a multiboot directory whose
//! `boot` is a link.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines,
    clippy::case_sensitive_file_extension_comparisons
)]

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bouture_multiboot::SwitchOptions;
use bouture_multiboot::{BootTarget, BuildOptions, Error, Switch, build_disks};
use support::*;

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Work files or unfinished outputs left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".bouture-") || n.ends_with(".tmp"))
        .collect()
}

struct Setup {
    _dir: tempfile::TempDir,
    work: PathBuf,
    centos: PathBuf,
    ubuntu: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().to_path_buf();
    let centos = image_tree(&work, "centos", "CentOS", b"kernel-c", b"initrd-c");
    let ubuntu = image_tree(&work, "ubuntu", "Ubuntu", b"kernel-u", b"initrd-u");
    Setup {
        _dir: dir,
        work,
        centos,
        ubuntu,
    }
}

fn options(setup: &Setup, output: PathBuf) -> BuildOptions {
    BuildOptions::new(
        vec![output],
        sources(&[("centos", &setup.centos), ("ubuntu", &setup.ubuntu)]),
    )
}

fn tar(archive: &Path, tree: &Path, extra: &[&str]) {
    let mut args: Vec<&str> = extra.to_vec();
    args.extend([
        "-cf",
        archive.to_str().unwrap(),
        "-C",
        tree.to_str().unwrap(),
        ".",
    ]);
    output("tar", "tar", &args);
}

#[test]
fn an_output_equal_to_an_input_or_to_another_output_is_refused() {
    let s = setup();
    let plan = plan(&document(""));
    let disk = s.work.join("disk.img");

    // --boot-info equal to --output (also through a symbolic link).
    let link = s.work.join("link.json");
    std::os::unix::fs::symlink(&disk, &link).unwrap();
    for info in [disk.clone(), link] {
        let mut same = options(&s, disk.clone());
        same.boot_info = Some(info);
        let error = build_disks(&plan, &same).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("is both the disk output and the boot info output"),
            "{error}"
        );
        assert!(!disk.exists());
    }

    // The provision document as the disk or the boot info.
    let provision = s.work.join("provision.json");
    std::fs::write(&provision, document("")).unwrap();
    let mut over_provision = options(&s, provision.clone());
    over_provision.provision = Some(provision.clone());
    let error = build_disks(&plan, &over_provision).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is the provision document, an input: the disk output would replace it"),
        "{error}"
    );
    let mut info_over_provision = options(&s, disk.clone());
    info_over_provision.provision = Some(provision.clone());
    info_over_provision.boot_info = Some(s.work.join(".").join("provision.json"));
    let error = build_disks(&plan, &info_over_provision).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the boot info output would replace it"),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&provision).unwrap(), document(""));

    // A tar source (through a hard link) as the disk.
    let archive = s.work.join("ubuntu.tar");
    tar(&archive, &s.ubuntu, &[]);
    let before = std::fs::read(&archive).unwrap();
    let alias = s.work.join("alias.img");
    std::fs::hard_link(&archive, &alias).unwrap();
    let over_tar = BuildOptions::new(
        vec![alias],
        sources(&[("centos", &s.centos), ("ubuntu", &archive)]),
    );
    let error = build_disks(&plan, &over_tar).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is image ubuntu's tar archive, an input"),
        "{error}"
    );
    assert_eq!(std::fs::read(&archive).unwrap(), before);
    assert!(leftovers(&s.work).is_empty(), "{:?}", leftovers(&s.work));
}

#[test]
fn every_output_is_checked_before_anything_is_written() {
    let s = setup();
    let plan = plan(&document(""));
    let disk = s.work.join("disk.img");
    std::fs::write(&disk, "the old disk").unwrap();
    let link = s.work.join("info-link.json");
    std::os::unix::fs::symlink(s.work.join("elsewhere.json"), &link).unwrap();
    for (info, expected) in [
        (
            s.work.join("missing").join("boot-info.json"),
            "does not exist",
        ),
        (PathBuf::from("/dev/null"), "is a character device"),
        (link, "is a symbolic link"),
        (s.work.clone(), "is a directory"),
    ] {
        let mut bad = options(&s, disk.clone());
        bad.boot_info = Some(info.clone());
        let error = build_disks(&plan, &bad).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{}: {error}",
            info.display()
        );
        assert_eq!(std::fs::read_to_string(&disk).unwrap(), "the old disk");
        assert!(leftovers(&s.work).is_empty(), "{:?}", leftovers(&s.work));
    }
    assert!(!s.work.join("elsewhere.json").exists());
}

const TWO_DISKS: &str = r#"{
  "images": [
    {"name": "centos", "boot": true, "target": "/", "image_pull_url": "http://x/c"},
    {"name": "ubuntu", "target": "/", "image_pull_url": "http://x/u"}
  ],
  "partitions": [
    {"type": "disk", "id": {"type": "name", "value": "vda"}, "size": "160", "volumes": [
      {"type": "partition", "mount": "/", "images": ["centos"], "file_system": "ext4", "size": "remaining"}]},
    {"type": "disk", "id": {"type": "name", "value": "vdb"}, "size": "64", "volumes": [
      {"type": "partition", "mount": "/", "images": ["ubuntu"], "file_system": "ext4", "size": "remaining"}]}
  ]
}"#;

#[test]
fn outputs_on_two_filesystems_are_replaced_together_or_not_at_all() {
    let s = setup();
    // /dev/shm is a tmpfs: another filesystem than the temporary directory.
    let other = tempfile::tempdir_in("/dev/shm").expect("/dev/shm (a tmpfs) is needed");
    assert_ne!(
        std::fs::metadata(&s.work).unwrap().dev(),
        std::fs::metadata(other.path()).unwrap().dev(),
        "the two outputs must be on different filesystems"
    );
    let plan = plan(TWO_DISKS);
    let vda = s.work.join("vda.img");
    let vdb = other.path().join("vdb.img");
    let info = other.path().join("boot-info.json");
    for path in [&vda, &vdb, &info] {
        std::fs::write(path, "old").unwrap();
    }

    // The second disk fails (ubuntu's /etc is a file: no fstab can be
    // written) after the first was built: neither output changes.
    let broken = s.work.join("broken-ubuntu");
    output(
        "cp",
        "coreutils",
        &["-a", s.ubuntu.to_str().unwrap(), broken.to_str().unwrap()],
    );
    std::fs::remove_dir_all(broken.join("etc")).unwrap();
    std::fs::write(broken.join("etc"), "not a directory").unwrap();
    let mut failing = BuildOptions::new(
        vec![vda.clone(), vdb.clone()],
        sources(&[("centos", &s.centos), ("ubuntu", &broken)]),
    );
    failing.boot_info = Some(info.clone());
    let error = build_disks(&plan, &failing).unwrap_err();
    assert!(error.to_string().contains("is not a directory"), "{error}");
    for path in [&vda, &vdb, &info] {
        assert_eq!(std::fs::read_to_string(path).unwrap(), "old");
    }
    assert!(leftovers(&s.work).is_empty(), "{:?}", leftovers(&s.work));
    assert!(leftovers(other.path()).is_empty());

    // Complete: all three replaced (no cross-device rename).
    let mut good = BuildOptions::new(
        vec![vda.clone(), vdb.clone()],
        sources(&[("centos", &s.centos), ("ubuntu", &s.ubuntu)]),
    );
    good.boot_info = Some(info.clone());
    build_disks(&plan, &good).unwrap();
    assert_eq!(std::fs::metadata(&vda).unwrap().len(), 160 << 20);
    assert_eq!(std::fs::metadata(&vdb).unwrap().len(), 64 << 20);
    assert!(
        std::fs::read_to_string(&info)
            .unwrap()
            .contains("\"elements\"")
    );
    fsck_all(&vda, &plan, 0);
    fsck_all(&vdb, &plan, 1);
    assert!(leftovers(&s.work).is_empty(), "{:?}", leftovers(&s.work));
    assert!(leftovers(other.path()).is_empty());
}

#[test]
fn a_compression_bomb_is_listed_never_extracted() {
    let s = setup();
    let plan = plan(&document(""));
    // 3 GiB of zeros, a few KiB compressed (sparse in the archive too).
    let tree = s.work.join("bomb-tree");
    output(
        "cp",
        "coreutils",
        &["-a", s.ubuntu.to_str().unwrap(), tree.to_str().unwrap()],
    );
    let big = std::fs::File::create(tree.join("usr/big")).unwrap();
    big.set_len(3 << 30).unwrap();
    drop(big);
    let bomb = s.work.join("bomb.tar.gz");
    tar(&bomb, &tree, &["--sparse", "-z"]);
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    std::fs::remove_dir_all(&tree).unwrap();
    let disk = s.work.join("disk.img");
    for dry_run in [true, false] {
        let mut options = BuildOptions::new(
            vec![disk.clone()],
            sources(&[("centos", &s.centos), ("ubuntu", &bomb)]),
        );
        options.dry_run = dry_run;
        let error = build_disks(&plan, &options).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("image ubuntu: {} holds more than", bomb.display()))
                && text.ends_with("more than all its partitions together; nothing was extracted"),
            "{text}"
        );
        assert!(!disk.exists());
        assert!(leftovers(&s.work).is_empty(), "{:?}", leftovers(&s.work));
    }
}

#[test]
fn a_source_larger_than_its_partition_is_refused_before_any_mkfs() {
    let s = setup();
    let plan = plan(&document(""));
    // 40 MiB under /usr/share/common go to the shared partition; 60 MiB
    // elsewhere do not fit centos's 48 MiB root.
    let big = std::fs::File::create(s.centos.join("etc/big")).unwrap();
    big.set_len(60 << 20).unwrap();
    drop(big);
    let disk = s.work.join("disk.img");
    for dry_run in [true, false] {
        let mut options = options(&s, disk.clone());
        options.dry_run = dry_run;
        let error = build_disks(&plan, &options).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with("disk vda partition 4 (/): the sources of image centos put 629")
                && text.ends_with(&format!("bytes in it, more than its {} bytes", 48 << 20)),
            "{text}"
        );
        assert!(!disk.exists());
    }
    // The same archived: --dry-run opens it and says the same.
    let archive = s.work.join("centos.tar");
    tar(&archive, &s.centos, &["--sparse"]);
    let mut dry = BuildOptions::new(
        vec![disk.clone()],
        sources(&[("centos", &archive), ("ubuntu", &s.ubuntu)]),
    );
    dry.dry_run = true;
    let error = build_disks(&plan, &dry).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("disk vda partition 4 (/): the sources of image centos put "),
        "{error}"
    );
    // Not a tar archive at all: --dry-run says so.
    std::fs::write(&archive, "not an archive").unwrap();
    let error = build_disks(&plan, &dry).unwrap_err();
    assert!(
        matches!(error, Error::Tool { .. }) && error.to_string().contains("tar"),
        "{error}"
    );
}

#[test]
fn links_in_a_source_tree_never_lead_out_of_it() {
    let s = setup();
    let plan = plan(&document(""));
    // Outside the trees: the host's kernel and OS name.
    let host = s.work.join("host");
    std::fs::create_dir_all(host.join("boot")).unwrap();
    std::fs::write(host.join("boot/vmlinuz-9.9-host"), "host kernel").unwrap();
    std::fs::create_dir_all(host.join("usr/lib")).unwrap();
    std::fs::write(
        host.join("usr/lib/os-release"),
        "PRETTY_NAME=\"The Host OS\"\n",
    )
    .unwrap();
    // centos: boot -> <host>/boot (absolute): inside the tree, nothing there.
    std::fs::remove_dir_all(s.centos.join("boot")).unwrap();
    std::os::unix::fs::symlink(host.join("boot"), s.centos.join("boot")).unwrap();
    let disk = s.work.join("disk.img");
    let mut dry = options(&s, disk.clone());
    dry.dry_run = true;
    let error = build_disks(&plan, &dry).unwrap_err();
    assert!(
        error.to_string().starts_with("image centos: no kernel in "),
        "{error}"
    );
    // centos: boot -> /realboot, absolute but inside the tree: followed.
    std::fs::remove_file(s.centos.join("boot")).unwrap();
    std::fs::create_dir(s.centos.join("realboot")).unwrap();
    std::fs::write(s.centos.join("realboot/vmlinuz-1.0"), "k").unwrap();
    std::os::unix::fs::symlink("/realboot", s.centos.join("boot")).unwrap();
    // ubuntu: etc/os-release -> ../usr/lib/os-release, usr/lib -> <host>/usr/lib.
    std::fs::remove_file(s.ubuntu.join("etc/os-release")).unwrap();
    std::os::unix::fs::symlink("../usr/lib/os-release", s.ubuntu.join("etc/os-release")).unwrap();
    std::fs::create_dir_all(s.ubuntu.join("usr")).unwrap();
    std::os::unix::fs::symlink(host.join("usr/lib"), s.ubuntu.join("usr/lib")).unwrap();
    let report = build_disks(&plan, &dry).unwrap();
    assert_eq!(report.boot_files[0].kernel, "/boot/vmlinuz-1.0");
    assert_eq!(
        report.boot_files[1].title, "ubuntu-14.04",
        "not the host's OS name"
    );
    assert!(
        report.boot_info.elements[1]
            .boot_name
            .starts_with("ubuntu-14.04"),
        "{:?}",
        report.boot_info
    );
    assert!(!disk.exists());
}

#[test]
fn an_output_inside_a_source_tree_is_refused() {
    let s = setup();
    let plan = plan(&document(""));
    let inside = s.centos.join("srv").join("disk.img");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    let error = build_disks(&plan, &options(&s, inside.clone())).unwrap_err();
    assert!(
        error.to_string().contains(&format!(
            "is inside image centos's source tree {}",
            s.centos.display()
        )),
        "{error}"
    );
    let mut info_inside = options(&s, s.work.join("disk.img"));
    info_inside.boot_info = Some(s.ubuntu.join("boot-info.json"));
    let error = build_disks(&plan, &info_inside).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("is inside image ubuntu's source tree"),
        "{error}"
    );
    assert!(names(&s.centos.join("srv")).is_empty());
    assert!(!s.work.join("disk.img").exists());
}

#[test]
fn a_stale_work_directory_is_removed_by_the_next_build_a_running_one_kept() {
    let s = setup();
    let plan = plan(&document(""));
    let disk = s.work.join("disk.img");
    // Left by a killed build: its lock is free; it lists its unfinished output.
    let stale = s.work.join(".bouture-build-stale1");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("big-file"), vec![0u8; 4096]).unwrap();
    let unfinished = s.work.join(".disk.img.stale1.abc123.tmp");
    std::fs::write(&unfinished, "half a disk").unwrap();
    let unrelated = s.work.join(".notes.tmp");
    std::fs::write(&unrelated, "not ours").unwrap();
    std::fs::write(stale.join("staged"), format!("{}\n", s.work.display())).unwrap();
    // A running build's: locked.
    let running = s.work.join(".bouture-build-running");
    std::fs::create_dir(&running).unwrap();
    let lock =
        bouture_fs::FileLock::lock_file(&running.join("lock"), bouture_fs::Wait::NO).unwrap();
    build_disks(&plan, &options(&s, disk.clone())).unwrap();
    assert!(disk.exists());
    assert_eq!(
        leftovers(&s.work),
        [".bouture-build-running", ".notes.tmp"],
        "only the stale build's own unfinished outputs are removed"
    );
    assert!(!unfinished.exists());
    drop(lock);
}

#[test]
fn a_multiboot_directory_whose_boot_is_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("boot/grub")).unwrap();
    let env = {
        let mut env = bouture_multiboot::GrubEnv::default();
        env.set("saved_entry", "image-centos");
        env.encode().unwrap()
    };
    std::fs::write(elsewhere.join("boot/grub/grubenv"), env).unwrap();
    let mounted = dir.path().join("mnt");
    std::fs::create_dir(&mounted).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("boot"), mounted.join("boot")).unwrap();
    let error = BootTarget::Dir(mounted.clone())
        .switch("ubuntu", Switch::Default, &SwitchOptions::default())
        .unwrap_err();
    assert!(
        error.to_string().ends_with(
            "boot: is a symbolic link, not a directory of the multiboot partition: it is never followed"
        ),
        "{error}"
    );
    assert_eq!(
        std::fs::read(elsewhere.join("boot/grub/grubenv")).unwrap(),
        env
    );
    // boot/grub as a link, too.
    std::fs::remove_file(mounted.join("boot")).unwrap();
    std::fs::create_dir(mounted.join("boot")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("boot/grub"), mounted.join("boot/grub")).unwrap();
    assert!(BootTarget::Dir(mounted).status().is_err());
}

#[test]
fn the_boot_info_current_element_follows_the_default() {
    let s = setup();
    let plan = plan(&document(""));
    let disk = s.work.join("disk.img");
    build_disks(&plan, &options(&s, disk.clone())).unwrap();
    let multiboot = partition(&plan, "multiboot");
    let current = |disk: &Path| -> u64 {
        let text = debugfs_cat(disk, multiboot, "/boot/grub/boot-info.json");
        let info: serde_json::Value = serde_json::from_str(&text).unwrap();
        info["current_element"].as_u64().unwrap()
    };
    assert_eq!(current(&disk), 0);
    let target = BootTarget::Disk(disk.clone());
    target
        .switch("ubuntu", Switch::Default, &SwitchOptions::default())
        .unwrap();
    assert_eq!(current(&disk), 1);
    // A one-shot boot is not the default: the file stays.
    target
        .switch("centos", Switch::Next, &SwitchOptions::default())
        .unwrap();
    assert_eq!(current(&disk), 1);
    target
        .switch("centos", Switch::Default, &SwitchOptions::default())
        .unwrap();
    assert_eq!(current(&disk), 0);
    fsck_all(&disk, &plan, 0);
    let status = target.status().unwrap();
    assert_eq!(status.boot_info.current_element, 0);

    // A mounted multiboot directory: the file is replaced atomically.
    let mounted = s.work.join("mnt");
    std::fs::create_dir_all(mounted.join("boot/grub")).unwrap();
    let env_copy = s.work.join("grubenv.copy");
    output(
        "debugfs",
        "e2fsprogs",
        &[
            "-R",
            &format!("dump /boot/grub/grubenv {}", env_copy.display()),
            &spec(&disk, multiboot),
        ],
    );
    std::fs::copy(&env_copy, mounted.join("boot/grub/grubenv")).unwrap();
    std::fs::write(
        mounted.join("boot/grub/boot-info.json"),
        debugfs_cat(&disk, multiboot, "/boot/grub/boot-info.json"),
    )
    .unwrap();
    BootTarget::Dir(mounted.clone())
        .switch("ubuntu", Switch::Default, &SwitchOptions::default())
        .unwrap();
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(mounted.join("boot/grub/boot-info.json")).unwrap())
            .unwrap();
    assert_eq!(info["current_element"], 1);
}

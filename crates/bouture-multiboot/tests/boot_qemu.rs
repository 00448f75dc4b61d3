//! A real boot: QEMU (software emulation) boots the built disk through
//! GRUB's BIOS boot code, GRUB picks the entry from grubenv, and a Debian
//! kernel runs the image's tiny initrd, which prints which image booted.
//! Proves that the default boots, that set-default changes it, and that
//! next boots the other image exactly once (three boots, ~15 s each on an
//! idle machine).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bouture_multiboot::{BootTarget, BuildOptions, Switch, build_disks};
use support::{document, fsck_all, image_tree, plan, sources, tool};

/// Debian's kernel, unpacked by scripts/setup.d/peers.sh (scripts/peers).
fn kernel() -> Vec<u8> {
    let path = std::env::var_os("BOUTURE_MULTIBOOT_KERNEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/multiboot-kernel/vmlinuz"),
        PathBuf::from,
    );
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!("no kernel at {} ({error}): run `source scripts/setup.d/peers.sh qemu` (it unpacks Debian's linux-image-cloud-amd64)", path.display())
    })
}

/// A gzip'd newc initrd: static busybox and an /init printing the marker.
fn initrd(work: &Path, image: &str) -> Vec<u8> {
    let busybox = std::env::var_os("BOUTURE_MULTIBOOT_BUSYBOX")
        .map_or_else(|| PathBuf::from("/bin/busybox"), PathBuf::from);
    assert!(
        busybox.is_file(),
        "no static busybox at {}: apt-get install busybox-static",
        busybox.display()
    );
    let root = work.join(format!("initrd-{image}"));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
    std::fs::write(root.join("image-name"), image).unwrap();
    let init = "#!/bin/busybox sh\n\
        /bin/busybox mkdir -p /proc\n\
        /bin/busybox mount -t proc proc /proc\n\
        echo \"MBSMOKE image=$(/bin/busybox cat /image-name) cmdline=[$(/bin/busybox cat /proc/cmdline)]\"\n\
        /bin/busybox poweroff -f\n";
    std::fs::write(root.join("init"), init).unwrap();
    std::fs::set_permissions(
        root.join("init"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    tool("cpio", "cpio");
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . | cpio -o -H newc --quiet | gzip -1")
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Boot the disk once; return the image named by the initrd's marker.
fn boot(disk: &Path, work: &Path, n: usize) -> String {
    let qemu = tool("qemu-system-x86_64", "qemu-system-x86");
    let log = work.join(format!("serial-{n}.log"));
    let mut child = Command::new(qemu)
        .args([
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-m",
            "256",
            "-display",
            "none",
            "-monitor",
            "none",
            "-no-reboot",
            "-nic",
            "none",
        ])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .arg("-drive")
        .arg(format!("file={},format=raw,if=ide", disk.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "boot {n} did not power off within 150 s; serial log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let serial = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    let line = serial
        .lines()
        .find_map(|l| l.split_once("MBSMOKE image=").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("boot {n}: no MBSMOKE line; serial log:\n{serial}"));
    let image = line.split_whitespace().next().unwrap().to_owned();
    assert!(line.contains(&format!("bouture.image={image}")), "{line}");
    image
}

#[test]
fn qemu_boots_the_default_then_the_new_default_then_next_once() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let plan = plan(&document("console=ttyS0 quiet panic=-1"));
    let kernel = kernel();
    let centos = image_tree(
        work,
        "centos",
        "CentOS Linux 7 (Core)",
        &kernel,
        &initrd(work, "centos"),
    );
    let ubuntu = image_tree(
        work,
        "ubuntu",
        "Ubuntu 14.04.3 LTS",
        &kernel,
        &initrd(work, "ubuntu"),
    );
    let disk = work.join("disk.img");
    let options = BuildOptions::new(
        vec![disk.clone()],
        sources(&[("centos", &centos), ("ubuntu", &ubuntu)]),
    );
    build_disks(&plan, &options).unwrap();
    let target = BootTarget::Disk(disk.clone());

    // 1. The image with boot: true.
    assert_eq!(boot(&disk, work, 1), "centos");
    // 2. A new default, and a one-shot of the other image: the one-shot
    //    boots, and GRUB clears it before booting it...
    target.switch("ubuntu", Switch::Default, false).unwrap();
    target.switch("centos", Switch::Next, false).unwrap();
    assert_eq!(
        target.status().unwrap().next_image.as_deref(),
        Some("centos")
    );
    assert_eq!(boot(&disk, work, 2), "centos");
    let status = target.status().unwrap();
    assert_eq!(status.next_image, None, "{status:?}");
    assert_eq!(status.default_image.as_deref(), Some("ubuntu"));
    // 3. ...so the following boot is the new default.
    assert_eq!(boot(&disk, work, 3), "ubuntu");
    fsck_all(&disk, &plan, 0);
}

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

use bouture_multiboot::SwitchOptions;
use bouture_multiboot::{BootTarget, BuildOptions, Switch, build_disks};
use support::qemu::{boot, initrd, kernel};
use support::{document, fsck_all, image_tree, plan, sources};

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
    target
        .switch("ubuntu", Switch::Default, &SwitchOptions::default())
        .unwrap();
    target
        .switch("centos", Switch::Next, &SwitchOptions::default())
        .unwrap();
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

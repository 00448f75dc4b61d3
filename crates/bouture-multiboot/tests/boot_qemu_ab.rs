//! The A/B update cycle, booted for real (QEMU, software emulation, BIOS):
//! `deploy image` puts a new version into the image that is not the
//! default, `boot next` boots it once, the next boot without a confirm is
//! the old default again, `boot confirm` on the new image keeps it; a new
//! image that panics, or whose kernel is missing, comes back to the
//! default with no operator action (the kernel's `panic=` reboot, GRUB's
//! numeric fallback). One disk for every step; six QEMU runs.

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
use bouture_multiboot::{BootTarget, DeployOptions, Switch, SwitchOutcome, deploy_image};
use support::qemu::{Firmware, initrd, initrd_ending, kernel, marker, marker_cmdline, run};
use support::{build_two, document, fsck_all, image_tree, output, partition, plan, spec};

/// A new version of ubuntu's tree: kernel `vmlinuz-VERSION`, the initrd given.
fn new_tree(work: &Path, version: &str, kernel: &[u8], initrd: &[u8]) -> std::path::PathBuf {
    let root = work.join(format!("ubuntu-{version}"));
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/common")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        format!("PRETTY_NAME=\"Ubuntu {version}\"\n"),
    )
    .unwrap();
    std::fs::write(root.join(format!("boot/vmlinuz-{version}")), kernel).unwrap();
    std::fs::write(root.join(format!("boot/initrd.img-{version}")), initrd).unwrap();
    root
}

#[test]
fn qemu_deploy_next_confirm_and_fall_back_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // No panic= in the document: the menu entries' own panic=10 is tested.
    let plan = plan(&document("console=ttyS0 quiet"));
    let kernel = kernel();
    let centos = image_tree(work, "centos", "CentOS", &kernel, &initrd(work, "centos"));
    let ubuntu = image_tree(work, "ubuntu", "Ubuntu", &kernel, &initrd(work, "ubuntu"));
    let disk = work.join("disk.img");
    build_two(&plan, &disk, &centos, &ubuntu);
    let target = BootTarget::Disk(disk.clone());
    let on_centos = format!(
        "root=UUID={} ro bouture.image=centos",
        plan.images[0].root_uuid
    );
    let boot = |n: usize, reboot: bool| run(&disk, work, n, &Firmware::Bios, reboot);

    // 1. centos (the default) runs; ubuntu 2.0 goes into ubuntu's partitions.
    let v2 = new_tree(work, "2.0", &kernel, &initrd(work, "ubuntu"));
    deploy_image(&DeployOptions::new("ubuntu", &disk, &v2, &on_centos)).unwrap();
    // 2. boot next ubuntu: it boots once, with its new kernel...
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    let serial = boot(1, false);
    assert_eq!(marker(&serial, 1), "ubuntu");
    assert!(
        marker_cmdline(&serial).contains("BOOT_IMAGE=/boot/vmlinuz-2.0"),
        "{serial}"
    );
    let status = target.status().unwrap();
    assert_eq!(status.next_image, None);
    assert_eq!(status.default_image.as_deref(), Some("centos"));
    // 3. ...and without a confirm, the next boot is centos again.
    let serial = boot(2, false);
    assert_eq!(marker(&serial, 2), "centos");
    let centos_cmdline = marker_cmdline(&serial);
    // 4. Once more, and confirmed from the booted ubuntu: it stays the default.
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    let serial = boot(3, false);
    assert_eq!(marker(&serial, 3), "ubuntu");
    let ubuntu_cmdline = marker_cmdline(&serial);
    let confirmed = target
        .confirm(&ubuntu_cmdline, &SwitchOptions::default())
        .unwrap();
    assert!(
        matches!(&confirmed, SwitchOutcome::Changed { image, .. } if image == "ubuntu"),
        "{confirmed:?}"
    );
    let again = target
        .confirm(&ubuntu_cmdline, &SwitchOptions::default())
        .unwrap();
    assert!(
        matches!(&again, SwitchOutcome::Unchanged { reason, .. } if reason.contains("already the default")),
        "{again:?}"
    );
    assert_eq!(marker(&boot(4, false), 4), "ubuntu");

    // 5. Back on centos (confirmed from it); an ubuntu 3.0 whose init dies
    //    makes the kernel panic: panic=10 reboots, GRUB boots centos.
    target
        .confirm(&centos_cmdline, &SwitchOptions::default())
        .unwrap();
    let panics = initrd_ending(work, "ubuntu-panics", "ubuntu", "exit 1");
    let v3 = new_tree(work, "3.0", &kernel, &panics);
    deploy_image(&DeployOptions::new("ubuntu", &disk, &v3, &centos_cmdline)).unwrap();
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    let serial = boot(5, true);
    let panic_at = serial
        .find("Kernel panic")
        .unwrap_or_else(|| panic!("no kernel panic in boot 5:\n{serial}"));
    let back = serial[panic_at..]
        .find("MBSMOKE image=centos")
        .unwrap_or_else(|| panic!("boot 5 did not come back to centos:\n{serial}"));
    assert!(back > 0);
    assert_eq!(marker(&serial, 5), "ubuntu", "the trial ran first");

    // 6. ubuntu's kernel is missing: GRUB falls back to centos at once.
    let root_u = partition(&plan, "root-ubuntu");
    output(
        "debugfs",
        "e2fsprogs",
        &["-w", "-R", "rm /boot/vmlinuz-3.0", &spec(&disk, root_u)],
    );
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    let serial = boot(6, false);
    assert_eq!(marker(&serial, 6), "centos", "{serial}");
    // GRUB shows its errors for 10 s ("Press any key to continue..." times
    // out by itself: QEMU gets no input here), then falls back.
    assert!(
        serial.contains("Falling back to `CentOS (image centos)'"),
        "{serial}"
    );
    let status = target.status().unwrap();
    assert_eq!(status.default_image.as_deref(), Some("centos"));
    assert_eq!(status.next_image, None);
    fsck_all(&disk, &plan, 0);
}

/// The same disk boots under UEFI (OVMF): GRUB's `EFI/BOOT/BOOTX64.EFI` on
/// the ESP reads the same grub.cfg and grubenv: the default boots, and
/// `boot next` boots the other image once (GRUB clears it on UEFI too).
#[test]
fn qemu_uefi_boots_the_default_then_next_once() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let firmware = support::qemu::ovmf(work);
    let plan = plan(&document("console=ttyS0 quiet panic=-1"));
    let kernel = kernel();
    let centos = image_tree(work, "centos", "CentOS", &kernel, &initrd(work, "centos"));
    let ubuntu = image_tree(work, "ubuntu", "Ubuntu", &kernel, &initrd(work, "ubuntu"));
    let disk = work.join("disk.img");
    build_two(&plan, &disk, &centos, &ubuntu);
    let target = BootTarget::Disk(disk.clone());
    assert_eq!(marker(&run(&disk, work, 1, &firmware, false), 1), "centos");
    target
        .switch("ubuntu", Switch::Next, &SwitchOptions::default())
        .unwrap();
    assert_eq!(marker(&run(&disk, work, 2, &firmware, false), 2), "ubuntu");
    let status = target.status().unwrap();
    assert_eq!(status.next_image, None, "GRUB's save_env on UEFI");
    assert_eq!(status.default_image.as_deref(), Some("centos"));
    fsck_all(&disk, &plan, 0);
}

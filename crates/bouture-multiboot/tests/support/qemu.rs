//! QEMU (software emulation) for the boot tests: Debian's kernel, a busybox
//! initrd per image printing which image booted, BIOS or UEFI firmware.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::tool;

/// Debian's kernel, unpacked by scripts/setup.d/peers.sh (scripts/peers).
pub(crate) fn kernel() -> Vec<u8> {
    let path = std::env::var_os("BOUTURE_MULTIBOOT_KERNEL").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/multiboot-kernel/vmlinuz"),
        PathBuf::from,
    );
    std::fs::read(&path).unwrap_or_else(|error| {
        panic!("no kernel at {} ({error}): run `source scripts/setup.d/peers.sh qemu` (it unpacks Debian's linux-image-cloud-amd64)", path.display())
    })
}

/// A gzip'd newc initrd: static busybox and an /init printing the marker.
pub(crate) fn initrd(work: &Path, image: &str) -> Vec<u8> {
    initrd_ending(work, image, image, "/bin/busybox poweroff -f")
}

/// An initrd whose /init prints the marker then runs `end` (`exit 1`
/// makes the kernel panic: init died); `dir` names its staging directory.
pub(crate) fn initrd_ending(work: &Path, dir: &str, image: &str, end: &str) -> Vec<u8> {
    let busybox = std::env::var_os("BOUTURE_MULTIBOOT_BUSYBOX")
        .map_or_else(|| PathBuf::from("/bin/busybox"), PathBuf::from);
    assert!(
        busybox.is_file(),
        "no static busybox at {}: apt-get install busybox-static",
        busybox.display()
    );
    let root = work.join(format!("initrd-{dir}"));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(&busybox, root.join("bin/busybox")).unwrap();
    std::fs::write(root.join("image-name"), image).unwrap();
    let init = format!(
        "#!/bin/busybox sh\n\
        /bin/busybox mkdir -p /proc\n\
        /bin/busybox mount -t proc proc /proc\n\
        echo \"MBSMOKE image=$(/bin/busybox cat /image-name) cmdline=[$(/bin/busybox cat /proc/cmdline)]\"\n\
        {end}\n"
    );
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
pub(crate) fn boot(disk: &Path, work: &Path, n: usize) -> String {
    let serial = run(disk, work, n, &Firmware::Bios, false);
    marker(&serial, n)
}

/// The firmware QEMU starts with.
pub(crate) enum Firmware {
    /// `SeaBIOS` (the default of QEMU).
    Bios,
    /// OVMF: its code, and a copy of its variable store.
    Uefi {
        /// `OVMF_CODE_4M.fd`.
        code: PathBuf,
        /// A writable copy of `OVMF_VARS_4M.fd`.
        vars: PathBuf,
    },
}

/// OVMF for a UEFI boot (Debian's ovmf package), its variables copied into `work`.
pub(crate) fn ovmf(work: &Path) -> Firmware {
    let code = PathBuf::from("/usr/share/OVMF/OVMF_CODE_4M.fd");
    let vars = PathBuf::from("/usr/share/OVMF/OVMF_VARS_4M.fd");
    assert!(
        code.is_file() && vars.is_file(),
        "no OVMF in /usr/share/OVMF: run `source scripts/setup.d/peers.sh qemu` or apt-get install ovmf"
    );
    let copy = work.join("OVMF_VARS.fd");
    std::fs::copy(&vars, &copy).unwrap();
    Firmware::Uefi { code, vars: copy }
}

/// The image named by the first marker line of a serial log.
pub(crate) fn marker(serial: &str, n: usize) -> String {
    let line = serial
        .lines()
        .find_map(|l| l.split_once("MBSMOKE image=").map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("boot {n}: no MBSMOKE line; serial log:\n{serial}"));
    let image = line.split_whitespace().next().unwrap().to_owned();
    assert!(line.contains(&format!("bouture.image={image}")), "{line}");
    image
}

/// The kernel command line the marker printed (what /proc/cmdline held).
pub(crate) fn marker_cmdline(serial: &str) -> String {
    serial
        .lines()
        .find_map(|l| l.split_once("cmdline=[").map(|(_, rest)| rest))
        .and_then(|rest| rest.rsplit_once(']'))
        .map(|(cmdline, _)| cmdline.to_owned())
        .unwrap()
}

/// Run QEMU until the guest powers off (with `reboot`, a reset restarts
/// the machine, as a real one would); return the serial log.
pub(crate) fn run(disk: &Path, work: &Path, n: usize, firmware: &Firmware, reboot: bool) -> String {
    let qemu = tool("qemu-system-x86_64", "qemu-system-x86");
    let log = work.join(format!("serial-{n}.log"));
    let mut command = Command::new(qemu);
    if let Firmware::Uefi { code, vars } = firmware {
        command
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,readonly=on,file={}",
                code.display()
            ))
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()));
    }
    if !reboot {
        command.arg("-no-reboot");
    }
    let mut child = command
        .args([
            "-accel", "tcg", "-cpu", "max", "-m", "512", "-display", "none", "-monitor", "none",
            "-nic", "none",
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
    let deadline = Instant::now() + Duration::from_mins(5);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "boot {n} did not power off within 5 minutes; serial log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned()
}

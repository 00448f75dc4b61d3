//! The multiboot tests' disks (bouture-multiboot's and the facade's examples'): image
//! trees, a small two-image document built into a disk, and independent readers (sfdisk,
//! blkid, debugfs, e2fsck) that fail saying how to install a missing tool.

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::missing_panics_doc
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use bouture_multiboot::{ImageSource, PartitionPlan, Plan, PlanOptions, Provision};

/// A tool's path, or a failure saying how to install it (never a skip).
pub fn tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: run `source scripts/setup.d/peers.sh multiboot qemu` as root or apt-get install {package}"))
}

/// Run a tool, return stdout; panics with stderr on failure.
pub fn output(name: &str, package: &str, args: &[&str]) -> String {
    let out = Command::new(tool(name, package))
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The two-image document of the tests: centos (boot) and ubuntu roots and a
/// shared /usr/share/common, on one 256 MiB disk.
pub fn document(kernel_params: &str) -> String {
    format!(
        r#"{{
  "images": [
    {{"name": "centos", "boot": true, "image_name": "centos-7.1.1503", "image_uuid": "2a86b00d-cfa4-49d9-a008-13c7940ed02d", "target": "/", "image_pull_url": "http://images.example.com/c.tar"}},
    {{"name": "ubuntu", "image_name": "ubuntu-14.04", "target": "/", "image_pull_url": "http://images.example.com/u.tar"}}
  ],
  "partitions_policy": "clean",
  "deploy_data": {{"kernel_params": "{kernel_params}"}},
  "partitions": [{{
    "type": "disk", "id": {{"type": "name", "value": "vda"}}, "size": "256",
    "volumes": [
      {{"type": "partition", "mount": "/", "images": ["centos"], "file_system": "ext4", "size": "48"}},
      {{"type": "partition", "mount": "/", "images": ["ubuntu"], "file_system": "ext4", "size": "48"}},
      {{"type": "partition", "mount": "/usr/share/common", "images": ["centos", "ubuntu"], "file_system": "ext4", "size": "remaining"}}
    ]
  }}]
}}"#
    )
}

/// The plan of `document`, its UUIDs derived from the seed `tests`.
pub fn plan(document: &str) -> Plan {
    let provision = Provision::from_json(document.as_bytes()).unwrap();
    Plan::resolve(
        &provision,
        &PlanOptions {
            uuid_seed: Some("tests".into()),
        },
    )
    .unwrap()
}

/// An image tree: os-release, a kernel and initrd in /boot, a file of its
/// own, and a file in the shared directory.
pub fn image_tree(dir: &Path, name: &str, pretty: &str, kernel: &[u8], initrd: &[u8]) -> PathBuf {
    let root = dir.join(format!("tree-{name}"));
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::create_dir_all(root.join("usr/share/common")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        format!("NAME={name}\nPRETTY_NAME=\"{pretty}\"\nID={name}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/fstab"),
        "# the image's own fstab, replaced\n",
    )
    .unwrap();
    std::fs::write(root.join(format!("etc/{name}-only")), name).unwrap();
    std::fs::write(root.join("boot/vmlinuz-test"), kernel).unwrap();
    std::fs::write(root.join("boot/initrd.img-test"), initrd).unwrap();
    std::fs::write(root.join(format!("usr/share/common/from-{name}")), name).unwrap();
    root
}

/// `FILE?offset=N` for e2fsprogs.
pub fn spec(disk: &Path, partition: &PartitionPlan) -> String {
    format!("{}?offset={}", disk.display(), partition.offset_bytes)
}

/// A file of one ext partition of the disk, read with debugfs.
pub fn debugfs_cat(disk: &Path, partition: &PartitionPlan, file: &str) -> String {
    output(
        "debugfs",
        "e2fsprogs",
        &["-R", &format!("cat {file}"), &spec(disk, partition)],
    )
}

/// `e2fsck -fn` on every ext filesystem of the disk: must be clean.
pub fn fsck_all(disk: &Path, plan: &Plan, index: usize) {
    for partition in &plan.disks[index].partitions {
        if partition
            .filesystem
            .as_ref()
            .is_some_and(|f| f.fs_type.starts_with("ext"))
        {
            let out = Command::new(tool("e2fsck", "e2fsprogs"))
                .args(["-fn", &spec(disk, partition)])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "e2fsck -fn on {}: {}{}",
                partition.name,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The partition of the plan named `name`.
pub fn partition<'a>(plan: &'a Plan, name: &str) -> &'a PartitionPlan {
    plan.disks
        .iter()
        .flat_map(|d| &d.partitions)
        .find(|p| p.name == name)
        .unwrap()
}

/// The grubenv's variables, read with debugfs and decoded by grub-editenv.
pub fn grubenv_list(disk: &Path, plan: &Plan, work: &Path) -> String {
    let multiboot = partition(plan, "multiboot");
    let copy = work.join("grubenv.copy");
    let _ = std::fs::remove_file(&copy);
    output(
        "debugfs",
        "e2fsprogs",
        &[
            "-R",
            &format!("dump /boot/grub/grubenv {}", copy.display()),
            &spec(disk, multiboot),
        ],
    );
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), 1024);
    output(
        "grub-editenv",
        "grub2-common",
        &[copy.to_str().unwrap(), "list"],
    )
}

/// `--image NAME=PATH` for each pair.
pub fn sources(pairs: &[(&str, &Path)]) -> Vec<ImageSource> {
    pairs
        .iter()
        .map(|(name, path)| ImageSource {
            name: (*name).to_owned(),
            path: path.to_path_buf(),
        })
        .collect()
}

/// `blkid -p -o export` of one partition of the disk.
pub fn blkid(disk: &Path, partition: &PartitionPlan) -> String {
    output(
        "blkid",
        "util-linux",
        &[
            "-p",
            "-o",
            "export",
            "--offset",
            &partition.offset_bytes.to_string(),
            "--size",
            &partition.size_bytes.to_string(),
            disk.to_str().unwrap(),
        ],
    )
}

/// Build the two-image disk of [`document`] at `disk` from the two trees.
pub fn build_two(plan: &Plan, disk: &Path, centos: &Path, ubuntu: &Path) {
    bouture_multiboot::build_disks(
        plan,
        &bouture_multiboot::BuildOptions::new(
            vec![disk.to_path_buf()],
            sources(&[("centos", centos), ("ubuntu", ubuntu)]),
        ),
    )
    .unwrap();
}

/// A disk of [`document`] built by [`two_image_disk`].
pub struct TwoImageDisk {
    /// Its plan.
    pub plan: Plan,
    /// The disk image.
    pub disk: PathBuf,
    /// The centos tree it was built from.
    pub centos: PathBuf,
    /// The ubuntu tree it was built from.
    pub ubuntu: PathBuf,
}

/// The disk of [`document`] built at `dir/disk.img` from two [`image_tree`]s
/// (centos, the default, and ubuntu).
pub fn two_image_disk(dir: &Path) -> TwoImageDisk {
    two_image_disk_titled(dir, "CentOS Linux 7 (Core)", "Ubuntu 14.04.3 LTS")
}

/// [`two_image_disk`] with the images' menu titles (`PRETTY_NAME`).
pub fn two_image_disk_titled(dir: &Path, centos: &str, ubuntu: &str) -> TwoImageDisk {
    let plan = plan(&document("console=ttyS0"));
    let (centos, ubuntu) = two_trees(dir, centos, ubuntu);
    let disk = dir.join("disk.img");
    build_two(&plan, &disk, &centos, &ubuntu);
    TwoImageDisk {
        plan,
        disk,
        centos,
        ubuntu,
    }
}

/// A copy of the disk (sparse), to compare with later.
pub fn snapshot(disk: &Path, name: &str) -> PathBuf {
    let copy = disk.with_file_name(name);
    let out = Command::new("cp")
        .args(["--sparse=always"])
        .arg(disk)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success());
    copy
}

/// `cmp` of the whole disks, or of one partition of each.
pub fn same(a: &Path, b: &Path, part: Option<&PartitionPlan>) -> bool {
    let mut command = Command::new(tool("cmp", "diffutils"));
    command.arg("-s");
    if let Some(p) = part {
        command
            .arg(format!("--ignore-initial={}", p.offset_bytes))
            .arg(format!("--bytes={}", p.size_bytes));
    }
    command.arg(a).arg(b).status().unwrap().success()
}

/// `mke2fs -t TYPE -d TREE` into a new file of `mib` MiB: a raw
/// filesystem image.
pub fn make_fs(tree: &Path, fs_type: &str, mib: u64, out: &Path) -> PathBuf {
    output(
        "mke2fs",
        "e2fsprogs",
        &[
            "-q",
            "-F",
            "-t",
            fs_type,
            "-d",
            tree.to_str().unwrap(),
            out.to_str().unwrap(),
            &format!("{mib}M"),
        ],
    );
    out.to_path_buf()
}

/// The size in bytes of the ext filesystem at `partition` of `disk`
/// (`dumpe2fs -h`: block count times block size).
pub fn ext_fs_size(disk: &Path, partition: &PartitionPlan) -> u64 {
    let header = output("dumpe2fs", "e2fsprogs", &["-h", &spec(disk, partition)]);
    let field = |name: &str| -> u64 {
        header
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("dumpe2fs -h gives no {name}: {header}"))
    };
    field("Block count:") * field("Block size:")
}

/// Mark the ext filesystem image `image` as mounted after its last check
/// (as an image taken from a system that ran is): `tune2fs -U` and
/// `resize2fs` then ask for a fresh `e2fsck -f`.
pub fn mounted_since_checked(image: &Path) {
    let image = image.to_str().unwrap();
    output(
        "debugfs",
        "e2fsprogs",
        &["-w", "-R", "ssv lastcheck 20200101", image],
    );
    output(
        "debugfs",
        "e2fsprogs",
        &["-w", "-R", "ssv mtime 20210101", image],
    );
}

/// The new ubuntu the deploy tests put on a built disk, at `dir/ubuntu-2`:
/// another kernel version (6.2.0-2, its initrd), another title ("Ubuntu
/// 2"), and `/etc/version` holding "2".
pub fn ubuntu_2(dir: &Path) -> PathBuf {
    let new = dir.join("ubuntu-2");
    std::fs::create_dir_all(new.join("boot")).unwrap();
    std::fs::create_dir_all(new.join("etc")).unwrap();
    std::fs::write(new.join("etc/os-release"), "PRETTY_NAME=\"Ubuntu 2\"\n").unwrap();
    std::fs::write(new.join("boot/vmlinuz-6.2.0-2"), b"kernel 2").unwrap();
    std::fs::write(new.join("boot/initrd.img-6.2.0-2"), b"initrd 2").unwrap();
    std::fs::write(new.join("etc/version"), "2\n").unwrap();
    new
}

/// `tar -c` of a whole tree into `out`.
pub fn tar(tree: &Path, out: &Path) -> PathBuf {
    output(
        "tar",
        "tar",
        &[
            "-c",
            "-f",
            out.to_str().unwrap(),
            "-C",
            tree.to_str().unwrap(),
            ".",
        ],
    );
    out.to_path_buf()
}

/// The two [`image_tree`]s of [`document`]'s images (kernel `k`, initrd
/// `i`), with their menu titles: (centos, ubuntu).
pub fn two_trees(dir: &Path, centos: &str, ubuntu: &str) -> (PathBuf, PathBuf) {
    (
        image_tree(dir, "centos", centos, b"k", b"i"),
        image_tree(dir, "ubuntu", ubuntu, b"k", b"i"),
    )
}

/// The command-line tests' two-image document: one 200 MiB disk `vda`,
/// centos (the default) on a 32 MiB root, ubuntu on the rest.
pub const SMALL_DOCUMENT: &str = r#"{
  "images": [
    {"name": "centos", "boot": true, "image_name": "centos-7.1.1503", "target": "/", "image_pull_url": "http://images.example.com/c.tar"},
    {"name": "ubuntu", "image_name": "ubuntu-14.04", "target": "/", "image_pull_url": "http://images.example.com/u.tar"}
  ],
  "partitions_policy": "clean",
  "partitions": [{
    "type": "disk", "id": {"type": "name", "value": "vda"}, "size": "200",
    "volumes": [
      {"type": "partition", "mount": "/", "images": ["centos"], "file_system": "ext4", "size": "32"},
      {"type": "partition", "mount": "/", "images": ["ubuntu"], "file_system": "ext4", "size": "remaining"}
    ]
  }]
}"#;

/// A small image tree at `dir/NAME` as the command-line tests give it:
/// a 6.1.0-test kernel and initrd, and os-release's `PRETTY_NAME` when
/// `pretty` is given. Returns `--image`'s value, `NAME=DIR`.
pub fn small_tree(dir: &Path, name: &str, pretty: Option<&str>) -> String {
    let root = dir.join(name);
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("boot")).unwrap();
    if let Some(pretty) = pretty {
        std::fs::write(
            root.join("etc/os-release"),
            format!("PRETTY_NAME=\"{pretty}\"\n"),
        )
        .unwrap();
    }
    std::fs::write(root.join("boot/vmlinuz-6.1.0-test"), b"kernel").unwrap();
    std::fs::write(root.join("boot/initrd.img-6.1.0-test"), b"initrd").unwrap();
    format!("{name}={}", root.display())
}

/// `document` written at `dir/provision.json`, and the two [`small_tree`]s
/// of its images with their titles: (provision, `centos=DIR`, `ubuntu=DIR`).
pub fn small_setup(
    dir: &Path,
    document: &str,
    centos: &str,
    ubuntu: &str,
) -> (PathBuf, String, String) {
    let provision = dir.join("provision.json");
    std::fs::write(&provision, document).unwrap();
    (
        provision,
        small_tree(dir, "centos", Some(centos)),
        small_tree(dir, "ubuntu", Some(ubuntu)),
    )
}

/// A kernel command line that names none of [`document`]'s images (its
/// root UUID is none of theirs): the deploy tests run "elsewhere".
pub const NOT_ON_THIS_DISK: &str =
    "BOOT_IMAGE=/vmlinuz root=UUID=00000000-0000-0000-0000-000000000000 ro";

/// `qemu-img convert -q -O FORMAT FROM TO` (the input's format detected).
pub fn qemu_img_convert(from: &Path, format: &str, to: &Path) -> PathBuf {
    output(
        "qemu-img",
        "qemu-utils",
        &[
            "convert",
            "-q",
            "-O",
            format,
            from.to_str().unwrap(),
            to.to_str().unwrap(),
        ],
    );
    to.to_path_buf()
}

/// What the deploy tests start from: [`two_image_disk`], the new ubuntu
/// ([`ubuntu_2`]), the disk's three partitions they look at, and a copy of
/// the disk before any deploy ([`snapshot`], `before.img`).
pub struct DeployScene {
    /// The plan of [`document`].
    pub plan: Plan,
    /// The disk image.
    pub disk: PathBuf,
    /// The ubuntu tree it was built from.
    pub ubuntu: PathBuf,
    /// The new ubuntu tree.
    pub new: PathBuf,
    /// The copy of the disk as built.
    pub before: PathBuf,
    /// centos's root partition.
    pub root_c: PartitionPlan,
    /// ubuntu's root partition.
    pub root_u: PartitionPlan,
    /// The shared volume.
    pub common: PartitionPlan,
}

/// The [`DeployScene`] in `dir`.
pub fn deploy_scene(dir: &Path) -> DeployScene {
    let TwoImageDisk {
        plan, disk, ubuntu, ..
    } = two_image_disk(dir);
    let new = ubuntu_2(dir);
    let before = snapshot(&disk, "before.img");
    DeployScene {
        root_c: partition(&plan, "root-centos").clone(),
        root_u: partition(&plan, "root-ubuntu").clone(),
        common: partition(&plan, "common").clone(),
        plan,
        disk,
        ubuntu,
        new,
        before,
    }
}

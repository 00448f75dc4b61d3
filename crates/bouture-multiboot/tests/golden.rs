//! Golden files for the fixture documents, and one test per validation rule.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use bouture_multiboot::{Plan, PlanOptions, Provision};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn seeded() -> PlanOptions {
    PlanOptions {
        uuid_seed: Some("golden".into()),
    }
}

fn plan_of(name: &str) -> Plan {
    let provision = Provision::from_json(&fixture(name)).unwrap();
    Plan::resolve(&provision, &seeded()).unwrap()
}

fn golden(name: &str, tag: &str) {
    let plan = plan_of(name);
    insta::assert_json_snapshot!(format!("{tag}_plan"), plan);
    for image in &plan.images {
        insta::assert_snapshot!(
            format!("{tag}_fstab_{}", image.name),
            plan.fstab(&image.name)
        );
    }
    let files = plan.default_boot_files();
    insta::assert_snapshot!(format!("{tag}_grub_cfg"), plan.grub_cfg(&files));
    insta::assert_snapshot!(
        format!("{tag}_grubenv"),
        String::from_utf8(plan.grubenv().to_vec()).unwrap()
    );
    insta::assert_json_snapshot!(format!("{tag}_boot_info"), plan.boot_info(&files));
}

#[test]
fn shared_common_fixture() {
    golden("provision.shared-common.json", "shared_common");
    let plan = plan_of("provision.shared-common.json");
    let disk = &plan.disks[0];
    let names: Vec<&str> = disk.partitions.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bios_grub",
            "grub_efi",
            "multiboot",
            "root-ubuntu",
            "root-centos",
            "common"
        ]
    );
    // 1 MiB, 24 MiB bios_grub, 16 MiB ESP, 100 MiB multiboot, then the volumes.
    let starts: Vec<u64> = disk
        .partitions
        .iter()
        .map(|p| p.offset_bytes >> 20)
        .collect();
    assert_eq!(starts, [1, 25, 41, 141, 4141, 9141]);
    // The shared volume is in both fstabs, with the same UUID.
    let common = disk.partitions[5]
        .filesystem
        .as_ref()
        .unwrap()
        .uuid
        .to_string();
    assert!(plan.fstab("centos").contains(&common));
    assert!(plan.fstab("ubuntu").contains(&common));
}

#[test]
fn two_disks_fixture() {
    golden("provision.two-disks.json", "two_disks");
    let plan = plan_of("provision.two-disks.json");
    let names: Vec<Vec<&str>> = plan
        .disks
        .iter()
        .map(|d| d.partitions.iter().map(|p| p.name.as_str()).collect())
        .collect();
    // bios_grub on both disks, multiboot on the first only.
    assert_eq!(
        names,
        [
            vec!["bios_grub", "grub_efi", "multiboot", "root-centos"],
            vec!["bios_grub", "grub_efi", "root-ubuntu"]
        ]
    );
}

#[test]
fn grubenv_matches_grub_editenv() {
    // The same bytes as grub-editenv 2.06 `create` then `set saved_entry=...`.
    let plan = plan_of("provision.shared-common.json");
    let block = plan.grubenv();
    assert_eq!(block.len(), 1024);
    let editenv = which("grub-editenv");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grubenv");
    for args in [vec!["create"], vec!["set", "saved_entry=image-centos"]] {
        let status = std::process::Command::new(&editenv)
            .arg(&path)
            .args(&args)
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert_eq!(std::fs::read(&path).unwrap(), block.to_vec());
    let env = bouture_multiboot::GrubEnv::decode(&block).unwrap();
    assert_eq!(env.get("saved_entry"), Some("image-centos"));
}

fn which(tool: &str) -> std::path::PathBuf {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
    {
        let path = std::path::Path::new(dir).join(tool);
        if path.is_file() {
            return path;
        }
    }
    panic!(
        "{tool} not found: run `source scripts/setup.d/peers.sh multiboot` as root (apt-get install grub2-common)"
    );
}

#[test]
fn invalid_fixture_reports_bareons_errors_then_the_unknown_image() {
    let errors = Provision::from_json(&fixture("provision.invalid.json")).unwrap_err();
    let expected: serde_json::Value =
        serde_json::from_slice(&fixture("provision.invalid.expected-errors.json")).unwrap();
    let text = errors.to_string();
    let bareon = expected["bareon_message"].as_str().unwrap();
    assert!(text.starts_with(bareon), "{text}");
    assert_eq!(errors.errors.len(), 7, "{text}");
    for (error, want) in errors
        .errors
        .iter()
        .zip(expected["bareon_errors"].as_array().unwrap())
    {
        assert_eq!(serde_json::to_value(&error.path).unwrap(), want["path"]);
        assert_eq!(error.message, want["message"].as_str().unwrap());
    }
    let unknown = &errors.errors[6];
    assert_eq!(
        serde_json::to_value(&unknown.path).unwrap(),
        expected["not_reported_by_bareon"][0]["path"]
    );
    insta::assert_snapshot!("invalid_fixture", text);
}

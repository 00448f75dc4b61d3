//! One test per validation rule: the message and the path of each.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::too_many_lines
)]

use bouture_multiboot::{Plan, PlanOptions, Provision};
use serde_json::{Value, json};

fn valid() -> Value {
    json!({
        "images": [
            {"name": "centos", "boot": true, "target": "/", "image_pull_url": "http://x/c"},
            {"name": "ubuntu", "boot": false, "target": "/", "image_pull_url": "http://x/u"}
        ],
        "partitions": [{
            "type": "disk", "id": {"type": "name", "value": "vda"}, "size": "4000",
            "volumes": [
                {"type": "partition", "mount": "/", "images": ["centos"], "file_system": "ext4", "size": "1000"},
                {"type": "partition", "mount": "/", "images": ["ubuntu"], "file_system": "ext4", "size": "1000"}
            ]
        }]
    })
}

/// The error lines (`path:message`) of a document, plan included.
fn errors(doc: &Value) -> Vec<String> {
    let text = serde_json::to_vec(doc).unwrap();
    match Provision::from_json(&text) {
        Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
        Ok(provision) => match Plan::resolve(&provision, &PlanOptions::default()) {
            Err(errors) => errors.errors.iter().map(ToString::to_string).collect(),
            Ok(_) => Vec::new(),
        },
    }
}

fn assert_error(doc: &Value, expected: &str) {
    let found = errors(doc);
    assert_eq!(found, [expected.to_owned()], "{found:#?}");
}

#[test]
fn the_base_document_is_valid() {
    assert_eq!(errors(&valid()), Vec::<String>::new());
}

#[test]
fn duplicate_keys_are_refused() {
    let text = br#"{"images": [], "images": [], "partitions": []}"#;
    let error = Provision::from_json(text).unwrap_err().to_string();
    assert!(error.contains("duplicate key \"images\""), "{error}");
}

#[test]
fn not_an_object() {
    assert_error(&json!([1]), "[...] is not of type 'object'");
}

#[test]
fn required_top_level_keys() {
    assert_eq!(
        errors(&json!({})),
        [
            "'partitions' is a required property",
            "'images' is a required property"
        ]
    );
}

#[test]
fn wrong_types_use_jsonschema_messages() {
    let mut doc = valid();
    doc["partitions"][0]["size"] = json!(4000);
    doc["images"][1]["boot"] = json!("no");
    assert_eq!(
        errors(&doc),
        [
            "images:1:boot:'no' is not valid under any of the given schemas",
            "partitions:0:size:4000 is not of type 'string'",
        ]
    );
}

#[test]
fn boot_may_be_an_integer() {
    let mut doc = valid();
    doc["images"][0]["boot"] = json!(1);
    doc["images"][1]["boot"] = json!(0);
    assert_eq!(errors(&doc), Vec::<String>::new());
}

#[test]
fn unknown_policy() {
    let mut doc = valid();
    doc["partitions_policy"] = json!("wipe");
    assert_error(
        &doc,
        "partitions_policy:'wipe' is not one of ['verify', 'clean', 'nailgun_legacy']",
    );
}

#[test]
fn volume_without_type_and_unknown_space_type() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][0]
        .as_object_mut()
        .unwrap()
        .remove("type");
    doc["partitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "raid0"}));
    assert_eq!(
        errors(&doc),
        [
            "partitions:0:volumes:0: could not be validated, 'type' is a required property",
            "partitions:1: could not be validated, 'raid0' is not one of ['disk', 'vg']",
        ]
    );
}

#[test]
fn empty_partitions() {
    let mut doc = valid();
    doc["partitions"] = json!([]);
    assert_error(&doc, "partitions:[] is too short");
}

#[test]
fn no_disk_at_all() {
    let mut doc = valid();
    doc["partitions"] = json!([{"type": "vg", "id": "os", "volumes": []}]);
    let found = errors(&doc);
    assert!(
        found.contains(
            &"partitions:Invalid partition schema: You must specify at least one disk.".to_owned()
        ),
        "{found:#?}"
    );
}

#[test]
fn bad_size() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][0]["size"] = json!("12 parsecs");
    let found = errors(&doc);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("partitions:0:volumes:0:size:'12 parsecs' is not a size"),
        "{found:#?}"
    );
}

#[test]
fn two_remaining_on_one_disk() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][0]["size"] = json!("remaining");
    doc["partitions"][0]["volumes"][1]["size"] = json!("remaining");
    assert_error(
        &doc,
        "partitions:0:Multiple requests on \"remaining\" space. disk: vda, volumes: volumes:0, volumes:1",
    );
}

#[test]
fn relative_disk_size() {
    let mut doc = valid();
    doc["partitions"][0]["size"] = json!("50%");
    assert_error(
        &doc,
        "partitions:0:size:a disk's size must be absolute (not '%' nor 'remaining')",
    );
}

#[test]
fn volumes_larger_than_the_disk() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][1]["size"] = json!("3000");
    assert_error(
        &doc,
        "partitions:0:the volumes need 4000 MiB but disk 'vda' has 3858 MiB left (4000 MiB, minus 142 MiB of GPT and implicit partitions)",
    );
}

#[test]
fn duplicate_disks() {
    let mut doc = valid();
    let disk = doc["partitions"][0].clone();
    let mut second = disk.clone();
    second["volumes"] = json!([]);
    doc["partitions"] = json!([disk, second]);
    assert_error(
        &doc,
        "partitions:1:id:duplicate disk 'vda' (also partitions:0)",
    );
}

#[test]
fn two_boot_volumes_on_a_disk() {
    let mut doc = valid();
    let volumes = doc["partitions"][0]["volumes"].as_array_mut().unwrap();
    volumes.push(json!({"type": "boot", "size": "200"}));
    volumes.push(json!({"type": "boot", "size": "200"}));
    let found = errors(&doc);
    assert!(
        found.contains(&"partitions:0:Multiple bootable partitions on vda".to_owned()),
        "{found:#?}"
    );
}

#[test]
fn lvm_rules() {
    let mut doc = valid();
    let volumes = doc["partitions"][0]["volumes"].as_array_mut().unwrap();
    volumes.push(json!({"type": "pv", "size": "100", "vg": "missing"}));
    doc["partitions"].as_array_mut().unwrap().push(json!({
        "type": "vg", "id": "data", "volumes": [
            {"type": "lv", "name": "a", "size": "remaining"},
            {"type": "lv", "name": "b", "size": "remaining"}
        ]
    }));
    assert_eq!(
        errors(&doc),
        [
            "partitions:0:volumes:2:Following LVMpv refer to missing VG: \"missing\"",
            "partitions:Following LVMvg have no any PV: \"data\"",
            "partitions:1:Multiple requests on \"remaining\" space. lvm-vg: data, volumes: volumes:0, volumes:1",
        ]
    );
}

#[test]
fn lvm_is_not_laid_out() {
    let mut doc = valid();
    let volumes = doc["partitions"][0]["volumes"].as_array_mut().unwrap();
    volumes.push(json!({"type": "pv", "size": "100", "vg": "data"}));
    doc["partitions"].as_array_mut().unwrap().push(json!({
        "type": "vg", "id": "data", "volumes": [{"type": "lv", "name": "a", "size": "50"}]
    }));
    let found = errors(&doc);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with("partitions:1:volume group 'data': LVM is validated but not laid out"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("partitions:0:volumes:2:pv volumes are validated but not laid out"),
        "{found:#?}"
    );
}

#[test]
fn unknown_image_reference() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][1]["images"] = json!(["ubuntuu"]);
    let found = errors(&doc);
    assert_eq!(
        found[0],
        "partitions:0:volumes:1:images:0:Try to claim not existing operating systems: \"ubuntuu\" (the images are \"centos\", \"ubuntu\")"
    );
}

#[test]
fn duplicate_image_names() {
    let mut doc = valid();
    doc["images"][1]["name"] = json!("centos");
    doc["partitions"][0]["volumes"][1]["images"] = json!(["centos"]);
    let found = errors(&doc);
    assert!(
        found.contains(&"images:1:name:duplicate image name 'centos' (also images:0)".to_owned()),
        "{found:#?}"
    );
}

#[test]
fn unusable_image_name() {
    let mut doc = valid();
    doc["images"][1]["name"] = json!("os 2");
    doc["partitions"][0]["volumes"][1]["images"] = json!(["os 2"]);
    let found = errors(&doc);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("images:1:name:'os 2' is not a usable image name"),
        "{found:#?}"
    );
}

#[test]
fn utility_images_are_refused() {
    let mut doc = valid();
    doc["images"][1]["target"] = json!("/usr/share/utils");
    let found = errors(&doc);
    assert!(
        found[0].starts_with("images:1:target:'/usr/share/utils': only OS images"),
        "{found:#?}"
    );
}

#[test]
fn exactly_one_boot_image() {
    let mut doc = valid();
    doc["images"][0]["boot"] = json!(false);
    assert_error(
        &doc,
        "images:exactly one image must have boot: true, found 0",
    );
    doc["images"][0]["boot"] = json!(true);
    doc["images"][1]["boot"] = json!(true);
    assert_error(
        &doc,
        "images:exactly one image must have boot: true, found 2 (centos, ubuntu)",
    );
}

#[test]
fn every_image_owns_a_root() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][1]["mount"] = json!("/srv");
    assert_error(
        &doc,
        "images:1:Error: device with / mountpoint has not been found (image 'ubuntu' owns no '/' filesystem)",
    );
}

#[test]
fn mount_points_unique_per_image() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][1]["images"] = json!(["centos", "ubuntu"]);
    assert_error(
        &doc,
        "partitions:0:volumes:1:mount:'/' is already mounted for image 'centos' by partitions:0:volumes:0",
    );
}

#[test]
fn default_binding_is_the_first_image() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][1]
        .as_object_mut()
        .unwrap()
        .remove("images");
    let found = errors(&doc);
    assert!(found.contains(&"partitions:0:volumes:1:mount:'/' is already mounted for image 'centos' by partitions:0:volumes:0".to_owned()), "{found:#?}");
}

#[test]
fn separate_boot_is_refused() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"].as_array_mut().unwrap().push(
        json!({"type": "partition", "mount": "/boot", "images": ["centos"], "file_system": "ext4", "size": "100"}),
    );
    let found = errors(&doc);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("partitions:0:volumes:2:mount:a separate /boot is not supported"),
        "{found:#?}"
    );
    doc["partitions"][0]["volumes"][2] = json!({"type": "boot", "size": "100"});
    let found = errors(&doc);
    assert!(
        found[0].starts_with("partitions:0:volumes:2:a separate /boot is not supported"),
        "{found:#?}"
    );
}

#[test]
fn bad_mount_points() {
    for mount in ["usr", "/usr/", "/a/../b", "/a b"] {
        let mut doc = valid();
        doc["partitions"][0]["volumes"]
            .as_array_mut()
            .unwrap()
            .push(
                json!({"type": "partition", "mount": mount, "file_system": "ext4", "size": "10"}),
            );
        let found = errors(&doc);
        assert_eq!(found.len(), 1, "{mount}: {found:#?}");
        assert!(
            found[0].starts_with(&format!(
                "partitions:0:volumes:2:mount:'{mount}' is not a mount point"
            )),
            "{found:#?}"
        );
    }
}

#[test]
fn bad_kernel_params_and_fstab_options() {
    let mut doc = valid();
    doc["deploy_data"] = json!({"kernel_params": "quiet; reboot"});
    doc["partitions"][0]["volumes"][0]["fstab_options"] = json!("a b");
    assert_eq!(
        errors(&doc),
        [
            "deploy_data:kernel_params:kernel parameters must be printable ASCII without quotes, backslashes, '$', ';', '{', '}', '#' or newlines (they go into grub.cfg)",
            "partitions:0:volumes:0:fstab_options:fstab options must be one word of printable ASCII",
        ]
    );
}

#[test]
fn every_error_at_once() {
    let mut doc = valid();
    doc["partitions_policy"] = json!("wipe");
    doc["images"][0].as_object_mut().unwrap().remove("target");
    doc["partitions"][0]["volumes"][1]["images"] = json!(["nope"]);
    let text = Provision::from_json(&serde_json::to_vec(&doc).unwrap())
        .unwrap_err()
        .to_string();
    insta::assert_snapshot!(text);
}

#[test]
fn gpt_names_longer_than_36_utf16_units_are_refused_by_the_plan() {
    let mut doc = valid();
    doc["partitions"][0]["volumes"][0]["name"] = json!("a".repeat(37));
    assert_error(
        &doc,
        &format!(
            "partitions:0:volumes:0:partition name '{}' is 37 UTF-16 units long; a GPT name holds at most 36",
            "a".repeat(37)
        ),
    );
    doc["partitions"][0]["volumes"][0]["name"] = json!("a".repeat(36));
    assert_eq!(errors(&doc), Vec::<String>::new());
    // A long mount point's default name is caught too.
    let mut doc = valid();
    let long = format!("/srv/{}", "d".repeat(40));
    doc["partitions"][0]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "partition", "mount": long, "images": ["centos"], "file_system": "ext4", "size": "10"}));
    let found = errors(&doc);
    assert!(
        found.len() == 1 && found[0].contains("40 UTF-16 units long"),
        "{found:#?}"
    );
}

#[test]
fn more_than_128_partitions_are_refused_by_the_plan() {
    let mut doc = valid();
    doc["partitions"][0]["size"] = json!("8000");
    let volumes = doc["partitions"][0]["volumes"].as_array_mut().unwrap();
    for n in 0..124 {
        volumes.push(json!({"type": "partition", "mount": format!("/d{n}"), "images": ["centos"], "file_system": "ext4", "size": "1"}));
    }
    // bios_grub + esp + multiboot + 2 roots + 124 = 129.
    assert_error(
        &doc,
        "partitions:0:volumes:disk 'vda' would have 129 partitions (with the implicit ones); a GPT holds at most 128",
    );
    doc["partitions"][0]["volumes"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert_eq!(errors(&doc), Vec::<String>::new());
}

#[test]
fn a_disk_label_clashing_with_the_multiboot_partition_is_refused() {
    for key in ["disk_label", "name"] {
        let mut doc = valid();
        doc["partitions"][0]["volumes"][1][key] = json!("multiboot");
        assert_error(
            &doc,
            "partitions:0:volumes:1:partition name 'multiboot' is reserved for the multiboot partition bouture adds (the boot switch finds it by that name); choose another disk_label or name",
        );
    }
}

#[test]
fn fstab_lists_parents_first_whatever_the_document_order() {
    let mut doc = valid();
    let volumes = doc["partitions"][0]["volumes"].as_array_mut().unwrap();
    let root = volumes.remove(0);
    volumes.insert(0, json!({"type": "partition", "mount": "/var/log", "images": ["centos"], "file_system": "ext4", "size": "10"}));
    volumes.insert(1, json!({"type": "partition", "mount": "none", "images": ["centos"], "file_system": "swap", "size": "10"}));
    volumes.insert(2, json!({"type": "partition", "mount": "/var", "images": ["centos"], "file_system": "ext4", "size": "10"}));
    volumes.push(root);
    let provision = Provision::from_json(&serde_json::to_vec(&doc).unwrap()).unwrap();
    let plan = Plan::resolve(&provision, &PlanOptions::default()).unwrap();
    let mounts: Vec<String> = plan
        .fstab("centos")
        .lines()
        .skip(1)
        .map(|l| l.split(' ').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(mounts, ["/", "/var", "/var/log", "swap"]);
}

//! Graft plans of nodes built in temporary directories.

use std::fs;
use std::path::{Path, PathBuf};

use bouture_core::{Inventory, NodeConfig};
use bouture_graft::{GraftPlan, Options, with_monitor_url};
use serde_json::{Value, json};

/// bouture-core's fixtures (a `.slapos-resource`).
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../bouture-core/tests/fixtures")
}

use bouture_test_support::python::python;

/// A node whose partitions hold these `bouture.json` values (`None`: no file).
fn node(root: &Path, partitions: &[(u32, Option<Value>)]) -> NodeConfig {
    let resource = fs::read(fixtures().join("slapos-resource.example")).unwrap();
    for (number, bouture) in partitions {
        let dir = root.join(format!("srv/slappart{number}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".slapos-resource"), &resource).unwrap();
        if let Some(value) = bouture {
            fs::write(dir.join("bouture.json"), value.to_string()).unwrap();
        }
    }
    let text = format!(
        "[slapos]\ncomputer_id = COMP-P\ninstance_root = {}/srv\n",
        root.display()
    );
    NodeConfig::parse(root.join("slapos.cfg"), &text).unwrap()
}

fn instance(title: &str, shared: &[&str]) -> Value {
    json!({
        "software-url": format!("https://sr.example/{title}.cfg"),
        "software-type": "default",
        "instance-title": title,
        "instance-state": "started",
        "config": {"_": "{\"x\": 1}"},
        "shared-list": shared.iter().map(|t| json!({
            "slave-title": t, "slave-reference": t, "parameter-list": {}, "slap-software-type": "default"
        })).collect::<Vec<_>>(),
    })
}

fn plan_of(root: &Path, partitions: &[(u32, Option<Value>)], options: &Options) -> GraftPlan {
    let config = node(root, partitions);
    GraftPlan::build(&Inventory::scan(&config).unwrap(), options)
}

#[test]
fn numeric_order_and_skips() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(
        dir.path(),
        &[
            (10, Some(instance("ten", &["_shared ten"]))),
            (2, Some(instance("two", &[]))),
            (0, None),
            (3, Some(json!({"instance-title": "broken"}))),
        ],
        &Options::default(),
    );
    let planned: Vec<&str> = plan.partitions.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(planned, ["slappart2", "slappart10"]);
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].id.as_str(), "slappart3");
    assert!(
        plan.skipped[0]
            .reason
            .to_string()
            .ends_with("field `instance-state` is missing")
    );
    assert_eq!(plan.partitions[1].shared_instances[0].title, "shared ten");
    assert_eq!(plan.partitions[1].interface, "slaptap3");
    assert_eq!(
        plan.software_releases,
        ["https://sr.example/two.cfg", "https://sr.example/ten.cfg"]
    );
}

#[test]
fn two_partitions_claiming_one_title_are_both_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(
        dir.path(),
        &[
            (1, Some(instance("same", &[]))),
            (2, Some(instance("same", &[]))),
            (3, Some(instance("a", &["sim"]))),
            (4, Some(instance("b", &["sim"]))),
            (5, Some(instance("ok", &[]))),
        ],
        &Options::default(),
    );
    let planned: Vec<&str> = plan.partitions.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(planned, ["slappart5"]);
    let reasons: Vec<String> = plan
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.id, s.reason))
        .collect();
    insta::assert_debug_snapshot!(reasons);
}

#[test]
fn monitor_url_goes_inside_the_json_string_or_beside_plain_keys() {
    let plain_keys = json!({"a": "1", "b": 2});
    let updated = with_monitor_url(plain_keys.as_object().unwrap(), "https://m/").unwrap();
    assert_eq!(
        Value::Object(updated),
        json!({"a": "1", "b": 2, "monitor-interface-url": "https://m/"})
    );

    let bad = json!({"_": "not json"});
    assert!(
        with_monitor_url(bad.as_object().unwrap(), "u")
            .unwrap_err()
            .to_string()
            .starts_with("is not a JSON document")
    );
    let dir = tempfile::tempdir().unwrap();
    let mut broken = instance("x", &[]);
    broken["config"] = json!({"_": "[1, 2]"});
    let skipped_plan = plan_of(
        dir.path(),
        &[(1, Some(broken))],
        &Options::with_monitor_url("u"),
    );
    assert!(skipped_plan.partitions.is_empty());
    assert!(
        skipped_plan.skipped[0]
            .reason
            .to_string()
            .contains("field `config._` is not a JSON object")
    );
}

/// The inner JSON string is re-serialised byte for byte as Python's
/// `json.dumps` does after `json.loads` (what the reference bouture sends).
#[test]
fn monitor_url_serialisation_matches_python() {
    let inner = r#"{"cell1": {"tx_power_dbm": 20, "dl_frequency": 3500.0, "small": 1e-05, "big": 1e+16, "neg": -0.5, "exp": 1.5e300},
        "text": "Caf\u00e9 & <tag> \"q\" 'single' \\ back\nline\ttab \u0001 \u007f \ud83d\ude00", "list": [true, false, null, [], {}],
        "websocket_url_ipv6": true, "dup": 1, "dup": 2}"#;
    let config = json!({ "_": inner });
    let ours =
        with_monitor_url(config.as_object().unwrap(), "https://[2001:db8::1]:4001/é").unwrap();
    let script = "import json,sys\n\
        inner=json.loads(sys.stdin.read())\n\
        inner['monitor-interface-url']=sys.argv[1]\n\
        sys.stdout.write(json.dumps(inner))";
    let mut child = python()
        .args(["-c", script, "https://[2001:db8::1]:4001/é"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), inner.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        ours["_"].as_str().unwrap(),
        String::from_utf8(output.stdout).unwrap()
    );
}

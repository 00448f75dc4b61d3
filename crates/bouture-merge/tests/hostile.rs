//! Inputs that lie, or that Ganeti reads differently from a naive parser:
//! each class is refused before anything is written (the message names the
//! file, the object and the rule; inputs are untouched), or, for our own
//! port bookkeeping, repaired into an output that Ganeti's verifier accepts
//! with every one of our objects unchanged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod common;

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use bouture_merge::{Error, GroupStrategy, Options, PortRange, Report, merge_files};
use common::generator::{Spec, generate, uuid};
use common::{assert_ganeti_valid, first, mutate};
use serde_json::{Value, json};

/// Inputs in a temporary directory; checks they are never modified.
struct Case {
    dir: tempfile::TempDir,
    inputs: Vec<(PathBuf, Vec<u8>)>,
    output: PathBuf,
}

impl Case {
    fn new(ours: &str, theirs: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let inputs = [("ours.data", ours), ("theirs.data", theirs)]
            .into_iter()
            .map(|(name, text)| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).unwrap();
                (path, text.as_bytes().to_vec())
            })
            .collect();
        let output = dir.path().join("merged.data");
        Self {
            dir,
            inputs,
            output,
        }
    }

    fn ours(&self) -> &Path {
        &self.inputs[0].0
    }

    fn theirs(&self) -> &Path {
        &self.inputs[1].0
    }

    fn merge(&self, options: &Options) -> Result<Report, Error> {
        merge_files(self.ours(), &[self.theirs()], Some(&self.output), options)
    }

    fn assert_inputs_untouched(&self) {
        for (path, bytes) in &self.inputs {
            assert_eq!(
                &std::fs::read(path).unwrap(),
                bytes,
                "{} changed",
                path.display()
            );
        }
    }

    /// The merge is refused with a message containing every needle; nothing
    /// is written, the inputs are untouched. Returns the message.
    fn refused(&self, options: &Options, needles: &[&str]) -> String {
        let error = self.merge(options).expect_err("the merge must be refused");
        let message = error.to_string();
        for needle in needles {
            assert!(message.contains(needle), "{needle:?} not in {message:?}");
        }
        let names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "something was written: {names:?}");
        self.assert_inputs_untouched();
        message
    }
}

fn options() -> Options {
    Options {
        groups: Some(GroupStrategy::Rename),
        now: Some(1_800_000_000.5),
        ..Options::default()
    }
}

fn small(index: u32) -> String {
    generate(&Spec::new(index, 6, 30))
}

// ---------------------------------------------------------------------------
// Map key against object uuid.

#[test]
fn an_object_stored_under_another_uuid_is_refused_in_either_file() {
    let ours: Value = serde_json::from_str(&small(1)).unwrap();
    let our_network = uuid(1, 6, 0);
    let our_master = ours["cluster"]["master_node"].as_str().unwrap().to_owned();
    // Their network stored under our network's key; their offline node under our master's.
    for (section, key) in [
        ("networks", our_network.as_str()),
        ("nodes", our_master.as_str()),
    ] {
        let theirs = mutate(&small(2), |v| {
            let object = first(v, section).clone();
            let own = object["uuid"].as_str().unwrap().to_owned();
            v[section].as_object_mut().unwrap().remove(&own);
            v[section][key] = object;
        });
        let case = Case::new(&small(1), &theirs);
        case.refused(
            &options(),
            &[
                "theirs.data:",
                &format!("is stored under the key '{key}' but its uuid is"),
                &format!("the key of every object in '{section}' must be its uuid"),
            ],
        );
    }
    // In our own file too.
    let ours = mutate(&small(1), |v| {
        let disk = v["disks"]
            .as_object_mut()
            .unwrap()
            .remove(&uuid(1, 4, 2))
            .unwrap();
        v["disks"]["not-its-uuid"] = disk;
    });
    Case::new(&ours, &small(2)).refused(
        &options(),
        &[
            "ours.data:",
            "disks[\"not-its-uuid\"]",
            "is stored under the key 'not-its-uuid'",
        ],
    );
}

// ---------------------------------------------------------------------------
// Duplicate keys, at any level.

#[test]
fn duplicate_keys_are_refused_wherever_they_are() {
    let theirs = small(2);
    // "version" twice: 3.0 first (what serde would keep), 2.16 last (what Python keeps).
    let doubled_version = theirs.replacen('{', "{\"version\": 3000000, ", 1).replacen(
        "\"version\": 3000000",
        "\"version\": 3000000, \"version\": 2160000",
        1,
    );
    let message = Case::new(&small(1), &doubled_version).refused(
        &options(),
        &["theirs.data:1:", "the key \"version\" appears twice"],
    );
    assert!(message.contains("Python keeps the last"), "{message}");
    // An empty "instances" before the real one.
    let empty_first = theirs.replacen('{', "{\"instances\": {}, ", 1);
    Case::new(&small(1), &empty_first).refused(
        &options(),
        &[
            "theirs.data:1:",
            "instances: the key \"instances\" appears twice",
        ],
    );
    // Deep inside an object: a node's ndparams, with an escaped spelling.
    let node = uuid(2, 1, 3);
    let deep = mutate(&theirs, |v| {
        v["nodes"][&node]["ndparams"] = json!({"probe_key": 1});
    })
    .replace("\"probe_key\":1", "\"probe_key\":1,\"probe\\u005fkey\":2");
    Case::new(&small(1), &deep).refused(
        &options(),
        &[
            "theirs.data:1:",
            &format!("nodes[\"{node}\"].ndparams[\"probe\\u005fkey\"]"),
            "the key \"probe_key\" appears twice",
        ],
    );
}

// ---------------------------------------------------------------------------
// Strings written with escapes: compared as Python decodes them.

/// `text` with every character written as a `\uXXXX` escape.
fn escaped(text: &str) -> String {
    use std::fmt::Write as _;
    text.chars().fold(String::new(), |mut out, c| {
        let _ = write!(out, "\\u{:04x}", u32::from(c));
        out
    })
}

#[test]
fn strings_written_with_escapes_are_compared_as_ganeti_reads_them() {
    // Their instance takes the name of one of ours, spelled with escapes only:
    // Ganeti reads the same name, so it is a clash.
    let ours: Value = serde_json::from_str(&small(1)).unwrap();
    let our_name = ours["instances"][uuid(1, 3, 5)]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let theirs = mutate(&small(2), |v| {
        v["instances"][uuid(2, 3, 0)]["name"] = json!(our_name);
    })
    .replace(
        &format!("\"{our_name}\""),
        &format!("\"{}\"", escaped(&our_name)),
    );
    assert!(!theirs.contains(&our_name));
    Case::new(&small(1), &theirs).refused(
        &options(),
        &[&format!(
            "instance name {our_name} is used by instance '{our_name}'"
        )],
    );

    // Every reference to their master node (its key, its uuid, the cluster's
    // master_node, instances' primary_node, DRBD logical_ids) spelled with
    // escapes: the references hold, the merge goes through, and the output
    // (the node under its decoded key) is valid for Ganeti.
    let master = uuid(2, 1, 0);
    let theirs = small(2).replace(
        &format!("\"{master}\""),
        &format!("\"{}\"", escaped(&master)),
    );
    assert!(!theirs.contains(&master));
    let case = Case::new(&small(1), &theirs);
    let report = case.merge(&options()).unwrap();
    assert_eq!(report.merged[0].nodes_added.len(), 6);
    let merged: Value = serde_json::from_slice(&std::fs::read(&case.output).unwrap()).unwrap();
    assert_eq!(merged["nodes"][&master]["uuid"], json!(master));
    assert_eq!(merged["nodes"][&master]["offline"], json!(true));
    assert_ganeti_valid(&[&case.output]);
    case.assert_inputs_untouched();
}

// ---------------------------------------------------------------------------
// Our own port bookkeeping.

#[test]
fn our_port_bookkeeping_is_repaired_and_said_so() {
    // Generated clusters use ports from 11000 up; A's highest used port is
    // set below the ports its objects use, and its pool holds a port in use,
    // a port twice and a port outside the range.
    let a_value: Value = serde_json::from_str(&small(1)).unwrap();
    let in_use = a_value["disks"][uuid(1, 4, 0)]["logical_id"][2]
        .as_u64()
        .unwrap();
    let highest = a_value["cluster"]["highest_used_port"].as_u64().unwrap();
    let a = mutate(&small(1), |v| {
        v["cluster"]["highest_used_port"] = json!(11000);
        v["cluster"]["tcpudp_port_pool"] = json!([in_use, 13000, 13000, 40000]);
    });
    let case = Case::new(&a, &small(2));
    let report = case.merge(&options()).unwrap();
    case.assert_inputs_untouched();
    let fields: Vec<(&str, &[u64])> = report
        .repairs
        .iter()
        .map(|r| (r.field.as_str(), r.ports.as_slice()))
        .collect();
    assert_eq!(
        fields,
        [
            ("tcpudp_port_pool", &[13000][..]),
            ("tcpudp_port_pool", &[in_use][..]),
            ("tcpudp_port_pool", &[40000][..]),
            ("highest_used_port", &[13000][..]),
        ],
        "{:#?}",
        report.repairs
    );
    // The fact the text report words (bouture-cli renders it).
    assert!(report.repairs.iter().any(|repair| repair.message.contains(
        "repaired: our highest_used_port 11000 is below port 13000, which our cluster uses or lists"
    )));
    let merged: Value =
        serde_json::from_str(&std::fs::read_to_string(&case.output).unwrap()).unwrap();
    // No new port is one of ours, none is outside the range, none twice.
    let new: Vec<u64> = report.port_changes.iter().map(|c| c.new).collect();
    assert_eq!(new[0], 13000, "the usable pool port comes first");
    assert!(highest < 13000);
    assert!(new.iter().skip(1).all(|p| *p > 13000), "{new:?}");
    assert!(new.iter().all(|p| (11000..=14999).contains(p)), "{new:?}");
    assert_eq!(merged["cluster"]["tcpudp_port_pool"], json!([]));
    // Ganeti's verifier accepts it, and our objects are unchanged.
    assert_ganeti_valid(&[&case.output]);
    for section in ["nodes", "instances", "disks", "networks", "nodegroups"] {
        for (key, object) in a_value[section].as_object().unwrap() {
            assert_eq!(&merged[section][key], object, "our {section} {key} changed");
        }
    }
}

#[test]
fn a_port_used_twice_by_our_objects_is_refused() {
    let a = mutate(&small(1), |v| {
        let port = v["disks"][uuid(1, 4, 0)]["logical_id"][2].clone();
        v["disks"][uuid(1, 4, 2)]["logical_id"][2] = port;
    });
    Case::new(&a, &small(2)).refused(
        &options(),
        &["ours.data:", "uses port 11000, which", "uses too"],
    );
}

// ---------------------------------------------------------------------------
// References Ganeti's loader and verifier rely on.

#[test]
fn broken_references_are_refused_in_either_file() {
    type Change = Box<dyn Fn(&mut Value)>;
    let instance = uuid(2, 3, 4);
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "disk absent from disks",
            Box::new(|v| {
                v["instances"][uuid(2, 3, 4)]["disks"] =
                    json!(["00000000-0000-4000-8000-00000000dead"]);
            }),
            "names the disk '00000000-0000-4000-8000-00000000dead', which is not in 'disks'",
        ),
        (
            "one DRBD disk attached to two instances",
            Box::new(|v| {
                let disks = v["instances"][uuid(2, 3, 0)]["disks"].clone();
                v["instances"][uuid(2, 3, 4)]["disks"] = disks;
            }),
            "which instance 'inst0.c2.example.com' names too",
        ),
        (
            "primary node missing",
            Box::new(|v| {
                v["instances"][uuid(2, 3, 4)]["primary_node"] = json!("nowhere");
            }),
            "its primary_node 'nowhere' is not one of the nodes",
        ),
    ];
    for (what, change, needle) in cases {
        let theirs = mutate(&small(2), |v| change(v));
        let message = Case::new(&small(1), &theirs).refused(&options(), &["theirs.data:", needle]);
        if what != "one DRBD disk attached to two instances" {
            assert!(
                message.contains(&format!("(uuid {instance})")),
                "{what}: {message}"
            );
        }
    }
    // A DRBD disk whose secondary node does not exist, in our file.
    let ours = mutate(&small(1), |v| {
        v["disks"][uuid(1, 4, 0)]["logical_id"][1] = json!("gone");
    });
    Case::new(&ours, &small(2)).refused(
        &options(),
        &["ours.data:", "its logical_id names the node 'gone'"],
    );
    // A node in a group that does not exist, and a master that is not a node.
    let ours = mutate(&small(1), |v| first(v, "nodes")["group"] = json!("nogroup"));
    Case::new(&ours, &small(2)).refused(
        &options(),
        &[
            "ours.data:",
            "its group 'nogroup' is not one of the node groups",
        ],
    );
    let theirs = mutate(&small(2), |v| v["cluster"]["master_node"] = json!("nobody"));
    Case::new(&small(1), &theirs).refused(
        &options(),
        &[
            "theirs.data:",
            "cluster 'c2.example.com': its master_node 'nobody'",
        ],
    );
}

#[test]
fn nesting_deeper_than_ganeti_can_load_is_refused() {
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let theirs = mutate(&small(2), |v| {
        v["cluster"]["beparams"]["default"]["x"] = json!(0);
    })
    .replacen("\"x\":0", &format!("\"x\":{deep}"), 1);
    Case::new(&small(1), &theirs).refused(
        &options(),
        &[
            "theirs.data:1:",
            "cluster.beparams.default.x",
            "nested more than 64 levels deep",
        ],
    );
}

// ---------------------------------------------------------------------------
// Special files.

fn mkfifo(path: &Path) {
    bouture_test_support::mkfifo(path).unwrap();
}

#[test]
fn special_files_are_refused_as_inputs_without_blocking_or_reading() {
    let case = Case::new(&small(1), &small(2));
    let fifo = case.dir.path().join("fifo.data");
    mkfifo(&fifo);
    let sparse = case.dir.path().join("sparse.data");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    for (input, needle) in [
        (fifo.as_path(), "is a FIFO, not a regular file"),
        (
            Path::new("/dev/zero"),
            "is a character device, not a regular file",
        ),
        (sparse.as_path(), "is larger than 268435456 bytes"),
    ] {
        let started = std::time::Instant::now();
        let error = merge_files(case.ours(), &[input], Some(&case.output), &options()).unwrap_err();
        assert!(
            started.elapsed().as_secs() < 5,
            "took {:?}",
            started.elapsed()
        );
        let message = error.to_string();
        assert!(
            message.contains(&input.display().to_string()) && message.contains(needle),
            "{message}"
        );
        assert!(!case.output.exists());
    }
    // The bound can be lowered (or raised) by the caller.
    let small_bound = Options {
        max_input_size: 1000,
        ..options()
    };
    let error = case.merge(&small_bound).unwrap_err();
    assert!(
        error.to_string().contains("is larger than 1000 bytes"),
        "{error}"
    );
    case.assert_inputs_untouched();
}

// ---------------------------------------------------------------------------
// Two merges at once.

#[test]
fn merges_writing_the_same_output_take_turns() {
    let case = Case::new(&small(1), &small(2));
    // Another merge holds the output directory's lock for the whole wait:
    // refused, nothing written, inputs untouched.
    let held = bouture_fs::FileLock::directory(case.dir.path(), bouture_fs::Wait::NO).unwrap();
    let no_wait = Options {
        lock_wait: std::time::Duration::ZERO,
        ..options()
    };
    let error = case.merge(&no_wait).unwrap_err();
    assert!(matches!(error, Error::Lock(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains(&case.dir.path().display().to_string()),
        "{error}"
    );
    assert!(!case.output.exists());
    case.assert_inputs_untouched();
    // Released while this one waits: it writes once the other is done.
    let released = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            released.store(true, std::sync::atomic::Ordering::SeqCst);
            drop(held);
        });
        case.merge(&options()).unwrap();
        assert!(
            released.load(std::sync::atomic::Ordering::SeqCst),
            "the merge wrote while the lock was held"
        );
    });
    // Two at once, from scratch: both succeed, one after the other, and the
    // output is whole and valid for Ganeti.
    std::fs::remove_file(&case.output).unwrap();
    std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| case.merge(&options())))
            .collect();
        for run in runs {
            run.join().unwrap().unwrap();
        }
    });
    assert_ganeti_valid(&[&case.output]);
    case.assert_inputs_untouched();
}

#[test]
fn outputs_that_are_not_regular_files_are_never_replaced() {
    let case = Case::new(&small(1), &small(2));
    let fifo = case.dir.path().join("out.fifo");
    mkfifo(&fifo);
    for (output, needle) in [
        (fifo.as_path(), "it is a FIFO, not a regular file"),
        (
            Path::new("/dev/null"),
            "it is a character device, not a regular file",
        ),
        (case.dir.path(), "it is a directory"),
    ] {
        for dry_run in [false, true] {
            let options = Options {
                dry_run,
                ..options()
            };
            let error =
                merge_files(case.ours(), &[case.theirs()], Some(output), &options).unwrap_err();
            assert!(error.to_string().contains(needle), "{error}");
        }
    }
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // A dry run into a directory that does not exist is refused too.
    let missing = case.dir.path().join("no/such/dir/merged.data");
    let dry = Options {
        dry_run: true,
        ..options()
    };
    let error = merge_files(case.ours(), &[case.theirs()], Some(&missing), &dry).unwrap_err();
    assert!(error.to_string().contains("its directory"), "{error}");
    case.assert_inputs_untouched();
}

// ---------------------------------------------------------------------------
// Smaller points.

#[test]
fn parse_errors_give_positions_in_the_file() {
    // A pretty-printed file with a bad value on line 5 of an object deep down.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&small(2)).unwrap()).unwrap();
    let line = pretty
        .lines()
        .position(|l| l.contains("\"network_port\""))
        .unwrap()
        + 1;
    let broken = pretty.replacen("\"network_port\": 11", "\"network_port\": \"11", 1);
    let message = Case::new(&small(1), &broken).refused(
        &options(),
        &[&format!("theirs.data:{line}:"), "network_port"],
    );
    assert!(!message.contains("line 1 column"), "{message}");
}

#[test]
fn newer_versions_are_told_to_downgrade_older_to_upgrade() {
    for (version, advice) in [
        (
            3_010_000,
            "downgrade it to 3.0 with that Ganeti's `cfgupgrade --downgrade`",
        ),
        (2_160_000, "upgrade the file with Ganeti 3.0's cfgupgrade"),
    ] {
        let theirs = mutate(&small(2), |v| v["version"] = json!(version));
        Case::new(&small(1), &theirs).refused(&options(), &["theirs.data", advice]);
    }
}

#[test]
fn a_detached_drbd_disk_is_labelled_by_its_uuid() {
    let theirs = mutate(&small(2), |v| {
        v["instances"][uuid(2, 3, 0)]["disks"] = json!([]);
    });
    let case = Case::new(&small(1), &theirs);
    let report = case.merge(&options()).unwrap();
    let detached = report
        .port_changes
        .iter()
        .find(|c| c.instance.is_none())
        .unwrap();
    assert_eq!(
        detached.disk.as_deref(),
        Some(format!("{} (attached to no instance)", uuid(2, 4, 0)).as_str())
    );
    assert_ganeti_valid(&[&case.output]);
}

#[test]
fn a_port_range_too_small_is_refused_with_the_numbers() {
    let case = Case::new(&small(1), &small(2));
    let tight = Options {
        port_range: "11000-11020".parse::<PortRange>().unwrap(),
        ..options()
    };
    match case.merge(&tight).unwrap_err() {
        Error::PortsExhausted {
            needed, available, ..
        } => {
            assert!(needed > available, "{needed} {available}");
        }
        other => panic!("{other}"),
    }
}

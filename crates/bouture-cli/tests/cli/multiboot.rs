//! `bouture deploy` and `bouture boot` end to end on a small two-image disk.

use std::path::Path;

use bouture_test_support::multiboot::{SMALL_DOCUMENT, small_setup, small_tree};

use crate::support::bouture;

const DOCUMENT: &str = SMALL_DOCUMENT;

fn tree(dir: &Path, name: &str, pretty: &str) -> String {
    small_tree(dir, name, Some(pretty))
}

#[test]
fn plan_of_the_fixtures_as_text_and_json() {
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../bouture-multiboot/tests/fixtures"
    );
    let root = Path::new(fixtures);
    for (name, tag) in [
        ("provision.shared-common.json", "shared_common"),
        ("provision.two-disks.json", "two_disks"),
    ] {
        let path = root.join(name);
        let args = [
            "deploy",
            "plan",
            "--provision",
            path.to_str().unwrap(),
            "--uuid-seed",
            "cli",
        ];
        let text = bouture(&args, root);
        assert_eq!(text.code, 0, "{}", text.stderr);
        insta::assert_snapshot!(format!("plan_{tag}"), text.snapshot());
        let json = bouture(&[&args[..], &["--format", "json"]].concat(), root);
        let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(value["disks"][0]["partitions"][0]["name"], "bios_grub");
    }
    let invalid = root.join("provision.invalid.json");
    let run = bouture(
        &["deploy", "plan", "--provision", invalid.to_str().unwrap()],
        root,
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("plan_invalid", run.snapshot());
    let run = bouture(
        &[
            "deploy",
            "plan",
            "--provision",
            invalid.to_str().unwrap(),
            "--format",
            "json",
        ],
        root,
    );
    assert_eq!(run.code, 1);
    let value: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    // The JSON error document (issue 23): the validation errors in `details`.
    let value = &value["error"]["details"];
    assert_eq!(value["errors"].as_array().unwrap().len(), 7);
    assert_eq!(
        value["errors"][6]["path"],
        serde_json::json!(["partitions", 0, "volumes", 2, "images", 1])
    );
}

#[test]
fn build_then_list_and_switch() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (provision, centos, ubuntu) = small_setup(
        root,
        DOCUMENT,
        "CentOS Linux 7 (Core)",
        "Ubuntu 14.04.3 LTS",
    );
    let provision = provision.to_str().unwrap();
    let disk = root.join("node.img");
    let disk = disk.to_str().unwrap();
    let build = [
        "deploy",
        "build",
        "--provision",
        provision,
        "--uuid-seed",
        "cli",
        "--image",
        &centos,
        "--image",
        &ubuntu,
        "--output",
        disk,
    ];

    let dry = bouture(&[&build[..], &["--dry-run"]].concat(), root);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(!Path::new(disk).exists());
    insta::assert_snapshot!("build_dry_run", dry.snapshot());

    let written = bouture(
        &[
            &build[..],
            &[
                "-v",
                "--boot-info",
                &format!("{}/boot-info.json", root.display()),
            ],
        ]
        .concat(),
        root,
    );
    assert_eq!(written.code, 0, "{}", written.stderr);
    insta::assert_snapshot!("build", written.snapshot());
    assert_eq!(std::fs::metadata(disk).unwrap().len(), 200 << 20);

    let target = ["--disk", disk];
    let list = bouture(&[&["boot", "list"][..], &target].concat(), root);
    insta::assert_snapshot!("list_initial", list.snapshot());

    let set = bouture(
        &[&["boot", "set-default", "ubuntu"][..], &target].concat(),
        root,
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    insta::assert_snapshot!("set_default", set.snapshot());
    let again = bouture(
        &[&["boot", "set-default", "ubuntu"][..], &target].concat(),
        root,
    );
    assert_eq!(again.code, 0);
    assert_eq!(
        again.stdout,
        "nothing to do: ubuntu is already the default\n"
    );

    let next = bouture(
        &[&["boot", "next", "centos", "--format", "json"][..], &target].concat(),
        root,
    );
    assert_eq!(next.code, 0, "{}", next.stderr);
    insta::assert_snapshot!("next_json", next.snapshot());

    let status = bouture(&[&["boot", "status", "-v"][..], &target].concat(), root);
    insta::assert_snapshot!("status", status.snapshot());
    let status = bouture(
        &[&["boot", "status", "--format", "json"][..], &target].concat(),
        root,
    );
    let value: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(value["default_image"], "ubuntu");
    assert_eq!(value["next_image"], "centos");
    assert_eq!(value["boot_info"]["current_element"], 1);

    let unknown = bouture(
        &[&["boot", "set-default", "debian"][..], &target].concat(),
        root,
    );
    assert_eq!(unknown.code, 1);
    assert_eq!(
        unknown.stderr,
        "error: unknown image 'debian': the images are centos, ubuntu\n"
    );

    let quiet = bouture(
        &[&["boot", "set-default", "centos", "-q"][..], &target].concat(),
        root,
    );
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, ""));
    let list = bouture(
        &[&["boot", "list", "--format", "json"][..], &target].concat(),
        root,
    );
    let value: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(value["current_element"], 0);
    assert_eq!(value["elements"][1]["grub_entry_id"], "image-ubuntu");
}

#[test]
fn boot_needs_a_target_and_build_needs_images() {
    let root = std::env::temp_dir();
    let run = bouture(&["boot", "list"], &root);
    assert_eq!(run.code, 2);
    let run = bouture(
        &[
            "deploy",
            "build",
            "--provision",
            "p.json",
            "--output",
            "x.img",
            "--image",
            "noequals",
        ],
        &root,
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("'noequals' is not NAME=SOURCE"),
        "{}",
        run.stderr
    );
    let run = bouture(
        &["boot", "status", "--disk", "/nonexistent/disk.img"],
        &root,
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("error: /nonexistent/disk.img: cannot open"),
        "{}",
        run.stderr
    );
}

#[test]
fn single_image_documents_plan_but_do_not_build() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let provision = root.join("single.json");
    std::fs::write(
        &provision,
        r#"{"images": [{"name": "a", "boot": true, "target": "/", "image_pull_url": "http://x/a"}],
            "partitions": [{"type": "disk", "id": {"type": "name", "value": "vda"}, "size": "100",
              "volumes": [{"type": "partition", "mount": "/", "file_system": "ext4", "size": "remaining"}]}]}"#,
    )
    .unwrap();
    let provision = provision.to_str().unwrap();
    let plan = bouture(&["deploy", "plan", "--provision", provision], root);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.starts_with("single-image layout"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("multiboot "), "{}", plan.stdout);
    let a = tree(root, "a", "A");
    let disk = root.join("a.img");
    let build = bouture(
        &[
            "deploy",
            "build",
            "--provision",
            provision,
            "--image",
            &a,
            "--output",
            disk.to_str().unwrap(),
        ],
        root,
    );
    assert_eq!(build.code, 1);
    assert!(
        build
            .stderr
            .contains("needs at least two images owning filesystems"),
        "{}",
        build.stderr
    );
    assert!(!disk.exists());
}

/// Work files or unfinished outputs left in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(".bouture-")
                || std::path::Path::new(n)
                    .extension()
                    .is_some_and(|e| e == "tmp")
        })
        .collect();
    names.sort();
    names
}

/// Start `bouture deploy build`, wait until its work directory and its
/// unfinished disk exist, then send it `signal` with kill(1).
fn build_and_signal(dir: &Path, args: &[String], signal: &str) -> std::process::Output {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_bouture"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let found = leftovers(dir);
        if found.iter().any(|n| n.starts_with(".bouture-build-"))
            && found.iter().any(|n| n.starts_with(".disk.img."))
        {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_mins(1),
            "the build never started its work: {found:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let kill = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    child.wait_with_output().unwrap()
}

#[test]
fn a_build_stopped_by_a_signal_leaves_nothing_and_a_killed_one_is_cleaned_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let document = DOCUMENT.replace(r#""size": "200""#, r#""size": "400""#);
    let (provision, centos, ubuntu) = small_setup(
        root,
        &document,
        "CentOS Linux 7 (Core)",
        "Ubuntu 14.04.3 LTS",
    );
    // Enough content that mke2fs is still at work when the signal comes.
    let data: Vec<u8> = (0..160u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("ubuntu/data"), data).unwrap();
    let out = root.join("out");
    std::fs::create_dir(&out).unwrap();
    let disk = out.join("disk.img");
    std::fs::write(&disk, "the old disk").unwrap();
    let args: Vec<String> = [
        "deploy",
        "build",
        "--provision",
        provision.to_str().unwrap(),
        "--image",
        &centos,
        "--image",
        &ubuntu,
        "--output",
        disk.to_str().unwrap(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();

    for signal in ["-TERM", "-INT"] {
        let output = build_and_signal(&out, &args, signal);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{signal}: {stderr}");
        assert!(
            stderr.contains("interrupted by a signal: stopped, nothing written"),
            "{signal}: {stderr}"
        );
        assert_eq!(leftovers(&out), Vec::<String>::new(), "{signal}");
        assert_eq!(std::fs::read_to_string(&disk).unwrap(), "the old disk");
    }

    // SIGKILL cannot be caught: the work directory stays, and the next
    // build removes it with the unfinished disk it lists.
    let output = build_and_signal(&out, &args, "-KILL");
    assert_eq!(output.status.code(), None);
    let stale = leftovers(&out);
    assert!(stale.len() >= 2, "{stale:?}");
    assert_eq!(std::fs::read_to_string(&disk).unwrap(), "the old disk");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = bouture(&args, root);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(leftovers(&out), Vec::<String>::new());
    assert_eq!(std::fs::metadata(&disk).unwrap().len(), 400 << 20);
}

/// `deploy image` and `boot confirm` end to end: a refusal exits 1 naming
/// the safe image, a dry run exits 0, the deploy and the confirm print
/// their report.
#[test]
#[allow(clippy::too_many_lines)] // one cycle, step by step
fn deploy_image_then_confirm() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (provision, centos, ubuntu) = small_setup(
        root,
        DOCUMENT,
        "CentOS Linux 7 (Core)",
        "Ubuntu 14.04.3 LTS",
    );
    let disk = root.join("node.img");
    let disk = disk.to_str().unwrap();
    let built = bouture(
        &[
            "deploy",
            "build",
            "--provision",
            provision.to_str().unwrap(),
            "--image",
            &centos,
            "--image",
            &ubuntu,
            "--output",
            disk,
        ],
        root,
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let on_centos = root.join("cmdline-centos");
    std::fs::write(
        &on_centos,
        "BOOT_IMAGE=/boot/vmlinuz ro bouture.image=centos\n",
    )
    .unwrap();
    let on_ubuntu = root.join("cmdline-ubuntu");
    std::fs::write(
        &on_ubuntu,
        "BOOT_IMAGE=/boot/vmlinuz ro bouture.image=ubuntu\n",
    )
    .unwrap();
    let source = ubuntu.split_once('=').unwrap().1;
    let deploy = |image: &str, cmdline: &Path, extra: &[&str]| {
        let args = [
            &[
                "deploy",
                "image",
                image,
                "--disk",
                disk,
                "--image",
                source,
                "--cmdline",
                cmdline.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat();
        bouture(&args, root)
    };
    let refused = deploy("centos", &on_centos, &[]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("image centos is running")
            && refused.stderr.contains("safe to update: ubuntu"),
        "{}",
        refused.stderr
    );
    let dry = deploy("ubuntu", &on_centos, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("would write (dry run, nothing written) partition"),
        "{}",
        dry.stdout
    );
    let done = deploy("ubuntu", &on_centos, &["--format", "json"]);
    assert_eq!(done.code, 0, "{}", done.stderr);
    let report: serde_json::Value = serde_json::from_str(&done.stdout).unwrap();
    assert_eq!(report["image"], "ubuntu");
    assert_eq!(report["running"]["image"], "centos");
    let confirm = |cmdline: &Path| {
        bouture(
            &[
                "boot",
                "confirm",
                "--disk",
                disk,
                "--cmdline",
                cmdline.to_str().unwrap(),
            ],
            root,
        )
    };
    let same = confirm(&on_centos);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert!(
        same.stdout
            .contains("nothing to do: centos is already the default"),
        "{}",
        same.stdout
    );
    let changed = confirm(&on_ubuntu);
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert!(
        changed.stdout.contains("ubuntu is now the default"),
        "{}",
        changed.stdout
    );
}

#[test]
fn build_from_a_filesystem_image_and_pull_without_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::write(work.join("p.json"), DOCUMENT).unwrap();
    let centos = tree(work, "centos", "CentOS");
    let ubuntu_tree = tree(work, "ubuntu", "Ubuntu FS");
    let ubuntu_dir = ubuntu_tree.split_once('=').unwrap().1.to_owned();
    let raw = work.join("ubuntu.ext4");
    let made = std::process::Command::new("mke2fs")
        .args(["-q", "-F", "-t", "ext4", "-d", &ubuntu_dir])
        .arg(&raw)
        .arg("24M")
        .env("PATH", "/usr/sbin:/sbin:/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(made.status.success(), "mke2fs (apt-get install e2fsprogs)");
    let image = format!("ubuntu={}", raw.display());
    let run = crate::support::bouture_env(
        &[
            "deploy",
            "build",
            "--provision",
            "p.json",
            "--uuid-seed",
            "cli",
            "--image",
            &centos,
            "--image",
            &image,
            "--output",
            "disk.img",
        ],
        work,
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("Ubuntu FS"), "{}", run.stdout);
    // --pull with a document whose URLs are there but unreachable is not
    // tried here; one that is not http(s) is refused by name.
    std::fs::write(
        work.join("q.json"),
        DOCUMENT.replace("http://images.example.com/u.tar", "glance:ubuntu"),
    )
    .unwrap();
    let run = crate::support::bouture_env(
        &[
            "deploy",
            "build",
            "--provision",
            "q.json",
            "--image",
            &centos,
            "--pull",
            "--output",
            "other.img",
        ],
        work,
        &[],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "image ubuntu: its image_pull_url 'glance:ubuntu' is not an http or https URL"
        ),
        "{}",
        run.stderr
    );
    assert!(!work.join("other.img").exists());
}

//! End to end: `bouture failover` around the real `slapos node instance`
//! (slapos.core 1.26.1, Python >= 3.12), with two real slapproxies: the
//! original master (reached through a forwarder on a fixed port, which is
//! "down" while nothing listens there) and the new master.
//!
//! original master down -> configure + graft onto the new master + switch ->
//! the node is processed from the new master (exit 0) -> original master up ->
//! the node is processed from it and the switchfile is removed.

use std::fs;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use bouture_test_support::node::{TEST_SOFTWARE_URL, TestNode, TestPartition, WrittenNode};
use bouture_test_support::{SlapProxy, SlaposEnv};

use crate::support::bouture;

/// Stops the supervisord that `slapos node instance` leaves running.
struct Supervisord(PathBuf);

impl Drop for Supervisord {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.0.join("var/run/supervisord.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// Forward every connection on `listener` to `target` (the original master
/// coming back at its old address).
fn forward(listener: TcpListener, target: String) {
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(&target) else {
                continue;
            };
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = io::copy(&mut c_read, &mut s_write);
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_read, mut c_write) = (server, client);
            std::thread::spawn(move || {
                let _ = io::copy(&mut s_read, &mut c_write);
                let _ = c_write.shutdown(std::net::Shutdown::Write);
            });
        }
    });
}

fn md5_hex(python: &Path, text: &str) -> String {
    let output = Command::new(python)
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.md5(sys.argv[1].encode()).hexdigest())",
            text,
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn chown_nobody(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", "nobody:nogroup"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A throw-away node under `root` whose partitions can really be processed
/// (fake software release, partitions owned by nobody, mode 0750), with a
/// node configuration pointing at `original_url`.
fn e2e_node(root: &Path, python: &Path, original_url: &str) -> WrittenNode {
    // Partition users must reach the software release through it.
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();

    // A minimal fake software release: instance.cfg with no parts, a buildout that succeeds.
    let software = root.join("soft").join(md5_hex(python, TEST_SOFTWARE_URL));
    fs::create_dir_all(software.join("bin")).unwrap();
    fs::write(software.join("instance.cfg"), "[buildout]\nparts =\n").unwrap();
    fs::write(software.join("bin/buildout"), "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(
        software.join("bin/buildout"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();

    let node = TestNode::new(root, "COMP-E2E")
        .partition(TestPartition::new(0).instance("E2E main", "started"))
        .partition(TestPartition::new(1).instance("E2E second", "started"))
        .write();
    for partition in ["slappart0", "slappart1"] {
        let path = node.instance_root.join(partition);
        chown_nobody(&path);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o750)).unwrap();
    }
    let pki = root.join("pki");
    fs::create_dir(&pki).unwrap();
    let cfg = format!(
        "# e2e node: comments survive configure\n\
         [slapos]\n\
         computer_id = COMP-E2E\n\
         master_url = {original_url}\n\
         # the proxy does not do client TLS: configure drops this\n\
         certificate_repository_path = {pki}\n\
         software_root = {soft}\n\
         instance_root = {srv}\n\
         root_check = False\n\
         pidfile_instance = {root}/slapgrid-cp.pid\n\
         \n\
         [slapformat]\n\
         partition_base_name = slappart\n",
        pki = pki.display(),
        soft = root.join("soft").display(),
        srv = node.instance_root.display(),
        root = root.display(),
    );
    fs::write(&node.cfg, cfg).unwrap();
    node
}

// One scenario, step by step: splitting it would hide the sequence.
#[allow(clippy::too_many_lines)]
#[test]
fn real_slapos_node_instance_fails_over_and_back() {
    let env = SlaposEnv::get().unwrap();
    assert!(
        env.supports_node_instance(),
        "this test runs the real `slapos node instance`, which needs Python >= 3.12, but the \
         slapos venv ({}) runs Python {:?}. Remove target/slapos-venv and run \
         `source scripts/setup.d/peers.sh slapproxy`: it makes the venv with a Python >= 3.12 \
         (scripts/peers), BOUTURE_PYTHON if that is one.",
        env.slapos_bin.display(),
        env.python_version
    );
    let python = env.python.clone().expect("the venv's python");

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The original master: a proxy that knows the node, behind a fixed port.
    let original = SlapProxy::start("COMP-E2E").unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node = e2e_node(root, &python, &format!("http://127.0.0.1:{port}"));
    let _supervisord = Supervisord(node.instance_root.clone());
    let graft = bouture(
        &[
            "graft",
            "--cfg",
            node.cfg.to_str().unwrap(),
            "--new-master-url",
            original.url(),
        ],
        root,
    );
    assert_eq!(
        graft.code, 0,
        "setting up the original master: {}",
        graft.stderr
    );

    let new_master = SlapProxy::start("COMP-E2E").unwrap();
    let new_cfg = root.join("slapos-bouture.cfg");
    let switchfile = root.join("bouture-switch");
    let failover = || {
        bouture(
            &[
                "failover",
                "--cfg",
                node.cfg.to_str().unwrap(),
                "--new-master-url",
                new_master.url(),
                "--new-node-cfg",
                new_cfg.to_str().unwrap(),
                "--pidfile",
                root.join("failover.pid").to_str().unwrap(),
                "--switchfile",
                switchfile.to_str().unwrap(),
                "--slapos-command",
                env.slapos_bin.to_str().unwrap(),
            ],
            root,
        )
    };

    // 1. Original master down: switch, and the node is processed from the new master.
    let run = failover();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("Processing computer partitions offline"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 run(s) in a row (1 required): switching")
    );
    assert!(
        run.stderr
            .contains("the node was processed from the new master (exit 0")
    );
    assert!(switchfile.exists());
    let written = fs::read_to_string(&new_cfg).unwrap();
    assert!(written.contains(&format!("master_url = {}", new_master.url())));
    assert!(!written.contains("certificate_repository_path"));
    assert!(written.contains("# e2e node: comments survive configure"));
    for partition in ["slappart0", "slappart1"] {
        assert!(
            node.instance_root
                .join(partition)
                .join(".timestamp")
                .exists(),
            "{partition} was processed"
        );
    }

    // 2. Still down: processed from the new master again, no new graft.
    let run = failover();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("grafting this node"));

    // 3. Original master back at its address: processed from it, switch removed.
    forward(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        original
            .url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string(),
    );
    let run = failover();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("reachable again (exit 0"),
        "{}",
        run.stderr
    );
    assert!(!switchfile.exists());
}

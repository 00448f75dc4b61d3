//! `bouture graft` against an https master (a real slapproxy behind a real TLS reverse proxy,
//! `socat`, with an `openssl req -x509` certificate as haproxy has in the slapproxy software
//! release), against masters that misbehave, with bounded `--timeout`, and two grafts of one
//! node at once.

use std::path::Path;
use std::process::{Command, Stdio};

use bouture_master_client::MasterClient;
use bouture_test_support::master::MasterState;
use bouture_test_support::misbehaving::{FakeMaster, FakeReply};
use bouture_test_support::node::{TestNode, TestPartition, WrittenNode};
use bouture_test_support::tls::{TestPki, TlsServer};
use bouture_test_support::{SlapProxy, SlaposEnv};

use crate::support::{Run, bouture};

fn node(dir: &Path, computer: &str, partitions: u32) -> WrittenNode {
    let mut node = TestNode::new(dir, computer);
    for number in 0..partitions {
        node = node.partition(
            TestPartition::new(number).instance(&format!("instance {number}"), "started"),
        );
    }
    node.write()
}

fn graft(node: &WrittenNode, url: &str, extra: &[&str], root: &Path) -> Run {
    let cfg = node.cfg.to_str().unwrap();
    let mut args = vec!["graft", "--cfg", cfg, "--new-master-url", url];
    args.extend_from_slice(extra);
    bouture(&args, root)
}

fn state(proxy: &SlapProxy, computer: &str) -> MasterState {
    let python = SlaposEnv::get().unwrap().python.clone().unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    MasterState::read(&client, computer, &proxy.database_path(), &python)
}

#[test]
fn graft_over_https_with_a_pinned_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-TLS", 2);
    let proxy = SlapProxy::start("COMP-TLS").unwrap();
    let pki = TestPki::generate();
    let pair = pki.pair("self_signed");
    let front = TlsServer::front(&pair, proxy.url());
    let cert = pair.cert.to_str().unwrap();

    // Verification is on by default: refused, with what is wrong, the fingerprint and the flag.
    let refused = graft(&node, &front.https_url(), &[], dir.path());
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("self-signed"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&TestPki::fingerprint(&pair.cert)),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--new-master-ca-file"),
        "{}",
        refused.stderr
    );
    assert!(
        MasterClient::new(proxy.url())
            .unwrap()
            .full_computer_information("COMP-TLS")
            .map_or(true, |computer| computer.partitions.is_empty()),
        "nothing was sent"
    );

    // The URL the software release publishes, http:// on the TLS port: told to use https.
    let wrong_scheme = graft(&node, &front.http_url(), &[], dir.path());
    assert_eq!(wrong_scheme.code, 1, "{}", wrong_scheme.stderr);
    assert!(
        wrong_scheme.stderr.contains(&format!(
            "speaks TLS on that port, not plain HTTP, calling getRunId: use {}",
            front.https_url()
        )),
        "{}",
        wrong_scheme.stderr
    );

    // Pinned: the graft goes through haproxy's stand-in to the real proxy.
    let pinned = graft(
        &node,
        &front.https_url(),
        &["--new-master-ca-file", cert],
        dir.path(),
    );
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    assert!(
        pinned.stdout.contains("2 grafted, 0 skipped, 0 failed"),
        "{}",
        pinned.stdout
    );
    let held = state(&proxy, "COMP-TLS");
    assert_eq!(held.partitions.len(), 2);
    assert_eq!(held.partitions["slappart1"].title, "instance 1");
}

#[test]
fn graft_over_https_with_a_ca_and_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-TLSCA", 1);
    let proxy = SlapProxy::start("COMP-TLSCA").unwrap();
    let pki = TestPki::generate();
    let front = TlsServer::front(&pki.pair("leaf"), proxy.url());
    let client = pki.pair("client");
    let run = graft(
        &node,
        &front.https_url(),
        &[
            "--new-master-ca-file",
            pki.ca().to_str().unwrap(),
            "--new-master-cert-file",
            client.cert.to_str().unwrap(),
            "--new-master-key-file",
            client.key.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The key goes with the certificate.
    let half = graft(
        &node,
        &front.https_url(),
        &["--new-master-cert-file", client.cert.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(half.code, 2, "{}", half.stderr);
}

#[test]
fn timeout_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-TO", 1);
    for value in ["0", "86401", "18446744073709551615"] {
        let run = graft(
            &node,
            "http://127.0.0.1:1",
            &["--timeout", value],
            dir.path(),
        );
        assert_eq!(run.code, 2, "--timeout {value}: {}", run.stderr);
        assert!(run.stderr.contains("--timeout"), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

/// Run `bouture graft` under Python, which reports the child's peak memory (`ru_maxrss`, KiB)
/// on its last stderr line.
fn graft_measuring_memory(node: &WrittenNode, url: &str) -> (i32, String, u64) {
    let python = SlaposEnv::get().unwrap().python.clone().unwrap();
    let script = r"
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stderr.write(p.stderr.decode(errors='replace'))
sys.stderr.write('\nMAXRSS %d\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(p.returncode)
";
    let output = Command::new(python)
        .args([
            "-c",
            script,
            env!("CARGO_BIN_EXE_bouture"),
            "graft",
            "--cfg",
        ])
        .arg(&node.cfg)
        .args(["--new-master-url", url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (text, rss) = stderr.rsplit_once("MAXRSS ").unwrap();
    (
        output.status.code().unwrap(),
        text.to_owned(),
        rss.trim().parse().unwrap(),
    )
}

#[test]
fn a_50_mb_json_rpc_error_body_stays_out_of_memory_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-HUGE", 1);
    let master = FakeMaster::start(|request| match request.path.as_str() {
        "/getRunId" => FakeReply::text("0123456789abcdef0123456789abcdef"),
        _ => FakeReply::Huge {
            status: 500,
            content_type: "application/json",
            prefix: r#"{"status": 500, "type": "Error", "title": ""#.into(),
            byte: b'A',
            len: 50 * 1024 * 1024,
        },
    });
    let (code, stderr, max_rss_kib) = graft_measuring_memory(&node, &master.url());
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("HTTP 500"), "{stderr}");
    assert!(stderr.len() < 4096, "{} bytes on stderr", stderr.len());
    assert!(max_rss_kib < 40 * 1024, "peak memory {max_rss_kib} KiB");
}

/// A master that behaves like the proxy except for `supplySupply`, which answers `body`.
fn master_answering_supply_with(body: &'static str) -> FakeMaster {
    FakeMaster::start(move |request| match request.path.as_str() {
        "/getRunId" => FakeReply::text("0123456789abcdef0123456789abcdef"),
        "/slapos.allDocs.v0.instance_tree_list" => {
            FakeReply::json(&serde_json::json!({"result_list": []}))
        }
        "/loadComputerConfigurationFromXML" => FakeReply::text("done"),
        "/supplySupply" => FakeReply::text(body),
        _ => FakeReply::Full {
            status: 500,
            content_type: "text/html",
            body: b"<p>not expected by this test</p>".to_vec(),
        },
    })
}

#[test]
fn supply_answered_with_html_or_nothing_is_not_success() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-HTML", 1);
    for body in ["<!doctype html><html><body>It works!</body></html>", ""] {
        let master = master_answering_supply_with(body);
        let run = graft(&node, &master.url(), &[], dir.path());
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("supplySupply"), "{}", run.stderr);
        assert!(run.stderr.contains("expected \"Supplied"), "{}", run.stderr);
        assert!(!run.stdout.contains("supplied"), "{}", run.stdout);
        // The graft stopped there: no instance was requested.
        assert!(
            master
                .requests()
                .iter()
                .all(|r| r.path != "/requestComputerPartition")
        );
    }
}

#[test]
fn two_grafts_of_one_node_at_once_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let node = node(dir.path(), "COMP-TWO", 12);
    let proxy = SlapProxy::start("COMP-TWO").unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_bouture"))
            .args(["graft", "--cfg"])
            .arg(&node.cfg)
            .args(["--new-master-url", proxy.url()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = start();
    let second = start();
    let first = first.wait_with_output().unwrap();
    let second = second.wait_with_output().unwrap();
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    let waited = [&first, &second]
        .iter()
        .filter(|o| stderr(o).contains("another graft of this node"))
        .count();
    assert_eq!(
        waited,
        1,
        "one graft waited for the other: {} / {}",
        stderr(&first),
        stderr(&second)
    );

    // The master holds exactly what one graft alone gives: no duplicated address, every
    // instance in its partition, and no timestamp left behind.
    let alone = SlapProxy::start("COMP-TWO").unwrap();
    let again = graft(&node, alone.url(), &[], dir.path());
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(state(&proxy, "COMP-TWO"), state(&alone, "COMP-TWO"));
    for number in 0..12 {
        assert!(
            !node
                .instance_root
                .join(format!("slappart{number}/.timestamp"))
                .exists()
        );
    }
}

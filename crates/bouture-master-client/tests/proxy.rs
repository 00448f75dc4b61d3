//! The client against a real slapproxy (slapos.core 1.26.1), one proxy per test.

// Test helpers outside #[test] functions may unwrap and index too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, TcpListener};
use std::time::{Duration, Instant};

use bouture_master_client::{
    ComputerRegistration, ErrorKind, InstanceRequest, InstanceState, MasterClient, Options,
    Parameters, PartitionAddress, PartitionRegistration, RequestedInstance, SharedInstanceRequest,
    SupplyState, UnreachableReason,
};
use bouture_test_support::{SlapProxy, SlaposEnv};
use serde_json::json;

const SR: &str = "https://lab.example.org/software/ors/software.cfg";
const SR_OTHER: &str = "https://lab.example.org/software/other/software.cfg";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// `n` partitions `slappart0..n` with an IPv4 and an IPv6 address each and tap `slaptapN`.
fn computer(id: &str, n: usize) -> ComputerRegistration {
    let mut c = ComputerRegistration::new(id);
    c.address = Some(ip("10.0.0.1"));
    c.netmask = Some("255.255.0.0".into());
    for i in 0..n {
        let mut p = PartitionRegistration::new(format!("slappart{i}"));
        p.tap_name = format!("slaptap{i}");
        p.addresses = vec![
            PartitionAddress::new(ip(&format!("10.0.24.{}", 10 + i)), ip("255.255.255.0")),
            PartitionAddress::new(
                ip(&format!("2001:db8:24::{:x}", 0x10 + i)),
                ip("ffff:ffff:ffff:ffff::"),
            ),
        ];
        c.partitions.push(p);
    }
    c
}

fn params(pairs: &[(&str, &str)]) -> Parameters {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect()
}

/// The strings the proxy must store and give back unchanged.
fn tricky_values() -> Vec<(&'static str, String)> {
    vec![
        ("amp", "a&b && c&amp;d".to_owned()),
        ("angles", "<tag attr=\"x\">1 < 2 > 0</tag>".to_owned()),
        ("quotes", r#"he said "hi" and 'bye'"#.to_owned()),
        ("non_ascii", "café ünïcode € 日本語 😀".to_owned()),
        ("newlines", "line1\nline2\n\nline4\ttabbed".to_owned()),
        (
            "json",
            r#"{"a": [1, 2.5, null, true], "b": "x&y<z>"}"#.to_owned(),
        ),
        ("long", "0123456789abcdef".repeat(8192)),
        ("entity_like", "&lt;not a tag&gt; &#233;".to_owned()),
    ]
}

/// Read rows of the proxy's SQLite database with the venv's Python.
fn sql(proxy: &SlapProxy, query: &str) -> Vec<Vec<serde_json::Value>> {
    let python = SlaposEnv::get().unwrap().python.clone().unwrap();
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(json.dumps(c.execute(sys.argv[2]).fetchall()))",
        ])
        .arg(proxy.database_path())
        .arg(query)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn graft_sequence_reads_back_through_both_apis() {
    let proxy = SlapProxy::start("COMP-PROXY-DEFAULT").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let main_answer = graft(&client);
    read_back_legacy(&client, &main_answer);
    read_back_json_rpc(&client);
    check_database(&proxy);
    // Every call above was one HTTP request.
    assert_eq!(client.request_count(), 18);
}

const C: &str = "COMP-GRAFT";

/// Register, supply, request two instances and two shared instances, bang.
fn graft(client: &MasterClient) -> RequestedInstance {
    let c = C;
    assert_eq!(client.run_id().unwrap().len(), 32);

    // Wipe, register 3 partitions, supply.
    client
        .load_computer_configuration(&ComputerRegistration::new(c))
        .unwrap();
    client.load_computer_configuration(&computer(c, 3)).unwrap();
    client.supply(c, SR, SupplyState::Available).unwrap();
    client.supply(c, SR_OTHER, SupplyState::Available).unwrap();

    // Normal instances land in the first free partition, in registration order.
    let mut main = InstanceRequest::new(c, SR, "core-network", "ORS Core Network");
    let tricky = tricky_values();
    for (k, v) in &tricky {
        main.parameters.insert((*k).to_owned(), json!(v));
    }
    let main_answer = client.request_instance(&main).unwrap();
    assert_eq!(main_answer.partition_id, "slappart0");
    assert_eq!(main_answer.computer_id, c);
    assert_eq!(
        main_answer.instance_guid.as_deref(),
        Some("COMP-GRAFT-slappart0")
    );
    assert_eq!(main_answer.requested_state, Some(InstanceState::Started));
    assert_eq!(main_answer.software_type, "core-network");
    for (k, v) in &tricky {
        assert_eq!(
            main_answer.parameters[*k],
            json!(v),
            "{k} in the request answer"
        );
    }
    assert!(main_answer.timestamp.is_some());

    let mut gnb = InstanceRequest::new(c, SR_OTHER, "gnb", "ORS gNB");
    gnb.state = Some(InstanceState::Stopped);
    gnb.parameters = params(&[("_", r#"{"cell1": {"rx_gain": 30}}"#)]);
    assert_eq!(
        client.request_instance(&gnb).unwrap().partition_id,
        "slappart1"
    );

    // Shared instances on the main instance's partition.
    let mut shared_answers = Vec::new();
    for (title, imsi) in [
        ("SIM 1", "001010000000001"),
        ("SIM & <2>", "001010000000002"),
    ] {
        let mut s = SharedInstanceRequest::new(c, SR, "core-network", title);
        s.host_instance_guid = Some("COMP-GRAFT-slappart0".into());
        s.parameters = params(&[("_", &format!(r#"{{"imsi": "{imsi}"}}"#))]);
        let answer = client.request_shared_instance(&s).unwrap();
        assert_eq!(answer.partition_id, "slappart0");
        assert_eq!(answer.instance_guid, None);
        shared_answers.push(answer);
    }
    client.bang(c, "slappart0", "bouture").unwrap();

    main_answer
}

fn read_back_legacy(client: &MasterClient, main_answer: &RequestedInstance) {
    let c = C;
    let tricky = tricky_values();
    // Legacy read-back.
    let info = client.full_computer_information(c).unwrap();
    assert_eq!(info.computer_id, c);
    let ids: Vec<&str> = info
        .partitions
        .iter()
        .map(|p| p.partition_id.as_str())
        .collect();
    assert_eq!(ids, ["slappart0", "slappart1", "slappart2"]);
    let p0 = info.partition("slappart0").unwrap();
    assert_eq!(p0.requested_state, Some(InstanceState::Started));
    let inst = p0.instance.as_ref().unwrap();
    assert_eq!(inst.title, "ORS Core Network");
    assert_eq!(inst.root_instance_title, "ORS Core Network");
    assert_eq!(inst.software_release_url, SR);
    assert_eq!(inst.software_type, "core-network");
    assert_eq!(inst.parameters.len(), tricky.len());
    for (k, v) in &tricky {
        assert_eq!(
            inst.parameters[*k],
            json!(v),
            "{k} in getFullComputerInformation"
        );
    }
    let addresses: Vec<(String, IpAddr)> = inst
        .ip_list
        .iter()
        .map(|a| (a.interface.clone(), a.address))
        .collect();
    assert_eq!(
        addresses,
        [
            ("slaptap0".to_owned(), ip("10.0.24.10")),
            ("slaptap0".to_owned(), ip("2001:db8:24::10"))
        ]
    );
    let shared: Vec<(&str, &str)> = inst
        .shared_instances
        .iter()
        .map(|s| (s.reference.as_str(), s.parameters["_"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shared,
        [
            ("_SIM 1", r#"{"imsi": "001010000000001"}"#),
            ("_SIM & <2>", r#"{"imsi": "001010000000002"}"#)
        ]
    );
    assert!(
        inst.shared_instances
            .iter()
            .all(|s| s.software_type == "core-network")
    );
    let bang_timestamp = inst.timestamp.clone().unwrap();
    assert_ne!(
        Some(bang_timestamp.clone()),
        main_answer.timestamp,
        "bang bumps the timestamp"
    );

    let p1 = info.partition("slappart1").unwrap();
    assert_eq!(p1.requested_state, Some(InstanceState::Stopped));
    let gnb_inst = p1.instance.as_ref().unwrap();
    assert_eq!(
        (gnb_inst.title.as_str(), gnb_inst.software_type.as_str()),
        ("ORS gNB", "gnb")
    );
    assert_eq!(gnb_inst.ip_list[1].address, ip("2001:db8:24::11"));
    let p2 = info.partition("slappart2").unwrap();
    assert!(p2.is_free());
    assert_eq!(p2.requested_state, Some(InstanceState::Destroyed));
    let mut srs: Vec<&str> = info
        .software_releases
        .iter()
        .map(|s| s.url.as_str())
        .collect();
    srs.sort_unstable();
    assert_eq!(srs, [SR, SR_OTHER]);

    assert_eq!(
        &client.register_computer_partition(c, "slappart0").unwrap(),
        p0
    );
}

fn read_back_json_rpc(client: &MasterClient) {
    let c = C;
    let tricky = tricky_values();
    // JSON-RPC read-back.
    let rpc = client.json_rpc();
    let list = rpc.compute_node_instance_list(c).unwrap();
    let placed: Vec<(&str, &str, InstanceState)> = list
        .iter()
        .map(|i| (i.title.as_str(), i.compute_partition_id.as_str(), i.state))
        .collect();
    assert_eq!(
        placed,
        [
            ("ORS Core Network", "slappart0", InstanceState::Started),
            ("ORS gNB", "slappart1", InstanceState::Stopped)
        ]
    );
    let main_guid = &list[0].instance_guid;
    assert_eq!(main_guid, "ORS Core Network______0");
    let hosted = rpc.instance_node_instance_list(main_guid).unwrap();
    let hosted: Vec<(&str, &str)> = hosted
        .iter()
        .map(|h| (h.title.as_str(), h.compute_partition_id.as_str()))
        .collect();
    assert_eq!(hosted, [("SIM 1", "slappart0"), ("SIM & <2>", "slappart0")]);
    let record = rpc.software_instance(main_guid).unwrap();
    assert_eq!(record.compute_partition_id, "slappart0");
    assert_eq!(record.computer_guid, c);
    for (k, v) in &tricky {
        assert_eq!(
            record.parameters[*k],
            json!(v),
            "{k} in JSON-RPC software_instance"
        );
    }
    assert_eq!(
        record.ip_list,
        [
            ("slaptap0".to_owned(), "10.0.24.10".to_owned()),
            ("slaptap0".to_owned(), "2001:db8:24::10".to_owned())
        ]
    );
    assert_eq!(
        rpc.compute_partition(c, "slappart1").unwrap().title,
        "ORS gNB"
    );
    let mut trees = rpc.instance_tree_list().unwrap();
    trees.sort();
    assert!(trees.contains(&"ORS Core Network".to_owned()), "{trees:?}");
    assert_eq!(
        rpc.compute_node_software_installation_list(c)
            .unwrap()
            .len(),
        2
    );
}

fn check_database(proxy: &SlapProxy) {
    let c = C;
    // The computer's and each IP's address, netmask and interface, as stored by the proxy.
    assert_eq!(
        sql(
            proxy,
            &format!("select address, netmask from computer18 where reference = '{c}'")
        ),
        [vec![json!("10.0.0.1"), json!("255.255.0.0")]]
    );
    let ips = sql(
        proxy,
        &format!(
            "select partition_reference, reference, address, netmask from partition_network18 where computer_reference = '{c}' order by partition_reference, address"
        ),
    );
    assert_eq!(ips.len(), 6);
    assert_eq!(
        ips[0],
        [
            json!("slappart0"),
            json!("slaptap0"),
            json!("10.0.24.10"),
            json!("255.255.255.0")
        ]
    );
    assert_eq!(
        ips[1],
        [
            json!("slappart0"),
            json!("slaptap0"),
            json!("2001:db8:24::10"),
            json!("ffff:ffff:ffff:ffff::")
        ]
    );
}

#[test]
fn parameter_types_travel_as_python_sends_them() {
    // The proxy stores parameters with dict2xml: every value comes back as Python's str(), and
    // an empty string comes back as None.
    let proxy = SlapProxy::start("COMP-TYPES").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    client
        .load_computer_configuration(&computer("COMP-TYPES", 1))
        .unwrap();
    let mut r = InstanceRequest::new("COMP-TYPES", SR, "", "typed");
    r.parameters = serde_json::from_value(json!({
        "s": "x", "empty": "", "i": 42, "big": 18_446_744_073_709_551_615_u64, "f": 3500.0, "t": true,
        "n": null, "l": [1, "a"], "d": {"k": "v"}
    }))
    .unwrap();
    let answer = client.request_instance(&r).unwrap();
    assert_eq!(
        answer.software_type, "default",
        "the proxy turns an empty type into default"
    );
    insta::assert_json_snapshot!("typed_parameters_as_stored", answer.parameters);
    let info = client.full_computer_information("COMP-TYPES").unwrap();
    let stored = &info.partitions[0].instance.as_ref().unwrap().parameters;
    assert_eq!(stored, &answer.parameters);
}

#[test]
fn instances_update_in_place_and_states_change() {
    let proxy = SlapProxy::start("COMP-STATES").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let c = "COMP-STATES";
    client.load_computer_configuration(&computer(c, 2)).unwrap();
    let mut r = InstanceRequest::new(c, SR, "default", "inst");
    assert_eq!(
        client.request_instance(&r).unwrap().partition_id,
        "slappart0"
    );
    for state in [
        InstanceState::Stopped,
        InstanceState::Destroyed,
        InstanceState::Started,
    ] {
        r.state = Some(state);
        let answer = client.request_instance(&r).unwrap();
        assert_eq!(
            answer.partition_id, "slappart0",
            "same title, same partition"
        );
        let info = client.register_computer_partition(c, "slappart0").unwrap();
        assert_eq!(info.requested_state, Some(state));
    }
    // state None keeps the stored state.
    r.state = Some(InstanceState::Stopped);
    client.request_instance(&r).unwrap();
    r.state = None;
    client.request_instance(&r).unwrap();
    let info = client.register_computer_partition(c, "slappart0").unwrap();
    assert_eq!(info.requested_state, Some(InstanceState::Stopped));
    // A destroyed shared instance leaves its host.
    let mut s = SharedInstanceRequest::new(c, SR, "default", "shared");
    client.request_shared_instance(&s).unwrap();
    let hosted = |client: &MasterClient| {
        client
            .register_computer_partition(c, "slappart0")
            .unwrap()
            .instance
            .unwrap()
            .shared_instances
            .len()
    };
    assert_eq!(hosted(&client), 1);
    s.state = Some(InstanceState::Destroyed);
    client.request_shared_instance(&s).unwrap();
    assert_eq!(hosted(&client), 0);
    // A wipe removes everything.
    client
        .load_computer_configuration(&ComputerRegistration::new(c))
        .unwrap();
    assert!(
        client
            .full_computer_information(c)
            .unwrap()
            .partitions
            .is_empty()
    );
}

#[test]
fn no_free_partition_is_a_404_status() {
    let proxy = SlapProxy::start("COMP-FULL").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    client
        .load_computer_configuration(&computer("COMP-FULL", 1))
        .unwrap();
    client
        .request_instance(&InstanceRequest::new("COMP-FULL", SR, "", "first"))
        .unwrap();
    let err = client
        .request_instance(&InstanceRequest::new("COMP-FULL", SR, "", "second"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert!(err.is_not_found());
    let msg = err.to_string();
    assert!(
        msg.contains("No free computer partition found for: second"),
        "{msg}"
    );
    assert!(msg.contains("requestComputerPartition"), "{msg}");
    assert!(msg.contains("COMP-FULL"), "{msg}");

    // No matching host for a shared instance: 404 too.
    let mut s = SharedInstanceRequest::new("COMP-FULL", SR_OTHER, "", "orphan");
    s.host_instance_guid = Some("slappart0".into());
    let err = client.request_shared_instance(&s).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string()
            .contains("No partition corresponding to slave request"),
        "{err}"
    );
}

#[test]
fn unknown_computer_is_the_proxy_s_500() {
    let proxy = SlapProxy::start("COMP-KNOWN").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let err = client.full_computer_information("COMP-NOPE").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Status);
    assert_eq!(err.status(), Some(500));
    let msg = err.to_string();
    assert!(msg.contains("getFullComputerInformation"), "{msg}");
    assert!(msg.contains("computer COMP-NOPE"), "{msg}");
    assert!(msg.contains("HTTP 500"), "{msg}");
    let err = client
        .register_computer_partition("COMP-NOPE", "slappart0")
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    // JSON-RPC answers 403 with a JSON title.
    let err = client
        .json_rpc()
        .compute_node_instance_list("COMP-NOPE")
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    assert!(
        err.to_string()
            .ends_with("HTTP 403: COMP-NOPE is not registered."),
        "{err}"
    );
}

#[test]
fn proxy_down_is_unreachable_quickly() {
    let proxy = SlapProxy::start("COMP-DOWN").unwrap();
    let url = proxy.url().to_owned();
    let client = MasterClient::new(&url).unwrap();
    client.run_id().unwrap();
    drop(proxy);
    let started = Instant::now();
    let err = client.run_id().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), ErrorKind::Unreachable);
    assert!(err.is_unreachable());
    assert!(
        matches!(
            err,
            bouture_master_client::Error::Unreachable {
                reason: UnreachableReason::ConnectionRefused,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains(&url), "{err}");
    assert_eq!(client.request_count(), 2);

    let dns = MasterClient::new("http://bouture-no-such-host.invalid:1").unwrap();
    let err = dns.run_id().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
}

/// A one-shot local server for the error paths the real proxy cannot produce.
fn fake_master(answer: &'static [u8], hold: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            std::thread::sleep(hold);
            let _ = stream.write_all(answer);
        }
    });
    url
}

#[test]
fn malformed_response_is_a_protocol_error() {
    let url = fake_master(
        b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\nConnection: close\r\n\r\n<marshal><oops/>",
        Duration::ZERO,
    );
    let client = MasterClient::new(&url).unwrap();
    let err = client.full_computer_information("COMP-1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(err.to_string().contains("could not be understood"), "{err}");

    let url = fake_master(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno",
        Duration::ZERO,
    );
    let err = MasterClient::new(&url)
        .unwrap()
        .load_computer_configuration(&ComputerRegistration::new("C"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");

    // A valid document holding the wrong object: still not understood.
    let xml = marshal_roundtrip_through_python("<marshal><list id=\"i2\"/></marshal>");
    assert_eq!(
        bouture_master_client::parse::computer_information(&xml).unwrap_err(),
        "a list, expected a Computer object"
    );
}

fn marshal_roundtrip_through_python(xml: &str) -> String {
    let python = SlaposEnv::get().unwrap().python.clone().unwrap();
    let mut child = std::process::Command::new(python)
        .args([
            "-c",
            "import sys; from slapos.util import dumps, loads; sys.stdout.write(dumps(loads(sys.stdin.buffer.read())).decode())",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(xml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn hung_master_times_out() {
    let url = fake_master(b"", Duration::from_secs(30));
    let client = MasterClient::with_options(
        &url,
        &Options::default().timeout(Duration::from_millis(500)),
    )
    .unwrap();
    let started = Instant::now();
    let err = client.run_id().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            bouture_master_client::Error::Unreachable {
                reason: UnreachableReason::Timeout,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn our_encodings_match_python_s_dumps() {
    // Values bouture sends, encoded by us and by slapos.util.dumps(loads(ours)).
    let mut main = InstanceRequest::new("C", SR, "t", "x");
    for (k, v) in tricky_values() {
        main.parameters.insert(k.to_owned(), json!(v));
    }
    main.parameters.insert(
        "typed".into(),
        json!({"i": 1, "f": 0.5, "b": false, "n": null, "l": [1.5e300, -2]}),
    );
    let values = [
        bouture_master_client::params::parameters_to_marshal(&main.parameters),
        computer("COMP-PY", 3).to_marshal(),
        bouture_master_client::marshal::Value::dict([
            ("computer_guid", "COMP-PY".into()),
            ("instance_guid", "COMP-PY-slappart3".into()),
        ]),
    ];
    for v in values {
        let ours = bouture_master_client::marshal::to_string(&v).unwrap();
        assert_eq!(marshal_roundtrip_through_python(&ours), ours);
    }
}

#[test]
fn json_rpc_writes() {
    use bouture_master_client::jsonrpc::{FormatIp, FormatPartition, SoftwareInstancePost};
    let proxy = SlapProxy::start("COMP-RPC").unwrap();
    let client = MasterClient::new(proxy.url()).unwrap();
    let rpc = client.json_rpc();
    let c = "COMP-RPC";
    rpc.compute_node_format(c, &[]).unwrap();
    rpc.compute_node_format(
        c,
        &[FormatPartition {
            partition_id: "slappart3".into(),
            ip_list: vec![
                FormatIp {
                    ip_address: "10.0.25.13".into(),
                    netmask: "255.255.255.0".into(),
                    network_interface: "slaptap3".into(),
                },
                FormatIp {
                    ip_address: "2001:db8:25::13".into(),
                    netmask: "ffff:ffff:ffff:ffff::".into(),
                    network_interface: "slaptap3".into(),
                },
            ],
        }],
    )
    .unwrap();
    rpc.software_installation(c, SR, SupplyState::Available)
        .unwrap();
    let main = rpc
        .request_software_instance(&SoftwareInstancePost {
            title: "JR main".into(),
            software_release_uri: SR.into(),
            software_type: "core-network".into(),
            parameters: params(&[("_", r#"{"a": 1}"#)]),
            state: Some(InstanceState::Started),
            shared: false,
            sla_parameters: params(&[("computer_guid", c)]),
        })
        .unwrap();
    assert_eq!(main.compute_partition_id, "slappart3");
    assert_eq!(main.instance_guid, "JR main______0");
    let sim = rpc
        .request_software_instance(&SoftwareInstancePost {
            title: "JR sim".into(),
            software_release_uri: SR.into(),
            software_type: "core-network".into(),
            parameters: params(&[("_", r#"{"imsi": "1"}"#)]),
            state: None,
            shared: true,
            sla_parameters: params(&[
                ("computer_guid", c),
                ("instance_guid", "COMP-RPC-slappart3"),
            ]),
        })
        .unwrap();
    assert!(sim.shared);
    rpc.software_instance_bang(&main.instance_guid, "bouture")
        .unwrap();
    // Banging a shared instance is refused (403) with the proxy's message.
    let err = rpc
        .software_instance_bang(&sim.instance_guid, "x")
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    rpc.software_instance_connection_parameter(
        &main.instance_guid,
        &params(&[("url", "https://[2001:db8::1]:4000")]),
    )
    .unwrap();
    assert_eq!(
        rpc.software_instance(&main.instance_guid)
            .unwrap()
            .connection_parameters["url"],
        "https://[2001:db8::1]:4000"
    );
    // The legacy API sees the same thing, including the computer's missing address.
    let p3 = client.register_computer_partition(c, "slappart3").unwrap();
    let inst = p3.instance.unwrap();
    assert_eq!(inst.title, "JR main");
    assert_eq!(inst.shared_instances[0].reference, "_JR sim");
    assert_eq!(
        inst.connection_parameters["url"],
        "https://[2001:db8::1]:4000"
    );
    assert_eq!(
        sql(
            &proxy,
            "select address, netmask from computer18 where reference = 'COMP-RPC'"
        ),
        [vec![json!(null), json!(null)]]
    );
    // A destroyed report frees the partition.
    rpc.software_instance_reported_state(&main.instance_guid, InstanceState::Destroyed)
        .unwrap();
    assert!(rpc.compute_node_instance_list(c).unwrap().is_empty());
}

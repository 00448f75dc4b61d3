//! The `xml_marshaller` codec: golden tests against payloads captured from the real proxy, and
//! round-trip properties.

// Test helpers outside #[test] functions may unwrap and index too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bouture_master_client::marshal::{self, Object, Value};
use bouture_master_client::{ComputerRegistration, PartitionAddress, PartitionRegistration, parse};
use proptest::prelude::*;

const FULL: &str = include_str!("fixtures/getFullComputerInformation_COMP-G.xml");
const REGISTER: &str = include_str!("fixtures/registerComputerPartition_COMP-G_slappart3.xml");
const TRAFFIC: &str = include_str!("fixtures/reference_bouture_graft_traffic.jsonl");

fn traffic() -> Vec<serde_json::Value> {
    TRAFFIC
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every marshalled payload of the captured traffic: (where, xml).
fn traffic_payloads() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, line) in traffic().iter().enumerate() {
        if let Some(form) = line["form"].as_object() {
            for (field, values) in form {
                for v in values.as_array().unwrap() {
                    let v = v.as_str().unwrap();
                    if v.starts_with("<marshal>") {
                        out.push((format!("line {} form {field}", i + 1), v.to_owned()));
                    }
                }
            }
        }
        let response = line["response"].as_str().unwrap_or_default();
        // Responses were captured truncated to 4,000 characters: keep the complete ones.
        if response.starts_with("<marshal>") && response.ends_with("</marshal>") {
            out.push((format!("line {} response", i + 1), response.to_owned()));
        }
    }
    out
}

#[test]
fn captured_payloads_reencode_byte_for_byte() {
    let mut payloads = traffic_payloads();
    payloads.push(("getFullComputerInformation fixture".into(), FULL.into()));
    payloads.push(("registerComputerPartition fixture".into(), REGISTER.into()));
    assert!(payloads.len() >= 25, "only {} payloads", payloads.len());
    for (at, xml) in payloads {
        let value = marshal::from_str(&xml).unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(marshal::to_string(&value).unwrap(), xml, "{at}");
    }
}

#[test]
fn captured_registration_matches_ours_semantically() {
    // Line 7 registers [slappart1, slappart3] with the whole `tap` object of .slapos-resource;
    // ours sends only what the proxy reads (addr, netmask, tap name).
    let lines = traffic();
    let xml = lines[6]["form"]["xml"][0].as_str().unwrap();
    let captured = marshal::from_str(xml).unwrap();

    let mut computer = ComputerRegistration::new("COMP-G");
    for (n, v4, v6) in [
        (1, "10.0.24.11", "2001:db8:24::11"),
        (3, "10.0.24.13", "2001:db8:24::13"),
    ] {
        let mut p = PartitionRegistration::new(format!("slappart{n}"));
        p.tap_name = format!("slaptap{n}");
        p.addresses = vec![
            PartitionAddress::new(v4.parse().unwrap(), "255.255.255.0".parse().unwrap()),
            PartitionAddress::new(
                v6.parse().unwrap(),
                "ffff:ffff:ffff:ffff::".parse().unwrap(),
            ),
        ];
        computer.partitions.push(p);
    }
    let ours = computer.to_marshal();
    for key in ["reference", "address", "netmask"] {
        assert_eq!(ours.get(key), captured.get(key), "{key}");
    }
    let ours_list = ours.get("partition_list").unwrap().as_seq().unwrap();
    let captured_list = captured.get("partition_list").unwrap().as_seq().unwrap();
    assert_eq!(ours_list.len(), captured_list.len());
    for (o, c) in ours_list.iter().zip(captured_list) {
        assert_eq!(o.get("reference"), c.get("reference"));
        assert_eq!(o.get("address_list"), c.get("address_list"));
        assert_eq!(
            o.get("tap").unwrap().get("name"),
            c.get("tap").unwrap().get("name")
        );
    }
    insta::assert_snapshot!("registration_xml", marshal::to_string(&ours).unwrap());
}

#[test]
fn empty_registration_is_the_captured_wipe_byte_for_byte() {
    let lines = traffic();
    let captured = lines[1]["form"]["xml"][0].as_str().unwrap();
    let ours = marshal::to_string(&ComputerRegistration::new("COMP-G").to_marshal()).unwrap();
    assert_eq!(ours, captured);
}

#[test]
fn full_computer_information_fixture_decodes() {
    let info = parse::computer_information(FULL).unwrap();
    assert_eq!(info.computer_id, "COMP-G");
    let p3 = info.partition("slappart3").unwrap();
    let inst = p3.instance.as_ref().unwrap();
    assert_eq!(inst.title, "ORS Core Network");
    assert_eq!(inst.shared_instances.len(), 2);
    insta::assert_json_snapshot!("full_computer_information_comp_g", info);
}

#[test]
fn register_computer_partition_fixture_decodes() {
    let p = parse::partition_information(REGISTER).unwrap();
    insta::assert_json_snapshot!("register_computer_partition_comp_g_slappart3", p);
}

#[test]
fn captured_request_answers_decode() {
    let lines = traffic();
    let normal = parse::requested_instance(lines[4]["response"].as_str().unwrap()).unwrap();
    let shared = parse::requested_instance(lines[9]["response"].as_str().unwrap()).unwrap();
    assert_eq!(normal.partition_id, "slappart1");
    assert_eq!(shared.partition_id, "slappart3");
    assert_eq!(shared.instance_guid, None);
    insta::assert_json_snapshot!("requested_instance_normal", normal);
    insta::assert_json_snapshot!("requested_instance_shared", shared);
}

#[test]
fn python_checked_encodings() {
    // Outputs of slapos.util.dumps (slapos.core 1.26.1, xml_marshaller 1.0.3).
    let cases: Vec<(Value, &str)> = vec![
        (
            Value::Dict(vec![]),
            r#"<marshal><dictionary id="i2"/></marshal>"#,
        ),
        (
            Value::from("started"),
            "<marshal><string>started</string></marshal>",
        ),
        (Value::Bool(true), "<marshal><bool>1</bool></marshal>"),
        (Value::None, "<marshal><none/></marshal>"),
        (
            Value::from(r#"x<&>y "q" 's'"#),
            r#"<marshal><string>x&amp;lt;&amp;amp;&amp;gt;y "q" 's'</string></marshal>"#,
        ),
        (
            Value::from("é€😀"),
            "<marshal><string>&#233;&#8364;&#128512;</string></marshal>",
        ),
        (
            Value::from("a\nb\tc\r"),
            "<marshal><string>a\nb\tc&#13;</string></marshal>",
        ),
        (
            Value::Int(1_180_591_620_717_411_303_424),
            "<marshal><int>1180591620717411303424</int></marshal>",
        ),
        (
            Value::Float(1e20),
            "<marshal><float>1e+20</float></marshal>",
        ),
        (Value::Float(-0.0), "<marshal><float>-0.0</float></marshal>"),
        (
            Value::List(vec![Value::Int(1), Value::List(vec![Value::Int(2)])]),
            r#"<marshal><list id="i2"><int>1</int><list id="i3"><int>2</int></list></list></marshal>"#,
        ),
        (
            Value::Tuple(vec![Value::Int(1), Value::Int(2)]),
            "<marshal><tuple><int>1</int><int>2</int></tuple></marshal>",
        ),
        (
            Value::Set(vec![Value::Int(3)]),
            r#"<marshal><set id="i2"><int>3</int></set></marshal>"#,
        ),
        (
            Value::dict([
                ("b", Value::Int(1)),
                ("a", Value::List(vec![Value::Int(1), Value::Int(2)])),
            ]),
            r#"<marshal><dictionary id="i2"><string>a</string><list id="i3"><int>1</int><int>2</int></list><string>b</string><int>1</int></dictionary></marshal>"#,
        ),
    ];
    for (value, want) in cases {
        assert_eq!(marshal::to_string(&value).unwrap(), want, "{value:?}");
    }
}

#[test]
fn python_checked_decodings() {
    // What slapos.util.loads returns for these inputs.
    let cases: Vec<(&str, Value)> = vec![
        ("<marshal><long>5</long></marshal>", Value::Int(5)),
        (
            "<marshal><unicode>a&amp;amp;b</unicode></marshal>",
            Value::from("a&b"),
        ),
        // Single escaping decodes too (the second unescape finds nothing).
        (
            "<marshal><string>a&amp;b</string></marshal>",
            Value::from("a&b"),
        ),
        (
            "<marshal><string>&amp;amp;lt;</string></marshal>",
            Value::from("&lt;"),
        ),
        (
            "<marshal><string>&amp;quot;</string></marshal>",
            Value::from("&quot;"),
        ),
        (
            "<marshal><string>a\r\nb</string></marshal>",
            Value::from("a\nb"),
        ),
        (
            "<marshal><float>1e3</float></marshal>",
            Value::Float(1000.0),
        ),
        ("<marshal><string/></marshal>", Value::from("")),
        ("<marshal><bool>2</bool></marshal>", Value::Bool(true)),
        (
            "<?xml version='1.0'?><marshal><string><![CDATA[a&amp;lt;]]></string></marshal>",
            Value::from("a&lt;"),
        ),
        (
            "<marshal><!-- c --><list id=\"i2\"> <int>1</int> <!-- x --> </list></marshal>\n",
            Value::List(vec![Value::Int(1)]),
        ),
        (
            "<marshal><string>a&#x41;&apos;</string></marshal>",
            Value::from("aA'"),
        ),
        (
            r#"<marshal><dictionary id="i2"><string>x</string><list id="i3"><int>1</int></list><string>y</string><reference id="i3"/></dictionary></marshal>"#,
            Value::dict([
                ("x", Value::List(vec![Value::Int(1)])),
                ("y", Value::List(vec![Value::Int(1)])),
            ]),
        ),
    ];
    for (xml, want) in cases {
        assert_eq!(marshal::from_str(xml).unwrap(), want, "{xml}");
    }
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    let bad = [
        "",
        "garbage",
        "<marshal>",
        "<html><p>hi</p></html>",
        "<marshal></marshal>",
        "<marshal><int>x</int></marshal>",
        "<marshal><int>99999999999999999999999999999999999999999999</int></marshal>",
        "<marshal><dictionary><string>a</string></dictionary></marshal>",
        "<marshal><reference id=\"i9\"/></marshal>",
        r#"<marshal><list id="i2"><reference id="i2"/></list></marshal>"#,
        "<marshal><bogus/></marshal>",
        "<marshal><none/><none/></marshal>",
        "<marshal><string>x</int></marshal>",
        "<marshal><string>x",
        "<marshal><string>&bogus;</string></marshal>",
        "<marshal><string>&#0;</string></marshal>",
        "<marshal><string>bell\u{7}</string></marshal>",
        "<marshal><none/></marshal>trailing",
        "<marshal><string><int>1</int></string></marshal>",
        "<marshal><list id=\"i2\"><int>1</int></marshal>",
        "<marshal><object module=\"m\"><tuple/></object></marshal>",
        "<!DOCTYPE x><marshal><none/></marshal>",
    ];
    for xml in bad {
        assert!(marshal::from_str(xml).is_err(), "{xml:?} decoded");
    }
    for depth in [200, 5000] {
        let deep = format!(
            "<marshal>{}{}</marshal>",
            "<list>".repeat(depth),
            "</list>".repeat(depth)
        );
        assert!(marshal::from_str(&deep).is_err(), "{depth}");
    }
    assert!(marshal::to_string(&Value::from("nul\0")).is_err());
    assert!(marshal::to_string(&Value::from("bell\u{7}")).is_err());
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<i128>().prop_map(Value::Int),
        any::<f64>()
            .prop_filter("NaN is not equal to itself", |f| !f.is_nan())
            .prop_map(Value::Float),
        // Any printable text plus tab/newline/CR and the characters that need escaping.
        "(\\PC|[\t\n\r&<>\"'])*".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Set),
            // The encoder writes keys sorted (like Python), so generate them sorted and unique.
            prop::collection::btree_map("\\PC{0,8}", inner.clone(), 0..6).prop_map(|m| {
                Value::Dict(m.into_iter().map(|(k, v)| (Value::String(k), v)).collect())
            }),
            (
                "[a-z.]{1,12}",
                "[A-Za-z]{1,12}",
                prop::collection::vec(inner.clone(), 0..3),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4),
            )
                .prop_map(|(module, class, args, state)| Value::Object(Object {
                    module,
                    class,
                    args,
                    state: state
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v))
                        .collect(),
                })),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(v in value()) {
        let xml = marshal::to_string(&v).unwrap();
        prop_assert!(xml.is_ascii(), "output is not pure ASCII: {xml}");
        prop_assert_eq!(marshal::from_str(&xml).unwrap(), v);
    }

    #[test]
    fn reencoding_is_stable(v in value()) {
        let xml = marshal::to_string(&v).unwrap();
        let again = marshal::to_string(&marshal::from_str(&xml).unwrap()).unwrap();
        prop_assert_eq!(again, xml);
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = marshal::from_str(&s);
        let _ = marshal::from_str(&format!("<marshal>{s}</marshal>"));
    }
}

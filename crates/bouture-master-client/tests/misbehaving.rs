//! Masters that misbehave (a fake HTTP server, `bouture_test_support::misbehaving`: the real
//! proxy cannot be made to send these): every body read and every echoed excerpt is bounded,
//! answers are checked against what the real proxy answers, and a slow or cut body says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bouture_master_client::{
    EXCERPT_CHARS, Error, ErrorKind, IncompleteReason, MasterClient, Options, SupplyState,
};
use bouture_test_support::misbehaving::{FakeMaster, FakeReply};

const FIFTY_MB: usize = 50 * 1024 * 1024;

fn client(master: &FakeMaster) -> MasterClient {
    MasterClient::new(master.url()).unwrap()
}

#[test]
fn a_50_mb_json_rpc_error_body_gives_a_short_message() {
    let master = FakeMaster::start(|_| FakeReply::Huge {
        status: 500,
        content_type: "application/json",
        prefix: r#"{"status": 500, "type": "Error", "title": ""#.into(),
        byte: b'A',
        len: FIFTY_MB,
    });
    let started = Instant::now();
    let err = client(&master).json_rpc().instance_tree_list().unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    let message = err.to_string();
    assert!(
        message.len() < EXCERPT_CHARS + 300,
        "{} bytes",
        message.len()
    );
    // Only the beginning was read: far less time than reading 50 MB.
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_50_mb_legacy_error_body_gives_a_short_message() {
    let master = FakeMaster::start(|_| FakeReply::Huge {
        status: 500,
        content_type: "text/html",
        prefix: "<p>".into(),
        byte: b'B',
        len: FIFTY_MB,
    });
    let err = client(&master)
        .full_computer_information("COMP-1")
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert!(err.to_string().len() < EXCERPT_CHARS + 300);
}

#[test]
fn a_50_mb_run_id_is_refused_without_reading_it() {
    let master = FakeMaster::start(|_| FakeReply::Huge {
        status: 200,
        content_type: "text/html",
        prefix: String::new(),
        byte: b'A',
        len: FIFTY_MB,
    });
    let err = client(&master).run_id().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    let message = err.to_string();
    assert!(message.contains("larger than"), "{message}");
    assert!(message.len() < 1000, "{message}");
}

#[test]
fn run_ids_are_checked() {
    for (body, ok) in [
        ("abcdefABCDEF0123456789abcdef0123", true),
        ("", false),
        ("<html>oops</html>", false),
        ("two words", false),
    ] {
        let master = FakeMaster::start(move |_| FakeReply::text(body));
        let result = client(&master).run_id();
        assert_eq!(result.is_ok(), ok, "{body:?}: {result:?}");
    }
}

#[test]
fn supply_takes_only_the_proxys_answer_as_success() {
    let sr = "https://example.org/software.cfg";
    for (body, ok) in [
        (
            "Supplied 'https://example.org/software.cfg' to be available",
            true,
        ),
        ("", false),
        ("<!doctype html><html><body>Welcome</body></html>", false),
        (
            "Supplied 'https://example.org/other.cfg' to be available",
            false,
        ),
        (
            "Supplied 'https://example.org/software.cfg' to be destroyed",
            false,
        ),
        ("OK", false),
    ] {
        let master = FakeMaster::start(move |_| FakeReply::text(body));
        let result = client(&master).supply("COMP-1", sr, SupplyState::Available);
        assert_eq!(result.is_ok(), ok, "{body:?}: {result:?}");
        if let Err(err) = result {
            assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
        }
    }
}

#[test]
fn a_slow_drip_says_so() {
    let master = FakeMaster::start(|_| FakeReply::Drip {
        announced: 1000,
        interval: Duration::from_millis(100),
    });
    let client = MasterClient::with_options(
        master.url(),
        &Options::default().timeout(Duration::from_secs(1)),
    )
    .unwrap();
    let err = client.full_computer_information("COMP-1").unwrap_err();
    let Error::Incomplete { body, .. } = &err else {
        panic!("expected a stalled body, got {err:?}");
    };
    assert!(
        matches!(body.reason, IncompleteReason::Stalled { .. }),
        "{err:?}"
    );
    assert_eq!(body.expected, Some(1000));
    assert!(body.received > 0 && body.received < 1000, "{body:?}");
    let message = err.to_string();
    assert!(message.contains("still coming"), "{message}");
    assert!(message.contains("out of 1000 announced"), "{message}");
    assert!(!message.contains("unreachable"), "{message}");
}

#[test]
fn a_cut_body_says_so() {
    let master = FakeMaster::start(|_| FakeReply::Cut {
        announced: 1000,
        sent: b"<marshal><dictionary".to_vec(),
    });
    let err = client(&master)
        .full_computer_information("COMP-1")
        .unwrap_err();
    let Error::Incomplete { body, .. } = &err else {
        panic!("expected a cut body, got {err:?}");
    };
    assert_eq!(body.reason, IncompleteReason::Cut);
    assert_eq!((body.received, body.expected), (20, Some(1000)));
    let message = err.to_string();
    assert!(message.contains("closed the connection"), "{message}");
    assert!(
        message.contains("20 bytes of the body received out of 1000"),
        "{message}"
    );
}

#[test]
fn an_empty_or_html_json_rpc_answer_is_a_protocol_error_with_a_short_excerpt() {
    let master = FakeMaster::start(|_| FakeReply::Huge {
        status: 200,
        content_type: "text/html",
        prefix: "<html>".into(),
        byte: b'C',
        len: 2 * 1024 * 1024,
    });
    let err = client(&master).json_rpc().instance_tree_list().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        err.to_string().len() < EXCERPT_CHARS + 400,
        "{}",
        err.to_string().len()
    );
}

#[test]
fn timeouts_out_of_range_are_refused() {
    for timeout in [Duration::ZERO, Duration::from_secs(u64::MAX)] {
        let err =
            MasterClient::with_options("http://127.0.0.1:1", &Options::default().timeout(timeout))
                .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Input, "{err}");
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}

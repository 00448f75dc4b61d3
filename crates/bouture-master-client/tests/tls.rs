//! Client TLS against real TLS servers (Python's `ssl`) with certificates made by the test with
//! the `openssl` command (`bouture_test_support::tls`): a CA and leaves signed by it, an
//! `openssl req -x509` self-signed `CA:TRUE` certificate (as haproxy's in the slapproxy
//! software release), a name mismatch, an expired certificate, a client certificate.

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use bouture_master_client::{
    CertificateProblem, Error, ErrorKind, MasterClient, Options, TlsOptions, TrustSource,
};
use bouture_test_support::SlaposEnv;
use bouture_test_support::tls::{TestPki, TlsServer};

const RUN_ID: &str = "0123456789abcdef0123456789abcdef";

fn python() -> std::path::PathBuf {
    SlaposEnv::get().unwrap().python.clone().unwrap()
}

fn server(pki: &TestPki, name: &str, client_ca: Option<&Path>) -> TlsServer {
    TlsServer::start(&python(), &pki.pair(name), client_ca, RUN_ID)
}

fn client(url: &str, tls: TlsOptions) -> MasterClient {
    MasterClient::with_options(url, &Options::default().tls(tls)).unwrap()
}

/// The rejection of `url`'s certificate, checked to be reported with its fingerprint.
fn rejected(url: &str, tls: TlsOptions, cert: &Path) -> (CertificateProblem, String) {
    let err = client(url, tls).run_id().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    let Error::Certificate { rejection, .. } = &err else {
        panic!("expected a certificate rejection, got {err:?}");
    };
    let message = err.to_string();
    assert_eq!(
        rejection.fingerprint,
        TestPki::fingerprint(cert),
        "{message}"
    );
    assert!(message.contains(&rejection.fingerprint), "{message}");
    assert!(message.contains("TlsOptions::ca_file"), "{message}");
    (rejection.problem.clone(), message)
}

#[test]
fn ca_file_verifies_a_leaf_it_signed() {
    let pki = TestPki::generate();
    let master = server(&pki, "leaf", None);
    let tls = TlsOptions::default().ca_file(pki.ca());
    assert_eq!(
        client(&master.https_url(), tls.clone()).run_id().unwrap(),
        RUN_ID
    );
    assert_eq!(
        client(&master.https_url_by_name(), tls).run_id().unwrap(),
        RUN_ID
    );
}

#[test]
fn unknown_issuer_is_named_with_the_fingerprint_and_the_flag() {
    let pki = TestPki::generate();
    let master = server(&pki, "leaf", None);
    let (problem, message) = rejected(
        &master.https_url(),
        TlsOptions::default(),
        &pki.pair("leaf").cert,
    );
    assert_eq!(problem, CertificateProblem::UnknownIssuer, "{message}");
    assert!(message.contains("unknown issuer"), "{message}");
}

#[test]
fn self_signed_ca_true_certificate_is_refused_then_pinned() {
    let pki = TestPki::generate();
    let master = server(&pki, "self_signed", None);
    let cert = pki.pair("self_signed").cert;
    // Default trust: refused as self-signed (rustls alone says UnknownIssuer).
    let (problem, message) = rejected(&master.https_url(), TlsOptions::default(), &cert);
    assert_eq!(problem, CertificateProblem::SelfSigned, "{message}");
    assert!(message.contains("self-signed"), "{message}");
    // Pinned: that exact certificate is accepted (webpki alone says CaUsedAsEndEntity).
    let pinned = TlsOptions::default().ca_file(&cert);
    assert_eq!(
        client(&master.https_url(), pinned.clone())
            .run_id()
            .unwrap(),
        RUN_ID
    );
    // A pin holds for that certificate only: another self-signed one is refused.
    let other = TestPki::generate();
    let other_master = server(&other, "self_signed", None);
    let (problem, message) = rejected(
        &other_master.https_url(),
        pinned,
        &other.pair("self_signed").cert,
    );
    assert_eq!(problem, CertificateProblem::SelfSigned, "{message}");
    assert!(message.contains(&cert.display().to_string()), "{message}");
}

#[test]
fn name_mismatch_is_named() {
    let pki = TestPki::generate();
    let master = server(&pki, "mismatch", None);
    let (problem, message) = rejected(
        &master.https_url(),
        TlsOptions::default().ca_file(pki.ca()),
        &pki.pair("mismatch").cert,
    );
    assert_eq!(
        problem,
        CertificateProblem::NameMismatch {
            expected: "127.0.0.1".into(),
            presented: vec!["other.example".into()],
        },
        "{message}"
    );
    assert!(
        message.contains("not valid for 127.0.0.1 (it names other.example)"),
        "{message}"
    );
}

#[test]
fn expired_certificate_is_named() {
    let pki = TestPki::generate();
    let master = server(&pki, "expired", None);
    let (problem, message) = rejected(
        &master.https_url(),
        TlsOptions::default().ca_file(pki.ca()),
        &pki.pair("expired").cert,
    );
    assert!(
        matches!(problem, CertificateProblem::Expired { .. }),
        "{message}"
    );
    assert!(message.contains("expired"), "{message}");
}

#[test]
fn ssl_cert_file_is_honoured() {
    // The default trust (no CA file) reads SSL_CERT_FILE, in a child process so that the
    // variable does not leak into other tests.
    if std::env::var_os("BOUTURE_TLS_CHILD").is_some() {
        return;
    }
    let pki = TestPki::generate();
    let master = server(&pki, "leaf", None);
    let trust = TlsOptions::default();
    let url = master.https_url();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "ssl_cert_file_child", "--nocapture"])
        .env("BOUTURE_TLS_CHILD", "1")
        .env("SSL_CERT_FILE", pki.ca())
        .env("BOUTURE_TLS_URL", &url)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the child test failed (see its output above)"
    );
    // And without it, the test CA is unknown.
    let err = client(&url, trust).run_id().unwrap_err();
    assert!(matches!(err, Error::Certificate { .. }), "{err:?}");
}

#[test]
fn ssl_cert_file_child() {
    let Some(url) = std::env::var_os("BOUTURE_TLS_URL") else {
        return; // only meaningful when started by ssl_cert_file_is_honoured
    };
    let url = url.into_string().unwrap();
    let ca = std::env::var_os("SSL_CERT_FILE").unwrap();
    assert_eq!(
        client(&url, TlsOptions::default()).run_id().unwrap(),
        RUN_ID
    );
    // The message names SSL_CERT_FILE as what was trusted when it does not fit.
    let other = TestPki::generate();
    let master = server(&other, "leaf", None);
    let err = client(&master.https_url(), TlsOptions::default())
        .run_id()
        .unwrap_err();
    let Error::Certificate { rejection, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        rejection.trusted,
        TrustSource::System {
            ssl_cert_file: Some(ca.into())
        }
    );
}

#[test]
fn http_url_to_a_tls_port_says_to_use_https() {
    let pki = TestPki::generate();
    let master = server(&pki, "self_signed", None);
    let err = client(&master.http_url(), TlsOptions::default())
        .run_id()
        .unwrap_err();
    let Error::SpeaksTls { https_url, .. } = &err else {
        panic!("expected SpeaksTls, got {err:?}");
    };
    assert_eq!(https_url, &master.https_url());
    let message = err.to_string();
    assert!(message.contains("speaks TLS"), "{message}");
    assert!(message.contains(&master.https_url()), "{message}");
}

#[test]
fn client_certificate_and_ca_file() {
    let pki = TestPki::generate();
    let master = server(&pki, "leaf", Some(&pki.ca()));
    let client_pair = pki.pair("client");
    let tls = TlsOptions::default()
        .client_cert(&client_pair.key, &client_pair.cert)
        .ca_file(pki.ca());
    assert_eq!(client(&master.https_url(), tls).run_id().unwrap(), RUN_ID);
}

#[test]
fn insecure_skip_verify_with_client_certificate() {
    let pki = TestPki::generate();
    let master = server(&pki, "self_signed", Some(&pki.ca()));
    let client_pair = pki.pair("client");
    let tls = TlsOptions::default()
        .client_cert(&client_pair.key, &client_pair.cert)
        .insecure_skip_verify(true);
    assert_eq!(client(&master.https_url(), tls).run_id().unwrap(), RUN_ID);
}

#[test]
fn missing_client_certificate_is_refused_by_the_master() {
    let pki = TestPki::generate();
    let master = server(&pki, "leaf", Some(&pki.ca()));
    let tls = TlsOptions::default().ca_file(pki.ca());
    let err = client(&master.https_url(), tls).run_id().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
}

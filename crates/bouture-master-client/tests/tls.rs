//! Client TLS against a real TLS server (Python's `ssl`, requiring a client certificate), with
//! the test PKI of `tests/fixtures/tls` (see its `regenerate.sh`).

// Test helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use bouture_master_client::{ClientOptions, ErrorKind, MasterClient, TlsOptions};
use bouture_test_support::SlaposEnv;

const RUN_ID: &str = "0123456789abcdef0123456789abcdef";

const SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = sys.argv[4].encode() if self.connection.getpeercert() else b"no client certificate"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
ctx.load_verify_locations(sys.argv[3])
ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

fn pki(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// An https master requiring a client certificate signed by the test CA; killed on drop.
struct TlsMaster {
    child: Child,
    url: String,
}

impl TlsMaster {
    fn start() -> TlsMaster {
        let python = SlaposEnv::get().unwrap().python.clone().unwrap();
        let mut child = Command::new(python)
            .args(["-c", SERVER])
            .arg(pki("server.crt"))
            .arg(pki("server.key"))
            .arg(pki("ca.crt"))
            .arg(RUN_ID)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .expect("the TLS server printed its port");
        TlsMaster {
            child,
            url: format!("https://127.0.0.1:{port}"),
        }
    }
}

impl Drop for TlsMaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(url: &str, tls: TlsOptions) -> MasterClient {
    MasterClient::with_options(url, &ClientOptions::default().tls(tls)).unwrap()
}

#[test]
fn client_certificate_and_ca_file() {
    let master = TlsMaster::start();
    let tls = TlsOptions::default()
        .client_cert(pki("client.key"), pki("client.crt"))
        .ca_file(pki("ca.crt"));
    assert_eq!(client(&master.url, tls).run_id().unwrap(), RUN_ID);
}

#[test]
fn insecure_skip_verify_with_client_certificate() {
    let master = TlsMaster::start();
    let tls = TlsOptions::default()
        .client_cert(pki("client.key"), pki("client.crt"))
        .insecure_skip_verify(true);
    assert_eq!(client(&master.url, tls).run_id().unwrap(), RUN_ID);
}

#[test]
fn unknown_server_ca_is_an_unreachable_tls_error() {
    let master = TlsMaster::start();
    // Web PKI roots do not know the test CA.
    let tls = TlsOptions::default().client_cert(pki("client.key"), pki("client.crt"));
    let err = client(&master.url, tls).run_id().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
    assert!(
        matches!(
            err,
            bouture_master_client::Error::Unreachable {
                reason: bouture_master_client::UnreachableReason::Tls,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn missing_client_certificate_is_refused_by_the_master() {
    let master = TlsMaster::start();
    let tls = TlsOptions::default().ca_file(pki("ca.crt"));
    let err = client(&master.url, tls).run_id().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unreachable, "{err}");
}

//! Real https servers for tests: a test PKI made with the `openssl` command, a Python `ssl`
//! server answering `getRunId`, and a TLS reverse proxy (`socat`) in front of a real slapproxy.
//!
//! `openssl` and `socat` come from `scripts/setup.d/peers.sh` (the peers tagged https in `scripts/peers`); a test that lacks them
//! fails and says so.

// Test support: failing loudly is how a test learns that its setup broke.
#![allow(clippy::expect_used, clippy::panic, clippy::missing_panics_doc)]

use std::io::BufRead as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Certificates made for one test (all PEM, in a temporary directory).
///
/// * `ca`: a CA; `leaf` (for `127.0.0.1` and `localhost`), `client`, `mismatch` (for
///   `other.example` only) and `expired` are signed by it;
/// * `self_signed`: made by `openssl req -x509`, hence `CA:TRUE`, for `127.0.0.1`, as the
///   slapproxy software release makes its haproxy certificate.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

/// A certificate and its key.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PEM private key.
    pub key: PathBuf,
}

/// Run the real `openssl` with `args` in `dir` and return what it printed on
/// stdout; fail the test saying how to get it, or with its stderr if it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run openssl ({e}): install it (`source scripts/setup.d/peers.sh https` as root \
                 runs apt-get install openssl)"
            )
        });
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `openssl req -x509`: a new RSA key `NAME.key` and a certificate `NAME.crt`
/// for `subject`, valid 30 days, CA:TRUE by openssl's default extensions.
fn self_signed(dir: &Path, name: &str, subject: &str, extra: &[&str]) {
    let (key, cert) = (format!("{name}.key"), format!("{name}.crt"));
    let mut args = vec![
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &cert, "-subj",
        subject, "-days", "30",
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
}

impl TestPki {
    /// Make the certificates (about a second: five RSA keys).
    pub fn generate() -> TestPki {
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path();
        self_signed(d, "ca", "/CN=bouture test CA", &[]);
        for (name, san, days) in [
            ("leaf", "IP:127.0.0.1,DNS:localhost", "30"),
            ("client", "DNS:client.example", "30"),
            ("mismatch", "DNS:other.example", "30"),
            ("expired", "IP:127.0.0.1,DNS:localhost", "-1"),
        ] {
            let ext = format!("{name}.ext");
            std::fs::write(
                d.join(&ext),
                format!("basicConstraints=CA:FALSE\nsubjectAltName={san}\n"),
            )
            .expect("extension file");
            openssl(
                d,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                d,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.crt",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}.crt"),
                    "-days",
                    days,
                    "-extfile",
                    &ext,
                ],
            );
        }
        // As haproxy's in the slapproxy software release: `openssl req -x509`, whose default
        // extensions make it CA:TRUE.
        self_signed(
            d,
            "self_signed",
            "/CN=slapproxy",
            &["-addext", "subjectAltName=IP:127.0.0.1"],
        );
        TestPki { dir }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// One of `leaf`, `client`, `mismatch`, `expired`, `self_signed`.
    pub fn pair(&self, name: &str) -> CertPair {
        CertPair {
            cert: self.dir.path().join(format!("{name}.crt")),
            key: self.dir.path().join(format!("{name}.key")),
        }
    }

    /// SHA-256 fingerprint of a certificate, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn fingerprint(cert: &Path) -> String {
        let output = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(cert)
            .output()
            .expect("openssl x509");
        let text = String::from_utf8_lossy(&output.stdout);
        text.trim()
            .split_once('=')
            .map(|(_, fp)| fp.to_owned())
            .expect("a fingerprint line")
    }
}

const SERVER: &str = r#"
import http.server, ssl, sys
cert, key, client_ca, body = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if client_ca:
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// An https server for a test, killed on drop: a Python `ssl` server answering every GET with a
/// fixed body ([`Self::start`]), or a TLS reverse proxy in front of a real proxy
/// ([`Self::front`]).
#[derive(Debug)]
pub struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    /// Serve `body` with `pair`, requiring a client certificate signed by `client_ca` if set.
    pub fn start(python: &Path, pair: &CertPair, client_ca: Option<&Path>, body: &str) -> Self {
        let mut child = Command::new(python)
            .args(["-c", SERVER])
            .arg(&pair.cert)
            .arg(&pair.key)
            .arg(client_ca.map_or_else(Default::default, |p| p.as_os_str().to_owned()))
            .arg(body)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python TLS server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the port");
        let port = line
            .trim()
            .parse()
            .expect("the TLS server printed its port");
        TlsServer { child, port }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn https_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `https://localhost:PORT`.
    pub fn https_url_by_name(&self) -> String {
        format!("https://localhost:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` (the wrong scheme for this port, as the software release
    /// publishes it).
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TlsServer {
    /// A TLS reverse proxy (`socat OPENSSL-LISTEN … TCP:…`) in front of an `http://` backend
    /// such as a [`crate::SlapProxy`], as haproxy fronts the proxy in the slapproxy software
    /// release; killed on drop.
    /// Listen on a free port of 127.0.0.1 with `pair`, forwarding to `backend`
    /// (`http://127.0.0.1:PORT`).
    pub fn front(pair: &CertPair, backend: &str) -> Self {
        let backend = backend
            .strip_prefix("http://")
            .expect("an http:// backend")
            .trim_end_matches('/');
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
                pair.cert.display(),
                pair.key.display()
            ))
            .arg(format!("TCP:{backend}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run socat ({e}): install it (`source scripts/setup.d/peers.sh https` as root runs apt-get install socat)"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "socat did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsServer { child, port }
    }
}

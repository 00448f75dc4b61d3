//! Client TLS for an `https://` master: whom to trust, the node's certificate, and why a
//! certificate was refused.
//!
//! A local proxy is plain `http://` and uses none of this. For `https://` masters the server's
//! certificate is **always verified** unless [`TlsOptions::insecure_skip_verify`] is set:
//!
//! * with no [`TlsOptions::ca_file`], against the system's trust store: the bundle named by
//!   `SSL_CERT_FILE` (or the directories of `SSL_CERT_DIR`) when set, else the distribution's
//!   store (`/etc/ssl/certs/ca-certificates.crt` on Debian), and the built-in web PKI roots
//!   when the system has none;
//! * with [`TlsOptions::ca_file`], against that file only. It may be a CA bundle, or the
//!   server's own certificate, which is then **pinned**: a server presenting exactly one of the
//!   certificates of the file (byte for byte) is accepted whatever its issuer, names, dates or
//!   `CA:TRUE` flag — like an SSH host key. That is what the slapproxy software release needs:
//!   its haproxy presents a self-signed `CA:TRUE` certificate made by `openssl req -x509`, which
//!   a CA-based verifier refuses as its own end entity. The handshake signature is still checked
//!   against the certificate's key, so the server must hold the private key.
//! * [`TlsOptions::client_cert`] sends the node's certificate (PEM files, as in `[slapos]
//!   key_file` / `cert_file`) to a master that asks for one.
//!
//! Every file is read through `bouture-fs`: a regular file, bounded, opened without blocking.
//! Symbolic links are followed, because every one of these paths is named by the operator (the
//! command line, `slapos.cfg`, `SSL_CERT_FILE`) or by the distribution (`/etc/ssl/certs/*.pem`
//! are links): see [`bouture_fs::Links`] for the rule.
//!
//! A refused certificate becomes [`crate::Error::Certificate`], whose
//! [`CertificateRejection`] says what was wrong ([`CertificateProblem`]), shows the
//! certificate's SHA-256 fingerprint (as `openssl x509 -fingerprint -sha256` prints it) and
//! how to fix it.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, OtherError,
    RootCertStore, SignatureScheme, StreamOwned,
};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use crate::error::{Error, Result};
use crate::store::{MAX_PEM_FILE, StorePaths};

/// TLS settings of a [`crate::MasterClient`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM private key of the client certificate (`key_file`).
    pub key_file: Option<PathBuf>,
    /// PEM client certificate, optionally followed by its chain (`cert_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM CA bundle or the server's own certificate (pinned); `None` = the system's store.
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (what the Python slap library does).
    pub insecure_skip_verify: bool,
}

impl TlsOptions {
    /// Send this client certificate (both PEM files are read when the client is built).
    #[must_use]
    pub fn client_cert(mut self, key_file: impl AsRef<Path>, cert_file: impl AsRef<Path>) -> Self {
        self.key_file = Some(key_file.as_ref().to_owned());
        self.cert_file = Some(cert_file.as_ref().to_owned());
        self
    }

    /// Verify the master with this CA bundle, or pin the certificate(s) it holds.
    #[must_use]
    pub fn ca_file(mut self, ca_file: impl AsRef<Path>) -> Self {
        self.ca_file = Some(ca_file.as_ref().to_owned());
        self
    }

    /// Accept any server certificate.
    #[must_use]
    pub fn insecure_skip_verify(mut self, skip: bool) -> Self {
        self.insecure_skip_verify = skip;
        self
    }

    /// The TLS connector these options describe, reading the files now.
    ///
    /// # Errors
    ///
    /// [`Error::TlsRead`] when a file cannot be read, [`Error::TlsFile`] when it holds no usable
    /// PEM item, or only one of `key_file`/`cert_file` is set.
    pub(crate) fn connector(&self) -> Result<TlsConnector> {
        let provider = crate::provider::provider();
        let trust = if self.insecure_skip_verify {
            Trust::Anything
        } else if let Some(path) = &self.ca_file {
            let certs = read_certificates(path, "CA file")?;
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(certs.iter().cloned());
            Trust::File {
                webpki: webpki_verifier(roots, &provider, path)?,
                pins: certs,
                source: TrustSource::CaFile(path.clone()),
            }
        } else {
            let (roots, source) = system_roots()?;
            Trust::Roots {
                webpki: webpki_verifier(roots, &provider, Path::new("(system trust store)"))?,
                source,
            }
        };
        let verifier = Arc::new(Verifier {
            trust,
            provider: Arc::clone(&provider),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_file_error("CA file", Path::new(""), e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&self.key_file, &self.cert_file) {
            (Some(key), Some(cert)) => {
                let chain = read_certificates(cert, "cert_file")?;
                let key = read_key(key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls_file_error("cert_file", cert, format!("unusable: {e}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(path), None) | (None, Some(path)) => {
                return Err(tls_file_error(
                    if self.key_file.is_some() {
                        "key_file"
                    } else {
                        "cert_file"
                    },
                    path,
                    "key_file and cert_file go together: set both or neither".to_owned(),
                ));
            }
        };
        Ok(TlsConnector {
            config: Arc::new(config),
        })
    }
}

/// Where the trusted certificates came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustSource {
    /// [`TlsOptions::ca_file`].
    CaFile(PathBuf),
    /// The system's store (`SSL_CERT_FILE` when it was set).
    System {
        /// The value of `SSL_CERT_FILE`, if set.
        ssl_cert_file: Option<PathBuf>,
    },
    /// The built-in web PKI roots (the system had none).
    WebPki,
    /// Verification is off ([`TlsOptions::insecure_skip_verify`]).
    Nothing,
}

impl fmt::Display for TrustSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustSource::CaFile(path) => write!(f, "the CA file {}", path.display()),
            TrustSource::System {
                ssl_cert_file: Some(path),
            } => write!(f, "the bundle SSL_CERT_FILE={}", path.display()),
            TrustSource::System {
                ssl_cert_file: None,
            } => f.write_str("the system's trust store"),
            TrustSource::WebPki => f.write_str("the built-in web PKI roots"),
            TrustSource::Nothing => f.write_str("nothing (verification is off)"),
        }
    }
}

/// What was wrong with the master's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Signed by a CA that is not trusted.
    UnknownIssuer,
    /// Self-signed (its own issuer), and not pinned.
    SelfSigned,
    /// Not valid for the host name or address of the URL.
    NameMismatch {
        /// The name or address of the URL.
        expected: String,
        /// The names and addresses the certificate holds.
        presented: Vec<String>,
    },
    /// Past its expiry date.
    Expired {
        /// Its `notAfter`, in seconds since the epoch, when known.
        not_after: Option<u64>,
    },
    /// Not valid yet.
    NotYetValid,
    /// Anything else the verifier refused.
    Other(String),
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateProblem::UnknownIssuer => {
                f.write_str("its certificate is signed by an unknown issuer")
            }
            CertificateProblem::SelfSigned => f.write_str("its certificate is self-signed"),
            CertificateProblem::NameMismatch {
                expected,
                presented,
            } => {
                write!(f, "its certificate is not valid for {expected} (it names ")?;
                if presented.is_empty() {
                    f.write_str("no host")?;
                } else {
                    f.write_str(&presented.join(", "))?;
                }
                f.write_str(")")
            }
            CertificateProblem::Expired { not_after: Some(t) } => {
                write!(f, "its certificate expired (notAfter = {t} s since 1970)")
            }
            CertificateProblem::Expired { not_after: None } => {
                f.write_str("its certificate expired")
            }
            CertificateProblem::NotYetValid => f.write_str("its certificate is not valid yet"),
            CertificateProblem::Other(detail) => write!(f, "its certificate was refused: {detail}"),
        }
    }
}

/// Why the master's certificate was refused: the problem, the certificate's fingerprint, what
/// was trusted, and how to fix it ([`fmt::Display`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateRejection {
    /// What was wrong.
    pub problem: CertificateProblem,
    /// SHA-256 of the certificate's DER, upper-case hex bytes joined by `:`.
    pub fingerprint: String,
    /// What the certificate was checked against.
    pub trusted: TrustSource,
}

impl CertificateRejection {
    /// What the operator can do about it, the CA file named as the option
    /// that gives it ([`TlsOptions::ca_file`]).
    pub fn hint(&self) -> String {
        self.hint_naming("TlsOptions::ca_file")
    }

    /// [`Self::hint`], the option that gives a CA file named `ca_file` (a
    /// command line passes its flag).
    pub fn hint_naming(&self, ca_file: &str) -> String {
        match self.problem {
            CertificateProblem::UnknownIssuer => format!(
                "if you trust that CA, pass its certificate with {ca_file}, or add it to \
                 SSL_CERT_FILE or the system's store"
            ),
            CertificateProblem::SelfSigned => format!(
                "if this is the master's own certificate (compare the fingerprint on the master, \
                 e.g. `openssl x509 -noout -fingerprint -sha256 -in CERT`), pin it: save it in a \
                 PEM file and pass it with {ca_file}"
            ),
            CertificateProblem::NameMismatch { .. } => format!(
                "use a master URL with a name or address the certificate holds, or pin this exact \
                 certificate with {ca_file}"
            ),
            CertificateProblem::Expired { .. } | CertificateProblem::NotYetValid => format!(
                "renew the master's certificate (or fix this node's clock), or pin this exact \
                 certificate with {ca_file}"
            ),
            CertificateProblem::Other(_) => {
                format!("check the master's certificate, or pin it with {ca_file}")
            }
        }
    }
}

impl fmt::Display for CertificateRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, checked against {} (certificate SHA-256 fingerprint {}): {}",
            self.problem,
            self.trusted,
            self.fingerprint,
            self.hint()
        )
    }
}

impl std::error::Error for CertificateRejection {}

/// SHA-256 fingerprint of a DER certificate, as `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

enum Trust {
    Anything,
    Roots {
        webpki: Arc<WebPkiServerVerifier>,
        source: TrustSource,
    },
    File {
        webpki: Arc<WebPkiServerVerifier>,
        pins: Vec<CertificateDer<'static>>,
        source: TrustSource,
    },
}

/// The server certificate verifier: pins, then CA roots, and a [`CertificateRejection`] on
/// failure.
struct Verifier {
    trust: Trust,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trust = match &self.trust {
            Trust::Anything => TrustSource::Nothing,
            Trust::Roots { source, .. } | Trust::File { source, .. } => source.clone(),
        };
        f.debug_struct("Verifier")
            .field("trust", &trust)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (webpki, source) = match &self.trust {
            Trust::Anything => return Ok(ServerCertVerified::assertion()),
            Trust::File { pins, .. } if pins.iter().any(|pin| pin == end_entity) => {
                return Ok(ServerCertVerified::assertion());
            }
            Trust::Roots { webpki, source } | Trust::File { webpki, source, .. } => {
                (webpki, source)
            }
        };
        webpki
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|error| {
                let rejection = CertificateRejection {
                    problem: classify(&error, end_entity, intermediates),
                    fingerprint: fingerprint(end_entity),
                    trusted: source.clone(),
                };
                rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
                    rejection,
                ))))
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A verifier that accepts every certificate (still checking handshake signatures), for the
/// probe that only asks whether a port speaks TLS.
pub(crate) fn any_certificate(provider: Arc<CryptoProvider>) -> Arc<dyn ServerCertVerifier> {
    Arc::new(Verifier {
        trust: Trust::Anything,
        provider,
    })
}

/// Name the problem behind a verifier error.
fn classify(
    error: &rustls::Error,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> CertificateProblem {
    let self_signed = intermediates.is_empty()
        && webpki::EndEntityCert::try_from(end_entity)
            .is_ok_and(|cert| cert.issuer() == cert.subject());
    let rustls::Error::InvalidCertificate(certificate_error) = error else {
        return CertificateProblem::Other(error.to_string());
    };
    match certificate_error {
        CertificateError::UnknownIssuer if self_signed => CertificateProblem::SelfSigned,
        CertificateError::UnknownIssuer => CertificateProblem::UnknownIssuer,
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => CertificateProblem::NameMismatch {
            expected: server_name_text(expected),
            presented: presented.iter().map(|name| presented_name(name)).collect(),
        },
        CertificateError::NotValidForName => CertificateProblem::NameMismatch {
            expected: String::new(),
            presented: Vec::new(),
        },
        CertificateError::ExpiredContext { not_after, .. } => CertificateProblem::Expired {
            not_after: Some(not_after.as_secs()),
        },
        CertificateError::Expired => CertificateProblem::Expired { not_after: None },
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertificateProblem::NotYetValid
        }
        // webpki's CaUsedAsEndEntity: a CA:TRUE certificate as the server's own, which is
        // what `openssl req -x509` makes (haproxy of the slapproxy software release).
        _ if self_signed => CertificateProblem::SelfSigned,
        other => CertificateProblem::Other(format!("{other:?}")),
    }
}

/// `other.example` out of rustls' `DnsName("other.example")` (its rendering of a SAN).
fn presented_name(name: &str) -> String {
    name.split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .map_or(name, |inner| inner.trim_matches('"'))
        .to_owned()
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_owned(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

fn webpki_verifier(
    roots: RootCertStore,
    provider: &Arc<CryptoProvider>,
    path: &Path,
) -> Result<Arc<WebPkiServerVerifier>> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| {
            tls_file_error(
                "CA file",
                path,
                format!("no usable trust anchor in it: {e}"),
            )
        })
}

/// The system's roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured, see [`crate::store`]), else the
/// web PKI roots.
fn system_roots() -> Result<(RootCertStore, TrustSource)> {
    let paths = StorePaths::from_env();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(paths.load()?);
    if roots.is_empty() {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        return Ok((roots, TrustSource::WebPki));
    }
    let ssl_cert_file = paths.ssl_cert_file().map(Path::to_owned);
    Ok((roots, TrustSource::System { ssl_cert_file }))
}

fn tls_file_error(what: &'static str, path: &Path, detail: String) -> Error {
    Error::TlsFile {
        what,
        path: path.to_owned(),
        detail,
        source: None,
    }
}

fn read_pem(path: &Path, what: &'static str) -> Result<Vec<u8>> {
    bouture_fs::read_bounded(path, MAX_PEM_FILE, bouture_fs::Links::Follow)
        .map_err(|source| Error::TlsRead { what, source })
}

fn read_certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read_pem(path, what)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&pem) {
        match item {
            Ok(cert) => certs.push(cert),
            Err(e) => {
                return Err(tls_file_error(what, path, format!("not valid PEM: {e}")));
            }
        }
    }
    if certs.is_empty() {
        return Err(tls_file_error(
            what,
            path,
            "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = read_pem(path, "key_file")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        tls_file_error(
            "key_file",
            path,
            format!("it holds no usable PEM private key: {e}"),
        )
    })
}

/// The TLS layer of the agent's connector chain (after TCP).
#[derive(Debug)]
pub(crate) struct TlsConnector {
    config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("the master URL has no host"))?;
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(bare.to_owned())
            .map_err(|_| ureq::Error::Tls("the master's host is not a valid TLS server name"))?;
        let mut connection = ClientConnection::new(Arc::clone(&self.config), name)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection
            .complete_io(&mut socket)
            .map_err(handshake_error)?;
        Ok(Some(Either::B(TlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned::new(connection, socket),
        })))
    }
}

/// Keep the [`CertificateRejection`] of a refused certificate reachable from the I/O error.
fn handshake_error(error: std::io::Error) -> ureq::Error {
    let rejection = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(|rustls_error| match rustls_error {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(other))) => {
                other.downcast_ref::<CertificateRejection>().cloned()
            }
            _ => None,
        });
    match rejection {
        Some(rejection) => ureq::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rejection,
        )),
        None => ureq::Error::Io(error),
    }
}

/// A TLS connection to the master.
pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self
            .buffers
            .output()
            .get(..amount)
            .ok_or(ureq::Error::Tls("output larger than the buffer"))?;
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_reported_with_their_path() {
        let err = TlsOptions::default()
            .client_cert("/nonexistent/computer.key", "/nonexistent/computer.crt")
            .connector()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/computer.crt"), "{msg}");
        assert!(matches!(err, Error::TlsRead { .. }));
    }

    #[test]
    fn key_without_cert_is_refused() {
        let opts = TlsOptions {
            key_file: Some("/k".into()),
            ..TlsOptions::default()
        };
        let msg = opts.connector().unwrap_err().to_string();
        assert!(msg.contains("set both or neither"), "{msg}");
    }

    #[test]
    fn garbage_ca_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let msg = TlsOptions::default()
            .ca_file(&ca)
            .connector()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("no PEM certificate"), "{msg}");
    }

    #[test]
    fn defaults_build() {
        TlsOptions::default().connector().unwrap();
        TlsOptions::default()
            .insecure_skip_verify(true)
            .connector()
            .unwrap();
    }

    #[test]
    fn fingerprint_is_openssl_style() {
        // sha256("") as openssl prints it.
        assert_eq!(
            fingerprint(b""),
            "E3:B0:C4:42:98:FC:1C:14:9A:FB:F4:C8:99:6F:B9:24:27:AE:41:E4:64:9B:93:4C:A4:95:99:1B:78:52:B8:55"
        );
    }
}
